/**
 * The stateful participant: an app's identity (a key pair whose private half is sealed under a
 * key-encryption key and never leaves the addon), its authorizations per room, verified room
 * keys, rotation, revocation and audit, on MongoDB (Rocket.Chat's database) or a local file.
 */
import { inspect } from 'node:util';

import EJSON = require('ejson');

import native = require('./binding');
import type { EncryptedContent, MessagePayload } from './content';
import { contentFields, messageFields, parsePayload, str } from './content';
import { badInput, callAsync, E2EEError } from './errors';
import { requireString } from './keys';

export interface AppKeyStoreOptions {
  /** `mongodb://…` (Rocket.Chat's database) or `file:///absolute/path.json` (embedded, development). */
  url: string;
  /** Database for a `mongodb://` URL that names none. */
  database?: string;
  /** The key-encryption key, base64 of 32 bytes (e.g. from an environment variable). */
  kek?: string;
  /** A file holding the base64 KEK: a mounted secret. Preferred over `kek`. */
  kekFile?: string;
  /** Earlier KEKs (base64, or `file:<path>`) still accepted while `rekey` runs. */
  previousKeks?: string[];
  roomKeyCapacity?: number;
  authorizationTtlMs?: number;
  auditFlushIntervalMs?: number;
}

/** An `oldRoomKeys` entry as Rocket.Chat stores it on a subscription. */
export interface OldRoomKey {
  e2eKeyId: string;
  ts: Date | number;
  E2EKey: string;
}

/** The room-key members of the app user's subscription, as Rocket.Chat stores them. */
export interface SubscriptionRoomKeys {
  E2EKey?: string | null;
  oldRoomKeys?: OldRoomKey[] | null;
}

/** The host's side of an identity rotation: it reads and writes the app user's subscriptions. */
export interface RotationHost {
  /** Every subscription of the app user that holds room keys. */
  listRoomKeys(): Promise<Array<SubscriptionRoomKeys & { roomId: string }>>;
  /**
   * Replaces the subscription's `E2EKey`/`oldRoomKeys` with `keys` only if it still holds
   * `previous` (compare-and-set); resolves `false` when it changed meanwhile.
   */
  writeRoomKeys(roomId: string, previous: SubscriptionRoomKeys, keys: SubscriptionRoomKeys): Promise<boolean>;
  /** Stores the new public key on the app user (`users.e2e.public_key`). */
  publishPublicKey(publicKey: string): Promise<void>;
}

export type Authorization = native.Authorization;
export type LoadedKeys = native.LoadedKeys;
export type IdentityInfo = native.IdentityInfo;
export type RotationReport = native.RotationReport;
export type RekeyReport = native.RekeyReport;
export type AuditRecord = native.AuditRecord;
export interface AuditQuery {
  appId?: string;
  roomId?: string;
  action?: string;
  since?: Date | number;
  limit?: number;
}


function millis(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { $date?: unknown }).$date === 'number') {
    return (value as { $date: number }).$date;
  }
  return badInput('a timestamp must be a Date or milliseconds');
}

function toNative(roomId: string, keys: SubscriptionRoomKeys | null | undefined): native.SubscriptionKeys {
  const old = Array.isArray(keys?.oldRoomKeys) ? keys.oldRoomKeys : [];
  return {
    roomId,
    e2eKey: str(keys?.E2EKey),
    oldRoomKeys: old.map((entry) => ({
      e2eKeyId: requireString(entry?.e2eKeyId, 'oldRoomKeys[].e2eKeyId'),
      ts: millis(entry?.ts),
      e2eKey: requireString(entry?.E2EKey, 'oldRoomKeys[].E2EKey'),
    })),
  };
}

function fromNative(keys: native.SubscriptionKeys): SubscriptionRoomKeys {
  return {
    E2EKey: keys.e2eKey ?? undefined,
    oldRoomKeys: keys.oldRoomKeys.map((old) => ({ e2eKeyId: old.e2eKeyId, ts: new Date(old.ts), E2EKey: old.e2eKey })),
  };
}

export class AppKeyStore {
  readonly #native: native.AppKeyStore;

  private constructor(handle: native.AppKeyStore) {
    this.#native = handle;
  }

  /** Opens the store; fails with `KEYSTORE_BAD_KEK` for a missing, malformed or wrong KEK. */
  static async open(options: AppKeyStoreOptions): Promise<AppKeyStore> {
    if (options === null || typeof options !== 'object') badInput('options must be an object');
    requireString(options.url, 'url');
    return new AppKeyStore(await callAsync(() => native.AppKeyStore.open({ ...options })));
  }

  /** Flushes the audit counters and closes; later calls fail with `KEYSTORE_STORAGE`. */
  close(): Promise<void> {
    return callAsync(() => this.#native.close());
  }

  /** The id (a hash, not secret) of the KEK new blobs are sealed under. */
  get kekId(): string {
    return this.#native.kekId;
  }

  /** Creates or loads the app's identity; returns the public-key string to publish on the app user. */
  ensureIdentity(appId: string, appUserId: string): Promise<string> {
    return callAsync(() => this.#native.ensureIdentity(appId, appUserId));
  }

  /** A new identity for an app whose identity was revoked (explicitly, by an actor). */
  recreateIdentity(appId: string, appUserId: string, actorId: string): Promise<string> {
    return callAsync(() => this.#native.recreateIdentity(appId, appUserId, actorId));
  }

  identity(appId: string): Promise<IdentityInfo | null> {
    return callAsync(() => this.#native.identity(appId));
  }

  /**
   * Rotates the app's key pair: re-wraps every room key it can open to the new key through
   * `host`, publishes the new public key, then shreds the old private key. Resumable: after any
   * failure, call again. A host callback's own error is the `cause` of `KEYSTORE_HOST_FAILED`.
   */
  async rotateIdentity(appId: string, host: RotationHost): Promise<RotationReport> {
    let hostError: unknown;
    const guarded = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (error) {
        hostError = error;
        throw error;
      }
    };
    const list = guarded(async () => {
      const rooms = await host.listRoomKeys();
      if (!Array.isArray(rooms)) badInput('listRoomKeys must resolve to an array');
      return rooms.map((room) => toNative(requireString(room?.roomId, 'roomId'), room));
    });
    const write = guarded(async (roomId: string, previous: native.SubscriptionKeys, keys: native.SubscriptionKeys) =>
      (await host.writeRoomKeys(roomId, fromNative(previous), fromNative(keys))) !== false,
    );
    const publish = guarded(async (publicKey: string) => {
      await host.publishPublicKey(publicKey);
      return true;
    });
    try {
      return await callAsync(() => this.#native.rotateIdentity(appId, list, write, publish));
    } catch (error) {
      if (error instanceof E2EEError && error.code === 'KEYSTORE_HOST_FAILED' && hostError !== undefined) {
        (error as E2EEError & { cause?: unknown }).cause = hostError;
      }
      throw error;
    }
  }

  /** Shreds the app's private key and drops its authorizations and cached room keys. */
  revokeIdentity(appId: string, actorId: string): Promise<void> {
    return callAsync(() => this.#native.revokeIdentity(appId, actorId));
  }

  /** Re-seals every identity under a new KEK; resumable. */
  rekey(kek: { kek?: string; kekFile?: string }): Promise<RekeyReport> {
    return callAsync(() => this.#native.rekey(kek?.kek, kek?.kekFile));
  }

  authorize(appId: string, roomId: string, actorId: string): Promise<Authorization> {
    return callAsync(() => this.#native.authorize(appId, roomId, actorId));
  }

  revokeAuthorization(appId: string, roomId: string, actorId: string): Promise<boolean> {
    return callAsync(() => this.#native.revokeAuthorization(appId, roomId, actorId));
  }

  isAuthorized(appId: string, roomId: string): Promise<boolean> {
    return callAsync(() => this.#native.isAuthorized(appId, roomId));
  }

  listAuthorizations(appId: string): Promise<Authorization[]> {
    return callAsync(() => this.#native.listAuthorizations(appId));
  }

  /**
   * Verifies a suggested room key (`E2ESuggestedKey`) and caches it; returns its kid. The kid
   * must equal `expectedKid` (the room's `e2eKeyId`) and, when the room has messages, `proof`
   * (one of their `content`s) must decrypt with it.
   */
  acceptRoomKey(appId: string, roomId: string, e2eKey: string, options: { expectedKid?: string; proof?: unknown } = {}): Promise<string> {
    return callAsync(() =>
      this.#native.acceptRoomKey(appId, roomId, e2eKey, options?.expectedKid, contentFields(options?.proof)),
    );
  }

  /** Refills the cache from the app user's subscription (`E2EKey`, `oldRoomKeys`). */
  loadRoomKeys(appId: string, roomId: string, subscription: SubscriptionRoomKeys): Promise<LoadedKeys> {
    const keys = toNative(roomId, subscription);
    return callAsync(() => this.#native.loadRoomKeys(appId, roomId, keys));
  }

  /** Decrypts a message of the room for the app and returns its payload. */
  async decryptMessage(appId: string, roomId: string, message: unknown): Promise<MessagePayload> {
    const fields = messageFields(message);
    return parsePayload(await callAsync(() => this.#native.decryptMessage(appId, roomId, fields)));
  }

  /** Encrypts a payload (object, serialized as EJSON; or exact text) with the room's current key. */
  encryptContent(appId: string, roomId: string, payload: string | Record<string, unknown>, options: { expectedKid?: string } = {}): Promise<EncryptedContent> {
    const text =
      typeof payload === 'string'
        ? payload
        : payload !== null && typeof payload === 'object' && !Array.isArray(payload)
          ? EJSON.stringify(payload as Parameters<typeof EJSON.stringify>[0])
          : badInput('payload must be an object or a string');
    return callAsync(() => this.#native.encryptContent(appId, roomId, text, options?.expectedKid)) as Promise<EncryptedContent>;
  }

  /** Audit records, newest first. */
  audit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const since = query.since === undefined ? undefined : millis(query.since);
    return callAsync(() => this.#native.audit({ appId: query.appId, roomId: query.roomId, action: query.action, since, limit: query.limit }));
  }

  /** Writes the counted decrypt/encrypt calls to the audit now. */
  flushAudit(): Promise<void> {
    return callAsync(() => this.#native.flushAudit());
  }

  [inspect.custom](): string {
    return `AppKeyStore { kekId: '${this.kekId}' }`;
  }
}
