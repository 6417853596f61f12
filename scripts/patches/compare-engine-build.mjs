#!/usr/bin/env node
// Compares the recorded packages/apps pre-images with the last npm build of
// @rocket.chat/apps-engine that still shipped the engine's code (1.62.0: server/, deno-runtime/),
// the evidence upstream.json cites for them.
//
//   npm pack @rocket.chat/apps-engine@1.62.0 && tar xzf rocket.chat-apps-engine-1.62.0.tgz
//   node scripts/patches/compare-engine-build.mjs <pre-images dir> <unpacked package dir>
//
// Each recorded packages/apps/src/server/<path>.ts is compiled as src/server/<path>.ts (TypeScript
// from examples/, CommonJS, declaration, source map, ES2018) in a temp dir, its
// '@rocket.chat/apps-engine/definition/...' specifiers mapped to the package's relative ones, and
// its .js, .d.ts and .js.map compared with the package's server/<path>.*; deno-runtime sources,
// which the package ships as they are, are compared as text with the ".ts" the package's import
// specifiers carried removed. Prints one line per file; writes nothing outside the temp dir.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = 'packages/apps/src/server/';
const DENO = 'packages/apps/deno-runtime/';

export function compareEngineBuild(preImages, pkg) {
  const ts = createRequire(join(REPO, 'examples/package.json'))('typescript');
  const recorded = Object.keys(
    JSON.parse(readFileSync(join(REPO, 'apps-engine-patches/8.8/upstream.json'), 'utf8')).files,
  );
  const lines = [];
  const server = recorded.filter((path) => path.startsWith(SERVER)).map((path) => path.slice(SERVER.length));
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-engine-build-'));
  try {
    const sources = server.map((rel) => {
      const to = join(dir, 'src/server', rel);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(preImages, SERVER, rel), to);
      return to;
    });
    const options = {
      target: ts.ScriptTarget.ES2018,
      module: ts.ModuleKind.CommonJS,
      declaration: true,
      sourceMap: true,
      rootDir: join(dir, 'src'),
      outDir: dir,
      noResolve: true,
      noEmitOnError: false,
      skipLibCheck: true,
      experimentalDecorators: true,
      types: [],
    };
    ts.createProgram(sources, options).emit();
    for (const rel of server) {
      const up = '../'.repeat(rel.split('/').length);
      const relative = (text) =>
        text
          .replace(/@rocket\.chat\/apps-engine\/definition(?=[/'"])/g, `${up}definition`)
          .replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
      const same = (ext) => {
        const theirs = join(pkg, 'server', rel.replace(/\.ts$/, ext));
        if (!existsSync(theirs)) return 'absent';
        const mine = relative(readFileSync(join(dir, 'server', rel.replace(/\.ts$/, ext)), 'utf8'));
        return mine === relative(readFileSync(theirs, 'utf8')) ? 'equal' : 'differs';
      };
      lines.push(`${SERVER}${rel}: .js ${same('.js')}, .d.ts ${same('.d.ts')}, .js.map ${same('.js.map')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const path of recorded.filter((each) => each.startsWith(DENO))) {
    const theirs = join(pkg, 'deno-runtime', path.slice(DENO.length));
    if (!existsSync(theirs)) {
      lines.push(`${path}: absent from the package`);
      continue;
    }
    const published = readFileSync(theirs, 'utf8');
    const stripped = published.replace(/('@rocket\.chat\/apps-engine\/[^']*)\.ts'/g, "$1'");
    const mine = readFileSync(join(preImages, path), 'utf8');
    const specifiers = (published.match(/'@rocket\.chat\/apps-engine\/[^']*\.ts'/g) ?? []).length;
    if (mine === published) lines.push(`${path}: equal`);
    else if (mine === stripped)
      lines.push(`${path}: equal but for the ".ts" of ${specifiers} @rocket.chat/apps-engine specifiers`);
    else lines.push(`${path}: differs`);
  }
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [preImages, pkg] = process.argv.slice(2);
  if (!preImages || !pkg) {
    console.error(
      'usage: node scripts/patches/compare-engine-build.mjs <pre-images dir> <unpacked @rocket.chat/apps-engine@1.62.0 package dir>',
    );
    process.exitCode = 2;
  } else {
    for (const line of compareEngineBuild(resolve(preImages), resolve(pkg))) console.log(line);
  }
}
