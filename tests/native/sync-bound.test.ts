/**
 * Issue 10, "never more than 1 ms on the event loop": the synchronous calls take ciphertexts
 * and payloads up to 256 KiB and refuse larger ones with E2EE_TOO_LARGE naming the async call;
 * the async calls take any size up to the hard caps and give the same results and errors.
 */
import { randomBytes } from 'node:crypto';

import {
  decryptContent,
  decryptContentAsync,
  decryptFile,
  decryptMessage,
  decryptMessageAsync,
  E2EEError,
  encryptContent,
  encryptContentAsync,
  encryptFile,
  MAX_SYNC_CIPHERTEXT_CHARS,
  MAX_SYNC_PAYLOAD_BYTES,
  RoomKey,
  RoomKeyRing,
} from '../../native';
import { byId, messageVectors, type Json } from './fixtures';
import * as client from './webcrypto-client';

const roomKey = () => RoomKey.fromJwk(messageVectors.room_keys.R1.jwk, messageVectors.room_keys.R1.kid);

/** 'ok', or `code: message` of the E2EEError thrown or rejected with. */
async function outcome(body: () => unknown): Promise<string> {
  try {
    await body();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    return `${(error as E2EEError).code}: ${(error as E2EEError).message}`;
  }
}

describe('the synchronous bound', () => {
  const key = roomKey();
  // A payload of MAX_SYNC_PAYLOAD_BYTES seals to exactly MAX_SYNC_CIPHERTEXT_CHARS; one byte more
  // crosses the bound (the next base64 quantum).
  const underText = JSON.stringify({ msg: 'x'.repeat(MAX_SYNC_PAYLOAD_BYTES - 10) });
  const under = encryptContent(key, underText);
  const overText = JSON.stringify({ msg: 'x'.repeat(MAX_SYNC_PAYLOAD_BYTES + 1 - 10) });
  let over: Awaited<ReturnType<typeof encryptContentAsync>>;
  beforeAll(async () => {
    over = await encryptContentAsync(key, overText);
  });

  test('the constants: 256 KiB decoded, and what a sync encrypt writes a sync decrypt reads', () => {
    expect(MAX_SYNC_CIPHERTEXT_CHARS).toBe(349_528);
    expect((MAX_SYNC_CIPHERTEXT_CHARS / 4) * 3).toBe(256 * 1024 + 2);
    expect(under.ciphertext.length).toBe(MAX_SYNC_CIPHERTEXT_CHARS);
    expect(over.ciphertext.length).toBeGreaterThan(MAX_SYNC_CIPHERTEXT_CHARS);
  });

  const tooLarge = (call: string) => `E2EE_TOO_LARGE: input too large: ciphertext over 256 KiB: use ${call}`;
  const v1 = () => ({
    algorithm: 'rc.v1.aes-sha2',
    ciphertext: 'k'.repeat(12) + 'A'.repeat(MAX_SYNC_CIPHERTEXT_CHARS - 12 + 4),
  });
  const table: Array<[string, () => unknown, () => unknown, string]> = [
    [
      'decryptContent(key)',
      () => decryptContent(key, under),
      () => decryptContent(key, over),
      tooLarge('decryptContentAsync'),
    ],
    [
      'decryptContent(ring)',
      () => decryptContent(new RoomKeyRing([key]), under),
      () => decryptContent(new RoomKeyRing([key]), over),
      tooLarge('decryptContentAsync'),
    ],
    [
      'decryptContent(key[])',
      () => decryptContent([key], under),
      () => decryptContent([key], over),
      tooLarge('decryptContentAsync'),
    ],
    [
      'decryptContent of a v1 envelope',
      () => decryptContent(key, { ...v1(), ciphertext: v1().ciphertext.slice(0, MAX_SYNC_CIPHERTEXT_CHARS) }),
      () => decryptContent(key, v1()),
      tooLarge('decryptContentAsync'),
    ],
    [
      'decryptMessage(content)',
      () => decryptMessage(key, { t: 'e2e', content: under }),
      () => decryptMessage(key, { t: 'e2e', content: over }),
      tooLarge('decryptMessageAsync'),
    ],
    [
      'decryptMessage(ring, content)',
      () => decryptMessage(new RoomKeyRing([key]), { t: 'e2e', content: under }),
      () => decryptMessage(new RoomKeyRing([key]), { t: 'e2e', content: over }),
      tooLarge('decryptMessageAsync'),
    ],
    [
      'decryptMessage(pinned)',
      () => decryptMessage(key, { t: 'message_pinned_e2e', attachments: [{ content: under }] }),
      () => decryptMessage(key, { t: 'message_pinned_e2e', attachments: [{ content: over }] }),
      tooLarge('decryptMessageAsync'),
    ],
    [
      'decryptMessage(v1 in msg)',
      () => decryptMessage(key, { t: 'e2e', msg: v1().ciphertext.slice(0, MAX_SYNC_CIPHERTEXT_CHARS) }),
      () => decryptMessage(key, { t: 'e2e', msg: v1().ciphertext }),
      tooLarge('decryptMessageAsync'),
    ],
    [
      'encryptContent',
      () => encryptContent(key, underText),
      () => encryptContent(key, overText),
      'E2EE_TOO_LARGE: input too large: payload over 256 KiB: use encryptContentAsync',
    ],
  ];

  test.each(table)(
    '%s: just under the bound works, just over is refused',
    async (name, underCall, overCall, refused) => {
      const below = await outcome(underCall);
      // A v1 body of 'A's decrypts to garbage: past the bound check, it fails as a decryption.
      expect(below === 'ok' || below.startsWith('E2EE_DECRYPT_FAILED') || below.startsWith('E2EE_BAD_ENVELOPE')).toBe(
        true,
      );
      expect(await outcome(overCall)).toBe(refused);
    },
  );

  test('a non-ASCII payload is measured in UTF-8 bytes', async () => {
    const text = 'é'.repeat(Math.floor(MAX_SYNC_PAYLOAD_BYTES / 2) + 1);
    expect(await outcome(() => encryptContent(key, text))).toMatch(/^E2EE_TOO_LARGE: .*encryptContentAsync$/);
    expect(await decryptContentAsync(key, await encryptContentAsync(key, text))).toBe(text);
  });

  test('the async calls take what the sync calls refuse', async () => {
    expect(await decryptContentAsync(key, over)).toBe(overText);
    expect(await decryptContentAsync(new RoomKeyRing([key]), over)).toBe(overText);
    const payload = JSON.parse(overText);
    const sealed = await encryptContentAsync(key, payload);
    expect(await decryptMessageAsync(key, { t: 'e2e', content: sealed })).toEqual(payload);
  });
});

describe('the async calls', () => {
  test('golden vectors: the same plaintext as the sync calls', async () => {
    const r1 = roomKey();
    for (const [, vector] of byId(messageVectors.messages_v2) as Array<[string, Json]>) {
      const sync = decryptContent(r1, vector.encrypted_message.content);
      expect(await decryptContentAsync(r1, vector.encrypted_message.content)).toBe(sync);
      expect(await decryptMessageAsync(r1, vector.encrypted_message)).toEqual(
        decryptMessage(r1, vector.encrypted_message),
      );
    }
  });

  test('small payloads round-trip the same as the sync calls', async () => {
    const key = roomKey();
    for (const text of ['{}', '{"msg":"héllo 🌍"}', 'x'.repeat(70_000), '€'.repeat(30_000)]) {
      const sealed = await encryptContentAsync(key, text);
      expect(decryptContent(key, sealed)).toBe(text);
      expect(await decryptContentAsync(key, encryptContent(key, text))).toBe(text);
    }
  });

  test('8 MiB messages both ways against the WebCrypto client (ASCII and not)', async () => {
    const room = await client.generateRoomKey();
    const key = RoomKey.fromJwk(room.jwk, room.kid);
    const ascii = JSON.stringify({ msg: 'a'.repeat(8 * 1024 * 1024 - 10) });
    const unicode = JSON.stringify({ msg: 'ü€🌍'.repeat((8 * 1024 * 1024) / 9) });
    for (const text of [ascii, unicode]) {
      const fromClient = await client.encryptPayload(room, text);
      expect(await decryptContentAsync(key, fromClient)).toBe(text);
      expect((await decryptMessageAsync(key, { t: 'e2e', content: fromClient })).msg).toBe(JSON.parse(text).msg);
      const fromAddon = await encryptContentAsync(key, text);
      expect(await client.decryptPayload(room, fromAddon)).toBe(text);
    }
  }, 60_000);

  test('bad input: the same coded errors as the sync calls', async () => {
    const key = roomKey();
    const good = messageVectors.messages_v2[0].encrypted_message.content;
    const cases: Array<[() => unknown, () => unknown]> = [
      [
        () => decryptContent(key, { ...good, ciphertext: 'A' }),
        () => decryptContentAsync(key, { ...good, ciphertext: 'A' }),
      ],
      [() => decryptContent(key, { ...good, iv: 5 }), () => decryptContentAsync(key, { ...good, iv: 5 })],
      [() => decryptContent([], good), () => decryptContentAsync([], good)],
      [() => decryptContent(key, null), () => decryptContentAsync(key, null)],
      [() => decryptMessage(key, { msg: 'x' }), () => decryptMessageAsync(key, { msg: 'x' })],
      [
        () => decryptMessage(key, { t: 'e2e', msg: 'abcde' }),
        () => decryptMessageAsync(key, { t: 'e2e', msg: 'abcde' }),
      ],
      [() => encryptContent(key, [] as never), () => encryptContentAsync(key, [] as never)],
      [
        () => encryptContent(RoomKey.fromJwk(messageVectors.room_keys.R3_legacy.jwk, 'k'), { msg: 'x' }),
        () => encryptContentAsync(RoomKey.fromJwk(messageVectors.room_keys.R3_legacy.jwk, 'k'), { msg: 'x' }),
      ],
      [
        () => decryptContent(key, { ...good, ciphertext: 'A'.repeat(65 * 1024 * 1024) }),
        () => decryptContentAsync(key, { ...good, ciphertext: 'A'.repeat(65 * 1024 * 1024) }),
      ],
      [
        () => decryptContent(key, { ...good, ciphertext: 'é'.repeat(5000) }),
        () => decryptContentAsync(key, { ...good, ciphertext: 'é'.repeat(5000) }),
      ],
    ];
    for (const [sync, async] of cases) {
      const code = (await outcome(sync)).split(':')[0];
      expect(code).not.toBe('ok');
      expect((await outcome(async)).split(':')[0]).toBe(code);
    }
    // Large non-base64 ciphertexts take the long-string reader: still malformed, not truncated.
    const big = encryptContent(key, 'x'.repeat(100_000));
    for (const bad of ['é', 'Ł', '\ud800', '🌍']) {
      const ciphertext = big.ciphertext.slice(0, 50_000) + bad + big.ciphertext.slice(50_001);
      expect(await outcome(() => decryptContent(key, { ...big, ciphertext }))).toMatch(/^E2EE_BAD_ENVELOPE/);
      expect(await outcome(() => decryptContentAsync(key, { ...big, ciphertext }))).toMatch(/^E2EE_BAD_ENVELOPE/);
    }
  });
});

describe('large arguments cross a slice per event-loop turn', () => {
  const key = roomKey();
  const slice = 128 * 1024;

  test('a staged ciphertext decrypts to the same text, with a key or a ring', async () => {
    for (const length of [slice + 1, 3 * slice]) {
      const text = JSON.stringify({ msg: 'z'.repeat(length) });
      const sealed = await encryptContentAsync(key, text);
      expect(await decryptContentAsync(key, sealed)).toBe(text);
      expect(await decryptContentAsync([key], sealed)).toBe(text);
    }
  });

  test('a non-ASCII character anywhere, a slice boundary included, is malformed base64', async () => {
    const sealed = await encryptContentAsync(key, JSON.stringify({ msg: 'q'.repeat(2 * slice) }));
    for (const at of [0, slice - 1, slice, slice + 1, 2 * slice]) {
      for (const bad of ['é', 'Ł', '\ud800', '🌍']) {
        const ciphertext = sealed.ciphertext.slice(0, at) + bad + sealed.ciphertext.slice(at + 1);
        expect(await outcome(() => decryptContentAsync(key, { ...sealed, ciphertext }))).toMatch(/^E2EE_BAD_ENVELOPE/);
      }
    }
  });

  test('envelope errors are those of a small ciphertext', async () => {
    const small = encryptContent(key, '{"msg":"s"}');
    const large = await encryptContentAsync(key, JSON.stringify({ msg: 'l'.repeat(2 * slice) }));
    const changes: Array<Record<string, unknown>> = [
      { algorithm: 'rc.v9' },
      { algorithm: undefined },
      { iv: undefined },
      { iv: '' },
      { kid: '' },
      { iv: 'not base64!' },
    ];
    for (const change of changes) {
      const expected = (await outcome(() => decryptContentAsync(key, { ...small, ...change }))).split(':')[0];
      expect(expected).not.toBe('ok');
      expect((await outcome(() => decryptContentAsync(key, { ...large, ...change }))).split(':')[0]).toBe(expected);
    }
    const tampered = { ...large, ciphertext: `${large.ciphertext[0] === 'A' ? 'B' : 'A'}${large.ciphertext.slice(1)}` };
    expect(await outcome(() => decryptContentAsync(key, tampered))).toMatch(/^E2EE_DECRYPT_FAILED/);
  });

  test('decryptMessageAsync stages the envelope it reads: the same payloads and errors', async () => {
    const text = JSON.stringify({ msg: 'm'.repeat(2 * slice), attachments: [{ description: 'd'.repeat(slice) }] });
    const sealed = await encryptContentAsync(key, text);
    const payload = JSON.parse(text);
    expect(await decryptMessageAsync(key, { t: 'e2e', content: sealed })).toEqual(payload);
    expect(await decryptMessageAsync([key], { t: 'message_pinned_e2e', attachments: [{ content: sealed }] })).toEqual(
      payload,
    );
    // The envelope the message's type does not read stays unread, as before.
    const unread = { ...sealed, ciphertext: 'é'.repeat(2 * slice) };
    expect(await decryptMessageAsync(key, { t: 'e2e', content: sealed, attachments: [{ content: unread }] })).toEqual(
      payload,
    );
    const small = encryptContent(key, '{"msg":"s"}');
    const flipped = (c: { ciphertext: string }) => ({
      ciphertext: `${c.ciphertext[0] === 'A' ? 'B' : 'A'}${c.ciphertext.slice(1)}`,
    });
    const changes: Array<(c: typeof sealed) => Record<string, unknown>> = [
      () => ({ algorithm: 'rc.v9' }),
      () => ({ iv: undefined }),
      () => ({ kid: '' }),
      () => ({ iv: 'not base64!' }),
      flipped,
      (c) => ({ ciphertext: `é${c.ciphertext.slice(1)}` }),
      (c) => ({ ciphertext: c.ciphertext.slice(0, -4) }),
    ];
    for (const change of changes) {
      for (const t of ['e2e', 'message_pinned_e2e']) {
        const message = (c: typeof sealed) => {
          const content = { ...c, ...change(c) };
          return t === 'e2e' ? { t, content } : { t, attachments: [{ content }] };
        };
        const expected = (await outcome(() => decryptMessageAsync(key, message(small)))).split(':')[0];
        expect(expected).not.toBe('ok');
        expect((await outcome(() => decryptMessageAsync(key, message(sealed)))).split(':')[0]).toBe(expected);
      }
    }
    expect(
      await outcome(() => decryptMessageAsync(key, { t: 'e2e', content: { ...sealed, ...flipped(sealed) } })),
    ).toMatch(/^E2EE_DECRYPT_FAILED/);
  });

  test('a large file round-trips through its staged copy', async () => {
    for (const size of [slice - 1, slice, slice + 1, 3 * slice + 17]) {
      const data = randomBytes(size);
      const sealed = await encryptFile(data);
      expect((await decryptFile(sealed.key, sealed.iv, sealed.ciphertext)).equals(data)).toBe(true);
      const view = new Uint8Array(sealed.ciphertext.buffer, sealed.ciphertext.byteOffset, sealed.ciphertext.length);
      expect((await decryptFile(sealed.key, sealed.iv, view)).equals(data)).toBe(true);
    }
  });
});
