// Facts about a Rocket.Chat checkout that more than one command needs.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { PatchesError } from './errors.mjs';
import { tryGit } from './git.mjs';
import { availableLines } from './series.mjs';

const VERSION_FILE = 'apps/meteor/package.json';

/** "8.8" for a checkout whose apps/meteor/package.json says 8.8.1; null when unreadable. */
export function checkoutLine(repo) {
  const file = join(repo, VERSION_FILE);
  if (!existsSync(file)) return null;
  try {
    const match = /^(\d+)\.(\d+)\./.exec(JSON.parse(readFileSync(file, 'utf8')).version ?? '');
    return match ? `${match[1]}.${match[2]}` : null;
  } catch {
    return null;
  }
}

/**
 * The release line to work on. Without --line it is the checkout's own; with --line it must
 * match the checkout unless --force-line says the caller knows better (e.g. trying a series on
 * the next line before rebasing it). With `requireSeries`, a line without a series folder is
 * refused when other lines have one: applying nothing to 8.9 because only 8.8 exists would
 * otherwise pass silently.
 */
export function chooseLine(repo, root, { line, forceLine }, { requireSeries = true } = {}) {
  const own = checkoutLine(repo);
  if (line === undefined) {
    if (own === null) {
      throw new PatchesError(`cannot read the release line from ${VERSION_FILE} in ${repo}; pass --line`);
    }
    line = own;
  } else if (own !== line && !forceLine) {
    const found = own === null ? `no readable version in ${VERSION_FILE}` : `line ${own}`;
    throw new PatchesError(`${repo} is ${found}, not ${line}; use --force-line to go ahead anyway`);
  }
  const lines = availableLines(root);
  if (requireSeries && lines.length > 0 && !lines.includes(line)) {
    throw new PatchesError(
      `no patch series for line ${line} (available: ${lines.join(', ')}); make one by rebasing (see scripts/patches/README.md)`,
    );
  }
  return line;
}

/** Refuses to work on a checkout with local changes or a git operation in progress. */
export function assertClean(repo) {
  for (const name of ['rebase-apply', 'rebase-merge', 'MERGE_HEAD', 'CHERRY_PICK_HEAD']) {
    const path = tryGit(repo, ['rev-parse', '--git-path', name]).stdout.trim();
    if (path && existsSync(resolve(repo, path))) {
      throw new PatchesError(`${repo} has a git operation in progress (${name}); finish or abort it first`);
    }
  }
  const status = tryGit(repo, ['status', '--porcelain=v1', '--untracked-files=normal']);
  if (!status.ok) throw new PatchesError(`git status failed in ${repo}: ${status.stderr.trim()}`);
  if (status.stdout.trim() !== '') {
    const shown = status.stdout.trimEnd().split('\n').slice(0, 10).join('\n  ');
    throw new PatchesError(`${repo} has local changes; apply needs a clean work tree:\n  ${shown}`);
  }
}
