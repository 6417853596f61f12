/**
 * The stateful participant: an app's identity (a key pair whose private half is sealed under a
 * key-encryption key and never leaves the addon), its authorizations per room, verified room
 * keys, rotation, revocation and audit, on MongoDB (Rocket.Chat's database) or a local file.
 */
import { inspect } from 'node:util';

import native = require('./binding');
import type { EncryptedContent, MessagePayload } from './content';
import {
  contentFields,
  MAX_SYNC_CIPHERTEXT_CHARS,
  messageFields,
  parseDecrypted,
  parsePayload,
  payloadText,
  stagedEnvelope,
  str,
} from './content';
import { badInput, call, callAsync, E2EEError, errorOfCode, fail, isOwnError, reading } from './errors';
import { requireString } from './keys';
import { nextTurn, STAGE_SLICE, stageText } from './staging';

/** Most messages one {@link AppKeyStore.decryptMessages} call takes; read a longer history in pages. */
export const MAX_BATCH_MESSAGES = 1000;

/**
 * Where an app identity's private key is held (see the README's "Key custody" section).
 * - `sealed` (the default): the key is sealed under the KEK of `kek`/`kekFile`, held in this
 *   process.
 * - `pkcs11` with `mode: 'kek'`: the KEK is an AES-256 key inside a PKCS#11 token
 *   (non-extractable); the token seals and opens identities with AES-GCM.
 * - `pkcs11` with `mode: 'rsa'`: each identity's RSA key pair is generated inside the token and
 *   never leaves it; the token unwraps room keys (RSA-OAEP-SHA-256). The stronger mode.
 *
 * A token that cannot be used fails at open (or, for a mechanism the token lists but refuses,
 * at the first identity) with `KEYSTORE_HSM_MODULE`, `KEYSTORE_HSM_TOKEN`, `KEYSTORE_HSM_PIN`,
 * `KEYSTORE_HSM_KEY` or `KEYSTORE_HSM_MECHANISM`, nothing written.
 */
export type CustodyOptions =
  | {
      /** The KEK of `kek`/`kekFile`, in this process. */
      kind: 'sealed';
    }
  | Pkcs11CustodyOptions;

/** A PKCS#11 token's custody: see {@link CustodyOptions}. */
export interface Pkcs11CustodyOptions {
  /** A PKCS#11 token (HSM, cloud HSM library or soft token). */
  kind: 'pkcs11';
  /** `kek`: the token holds the KEK. `rsa`: the token holds each identity's key pair. */
  mode: 'kek' | 'rsa';
  /** Path of the PKCS#11 module (shared object), e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  module: string;
  /** Label of the token to use. */
  tokenLabel: string;
  /** A file holding the user PIN (surrounding whitespace ignored); the PIN is never logged. */
  pinFile: string;
  /**
   * `kek` mode: label of the AES-256 KEK object (default `rc-e2ee-kek`). `rsa` mode: name of
   * this custody in the token (default `rc-e2ee`), so stores sharing a token keep apart.
   */
  keyLabel?: string;
  /** `kek` mode: create the KEK object when the token has none under `keyLabel` (default false). */
  createKey?: boolean;
}

/**
 * Options of {@link AppKeyStore.open}. For sealed custody give exactly one of `kek` and
 * `kekFile`; for PKCS#11 custody neither. The durations are milliseconds.
 */
export interface AppKeyStoreOptions {
  /**
   * `mongodb://…` or `mongodb+srv://…` (Rocket.Chat's database; the collections are prefixed
   * `rc_e2ee_`) or `file:///absolute/path.json` (embedded: one JSON file, development and tests).
   */
  url: string;
  /**
   * Database for a `mongodb://` URL; it takes precedence over the one the URL names, and one of
   * the two is required (`KEYSTORE_BAD_INPUT` otherwise). Ignored for `file://`.
   */
  database?: string;
  /** The key-encryption key, base64 of 32 bytes (e.g. from an environment variable). */
  kek?: string;
  /** A file holding the base64 KEK: a mounted secret. Preferred over `kek`. */
  kekFile?: string;
  /**
   * Earlier KEKs (base64, or `file:<path>`) whose blobs still open, while a KEK rotation
   * (`rekey`, then `retireKek`) is under way. New blobs are sealed under the current KEK only.
   */
  previousKeks?: string[];
  /**
   * Where identity keys are held (default `{ kind: 'sealed' }`). Moving identities into a token:
   * into `kek` mode with {@link AppKeyStore.rekey}; into `rsa` mode by opening with it and the
   * old KEK in `previousKeks`, then rotating each identity.
   */
  custody?: CustodyOptions;
  /**
   * Unwrapped room keys this instance keeps in memory, least recently used evicted first
   * (default 4096; at least 1). An evicted key reads as `KEYSTORE_NO_ROOM_KEY` until the host
   * calls `loadRoomKeys` again.
   */
  roomKeyCapacity?: number;
  /**
   * How long decrypt and encrypt trust a checked authorization before reading it from storage
   * again, in milliseconds (default 1000, capped at 60000; 0 reads it on every call). A
   * revocation made through another instance applies here within this delay.
   */
  authorizationTtlMs?: number;
  /**
   * Longest delay, in milliseconds, before counted decrypt/encrypt calls are written to the
   * audit (default 10000; the background flusher wakes at most every 100 ms).
   */
  auditFlushIntervalMs?: number;
}

/** An `oldRoomKeys` entry as Rocket.Chat stores it on a subscription. */
export interface OldRoomKey {
  /** The old key's kid (the room's `e2eKeyId` while that key was current). */
  e2eKeyId: string;
  /**
   * When the key was replaced (the room-key reset): a `Date` or milliseconds since the epoch
   * (an EJSON `{ $date: ms }` is read too). The store hands entries back with a `Date`.
   */
  ts: Date | number;
  /** That old key wrapped to the app's public key, in `E2EKey` form: kid prefix + RSA-OAEP body. */
  E2EKey: string;
}

/** The room-key members of the app user's subscription, as Rocket.Chat stores them. */
export interface SubscriptionRoomKeys {
  /**
   * The subscription's `E2EKey`: the room's current key wrapped to the app's public key (the
   * kid followed by 344 base64 characters). Absent or `null`: the room has no current key.
   */
  E2EKey?: string | null;
  /** The subscription's `oldRoomKeys`, newest first as Rocket.Chat keeps them. */
  oldRoomKeys?: OldRoomKey[] | null;
}

/**
 * The host's side of an identity rotation: it reads and writes the app user's subscriptions
 * and user record in Rocket.Chat's database. A callback that throws or rejects fails the
 * rotation with `KEYSTORE_HOST_FAILED` (its error as `cause`); the next call resumes.
 */
export interface RotationHost {
  /** Every subscription of the app user that holds room keys. */
  listRoomKeys(): Promise<
    Array<
      SubscriptionRoomKeys & {
        /** The subscription's room (`rid`); required, a string. */
        roomId: string;
      }
    >
  >;
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
  /** The entry's `e2eKeyId`: the kid the key is judged under; the kid wrapped in `E2EKey` must equal it. */
  e2eKeyId: string;
  /** The old key wrapped to the app's public key, in `E2EKey` form (kid prefix + RSA-OAEP body). */
  E2EKey: string;
  /** The entry's `ts`, accepted as Rocket.Chat stores it; the judgment does not read it. */
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

/**
 * How far a room key is trusted: `verified` (it opened the messages of every other sender
 * offered, at least one, or it came from the app user's own subscription with no record of it
 * being provisional), `provisional`
 * (nobody but the suggester or the app user has written under its kid yet: usable, settled by
 * {@link AppKeyStore.confirmRoomKey}), `rejected` (it failed to open another sender's message:
 * dropped, never used).
 */
export type RoomKeyStatus = 'verified' | 'provisional' | 'rejected';

/** A room key some app holds provisionally in a room ({@link AppKeyStore.provisionalKeys}); no key material. */
export interface ProvisionalRoomKey {
  /** The app holding it. */
  appId: string;
  /** The key's kid: only a message under this kid can settle it. */
  kid: string;
}

/**
 * What {@link AppKeyStore.acceptRoomKey} resolves with once the suggested key is cached as the
 * room's current key. A rejected current key is not a result: the call fails with
 * `KEYSTORE_PROOF_FAILED`.
 */
export interface AcceptedRoomKey {
  /** The accepted key's kid: equal to `expectedKid` (the room's `e2eKeyId`). */
  kid: string;
  /** `verified`: it opened other senders' messages; `provisional`: nobody else wrote under its kid yet. */
  status: 'verified' | 'provisional';
  /** The verdict on each suggested old key, in order; rejected ones were not cached. */
  oldRoomKeys: Array<{
    /** The kid the old key was judged under: its `e2eKeyId`. */
    kid: string;
    /** Its verdict; a `rejected` old key was skipped and audited, the others are cached. */
    status: RoomKeyStatus;
  }>;
}

/** One app's grant for one room. */
export interface Authorization {
  /** The Rocket.Chat room id (`rooms._id`). */
  roomId: string;
  /** The user who granted it (the `actorId` of {@link AppKeyStore.authorize}). */
  grantedBy: string;
  /** When it was granted, in milliseconds since the epoch. */
  grantedAt: number;
}

/** What {@link AppKeyStore.loadRoomKeys} cached from a subscription. */
export interface LoadedKeys {
  /**
   * The room's current kid after the call: the kid of `E2EKey` when it opened and was cached,
   * or was already held with the same key. Absent: the room now has no current key.
   */
  currentKid?: string;
  /** The kids this call cached, current first. */
  kids: string[];
  /** Wrapped keys that opened with none of the app's private keys (wrapped to another key pair), left alone. */
  unreadable: number;
  /**
   * Keys that opened but were not cached: an old entry under the current kid, under a kid other
   * than its `e2eKeyId` or repeated, a legacy `A128CBC` key without a 12-character kid, or a kid
   * this store already holds a different key for.
   */
  skipped: number;
}

/** Public facts about an app's identity; never key material. */
export interface IdentityInfo {
  /** The Apps-Engine app id (the UUID in the app's `app.json`). */
  appId: string;
  /** The Rocket.Chat user id of the app's user, fixed when the identity was created. */
  appUserId: string;
  /** 1 for a new identity; each completed rotation and each re-creation raises it. */
  keyVersion: number;
  /**
   * Rocket.Chat's public-key string (`users.e2e.public_key`) members wrap room keys to: the
   * current key, or a rotation's new key once it is published. A revoked identity keeps its
   * last one, whose private half is gone.
   */
  publicKey: string;
  /** `revoked` once {@link AppKeyStore.revokeIdentity} shredded the private key; the record stays as a tombstone. */
  state: 'active' | 'revoked';
  /** The id of the KEK the current private key is sealed under (a hash; not secret). Absent once revoked. */
  kekId?: string;
  /**
   * Set while a rotation is under way: how far it got (`begun`: the new key is sealed beside
   * the old one; `rewrapped`: room keys were re-wrapped to it; `published`: the host published
   * it). Absent otherwise.
   */
  rotationStep?: 'begun' | 'rewrapped' | 'published';
  /** When the app first got an identity, in milliseconds since the epoch; a re-creation keeps it. */
  createdAt: number;
  /** When the identity was revoked, in milliseconds since the epoch; only while `state` is `revoked`. */
  revokedAt?: number;
  /** The `actorId` that revoked it; only while `state` is `revoked`. */
  revokedBy?: string;
}

/** The outcome of {@link AppKeyStore.rotateIdentity}. */
export interface RotationReport {
  /** The identity's key version after the rotation (one above the old key's). */
  keyVersion: number;
  /** The new public-key string, as published on the app user (`users.e2e.public_key`). */
  publicKey: string;
  /**
   * Whether a rotation was already under way when this call started (interrupted, or begun by
   * another instance) and this call carried it on.
   */
  resumed: boolean;
  /** Subscription writes this call made (`writeRoomKeys` calls); a room can be written in each re-wrap pass. */
  roomsRewritten: number;
  /** Wrapped room keys (`E2EKey` and `oldRoomKeys` entries) this call re-wrapped to the new key. */
  keysRewrapped: number;
  /**
   * Wrapped room keys that opened with neither key (left as they were), each counted once
   * however many re-wrap passes met it.
   */
  keysUnreadable: number;
}

/** The outcome of {@link AppKeyStore.rekey} and {@link AppKeyStore.retireKek}, counted in identities. */
export interface RekeyReport {
  /**
   * Identities this call changed: for `rekey`, now sealed under the new KEK; for `retireKek`,
   * whose blobs under the retired KEK were shredded (re-sealed first where that was the only one).
   */
  resealed: number;
  /**
   * Identities left as they were: already under the new KEK, with nothing sealed (revoked), or
   * with no blob under the retired KEK.
   */
  unchanged: number;
}

/**
 * One audit record: an operation, or a per-minute count of decrypt/encrypt calls. Records carry
 * ids, kids, outcomes and counts, never message content or key material.
 */
export interface AuditRecord {
  /** Milliseconds since the epoch (for a count, the start of its minute). */
  ts: number;
  /** The user (admin, app user) or `system` that acted. */
  actor: string;
  /**
   * What happened: `identity.create`, `identity.recreate`, `identity.revoke`,
   * `identity.rotate.begin`/`.rewrap`/`.publish`/`.commit`, `kek.rekey`, `kek.retire`,
   * `authorization.grant`, `authorization.revoke`, `room_key.accept`, `room_key.reject`,
   * `room_key.confirm`, `room_key.load`; counted: `message.decrypt`, `content.decrypt`,
   * `content.encrypt`.
   */
  action: string;
  /** The Apps-Engine app id the record concerns. */
  appId?: string;
  /**
   * The room concerned. Absent on identity and KEK records, and on counts of calls refused
   * before the room was found authorized (counted per app, not per room id tried).
   */
  roomId?: string;
  /**
   * The room key's kid, where one is concerned. Kids come from room members, so it is kept as
   * printable ASCII (anything else becomes `?`), cut at 64 characters and marked `...`.
   */
  kid?: string;
  /** `ok` or the error code. */
  outcome: string;
  /**
   * Short fixed-form facts about the operation, e.g. `already granted`,
   * `authorizations_dropped=2`, a rotation pass's counts, or the suggester (a user id) of a
   * rejected key.
   */
  detail?: string;
  /** For counted calls: how many in that minute. */
  count?: number;
}

/** A filter for {@link AppKeyStore.audit}; every member given must match. */
export interface AuditQuery {
  /** Only records about this Apps-Engine app id. */
  appId?: string;
  /** Only records about this room. */
  roomId?: string;
  /** Only records with exactly this action (see {@link AuditRecord.action}). */
  action?: string;
  /** Only records at or after this time: a `Date` or milliseconds since the epoch. */
  since?: Date | number;
  /** At most this many records (default 100; 0 means the default; capped at 10000). */
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
  try {
    return reading(`${what} could not be read`, read, 'KEYSTORE_BAD_INPUT');
  } catch (error) {
    // The shared field readers speak the codec's E2EE_BAD_INPUT; a key-store call's argument
    // errors are all KEYSTORE_BAD_INPUT, with the same message.
    if (isOwnError(error) && (error as E2EEError).code === 'E2EE_BAD_INPUT') {
      keystoreBadInput((error as E2EEError).message.replace(/^invalid input: /, ''));
    }
    throw error;
  }
}

/** A copy of a custody option with its shape checked; absent stays absent. */
function custodyOption(value: unknown): native.CustodyOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') keystoreBadInput('custody must be an object');
  const custody = value as Record<string, unknown>;
  const text = (name: string): string | undefined => {
    const field = custody[name];
    if (field === undefined) return undefined;
    if (typeof field !== 'string') keystoreBadInput(`custody.${name} must be a string`);
    return field;
  };
  const createKey = custody.createKey;
  if (createKey !== undefined && typeof createKey !== 'boolean')
    keystoreBadInput('custody.createKey must be a boolean');
  const kind = text('kind');
  if (kind !== 'sealed' && kind !== 'pkcs11') keystoreBadInput("custody.kind must be 'sealed' or 'pkcs11'");
  return {
    kind,
    mode: text('mode'),
    module: text('module'),
    tokenLabel: text('tokenLabel'),
    pinFile: text('pinFile'),
    keyLabel: text('keyLabel'),
    createKey,
  };
}

/** A count option: absent, or an integer from 0 to 2^32 - 1 (N-API would wrap a negative one). */
function countOption(
  options: AppKeyStoreOptions,
  name: 'roomKeyCapacity' | 'authorizationTtlMs' | 'auditFlushIntervalMs',
): void {
  const value: unknown = options[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    keystoreBadInput(`${name} must be an integer from 0 to 4294967295`);
  }
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

/** Most messages one piece of a {@link AppKeyStore.decryptMessages} page holds. */
const PIECE_MESSAGES = 256;

/**
 * `[start, end)` ranges of `fields`, in order, each at most {@link PIECE_MESSAGES} messages
 * whose ciphertexts total at most a staging slice (a longer message is a piece alone); one
 * empty piece for no messages, so that the store still judges the call.
 */
function batchPieces(fields: readonly native.MessageFields[]): Array<[number, number]> {
  const pieces: Array<[number, number]> = [];
  let start = 0;
  let chars = 0;
  for (let index = 0; index < fields.length; index++) {
    const size = longestCiphertext(fields[index]);
    if (index > start && (index - start >= PIECE_MESSAGES || chars + size > STAGE_SLICE)) {
      pieces.push([start, index]);
      start = index;
      chars = 0;
    }
    chars += size;
  }
  pieces.push([start, fields.length]);
  return pieces;
}

/**
 * The most characters a decrypt of `fields` may read, as the store measures them for its
 * synchronous bound: the longest of the envelopes' ciphertexts and `msg`. The store counts
 * bytes, never fewer than the UTF-16 units counted here, so a message over the bound here is
 * over it there too.
 */
function longestCiphertext(fields: native.MessageFields): number {
  return Math.max(
    fields.content?.ciphertext?.length ?? 0,
    fields.pinnedContent?.ciphertext?.length ?? 0,
    fields.msg?.length ?? 0,
  );
}

/**
 * An app's membership in encrypted rooms, kept on the server: each Apps-Engine app's identity
 * (an RSA key pair whose private half is sealed under the KEK and never leaves the addon), its
 * authorizations per room, the room keys it verified, rotation, revocation and audit. No method
 * returns private-key or room-key material.
 *
 * Open one store per process with {@link AppKeyStore.open} and share it among apps and calls:
 * its caches belong to the instance, and calls may run concurrently. Storage and RSA work run
 * off the event loop and settle a Promise; {@link AppKeyStore.decryptMessageCached} answers
 * synchronously from memory. Several Rocket.Chat instances may each open a store on the same
 * database: writes never lose each other, but caches are per instance, so each one loads room
 * keys itself ({@link AppKeyStore.loadRoomKeys}) and sees another's revocation within
 * `authorizationTtlMs`. Call {@link AppKeyStore.close} on shutdown: counted calls not yet
 * flushed would otherwise miss the audit.
 *
 * App ids are Apps-Engine app ids (the UUID in `app.json`); room, user and actor ids are
 * Rocket.Chat ids (non-empty, at most 512 bytes, no control characters); a bad id fails with
 * `KEYSTORE_BAD_INPUT`. Every failure, thrown or rejected, is an {@link E2EEError} with a
 * `KEYSTORE_*` or `E2EE_*` code.
 */
export class AppKeyStore {
  readonly #native: native.AppKeyStore;

  private constructor(handle: native.AppKeyStore) {
    this.#native = handle;
  }

  /**
   * Opens the store, creating its collections and indexes (or its file) as needed. Fails with
   * `KEYSTORE_BAD_KEK` when the KEK is missing, not base64 of 32 bytes, given both as `kek` and
   * `kekFile`, or when an active identity is sealed under no KEK given; `KEYSTORE_BAD_INPUT` for
   * a URL it cannot use (or a MongoDB URL without a database); `KEYSTORE_STORAGE` when the
   * database or file fails.
   */
  static async open(options: AppKeyStoreOptions): Promise<AppKeyStore> {
    const copy = readArgument('open options', () => {
      if (options === null || typeof options !== 'object') badInput('options must be an object');
      requireString(options.url, 'url');
      for (const name of ['roomKeyCapacity', 'authorizationTtlMs', 'auditFlushIntervalMs'] as const)
        countOption(options, name);
      return { ...options, custody: custodyOption(options.custody) };
    });
    return new AppKeyStore(await callAsync(() => native.AppKeyStore.open(copy)));
  }

  /**
   * Flushes the audit counters, drops every cached key and releases the database connection
   * (or file). Later calls fail with `KEYSTORE_STORAGE`; closing again does nothing.
   */
  close(): Promise<void> {
    return callAsync(() => this.#native.close());
  }

  /** The id (a hash, not secret) of the KEK new blobs are sealed under. */
  get kekId(): string {
    return this.#native.kekId;
  }

  /**
   * Creates the app's identity (a new RSA-OAEP-2048 key pair, sealed under the KEK) or loads
   * it, and returns the public-key string to publish on the app user (`users.e2e.public_key`;
   * during a rotation, the new key once published). Fails with `KEYSTORE_REVOKED` for a revoked
   * identity (see `recreateIdentity`) and `KEYSTORE_BAD_INPUT` when the identity belongs to
   * another app user.
   */
  ensureIdentity(appId: string, appUserId: string): Promise<string> {
    return callAsync(() => {
      ids({ appId, appUserId });
      return this.#native.ensureIdentity(appId, appUserId);
    });
  }

  /**
   * A new identity for an app whose identity was revoked (explicitly, by `actorId`): a new key
   * pair, a higher key version, no authorizations. Creates one if the app has none; an active
   * identity is refused with `KEYSTORE_BAD_INPUT` (rotate it instead). Returns the public-key
   * string to publish.
   */
  recreateIdentity(appId: string, appUserId: string, actorId: string): Promise<string> {
    return callAsync(() => {
      ids({ appId, appUserId, actorId });
      return this.#native.recreateIdentity(appId, appUserId, actorId);
    });
  }

  /** Public facts about the app's identity (revoked ones included), or `null` when it has none. */
  identity(appId: string): Promise<IdentityInfo | null> {
    return callAsync(() => {
      ids({ appId });
      return this.#native.identity(appId);
    });
  }

  /**
   * Rotates the app's key pair: re-wraps every room key it can open to the new key through
   * `host`, publishes the new public key, then shreds the old private key. Resumable: after any
   * failure, call again. A host callback's own error is the `cause` of `KEYSTORE_HOST_FAILED`;
   * a `writeRoomKeys` that resolves `false` fails the call with `KEYSTORE_CONFLICT`. The app's
   * cached room keys are dropped at the end: reload them with `loadRoomKeys` from the rewritten
   * subscriptions. `KEYSTORE_NO_IDENTITY` or `KEYSTORE_REVOKED` when there is nothing to rotate.
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
    const write = guarded(async (roomId: string, previous: native.SubscriptionKeys, keys: native.SubscriptionKeys) => {
      const written: unknown = await host.writeRoomKeys(roomId, fromNative(previous), fromNative(keys));
      // A compare-and-set answers yes or no; anything else (a forgotten `return`) would read as a
      // write that may never have happened, and the rotation would commit over it.
      if (typeof written !== 'boolean')
        badInput('writeRoomKeys must resolve to true (written) or false (changed meanwhile)');
      return written;
    });
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

  /**
   * Crypto-shreds the app's identity: deletes its sealed private key (and a half-rotated new
   * one), keeps the record as a `revoked` tombstone, deletes every authorization of the app and
   * drops its cached keys on this instance (other instances within `authorizationTtlMs`).
   * Idempotent; `KEYSTORE_NO_IDENTITY` when the app has none. What the app already read stays
   * read: reset the room keys afterwards.
   */
  revokeIdentity(appId: string, actorId: string): Promise<void> {
    return callAsync(() => {
      ids({ appId, actorId });
      return this.#native.revokeIdentity(appId, actorId);
    });
  }

  /**
   * Re-seals every identity under a new KEK, which this instance uses once all are resealed;
   * resumable. The old KEK's blobs stay, so instances that hold only the old KEK keep working:
   * roll the new KEK out to every instance, then `retireKek(oldKekId)`. `kek` names the new KEK
   * as {@link AppKeyStoreOptions} does (exactly one of `kek`, `kekFile`, or a PKCS#11 `custody`
   * in `kek` mode). `rsa` mode seals nothing: `KEYSTORE_BAD_INPUT`, rotate identities into it. Fails with
   * `KEYSTORE_BAD_KEK`, after re-sealing all it can and without switching, when an identity has
   * no blob under a KEK this store holds.
   */
  rekey(kek: { kek?: string; kekFile?: string; custody?: CustodyOptions }): Promise<RekeyReport> {
    return callAsync(() => {
      const { value, kekFile, custody } = readArgument('rekey options', () => ({
        value: kek?.kek,
        kekFile: kek?.kekFile,
        custody: custodyOption(kek?.custody),
      }));
      return this.#native.rekey(value, kekFile, custody);
    });
  }

  /**
   * Shreds every blob sealed under the KEK `kekId` (see {@link IdentityInfo.kekId}), re-sealing
   * first under the current KEK a key whose only blob is under it; afterwards this store no
   * longer accepts that KEK. The current KEK cannot be retired (`KEYSTORE_BAD_INPUT`). Resumable.
   */
  retireKek(kekId: string): Promise<RekeyReport> {
    return callAsync(() => {
      ids({ kekId });
      return this.#native.retireKek(kekId);
    });
  }

  /**
   * Authorizes the app for the room, recording `actorId` as the grantor; audited. The app needs
   * an active identity (`KEYSTORE_NO_IDENTITY`, `KEYSTORE_REVOKED`). Idempotent: a second grant
   * keeps, and resolves with, the first one.
   */
  authorize(appId: string, roomId: string, actorId: string): Promise<Authorization> {
    return callAsync(() => {
      ids({ appId, roomId, actorId });
      return this.#native.authorize(appId, roomId, actorId);
    });
  }

  /**
   * Withdraws the app's authorization for the room and drops the room's cached keys on this
   * instance (other instances refuse within `authorizationTtlMs`); audited. Resolves whether
   * there was one.
   */
  revokeAuthorization(appId: string, roomId: string, actorId: string): Promise<boolean> {
    return callAsync(() => {
      ids({ appId, roomId, actorId });
      return this.#native.revokeAuthorization(appId, roomId, actorId);
    });
  }

  /** Whether the app holds an authorization for the room, read from storage (not the cache). */
  isAuthorized(appId: string, roomId: string): Promise<boolean> {
    return callAsync(() => {
      ids({ appId, roomId });
      return this.#native.isAuthorized(appId, roomId);
    });
  }

  /** The app's authorizations, oldest grant first. */
  listAuthorizations(appId: string): Promise<Authorization[]> {
    return callAsync(() => {
      ids({ appId });
      return this.#native.listAuthorizations(appId);
    });
  }

  /**
   * The apps holding a provisional room key in the room, with its kid: what a message saved in
   * the room could settle ({@link AppKeyStore.confirmRoomKey}). The record is on the key store's
   * authorizations, so the answer is the same on every server instance, whichever accepted the
   * key, and after a restart. One indexed query; empty for nearly every room.
   */
  provisionalKeys(roomId: string): Promise<ProvisionalRoomKey[]> {
    return callAsync(() => {
      ids({ roomId });
      return this.#native.provisionalKeys(roomId);
    });
  }

  /**
   * Judges a room key suggested to the app user (`E2ESuggestedKey`, with `suggestedOldRoomKeys`)
   * and caches it as the room's current key. The app must be authorized for the room with an
   * active identity (`KEYSTORE_NOT_AUTHORIZED`, `KEYSTORE_NO_IDENTITY`, `KEYSTORE_REVOKED`).
   * Its kid must equal `expectedKid` (else `KEYSTORE_KID_MISMATCH`); the messages of
   * `suggestedBy` (and of the app user) prove nothing; it is `verified` when it opens every other
   * sender's message in `proofs` (at least one), `provisional` when there is none (settle it with
   * `confirmRoomKey`), and refused with `KEYSTORE_PROOF_FAILED` when any of them fails to open,
   * when its kid is already accepted with another key, or when it is a legacy `A128CBC` key
   * under a kid that is not a legacy one. Accepting and refusing are audited.
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
   * new key is accepted), `provisional` for a message of the suggester or the app user. A key
   * already verified stays `verified`; a kid the store holds no key for is `KEYSTORE_NO_ROOM_KEY`.
   */
  confirmRoomKey(appId: string, roomId: string, message: RoomMessageProof): Promise<RoomKeyStatus> {
    return callAsync(async () => {
      ids({ appId, roomId });
      const proof = readArgument('confirmRoomKey message', () => nativeProof(message, 'message'));
      return (await this.#native.confirmRoomKey(appId, roomId, proof)) as RoomKeyStatus;
    });
  }

  /**
   * Refills the cache from the app user's subscription (`E2EKey`, `oldRoomKeys`): after a
   * restart, on another instance, or when the host sees them change. Only the host writes that
   * subscription, after an acceptance, so what opens is cached as `verified` (a kid already
   * held keeps its trust), except that no entry overrides a key (see {@link LoadedKeys.skipped}).
   * Without `E2EKey` the room has no current key. Needs an authorized app with an active
   * identity, like `acceptRoomKey`.
   */
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
    const cached = this.#fromMemory(appId, roomId, fields);
    if (cached !== null) return parsePayload(cached);
    // A large ciphertext crosses a slice per event-loop turn, never in one long copy; a large
    // payload comes back split, its long strings neither parsed nor copied here.
    const large = stagedEnvelope(fields);
    if (large) {
      const staged = await stageText(large.ciphertext);
      return parseDecrypted(
        await callAsync(() => this.#native.decryptMessageStaged(appId, roomId, large.rest, staged, large.pinned)),
      );
    }
    return parseDecrypted(await callAsync(() => this.#native.decryptMessage(appId, roomId, fields)));
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
    const text = this.#fromMemory(appId, roomId, this.#messageArgument(appId, roomId, message));
    return text === null ? null : parsePayload(text);
  }

  /**
   * The synchronous decrypt. A `t: 'e2e'` message with a v2 `content` (nearly all of them)
   * crosses as three strings rather than a message object (the label checked here): the same
   * decrypt, fewer conversions.
   */
  #fromMemory(appId: string, roomId: string, fields: native.MessageFields): string | null {
    // Over the synchronous bound the store answers `null` before anything else: said here, so
    // that a large ciphertext is not read whole on the JS thread only to be refused.
    const content = fields.content;
    if (fields.t === 'e2e' && !fields.pinnedContent && content?.algorithm === 'rc.v2.aes-sha2') {
      if ((content.ciphertext?.length ?? 0) > MAX_SYNC_CIPHERTEXT_CHARS) return null;
      return call(() =>
        this.#native.decryptV2MessageCached(appId, roomId, content.kid, content.iv, content.ciphertext),
      );
    }
    if (longestCiphertext(fields) > MAX_SYNC_CIPHERTEXT_CHARS) return null;
    return call(() => this.#native.decryptMessageCached(appId, roomId, fields));
  }

  #messageArgument(appId: string, roomId: string, message: unknown): native.MessageFields {
    return call(() => {
      // Per message: two checks rather than `ids`' object and entries.
      keystoreString(appId, 'appId');
      keystoreString(roomId, 'roomId');
      return readArgument('message', () => messageFields(message));
    });
  }

  /**
   * Decrypts a page of the room's history off the event loop (an archiver, an export, a search
   * indexer reading `read.getRoomReader().getMessages()`): at most
   * {@link MAX_BATCH_MESSAGES} messages, each the payload or an `E2EEError` for that message
   * alone (a message that cannot be read as one, a missing key, a tampered ciphertext). The
   * authorization and identity are checked before anything is decrypted: a refused batch
   * rejects whole, and nothing is decrypted. Each message is counted in the audit like a single
   * decrypt. So that the event loop never reads or parses much in one turn, a page crosses in
   * pieces of at most 256 messages and about 128 Ki ciphertext characters (a longer message
   * alone), each checked in the same way from memory: a revocation that lands while a page is
   * being read rejects the call.
   */
  decryptMessages(
    appId: string,
    roomId: string,
    messages: readonly unknown[],
  ): Promise<Array<MessagePayload | E2EEError>> {
    return callAsync(async () => {
      ids({ appId, roomId });
      const length = readArgument('messages', () => {
        if (!Array.isArray(messages)) keystoreBadInput('messages must be an array');
        if (messages.length > MAX_BATCH_MESSAGES) {
          keystoreBadInput(`more than ${MAX_BATCH_MESSAGES} messages in one call`);
        }
        return messages.length;
      });
      const out: Array<MessagePayload | E2EEError> = new Array(length);
      const fields: native.MessageFields[] = [];
      const positions: number[] = [];
      for (let index = 0; index < length; index++) {
        try {
          fields.push(readArgument(`messages[${index}]`, () => messageFields(messages[index])));
          positions.push(index);
        } catch (error) {
          // This message alone cannot be read (a getter, a Proxy, not an object): its own error.
          out[index] = error as E2EEError;
        }
      }
      // A page crosses in pieces, so that no turn of the event loop reads (or parses) more
      // than about a slice of ciphertext: each piece is one call, the next one sent while the
      // worker decrypts this one (both cores work), its results parsed when it settles.
      const pieces = batchPieces(fields);
      const send = (piece: number): Promise<native.PayloadBatch> => {
        const [start, end] = pieces[piece];
        return this.#native.decryptMessages(appId, roomId, fields.slice(start, end));
      };
      let next = send(0);
      for (let piece = 0; piece < pieces.length; piece++) {
        const settling = next;
        if (piece + 1 < pieces.length) {
          await nextTurn();
          next = send(piece + 1);
          // Observed now: a refusal of this piece rejects the call when it is awaited below.
          next.catch(() => undefined);
        }
        const batch = await settling;
        const offset = pieces[piece][0];
        batch.payloads.forEach((decrypted, i) => {
          if (decrypted === null) return;
          try {
            out[positions[offset + i]] = parseDecrypted(decrypted);
          } catch (error) {
            out[positions[offset + i]] = error as E2EEError;
          }
        });
        batch.failed.forEach((i, n) => {
          out[positions[offset + i]] = errorOfCode(batch.codes[n], 'the message could not be decrypted');
        });
      }
      return out;
    });
  }

  /**
   * Encrypts a payload (an object, serialized as EJSON; or its exact text, which must be a JSON
   * object, else `E2EE_BAD_PAYLOAD`) as a v2 envelope under the room's current key: the
   * message's `content`. `KEYSTORE_NO_ROOM_KEY` when no current key is cached; with
   * `options.expectedKid` (the room's `e2eKeyId`), a different current key is
   * `KEYSTORE_KID_MISMATCH` rather than a message other members cannot read.
   */
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

  /** Audit records matching `query`, newest first; counted calls are flushed first. */
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

  /** Writes the counted decrypt/encrypt calls to the audit now (a failed write keeps them for the next). */
  flushAudit(): Promise<void> {
    return callAsync(() => this.#native.flushAudit());
  }

  /** What `util.inspect` and `console.log` show: the current KEK id, nothing else. */
  [inspect.custom](): string {
    return `AppKeyStore { kekId: '${this.kekId}' }`;
  }
}
