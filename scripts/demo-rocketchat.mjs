// An in-memory stand-in for a Rocket.Chat 8.8 server's end-to-end-encryption state, for the
// demo (scripts/demo.mjs): its collections (users, rooms, subscriptions, messages) as Maps with
// Rocket.Chat's field names, the server methods browsers call, the host service's ports over
// them, and browsers that do what Rocket.Chat's web client does, with the package's codec.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const e2ee = require('../native');

const pair = (roomId, userId) => `${roomId}\u0000${userId}`;

export class MemoryRocketChat {
  users = new Map();
  rooms = new Map();
  subscriptions = new Map();
  messages = new Map();
  apps = new Map();
  events = [];
  /** Set once the service exists: the server's hooks call it, as the Meteor series wires them. */
  service = undefined;

  /** A person whose browser made an E2EE key pair and published its public half. */
  async person(name) {
    const userId = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const privateKey = await e2ee.RsaPrivateKey.generate();
    this.users.set(userId, { _id: userId, username: name, type: 'user', e2e: { public_key: privateKey.publicKey() } });
    return { name, userId, privateKey, rooms: new Map(), oldKeys: [] };
  }

  /** An installed app, its app user, and the permissions an admin granted it. */
  installApp(name, permissions) {
    const app = { name, appId: randomUUID(), appUserId: `${name}.bot`, permissions };
    this.users.set(app.appUserId, { _id: app.appUserId, username: app.appUserId, type: 'app', appId: app.appId });
    this.apps.set(app.appId, app);
    return app;
  }

  nameOf(userId) {
    return this.users.get(userId)?.username ?? userId;
  }

  /** An encrypted room created by `owner`, whose browser makes its first key (`e2e.setRoomKeyID`), or uses `roomKey`. */
  encryptedRoom(roomId, owner, members, roomKey = e2ee.RoomKey.generate()) {
    owner.rooms.set(roomId, roomKey);
    this.rooms.set(roomId, { _id: roomId, t: 'p', encrypted: true, e2eKeyId: roomKey.kid, usersWaitingForE2EKeys: [] });
    this.subscriptions.set(pair(roomId, owner.userId), {
      rid: roomId,
      u: { _id: owner.userId },
      E2EKey: e2ee.wrapRoomKey(roomKey, owner.privateKey.publicKey()),
    });
    for (const member of members) this.join(roomId, member.userId);
  }

  join(roomId, userId) {
    this.subscriptions.set(pair(roomId, userId), { rid: roomId, u: { _id: userId } });
    this.#queue(roomId, userId);
  }

  #queue(roomId, userId) {
    const room = this.rooms.get(roomId);
    if (!room.usersWaitingForE2EKeys.some((entry) => entry.userId === userId)) {
      room.usersWaitingForE2EKeys.push({ userId, ts: new Date() });
    }
  }

  #dequeue(roomId, userId) {
    const room = this.rooms.get(roomId);
    room.usersWaitingForE2EKeys = room.usersWaitingForE2EKeys.filter((entry) => entry.userId !== userId);
  }

  /** Who waits for the room's key, by name. */
  waiting(roomId) {
    return this.rooms.get(roomId).usersWaitingForE2EKeys.map((entry) => this.nameOf(entry.userId));
  }

  /** A member's browser wraps a room key to every waiting user (`provideUsersSuggestedGroupKeys`). */
  async provideKeys(from, roomId, roomKey = from.rooms.get(roomId)) {
    const outcomes = [];
    for (const { userId } of [...this.rooms.get(roomId).usersWaitingForE2EKeys]) {
      const publicKey = this.users.get(userId)?.e2e?.public_key;
      if (!publicKey || userId === from.userId) continue;
      this.subscriptions.get(pair(roomId, userId)).E2ESuggestedKey = e2ee.wrapRoomKey(roomKey, publicKey);
      // Rocket.Chat takes a user out of the queue once a key was suggested to it.
      this.#dequeue(roomId, userId);
      // The hook the Meteor series adds: a suggestion for an app user goes to the service.
      const app = [...this.apps.values()].find((candidate) => candidate.appUserId === userId);
      if (app) outcomes.push(await this.service.onSuggestedKey(app.appId, userId, roomId, from.userId));
    }
    return outcomes;
  }

  /** A person's browser accepts its suggested key, as the web client does. */
  async accept(person, roomId) {
    const subscription = this.subscriptions.get(pair(roomId, person.userId));
    const previous = person.rooms.get(roomId);
    if (previous) person.oldKeys.push(previous);
    person.rooms.set(roomId, await e2ee.unwrapRoomKey(person.privateKey, subscription.E2ESuggestedKey));
    subscription.E2EKey = subscription.E2ESuggestedKey;
    delete subscription.E2ESuggestedKey;
    this.#dequeue(roomId, person.userId);
  }

  /** A person's browser sends an encrypted message. */
  async send(from, roomId, text) {
    const message = {
      _id: randomUUID(),
      rid: roomId,
      t: 'e2e',
      msg: '',
      content: e2ee.encryptContent(from.rooms.get(roomId), { msg: text }),
      u: { _id: from.userId },
      ts: new Date(),
    };
    this.messages.set(message._id, message);
    await this.service.onMessage(message);
    return message;
  }

  /** What a person's browser shows for a stored message: its text, or why it cannot. */
  read(person, messageId) {
    const message = this.messages.get(messageId);
    const current = person.rooms.get(message.rid);
    const keys = [...(current ? [current] : []), ...person.oldKeys];
    if (keys.length === 0) return '(no key for this room)';
    try {
      return e2ee.decryptMessage(new e2ee.RoomKeyRing(keys), message).msg;
    } catch (error) {
      return `(cannot decrypt: ${error.code})`;
    }
  }

  /** `e2e.resetRoomKey` by an owner's browser: a new key, old copies moved to `oldRoomKeys`, members queued. */
  async resetRoomKey(owner, roomId) {
    const previous = owner.rooms.get(roomId);
    const next = e2ee.RoomKey.generate();
    owner.rooms.set(roomId, next);
    owner.oldKeys.push(previous);
    this.rooms.get(roomId).e2eKeyId = next.kid;
    for (const subscription of this.subscriptions.values()) {
      if (subscription.rid !== roomId) continue;
      if (subscription.E2EKey) {
        subscription.oldRoomKeys = [
          { e2eKeyId: previous.kid, ts: new Date(), E2EKey: subscription.E2EKey },
          ...(subscription.oldRoomKeys ?? []),
        ];
      }
      if (subscription.u._id === owner.userId) {
        subscription.E2EKey = e2ee.wrapRoomKey(next, owner.privateKey.publicKey());
      } else {
        delete subscription.E2EKey;
        this.#queue(roomId, subscription.u._id);
      }
    }
    await this.service.onRoomKeyReset(roomId, previous.kid, next.kid);
    return { previous, next };
  }

  /** Every stored field of the stand-in's collections, as text. */
  dump() {
    return JSON.stringify([
      ...this.users.values(),
      ...this.rooms.values(),
      ...this.subscriptions.values(),
      ...this.messages.values(),
    ]);
  }

  /** The host service's ports over these collections. */
  ports() {
    return {
      users: {
        setPublicKey: async (userId, publicKey) => {
          this.users.get(userId).e2e = { public_key: publicKey };
        },
      },
      rooms: {
        findById: async (roomId) => this.rooms.get(roomId),
        addToWaitingQueue: async (roomId, userId) => this.#queue(roomId, userId),
        removeFromWaitingQueue: async (roomId, userId) => this.#dequeue(roomId, userId),
      },
      subscriptions: {
        find: async (roomId, userId) => this.subscriptions.get(pair(roomId, userId)),
        listWithKeys: async (userId) =>
          [...this.subscriptions.values()].filter((s) => s.u._id === userId && (s.E2EKey || s.oldRoomKeys?.length)),
        // An identity rotation's compare-and-set: written only while the keys are still the ones it read.
        replaceRoomKeys: async (roomId, userId, previous, keys) => {
          const subscription = this.subscriptions.get(pair(roomId, userId));
          const wrapped = (list) => (list ?? []).map((old) => old.E2EKey).join('\n');
          if (
            !subscription ||
            (subscription.E2EKey ?? null) !== (previous.E2EKey ?? null) ||
            wrapped(subscription.oldRoomKeys) !== wrapped(previous.oldRoomKeys)
          ) {
            return false;
          }
          if (keys.E2EKey) subscription.E2EKey = keys.E2EKey;
          else delete subscription.E2EKey;
          if (keys.oldRoomKeys?.length) subscription.oldRoomKeys = keys.oldRoomKeys;
          else delete subscription.oldRoomKeys;
          return true;
        },
        acceptSuggestedKey: async (roomId, userId, keys) => {
          const subscription = this.subscriptions.get(pair(roomId, userId));
          Object.assign(subscription, keys);
          delete subscription.E2ESuggestedKey;
          delete subscription.suggestedOldRoomKeys;
        },
        clearSuggestedKey: async (roomId, userId) => {
          const subscription = this.subscriptions.get(pair(roomId, userId));
          delete subscription.E2ESuggestedKey;
          delete subscription.suggestedOldRoomKeys;
        },
        clearRoomKeys: async (roomId, userId) => {
          const subscription = this.subscriptions.get(pair(roomId, userId));
          if (!subscription) return;
          delete subscription.E2EKey;
          delete subscription.oldRoomKeys;
        },
      },
      messages: {
        findById: async (messageId) => this.messages.get(messageId),
        newestUnderKid: async (roomId, kid, limit) =>
          [...this.messages.values()]
            .filter((m) => m.rid === roomId && m.t === 'e2e' && m.content?.kid === kid)
            .sort((a, b) => b.ts - a.ts)
            .slice(0, limit),
        send: async (userId, message) => {
          if (!this.subscriptions.has(pair(message.rid, userId))) throw new Error('error-not-allowed');
          const stored = { _id: randomUUID(), ...message, u: { _id: userId }, ts: new Date() };
          this.messages.set(stored._id, stored);
          return stored._id;
        },
      },
      apps: {
        appUserId: (appId) => this.apps.get(appId)?.appUserId,
        hasPermission: (appId, permission) => this.apps.get(appId)?.permissions.includes(permission) ?? false,
        isMember: async (roomId, userId) => this.subscriptions.has(pair(roomId, userId)),
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
