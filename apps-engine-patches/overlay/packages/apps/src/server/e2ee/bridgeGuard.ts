/**
 * Argument checks for the E2EE bridge: every argument is validated before it reaches Rocket.Chat's
 * models, and the app id must be a real app id. No imports, so the tests run it directly.
 *
 * Who the caller is, is not decided here: the runtime's `bridges:` handler binds the app-id
 * argument of every bridge call to the runtime's own app first (`bridgeCaller.ts`), and the host
 * accessors pass the id they were built for.
 */

/** What the sandbox sends in place of its app id; the host writes the real one. */
export const APP_ID_PLACEHOLDER = 'APP_ID';

/** Payloads bigger than this are refused before any work (RC's own message limit is far lower). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export class E2EEArgumentError extends Error {
	public readonly code = 'E2EE_BAD_ARGUMENT';

	constructor(message: string) {
		super(message);
		this.name = 'E2EEArgumentError';
	}
}

const APP_ID = /^[A-Za-z0-9-]{1,64}$/;
// Room ids are Meteor ids (17 characters) or two of them for direct messages; never operators.
const ROOM_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;
// Key ids are the first 12 characters of a base64 SHA-256; allow some slack, never an operator.
const KEY_ID = /^[A-Za-z0-9+/=_-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function assertAppId(appId: unknown): string {
	if (typeof appId !== 'string' || !APP_ID.test(appId) || appId === APP_ID_PLACEHOLDER) {
		throw new E2EEArgumentError('invalid app id');
	}
	return appId;
}

export function assertRoomId(roomId: unknown): string {
	if (typeof roomId !== 'string' || !ROOM_ID.test(roomId)) {
		throw new E2EEArgumentError('invalid room id');
	}
	return roomId;
}

/** A key id, or `undefined` for "the current key". */
export function assertOptionalKeyId(kid: unknown): string | undefined {
	if (kid === undefined || kid === null) {
		return undefined;
	}
	if (typeof kid !== 'string' || !KEY_ID.test(kid)) {
		throw new E2EEArgumentError('invalid key id');
	}
	return kid;
}

export interface IEncryptedContentArgument {
	algorithm: string;
	kid: string;
	iv: string;
	ciphertext: string;
}

export function assertEncryptedContent(content: unknown): IEncryptedContentArgument {
	if (!isRecord(content)) {
		throw new E2EEArgumentError('invalid encrypted content');
	}
	const { algorithm, kid, iv, ciphertext } = content;
	if (typeof algorithm !== 'string' || !/^[a-z0-9.-]{1,32}$/.test(algorithm)) {
		throw new E2EEArgumentError('invalid encrypted content algorithm');
	}
	if (typeof iv !== 'string' || !BASE64.test(iv) || typeof ciphertext !== 'string' || !BASE64.test(ciphertext)) {
		throw new E2EEArgumentError('invalid encrypted content encoding');
	}
	return { algorithm, kid: assertOptionalKeyId(kid) ?? fail('invalid encrypted content key id'), iv, ciphertext };
}

export interface IMessageToDecrypt {
	roomId: string;
	/** When present the host reads the stored message, so the app cannot substitute the ciphertext. */
	messageId?: string;
	content?: IEncryptedContentArgument;
}

/** What `decryptMessage(message)` needs from the app's message: its room, and its id or its envelope. */
export function parseMessageToDecrypt(message: unknown): IMessageToDecrypt {
	if (!isRecord(message) || !isRecord(message.room)) {
		throw new E2EEArgumentError('invalid message');
	}
	const roomId = assertRoomId(message.room.id);
	const messageId = message.id === undefined || message.id === null ? undefined : message.id;
	if (messageId !== undefined && (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId))) {
		throw new E2EEArgumentError('invalid message id');
	}
	const content = message.encryptedContent === undefined ? undefined : assertEncryptedContent(message.encryptedContent);
	if (messageId === undefined && content === undefined) {
		throw new E2EEArgumentError('the message has neither an id nor encrypted content');
	}
	return { roomId, ...(messageId !== undefined && { messageId }), ...(content && { content }) };
}

/** Most messages one `decryptMessages` call takes (`E2EE_MAX_BATCH_MESSAGES` of the definitions). */
export const MAX_BATCH_MESSAGES = 1000;

/**
 * What `decryptMessages(roomId, messages)` needs from each message: its envelope. The page must
 * be an array of at most `MAX_BATCH_MESSAGES`; a message that is not one of the room's encrypted
 * messages (another room, no or a malformed `encryptedContent`) becomes its own argument error,
 * so one bad message fails alone as it would on the host.
 */
export function parseMessagesToDecrypt(roomId: string, messages: unknown): Array<IEncryptedContentArgument | E2EEArgumentError> {
	if (!Array.isArray(messages)) {
		throw new E2EEArgumentError('the messages must be an array');
	}
	if (messages.length > MAX_BATCH_MESSAGES) {
		throw new E2EEArgumentError(`more than ${MAX_BATCH_MESSAGES} messages in one call`);
	}
	return Array.from(messages, (message: unknown) => {
		try {
			if (!isRecord(message)) {
				return new E2EEArgumentError('invalid message');
			}
			if (isRecord(message.room) && message.room.id !== roomId) {
				return new E2EEArgumentError('the message is not of this room');
			}
			return assertEncryptedContent(message.encryptedContent);
		} catch (error) {
			// A getter or Proxy trap of the app's object threw: this message alone is refused.
			return error instanceof E2EEArgumentError ? error : new E2EEArgumentError('invalid message');
		}
	});
}

/** The plaintext payload: a JSON object whose `msg`, when present, is a string, under the size limit. */
export function assertPayload(payload: unknown): Record<string, unknown> {
	if (!isRecord(payload)) {
		throw new E2EEArgumentError('the payload must be an object');
	}
	if (payload.msg !== undefined && typeof payload.msg !== 'string') {
		throw new E2EEArgumentError('the payload msg must be a string');
	}
	let size: number;
	try {
		size = Buffer.byteLength(JSON.stringify(payload), 'utf8');
	} catch {
		throw new E2EEArgumentError('the payload must be JSON');
	}
	if (size > MAX_PAYLOAD_BYTES) {
		throw new E2EEArgumentError('the payload is too large');
	}
	return payload;
}

export interface ISendOptionsArgument {
	threadId?: string;
}

export function parseSendOptions(options: unknown): ISendOptionsArgument {
	if (options === undefined || options === null) {
		return {};
	}
	if (!isRecord(options) || Object.keys(options).some((key) => key !== 'threadId')) {
		throw new E2EEArgumentError('invalid send options');
	}
	if (options.threadId === undefined || options.threadId === null) {
		return {};
	}
	if (typeof options.threadId !== 'string' || !MESSAGE_ID.test(options.threadId)) {
		throw new E2EEArgumentError('invalid thread id');
	}
	return { threadId: options.threadId };
}

function isRecord(value: unknown): value is Record<string, any> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fail(message: string): never {
	throw new E2EEArgumentError(message);
}
