#!/usr/bin/env node
// Builds the Apps-Engine definitions an app of this repository compiles against: the published
// @rocket.chat/apps-engine@1.66.0 definitions (the 8.8 line), with every definition file the
// apps-engine series patches replaced by its patched source (pre-image + patches, applied
// with git apply) and the series' new definition files (the overlay) added.
//
//   node scripts/build-definitions.mjs <out dir>
//
// <out dir>/definition mirrors the package's definition/ folder; map
// "@rocket.chat/apps-engine/*" to "<out dir>/*" in tsconfig paths. Needs git on PATH and the
// examples' devDependencies installed (npm --prefix examples ci).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(EXAMPLES, '..');
const LINE = '8.8';
const ENGINE_VERSION = '1.66.0';
const DEFINITION_SRC = 'packages/apps-engine/src/definition';

export function publishedPackageDir() {
  const require = createRequire(join(EXAMPLES, 'package.json'));
  let manifest;
  try {
    manifest = require.resolve('@rocket.chat/apps-engine/package.json');
  } catch {
    throw new Error('@rocket.chat/apps-engine is not installed in examples/: run npm --prefix examples ci');
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
  if (version !== ENGINE_VERSION) {
    throw new Error(`examples/ has @rocket.chat/apps-engine ${version}, the ${LINE} series needs ${ENGINE_VERSION}`);
  }
  return dirname(manifest);
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function copyTree(from, to, keep = () => true) {
  for (const file of walk(from)) {
    const rel = relative(from, file);
    if (!keep(rel)) continue;
    mkdirSync(dirname(join(to, rel)), { recursive: true });
    copyFileSync(file, join(to, rel));
  }
}

/** The patched and new definition sources of the series, as a folder laid out like the Rocket.Chat repo. */
export function patchedDefinitionSources(root = REPO) {
  const series = join(root, 'apps-engine-patches', LINE);
  const work = mkdtempSync(join(tmpdir(), 'rc-e2ee-definitions-'));
  copyTree(join(series, 'pre-images'), work);
  const order = readFileSync(join(series, '.patches'), 'utf8').split('\n').filter(Boolean);
  for (const name of order) {
    // Only the definition hunks matter here; the engine's files are not part of the package.
    execFileSync('git', ['apply', `--include=${DEFINITION_SRC}/*`, join(series, name)], { cwd: work, stdio: 'pipe' });
  }
  copyTree(join(root, 'apps-engine-patches', 'overlay', DEFINITION_SRC), join(work, DEFINITION_SRC));
  return { dir: join(work, DEFINITION_SRC), cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

export function buildDefinitions(outDir, { root = REPO } = {}) {
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  const published = join(publishedPackageDir(), 'definition');
  copyTree(published, join(out, 'definition'), (rel) => rel.endsWith('.d.ts'));
  const sources = patchedDefinitionSources(root);
  try {
    for (const file of walk(sources.dir)) {
      const rel = relative(sources.dir, file);
      if (!rel.endsWith('.ts')) continue;
      // A source file replaces the published declaration of the same module.
      rmSync(join(out, 'definition', rel.replace(/\.ts$/, '.d.ts')), { force: true });
      mkdirSync(dirname(join(out, 'definition', rel)), { recursive: true });
      copyFileSync(file, join(out, 'definition', rel));
    }
  } finally {
    sources.cleanup();
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: build-definitions.mjs <out dir>');
    process.exit(2);
  }
  try {
    console.log(`definitions: ${relative(process.cwd(), buildDefinitions(outDir)) || '.'}`);
  } catch (error) {
    console.error(`build-definitions: ${error.message}`);
    process.exit(1);
  }
}
