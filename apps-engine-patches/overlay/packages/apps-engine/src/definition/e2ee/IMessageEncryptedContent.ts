/**
 * The encrypted body of an end-to-end encrypted message, as Rocket.Chat stores it in the core
 * message's `content` (format `rc.v2.aes-sha2`). Only apps granted `e2ee.read` receive it.
 */
export interface IMessageEncryptedContent {
	/** The envelope format, `rc.v2.aes-sha2` for every message an app can send. */
	algorithm: string;
	/** Id of the room key the message is encrypted with (`rooms.e2eKeyId` when it was sent). */
	kid: string;
	/** Base64 of the 12-byte AES-GCM nonce. */
	iv: string;
	/** Base64 of the AES-GCM ciphertext and tag. */
	ciphertext: string;
}

/** The processing state Rocket.Chat keeps on an encrypted message. */
export type MessageE2EEStatus = 'pending' | 'done';
