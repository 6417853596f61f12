/**
 * Bad input of every kind gives an `E2EEError` with a stable code, never a crash, and no error
 * message quotes a secret.
 */
import { inspect, types } from 'node:util';
import { runInNewContext } from 'node:vm';

import * as e2ee from '../../native';
import { E2EEError, E2EE_CODES, RoomKey, RsaPrivateKey } from '../../native';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the raw binding, untyped on purpose: it gets bad input
const binding = require('../../native/binding.js');
import { messageVectors, user } from './fixtures';

// Bad input is the point of this file: arguments are deliberately of the wrong type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arguments of the wrong type are the point
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
    ['decryptContentAsync(keys)', (bad) => api.decryptContentAsync(bad, goodContent())],
    ['decryptContentAsync(content)', (bad) => api.decryptContentAsync(roomKey(), bad)],
    ['decryptMessageAsync(message)', (bad) => api.decryptMessageAsync(roomKey(), bad)],
    ['encryptContentAsync(roomKey)', (bad) => api.encryptContentAsync(bad, { msg: 'x' })],
    ['decryptContentBatch(contents)', (bad) => api.decryptContentBatch(roomKey(), bad)],
    [
      'decryptFile(data)',
      (bad) => api.decryptFile(messageVectors.files[0].encryptFile_result.key, 'AAAAAAAAAAAAAAAAAAAAAA==', bad),
    ],
    ['encryptFile(data)', (bad) => api.encryptFile(bad)],
  ];
  /** Values of the right type that are merely empty: they get the code of what they lack. */
  const WELL_TYPED: Record<string, Record<string, string>> = {
    'RsaPrivateKey.fromJwk(jwk)': { '{}': 'E2EE_BAD_KEY' },
    'decryptContent(keys)': { '[]': 'E2EE_UNKNOWN_KID' },
    'decryptContent(content)': { '{}': 'E2EE_BAD_ENVELOPE' },
    'decryptMessage(message)': { '{}': 'E2EE_BAD_INPUT' },
    'decryptContentAsync(keys)': { '[]': 'E2EE_UNKNOWN_KID' },
    'decryptContentAsync(content)': { '{}': 'E2EE_BAD_ENVELOPE' },
    'decryptMessageAsync(message)': { '{}': 'E2EE_BAD_INPUT' },
    'decryptContentBatch(contents)': { '[]': 'ok' },
  };
  const shown = (bad: unknown) =>
    typeof bad === 'symbol' ? 'symbol' : typeof bad === 'bigint' ? 'bigint' : inspect(bad);
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
    [
      'room key of 16 bytes labelled A256GCM',
      () => RoomKey.fromJwk({ kty: 'oct', alg: 'A256GCM', k: 'AAAAAAAAAAAAAAAAAAAAAA' }, 'k'),
      'E2EE_BAD_KEY',
    ],
    [
      'room key of 31 bytes',
      () => RoomKey.fromJwk({ kty: 'oct', alg: 'A256GCM', k: Buffer.alloc(31).toString('base64url') }, 'k'),
      'E2EE_BAD_KEY',
    ],
    [
      'room key alg A192GCM',
      () => RoomKey.fromJwk({ kty: 'oct', alg: 'A192GCM', k: Buffer.alloc(24).toString('base64url') }, 'k'),
      'E2EE_UNSUPPORTED_ALGORITHM',
    ],
    ['kid over 256 bytes', () => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, 'k'.repeat(257)), 'E2EE_BAD_KEY'],
    ['RSA JWK without private members', () => RsaPrivateKey.fromJwk(user('bob').public_key), 'E2EE_BAD_KEY'],
    [
      'RSA JWK with a wrong CRT member',
      () => RsaPrivateKey.fromJwk({ ...user('bob').private_jwk, dp: user('alice').private_jwk.dp }),
      'E2EE_BAD_KEY',
    ],
    [
      'RSA JWK with a 1024-bit modulus',
      () => RsaPrivateKey.fromJwk({ ...user('bob').private_jwk, n: Buffer.alloc(128, 1).toString('base64url') }),
      'E2EE_BAD_KEY',
    ],
    ['public key not JSON', () => e2ee.wrapRoomKey(roomKey(), 'nope'), 'E2EE_BAD_KEY'],
    [
      'public key of 1024 bits',
      () =>
        e2ee.wrapRoomKey(
          roomKey(),
          JSON.stringify({ kty: 'RSA', n: Buffer.alloc(128, 255).toString('base64url'), e: 'AQAB' }),
        ),
      'E2EE_BAD_KEY',
    ],
    ['E2EKey empty', () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, '')), 'E2EE_BAD_KEY'],
    [
      'E2EKey body not base64',
      () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, 'kid' + '!'.repeat(344))),
      'E2EE_BAD_KEY',
    ],
    [
      'E2EKey with non-ASCII body',
      () => RsaPrivateKey.generate().then((k) => e2ee.unwrapRoomKey(k, 'kid' + 'é'.repeat(344))),
      'E2EE_BAD_KEY',
    ],
    [
      'content without algorithm',
      () => e2ee.decryptContent(roomKey(), { ...base, algorithm: undefined }),
      'E2EE_BAD_ENVELOPE',
    ],
    ['content with a numeric iv', () => e2ee.decryptContent(roomKey(), { ...base, iv: 5 }), 'E2EE_BAD_ENVELOPE'],
    [
      'ciphertext of 5 base64 characters',
      () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: base.ciphertext.slice(0, 5) }),
      'E2EE_BAD_ENVELOPE',
    ],
    [
      'ciphertext shorter than the tag',
      () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: base.ciphertext.slice(0, 4) }),
      'E2EE_DECRYPT_FAILED',
    ],
    [
      'ciphertext of 65 MiB',
      () => e2ee.decryptContent(roomKey(), { ...base, ciphertext: 'A'.repeat(65 * 1024 * 1024) }),
      'E2EE_TOO_LARGE',
    ],
    [
      'legacy string of 5 characters in msg',
      () => e2ee.decryptMessage(roomKey(), { t: 'e2e', msg: 'abcde' }),
      'E2EE_BAD_ENVELOPE',
    ],
    ['a plain (t unset) message', () => e2ee.decryptMessage(roomKey(), { msg: 'hello' }), 'E2EE_BAD_INPUT'],
    ['an empty key ring', () => e2ee.decryptContent([], base), 'E2EE_UNKNOWN_KID'],
    ['a ring holding a non-key', () => e2ee.decryptContent([roomKey(), {} as RoomKey], base), 'E2EE_BAD_INPUT'],
    ['encryptContent with an array payload', () => e2ee.encryptContent(roomKey(), [] as never), 'E2EE_BAD_INPUT'],
    [
      'encryptContent under an empty kid',
      () => e2ee.encryptContent(RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, ''), { msg: 'x' }),
      'E2EE_BAD_KEY',
    ],
    [
      'file iv of 8 bytes',
      () => e2ee.decryptFile(messageVectors.files[0].encryptFile_result.key, 'AAAAAAAAAAA=', Buffer.alloc(4)),
      'E2EE_BAD_ENVELOPE',
    ],
    [
      'file key labelled A256GCM',
      () => e2ee.decryptFile(messageVectors.room_keys.R1.jwk, 'AAAAAAAAAAAAAAAAAAAAAA==', Buffer.alloc(4)),
      'E2EE_UNSUPPORTED_ALGORITHM',
    ],
    ['private key blob that is a JSON string', () => RsaPrivateKey.unwrapFromPassword('"x"', 'p', 'u'), 'E2EE_BAD_KEY'],
    [
      'private key blob with iterations 0',
      () =>
        RsaPrivateKey.unwrapFromPassword(
          JSON.stringify({ iv: 'AAAA', ciphertext: 'AAAA', salt: 's', iterations: 0 }),
          'p',
          'u',
        ),
      'E2EE_BAD_KEY',
    ],
    [
      'private key blob with a billion iterations',
      () =>
        RsaPrivateKey.unwrapFromPassword(
          JSON.stringify({ iv: 'AAAA', ciphertext: 'AAAA', salt: 's', iterations: 1e9 }),
          'p',
          'u',
        ),
      'E2EE_BAD_KEY',
    ],
    [
      'password with a character above U+00FF',
      () => RsaPrivateKey.generate().then((k) => k.wrapWithPassword('pass–word', 'u')),
      'E2EE_BAD_PASSWORD',
    ],
    [
      'wrap with an empty user id',
      () => RsaPrivateKey.generate().then((k) => k.wrapWithPassword('p', '')),
      'E2EE_BAD_INPUT',
    ],
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
    await expect(binding.internalPanicProbeInBackground()).rejects.toMatchObject({
      code: 'E2EE_INTERNAL',
      message: 'internal error: panic in native code',
    });
  });

  // One error path: what a synchronous export throws and what a background task or a key-store
  // call rejects with are the same kind of object, the code in `code`, no prefix to parse.
  test.each([
    ['sync codec call', () => binding.RoomKey.fromJwk('{}', 'kid')],
    ['codec background task', () => binding.RsaPrivateKey.unwrapFromPassword('"x"', 'p', 'u')],
    ['key-store call', () => binding.AppKeyStore.open({ url: 'ftp://nowhere', kek: 'x' })],
  ])('the raw binding reports a %s with a coded Error', async (_name, run) => {
    let caught: unknown;
    try {
      await run();
    } catch (error) {
      caught = error;
    }
    // The addon's errors come from the main realm, not the test's: isNativeError, not instanceof.
    expect(types.isNativeError(caught)).toBe(true);
    const { code, message } = caught as { code: unknown; message: string };
    expect([...e2ee.nativeErrorCodes()]).toContain(code);
    expect(message).not.toMatch(/^[A-Z0-9_]+: /);
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
    const error = (await RsaPrivateKey.unwrapFromPassword(bob.private_key_blob, 'hunter2-secret', bob.userId).catch(
      (e) => e,
    )) as E2EEError;
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
    const shown = [
      inspect(key),
      JSON.stringify(key),
      inspect(privateKey),
      JSON.stringify(privateKey),
      inspect(new e2ee.RoomKeyRing([key])),
      String(Object.keys(key)),
    ];
    for (const text of shown) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(user('bob').private_jwk.d);
    }
    expect(JSON.stringify(key)).toBe(JSON.stringify({ kid: key.kid, algorithm: 'A256GCM' }));
  });
});

// ---------------------------------------------------------------------------------------------
// Finding 5: every hostile input to every codec export is an E2EEError with a stable code.
// ---------------------------------------------------------------------------------------------

/** Text every hostile getter and trap throws; it must never reach an error message. */
const MARK = 'HOSTILE-7f3a';
const TRAPS = [
  'get',
  'set',
  'has',
  'deleteProperty',
  'ownKeys',
  'getOwnPropertyDescriptor',
  'defineProperty',
  'getPrototypeOf',
  'setPrototypeOf',
  'isExtensible',
  'preventExtensions',
  'apply',
  'construct',
] as const;
const handler = (thrower: () => never): ProxyHandler<object> =>
  Object.fromEntries(TRAPS.map((trap) => [trap, thrower]));
/** What hostile code throws: a Proxy of an Error whose every trap throws again. */
const nastyThrown = () =>
  new Proxy(
    new Error(MARK),
    handler(() => {
      throw new Error(MARK);
    }),
  );
const throwNasty = (): never => {
  throw nastyThrown();
};
/** A Proxy whose every trap throws (and what it throws is hostile too). */
const allTrapsThrow = <T extends object>(target: T): T => new Proxy(target, handler(throwNasty)) as T;
/** Every member name any export reads. */
const NAMES = [
  'algorithm',
  'kid',
  'iv',
  'ciphertext',
  't',
  'msg',
  'content',
  'attachments',
  'kty',
  'alg',
  'k',
  'n',
  'e',
  'd',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
  'ext',
  'key_ops',
  'toJSON',
  'then',
  'length',
  '0',
  'buffer',
  'byteOffset',
  'byteLength',
  'text',
];
const HUGE = 'A'.repeat(64 * 1024 * 1024 + 1);
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';

function withGetters(target: object, names: readonly string[], get: (name: string, read: number) => unknown): object {
  const reads = new Map<string, number>();
  for (const name of names) {
    Object.defineProperty(target, name, {
      enumerable: true,
      configurable: true,
      get: () => {
        const read = (reads.get(name) ?? 0) + 1;
        reads.set(name, read);
        return get(name, read);
      },
    });
  }
  return target;
}

function deep(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
}

/** A copy of the good value (object or array), or a fresh object. */
const copyOf = (good: unknown): Record<string, unknown> =>
  Array.isArray(good) ? ([...good] as never) : isObject(good) ? { ...good } : {};

/** Each hostile kind makes a value from the good argument of the position it is tried in. */
const HOSTILE: Array<[string, (good: unknown) => unknown]> = [
  [
    'a circular object',
    () => {
      const o: Record<string, unknown> = { kty: 'oct', algorithm: 'rc.v2.aes-sha2', t: 'e2e', msg: 'x' };
      o.self = o;
      o.content = o;
      o.attachments = [o];
      return o;
    },
  ],
  [
    'a circular copy of the good value',
    (good) => {
      const o = copyOf(good);
      if (Array.isArray(o)) o.push(o);
      else o.self = o;
      return o;
    },
  ],
  ['an object whose every member is a throwing getter', () => withGetters({}, NAMES, throwNasty)],
  [
    'the good value with throwing getters',
    (good) => {
      const o = copyOf(good);
      return withGetters(o, Object.keys(o), throwNasty);
    },
  ],
  [
    'the good value whose getters change after the first read',
    (good) => {
      const o = copyOf(good);
      const values = { ...o };
      return withGetters(o, Object.keys(o), (name, read) =>
        read === 1 ? (values as Record<string, unknown>)[name] : throwNasty(),
      );
    },
  ],
  ['a Proxy whose every trap throws', () => allTrapsThrow({})],
  ['a Proxy of an array whose every trap throws', () => allTrapsThrow([])],
  ['a Proxy of a function whose every trap throws', () => allTrapsThrow(() => 1)],
  [
    'a Proxy of the good value whose every trap throws',
    (good) => (isObject(good) ? allTrapsThrow(good) : allTrapsThrow({})),
  ],
  [
    'a revoked Proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  ],
  ['a transparent Proxy of the good value', (good) => (isObject(good) ? new Proxy(good, {}) : new Proxy({}, {}))],
  [
    'an object with a throwing toJSON and toPrimitive',
    () => ({ toJSON: throwNasty, [Symbol.toPrimitive]: throwNasty, toString: throwNasty, valueOf: throwNasty }),
  ],
  ['an object whose toJSON returns undefined', () => ({ toJSON: () => undefined })],
  [
    'an object whose toJSON returns a circular object',
    () => ({
      toJSON: () => {
        const o: Record<string, unknown> = {};
        o.o = o;
        return o;
      },
    }),
  ],
  ['a null-prototype copy of the good value', (good) => Object.assign(Object.create(null), copyOf(good))],
  ['an object 10,000 levels deep', () => deep(10_000, (inner) => ({ a: inner }))],
  ['an array 10,000 levels deep', () => deep(10_000, (inner) => [inner])],
  [
    'the good value with a member 10,000 levels deep',
    (good) => ({ ...copyOf(good), nested: deep(10_000, (inner) => ({ a: inner })) }),
  ],
  ['a string of 64 MiB', () => HUGE],
  [
    'the good value with a member of 64 MiB',
    (good) => {
      const o = copyOf(good);
      const name = Object.keys(o).find((key) => typeof o[key] === 'string') ?? 'msg';
      return Array.isArray(o) ? [HUGE] : { ...o, [name]: HUGE };
    },
  ],
  ['a lone surrogate', () => '\ud800'],
  ['a Buffer', () => Buffer.from('{"kty":"oct","alg":"A256GCM","k":"AAAA"}')],
  ['a Uint8Array', () => new Uint8Array([123, 125])],
  ['a Float64Array', () => new Float64Array(4)],
  ['a DataView', () => new DataView(new ArrayBuffer(8))],
  ['an ArrayBuffer', () => new ArrayBuffer(8)],
  [
    'a Uint8Array whose prototype is a throwing Proxy',
    () => Object.setPrototypeOf(new Uint8Array(8), allTrapsThrow(Object.create(Uint8Array.prototype))),
  ],
  [
    'a Uint8Array with a throwing buffer getter',
    () => withGetters(new Uint8Array(8), ['buffer', 'byteOffset', 'byteLength'], throwNasty),
  ],
  ['a string where bytes or objects belong', () => 'not what it should be'],
  ['a sparse array of length 2^32-1', () => new Array(2 ** 32 - 1)],
  ['a Map', () => new Map([['kty', 'oct']])],
  ['a Date', () => new Date(0)],
];

interface Position {
  name: string;
  good: () => unknown;
  call: (value: unknown) => unknown;
}

// Built lazily (some need awaited keys) and shared by every row.
const ctx: { bob?: RsaPrivateKey; e2eKey?: string } = {};
beforeAll(async () => {
  ctx.bob = RsaPrivateKey.fromJwk(user('bob').private_jwk);
  ctx.e2eKey = e2ee.wrapRoomKey(roomKey(), ctx.bob.publicKey());
});
const bobKey = () => ctx.bob as RsaPrivateKey;
const fileVector = () => messageVectors.files[0];
const fileBytes = () => Buffer.from(fileVector().ciphertext_b64, 'base64');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a facade module the package index does not export
const content = require('../../native/dist/content');

const POSITIONS: Position[] = [
  {
    name: 'RsaPrivateKey.fromJwk(jwk)',
    good: () => user('bob').private_jwk,
    call: (v) => RsaPrivateKey.fromJwk(v as string),
  },
  {
    name: 'RsaPrivateKey.unwrapFromPassword(blob)',
    good: () => user('bob').private_key_blob,
    call: (v) => RsaPrivateKey.unwrapFromPassword(v as string, user('bob').passphrase, user('bob').userId),
  },
  {
    name: 'RsaPrivateKey.unwrapFromPassword(password)',
    good: () => user('bob').passphrase,
    call: (v) => RsaPrivateKey.unwrapFromPassword(user('bob').private_key_blob, v as string, user('bob').userId),
  },
  {
    name: 'RsaPrivateKey.unwrapFromPassword(userId)',
    good: () => user('bob').userId,
    call: (v) => RsaPrivateKey.unwrapFromPassword(user('bob').private_key_blob, user('bob').passphrase, v as string),
  },
  {
    name: 'key.wrapWithPassword(password)',
    good: () => 'password',
    call: (v) => bobKey().wrapWithPassword(v as string, 'user'),
  },
  {
    name: 'key.wrapWithPassword(userId)',
    good: () => 'user',
    call: (v) => bobKey().wrapWithPassword('password', v as string),
  },
  {
    name: 'RoomKey.fromJwk(jwk)',
    good: () => messageVectors.room_keys.R1.jwk,
    call: (v) => RoomKey.fromJwk(v as string, 'kid'),
  },
  {
    name: 'RoomKey.fromJwk(kid)',
    good: () => 'kid',
    call: (v) => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, v as string),
  },
  { name: 'new RoomKeyRing(keys)', good: () => [roomKey()], call: (v) => new e2ee.RoomKeyRing(v as RoomKey[]) },
  { name: 'unwrapRoomKey(privateKey)', good: bobKey, call: (v) => api.unwrapRoomKey(v, ctx.e2eKey) },
  { name: 'unwrapRoomKey(e2eKey)', good: () => ctx.e2eKey, call: (v) => api.unwrapRoomKey(bobKey(), v) },
  { name: 'wrapRoomKey(roomKey)', good: roomKey, call: (v) => api.wrapRoomKey(v, user('bob').public_key) },
  { name: 'wrapRoomKey(publicKey)', good: () => user('bob').public_key, call: (v) => api.wrapRoomKey(roomKey(), v) },
  { name: 'decryptContent(keys)', good: () => [roomKey()], call: (v) => api.decryptContent(v, goodContent()) },
  { name: 'decryptContent(content)', good: goodContent, call: (v) => api.decryptContent(roomKey(), v) },
  {
    name: 'decryptMessage(keys)',
    good: roomKey,
    call: (v) => api.decryptMessage(v, messageVectors.messages_v2[0].encrypted_message),
  },
  {
    name: 'decryptMessage(message)',
    good: () => ({ ...messageVectors.messages_v2[0].encrypted_message }),
    call: (v) => api.decryptMessage(roomKey(), v),
  },
  { name: 'encryptContent(roomKey)', good: roomKey, call: (v) => api.encryptContent(v, { msg: 'x' }) },
  { name: 'encryptContent(payload)', good: () => ({ msg: 'x' }), call: (v) => api.encryptContent(roomKey(), v) },
  {
    name: 'decryptContentAsync(keys)',
    good: () => [roomKey()],
    call: (v) => api.decryptContentAsync(v, goodContent()),
  },
  { name: 'decryptContentAsync(content)', good: goodContent, call: (v) => api.decryptContentAsync(roomKey(), v) },
  {
    name: 'decryptMessageAsync(keys)',
    good: roomKey,
    call: (v) => api.decryptMessageAsync(v, messageVectors.messages_v2[0].encrypted_message),
  },
  {
    name: 'decryptMessageAsync(message)',
    good: () => ({ ...messageVectors.messages_v2[0].encrypted_message }),
    call: (v) => api.decryptMessageAsync(roomKey(), v),
  },
  { name: 'encryptContentAsync(roomKey)', good: roomKey, call: (v) => api.encryptContentAsync(v, { msg: 'x' }) },
  {
    name: 'encryptContentAsync(payload)',
    good: () => ({ msg: 'x' }),
    call: (v) => api.encryptContentAsync(roomKey(), v),
  },
  {
    name: 'decryptContentBatch(keys)',
    good: () => new e2ee.RoomKeyRing([roomKey()]),
    call: (v) => api.decryptContentBatch(v, [goodContent()]),
  },
  {
    name: 'decryptContentBatch(contents)',
    good: () => [goodContent()],
    call: (v) => api.decryptContentBatch(roomKey(), v),
  },
  {
    name: 'decryptContentBatch(contents[1])',
    good: goodContent,
    call: (v) => api.decryptContentBatch(roomKey(), [goodContent(), v]),
  },
  {
    name: 'decryptFile(fileKey)',
    good: () => fileVector().encryptFile_result.key,
    call: (v) => api.decryptFile(v, fileVector().encryptFile_result.iv, fileBytes()),
  },
  {
    name: 'decryptFile(iv)',
    good: () => fileVector().encryptFile_result.iv,
    call: (v) => api.decryptFile(fileVector().encryptFile_result.key, v, fileBytes()),
  },
  {
    name: 'decryptFile(data)',
    good: fileBytes,
    call: (v) => api.decryptFile(fileVector().encryptFile_result.key, fileVector().encryptFile_result.iv, v),
  },
  { name: 'encryptFile(data)', good: () => Buffer.from('file'), call: (v) => api.encryptFile(v) },
  { name: 'parsePayload(plaintext)', good: () => '{"msg":"x"}', call: (v) => api.parsePayload(v) },
  { name: 'payloadText(payload)', good: () => ({ msg: 'x' }), call: (v) => content.payloadText(v) },
  {
    name: 'messageFields(message)',
    good: () => ({ ...messageVectors.messages_v2[0].encrypted_message }),
    call: (v) => content.messageFields(v),
  },
  { name: 'contentFields(content)', good: goodContent, call: (v) => content.contentFields(v) },
];

/** 'ok', or the code of the E2EEError thrown; anything else fails the test. */
async function hostileOutcome(body: () => unknown): Promise<string> {
  let result: unknown;
  try {
    result = await body();
  } catch (error) {
    // A hostile value escaping would make these checks throw: that fails the row too.
    if (!(error instanceof E2EEError)) throw new Error(`not an E2EEError: ${Object.prototype.toString.call(error)}`);
    expect(E2EE_CODES).toContain(error.code);
    expect(error.message).not.toContain(MARK);
    expect(error.message.length).toBeLessThan(200);
    return error.code;
  }
  if (Array.isArray(result)) {
    // A batch: each item is a plaintext or that item's own coded error.
    for (const item of result) {
      if (typeof item !== 'string') {
        expect(item).toBeInstanceOf(E2EEError);
        expect(E2EE_CODES).toContain((item as E2EEError).code);
      }
    }
  }
  return 'ok';
}

describe('finding 5: hostile input × every export gives a coded E2EEError', () => {
  const rows = POSITIONS.flatMap((position) =>
    HOSTILE.map(([kind, make]) => [position.name, kind, position, make] as const),
  );
  const outcomes = new Map<string, string>();

  test.each(rows)('%s with %s', async (name, kind, position, make) => {
    const code = await hostileOutcome(() => position.call(make(position.good())));
    outcomes.set(`${name} | ${kind}`, code);
    // Hostile input is the caller's doing, never an internal error.
    expect(code).not.toBe('E2EE_INTERNAL');
  });

  test('every position takes its good value (the table tests what it claims)', async () => {
    for (const position of POSITIONS) {
      expect([position.name, await hostileOutcome(() => position.call(position.good()))]).toEqual([
        position.name,
        'ok',
      ]);
    }
  });

  test(`all ${rows.length} hostile calls were made and coded`, () => {
    expect(outcomes.size).toBe(rows.length);
    expect(rows.length).toBeGreaterThanOrEqual(676);
  });
});

describe('finding 5: payloadText and the field readers', () => {
  const code = (body: () => unknown) => {
    try {
      body();
      return 'ok';
    } catch (error) {
      expect(error).toBeInstanceOf(E2EEError);
      return (error as E2EEError).code;
    }
  };

  test('finding 5: circular payload is E2EE_BAD_INPUT', () => {
    const payload: Record<string, unknown> = { msg: 'x' };
    payload.self = payload;
    expect(code(() => content.payloadText(payload))).toBe('E2EE_BAD_INPUT');
    expect(code(() => e2ee.encryptContent(roomKey(), payload))).toBe('E2EE_BAD_INPUT');
  });

  test('finding 5: payload with a throwing getter is E2EE_BAD_INPUT', () => {
    expect(code(() => content.payloadText(withGetters({}, ['msg'], throwNasty) as never))).toBe('E2EE_BAD_INPUT');
  });

  test('finding 5: payload 10,000 levels deep is E2EE_BAD_INPUT, and so is one over the depth limit', () => {
    expect(code(() => content.payloadText(deep(10_000, (inner) => ({ a: inner })) as never))).toBe('E2EE_BAD_INPUT');
    const limit = content.MAX_PAYLOAD_DEPTH as number;
    // `{"a":` per level plus the payload's own braces: the limit counts the text's nesting.
    expect(code(() => content.payloadText(deep(limit - 1, (inner) => ({ a: inner })) as never))).toBe('ok');
    expect(code(() => content.payloadText(deep(limit, (inner) => ({ a: inner })) as never))).toBe('E2EE_BAD_INPUT');
    // Brackets inside strings do not count.
    expect(code(() => content.payloadText({ msg: '['.repeat(10_000) + '\\"{'.repeat(1000) }))).toBe('ok');
  });

  test('finding 5: payload over the size limit is E2EE_TOO_LARGE', () => {
    expect(code(() => content.payloadText({ msg: 'a'.repeat(content.MAX_PAYLOAD_BYTES) }))).toBe('E2EE_TOO_LARGE');
    expect(code(() => content.payloadText('a'.repeat(content.MAX_PAYLOAD_BYTES + 1)))).toBe('E2EE_TOO_LARGE');
    // Counted in UTF-8 bytes: a third as many three-byte characters is over too.
    expect(code(() => content.payloadText('€'.repeat(Math.ceil(content.MAX_PAYLOAD_BYTES / 3) + 1)))).toBe(
      'E2EE_TOO_LARGE',
    );
  });

  test('a payload is a plain object or a string, nothing that merely looks like one', () => {
    class Note {
      msg = 'x';
    }
    const refused = [
      Buffer.from('{"msg":"x"}'),
      new Uint8Array(4),
      new Date(0),
      new Map([['msg', 'x']]),
      new Note(),
      Object.create({ msg: 'x' }),
    ];
    for (const payload of refused) {
      let caught: unknown;
      try {
        e2ee.encryptContent(roomKey(), payload as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({
        code: 'E2EE_BAD_INPUT',
        message: 'invalid input: payload must be a plain object or a string',
      });
    }
    // A plain object from another realm and one without a prototype are payloads.
    const foreign = runInNewContext('({ msg: "x" })');
    const bare = Object.assign(Object.create(null), { msg: 'x' });
    for (const payload of [foreign, bare]) expect(content.payloadText(payload)).toBe('{"msg":"x"}');
  });

  test('payloadText keeps the exact EJSON text of a good payload', () => {
    const payload = { msg: 'x', ts: new Date(0), attachments: [{ title: 'a' }] };
    expect(content.payloadText(payload)).toBe('{"msg":"x","ts":{"$date":0},"attachments":[{"title":"a"}]}');
    expect(content.payloadText('exact text')).toBe('exact text');
  });

  test('finding 5: the field readers read each member once and throw only E2EEError', () => {
    let reads = 0;
    const message = withGetters({}, ['t'], () => (++reads === 1 ? 'e2e' : throwNasty()));
    expect(content.messageFields(message).t).toBe('e2e');
    expect(reads).toBe(1);
    expect(code(() => content.messageFields(allTrapsThrow({})))).toBe('E2EE_BAD_INPUT');
    expect(code(() => content.contentFields(allTrapsThrow({})))).toBe('E2EE_BAD_INPUT');
    expect(code(() => content.messageFields({ t: 'e2e', attachments: allTrapsThrow([]) }))).toBe('E2EE_BAD_INPUT');
  });
});

describe('finding 5: the raw binding never runs or returns hostile JavaScript, never crashes', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a facade helper the package index does not export
  const { toE2EEError } = require('../../native/dist/errors');
  const rk = () =>
    binding.RoomKey.fromJwk(JSON.stringify(messageVectors.room_keys.R1.jwk), messageVectors.room_keys.R1.kid);
  const ring = () => {
    const r = new binding.RoomKeyRing();
    r.add(rk());
    return r;
  };
  const rsa = () => binding.RsaPrivateKey.fromJwk(JSON.stringify(user('bob').private_jwk));
  const c = () => goodContent();
  /** [name, good arguments]: each argument is replaced in turn by each hostile value. */
  const RAW: Array<[string, (...args: unknown[]) => unknown, () => unknown[]]> = [
    [
      'RsaPrivateKey.fromJwk',
      (...a) => binding.RsaPrivateKey.fromJwk(...a),
      () => [JSON.stringify(user('bob').private_jwk)],
    ],
    [
      'RsaPrivateKey.unwrapFromPassword',
      (...a) => binding.RsaPrivateKey.unwrapFromPassword(...a),
      () => ['{}', 'p', 'u'],
    ],
    ['rsa.wrapWithPassword', (...a) => rsa().wrapWithPassword(...a), () => ['p', 'u']],
    [
      'RoomKey.fromJwk',
      (...a) => binding.RoomKey.fromJwk(...a),
      () => [JSON.stringify(messageVectors.room_keys.R1.jwk), 'k'],
    ],
    ['ring.add', (...a) => ring().add(...a), () => [rk()]],
    ['unwrapRoomKey', (...a) => binding.unwrapRoomKey(...a), () => [rsa(), 'k'.repeat(400)]],
    ['wrapRoomKey', (...a) => binding.wrapRoomKey(...a), () => [rk(), user('bob').public_key]],
    [
      'decryptContentWithKey',
      (...a) => binding.decryptContentWithKey(...a),
      () => [rk(), c().algorithm, c().kid, c().iv, c().ciphertext],
    ],
    [
      'decryptContentWithRing',
      (...a) => binding.decryptContentWithRing(...a),
      () => [ring(), c().algorithm, c().kid, c().iv, c().ciphertext],
    ],
    ['decryptMessageFields', (...a) => binding.decryptMessageFields(...a), () => [ring(), { t: 'e2e', content: c() }]],
    ['encryptContentText', (...a) => binding.encryptContentText(...a), () => [rk(), '{}']],
    [
      'decryptContentWithKeyAsync',
      (...a) => binding.decryptContentWithKeyAsync(...a),
      () => [rk(), c().algorithm, c().kid, c().iv, c().ciphertext],
    ],
    [
      'decryptContentWithRingAsync',
      (...a) => binding.decryptContentWithRingAsync(...a),
      () => [ring(), c().algorithm, c().kid, c().iv, c().ciphertext],
    ],
    [
      'decryptMessageFieldsAsync',
      (...a) => binding.decryptMessageFieldsAsync(...a),
      () => [ring(), { t: 'e2e', content: c() }],
    ],
    ['encryptContentTextAsync', (...a) => binding.encryptContentTextAsync(...a), () => [rk(), '{}']],
    [
      'decryptContentBatch',
      (...a) => binding.decryptContentBatch(...a),
      () => [ring(), new Uint8Array([2]), [c().kid], new Uint32Array([0]), [c().iv], [c().ciphertext]],
    ],
    [
      'decryptFile',
      (...a) => binding.decryptFile(...a),
      () => [
        JSON.stringify(messageVectors.files[0].encryptFile_result.key),
        'AAAAAAAAAAAAAAAAAAAAAA==',
        Buffer.alloc(4),
      ],
    ],
    ['encryptFile', (...a) => binding.encryptFile(...a), () => [Buffer.alloc(4)]],
  ];
  const rows = RAW.flatMap(([name, fn, good]) =>
    good().flatMap((_, index) =>
      HOSTILE.filter(([kind]) => !kind.includes('64 MiB')).map(
        ([kind, make]) => [`${name} argument ${index}`, kind, fn, good, index, make] as const,
      ),
    ),
  );
  test.each(rows)('%s with %s', async (_name, _kind, fn, good, index, make) => {
    const args = good();
    args[index] = make(args[index]);
    let thrown: unknown;
    try {
      await fn(...args);
      return;
    } catch (error) {
      thrown = error;
    }
    // A real Error of the addon (from another realm under Jest), not a value the hostile code threw.
    expect(types.isNativeError(thrown)).toBe(true);
    expect((thrown as Error).message).not.toContain(MARK);
    expect([...E2EE_CODES]).toContain(toE2EEError(thrown).code);
  });

  test("finding 5: napi's String conversion ran JSON.stringify (getters, toJSON) on a refused object", () => {
    let calls = 0;
    const spy = {
      toJSON: () => (calls++, 'x'),
      get kty() {
        calls++;
        return 'oct';
      },
    };
    for (const call of [
      () => binding.RoomKey.fromJwk(spy, 'k'),
      () => binding.RsaPrivateKey.fromJwk(spy),
      () => binding.wrapRoomKey(rk(), spy),
      () => binding.encryptContentText(rk(), spy),
    ]) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'StringExpected', message: 'invalid input: a string argument was expected' });
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => binding.RoomKey.fromJwk(circular, 'k')).toThrow('invalid input: a string argument was expected');
    expect(calls).toBe(0);
  });
});

describe('finding 5: a panic anywhere in the bridge is E2EE_INTERNAL and the process lives', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a facade helper the package index does not export
  const { toE2EEError } = require('../../native/dist/errors');
  const caught = (body: () => unknown): unknown => {
    try {
      body();
    } catch (error) {
      return error;
    }
    throw new Error('expected a throw');
  };
  const stillWorks = () =>
    expect(e2ee.decryptContent(roomKey(), goodContent())).toBe(messageVectors.messages_v2[0].plaintext_payload_ejson);

  test('the probes exist (a missing one would throw a TypeError and pass for the wrong reason)', () => {
    for (const name of [
      'internalPanicProbe',
      'internalPanicProbeInBackground',
      'internalPanicProbeInArgument',
      'internalPanicProbeInResult',
      'InternalPanicProbe',
    ]) {
      expect(typeof binding[name]).toBe('function');
    }
  });

  test('in argument conversion', () => {
    const error = caught(() => binding.internalPanicProbeInArgument(1));
    expect(types.isNativeError(error)).toBe(true);
    expect(toE2EEError(error)).toMatchObject({ code: 'E2EE_INTERNAL', message: 'internal error' });
    stillWorks();
  });

  test('in a getter', () => {
    const probe = new binding.InternalPanicProbe();
    expect(toE2EEError(caught(() => probe.value))).toMatchObject({ code: 'E2EE_INTERNAL' });
    stillWorks();
  });

  test("in the conversion of a background task's result", async () => {
    await expect(binding.internalPanicProbeInResult()).rejects.toThrow(/^E2EE_INTERNAL: /);
    stillWorks();
  });
});

describe('finding 5: legacy CBC keys', () => {
  const legacyKey = () =>
    RoomKey.fromJwk(messageVectors.room_keys.R3_legacy.jwk, messageVectors.room_keys.R3_legacy.kid);

  test('finding 5: a legacy A128CBC key never writes, even labelled rc.v2.aes-sha2', () => {
    let error: unknown;
    try {
      e2ee.encryptContent(legacyKey(), { msg: 'x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(E2EEError);
    expect(error).toMatchObject({
      code: 'E2EE_UNSUPPORTED_ALGORITHM',
      message: 'unsupported algorithm: a legacy A128CBC room key only decrypts',
    });
    expect(() => e2ee.encryptContent(legacyKey(), '{"msg":"x"}')).toThrow('a legacy A128CBC room key only decrypts');
  });

  test('finding 5: CBC padding failures and payload failures give the same code and text', async () => {
    const { createCipheriv } = await import('node:crypto');
    const key = legacyKey();
    const raw = Buffer.from(messageVectors.room_keys.R3_legacy.jwk.k, 'base64url');
    const iv = Buffer.alloc(16, 7);
    const seal = (plaintext: Buffer, pad: boolean) => {
      const cipher = createCipheriv('aes-128-cbc', raw, iv).setAutoPadding(pad);
      return Buffer.concat([cipher.update(plaintext), cipher.final()]);
    };
    const bodies = {
      'broken padding': seal(Buffer.alloc(32), false),
      'payload not JSON': seal(Buffer.from('garbage that is no JSON at all'), true),
      'payload a JSON array': seal(Buffer.from('["not","an","object"]'), true),
      'payload a JSON string': seal(Buffer.from('"just a string"'), true),
    };
    const shapes = (ct: Buffer) => {
      const v1 = key.kid + Buffer.concat([iv, ct]).toString('base64');
      return {
        'v1 in msg': () => e2ee.decryptMessage(key, { t: 'e2e', msg: v1 }),
        'v1 in content': () => e2ee.decryptContent(key, { algorithm: 'rc.v1.aes-sha2', ciphertext: v1 }),
        'v2 label on the CBC key': () =>
          e2ee.decryptContent(key, {
            algorithm: 'rc.v2.aes-sha2',
            kid: key.kid,
            iv: iv.toString('base64'),
            ciphertext: ct.toString('base64'),
          }),
        'v2 label, whole message': () =>
          e2ee.decryptMessage(key, {
            t: 'e2e',
            content: {
              algorithm: 'rc.v2.aes-sha2',
              kid: key.kid,
              iv: iv.toString('base64'),
              ciphertext: ct.toString('base64'),
            },
          }),
      };
    };
    const seen = new Set<string>();
    for (const [what, ct] of Object.entries(bodies)) {
      for (const [shape, call] of Object.entries(shapes(ct))) {
        let error: unknown = `${what} / ${shape} decrypted`;
        try {
          call();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(E2EEError);
        seen.add(`${(error as E2EEError).code}: ${(error as E2EEError).message}`);
      }
      const [batch] = await e2ee.decryptContentBatch(key, [
        { algorithm: 'rc.v2.aes-sha2', kid: key.kid, iv: iv.toString('base64'), ciphertext: ct.toString('base64') },
      ]);
      expect(batch).toMatchObject({ code: 'E2EE_DECRYPT_FAILED' });
    }
    expect([...seen]).toEqual(['E2EE_DECRYPT_FAILED: decryption failed']);
    // A good legacy payload still opens.
    const good = seal(Buffer.from('{"msg":"legacy"}'), true);
    expect(
      e2ee.decryptContent(key, {
        algorithm: 'rc.v2.aes-sha2',
        kid: key.kid,
        iv: iv.toString('base64'),
        ciphertext: good.toString('base64'),
      }),
    ).toBe('{"msg":"legacy"}');
  });
});

describe('finding 5: PBKDF2 iteration cap', () => {
  const blob = (iterations: number) =>
    JSON.stringify({ iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA==', salt: 'v2:u:x', iterations });
  test('finding 5: a blob over 1,000,000 iterations is refused before any derivation', async () => {
    const started = Date.now();
    await expect(RsaPrivateKey.unwrapFromPassword(blob(1_000_001), 'p', 'u')).rejects.toMatchObject({
      code: 'E2EE_BAD_KEY',
      message: 'invalid key: private key blob has an unusable iteration count',
    });
    await expect(RsaPrivateKey.unwrapFromPassword(blob(10_000_000), 'p', 'u')).rejects.toMatchObject({
      code: 'E2EE_BAD_KEY',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });
  test('1,000,000 iterations is a valid format (it derives, then the password is wrong)', async () => {
    await expect(RsaPrivateKey.unwrapFromPassword(blob(1_000_000), 'p', 'u')).rejects.toMatchObject({
      code: 'E2EE_BAD_PASSWORD',
    });
  });
});
