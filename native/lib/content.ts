/**
 * Message content: decrypting `content` envelopes (current v2, legacy v1, v1 in `msg`, pinned
 * system messages) and encrypting payloads as v2 envelopes.
 */
import EJSON = require('ejson');

import native = require('./binding');
import { parseEjson } from './ejsonParse';
import { badInput, call, callAsync, E2EEError, errorOfCode, fail, isOwnError, reading } from './errors';
import { isRoomKey, RoomKey, RoomKeys, ringHandle, roomHandle } from './keys';
import { stageText, stagesText } from './staging';

/** A `content` envelope as stored on a message (`t: 'e2e'`), current format. */
export interface EncryptedContent {
  /** The envelope format: always `rc.v2.aes-sha2` (the label stays the same under a legacy `A128CBC` key). */
  algorithm: 'rc.v2.aes-sha2';
  /** The kid of the room key it was encrypted with (`rooms.e2eKeyId` at the time). */
  kid: string;
  /**
   * Base64 of the IV: 12 random bytes under an `A256GCM` key (all that this package writes),
   * 16 under a legacy `A128CBC` key.
   */
  iv: string;
  /**
   * Base64 of the cipher output: the AES-GCM ciphertext with its 16-byte tag appended (AES-CBC
   * with PKCS#7 under a legacy key).
   */
  ciphertext: string;
}

/** The decrypted payload of a message: `{msg, attachments?, …}` with EJSON types revived. */
export type MessagePayload = {
  /** The message text. A payload of the oldest clients carries it as `text`, which is moved here. */
  msg?: string;
  /**
   * The message's attachments (files, quotes) as the sender encrypted them: not validated, so
   * not necessarily an array.
   */
  attachments?: unknown[];
} & Record<string, unknown>;

/** A member that is a string, else absent: the web client only reads string members. */
export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/*
 * Caller-supplied objects are read only inside `reading`: a getter or Proxy trap that throws,
 * whatever it throws, becomes `E2EE_BAD_INPUT`. Each member is read once, into plain values,
 * before anything crosses to the native layer.
 */

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object') badInput(`${what} must be an object`);
  // Array.isArray throws on a revoked Proxy.
  if (reading(`${what} cannot be read`, () => Array.isArray(value))) badInput(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/**
 * The string members of a `content` envelope (others read as absent), or `undefined` when it
 * is not an object. Throws only `E2EEError` (`E2EE_BAD_INPUT` when reading it throws).
 * @internal facade plumbing, not part of the package's API
 */
export function contentFields(value: unknown): native.ContentFields | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  return reading('content cannot be read', () => {
    const content = value as Record<string, unknown>;
    return {
      algorithm: str(content.algorithm),
      kid: str(content.kid),
      iv: str(content.iv),
      ciphertext: str(content.ciphertext),
    };
  });
}

/**
 * Largest base64 ciphertext, in characters, that the synchronous calls decrypt: 256 KiB
 * decoded (about 0.7 ms of work), far above Rocket.Chat's message size limit. A larger one is
 * refused with `E2EE_TOO_LARGE`, whose message names the asynchronous call to use.
 */
export const MAX_SYNC_CIPHERTEXT_CHARS = Math.floor((256 * 1024) / 3) * 4 + 4;
/**
 * Largest payload, in UTF-8 bytes, that `encryptContent` encrypts synchronously: exactly what
 * seals to a ciphertext of at most `MAX_SYNC_CIPHERTEXT_CHARS` (256 KiB less the 16-byte tag,
 * rounded to the base64 quantum). A larger one is `E2EE_TOO_LARGE`: use `encryptContentAsync`.
 */
export const MAX_SYNC_PAYLOAD_BYTES = (MAX_SYNC_CIPHERTEXT_CHARS / 4) * 3 - 16;

/**
 * Decrypts a `content` envelope to the exact plaintext string (the EJSON text the sender
 * encrypted). Synchronous: a chat message costs about a microsecond. A ciphertext over 256 KiB
 * (`MAX_SYNC_CIPHERTEXT_CHARS`) is refused with `E2EE_TOO_LARGE`, so the event loop never waits
 * long: use {@link decryptContentAsync} for those.
 */
export function decryptContent(keys: RoomKeys, content: unknown): string {
  const c = contentFields(asRecord(content, 'content')) as native.ContentFields;
  if (isRoomKey(keys)) {
    const key = roomHandle(keys);
    return call(() => native.decryptContentWithKey(key, c.algorithm, c.kid, c.iv, c.ciphertext));
  }
  const ring = ringHandle(keys);
  return call(() => native.decryptContentWithRing(ring, c.algorithm, c.kid, c.iv, c.ciphertext));
}

/**
 * {@link decryptContent} off the event loop, for a ciphertext of any size up to the 64 MiB cap:
 * the decryption runs on the thread pool, and a large plaintext becomes a JS string over the
 * decrypted memory itself, without a copy on the main thread. Rejects with the same coded
 * `E2EEError`s as the synchronous call.
 */
export async function decryptContentAsync(keys: RoomKeys, content: unknown): Promise<string> {
  const c = contentFields(asRecord(content, 'content')) as native.ContentFields;
  if (c.ciphertext !== undefined && stagesText(c.ciphertext.length)) {
    // A large ciphertext crosses a slice per event-loop turn, never in one long copy.
    const handle = isRoomKey(keys) ? roomHandle(keys) : ringHandle(keys);
    const staged = await stageText(c.ciphertext);
    if (handle instanceof native.RoomKey) {
      return callAsync(() => native.decryptContentWithKeyStagedAsync(handle, c.algorithm, c.kid, c.iv, staged));
    }
    return callAsync(() => native.decryptContentWithRingStagedAsync(handle, c.algorithm, c.kid, c.iv, staged));
  }
  if (isRoomKey(keys)) {
    const key = roomHandle(keys);
    return callAsync(() => native.decryptContentWithKeyAsync(key, c.algorithm, c.kid, c.iv, c.ciphertext));
  }
  const ring = ringHandle(keys);
  return callAsync(() => native.decryptContentWithRingAsync(ring, c.algorithm, c.kid, c.iv, c.ciphertext));
}

/** Parses a payload the way Rocket.Chat does: EJSON, must be an object, `text` → `msg`. */
export function parsePayload(plaintext: string): MessagePayload {
  if (typeof plaintext !== 'string') badInput('plaintext must be a string');
  let payload: unknown;
  try {
    payload = parseEjson(plaintext);
  } catch {
    throw new E2EEError('E2EE_BAD_PAYLOAD', 'decrypted payload is not a JSON object');
  }
  return payloadRecord(payload);
}

/** What a placeholder of a split payload starts with (see `native/crates/node/src/payload.rs`). */
const PART_PREFIX = native.payloadPartPrefix();

/**
 * The payload of an async decrypt's result: its text, or a large payload the addon split so
 * that its long strings need no parse or copy here (`JSON.parse` of the small skeleton, each
 * placeholder replaced by its part: the value `parsePayload` gives for the whole text).
 * @internal facade plumbing, not part of the package's API
 */
export function parseDecrypted(decrypted: string | native.SplitPayload): MessagePayload {
  if (typeof decrypted === 'string') return parsePayload(decrypted);
  const { skeleton, parts } = decrypted;
  let payload: unknown;
  try {
    payload = JSON.parse(skeleton, (_key, value: unknown) =>
      typeof value === 'string' && value.startsWith(PART_PREFIX)
        ? parts[Number(value.slice(PART_PREFIX.length))]
        : value,
    );
  } catch {
    throw new E2EEError('E2EE_BAD_PAYLOAD', 'decrypted payload is not a JSON object');
  }
  return payloadRecord(payload);
}

/** The parsed payload as Rocket.Chat takes it: an object, `text` moved to `msg`. */
function payloadRecord(payload: unknown): MessagePayload {
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

/**
 * The fields of a message that decryption reads (`attachments[0].content` for pinned
 * messages). Throws only `E2EEError`: `E2EE_BAD_INPUT` for a non-object or when reading it throws.
 * @internal facade plumbing, not part of the package's API
 */
export function messageFields(message: unknown): native.MessageFields {
  const m = asRecord(message, 'message');
  return reading('message cannot be read', () => {
    const attachments = m.attachments;
    const first: unknown = Array.isArray(attachments) ? attachments[0] : undefined;
    return {
      t: str(m.t),
      msg: str(m.msg),
      content: contentFields(m.content),
      pinnedContent:
        first !== null && typeof first === 'object'
          ? contentFields((first as Record<string, unknown>).content)
          : undefined,
    };
  });
}

/** Largest payload text, in UTF-8 bytes: what the native layer seals (48 MiB less the tag). */
export const MAX_PAYLOAD_BYTES = ((64 * 1024 * 1024) / 4) * 3 - 32;
/** Deepest nesting of a serialized payload object; receivers' parsers stop at 128. */
export const MAX_PAYLOAD_DEPTH = 100;

function checkPayloadSize(text: string): void {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: measure only when the length leaves it open.
  if (
    text.length > MAX_PAYLOAD_BYTES ||
    (text.length * 3 > MAX_PAYLOAD_BYTES && Buffer.byteLength(text, 'utf8') > MAX_PAYLOAD_BYTES)
  ) {
    fail('E2EE_TOO_LARGE', 'input too large: payload over 48 MiB');
  }
}

/** Whether the JSON text `text` nests objects and arrays deeper than `limit`. */
function nestedDeeperThan(text: string, limit: number): boolean {
  if (text.length <= 2 * limit) return false; // each level takes two characters
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: to the next quote not escaped by an odd run of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return false;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** A RangeError V8 throws when a string would exceed its maximum length. */
function isStringLengthError(error: unknown): boolean {
  try {
    return error instanceof RangeError && /Invalid string length/.test(error.message);
  } catch {
    return false;
  }
}

/**
 * The exact plaintext of a payload: a string as given, an object as its EJSON text (as the web
 * client writes `{msg, attachments}`). Throws only `E2EEError`: `E2EE_BAD_INPUT` for anything
 * but a string or a non-array object, and for an object that is circular, has a throwing
 * getter, `toJSON` or Proxy trap, or nests deeper than `MAX_PAYLOAD_DEPTH`; `E2EE_TOO_LARGE`
 * over `MAX_PAYLOAD_BYTES`.
 */
export function payloadText(payload: string | Record<string, unknown>): string {
  if (typeof payload === 'string') {
    checkPayloadSize(payload);
    return payload;
  }
  const record = asRecord(payload, 'payload');
  // A Buffer, a Date, a Map or a class instance would serialize to something the sender did not
  // mean (a Buffer to `{"$binary": …}` fields of a "payload"). Plain objects from any realm have
  // a prototype whose own prototype is null.
  const prototype: unknown = reading('payload cannot be read', () => Object.getPrototypeOf(record));
  const plain =
    prototype === null || reading('payload cannot be read', () => Object.getPrototypeOf(prototype) === null);
  if (!plain) badInput('payload must be a plain object or a string');
  let text: unknown;
  try {
    text = EJSON.stringify(record as Parameters<typeof EJSON.stringify>[0]);
  } catch (error) {
    if (isOwnError(error)) throw error;
    if (isStringLengthError(error)) fail('E2EE_TOO_LARGE', 'input too large: payload over 48 MiB');
    // Circular (EJSON clones until the stack overflows), a throwing getter or trap, too deep.
    badInput('payload cannot be serialized');
  }
  if (typeof text !== 'string') return badInput('payload cannot be serialized');
  checkPayloadSize(text);
  if (nestedDeeperThan(text, MAX_PAYLOAD_DEPTH)) badInput('payload is nested too deeply');
  return text;
}

/**
 * Decrypts a message (`t: 'e2e'` with v2/v1 `content` or a v1 string in `msg`, or a
 * `message_pinned_e2e` system message) and returns its payload. The payload is not merged
 * into the message: its `_id`, `ts` or `u` would override the server's, as in the web client.
 * Synchronous; a ciphertext over 256 KiB is refused with `E2EE_TOO_LARGE`: use
 * {@link decryptMessageAsync} for those.
 */
export function decryptMessage(keys: RoomKeys, message: unknown): MessagePayload {
  const fields = messageFields(message);
  const ring = ringHandle(keys);
  return parsePayload(call(() => native.decryptMessageFields(ring, fields)));
}

/**
 * {@link decryptMessage} off the event loop, for a ciphertext of any size up to the 64 MiB cap.
 * The decryption runs on the thread pool; parsing the payload (EJSON) is JavaScript and runs on
 * the main thread once the plaintext is back. Rejects with the same coded `E2EEError`s as the
 * synchronous call.
 */
export async function decryptMessageAsync(keys: RoomKeys, message: unknown): Promise<MessagePayload> {
  const fields = messageFields(message);
  const ring = ringHandle(keys);
  const large = stagedEnvelope(fields);
  if (large) {
    const staged = await stageText(large.ciphertext);
    return parseDecrypted(
      await callAsync(() => native.decryptMessageFieldsStagedAsync(ring, large.rest, staged, large.pinned)),
    );
  }
  return parseDecrypted(await callAsync(() => native.decryptMessageFieldsAsync(ring, fields)));
}

/**
 * The ciphertext of the envelope a decrypt of `fields` reads (`attachments[0].content` of a
 * pinned message, else `content`) when it is long enough to cross a slice per event-loop turn
 * (see `staging`): that text, and the fields without it. `undefined` when it is short.
 * @internal facade plumbing, not part of the package's API
 */
export function stagedEnvelope(
  fields: native.MessageFields,
): { ciphertext: string; rest: native.MessageFields; pinned: boolean } | undefined {
  const pinned = fields.t === 'message_pinned_e2e';
  const envelope = pinned ? fields.pinnedContent : fields.content;
  const ciphertext = envelope?.ciphertext;
  if (!envelope || ciphertext === undefined || !stagesText(ciphertext.length)) return undefined;
  const without = { ...envelope, ciphertext: undefined };
  const rest = pinned ? { ...fields, pinnedContent: without } : { ...fields, content: without };
  return { ciphertext, rest, pinned };
}

/**
 * Encrypts a payload as a v2 envelope. An object is serialized with EJSON (as the web client
 * does: `{msg, attachments}`); a string is taken as the exact plaintext (see `payloadText`).
 * A legacy `A128CBC` room key only decrypts: it is refused with `E2EE_UNSUPPORTED_ALGORITHM`.
 * Synchronous; a payload over 256 KiB (`MAX_SYNC_PAYLOAD_BYTES`) is refused with
 * `E2EE_TOO_LARGE`: use {@link encryptContentAsync} for those.
 */
export function encryptContent(roomKey: RoomKey, payload: string | Record<string, unknown>): EncryptedContent {
  const key = roomHandle(roomKey);
  const text = payloadText(payload);
  return call(() => native.encryptContentText(key, text)) as EncryptedContent;
}

/**
 * {@link encryptContent} off the event loop, for a payload of any size up to the 48 MiB cap
 * (`MAX_PAYLOAD_BYTES`). An object payload is still serialized (EJSON) on the main thread; the
 * encryption runs on the thread pool. Rejects with the same coded `E2EEError`s as the
 * synchronous call.
 */
export async function encryptContentAsync(
  roomKey: RoomKey,
  payload: string | Record<string, unknown>,
): Promise<EncryptedContent> {
  const key = roomHandle(roomKey);
  const text = payloadText(payload);
  return (await callAsync(() => native.encryptContentTextAsync(key, text))) as EncryptedContent;
}

/** Batches are split into chunks that run concurrently: while the thread pool decrypts one
 * chunk, the event loop packs the next, so both cores work. */
const BATCH_CHUNK = 256;
/** Most contents one batch takes; split bigger histories. */
export const MAX_BATCH = 1_000_000;
// The packing numbers come from the bridge, which unpacks with the same constants.
const ABSENT = native.BATCH_KID_ABSENT;
const NOT_AN_OBJECT = native.BATCH_NOT_AN_OBJECT;

function algorithmCode(value: unknown): number {
  if (value === 'rc.v2.aes-sha2') return native.BATCH_ALGORITHM_V2;
  if (value === 'rc.v1.aes-sha2') return native.BATCH_ALGORITHM_V1;
  return typeof value === 'string' ? native.BATCH_ALGORITHM_OTHER : native.BATCH_ALGORITHM_ABSENT;
}

/** Packs one chunk for the native batch (see `decrypt_content_batch` in the bridge). */
function decryptChunk(
  ring: native.RoomKeyRing,
  contents: readonly unknown[],
  start: number,
  end: number,
): Promise<native.BatchResult> {
  const count = end - start;
  const algorithms = new Uint8Array(count);
  const kidIndexes = new Uint32Array(count);
  const ivs = new Array<string | undefined>(count);
  const ciphertexts = new Array<string | undefined>(count);
  const kids: string[] = [];
  const kidTable = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    kidIndexes[i] = ABSENT;
    try {
      const c = contents[start + i] as Record<string, unknown> | null | undefined;
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
    } catch {
      // A getter or Proxy trap threw: this item alone fails, as bad input.
      algorithms[i] = NOT_AN_OBJECT;
      kidIndexes[i] = ABSENT;
      ivs[i] = undefined;
      ciphertexts[i] = undefined;
    }
  }
  return native.decryptContentBatch(ring, algorithms, kids, kidIndexes, ivs, ciphertexts);
}

/**
 * Decrypts many `content` envelopes off the event loop (history, search, export). Each entry is
 * the plaintext string, or an `E2EEError` for that message alone.
 */
export async function decryptContentBatch(
  keys: RoomKeys,
  contents: readonly unknown[],
): Promise<Array<string | E2EEError>> {
  const length = reading('contents cannot be read', () => {
    if (!Array.isArray(contents)) badInput('contents must be an array');
    const count = contents.length;
    if (count > MAX_BATCH) fail('E2EE_TOO_LARGE', 'input too large: more than 1000000 contents in one batch');
    return count;
  });
  const ring = ringHandle(keys);
  const chunks: Array<Promise<native.BatchResult>> = [];
  for (let start = 0; start < length; start += BATCH_CHUNK) {
    const end = Math.min(start + BATCH_CHUNK, length);
    chunks.push(call(() => decryptChunk(ring, contents, start, end)));
  }
  const results = await callAsync(() => Promise.all(chunks));
  const out: Array<string | E2EEError> = [];
  for (const result of results) {
    const offset = out.length;
    // plaintexts holds null exactly at the failed indexes, replaced by their errors below.
    for (const text of result.plaintexts) out.push(text as string);
    result.failed.forEach((index, i) => {
      out[offset + index] = errorOfCode(result.codes[i], 'batch item failed');
    });
  }
  return out;
}
