// `check-apply`: proves each series applies to upstream text that lives outside the repository.
//
// --pre-images <dir>: exactly (no 3-way, no fuzz) to the pre-images the series records. <dir> is
//   laid out like the Rocket.Chat repository; a throwaway repository gets every recorded file
//   from it, each checked against its recorded blob id, and the series is applied on top of it
//   patch by patch. A series with "Applies when:" patches is checked once per layout
//   (lib/layouts.mjs): the scratch repository lacks the paths that layout lacks, and only that
//   layout's patches are applied.
// --checkout <dir>: a Rocket.Chat checkout; `apply` (git am -3, the checkout's layout) runs on a
//   throwaway clone of its HEAD, so the checkout itself is never touched.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { applyCommand } from './apply.mjs';
import { PatchesError } from './errors.mjs';
import { resolveCommit, topLevel, tryGit } from './git.mjs';
import { applies, layoutsOf, patchCondition } from './layouts.mjs';
import { parsePatch } from './patchfile.mjs';
import { TARGETS, UPSTREAM_FILE, blobId, loadSeries, upstreamProblems } from './series.mjs';
import { count } from './text.mjs';

// The scratch repository needs an identity and no signing whatever the machine's config, and
// no line-ending or attribute conversion that would commit something other than the checked bytes.
const SCRATCH_CONFIG = [
  'user.name=rc-e2ee check-apply',
  'user.email=check-apply@rc-e2ee.invalid',
  'commit.gpgsign=false',
  'core.hooksPath=/dev/null',
  'core.autocrlf=false',
  'core.attributesFile=/dev/null',
  'init.defaultBranch=main',
].flatMap((setting) => ['-c', setting]);

/** The folder given to --pre-images, resolved; a missing or non-folder path is an error. */
export function preImagesFolder(dir) {
  const path = resolve(dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new PatchesError(`--pre-images ${dir}: no such folder`);
  return path;
}

/**
 * --checkout: clones the checkout's HEAD (shared objects, so the recorded blobs a 3-way merge
 * needs are there when the checkout has Rocket.Chat's history) and runs apply on the clone.
 */
export function checkApplyCheckout(checkout, { root, line, forceLine }) {
  const repo = topLevel(resolve(checkout));
  const head = resolveCommit(repo, 'HEAD');
  const scratch = mkdtempSync(join(tmpdir(), 'rc-e2ee-check-apply-checkout-'));
  try {
    const clone = tryGit(scratch, [...SCRATCH_CONFIG, 'clone', '--quiet', '--shared', '--no-checkout', repo, 'rc']);
    if (!clone.ok) throw new PatchesError(`could not clone ${repo}: ${clone.stderr.trim()}`);
    const work = join(scratch, 'rc');
    const checkoutHead = tryGit(work, [...SCRATCH_CONFIG, 'checkout', '--quiet', '--detach', head]);
    if (!checkoutHead.ok)
      throw new PatchesError(`could not check out ${head} in the scratch clone: ${checkoutHead.stderr.trim()}`);
    applyCommand(work, { root, line, forceLine });
    console.log(
      `check-apply: the series applies to ${repo} at ${head.slice(0, 12)} (scratch clone, checkout untouched)`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Checks one line against the pre-images in `preImages`; returns `{ problems, summary }`. */
export function checkApplyLine(root, line, preImages) {
  const problems = [];
  const summary = [];
  for (const target of TARGETS) {
    const series = loadSeries(root, target, line);
    if (series.names.length === 0) {
      summary.push(`${series.label}: no patches, nothing to check`);
      continue;
    }
    const { problems: found, applied } = checkSeries(series, preImages);
    problems.push(...found.map((message) => `${series.label}: ${message}`));
    if (found.length > 0) continue;
    for (const { label, names, files } of applied) {
      const layout = label === '' ? '' : ` (layout where ${label})`;
      summary.push(
        `${series.label}: ${count(names, 'patch', 'patches')} ${names === 1 ? 'applies' : 'apply'} to ${count(files, 'recorded pre-image')}${layout}`,
      );
    }
  }
  return { problems, summary };
}

function checkSeries(series, preImages) {
  if (!series.upstream) return { problems: [`${UPSTREAM_FILE} is missing`], applied: [] };
  const schema = upstreamProblems(series.upstream, series.line);
  if (schema.length > 0) return { problems: schema.map((message) => `${UPSTREAM_FILE}: ${message}`), applied: [] };
  const patches = [];
  for (const name of series.names) {
    const file = join(series.dir, name);
    if (!existsSync(file)) return { problems: [`${name} is listed but missing`], applied: [] };
    const { condition, problems } = patchCondition(parsePatch(readFileSync(file, 'utf8')).messageLines);
    if (problems.length > 0) return { problems: problems.map((message) => `${name}: ${message}`), applied: [] };
    patches.push({ name, file, condition });
  }
  const problems = [];
  const applied = [];
  for (const layout of layoutsOf(patches.map(({ condition }) => condition))) {
    const present = (path) => layout.present.get(path);
    const selected = patches.filter(({ condition }) => applies(condition, present));
    const files = Object.fromEntries(
      Object.entries(series.upstream.files).filter(([path]) => layout.present.get(path) !== false),
    );
    const found = checkLayout(preImages, files, selected);
    const where = layout.label === '' ? '' : `in the layout where ${layout.label}: `;
    problems.push(...found.map((message) => `${where}${message}`));
    applied.push({ label: layout.label, names: selected.length, files: Object.keys(files).length });
  }
  return { problems, applied };
}

function checkLayout(preImages, files, patches) {
  const scratch = mkdtempSync(join(tmpdir(), 'rc-e2ee-check-apply-'));
  try {
    const problems = writePreImages(preImages, files, scratch);
    if (problems.length > 0) return problems;
    return initScratch(scratch, files) ?? applyEach(patches, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function writePreImages(preImages, files, scratch) {
  const problems = [];
  for (const [path, { blob }] of Object.entries(files)) {
    const source = join(preImages, path);
    if (!existsSync(source)) {
      problems.push(`${source} is missing (the pre-image of ${path}: scripts/patches/README.md says how to get it)`);
      continue;
    }
    const bytes = readFileSync(source);
    const actual = blobId(bytes);
    if (actual !== blob) {
      problems.push(`${source} hashes to ${actual}, ${UPSTREAM_FILE} records ${blob}`);
      continue;
    }
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), bytes);
  }
  return problems;
}

/** Commits the pre-images; null on success, else problems. */
function initScratch(scratch, files) {
  for (const args of [
    ['init', '--quiet'],
    ['add', '--all'],
    ['commit', '--quiet', '--allow-empty', '-m', 'recorded pre-images'],
  ]) {
    const result = tryGit(scratch, [...SCRATCH_CONFIG, ...args]);
    if (!result.ok) return [`could not build the scratch repository: git ${args[0]}: ${result.stderr.trim()}`];
  }
  // Belt and braces: what git stored must be exactly the recorded blobs.
  const problems = [];
  for (const [path, { blob }] of Object.entries(files)) {
    const stored = tryGit(scratch, ['rev-parse', `HEAD:${path}`]).stdout.trim();
    if (stored !== blob) problems.push(`${path} was stored as ${stored || 'nothing'}, not ${blob}`);
  }
  return problems.length > 0 ? problems : null;
}

function applyEach(patches, scratch) {
  for (const { name, file } of patches) {
    const check = tryGit(scratch, [...SCRATCH_CONFIG, 'apply', '--check', '--whitespace=nowarn', file]);
    if (!check.ok)
      return [
        `${name} does not apply to the recorded pre-images:\n    ${check.stderr.trim().split('\n').join('\n    ')}`,
      ];
    const am = tryGit(scratch, [
      ...SCRATCH_CONFIG,
      'am',
      '--keep-cr',
      '--keep',
      '--no-message-id',
      '--whitespace=nowarn',
      file,
    ]);
    if (!am.ok) {
      tryGit(scratch, ['am', '--abort']);
      return [`git am of ${name} failed:\n    ${`${am.stdout}\n${am.stderr}`.trim().split('\n').join('\n    ')}`];
    }
  }
  return [];
}
