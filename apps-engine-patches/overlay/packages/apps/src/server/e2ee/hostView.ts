/**
 * Binds the pure E2EE view to Rocket.Chat's permission manager. The hook lines in the listener
 * manager, the bridges and the Deno runtime call these, so each hook stays one line.
 */
import type { AppManager } from '../AppManager';
import type { ProxiedApp } from '../ProxiedApp';
import { withE2EEView } from './appView';
import { executeTargetedE2EEEvent } from './listenerExecutor';
import { stripForWrite, viewForApp } from './viewForApp';
import type { IE2EECapabilities } from './viewForApp';
import { AppPermissionManager } from '../managers/AppPermissionManager';
import { AppPermissions } from '../permissions/AppPermissions';

/** The app's E2EE capabilities from the permissions an admin granted it (never the defaults). */
export function e2eeCapabilities(appId: string): IE2EECapabilities {
	return {
		read: !!AppPermissionManager.hasPermission(appId, AppPermissions.e2ee.read),
		write: !!AppPermissionManager.hasPermission(appId, AppPermissions.e2ee.write),
	};
}

/** The app, seeing only what its capabilities allow in every listener call. */
export function e2eeView(app: ProxiedApp): ProxiedApp {
	return withE2EEView(app, e2eeCapabilities);
}

/** A bridge result (message, room, or a list of them) as the calling app may see it. */
export function viewForAppId<T>(appId: string, value: T): T {
	return viewForApp(value, e2eeCapabilities(appId));
}

/** A message or room an app sends, without the E2EE fields it may not set. */
export function inboundFromAppId<T>(appId: string, value: T): T {
	return stripForWrite(value, e2eeCapabilities(appId));
}

/** An E2EE event the host raised through the listener manager, for the one app it names. */
export function executeE2EEEvent(manager: AppManager, event: string, data: unknown, appIds: ReadonlyArray<string>): Promise<void> {
	return executeTargetedE2EEEvent(event, data, appIds, (appId) => manager.getOneById(appId), e2eeCapabilities);
}
