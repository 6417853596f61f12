// `export`: turns the commits <base>..HEAD of a checkout back into a series folder. The output
// depends only on the commits, never on the machine's git configuration, so re-exporting the
// same commits is byte-identical and `--dry-run` can tell a stale folder from a fresh one.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { chooseLine } from './checkout.mjs';
import { PatchesError } from './errors.mjs';
import { git, resolveCommit, topLevel, tryGit } from './git.mjs';
import { applies, describeCondition, patchCondition } from './layouts.mjs';
import { parsePatch } from './patchfile.mjs';
import {
  ORDER_FILE,
  PRE_IMAGES_DIR,
  TARGETS,
  UPSTREAM_FILE,
  allowedPathsOf,
  assertTarget,
  formatOrderFile,
  formatUpstream,
  isAllowed,
  patchFilesIn,
  readOrderFile,
  readUpstream,
  seriesDir,
  walkFiles,
} from './series.mjs';
import { count } from './text.mjs';

// Pins every setting that changes format-patch output, whatever the user's or fork's config says.
const FORMAT_CONFIG = [
  'diff.noprefix=false',
  'diff.mnemonicPrefix=false',
  'diff.srcPrefix=a/',
  'diff.dstPrefix=b/',
  'diff.relative=false',
  'diff.suppressBlankEmpty=false',
  'diff.algorithm=myers',
  'diff.indentHeuristic=true',
  'core.quotePath=true',
  'format.encodeEmailHeaders=true',
  'format.signOff=false',
  'i18n.logOutputEncoding=UTF-8',
];

const FORMAT_OPTIONS = [
  '--stdout',
  '--zero-commit', // "From 0000…" instead of the commit id, which changes on every rebase
  '--full-index', // whole blob ids: verify follows them back to the recorded pre-images
  '--no-signature', // no "-- \n<git version>" trailer
  '--no-stat', // a diffstat only adds churn
  '--keep-subject', // no "[PATCH n/m]", whose numbers change when a patch is inserted
  '--no-renames', // every touched upstream file stays a plain modify with one pre-image
  '--unified=3',
  '--inter-hunk-context=0',
  '-O/dev/null',
  '--no-to',
  '--no-cc',
  '--no-add-header',
  '--no-thread',
  '--no-cover-letter',
  '--no-notes',
  '--no-from',
  '--no-base',
  '--no-force-in-body-from',
  '--no-attach',
  '--no-color',
];

export function exportCommand(
  checkout,
  { root, base, target, line, forceLine, dryRun, recordPreImages, preImagesOut },
) {
  assertTarget(target);
  const repo = topLevel(resolve(checkout));
  // A new line has no folder until its first export, so a missing series is fine here.
  const chosen = chooseLine(repo, root, { line, forceLine }, { requireSeries: false });
  const baseId = resolveCommit(repo, base);
  const dir = seriesDir(root, target, chosen);
  const upstream = readUpstream(dir);
  const commits = seriesCommits(repo, baseId, target, root, chosen, upstream);
  const existing = patchFilesIn(dir).length;
  if (commits.length === 0 && existing > 0) {
    // Almost always a wrong --base; dropping a whole series is rare enough to do by hand.
    throw new PatchesError(
      `no ${target} commits in ${base}..HEAD, but ${dir} has ${count(existing, 'patch', 'patches')}; wrong --base?`,
    );
  }
  warnUncommitted(repo);
  const wanted = renderPatches(repo, commits);
  const kept = keepOtherLayouts(repo, baseId, dir, wanted);
  const copies = new Map();
  if (recordPreImages) renderPreImages(repo, baseId, commits, upstream, target, chosen, wanted, { kept, copies });
  const changes = compareFolder(dir, wanted, recordPreImages);
  if (preImagesOut !== undefined && !dryRun) writeCopies(preImagesOut, copies);
  if (!recordPreImages && !upstream && commits.length > 0) {
    console.error(`note: ${dir} has no ${UPSTREAM_FILE}; run again with --record-pre-images (verify needs it)`);
  }
  return dryRun ? reportStale(dir, changes) : writeFolder(dir, wanted, changes, commits.length);
}

// Only commits are exported; say so when tracked files have changes that would be left out.
function warnUncommitted(repo) {
  if (git(repo, ['status', '--porcelain=v1', '--untracked-files=no']).trim() !== '') {
    console.error(`note: ${repo} has uncommitted changes; export only reads commits`);
  }
}

/**
 * Commits of the series, oldest first. The range may also hold the other series' commits (after
 * `apply` both sit on the same base); those are skipped when every path they touch is the other
 * series' business. Anything else is an error: a commit that belongs to neither, or to both.
 */
function seriesCommits(repo, baseId, target, root, line, upstream) {
  const merges = git(repo, ['rev-list', '--merges', `${baseId}..HEAD`]).trim();
  if (merges)
    throw new PatchesError(
      `${baseId.slice(0, 12)}..HEAD contains merge commits (${merges.split('\n').join(', ')}); a series must be linear`,
    );
  const allowed = allowedPathsOf(upstream, target);
  const others = TARGETS.filter((t) => t !== target).map((t) =>
    allowedPathsOf(readUpstream(seriesDir(root, t, line)), t),
  );
  const commits = [];
  for (const id of git(repo, ['rev-list', '--reverse', `${baseId}..HEAD`])
    .split('\n')
    .filter(Boolean)) {
    const paths = changedPaths(repo, id);
    const subject = git(repo, [
      '-c',
      'i18n.logOutputEncoding=UTF-8',
      'log',
      '-1',
      '--no-show-signature',
      '--format=%s',
      id,
    ]).trim();
    if (paths.length === 0)
      throw new PatchesError(
        `commit ${id.slice(0, 12)} "${subject}" changes nothing; git am cannot apply an empty patch`,
      );
    if (paths.every((path) => isAllowed(path, allowed))) commits.push({ id, subject, paths });
    else if (!others.some((otherAllowed) => paths.every((path) => isAllowed(path, otherAllowed)))) {
      const outside = paths.filter((path) => !isAllowed(path, allowed));
      throw new PatchesError(
        `commit ${id.slice(0, 12)} "${subject}" touches ${outside.join(', ')}, outside ${target}'s allowedPaths (${allowed.join(', ')})`,
      );
    }
  }
  return commits;
}

function changedPaths(repo, id) {
  return git(repo, ['diff-tree', '--no-commit-id', '--name-only', '-r', '--no-renames', '-z', `${id}^`, id])
    .split('\0')
    .filter(Boolean);
}

/** Map of folder-relative path -> Buffer for the patches and the order file. */
function renderPatches(repo, commits) {
  const wanted = new Map();
  const names = [];
  for (const commit of commits) {
    const name = patchName(commit.subject);
    if (wanted.has(name))
      throw new PatchesError(`two commits would both export as ${name}; give "${commit.subject}" a distinct subject`);
    const args = FORMAT_CONFIG.flatMap((setting) => ['-c', setting]).concat([
      'format-patch',
      ...FORMAT_OPTIONS,
      '-1',
      commit.id,
    ]);
    wanted.set(name, git(repo, args, { buffer: true }));
    names.push(name);
  }
  wanted.set(ORDER_FILE, Buffer.from(formatOrderFile(names)));
  return wanted;
}

/**
 * Patches of the folder written for a layout that <base> does not have ("Applies when:",
 * lib/layouts.mjs). They cannot be among the commits, since the checkout lacks the file they
 * hook, so export keeps them byte for byte, in their place in the order file, instead of
 * deleting them as patches that left the series.
 */
function keepOtherLayouts(repo, baseId, dir, wanted) {
  const present = (path) => tryGit(repo, ['cat-file', '-e', `${baseId}:${path}`]).ok;
  const order = readOrderFile(dir) ?? [];
  const kept = [];
  for (const name of order) {
    const file = join(dir, name);
    if (wanted.has(name) || !existsSync(file)) continue;
    const bytes = readFileSync(file);
    const parsed = parsePatch(bytes.toString('utf8'));
    const { condition } = patchCondition(parsed.messageLines);
    if (condition === null || applies(condition, present)) continue;
    kept.push({ name, bytes, parsed, condition });
  }
  if (kept.length === 0) return kept;
  const names = wanted.get(ORDER_FILE).toString('utf8').split('\n').filter(Boolean);
  for (const { name, bytes, condition } of kept) {
    // Right after the nearest patch that preceded it before, or first.
    const before = order
      .slice(0, order.indexOf(name))
      .reverse()
      .find((other) => names.includes(other));
    names.splice(before === undefined ? 0 : names.indexOf(before) + 1, 0, name);
    wanted.set(name, bytes);
    console.log(
      `kept ${name}: it is for the layout where ${describeCondition(condition)}, which ${baseId.slice(0, 12)} is not`,
    );
  }
  wanted.set(ORDER_FILE, Buffer.from(formatOrderFile(names)));
  return kept;
}

/** Electron's rule: the subject, lowercased, every run of other characters as one "_". */
export function patchName(subject) {
  const stem = subject
    .toLowerCase()
    .replace(/\.patch$/, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 80)
    .replace(/_+$/, '');
  if (stem === '') throw new PatchesError(`cannot derive a file name from the subject ${JSON.stringify(subject)}`);
  return `${stem}.patch`;
}

/**
 * With --record-pre-images: upstream.json entries for every file the series modifies that exists
 * at <base>, and (for --pre-images-out) their copies in `copies`, never in the repository. An
 * entry whose blob is unchanged keeps its commit and evidence, so re-recording on a later base of
 * the same line causes no churn.
 */
function renderPreImages(repo, baseId, commits, upstream, target, line, wanted, { kept, copies }) {
  const paths = [...new Set(commits.flatMap((commit) => commit.paths))].sort();
  const previous = upstream?.files ?? {};
  const files = {};
  for (const path of paths) {
    const found = git(repo, ['ls-tree', '-z', baseId, '--', path]).split('\0').filter(Boolean);
    if (found.length === 0) continue; // created by the series: nothing upstream to record
    const blob = found[0].split(/\s+/)[2];
    files[path] =
      previous[path]?.blob === blob
        ? previous[path]
        : { commit: baseId, blob, evidence: `read at ${baseId} by export --record-pre-images` };
    copies.set(path, git(repo, ['cat-file', 'blob', blob], { buffer: true }));
  }
  // The kept patches of other layouts keep the pre-images they were made from.
  for (const file of kept.flatMap(({ parsed }) => parsed.files)) {
    if (file.kind === 'created' || file.path in files || !previous[file.path]) continue;
    files[file.path] = previous[file.path];
  }
  const next = { ...(upstream ?? {}), releaseLine: line, allowedPaths: allowedPathsOf(upstream, target), files };
  wanted.set(UPSTREAM_FILE, Buffer.from(formatUpstream(next)));
}

/** What would change: `{ path, action: 'add' | 'update' | 'remove' }`, sorted by path. */
function compareFolder(dir, wanted, recordPreImages) {
  const managed = new Set([ORDER_FILE, ...patchFilesIn(dir)]);
  if (recordPreImages) {
    managed.add(UPSTREAM_FILE);
    for (const path of walkFiles(join(dir, PRE_IMAGES_DIR))) managed.add(`${PRE_IMAGES_DIR}/${path}`);
  }
  const changes = [];
  for (const [path, bytes] of wanted) {
    const file = join(dir, path);
    if (!existsSync(file)) changes.push({ path, action: 'add' });
    else if (!readFileSync(file).equals(bytes)) changes.push({ path, action: 'update' });
  }
  for (const path of managed)
    if (existsSync(join(dir, path)) && !wanted.has(path)) changes.push({ path, action: 'remove' });
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** --pre-images-out: the recorded pre-images, laid out like the Rocket.Chat repository. */
function writeCopies(out, copies) {
  for (const [path, bytes] of copies) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), bytes);
  }
  if (copies.size > 0) console.log(`wrote ${count(copies.size, 'pre-image')} to ${out}`);
}

function reportStale(dir, changes) {
  if (changes.length === 0) {
    console.log(`${dir} is up to date`);
    return 0;
  }
  console.error(`${dir} is stale; export would:`);
  for (const change of changes) console.error(`  ${change.action} ${change.path}`);
  return 1;
}

function writeFolder(dir, wanted, changes, patchCount) {
  for (const { path, action } of changes) {
    const file = join(dir, path);
    if (action === 'remove') {
      unlinkSync(file);
      pruneEmptyDirs(dirname(file), dir);
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, wanted.get(path));
    }
  }
  console.log(`exported ${count(patchCount, 'patch', 'patches')} to ${dir} (${count(changes.length, 'file')} changed)`);
  for (const change of changes) console.log(`  ${change.action} ${change.path}`);
  return 0;
}

function pruneEmptyDirs(dir, stop) {
  for (let current = dir; current !== stop && current.startsWith(stop); current = dirname(current)) {
    if (readdirSync(current).length > 0) return;
    rmdirSync(current);
  }
}
