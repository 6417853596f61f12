// `apply`: Apps-Engine series, then Meteor series (one `git am -3` session), then both overlays.
// Everything that can be checked is checked before the checkout is touched, and any failure
// afterwards puts the checkout back where it was: a build never sees a half-patched tree.
import { chmodSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { assertClean, chooseLine } from './checkout.mjs';
import { PatchesError } from './errors.mjs';
import { git, resolveCommit, topLevel, tryGit } from './git.mjs';
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
      if (!existsSync(file)) throw new PatchesError(`${series.label}/${ORDER_FILE} lists ${name}, which does not exist`);
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
      if (createdBy.has(path)) throw new PatchesError(`overlay file ${path} (${label}) would overwrite the file created by ${createdBy.get(path)}`);
      if (exists(to)) throw new PatchesError(`overlay file ${path} (${label}) would overwrite an existing file in ${repo}; refusing`);
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

function runAm(repo, patches, origHead) {
  const args = [
    // A fork's hooks (husky, lint-staged) have no business running on a build step.
    '-c', 'core.hooksPath=/dev/null',
    '-c', 'commit.gpgsign=false',
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
    // git's "run git am --continue" advice would mislead: the session is aborted right away.
    '--resolvemsg=',
    ...patches.map((patch) => patch.file),
  ];
  const result = tryGit(repo, args, { env: committerEnv() });
  if (result.ok) return;
  const failure = describeFailure(repo, patches, result);
  try {
    restore(repo, origHead);
  } catch (error) {
    throw new PatchesError(`${failure}\n${error.message}`);
  }
  throw new PatchesError(`${failure}\nThe checkout was restored to ${origHead.slice(0, 12)}; rebase the series onto this Rocket.Chat version (scripts/patches/README.md).`);
}

/** Names the patch git am stopped at and the files it could not merge. */
function describeFailure(repo, patches, result) {
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
  for (const pattern of patterns) for (const match of output.matchAll(pattern)) files.add(match[1]);
  const lines = [
    patch ? `apply failed at ${patch.label} (patch ${index + 1} of ${patches.length})` : 'apply failed before git am could read a patch',
    `  files: ${files.size > 0 ? [...files].sort().join(', ') : '(git named none; see below)'}`,
  ];
  if (/could not build fake ancestor|sha1 information is lacking|lacks necessary blobs/.test(output)) {
    lines.push("  3-way merge impossible: the checkout lacks the recorded pre-image blobs (is it a fork of Rocket.Chat's history?)");
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
  if (existsSync(amDir)) throw new PatchesError(`could not end the git am session in ${repo}; run "git am --abort" there`);
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
