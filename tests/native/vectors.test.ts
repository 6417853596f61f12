/**
 * The addon against the golden vectors made by Rocket.Chat's real client: every positive
 * vector byte-exactly, every negative one rejected with a stable code or decrypted where the
 * client safely falls back.
 */
import {
  decryptContent,
  decryptFile,
  decryptMessage,
  E2EEError,
  RoomKey,
  RoomKeyRing,
  RsaPrivateKey,
  unwrapRoomKey,
} from '../../native';

import EJSON = require('ejson');
import { byId, Json, keysVectors, messageVectors, user } from './fixtures';

const alice = () =>
  RsaPrivateKey.unwrapFromPassword(user('alice').private_key_blob, user('alice').passphrase, user('alice').userId);
const bob = () =>
  RsaPrivateKey.unwrapFromPassword(user('bob').private_key_blob, user('bob').passphrase, user('bob').userId);
const roomKey = (name: string) =>
  RoomKey.fromJwk(messageVectors.room_keys[name].jwk, messageVectors.room_keys[name].kid);

async function rejection(promise: Promise<unknown>): Promise<E2EEError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    return error as E2EEError;
  }
  throw new Error('expected a rejection');
}

function thrown(body: () => unknown): E2EEError {
  try {
    body();
  } catch (error) {
    expect(error).toBeInstanceOf(E2EEError);
    return error as E2EEError;
  }
  throw new Error('expected an error');
}

describe('user keys', () => {
  test.each(['alice', 'bob'] as const)('%s: the v2 blob unwraps to the published public key', async (role) => {
    const key = await RsaPrivateKey.unwrapFromPassword(
      user(role).private_key_blob,
      user(role).passphrase,
      user(role).userId,
    );
    expect(JSON.parse(key.publicKey())).toMatchObject({
      n: user(role).public_jwk.n,
      e: 'AQAB',
      kty: 'RSA',
      alg: 'RSA-OAEP-256',
    });
    expect(key.publicKey()).toBe(RsaPrivateKey.fromJwk(user(role).private_key_plain).publicKey());
  });

  test('the legacy v1 blob unwraps to the same key as its plaintext', async () => {
    const legacy = keysVectors.legacy_private_key_v1;
    const key = await RsaPrivateKey.unwrapFromPassword(legacy.private_key_blob, legacy.passphrase, legacy.userId);
    expect(key.publicKey()).toBe(RsaPrivateKey.fromJwk(legacy.private_key_plain).publicKey());
  });

  test.each(['keychain_spec_pwdv1web', 'keychain_spec_pwdv2web'])('upstream fixture %s unwraps', async (name) => {
    const fixture = keysVectors.upstream_fixtures[name];
    const key = await RsaPrivateKey.unwrapFromPassword(fixture.persisted, fixture.passphrase, fixture.userId);
    expect(JSON.parse(key.publicKey()).n).toBe(JSON.parse(fixture.public_key).n);
  });
});

describe('room keys', () => {
  test('every E2EKey opens to its kid and key', async () => {
    const [a, b] = [await alice(), await bob()];
    const rooms = keysVectors.rooms;
    const cases: Array<[RsaPrivateKey, string, string]> = [
      [a, rooms.R1.E2EKey_alice, rooms.R1.kid],
      [b, rooms.R1.E2ESuggestedKey_bob, rooms.R1.kid],
      [a, rooms.R2_rotation.keyA.alice_E2EKey, rooms.R2_rotation.keyA.kid],
      [a, rooms.R2_rotation.keyB.alice_E2EKey, rooms.R2_rotation.keyB.kid],
      [b, rooms.R2_rotation.bob_subscription_used.E2EKey, rooms.R2_rotation.keyB.kid],
      ...rooms.R2_rotation.bob_subscription_used.oldRoomKeys.map((old: Json) => [b, old.E2EKey, old.e2eKeyId]),
      [b, rooms.R3_legacy.E2EKey_bob, rooms.R3_legacy.kid],
    ];
    for (const [member, e2eKey, kid] of cases) {
      const key = await unwrapRoomKey(member, e2eKey);
      expect(key.kid).toBe(kid);
    }
    expect((await unwrapRoomKey(b, rooms.R3_legacy.E2EKey_bob)).algorithm).toBe('A128CBC');
  });

  test("unwrapped room keys decrypt their room's messages", async () => {
    const r1 = await unwrapRoomKey(await bob(), keysVectors.rooms.R1.E2ESuggestedKey_bob);
    for (const vector of messageVectors.messages_v2) {
      expect(decryptContent(r1, vector.encrypted_message.content)).toBe(vector.plaintext_payload_ejson);
    }
    const r3 = await unwrapRoomKey(await bob(), keysVectors.rooms.R3_legacy.E2EKey_bob);
    for (const vector of messageVectors.messages_v1_legacy) {
      expect(decryptMessage(r3, vector.wire_message)).toEqual(
        expect.objectContaining({ msg: vector.input_message.msg }),
      );
    }
  });
});

describe('messages', () => {
  test.each(byId(messageVectors.messages_v2))('%s decrypts byte-exactly', (_id, vector: Json) => {
    const r1 = roomKey('R1');
    expect(decryptContent(r1, vector.encrypted_message.content)).toBe(vector.plaintext_payload_ejson);
    const payload = decryptMessage(r1, vector.encrypted_message);
    expect(payload.msg).toBe(vector.input_message.msg);
  });

  test('an attachment Date comes back as a Date', () => {
    const vector = messageVectors.messages_v2.find((v: Json) => v.id === 'v2-attachments');
    const payload = decryptMessage(roomKey('R1'), vector.encrypted_message);
    expect(JSON.stringify(payload)).toContain('"ts":"');
    const text = decryptContent(roomKey('R1'), vector.encrypted_message.content);
    expect(text).toContain('{"$date":');
  });

  test('rotation: old messages decrypt through the old key named by kid', () => {
    const ring = new RoomKeyRing([roomKey('R2_keyB_current'), roomKey('R2_keyA_old')]);
    for (const vector of messageVectors.rotation.messages) {
      expect(decryptMessage(ring, vector.encrypted_message).msg).toBe(vector.input_message.msg);
      expect(decryptMessage([roomKey('R2_keyB_current'), roomKey('R2_keyA_old')], vector.encrypted_message).msg).toBe(
        vector.input_message.msg,
      );
    }
  });

  test('a v2 label on a legacy CBC key decrypts as CBC', () => {
    for (const vector of messageVectors.messages_v2_on_legacy_cbc_key) {
      expect(decryptContent(roomKey('R3_legacy'), vector.encrypted_message.content)).toBe(
        vector.plaintext_payload_ejson,
      );
    }
  });

  test.each(byId(messageVectors.messages_v1_legacy))('legacy %s decrypts', (_id, vector: Json) => {
    const payload = decryptMessage(roomKey('R3_legacy'), vector.wire_message);
    // The oldest payload `{_id, text, userId, ts}` reads as `msg`, as in the web client.
    const { text, ...rest } = EJSONparse(vector.aux_plaintext_payload) as Record<string, unknown>;
    expect(payload).toEqual(text === undefined ? rest : { ...rest, msg: text });
    if (vector.wire_message.content) {
      expect(decryptContent(roomKey('R3_legacy'), vector.wire_message.content)).toBe(vector.aux_plaintext_payload);
    }
  });

  test('upstream content fixtures decrypt', () => {
    const v1 = keysVectors.upstream_fixtures.content_spec_v1;
    const key = RoomKey.fromJwk(v1.room_key_jwk, '32c9e7917b78');
    expect(decryptContent(key, v1.msgv1web_content)).toBe(v1.msgv1web_expected_plaintext);
    expect(decryptMessage(key, { t: 'e2e', msg: v1.msgv1mob_msg }).msg).toBe('world');
    const v2 = keysVectors.upstream_fixtures.content_spec_v2;
    expect(decryptContent(RoomKey.fromJwk(v2.room_key_jwk, v2.msgv2web_content.kid), v2.msgv2web_content)).toBe(
      v2.msgv2web_expected_plaintext,
    );
  });

  test('the pinned system message decrypts its attachment', () => {
    expect(decryptMessage(roomKey('R1'), messageVectors.pinned.message).msg).toBe(
      messageVectors.pinned.decrypted_attachment_text,
    );
  });
});

describe('files', () => {
  test.each(byId(messageVectors.files))('%s and its metadata decrypt', async (_id, vector: Json) => {
    const result = vector.encryptFile_result;
    const plain = await decryptFile(result.key, result.iv, Buffer.from(vector.ciphertext_b64, 'base64'));
    expect(plain.toString('base64')).toBe(vector.plaintext_b64);
    expect(JSON.parse(decryptContent(roomKey('R1'), vector.upload_metadata_content))).toEqual(
      vector.upload_metadata_plain,
    );
    expect(decryptContent(roomKey('R1'), vector.message_wire.content)).toBe(vector.message_content_plaintext_ejson);
  });
});

/** Our outcome for each negative vector: decrypted text where the client safely falls back, else a code. */
const NEGATIVE_OUTCOMES: Record<string, { text: string } | { code: string }> = {
  'neg-tampered-ciphertext': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-tampered-tag': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-tampered-iv': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-unknown-kid': { text: 'Hello, Rocket.Chat E2EE!' },
  'neg-kid-of-old-key': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-kid-of-current-key-old-ct': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-truncated-iv-8': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-empty-iv': { code: 'E2EE_BAD_ENVELOPE' },
  'neg-empty-kid': { code: 'E2EE_BAD_ENVELOPE' },
  'neg-base64-invalid-char': { code: 'E2EE_BAD_ENVELOPE' },
  'neg-base64-misplaced-padding': { code: 'E2EE_BAD_ENVELOPE' },
  'neg-base64url-alphabet': { code: 'E2EE_BAD_ENVELOPE' },
  'neg-truncated-ciphertext': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-unknown-algorithm-message': { code: 'E2EE_UNSUPPORTED_ALGORITHM' },
  'neg-unknown-algorithm-decode': { code: 'E2EE_UNSUPPORTED_ALGORITHM' },
  'neg-megolm-algorithm-decode': { code: 'E2EE_UNSUPPORTED_ALGORITHM' },
  'neg-plaintext-not-object': { code: 'E2EE_BAD_PAYLOAD' },
  // `e2e: 'done'` is a client-side marker; the server's copy of a message still holds only
  // ciphertext, so the content is decrypted rather than trusted as already plain.
  'neg-already-done': { text: 'Hello, Rocket.Chat E2EE!' },
  'neg-e2ekey-too-short': { code: 'E2EE_BAD_KEY' },
  'neg-e2ekey-corrupt-rsa': { code: 'E2EE_DECRYPT_FAILED' },
  'neg-privkey-wrong-passphrase': { code: 'E2EE_BAD_PASSWORD' },
  'neg-privkey-v1-wrong-userid': { code: 'E2EE_BAD_PASSWORD' },
  'neg-privkey-malformed': { code: 'E2EE_BAD_KEY' },
  'neg-passphrase-non-latin1': { code: 'E2EE_BAD_PASSWORD' },
};

describe('negative vectors', () => {
  test('every negative vector has an expected outcome', () => {
    expect(messageVectors.negative.map((n: Json) => n.id).sort()).toEqual(Object.keys(NEGATIVE_OUTCOMES).sort());
  });

  test.each(byId(messageVectors.negative))('%s', async (id, vector: Json) => {
    const expected = NEGATIVE_OUTCOMES[id];
    const inputs = vector.inputs;
    const ring =
      inputs.message?.rid === 'pubR2rotAt3Nn8Vy4'
        ? [roomKey('R2_keyB_current'), roomKey('R2_keyA_old')]
        : [roomKey('R1')];
    const run = async (): Promise<string> => {
      switch (vector.kind) {
        case 'message':
          return decryptMessage(ring, inputs.message).msg as string;
        case 'decode':
          return decryptContent(ring, inputs.payload);
        case 'decrypt':
          return String(decryptMessage(ring, { t: 'e2e', content: inputs.payload }).msg);
        case 'importGroupKey':
          return (await unwrapRoomKey(await bob(), inputs.key)).kid;
        case 'decryptKey':
          return (await RsaPrivateKey.unwrapFromPassword(inputs.blob, inputs.passphrase, inputs.userId)).publicKey();
        case 'encryptKey':
          return (await RsaPrivateKey.generate()).wrapWithPassword(inputs.passphrase, inputs.userId);
        default:
          throw new Error(`unknown kind ${vector.kind}`);
      }
    };
    if ('text' in expected) {
      await expect(run()).resolves.toBe(expected.text);
    } else {
      expect((await rejection(run())).code).toBe(expected.code);
    }
  });
});

const EJSONparse = (text: string): unknown => EJSON.parse(text);

export { thrown };
