import type { IE2EEMessagePayload, IE2EEModify, IE2EESendOptions, IMessageEncryptedContent } from '@rocket.chat/apps-engine/definition/e2ee';

import type { E2EEBridge } from '../bridges/E2EEBridge';

/** Host accessor behind `modify.getE2EE()`: the app id is the one the host built it for. */
export class E2EEModify implements IE2EEModify {
	constructor(
		private readonly bridge: E2EEBridge,
		private readonly appId: string,
	) {}

	public sendEncryptedMessage(roomId: string, payload: IE2EEMessagePayload, options?: IE2EESendOptions): Promise<string> {
		return this.bridge.doSendEncryptedMessage(roomId, payload, options, this.appId);
	}

	public encryptContent(roomId: string, payload: IE2EEMessagePayload): Promise<IMessageEncryptedContent> {
		return this.bridge.doEncryptContent(roomId, payload, this.appId);
	}
}
