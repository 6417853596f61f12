/**
 * Argument checks for the E2EE bridge and the rule that its caller is named by the host only.
 * No imports, so the tests run it directly.
 *
 * Why: the runtime's `bridges:` channel lets app code call any `do*` method of any bridge with
 * any arguments, and the host swaps only the literal `'APP_ID'` for the real app id, passing any
 * other value through. For key material that would let one app act as another, so the E2EE
 * bridge accepts its caller only through the placeholder, and validates every other argument
 * before it reaches Rocket.Chat's models.
 */

export const APP_ID_PLACEHOLDER = 'APP_ID';

/** The name the runtime uses for the E2EE bridge on the `bridges:` channel (`AppBridges.getE2EEBridge`). */
export const E2EE_BRIDGE_NAME = 'getE2EEBridge';

/** Payloads bigger than this are refused before any work (RC's own message limit is far lower). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export class E2EEArgumentError extends Error {
	public readonly code = 'E2EE_BAD_ARGUMENT';

	constructor(message: string) {
		super(message);
		this.name = 'E2EEArgumentError';
	}
}

/**
 * The parameters of a `bridges:` request as the bridge must receive them. Requests to other
 * bridges pass unchanged; for the E2EE bridge the last parameter must be the `'APP_ID'`
 * placeholder, which is replaced by `hostAppId` (the app the runtime process belongs to).
 * Any other app id, even the caller's own, is refused: only the host names the caller.
 */
export function guardBridgeParams(bridgeName: string, params: ReadonlyArray<unknown>, hostAppId: string): Array<unknown> {
	if (bridgeName !== E2EE_BRIDGE_NAME) {
		return params as Array<unknown>;
	}
	return deriveE2EEBridgeParams(params, hostAppId);
}

export function deriveE2EEBridgeParams(params: ReadonlyArray<unknown>, hostAppId: string): Array<unknown> {
	assertAppId(hostAppId);
	if (!Array.isArray(params) || params.length === 0) {
		throw new E2EEArgumentError('the E2EE bridge needs its arguments and the APP_ID placeholder');
	}
	const rest = params.slice(0, -1);
	if (params[params.length - 1] !== APP_ID_PLACEHOLDER || rest.includes(APP_ID_PLACEHOLDER)) {
		throw new E2EEArgumentError('the E2EE bridge takes the calling app from the host: pass APP_ID as the last argument only');
	}
	return [...rest, hostAppId];
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

export interface EncryptedContentArgument {
	algorithm: string;
	kid: string;
	iv: string;
	ciphertext: string;
}

export function assertEncryptedContent(content: unknown): EncryptedContentArgument {
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

export interface MessageToDecrypt {
	roomId: string;
	/** When present the host reads the stored message, so the app cannot substitute the ciphertext. */
	messageId?: string;
	content?: EncryptedContentArgument;
}

/** What `decryptMessage(message)` needs from the app's message: its room, and its id or its envelope. */
export function parseMessageToDecrypt(message: unknown): MessageToDecrypt {
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

export interface SendOptionsArgument {
	threadId?: string;
}

export function parseSendOptions(options: unknown): SendOptionsArgument {
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
