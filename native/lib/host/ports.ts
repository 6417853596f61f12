/**
 * What the host service needs from Rocket.Chat, as small ports. The Meteor series implements
 * them over Rocket.Chat's models (with the `notifyOn…` broadcasts after each write); tests and
 * the demo implement them over FerretDB or memory. The document shapes are the few fields of
 * Rocket.Chat 8.8's documents that the flows read (`@rocket.chat/core-typings@8.8.1`'s
 * `ISubscription`, `IRoom`, `IMessage`; tests/host checks they agree), declared here so the
 * package does not depend on core-typings' dependency tree.
 */
import type { EncryptedContent } from '../content';
import type { OldRoomKey } from '../keystore';

/** The E2EE fields of the app user's subscription to a room (`rocketchat_subscription`). */
export interface SubscriptionDoc {
  /** The room (`rid`). */
  rid: string;
  /** The current room key wrapped to the app user's public key. */
  E2EKey?: string;
  /** A key a member offered the app user (`provideUsersSuggestedGroupKeys`), not yet accepted. */
  E2ESuggestedKey?: string;
  oldRoomKeys?: OldRoomKey[];
  suggestedOldRoomKeys?: OldRoomKey[];
}

/** The E2EE fields of a room (`rocketchat_room`). */
export interface RoomDoc {
  _id: string;
  /** Whether the room is end-to-end encrypted. */
  encrypted?: boolean;
  /** The kid of the room's current key (set by `setRoomKeyID`). */
  e2eKeyId?: string;
  /** Members waiting for a member's client to wrap the room key to them. */
  usersWaitingForE2EKeys?: Array<{ userId: string; ts: Date }>;
  /** Read-only rooms refuse messages from users without `post-readonly`. */
  ro?: boolean;
}

/** The fields of a stored message the flows read (`rocketchat_message`). */
export interface MessageDoc {
  _id: string;
  rid: string;
  t?: string;
  msg?: string;
  content?: Partial<EncryptedContent> & { algorithm?: string };
  u: { _id: string };
  tmid?: string;
}

/** The encrypted message an app sends, as Rocket.Chat's clients send one. */
export interface OutgoingEncryptedMessage {
  rid: string;
  t: 'e2e';
  msg: '';
  content: EncryptedContent;
  /** Off: the server must not try to unfurl links it cannot see. */
  parseUrls: false;
  tmid?: string;
}

/** Users: the app user's public key, published where clients look for a member's key. */
export interface UsersPort {
  /** Sets `users.e2e.public_key` (never a private key) for `userId`. */
  setPublicKey(userId: string, publicKey: string): Promise<void>;
}

/** Rooms. */
export interface RoomsPort {
  findById(roomId: string): Promise<RoomDoc | undefined>;
  /** Puts `userId` in `usersWaitingForE2EKeys` (no-op when already there). */
  addToWaitingQueue(roomId: string, userId: string): Promise<void>;
  removeFromWaitingQueue(roomId: string, userId: string): Promise<void>;
}

/** The app user's subscriptions. */
export interface SubscriptionsPort {
  find(roomId: string, userId: string): Promise<SubscriptionDoc | undefined>;
  /** Every subscription of `userId` that holds a room key (for the reload at start). */
  listWithKeys(userId: string): Promise<SubscriptionDoc[]>;
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
  | { type: 'roomKeyReady'; appId: string; roomId: string; kid: string }
  | { type: 'roomKeyRotated'; appId: string; roomId: string; previousKid?: string; newKid?: string }
  | {
      type: 'accessRevoked';
      appId: string;
      roomId: string;
      reason: 'authorization-revoked' | 'identity-revoked' | 'removed-from-room';
    };

export interface EventsPort {
  emit(event: HostEvent): Promise<void>;
}

/** Every port the service uses. */
export interface HostPorts {
  users: UsersPort;
  rooms: RoomsPort;
  subscriptions: SubscriptionsPort;
  messages: MessagesPort;
  apps: AppsPort;
  events: EventsPort;
}
