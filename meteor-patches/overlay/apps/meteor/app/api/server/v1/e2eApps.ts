/**
 * rc-e2ee: the admin endpoints of E2EE for apps (registered by one import line in
 * `app/api/server/index.ts`). Rules, schemas and system messages: `server/services/e2ee-apps/rest.ts`.
 *
 *   POST e2e.apps.authorize { appId, rid }  grant the app the room (audited, system message, app user queued for the key)
 *   POST e2e.apps.revoke    { appId, rid }  revoke: grant and keys dropped, system message recommending a key reset
 *   GET  e2e.apps.list      ?rid=           the apps authorized for the room
 *   POST e2e.apps.rotateIdentity { appId }  a new key pair for the app: its room keys re-wrapped, the new public key published
 */
import { Apps } from '@rocket.chat/apps';

import { getE2EEAppsHost, withAppHost } from '../../../../server/services/e2ee-apps/host';
import { rocketChatPorts } from '../../../../server/services/e2ee-apps/ports';
import {
	E2EEAppsRestError,
	assertMayManageApps,
	assertMayManageRoomApps,
	isE2EEAppsAppProps,
	isE2EEAppsListProps,
	isE2EEAppsRoomProps,
	postE2EEAppSystemMessage,
} from '../../../../server/services/e2ee-apps/rest';
import { API } from '../api';

function appName(appId: string): string {
	const app = Apps.self?.getManager()?.getOneById(appId);
	if (!app) {
		throw new E2EEAppsRestError('error-app-not-found', 'no such app');
	}
	return app.getName();
}

function failure(error: unknown) {
	if (error instanceof E2EEAppsRestError) {
		return API.v1.failure({ errorType: error.errorType, error: error.message });
	}
	const code = (error as { code?: unknown })?.code;
	if (typeof code === 'string' && /^(HOST|KEYSTORE|E2EE)_[A-Z_]+$/.test(code)) {
		return API.v1.failure({ errorType: code, error: code });
	}
	throw error;
}

async function requireHost() {
	const host = await getE2EEAppsHost();
	if (!host) {
		throw new E2EEAppsRestError('error-e2ee-apps-disabled', 'E2EE for apps is off on this server');
	}
	return host;
}

API.v1.addRoute(
	'e2e.apps.authorize',
	{ authRequired: true, validateParams: isE2EEAppsRoomProps },
	{
		async post() {
			try {
				const { appId, rid } = this.bodyParams;
				await requireHost();
				await assertMayManageRoomApps(this.userId, rid);
				const name = appName(appId);
				const authorization = await withAppHost(appId, (service) => service.authorizeRoom(appId, rid, this.userId));
				await postE2EEAppSystemMessage('authorized', rid, name, this.user);
				return API.v1.success({ appId, rid, authorization });
			} catch (error) {
				return failure(error);
			}
		},
	},
);

API.v1.addRoute(
	'e2e.apps.revoke',
	{ authRequired: true, validateParams: isE2EEAppsRoomProps },
	{
		async post() {
			try {
				const { appId, rid } = this.bodyParams;
				await requireHost();
				await assertMayManageRoomApps(this.userId, rid);
				const name = appName(appId);
				const revoked = Boolean(await withAppHost(appId, (service) => service.revokeRoom(appId, rid, this.userId)));
				if (revoked) {
					await postE2EEAppSystemMessage('revoked', rid, name, this.user);
				}
				return API.v1.success({ appId, rid, revoked, roomKeyResetRecommended: revoked });
			} catch (error) {
				return failure(error);
			}
		},
	},
);

API.v1.addRoute(
	'e2e.apps.list',
	{ authRequired: true, validateParams: isE2EEAppsListProps },
	{
		async get() {
			try {
				const { rid } = this.queryParams;
				const { store } = await requireHost();
				await assertMayManageRoomApps(this.userId, rid);
				const apps = [];
				for (const appId of rocketChatPorts.apps.e2eeApps()) {
					const grant = (await store.listAuthorizations(appId)).find((authorization) => authorization.roomId === rid);
					if (grant) {
						apps.push({ appId, name: appName(appId), grantedBy: grant.grantedBy, grantedAt: new Date(grant.grantedAt) });
					}
				}
				return API.v1.success({ rid, apps });
			} catch (error) {
				return failure(error);
			}
		},
	},
);

API.v1.addRoute(
	'e2e.apps.rotateIdentity',
	{ authRequired: true, validateParams: isE2EEAppsAppProps },
	{
		async post() {
			try {
				const { appId } = this.bodyParams;
				await requireHost();
				await assertMayManageApps(this.userId);
				appName(appId);
				const report = await withAppHost(appId, (service) => service.rotateAppIdentity(appId));
				// Counts and the new key version only: the public key is on the app user already.
				return API.v1.success({
					appId,
					keyVersion: report?.keyVersion,
					resumed: report?.resumed,
					keysRewrapped: report?.keysRewrapped,
					keysUnreadable: report?.keysUnreadable,
				});
			} catch (error) {
				return failure(error);
			}
		},
	},
);
