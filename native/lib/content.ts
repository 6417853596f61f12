/**
 * Message content: decrypting `content` envelopes (current v2, legacy v1, v1 in `msg`, pinned
 * system messages) and encrypting payloads as v2 envelopes.
 */
import EJSON = require('ejson');

import native = require('./binding');
import { badInput, call, callAsync, E2EEError, toE2EEError } from './errors';
import { RoomKey, RoomKeys, ringHandle, roomHandle } from './keys';

/** A `content` envelope as stored on a message. */
export interface EncryptedContent {
  algorithm: 'rc.v2.aes-sha2';
  kid: string;
  iv: string;
  ciphertext: string;
}

/** The decrypted payload of a message: `{msg, attachments?, …}` with EJSON types revived. */
export type MessagePayload = { msg?: string; attachments?: unknown[] } & Record<string, unknown>;

/** A member that is a string, else absent: the web client only reads string members. */
export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) badInput(`${what} must be an object`);
  return value as Record<string, unknown>;
}

export function contentFields(value: unknown): native.ContentFields | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const content = value as Record<string, unknown>;
  return { algorithm: str(content.algorithm), kid: str(content.kid), iv: str(content.iv), ciphertext: str(content.ciphertext) };
}

/**
 * Decrypts a `content` envelope to the exact plaintext string (the EJSON text the sender
 * encrypted). Synchronous: one message costs about a microsecond.
 */
export function decryptContent(keys: RoomKeys, content: unknown): string {
  const c = asRecord(content, 'content');
  if (keys instanceof RoomKey) {
    const key = roomHandle(keys);
    return call(() => native.decryptContentWithKey(key, str(c.algorithm), str(c.kid), str(c.iv), str(c.ciphertext)));
  }
  const ring = ringHandle(keys);
  return call(() => native.decryptContentWithRing(ring, str(c.algorithm), str(c.kid), str(c.iv), str(c.ciphertext)));
}

/** Parses a payload the way Rocket.Chat does: EJSON, must be an object, `text` → `msg`. */
export function parsePayload(plaintext: string): MessagePayload {
  let payload: unknown;
  try {
    payload = EJSON.parse(plaintext);
  } catch {
    throw new E2EEError('E2EE_BAD_PAYLOAD', 'decrypted payload is not a JSON object');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new E2EEError('E2EE_BAD_PAYLOAD', 'decrypted payload is not a JSON object');
  }
  const record = payload as MessagePayload;
  // The oldest clients sent `{_id, text, userId, ts}`.
  if (typeof record.text === 'string' && record.msg === undefined) {
    record.msg = record.text;
    delete record.text;
  }
  return record;
}

/** The fields of a message that decryption reads (`attachments[0].content` for pinned messages). */
export function messageFields(message: unknown): native.MessageFields {
  const m = asRecord(message, 'message');
  const attachments = Array.isArray(m.attachments) ? m.attachments : undefined;
  const first = attachments?.[0];
  return {
    t: str(m.t),
    msg: str(m.msg),
    content: contentFields(m.content),
    pinnedContent: first !== null && typeof first === 'object' ? contentFields((first as Record<string, unknown>).content) : undefined,
  };
}

/**
 * Decrypts a message (`t: 'e2e'` with v2/v1 `content` or a v1 string in `msg`, or a
 * `message_pinned_e2e` system message) and returns its payload. The payload is not merged
 * into the message: its `_id`, `ts` or `u` would override the server's, as in the web client.
 */
export function decryptMessage(keys: RoomKeys, message: unknown): MessagePayload {
  const fields = messageFields(message);
  const ring = ringHandle(keys);
  return parsePayload(call(() => native.decryptMessageFields(ring, fields)));
}

/**
 * Encrypts a payload as a v2 envelope. An object is serialized with EJSON (as the web client
 * does: `{msg, attachments}`); a string is taken as the exact plaintext.
 */
export function encryptContent(roomKey: RoomKey, payload: string | Record<string, unknown>): EncryptedContent {
  const key = roomHandle(roomKey);
  const text = typeof payload === 'string' ? payload : EJSON.stringify(asRecord(payload, 'payload') as Parameters<typeof EJSON.stringify>[0]);
  return call(() => native.encryptContentText(key, text)) as EncryptedContent;
}

/** Batches are split into chunks that run concurrently: while the thread pool decrypts one
 * chunk, the event loop packs the next, so both cores work. */
const BATCH_CHUNK = 256;
const ABSENT = 0xffffffff;
const NOT_AN_OBJECT = 4;

function algorithmCode(value: unknown): number {
  if (value === 'rc.v2.aes-sha2') return 2;
  if (value === 'rc.v1.aes-sha2') return 1;
  return typeof value === 'string' ? 3 : 0;
}

/** Packs one chunk for the native batch (see `decrypt_content_batch` in the bridge). */
function decryptChunk(ring: native.RoomKeyRing, contents: readonly unknown[], start: number, end: number): Promise<native.BatchResult> {
  const count = end - start;
  const algorithms = new Uint8Array(count);
  const kidIndexes = new Uint32Array(count);
  const ivs = new Array<string | undefined>(count);
  const ciphertexts = new Array<string | undefined>(count);
  const kids: string[] = [];
  const kidTable = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const c = contents[start + i] as Record<string, unknown> | null | undefined;
    kidIndexes[i] = ABSENT;
    if (c === null || typeof c !== 'object') {
      algorithms[i] = NOT_AN_OBJECT;
      continue;
    }
    algorithms[i] = algorithmCode(c.algorithm);
    const kid = c.kid;
    if (typeof kid === 'string') {
      let index = kidTable.get(kid);
      if (index === undefined) {
        index = kids.push(kid) - 1;
        kidTable.set(kid, index);
      }
      kidIndexes[i] = index;
    }
    ivs[i] = str(c.iv);
    ciphertexts[i] = str(c.ciphertext);
  }
  return native.decryptContentBatch(ring, algorithms, kids, kidIndexes, ivs, ciphertexts);
}

/**
 * Decrypts many `content` envelopes off the event loop (history, search, export). Each entry is
 * the plaintext string, or an `E2EEError` for that message alone.
 */
export async function decryptContentBatch(keys: RoomKeys, contents: readonly unknown[]): Promise<Array<string | E2EEError>> {
  if (!Array.isArray(contents)) badInput('contents must be an array');
  const ring = ringHandle(keys);
  const chunks: Array<Promise<native.BatchResult>> = [];
  for (let start = 0; start < contents.length; start += BATCH_CHUNK) {
    chunks.push(decryptChunk(ring, contents, start, Math.min(start + BATCH_CHUNK, contents.length)));
  }
  const results = await callAsync(() => Promise.all(chunks));
  const out: Array<string | E2EEError> = [];
  for (const result of results) {
    const offset = out.length;
    // plaintexts holds null exactly at the failed indexes, replaced by their errors below.
    for (const text of result.plaintexts) out.push(text as string);
    result.failed.forEach((index, i) => {
      out[offset + index] = toE2EEError({ code: result.codes[i], message: 'batch item failed' });
    });
  }
  return out;
}
