/**
 * A room's encryption state as Rocket.Chat changes it: the creating client sets the room's first
 * key id (`e2e.setRoomKeyID`), and a room owner switches encryption off and on
 * (`saveRoomEncrypted`). Each hook only says "look at this room": the service reads the room
 * itself, so a stale or forged call can queue a keyless app user at most, never unset a key.
 */
import { authorizedApps, forgetRoom, queueIfKeyless, requireId, type HostContext } from './context';

/** What {@link E2EEHostService.onRoomEncryptionChanged} found and did. */
export interface RoomEncryptionReport {
  /** The room's `encrypted` as stored now (the hook's own value is never trusted). */
  encrypted: boolean;
  /**
   * The apps acted for: queued for the key when the room is encrypted (only apps whose user was
   * a keyless member), told `roomKeyRotated` with no new key and their users' keys unset when it
   * is not.
   */
  apps: string[];
}

/**
 * The room's first key id was set (`e2e.setRoomKeyID`, which Rocket.Chat allows once): the users
 * of the apps authorized for the room join the waiting queue, so the creating client wraps the
 * new key to them with the other members. A `kid` other than the room's `e2eKeyId` (a call that
 * lost a race, or a forged one) changes nothing. Resolves with the apps whose user was queued.
 */
export async function onRoomKeyIdSet(context: HostContext, roomId: string, kid: string): Promise<string[]> {
  // Before any port: an object would reach a MongoDB filter as an operator.
  requireId(roomId, 'room id');
  requireId(kid, 'key id');
  const room = await context.ports.rooms.findById(roomId);
  if (!room?.encrypted || !room.e2eKeyId || room.e2eKeyId !== kid) return [];
  const queued: string[] = [];
  for (const { appId, appUserId } of await authorizedApps(context, roomId)) {
    if (await queueIfKeyless(context, roomId, appUserId)) queued.push(appId);
  }
  return queued;
}

/**
 * A room owner switched the room's encryption (`saveRoomEncrypted`). Switched off: the app
 * users' copies of the room keys are unset and they leave the waiting queue, what this instance
 * trusted is forgotten (the next read checks again and finds an unencrypted room), and each app
 * is told `roomKeyRotated` with no new key; its authorization stays, as the owner may switch
 * encryption back on. Switched on: the authorized app users wait for the key like any member,
 * and a member's client wraps it to them again (the store accepts a kid's key it held before).
 */
export async function onRoomEncryptionChanged(context: HostContext, roomId: string): Promise<RoomEncryptionReport> {
  requireId(roomId, 'room id');
  const room = await context.ports.rooms.findById(roomId);
  const encrypted = room?.encrypted === true;
  const acted: string[] = [];
  for (const { appId, appUserId } of room ? await authorizedApps(context, roomId) : []) {
    if (encrypted) {
      if (await queueIfKeyless(context, roomId, appUserId)) acted.push(appId);
      continue;
    }
    // An unencrypted room gets clear messages only: a key kept for it would let the app go on
    // decrypting the room's history after its owner turned encryption off.
    await context.ports.subscriptions.clearRoomKeys(roomId, appUserId);
    await context.ports.rooms.removeFromWaitingQueue(roomId, appUserId);
    forgetRoom(context, appId, roomId);
    await context.ports.events.emit({
      type: 'roomKeyRotated',
      appId,
      roomId,
      ...(room?.e2eKeyId ? { previousKid: room.e2eKeyId } : {}),
    });
    acted.push(appId);
  }
  return { encrypted, apps: acted };
}
