#!/usr/bin/env node
// A walk-through of Rocket.Chat's end-to-end encryption with rc-e2ee, printed step by step:
// two people and an app in one encrypted room, with exactly the strings Rocket.Chat stores.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** demo-bot's Apps-Engine app id (a UUID, as in its app.json). */
const APP_ID = 'a04c8d5b-6e7a-4b9c-9d2e-3f4a5b6c7d8e';

const require = createRequire(import.meta.url);
const e2ee = require('../native');

const short = (text, keep = 60) => (text.length > keep ? `${text.slice(0, keep)}… (${text.length} chars)` : text);
let step = 0;
const say = (title) => console.log(`\n${++step}. ${title}`);
const show = (label, value) =>
  console.log(`   ${label}: ${typeof value === 'string' ? short(value) : JSON.stringify(value)}`);

console.log('rc-e2ee demo: Rocket.Chat end-to-end encryption, from the server side');

say('Alice and Bob create their key pairs (RSA-OAEP-2048, SHA-256)');
const alice = await e2ee.RsaPrivateKey.generate();
const bob = await e2ee.RsaPrivateKey.generate();
show('users.e2e.public_key (Alice)', alice.publicKey());

say("Bob's private key is stored wrapped with his E2E password (PBKDF2 100k + AES-GCM)");
const bobBlob = await bob.wrapWithPassword('Grüße aus Köln', 'bob-user-id');
show('users.e2e.private_key (Bob)', bobBlob);
const bobLoggedIn = await e2ee.RsaPrivateKey.unwrapFromPassword(bobBlob, 'Grüße aus Köln', 'bob-user-id');
show('Bob opens it on a new device; same public key', bobLoggedIn.publicKey() === bob.publicKey());
try {
  await e2ee.RsaPrivateKey.unwrapFromPassword(bobBlob, 'wrong password', 'bob-user-id');
} catch (error) {
  show('a wrong password is refused', `${error.code}: ${error.message}`);
}

say('Alice creates the room key (AES-GCM-256) and wraps it for each member');
const roomKey = e2ee.RoomKey.generate();
show('rooms.e2eKeyId', roomKey.kid);
const aliceE2EKey = e2ee.wrapRoomKey(roomKey, alice.publicKey());
const bobE2EKey = e2ee.wrapRoomKey(roomKey, bobLoggedIn.publicKey());
show("Alice's subscription E2EKey (kid + RSA-OAEP block)", aliceE2EKey);
show("Bob's E2ESuggestedKey", bobE2EKey);

say('Bob opens his copy of the room key');
const bobRoomKey = await e2ee.unwrapRoomKey(bobLoggedIn, bobE2EKey);
show('kid', bobRoomKey.kid);

say('Alice sends a message; the server stores only ciphertext');
const content = e2ee.encryptContent(roomKey, { msg: 'Hello Bob 👋 — meeting at 10?' });
const wire = { _id: 'msg1', rid: 'room1', t: 'e2e', content };
show('stored message', wire);

say('Bob decrypts it');
show('payload', e2ee.decryptMessage(bobRoomKey, wire));

say('An app joins as a member: its identity lives in the key store, its private key sealed');
const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-demo-'));
// In production the KEK is a mounted secret (kekFile) and the store is Rocket.Chat's MongoDB.
const kek = process.env.RC_E2EE_KEK ?? randomBytes(32).toString('base64');
const store = await e2ee.AppKeyStore.open({ url: `file://${join(dir, 'keystore.json')}`, kek });
const appPublicKey = await store.ensureIdentity(APP_ID, 'demo-bot.bot');
show('users.e2e.public_key of demo-bot.bot', appPublicKey);
await store.authorize(APP_ID, 'room1', 'admin');
show('an admin authorized demo-bot for room1', await store.isAuthorized(APP_ID, 'room1'));

say("A member plants a key of her own under the room's kid; the server judges it by the others' messages");
// Any member can suggest a key and write under any key; a message proves only what its sender holds.
const impostor = e2ee.RoomKey.fromJwk(
  { kty: 'oct', alg: 'A256GCM', k: randomBytes(32).toString('base64url') },
  roomKey.kid,
);
const malloryProof = { senderId: 'mallory', content: e2ee.encryptContent(impostor, { msg: 'trust me' }) };
const aliceProof = { senderId: 'alice', content: wire.content };
try {
  await store.acceptRoomKey(APP_ID, 'room1', e2ee.wrapRoomKey(impostor, appPublicKey), {
    expectedKid: roomKey.kid,
    suggestedBy: 'mallory',
    proofs: [malloryProof, aliceProof],
  });
} catch (error) {
  show("Mallory's key (her own message ignored, Alice's does not open)", error.code);
}

say("Bob's browser wraps the real room key for the app; Alice's message verifies it");
const suggested = e2ee.wrapRoomKey(bobRoomKey, appPublicKey);
const accepted = await store.acceptRoomKey(APP_ID, 'room1', suggested, {
  expectedKid: roomKey.kid,
  suggestedBy: 'bob',
  proofs: [aliceProof],
});
show('accepted (kid = rooms.e2eKeyId, opens a message of someone other than the suggester)', accepted);

say('The app reads the message and answers, encrypted');
show('the app reads', (await store.decryptMessage(APP_ID, 'room1', wire)).msg);
const reply = {
  _id: 'msg2',
  rid: 'room1',
  t: 'e2e',
  msg: '',
  content: await store.encryptContent(APP_ID, 'room1', { msg: 'Noted: meeting at 10.' }),
};
show('its reply, as Bob reads it', e2ee.decryptMessage(bobRoomKey, reply).msg);
try {
  await store.decryptMessage(APP_ID, 'room2', wire);
} catch (error) {
  show('a room it was not authorized for', error.code);
}

say('Alice resets the room key; old messages still open through the old key, by kid');
const newKey = e2ee.RoomKey.generate();
const ring = new e2ee.RoomKeyRing([newKey, roomKey]);
const after = { _id: 'msg3', rid: 'room1', t: 'e2e', content: e2ee.encryptContent(newKey, { msg: 'after the reset' }) };
show('new kid', newKey.kid);
show('old message', e2ee.decryptMessage(ring, wire).msg);
show('new message', e2ee.decryptMessage(ring, after).msg);

say('Tampering is detected');
const tampered = { ...content, ciphertext: `A${content.ciphertext.slice(1)}` };
try {
  e2ee.decryptContent(bobRoomKey, tampered);
} catch (error) {
  show('one changed character', `${error.code}: ${error.message}`);
}

say('Files: AES-CTR-256 under a per-file key, hash in the encrypted metadata');
const file = await e2ee.encryptFile(Buffer.from('quarterly report, page 1'));
show('encryption.key', file.key);
show('hashes.sha256', file.hash);
show('decrypted', (await e2ee.decryptFile(file.key, file.iv, file.ciphertext)).toString());

say('Revocation shreds the app key; the audit says who did what, never with content');
await store.flushAudit();
await store.revokeIdentity(APP_ID, 'admin');
try {
  await store.decryptMessage(APP_ID, 'room1', wire);
} catch (error) {
  show('after revocation', error.code);
}
for (const record of (await store.audit({ appId: APP_ID })).reverse()) {
  console.log(
    `   audit: ${record.action.padEnd(22)} by ${record.actor.padEnd(13)} ${record.outcome}${record.count ? ` ×${record.count}` : ''}`,
  );
}
const stored = readFileSync(join(dir, 'keystore.json'), 'utf8');
show('the store file holds the message text', stored.includes('meeting at 10'));
await store.close();
rmSync(dir, { recursive: true, force: true });

say('Keys never show their bytes');
show('JSON.stringify(roomKey)', JSON.stringify(roomKey));
console.log('\nDone.');
