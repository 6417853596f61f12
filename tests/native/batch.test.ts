/**
 * The batch path packs its input differently from the single-message path; it must give the
 * same answer for every item, in order, across chunk boundaries.
 */
import { decryptContent, decryptContentBatch, E2EEError, encryptContent, RoomKey, RoomKeyRing } from '../../native';
import { messageVectors } from './fixtures';

const key = (name: string) => RoomKey.fromJwk(messageVectors.room_keys[name].jwk, messageVectors.room_keys[name].kid);

function single(keys: RoomKeyRing, content: unknown): string | E2EEError {
  try {
    return decryptContent(keys, content);
  } catch (error) {
    return error as E2EEError;
  }
}

test('a mixed batch of 1100 items matches the single-message path item by item', async () => {
  const ring = new RoomKeyRing([key('R2_keyB_current'), key('R2_keyA_old')]);
  const legacy = new RoomKeyRing([key('R3_legacy')]);
  const rotation = messageVectors.rotation.messages.map(
    (m: { encrypted_message: { content: unknown } }) => m.encrypted_message.content,
  );
  const good = encryptContent(key('R2_keyB_current'), { msg: 'ok' });
  const variants: unknown[] = [
    ...rotation,
    good,
    { ...good, kid: 'unknown-kid' },
    { ...good, kid: messageVectors.room_keys.R2_keyA_old.kid },
    { ...good, iv: '' },
    { ...good, iv: undefined },
    { ...good, iv: 7 },
    { ...good, kid: null },
    { ...good, ciphertext: good.ciphertext.replace(/^./, '!') },
    { ...good, ciphertext: `${good.ciphertext.slice(0, -3)}é==` },
    { ...good, algorithm: 'rc.v3.aes-sha2' },
    { ...good, algorithm: undefined },
    { algorithm: 'rc.v1.aes-sha2', ciphertext: 'short' },
    null,
    'not an object',
    { ...good, kid: '😀 kid' },
  ];
  const contents = Array.from({ length: 1100 }, (_, i) => variants[i % variants.length]);
  const results = await decryptContentBatch(ring, contents);
  expect(results).toHaveLength(contents.length);
  contents.forEach((content, i) => {
    const expected = single(ring, content);
    const got = results[i];
    if (expected instanceof E2EEError) {
      expect(got).toBeInstanceOf(E2EEError);
      expect((got as E2EEError).code).toBe(expected.code);
    } else {
      expect(got).toBe(expected);
    }
  });
  expect(results.filter((r) => typeof r === 'string').length).toBeGreaterThan(300);
  // Legacy v1 content decrypts in a batch too.
  const v1 = messageVectors.messages_v1_legacy.filter(
    (m: { wire_message: { content?: unknown } }) => m.wire_message.content,
  );
  const legacyResults = await decryptContentBatch(
    legacy,
    v1.map((m: { wire_message: { content: unknown } }) => m.wire_message.content),
  );
  expect(legacyResults).toEqual(v1.map((m: { aux_plaintext_payload: string }) => m.aux_plaintext_payload));
});

test('an empty batch resolves to an empty array', async () => {
  await expect(decryptContentBatch(key('R1'), [])).resolves.toEqual([]);
});
