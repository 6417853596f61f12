/**
 * Bad input of every kind gives an `E2EEError` with a stable code, never a crash, and no error
 * message quotes a secret.
 */
import { inspect } from 'node:util';

import * as e2ee from '../../native';
import { E2EEError, E2EE_CODES, RoomKey, RsaPrivateKey } from '../../native';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../../native/binding.js');
import { messageVectors, user } from './fixtures';

// Bad input is the point of this file: arguments are deliberately of the wrong type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = e2ee as any;

const roomKey = () => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, messageVectors.room_keys.R1.kid);
const goodContent = () => ({ ...messageVectors.messages_v2[0].encrypted_message.content });

async function outcome(body: () => unknown): Promise<string> {
  try {
    await body();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    expect(E2EE_CODES).toContain((error as E2EEError).code);
    return (error as E2EEError).code;
  }
}

const WRONG_TYPES = [null, undefined, 42, true, [], {}, () => 1, Symbol('s'), 10n];

describe('every wrong type is E2EE_BAD_INPUT', () => {
  const calls: Array<[string, (bad: unknown) => unknown]> = [
    ['RsaPrivateKey.fromJwk(jwk)', (bad) => RsaPrivateKey.fromJwk(bad as string)],
    ['RsaPrivateKey.unwrapFromPassword(blob)', (bad) => RsaPrivateKey.unwrapFromPassword(bad as string, 'p', 'u')],
    ['RsaPrivateKey.unwrapFromPassword(password)', (bad) => RsaPrivateKey.unwrapFromPassword('{}', bad as string, 'u')],
    ['RsaPrivateKey.unwrapFromPassword(userId)', (bad) => RsaPrivateKey.unwrapFromPassword('{}', 'p', bad as string)],
    ['RoomKey.fromJwk(kid)', (bad) => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, bad as string)],
    ['unwrapRoomKey(privateKey)', (bad) => api.unwrapRoomKey(bad, 'x'.repeat(400))],
    ['wrapRoomKey(roomKey)', (bad) => api.wrapRoomKey(bad, user('bob').public_key)],
    ['wrapRoomKey(publicKey)', (bad) => api.wrapRoomKey(roomKey(), bad)],
    ['decryptContent(keys)', (bad) => api.decryptContent(bad, goodContent())],
    ['decryptContent(content)', (bad) => api.decryptContent(roomKey(), bad)],
    ['decryptMessage(message)', (bad) => api.decryptMessage(roomKey(), bad)],
    ['encryptContent(roomKey)', (bad) => api.encryptContent(bad, { msg: 'x' })],
    ['decryptContentBatch(contents)', (bad) => api.decryptContentBatch(roomKey(), bad)],
    ['decryptFile(data)', (bad) => api.decryptFile(messageVectors.files[0].encryptFile_result.key, 'AAAAAAAAAAAAAAAAAAAAAA==', bad)],
    ['encryptFile(data)', (bad) => api.encryptFile(bad)],
  ];
  /** Values of the right type that are merely empty: they get the code of what they lack. */
  const WELL_TYPED: Record<string, Record<string, string>> = {
    'RsaPrivateKey.fromJwk(jwk)': { '{}': 'E2EE_BAD_KEY' },
    'decryptContent(keys)': { '[]': 'E2EE_UNKNOWN_KID' },
    'decryptContent(content)': { '{}': 'E2EE_BAD_ENVELOPE' },
    'decryptMessage(message)': { '{}': 'E2EE_BAD_INPUT' },
    'decryptContentBatch(contents)': { '[]': 'ok' },
  };
  const shown = (bad: unknown) => (typeof bad === 'symbol' ? 'symbol' : typeof bad === 'bigint' ? 'bigint' : inspect(bad));
  const rows = calls.flatMap(([name, call]) => WRONG_TYPES.map((bad) => [name, shown(bad), call, bad] as const));
  test.each(rows)('%s with %s', async (name, text, call, bad) => {
    expect(await outcome(() => call(bad))).toBe(WELL_TYPED[name]?.[text] ?? 'E2EE_BAD_INPUT');
  });
});

describe('malformed values get their own codes', () => {
  const base = goodContent();
  const table: Array<[string, () => unknown, string]> = [
    ['non-JSON JWK', () => RoomKey.fromJwk('{not json', 'k'), 'E2EE_BAD_KEY'],
    ['JWK JSON null', () => RoomKey.fromJwk('null', 'k'), 'E2EE_BAD_KEY'],
    ['room key of 16 bytes labelled A256GCM', () => RoomKey.fromJwk({ kty: 'oct', alg: 'A256GCM', k: 'AAAAAAAAAAAAAAAAAAAAAA' }, 'k'), 'E2EE_BAD_KEY'],
    ['room key of 31 bytes', () => RoomKey.fromJwk({ kty: 'oct', alg: 'A256GCM', k: Buffer.alloc(31).toString('base64url') }, 'k'), 'E2EE_BAD_KEY'],
    ['room key alg A192GCM', () => RoomKey.fromJwk({ kty: 'oct', alg: 'A192GCM', k: Buffer.alloc(24).toString('base64url') }, 'k'), 'E2EE_UNSUPPORTED_ALGORITHM'],
    ['kid over 256 bytes', () => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, 'k'.repeat(257)), 'E2EE_BAD_KEY'],
    ['RSA JWK without private members', () => RsaPrivateKey.fromJwk(user('bob').public_key), 'E2EE_BAD_KEY'],
    ['RSA JWK with a wrong CRT member', () => RsaPrivateKey.fromJwk({ ...user('bob').private_jwk, dp: user('alice').private_jwk.dp }), 'E2EE_BAD_KEY'],
    ['RSA JWK with a 1024-bit modulus', () => RsaPrivateKey.fromJwk({ ...user('bob').private_jwk, n: Buffer.alloc(128, 1).toString('base64url') }), 'E2EE_BAD_KEY'],
    ['public key not JSON', () => e2ee.wrapRoomKey(roomKey(), 'nope'), 'E2EE_BAD_KEY'],
    ['public key of 1024 bits', () => e2ee.wrapRoomKey(roomKey(), JSON.stringify({ kty: 'RSA', n: Buffer.alloc(128, 255).toString('base64url'), e: 'AQAB' })), 'E2EE_BAD_KEY'],
    ['E2EKey empty', () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, '')), 'E2EE_BAD_KEY'],
    ['E2EKey body not base64', () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, 'kid' + '!'.repeat(344))), 'E2EE_BAD_KEY'],
    ['E2EKey with non-ASCII body', () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, 'kid' + 'é'.repeat(344))), 'E2EE_BAD_KEY'],
    ['content without algorithm', () => e2ee.decryptContent(roomKey(), { ...base, algorithm: undefined }), 'E2EE_BAD_ENVELOPE'],
    ['content with a numeric iv', () => e2ee.decryptContent(roomKey(), { ...base, iv: 5 }), 'E2EE_BAD_ENVELOPE'],
    ['ciphertext of 5 base64 characters', () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: base.ciphertext.slice(0, 5) }), 'E2EE_BAD_ENVELOPE'],
    ['ciphertext shorter than the tag', () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: base.ciphertext.slice(0, 4) }), 'E2EE_DECRYPT_FAILED'],
    ['ciphertext of 65 MiB', () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: 'A'.repeat(65 * 1024 * 1024) }), 'E2EE_TOO_LARGE'],
    ['legacy string of 5 characters in msg', () => e2ee.decryptMessage(roomKey(), { t: 'e2e', msg: 'abcde' }), 'E2EE_BAD_ENVELOPE'],
    ['a plain (t unset) message', () => e2ee.decryptMessage(roomKey(), { msg: 'hello' }), 'E2EE_BAD_INPUT'],
    ['an empty key ring', () => e2ee.decryptContent([], base), 'E2EE_UNKNOWN_KID'],
    ['a ring holding a non-key', () => e2ee.decryptContent([roomKey(), {} as RoomKey], base), 'E2EE_BAD_INPUT'],
    ['encryptContent with an array payload', () => e2ee.encryptContent(roomKey(), [] as never), 'E2EE_BAD_INPUT'],
    ['encryptContent under an empty kid', () => e2ee.encryptContent(RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, ''), { msg: 'x' }), 'E2EE_BAD_KEY'],
    ['file iv of 8 bytes', () => e2ee.decryptFile(messageVectors.files[0].encryptFile_result.key, 'AAAAAAAAAAA=', Buffer.alloc(4)), 'E2EE_BAD_ENVELOPE'],
    ['file key labelled A256GCM', () => e2ee.decryptFile(messageVectors.room_keys.R1.jwk, 'AAAAAAAAAAAAAAAAAAAAAA==', Buffer.alloc(4)), 'E2EE_UNSUPPORTED_ALGORITHM'],
    ['private key blob that is a JSON string', () => RsaPrivateKey.unwrapFromPassword('"x"', 'p', 'u'), 'E2EE_BAD_KEY'],
    ['private key blob with iterations 0', () => RsaPrivateKey.unwrapFromPassword(JSON.stringify({ iv: 'AAAA', ciphertext: 'AAAA', salt: 's', iterations: 0 }), 'p', 'u'), 'E2EE_BAD_KEY'],
    ['private key blob with a billion iterations', () => RsaPrivateKey.unwrapFromPassword(JSON.stringify({ iv: 'AAAA', ciphertext: 'AAAA', salt: 's', iterations: 1e9 }), 'p', 'u'), 'E2EE_BAD_KEY'],
    ['password with a character above U+00FF', () => RsaPrivateKey.generate().then((k) => k.wrapWithPassword('pass–word', 'u')), 'E2EE_BAD_PASSWORD'],
    ['wrap with an empty user id', () => RsaPrivateKey.generate().then((k) => k.wrapWithPassword('p', '')), 'E2EE_BAD_INPUT'],
  ];
  test.each(table)('%s → %s', async (_name, call, code) => {
    expect(await outcome(call)).toBe(code);
  });
});

describe('the bridge', () => {
  test('a panic in a synchronous export is an E2EE_INTERNAL error and the process lives on', () => {
    let caught: unknown;
    try {
      binding.internalPanicProbe();
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'E2EE_INTERNAL', message: 'internal error: panic in native code' });
    expect(e2ee.decryptContent(roomKey(), goodContent())).toBe(messageVectors.messages_v2[0].plaintext_payload_ejson);
  });

  test('a panic in a background task rejects with E2EE_INTERNAL', async () => {
    await expect(binding.internalPanicProbeInBackground()).rejects.toThrow(/^E2EE_INTERNAL: /);
  });

  test('the Rust and TypeScript code lists are equal', () => {
    expect([...e2ee.nativeErrorCodes()].sort()).toEqual([...E2EE_CODES, ...e2ee.KEYSTORE_CODES].sort());
  });

  test('key classes cannot be constructed from JavaScript', () => {
    expect(() => new binding.RsaPrivateKey()).toThrow();
    expect(() => new binding.RoomKey()).toThrow();
    expect(() => new (RoomKey as unknown as new () => unknown)()).toThrow();
  });
});

describe('no secret reaches an error, a log or JSON', () => {
  test('a wrong password is not quoted', async () => {
    const bob = user('bob');
    const error = (await RsaPrivateKey.unwrapFromPassword(bob.private_key_blob, 'hunter2-secret', bob.userId).catch((e) => e)) as E2EEError;
    expect(error.code).toBe('E2EE_BAD_PASSWORD');
    expect(`${error.message} ${error.stack}`).not.toContain('hunter2');
  });

  test('a value napi-rs could not convert is not quoted', () => {
    const error = (() => {
      try {
        binding.wrapRoomKey(binding.RoomKey.generate(), 123456789);
      } catch (e) {
        return e as Error;
      }
    })();
    const normalized = (() => {
      try {
        api.wrapRoomKey(roomKey(), 123456789);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeDefined();
    expect(normalized?.message).not.toContain('123456789');
  });

  test('keys show only public facts', async () => {
    const key = RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, messageVectors.room_keys.R1.kid);
    const secret = messageVectors.room_keys.R1.jwk.k as string;
    const privateKey = await RsaPrivateKey.fromJwk(user('bob').private_key_plain);
    const shown = [inspect(key), JSON.stringify(key), inspect(privateKey), JSON.stringify(privateKey), inspect(new e2ee.RoomKeyRing([key])), String(Object.keys(key))];
    for (const text of shown) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(user('bob').private_jwk.d);
    }
    expect(JSON.stringify(key)).toBe(JSON.stringify({ kid: key.kid, algorithm: 'A256GCM' }));
  });
});
