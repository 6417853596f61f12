import type { IE2EEMessagePayload } from './IE2EEMessagePayload';
import type { IMessageEncryptedContent } from './IMessageEncryptedContent';

export interface IE2EESendOptions {
	/** Posts the message as a reply in this thread. */
	threadId?: string;
}

/**
 * Writes to end-to-end encrypted rooms. Every call needs the `e2ee.write` permission, an admin's
 * authorization of the app for the room and the room's current key; the plaintext is encrypted
 * on the host and never stored, indexed or sent anywhere in clear.
 */
export interface IE2EEModify {
	/** Encrypts the payload with the room's current key and posts it as the app user; returns the message id. */
	sendEncryptedMessage(roomId: string, payload: IE2EEMessagePayload, options?: IE2EESendOptions): Promise<string>;

	/** Encrypts the payload with the room's current key, for apps that build the message themselves. */
	encryptContent(roomId: string, payload: IE2EEMessagePayload): Promise<IMessageEncryptedContent>;
}
