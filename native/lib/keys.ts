/**
 * Key handles. A private or room key lives inside the native addon; JavaScript holds a handle
 * that can be used but never read. `toJSON` and `util.inspect` show only public facts.
 */
import { inspect } from 'node:util';

import native = require('./binding');
import { badInput, call, callAsync, fail, reading } from './errors';

const rsaHandles = new WeakMap<RsaPrivateKey, native.RsaPrivateKey>();
const roomHandles = new WeakMap<RoomKey, native.RoomKey>();
const ringHandles = new WeakMap<RoomKeyRing, native.RoomKeyRing>();

export function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') badInput(`${what} must be a string`);
  return value;
}

/** A JWK given as an object or as its JSON text. */
export type JwkInput = string | object;

/**
 * The JSON text of a JWK. An object is serialized with `JSON.stringify` under `reading`: a
 * circular object, a throwing getter or `toJSON`, a Proxy or a nesting too deep for the stack is
 * `E2EE_BAD_INPUT`, never a bare `TypeError`/`RangeError`.
 */
export function jwkText(jwk: unknown, what: string): string {
  if (typeof jwk === 'string') return jwk;
  if (jwk === null || typeof jwk !== 'object') return badInput(`${what} must be a JWK object or JSON string`);
  const text: unknown = reading(`${what} cannot be serialized`, () => {
    if (Array.isArray(jwk)) badInput(`${what} must be a JWK object or JSON string`);
    return JSON.stringify(jwk);
  });
  return typeof text === 'string' ? text : badInput(`${what} cannot be serialized`);
}

/** Most keys a ring holds; a room's key history is a handful. */
export const MAX_RING_KEYS = 10_000;

/** The elements of a caller's array, read once (a Proxy or getter that throws is bad input). */
function keyList(keys: unknown, what: string): unknown[] {
  return reading(`${what} cannot be read`, () => {
    if (!Array.isArray(keys)) badInput(`${what} must be an array of RoomKey`);
    const length = (keys as unknown[]).length;
    if (length > MAX_RING_KEYS) fail('E2EE_TOO_LARGE', 'input too large: more than 10000 room keys');
    const list: unknown[] = [];
    for (let i = 0; i < length; i++) list.push((keys as unknown[])[i]);
    return list;
  });
}

/** A Rocket.Chat user's (or app's) RSA-OAEP-2048 private key. */
export class RsaPrivateKey {
  readonly #publicKey: string;

  private constructor(handle: native.RsaPrivateKey) {
    rsaHandles.set(this, handle);
    this.#publicKey = call(() => handle.publicKey());
  }

  /** A new key pair, generated off the event loop. */
  static async generate(): Promise<RsaPrivateKey> {
    return new RsaPrivateKey(await callAsync(() => native.RsaPrivateKey.generate()));
  }

  /** Imports a private JWK as WebCrypto exports it. */
  static fromJwk(jwk: JwkInput): RsaPrivateKey {
    const text = jwkText(jwk, 'jwk');
    return new RsaPrivateKey(call(() => native.RsaPrivateKey.fromJwk(text)));
  }

  /**
   * Opens `users.e2e.private_key` (current `{iv,ciphertext,salt,iterations}` blob or legacy
   * `{"$binary"}` blob) with the user's E2E password, off the event loop.
   */
  static async unwrapFromPassword(blob: string, password: string, userId: string): Promise<RsaPrivateKey> {
    requireString(blob, 'blob');
    requireString(password, 'password');
    requireString(userId, 'userId');
    return new RsaPrivateKey(await callAsync(() => native.RsaPrivateKey.unwrapFromPassword(blob, password, userId)));
  }

  /** Rocket.Chat's public-key string, as stored in `users.e2e.public_key`. */
  publicKey(): string {
    return this.#publicKey;
  }

  /** The current blob format for `users.e2e.private_key`, under a fresh salt. */
  async wrapWithPassword(password: string, userId: string): Promise<string> {
    requireString(password, 'password');
    requireString(userId, 'userId');
    const handle = rsaHandle(this);
    return callAsync(() => handle.wrapWithPassword(password, userId));
  }

  /** What `JSON.stringify` writes: the public half only, so a logged key leaks nothing. */
  toJSON(): {
    /** Rocket.Chat's public-key string, as {@link RsaPrivateKey.publicKey} returns it. */
    publicKey: string;
  } {
    return { publicKey: this.#publicKey };
  }

  /** What `util.inspect` and `console.log` show: `RsaPrivateKey { <sealed> }`, no key fact at all. */
  [inspect.custom](): string {
    return 'RsaPrivateKey { <sealed> }';
  }
}

/** A room key (`A256GCM`, or `A128CBC` in legacy rooms) and its kid. */
export class RoomKey {
  /**
   * The key's id as the room knows it (`rooms.e2eKeyId`, the prefix of an `E2EKey`): a UUID
   * for current keys, 12 characters for legacy ones. A label chosen by the key's creator, not
   * derived from the key.
   */
  readonly kid: string;
  /** `A256GCM` (every current client), or `A128CBC` (legacy rooms: decrypt only). */
  readonly algorithm: 'A256GCM' | 'A128CBC';

  private constructor(handle: native.RoomKey) {
    roomHandles.set(this, handle);
    this.kid = call(() => handle.kid);
    this.algorithm = call(() => handle.algorithm);
  }

  /** A new AES-GCM-256 room key with a fresh UUID kid. */
  static generate(): RoomKey {
    return new RoomKey(call(() => native.RoomKey.generate()));
  }

  /** Imports a room-key JWK under the kid the room knows it by (`rooms.e2eKeyId`). */
  static fromJwk(jwk: JwkInput, kid: string): RoomKey {
    const text = jwkText(jwk, 'jwk');
    requireString(kid, 'kid');
    return new RoomKey(call(() => native.RoomKey.fromJwk(text, kid)));
  }

  /** @internal */
  static fromHandle(handle: native.RoomKey): RoomKey {
    return new RoomKey(handle);
  }

  /** What `JSON.stringify` writes: the public facts, never the key. */
  toJSON(): {
    /** {@link RoomKey.kid}. */
    kid: string;
    /** {@link RoomKey.algorithm}. */
    algorithm: string;
  } {
    return { kid: this.kid, algorithm: this.algorithm };
  }

  /** What `util.inspect` and `console.log` show: the kid and algorithm, never the key. */
  [inspect.custom](): string {
    return `RoomKey { kid: ${JSON.stringify(this.kid)}, algorithm: '${this.algorithm}' }`;
  }
}

/**
 * A room's keys: the current key first, then old keys (from `oldRoomKeys`). Content is
 * decrypted with the key its kid names, else with the current key.
 */
export class RoomKeyRing {
  /** The kids of the ring's keys, in the order given (the current key's first); frozen. */
  readonly kids: readonly string[];

  /**
   * A ring of `keys`, current first. Throws `E2EE_BAD_INPUT` for anything but an array of
   * `RoomKey` and `E2EE_TOO_LARGE` over 10,000 keys. With a repeated kid the first key wins.
   */
  constructor(keys: readonly RoomKey[]) {
    const list = keyList(keys, 'keys');
    const handle = call(() => new native.RoomKeyRing());
    const kids: string[] = [];
    for (const key of list) {
      const keyHandle = roomHandle(key);
      call(() => handle.add(keyHandle));
      kids.push(call(() => keyHandle.kid));
    }
    ringHandles.set(this, handle);
    this.kids = Object.freeze(kids);
  }

  /** What `util.inspect` and `console.log` show: the kids, never the keys. */
  [inspect.custom](): string {
    return `RoomKeyRing { kids: ${JSON.stringify(this.kids)} }`;
  }
}

/** What functions that decrypt accept as keys. */
export type RoomKeys = RoomKey | readonly RoomKey[] | RoomKeyRing;

/*
 * Handles are found by identity in the WeakMaps, never with `instanceof`: `instanceof` runs a
 * Proxy's `getPrototypeOf` trap, and a WeakMap hit proves the object is one this module made.
 */
const asKey = (value: unknown): object =>
  value !== null && (typeof value === 'object' || typeof value === 'function') ? value : {};

/** Whether `value` is a `RoomKey` this module made (no `instanceof`, no traps). */
export function isRoomKey(value: unknown): value is RoomKey {
  return roomHandles.has(asKey(value) as RoomKey);
}

/** @internal facade plumbing, not part of the package's API */
export function rsaHandle(key: unknown): native.RsaPrivateKey {
  return rsaHandles.get(asKey(key) as RsaPrivateKey) ?? badInput('privateKey must be an RsaPrivateKey');
}

/** @internal facade plumbing, not part of the package's API */
export function roomHandle(key: unknown): native.RoomKey {
  return roomHandles.get(asKey(key) as RoomKey) ?? badInput('roomKey must be a RoomKey');
}

/** A native ring for any accepted form of keys. @internal facade plumbing, not part of the package's API */
export function ringHandle(keys: unknown): native.RoomKeyRing {
  const object = asKey(keys);
  const ring = ringHandles.get(object as RoomKeyRing);
  if (ring) return ring;
  const single = roomHandles.get(object as RoomKey);
  const handles = single
    ? [single]
    : reading('keys cannot be read', () => Array.isArray(keys))
      ? keyList(keys, 'keys').map(roomHandle)
      : undefined;
  if (!handles) return badInput('keys must be a RoomKey, an array of RoomKey or a RoomKeyRing');
  const fresh = call(() => new native.RoomKeyRing());
  for (const handle of handles) call(() => fresh.add(handle));
  return fresh;
}

/** Opens an `E2EKey` / `E2ESuggestedKey` / old-key string, off the event loop. */
export async function unwrapRoomKey(privateKey: RsaPrivateKey, e2eKey: string): Promise<RoomKey> {
  const handle = rsaHandle(privateKey);
  requireString(e2eKey, 'e2eKey');
  return RoomKey.fromHandle(await callAsync(() => native.unwrapRoomKey(handle, e2eKey)));
}

/** Wraps a room key for a member, given their public-key string: their `E2EKey`. */
export function wrapRoomKey(roomKey: RoomKey, publicKey: string): string {
  const handle = roomHandle(roomKey);
  requireString(publicKey, 'publicKey');
  return call(() => native.wrapRoomKey(handle, publicKey));
}
