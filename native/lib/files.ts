/** Encrypted files: AES-CTR-256 with a 64-bit counter, one key per file. */
import native = require('./binding');
import { badInput, callAsync } from './errors';
import type { JwkInput } from './keys';

/** What `encryptFile` returns: the metadata members the web client puts in the message. */
export interface EncryptedFile {
  /** The file key as a JWK object (`alg: 'A256CTR'`), as it appears in `attachments[].encryption.key`. */
  key: Record<string, unknown>;
  /** Base64 of the 16-byte counter block (`encryption.iv`). */
  iv: string;
  ciphertext: Buffer;
  /** Lowercase hex SHA-256 of the plaintext (`hashes.sha256`). */
  hash: string;
}

function bytes(value: unknown, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return badInput(`${what} must be a Buffer or Uint8Array`);
}

/** Decrypts an uploaded file with the key and counter block from its encrypted metadata. */
export async function decryptFile(fileKey: JwkInput, iv: string, data: Uint8Array): Promise<Buffer> {
  const keyText = typeof fileKey === 'string' ? fileKey : fileKey !== null && typeof fileKey === 'object' ? JSON.stringify(fileKey) : badInput('fileKey must be a JWK');
  if (typeof iv !== 'string') badInput('iv must be a string');
  const input = bytes(data, 'data');
  return callAsync(() => native.decryptFile(keyText, iv, input));
}

/** Encrypts a file under a fresh key, returning what goes into the message metadata. */
export async function encryptFile(data: Uint8Array): Promise<EncryptedFile> {
  const input = bytes(data, 'data');
  const sealed = await callAsync(() => native.encryptFile(input));
  return { key: JSON.parse(sealed.key) as Record<string, unknown>, iv: sealed.iv, ciphertext: sealed.ciphertext, hash: sealed.hash };
}
