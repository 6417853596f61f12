#!/usr/bin/env node
// Type-checks every class and object of the 8.8 tree that implements IRead, IModify or AppBridges
// (host accessors, the sandbox's accessor objects, the engine's test bridges; the meteor series'
// RealAppBridges lives in apps/meteor) in a scratch tree
// built from the recorded pre-images, with the series applied, against the series' definitions.
//
//   node scripts/patches/typecheck-implementers.mjs <scratch dir> [--pre-images <dir>]
//
// <scratch dir> must be outside this repository and is (re)created: it gets definitions/ (the
// published @rocket.chat/apps-engine@1.66.0 declarations with the series' definition hunks and
// overlay, examples/scripts/build-definitions.mjs) and tree/ (the implementers' pre-images, read
// from --pre-images or RC_E2EE_PRE_IMAGES and checked against upstream.json's blobs, patched with
// `git apply`, plus the apps overlay). Nothing is written into the repository.
//
// Per file, the diagnostics of the patched file against the series' definitions must be those of
// the unpatched pre-image against the published ones (modules the tree does not record resolve to
// nothing either way, so only the shapes count), and the check must have teeth: the unpatched
// pre-image, put in the patched tree, must miss a member the patched definitions require. Exit 0
// when every file passes, 1 otherwise. Needs the examples' packages (npm --prefix examples ci).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { blobId } from './lib/series.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERIES = join(REPO, 'apps-engine-patches/8.8');
const OVERLAY = join(REPO, 'apps-engine-patches/overlay');

// What implements the three interfaces in the 8.8 tree.
export const IMPLEMENTERS = [
  { path: 'packages/apps/src/server/accessors/Reader.ts', implements: 'IRead (class Reader)' },
  {
    path: 'packages/apps/src/server/accessors/Modify.ts',
    implements: 'IModify (class Modify)',
  },
  {
    path: 'packages/apps/base-runtime/src/lib/accessors/mod.ts',
    implements: 'IRead, IModify (the sandbox accessors)',
  },
  {
    path: 'packages/apps/deno-runtime/lib/accessors/mod.ts',
    implements: 'IRead, IModify (the older Deno sandbox)',
  },
  {
    path: 'packages/apps/tests/test-data/bridges/appBridges.ts',
    implements: 'AppBridges (the test bridges)',
  },
];

// Files the implementers need for their own shapes: AppBridges itself, which declares the abstract
// getE2EEBridge() its subclasses (the test bridges here, RealAppBridges in the meteor series)
// implement, and the bridges' index, through which the test bridges import it.
const ALSO = ['packages/apps/src/server/bridges/AppBridges.ts', 'packages/apps/src/server/bridges/index.ts'];

// What "the interface rejects it" looks like: a class or object missing a member it must have.
const MISSING_MEMBER = new Set([2420, 2515, 2654, 2739, 2740, 2741]);

const MARKER = '.rc-e2ee-typecheck';

const examplesRequire = createRequire(join(REPO, 'examples/package.json'));

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'pre-images': { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error('usage: node scripts/patches/typecheck-implementers.mjs <scratch dir> [--pre-images <dir>]');
    return 2;
  }
  const scratch = resolve(positionals[0]);
  const preImages = values['pre-images'] ?? process.env.RC_E2EE_PRE_IMAGES;
  if (!preImages) {
    console.error(
      'typecheck-implementers: no pre-images (--pre-images <dir> or RC_E2EE_PRE_IMAGES); see apps-engine-patches/8.8/README.md',
    );
    return 2;
  }
  if (!relative(REPO, scratch).startsWith('..')) {
    console.error(`typecheck-implementers: ${scratch} is inside the repository; give a folder outside it`);
    return 2;
  }
  let results;
  try {
    results = typecheckImplementers(scratch, resolve(preImages));
  } catch (error) {
    console.error(`typecheck-implementers: ${error.message}`);
    return 1;
  }
  for (const { path, implements: what, problems } of results) {
    console.log(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${path}: ${what}`);
    for (const problem of problems) console.log(`       ${problem}`);
  }
  const failed = results.filter(({ problems }) => problems.length > 0).length;
  console.log(
    failed === 0
      ? `typecheck-implementers: OK (${results.length} files, tree in ${scratch})`
      : `typecheck-implementers: ${failed} of ${results.length} files fail`,
  );
  return failed === 0 ? 0 : 1;
}

/** Builds `<scratch>/definitions` and `<scratch>/tree`, then checks each implementer. */
export function typecheckImplementers(scratch, preImages) {
  const ts = examplesRequire('typescript');
  // The folder is rebuilt on every run, so it must be new, empty or one this script made.
  if (existsSync(scratch) && readdirSync(scratch).length > 0 && !existsSync(join(scratch, MARKER))) {
    throw new Error(`${scratch} is not empty and was not made by this script; give a new folder`);
  }
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  writeFileSync(join(scratch, MARKER), 'made by scripts/patches/typecheck-implementers.mjs; rebuilt on every run\n');
  const definitions = join(scratch, 'definitions');
  const tree = join(scratch, 'tree');
  const pristine = join(scratch, 'pre-images');
  execFileSync(process.execPath, [join(REPO, 'examples/scripts/build-definitions.mjs'), definitions], {
    stdio: 'pipe',
  });
  const recorded = JSON.parse(readFileSync(join(SERIES, 'upstream.json'), 'utf8')).files;
  const paths = [...new Set([...IMPLEMENTERS.map(({ path }) => path), ...ALSO])];
  for (const path of paths) {
    const bytes = readFileSync(join(preImages, path));
    if (blobId(bytes) !== recorded[path]?.blob) {
      throw new Error(
        `${join(preImages, path)} is blob ${blobId(bytes)}, upstream.json records ${recorded[path]?.blob ?? 'nothing'}`,
      );
    }
    for (const root of [tree, pristine]) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      copyFileSync(join(preImages, path), join(root, path));
    }
  }
  applySeries(tree, paths);
  cpSync(join(OVERLAY, 'packages/apps'), join(tree, 'packages/apps'), { recursive: true, force: false });
  const published = dirname(examplesRequire.resolve('@rocket.chat/apps-engine/package.json'));

  return IMPLEMENTERS.map(({ path, implements: what }) => {
    const problems = [];
    const before = diagnostics(ts, join(pristine, path), published);
    const after = diagnostics(ts, join(tree, path), definitions);
    const added = subtract(after, before);
    if (added.length > 0) problems.push(...added.map((d) => `new with the series: ${d}`));
    // Teeth: without the series' change to it (the pre-image in the patched tree), the file must
    // miss a member the patched definitions require.
    const file = join(tree, path);
    const patched = readFileSync(file);
    copyFileSync(join(pristine, path), file);
    const without = subtract(diagnostics(ts, file, definitions), before);
    writeFileSync(file, patched);
    if (!without.some((d) => MISSING_MEMBER.has(Number(d.slice(2, d.indexOf(' ')))))) {
      problems.push(
        `still passes without the series' hook lines: the check has no teeth (${without.join('; ') || 'no new diagnostic'})`,
      );
    }
    return { path, implements: what, problems };
  });
}

/** Applies every series patch, in order, to those of `paths` it touches (git apply --include). */
function applySeries(tree, paths) {
  const order = readFileSync(join(SERIES, '.patches'), 'utf8').split('\n').filter(Boolean);
  for (const name of order) {
    const text = readFileSync(join(SERIES, name), 'utf8');
    const touched = [...text.matchAll(/^diff --git a\/(\S+) b\//gm)]
      .map((match) => match[1])
      .filter((path) => paths.includes(path));
    if (touched.length === 0) continue;
    execFileSync(
      'git',
      ['apply', '--whitespace=nowarn', ...touched.map((path) => `--include=${path}`), join(SERIES, name)],
      { cwd: tree, stdio: 'pipe' },
    );
  }
}

// Unresolved modules (siblings the tree does not record, Deno's ".ts" specifiers) are the same
// before and after; they are left out so the comparison is about the shapes.
const IGNORED = new Set([2307, 2691, 5097, 2792]);

/** The diagnostics TypeScript reports in `file`, as "TSnnnn message" strings (no positions). */
function diagnostics(ts, file, definitions) {
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    // Not strict: with strictNullChecks, upstream's own `getNotifier: () => this.getNotifier()`
    // (INotifier | undefined) fails the sandbox's IRead literal, and TypeScript then reports
    // that one property instead of a missing member, which would hide what this checks.
    strict: false,
    noEmit: true,
    skipLibCheck: true,
    experimentalDecorators: true,
    allowImportingTsExtensions: true,
    types: [],
    typeRoots: [],
    baseUrl: dirname(file),
    paths: { '@rocket.chat/apps-engine/*': [`${definitions}/*`] },
  };
  const host = ts.createCompilerHost(options);
  // @rocket.chat/ui-kit (imported by some definitions) comes from the examples' packages.
  const defaultResolve = ts.resolveModuleName;
  host.resolveModuleNames = (names, containing) =>
    names.map(
      (name) =>
        defaultResolve(
          name,
          name.startsWith('@rocket.chat/ui-kit') ? join(REPO, 'examples/package.json') : containing,
          options,
          host,
        ).resolvedModule,
    );
  const program = ts.createProgram([file], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file && !IGNORED.has(d.code))
    .map((d) => `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

/** The entries of `after` not matched one for one by an entry of `before`. */
function subtract(after, before) {
  const left = [...before];
  return after.filter((entry) => {
    const at = left.indexOf(entry);
    if (at === -1) return true;
    left.splice(at, 1);
    return false;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!existsSync(join(REPO, 'examples/node_modules/@rocket.chat/apps-engine'))) {
    console.error('typecheck-implementers: run npm --prefix examples ci first');
    process.exitCode = 2;
  } else {
    process.exitCode = main(process.argv.slice(2));
  }
}
