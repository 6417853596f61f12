/**
 * The host side of Apps-Engine's `E2EEBridge`: every call checks the permission, the admin's
 * authorization (the key store), the app user's membership and the key. Reads try the key
 * store's synchronous path first (authorization and key in memory: no thread-pool hop, no
 * query), then the async one, then reload the room's keys from the app user's subscription once.
 */
import type { EncryptedContent, MessagePayload } from '../content';
import { badInput, E2EEError, fail, reading } from '../errors';
import {
  appUserOf,
  hasCode,
  isKnownMember,
  kidOfWrappedKey,
  requireId,
  requireMember,
  requirePermission,
  type HostContext,
} from './context';
import type { EnvelopeDoc, MessageDoc, SubscriptionDoc } from './ports';

/** What `decryptMessage` reads: the stored message (by id) or an envelope the app holds. */
export interface MessageToDecrypt {
  /** The room the message belongs to (`rocketchat_room._id`): its authorization and key apply. */
  roomId: string;
  /**
   * The stored message's `_id`. When present the stored message is read, so the app cannot
   * substitute the ciphertext; one of another room is `HOST_NO_MESSAGE`.
   */
  messageId?: string;
  /** An encrypted `content` envelope the app holds (e.g. from a message event); read only without `messageId`. */
  content?: EnvelopeDoc | Record<string, unknown>;
}

/** A room key the app user holds, wrapped to its public key (no key material in the clear). */
export interface EncryptedRoomKey {
  /** The room (`rocketchat_room._id`). */
  roomId: string;
  /** The key's kid (`rocketchat_room.e2eKeyId` while it is current). */
  kid: string;
  /**
   * The key wrapped to the app user's public key, as the subscription holds it: `E2EKey` for the
   * current key, the `oldRoomKeys` entry's `E2EKey` for an old one (kid prefix + RSA-OAEP body).
   */
  encryptedKey: string;
  /** Whether it is the subscription's current `E2EKey` rather than an `oldRoomKeys` entry. */
  current: boolean;
}

/** One room key the app holds, without key material. */
export interface RoomKeyInfo {
  /** The key's kid: of the subscription's `E2EKey`, or an `oldRoomKeys` entry's `e2eKeyId`. */
  kid: string;
  /** When the key stopped being current (the `oldRoomKeys` entry's `ts`); absent for the current key. */
  ts?: Date;
  /** Whether it is the current key (`E2EKey`). */
  current: boolean;
}

/** Whether the app may read the room now: permission, authorization, membership and a key. */
export async function isAuthorized(context: HostContext, appId: string, roomId: string): Promise<boolean> {
  if (!context.ports.apps.hasPermission(appId, 'e2ee.read')) return false;
  const appUserId = context.ports.apps.appUserId(appId);
  if (!appUserId || !(await context.store.isAuthorized(appId, roomId))) return false;
  if (!(await context.ports.apps.isMember(roomId, appUserId))) return false;
  return Boolean((await context.ports.subscriptions.find(roomId, appUserId))?.E2EKey);
}

async function readable(context: HostContext, appId: string, roomId: string): Promise<string> {
  requirePermission(context, appId, 'e2ee.read');
  const appUserId = appUserOf(context, appId);
  if (!(await context.store.isAuthorized(appId, roomId)))
    fail('KEYSTORE_NOT_AUTHORIZED', 'the app is not authorized for the room');
  // A room switched to unencrypted keeps no key for the app: what this instance still caches
  // must not answer (the switch forgets the membership, so a read gets here and stops). Checked
  // before the membership, whose success is what lets the next read skip these checks.
  const room = await context.ports.rooms.findById(roomId);
  if (!room?.encrypted) fail('HOST_NOT_ENCRYPTED', 'the room is not end-to-end encrypted');
  await requireMember(context, appId, roomId, appUserId);
  return appUserId;
}

/** The room's keys as the app user holds them, current first; no key material. */
export async function getKeyHistory(context: HostContext, appId: string, roomId: string): Promise<RoomKeyInfo[]> {
  const appUserId = await readable(context, appId, roomId);
  const subscription = await context.ports.subscriptions.find(roomId, appUserId);
  const history: RoomKeyInfo[] = [];
  const currentKid = subscription?.E2EKey ? kidOfWrappedKey(subscription.E2EKey) : undefined;
  if (currentKid) history.push({ kid: currentKid, current: true });
  for (const old of subscription?.oldRoomKeys ?? []) {
    history.push({ kid: old.e2eKeyId, ts: old.ts instanceof Date ? old.ts : new Date(old.ts), current: false });
  }
  return history;
}

/** The app user's wrapped copy of the room key `kid` (the current one when absent). */
export async function getEncryptedRoomKey(
  context: HostContext,
  appId: string,
  roomId: string,
  kid?: string,
): Promise<EncryptedRoomKey | undefined> {
  const appUserId = await readable(context, appId, roomId);
  const subscription = await context.ports.subscriptions.find(roomId, appUserId);
  const current = subscription?.E2EKey;
  const currentKid = current ? kidOfWrappedKey(current) : undefined;
  if (current && currentKid && (kid === undefined || kid === currentKid)) {
    return { roomId, kid: currentKid, encryptedKey: current, current: true };
  }
  const old = subscription?.oldRoomKeys?.find((entry) => entry.e2eKeyId === kid);
  return old ? { roomId, kid: old.e2eKeyId, encryptedKey: old.E2EKey, current: false } : undefined;
}

/** The message the app asked for: the stored one of that room, or the envelope it gave. */
async function messageOf(
  context: HostContext,
  request: MessageToDecrypt,
): Promise<Pick<MessageDoc, 't' | 'msg' | 'content'>> {
  if (request.messageId === undefined) return { t: 'e2e', content: request.content as MessageDoc['content'] };
  requireId(request.messageId, 'message id');
  const stored = await context.ports.messages.findById(request.messageId);
  // Another room's message would be read with this room's authorization: not found, as absent.
  if (!stored || stored.rid !== request.roomId) fail('HOST_NO_MESSAGE', 'no such message in the room');
  return stored;
}

/** Decrypts a message of the room for the app; the payload, never merged into the message. */
export function decryptMessage(
  context: HostContext,
  appId: string,
  request: MessageToDecrypt,
): Promise<MessagePayload> {
  const { roomId } = request;
  const appUserId = context.ports.apps.appUserId(appId);
  // The hot path: an envelope the app holds, a membership and a key checked a moment ago.
  if (
    request.messageId === undefined &&
    appUserId &&
    context.ports.apps.hasPermission(appId, 'e2ee.read') &&
    isKnownMember(context, appId, roomId)
  ) {
    try {
      const payload = context.store.decryptMessageCached(appId, roomId, { t: 'e2e', content: request.content });
      if (payload !== null) return Promise.resolve(payload);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return decryptSlowly(context, appId, request);
}

async function decryptSlowly(context: HostContext, appId: string, request: MessageToDecrypt): Promise<MessagePayload> {
  const appUserId = await readable(context, appId, request.roomId);
  const message = await messageOf(context, request);
  try {
    return await context.store.decryptMessage(appId, request.roomId, message);
  } catch (error) {
    if (!hasCode(error, 'KEYSTORE_NO_ROOM_KEY')) throw error;
    // Another instance accepted the key, or this one restarted: the subscription has it. Only
    // then: a kid the subscription lacks cannot be loaded, and an app naming made-up kids must not
    // cost a load (and its audit record) per call.
    const subscription = await context.ports.subscriptions.find(request.roomId, appUserId);
    if (!subscription?.E2EKey || !holdsKid(subscription, namedKid(message))) throw error;
    await context.store.loadRoomKeys(appId, request.roomId, subscription);
    return context.store.decryptMessage(appId, request.roomId, message);
  }
}

/**
 * Decrypts a page of the room's history (at most `MAX_BATCH_MESSAGES` envelopes the app holds,
 * e.g. from `getRoomReader().getMessages()`) off the event loop: each the payload or an
 * `E2EEError` for that message alone. Messages under keys this instance lacks are retried once
 * after loading the app user's subscription, when it holds one of their kids.
 */
export async function decryptMessages(
  context: HostContext,
  appId: string,
  roomId: string,
  contents: readonly unknown[],
): Promise<Array<MessagePayload | E2EEError>> {
  const appUserId = await readable(context, appId, roomId);
  const messages = reading('contents cannot be read', () => {
    if (!Array.isArray(contents)) badInput('contents must be an array');
    return contents.map((content) => ({ t: 'e2e', content }));
  });
  const results = await context.store.decryptMessages(appId, roomId, messages);
  const missing = results.flatMap((result, index) => (hasCode(result, 'KEYSTORE_NO_ROOM_KEY') ? [index] : []));
  if (missing.length === 0) return results;
  const subscription = await context.ports.subscriptions.find(roomId, appUserId);
  const loadable = subscription?.E2EKey
    ? missing.filter((index) => holdsKid(subscription, namedKid(messages[index] as MessageDoc)))
    : [];
  if (!subscription || loadable.length === 0) return results;
  await context.store.loadRoomKeys(appId, roomId, subscription);
  const retried = await context.store.decryptMessages(
    appId,
    roomId,
    loadable.map((index) => messages[index]),
  );
  loadable.forEach((index, i) => {
    results[index] = retried[i];
  });
  return results;
}

/** The kid a message names: the v2 envelope's `kid`, or a legacy v1 `msg`'s 12-character prefix. */
function namedKid(message: Pick<MessageDoc, 'msg' | 'content'>): string | undefined {
  const kid = (message.content as { kid?: unknown } | undefined)?.kid;
  if (typeof kid === 'string') return kid;
  return message.content === undefined && typeof message.msg === 'string' ? message.msg.slice(0, 12) : undefined;
}

/** Whether the subscription holds the key `kid` (current or old); any key when no kid is named. */
function holdsKid(subscription: SubscriptionDoc, kid: string | undefined): boolean {
  if (kid === undefined) return true;
  const current = subscription.E2EKey ? kidOfWrappedKey(subscription.E2EKey) : undefined;
  return current === kid || (subscription.oldRoomKeys ?? []).some((old) => old.e2eKeyId === kid);
}

/** Encrypts a payload for the room under its current key (`rooms.e2eKeyId`). */
export async function encryptContent(
  context: HostContext,
  appId: string,
  roomId: string,
  payload: MessagePayload,
): Promise<EncryptedContent> {
  requirePermission(context, appId, 'e2ee.write');
  const appUserId = appUserOf(context, appId);
  const room = await context.ports.rooms.findById(roomId);
  if (!room?.encrypted || !room.e2eKeyId) fail('HOST_NOT_ENCRYPTED', 'the room is not end-to-end encrypted');
  // After the room check: a remembered membership lets reads skip the checks.
  await requireMember(context, appId, roomId, appUserId);
  try {
    return await context.store.encryptContent(appId, roomId, payload, { expectedKid: room.e2eKeyId });
  } catch (error) {
    if (!hasCode(error, 'KEYSTORE_NO_ROOM_KEY', 'KEYSTORE_KID_MISMATCH')) throw error;
    const subscription = await context.ports.subscriptions.find(roomId, appUserId);
    if (!subscription?.E2EKey) throw error;
    await context.store.loadRoomKeys(appId, roomId, subscription);
    return context.store.encryptContent(appId, roomId, payload, { expectedKid: room.e2eKeyId });
  }
}

/** Sends an encrypted message (a thread reply with `threadId`) through the normal send path. */
export async function sendEncryptedMessage(
  context: HostContext,
  appId: string,
  roomId: string,
  payload: MessagePayload,
  options: { threadId?: string } = {},
): Promise<string> {
  const { threadId } = options;
  if (threadId !== undefined) requireId(threadId, 'thread id');
  if (threadId !== undefined) {
    requirePermission(context, appId, 'e2ee.write');
    // A reply to a message of another room (or none) would hang off a thread the room cannot see.
    const parent = await context.ports.messages.findById(threadId);
    if (!parent || parent.rid !== roomId) fail('HOST_NO_MESSAGE', 'no such thread in the room');
  }
  const content = await encryptContent(context, appId, roomId, payload);
  const appUserId = appUserOf(context, appId);
  const message = {
    rid: roomId,
    t: 'e2e',
    msg: '',
    content,
    parseUrls: false,
    ...(threadId !== undefined ? { tmid: threadId } : {}),
  } as const;
  return context.ports.messages.send(appUserId, message);
}
