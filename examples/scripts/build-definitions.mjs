#!/usr/bin/env node
// Builds the Apps-Engine definitions an app of this repository compiles against: the published
// @rocket.chat/apps-engine@1.66.0 definitions (the 8.8 line), with every definition file the
// apps-engine series patches replaced by the published file with the series' hunks applied, and
// the series' new definition files (the overlay) added. No upstream source is needed: the hunks
// are matched tolerantly (scripts/patches/lib/hunks.mjs) on the published declaration (.d.ts) or,
// for a module whose declaration is only a type (AppPermissions), on its compiled .js, from which
// the declaration is then emitted again. The 8.8 pre-images compile to exactly these published
// files (apps-engine-patches/8.8/upstream.json), so this is the series' own change on 8.8.
//
//   node scripts/build-definitions.mjs <out dir>
//
// <out dir>/definition mirrors the package's definition/ folder; map
// "@rocket.chat/apps-engine/*" to "<out dir>/*" in tsconfig paths. Needs the examples'
// devDependencies installed (npm --prefix examples ci).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { applyHunks, diffHunks, fileHunks } from '../../scripts/patches/lib/hunks.mjs';

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

/** Emits the declaration of a (patched) compiled module again, as tsc does for the package. */
function declarationOfJs(jsText, name) {
  const require = createRequire(join(EXAMPLES, 'package.json'));
  const ts = require('typescript');
  const file = `/virtual/${name}.js`;
  const options = { allowJs: true, declaration: true, emitDeclarationOnly: true, noResolve: true, types: [], target: ts.ScriptTarget.ES2018 };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (path) => path === file || fileExists(path);
  host.readFile = (path) => (path === file ? jsText : readFile(path));
  host.getSourceFile = ((getSourceFile) => (path, version, ...rest) =>
    path === file ? ts.createSourceFile(path, jsText, version, true, ts.ScriptKind.JS) : getSourceFile(path, version, ...rest))(host.getSourceFile.bind(host));
  let out = null;
  host.writeFile = (path, text) => {
    if (path.endsWith('.d.ts')) out = text;
  };
  ts.createProgram([file], options, host).emit();
  if (out === null) throw new Error(`no declaration emitted for ${name}.js`);
  return out;
}

/**
 * The published declaration of a module patched in its .js: what the patch changed in the
 * declaration emitted from the .js (published vs patched), applied to the published declaration,
 * which keeps its own types (Array<IPermission>, ...) and doc comments.
 */
function declarationOfPatchedJs(published, rel, patchedJs) {
  const name = rel.split('/').pop();
  const before = declarationOfJs(readFileSync(join(published, `${rel}.js`), 'utf8'), name);
  const change = diffHunks(before, declarationOfJs(patchedJs, name), { context: 5 });
  const result = applyHunks(readFileSync(join(published, `${rel}.d.ts`), 'utf8'), change);
  if (result.text === undefined) throw hunkFailure(`${DEFINITION_SRC}/${rel}.ts`, `${rel}.d.ts (from the patched ${rel}.js)`, result.failed);
  return result.text;
}

/** The compiled module of a declaration that declares enums only as values (AppInterface, AppMethod); null otherwise. */
function enumModuleJs(declaration) {
  if (!/^export declare enum /m.test(declaration) || /^export declare (const|function|class|let|var) /m.test(declaration)) return null;
  const require = createRequire(join(EXAMPLES, 'package.json'));
  const ts = require('typescript');
  const source = declaration.replace(/^export declare enum /gm, 'export enum ');
  return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2018 } }).outputText;
}

function hunkFailure(path, target, failed) {
  const shown = failed
    .map(({ header, expected, closest }) => `  ${header}\n    expected:\n${expected.map((l) => `      |${l}`).join('\n')}\n    closest (line ${closest.line}):\n${closest.lines.map((l) => `      |${l}`).join('\n')}`)
    .join('\n');
  return new Error(`${path}: the series' hunks do not match the published ${target}:\n${shown}`);
}

/**
 * The series' patched definition files, applied to the published package: Map(relative path under
 * definition/ -> { kind: 'd.ts' | 'ts', text }). Later patches apply on the earlier ones' result.
 */
export function patchedPublishedDefinitions(root = REPO) {
  const series = join(root, 'apps-engine-patches', LINE);
  const published = join(publishedPackageDir(), 'definition');
  const out = new Map();
  const order = readFileSync(join(series, '.patches'), 'utf8').split('\n').filter(Boolean);
  for (const name of order) {
    for (const [path, { created, hunks }] of fileHunks(readFileSync(join(series, name), 'utf8'))) {
      if (!path.startsWith(`${DEFINITION_SRC}/`)) continue; // the engine's files are not part of the package
      const rel = path.slice(DEFINITION_SRC.length + 1).replace(/\.ts$/, '');
      if (created) throw new Error(`${name} creates ${path}; new definition files belong in the overlay`);
      const previous = out.get(rel);
      const declaration = previous?.kind === 'd.ts' ? previous.text : readFileSync(join(published, `${rel}.d.ts`), 'utf8');
      const onDeclaration = previous?.kind === 'js' ? { failed: [] } : applyHunks(declaration, hunks);
      if (onDeclaration.text !== undefined) {
        out.set(rel, { kind: 'd.ts', text: onDeclaration.text });
        continue;
      }
      const js = previous?.kind === 'js' ? previous.text : readFileSync(join(published, `${rel}.js`), 'utf8');
      const onJs = applyHunks(js, hunks);
      if (onJs.text === undefined) throw hunkFailure(path, `${rel}.d.ts or ${rel}.js`, previous ? onJs.failed : onDeclaration.failed);
      out.set(rel, { kind: 'js', text: onJs.text });
    }
  }
  return out;
}

export function buildDefinitions(outDir, { root = REPO } = {}) {
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  const published = join(publishedPackageDir(), 'definition');
  copyTree(published, join(out, 'definition'), (rel) => rel.endsWith('.d.ts'));
  for (const [rel, { kind, text }] of patchedPublishedDefinitions(root)) {
    writeFileSync(join(out, 'definition', `${rel}.d.ts`), kind === 'd.ts' ? text : declarationOfPatchedJs(published, rel, text));
    // Modules with run-time values get their patched .js beside the declaration.
    const js = kind === 'js' ? text : enumModuleJs(text);
    if (js !== null) writeFileSync(join(out, 'definition', `${rel}.js`), js);
  }
  // The series' new definition files, as sources.
  const overlay = join(root, 'apps-engine-patches', 'overlay', DEFINITION_SRC);
  copyTree(overlay, join(out, 'definition'), (rel) => rel.endsWith('.ts'));
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
