/**
 * Runs upstream code as the 8.8 series leaves it: the pre-images with the series' patches applied
 * (git apply, in a temp dir), loaded together with the real overlay files. Only what the tests
 * cannot run is replaced, and only at its module boundary: upstream modules that are not recorded
 * (BaseBridge, the permission manager, jsonrpc-lite, ...) are stubs given by the test, keyed by
 * their repository path or package name.
 *
 * The repository holds no upstream file. The pre-images come from the folder named by
 * RC_E2EE_PRE_IMAGES (laid out like the Rocket.Chat repository; apps-engine-patches/8.8/README.md
 * says how to rebuild it); when it is set it must exist and hold the recorded blobs, or the tests
 * fail. Without it (CI), the tests that need upstream code use stand-ins (support/standIns.ts)
 * or are skipped under a name that says what they need.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import * as ts from 'typescript';

const REPO = resolve(__dirname, '../../..');
export const SERIES = join(REPO, 'apps-engine-patches/8.8');
export const OVERLAY = join(REPO, 'apps-engine-patches/overlay');
// The pre-images folder, when one is promised (RC_E2EE_PRE_IMAGES); undefined otherwise.
export const PRE_IMAGES: string | undefined = process.env.RC_E2EE_PRE_IMAGES || undefined;
if (PRE_IMAGES !== undefined && !existsSync(PRE_IMAGES)) {
  throw new Error(
    `RC_E2EE_PRE_IMAGES=${PRE_IMAGES} does not exist; unset it or rebuild the folder (apps-engine-patches/8.8/README.md)`,
  );
}

/** Suffix for the names of tests that need the pre-images and are skipped without them. */
export const NEEDS_PRE_IMAGES =
  '(needs the 8.8 pre-images: RC_E2EE_PRE_IMAGES=<folder>, see apps-engine-patches/8.8/README.md)';

/** `it` when the pre-images are given, `it.skip` otherwise; the test's name says what it needs. */
export const withPreImages = (PRE_IMAGES ? it : it.skip) as jest.It;

/** The pre-images folder; throws when none is given (for code that only runs with it). */
export function preImages(): string {
  if (PRE_IMAGES === undefined) throw new Error(`no pre-images ${NEEDS_PRE_IMAGES}`);
  return PRE_IMAGES;
}

export function seriesPatches(): string[] {
  return readFileSync(join(SERIES, '.patches'), 'utf8').split('\n').filter(Boolean);
}

/**
 * A temp tree holding the pre-images of `paths` (or the text `base` gives for a path), with every
 * series patch applied to them (a patch touching other files too is applied to these only).
 * `patches` limits which patches; by default all of them, which for alternative layouts means
 * only those whose files are among `paths`.
 */
export function patchedTree(
  paths: string[],
  patches: string[] = seriesPatches(),
  base: Record<string, string> = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-patched-'));
  for (const path of paths) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    if (path in base) writeFileSync(join(dir, path), base[path]);
    else copyPreImage(path, join(dir, path));
  }
  for (const name of patches) {
    const text = readFileSync(join(SERIES, name), 'utf8');
    const touched = [...text.matchAll(/^diff --git a\/(\S+) b\//gm)].map((match) => match[1]);
    const include = touched.filter((path) => paths.includes(path));
    if (include.length === 0) continue;
    execFileSync(
      'git',
      ['apply', '--whitespace=nowarn', ...include.map((path) => `--include=${path}`), join(SERIES, name)],
      { cwd: dir, stdio: 'pipe' },
    );
  }
  return dir;
}

/** Copies a pre-image, refusing one that is not the blob upstream.json records for it. */
function copyPreImage(path: string, to: string): void {
  const from = join(preImages(), path);
  const bytes = readFileSync(from);
  const blob = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  const recorded = JSON.parse(readFileSync(join(SERIES, 'upstream.json'), 'utf8')).files[path]?.blob;
  if (blob !== recorded)
    throw new Error(
      `${from} is blob ${blob}, apps-engine-patches/8.8/upstream.json records ${recorded ?? 'nothing'} for ${path}`,
    );
  copyFileSync(from, to);
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

type Stubs = Record<string, unknown>;

/**
 * A module loader over repository-relative paths: a path is read from the first of `roots` that
 * has it (a patched tree, then the overlay), TypeScript is transpiled without type checks, and
 * each import is resolved to a stub, a Node built-in, or another file of the roots. An import
 * nothing provides is an error, so a patch that adds a dependency shows up here.
 */
export class PatchedLoader {
  private readonly cache = new Map<string, unknown>();

  constructor(
    private readonly roots: string[],
    private readonly stubs: Stubs,
  ) {}

  public load(path: string): any {
    const key = path.replace(/\.ts$/, '');
    if (key in this.stubs) return this.stubs[key];
    if (this.cache.has(key)) return this.cache.get(key);
    const file = this.locate(key);
    if (!file) throw new Error(`nothing provides ${path}`);
    const module = { exports: {} as Record<string, unknown> };
    this.cache.set(key, module.exports);
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: file,
    });
    const requireFrom = (specifier: string): unknown => this.require(specifier, key);
    new Function('exports', 'require', 'module', outputText)(module.exports, requireFrom, module);
    this.cache.set(key, module.exports);
    return module.exports;
  }

  private require(specifier: string, from: string): unknown {
    if (specifier in this.stubs) return this.stubs[specifier];
    if (specifier.startsWith('.')) return this.load(posix.normalize(posix.join(posix.dirname(from), specifier)));
    const bare = specifier.replace(/^node:/, '');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a loader: the patched code's own imports of Node built-ins
    if (builtinModules.includes(bare)) return require(bare);
    throw new Error(`nothing provides ${specifier} (imported by ${from})`);
  }

  private locate(key: string): string | undefined {
    for (const root of this.roots) {
      for (const candidate of [`${key}.ts`, `${key}/index.ts`]) {
        if (existsSync(join(root, candidate))) return join(root, candidate);
      }
    }
    return undefined;
  }
}

/** Every file under a folder, as repository-relative paths. */
export function filesUnder(root: string, folder: string): string[] {
  const out: string[] = [];
  const visit = (relative: string): void => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = posix.join(relative, entry.name);
      if (entry.isDirectory()) visit(path);
      else out.push(path);
    }
  };
  if (existsSync(join(root, folder))) visit(folder);
  return out.sort();
}
