import type {
	IE2EEAccessRevokedContext,
	IE2EERoomKeyReadyContext,
	IE2EERoomKeyRotatedContext,
} from '@rocket.chat/apps-engine/definition/e2ee';
import type { AppInterface } from '@rocket.chat/apps-engine/definition/metadata';

import type { IE2EETargetedEvent } from './listenerExecutor';

/** The E2EE entries of AppListenerManager's IListenerExecutor (it extends this interface); each event names its app. */
export interface IE2EEListenerExecutor {
	[AppInterface.IPostE2EERoomKeyReady]: {
		args: [IE2EETargetedEvent<IE2EERoomKeyReadyContext>];
		result: void;
	};
	[AppInterface.IPostE2EERoomKeyRotated]: {
		args: [IE2EETargetedEvent<IE2EERoomKeyRotatedContext>];
		result: void;
	};
	[AppInterface.IPostE2EEAccessRevoked]: {
		args: [IE2EETargetedEvent<IE2EEAccessRevokedContext>];
		result: void;
	};
}
