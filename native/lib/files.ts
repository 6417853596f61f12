/** Encrypted files: AES-CTR-256 with a 64-bit counter, one key per file. */
import { types } from 'node:util';

import native = require('./binding');
import { badInput, callAsync, reading } from './errors';
import { jwkText, type JwkInput } from './keys';
import { stageBytes, STAGE_SLICE } from './staging';

/** What `encryptFile` returns: the metadata members the web client puts in the message. */
export interface EncryptedFile {
  /** The file key as a JWK object (`alg: 'A256CTR'`), as it appears in `attachments[].encryption.key`. */
  key: Record<string, unknown>;
  /** Base64 of the 16-byte counter block (`encryption.iv`). */
  iv: string;
  /** The encrypted bytes to upload: as long as the plaintext (AES-CTR, no tag). */
  ciphertext: Buffer;
  /** Lowercase hex SHA-256 of the plaintext (`hashes.sha256`). */
  hash: string;
}

/**
 * The bytes of a Buffer or Uint8Array. Recognized with `util.types` (no Proxy traps, no
 * `instanceof`); a Proxy of a Uint8Array, or one whose `buffer` getter was replaced, is bad input.
 */
function bytes(value: unknown, what: string): Buffer {
  if (!types.isUint8Array(value)) return badInput(`${what} must be a Buffer or Uint8Array`);
  // In `reading`: even a real typed array can have a Proxy as its prototype.
  return reading(`${what} cannot be read`, () =>
    Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  );
}

/**
 * Decrypts an uploaded file with the key and counter block from its encrypted metadata, off the
 * event loop. AES-CTR has no tag: a wrong key or a tampered file yields wrong bytes, not an
 * error, so compare the SHA-256 of the result with the metadata's `hashes.sha256`. A file over
 * 128 KiB is copied to the addon a slice per event-loop turn, so changing `data` before the
 * promise settles changes what is decrypted (and detaching it fails the call).
 */
export async function decryptFile(fileKey: JwkInput, iv: string, data: Uint8Array): Promise<Buffer> {
  const keyText = jwkText(fileKey, 'fileKey');
  if (typeof iv !== 'string') badInput('iv must be a string');
  const input = bytes(data, 'data');
  if (input.length > STAGE_SLICE) {
    // Copied a slice per event-loop turn: a 32 MiB file in one copy held the loop for 28 ms.
    const staged = await stageBytes(input);
    return callAsync(() => native.decryptFileStaged(keyText, iv, staged));
  }
  return callAsync(() => native.decryptFile(keyText, iv, input));
}

/** Encrypts a file under a fresh key, returning what goes into the message metadata. */
export async function encryptFile(data: Uint8Array): Promise<EncryptedFile> {
  const input = bytes(data, 'data');
  const sealed = await callAsync(() => native.encryptFile(input));
  return {
    key: JSON.parse(sealed.key) as Record<string, unknown>,
    iv: sealed.iv,
    ciphertext: sealed.ciphertext,
    hash: sealed.hash,
  };
}
