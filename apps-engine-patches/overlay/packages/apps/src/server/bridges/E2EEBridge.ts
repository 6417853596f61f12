import type {
	IE2EEDecryptResult,
	IE2EEEncryptedRoomKey,
	IE2EEMessagePayload,
	IE2EERoomKeyInfo,
	IMessageEncryptedContent,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { IPermission } from '@rocket.chat/apps-engine/definition/permissions/IPermission';

import { BaseBridge } from './BaseBridge';
import {
	assertAppId,
	assertOptionalKeyId,
	assertPayload,
	assertRoomId,
	E2EEArgumentError,
	parseMessagesToDecrypt,
	parseMessageToDecrypt,
	parseSendOptions,
} from '../e2ee/bridgeGuard';
import type { IEncryptedContentArgument, IMessageToDecrypt, ISendOptionsArgument } from '../e2ee/bridgeGuard';
import { PermissionDeniedError } from '../errors/PermissionDeniedError';
import { AppPermissionManager } from '../managers/AppPermissionManager';
import { AppPermissions } from '../permissions/AppPermissions';

/**
 * The host side of the E2EE API (rc-e2ee). Rocket.Chat's implementation (the meteor series)
 * checks the admin's authorization for the room and the app user's key, and does the
 * cryptography in the native addon; this class checks the permission and every argument first.
 *
 * `appId` is always the last argument and always comes from the host: the accessors pass the
 * id they were built for, and the runtime's `bridges:` handler accepts only the `APP_ID`
 * placeholder there and writes the runtime's own id (`e2ee/bridgeCaller.ts`; the positions are in
 * `e2ee/bridgeCallerTable.ts`, which a test checks against this file). A failed check throws: a
 * silent `undefined`, as other bridges return, would read as "no key" to the app.
 */
export abstract class E2EEBridge extends BaseBridge {
	public async doIsAuthorized(roomId: string, appId: string): Promise<boolean> {
		this.requirePermission(appId, AppPermissions.e2ee.read);
		return this.isAuthorized(assertRoomId(roomId), appId);
	}

	public async doGetEncryptedRoomKey(roomId: string, kid: string | undefined, appId: string): Promise<IE2EEEncryptedRoomKey | undefined> {
		this.requirePermission(appId, AppPermissions.e2ee.read);
		return this.getEncryptedRoomKey(assertRoomId(roomId), assertOptionalKeyId(kid), appId);
	}

	public async doGetKeyHistory(roomId: string, appId: string): Promise<Array<IE2EERoomKeyInfo>> {
		this.requirePermission(appId, AppPermissions.e2ee.read);
		return this.getKeyHistory(assertRoomId(roomId), appId);
	}

	public async doDecryptMessage(message: unknown, appId: string): Promise<IE2EEMessagePayload> {
		this.requirePermission(appId, AppPermissions.e2ee.read);
		return this.decryptMessage(parseMessageToDecrypt(message), appId);
	}

	public async doDecryptMessages(roomId: string, messages: unknown, appId: string): Promise<Array<IE2EEDecryptResult>> {
		this.requirePermission(appId, AppPermissions.e2ee.read);
		const room = assertRoomId(roomId);
		const parsed = parseMessagesToDecrypt(room, messages);
		const contents = parsed.filter((entry): entry is IEncryptedContentArgument => !(entry instanceof E2EEArgumentError));
		const decrypted = contents.length > 0 ? await this.decryptMessages(room, contents, appId) : [];
		if (decrypted.length !== contents.length) {
			throw new Error('the E2EE bridge answered a different number of messages');
		}
		let next = 0;
		return parsed.map((entry) =>
			entry instanceof E2EEArgumentError ? { error: { code: entry.code, message: entry.message } } : decrypted[next++],
		);
	}

	public async doSendEncryptedMessage(roomId: string, payload: IE2EEMessagePayload, options: unknown, appId: string): Promise<string> {
		this.requirePermission(appId, AppPermissions.e2ee.write);
		return this.sendEncryptedMessage(assertRoomId(roomId), assertPayload(payload), parseSendOptions(options), appId);
	}

	public async doEncryptContent(roomId: string, payload: IE2EEMessagePayload, appId: string): Promise<IMessageEncryptedContent> {
		this.requirePermission(appId, AppPermissions.e2ee.write);
		return this.encryptContent(assertRoomId(roomId), assertPayload(payload), appId);
	}

	protected abstract isAuthorized(roomId: string, appId: string): Promise<boolean>;

	protected abstract getEncryptedRoomKey(roomId: string, kid: string | undefined, appId: string): Promise<IE2EEEncryptedRoomKey | undefined>;

	protected abstract getKeyHistory(roomId: string, appId: string): Promise<Array<IE2EERoomKeyInfo>>;

	protected abstract decryptMessage(message: IMessageToDecrypt, appId: string): Promise<IE2EEMessagePayload>;

	/** Each envelope's payload or error, in order (the host checks the room's gates once). */
	protected abstract decryptMessages(roomId: string, contents: Array<IEncryptedContentArgument>, appId: string): Promise<Array<IE2EEDecryptResult>>;

	protected abstract sendEncryptedMessage(
		roomId: string,
		payload: IE2EEMessagePayload,
		options: ISendOptionsArgument,
		appId: string,
	): Promise<string>;

	protected abstract encryptContent(roomId: string, payload: IE2EEMessagePayload, appId: string): Promise<IMessageEncryptedContent>;

	private requirePermission(appId: string, permission: IPermission): void {
		assertAppId(appId);
		if (AppPermissionManager.hasPermission(appId, permission)) {
			return;
		}
		const error = new PermissionDeniedError({ appId, missingPermissions: [permission] });
		AppPermissionManager.notifyAboutError(error);
		throw error;
	}
}
