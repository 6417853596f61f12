import type {
	IE2EEDecryptResult,
	IE2EEEncryptedRoomKey,
	IE2EEMessagePayload,
	IE2EERead,
	IE2EERoomKeyInfo,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { IMessage } from '@rocket.chat/apps-engine/definition/messages';

import type { E2EEBridge } from '../bridges/E2EEBridge';

/** Host accessor behind `read.getE2EEReader()`: the app id is the one the host built it for. */
export class E2EERead implements IE2EERead {
	constructor(
		private readonly bridge: E2EEBridge,
		private readonly appId: string,
	) {}

	public isAuthorized(roomId: string): Promise<boolean> {
		return this.bridge.doIsAuthorized(roomId, this.appId);
	}

	public getEncryptedRoomKey(roomId: string, kid?: string): Promise<IE2EEEncryptedRoomKey | undefined> {
		return this.bridge.doGetEncryptedRoomKey(roomId, kid, this.appId);
	}

	public getKeyHistory(roomId: string): Promise<Array<IE2EERoomKeyInfo>> {
		return this.bridge.doGetKeyHistory(roomId, this.appId);
	}

	public decryptMessage(message: IMessage): Promise<IE2EEMessagePayload> {
		return this.bridge.doDecryptMessage(message, this.appId);
	}

	public decryptMessages(roomId: string, messages: Array<IMessage>): Promise<Array<IE2EEDecryptResult>> {
		return this.bridge.doDecryptMessages(roomId, messages, this.appId);
	}
}
