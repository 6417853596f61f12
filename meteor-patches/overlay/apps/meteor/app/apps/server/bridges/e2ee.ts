/**
 * rc-e2ee: Rocket.Chat's side of the app-facing E2EE API. Apps-Engine's `E2EEBridge` has already
 * checked the permission (`e2ee.read` / `e2ee.write`) and every argument, and `appId` was bound
 * by the host, never taken from the app; each method hands over to the host service, which checks
 * the admin's authorization, the app user's membership and key on every call.
 */
import type { IAppServerOrchestrator } from '@rocket.chat/apps';
import { E2EEBridge } from '@rocket.chat/apps/dist/server/bridges/E2EEBridge';
import type { IEncryptedContentArgument, IMessageToDecrypt, ISendOptionsArgument } from '@rocket.chat/apps/dist/server/e2ee/bridgeGuard';
import type {
	IE2EEDecryptResult,
	IE2EEEncryptedRoomKey,
	IE2EEMessagePayload,
	IE2EERoomKeyInfo,
	IMessageEncryptedContent,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { E2EEHostService } from 'rc-e2ee';

import { ensureAppUser } from '../../../../server/services/e2ee-apps/appUsers';
import { requireE2EEHostService } from '../../../../server/services/e2ee-apps/host';

export class AppE2EEBridge extends E2EEBridge {
	constructor(private readonly orch: IAppServerOrchestrator) {
		super();
	}

	/** The service, with the app's user known (the service reads it synchronously; no query once known). */
	private async serviceFor(appId: string, what: string): Promise<E2EEHostService> {
		this.orch.debugLog(`The App ${appId} is calling the E2EE bridge: ${what}`);
		const service = await requireE2EEHostService();
		await ensureAppUser(appId);
		return service;
	}

	protected async isAuthorized(roomId: string, appId: string): Promise<boolean> {
		return (await this.serviceFor(appId, 'isAuthorized')).isAuthorized(appId, roomId);
	}

	protected async getEncryptedRoomKey(roomId: string, kid: string | undefined, appId: string): Promise<IE2EEEncryptedRoomKey | undefined> {
		const key = await (await this.serviceFor(appId, 'getEncryptedRoomKey')).getEncryptedRoomKey(appId, roomId, kid);
		return key && { roomId: key.roomId, kid: key.kid, encryptedKey: key.encryptedKey, current: key.current };
	}

	protected async getKeyHistory(roomId: string, appId: string): Promise<Array<IE2EERoomKeyInfo>> {
		const keys = await (await this.serviceFor(appId, 'getKeyHistory')).getKeyHistory(appId, roomId);
		return keys.map(({ kid, ts, current }) => ({ kid, current, ...(ts && { ts }) }));
	}

	protected async decryptMessage(message: IMessageToDecrypt, appId: string): Promise<IE2EEMessagePayload> {
		const service = await this.serviceFor(appId, 'decryptMessage');
		const payload = await service.decryptMessage(appId, {
			roomId: message.roomId,
			...(message.messageId !== undefined && { messageId: message.messageId }),
			...(message.content && { content: { ...message.content } }),
		});
		// What the sender encrypted, as Rocket.Chat's clients read it: attachments are not validated.
		return payload as IE2EEMessagePayload;
	}

	protected async decryptMessages(roomId: string, contents: Array<IEncryptedContentArgument>, appId: string): Promise<Array<IE2EEDecryptResult>> {
		const service = await this.serviceFor(appId, 'decryptMessages');
		const results = await service.decryptMessages(
			appId,
			roomId,
			contents.map((content) => ({ ...content })),
		);
		// An error crosses to the app's runtime as data: its stable code and fixed text, never content.
		return results.map((result) =>
			result instanceof Error
				? { error: { code: (result as { code?: string }).code ?? 'E2EE_INTERNAL', message: result.message } }
				: { payload: result as IE2EEMessagePayload },
		);
	}

	protected async sendEncryptedMessage(
		roomId: string,
		payload: IE2EEMessagePayload,
		options: ISendOptionsArgument,
		appId: string,
	): Promise<string> {
		const service = await this.serviceFor(appId, 'sendEncryptedMessage');
		return service.sendEncryptedMessage(appId, roomId, payload, options.threadId ? { threadId: options.threadId } : {});
	}

	protected async encryptContent(roomId: string, payload: IE2EEMessagePayload, appId: string): Promise<IMessageEncryptedContent> {
		const content = await (await this.serviceFor(appId, 'encryptContent')).encryptContent(appId, roomId, payload);
		return { algorithm: content.algorithm, kid: content.kid, iv: content.iv, ciphertext: content.ciphertext };
	}
}
