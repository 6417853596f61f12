/**
 * `E2EEHostService`: what a Rocket.Chat server runs so that authorized apps are real members of
 * encrypted rooms. One per server instance, over one `AppKeyStore` and the host's ports; each
 * method is one flow (`lifecycle`, `keyDelivery`, `bridge`), called from the hook that Rocket.Chat
 * fires for it (the Meteor series) or from `AppE2EEBridge`.
 */
import type { EncryptedContent, MessagePayload } from '../content';
import type { AppKeyStore, Authorization, RotationReport } from '../keystore';
import * as bridge from './bridge';
import { MAX_MEMBERSHIP_TTL_MS, MEMBERSHIP_TTL_MS, type HostContext } from './context';
import { Memberships } from './memberships';
import { badInput, type E2EEError } from '../errors';
import * as rotation from './identityRotation';
import * as delivery from './keyDelivery';
import * as lifecycle from './lifecycle';
import * as roomState from './roomState';
import type { HostPorts, MessageDoc } from './ports';

/**
 * What a Rocket.Chat server runs so that authorized Apps-Engine apps are members of end-to-end
 * encrypted rooms with no client change: the app user waits for a room key like any member, a
 * member's client wraps the key to the app's published public key, and the service accepts it
 * on the app user's behalf through the key store's acceptance rule.
 *
 * One per server instance, over one {@link AppKeyStore} and the host's {@link HostPorts}; it
 * keeps only a little state in memory, per instance (which memberships were checked within the
 * last second); which room keys are still provisional is the key store's record, the same on
 * every instance. Rocket.Chat's hooks call the lifecycle and
 * key-delivery methods: app enable and server start → {@link enableApp}; the admin's authorize
 * and revoke endpoints → {@link authorizeRoom}, {@link revokeRoom};
 * `provideUsersSuggestedGroupKeys` storing `E2ESuggestedKey` for an app user →
 * {@link onSuggestedKey}; a saved message → {@link onMessage}; `resetRoomKey` →
 * {@link onRoomKeyReset}; the room's first key id (`e2e.setRoomKeyID`) → {@link onRoomKeyIdSet};
 * encryption switched off or on (`saveRoomEncrypted`) → {@link onRoomEncryptionChanged}; the app
 * user's own key reset (`resetUserE2EEncriptionKey`) → {@link onAppUserKeyReset}; an admin's
 * identity rotation → {@link rotateAppIdentity}; the app user leaving or removed from a room →
 * {@link onAppUserLeft}.
 * `AppE2EEBridge` calls the rest for the app named by the host (never by the app):
 * `read.getE2EEReader()` and `modify.getE2EE()`.
 *
 * Refusals are {@link E2EEError}s: `HOST_*` from the service, `KEYSTORE_*` and `E2EE_*` from
 * the key store and codec; a port's own error passes through unchanged.
 */
export class E2EEHostService {
  readonly #context: HostContext;

  /**
   * @param store The key store holding the apps' identities, authorizations and room keys.
   * @param ports Rocket.Chat's side: users, rooms, subscriptions, messages, apps, events.
   * @param options `now`: the clock in milliseconds since the epoch (default `Date.now`; for
   * tests). `membershipTtlMs`: how long a checked membership of the app user is trusted before it
   * is read again (default 1000, at most 60000; a removal reported through `onAppUserLeft` applies
   * at once). Throws `E2EE_BAD_INPUT` for a TTL that is not an integer in range.
   */
  constructor(store: AppKeyStore, ports: HostPorts, options: { now?: () => number; membershipTtlMs?: number } = {}) {
    const ttl = options.membershipTtlMs ?? MEMBERSHIP_TTL_MS;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_MEMBERSHIP_TTL_MS) {
      badInput(`membershipTtlMs must be an integer from 0 to ${MAX_MEMBERSHIP_TTL_MS}`);
    }
    this.#context = {
      store,
      ports,
      members: new Memberships(),
      membershipTtlMs: ttl,
      now: options.now ?? Date.now,
    };
  }

  /**
   * The app was enabled, or the server started with it enabled: its identity is created or
   * loaded, the public key set on its user (`users.e2e.public_key`), its room keys reloaded from
   * its subscriptions, and the app user queued in every authorized encrypted room it is a member
   * of without a key. `HOST_NOT_INSTALLED` without an app user, `HOST_NO_PERMISSION` without
   * `e2ee.read` or `e2ee.write`; `KEYSTORE_REVOKED` for a revoked identity, `KEYSTORE_BAD_INPUT`
   * when the identity belongs to another app user.
   */
  enableApp(appId: string): Promise<lifecycle.EnableReport> {
    return lifecycle.enableApp(this.#context, appId);
  }

  /**
   * An admin authorized the app for the room (the REST layer checks who may; `actorId` is that
   * admin, recorded in the audit). Queues the app user for the key when the room is encrypted,
   * it is a member and holds none. Resolves with the grant (the first one when repeated).
   * `HOST_NOT_INSTALLED`, `HOST_NO_PERMISSION`; `KEYSTORE_NO_IDENTITY` or `KEYSTORE_REVOKED`
   * when the app has no active identity (call {@link enableApp} first).
   */
  authorizeRoom(appId: string, roomId: string, actorId: string): Promise<Authorization> {
    return lifecycle.authorizeRoom(this.#context, appId, roomId, actorId);
  }

  /**
   * An admin (`actorId`) revoked the app's authorization for the room: the grant and cached keys
   * are dropped, the app user's `E2EKey` and `oldRoomKeys` unset, it leaves the waiting queue, and
   * the app gets `accessRevoked` (`authorization-revoked`). Resolves whether there was a grant.
   * `HOST_NOT_INSTALLED`. The room's owners should reset the room key: the app could read until now.
   */
  revokeRoom(appId: string, roomId: string, actorId: string): Promise<boolean> {
    return lifecycle.revokeRoom(this.#context, appId, roomId, actorId);
  }

  /**
   * An admin revoked the app's identity: private key shredded, every grant dropped, the app
   * user's room keys unset; `accessRevoked` (`identity-revoked`) per room. Returns those rooms.
   */
  revokeApp(appId: string, actorId: string): Promise<string[]> {
    return lifecycle.revokeApp(this.#context, appId, actorId);
  }

  /**
   * A member (`suggestedBy`, a user id) suggested a room key to the app user `appUserId`:
   * `provideUsersSuggestedGroupKeys` just stored `E2ESuggestedKey` on its subscription. The key
   * is judged against the room's newest messages under `e2eKeyId`; accepted as a client's accept
   * would (`roomKeyReady` to the app), or refused and cleared. A refusal resolves as `rejected`;
   * a storage or port failure rejects and keeps the suggestion for a retry.
   */
  onSuggestedKey(
    appId: string,
    appUserId: string,
    roomId: string,
    suggestedBy: string,
  ): Promise<delivery.DeliveryOutcome> {
    return delivery.onSuggestedKey(this.#context, appId, appUserId, roomId, suggestedBy);
  }

  /**
   * A message was saved (`afterSaveMessage`): an encrypted message of a sender other than the
   * app user and the suggester settles the room's provisional key, verified when it opens, else
   * dropped (`E2EKey` and `oldRoomKeys` unset) with the app user queued again, whichever
   * instance accepted the key (the key store's `provisionalKeys`: one query per encrypted
   * message). Other messages are ignored.
   */
  onMessage(message: MessageDoc): Promise<void> {
    return delivery.onMessage(this.#context, message);
  }

  /**
   * The room's key was reset (`resetRoomKey`; `previousKid` and `newKid` are the old and new
   * `e2eKeyId`): every authorized app with an E2EE permission gets `roomKeyRotated`, and this
   * instance's cache is refilled from the app user's subscription, so the replaced key opens old
   * messages but is no longer current (encrypting is `KEYSTORE_NO_ROOM_KEY` until the new key
   * arrives by suggestion, as the first did). Resolves with the ids of the apps told.
   */
  onRoomKeyReset(roomId: string, previousKid?: string, newKid?: string): Promise<string[]> {
    return lifecycle.onRoomKeyReset(this.#context, roomId, previousKid, newKid);
  }

  /**
   * The room's first key id was set (`e2e.setRoomKeyID`; `kid` is the id the client sent): the
   * users of the apps authorized for the room are queued for the key when they are keyless
   * members, so the creating client wraps it to them. The room is read, not trusted: a `kid`
   * other than its `e2eKeyId`, or a room that is not encrypted, changes nothing. Resolves with the
   * ids of the apps whose user was queued; `E2EE_BAD_INPUT` for an id that is not a string.
   */
  onRoomKeyIdSet(roomId: string, kid: string): Promise<string[]> {
    return roomState.onRoomKeyIdSet(this.#context, roomId, kid);
  }

  /**
   * The room's encryption was switched (`saveRoomEncrypted`, after Rocket.Chat's permission
   * check and write). The room's stored `encrypted` decides, never the caller: off → the
   * authorized apps' users lose their copies of the room keys and leave the waiting queue, reads
   * refuse with `HOST_NOT_ENCRYPTED` (on other instances once their membership check expires,
   * within `membershipTtlMs`), and each app gets `roomKeyRotated` without a new kid; its
   * authorization stays. On → the keyless app users are queued for the key again.
   * `E2EE_BAD_INPUT` for a room id that is not a string, before anything is read.
   */
  onRoomEncryptionChanged(roomId: string): Promise<roomState.RoomEncryptionReport> {
    return roomState.onRoomEncryptionChanged(this.#context, roomId);
  }

  /**
   * Rotates the app's identity key (an admin's request, or after {@link onAppUserKeyReset}):
   * every room key the app user holds is re-wrapped to the new key by compare-and-set writes on
   * its subscriptions, the new public key published on the app user, the old private key
   * shredded, and the keys reloaded (a provisional one stays provisional: the key store keeps
   * its trust apart from the wrapping). A subscription that changed under a pass (a reset, an accept) is
   * re-read by the next pass, up to three; then `KEYSTORE_CONFLICT`, and a later call resumes.
   * `HOST_NOT_INSTALLED`; `KEYSTORE_NO_IDENTITY`, `KEYSTORE_REVOKED`; `KEYSTORE_HOST_FAILED`
   * when a port failed (its error as `cause`).
   */
  rotateAppIdentity(appId: string): Promise<RotationReport> {
    return rotation.rotateAppIdentity(this.#context, appId);
  }

  /**
   * Rocket.Chat reset the app user's own E2EE key (`resetUserE2EEncriptionKey`): its public key
   * and the subscriptions' `E2EKey` are gone. The identity is rotated as {@link rotateAppIdentity}
   * does (publishing the new public key) and the app user queued in every authorized encrypted
   * room where it is a keyless member. `queuedRoomIds`, the rooms the reset queued it in: where
   * the app is not authorized it leaves the queue first (no member's client wraps a key to it
   * there). `undefined` when the app has no active identity. `HOST_NOT_INSTALLED`,
   * `E2EE_BAD_INPUT` for a room id that is not a string, and the rotation's refusals.
   */
  onAppUserKeyReset(appId: string, queuedRoomIds?: readonly string[]): Promise<rotation.KeyResetReport | undefined> {
    return rotation.onAppUserKeyReset(this.#context, appId, queuedRoomIds);
  }

  /**
   * The app user left or was removed from the room: its membership is
   * forgotten at once and the app gets `accessRevoked` (`removed-from-room`).
   */
  onAppUserLeft(appId: string, roomId: string): Promise<void> {
    return lifecycle.onAppUserLeft(this.#context, appId, roomId);
  }

  /**
   * `read.getE2EEReader().isAuthorized(roomId)`: whether the app may read the room now
   * (`e2ee.read`, the admin's authorization, membership, and an `E2EKey` on the subscription).
   * Never refuses: `false` instead.
   */
  isAuthorized(appId: string, roomId: string): Promise<boolean> {
    return bridge.isAuthorized(this.#context, appId, roomId);
  }

  /**
   * `read.getE2EEReader().getKeyHistory(roomId)`: the room keys the app user holds, current
   * first, without key material; empty when it holds none. `HOST_NO_PERMISSION` (`e2ee.read`),
   * `HOST_NOT_INSTALLED`, `KEYSTORE_NOT_AUTHORIZED`, `HOST_NOT_MEMBER`, `HOST_NOT_ENCRYPTED` (the
   * room was switched to unencrypted: the app keeps no key for it).
   */
  getKeyHistory(appId: string, roomId: string): Promise<bridge.RoomKeyInfo[]> {
    return bridge.getKeyHistory(this.#context, appId, roomId);
  }

  /**
   * `read.getE2EEReader().getEncryptedRoomKey(roomId, kid)`: the app user's wrapped copy of the
   * key `kid` (the current one when absent), `undefined` when it holds none. Refuses as
   * {@link getKeyHistory} does.
   */
  getEncryptedRoomKey(appId: string, roomId: string, kid?: string): Promise<bridge.EncryptedRoomKey | undefined> {
    return bridge.getEncryptedRoomKey(this.#context, appId, roomId, kid);
  }

  /**
   * `read.getE2EEReader().decryptMessage(message)`: the message's payload, never merged into the
   * message. Answered from memory when it can, else after the checks and, when this instance
   * holds no key, a reload from the subscription. Refuses as {@link getKeyHistory} does, plus
   * `HOST_NO_MESSAGE` (no such message in the room), `KEYSTORE_NO_ROOM_KEY`, and the codec's
   * `E2EE_*` (`E2EE_DECRYPT_FAILED`, `E2EE_BAD_ENVELOPE`…).
   */
  decryptMessage(appId: string, message: bridge.MessageToDecrypt): Promise<MessagePayload> {
    return bridge.decryptMessage(this.#context, appId, message);
  }

  /**
   * `read.getE2EEReader().decryptMessages(roomId, contents)`: a page of the room's history (at
   * most `MAX_BATCH_MESSAGES` encrypted `content` envelopes the app holds, from
   * `getRoomReader().getMessages()`), decrypted off the event loop. Each entry is the payload or
   * an `E2EEError` for that message alone; the permission, authorization and membership are
   * checked once, and a refusal rejects the whole page.
   */
  decryptMessages(
    appId: string,
    roomId: string,
    contents: readonly unknown[],
  ): Promise<Array<MessagePayload | E2EEError>> {
    return bridge.decryptMessages(this.#context, appId, roomId, contents);
  }

  /**
   * `modify.getE2EE().encryptContent(roomId, payload)`: the v2 `content` envelope of `payload`
   * under the room's current key (`e2eKeyId`). `HOST_NO_PERMISSION` (`e2ee.write`),
   * `HOST_NOT_INSTALLED`, `HOST_NOT_MEMBER`, `HOST_NOT_ENCRYPTED`; `KEYSTORE_NOT_AUTHORIZED`,
   * `KEYSTORE_NO_ROOM_KEY` or `KEYSTORE_KID_MISMATCH` when the app user holds no key under the
   * room's `e2eKeyId`; `E2EE_BAD_PAYLOAD`.
   */
  encryptContent(appId: string, roomId: string, payload: MessagePayload): Promise<EncryptedContent> {
    return bridge.encryptContent(this.#context, appId, roomId, payload);
  }

  /**
   * `modify.getE2EE().sendEncryptedMessage(roomId, payload, { threadId })`: encrypts as
   * {@link encryptContent} (same refusals) and sends `{ t: 'e2e', msg: '', content, parseUrls: false }`
   * as the app user through Rocket.Chat's normal send path, a thread reply (`tmid`) with
   * `threadId`. Resolves with the message id; the send path's own refusals pass through.
   */
  sendEncryptedMessage(
    appId: string,
    roomId: string,
    payload: MessagePayload,
    options?: { threadId?: string },
  ): Promise<string> {
    return bridge.sendEncryptedMessage(this.#context, appId, roomId, payload, options);
  }
}
