#!/usr/bin/env node
// Proves the recorded definition pre-images of a line against the published Apps-Engine package:
// each `packages/apps-engine/src/definition/**` file recorded in upstream.json, read from a
// pre-images folder (outside the repository), is compiled as the package is (TypeScript from
// examples/, ES2018, CommonJS, declaration, sourceMap) and its .js, .js.map and .d.ts compared
// byte for byte with the package's. Exit 0 when every file matches.
//
//   node scripts/patches/prove-definitions.mjs <pre-images dir> [--line 8.8] [--package <dir>]
//
// <dir> of the package defaults to examples/node_modules/@rocket.chat/apps-engine (npm --prefix
// examples ci), or unpack `npm pack @rocket.chat/apps-engine@<version>` and pass its package/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEFINITION_SRC = 'packages/apps-engine/src/definition/';

const { values, positionals } = parseArgs({
  options: { line: { type: 'string', default: '8.8' }, package: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error('usage: prove-definitions.mjs <pre-images dir> [--line X.Y] [--package <dir>]');
  process.exit(2);
}
const preImages = resolve(positionals[0]);
const pkg = resolve(values.package ?? join(REPO, 'examples/node_modules/@rocket.chat/apps-engine'));
const ts = createRequire(join(REPO, 'examples/package.json'))('typescript');
const upstream = JSON.parse(readFileSync(join(REPO, 'apps-engine-patches', values.line, 'upstream.json'), 'utf8'));
const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));

let failed = 0;
for (const path of Object.keys(upstream.files)
  .filter((p) => p.startsWith(DEFINITION_SRC))
  .sort()) {
  const rel = path.slice(DEFINITION_SRC.length);
  const scratch = mkdtempSync(join(tmpdir(), 'rc-e2ee-prove-'));
  try {
    const source = join(scratch, 'src/definition', rel);
    mkdirSync(dirname(source), { recursive: true });
    writeFileSync(source, readFileSync(join(preImages, path)));
    ts.createProgram([source], {
      target: ts.ScriptTarget.ES2018,
      module: ts.ModuleKind.CommonJS,
      declaration: true,
      sourceMap: true,
      rootDir: join(scratch, 'src'),
      outDir: scratch,
      noResolve: true,
      noEmitOnError: false,
      skipLibCheck: true,
      types: [],
    }).emit();
    const base = rel.replace(/\.ts$/, '');
    const results = ['.js', '.js.map', '.d.ts'].map((ext) => {
      const mine = join(scratch, 'definition', base + ext);
      const same = existsSync(mine) && readFileSync(mine).equals(readFileSync(join(pkg, 'definition', base + ext)));
      return `${ext} ${same ? 'equal' : 'DIFFERENT'}`;
    });
    const ok = results.every((r) => r.endsWith('equal'));
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${rel}: ${results.join(', ')} (against ${version})`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
process.exit(failed === 0 ? 0 : 1);
