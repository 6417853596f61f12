// Patches for one of two upstream layouts. Some hooks live in a file that only one layout of
// Rocket.Chat has (the single-file Deno runtime controller, or the later base controller that
// took its message loop). Such a patch says so in its message:
//
//   Applies when: packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController.ts exists
//   Applies when: packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController.ts does not exist
//
// and every command treats each assignment of those paths as a layout: apply keeps the patches
// whose condition holds in the checkout, check-apply and verify check every layout, export keeps
// the patches of the layouts the checkout is not. A condition without its opposite is refused, so
// no tree can end up with neither hook.
import { PatchesError } from './errors.mjs';

export const CONDITION_LABEL = 'Applies when:';

const CONDITION = /^Applies when: (\S+) (exists|does not exist)$/;

// 2^n layouts are checked; more than a few condition paths would mean the series needs a new line.
const MAX_CONDITION_PATHS = 3;

/**
 * The condition of a patch from its message lines: `{ condition, problems }`, where condition is
 * `{ path, exists }` or null for a patch that applies everywhere.
 */
export function patchCondition(messageLines) {
  const lines = messageLines.filter(({ text }) => text.startsWith(CONDITION_LABEL));
  if (lines.length === 0) return { condition: null, problems: [] };
  if (lines.length > 1)
    return { condition: null, problems: [`has ${lines.length} "${CONDITION_LABEL}" lines; a patch has at most one`] };
  const { number, text } = lines[0];
  const match = CONDITION.exec(text);
  if (!match || match[1].startsWith('/') || match[1].split('/').includes('..')) {
    return {
      condition: null,
      problems: [
        `line ${number}: "${CONDITION_LABEL}" must read "<repository path> exists" or "<repository path> does not exist"`,
      ],
    };
  }
  return { condition: { path: match[1], exists: match[2] === 'exists' }, problems: [] };
}

export function describeCondition({ path, exists }) {
  return `${path} ${exists ? 'exists' : 'does not exist'}`;
}

/** Whether a patch with this condition applies in a tree where `present(path)` says what exists. */
export function applies(condition, present) {
  return condition === null || present(condition.path) === condition.exists;
}

/**
 * Every layout the conditions describe, as `{ label, present }` where present is a Map of
 * condition path -> boolean. Without conditions there is one layout, labelled ''.
 */
export function layoutsOf(conditions) {
  const paths = [...new Set(conditions.filter(Boolean).map(({ path }) => path))].sort();
  if (paths.length > MAX_CONDITION_PATHS) {
    throw new PatchesError(
      `${paths.length} different "${CONDITION_LABEL}" paths; at most ${MAX_CONDITION_PATHS} are supported`,
    );
  }
  const layouts = [];
  for (let bits = 0; bits < 2 ** paths.length; bits++) {
    const present = new Map(paths.map((path, i) => [path, (bits & (1 << i)) !== 0]));
    const label = paths.map((path) => describeCondition({ path, exists: present.get(path) })).join(', ');
    layouts.push({ label, present });
  }
  return layouts;
}

/** Problems of a set of conditions as a whole: each path needs a patch for both of its layouts. */
export function missingAlternatives(named) {
  const problems = [];
  const byPath = new Map();
  for (const { name, condition } of named) {
    if (!condition) continue;
    const entry = byPath.get(condition.path) ?? { exists: [], absent: [] };
    (condition.exists ? entry.exists : entry.absent).push(name);
    byPath.set(condition.path, entry);
  }
  for (const [path, { exists, absent }] of byPath) {
    if (exists.length === 0)
      problems.push(
        `${absent.join(', ')} applies only when ${path} does not exist, and no patch applies when it exists`,
      );
    if (absent.length === 0)
      problems.push(`${exists.join(', ')} applies only when ${path} exists, and no patch applies when it does not`);
  }
  return problems;
}
