/**
 * Every error rc-e2ee throws is an `E2EEError` with a stable `code`. Messages are fixed texts
 * chosen by the library: they never contain key material, passwords or plaintext.
 */

import { types } from 'node:util';

/** Codes of the stateless codec (native/crates/core `Error::code`). */
export const E2EE_CODES = [
  'E2EE_BAD_INPUT',
  'E2EE_BAD_ENVELOPE',
  'E2EE_UNSUPPORTED_ALGORITHM',
  'E2EE_BAD_KEY',
  'E2EE_BAD_PASSWORD',
  'E2EE_DECRYPT_FAILED',
  'E2EE_UNKNOWN_KID',
  'E2EE_BAD_PAYLOAD',
  'E2EE_TOO_LARGE',
  'E2EE_INTERNAL',
] as const;

/** Codes of the key store (native/crates/keystore `Error::code`). */
export const KEYSTORE_CODES = [
  'KEYSTORE_NOT_AUTHORIZED',
  'KEYSTORE_NO_ROOM_KEY',
  'KEYSTORE_REVOKED',
  'KEYSTORE_BAD_KEK',
  'KEYSTORE_CONFLICT',
  'KEYSTORE_NO_IDENTITY',
  'KEYSTORE_KID_MISMATCH',
  'KEYSTORE_PROOF_FAILED',
  'KEYSTORE_STORAGE',
  'KEYSTORE_BAD_INPUT',
  'KEYSTORE_HOST_FAILED',
  'KEYSTORE_HSM_MODULE',
  'KEYSTORE_HSM_TOKEN',
  'KEYSTORE_HSM_PIN',
  'KEYSTORE_HSM_KEY',
  'KEYSTORE_HSM_MECHANISM',
  'KEYSTORE_HSM_FAILED',
] as const;

/** Every code an {@link E2EEError} can carry: one of {@link E2EE_CODES} or {@link KEYSTORE_CODES}. */
/** Codes of the host service (native/lib/host): what Rocket.Chat's side refuses before the key store is asked. */
export const HOST_CODES = [
  'HOST_NOT_INSTALLED',
  'HOST_NO_PERMISSION',
  'HOST_NOT_MEMBER',
  'HOST_NOT_ENCRYPTED',
  'HOST_NO_MESSAGE',
] as const;

export type E2EECode = (typeof E2EE_CODES)[number] | (typeof KEYSTORE_CODES)[number] | (typeof HOST_CODES)[number];

const KNOWN = new Set<string>([...E2EE_CODES, ...KEYSTORE_CODES, ...HOST_CODES]);

/** napi-rs's own codes for arguments it could not convert: the caller passed a wrong type. */
const ARGUMENT_CODES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
  'DetachableArraybufferExpected',
]);

/**
 * What every function of the package throws, and every Promise of it rejects with. Branch on
 * `code`, never on the message: the message is a fixed, human-readable text that never quotes
 * keys, passwords or plaintext.
 */
export class E2EEError extends Error {
  /**
   * The stable error code: `E2EE_*` from the codec (bad input, envelope, key, password; failed
   * decryption; unknown kid; too large; internal) or `KEYSTORE_*` from {@link AppKeyStore}.
   * `E2EE_INTERNAL` also stands for a panic caught in native code.
   */
  readonly code: E2EECode;

  constructor(code: E2EECode, message: string) {
    super(message);
    this.name = 'E2EEError';
    this.code = code;
  }
}

/** Throws an `E2EE_BAD_INPUT` error; `what` is a fixed description, never the value. */
export function badInput(what: string): never {
  return fail('E2EE_BAD_INPUT', `invalid input: ${what}`);
}

/**
 * Turns whatever the native layer threw into an `E2EEError`. Native calls, synchronous or not,
 * throw or reject with an `Error` whose `code` is one of ours (native/crates/node/src/errors.rs
 * builds both the same way), so nothing is parsed out of a message. napi-rs's
 * own argument errors quote the offending value, so their message is replaced. Anything else —
 * a caught panic (`GenericFailure`), or a value that is not ours at all — is `E2EE_INTERNAL`.
 * Never throws: reading a hostile thrown value (a Proxy, a throwing getter) ends as
 * `E2EE_INTERNAL` too.
 */
export function toE2EEError(error: unknown): E2EEError {
  try {
    if (error instanceof E2EEError) return error;
    // A genuine Error (any realm: under a test runner the addon's errors come from another
    // one); false for a Proxy, without running its traps.
    if (!types.isNativeError(error)) return internal();
    const code: unknown = (error as { code?: unknown }).code;
    const text = typeof error.message === 'string' ? error.message : '';
    if (typeof code === 'string' && KNOWN.has(code)) return new E2EEError(code as E2EECode, text);
    if (typeof code === 'string' && ARGUMENT_CODES.has(code)) {
      return new E2EEError('E2EE_BAD_INPUT', 'invalid input: an argument has the wrong type');
    }
  } catch {
    // A Proxy or a getter threw while we looked at it: not ours.
  }
  return internal();
}

/** An `E2EEError` for a code the native layer reported as data (a batch item's code). */
export function errorOfCode(code: unknown, message: string): E2EEError {
  return typeof code === 'string' && KNOWN.has(code) ? new E2EEError(code as E2EECode, message) : internal();
}

function internal(): E2EEError {
  return new E2EEError('E2EE_INTERNAL', 'internal error');
}

/**
 * Runs `body`, turning anything it throws into `E2EEError(code, 'invalid input: <what>')`
 * (`E2EE_BAD_INPUT` unless the key store says `KEYSTORE_BAD_INPUT`) unless it is already an
 * `E2EEError` we raised. For reading caller-supplied values:
 * their getters and Proxy traps can throw anything.
 */
export function reading<T>(what: string, body: () => T, code: E2EECode = 'E2EE_BAD_INPUT'): T {
  let result: T;
  try {
    result = body();
  } catch (error) {
    // Identity check only: `instanceof` on a hostile value would run its Proxy traps.
    if (isOwnError(error)) throw error;
    return fail(code, `invalid input: ${what}`);
  }
  return result;
}

/** Errors raised by this facade, recognized by identity (a WeakSet lookup runs no traps). */
const OURS = new WeakSet<object>();

/** Whether `error` is an `E2EEError` this facade raised on purpose; runs no traps. */
export function isOwnError(error: unknown): boolean {
  return error !== null && typeof error === 'object' && OURS.has(error);
}

/** Throws an `E2EEError` this facade raised on purpose (see `reading`). */
export function fail(code: E2EECode, message: string): never {
  const error = new E2EEError(code, message);
  OURS.add(error);
  throw error;
}

/** Runs a native call and normalizes what it throws. */
export function call<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw toE2EEError(error);
  }
}

/** Awaits a native background task and normalizes its rejection. */
export async function callAsync<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toE2EEError(error);
  }
}
