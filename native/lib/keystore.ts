/**
 * The stateful participant: an app's identity (a key pair whose private half is sealed under a
 * key-encryption key and never leaves the addon), its authorizations per room, verified room
 * keys, rotation, revocation and audit, on MongoDB (Rocket.Chat's database) or a local file.
 */
import { inspect } from 'node:util';

import native = require('./binding');
import type { EncryptedContent, MessagePayload } from './content';
import { contentFields, messageFields, parsePayload, payloadText, str } from './content';
import { badInput, call, callAsync, E2EEError, fail, reading } from './errors';
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

/** A message of the room offered as evidence about a suggested key: its sender and `content`. */
export interface RoomMessageProof {
  /** The message's `u._id`, as stored. */
  senderId: string;
  /** The message's encrypted `content`. */
  content: EncryptedContent | Record<string, unknown>;
}

/** An old key suggested with the current one (a `suggestedOldRoomKeys` entry), with its proofs. */
export interface SuggestedOldRoomKey {
  e2eKeyId: string;
  E2EKey: string;
  ts?: Date | number;
  /** The room's newest messages under this old key's kid. */
  proofs?: RoomMessageProof[];
}

/** What a suggested key is judged by; see the README's acceptance rule. */
export interface AcceptRoomKeyOptions {
  /** The room's `e2eKeyId`. Required. */
  expectedKid: string;
  /** The user id of the member who suggested the key. Required: their messages prove nothing. */
  suggestedBy: string;
  /** The room's newest messages under `expectedKid`, with their senders (the host gathers them). */
  proofs?: RoomMessageProof[];
  /** Old keys suggested alongside (`suggestedOldRoomKeys`), each judged under its own kid. */
  oldRoomKeys?: SuggestedOldRoomKey[];
}

export type RoomKeyStatus = 'verified' | 'provisional' | 'rejected';

export interface AcceptedRoomKey {
  kid: string;
  /** `verified`: it opened other senders' messages; `provisional`: nobody else wrote under its kid yet. */
  status: 'verified' | 'provisional';
  /** The verdict on each suggested old key, in order; rejected ones were not cached. */
  oldRoomKeys: Array<{ kid: string; status: RoomKeyStatus }>;
}

/** One app's grant for one room. */
export interface Authorization {
  roomId: string;
  /** The user who granted it. */
  grantedBy: string;
  /** Milliseconds since the epoch. */
  grantedAt: number;
}

/** What {@link AppKeyStore.loadRoomKeys} cached from a subscription. */
export interface LoadedKeys {
  /** The kid of `E2EKey`, when it opened. */
  currentKid?: string;
  /** Every kid now cached for the room, current first. */
  kids: string[];
  /** Keys that did not open with the app's private key (wrapped to another key pair). */
  unreadable: number;
  /** Old entries refused: under the current kid, repeated, conflicting, or not matching their `e2eKeyId`. */
  skipped: number;
}

/** Public facts about an app's identity; never key material. */
export interface IdentityInfo {
  appId: string;
  appUserId: string;
  /** Grows by one with each rotation. */
  keyVersion: number;
  /** Rocket.Chat's public-key string (`users.e2e.public_key`). */
  publicKey: string;
  state: 'active' | 'revoked';
  /** The KEK the private key is sealed under (a hash; not secret). */
  kekId?: string;
  /** Set while a rotation is under way: how far it got. */
  rotationStep?: 'begun' | 'rewrapped' | 'published';
  /** Milliseconds since the epoch. */
  createdAt: number;
  revokedAt?: number;
  revokedBy?: string;
}

/** The outcome of {@link AppKeyStore.rotateIdentity}. */
export interface RotationReport {
  keyVersion: number;
  publicKey: string;
  /** Whether an interrupted rotation was resumed. */
  resumed: boolean;
  roomsRewritten: number;
  keysRewrapped: number;
  /** Room keys the old private key could not open (left as they were). */
  keysUnreadable: number;
}

/** The outcome of {@link AppKeyStore.rekey} and {@link AppKeyStore.retireKek}. */
export interface RekeyReport {
  resealed: number;
  unchanged: number;
}

/** One audit record: an operation, or a per-minute count of decrypt/encrypt calls. */
export interface AuditRecord {
  /** Milliseconds since the epoch (for a count, the start of its minute). */
  ts: number;
  /** The user (admin, app user) or `system` that acted. */
  actor: string;
  action: string;
  appId?: string;
  roomId?: string;
  kid?: string;
  /** `ok` or the error code. */
  outcome: string;
  detail?: string;
  /** For counted calls: how many in that minute. */
  count?: number;
}
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
  if (keys !== null && keys !== undefined && typeof keys !== 'object') {
    keystoreBadInput('subscription must be an object with E2EKey and oldRoomKeys (not a JSON string)');
  }
  if (keys?.oldRoomKeys !== undefined && keys?.oldRoomKeys !== null && !Array.isArray(keys.oldRoomKeys)) {
    keystoreBadInput('subscription.oldRoomKeys must be an array');
  }
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

/** A key-store argument that is not what the contract says: `KEYSTORE_BAD_INPUT`, naming the argument. */
function keystoreBadInput(what: string): never {
  return fail('KEYSTORE_BAD_INPUT', `invalid input: ${what}`);
}

/**
 * Reads caller-supplied structures into plain native arguments. Anything the reading throws (a
 * throwing getter, a revoked Proxy, a cycle) becomes `KEYSTORE_BAD_INPUT` naming `what`.
 */
function readArgument<T>(what: string, read: () => T): T {
  return reading(`${what} could not be read`, read, 'KEYSTORE_BAD_INPUT');
}

/** Checks that each named id argument is a string, naming the first one that is not. */
function ids(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) keystoreString(value, name);
}

function keystoreString(value: unknown, what: string): string {
  return typeof value === 'string' ? value : keystoreBadInput(`${what} must be a string`);
}

function arrayOf<T>(value: unknown, what: string, item: (entry: unknown, index: number) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) keystoreBadInput(`${what} must be an array`);
  return value.map(item);
}

function nativeProof(value: unknown, what: string): native.Proof {
  if (value === null || typeof value !== 'object') keystoreBadInput(`${what} must be an object`);
  const proof = value as { senderId?: unknown; content?: unknown };
  const content =
    contentFields(proof.content) ?? keystoreBadInput(`${what}.content must be an encrypted content object`);
  return { senderId: keystoreString(proof.senderId, `${what}.senderId`), content };
}

function nativeAcceptRequest(options: unknown): native.AcceptRequest {
  if (options === null || typeof options !== 'object') keystoreBadInput('acceptRoomKey options must be an object');
  const o = options as AcceptRoomKeyOptions;
  return {
    expectedKid: keystoreString(o.expectedKid, "expectedKid (the room's e2eKeyId)"),
    suggestedBy: keystoreString(o.suggestedBy, "suggestedBy (the suggesting member's user id)"),
    proofs: arrayOf(o.proofs, 'proofs', (proof, index) => nativeProof(proof, `proofs[${index}]`)),
    oldRoomKeys: arrayOf(o.oldRoomKeys, 'oldRoomKeys', (entry, index) => {
      const what = `oldRoomKeys[${index}]`;
      if (entry === null || typeof entry !== 'object') keystoreBadInput(`${what} must be an object`);
      const old = entry as SuggestedOldRoomKey;
      return {
        e2eKeyId: keystoreString(old.e2eKeyId, `${what}.e2eKeyId`),
        e2eKey: keystoreString(old.E2EKey, `${what}.E2EKey`),
        proofs: arrayOf(old.proofs, `${what}.proofs`, (proof, at) => nativeProof(proof, `${what}.proofs[${at}]`)),
      };
    }),
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
    const copy = readArgument('open options', () => {
      if (options === null || typeof options !== 'object') badInput('options must be an object');
      requireString(options.url, 'url');
      return { ...options };
    });
    return new AppKeyStore(await callAsync(() => native.AppKeyStore.open(copy)));
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
    return callAsync(() => {
      ids({ appId, appUserId });
      return this.#native.ensureIdentity(appId, appUserId);
    });
  }

  /** A new identity for an app whose identity was revoked (explicitly, by an actor). */
  recreateIdentity(appId: string, appUserId: string, actorId: string): Promise<string> {
    return callAsync(() => {
      ids({ appId, appUserId, actorId });
      return this.#native.recreateIdentity(appId, appUserId, actorId);
    });
  }

  identity(appId: string): Promise<IdentityInfo | null> {
    return callAsync(() => {
      ids({ appId });
      return this.#native.identity(appId);
    });
  }

  /**
   * Rotates the app's key pair: re-wraps every room key it can open to the new key through
   * `host`, publishes the new public key, then shreds the old private key. Resumable: after any
   * failure, call again. A host callback's own error is the `cause` of `KEYSTORE_HOST_FAILED`.
   */
  async rotateIdentity(appId: string, host: RotationHost): Promise<RotationReport> {
    let hostError: unknown;
    const guarded =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
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
    const write = guarded(
      async (roomId: string, previous: native.SubscriptionKeys, keys: native.SubscriptionKeys) =>
        (await host.writeRoomKeys(roomId, fromNative(previous), fromNative(keys))) !== false,
    );
    const publish = guarded(async (publicKey: string) => {
      await host.publishPublicKey(publicKey);
      return true;
    });
    try {
      return await callAsync(() => {
        ids({ appId });
        readArgument('rotation host', () => {
          for (const method of ['listRoomKeys', 'writeRoomKeys', 'publishPublicKey'] as const) {
            if (typeof host?.[method] !== 'function') keystoreBadInput(`the rotation host needs a ${method} function`);
          }
        });
        return this.#native.rotateIdentity(appId, list, write, publish);
      });
    } catch (error) {
      if (error instanceof E2EEError && error.code === 'KEYSTORE_HOST_FAILED' && hostError !== undefined) {
        (error as E2EEError & { cause?: unknown }).cause = hostError;
      }
      throw error;
    }
  }

  /** Shreds the app's private key and drops its authorizations and cached room keys. */
  revokeIdentity(appId: string, actorId: string): Promise<void> {
    return callAsync(() => {
      ids({ appId, actorId });
      return this.#native.revokeIdentity(appId, actorId);
    });
  }

  /**
   * Re-seals every identity under a new KEK, which this instance uses once all are resealed;
   * resumable. The old KEK's blobs stay, so instances that hold only the old KEK keep working:
   * roll the new KEK out to every instance, then `retireKek(oldKekId)`.
   */
  rekey(kek: { kek?: string; kekFile?: string }): Promise<RekeyReport> {
    return callAsync(() => {
      const { kek: value, kekFile } = readArgument('rekey options', () => ({ kek: kek?.kek, kekFile: kek?.kekFile }));
      return this.#native.rekey(value, kekFile);
    });
  }

  /** Shreds every blob sealed under the KEK `kekId` (not the current one); resumable. */
  retireKek(kekId: string): Promise<RekeyReport> {
    return callAsync(() => {
      ids({ kekId });
      return this.#native.retireKek(kekId);
    });
  }

  authorize(appId: string, roomId: string, actorId: string): Promise<Authorization> {
    return callAsync(() => {
      ids({ appId, roomId, actorId });
      return this.#native.authorize(appId, roomId, actorId);
    });
  }

  revokeAuthorization(appId: string, roomId: string, actorId: string): Promise<boolean> {
    return callAsync(() => {
      ids({ appId, roomId, actorId });
      return this.#native.revokeAuthorization(appId, roomId, actorId);
    });
  }

  isAuthorized(appId: string, roomId: string): Promise<boolean> {
    return callAsync(() => {
      ids({ appId, roomId });
      return this.#native.isAuthorized(appId, roomId);
    });
  }

  listAuthorizations(appId: string): Promise<Authorization[]> {
    return callAsync(() => {
      ids({ appId });
      return this.#native.listAuthorizations(appId);
    });
  }

  /**
   * Judges a room key suggested to the app user (`E2ESuggestedKey`, with `suggestedOldRoomKeys`)
   * and caches it. Its kid must equal `expectedKid`; the messages of `suggestedBy` (and of the
   * app user) prove nothing; it is `verified` when it opens every other sender's message in
   * `proofs` (at least one), `provisional` when there is none (settle it with `confirmRoomKey`),
   * and refused with `KEYSTORE_PROOF_FAILED` when any of them fails to open, or when its kid is
   * already accepted with another key.
   */
  acceptRoomKey(
    appId: string,
    roomId: string,
    e2eKey: string,
    options: AcceptRoomKeyOptions,
  ): Promise<AcceptedRoomKey> {
    return callAsync(async () => {
      ids({ appId, roomId, e2eKey });
      const request = readArgument('acceptRoomKey options', () => nativeAcceptRequest(options));
      return (await this.#native.acceptRoomKey(appId, roomId, e2eKey, request)) as AcceptedRoomKey;
    });
  }

  /**
   * Settles a provisional key with a message of the room under its kid: `verified` when it
   * opens, `rejected` when it does not (the key is dropped: the room reads as "no key" until a
   * new key is accepted), `provisional` for a message of the suggester or the app user.
   */
  confirmRoomKey(appId: string, roomId: string, message: RoomMessageProof): Promise<RoomKeyStatus> {
    return callAsync(async () => {
      ids({ appId, roomId });
      const proof = readArgument('confirmRoomKey message', () => nativeProof(message, 'message'));
      return (await this.#native.confirmRoomKey(appId, roomId, proof)) as RoomKeyStatus;
    });
  }

  /** Refills the cache from the app user's subscription (`E2EKey`, `oldRoomKeys`). */
  loadRoomKeys(appId: string, roomId: string, subscription: SubscriptionRoomKeys): Promise<LoadedKeys> {
    return callAsync(() => {
      ids({ appId, roomId });
      const keys = readArgument('subscription', () => toNative(roomId, subscription));
      return this.#native.loadRoomKeys(appId, roomId, keys);
    });
  }

  /**
   * Decrypts a message of the room for the app and returns its payload. Answered on the calling
   * thread when the store can from memory (see {@link AppKeyStore.decryptMessageCached}), on a
   * worker otherwise.
   */
  async decryptMessage(appId: string, roomId: string, message: unknown): Promise<MessagePayload> {
    const fields = this.#messageArgument(appId, roomId, message);
    const cached = call(() => this.#native.decryptMessageCached(appId, roomId, fields));
    const text = cached ?? (await callAsync(() => this.#native.decryptMessage(appId, roomId, fields)));
    return parsePayload(text);
  }

  /**
   * {@link AppKeyStore.decryptMessage} without waiting, for a caller on a hot path: the payload
   * when the authorization was checked within its TTL, the message's key is cached and the
   * ciphertext is at most 256 KiB; `null` when the store would have to read storage or hand
   * the work to a worker (then await `decryptMessage`). Refusals and failed decrypts it can
   * judge from memory throw the same errors `decryptMessage` rejects with; both are counted in
   * the audit alike.
   */
  decryptMessageCached(appId: string, roomId: string, message: unknown): MessagePayload | null {
    const fields = this.#messageArgument(appId, roomId, message);
    const text = call(() => this.#native.decryptMessageCached(appId, roomId, fields));
    return text === null ? null : parsePayload(text);
  }

  #messageArgument(appId: string, roomId: string, message: unknown): native.MessageFields {
    return call(() => {
      ids({ appId, roomId });
      return readArgument('message', () => messageFields(message));
    });
  }

  /** Encrypts a payload (object, serialized as EJSON; or exact text) with the room's current key. */
  encryptContent(
    appId: string,
    roomId: string,
    payload: string | Record<string, unknown>,
    options: { expectedKid?: string } = {},
  ): Promise<EncryptedContent> {
    return callAsync(() => {
      ids({ appId, roomId });
      const text = readArgument('payload', () => payloadText(payload));
      const expectedKid = readArgument('encryptContent options', () => options?.expectedKid);
      return this.#native.encryptContent(appId, roomId, text, expectedKid);
    }) as Promise<EncryptedContent>;
  }

  /** Audit records, newest first. */
  audit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    return callAsync(() => {
      const filter = readArgument('audit query', () => ({
        appId: query?.appId,
        roomId: query?.roomId,
        action: query?.action,
        since: query?.since === undefined ? undefined : millis(query.since),
        limit: query?.limit,
      }));
      return this.#native.audit(filter);
    });
  }

  /** Writes the counted decrypt/encrypt calls to the audit now. */
  flushAudit(): Promise<void> {
    return callAsync(() => this.#native.flushAudit());
  }

  [inspect.custom](): string {
    return `AppKeyStore { kekId: '${this.kekId}' }`;
  }
}
