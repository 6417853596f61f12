/**
 * The JS surface of the key store, on both backends, with browsers played by the WebCrypto
 * reference client: an app becomes a member, reads and writes, rotates, is revoked, and
 * leaves no secret and no plaintext in storage.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import EJSON = require('ejson');

import { AppKeyStore, E2EEError, SubscriptionRoomKeys } from '../../native';
import * as client from '../native/webcrypto-client';
import { Backend, backendFactories, code, newKek } from './backends';

/** Apps-Engine app ids are UUIDs (app.json `id`); the store refuses anything else. */
const BOT_APP = '7c1f5a2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b';

/** A room as browsers see it: a room key and the messages they wrote. */
async function browserRoom() {
  const room = await client.generateRoomKey();
  const hello = { msg: 'secret plan: launch at dawn 🚀' };
  const message = { _id: 'm1', rid: 'room1', t: 'e2e', content: await client.encryptPayload(room, hello) };
  return { room, hello, message };
}

describe.each(backendFactories())('AppKeyStore on %s', (_name, makeBackend) => {
  let backend: Backend;
  let kek: string;
  let store: AppKeyStore;

  beforeEach(async () => {
    backend = makeBackend();
    kek = newKek();
    store = await AppKeyStore.open({ ...backend.location(), kek, auditFlushIntervalMs: 50 });
  });

  afterEach(async () => {
    await store.close().catch(() => undefined);
    await backend.cleanup();
  });

  test('an authorized app joins a room, reads and answers, like a browser member', async () => {
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    expect(JSON.parse(publicKey)).toMatchObject({ kty: 'RSA', alg: 'RSA-OAEP-256', e: 'AQAB' });
    expect(await store.ensureIdentity(BOT_APP, 'bot-user')).toBe(publicKey);

    const { room, hello, message } = await browserRoom();
    const suggested = await client.wrapRoomKey(room, publicKey);

    const offer = {
      expectedKid: room.kid,
      suggestedBy: 'alice',
      proofs: [{ senderId: 'bob', content: message.content }],
    };
    expect(await code(store.acceptRoomKey(BOT_APP, 'room1', suggested, offer))).toBe('KEYSTORE_NOT_AUTHORIZED');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    expect(await store.isAuthorized(BOT_APP, 'room1')).toBe(true);
    expect(await store.listAuthorizations(BOT_APP)).toEqual([
      expect.objectContaining({ roomId: 'room1', grantedBy: 'admin-user' }),
    ]);

    expect(await code(store.decryptMessage(BOT_APP, 'room1', message))).toBe('KEYSTORE_NO_ROOM_KEY');
    expect(
      await code(
        store.acceptRoomKey(BOT_APP, 'room1', suggested, { ...offer, expectedKid: 'another-kid', proofs: [] }),
      ),
    ).toBe('KEYSTORE_KID_MISMATCH');
    // A message under the kid that the key does not open (another key relabelled): refused.
    const otherRoom = await client.generateRoomKey();
    const foreignProof = { ...(await client.encryptPayload(otherRoom, { msg: 'x' })), kid: room.kid };
    expect(
      await code(
        store.acceptRoomKey(BOT_APP, 'room1', suggested, {
          ...offer,
          proofs: [{ senderId: 'carol', content: foreignProof }],
        }),
      ),
    ).toBe('KEYSTORE_PROOF_FAILED');
    expect(await store.acceptRoomKey(BOT_APP, 'room1', suggested, offer)).toEqual({
      kid: room.kid,
      status: 'verified',
      oldRoomKeys: [],
    });

    expect(await store.decryptMessage(BOT_APP, 'room1', message)).toEqual(hello);
    const reply = await store.encryptContent(BOT_APP, 'room1', { msg: 'on it' }, { expectedKid: room.kid });
    expect(reply).toMatchObject({ algorithm: 'rc.v2.aes-sha2', kid: room.kid });
    expect(await client.decryptPayload(room, reply)).toBe('{"msg":"on it"}');
    expect(await code(store.encryptContent(BOT_APP, 'room1', { msg: 'x' }, { expectedKid: 'stale-kid' }))).toBe(
      'KEYSTORE_KID_MISMATCH',
    );

    // Another room, not authorized: nothing is readable there.
    expect(await code(store.decryptMessage(BOT_APP, 'room2', message))).toBe('KEYSTORE_NOT_AUTHORIZED');

    await store.revokeAuthorization(BOT_APP, 'room1', 'admin-user');
    expect(await code(store.decryptMessage(BOT_APP, 'room1', message))).toBe('KEYSTORE_NOT_AUTHORIZED');
  });

  test('a restarted server reloads room keys from the subscription, old keys included', async () => {
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    const old = await browserRoom();
    const current = await browserRoom();
    const subscription: SubscriptionRoomKeys = {
      E2EKey: await client.wrapRoomKey(current.room, publicKey),
      oldRoomKeys: [
        {
          e2eKeyId: old.room.kid,
          ts: new Date('2025-01-02T03:04:05Z'),
          E2EKey: await client.wrapRoomKey(old.room, publicKey),
        },
      ],
    };
    await store.close();
    store = await AppKeyStore.open({ ...backend.location(), kek });
    const loaded = await store.loadRoomKeys(BOT_APP, 'room1', subscription);
    expect(loaded).toEqual({
      currentKid: current.room.kid,
      kids: [current.room.kid, old.room.kid],
      unreadable: 0,
      skipped: 0,
    });
    expect(await store.decryptMessage(BOT_APP, 'room1', old.message)).toEqual(old.hello);
    expect(await store.decryptMessage(BOT_APP, 'room1', current.message)).toEqual(current.hello);
  });

  test("finding 2: a member cannot plant the app's room key; provisional keys are settled by others", async () => {
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    const honest = await browserRoom();
    // Mallory makes her own key under the room's kid, writes one message with it, suggests it.
    const planted = { ...(await client.generateRoomKey()), kid: honest.room.kid };
    const mine = { senderId: 'mallory', content: await client.encryptPayload(planted, { msg: 'trust me' }) };
    const alices = { senderId: 'alice', content: honest.message.content };
    const plantedKey = await client.wrapRoomKey(planted, publicKey);
    const attempt = { expectedKid: honest.room.kid, suggestedBy: 'mallory', proofs: [mine, alices] };
    expect(await code(store.acceptRoomKey(BOT_APP, 'room1', plantedKey, attempt))).toBe('KEYSTORE_PROOF_FAILED');
    expect(await code(store.encryptContent(BOT_APP, 'room1', { msg: 'x' }))).toBe('KEYSTORE_NO_ROOM_KEY');
    const rejected = await store.audit({ appId: BOT_APP, action: 'room_key.reject' });
    expect(rejected).toEqual([
      expect.objectContaining({ kid: honest.room.kid, detail: 'suggested_by=mallory conflicting=alice' }),
    ]);

    // Alone in the room, her key is only provisional, and Alice's next message disproves it.
    const alone = await store.acceptRoomKey(BOT_APP, 'room1', plantedKey, { ...attempt, proofs: [mine] });
    expect(alone.status).toBe('provisional');
    expect(await store.confirmRoomKey(BOT_APP, 'room1', mine)).toBe('provisional');
    expect(await store.confirmRoomKey(BOT_APP, 'room1', alices)).toBe('rejected');
    expect(await code(store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content: mine.content }))).toBe(
      'KEYSTORE_NO_ROOM_KEY',
    );

    // The honest key, suggested by Bob, opens Alice's message: verified.
    const honestKey = await client.wrapRoomKey(honest.room, publicKey);
    const accepted = await store.acceptRoomKey(BOT_APP, 'room1', honestKey, {
      expectedKid: honest.room.kid,
      suggestedBy: 'bob',
      proofs: [alices],
    });
    expect(accepted).toEqual({ kid: honest.room.kid, status: 'verified', oldRoomKeys: [] });
    // ...and the kid is taken: Mallory's key can no longer replace it.
    expect(await code(store.acceptRoomKey(BOT_APP, 'room1', plantedKey, { ...attempt, proofs: [] }))).toBe(
      'KEYSTORE_PROOF_FAILED',
    );
    expect(await store.decryptMessage(BOT_APP, 'room1', honest.message)).toEqual(honest.hello);
  });

  test('finding 2: the acceptance contract refuses what it cannot judge, naming the argument', async () => {
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    const { room, message } = await browserRoom();
    const suggested = await client.wrapRoomKey(room, publicKey);
    const hostile = Object.defineProperty({ expectedKid: room.kid, suggestedBy: 'alice' }, 'proofs', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const cases: Array<[string, unknown, string]> = [
      ['no options', undefined, 'must be an object'],
      ['no expected kid', { suggestedBy: 'alice' }, 'expectedKid'],
      ['no suggester', { expectedKid: room.kid }, 'suggestedBy'],
      [
        'proofs as a JSON string',
        { expectedKid: room.kid, suggestedBy: 'alice', proofs: JSON.stringify([message]) },
        'proofs must be an array',
      ],
      [
        'a proof without sender',
        { expectedKid: room.kid, suggestedBy: 'alice', proofs: [{ content: message.content }] },
        'proofs[0].senderId',
      ],
      ['a throwing getter', hostile, 'could not be read'],
      ['a revoked proxy', revocable.proxy, 'could not be read'],
    ];
    for (const [name, options, text] of cases) {
      const error = await store.acceptRoomKey(BOT_APP, 'room1', suggested, options as never).catch((e: unknown) => e);
      expect([name, (error as E2EEError).code]).toEqual([name, 'KEYSTORE_BAD_INPUT']);
      expect((error as Error).message).toContain(text);
    }
    // Nothing was accepted by any of them.
    expect(await code(store.decryptMessage(BOT_APP, 'room1', message))).toBe('KEYSTORE_NO_ROOM_KEY');
  });

  test('a missing, malformed or wrong KEK is KEYSTORE_BAD_KEK', async () => {
    await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.close();
    const location = backend.location();
    expect(await code(AppKeyStore.open({ ...location }))).toBe('KEYSTORE_BAD_KEK');
    expect(await code(AppKeyStore.open({ ...location, kek: 'too-short' }))).toBe('KEYSTORE_BAD_KEK');
    expect(await code(AppKeyStore.open({ ...location, kek: newKek() }))).toBe('KEYSTORE_BAD_KEK');
    expect(await code(AppKeyStore.open({ ...location, kekFile: '/nonexistent/kek' }))).toBe('KEYSTORE_BAD_KEK');
    // The KEK as a mounted secret file works.
    const dir = mkdtempSync(join(tmpdir(), 'rc-e2ee-kek-'));
    writeFileSync(join(dir, 'kek'), `${kek}\n`, { mode: 0o600 });
    store = await AppKeyStore.open({ ...location, kekFile: join(dir, 'kek') });
    expect(await store.ensureIdentity(BOT_APP, 'bot-user')).toMatch(/"kty":"RSA"/);
  });

  test('identity rotation re-wraps every room key through the host and survives a failing host', async () => {
    const firstKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    const old = await browserRoom();
    const current = await browserRoom();
    // The host's copy of the app user's subscriptions.
    const subscriptions = new Map<string, SubscriptionRoomKeys>([
      [
        'room1',
        {
          E2EKey: await client.wrapRoomKey(current.room, firstKey),
          oldRoomKeys: [
            {
              e2eKeyId: old.room.kid,
              ts: new Date(1735787045000),
              E2EKey: await client.wrapRoomKey(old.room, firstKey),
            },
          ],
        },
      ],
    ]);
    let published = firstKey;
    let failWrites = true;
    const host = {
      listRoomKeys: async () => [...subscriptions].map(([roomId, keys]) => ({ roomId, ...keys })),
      writeRoomKeys: async (roomId: string, previous: SubscriptionRoomKeys, keys: SubscriptionRoomKeys) => {
        if (failWrites) throw new Error('database unavailable');
        if (subscriptions.get(roomId)?.E2EKey !== previous.E2EKey) return false;
        subscriptions.set(roomId, keys);
        return true;
      },
      publishPublicKey: async (publicKey: string) => {
        published = publicKey;
      },
    };
    // A host whose compare-and-set answers neither true nor false is a failed host, not a write.
    const before = [...subscriptions.values()].map((keys) => keys.E2EKey);
    for (const answer of [undefined, 'yes', 1, null]) {
      const sloppy = { ...host, writeRoomKeys: async () => answer as unknown as boolean };
      expect(await store.rotateIdentity(BOT_APP, sloppy).catch((error) => error)).toMatchObject({
        code: 'KEYSTORE_HOST_FAILED',
      });
    }
    expect([...subscriptions.values()].map((keys) => keys.E2EKey)).toEqual(before);
    const failed = await store.rotateIdentity(BOT_APP, host).catch((error) => error);
    expect(failed).toMatchObject({ code: 'KEYSTORE_HOST_FAILED' });
    expect((failed as { cause?: Error }).cause?.message).toBe('database unavailable');
    expect((await store.identity(BOT_APP))?.rotationStep).toBe('begun');

    failWrites = false;
    const report = await store.rotateIdentity(BOT_APP, host);
    expect(report).toMatchObject({ keyVersion: 2, resumed: true, keysRewrapped: 2 });
    expect(published).toBe(report.publicKey);
    expect(published).not.toBe(firstKey);
    expect((await store.identity(BOT_APP))?.rotationStep ?? null).toBeNull();

    // The rewritten subscription opens with the new key only: reload it and read both messages.
    const loaded = await store.loadRoomKeys(BOT_APP, 'room1', subscriptions.get('room1')!);
    expect(loaded.unreadable).toBe(0);
    expect(await store.decryptMessage(BOT_APP, 'room1', old.message)).toEqual(old.hello);
    expect(await store.decryptMessage(BOT_APP, 'room1', current.message)).toEqual(current.hello);
    // A key wrapped to the old public key no longer opens.
    const late = await client.generateRoomKey();
    expect(
      await code(
        store.acceptRoomKey(BOT_APP, 'room1', await client.wrapRoomKey(late, firstKey), {
          expectedKid: late.kid,
          suggestedBy: 'alice',
        }),
      ),
    ).toBe('E2EE_DECRYPT_FAILED');
  });

  test('revocation shreds the identity; audit has every operation and storage holds no secret', async () => {
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin-user');
    const { room, hello, message } = await browserRoom();
    await store.acceptRoomKey(BOT_APP, 'room1', await client.wrapRoomKey(room, publicKey), {
      expectedKid: room.kid,
      suggestedBy: 'alice',
      proofs: [{ senderId: 'bob', content: message.content }],
    });
    expect(await store.decryptMessage(BOT_APP, 'room1', message)).toEqual(hello);
    await store.encryptContent(BOT_APP, 'room1', { msg: 'bot reply text' });
    await store.flushAudit();

    const before = await backend.dump();
    await store.revokeIdentity(BOT_APP, 'admin-user');
    expect(await code(store.decryptMessage(BOT_APP, 'room1', message))).toMatch(/KEYSTORE_(REVOKED|NOT_AUTHORIZED)/);
    expect(await code(store.encryptContent(BOT_APP, 'room1', { msg: 'x' }))).toMatch(
      /KEYSTORE_(REVOKED|NOT_AUTHORIZED)/,
    );
    expect(await code(store.ensureIdentity(BOT_APP, 'bot-user'))).toBe('KEYSTORE_REVOKED');
    expect(await store.listAuthorizations(BOT_APP)).toEqual([]);
    expect((await store.identity(BOT_APP))?.state).toBe('revoked');

    const audit = await store.audit({ appId: BOT_APP });
    const actions = new Set(audit.map((record) => record.action));
    for (const action of audit) expect(action.outcome).toBeTruthy();
    expect(actions.size).toBeGreaterThanOrEqual(5);
    expect(audit.some((r) => r.count !== undefined && r.count !== null && r.count >= 1)).toBe(true);
    expect(audit.every((r) => r.ts > 0 && typeof r.actor === 'string')).toBe(true);

    const roomKeyBytes = Buffer.from(room.jwk.k!, 'base64url');
    const after = await backend.dump();
    for (const dump of [before, after]) {
      expect(dump).not.toContain('secret plan');
      expect(dump).not.toContain('bot reply text');
      expect(dump).not.toContain(room.jwk.k);
      expect(dump).not.toContain(roomKeyBytes.toString('base64'));
      expect(dump).not.toContain(roomKeyBytes.toString('hex'));
    }
    // After revocation nothing sealed is left to open.
    expect(after).not.toMatch(/"sealed"\s*:\s*\{/);
    expect(EJSON.stringify({ ok: true })).toBe('{"ok":true}');
  });

  test('a closed store refuses further calls', async () => {
    await store.close();
    expect(await code(store.ensureIdentity(BOT_APP, 'bot-user'))).toBe('KEYSTORE_STORAGE');
  });
});
