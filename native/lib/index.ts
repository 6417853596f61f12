/**
 * rc-e2ee: Rocket.Chat's end-to-end encryption for server-side participants.
 *
 * Stateless codec (interop, tests, tools): key handles, room-key wrapping, message and file
 * encryption, byte-exact with the Rocket.Chat web client. Private and room keys never leave
 * the native addon as bytes.
 */
export { E2EEError, E2EE_CODES, HOST_CODES, KEYSTORE_CODES, type E2EECode } from './errors';
export { RsaPrivateKey, RoomKey, RoomKeyRing, unwrapRoomKey, wrapRoomKey, type JwkInput, type RoomKeys } from './keys';
export {
  decryptContent,
  decryptContentAsync,
  decryptContentBatch,
  decryptMessage,
  decryptMessageAsync,
  encryptContent,
  encryptContentAsync,
  MAX_SYNC_CIPHERTEXT_CHARS,
  MAX_SYNC_PAYLOAD_BYTES,
  parsePayload,
  type EncryptedContent,
  type MessagePayload,
} from './content';
export { decryptFile, encryptFile, type EncryptedFile } from './files';
export {
  AppKeyStore,
  MAX_BATCH_MESSAGES,
  type AcceptedRoomKey,
  type AcceptRoomKeyOptions,
  type AppKeyStoreOptions,
  type AuditQuery,
  type AuditRecord,
  type Authorization,
  type CustodyOptions,
  type IdentityInfo,
  type LoadedKeys,
  type OldRoomKey,
  type Pkcs11CustodyOptions,
  type ProvisionalRoomKey,
  type RekeyReport,
  type RotationHost,
  type RoomKeyStatus,
  type RoomMessageProof,
  type RotationReport,
  type SubscriptionRoomKeys,
  type SuggestedOldRoomKey,
} from './keystore';
// The host service: what a Rocket.Chat server runs so that authorized apps are members of
// encrypted rooms, over ports the server implements.
export { E2EEHostService } from './host/service';
export type { DeliveryOutcome } from './host/keyDelivery';
export type { EnableReport } from './host/lifecycle';
export type { KeyResetReport } from './host/identityRotation';
export type { RoomEncryptionReport } from './host/roomState';
export type { EncryptedRoomKey, MessageToDecrypt, RoomKeyInfo } from './host/bridge';
export type * from './host/ports';

import native = require('./binding');

/** Codes the native layer can produce (for tests that keep the lists equal). */
export function nativeErrorCodes(): string[] {
  return [...native.errorCodes(), ...native.keystoreErrorCodes()];
}
