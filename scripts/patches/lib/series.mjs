// Where the series live and how their metadata files are read and written: the `.patches` order
// file, `upstream.json` and the overlay / pre-image trees.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

import { PatchesError } from './errors.mjs';

/** Series in the order they are applied: engine definitions before the server that uses them. */
export const TARGETS = ['apps-engine', 'meteor'];

/**
 * allowedPaths used when a line has no upstream.json yet (a new series being exported). Once the
 * file exists its own list wins.
 */
export const DEFAULT_ALLOWED_PATHS = {
  'apps-engine': ['packages/apps-engine/', 'packages/apps/'],
  meteor: ['apps/meteor/', 'packages/models/', 'packages/i18n/'],
};

export const ORDER_FILE = '.patches';
export const UPSTREAM_FILE = 'upstream.json';
// The folder the series once held upstream copies in; the repository must not hold one any more.
export const PRE_IMAGES_DIR = 'pre-images';
export const OVERLAY_DIR = 'overlay';
export const ZERO_ID = '0'.repeat(40);

const LINE_PATTERN = /^\d+\.\d+$/;
const OBJECT_ID = /^[0-9a-f]{40}$/;

// Keys of one upstream.json files entry, in the order they are written.
const FILE_KEYS = ['commit', 'blob', 'reconstructed', 'status', 'evidence'];

// How far a recorded pre-image is shown to be the line's own file (upstream.json `status`).
export const FILE_STATUSES = ['proven', 'reconstructed', 'not proven'];

export function isLine(value) {
  return LINE_PATTERN.test(value);
}

export function assertTarget(target) {
  if (!TARGETS.includes(target)) {
    throw new PatchesError(`unknown target "${target}" (expected ${TARGETS.join(' or ')})`);
  }
}

export function seriesFolder(target) {
  return `${target}-patches`;
}

export function seriesDir(root, target, line) {
  return join(root, seriesFolder(target), line);
}

export function overlayDir(root, target) {
  return join(root, seriesFolder(target), OVERLAY_DIR);
}

/** Release lines that have a folder in at least one series, sorted numerically. */
export function availableLines(root) {
  const lines = new Set();
  for (const target of TARGETS) {
    const dir = join(root, seriesFolder(target));
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && isLine(entry.name)) lines.add(entry.name);
    }
  }
  return [...lines].sort(compareLines);
}

function compareLines(a, b) {
  const [aMajor, aMinor] = a.split('.').map(Number);
  const [bMajor, bMinor] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/**
 * Patch names from an order file, in order. Blank lines are ignored (a trailing newline is
 * normal); nothing else is interpreted, so a name with stray whitespace stays visible to verify.
 */
export function readOrderFile(dir) {
  const file = join(dir, ORDER_FILE);
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
}

export function formatOrderFile(names) {
  return names.map((name) => `${name}\n`).join('');
}

/** `.patch` files present in a series folder, sorted for stable messages. */
export function patchFilesIn(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.patch'))
    .map((entry) => entry.name)
    .sort();
}

/** Parsed upstream.json, or null when the series has none. Syntax errors are fatal. */
export function readUpstream(dir) {
  const file = join(dir, UPSTREAM_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PatchesError(`${file}: not valid JSON (${error.message})`);
  }
}

/** Schema problems of an upstream.json (empty when it is well-formed). */
export function upstreamProblems(upstream, line) {
  const problems = [];
  const known = new Set(['releaseLine', 'repository', 'allowedPaths', 'files', '$comment']);
  if (typeof upstream !== 'object' || upstream === null || Array.isArray(upstream)) {
    return ['must be a JSON object'];
  }
  for (const key of Object.keys(upstream)) {
    if (!known.has(key)) problems.push(`unknown key "${key}"`);
  }
  if (upstream.releaseLine !== line) {
    problems.push(`releaseLine is ${JSON.stringify(upstream.releaseLine)}, folder is ${line}`);
  }
  if (!isPathList(upstream.allowedPaths)) {
    problems.push('allowedPaths must be a non-empty list of relative folder paths ending in "/"');
  }
  if (typeof upstream.files !== 'object' || upstream.files === null || Array.isArray(upstream.files)) {
    problems.push('files must be an object mapping paths to { commit, blob }');
    return problems;
  }
  for (const [path, entry] of Object.entries(upstream.files)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`files["${path}"] must be an object { commit, blob, evidence }`);
      continue;
    }
    for (const key of Object.keys(entry)) {
      if (!FILE_KEYS.includes(key)) problems.push(`files["${path}"] has an unknown key "${key}"`);
    }
    if (!OBJECT_ID.test(entry.commit ?? '')) problems.push(`files["${path}"].commit is not a 40-hex commit id`);
    if (!OBJECT_ID.test(entry.blob ?? '')) problems.push(`files["${path}"].blob is not a 40-hex blob id`);
    if (typeof entry.evidence !== 'string' || entry.evidence.trim() === '') {
      problems.push(`files["${path}"].evidence is missing (one line: why this blob is the line's version of the file)`);
    }
    if ('reconstructed' in entry && typeof entry.reconstructed !== 'boolean')
      problems.push(`files["${path}"].reconstructed must be true or false`);
    if ('status' in entry && !FILE_STATUSES.includes(entry.status)) {
      problems.push(
        `files["${path}"].status must be one of ${FILE_STATUSES.map((status) => `"${status}"`).join(', ')}`,
      );
    } else if ('status' in entry && (entry.status === 'reconstructed') !== (entry.reconstructed === true)) {
      problems.push(`files["${path}"]: status "reconstructed" and reconstructed: true go together`);
    }
  }
  return problems;
}

function isPathList(value) {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((p) => typeof p === 'string' && p.endsWith('/') && !p.startsWith('/') && !p.split('/').includes('..'))
  );
}

/**
 * Canonical upstream.json text: fixed key order and sorted files, so re-recording the same
 * pre-images is byte-identical.
 */
export function formatUpstream(upstream) {
  const { releaseLine, allowedPaths, files, ...rest } = upstream;
  const sortedFiles = {};
  for (const path of Object.keys(files).sort()) {
    const entry = files[path];
    sortedFiles[path] = Object.fromEntries(
      FILE_KEYS.filter((key) => entry[key] !== undefined).map((key) => [key, entry[key]]),
    );
  }
  return `${JSON.stringify({ releaseLine, allowedPaths, ...rest, files: sortedFiles }, null, 2)}\n`;
}

export function allowedPathsOf(upstream, target) {
  return isPathList(upstream?.allowedPaths) ? upstream.allowedPaths : DEFAULT_ALLOWED_PATHS[target];
}

export function isAllowed(path, allowedPaths) {
  return allowedPaths.some((prefix) => path.startsWith(prefix));
}

/** Files under `dir`, as repository-style relative paths (forward slashes), sorted. */
export function walkFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  const visit = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  if (statSync(dir).isDirectory()) visit(dir);
  return out.sort();
}

/** The id `git hash-object --no-filters` gives these bytes (SHA-1 repositories, as Rocket.Chat's). */
export function blobId(bytes) {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * Everything known about one series of one line, for commands that only read: the folder, its
 * ordered patch names, their files and upstream.json. Missing folders read as empty series.
 */
export function loadSeries(root, target, line) {
  const dir = seriesDir(root, target, line);
  const exists = existsSync(dir);
  const order = exists ? readOrderFile(dir) : null;
  return {
    target,
    line,
    dir,
    exists,
    order,
    names: order ?? [],
    patchFiles: patchFilesIn(dir),
    upstream: exists ? readUpstream(dir) : null,
    label: `${seriesFolder(target)}/${line}`,
  };
}
