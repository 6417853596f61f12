/**
 * A reference Rocket.Chat client written from the wire-format specification
 * (docs/wire-format.md) on WebCrypto, the browser's API — Node's
 * `crypto.subtle` here. It plays the human members in round-trip tests against the addon.
 */
import EJSON = require('ejson');

const subtle = globalThis.crypto.subtle;

/** Byte arrays over a plain ArrayBuffer, as WebCrypto's types require. */
export type Bytes = Uint8Array<ArrayBuffer>;

export const b64 = {
  encode: (bytes: ArrayBuffer | Uint8Array): string =>
    Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('base64'),
  decode: (text: string): Bytes => new Uint8Array(Buffer.from(text, 'base64')),
};

/** §0: one byte per UTF-16 code unit; above U+00FF is an error. */
export function latin1(text: string): Bytes {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0xff) throw new RangeError(`illegal char code: ${unit}`);
    out[i] = unit;
  }
  return out;
}

const fromLatin1 = (bytes: ArrayBuffer): string => String.fromCharCode(...new Uint8Array(bytes));

const RSA = { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };

export interface UserKeys {
  publicKey: string;
  privateKey: CryptoKey;
  privateJwk: JsonWebKey;
}

/** §2.1 */
export async function generateUserKeys(): Promise<UserKeys> {
  const pair = (await subtle.generateKey(RSA, true, ['encrypt', 'decrypt'])) as CryptoKeyPair;
  const publicJwk = await subtle.exportKey('jwk', pair.publicKey);
  const privateJwk = await subtle.exportKey('jwk', pair.privateKey);
  return { publicKey: JSON.stringify(publicJwk), privateKey: pair.privateKey, privateJwk };
}

export async function importPrivateJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  return subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, true, ['decrypt']);
}

async function pbkdf2Key(
  password: string,
  salt: Bytes,
  iterations: number,
  usage: KeyUsage[],
  name: 'AES-GCM' | 'AES-CBC',
): Promise<CryptoKey> {
  const base = await subtle.importKey('raw', latin1(password), 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', salt, iterations, hash: 'SHA-256' },
    base,
    { name, length: 256 },
    false,
    usage,
  );
}

/** §2.2: the current blob. */
export async function wrapPrivateKey(privateJwk: JsonWebKey, password: string, userId: string): Promise<string> {
  const salt = `v2:${userId}:${crypto.randomUUID()}`;
  const key = await pbkdf2Key(password, latin1(salt), 100000, ['encrypt'], 'AES-GCM');
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await subtle.encrypt({ name: 'AES-GCM', iv }, key, latin1(JSON.stringify(privateJwk)));
  return JSON.stringify({ iv: b64.encode(iv), ciphertext: b64.encode(ciphertext), salt, iterations: 100000 });
}

/** §2.4: reads both blob versions; the cipher follows the IV length. */
export async function unwrapPrivateKey(blob: string, password: string, userId: string): Promise<JsonWebKey> {
  const parsed = JSON.parse(blob);
  let iv: Bytes, ciphertext: Bytes, salt: Bytes, iterations: number;
  if (typeof parsed.$binary === 'string') {
    const bytes = b64.decode(parsed.$binary);
    [iv, ciphertext, salt, iterations] = [bytes.slice(0, 16), bytes.slice(16), latin1(userId), 1000];
  } else {
    [iv, ciphertext, salt, iterations] = [
      b64.decode(parsed.iv),
      b64.decode(parsed.ciphertext),
      latin1(parsed.salt),
      parsed.iterations,
    ];
  }
  const name = iv.length === 16 ? 'AES-CBC' : 'AES-GCM';
  const key = await pbkdf2Key(password, salt, iterations, ['decrypt'], name);
  return JSON.parse(fromLatin1(await subtle.decrypt({ name, iv }, key, ciphertext)));
}

export interface ClientRoomKey {
  kid: string;
  key: CryptoKey;
  jwk: JsonWebKey;
}

/** §3.1/§3.2: a new room key with a UUID kid. */
export async function generateRoomKey(): Promise<ClientRoomKey> {
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  return { kid: crypto.randomUUID(), key, jwk: await subtle.exportKey('jwk', key) };
}

/** §3.3 */
export async function wrapRoomKey(room: ClientRoomKey, publicKey: string): Promise<string> {
  const recipient = await subtle.importKey('jwk', JSON.parse(publicKey), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
    'encrypt',
  ]);
  const body = await subtle.encrypt({ name: 'RSA-OAEP' }, recipient, latin1(JSON.stringify(room.jwk)));
  return room.kid + b64.encode(body);
}

/** §3.3: the kid is everything but the last 344 characters. */
export async function unwrapRoomKey(e2eKey: string, privateKey: CryptoKey): Promise<ClientRoomKey> {
  if (e2eKey.length < 344) throw new RangeError('Invalid input length.');
  const kid = e2eKey.slice(0, -344);
  const jwkText = fromLatin1(await subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, b64.decode(e2eKey.slice(-344))));
  const jwk = JSON.parse(jwkText) as JsonWebKey;
  if (jwk.alg !== 'A256GCM' && jwk.alg !== 'A128CBC') throw new Error(`Unsupported JWK alg: ${jwk.alg}`);
  const name = jwk.alg === 'A256GCM' ? 'AES-GCM' : 'AES-CBC';
  return { kid, key: await subtle.importKey('jwk', jwk, { name }, true, ['encrypt', 'decrypt']), jwk };
}

/** §4.1: `{msg, attachments}` as EJSON, AES-GCM with a 12-byte IV. */
export async function encryptPayload(room: ClientRoomKey, payload: string | object) {
  const text =
    typeof payload === 'string' ? payload : EJSON.stringify(payload as Parameters<typeof EJSON.stringify>[0]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await subtle.encrypt({ name: 'AES-GCM', iv }, room.key, new TextEncoder().encode(text));
  return {
    algorithm: 'rc.v2.aes-sha2' as const,
    kid: room.kid,
    iv: b64.encode(iv),
    ciphertext: b64.encode(ciphertext),
  };
}

/** §4.2: the cipher follows the key's alg; returns the plaintext text. */
export async function decryptPayload(
  room: ClientRoomKey,
  content: { iv: string; ciphertext: string },
): Promise<string> {
  const name = room.jwk.alg === 'A128CBC' ? 'AES-CBC' : 'AES-GCM';
  const plain = await subtle.decrypt({ name, iv: b64.decode(content.iv) }, room.key, b64.decode(content.ciphertext));
  return new TextDecoder().decode(plain);
}

/** §5: AES-CTR-256, 16-byte counter block, 64-bit counter. */
export async function encryptFile(data: Bytes) {
  const key = await subtle.generateKey({ name: 'AES-CTR', length: 256 }, true, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: 'AES-CTR', counter: iv, length: 64 }, key, data));
  const hash = Buffer.from(await subtle.digest('SHA-256', data)).toString('hex');
  return { key: await subtle.exportKey('jwk', key), iv: b64.encode(iv), ciphertext, hash };
}

export async function decryptFile(jwk: JsonWebKey, iv: string, data: Bytes): Promise<Bytes> {
  const key = await subtle.importKey('jwk', jwk, { name: 'AES-CTR' }, false, ['decrypt']);
  return new Uint8Array(await subtle.decrypt({ name: 'AES-CTR', counter: b64.decode(iv), length: 64 }, key, data));
}
