#!/usr/bin/env node
// rc-e2ee benchmark: the addon against Node's own crypto, same inputs, same process, same run.
// Implementations of one operation run interleaved round by round, so machine noise hits both;
// the table shows the median round and the ratio Node time / addon time (above 1 = faster).
// This is a benchmark, not a test: nothing here asserts a speed.
import {
  createDecipheriv,
  createCipheriv,
  createPrivateKey,
  generateKeyPair,
  pbkdf2,
  privateDecrypt,
  randomBytes,
} from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { hostReadPath } from './bench-host.mjs';

/** The benched app's Apps-Engine id (a UUID, as in app.json). */
const BENCH_APP = '9e3b7c4a-5d6f-4a8b-8c1d-2e3f4a5b6c7d';

const require = createRequire(import.meta.url);
const e2ee = require('../native');
const EJSON = require('ejson');

const pbkdf2Async = promisify(pbkdf2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 150);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Calls `fn` (sync or async) enough times to fill about ROUND_MS; returns ns per call. */
async function sample(fn, iterations) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const result = fn();
    if (result && typeof result.then === 'function') await result;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

async function calibrate(fn) {
  let iterations = 1;
  for (;;) {
    const ns = await sample(fn, iterations);
    if (ns * iterations > (ROUND_MS * 1e6) / 4 || iterations >= 1 << 22)
      return Math.max(1, Math.round((ROUND_MS * 1e6) / ns));
    iterations *= 4;
  }
}

/** Runs the named implementations interleaved; returns median ns per call for each. */
async function compare(cases, { perCall = 1 } = {}) {
  const plan = [];
  for (const [name, fn] of Object.entries(cases)) plan.push([name, fn, await calibrate(fn)]);
  const samples = Object.fromEntries(plan.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn, iterations] of plan) samples[name].push((await sample(fn, iterations)) / perCall);
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

/** Slow one-shot operations (keygen): many single samples, interleaved. */
async function compareShots(cases, shots) {
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let i = 0; i < shots; i++) {
    for (const [name, fn] of Object.entries(cases)) samples[name].push(await sample(fn, 1));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

const rows = [];
function report(operation, result, addon, node) {
  const format = (ns) =>
    ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
  rows.push([operation, format(result[addon]), format(result[node]), `${(result[node] / result[addon]).toFixed(2)}×`]);
  console.error(`  ${operation}: addon ${format(result[addon])}, node ${format(result[node])}`);
}

// --- Fixtures: one room key known to both sides, a 200 B and a 64 KiB message --------------
const rawKey = randomBytes(32);
const roomKey = e2ee.RoomKey.fromJwk(
  { kty: 'oct', alg: 'A256GCM', k: rawKey.toString('base64url') },
  crypto.randomUUID(),
);
const payload = (size) => JSON.stringify({ msg: 'x'.repeat(size - 10) });
const small = e2ee.encryptContent(roomKey, payload(200));
const large = e2ee.encryptContent(roomKey, payload(64 * 1024));

/** Node's path from the same envelope to the same string. */
function nodeDecrypt(content) {
  const iv = Buffer.from(content.iv, 'base64');
  const data = Buffer.from(content.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', rawKey, iv);
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
}

function nodeEncrypt(text) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rawKey, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: 'rc.v2.aes-sha2',
    kid: roomKey.kid,
    iv: iv.toString('base64'),
    ciphertext: body.toString('base64'),
  };
}

if (
  e2ee.decryptContent(roomKey, small) !== nodeDecrypt(small) ||
  e2ee.decryptContent(roomKey, nodeEncrypt(payload(200))) !== payload(200)
) {
  throw new Error('addon and Node disagree; refusing to benchmark');
}

console.error(`rc-e2ee bench: ${ROUNDS} interleaved rounds of ~${ROUND_MS} ms per implementation`);

report(
  'v2 decrypt 200 B → string',
  await compare({ addon: () => e2ee.decryptContent(roomKey, small), node: () => nodeDecrypt(small) }),
  'addon',
  'node',
);

// The path that matters: an app's decrypt through the key store (gates and key cached, the call
// counted for the audit, the payload parsed as EJSON), against what a host in plain Node would
// do per message: look the room's key up in a Map, decipher, parse the payload with EJSON.
const storeDir = mkdtempSync(join(tmpdir(), 'rc-e2ee-bench-'));
const store = await e2ee.AppKeyStore.open({
  url: `file://${join(storeDir, 'keystore.json')}`,
  kek: randomBytes(32).toString('base64'),
});
const appPublicKey = await store.ensureIdentity(BENCH_APP, 'bench-app.bot');
await store.authorize(BENCH_APP, 'bench-room', 'admin');
await store.acceptRoomKey(BENCH_APP, 'bench-room', e2ee.wrapRoomKey(roomKey, appPublicKey), {
  expectedKid: roomKey.kid,
  suggestedBy: 'member',
});
const storedMessage = { t: 'e2e', content: small };
const nodeKeys = new Map([['bench-room', rawKey]]);
/** The plain-Node host: the room's key from a Map, decipher, EJSON. */
const nodeRead = () => {
  if (!nodeKeys.has('bench-room')) throw new Error('no key');
  return EJSON.parse(nodeDecrypt(small));
};
if (
  (await store.decryptMessage(BENCH_APP, 'bench-room', storedMessage)).msg !== nodeRead().msg ||
  store.decryptMessageCached(BENCH_APP, 'bench-room', storedMessage)?.msg !== nodeRead().msg
) {
  throw new Error('key store and Node disagree; refusing to benchmark');
}
report(
  'app decrypt 200 B through the key store, from memory (sync)',
  await compare({
    addon: () => store.decryptMessageCached(BENCH_APP, 'bench-room', storedMessage),
    node: nodeRead,
  }),
  'addon',
  'node',
);
report(
  'app decrypt 200 B through the key store (awaited, both async)',
  await compare({
    addon: () => store.decryptMessage(BENCH_APP, 'bench-room', storedMessage),
    node: async () => nodeRead(),
  }),
  'addon',
  'node',
);
await store.close();
rmSync(storeDir, { recursive: true, force: true });

// The path an app's read takes on a Rocket.Chat server: the E2EE bridge's decrypt through the
// host service (permission, membership, authorization and key from memory, the key store's
// synchronous decrypt, the payload parsed) against the same work in plain Node, also awaited.
const host = await hostReadPath(roomKey, 'x'.repeat(180));
const hostContent = host.message.content;
const nodeHostRead = async () => {
  if (!nodeKeys.has('bench-room')) throw new Error('no key');
  return EJSON.parse(nodeDecrypt(hostContent));
};
if ((await host.read()).msg !== (await nodeHostRead()).msg)
  throw new Error('host and Node disagree; refusing to benchmark');
report(
  "an app's read through the host service, 200 B (bridge call → payload)",
  await compare({ addon: host.read, node: nodeHostRead }),
  'addon',
  'node',
);
await host.close();

const batch = Array.from({ length: 1000 }, () => e2ee.encryptContent(roomKey, payload(200)));
report(
  'v2 decrypt 200 B, batch of 1000 (per message)',
  await compare(
    {
      addon: () => e2ee.decryptContentBatch(roomKey, batch),
      node: () => {
        for (const content of batch) nodeDecrypt(content);
      },
    },
    { perCall: 1000 },
  ),
  'addon',
  'node',
);

report(
  'v2 decrypt 64 KiB → string',
  await compare({ addon: () => e2ee.decryptContent(roomKey, large), node: () => nodeDecrypt(large) }),
  'addon',
  'node',
);

// The event loop while one 8 MiB message is decrypted: the longest gap between two turns of a
// setImmediate ticker, rc-e2ee's decryptContentAsync against Node's createDecipheriv on the
// main thread (the only way plain Node can do it), interleaved round by round; median round.
const huge = await e2ee.encryptContentAsync(roomKey, payload(8 * 1024 * 1024));

/** The longest gap (ns) between turns of the event loop while `run` settles. */
async function worstGap(run) {
  let worst = 0;
  let last = process.hrtime.bigint();
  let ticking = true;
  const tick = () => {
    const now = process.hrtime.bigint();
    worst = Math.max(worst, Number(now - last));
    last = now;
    if (ticking) setImmediate(tick);
  };
  await new Promise((resolve) => setImmediate(resolve));
  last = process.hrtime.bigint();
  setImmediate(tick);
  await run();
  await new Promise((resolve) => setImmediate(resolve));
  ticking = false;
  return worst;
}

if ((await e2ee.decryptContentAsync(roomKey, huge)) !== nodeDecrypt(huge)) {
  throw new Error('addon and Node disagree on 8 MiB; refusing to benchmark');
}
const gaps = { addon: [], node: [] };
for (let round = 0; round < ROUNDS; round++) {
  gaps.addon.push(await worstGap(() => e2ee.decryptContentAsync(roomKey, huge)));
  gaps.node.push(await worstGap(async () => nodeDecrypt(huge)));
}
report(
  'worst event-loop gap while decrypting an 8 MiB message (addon: decryptContentAsync)',
  { addon: median(gaps.addon), node: median(gaps.node) },
  'addon',
  'node',
);

// The same message read by an app through the host service (`service.decryptMessage`: the
// bridge's checks, the key store's async decrypt, the payload parsed), against Node's decipher
// and EJSON.parse on the main thread; then a page of 64 messages of 128 KiB (8 MiB in all)
// through `service.decryptMessages`, against the same per message.
const hostHuge = await hostReadPath(roomKey, 'x'.repeat(180));
const nodeReadHuge = async () => EJSON.parse(nodeDecrypt(huge));
if ((await hostHuge.readContent(huge)).msg !== (await nodeReadHuge()).msg) {
  throw new Error('host and Node disagree on 8 MiB; refusing to benchmark');
}
const page = await Promise.all(
  Array.from({ length: 64 }, () => e2ee.encryptContentAsync(roomKey, payload(128 * 1024))),
);
const nodeReadPage = async () => page.map((content) => EJSON.parse(nodeDecrypt(content)));
const hostPage = await hostHuge.readContents(page);
const nodePage = await nodeReadPage();
if (hostPage.some((read, i) => read.msg !== nodePage[i].msg)) {
  throw new Error('host and Node disagree on the page; refusing to benchmark');
}
const hostGaps = { addon: [], node: [] };
const pageGaps = { addon: [], node: [] };
for (let round = 0; round < ROUNDS; round++) {
  hostGaps.addon.push(await worstGap(() => hostHuge.readContent(huge)));
  hostGaps.node.push(await worstGap(nodeReadHuge));
  pageGaps.addon.push(await worstGap(() => hostHuge.readContents(page)));
  pageGaps.node.push(await worstGap(nodeReadPage));
}
await hostHuge.close();
report(
  'worst event-loop gap while an app reads an 8 MiB message through the host service (addon: service.decryptMessage)',
  { addon: median(hostGaps.addon), node: median(hostGaps.node) },
  'addon',
  'node',
);
report(
  'worst event-loop gap while an app reads a page of 64 messages of 128 KiB through the host service (addon: service.decryptMessages)',
  { addon: median(pageGaps.addon), node: median(pageGaps.node) },
  'addon',
  'node',
);

// The same for a 32 MiB file: decryptFile (the input copied a slice per turn, the work on the
// thread pool, the result a Buffer over the addon's memory) against Node's AES-CTR decipher on
// the main thread.
const fileData = randomBytes(32 * 1024 * 1024);
const sealedFile = await e2ee.encryptFile(fileData);
const fileKey = Buffer.from(sealedFile.key.k, 'base64url');
const nodeDecryptFile = () => {
  const decipher = createDecipheriv('aes-256-ctr', fileKey, Buffer.from(sealedFile.iv, 'base64'));
  return Buffer.concat([decipher.update(sealedFile.ciphertext), decipher.final()]);
};
if (
  !(await e2ee.decryptFile(sealedFile.key, sealedFile.iv, sealedFile.ciphertext)).equals(fileData) ||
  !nodeDecryptFile().equals(fileData)
) {
  throw new Error('addon and Node disagree on the 32 MiB file; refusing to benchmark');
}
const fileGaps = { addon: [], node: [] };
for (let round = 0; round < ROUNDS; round++) {
  fileGaps.addon.push(await worstGap(() => e2ee.decryptFile(sealedFile.key, sealedFile.iv, sealedFile.ciphertext)));
  fileGaps.node.push(await worstGap(async () => nodeDecryptFile()));
}
report(
  'worst event-loop gap while decrypting a 32 MiB file (addon: decryptFile)',
  { addon: median(fileGaps.addon), node: median(fileGaps.node) },
  'addon',
  'node',
);

const text200 = payload(200);
report(
  'v2 encrypt 200 B (with IV)',
  await compare({ addon: () => e2ee.encryptContent(roomKey, text200), node: () => nodeEncrypt(text200) }),
  'addon',
  'node',
);

// --- RSA ------------------------------------------------------------------------------------
const member = await e2ee.RsaPrivateKey.generate();
const e2eKey = e2ee.wrapRoomKey(roomKey, member.publicKey());
// Node gets the same private key, parsed once, as the addon caches its parsed key.
const blob = await member.wrapWithPassword('bench password', 'bench-user');
const jwkFromBlob = await unwrapBlobWithNode(blob, 'bench password');
const nodeKey = createPrivateKey({ key: jwkFromBlob, format: 'jwk' });
const body = Buffer.from(e2eKey.slice(-344), 'base64');
report(
  'RSA-OAEP unwrap of a room key (awaited)',
  await compare({
    addon: () => e2ee.unwrapRoomKey(member, e2eKey),
    node: () => privateDecrypt({ key: nodeKey, oaepHash: 'sha256' }, body),
  }),
  'addon',
  'node',
);

// Room keys arrive in bursts (a key reset reaches every room member at once). The addon keeps
// the event loop free and uses every core; Node's privateDecrypt is synchronous, one at a time.
report(
  'RSA-OAEP unwrap, 8 in flight (per key)',
  await compare(
    {
      addon: () => Promise.all(Array.from({ length: 8 }, () => e2ee.unwrapRoomKey(member, e2eKey))),
      node: () => {
        for (let i = 0; i < 8; i++) privateDecrypt({ key: nodeKey, oaepHash: 'sha256' }, body);
      },
    },
    { perCall: 8 },
  ),
  'addon',
  'node',
);

// The same unwrap inside the key store, per custody: `loadRoomKeys` of one wrapped key (the
// app's private key opened once and cached; the call audited). Sealed and PKCS#11 `kek` custody
// unwrap in the addon; `rsa` custody sends every unwrap to the token (C_Decrypt). An unwrap
// happens once per room key (a join, a key reset, a restart), never per message. The tokens
// are scripts/test-hsm's (scripts/bench starts them); without them these rows are left out.
const tokens = process.env.RC_E2EE_SOFTHSM_MODULE && process.env.RC_E2EE_KRYOPTIC_MODULE;
const HISTORY = 16;
const custodies = [['sealed', { kek: randomBytes(32).toString('base64') }]];
if (tokens) {
  const token = { kind: 'pkcs11', tokenLabel: 'rc-e2ee-test', pinFile: process.env.RC_E2EE_HSM_PIN_FILE };
  const label = `bench-${process.pid}`;
  custodies.push(
    [
      'PKCS#11 kek, SoftHSM2',
      {
        custody: {
          ...token,
          mode: 'kek',
          module: process.env.RC_E2EE_SOFTHSM_MODULE,
          keyLabel: label,
          createKey: true,
        },
      },
    ],
    [
      'PKCS#11 rsa, kryoptic',
      { custody: { ...token, mode: 'rsa', module: process.env.RC_E2EE_KRYOPTIC_MODULE, keyLabel: label } },
    ],
  );
} else {
  console.error('  (no RC_E2EE_*_MODULE: PKCS#11 custody rows left out; scripts/bench starts the test tokens)');
}
for (const [name, custody] of custodies) {
  const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-bench-custody-'));
  const custodyStore = await e2ee.AppKeyStore.open({ url: `file://${join(dir, 'keystore.json')}`, ...custody });
  const publicKey = await custodyStore.ensureIdentity(BENCH_APP, 'bench-app.bot');
  await custodyStore.authorize(BENCH_APP, 'bench-room', 'admin');
  // A subscription with a key history: 16 wrapped keys per call, so the one audit write of
  // `loadRoomKeys` (a whole-file rewrite here) does not hide what each unwrap costs.
  const history = Array.from({ length: HISTORY - 1 }, (_, i) => {
    const old = e2ee.RoomKey.generate();
    return { e2eKeyId: old.kid, ts: i, E2EKey: e2ee.wrapRoomKey(old, publicKey) };
  });
  const subscription = { E2EKey: e2ee.wrapRoomKey(roomKey, publicKey), oldRoomKeys: history };
  const loaded = await custodyStore.loadRoomKeys(BENCH_APP, 'bench-room', subscription);
  if (loaded.unreadable !== 0 || loaded.kids.length !== HISTORY) {
    throw new Error(`${name}: the key store does not open its own room keys; refusing to benchmark`);
  }
  report(
    `RSA-OAEP unwrap of a room key in the key store (loadRoomKeys of ${HISTORY}, per key), ${name}`,
    await compare(
      {
        addon: () => custodyStore.loadRoomKeys(BENCH_APP, 'bench-room', subscription),
        node: () => {
          for (let i = 0; i < HISTORY; i++) privateDecrypt({ key: nodeKey, oaepHash: 'sha256' }, body);
        },
      },
      { perCall: HISTORY },
    ),
    'addon',
    'node',
  );
  await custodyStore.close();
  rmSync(dir, { recursive: true, force: true });
}

const generate = promisify(generateKeyPair);

report(
  'RSA-2048 key generation (median of 41)',
  await compareShots(
    {
      addon: () => e2ee.RsaPrivateKey.generate(),
      node: () => generate('rsa', { modulusLength: 2048, publicExponent: 65537 }),
    },
    41,
  ),
  'addon',
  'node',
);

// The addon's figure is a whole v2 private-key unwrap (PBKDF2 + AES-GCM + key import); Node's
// is PBKDF2 alone, so the comparison is conservative.
report(
  'PBKDF2-SHA256 100k (addon: whole password unwrap)',
  await compareShots(
    {
      addon: () => e2ee.RsaPrivateKey.unwrapFromPassword(blob, 'bench password', 'bench-user'),
      node: () =>
        pbkdf2Async('bench password', 'v2:bench-user:00000000-0000-4000-8000-000000000000', 100000, 32, 'sha256'),
    },
    21,
  ),
  'addon',
  'node',
);

/** Opens the addon's password blob with Node's crypto (to hand Node the same RSA key). */
async function unwrapBlobWithNode(text, password) {
  const { iv, ciphertext, salt, iterations } = JSON.parse(text);
  const key = await pbkdf2Async(Buffer.from(password, 'latin1'), Buffer.from(salt, 'latin1'), iterations, 32, 'sha256');
  const data = Buffer.from(ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
    'latin1',
  );
  return JSON.parse(plain);
}

const header = ['operation', 'rc-e2ee', 'Node crypto', 'Node / rc-e2ee'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(
  `\nNode ${process.version}, ${(await import('node:os')).cpus().length} CPUs (${(await import('node:os')).cpus()[0]?.model ?? 'unknown'})\n`,
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
