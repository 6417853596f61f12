// Argument validation of the E2EE bridge (overlay e2ee/bridgeGuard.ts); who the caller is: bridgeCaller.test.ts.
import {
  APP_ID_PLACEHOLDER,
  E2EEArgumentError,
  MAX_BATCH_MESSAGES,
  MAX_PAYLOAD_BYTES,
  assertAppId,
  assertEncryptedContent,
  assertOptionalKeyId,
  assertPayload,
  assertRoomId,
  parseMessagesToDecrypt,
  parseMessageToDecrypt,
  parseSendOptions,
} from '../../apps-engine-patches/overlay/packages/apps/src/server/e2ee/bridgeGuard';

const HOST = '6f1d3c52-5a8e-4b7e-9a49-2f0b8f0c1e2d';
const OTHER = '11111111-2222-3333-4444-555555555555';

describe('app ids', () => {
  it('must be real app ids, never the placeholder', () => {
    expect(assertAppId(HOST)).toBe(HOST);
    for (const bad of [APP_ID_PLACEHOLDER, '', 'a b', 'x'.repeat(65), { $ne: null }, 42, null]) {
      expect(() => assertAppId(bad)).toThrow(E2EEArgumentError);
    }
  });

  it('errors carry a stable code and no argument values', () => {
    try {
      assertAppId(`${OTHER}$`);
      throw new Error('not thrown');
    } catch (error) {
      expect((error as E2EEArgumentError).code).toBe('E2EE_BAD_ARGUMENT');
      expect((error as Error).message).not.toContain(OTHER);
    }
  });
});

describe('argument validation', () => {
  it('room ids are plain ids, never operators', () => {
    expect(assertRoomId('GENERAL')).toBe('GENERAL');
    expect(assertRoomId('uid1uid2uid3uid4uid5uid6uid7uid8u')).toBeTruthy();
    for (const bad of ['', { $gt: '' }, 'a.b', 'a$b', 'x'.repeat(129), 42, null]) {
      expect(() => assertRoomId(bad)).toThrow(E2EEArgumentError);
    }
  });

  it('key ids are optional', () => {
    expect(assertOptionalKeyId(undefined)).toBeUndefined();
    expect(assertOptionalKeyId(null)).toBeUndefined();
    expect(assertOptionalKeyId('a1b2c3d4e5f6')).toBe('a1b2c3d4e5f6');
    expect(() => assertOptionalKeyId({ $ne: 1 })).toThrow(E2EEArgumentError);
  });

  it('envelopes are checked field by field', () => {
    const good = { algorithm: 'rc.v2.aes-sha2', kid: 'a1b2c3d4e5f6', iv: 'AAAA', ciphertext: 'YWJj' };
    expect(assertEncryptedContent(good)).toEqual(good);
    for (const bad of [
      { ...good, iv: 'not base64!' },
      { ...good, kid: undefined },
      { ...good, algorithm: 'RC V2' },
      'x',
    ]) {
      expect(() => assertEncryptedContent(bad)).toThrow(E2EEArgumentError);
    }
  });

  it('a message to decrypt names its room and its id or envelope', () => {
    expect(parseMessageToDecrypt({ id: 'M1', room: { id: 'R1' } })).toEqual({ roomId: 'R1', messageId: 'M1' });
    const content = { algorithm: 'rc.v2.aes-sha2', kid: 'k1', iv: 'AAAA', ciphertext: 'YWJj' };
    expect(parseMessageToDecrypt({ room: { id: 'R1' }, encryptedContent: content })).toEqual({ roomId: 'R1', content });
    for (const bad of [{ room: { id: 'R1' } }, { id: 'M1' }, { id: { $ne: 1 }, room: { id: 'R1' } }, null]) {
      expect(() => parseMessageToDecrypt(bad)).toThrow(E2EEArgumentError);
    }
  });

  it('payloads are JSON objects under the size limit', () => {
    expect(assertPayload({ msg: 'hello' })).toEqual({ msg: 'hello' });
    expect(() => assertPayload({ msg: 3 })).toThrow(E2EEArgumentError);
    expect(() => assertPayload('hello')).toThrow(E2EEArgumentError);
    expect(() => assertPayload({ msg: 'x'.repeat(MAX_PAYLOAD_BYTES) })).toThrow(E2EEArgumentError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => assertPayload(cyclic)).toThrow(E2EEArgumentError);
  });

  it('send options allow only a thread id', () => {
    expect(parseSendOptions(undefined)).toEqual({});
    expect(parseSendOptions({ threadId: 'T1' })).toEqual({ threadId: 'T1' });
    expect(() => parseSendOptions({ threadId: 'T1', alias: 'someone' })).toThrow(E2EEArgumentError);
    expect(() => parseSendOptions({ threadId: 7 })).toThrow(E2EEArgumentError);
  });
});

describe('a page of messages to decrypt', () => {
  const envelope = { algorithm: 'rc.v2.aes-sha2', kid: 'k1', iv: 'aXY=', ciphertext: 'Y3Q=' };
  const message = (fields: Record<string, unknown>) => ({ room: { id: 'ROOM1' }, ...fields });

  it('is an array of at most MAX_BATCH_MESSAGES, else the whole call is refused', () => {
    for (const bad of [undefined, null, 'messages', { length: 1, 0: message({ encryptedContent: envelope }) }]) {
      expect(() => parseMessagesToDecrypt('ROOM1', bad)).toThrow(E2EEArgumentError);
    }
    const full = Array.from({ length: MAX_BATCH_MESSAGES }, () => message({ encryptedContent: envelope }));
    expect(parseMessagesToDecrypt('ROOM1', full)).toHaveLength(MAX_BATCH_MESSAGES);
    expect(() => parseMessagesToDecrypt('ROOM1', [...full, full[0]])).toThrow(E2EEArgumentError);
    // A sparse array's length is checked before any element is read.
    expect(() => parseMessagesToDecrypt('ROOM1', new Array(2 ** 32 - 1))).toThrow(E2EEArgumentError);
  });

  it('a message that is not one of the room encrypted messages fails alone', () => {
    const throwing = message({});
    Object.defineProperty(throwing, 'encryptedContent', {
      get() {
        throw new Error('a getter the app planted');
      },
    });
    const page = [
      message({ encryptedContent: envelope }),
      { room: { id: 'ROOM2' }, encryptedContent: envelope },
      message({}),
      message({ encryptedContent: { ...envelope, kid: { $ne: '' } } }),
      message({ encryptedContent: { ...envelope, ciphertext: 'not base64!' } }),
      null,
      throwing,
      new Proxy(
        {},
        {
          get() {
            throw new Error('a trap');
          },
        },
      ),
      { encryptedContent: envelope },
    ];
    const parsed = parseMessagesToDecrypt('ROOM1', page);
    expect(parsed.map((entry) => (entry instanceof E2EEArgumentError ? entry.code : entry))).toEqual([
      envelope,
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      'E2EE_BAD_ARGUMENT',
      envelope,
    ]);
    for (const entry of parsed) {
      if (entry instanceof E2EEArgumentError) expect(entry.message).not.toMatch(/planted|trap|ROOM2|\$ne/);
    }
  });
});
