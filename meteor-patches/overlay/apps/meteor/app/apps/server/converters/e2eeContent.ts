/**
 * rc-e2ee: the encrypted fields of a message between Rocket.Chat and apps. Pure functions with no
 * imports, used by two hook lines in each map of the messages converter, so the tests run them.
 *
 * Core to app: a v2 `content` envelope becomes `IMessage.encryptedContent` and `e2e` its state;
 * other formats (legacy v1, federation) stay in `_unmappedProperties_`. Apps-Engine's per-app
 * view then removes both (and the unmapped ones) for apps without `e2ee.read`.
 *
 * App to core: only a well-formed v2 envelope is taken back, and it always comes with
 * `t: 'e2e'` and an empty `msg`, so an app's encrypted message never carries plaintext beside it.
 * Nothing else is ever produced: no `content: undefined` or `null` that could overwrite the stored
 * ciphertext on an update (apps without `e2ee.write` never get here: the bridges strip
 * `encryptedContent` first).
 */

export const V2_ALGORITHM = 'rc.v2.aes-sha2';

export interface IEncryptedContentFields {
	algorithm: string;
	kid: string;
	iv: string;
	ciphertext: string;
}

export type E2EState = 'pending' | 'done';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_ID = /^[A-Za-z0-9+/=_-]{1,64}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether `value` is a v2 envelope: `{ algorithm: 'rc.v2.aes-sha2', kid, iv, ciphertext }`, base64 where it must be. */
export function isV2EncryptedContent(value: unknown): value is IEncryptedContentFields {
	if (!isRecord(value)) {
		return false;
	}
	const { algorithm, kid, iv, ciphertext } = value;
	return (
		algorithm === V2_ALGORITHM &&
		typeof kid === 'string' &&
		KEY_ID.test(kid) &&
		typeof iv === 'string' &&
		BASE64.test(iv) &&
		typeof ciphertext === 'string' &&
		BASE64.test(ciphertext)
	);
}

function isE2EState(value: unknown): value is E2EState {
	return value === 'pending' || value === 'done';
}

/**
 * `transformMappedData` entry for `encryptedContent`: takes a v2 `content` out of the (cloned)
 * core message and returns a copy; anything else stays where it is and `undefined` maps nothing.
 */
export async function encryptedContentToApp(message: { content?: unknown }): Promise<IEncryptedContentFields | undefined> {
	const { content } = message;
	if (!isV2EncryptedContent(content)) {
		return undefined;
	}
	delete message.content;
	return { algorithm: content.algorithm, kid: content.kid, iv: content.iv, ciphertext: content.ciphertext };
}

/** `transformMappedData` entry for `e2e`: the message's encryption state, when it has a known one. */
export async function e2eStateToApp(message: { e2e?: unknown }): Promise<E2EState | undefined> {
	const { e2e } = message;
	if (!isE2EState(e2e)) {
		return undefined;
	}
	delete message.e2e;
	return e2e;
}

export interface IE2EECoreFields {
	t?: 'e2e';
	msg?: '';
	content?: IEncryptedContentFields;
	e2e?: E2EState;
}

/**
 * The core fields for an app message's `encryptedContent` (spread last in `convertAppMessage`'s
 * literal): `{ t: 'e2e', msg: '', content, e2e }` for a v2 envelope, `{}` otherwise. Never a key
 * whose value is `undefined` or `null`.
 */
export function e2eeFieldsFromApp(message: { encryptedContent?: unknown; e2e?: unknown }): IE2EECoreFields {
	const { encryptedContent, e2e } = message;
	if (!isV2EncryptedContent(encryptedContent)) {
		return {};
	}
	return {
		t: 'e2e',
		msg: '',
		content: {
			algorithm: encryptedContent.algorithm,
			kid: encryptedContent.kid,
			iv: encryptedContent.iv,
			ciphertext: encryptedContent.ciphertext,
		},
		e2e: isE2EState(e2e) ? e2e : 'pending',
	};
}
