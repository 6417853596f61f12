/**
 * Issue 10 on the key store: a large message read through the async path (its ciphertext
 * handed over a slice per event-loop turn, its payload split on the worker so that long
 * strings are neither parsed nor copied on the main thread) gives exactly what the browser
 * encrypted, as `parsePayload` of the whole text would, and the same typed errors as a small
 * message. A page of history with a large total input crosses in pieces, with the same results.
 */
import { AppKeyStore, decryptMessageAsync, E2EEError, parsePayload, RoomKey } from '../../native';
import * as client from '../native/webcrypto-client';
import { Backend, fileBackend, newKek } from './backends';

const BOT_APP = '7c1f5a2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b';
const SLICE = 128 * 1024;

/** 'ok' or the code of the E2EEError the promise rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    return (error as E2EEError).code;
  }
}

/** `actual` is `expected` member for member, strings exactly, prototypes too. */
function expectSamePayload(actual: unknown, expected: unknown): void {
  expect(actual).toStrictEqual(expected);
  expect(Object.getPrototypeOf(actual)).toStrictEqual(Object.getPrototypeOf(expected));
}

describe('large messages through the key store', () => {
  let backend: Backend;
  let store: AppKeyStore;
  let room: client.ClientRoomKey;
  let key: RoomKey;

  beforeAll(async () => {
    backend = fileBackend();
    store = await AppKeyStore.open({ ...backend.location(), kek: newKek() });
    const publicKey = await store.ensureIdentity(BOT_APP, 'bot-user');
    await store.authorize(BOT_APP, 'room1', 'admin');
    room = await client.generateRoomKey();
    key = RoomKey.fromJwk(room.jwk, room.kid);
    const proof = await client.encryptPayload(room, { msg: 'hello' });
    await store.acceptRoomKey(BOT_APP, 'room1', await client.wrapRoomKey(room, publicKey), {
      expectedKid: room.kid,
      suggestedBy: 'alice',
      proofs: [{ senderId: 'bob', content: proof }],
    });
  });

  afterAll(async () => {
    await store.close();
    await backend.cleanup();
  });

  const long = (c: string) => c.repeat(3 * SLICE);
  // Payload texts of every shape the split on the worker must get right or leave alone.
  const texts: Array<[string, string]> = [
    ['ASCII, 1 MiB', JSON.stringify({ msg: 'a'.repeat(1024 * 1024) })],
    ['8 MiB', JSON.stringify({ msg: 'b'.repeat(8 * 1024 * 1024) })],
    [
      'escapes, non-ASCII, several long members',
      JSON.stringify({
        msg: 'ü€🌍\n"\\/\t'.repeat(SLICE / 2),
        attachments: [{ description: long('d'), title: 'short', size: 1.5e3 }],
        flag: true,
        none: null,
      }),
    ],
    ['a lone surrogate escape', `{"msg":"${long('s')}\\ud800\\udc00\\ud800!"}`],
    ['\\u escapes in the long text only', `{"msg":"${long('u')}\\u0024\\u005f"}`],
    ['an EJSON date beside the text', JSON.stringify({ msg: long('e'), ts: { $date: 1700000000000 } })],
    ['a long EJSON binary beside the text', JSON.stringify({ msg: long('v'), data: { $binary: 'QUJD'.repeat(100) } })],
    ['a __proto__ key', `{"__proto__":{"polluted":1},"msg":"${long('p')}"}`],
    ['a look-alike placeholder', `{"msg":"rc-e2ee-part:0","other":"${long('l')}"}`],
    ['a long key', `{"${long('k')}":1,"msg":"m"}`],
    ['the oldest clients: text, not msg', JSON.stringify({ text: long('t'), _id: 'i', userId: 'u' })],
    ['a long skeleton', JSON.stringify({ msg: long('n'), list: Array.from({ length: 2000 }, (_, i) => i) })],
    ['unicode only', JSON.stringify({ msg: 'ü€🌍'.repeat((2 * 1024 * 1024) / 9) })],
  ];

  test.each(texts)(
    '%s: exactly what parsePayload makes of the text',
    async (_name, text) => {
      const content = await client.encryptPayload(room, text);
      expect(content.ciphertext.length).toBeGreaterThan(SLICE);
      const expected = parsePayload(text);
      expectSamePayload(await store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content }), expected);
      expectSamePayload(
        await store.decryptMessage(BOT_APP, 'room1', { t: 'message_pinned_e2e', attachments: [{ content }] }),
        expected,
      );
      // The codec's async read takes the same way.
      expectSamePayload(await decryptMessageAsync(key, { t: 'e2e', content }), expected);
    },
    60_000,
  );

  test('payloads that are not objects or not JSON: E2EE_BAD_PAYLOAD, as a small one', async () => {
    for (const text of [
      `"${long('q')}"`,
      `["${long('r')}"]`,
      `{"msg":"${long('c')}\u0001"}`,
      `{"msg":"${long('x')}\\x"}`,
      `{"msg" "${long('y')}"}`,
      `{"msg":"${long('z')}"`,
    ]) {
      const content = await client.encryptPayload(room, text);
      expect(await codeOf(store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content }))).toBe('E2EE_BAD_PAYLOAD');
      expect(await codeOf(decryptMessageAsync(key, { t: 'e2e', content }))).toBe('E2EE_BAD_PAYLOAD');
    }
  });

  test('tampering and bad envelopes: the codes of a small message', async () => {
    const small = await client.encryptPayload(room, { msg: 's' });
    const large = await client.encryptPayload(room, { msg: long('l') });
    const flip = (text: string, at: number) =>
      `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    const changes: Array<[string, (content: typeof large) => Record<string, unknown>]> = [
      ['a changed first character', (c) => ({ ...c, ciphertext: flip(c.ciphertext, 0) })],
      ['a changed tag', (c) => ({ ...c, ciphertext: flip(c.ciphertext, c.ciphertext.length - 3) })],
      ['another label', (c) => ({ ...c, algorithm: 'rc.v9' })],
      ['no iv', (c) => ({ ...c, iv: undefined })],
      ['an empty iv', (c) => ({ ...c, iv: '' })],
      ['an iv that is not base64', (c) => ({ ...c, iv: 'not base64!' })],
      ['no kid', (c) => ({ ...c, kid: undefined })],
      ['a ciphertext that is not a string', (c) => ({ ...c, ciphertext: 5 })],
      ['a ciphertext a quantum short', (c) => ({ ...c, ciphertext: c.ciphertext.slice(0, -4) })],
    ];
    for (const [name, change] of changes) {
      const expected = await codeOf(store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content: change(small) }));
      expect([name, expected]).not.toEqual([name, 'ok']);
      const got = await codeOf(store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content: change(large) }));
      expect([name, got]).toEqual([name, expected]);
    }
    // The changed first character is an authentication failure, not a format error.
    expect(await codeOf(store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content: changes[0][1](large) }))).toBe(
      'E2EE_DECRYPT_FAILED',
    );
  });

  test('a non-ASCII character anywhere in a staged ciphertext is malformed base64', async () => {
    const large = await client.encryptPayload(room, { msg: long('q') });
    for (const at of [0, SLICE - 1, SLICE, SLICE + 1, large.ciphertext.length - 1]) {
      for (const bad of ['é', 'Ł', '\ud800', '🌍']) {
        const ciphertext = large.ciphertext.slice(0, at) + bad + large.ciphertext.slice(at + 1);
        const message = { t: 'e2e', content: { ...large, ciphertext } };
        expect(await codeOf(store.decryptMessage(BOT_APP, 'room1', message))).toBe('E2EE_BAD_ENVELOPE');
      }
    }
  });

  test('oversized and non-ASCII ciphertexts: the typed errors of before', async () => {
    const good = await client.encryptPayload(room, { msg: 'g' });
    const cases: Array<[string, unknown]> = [
      ['over the 64 MiB cap', 'A'.repeat(65 * 1024 * 1024)],
      ['all non-ASCII, large', 'é'.repeat(3 * SLICE)],
      ['all non-ASCII, small', 'é'.repeat(5000)],
      ['an object', { length: 3 * SLICE }],
    ];
    const codes: Record<string, string> = {};
    for (const [name, ciphertext] of cases) {
      codes[name] = await codeOf(
        store.decryptMessage(BOT_APP, 'room1', { t: 'e2e', content: { ...good, ciphertext } }),
      );
    }
    expect(codes).toEqual({
      'over the 64 MiB cap': 'E2EE_TOO_LARGE',
      'all non-ASCII, large': 'E2EE_BAD_ENVELOPE',
      'all non-ASCII, small': 'E2EE_BAD_ENVELOPE',
      'an object': 'E2EE_BAD_ENVELOPE',
    });
  });

  test('a page with a large total input crosses in pieces, each result in its place', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => JSON.stringify({ msg: `${i}:${'m'.repeat(40_000 + i)}` }));
    const contents: Array<Record<string, unknown>> = await Promise.all(
      texts.map((text) => client.encryptPayload(room, text)),
    );
    // One tampered, one not an object, one huge: each fails or reads alone.
    const tampered = contents[17] as { ciphertext: string };
    // Its first character changed, whatever it was (a fixed 'B' left one ciphertext in 64 intact).
    const first = tampered.ciphertext.startsWith('B') ? 'C' : 'B';
    contents[17] = { ...tampered, ciphertext: `${first}${tampered.ciphertext.slice(1)}` };
    const messages: unknown[] = contents.map((content) => ({ t: 'e2e', content }));
    messages[23] = 'not a message';
    const hugeText = JSON.stringify({ msg: long('h') });
    messages[31] = { t: 'e2e', content: await client.encryptPayload(room, hugeText) };
    const results = await store.decryptMessages(BOT_APP, 'room1', messages);
    expect(results).toHaveLength(40);
    results.forEach((result, i) => {
      if (i === 17) expect(result).toMatchObject({ code: 'E2EE_DECRYPT_FAILED' });
      else if (i === 23) expect(result).toMatchObject({ code: 'KEYSTORE_BAD_INPUT' });
      else if (i === 31) expect(result).toStrictEqual(parsePayload(hugeText));
      else expect(result).toStrictEqual(parsePayload(texts[i]));
    });
  }, 60_000);

  test('a page of many small messages crosses in pieces of at most 256, in order', async () => {
    const texts = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ msg: `small ${i}` }));
    const contents = await Promise.all(texts.map((text) => client.encryptPayload(room, text)));
    const messages = contents.map((content, i) =>
      i === 600
        ? {
            t: 'e2e',
            content: {
              ...content,
              ciphertext: `${content.ciphertext[0] === 'A' ? 'B' : 'A'}${content.ciphertext.slice(1)}`,
            },
          }
        : { t: 'e2e', content },
    );
    const results = await store.decryptMessages(BOT_APP, 'room1', messages);
    results.forEach((result, i) => {
      if (i === 600) expect(result).toMatchObject({ code: 'E2EE_DECRYPT_FAILED' });
      else expect(result).toStrictEqual({ msg: `small ${i}` });
    });
    // A refused page rejects whole, large or not.
    expect(await codeOf(store.decryptMessages(BOT_APP, 'room2', messages))).toBe('KEYSTORE_NOT_AUTHORIZED');
    expect(await codeOf(store.decryptMessages(BOT_APP, 'room2', []))).toBe('KEYSTORE_NOT_AUTHORIZED');
  }, 60_000);
});
