/**
 * rc-e2ee: the rules of the admin endpoints (`e2e.apps.authorize`, `e2e.apps.revoke`,
 * `e2e.apps.list`, `e2e.apps.rotateIdentity`): their input schemas (ajv, as Rocket.Chat's other routes), who may call them,
 * and the system messages a grant or a revocation posts in the room.
 *
 * Who: `manage-apps`, and for the room either its ownership or `toggle-room-e2e-encryption`
 * there (the permission that resets the room's key): an app admin alone cannot open a room to an
 * app, nor can a room owner install one. An identity rotation concerns the app alone: `manage-apps`.
 */
import { Message } from '@rocket.chat/core-services';
import type { IMessage, IRoom, IUser } from '@rocket.chat/core-typings';
import { Rooms, Subscriptions } from '@rocket.chat/models';
import { ajv } from '@rocket.chat/rest-typings';

import { hasPermissionAsync } from '../../../app/authorization/server/functions/hasPermission';

export type E2EEAppsRestErrorCode =
	| 'error-not-allowed'
	| 'error-room-not-found'
	| 'error-room-not-encrypted'
	| 'error-app-not-found'
	| 'error-e2ee-apps-disabled';

/** A refusal of the endpoints, with a stable `errorType` (Rocket.Chat's `error-…` convention). */
export class E2EEAppsRestError extends Error {
	constructor(
		public readonly errorType: E2EEAppsRestErrorCode,
		message: string,
	) {
		super(message);
		this.name = 'E2EEAppsRestError';
	}
}

/** Apps-Engine app ids are UUIDs; room ids are Meteor ids (or two for a direct message). */
const APP_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const ROOM_ID_PATTERN = '^[A-Za-z0-9_-]{1,128}$';

export type E2EEAppsRoomProps = { appId: string; rid: string };
export type E2EEAppsAppProps = { appId: string };
export type E2EEAppsListProps = { rid: string };

export const isE2EEAppsRoomProps = ajv.compile<E2EEAppsRoomProps>({
	type: 'object',
	properties: {
		appId: { type: 'string', pattern: APP_ID_PATTERN },
		rid: { type: 'string', pattern: ROOM_ID_PATTERN },
	},
	required: ['appId', 'rid'],
	additionalProperties: false,
});

export const isE2EEAppsAppProps = ajv.compile<E2EEAppsAppProps>({
	type: 'object',
	properties: {
		appId: { type: 'string', pattern: APP_ID_PATTERN },
	},
	required: ['appId'],
	additionalProperties: false,
});

export const isE2EEAppsListProps = ajv.compile<E2EEAppsListProps>({
	type: 'object',
	properties: {
		rid: { type: 'string', pattern: ROOM_ID_PATTERN },
	},
	required: ['rid'],
	additionalProperties: false,
});

/** Refuses unless `userId` may manage apps: an identity rotation concerns the app, not one room. */
export async function assertMayManageApps(userId: string): Promise<void> {
	if (!(await hasPermissionAsync(userId, 'manage-apps'))) {
		throw new E2EEAppsRestError('error-not-allowed', 'manage-apps is required');
	}
}

/** The encrypted room, when `userId` may manage apps there; refuses with a typed error otherwise. */
export async function assertMayManageRoomApps(userId: string, rid: string): Promise<Pick<IRoom, '_id' | 'encrypted' | 't'>> {
	await assertMayManageApps(userId);
	const room = await Rooms.findOneById<Pick<IRoom, '_id' | 'encrypted' | 't'>>(rid, { projection: { _id: 1, encrypted: 1, t: 1 } });
	if (!room) {
		throw new E2EEAppsRestError('error-room-not-found', 'no such room');
	}
	const subscription = await Subscriptions.findOneByRoomIdAndUserId(rid, userId, { projection: { roles: 1 } });
	const owner = Boolean(subscription?.roles?.includes('owner'));
	if (!owner && !(await hasPermissionAsync(userId, 'toggle-room-e2e-encryption', rid))) {
		throw new E2EEAppsRestError('error-not-allowed', 'room ownership or toggle-room-e2e-encryption is required');
	}
	if (!room.encrypted) {
		throw new E2EEAppsRestError('error-room-not-encrypted', 'the room is not end-to-end encrypted');
	}
	return room;
}

/**
 * The system messages' types and i18n keys (English strings in meteor-patches/8.8/README.md):
 * `msg` is the app's name, the sender the admin who acted.
 */
export const E2EE_APP_SYSTEM_MESSAGES = {
	authorized: { type: 'e2ee-app-authorized', i18n: 'E2EE_App_Authorized_In_Room' },
	revoked: { type: 'e2ee-app-revoked', i18n: 'E2EE_App_Revoked_From_Room_Reset_Recommended' },
} as const;

/** Posts the visible record of a grant or a revocation in the room, as the admin who made it. */
export async function postE2EEAppSystemMessage(
	kind: keyof typeof E2EE_APP_SYSTEM_MESSAGES,
	rid: string,
	appName: string,
	actor: Pick<IUser, '_id' | 'username' | 'name'>,
): Promise<void> {
	const { type, i18n } = E2EE_APP_SYSTEM_MESSAGES[kind];
	await Message.saveSystemMessage(type as string as NonNullable<IMessage['t']>, rid, appName, actor, {
		i18nKey: i18n,
	} as Partial<IMessage>);
}
