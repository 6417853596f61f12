/**
 * The host service's room-state and identity flows, against FerretDB with Rocket.Chat-shaped
 * documents: a room switched to unencrypted and back (`saveRoomEncrypted`), the room's first key
 * id (`e2e.setRoomKeyID`), the app user's own key reset (`resetUserE2EEncriptionKey`) and an
 * identity rotation over the app user's subscriptions by compare-and-set. Browsers (WebCrypto,
 * Rocket.Chat's client flows) play the humans. Attackers first; after each scenario no collection
 * holds a message's plaintext.
 */
import { randomUUID } from 'node:crypto';

import { E2EEHostService, type AppKeyStore, type HostPorts } from '../../native';
import * as client from '../native/webcrypto-client';
import { code } from '../keystore/backends';
import { describeOnMongo, hostScenario } from './harness';
import type { RocketChat } from './rocketchat';

describeOnMongo('room state and identity rotation on Rocket.Chat-shaped FerretDB', () => {
  const scenario = hostScenario('rc_state');
  const { secret, roomOfAliceAndBob, admitApp, roomWithApp, roomWithAppHoldingKey } = scenario;
  // The current test's instances, which the harness opens before each test, under short names.
  let rc: RocketChat;
  let store: AppKeyStore;
  let service: E2EEHostService;
  beforeEach(() => {
    ({ rc, store, service } = scenario);
  });

  /** Rocket.Chat's own collections, as text: what a refused flow must leave as it was. */
  async function rocketChatState(): Promise<string[]> {
    const names = ['users', 'rocketchat_room', 'rocketchat_subscription', 'rocketchat_message'];
    return Promise.all(names.map(async (name) => JSON.stringify(await rc.db.collection(name).find({}).toArray())));
  }

  const decrypt = (appId: string, roomId: string, messageId: string) =>
    service.decryptMessage(appId, { roomId, messageId });

  // ----- attackers -----

  test('a member who is not an owner cannot switch encryption off: refused before any write, the app keeps its key', async () => {
    const app = await rc.installApp();
    const { bob, roomId } = await roomWithAppHoldingKey(app);
    const note = await rc.send(bob, roomId, secret('still encrypted'));
    const mallory = await rc.browser('mallory');
    await rc.join(roomId, mallory.userId);
    const before = await rc.subscription(roomId, app.appUserId);

    const state = await rocketChatState();
    await expect(rc.saveRoomEncrypted(mallory, roomId, false)).rejects.toThrow('error-action-not-allowed');
    expect(await rocketChatState()).toEqual(state);
    expect((await rc.room(roomId))?.encrypted).toBe(true);
    expect(await rc.subscription(roomId, app.appUserId)).toEqual(before);
    expect(rc.events.filter((event) => event.type === 'roomKeyRotated')).toEqual([]);
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^still encrypted/);
  });

  test('a stale or forged hook call changes nothing: the service reads the room, never the caller', async () => {
    const app = await rc.installApp();
    const { bob, roomId } = await roomWithAppHoldingKey(app);
    const note = await rc.send(bob, roomId, secret('untouched'));
    const before = await rc.subscription(roomId, app.appUserId);

    const state = await rocketChatState();
    // "Switched off" while the stored room is still encrypted: the app keeps its key.
    expect(await service.onRoomEncryptionChanged(roomId)).toEqual({ encrypted: true, apps: [] });
    // A key id the room does not have, and a room that does not exist: nobody queued.
    expect(await service.onRoomKeyIdSet(roomId, 'forgedKidXYZ')).toEqual([]);
    expect(await service.onRoomEncryptionChanged('noSuchRoom0000000')).toEqual({ encrypted: false, apps: [] });
    // An operator object for an id would match another room in a MongoDB filter: refused first.
    const operator = { $ne: '' } as unknown as string;
    expect(await code(service.onRoomEncryptionChanged(operator))).toBe('E2EE_BAD_INPUT');
    expect(await code(service.onRoomKeyIdSet(operator, 'kid'))).toBe('E2EE_BAD_INPUT');
    expect(await code(service.onRoomKeyIdSet(roomId, operator))).toBe('E2EE_BAD_INPUT');
    expect(await rocketChatState()).toEqual(state);
    expect(await rc.subscription(roomId, app.appUserId)).toEqual(before);
    expect(await rc.waiting(roomId)).toEqual([]);
    expect(rc.events.filter((event) => event.type === 'roomKeyRotated')).toEqual([]);
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^untouched/);
  });

  test('a second setRoomKeyID is refused by Rocket.Chat and queues nobody', async () => {
    const app = await rc.installApp();
    const { bob, roomId } = await roomWithAppHoldingKey(app);
    const kid = (await rc.room(roomId))?.e2eKeyId;
    await expect(rc.setRoomKeyID(bob, roomId)).rejects.toThrow('error-room-e2e-key-already-exists');
    expect((await rc.room(roomId))?.e2eKeyId).toBe(kid);
    expect(await rc.waiting(roomId)).toEqual([]);
  });

  test('a rotation racing a suggested key: the suggestion wrapped to the old key is refused, the app user waits, the next one opens', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomOfAliceAndBob();
    const early = await rc.send(bob, roomId, secret('before the rotation'));
    await admitApp(app, roomId, alice);
    const oldPublicKey = await rc.publicKeyOf(app.appUserId);

    // Alice's browser wraps the key to the old public key; the hook has not run yet.
    rc.service = undefined;
    await rc.provideKeys(alice, roomId);
    rc.service = service;
    const report = await service.rotateAppIdentity(app.appId);
    expect(report.publicKey).not.toBe(oldPublicKey);
    expect(await rc.publicKeyOf(app.appUserId)).toBe(report.publicKey);

    // The old private key is shredded: the late suggestion cannot open, so it is cleared and the
    // app user waits again, for a key wrapped to the new public key.
    const late = await service.onSuggestedKey(app.appId, app.appUserId, roomId, alice.userId);
    expect(late.outcome).toBe('rejected');
    expect((await rc.subscription(roomId, app.appUserId))?.E2ESuggestedKey).toBeUndefined();
    expect(await rc.waiting(roomId)).toContain(app.appUserId);

    await rc.provideKeys(alice, roomId);
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeDefined();
    expect((await decrypt(app.appId, roomId, early._id)).msg).toMatch(/^before the rotation/);
  });

  test('a stale compare-and-set write writes nothing; a reset landing mid-rotation is kept and the next pass re-wraps it', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    const before = await rc.send(bob, roomId, secret('under the first key'));
    const sub = await rc.subscription(roomId, app.appUserId);

    // The port itself: a write whose "previous" is not what the subscription holds matches nothing.
    expect(
      await rc.replaceRoomKeys(roomId, app.appUserId, { E2EKey: `${sub!.E2EKey!.slice(0, -4)}AAAA` }, { E2EKey: null }),
    ).toBe(false);
    expect(await rc.subscription(roomId, app.appUserId)).toEqual(sub);

    // The owner resets the room key just before the rotation's first write lands.
    const ports = rc.ports();
    let reset: Awaited<ReturnType<RocketChat['resetRoomKey']>> | undefined;
    let writes = 0;
    let refused = 0;
    const racing: HostPorts = {
      ...ports,
      subscriptions: {
        ...ports.subscriptions,
        replaceRoomKeys: async (...args) => {
          writes += 1;
          if (!reset) reset = await rc.resetRoomKey(alice, roomId);
          const written = await ports.subscriptions.replaceRoomKeys(...args);
          if (!written) refused += 1;
          return written;
        },
      },
    };
    const racingService = new E2EEHostService(store, racing);
    rc.service = racingService;
    const report = await racingService.rotateAppIdentity(app.appId);
    expect(refused).toBe(1);
    expect(writes).toBeGreaterThan(1);
    expect(report.resumed).toBe(true);

    // The reset's result survived: no current key, the first key now in oldRoomKeys, re-wrapped.
    const after = await rc.subscription(roomId, app.appUserId);
    expect(after?.E2EKey).toBeUndefined();
    expect(after?.oldRoomKeys?.map((old) => old.e2eKeyId)).toEqual([reset!.previous.kid]);
    expect(after?.oldRoomKeys?.[0].E2EKey).not.toBe(sub?.E2EKey);
    expect((await racingService.decryptMessage(app.appId, { roomId, messageId: before._id })).msg).toMatch(
      /^under the first key/,
    );
    // The new key arrives wrapped to the new public key and opens the new messages.
    await rc.provideKeys(alice, roomId);
    await rc.acceptAsBrowser(bob, roomId);
    const next = await rc.send(bob, roomId, secret('under the second key'));
    expect((await racingService.decryptMessage(app.appId, { roomId, messageId: next._id })).msg).toMatch(
      /^under the second key/,
    );
  });

  test('a key planted before anyone wrote stays provisional through a rotation, and the next honest message finds it out', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    const mallory = await rc.browser('mallory');
    await rc.join(roomId, mallory.userId);
    const planted = { ...(await client.generateRoomKey()), kid: alice.rooms.get(roomId)!.kid };
    await rc.provideKeys(mallory, roomId, { key: planted });
    const before = await rc.subscription(roomId, app.appUserId);
    expect(before?.E2EKey).toBeDefined();

    // Re-wrapped, not promoted: the key store keeps the key's trust apart from its wrapping.
    await service.rotateAppIdentity(app.appId);
    const after = await rc.subscription(roomId, app.appUserId);
    expect(after?.E2EKey).toBeDefined();
    expect(after?.E2EKey).not.toBe(before?.E2EKey);
    expect(await store.provisionalKeys(roomId)).toEqual([{ appId: app.appId, kid: planted.kid }]);

    // Bob writes under the real key: the planted key does not open it, so the app's copy goes.
    const honest = await rc.send(bob, roomId, secret('honest'));
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    await rc.provideKeys(alice, roomId);
    expect((await decrypt(app.appId, roomId, honest._id)).msg).toMatch(/^honest/);
  });

  test('nothing is rotated for an app that is not installed, nor for a revoked identity, and nothing is written', async () => {
    expect(await code(service.rotateAppIdentity(randomUUID()))).toBe('HOST_NOT_INSTALLED');
    const app = await rc.installApp();
    const { alice, roomId } = await roomWithAppHoldingKey(app);
    await service.revokeApp(app.appId, alice.userId);
    const before = await rocketChatState();
    expect(await code(service.rotateAppIdentity(app.appId))).toBe('KEYSTORE_REVOKED');
    // Rocket.Chat resetting a revoked app user's key: the host has nothing of its own to redo.
    expect(await service.onAppUserKeyReset(app.appId)).toBeUndefined();
    expect(await rocketChatState()).toEqual(before);
    expect(await rc.subscription(roomId, app.appUserId)).not.toHaveProperty('E2EKey');
  });

  test('a rotation cut short by a failing port resumes on the next call and loses no key', async () => {
    const app = await rc.installApp();
    const { bob, roomId } = await roomWithAppHoldingKey(app);
    const note = await rc.send(bob, roomId, secret('through the outage'));
    const ports = rc.ports();
    const failing: HostPorts = {
      ...ports,
      users: {
        setPublicKey: async () => {
          throw new Error('users collection unavailable');
        },
      },
    };
    const cut = new E2EEHostService(store, failing);
    const error = await cut.rotateAppIdentity(app.appId).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'KEYSTORE_HOST_FAILED' });
    expect((error as { cause?: Error }).cause?.message).toBe('users collection unavailable');
    // Half-way: the old key is not shredded yet, so the app still reads.
    expect((await cut.decryptMessage(app.appId, { roomId, messageId: note._id })).msg).toMatch(/^through the outage/);

    const report = await service.rotateAppIdentity(app.appId);
    expect(report.resumed).toBe(true);
    expect(await rc.publicKeyOf(app.appUserId)).toBe(report.publicKey);
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^through the outage/);
  });

  test("a provisional key re-wrapped by a rotation keeps its trust and the room's old keys", async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    const first = await rc.send(bob, roomId, secret('under the first key'));
    const { next } = await rc.resetRoomKey(alice, roomId);
    // Nobody wrote under the new key yet: the app holds it provisionally, beside the first one.
    await rc.provideKeys(alice, roomId);
    const before = await rc.subscription(roomId, app.appUserId);
    expect(before?.oldRoomKeys).toHaveLength(1);

    await service.rotateAppIdentity(app.appId);
    const after = await rc.subscription(roomId, app.appUserId);
    expect(after?.E2EKey?.startsWith(next.kid)).toBe(true);
    expect(after?.oldRoomKeys?.map((old) => old.e2eKeyId)).toEqual(before?.oldRoomKeys?.map((old) => old.e2eKeyId));
    expect(await store.provisionalKeys(roomId)).toEqual([{ appId: app.appId, kid: next.kid }]);
    expect((await decrypt(app.appId, roomId, first._id)).msg).toMatch(/^under the first key/);
    // The next honest message under the new key settles it.
    await rc.acceptAsBrowser(bob, roomId);
    const second = await rc.send(bob, roomId, secret('under the second key'));
    expect(await store.provisionalKeys(roomId)).toEqual([]);
    expect((await decrypt(app.appId, roomId, second._id)).msg).toMatch(/^under the second key/);
  });

  test('after a room key reset the replaced key opens old messages but is no longer current: no encrypting under it', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    const before = await rc.send(bob, roomId, secret('before the reset'));
    // Answered once from memory, so the old key is this instance's current key.
    expect((await decrypt(app.appId, roomId, before._id)).msg).toMatch(/^before the reset/);
    await rc.resetRoomKey(alice, roomId);
    expect(await code(service.encryptContent(app.appId, roomId, secret('under which key?')))).toBe(
      'KEYSTORE_NO_ROOM_KEY',
    );
    expect((await service.decryptMessage(app.appId, { roomId, content: before.content })).msg).toMatch(
      /^before the reset/,
    );
    await rc.provideKeys(alice, roomId);
    const content = await service.encryptContent(app.appId, roomId, secret('under the new key'));
    expect(content.kid).toBe(alice.rooms.get(roomId)!.kid);
  });

  // ----- the flows -----

  test('switched off: the app loses its keys, is told, and reads nothing; switched on: it waits and gets the key again', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    const kid = alice.rooms.get(roomId)!.kid;
    const note = await rc.send(bob, roomId, secret('before the switch'));
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^before the switch/);

    await rc.saveRoomEncrypted(alice, roomId, false);
    const off = await rc.subscription(roomId, app.appUserId);
    expect(off?.E2EKey).toBeUndefined();
    expect(off?.oldRoomKeys).toBeUndefined();
    expect(await rc.waiting(roomId)).not.toContain(app.appUserId);
    expect(rc.events).toContainEqual({ type: 'roomKeyRotated', appId: app.appId, roomId, previousKid: kid });
    expect(await code(decrypt(app.appId, roomId, note._id))).toBe('HOST_NOT_ENCRYPTED');
    expect(await code(service.decryptMessage(app.appId, { roomId, content: note.content }))).toBe('HOST_NOT_ENCRYPTED');
    expect(await code(service.sendEncryptedMessage(app.appId, roomId, secret('nope')))).toBe('HOST_NOT_ENCRYPTED');
    expect(await service.isAuthorized(app.appId, roomId)).toBe(false);
    // The admin's grant stays: the owner may switch encryption back on.
    expect(await store.isAuthorized(app.appId, roomId)).toBe(true);

    await rc.saveRoomEncrypted(alice, roomId, true);
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    await rc.provideKeys(alice, roomId);
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toMatch(new RegExp(`^${kid}`));
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^before the switch/);
    const replyId = await service.sendEncryptedMessage(app.appId, roomId, secret('back on'));
    expect(((await rc.read(bob, replyId)) as { msg: string }).msg).toMatch(/^back on/);
  });

  test("the room's first key id queues the authorized app user, and the creating client's key reaches it", async () => {
    const app = await rc.installApp();
    const alice = await rc.browser('alice');
    const bob = await rc.browser('bob');
    await service.enableApp(app.appId);
    const roomId = await rc.encryptedRoomWithoutKey(alice, [bob.userId]);
    await service.authorizeRoom(app.appId, roomId, alice.userId);
    await rc.join(roomId, app.appUserId);
    // Whatever emptied the queue before the room had a key, the first key id queues the app user.
    await rc.unqueue(roomId, app.appUserId);
    expect(await rc.waiting(roomId)).not.toContain(app.appUserId);

    await rc.setRoomKeyID(alice, roomId);
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    await rc.provideKeys(alice, roomId);
    await rc.acceptAsBrowser(bob, roomId);
    expect(rc.events).toContainEqual({
      type: 'roomKeyReady',
      appId: app.appId,
      roomId,
      kid: alice.rooms.get(roomId)!.kid,
    });
    const hello = await rc.send(bob, roomId, secret('first words'));
    expect((await decrypt(app.appId, roomId, hello._id)).msg).toMatch(/^first words/);
  });

  test("the app user's own key reset rotates the identity, publishes the new key, and the app waits for its keys", async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    // A room the app user is in but the app is not authorized for: the reset queues it there too.
    const elsewhere = await rc.encryptedRoom(bob, [app.appUserId]);
    await rc.unqueue(elsewhere, app.appUserId);
    const note = await rc.send(bob, roomId, secret('before the reset'));
    const oldPublicKey = await rc.publicKeyOf(app.appUserId);
    const oldVersion = (await store.identity(app.appId))?.keyVersion;

    await rc.resetUserE2EKey(app.appUserId);
    const published = await rc.publicKeyOf(app.appUserId);
    expect(published).toBeDefined();
    expect(published).not.toBe(oldPublicKey);
    expect(JSON.parse(published!)).not.toHaveProperty('d');
    expect((await store.identity(app.appId))?.keyVersion).toBe(oldVersion! + 1);
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    // No member's client is asked to wrap a key the key store would refuse.
    expect(await rc.waiting(elsewhere)).not.toContain(app.appUserId);
    expect(await code(decrypt(app.appId, roomId, note._id))).toBe('KEYSTORE_NO_ROOM_KEY');

    // A browser that still wraps to the old public key it cached is refused; the app user stays queued.
    await rc.db
      .collection('rocketchat_subscription')
      .updateOne(
        { rid: roomId, 'u._id': app.appUserId },
        { $set: { E2ESuggestedKey: await client.wrapRoomKey(alice.rooms.get(roomId)!, oldPublicKey!) } },
      );
    expect((await service.onSuggestedKey(app.appId, app.appUserId, roomId, bob.userId)).outcome).toBe('rejected');
    expect(await rc.waiting(roomId)).toContain(app.appUserId);

    await rc.provideKeys(alice, roomId);
    expect((await decrypt(app.appId, roomId, note._id)).msg).toMatch(/^before the reset/);
  });

  test('an admin rotates the identity: every room key re-wrapped, old and new messages readable here and on another instance', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithAppHoldingKey(app);
    const first = await rc.send(bob, roomId, secret('under the first key'));
    await rc.resetRoomKey(alice, roomId);
    await rc.provideKeys(alice, roomId);
    await rc.acceptAsBrowser(bob, roomId);
    const second = await rc.send(bob, roomId, secret('under the second key'));
    const before = await rc.subscription(roomId, app.appUserId);
    expect(before?.oldRoomKeys).toHaveLength(1);

    const report = await service.rotateAppIdentity(app.appId);
    expect(report).toMatchObject({ resumed: false, keysUnreadable: 0 });
    expect(report.keysRewrapped).toBeGreaterThanOrEqual(2);
    const after = await rc.subscription(roomId, app.appUserId);
    expect(after?.E2EKey?.slice(0, 12)).toBe(before?.E2EKey?.slice(0, 12));
    expect(after?.E2EKey).not.toBe(before?.E2EKey);
    expect(after?.oldRoomKeys?.map((old) => old.e2eKeyId)).toEqual(before?.oldRoomKeys?.map((old) => old.e2eKeyId));
    expect(await rc.publicKeyOf(app.appUserId)).toBe(report.publicKey);

    expect((await decrypt(app.appId, roomId, first._id)).msg).toMatch(/^under the first key/);
    expect((await decrypt(app.appId, roomId, second._id)).msg).toMatch(/^under the second key/);
    const other = new E2EEHostService(store, rc.ports());
    expect((await other.decryptMessage(app.appId, { roomId, messageId: first._id })).msg).toMatch(
      /^under the first key/,
    );
    const replyId = await service.sendEncryptedMessage(app.appId, roomId, secret('after the rotation'));
    expect(((await rc.read(alice, replyId)) as { msg: string }).msg).toMatch(/^after the rotation/);
  });
});
