/**
 * The host service's scenarios, against FerretDB with Rocket.Chat-shaped documents: browsers
 * (WebCrypto, Rocket.Chat's client flows) and an app in encrypted rooms, the key store on the
 * same database as Rocket.Chat's collections. After each scenario no collection holds a
 * message's plaintext.
 */
import { randomUUID } from 'node:crypto';

import { E2EEError, E2EEHostService, MAX_BATCH_MESSAGES, type AppKeyStore } from '../../native';
import * as client from '../native/webcrypto-client';
import { code } from '../keystore/backends';
import { describeOnMongo, hostScenario } from './harness';
import type { RocketChat } from './rocketchat';

describeOnMongo('the host service on Rocket.Chat-shaped FerretDB', () => {
  const scenario = hostScenario('rc_host');
  const { secret, openService, roomWithApp, roomWithAppHoldingKey } = scenario;
  // The current test's instances, which the harness opens before each test, under short names.
  let rc: RocketChat;
  let store: AppKeyStore;
  let service: E2EEHostService;
  beforeEach(() => {
    ({ rc, store, service } = scenario);
  });

  test('the whole happy path: enable, authorize, key delivered by a browser, read, answer', async () => {
    const app = await rc.installApp();
    const report = await service.enableApp(app.appId);
    expect(await rc.publicKeyOf(app.appUserId)).toBe(report.publicKey);
    expect(JSON.parse(report.publicKey)).not.toHaveProperty('d');

    const { alice, bob, roomId } = await roomWithApp(app);
    const hello = await rc.send(bob, roomId, secret('hello from Bob'));
    expect(await rc.waiting(roomId)).toEqual([app.appUserId]);
    expect(await code(service.decryptMessage(app.appId, { roomId, messageId: hello._id }))).toBe(
      'KEYSTORE_NO_ROOM_KEY',
    );

    // Alice's browser sees the app user waiting and wraps the key to its published public key.
    await rc.provideKeys(alice, roomId);
    const sub = await rc.subscription(roomId, app.appUserId);
    expect(sub?.E2EKey).toMatch(new RegExp(`^${alice.rooms.get(roomId)!.kid}`));
    expect(sub?.E2ESuggestedKey).toBeUndefined();
    expect(await rc.waiting(roomId)).toEqual([]);
    expect(rc.events).toContainEqual({
      type: 'roomKeyReady',
      appId: app.appId,
      roomId,
      kid: alice.rooms.get(roomId)!.kid,
    });
    expect(await service.isAuthorized(app.appId, roomId)).toBe(true);

    const read = await service.decryptMessage(app.appId, { roomId, messageId: hello._id });
    expect(read.msg).toBe(((await rc.read(bob, hello._id)) as { msg: string }).msg);
    // The same envelope handed in by the app, twice: the second answer comes from memory.
    expect(await service.decryptMessage(app.appId, { roomId, content: hello.content })).toEqual(read);
    expect(await service.decryptMessage(app.appId, { roomId, content: hello.content })).toEqual(read);

    const answer = secret('answer from the app');
    const replyId = await service.sendEncryptedMessage(app.appId, roomId, answer);
    const reply = await rc.message(replyId);
    expect(reply).toMatchObject({ t: 'e2e', msg: '', parseUrls: false, u: { _id: app.appUserId } });
    expect(reply?.content?.kid).toBe(alice.rooms.get(roomId)!.kid);
    expect(await rc.read(alice, replyId)).toEqual(answer);
    expect(await service.getKeyHistory(app.appId, roomId)).toEqual([
      { kid: alice.rooms.get(roomId)!.kid, current: true },
    ]);
  });

  test('a member plants a key with a forged proof: refused and cleared; her garbage blocks keys until a reset', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.send(bob, roomId, secret('under the real key'));
    const mallory = await rc.browser('mallory');
    await rc.join(roomId, mallory.userId);
    const planted = { ...(await client.generateRoomKey()), kid: alice.rooms.get(roomId)!.kid };
    // Mallory writes her own "proof" under the planted key, then offers it to the app.
    await rc.send(mallory, roomId, secret('my own proof'), { key: planted });
    await rc.provideKeys(mallory, roomId, { key: planted });
    const sub = await rc.subscription(roomId, app.appUserId);
    expect(sub?.E2EKey).toBeUndefined();
    expect(sub?.E2ESuggestedKey).toBeUndefined();
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    expect(rc.events.filter((event) => event.type === 'roomKeyReady')).toEqual([]);

    // Her message under the room's kid that the real key cannot open blocks the real key too
    // (the acceptance rule never lets an insider plant a key, at the price of liveness); the
    // audit names her, and the owner's reset ends it.
    await rc.provideKeys(alice, roomId);
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    const rejected = await store.audit({ appId: app.appId, action: 'room_key.reject' });
    expect(rejected).toHaveLength(2);
    expect(rejected.map((record) => record.detail).join(' ')).toContain(mallory.userId);
    await rc.resetRoomKey(alice, roomId);
    await rc.provideKeys(alice, roomId);
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeDefined();
    await rc.acceptAsBrowser(bob, roomId);
    const later = await rc.send(bob, roomId, secret('after the reset'));
    expect((await service.decryptMessage(app.appId, { roomId, messageId: later._id })).msg).toMatch(/^after the reset/);
  });

  test('a provisional key is settled by the next message of another sender', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    // No message yet: nobody can vouch for the key, so it is provisional.
    await rc.provideKeys(alice, roomId);
    await rc.send(bob, roomId, secret('first message'));
    const history = await store.audit({ appId: app.appId, action: 'room_key.confirm' });
    expect(history.map((record) => record.outcome)).toContain('ok');
  });

  test('rotation: the app is told, gets the new key like anyone, and reads old and new messages', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    const before = await rc.send(bob, roomId, secret('before the reset'));
    await rc.provideKeys(alice, roomId);
    const { previous, next } = await rc.resetRoomKey(alice, roomId);
    expect(rc.events).toContainEqual({
      type: 'roomKeyRotated',
      appId: app.appId,
      roomId,
      previousKid: previous.kid,
      newKid: next.kid,
    });
    expect(await rc.waiting(roomId)).toEqual(expect.arrayContaining([app.appUserId, bob.userId]));
    await rc.acceptAsBrowser(bob, roomId).catch(() => undefined);
    await rc.provideKeys(alice, roomId);
    await rc.acceptAsBrowser(bob, roomId);
    const after = await rc.send(bob, roomId, secret('after the reset'));
    expect((await service.decryptMessage(app.appId, { roomId, messageId: before._id })).msg).toMatch(
      /^before the reset/,
    );
    expect((await service.decryptMessage(app.appId, { roomId, messageId: after._id })).msg).toMatch(/^after the reset/);
    const kids = (await service.getKeyHistory(app.appId, roomId)).map((entry) => [entry.kid, entry.current]);
    expect(kids).toEqual([
      [next.kid, true],
      [previous.kid, false],
    ]);
    const replyId = await service.sendEncryptedMessage(app.appId, roomId, secret('under the new key'));
    expect((await rc.message(replyId))?.content?.kid).toBe(next.kid);
  });

  test('an app without the gates reads and writes nothing', async () => {
    const reader = await rc.installApp(['e2ee.read']);
    const { alice, bob, roomId } = await roomWithApp(reader);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('for readers'));
    expect(await code(service.sendEncryptedMessage(reader.appId, roomId, { msg: 'x' }))).toBe('HOST_NO_PERMISSION');
    const plain = await rc.installApp([]);
    expect(await code(service.enableApp(plain.appId))).toBe('HOST_NO_PERMISSION');
    expect(await code(service.decryptMessage(plain.appId, { roomId, messageId: message._id }))).toBe(
      'HOST_NO_PERMISSION',
    );
    expect(await service.isAuthorized(plain.appId, roomId)).toBe(false);
    // Entitled, but not authorized for this room.
    const other = await rc.installApp();
    await service.enableApp(other.appId);
    await rc.join(roomId, other.appUserId);
    expect(await code(service.decryptMessage(other.appId, { roomId, messageId: message._id }))).toBe(
      'KEYSTORE_NOT_AUTHORIZED',
    );
    // Not even installed.
    expect(await code(service.decryptMessage(randomUUID(), { roomId, messageId: message._id }))).toBe(
      'HOST_NO_PERMISSION',
    );
    // A message id of another room is not found in this one.
    const elsewhere = await rc.encryptedRoom(alice, []);
    const foreign = await rc.send(alice, elsewhere, secret('another room'));
    expect(await code(service.decryptMessage(reader.appId, { roomId, messageId: foreign._id }))).toBe(
      'HOST_NO_MESSAGE',
    );
  });

  test('a revoked app can neither decrypt nor send, and its copies of the keys are gone', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('before revocation'));
    expect((await service.decryptMessage(app.appId, { roomId, content: message.content })).msg).toMatch(
      /^before revocation/,
    );
    await service.revokeRoom(app.appId, roomId, alice.userId);
    expect(rc.events).toContainEqual({
      type: 'accessRevoked',
      appId: app.appId,
      roomId,
      reason: 'authorization-revoked',
    });
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    expect(await code(service.decryptMessage(app.appId, { roomId, content: message.content }))).toBe(
      'KEYSTORE_NOT_AUTHORIZED',
    );
    expect(await code(service.decryptMessage(app.appId, { roomId, messageId: message._id }))).toBe(
      'KEYSTORE_NOT_AUTHORIZED',
    );
    expect(await code(service.sendEncryptedMessage(app.appId, roomId, { msg: 'x' }))).toBe('KEYSTORE_NOT_AUTHORIZED');
  });

  test('a thread reply carries tmid and is readable by the humans', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const parent = await rc.send(bob, roomId, secret('thread parent'));
    const answer = secret('in the thread');
    const replyId = await service.sendEncryptedMessage(app.appId, roomId, answer, { threadId: parent._id });
    expect(await rc.message(replyId)).toMatchObject({ tmid: parent._id, t: 'e2e' });
    expect(await rc.read(bob, replyId)).toEqual(answer);
  });

  test('two server instances share the database: accepted on one, read on the other; a restart reloads keys', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('for both instances'));
    const second = await openService();
    try {
      // The second instance never saw the key: it loads it from the app user's subscription.
      expect((await second.service.decryptMessage(app.appId, { roomId, messageId: message._id })).msg).toMatch(
        /^for both instances/,
      );
    } finally {
      await second.store.close();
    }
    // A restart: the new instance reloads every authorized room's keys when the app is enabled.
    await scenario.restart();
    ({ store, service } = scenario);
    const report = await service.enableApp(app.appId);
    expect(report.loaded).toBe(1);
    expect((await service.decryptMessage(app.appId, { roomId, content: message.content })).msg).toMatch(
      /^for both instances/,
    );
  });

  test('a room key reset on one instance races reads and sends on another: never a stale key, never a wrong text', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const before = await rc.send(bob, roomId, secret('under the first key'));
    const second = await openService();
    try {
      // The second instance holds the first key in memory, current, as a busy instance does.
      expect((await second.service.decryptMessage(app.appId, { roomId, content: before.content })).msg).toMatch(
        /^under the first key/,
      );
      // The reset and the key delivery run on the first instance only (Rocket.Chat fires the
      // hooks where the method ran); the second is never told.
      const { next } = await rc.resetRoomKey(alice, roomId);
      const after = await rc.send(alice, roomId, secret('under the second key'));
      // Before the key reaches the app: the new message is missing its key, and a send is refused
      // rather than sealed under the first key the second instance still holds.
      expect(await code(second.service.decryptMessage(app.appId, { roomId, content: after.content }))).toBe(
        'KEYSTORE_NO_ROOM_KEY',
      );
      expect(['KEYSTORE_KID_MISMATCH', 'KEYSTORE_NO_ROOM_KEY']).toContain(
        await code(second.service.encryptContent(app.appId, roomId, { msg: 'too early' })),
      );
      const outcomes = new Set<string>();
      let delivered = false;
      const delivery = rc.provideKeys(alice, roomId).then(() => {
        delivered = true;
      });
      const reader = (async () => {
        for (let round = 0; round < 40 && !(delivered && outcomes.has('new:ok')); round++) {
          // An old message opens under its own kid whatever the instance believes is current.
          const old = await second.service.decryptMessage(app.appId, { roomId, content: before.content });
          expect(old.msg).toMatch(/^under the first key/);
          // A new one opens once the key is accepted on the first instance, never before with another key.
          const fresh = await second.service.decryptMessage(app.appId, { roomId, content: after.content }).then(
            (payload) => (expect(payload.msg).toMatch(/^under the second key/), 'ok'),
            (error: { code?: string }) => error.code ?? String(error),
          );
          outcomes.add(`new:${fresh}`);
          // A send goes out under the room's current key or not at all: never under the first key.
          const sent = await second.service.encryptContent(app.appId, roomId, { msg: 'probe' }).then(
            (content) => (expect(content.kid).toBe(next.kid), 'ok'),
            (error: { code?: string }) => error.code ?? String(error),
          );
          outcomes.add(`send:${sent}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      await Promise.all([delivery, reader]);
      const allowed = [
        'new:ok',
        'new:KEYSTORE_NO_ROOM_KEY',
        'send:ok',
        'send:KEYSTORE_KID_MISMATCH',
        'send:KEYSTORE_NO_ROOM_KEY',
      ];
      for (const outcome of outcomes) expect(allowed).toContain(outcome);
      // Once delivered on the first instance, the second reads and writes under the new key.
      expect((await second.service.decryptMessage(app.appId, { roomId, content: after.content })).msg).toMatch(
        /^under the second key/,
      );
      const replyId = await second.service.sendEncryptedMessage(app.appId, roomId, secret('from the second instance'));
      expect((await rc.message(replyId))?.content?.kid).toBe(next.kid);
      await rc.acceptAsBrowser(bob, roomId);
      expect(await rc.read(bob, replyId)).toMatchObject({ msg: expect.stringMatching(/^from the second instance/) });
    } finally {
      await second.store.close();
    }
  });

  test('what an app hands the bridge is checked: every bad room, message or envelope is a typed refusal that writes nothing', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('the real message'));
    const content = { ...message.content } as Record<string, unknown>;
    const elsewhere = await rc.encryptedRoom(alice, [app.appUserId]);
    const foreign = await rc.send(alice, elsewhere, secret('another room'));
    const tampered = String(content.ciphertext);
    const flipped = (tampered[0] === 'A' ? 'B' : 'A') + tampered.slice(1);
    const hostile: Record<string, unknown> = { ...content };
    Object.defineProperty(hostile, 'ciphertext', {
      enumerable: true,
      get() {
        throw new Error('a getter the app planted');
      },
    });
    const cases: Array<[string, () => Promise<unknown>, string[]]> = [
      // Rooms and messages the app is not in or that do not exist.
      [
        'a room the app is not authorized for',
        () => service.decryptMessage(app.appId, { roomId: elsewhere, content: foreign.content }),
        ['KEYSTORE_NOT_AUTHORIZED'],
      ],
      [
        "another room's envelope under this room's authorization",
        () => service.decryptMessage(app.appId, { roomId, content: foreign.content }),
        ['KEYSTORE_NO_ROOM_KEY'],
      ],
      [
        "another room's message id",
        () => service.decryptMessage(app.appId, { roomId, messageId: foreign._id }),
        ['HOST_NO_MESSAGE'],
      ],
      [
        'a message id that does not exist',
        () => service.decryptMessage(app.appId, { roomId, messageId: randomUUID() }),
        ['HOST_NO_MESSAGE'],
      ],
      [
        'a room id that is not an id',
        () => service.decryptMessage(app.appId, { roomId: '../$where', content }),
        ['KEYSTORE_BAD_INPUT', 'KEYSTORE_NOT_AUTHORIZED'],
      ],
      [
        'a room id that is not a string',
        () => service.decryptMessage(app.appId, { roomId: { $ne: '' } as never, content }),
        ['KEYSTORE_BAD_INPUT', 'E2EE_BAD_INPUT'],
      ],
      [
        'an app id that is not installed',
        () => service.decryptMessage(randomUUID(), { roomId, content }),
        ['HOST_NO_PERMISSION'],
      ],
      // Envelopes the app built.
      [
        'no envelope at all',
        () => service.decryptMessage(app.appId, { roomId }),
        ['E2EE_BAD_INPUT', 'E2EE_BAD_ENVELOPE', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'a string for an envelope',
        () => service.decryptMessage(app.appId, { roomId, content: 'ciphertext' as never }),
        ['E2EE_BAD_INPUT', 'E2EE_BAD_ENVELOPE', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'an array for an envelope',
        () => service.decryptMessage(app.appId, { roomId, content: [content] as never }),
        ['E2EE_BAD_INPUT', 'E2EE_BAD_ENVELOPE', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'a flipped ciphertext',
        () => service.decryptMessage(app.appId, { roomId, content: { ...content, ciphertext: flipped } }),
        ['E2EE_DECRYPT_FAILED'],
      ],
      [
        'another algorithm',
        () => service.decryptMessage(app.appId, { roomId, content: { ...content, algorithm: 'rc.v9' } }),
        ['E2EE_UNSUPPORTED_ALGORITHM'],
      ],
      [
        'an iv of the wrong length',
        () => service.decryptMessage(app.appId, { roomId, content: { ...content, iv: 'AAAA' } }),
        ['E2EE_BAD_ENVELOPE', 'E2EE_DECRYPT_FAILED'],
      ],
      [
        'a getter that throws',
        () => service.decryptMessage(app.appId, { roomId, content: hostile }),
        ['E2EE_BAD_INPUT', 'E2EE_BAD_ENVELOPE', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'a proxy for an envelope',
        () =>
          service.decryptMessage(app.appId, {
            roomId,
            content: new Proxy(content, {
              get: () => {
                throw new Error('trap');
              },
            }),
          }),
        ['E2EE_BAD_INPUT', 'E2EE_BAD_ENVELOPE', 'KEYSTORE_BAD_INPUT'],
      ],
      // Payloads and sends.
      [
        'a payload that is not an object',
        () => service.sendEncryptedMessage(app.appId, roomId, 42 as never),
        ['E2EE_BAD_INPUT', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'a Date for a payload',
        () => service.sendEncryptedMessage(app.appId, roomId, new Date() as never),
        ['E2EE_BAD_INPUT', 'KEYSTORE_BAD_INPUT'],
      ],
      [
        'a send to a room the app is not authorized for',
        () => service.sendEncryptedMessage(app.appId, elsewhere, { msg: 'x' }),
        ['KEYSTORE_NOT_AUTHORIZED', 'KEYSTORE_NO_ROOM_KEY'],
      ],
      [
        'a thread id that is not a string',
        () => service.sendEncryptedMessage(app.appId, roomId, { msg: 'x' }, { threadId: { $gt: '' } as never }),
        ['E2EE_BAD_INPUT'],
      ],
      [
        'a thread of another room',
        () => service.sendEncryptedMessage(app.appId, roomId, { msg: 'x' }, { threadId: foreign._id }),
        ['HOST_NO_MESSAGE'],
      ],
      [
        'a thread that does not exist',
        () => service.sendEncryptedMessage(app.appId, roomId, { msg: 'x' }, { threadId: randomUUID() }),
        ['HOST_NO_MESSAGE'],
      ],
      [
        'a room id that is an operator, for a send',
        () => service.encryptContent(app.appId, { $ne: '' } as never, { msg: 'x' }),
        ['E2EE_BAD_INPUT'],
      ],
      [
        'a message id that is an operator',
        () => service.decryptMessage(app.appId, { roomId, messageId: { $gt: '' } as never }),
        ['E2EE_BAD_INPUT'],
      ],
    ];
    // Everything but the audit, which counts refusals (per app, without the rooms the app named).
    const state = async () => {
      const parts: string[] = [];
      for (const { name } of await rc.db.listCollections({}, { nameOnly: true }).toArray()) {
        if (name !== 'rc_e2ee_audit') parts.push(name, JSON.stringify(await rc.db.collection(name).find({}).toArray()));
      }
      return parts.join('\n');
    };
    const audited = async () =>
      (await store.audit({ appId: app.appId }))
        .filter((record) => record.outcome === 'ok')
        .map((record) => `${record.action} ${record.detail ?? ''}`);
    const stored = await state();
    const granted = await audited();
    const events = rc.events.length;
    const refused: Record<string, string> = {};
    for (const [label, attempt, codes] of cases) {
      const got = await attempt().then(
        () => 'ok',
        (error: Error & { code?: unknown }) =>
          error instanceof E2EEError ? error.code : `${error.name}: ${error.message}`,
      );
      refused[label] = codes.includes(got) ? 'refused' : got;
    }
    expect(refused).toEqual(Object.fromEntries(cases.map(([label]) => [label, 'refused'])));
    // Nothing the app handed over was stored, sent or announced; the audit gained no success.
    expect(await state()).toEqual(stored);
    expect(await audited()).toEqual(granted);
    expect(rc.events).toHaveLength(events);
    // A kid the room never had is read as Rocket.Chat's client reads it: with the current key,
    // which opens only what it sealed (AES-GCM), so a relabelled envelope gains nothing.
    expect((await service.decryptMessage(app.appId, { roomId, content: { ...content, kid: 'nope' } })).msg).toMatch(
      /^the real message/,
    );
    // And the real message still reads.
    expect((await service.decryptMessage(app.appId, { roomId, messageId: message._id })).msg).toMatch(
      /^the real message/,
    );
  });

  test('a message of 4 MiB reads exactly, stored or handed in, on a fresh instance too; tampering is refused', async () => {
    const app = await rc.installApp(['e2ee.read']);
    const { bob, roomId } = await roomWithAppHoldingKey(app);
    // Over the staging slice and the synchronous bound: the ciphertext crosses a slice per turn,
    // the payload comes back split on the worker.
    const payload = {
      msg: `${secret('large message').msg}\n${'ü€ x"'.repeat(512 * 1024)}`,
      attachments: [{ description: 'd'.repeat(300_000), title: 'a long one' }],
    };
    const large = await rc.send(bob, roomId, payload);
    const content = large.content as unknown as Record<string, string>;
    expect(content.ciphertext.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(await client.decryptPayload(bob.rooms.get(roomId)!, content as never)).toBe(JSON.stringify(payload));
    expect(await service.decryptMessage(app.appId, { roomId, messageId: large._id })).toEqual(payload);
    expect(await service.decryptMessage(app.appId, { roomId, content })).toEqual(payload);
    // A fresh instance holds no key: the read loads the subscription and stages the text again.
    const fresh = await openService();
    try {
      expect(await fresh.service.decryptMessage(app.appId, { roomId, content })).toEqual(payload);
      expect(await fresh.service.decryptMessages(app.appId, roomId, [content, content])).toEqual([payload, payload]);
    } finally {
      await fresh.store.close();
    }
    const flipped = `${content.ciphertext[0] === 'A' ? 'B' : 'A'}${content.ciphertext.slice(1)}`;
    expect(
      await code(service.decryptMessage(app.appId, { roomId, content: { ...content, ciphertext: flipped } })),
    ).toBe('E2EE_DECRYPT_FAILED');
    const accented = `${content.ciphertext.slice(0, 200_000)}é${content.ciphertext.slice(200_001)}`;
    expect(
      await code(service.decryptMessage(app.appId, { roomId, content: { ...content, ciphertext: accented } })),
    ).toBe('E2EE_BAD_ENVELOPE');
  });

  test('an archiver reads a page of history in one call: old and new keys, one bad message alone, a refusal whole', async () => {
    const app = await rc.installApp(['e2ee.read']);
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const first = await rc.send(bob, roomId, secret('history under the first key'));
    await rc.resetRoomKey(alice, roomId);
    await rc.provideKeys(alice, roomId);
    const second = await rc.send(alice, roomId, secret('history under the second key'));
    const elsewhere = await rc.encryptedRoom(alice, []);
    const foreign = await rc.send(alice, elsewhere, secret('another room'));
    const content = { ...first.content } as Record<string, unknown>;
    const original = String(content.ciphertext);
    const tampered = { ...content, ciphertext: (original[0] === 'A' ? 'B' : 'A') + original.slice(1) };
    const page = [first.content, second.content, tampered, 42, foreign.content, null];
    // A fresh instance holds no key: the page finds them missing, loads the subscription once, retries.
    const archiver = await openService();
    try {
      const results = await archiver.service.decryptMessages(app.appId, roomId, page);
      const outcomes = results.map((result) =>
        result instanceof E2EEError ? result.code : (result as { msg: string }).msg.replace(/ [0-9a-f-]{36}$/, ''),
      );
      expect(outcomes).toEqual([
        'history under the first key',
        'history under the second key',
        'E2EE_DECRYPT_FAILED',
        'E2EE_BAD_ENVELOPE',
        'KEYSTORE_NO_ROOM_KEY',
        'E2EE_BAD_ENVELOPE',
      ]);
      const many = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => first.content);
      expect(await code(archiver.service.decryptMessages(app.appId, roomId, many))).toBe('KEYSTORE_BAD_INPUT');
      expect(await code(archiver.service.decryptMessages(app.appId, roomId, 'not a page' as never))).toBe(
        'E2EE_BAD_INPUT',
      );
      expect(await code(archiver.service.decryptMessages(app.appId, elsewhere, [foreign.content]))).toBe(
        'KEYSTORE_NOT_AUTHORIZED',
      );
      await service.revokeRoom(app.appId, roomId, alice.userId);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the other instance's authorization TTL
      expect(await code(archiver.service.decryptMessages(app.appId, roomId, [first.content]))).toBe(
        'KEYSTORE_NOT_AUTHORIZED',
      );
    } finally {
      await archiver.store.close();
    }
  });

  test('a key planted before anyone wrote is provisional, and the next honest message finds it out', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    const mallory = await rc.browser('mallory');
    await rc.join(roomId, mallory.userId);
    const planted = { ...(await client.generateRoomKey()), kid: alice.rooms.get(roomId)!.kid };
    await rc.provideKeys(mallory, roomId, { key: planted });
    // Nobody else has written under the kid: nothing can refute it yet.
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeDefined();
    // A message under another kid says nothing about this key and settles nothing.
    const elsewhere = await client.generateRoomKey();
    await rc.send(bob, roomId, secret('under some other kid'), { key: elsewhere });
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeDefined();
    // Bob writes under the real key: the planted key does not open it, so the app's copy goes.
    await rc.send(bob, roomId, secret('the real thing'));
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    await rc.provideKeys(alice, roomId);
    const later = await rc.send(bob, roomId, secret('read with the real key'));
    expect((await service.decryptMessage(app.appId, { roomId, messageId: later._id })).msg).toMatch(
      /^read with the real key/,
    );
  });

  test('a key planted on one instance is found out by an honest message saved on another, and the first drops it', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    const mallory = await rc.browser('mallory');
    await rc.join(roomId, mallory.userId);
    const planted = { ...(await client.generateRoomKey()), kid: alice.rooms.get(roomId)!.kid };
    // The first instance accepts Mallory's key before anyone wrote: provisional.
    await rc.provideKeys(mallory, roomId, { key: planted });
    await service.encryptContent(app.appId, roomId, { msg: 'probe' });
    // Bob's message is saved on a second instance that never held the key (or after a restart).
    const second = await openService();
    try {
      rc.service = second.service;
      await rc.send(bob, roomId, secret('the real thing, saved elsewhere'));
      expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
      expect(await rc.waiting(roomId)).toContain(app.appUserId);
      // The first instance drops the planted key at its next authorization check: no answer
      // goes out under Mallory's key.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await code(service.encryptContent(app.appId, roomId, { msg: 'answer' }))).toBe('KEYSTORE_NO_ROOM_KEY');
      // The real key arrives and every instance reads with it.
      await rc.provideKeys(alice, roomId);
      const later = await rc.send(bob, roomId, secret('read with the real key'));
      for (const instance of [service, second.service]) {
        expect((await instance.decryptMessage(app.appId, { roomId, messageId: later._id })).msg).toMatch(
          /^read with the real key/,
        );
      }
    } finally {
      rc.service = service;
      await second.store.close();
    }
  });

  test('an app user in a room its app is not authorized for stops waiting, until the grant queues it', async () => {
    const app = await rc.installApp();
    const alice = await rc.browser('alice');
    const roomId = await rc.encryptedRoom(alice, []);
    await service.enableApp(app.appId);
    await rc.join(roomId, app.appUserId);
    // Alice's client wraps the key to every waiting user, the app user too: refused, and out of
    // the queue, so no client keeps wrapping keys the key store would refuse.
    await rc.provideKeys(alice, roomId);
    expect((await rc.subscription(roomId, app.appUserId))?.E2ESuggestedKey).toBeUndefined();
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    expect(await rc.waiting(roomId)).not.toContain(app.appUserId);
    // The grant puts it back in line, and the next key delivery reaches it.
    await service.authorizeRoom(app.appId, roomId, alice.userId);
    expect(await rc.waiting(roomId)).toContain(app.appUserId);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(alice, roomId, secret('after the grant'));
    expect((await service.decryptMessage(app.appId, { roomId, messageId: message._id })).msg).toMatch(
      /^after the grant/,
    );
  });

  test('a malformed suggestion is cleared, not retried forever', async () => {
    const app = await rc.installApp();
    const { alice, roomId } = await roomWithApp(app);
    await rc.db
      .collection('rocketchat_subscription')
      .updateOne({ rid: roomId, 'u._id': app.appUserId }, { $set: { E2ESuggestedKey: 'not a wrapped key' } });
    const outcome = await service.onSuggestedKey(app.appId, app.appUserId, roomId, alice.userId);
    expect(outcome).toMatchObject({ outcome: 'rejected' });
    expect((await rc.subscription(roomId, app.appUserId))?.E2ESuggestedKey).toBeUndefined();
  });

  test("revoking the app's identity ends access in every room and tells the app per room", async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('before the identity went'));
    expect(await service.revokeApp(app.appId, alice.userId)).toEqual([roomId]);
    expect(rc.events).toContainEqual({ type: 'accessRevoked', appId: app.appId, roomId, reason: 'identity-revoked' });
    expect((await rc.subscription(roomId, app.appUserId))?.E2EKey).toBeUndefined();
    expect(await code(service.decryptMessage(app.appId, { roomId, content: message.content }))).toMatch(/^KEYSTORE_/);
    // Revoking a grant the app does not have tells it nothing.
    const before = rc.events.length;
    const other = await rc.installApp();
    await service.enableApp(other.appId);
    expect(await service.revokeRoom(other.appId, roomId, alice.userId)).toBe(false);
    expect(rc.events.length).toBe(before);
  });

  test('a membership TTL out of range is refused when the service is made', () => {
    for (const membershipTtlMs of [-1, 1.5, 60_001]) {
      expect(() => new E2EEHostService(store, rc.ports(), { membershipTtlMs })).toThrow(/membershipTtlMs/);
    }
  });

  test('an app user that leaves the room loses access at once', async () => {
    const app = await rc.installApp();
    const { alice, bob, roomId } = await roomWithApp(app);
    await rc.provideKeys(alice, roomId);
    const message = await rc.send(bob, roomId, secret('members only'));
    expect((await service.decryptMessage(app.appId, { roomId, content: message.content })).msg).toMatch(
      /^members only/,
    );
    await rc.leave(roomId, app.appUserId);
    await service.onAppUserLeft(app.appId, roomId);
    expect(await code(service.decryptMessage(app.appId, { roomId, content: message.content }))).toBe('HOST_NOT_MEMBER');
  });
});
