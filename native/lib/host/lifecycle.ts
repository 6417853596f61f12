/**
 * An app's life as a member of encrypted rooms: enabled (identity published, queued for keys),
 * authorized and revoked per room by an admin, told about room-key resets, and forgotten when it
 * leaves a room. Rocket.Chat's own flows do the rest: a reset queues every member, the app user
 * included, and the next key arrives like the first (see `keyDelivery`).
 */
import type { Authorization } from '../keystore';
import { appUserOf, forgetRoom, isEntitled, queueIfKeyless, type HostContext } from './context';
import { reloadRoomKeys } from './keyDelivery';
import { fail } from '../errors';

/** What {@link E2EEHostService.enableApp} did for the app. */
export interface EnableReport {
  /** Rocket.Chat's public-key string now on the app user (`users.e2e.public_key`). */
  publicKey: string;
  /** Ids of the authorized encrypted rooms the app user is now queued in (`usersWaitingForE2EKeys`). */
  queued: string[];
  /** How many authorized rooms had keys loaded from the app user's subscriptions (a count). */
  loaded: number;
}

/**
 * When an app with `e2ee.read` or `e2ee.write` is enabled (and at server start): its identity is
 * created or loaded, the public key published on its user (never a private key), its keys
 * reloaded, and the app user queued in every authorized encrypted room where it has no key.
 */
export async function enableApp(context: HostContext, appId: string): Promise<EnableReport> {
  const appUserId = appUserOf(context, appId);
  if (!isEntitled(context, appId)) fail('HOST_NO_PERMISSION', 'the app lacks the e2ee.read and e2ee.write permissions');
  const publicKey = await context.store.ensureIdentity(appId, appUserId);
  await context.ports.users.setPublicKey(appUserId, publicKey);
  const loaded = await reloadRoomKeys(context, appId, appUserId);
  const queued: string[] = [];
  for (const { roomId } of await context.store.listAuthorizations(appId)) {
    if (await queueIfKeyless(context, roomId, appUserId)) queued.push(roomId);
  }
  return { publicKey, queued, loaded };
}

/**
 * An admin authorizes the app for a room (the REST layer checks who may). The grant is audited
 * by the key store; the app user is queued for the key if it has none.
 */
export async function authorizeRoom(
  context: HostContext,
  appId: string,
  roomId: string,
  actorId: string,
): Promise<Authorization> {
  const appUserId = appUserOf(context, appId);
  if (!isEntitled(context, appId)) fail('HOST_NO_PERMISSION', 'the app lacks the e2ee.read and e2ee.write permissions');
  const granted = await context.store.authorize(appId, roomId, actorId);
  await queueIfKeyless(context, roomId, appUserId);
  return granted;
}

/**
 * An admin revokes the app's authorization for a room: the key store drops it (and the cached
 * keys), the app user's copies of the room keys are unset and it leaves the queue, and the app
 * is told. The room's owners should reset the room key: the app could read until now.
 */
export async function revokeRoom(
  context: HostContext,
  appId: string,
  roomId: string,
  actorId: string,
): Promise<boolean> {
  const appUserId = appUserOf(context, appId);
  const revoked = await context.store.revokeAuthorization(appId, roomId, actorId);
  await context.ports.subscriptions.clearRoomKeys(roomId, appUserId);
  await context.ports.rooms.removeFromWaitingQueue(roomId, appUserId);
  forgetRoom(context, appId, roomId);
  // Only an app that had access is told it lost it.
  if (revoked)
    await context.ports.events.emit({ type: 'accessRevoked', appId, roomId, reason: 'authorization-revoked' });
  return revoked;
}

/**
 * An admin revokes the app's identity: the key store shreds its private key and drops every
 * grant, the app user's copies of the room keys are unset in every room it was authorized for,
 * and the app is told per room. `enableApp` after `AppKeyStore.recreateIdentity` starts over.
 */
export async function revokeApp(context: HostContext, appId: string, actorId: string): Promise<string[]> {
  const appUserId = appUserOf(context, appId);
  const rooms = (await context.store.listAuthorizations(appId)).map((grant) => grant.roomId);
  await context.store.revokeIdentity(appId, actorId);
  for (const roomId of rooms) {
    await context.ports.subscriptions.clearRoomKeys(roomId, appUserId);
    await context.ports.rooms.removeFromWaitingQueue(roomId, appUserId);
    forgetRoom(context, appId, roomId);
    await context.ports.events.emit({ type: 'accessRevoked', appId, roomId, reason: 'identity-revoked' });
  }
  return rooms;
}

/**
 * A room's key was reset (`resetRoomKey`): every authorized app is told, so it drops what it
 * cached under the old key, and the old key stops being the room's current key here. It stays
 * readable for old messages; the new one comes by suggestion, as to every member.
 */
export async function onRoomKeyReset(
  context: HostContext,
  roomId: string,
  previousKid?: string,
  newKid?: string,
): Promise<string[]> {
  const told: string[] = [];
  for (const appId of context.ports.apps.e2eeApps()) {
    if (!(await context.store.isAuthorized(appId, roomId))) continue;
    await evictCurrentKey(context, appId, roomId);
    await context.ports.events.emit({ type: 'roomKeyRotated', appId, roomId, previousKid, newKid });
    told.push(appId);
  }
  return told;
}

/**
 * Rocket.Chat's reset moved the app user's `E2EKey` into `oldRoomKeys` before this hook runs: the
 * cache is refilled from that, so the replaced key stays for old messages but is no longer the
 * room's current key here (encrypting waits for the new one: `KEYSTORE_NO_ROOM_KEY`). One app's
 * trouble (a revoked identity, storage) must not keep the others from being told.
 */
async function evictCurrentKey(context: HostContext, appId: string, roomId: string): Promise<void> {
  const appUserId = context.ports.apps.appUserId(appId);
  if (!appUserId) return;
  try {
    const subscription = await context.ports.subscriptions.find(roomId, appUserId);
    await context.store.loadRoomKeys(appId, roomId, {
      E2EKey: subscription?.E2EKey ?? null,
      oldRoomKeys: subscription?.oldRoomKeys ?? null,
    });
  } catch {
    // The next read reloads from the subscription anyway; the reset itself already happened.
  }
}

/** The app user left or was removed from the room: nothing about it is trusted from memory. */
export async function onAppUserLeft(context: HostContext, appId: string, roomId: string): Promise<void> {
  forgetRoom(context, appId, roomId);
  if (await context.store.isAuthorized(appId, roomId)) {
    await context.ports.events.emit({ type: 'accessRevoked', appId, roomId, reason: 'removed-from-room' });
  }
}
