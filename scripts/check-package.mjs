// The package as a consumer gets it: `npm pack` in native/ (after the build), the tarball
// installed into a fresh project outside the repository, and three checks against what was
// installed, never against the repository's own files:
//   1. the tarball holds exactly package.json, dist/ (one .js and one .d.ts per native/lib/*.ts),
//      binding.js, binding.d.ts and the .node addon (a README or LICENSE may join them);
//   2. tests/typings/consumer.ts compiles with `strict: true` and `skipLibCheck: false`;
//   3. the README's TypeScript examples run, each with the variables it assumes set up here
//      (users, rooms, messages made with the package itself), a KEK and a file:// key store in
//      the temporary folder.
// It also says which generated binding declarations the public types pull in. Dependencies come
// from the npm registry or npm's cache (ejson); nothing is written inside the repository.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const root = join(import.meta.dirname, '..');
const native = join(root, 'native');
const keep = process.argv.includes('--keep');
const tmp = mkdtempSync(join(tmpdir(), 'rc-e2ee-consumer-'));
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`check-package: ${message}`);
};

try {
  // 1. npm pack, and what the tarball holds.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: native, encoding: 'utf8' }),
  )[0];
  const tarball = join(tmp, packed.filename);
  const files = packed.files.map((file) => file.path).sort();
  // Every module of the facade, sub-folders (the host service in lib/host) included.
  const modules = readdirSync(join(native, 'lib'), { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => name.slice(0, -'.ts'.length));
  const expected = new Set([
    'package.json',
    'binding.js',
    'binding.d.ts',
    ...modules.flatMap((name) => [`dist/${name}.js`, `dist/${name}.d.ts`]),
  ]);
  const optional = (path) => /^(README|LICENSE)(\.md)?$/i.test(path) || /^[^/]+\.node$/.test(path);
  for (const path of files) {
    if (!expected.has(path) && !optional(path)) fail(`the tarball holds ${path}, which it should not`);
  }
  for (const path of expected) if (!files.includes(path)) fail(`the tarball lacks ${path}`);
  const addons = files.filter((path) => path.endsWith('.node'));
  if (addons.length !== 1) fail(`the tarball holds ${addons.length} .node addons, not one`);
  console.log(`check-package: ${packed.filename}, ${files.length} files, ${(packed.size / 1e6).toFixed(1)} MB packed`);

  // A fresh project with the tarball installed, as a host would do it.
  const project = join(tmp, 'host');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host', private: true }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', tarball], {
    cwd: project,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const hostRequire = createRequire(join(project, 'package.json'));
  const installed = hostRequire.resolve('rc-e2ee');
  if (!installed.startsWith(project + sep)) fail(`rc-e2ee resolves to ${installed}, outside the host project`);

  // 2. A strict consumer compiles against the installed declarations.
  copyFileSync(join(root, 'tests', 'typings', 'consumer.ts'), join(project, 'consumer.ts'));
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'commonjs',
      moduleResolution: 'node',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      // The consumer's own @types/node; the repository's copy stands in for it.
      typeRoots: [join(root, 'node_modules', '@types')],
      types: ['node'],
    },
    files: ['consumer.ts'],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  let listed = '';
  try {
    listed = execFileSync(process.execPath, [tsc, '-p', project, '--listFilesOnly'], { encoding: 'utf8' });
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    console.log('check-package: consumer.ts compiles (strict, skipLibCheck false) against the installed package');
  } catch (error) {
    fail(`consumer.ts does not compile against the installed package:\n${error.stdout ?? error}`);
  }
  const packageDir = join(project, 'node_modules', 'rc-e2ee');
  const declarations = listed
    .split('\n')
    .filter((file) => file.startsWith(packageDir + sep))
    .map((file) => relative(packageDir, file));
  // The public types are the facade's own: the generated binding (raw handles, probes) stays
  // out of a consumer's program, and `exports` keeps its modules out of reach.
  if (declarations.includes('binding.d.ts')) {
    fail(`the public types reach the generated binding.d.ts (${declarations.join(', ')})`);
  }
  let reached = false;
  try {
    hostRequire.resolve('rc-e2ee/binding.js');
    reached = true;
  } catch {
    // ERR_PACKAGE_PATH_NOT_EXPORTED: as it should be.
  }
  if (reached) fail("rc-e2ee/binding.js can be required past the package's exports");

  // 3. The README's examples, against the installed package.
  await runReadmeExamples(hostRequire, project);
} catch (error) {
  fail(error.stack ?? String(error));
} finally {
  if (keep) console.log(`check-package: kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`check-package: FAILED (${failures.length})`);
  process.exit(1);
}
console.log('check-package: ok');

/**
 * Runs every ```ts block of the README in its own scope, with the variables it assumes. A block
 * is known by a call it makes; a block this check does not know fails, so a new example gets
 * its setup here. Store paths in the examples are moved into the temporary folder.
 */
async function runReadmeExamples(hostRequire, project) {
  const ts = createRequire(join(root, 'package.json'))('typescript');
  const e2ee = hostRequire('rc-e2ee');
  const keys = JSON.parse(readFileSync(join(root, 'tests', 'fixtures', 'rc-8.8', 'rc-client-keys.json'), 'utf8'));
  const alice = keys.users[0];

  const kekFile = join(project, 'kek');
  writeFileSync(kekFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const storeUrl = `file://${join(project, 'keystore.json')}`;
  const opened = [];
  const paths = (code) =>
    code
      .replaceAll("'file:///var/lib/rc-e2ee/keystore.json'", JSON.stringify(storeUrl))
      .replaceAll("'/run/secrets/rc-e2ee-kek'", JSON.stringify(kekFile));

  // One room, its key, and messages of members under it, made with the package.
  const roomKey = e2ee.RoomKey.generate();
  const roomId = 'GENERAL7xQ2mP9vLz';
  const room = { _id: roomId, e2eKeyId: roomKey.kid };
  const sent = (sender, msg) => ({
    _id: randomUUID(),
    rid: roomId,
    t: 'e2e',
    u: { _id: sender },
    content: e2ee.encryptContent(roomKey, { msg }),
  });
  const appId = randomUUID();
  const appUserId = 'app.bot.user.id01';

  const setups = [
    {
      name: 'the file:// key store',
      matches: (code) => code.includes('AppKeyStore.open') && !code.includes('acceptRoomKey'),
      context: async () => ({}),
      after: async () => {},
    },
    {
      name: 'the codec API',
      matches: (code) => code.includes('unwrapFromPassword'),
      context: async () => ({
        user: { _id: alice.userId, e2e: { private_key: alice.private_key_blob } },
        password: alice.passphrase,
        subscription: { E2EKey: e2ee.wrapRoomKey(roomKey, alice.public_key) },
        oldKeys: [],
        message: sent('bob', 'hello from bob'),
      }),
      result: 'return { payload, content };',
      after: async ({ payload, content }) => {
        if (payload.msg !== 'hello from bob') fail(`the codec example decrypted ${JSON.stringify(payload)}`);
        if (content.kid !== roomKey.kid) fail('the codec example encrypted under another kid');
      },
    },
    {
      name: 'the key store',
      matches: (code) => code.includes('acceptRoomKey'),
      context: async () => {
        // The app's identity exists before its key is suggested: the suggester wraps the room key
        // to the public key the app user published.
        const store = await e2ee.AppKeyStore.open({ url: storeUrl, kekFile });
        const publicKey = await store.ensureIdentity(appId, appUserId);
        await store.close();
        return {
          process: { env: { MONGO_URL: storeUrl } },
          appId,
          appUserId,
          roomId,
          adminUserId: 'admin7xQ2mP9vLzAa',
          room,
          suggesterUserId: 'alice',
          subscription: { E2ESuggestedKey: e2ee.wrapRoomKey(roomKey, publicKey), suggestedOldRoomKeys: [] },
          newestMessagesUnderKid: [sent('bob', 'first'), sent('dave', 'second')],
          senderId: 'carol',
          content: sent('carol', 'third').content,
          message: sent('bob', 'for the app'),
        };
      },
      result: 'return { store, kid, status, payload, reply };',
      after: async ({ store, kid, status, payload, reply }) => {
        if (kid !== roomKey.kid || status !== 'verified') fail(`the key store example accepted ${kid} as ${status}`);
        if (payload.msg !== 'for the app') fail(`the key store example decrypted ${JSON.stringify(payload)}`);
        if (reply.kid !== roomKey.kid) fail('the key store example encrypted under another kid');
        await store.close();
      },
    },
  ];

  // Every store an example opens is closed at the end.
  const open = e2ee.AppKeyStore.open;
  e2ee.AppKeyStore.open = async (...args) => {
    const store = await open.apply(e2ee.AppKeyStore, args);
    opened.push(store);
    return store;
  };
  try {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
    if (blocks.length === 0) fail('the README has no ```ts example');
    const ran = new Set();
    for (const block of blocks) {
      const setup = setups.find((candidate) => candidate.matches(block));
      if (setup === undefined) {
        fail(`a README example this check has no setup for:\n${block}`);
        continue;
      }
      const code = ts.transpileModule(paths(block), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      // What the README's prose imports once (`import { AppKeyStore } from 'rc-e2ee'`) is in scope.
      const context = { ...e2ee, ...(await setup.context()) };
      const names = ['require', 'exports', ...Object.keys(context)];
      const AsyncFunction = (async () => {}).constructor;
      const body = `{\n${code}\n${setup.result ?? ''}\n}`;
      try {
        const result = await new AsyncFunction(...names, body)(hostRequire, {}, ...Object.values(context));
        await setup.after(result ?? {});
        ran.add(setup.name);
        console.log(`check-package: the README example of ${setup.name} runs against the installed package`);
      } catch (error) {
        fail(`the README example of ${setup.name} fails: ${error.stack ?? error}`);
      }
    }
    for (const setup of setups) if (!ran.has(setup.name)) fail(`no README example of ${setup.name} ran`);
  } finally {
    e2ee.AppKeyStore.open = open;
    for (const store of opened) await store.close().catch(() => {});
  }
}
