// The defensive check in MessageService.beforeSave (meteor overlay e2ee-apps/plaintextGuard.ts):
// an encrypted message with plaintext in msg is refused; v2 messages (msg '') and legacy v1
// ciphertext pass, and other message types are untouched.
import { createCipheriv, randomBytes } from 'node:crypto';

import {
  E2EEPlaintextError,
  assertNoPlaintextInE2EEMessage,
  isLegacyV1Ciphertext,
} from '../../meteor-patches/overlay/apps/meteor/server/services/e2ee-apps/plaintextGuard';

/** A legacy v1 msg as old clients wrote it: the 12-character kid, then base64 of IV ‖ AES-CBC ciphertext. */
function legacyV1(text: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', randomBytes(16), iv);
  const body = Buffer.concat([iv, cipher.update(JSON.stringify({ msg: text })), cipher.final()]);
  return `${randomBytes(9).toString('base64')}${body.toString('base64')}`;
}

test('v2 messages, other types and legacy v1 ciphertext pass', () => {
  expect(() => assertNoPlaintextInE2EEMessage({ t: 'e2e', msg: '' })).not.toThrow();
  expect(() => assertNoPlaintextInE2EEMessage({ t: 'e2e' })).not.toThrow();
  expect(() => assertNoPlaintextInE2EEMessage({ msg: 'hello' })).not.toThrow();
  expect(() => assertNoPlaintextInE2EEMessage({ t: 'uj', msg: 'alice' })).not.toThrow();
  for (const text of ['', 'hi', 'a longer message that spans several AES blocks of sixteen bytes']) {
    const msg = legacyV1(text);
    expect(isLegacyV1Ciphertext(msg)).toBe(true);
    expect(() => assertNoPlaintextInE2EEMessage({ t: 'e2e', msg })).not.toThrow();
  }
});

test('plaintext in an encrypted message is refused', () => {
  for (const msg of [
    'hello',
    'see https://example.com/secret',
    'Paste of a base64 line: QUJDREVGR0hJSktMTU5PUA==',
    'AAAAAAAAAAAA' + 'QUJD', // a kid and too short a body
    'AAAAAAAAAAAA' + Buffer.alloc(40).toString('base64'), // not whole AES blocks
    3,
    { text: 'x' },
  ]) {
    expect(() => assertNoPlaintextInE2EEMessage({ t: 'e2e', msg })).toThrow(E2EEPlaintextError);
  }
});
