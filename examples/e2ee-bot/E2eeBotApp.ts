import type { IAppAccessors, IHttp, ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import { App } from '@rocket.chat/apps-engine/definition/App';
import type {
	IE2EEAccessRevokedContext,
	IE2EERoomKeyReadyContext,
	IE2EERoomKeyRotatedContext,
	IPostE2EEAccessRevoked,
	IPostE2EERoomKeyReady,
	IPostE2EERoomKeyRotated,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { IMessage, IPostMessageSent } from '@rocket.chat/apps-engine/definition/messages';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import { RocketChatAssociationModel, RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';

import { mentions, replyFor } from './src/bot';
import { detectE2EE } from './src/capability';

/** The smallest E2EE API this app needs. */
const NEEDED_E2EE_API = 1;

/**
 * Answers, encrypted, the encrypted messages that mention it. It sees `encryptedContent` only
 * because it declares e2ee.read; it decrypts through the host (the private key never reaches
 * the app), and it learns from the key events when a room becomes readable or its key changes.
 */
export class E2eeBotApp extends App implements IPostMessageSent, IPostE2EERoomKeyReady, IPostE2EERoomKeyRotated, IPostE2EEAccessRevoked {
	constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
		super(info, logger, accessors);
	}

	public async checkPostMessageSent(message: IMessage): Promise<boolean> {
		return message.type === 'e2e' && message.encryptedContent !== undefined;
	}

	public async executePostMessageSent(message: IMessage, read: IRead, _http: IHttp, _persistence: IPersistence, modify: IModify): Promise<void> {
		const e2ee = detectE2EE(read, modify, (id) => require(id));
		if (!e2ee || e2ee.apiVersion < NEEDED_E2EE_API) {
			return;
		}
		const bot = await read.getUserReader().getAppUser();
		if (!bot || message.sender.id === bot.id || !(await e2ee.reader.isAuthorized(message.room.id))) {
			return;
		}
		const payload = await e2ee.reader.decryptMessage(message);
		if (!mentions(payload.msg, bot.username)) {
			return;
		}
		await e2ee.modifier.sendEncryptedMessage(
			message.room.id,
			{ msg: replyFor(payload.msg ?? '', message.sender.username) },
			{ threadId: message.threadId },
		);
	}

	public async executePostE2EERoomKeyReady(
		context: IE2EERoomKeyReadyContext,
		_read: IRead,
		_http: IHttp,
		persistence: IPersistence,
	): Promise<void> {
		// Remember which rooms are readable, so a restarted app knows without asking.
		await persistence.updateByAssociation(roomRecord(context.room.id), { kid: context.kid, ready: true }, true);
		this.getLogger().info(`room ${context.room.id}: key ${context.kid} ready`);
	}

	public async executePostE2EERoomKeyRotated(
		context: IE2EERoomKeyRotatedContext,
		_read: IRead,
		_http: IHttp,
		persistence: IPersistence,
	): Promise<void> {
		// Anything derived from the old key is stale; the new key arrives with a KeyReady event.
		await persistence.removeByAssociation(roomRecord(context.room.id));
		this.getLogger().info(`room ${context.room.id}: key rotated to ${context.newKid ?? 'a new key'}`);
	}

	public async executePostE2EEAccessRevoked(
		context: IE2EEAccessRevokedContext,
		_read: IRead,
		_http: IHttp,
		persistence: IPersistence,
	): Promise<void> {
		await persistence.removeByAssociation(roomRecord(context.roomId));
		this.getLogger().warn(`room ${context.roomId}: access revoked (${context.reason})`);
	}
}

function roomRecord(roomId: string): RocketChatAssociationRecord {
	return new RocketChatAssociationRecord(RocketChatAssociationModel.ROOM, roomId);
}
