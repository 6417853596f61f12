/**
 * Runs upstream code as the 8.8 series leaves it: the recorded pre-images with the series'
 * patches applied (git apply, in a temp dir), loaded together with the real overlay files. Only
 * what the tests cannot run is replaced, and only at its module boundary: upstream modules that
 * are not recorded (BaseBridge, the permission manager, jsonrpc-lite, ...) are stubs given by the
 * test, keyed by their repository path or package name.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import * as ts from 'typescript';

const REPO = resolve(__dirname, '../../..');
export const SERIES = join(REPO, 'apps-engine-patches/8.8');
export const OVERLAY = join(REPO, 'apps-engine-patches/overlay');
// Where the recorded pre-images are; the one place to change when they move out of the series.
export const PRE_IMAGES = process.env.RC_E2EE_PRE_IMAGES ?? join(SERIES, 'pre-images');

export function seriesPatches(): string[] {
  return readFileSync(join(SERIES, '.patches'), 'utf8').split('\n').filter(Boolean);
}

/**
 * A temp tree holding the pre-images of `paths`, with every series patch applied to them (a patch
 * touching other files too is applied to these only). `patches` limits which patches; by default
 * all of them, which for alternative layouts means only those whose files are among `paths`.
 */
export function patchedTree(paths: string[], patches: string[] = seriesPatches()): string {
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-patched-'));
  for (const path of paths) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    copyFileSync(join(PRE_IMAGES, path), join(dir, path));
  }
  for (const name of patches) {
    const text = readFileSync(join(SERIES, name), 'utf8');
    const touched = [...text.matchAll(/^diff --git a\/(\S+) b\//gm)].map((match) => match[1]);
    const include = touched.filter((path) => paths.includes(path));
    if (include.length === 0) continue;
    execFileSync('git', ['apply', '--whitespace=nowarn', ...include.map((path) => `--include=${path}`), join(SERIES, name)], { cwd: dir, stdio: 'pipe' });
  }
  return dir;
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
