/**
 * What the host service needs from Rocket.Chat, as small ports. The Meteor series implements
 * them over Rocket.Chat's models (with the `notifyOn…` broadcasts after each write); tests and
 * the demo implement them over FerretDB or memory. The document shapes are the few fields of
 * Rocket.Chat 8.8's documents that the flows read (`@rocket.chat/core-typings@8.8.1`'s
 * `ISubscription`, `IRoom`, `IMessage`; tests/host checks they agree), declared here so the
 * package does not depend on core-typings' dependency tree.
 */
import type { EncryptedContent } from '../content';
import type { OldRoomKey, SubscriptionRoomKeys } from '../keystore';

/** The E2EE fields of the app user's subscription to a room (`rocketchat_subscription`). */
export interface SubscriptionDoc {
  /** The room (`rocketchat_subscription.rid`, the room's `_id`). */
  rid: string;
  /**
   * `rocketchat_subscription.E2EKey`: the room's current key wrapped to the app user's public
   * key (the kid followed by the 344-character RSA-OAEP block). The service sets it on an accept
   * ({@link SubscriptionsPort.acceptSuggestedKey}); the key store reloads it after a restart.
   */
  E2EKey?: string;
  /**
   * `rocketchat_subscription.E2ESuggestedKey`: a key a member's client offered the app user
   * (`provideUsersSuggestedGroupKeys`), not yet accepted; the service judges it with the key
   * store's acceptance rule, then accepts or clears it.
   */
  E2ESuggestedKey?: string;
  /**
   * `rocketchat_subscription.oldRoomKeys`: the room's earlier keys wrapped to the app user, one
   * per kid, so messages sent before a key reset still open.
   */
  oldRoomKeys?: OldRoomKey[];
  /**
   * `rocketchat_subscription.suggestedOldRoomKeys`: old keys offered with `E2ESuggestedKey`; each
   * is judged under its own `e2eKeyId`, and only those not rejected join `oldRoomKeys`.
   */
  suggestedOldRoomKeys?: OldRoomKey[];
}

/** The E2EE fields of a room (`rocketchat_room`). */
export interface RoomDoc {
  /** The room id (`rocketchat_room._id`). */
  _id: string;
  /**
   * `rocketchat_room.encrypted`: whether the room is end-to-end encrypted. The service queues
   * and accepts keys only in encrypted rooms; encrypting for another room is `HOST_NOT_ENCRYPTED`.
   */
  encrypted?: boolean;
  /**
   * `rocketchat_room.e2eKeyId`: the kid of the room's current key (set by `e2e.setRoomKeyID`). A
   * suggested key must carry this kid, and the service encrypts only under it.
   */
  e2eKeyId?: string;
  /**
   * `rocketchat_room.usersWaitingForE2EKeys`: members waiting for a member's client to wrap the
   * room key to them; the service puts the app user here and takes it out once it holds the key.
   */
  usersWaitingForE2EKeys?: Array<{
    /** The waiting user's id (`users._id`). */
    userId: string;
    /** When the user was queued. */
    ts: Date;
  }>;
}

/** The fields of a stored message the flows read (`rocketchat_message`). */
export interface MessageDoc {
  /** The message id (`rocketchat_message._id`). */
  _id: string;
  /** The message's room (`rocketchat_message.rid`); a message of another room is never read. */
  rid: string;
  /** `rocketchat_message.t`: `'e2e'` for an encrypted message, the only type proofs and settling read. */
  t?: string;
  /** `rocketchat_message.msg`: empty for a v2 encrypted message; read with `content` by the key store. */
  msg?: string;
  /**
   * `rocketchat_message.content`: the encrypted envelope (its `kid` names the room key). Read
   * as a proof about a suggested key and decrypted for the app.
   */
  content?: EnvelopeDoc;
  /** `rocketchat_message.u`: the sender. */
  u: {
    /**
     * The sender's user id (`u._id`): only messages of senders other than the suggester and the
     * app user prove a key.
     */
    _id: string;
  };
  /** `rocketchat_message.tmid`: the thread's first message, for a thread reply. */
  tmid?: string;
  /**
   * `rocketchat_message.attachments`: a `message_pinned_e2e` system message carries the pinned
   * message's envelope in `attachments[0].content`, which the key store reads and checks
   * (Rocket.Chat types an attachment's `content` as any object).
   */
  attachments?: unknown[];
}

/**
 * An encrypted envelope as Rocket.Chat stores it (`content`): v2 (`rc.v2.aes-sha2` with `kid`,
 * `iv`, `ciphertext`) or the legacy v1 form (`rc.v1.aes-sha2`, kid prefixed to `ciphertext`).
 * The key store checks every member; a shape it does not recognise is refused there.
 */
export interface EnvelopeDoc {
  /** `content.algorithm`: `rc.v2.aes-sha2` or the legacy `rc.v1.aes-sha2`. */
  algorithm: string;
  /** `content.kid`: the room key's id (v2). */
  kid?: string;
  /** `content.iv`: base64 of the 12-byte AES-GCM IV (v2). */
  iv?: string;
  /** `content.ciphertext`: base64 ciphertext with the GCM tag (v2), or the v1 string. */
  ciphertext: string;
}

/** The encrypted message an app sends, as Rocket.Chat's clients send one. */
export interface OutgoingEncryptedMessage {
  /** The room (`rocketchat_message.rid`). */
  rid: string;
  /** `rocketchat_message.t`: always `'e2e'`, an encrypted message. */
  t: 'e2e';
  /** `rocketchat_message.msg`: always empty; the text is only in `content`. */
  msg: '';
  /** `rocketchat_message.content`: the v2 envelope under the room's current key (`e2eKeyId`). */
  content: EncryptedContent;
  /** Off: the server must not try to unfurl links it cannot see. */
  parseUrls: false;
  /** `rocketchat_message.tmid`: the thread to reply in; absent for a message in the room. */
  tmid?: string;
}

/** Users: the app user's public key, published where clients look for a member's key. */
export interface UsersPort {
  /** Sets `users.e2e.public_key` (never a private key) for `userId`. */
  setPublicKey(userId: string, publicKey: string): Promise<void>;
}

/** Rooms. */
export interface RoomsPort {
  /** The room (`rocketchat_room` by `_id`), or `undefined` when there is none. */
  findById(roomId: string): Promise<RoomDoc | undefined>;
  /** Puts `userId` in `usersWaitingForE2EKeys` (no-op when already there). */
  addToWaitingQueue(roomId: string, userId: string): Promise<void>;
  /** Takes `userId` out of `usersWaitingForE2EKeys` (no-op when not there). */
  removeFromWaitingQueue(roomId: string, userId: string): Promise<void>;
}

/** The app user's subscriptions. */
export interface SubscriptionsPort {
  /** `userId`'s subscription to the room (`rid` and `u._id`), or `undefined` when it has none. */
  find(roomId: string, userId: string): Promise<SubscriptionDoc | undefined>;
  /**
   * Every subscription of `userId` that holds a room key: an `E2EKey`, or `oldRoomKeys` only (a
   * reset left it waiting for the new key). Read for the reload at start and by an identity
   * rotation, which must re-wrap old keys too or they would be lost with the old private key.
   */
  listWithKeys(userId: string): Promise<SubscriptionDoc[]>;
  /**
   * Compare-and-set for an identity rotation: replaces the subscription's `E2EKey` and
   * `oldRoomKeys` with `keys` (an absent or `null` member is unset, an empty `oldRoomKeys` too)
   * only while it still holds exactly `previous` (the same `E2EKey`, or none, and the same
   * `oldRoomKeys` entries in order, compared by their `E2EKey`). Resolves `false`, writing
   * nothing, when it changed meanwhile (a room-key reset or an accept landed): the rotation
   * fails with `KEYSTORE_CONFLICT` and the next pass re-reads the subscription.
   */
  replaceRoomKeys(
    roomId: string,
    userId: string,
    previous: SubscriptionRoomKeys,
    keys: SubscriptionRoomKeys,
  ): Promise<boolean>;
  /**
   * What a client's accept of a suggested key does: `E2EKey` = the suggestion, `oldRoomKeys` =
   * `oldRoomKeys` (merged by the caller), and both suggestion fields unset.
   */
  acceptSuggestedKey(
    roomId: string,
    userId: string,
    keys: { E2EKey: string; oldRoomKeys: OldRoomKey[] },
  ): Promise<void>;
  /** Unsets `E2ESuggestedKey` and `suggestedOldRoomKeys` (a refused suggestion). */
  clearSuggestedKey(roomId: string, userId: string): Promise<void>;
  /** Unsets `E2EKey` and `oldRoomKeys` (a planted key found out, an access revoked). */
  clearRoomKeys(roomId: string, userId: string): Promise<void>;
}

/** Messages. */
export interface MessagesPort {
  /** The stored message (`rocketchat_message` by `_id`), or `undefined` when there is none. */
  findById(messageId: string): Promise<MessageDoc | undefined>;
  /** The room's newest `t: 'e2e'` messages whose `content.kid` is `kid`, newest first, at most `limit`. */
  newestUnderKid(roomId: string, kid: string, limit: number): Promise<MessageDoc[]>;
  /**
   * Sends through Rocket.Chat's normal send path as `userId`: membership, read-only rooms,
   * `E2E_Allow_Unencrypted_Messages`, rate limits and callbacks apply. Returns the message id.
   */
  send(userId: string, message: OutgoingEncryptedMessage): Promise<string>;
}

/** Installed apps, as the Apps-Engine knows them. */
export interface AppsPort {
  /** The app's own user (`users.type: 'app'`), if the app is installed. */
  appUserId(appId: string): string | undefined;
  /** Whether the app was granted `permission` (`e2ee.read`, `e2ee.write`); synchronous as Apps-Engine's check is. */
  hasPermission(appId: string, permission: 'e2ee.read' | 'e2ee.write'): boolean;
  /** Whether the app user is a member of the room. */
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** The installed apps granted an E2EE permission (those told about key rotations). */
  e2eeApps(): string[];
}

/** The key events the host raises to apps (Apps-Engine's `IPostE2EE…` handlers). */
export type HostEvent =
  | {
      /** The app user now holds the room's key (a suggested key was accepted). */
      type: 'roomKeyReady';
      /** The app told. */
      appId: string;
      /** The room (`rocketchat_room._id`). */
      roomId: string;
      /** The accepted key's kid, the room's `e2eKeyId`; it may still be provisional. */
      kid: string;
    }
  | {
      /** The room's key was reset (`e2e.resetRoomKey`): drop what was cached under the old key. */
      type: 'roomKeyRotated';
      /** The app told: every authorized app with an E2EE permission. */
      appId: string;
      /** The room (`rocketchat_room._id`). */
      roomId: string;
      /** The kid of the replaced key, when the host knows it. */
      previousKid?: string;
      /** The kid of the new key (the room's new `e2eKeyId`), when the host knows it. */
      newKid?: string;
    }
  | {
      /** The app can no longer read the room. */
      type: 'accessRevoked';
      /** The app told. */
      appId: string;
      /** The room (`rocketchat_room._id`). */
      roomId: string;
      /**
       * Why: an admin revoked the room's authorization, the app's identity was revoked, or the
       * app user left or was removed from the room.
       */
      reason: 'authorization-revoked' | 'identity-revoked' | 'removed-from-room';
    };

/** Key events to apps: the Meteor series raises them as Apps-Engine's `IPostE2EE…` events. */
export interface EventsPort {
  /** Delivers `event` to the app it names; the service awaits it, so a rejection fails the flow. */
  emit(event: HostEvent): Promise<void>;
}

/** Every port the service uses. */
export interface HostPorts {
  /** The app user's public key on `users`. */
  users: UsersPort;
  /** Rooms (`rocketchat_room`) and their waiting queue. */
  rooms: RoomsPort;
  /** The app user's subscriptions (`rocketchat_subscription`): where its room keys live. */
  subscriptions: SubscriptionsPort;
  /** Messages (`rocketchat_message`): proofs, reads and the send path. */
  messages: MessagesPort;
  /** Installed apps, their users, permissions and memberships. */
  apps: AppsPort;
  /** Key events to apps. */
  events: EventsPort;
}
