/**
 * An app's identity key replaced without losing a room key: the key store's resumable rotation
 * (`AppKeyStore.rotateIdentity`) over the app user's subscriptions, each written by
 * compare-and-set so a room-key reset or an accept that lands meanwhile is never overwritten.
 * Also what follows Rocket.Chat's reset of the app user's own E2EE key (`users.resetE2EKey` by
 * an admin): the key it had is no longer trusted, so the identity rotates and the new public key
 * replaces the one Rocket.Chat just unset.
 */
import type { RotationHost, RotationReport } from '../keystore';
import { appUserOf, hasCode, queueIfKeyless, requireId, type HostContext } from './context';
import { fail } from '../errors';
import { reloadRoomKeys } from './keyDelivery';

/**
 * How many rotation passes one call makes when a subscription changed under it
 * (`KEYSTORE_CONFLICT`); each pass re-reads the subscriptions and resumes where the last stopped.
 */
export const ROTATION_ATTEMPTS = 3;

/** What {@link E2EEHostService.onAppUserKeyReset} did. */
export interface KeyResetReport {
  /** The rotation that replaced the identity's key. */
  rotation: RotationReport;
  /** Ids of the authorized encrypted rooms the app user now waits in for the key. */
  queued: string[];
  /**
   * Ids of the rooms Rocket.Chat queued the app user in that it is not authorized for: taken out
   * of their queues, or members' clients would wrap keys to it that the key store refuses.
   */
  dequeued: string[];
}

/**
 * Rotates the app's identity key: every room key its user holds (`E2EKey` and `oldRoomKeys`) is
 * re-wrapped to the new key, the new public key is published on the app user, the old private
 * key is shredded, and this instance's cache is refilled from the rewritten subscriptions. A key
 * still provisional stays so: the key store keeps its trust with the authorization, not with the
 * wrapping, so the re-wrapped copy loads provisional and the next honest message still settles it.
 */
export async function rotateAppIdentity(context: HostContext, appId: string): Promise<RotationReport> {
  const { ports, store } = context;
  const appUserId = appUserOf(context, appId);
  const host: RotationHost = {
    listRoomKeys: async () =>
      (await ports.subscriptions.listWithKeys(appUserId)).map((subscription) => ({
        roomId: subscription.rid,
        E2EKey: subscription.E2EKey ?? null,
        oldRoomKeys: subscription.oldRoomKeys ?? null,
      })),
    writeRoomKeys: (roomId, previous, keys) => ports.subscriptions.replaceRoomKeys(roomId, appUserId, previous, keys),
    publishPublicKey: (publicKey) => ports.users.setPublicKey(appUserId, publicKey),
  };
  // Refused before anything is written, with the key store's own codes.
  const identity = await store.identity(appId);
  if (!identity) fail('KEYSTORE_NO_IDENTITY', 'the app has no identity');
  if (identity.state !== 'active') fail('KEYSTORE_REVOKED', "the app's identity was revoked");
  let report: RotationReport | undefined;
  for (let attempt = 1; !report; attempt += 1) {
    try {
      report = await store.rotateIdentity(appId, host);
    } catch (error) {
      if (!hasCode(error, 'KEYSTORE_CONFLICT') || attempt >= ROTATION_ATTEMPTS) throw error;
    }
  }
  await reloadRoomKeys(context, appId, appUserId);
  return report;
}

/**
 * Rocket.Chat reset the app user's E2EE key (`resetUserE2EEncriptionKey`: `users.e2e` and the
 * subscriptions' `E2EKey`, `E2ESuggestedKey` and `oldRoomKeys` unset, the user queued in its
 * rooms). A person's client would make a new key pair at the next login; the app user has no
 * client, so the host rotates the identity (the key it had is no longer trusted; what members
 * wrapped to it since is re-wrapped, and the new public key is published) and queues the app
 * user in every authorized encrypted room where it is a keyless member; `queuedRoomIds` (the
 * rooms the reset queued it in) lose it from the queue where it is not authorized. Resolves
 * `undefined` for an app without an active identity: nothing of the host's was reset.
 */
export async function onAppUserKeyReset(
  context: HostContext,
  appId: string,
  queuedRoomIds: readonly string[] = [],
): Promise<KeyResetReport | undefined> {
  const appUserId = appUserOf(context, appId);
  for (const roomId of queuedRoomIds) requireId(roomId, 'room id');
  const identity = await context.store.identity(appId);
  if (!identity || identity.state !== 'active') return undefined;
  const authorized = new Set((await context.store.listAuthorizations(appId)).map((grant) => grant.roomId));
  // Before the new public key is published: until then no client wraps a key to the app user.
  const dequeued: string[] = [];
  for (const roomId of new Set(queuedRoomIds)) {
    if (authorized.has(roomId)) continue;
    await context.ports.rooms.removeFromWaitingQueue(roomId, appUserId);
    dequeued.push(roomId);
  }
  const rotation = await rotateAppIdentity(context, appId);
  const queued: string[] = [];
  for (const roomId of authorized) {
    context.members.forget(appId, roomId);
    if (await queueIfKeyless(context, roomId, appUserId)) queued.push(roomId);
  }
  return { rotation, queued, dequeued };
}
