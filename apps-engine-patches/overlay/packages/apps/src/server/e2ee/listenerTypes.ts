import type {
	IE2EEAccessRevokedContext,
	IE2EERoomKeyReadyContext,
	IE2EERoomKeyRotatedContext,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { AppInterface } from '@rocket.chat/apps-engine/definition/metadata';

/** The E2EE entries of AppListenerManager's IListenerExecutor (it extends this interface). */
export interface IE2EEListenerExecutor {
	[AppInterface.IPostE2EERoomKeyReady]: {
		args: [IE2EERoomKeyReadyContext];
		result: void;
	};
	[AppInterface.IPostE2EERoomKeyRotated]: {
		args: [IE2EERoomKeyRotatedContext];
		result: void;
	};
	[AppInterface.IPostE2EEAccessRevoked]: {
		args: [IE2EEAccessRevokedContext];
		result: void;
	};
}
