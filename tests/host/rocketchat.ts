/**
 * A Rocket.Chat 8.8 server's side of end-to-end encryption, for the host service's scenarios:
 * its collections (`users`, `rocketchat_room`, `rocketchat_subscription`, `rocketchat_message`)
 * on FerretDB with Rocket.Chat's document shapes, the server methods browsers call
 * (`e2e.setRoomKeyID`, `e2e.setUserPublicAndPrivateKeys`, `provideUsersSuggestedGroupKeys`,
 * `e2e.resetRoomKey`, `sendMessage`), the service's ports over those collections, and browsers
 * played by the WebCrypto client following Rocket.Chat's client flows.
 */
import { randomUUID } from 'node:crypto';

import { Db, MongoClient } from 'mongodb';

import type {
  E2EEHostService,
  HostEvent,
  HostPorts,
  MessageDoc,
  OldRoomKey,
  RoomDoc,
  SubscriptionDoc,
  SubscriptionRoomKeys,
} from '../../native';
import * as client from '../native/webcrypto-client';

export interface Browser {
  userId: string;
  keys: client.UserKeys;
  /** Room keys this browser holds, by room. */
  rooms: Map<string, client.ClientRoomKey>;
}

/** An app as the Apps-Engine knows it: its id, its user, its granted permissions. */
export interface InstalledApp {
  appId: string;
  appUserId: string;
  permissions: Array<'e2ee.read' | 'e2ee.write'>;
}

type Doc = Record<string, unknown> & { _id: string };

export class RocketChat {
  readonly events: HostEvent[] = [];
  readonly apps = new Map<string, InstalledApp>();
  /** Set after construction: Rocket.Chat's hooks call the service, as the Meteor series wires it. */
  service?: E2EEHostService;

  private constructor(
    readonly mongo: MongoClient,
    readonly db: Db,
  ) {}

  static async connect(url: string, database: string): Promise<RocketChat> {
    const mongo = await MongoClient.connect(url);
    return new RocketChat(mongo, mongo.db(database));
  }

  async close(): Promise<void> {
    await this.mongo.close();
  }

  private get users() {
    return this.db.collection<Doc>('users');
  }
  private get rooms() {
    return this.db.collection<Doc>('rocketchat_room');
  }
  private get subscriptions() {
    return this.db.collection<Doc>('rocketchat_subscription');
  }
  private get messages() {
    return this.db.collection<Doc>('rocketchat_message');
  }

  // ----- people, apps and rooms -----

  /** A user whose browser generated an E2EE key pair and stored it (`e2e.setUserPublicAndPrivateKeys`). */
  async browser(username: string): Promise<Browser> {
    const userId = randomUUID();
    const keys = await client.generateUserKeys();
    const privateKey = await client.wrapPrivateKey(keys.privateJwk, 'correct horse battery staple', userId);
    await this.users.insertOne({
      _id: userId,
      username,
      type: 'user',
      e2e: { public_key: keys.publicKey, private_key: privateKey },
    });
    return { userId, keys, rooms: new Map() };
  }

  /** An installed app and its app user (`type: 'app'`), with the permissions it was granted. */
  async installApp(permissions: InstalledApp['permissions'] = ['e2ee.read', 'e2ee.write']): Promise<InstalledApp> {
    const app = { appId: randomUUID(), appUserId: randomUUID(), permissions };
    await this.users.insertOne({
      _id: app.appUserId,
      username: `app.${app.appId.slice(0, 8)}`,
      type: 'app',
      appId: app.appId,
    });
    this.apps.set(app.appId, app);
    return app;
  }

  /** `rooms.create` with encryption on, by `owner`, whose browser makes the first key (`e2e.setRoomKeyID`). */
  async encryptedRoom(owner: Browser, members: string[]): Promise<string> {
    const roomId = randomUUID().replace(/-/g, '').slice(0, 17);
    const key = await client.generateRoomKey();
    owner.rooms.set(roomId, key);
    await this.rooms.insertOne({ _id: roomId, t: 'p', encrypted: true, e2eKeyId: key.kid, usersWaitingForE2EKeys: [] });
    await this.subscriptions.insertOne({
      _id: randomUUID(),
      rid: roomId,
      u: { _id: owner.userId },
      roles: ['owner'],
      E2EKey: await client.wrapRoomKey(key, owner.keys.publicKey),
    });
    for (const userId of members) await this.join(roomId, userId);
    return roomId;
  }

  /**
   * `rooms.create` with encryption on, before any client made a key: no `e2eKeyId` yet, the
   * members (the owner included) subscribed and queued, as Rocket.Chat leaves a new room until
   * the creating client calls `e2e.setRoomKeyID`.
   */
  async encryptedRoomWithoutKey(owner: Browser, members: string[]): Promise<string> {
    const roomId = randomUUID().replace(/-/g, '').slice(0, 17);
    await this.rooms.insertOne({ _id: roomId, t: 'p', encrypted: true, usersWaitingForE2EKeys: [] });
    await this.subscriptions.insertOne({ _id: randomUUID(), rid: roomId, u: { _id: owner.userId }, roles: ['owner'] });
    for (const userId of members) await this.join(roomId, userId);
    return roomId;
  }

  /**
   * `e2e.setRoomKeyID` by a browser: a member may set the room's key id once (Rocket.Chat refuses
   * a second with `error-room-e2e-key-already-exists`); the browser keeps the key and stores its
   * own copy. Then the hook the Meteor series adds tells the service.
   */
  async setRoomKeyID(browser: Browser, roomId: string): Promise<client.ClientRoomKey> {
    if (!(await this.subscription(roomId, browser.userId))) throw new Error('error-invalid-room');
    const key = await client.generateRoomKey();
    const { modifiedCount } = await this.rooms.updateOne(
      { _id: roomId, e2eKeyId: { $exists: false } },
      { $set: { e2eKeyId: key.kid } },
    );
    if (!modifiedCount) throw new Error('error-room-e2e-key-already-exists');
    browser.rooms.set(roomId, key);
    await this.subscriptions.updateOne(
      { rid: roomId, 'u._id': browser.userId },
      { $set: { E2EKey: await client.wrapRoomKey(key, browser.keys.publicKey) } },
    );
    await this.dequeue(roomId, browser.userId);
    await this.service?.onRoomKeyIdSet(roomId, key.kid);
    return key;
  }

  /**
   * `saveRoomSettings` with `encrypted` (`saveRoomEncrypted`): only a room owner may (Rocket.Chat's
   * `edit-room` check refuses anyone else before any write); the room's flag is written, the
   * `room_e2e_enabled`/`room_e2e_disabled` system message saved, then the series' hook runs.
   */
  async saveRoomEncrypted(actor: Browser, roomId: string, encrypted: boolean): Promise<void> {
    const sub = await this.subscriptions.findOne({ rid: roomId, 'u._id': actor.userId });
    if (!(sub?.roles as string[] | undefined)?.includes('owner')) throw new Error('error-action-not-allowed');
    await this.rooms.updateOne({ _id: roomId }, { $set: { encrypted } });
    await this.messages.insertOne({
      _id: randomUUID(),
      rid: roomId,
      t: encrypted ? 'room_e2e_enabled' : 'room_e2e_disabled',
      msg: '',
      u: { _id: actor.userId },
      ts: new Date(),
    });
    await this.service?.onRoomEncryptionChanged(roomId);
  }

  /**
   * `resetUserE2EEncriptionKey` (an admin's `users.resetE2EKey`): the user's keys and every room
   * key of its subscriptions unset, the user queued in all its rooms; for an app user the
   * series' hook then tells the service.
   */
  async resetUserE2EKey(userId: string): Promise<void> {
    await this.users.updateOne({ _id: userId }, { $unset: { e2e: '' } });
    await this.subscriptions.updateMany(
      { 'u._id': userId },
      { $unset: { E2EKey: '', E2ESuggestedKey: 1, oldRoomKeys: 1 } },
    );
    const roomIds = (await this.subscriptions.find({ 'u._id': userId }).toArray()).map((sub) => sub.rid as string);
    for (const roomId of roomIds) await this.queue(roomId, userId);
    const app = [...this.apps.values()].find((candidate) => candidate.appUserId === userId);
    if (app) await this.service?.onAppUserKeyReset(app.appId, roomIds);
  }

  /** A member joins: subscribed, and queued for the key like any member without one. */
  async join(roomId: string, userId: string): Promise<void> {
    await this.subscriptions.insertOne({ _id: randomUUID(), rid: roomId, u: { _id: userId } });
    await this.queue(roomId, userId);
  }

  /** Takes a member out of the waiting queue, as whatever emptied it would (a test's set-up). */
  async unqueue(roomId: string, userId: string): Promise<void> {
    await this.dequeue(roomId, userId);
  }

  /** The server leaves a member's subscription and queue; the browser calls this on removal. */
  async leave(roomId: string, userId: string): Promise<void> {
    await this.subscriptions.deleteOne({ rid: roomId, 'u._id': userId });
    await this.dequeue(roomId, userId);
  }

  /** Out of the waiting queue (read, filter, write: FerretDB 1.24's `$pull` matches whole elements only). */
  private async dequeue(roomId: string, userId: string): Promise<void> {
    const waiting = (await this.room(roomId))?.usersWaitingForE2EKeys ?? [];
    await this.rooms.updateOne(
      { _id: roomId },
      { $set: { usersWaitingForE2EKeys: waiting.filter((entry) => entry.userId !== userId) } },
    );
  }

  private async queue(roomId: string, userId: string): Promise<void> {
    const room = await this.rooms.findOne({ _id: roomId, 'usersWaitingForE2EKeys.userId': userId });
    if (!room)
      await this.rooms.updateOne({ _id: roomId }, {
        $push: { usersWaitingForE2EKeys: { userId, ts: new Date() } },
      } as never);
  }

  // ----- what browsers do -----

  /** A member's browser reads the waiting queue and wraps the room key to each waiting user (`provideUsersSuggestedGroupKeys`). */
  async provideKeys(
    from: Browser,
    roomId: string,
    options: { key?: client.ClientRoomKey; oldKeys?: client.ClientRoomKey[] } = {},
  ): Promise<void> {
    const room = (await this.rooms.findOne({ _id: roomId })) as RoomDoc | null;
    const key = options.key ?? from.rooms.get(roomId);
    if (!room || !key) throw new Error('the browser has no key for the room');
    for (const { userId } of room.usersWaitingForE2EKeys ?? []) {
      const user = await this.users.findOne({ _id: userId });
      const publicKey = (user?.e2e as { public_key?: string } | undefined)?.public_key;
      if (!publicKey) continue; // a user without keys yet is skipped, as the client does
      const suggestedOldRoomKeys: OldRoomKey[] = [];
      for (const old of options.oldKeys ?? []) {
        suggestedOldRoomKeys.push({
          e2eKeyId: old.kid,
          ts: new Date(),
          E2EKey: await client.wrapRoomKey(old, publicKey),
        });
      }
      await this.subscriptions.updateOne(
        { rid: roomId, 'u._id': userId },
        {
          $set: {
            E2ESuggestedKey: await client.wrapRoomKey(key, publicKey),
            ...(suggestedOldRoomKeys.length ? { suggestedOldRoomKeys } : {}),
          },
        },
      );
      // Rocket.Chat takes a user out of the queue once a key was suggested to it.
      await this.dequeue(roomId, userId);
      // The hook the Meteor series adds: a suggestion for an app user goes to the service.
      const app = [...this.apps.values()].find((candidate) => candidate.appUserId === userId);
      if (app && this.service) await this.service.onSuggestedKey(app.appId, userId, roomId, from.userId);
    }
  }

  /** A browser sends an encrypted message (`sendMessage` with `t: 'e2e'`). */
  async send(
    from: Browser,
    roomId: string,
    payload: object,
    options: { key?: client.ClientRoomKey; tmid?: string } = {},
  ): Promise<MessageDoc> {
    const key = options.key ?? from.rooms.get(roomId);
    if (!key) throw new Error('the browser has no key for the room');
    const message = {
      _id: randomUUID(),
      rid: roomId,
      t: 'e2e',
      msg: '',
      content: await client.encryptPayload(key, payload),
      u: { _id: from.userId },
      ts: new Date(),
      ...(options.tmid ? { tmid: options.tmid } : {}),
    };
    await this.messages.insertOne(message);
    await this.service?.onMessage(message);
    return message;
  }

  /** A browser reads a stored message. */
  async read(browser: Browser, messageId: string): Promise<unknown> {
    const message = (await this.messages.findOne({ _id: messageId })) as MessageDoc | null;
    const key = message && browser.rooms.get(message.rid);
    if (!message?.content || !key) throw new Error('cannot read');
    const kid = message.content.kid;
    const ring = key.kid === kid ? key : undefined;
    if (!ring) throw new Error('message under another key');
    return JSON.parse(await client.decryptPayload(ring, message.content as { iv: string; ciphertext: string }));
  }

  /** `e2e.resetRoomKey` by an owner's browser: a new key, the old one moved to `oldRoomKeys`, every member queued. */
  async resetRoomKey(
    owner: Browser,
    roomId: string,
  ): Promise<{ previous: client.ClientRoomKey; next: client.ClientRoomKey }> {
    const previous = owner.rooms.get(roomId);
    if (!previous) throw new Error('not an owner with the key');
    const next = await client.generateRoomKey();
    owner.rooms.set(roomId, next);
    await this.rooms.updateOne({ _id: roomId }, { $set: { e2eKeyId: next.kid } });
    for (const sub of await this.subscriptions.find({ rid: roomId }).toArray()) {
      const userId = (sub.u as { _id: string })._id;
      const old = sub.E2EKey
        ? [
            { e2eKeyId: previous.kid, ts: new Date(), E2EKey: sub.E2EKey as string },
            ...((sub.oldRoomKeys as OldRoomKey[]) ?? []),
          ]
        : ((sub.oldRoomKeys as OldRoomKey[]) ?? []);
      const E2EKey = userId === owner.userId ? await client.wrapRoomKey(next, owner.keys.publicKey) : undefined;
      await this.subscriptions.updateOne(
        { _id: sub._id },
        E2EKey ? { $set: { oldRoomKeys: old, E2EKey } } : { $set: { oldRoomKeys: old }, $unset: { E2EKey: 1 } },
      );
      if (userId !== owner.userId) await this.queue(roomId, userId);
    }
    await this.service?.onRoomKeyReset(roomId, previous.kid, next.kid);
    return { previous, next };
  }

  /** A human accepts a suggested key in the browser (what the app's host does for the app). */
  async acceptAsBrowser(browser: Browser, roomId: string): Promise<void> {
    const sub = await this.subscriptions.findOne({ rid: roomId, 'u._id': browser.userId });
    const suggested = sub?.E2ESuggestedKey as string | undefined;
    if (!suggested) throw new Error('no suggestion');
    browser.rooms.set(roomId, await client.unwrapRoomKey(suggested, browser.keys.privateKey));
    await this.subscriptions.updateOne(
      { _id: sub!._id },
      { $set: { E2EKey: suggested }, $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 } },
    );
    await this.dequeue(roomId, browser.userId);
  }

  // ----- reading the database -----

  async subscription(roomId: string, userId: string): Promise<SubscriptionDoc | undefined> {
    return (
      ((await this.subscriptions.findOne({ rid: roomId, 'u._id': userId })) as SubscriptionDoc | null) ?? undefined
    );
  }

  async room(roomId: string): Promise<RoomDoc | undefined> {
    return ((await this.rooms.findOne({ _id: roomId })) as RoomDoc | null) ?? undefined;
  }

  async waiting(roomId: string): Promise<string[]> {
    return ((await this.room(roomId))?.usersWaitingForE2EKeys ?? []).map((entry) => entry.userId);
  }

  async message(messageId: string): Promise<MessageDoc | undefined> {
    return ((await this.messages.findOne({ _id: messageId })) as MessageDoc | null) ?? undefined;
  }

  async publicKeyOf(userId: string): Promise<string | undefined> {
    return ((await this.users.findOne({ _id: userId }))?.e2e as { public_key?: string } | undefined)?.public_key;
  }

  /** Every document of every collection (Rocket.Chat's and the key store's), as text. */
  async dump(): Promise<string> {
    const parts: string[] = [];
    for (const { name } of await this.db.listCollections({}, { nameOnly: true }).toArray()) {
      parts.push(JSON.stringify(await this.db.collection(name).find({}).toArray()));
    }
    return parts.join('\n');
  }

  // ----- the service's ports over these collections -----

  /**
   * The rotation's compare-and-set: one `updateOne` whose filter is the subscription's keys as
   * the rotation read them (the `E2EKey`, or none; the `oldRoomKeys` by count and each entry's
   * `E2EKey` in order), so a reset or an accept in between makes it match nothing.
   */
  async replaceRoomKeys(
    roomId: string,
    userId: string,
    previous: SubscriptionRoomKeys,
    keys: SubscriptionRoomKeys,
  ): Promise<boolean> {
    const old = previous.oldRoomKeys ?? [];
    const filter: Record<string, unknown> = {
      rid: roomId,
      'u._id': userId,
      E2EKey: previous.E2EKey ?? { $exists: false },
      ...(old.length
        ? Object.fromEntries([
            ['oldRoomKeys', { $size: old.length }],
            ...old.map((entry, i) => [`oldRoomKeys.${i}.E2EKey`, entry.E2EKey]),
          ])
        : { $or: [{ oldRoomKeys: { $exists: false } }, { oldRoomKeys: { $size: 0 } }] }),
    };
    const set: Record<string, unknown> = {};
    const unset: Record<string, 1> = {};
    if (keys.E2EKey) set.E2EKey = keys.E2EKey;
    else unset.E2EKey = 1;
    if (keys.oldRoomKeys?.length) set.oldRoomKeys = keys.oldRoomKeys;
    else unset.oldRoomKeys = 1;
    const { modifiedCount, matchedCount } = await this.subscriptions.updateOne(filter as never, {
      ...(Object.keys(set).length ? { $set: set } : {}),
      ...(Object.keys(unset).length ? { $unset: unset } : {}),
    });
    return matchedCount > 0 || modifiedCount > 0;
  }

  ports(): HostPorts {
    return {
      users: {
        setPublicKey: async (userId, publicKey) => {
          await this.users.updateOne({ _id: userId }, { $set: { 'e2e.public_key': publicKey } });
        },
      },
      rooms: {
        findById: (roomId) => this.room(roomId),
        addToWaitingQueue: (roomId, userId) => this.queue(roomId, userId),
        removeFromWaitingQueue: async (roomId, userId) => {
          await this.dequeue(roomId, userId);
        },
      },
      subscriptions: {
        find: (roomId, userId) => this.subscription(roomId, userId),
        listWithKeys: async (userId) =>
          (await this.subscriptions
            .find({ 'u._id': userId, $or: [{ E2EKey: { $exists: true } }, { 'oldRoomKeys.0': { $exists: true } }] })
            .toArray()) as unknown as SubscriptionDoc[],
        replaceRoomKeys: (roomId, userId, previous, keys) => this.replaceRoomKeys(roomId, userId, previous, keys),
        acceptSuggestedKey: async (roomId, userId, keys) => {
          await this.subscriptions.updateOne(
            { rid: roomId, 'u._id': userId },
            {
              $set: { E2EKey: keys.E2EKey, oldRoomKeys: keys.oldRoomKeys },
              $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 },
            },
          );
        },
        clearSuggestedKey: async (roomId, userId) => {
          await this.subscriptions.updateOne(
            { rid: roomId, 'u._id': userId },
            { $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 } },
          );
        },
        clearRoomKeys: async (roomId, userId) => {
          await this.subscriptions.updateOne(
            { rid: roomId, 'u._id': userId },
            { $unset: { E2EKey: 1, oldRoomKeys: 1 } },
          );
        },
      },
      messages: {
        findById: (messageId) => this.message(messageId),
        newestUnderKid: async (roomId, kid, limit) =>
          (await this.messages
            .find({ rid: roomId, t: 'e2e', 'content.kid': kid })
            .sort({ ts: -1 })
            .limit(limit)
            .toArray()) as unknown as MessageDoc[],
        send: async (userId, message) => {
          // The normal send path's checks that matter here: membership, and encrypted rooms only.
          const member = await this.subscription(message.rid, userId);
          const room = await this.room(message.rid);
          if (!member || !room?.encrypted) throw new Error('error-not-allowed');
          const stored = { _id: randomUUID(), ...message, u: { _id: userId }, ts: new Date() };
          await this.messages.insertOne(stored);
          return stored._id;
        },
      },
      apps: {
        appUserId: (appId) => this.apps.get(appId)?.appUserId,
        hasPermission: (appId, permission) => this.apps.get(appId)?.permissions.includes(permission) ?? false,
        isMember: async (roomId, userId) => Boolean(await this.subscription(roomId, userId)),
        e2eeApps: () => [...this.apps.values()].filter((app) => app.permissions.length > 0).map((app) => app.appId),
      },
      events: {
        emit: async (event) => {
          this.events.push(event);
        },
      },
    };
  }
}
