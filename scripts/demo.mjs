#!/usr/bin/env node
// The whole story of an app in a Rocket.Chat end-to-end-encrypted room, printed as who did what
// and who can read what: people's browsers (the package's codec, doing what Rocket.Chat's web
// client does), an in-memory stand-in for the server's collections, and the host service with
// the embedded key store, exactly as a Rocket.Chat server would run them.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MemoryRocketChat } from './demo-rocketchat.mjs';

const require = createRequire(import.meta.url);
const e2ee = require('../native');

let step = 0;
const say = (title) => console.log(`\n${++step}. ${title}`);
const line = (text) => console.log(`   ${text}`);
const refusal = async (promise) => {
  try {
    await promise;
    return 'allowed';
  } catch (error) {
    return `refused, ${error.code}`;
  }
};

console.log('rc-e2ee demo: an app as a real member of a Rocket.Chat end-to-end-encrypted room');

const rc = new MemoryRocketChat();
const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-demo-'));
const storePath = join(dir, 'keystore.json');
// In production the KEK is a mounted secret (kekFile) and the store is Rocket.Chat's MongoDB.
const store = await e2ee.AppKeyStore.open({ url: `file://${storePath}`, kek: randomBytes(32).toString('base64') });
const service = new e2ee.E2EEHostService(store, rc.ports());
rc.service = service;

say('Alice, Bob and Mallory create their key pairs in their browsers (RSA-OAEP-2048, SHA-256)');
const alice = await rc.person('Alice');
const bob = await rc.person('Bob');
const mallory = await rc.person('Mallory');
line(`users.e2e.public_key of Alice, as stored: ${rc.users.get(alice.userId).e2e.public_key}`);
const blob = await bob.privateKey.wrapWithPassword('Grüße aus Köln', bob.userId);
line(`Bob's private key is stored wrapped with his E2E password (PBKDF2 100k + AES-GCM): ${blob}`);
line(
  `Bob's key opens on a new device with the password: ${(await e2ee.RsaPrivateKey.unwrapFromPassword(blob, 'Grüße aus Köln', bob.userId)).publicKey() === bob.privateKey.publicKey() ? 'same public key' : 'a different key'}`,
);
line(
  `Bob's key with a wrong password: ${await refusal(e2ee.RsaPrivateKey.unwrapFromPassword(blob, 'wrong', bob.userId))}`,
);

say('Alice creates the encrypted room "planning" with Bob and Mallory; her browser makes the room key');
rc.encryptedRoom('planning', alice, [bob, mallory]);
line(`rooms.e2eKeyId: ${rc.rooms.get('planning').e2eKeyId}`);
line(`waiting for the key: ${rc.waiting('planning').join(', ')}`);
await rc.provideKeys(alice, 'planning');
await rc.accept(bob, 'planning');
await rc.accept(mallory, 'planning');
line(
  `Alice's browser wrapped the key to each waiting member; Bob and Mallory accepted it. Waiting now: ${rc.waiting('planning').join(', ') || 'nobody'}`,
);

say('Alice writes; the server stores only ciphertext');
const hello = await rc.send(alice, 'planning', 'Hello team 👋 — the launch moves to Thursday.');
line(`stored message: ${JSON.stringify(hello)}`);
line(`Bob reads: ${rc.read(bob, hello._id)}`);

say('An admin installs demo-bot with the e2ee.read and e2ee.write permissions and enables it');
const bot = rc.installApp('demo-bot', ['e2ee.read', 'e2ee.write']);
const enabled = await service.enableApp(bot.appId);
line(`the app's identity was created in the key store, its private key sealed under the KEK (${store.kekId})`);
line(`users.e2e.public_key of ${bot.appUserId}: ${rc.users.get(bot.appUserId).e2e.public_key}`);
line(`rooms it waits in: ${enabled.queued.join(', ') || 'none yet (not authorized anywhere)'}`);

say('Alice, the room owner, authorizes demo-bot for "planning"; the bot joins');
await service.authorizeRoom(bot.appId, 'planning', alice.userId);
rc.join('planning', bot.appUserId);
line(`waiting for the key: ${rc.waiting('planning').join(', ')}`);
line(
  `demo-bot reads Alice's message: ${await refusal(service.decryptMessage(bot.appId, { roomId: 'planning', messageId: hello._id }))} (no key yet: the app knows where it stands)`,
);

say("Mallory's browser offers demo-bot a key of her own under the room's kid");
const planted = e2ee.RoomKey.fromJwk(
  { kty: 'oct', alg: 'A256GCM', k: randomBytes(32).toString('base64url') },
  alice.rooms.get('planning').kid,
);
const [plantedOutcome] = await rc.provideKeys(mallory, 'planning', planted);
line(
  `the host judged it by the room's messages from others: ${plantedOutcome.outcome}, ${plantedOutcome.code} (Alice's message does not open under it)`,
);
line(`demo-bot still waits for the key: ${rc.waiting('planning').includes(bot.appUserId) ? 'yes' : 'no'}`);

say("Bob's browser wraps the real room key to demo-bot, as to any waiting member");
const [delivered] = await rc.provideKeys(bob, 'planning');
line(
  `the host accepted it for the app user: ${delivered.outcome} (Alice's message opens under it), kid ${delivered.kid}`,
);
line(`events to the app: ${rc.events.map((event) => event.type).join(', ')}`);

say('demo-bot reads and answers, encrypted, through the E2EE bridge');
const read = await service.decryptMessage(bot.appId, { roomId: 'planning', messageId: hello._id });
line(`demo-bot reads: ${read.msg}`);
const replyId = await service.sendEncryptedMessage(bot.appId, 'planning', {
  msg: 'Noted: launch on Thursday. I moved the checklist.',
});
line(`stored reply: ${JSON.stringify(rc.messages.get(replyId))}`);
line(`Alice reads demo-bot's reply: ${rc.read(alice, replyId)}`);
line(`Bob reads demo-bot's reply: ${rc.read(bob, replyId)}`);

say('Alice resets the room key (Mallory left the team); demo-bot is told and gets the new key like anyone');
rc.subscriptions.delete(`planning\u0000${mallory.userId}`);
await rc.resetRoomKey(alice, 'planning');
line(`events to the app: ${rc.events.map((event) => event.type).join(', ')}`);
await rc.provideKeys(alice, 'planning');
await rc.accept(bob, 'planning');
const after = await rc.send(bob, 'planning', 'New key, same plan: Thursday 10:00.');
line(
  `demo-bot reads the old message: ${(await service.decryptMessage(bot.appId, { roomId: 'planning', messageId: hello._id })).msg}`,
);
line(
  `demo-bot reads the new message: ${(await service.decryptMessage(bot.appId, { roomId: 'planning', messageId: after._id })).msg}`,
);
line(`Mallory reads the new message with what she holds: ${rc.read(mallory, after._id)}`);
const history = await service.getKeyHistory(bot.appId, 'planning');
line(
  `demo-bot's key history (no key material): ${history.map((key) => `${key.kid}${key.current ? ' (current)' : ''}`).join(', ')}`,
);

say('Who can read what');
const stored = readFileSync(storePath, 'utf8');
const everything = rc.dump() + stored;
for (const text of ['launch moves to Thursday', 'I moved the checklist', 'Thursday 10:00']) {
  line(
    `"${text}": ${everything.includes(text) ? "FOUND in the server's data (a bug)" : 'in no server collection and not in the key store'}`,
  );
}
line(`a room key printed by the app's code shows no bytes: ${JSON.stringify(alice.rooms.get('planning'))}`);

say('Alice revokes demo-bot for "planning"');
await service.revokeRoom(bot.appId, 'planning', alice.userId);
line(
  `demo-bot reads: ${await refusal(service.decryptMessage(bot.appId, { roomId: 'planning', messageId: after._id }))}`,
);
line(`demo-bot sends: ${await refusal(service.sendEncryptedMessage(bot.appId, 'planning', { msg: 'still here?' }))}`);
line(
  `the app user's copies of the room keys: ${rc.subscriptions.get(`planning\u0000${bot.appUserId}`).E2EKey ? 'still there (a bug)' : 'unset'}; a room-key reset is recommended to the owners`,
);

say('The audit says who did what, never with content');
await store.flushAudit();
// `system` is the server acting on its own (creating the identity, judging a key), or, for a
// counted call refused at the gate, the calling app before its identity was read.
const actor = (record) => {
  if (record.actor !== 'system') return rc.nameOf(record.actor);
  return record.count && record.outcome !== 'ok' ? `${bot.name}, refused at the gate` : 'the server';
};
for (const record of (await store.audit({ appId: bot.appId })).reverse()) {
  line(
    `${record.action.padEnd(20)} by ${actor(record).padEnd(30)} ${record.outcome}${record.count ? ` ×${record.count}` : ''}${record.roomId ? ` in ${record.roomId}` : ''}`,
  );
}

await store.close();
rmSync(dir, { recursive: true, force: true });
console.log('\nDone.');
