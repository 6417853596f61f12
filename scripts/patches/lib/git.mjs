// Thin wrapper over the git binary. Every call goes through here so that the environment is
// scrubbed the same way everywhere and failures carry git's own words.
import { execFileSync } from 'node:child_process';

import { PatchesError } from './errors.mjs';

// Variables a parent git process (a hook, `git rebase --exec`) may export; inherited, they would
// point our calls at the wrong repository.
const LEAKY_VARIABLES = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_PREFIX',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
];

function environment(extra) {
  const env = { ...process.env };
  for (const name of LEAKY_VARIABLES) delete env[name];
  // Messages are parsed (conflict lists), so they must not be translated.
  env.LC_ALL = 'C';
  env.LANGUAGE = 'C';
  return { ...env, ...extra };
}

/**
 * Runs git and returns its stdout (a string, or a Buffer with `{ buffer: true }` where bytes must
 * survive untouched, e.g. patch text). Throws a GitFailure on a non-zero exit.
 */
export function git(cwd, args, { input, env, buffer = false } = {}) {
  try {
    return execFileSync('git', args, {
      cwd,
      input,
      env: environment(env),
      encoding: buffer ? 'buffer' : 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    if (error.code === 'ENOENT') throw new PatchesError('git is not installed or not on PATH');
    throw new GitFailure(args, error);
  }
}

/** Like git() but reports failure as a value: `{ ok, status, stdout, stderr }` (strings). */
export function tryGit(cwd, args, options = {}) {
  try {
    return { ok: true, status: 0, stdout: git(cwd, args, options).toString(), stderr: '' };
  } catch (error) {
    if (!(error instanceof GitFailure)) throw error;
    return { ok: false, status: error.status, stdout: error.stdout, stderr: error.stderr };
  }
}

export class GitFailure extends PatchesError {
  constructor(args, cause) {
    const stderr = (cause.stderr ?? '').toString();
    super(`git ${args.join(' ')} failed (exit ${cause.status}): ${stderr.trim() || cause.message}`);
    this.status = cause.status;
    this.stdout = (cause.stdout ?? '').toString();
    this.stderr = stderr;
  }
}

/** The top-level directory of the work tree containing `dir`, or a clear error. */
export function topLevel(dir) {
  const result = tryGit(dir, ['rev-parse', '--show-toplevel']);
  if (!result.ok) throw new PatchesError(`${dir} is not inside a git work tree`);
  return result.stdout.trim();
}

/** Full object id of a commit-ish, or a clear error naming the ref. */
export function resolveCommit(repo, ref) {
  const result = tryGit(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!result.ok) throw new PatchesError(`${ref} is not a commit in ${repo}`);
  return result.stdout.trim();
}
