/**
 * Round trips against a WebCrypto client written from the specification: what a browser member
 * produces, the addon reads, and the reverse.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';

import EJSON = require('ejson');

import {
  decryptContent,
  decryptContentBatch,
  decryptFile,
  decryptMessage,
  encryptContent,
  encryptFile,
  RoomKey,
  RsaPrivateKey,
  unwrapRoomKey,
  wrapRoomKey,
} from '../../native';
import * as client from './webcrypto-client';

/** Random text drawn from ASCII, the BMP (CJK, RTL, combining marks) and beyond (emoji). */
function randomText(length: number): string {
  const ranges: Array<[number, number]> = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x590, 0x6ff],
    [0x4e00, 0x9fff],
    [0x1f300, 0x1faff],
    [0x10000, 0x1000f],
  ];
  let out = '';
  while (out.length < length) {
    const [lo, hi] = ranges[Math.floor(Math.random() * ranges.length)];
    out += String.fromCodePoint(lo + Math.floor(Math.random() * (hi - lo + 1)));
  }
  return out;
}

/** Random bytes of any size (getRandomValues stops at 64 KiB). */
function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(nodeRandomBytes(size));
}

const PAYLOADS: Array<[string, object]> = [
  ['empty text', { msg: '' }],
  ['ascii', { msg: 'hello from a browser' }],
  ['non-BMP and RTL', { msg: '😀 𝄞 مرحبا 你好 ✓' }],
  ['json escapes', { msg: 'quote " backslash \\ newline \n tab \t nul \u0000 and \u2028' }],
  ['random 1 KiB', { msg: randomText(1024) }],
  ['64 KiB', { msg: 'x'.repeat(64 * 1024) }],
  [
    'attachments with a Date',
    { msg: 'see file', attachments: [{ title: 'a', ts: new Date(1735787045000), description: '📎' }] },
  ],
];

describe('browser → addon', () => {
  let room: client.ClientRoomKey;
  let roomKey: RoomKey;
  let app: RsaPrivateKey;

  beforeAll(async () => {
    app = await RsaPrivateKey.generate();
    room = await client.generateRoomKey();
    roomKey = await unwrapRoomKey(app, await client.wrapRoomKey(room, app.publicKey()));
  });

  test('a browser wraps the room key to the app key and the addon opens it under the kid', () => {
    expect(roomKey.kid).toBe(room.kid);
    expect(roomKey.algorithm).toBe('A256GCM');
  });

  test.each(PAYLOADS)('%s decrypts to the exact EJSON text', async (_name, payload) => {
    const content = await client.encryptPayload(room, payload);
    expect(decryptContent(roomKey, content)).toBe(EJSON.stringify(payload as never));
    expect(decryptMessage(roomKey, { t: 'e2e', content })).toEqual(EJSON.parse(EJSON.stringify(payload as never)));
  });

  test('a batch of browser messages decrypts, one bad item failing alone', async () => {
    const contents: unknown[] = await Promise.all(PAYLOADS.map(([, payload]) => client.encryptPayload(room, payload)));
    contents.push({
      algorithm: 'rc.v2.aes-sha2',
      kid: room.kid,
      iv: 'AAAAAAAAAAAAAAAA',
      ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA==',
    });
    contents.push(null);
    const results = await decryptContentBatch(roomKey, contents);
    PAYLOADS.forEach(([, payload], i) => expect(results[i]).toBe(EJSON.stringify(payload as never)));
    expect(results[PAYLOADS.length]).toMatchObject({ code: 'E2EE_DECRYPT_FAILED' });
    expect(results[PAYLOADS.length + 1]).toMatchObject({ code: 'E2EE_BAD_INPUT' });
  });

  test('a browser-made private key imports as JWK and its password blob opens with a latin1 password', async () => {
    const keys = await client.generateUserKeys();
    const password = 'Grüße aus Köln - pässwörd ß!';
    const blob = await client.wrapPrivateKey(keys.privateJwk, password, 'user1');
    const opened = await RsaPrivateKey.unwrapFromPassword(blob, password, 'user1');
    expect(JSON.parse(opened.publicKey()).n).toBe(JSON.parse(keys.publicKey).n);
    expect(RsaPrivateKey.fromJwk(keys.privateJwk).publicKey()).toBe(opened.publicKey());
  });

  test('a browser-encrypted file decrypts', async () => {
    const data = randomBytes(70_000);
    const sealed = await client.encryptFile(data);
    const plain = await decryptFile(sealed.key as Record<string, unknown>, sealed.iv, sealed.ciphertext);
    expect(Buffer.compare(plain, Buffer.from(data))).toBe(0);
  });
});

describe('addon → browser', () => {
  test('the addon wraps a room key to a browser member, who decrypts its messages', async () => {
    const member = await client.generateUserKeys();
    const roomKey = RoomKey.generate();
    const e2eKey = wrapRoomKey(roomKey, member.publicKey);
    expect(e2eKey.startsWith(roomKey.kid)).toBe(true);
    expect(e2eKey.length - roomKey.kid.length).toBe(344);
    const room = await client.unwrapRoomKey(e2eKey, member.privateKey);
    expect(room.kid).toBe(roomKey.kid);
    for (const [, payload] of PAYLOADS) {
      const content = encryptContent(roomKey, payload as Record<string, unknown>);
      expect(content).toMatchObject({ algorithm: 'rc.v2.aes-sha2', kid: roomKey.kid });
      expect(Buffer.from(content.iv, 'base64')).toHaveLength(12);
      expect(await client.decryptPayload(room, content)).toBe(EJSON.stringify(payload as never));
    }
  });

  test('a string payload is encrypted as given, byte for byte', async () => {
    const member = await client.generateUserKeys();
    const roomKey = RoomKey.generate();
    const room = await client.unwrapRoomKey(wrapRoomKey(roomKey, member.publicKey), member.privateKey);
    const exact = '{"msg":"order kept","attachments":[]}';
    expect(await client.decryptPayload(room, encryptContent(roomKey, exact))).toBe(exact);
  });

  test('a legacy CBC room key only decrypts: what a browser writes under it opens, encryptContent refuses it', async () => {
    const member = await client.generateUserKeys();
    const jwk = {
      kty: 'oct',
      alg: 'A128CBC',
      k: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url'),
      ext: true,
      key_ops: ['encrypt', 'decrypt'],
    };
    const roomKey = RoomKey.fromJwk(jwk, 'abcdef012345');
    const room = await client.unwrapRoomKey(wrapRoomKey(roomKey, member.publicKey), member.privateKey);
    // An old browser in a legacy room: AES-CBC with a 16-byte IV under the v2 label.
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-CBC', iv },
      room.key,
      new TextEncoder().encode('{"msg":"legacy room"}'),
    );
    const written = {
      algorithm: 'rc.v2.aes-sha2',
      kid: room.kid,
      iv: Buffer.from(iv).toString('base64'),
      ciphertext: Buffer.from(sealed).toString('base64'),
    };
    expect(decryptContent(roomKey, written)).toBe('{"msg":"legacy room"}');
    expect(() => encryptContent(roomKey, { msg: 'legacy room' })).toThrow(
      expect.objectContaining({ code: 'E2EE_UNSUPPORTED_ALGORITHM' }),
    );
  });

  test("the addon's password blob opens in the browser", async () => {
    const key = await RsaPrivateKey.generate();
    const password = 'ünïcode but latin1 ÿ';
    const blob = await key.wrapWithPassword(password, 'app-user');
    const jwk = await client.unwrapPrivateKey(blob, password, 'app-user');
    expect(jwk.n).toBe(JSON.parse(key.publicKey()).n);
    const imported = await client.importPrivateJwk(jwk);
    const room = await client.generateRoomKey();
    // The browser-opened private key reads what is wrapped to the addon key's public key.
    const opened = await client.unwrapRoomKey(await client.wrapRoomKey(room, key.publicKey()), imported);
    expect(opened.kid).toBe(room.kid);
  });

  test('an addon-encrypted file decrypts in the browser with its metadata', async () => {
    for (const size of [0, 1, 15, 16, 17, 1 << 20]) {
      const data = randomBytes(size);
      const sealed = await encryptFile(data);
      expect(sealed.key).toMatchObject({ kty: 'oct', alg: 'A256CTR' });
      expect(sealed.hash).toBe(Buffer.from(await crypto.subtle.digest('SHA-256', data)).toString('hex'));
      const plain = await client.decryptFile(sealed.key as JsonWebKey, sealed.iv, new Uint8Array(sealed.ciphertext));
      expect(Buffer.compare(Buffer.from(plain), Buffer.from(data))).toBe(0);
    }
  });
});
