/**
 * What every flow of the host service shares: the key store, the ports, and the little state
 * the service keeps in memory (which memberships were checked recently). One context per server instance.
 */
import { badInput, E2EEError, fail } from '../errors';
import type { AppKeyStore } from '../keystore';
import type { Memberships } from './memberships';
import type { HostPorts } from './ports';

/** How many of a room's newest messages under a kid are offered as proofs about a key. */
export const PROOF_MESSAGES = 20;

/**
 * How long a checked membership is trusted by default, in milliseconds, like the key store's
 * default authorization TTL; at most {@link MAX_MEMBERSHIP_TTL_MS}, the key store's cap.
 */
export const MEMBERSHIP_TTL_MS = 1000;
export const MAX_MEMBERSHIP_TTL_MS = 60_000;

/** Rocket.Chat keeps at most this many old room keys on a subscription (`resetRoomKey`). */
export const MAX_OLD_ROOM_KEYS = 10;

export interface HostContext {
  readonly store: AppKeyStore;
  readonly ports: HostPorts;
  /** How long a checked membership is trusted, in milliseconds. */
  readonly membershipTtlMs: number;
  /** Until when (ms) each app user's membership of a room is trusted. */
  readonly members: Memberships;
  /** Milliseconds now (a parameter for tests). */
  readonly now: () => number;
}

/** The app's user, or `HOST_NOT_INSTALLED`. */
export function appUserOf(context: HostContext, appId: string): string {
  const userId = context.ports.apps.appUserId(appId);
  return userId ?? fail('HOST_NOT_INSTALLED', 'the app is not installed on this server');
}

/** Throws `HOST_NO_PERMISSION` unless the app was granted `permission`. */
export function requirePermission(context: HostContext, appId: string, permission: 'e2ee.read' | 'e2ee.write'): void {
  if (!context.ports.apps.hasPermission(appId, permission)) {
    fail('HOST_NO_PERMISSION', `the app lacks the ${permission} permission`);
  }
}

/** Whether the app has either E2EE permission. */
export function isEntitled(context: HostContext, appId: string): boolean {
  return context.ports.apps.hasPermission(appId, 'e2ee.read') || context.ports.apps.hasPermission(appId, 'e2ee.write');
}

/** Longest id (room, message) an app may name, in UTF-16 units; the key store's bound is 512 bytes. */
const MAX_ID_LENGTH = 512;
// C0 and C1 control characters, as the key store's id check refuses them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Throws `E2EE_BAD_INPUT` unless `value` is an id an app may name: a non-empty string, at most
 * 512 characters, without control characters. Checked before a port sees it: an object such as
 * `{ $ne: '' }` would otherwise reach a MongoDB filter as an operator and match another document.
 */
export function requireId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH || CONTROL.test(value)) {
    badInput(`${what} must be a non-empty string of at most ${MAX_ID_LENGTH} characters without control characters`);
  }
}

/**
 * Throws `HOST_NOT_MEMBER` unless the app user is a member of the room. A positive answer is
 * trusted for the context's `membershipTtlMs`, so a cached read needs no query; the service forgets it
 * at once when the host reports the app user leaving.
 */
export async function requireMember(
  context: HostContext,
  appId: string,
  roomId: string,
  userId: string,
): Promise<void> {
  requireId(roomId, 'room id');
  if (isKnownMember(context, appId, roomId)) return;
  return context.ports.apps.isMember(roomId, userId).then((member) => {
    if (!member) {
      context.members.forget(appId, roomId);
      fail('HOST_NOT_MEMBER', 'the app user is not a member of the room');
    }
    context.members.trust(appId, roomId, context.now() + context.membershipTtlMs);
  });
}

/** Whether the app user's membership was checked within the context's `membershipTtlMs`. */
export function isKnownMember(context: HostContext, appId: string, roomId: string): boolean {
  const until = context.members.until(appId, roomId);
  return until !== undefined && until > context.now();
}

/** The kid of an `E2EKey` string: all but its last 344 characters (the RSA-OAEP block). */
export function kidOfWrappedKey(wrapped: string): string | undefined {
  return wrapped.length > 344 ? wrapped.slice(0, wrapped.length - 344) : undefined;
}

/** Whether `error` is an `E2EEError` with one of `codes`. */
export function hasCode(error: unknown, ...codes: string[]): error is E2EEError {
  return error instanceof E2EEError && codes.includes(error.code);
}

/**
 * Queues the app user for the room's key when the room is encrypted, it is a member and holds
 * no `E2EKey`: what Rocket.Chat does for a member with a public key, so a member's client wraps
 * the key to it. Resolves whether it was queued.
 */
export async function queueIfKeyless(context: HostContext, roomId: string, appUserId: string): Promise<boolean> {
  const room = await context.ports.rooms.findById(roomId);
  if (!room?.encrypted || !(await context.ports.apps.isMember(roomId, appUserId))) return false;
  const subscription = await context.ports.subscriptions.find(roomId, appUserId);
  if (subscription?.E2EKey) return false;
  await context.ports.rooms.addToWaitingQueue(roomId, appUserId);
  return true;
}

/** Forgets what this instance trusted from memory about the app in the room (its membership). */
export function forgetRoom(context: HostContext, appId: string, roomId: string): void {
  context.members.forget(appId, roomId);
}

/**
 * The apps with an E2EE permission that hold an authorization for the room, each with its user
 * when this instance knows it (apps whose user it does not know are skipped: nothing of theirs
 * can be queued or cleared here).
 */
export async function authorizedApps(
  context: HostContext,
  roomId: string,
): Promise<Array<{ appId: string; appUserId: string }>> {
  const apps: Array<{ appId: string; appUserId: string }> = [];
  for (const appId of context.ports.apps.e2eeApps()) {
    const appUserId = context.ports.apps.appUserId(appId);
    if (appUserId && (await context.store.isAuthorized(appId, roomId))) apps.push({ appId, appUserId });
  }
  return apps;
}
