import type {
	IE2EEDecryptResult,
	IE2EEEncryptedRoomKey,
	IE2EEMessagePayload,
	IE2EERoomKeyInfo,
	IMessageEncryptedContent,
} from '@rocket.chat/apps-engine/definition/e2ee';

import { E2EEBridge } from '../../../src/server/bridges/E2EEBridge';
import type { IEncryptedContentArgument, IMessageToDecrypt, ISendOptionsArgument } from '../../../src/server/e2ee/bridgeGuard';

/**
 * The E2EE bridge of the engine's own tests (rc-e2ee): no room is authorized and there is no
 * key, so nothing is decrypted or sent. The permission and argument checks of E2EEBridge run
 * as in production.
 */
export class TestsE2EEBridge extends E2EEBridge {
	protected async isAuthorized(_roomId: string, _appId: string): Promise<boolean> {
		return false;
	}

	protected async getEncryptedRoomKey(_roomId: string, _kid: string | undefined, _appId: string): Promise<IE2EEEncryptedRoomKey | undefined> {
		return undefined;
	}

	protected async getKeyHistory(_roomId: string, _appId: string): Promise<Array<IE2EERoomKeyInfo>> {
		return [];
	}

	protected decryptMessage(_message: IMessageToDecrypt, _appId: string): Promise<IE2EEMessagePayload> {
		throw new Error('Method not implemented.');
	}

	protected decryptMessages(_roomId: string, _contents: Array<IEncryptedContentArgument>, _appId: string): Promise<Array<IE2EEDecryptResult>> {
		throw new Error('Method not implemented.');
	}

	protected sendEncryptedMessage(_roomId: string, _payload: IE2EEMessagePayload, _options: ISendOptionsArgument, _appId: string): Promise<string> {
		throw new Error('Method not implemented.');
	}

	protected encryptContent(_roomId: string, _payload: IE2EEMessagePayload, _appId: string): Promise<IMessageEncryptedContent> {
		throw new Error('Method not implemented.');
	}
}
