import type { IMessageAttachment } from '../messages/IMessageAttachment';

/**
 * What an encrypted message says once decrypted: the JSON object Rocket.Chat clients encrypt,
 * with the text in `msg`. Other fields a client adds are kept as they are.
 */
export interface IE2EEMessagePayload {
	msg?: string;
	attachments?: Array<IMessageAttachment>;
	[field: string]: unknown;
}
