#!/usr/bin/env node
// rc-e2ee patch series tool: apply, export, verify, check-apply, rebase, stats. See README.md beside this file.
// Exit codes: 0 success, 1 the work failed or problems were found, 2 bad command line.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { applyCommand } from './lib/apply.mjs';
import { checkApplyCheckout, checkApplyLine, preImagesFolder } from './lib/check-apply.mjs';
import { PatchesError, UsageError } from './lib/errors.mjs';
import { exportCommand } from './lib/export.mjs';
import { rebaseCommand } from './lib/rebase.mjs';
import { TARGETS, assertTarget, availableLines, isLine } from './lib/series.mjs';
import { statsCommand } from './lib/stats.mjs';
import { verifyLine } from './lib/verify.mjs';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

const USAGE = `usage: scripts/patches/patches <command> [options]

  apply <rocket.chat checkout> [--line X.Y] [--force-line]
      Apply apps-engine-patches/<line>, then meteor-patches/<line> (git am -3), then copy both
      overlays. Needs a clean work tree; on any failure the checkout is restored.
  export <rocket.chat checkout> --base <ref> --target apps-engine|meteor [--line X.Y]
         [--force-line] [--record-pre-images [--pre-images-out <dir>]] [--dry-run]
      Write the commits <base>..HEAD of the target series into its folder (order file included).
      --record-pre-images records upstream.json from <base>; --pre-images-out also writes the
      pre-image copies to <dir>, outside the repository. --dry-run writes nothing and exits 1
      when the folder is stale.
  verify [--line X.Y]
      Lint the series folders and overlays (all lines unless --line).
  check-apply --pre-images <dir> [--line X.Y]
      Apply each series exactly to its recorded pre-images, read from <dir> (laid out like the
      Rocket.Chat repository, outside this one), in a scratch repository.
  check-apply --checkout <rocket.chat checkout> [--line X.Y] [--force-line]
      Run apply (git am -3) on a scratch clone of the checkout's HEAD.
  Without either, check-apply reads RC_E2EE_PRE_IMAGES, or says there is nothing to check.
  rebase <rocket.chat checkout of the new release> --line <old X.Y> [--pre-images-out <dir>]
      Apply the old line's series (surviving drift as apply does) and export it as the
      checkout's line, pre-images recorded from the checkout's HEAD.
  stats [--line X.Y] [--target apps-engine|meteor]
      A Markdown table per series: each patch's upstream files, hunks, lines added and removed,
      and its "Applies when:" layout (all lines and both targets unless given).

common options:
  --root <dir>   folder holding apps-engine-patches/ and meteor-patches/ (default: ${REPO_ROOT})
  -h, --help     show this help
`;

const OPTIONS = {
  line: { type: 'string' },
  root: { type: 'string' },
  base: { type: 'string' },
  target: { type: 'string' },
  'force-line': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'record-pre-images': { type: 'boolean' },
  'pre-images-out': { type: 'string' },
  'pre-images': { type: 'string' },
  checkout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

// Which options each command accepts, besides --root and --help; anything else is a usage error
// rather than silently ignored.
const COMMANDS = {
  apply: { positionals: 1, options: ['line', 'force-line'], run: runApply },
  export: {
    positionals: 1,
    options: ['line', 'force-line', 'base', 'target', 'dry-run', 'record-pre-images', 'pre-images-out'],
    run: runExport,
  },
  verify: { positionals: 0, options: ['line'], run: runVerify },
  'check-apply': { positionals: 0, options: ['line', 'force-line', 'pre-images', 'checkout'], run: runCheckApply },
  rebase: { positionals: 1, options: ['line', 'pre-images-out'], run: runRebase },
  stats: { positionals: 0, options: ['line', 'target'], run: runStats },
};

function main(argv) {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [name, ...rest] = positionals;
  const command = COMMANDS[name];
  if (!command) throw new UsageError(name ? `unknown command "${name}"` : 'no command given');
  for (const option of Object.keys(values)) {
    if (option !== 'root' && !command.options.includes(option))
      throw new UsageError(`${name} does not take --${option}`);
  }
  if (rest.length !== command.positionals) {
    throw new UsageError(
      `${name} takes ${command.positionals === 1 ? 'one checkout path' : 'no positional arguments'}`,
    );
  }
  if (values.line !== undefined && !isLine(values.line))
    throw new UsageError(`--line must look like 8.8, not "${values.line}"`);
  const root = resolve(values.root ?? REPO_ROOT);
  return command.run(rest, values, root) ?? 0;
}

function parse(argv) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error.message);
  }
}

function runApply([checkout], values, root) {
  applyCommand(checkout, { root, line: values.line, forceLine: values['force-line'] });
}

function runExport([checkout], values, root) {
  if (!values.base) throw new UsageError('export needs --base <ref>');
  if (!values.target) throw new UsageError('export needs --target apps-engine|meteor');
  if (values['pre-images-out'] !== undefined && !values['record-pre-images'])
    throw new UsageError('--pre-images-out needs --record-pre-images');
  return exportCommand(checkout, {
    root,
    base: values.base,
    target: values.target,
    line: values.line,
    forceLine: values['force-line'],
    dryRun: values['dry-run'] ?? false,
    recordPreImages: values['record-pre-images'] ?? false,
    preImagesOut: values['pre-images-out'] === undefined ? undefined : resolve(values['pre-images-out']),
  });
}

function runRebase([checkout], values, root) {
  if (!values.line) throw new UsageError('rebase needs --line <the old line to start from>');
  rebaseCommand(checkout, {
    root,
    line: values.line,
    preImagesOut: values['pre-images-out'] === undefined ? undefined : resolve(values['pre-images-out']),
  });
}

function runStats(_, values, root) {
  if (values.target !== undefined) assertTarget(values.target);
  const lines = values.line ? [values.line] : availableLines(root);
  return statsCommand(root, lines, values.target ? [values.target] : TARGETS);
}

function runVerify(_, values, root) {
  // Overlays exist independently of lines, so they are checked even when no line does.
  const lines = values.line ? [values.line] : availableLines(root);
  return report('verify', root, lines.length > 0 ? lines : [null], verifyLine);
}

function runCheckApply(_, values, root) {
  if (values['pre-images'] !== undefined && values.checkout !== undefined)
    throw new UsageError('check-apply takes --pre-images or --checkout, not both');
  if (values.checkout !== undefined) {
    checkApplyCheckout(values.checkout, { root, line: values.line, forceLine: values['force-line'] });
    return 0;
  }
  if (values['force-line']) throw new UsageError('--force-line goes with --checkout');
  const given = values['pre-images'] ?? process.env.RC_E2EE_PRE_IMAGES;
  const lines = values.line ? [values.line] : availableLines(root);
  if (lines.length === 0) {
    console.log(`check-apply: no release lines under ${root}, nothing to check`);
    return 0;
  }
  if (given === undefined || given === '') {
    // The repository holds no upstream text, so there is nothing to apply to here; verify has
    // checked what the repository alone can prove. Say so plainly instead of passing quietly.
    console.log(
      'check-apply: nothing checked: no pre-images given (--pre-images <dir>, --checkout <dir> or RC_E2EE_PRE_IMAGES); the repository holds no upstream files (see scripts/patches/README.md)',
    );
    return 0;
  }
  const folder = preImagesFolder(given);
  return report('check-apply', root, lines, (r, line) => checkApplyLine(r, line, folder));
}

/** Runs a per-line check over the given lines and prints summary + problems. */
function report(name, root, lines, check) {
  const problems = [];
  for (const each of lines) {
    const result = check(root, each);
    console.log(`${name} ${each ?? '(no release lines)'}:\n${result.summary.map((entry) => `  ${entry}`).join('\n')}`);
    problems.push(...new Set(result.problems));
  }
  if (problems.length === 0) {
    console.log(`${name}: OK`);
    return 0;
  }
  console.error(`${name}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
  for (const problem of problems) console.error(`  - ${problem}`);
  return 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`patches: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof PatchesError) {
    console.error(`patches: ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
