/**
 * Key delivery with no client change: a member's client wraps the room key to the app user as
 * to anyone waiting (`provideUsersSuggestedGroupKeys` stores it as `E2ESuggestedKey`), and the
 * host accepts it on the app user's behalf, through the key store's acceptance rule, exactly as
 * a client's accept would: `E2EKey` set, old keys kept, the suggestion cleared, the user
 * dequeued. A refused key is cleared and the app user stays queued for an honest member.
 */
import type { AcceptedRoomKey, RoomMessageProof as Proof, SuggestedOldRoomKey } from '../keystore';
import type { OldRoomKey } from '../keystore';
import { hasCode, isEntitled, kidOfWrappedKey, MAX_OLD_ROOM_KEYS, PROOF_MESSAGES, type HostContext } from './context';
import type { MessageDoc, SubscriptionDoc } from './ports';

/** What happened to a suggested key. */
export type DeliveryOutcome =
  | {
      /**
       * Accepted: `E2EKey` set, old keys kept, the suggestion cleared, the app user dequeued.
       * `verified`: it opened other senders' messages; `provisional`: nobody else wrote under
       * its kid yet, so the next message of another sender settles it.
       */
      outcome: 'verified' | 'provisional';
      /** The accepted key's kid: the room's `e2eKeyId`. */
      kid: string;
    }
  | {
      /** Refused by the acceptance rule: the suggestion was cleared, the app user stays queued. */
      outcome: 'rejected';
      /** Why: the key store's or codec's code (`KEYSTORE_PROOF_FAILED`, `KEYSTORE_KID_MISMATCH`, `E2EE_BAD_KEY`…). */
      code: string;
    }
  | {
      /** Nothing to do: no suggestion, a room that is not encrypted, or an app without E2EE permissions. */
      outcome: 'ignored';
      /**
       * `no-suggestion`: the subscription holds no `E2ESuggestedKey`; `not-encrypted`: the room
       * is not encrypted or has no `e2eKeyId`; `not-entitled`: the app has neither `e2ee.read`
       * nor `e2ee.write`.
       */
      reason: 'no-suggestion' | 'not-encrypted' | 'not-entitled';
    };

/** Refusals that end the suggestion: the key, its proofs or its room do not hold. */
/** Refusals no other key would change: the app user stops waiting in the room. */
const UNWAITABLE = ['KEYSTORE_NOT_AUTHORIZED', 'KEYSTORE_REVOKED', 'KEYSTORE_NO_IDENTITY'];

const REFUSALS = [
  'KEYSTORE_PROOF_FAILED',
  'KEYSTORE_KID_MISMATCH',
  'KEYSTORE_NOT_AUTHORIZED',
  'KEYSTORE_REVOKED',
  'KEYSTORE_NO_IDENTITY',
  'KEYSTORE_BAD_INPUT',
  'E2EE_BAD_KEY',
  'E2EE_BAD_ENVELOPE',
  'E2EE_BAD_INPUT',
  'E2EE_UNSUPPORTED_ALGORITHM',
  'E2EE_DECRYPT_FAILED',
];

function proofsOf(messages: MessageDoc[]): Proof[] {
  const proofs: Proof[] = [];
  for (const message of messages) {
    const content = message.content;
    if (message.t === 'e2e' && content && typeof message.u?._id === 'string') {
      proofs.push({ senderId: message.u._id, content: content as Proof['content'] });
    }
  }
  return proofs;
}

/**
 * Accepts the key a member (`suggestedBy`) suggested to `appId`'s user in `roomId`. Called where
 * Rocket.Chat stores `E2ESuggestedKey` for a user whose `type` is `app`.
 */
export async function onSuggestedKey(
  context: HostContext,
  appId: string,
  appUserId: string,
  roomId: string,
  suggestedBy: string,
): Promise<DeliveryOutcome> {
  const { ports, store } = context;
  if (!isEntitled(context, appId)) return { outcome: 'ignored', reason: 'not-entitled' };
  const subscription = await ports.subscriptions.find(roomId, appUserId);
  const suggested = subscription?.E2ESuggestedKey;
  if (!subscription || !suggested) return { outcome: 'ignored', reason: 'no-suggestion' };
  const room = await ports.rooms.findById(roomId);
  if (!room?.encrypted || !room.e2eKeyId) return { outcome: 'ignored', reason: 'not-encrypted' };

  const suggestedOld = subscription.suggestedOldRoomKeys ?? [];
  const oldOffers: SuggestedOldRoomKey[] = [];
  for (const old of suggestedOld) {
    const proofs = proofsOf(await ports.messages.newestUnderKid(roomId, old.e2eKeyId, PROOF_MESSAGES));
    oldOffers.push({ e2eKeyId: old.e2eKeyId, E2EKey: old.E2EKey, ts: old.ts, proofs });
  }
  const proofs = proofsOf(await ports.messages.newestUnderKid(roomId, room.e2eKeyId, PROOF_MESSAGES));
  let accepted: AcceptedRoomKey;
  try {
    accepted = await store.acceptRoomKey(appId, roomId, suggested, {
      expectedKid: room.e2eKeyId,
      suggestedBy,
      proofs,
      oldRoomKeys: oldOffers,
    });
  } catch (error) {
    if (!hasCode(error, ...REFUSALS)) throw error; // storage trouble: keep the suggestion for a retry
    await ports.subscriptions.clearSuggestedKey(roomId, appUserId);
    // Rocket.Chat dequeues a user once a key was suggested to it; the app user must wait on for
    // an honest member's key, as a client's own reject re-queues it. Not where no key could be
    // accepted (no grant, no identity): members' clients would wrap keys for it forever. The
    // grant (`authorizeRoom`) and the app's enable queue it again.
    if (!hasCode(error, ...UNWAITABLE)) await ports.rooms.addToWaitingQueue(roomId, appUserId);
    return { outcome: 'rejected', code: error.code };
  }
  const kept = new Set(accepted.oldRoomKeys.filter((old) => old.status !== 'rejected').map((old) => old.kid));
  await ports.subscriptions.acceptSuggestedKey(roomId, appUserId, {
    E2EKey: suggested,
    oldRoomKeys: mergedOldKeys(
      subscription,
      accepted.kid,
      suggestedOld.filter((old) => kept.has(old.e2eKeyId)),
      context.now(),
    ),
  });
  await ports.rooms.removeFromWaitingQueue(roomId, appUserId);
  await ports.events.emit({ type: 'roomKeyReady', appId, roomId, kid: accepted.kid });
  return { outcome: accepted.status, kid: accepted.kid };
}

/**
 * The subscription's old keys after an accept: the accepted suggested old keys, the ones it had,
 * and its previous `E2EKey` when that was another key; one entry per kid, never the current kid.
 */
function mergedOldKeys(
  subscription: SubscriptionDoc,
  currentKid: string,
  accepted: OldRoomKey[],
  now: number,
): OldRoomKey[] {
  const merged = new Map<string, OldRoomKey>();
  const previousKid = subscription.E2EKey ? kidOfWrappedKey(subscription.E2EKey) : undefined;
  if (subscription.E2EKey && previousKid && previousKid !== currentKid) {
    merged.set(previousKid, { e2eKeyId: previousKid, ts: new Date(now), E2EKey: subscription.E2EKey });
  }
  for (const old of [...accepted, ...(subscription.oldRoomKeys ?? [])]) {
    if (old.e2eKeyId !== currentKid && !merged.has(old.e2eKeyId)) merged.set(old.e2eKeyId, old);
  }
  // Newest first, as Rocket.Chat keeps them, and no more than it keeps.
  return [...merged.values()].slice(0, MAX_OLD_ROOM_KEYS);
}

/**
 * Settles provisional keys with a new message of the room: a message from another sender that
 * opens under the key verifies it; one that does not means the key was planted, so the app
 * user's copy is dropped and it waits for the key again.
 */
export async function onMessage(context: HostContext, message: MessageDoc): Promise<void> {
  const kid = message.content?.kid;
  if (message.t !== 'e2e' || !message.content || typeof kid !== 'string' || !kid) return;
  const roomId = message.rid;
  // The key store's record, not this instance's memory: the key may have been accepted on
  // another instance, or before a restart.
  for (const provisional of await context.store.provisionalKeys(roomId)) {
    const { appId } = provisional;
    // Only a message under the provisional key's own kid says anything about that key.
    if (provisional.kid !== kid) continue;
    const appUserId = context.ports.apps.appUserId(appId);
    if (!appUserId || message.u._id === appUserId) continue;
    const proof = { senderId: message.u._id, content: message.content as Proof['content'] };
    let status: string;
    try {
      status = await settle(context, appId, appUserId, roomId, proof);
    } catch {
      // One app's trouble (storage, a revoked identity) must not keep the others unsettled; the
      // key stays provisional and the next message tries again.
      continue;
    }
    if (status === 'provisional') continue;
    if (status === 'rejected') {
      await context.ports.subscriptions.clearRoomKeys(roomId, appUserId);
      await context.ports.rooms.addToWaitingQueue(roomId, appUserId);
    }
  }
}

/** Confirms with the key store, loading the app user's subscription first when this instance never held the key. */
async function settle(
  context: HostContext,
  appId: string,
  appUserId: string,
  roomId: string,
  proof: Proof,
): Promise<string> {
  try {
    return await context.store.confirmRoomKey(appId, roomId, proof);
  } catch (error) {
    if (!hasCode(error, 'KEYSTORE_NO_ROOM_KEY')) throw error;
    const subscription = await context.ports.subscriptions.find(roomId, appUserId);
    if (!subscription?.E2EKey) throw error;
    await context.store.loadRoomKeys(appId, roomId, subscription);
    return context.store.confirmRoomKey(appId, roomId, proof);
  }
}

/** After a restart: the room keys of every authorized room, from the app user's subscriptions. */
export async function reloadRoomKeys(context: HostContext, appId: string, appUserId: string): Promise<number> {
  let rooms = 0;
  for (const subscription of await context.ports.subscriptions.listWithKeys(appUserId)) {
    if (!(await context.store.isAuthorized(appId, subscription.rid))) continue;
    const loaded = await context.store.loadRoomKeys(appId, subscription.rid, subscription);
    if (loaded.kids.length > 0) rooms += 1;
  }
  return rooms;
}
