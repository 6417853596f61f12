// `verify`: static checks of the series folders and overlays, no Rocket.Chat checkout needed.
// Collects every problem instead of stopping at the first, so one run gives the whole to-do list.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { applies, layoutsOf, missingAlternatives, patchCondition } from './layouts.mjs';
import { missingHeaderLabels, parsePatch } from './patchfile.mjs';
import {
  DEFAULT_ALLOWED_PATHS,
  ORDER_FILE,
  OVERLAY_DIR,
  PRE_IMAGES_DIR,
  TARGETS,
  UPSTREAM_FILE,
  ZERO_ID,
  allowedPathsOf,
  isAllowed,
  loadSeries,
  overlayDir,
  seriesFolder,
  upstreamProblems,
  walkFiles,
} from './series.mjs';
import { count } from './text.mjs';

// Files a series folder may hold besides patches. Never upstream copies: pre-images live outside
// the repository and reach check-apply as --pre-images <dir> or --checkout <dir>.
const SERIES_METADATA = new Set([ORDER_FILE, UPSTREAM_FILE, 'README.md']);

/**
 * Verifies one release line; returns `{ problems, summary }` (lists of strings). With a null
 * line (no series folders at all) only the overlays are checked, against default allowedPaths.
 */
export function verifyLine(root, line) {
  const problems = [];
  const summary = [];
  const created = new Map(); // path -> "series/patch" that creates it
  const recorded = new Map(); // upstream path -> series label
  const allowed = { ...DEFAULT_ALLOWED_PATHS };
  for (const target of line === null ? [] : TARGETS) {
    const series = loadSeries(root, target, line);
    allowed[target] = allowedPathsOf(series.upstream, target);
    if (!series.exists) {
      summary.push(`${series.label}: absent`);
      continue;
    }
    const report = (message) => problems.push(`${series.label}: ${message}`);
    const counts = verifySeries(series, report, created, recorded);
    const layouts = counts.layouts > 1 ? `, ${counts.layouts} layouts` : '';
    summary.push(
      `${series.label}: ${count(counts.patches, 'patch', 'patches')}, ${count(counts.files, 'recorded pre-image')}${layouts}`,
    );
  }
  const overlayCount = verifyOverlays(root, allowed, created, recorded, (message) => problems.push(message));
  summary.push(`overlays: ${count(overlayCount, 'file')}`);
  return { problems, summary };
}

function verifySeries(series, report, created, recorded) {
  checkFolderContents(series, report);
  const upstream = series.upstream;
  if (upstream) for (const message of upstreamProblems(upstream, series.line)) report(`${UPSTREAM_FILE}: ${message}`);
  else if (series.names.length > 0)
    report(`${UPSTREAM_FILE} is missing (every modified upstream file needs a recorded pre-image)`);
  const allowedPaths = allowedPathsOf(upstream, series.target);
  const files = upstream?.files && typeof upstream.files === 'object' ? upstream.files : {};
  for (const path of Object.keys(files)) {
    recorded.set(path, series.label);
    if (!isAllowed(path, allowedPaths)) report(`${UPSTREAM_FILE}: ${path} is outside allowedPaths`);
  }
  const { touched, layouts } = checkPatches(series, files, allowedPaths, report, created);
  for (const path of Object.keys(files)) {
    if (!touched.has(path)) report(`${UPSTREAM_FILE}: ${path} is recorded but no patch modifies it`);
  }
  return { patches: series.names.length, files: Object.keys(files).length, layouts };
}

function checkFolderContents(series, report) {
  if (series.order === null) {
    if (series.patchFiles.length > 0) report(`${ORDER_FILE} is missing`);
    return;
  }
  const seen = new Set();
  for (const name of series.names) {
    if (seen.has(name)) report(`${ORDER_FILE} lists ${name} more than once`);
    seen.add(name);
    if (!/^[^/\\\s]+\.patch$/.test(name)) report(`${ORDER_FILE} has a malformed entry ${JSON.stringify(name)}`);
    else if (!series.patchFiles.includes(name)) report(`${ORDER_FILE} lists ${name}, which is missing from the folder`);
  }
  for (const name of series.patchFiles) {
    if (!seen.has(name)) report(`${name} is not listed in ${ORDER_FILE}`);
  }
  let copies = 0;
  for (const path of walkFiles(series.dir)) {
    if (path.endsWith('.patch') && !path.includes('/')) continue;
    if (SERIES_METADATA.has(path)) continue;
    if (path.split('/')[0] === PRE_IMAGES_DIR) {
      copies++;
      continue;
    }
    report(`unexpected file ${path} (a series folder holds ${ORDER_FILE}, ${UPSTREAM_FILE}, README.md and *.patch)`);
  }
  if (copies > 0) {
    report(
      `${PRE_IMAGES_DIR}/ holds ${count(copies, 'file')}: upstream copies do not belong in the repository; keep them outside and pass them to check-apply --pre-images <dir>`,
    );
  }
}

/**
 * Lints each listed patch and follows every file's blob id through the series: the first patch
 * touching a file must start from the recorded pre-image, each later one from the previous
 * patch's post-image. With "Applies when:" patches the chain is followed once per layout, over
 * the patches of that layout (lib/layouts.mjs). Returns the upstream paths the series modifies
 * and the number of layouts.
 */
function checkPatches(series, recordedFiles, allowedPaths, report, created) {
  const parsed = [];
  for (const name of series.names) {
    if (!series.patchFiles.includes(name)) continue;
    const text = readFileSync(join(series.dir, name), 'utf8');
    const where = (message) => report(`${name}: ${message}`);
    lintPatchText(text, where);
    const patch = parsePatch(text.replaceAll('\r', ''));
    for (const message of patch.problems) where(message);
    if (patch.fromId !== null) lintMessage(patch, where);
    const { condition, problems } = patchCondition(patch.messageLines);
    for (const message of problems) where(message);
    if (condition) checkConditionPath(condition.path, recordedFiles, allowedPaths, where);
    for (const file of patch.files) checkFilePaths(file, allowedPaths, where);
    parsed.push({ name, patch, condition, where });
  }
  for (const message of missingAlternatives(parsed)) report(message);
  const touched = new Set();
  const said = new Set(); // a chain problem shared by several layouts is reported once
  const layouts = layoutsOf(parsed.map(({ condition }) => condition));
  for (const layout of layouts) {
    const has = (path) => layout.present.get(path) !== false;
    const current = new Map(
      Object.entries(recordedFiles)
        .filter(([path]) => has(path))
        .map(([path, entry]) => [path, { blob: entry?.blob, by: 'the recorded pre-image' }]),
    );
    for (const { name, patch, condition, where } of parsed) {
      if (!applies(condition, (path) => layout.present.get(path))) continue;
      const once = (message) => {
        if (!said.has(`${name}\0${message}`)) where(message);
        said.add(`${name}\0${message}`);
      };
      for (const file of patch.files) {
        if (file.kind !== 'created' && file.path in recordedFiles && !has(file.path)) {
          once(`modifies ${file.path}, which the layout where ${layout.label} does not have`);
          continue;
        }
        followBlob(file, `${series.label}/${name}`, current, recordedFiles, touched, created, once);
      }
    }
  }
  return { touched, layouts: layouts.length };
}

// check-apply builds the layout where the path exists from the recorded pre-images.
function checkConditionPath(path, recordedFiles, allowedPaths, where) {
  if (!isAllowed(path, allowedPaths))
    where(`"Applies when:" names ${path}, outside allowedPaths (${allowedPaths.join(', ')})`);
  if (!(path in recordedFiles))
    where(
      `"Applies when:" names ${path}, which ${UPSTREAM_FILE} does not record (check-apply builds each layout from the pre-images)`,
    );
}

function lintPatchText(text, where) {
  const lines = text.split('\n');
  const withCr = lines.findIndex((line) => line.includes('\r'));
  if (withCr !== -1) where(`line ${withCr + 1}: CR / CRLF line ending (patches must be LF only)`);
  if (text !== '' && !text.endsWith('\n')) where('does not end with a newline');
}

function lintMessage(patch, where) {
  if (patch.fromId !== ZERO_ID) where('From line carries a commit id (export with --zero-commit)');
  if (patch.mails !== 1) where(`holds ${patch.mails} mails; one patch file must hold exactly one commit`);
  for (const label of missingHeaderLabels(patch.messageLines)) {
    where(`message lacks the "${label}" header line (needs Why:, Upstream:, Remove when:)`);
  }
  for (const { number, text } of [...patch.headerLines, ...patch.messageLines]) {
    if (/[ \t]$/.test(text)) where(`line ${number}: trailing whitespace in the message`);
  }
}

function checkFilePaths(file, allowedPaths, where) {
  for (const path of new Set([file.oldPath, file.newPath])) {
    if (!isAllowed(path, allowedPaths)) where(`touches ${path}, outside allowedPaths (${allowedPaths.join(', ')})`);
  }
  if (file.kind === 'renamed' || file.kind === 'copied') {
    where(
      `${file.kind} ${file.oldPath} -> ${file.newPath}; export with --no-renames so every pre-image is a plain blob`,
    );
  }
  if (file.oldBlob !== null && (file.oldBlob.length !== 40 || file.newBlob.length !== 40)) {
    where(`index line of ${file.path} has abbreviated ids (export with --full-index)`);
  }
  for (const { number, text } of file.addedLines) {
    if (/[ \t]$/.test(text)) where(`line ${number}: trailing whitespace on an added line in ${file.path}`);
  }
}

function followBlob(file, patchLabel, current, recordedFiles, touched, created, where) {
  const path = file.path;
  if (file.kind === 'created') {
    const existing = current.get(path);
    if (existing) where(`creates ${path}, which already exists (${existing.by})`);
    current.set(path, { blob: file.newBlob, by: `the post-image of ${patchLabel}` });
    if (!(path in recordedFiles)) created.set(path, patchLabel);
    return;
  }
  const state = current.get(path);
  if (!state) {
    where(`modifies ${path} but ${UPSTREAM_FILE} has no pre-image recorded for it`);
    return;
  }
  if (path in recordedFiles) touched.add(path);
  if (file.oldBlob === null) return; // mode-only change: no content ids to compare
  if (file.oldBlob !== state.blob) {
    where(`index line says ${path} starts from blob ${file.oldBlob}, expected ${state.blob} (${state.by})`);
  }
  if (file.kind === 'deleted') current.delete(path);
  else current.set(path, { blob: file.newBlob, by: `the post-image of ${patchLabel}` });
}

/**
 * Overlay files are copied into the checkout without overwriting, so they must not collide with
 * each other, with files the patches create or with upstream files the series know of.
 */
function verifyOverlays(root, allowed, created, recorded, report) {
  const owners = new Map();
  let count = 0;
  for (const target of TARGETS) {
    const label = `${seriesFolder(target)}/${OVERLAY_DIR}`;
    for (const path of walkFiles(overlayDir(root, target))) {
      count++;
      const allowedPaths = allowed[target] ?? DEFAULT_ALLOWED_PATHS[target];
      if (!isAllowed(path, allowedPaths))
        report(`${label}: ${path} is outside allowedPaths (${allowedPaths.join(', ')})`);
      if (owners.has(path)) report(`${label}: ${path} is also in ${owners.get(path)}`);
      owners.set(path, label);
      if (created.has(path)) report(`${label}: ${path} is also created by ${created.get(path)}`);
      if (recorded.has(path))
        report(`${label}: ${path} is an upstream file recorded in ${recorded.get(path)}; patch it instead`);
    }
  }
  return count;
}
