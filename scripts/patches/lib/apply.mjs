// `apply`: Apps-Engine series, then Meteor series (one `git am -3` session), then both overlays.
// Everything that can be checked is checked before the checkout is touched, and any failure
// afterwards puts the checkout back where it was: a build never sees a half-patched tree.
import {
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { assertClean, chooseLine } from './checkout.mjs';
import { PatchesError } from './errors.mjs';
import { git, resolveCommit, topLevel, tryGit } from './git.mjs';
import { applyHunks, closestLines, fileHunks } from './hunks.mjs';
import { applies, describeCondition, patchCondition } from './layouts.mjs';
import { parsePatch } from './patchfile.mjs';
import { ORDER_FILE, OVERLAY_DIR, TARGETS, loadSeries, overlayDir, seriesFolder, walkFiles } from './series.mjs';
import { count } from './text.mjs';

// Committer for the applied commits unless the caller sets one: builds need no git identity,
// and with --committer-date-is-author-date the same series on the same base gives the same ids.
const COMMITTER = { GIT_COMMITTER_NAME: 'rc-e2ee patches', GIT_COMMITTER_EMAIL: 'patches@rc-e2ee.invalid' };

export function applyCommand(checkout, { root, line, forceLine }) {
  const repo = topLevel(resolve(checkout));
  assertClean(repo);
  const chosen = chooseLine(repo, root, { line, forceLine });
  const { patches, skipped } = forThisLayout(repo, collectPatches(root, chosen));
  const overlay = planOverlay(root, repo, patches);
  const origHead = resolveCommit(repo, 'HEAD');
  if (patches.length > 0) runAm(repo, patches, origHead);
  copyOverlay(repo, overlay, origHead);
  printSummary(repo, chosen, patches, skipped, overlay);
}

/**
 * The patches for the layout this checkout has (scripts/patches/lib/layouts.mjs): a patch whose
 * "Applies when:" condition does not hold at HEAD is left out and named in the summary.
 */
function forThisLayout(repo, all) {
  const present = (path) => tryGit(repo, ['cat-file', '-e', `HEAD:${path}`]).ok;
  const patches = [];
  const skipped = [];
  for (const patch of all) {
    const { condition, problems } = patchCondition(patch.parsed.messageLines);
    if (problems.length > 0) throw new PatchesError(`${patch.label}: ${problems.join('; ')}`);
    if (applies(condition, present)) patches.push(patch);
    else skipped.push({ ...patch, reason: `applies when ${describeCondition(condition)}` });
  }
  return { patches, skipped };
}

/** Listed patch files of both series in apply order, each with its parsed mail. */
function collectPatches(root, line) {
  const patches = [];
  for (const target of TARGETS) {
    const series = loadSeries(root, target, line);
    if (!series.exists) continue;
    if (series.order === null && series.patchFiles.length > 0) {
      throw new PatchesError(`${series.label} has patches but no ${ORDER_FILE} order file`);
    }
    for (const name of series.names) {
      const file = join(series.dir, name);
      if (!existsSync(file))
        throw new PatchesError(`${series.label}/${ORDER_FILE} lists ${name}, which does not exist`);
      patches.push({ label: `${series.label}/${name}`, file, parsed: parsePatch(readFileSync(file, 'utf8')) });
    }
  }
  return patches;
}

/**
 * Where each overlay file goes, refusing any target that exists now or that a patch will
 * create: an overlay adds files, it never replaces one.
 */
function planOverlay(root, repo, patches) {
  const createdBy = new Map();
  for (const patch of patches) {
    for (const file of patch.parsed.files) if (file.kind === 'created') createdBy.set(file.path, patch.label);
  }
  const plan = [];
  const owners = new Map();
  for (const target of TARGETS) {
    const source = overlayDir(root, target);
    const label = `${seriesFolder(target)}/${OVERLAY_DIR}`;
    for (const path of walkFiles(source)) {
      const to = join(repo, path);
      if (owners.has(path)) throw new PatchesError(`overlay file ${path} is in both ${owners.get(path)} and ${label}`);
      if (createdBy.has(path))
        throw new PatchesError(
          `overlay file ${path} (${label}) would overwrite the file created by ${createdBy.get(path)}`,
        );
      if (exists(to))
        throw new PatchesError(`overlay file ${path} (${label}) would overwrite an existing file in ${repo}; refusing`);
      owners.set(path, label);
      plan.push({ path, from: join(source, path), to, label });
    }
  }
  return plan;
}

function exists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

// am, its abort and reset all write commits or reflog entries, which need an identity.
function committerEnv() {
  const env = {};
  for (const [name, value] of Object.entries(COMMITTER)) if (!process.env[name]) env[name] = value;
  return env;
}

// Options every git invocation of the am session needs: no hooks, no signing, and conflicts
// written with their base section, so insert-beside-insert conflicts can be recognized.
const AM_CONFIG = ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', '-c', 'merge.conflictStyle=diff3'];

/**
 * One git am session over the series, surviving drift patch by patch. When git am -3 stops at a
 * patch: (1) if every conflict is upstream and the patch both inserting lines at the same place
 * (a member added beside a hook, like mediaCall after abac), both are kept, upstream's first;
 * (2) else the patch is applied with whitespace-insensitive context (a file reformatted from
 * spaces to tabs, a moved function); (3) else each failing hunk is reported with the lines it
 * expected and the closest lines in the checkout, and the checkout is restored.
 */
function runAm(repo, patches, origHead) {
  const env = committerEnv();
  const args = [
    ...AM_CONFIG,
    'am',
    '--3way',
    // Patches are LF-only (verify enforces it); --keep-cr keeps git from rewriting their bytes.
    '--keep-cr',
    // Subjects are exported with --keep-subject; keep them verbatim on the way back in.
    '--keep',
    '--no-message-id',
    '--no-scissors',
    // A local apply.whitespace=fix would silently change the patched lines.
    '--whitespace=nowarn',
    '--committer-date-is-author-date',
    // git's "run git am --continue" advice would mislead: this tool continues or aborts itself.
    '--resolvemsg=',
    ...patches.map((patch) => patch.file),
  ];
  let result = tryGit(repo, args, { env });
  const notes = [];
  while (!result.ok) {
    const index = stoppedAt(repo, patches);
    const patch = patches[index];
    const inSession = existsSync(resolve(repo, git(repo, ['rev-parse', '--git-path', 'rebase-apply']).trim()));
    const how = patch && inSession ? resolveDrift(repo, patch, env) : { ok: false, report: [], files: [] };
    if (!how.ok) {
      const failure = [describeFailure(repo, patches, result, how.files), ...how.report].join('\n');
      try {
        restore(repo, origHead);
      } catch (error) {
        throw new PatchesError(`${failure}\n${error.message}`);
      }
      throw new PatchesError(
        `${failure}\nThe checkout was restored to ${origHead.slice(0, 12)}; rebase the series onto this Rocket.Chat version (scripts/patches/README.md).`,
      );
    }
    notes.push(`${patch.label}: ${how.note}`);
    result = tryGit(repo, [...AM_CONFIG, 'am', '--continue'], { env });
  }
  if (notes.length > 0) {
    // git am --continue does not keep --committer-date-is-author-date; rewrite the commits so the
    // same series on the same base still gives the same ids.
    const rewrite = tryGit(
      repo,
      [...AM_CONFIG, 'rebase', '--quiet', '--force-rebase', '--committer-date-is-author-date', origHead],
      { env },
    );
    if (!rewrite.ok) {
      tryGit(repo, ['rebase', '--abort'], { env });
      restore(repo, origHead);
      throw new PatchesError(
        `the series applied, but fixing its commit dates failed; the checkout was restored:\n${rewrite.stderr.trim()}`,
      );
    }
  }
  for (const note of notes) console.error(`note: ${note}`);
  return notes;
}

/** Tries the fallbacks at the patch git am -3 stopped at; `{ ok, note }` or `{ ok: false, report }`. */
function resolveDrift(repo, patch, env) {
  const conflicted = tryGit(repo, ['diff', '--name-only', '--diff-filter=U']).stdout.split('\n').filter(Boolean);
  if (conflicted.length > 0 && conflicted.every((path) => unionInsertions(repo, path))) {
    git(repo, ['add', '--', ...conflicted], { env });
    return {
      ok: true,
      note: `3-way conflict of insertions beside upstream's own in ${conflicted.join(', ')}: kept both, upstream's lines first`,
    };
  }
  git(repo, ['reset', '--quiet', '--hard', 'HEAD'], { env });
  const exact = tolerantApply(repo, patch, env, false);
  if (exact.ok) return { ok: true, note: 'applied with whitespace-insensitive context (git am -3 could not)' };
  const oneSided = tolerantApply(repo, patch, env, true);
  if (oneSided.ok) {
    return {
      ok: true,
      note: `applied with whitespace-insensitive context; placed by one side of their context only (upstream changed the other): ${oneSided.sided.join(', ')}`,
    };
  }
  return { ok: false, ...hunkReport(repo, patch) };
}

/**
 * Applies a patch to the work tree at HEAD with lib/hunks.mjs: context compared ignoring
 * whitespace (blank and // lines optional), added lines re-indented to a reformatted file; with
 * `oneSided`, an insertion whose context changed on one side is placed by the other side when
 * that matches exactly once. Files the patch creates go through git apply. All or nothing.
 */
function tolerantApply(repo, patch, env, oneSided) {
  const results = [];
  const created = [];
  const sided = [];
  for (const [path, { created: isNew, deleted, hunks }] of fileHunks(readFileSync(patch.file, 'utf8'))) {
    if (deleted) return { ok: false };
    if (isNew) {
      created.push(path);
      continue;
    }
    const shown = tryGit(repo, ['show', `HEAD:${path}`]);
    if (!shown.ok) return { ok: false };
    const result = applyHunks(shown.stdout, hunks, { oneSided, reindent: true });
    if (result.text === undefined) return { ok: false };
    result.placed.forEach(
      (how, i) =>
        how !== 'context' &&
        sided.push(`${path} ${hunks[i].header.replace(/^(@@[^@]*@@).*/, '$1')} by its ${how} lines`),
    );
    results.push([path, result.text]);
  }
  for (const path of created) {
    if (!tryGit(repo, ['apply', '--check', `--include=${path}`, patch.file]).ok) return { ok: false };
  }
  for (const [path, text] of results) writeFileSync(join(repo, path), text);
  if (results.length > 0) git(repo, ['add', '--', ...results.map(([path]) => path)], { env });
  for (const path of created)
    git(repo, ['apply', '--index', `--include=${path}`, '--whitespace=nowarn', patch.file], { env });
  return { ok: true, sided };
}

/**
 * Resolves the conflicts of one file when each is an insertion on both sides (empty base
 * section): upstream's lines, then the patch's. Writes the file and returns true, or leaves it
 * alone and returns false.
 */
function unionInsertions(repo, path) {
  const file = join(repo, path);
  if (!existsSync(file)) return false;
  const lines = readFileSync(file, 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('<<<<<<< ')) {
      out.push(lines[i]);
      continue;
    }
    const ours = [];
    const theirs = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith('||||||| ') && !lines[j].startsWith('======='))
      ours.push(lines[j++]);
    if (j >= lines.length || !lines[j].startsWith('||||||| ')) return false; // no base section: cannot tell
    j++;
    if (j >= lines.length || lines[j] !== '=======') return false; // the base had lines: a real conflict
    j++;
    while (j < lines.length && !lines[j].startsWith('>>>>>>> ')) theirs.push(lines[j++]);
    if (j >= lines.length) return false;
    out.push(...ours, ...theirs);
    i = j;
  }
  writeFileSync(file, out.join('\n'));
  return true;
}

/** Per hunk of the patch that git cannot place, even ignoring whitespace: what it expected, what is closest. */
function hunkReport(repo, patch) {
  const lines = [
    `  hunks of ${patch.label.split('/').pop()} that do not apply, even ignoring whitespace and one side of their context:`,
  ];
  const files = new Set();
  for (const [path, { created, hunks }] of fileHunks(readFileSync(patch.file, 'utf8'))) {
    if (created) continue;
    const shown = tryGit(repo, ['show', `HEAD:${path}`]);
    for (const hunk of hunks) {
      if (shown.ok && applyHunks(shown.stdout, [hunk], { oneSided: true }).text !== undefined) continue;
      files.add(path);
      const expected = hunk.lines.filter(({ op }) => op !== '+').map(({ text }) => text);
      lines.push(
        `    ${path} ${hunk.header.replace(/^(@@[^@]*@@).*/, '$1')}`,
        '      expected:',
        ...expected.map((text) => `        |${text}`),
      );
      if (!shown.ok) {
        lines.push('      the checkout has no such file');
        continue;
      }
      const near = closestLines(expected, shown.stdout);
      lines.push(
        `      closest in the checkout (line ${near.line}, ${near.matched} of ${expected.filter((text) => text.trim() !== '').length} lines in order):`,
        ...near.lines.map((text) => `        |${text}`),
      );
    }
  }
  return { report: files.size > 0 ? lines : [], files: [...files] };
}

/** Names the patch git am stopped at and the files it could not merge. */
function describeFailure(repo, patches, result, failing = []) {
  const index = stoppedAt(repo, patches);
  const patch = patches[index];
  const output = `${result.stdout}\n${result.stderr}`;
  const files = new Set(tryGit(repo, ['diff', '--name-only', '--diff-filter=U']).stdout.split('\n').filter(Boolean));
  const patterns = [
    /^error: patch failed: (.+):\d+$/gm,
    /^error: (.+): does not exist in index$/gm,
    /^error: (.+): already exists in (?:index|working directory)$/gm,
    /^error: (.+): patch does not apply$/gm,
    /^CONFLICT \([^)]*\): Merge conflict in (.+)$/gm,
    /^error: invalid object [0-7]+ [0-9a-f]+ for '(.+)'$/gm,
  ];
  if (failing.length > 0) files.clear();
  for (const path of failing) files.add(path);
  if (failing.length === 0)
    for (const pattern of patterns) for (const match of output.matchAll(pattern)) files.add(match[1]);
  const lines = [
    patch
      ? `apply failed at ${patch.label} (patch ${index + 1} of ${patches.length})`
      : 'apply failed before git am could read a patch',
    `  files: ${files.size > 0 ? [...files].sort().join(', ') : '(git named none; see below)'}`,
  ];
  if (/could not build fake ancestor|sha1 information is lacking|lacks necessary blobs/.test(output)) {
    lines.push(
      "  3-way merge impossible: the checkout lacks the recorded pre-image blobs (is it a fork of Rocket.Chat's history?)",
    );
  }
  const said = output.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('hint: '));
  lines.push('  git am said:', ...said.map((line) => `    ${line}`));
  return lines.join('\n');
}

// git am numbers mails across all files; map that number back to our file.
function stoppedAt(repo, patches) {
  const dir = resolve(repo, git(repo, ['rev-parse', '--git-path', 'rebase-apply']).trim());
  const next = existsSync(join(dir, 'next')) ? Number(readFileSync(join(dir, 'next'), 'utf8').trim()) : NaN;
  let seen = 0;
  for (let i = 0; i < patches.length; i++) {
    seen += Math.max(1, patches[i].parsed.mails);
    if (next <= seen) return i;
  }
  return Number.isNaN(next) ? -1 : patches.length - 1;
}

/** Back to the state before apply: abort any am session, then make sure HEAD and tree match. */
function restore(repo, origHead) {
  const env = committerEnv();
  if (!tryGit(repo, ['am', '--abort'], { env }).ok) tryGit(repo, ['am', '--quit'], { env });
  const head = tryGit(repo, ['rev-parse', 'HEAD']).stdout.trim();
  const dirty = tryGit(repo, ['status', '--porcelain=v1', '--untracked-files=no']).stdout.trim() !== '';
  // The work tree was clean when apply started, so a hard reset loses nothing of the user's.
  if (head !== origHead || dirty) git(repo, ['reset', '--quiet', '--hard', origHead], { env });
  const amDir = resolve(repo, git(repo, ['rev-parse', '--git-path', 'rebase-apply']).trim());
  if (existsSync(amDir))
    throw new PatchesError(`could not end the git am session in ${repo}; run "git am --abort" there`);
}

function copyOverlay(repo, plan, origHead) {
  const copied = [];
  const madeDirs = [];
  try {
    for (const item of plan) {
      const made = mkdirSync(dirname(item.to), { recursive: true });
      if (made) madeDirs.push(made);
      copyFileSync(item.from, item.to, constants.COPYFILE_EXCL);
      copied.push(item.to);
      chmodSync(item.to, statSync(item.from).mode & 0o777);
    }
  } catch (error) {
    for (const file of copied) unlinkSync(file);
    for (const dir of madeDirs.reverse()) rmSync(dir, { recursive: true, force: true });
    restore(repo, origHead);
    throw new PatchesError(`copying the overlay failed (${error.message}); the checkout was restored`);
  }
}

function printSummary(repo, line, patches, skipped, overlay) {
  const out = [`rc-e2ee patches, line ${line}, into ${repo}:`];
  if (patches.length === 0 && overlay.length === 0) out.push('  nothing to apply (no series and no overlay files)');
  out.push(`  applied ${count(patches.length, 'patch', 'patches')}`);
  for (const patch of patches) out.push(`    ${patch.label}`);
  if (skipped.length > 0) out.push(`  left out ${count(skipped.length, 'patch', 'patches')} for another layout`);
  for (const patch of skipped) out.push(`    ${patch.label} (${patch.reason})`);
  out.push(`  copied ${count(overlay.length, 'overlay file')} (left uncommitted)`);
  for (const item of overlay) out.push(`    ${item.path}`);
  console.log(out.join('\n'));
}
