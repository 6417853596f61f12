/**
 * rc-e2ee: the defensive check in `MessageService.beforeSave`, the one place every new and every
 * edited message passes (sendMessage and updateMessage both call it). An encrypted message
 * (`t: 'e2e'`) whose `msg` is not empty would put plaintext where Rocket.Chat indexes and
 * forwards it (the text index and search, `rooms.lastMessage`, push, desktop and email
 * notifications, URL previews, mentions, integrations): it is refused, unless `msg` is a legacy
 * v1 ciphertext (a 12-character kid and base64 of an AES-CBC IV and whole blocks), which old
 * clients still send. Pure, no imports, so the tests run it.
 */

const KID_LENGTH = 12;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const AES_BLOCK = 16;

/** Whether `msg` has the shape of a legacy v1 ciphertext: kid + base64(IV ‖ one or more AES blocks). */
export function isLegacyV1Ciphertext(msg: string): boolean {
	const body = msg.slice(KID_LENGTH);
	if (msg.length <= KID_LENGTH || !BASE64.test(msg.slice(0, KID_LENGTH).replace(/[=_-]/g, 'A')) || !BASE64.test(body) || body.length % 4 !== 0) {
		return false;
	}
	const padding = body.length - body.replace(/=+$/, '').length;
	const bytes = (body.length / 4) * 3 - padding;
	return bytes >= 2 * AES_BLOCK && bytes % AES_BLOCK === 0;
}

export class E2EEPlaintextError extends Error {
	public readonly error = 'error-e2ee-plaintext-in-encrypted-message';

	constructor() {
		super('An encrypted message cannot carry plaintext in msg');
		this.name = 'E2EEPlaintextError';
	}
}

/** Throws `E2EEPlaintextError` for an encrypted message with plaintext beside its ciphertext. */
export function assertNoPlaintextInE2EEMessage(message: { t?: string; msg?: unknown }): void {
	if (message.t !== 'e2e' || message.msg === undefined || message.msg === '') {
		return;
	}
	if (typeof message.msg !== 'string' || !isLegacyV1Ciphertext(message.msg)) {
		throw new E2EEPlaintextError();
	}
}
