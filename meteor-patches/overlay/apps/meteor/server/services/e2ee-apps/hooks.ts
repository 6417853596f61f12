/**
 * rc-e2ee: what Rocket.Chat's E2EE and Apps code calls (the meteor series' hook lines) and the
 * callbacks registered at start (`startup.ts`). Every entry point is fire-and-forget for its
 * caller: it never throws into Rocket.Chat's flow, it logs instead.
 */
import type { IMessage, IRoom, IUser } from '@rocket.chat/core-typings';
import { Rooms } from '@rocket.chat/models';

import { appOfUser, appOfUserId, ensureAppUser } from './appUsers';
import { withAppHost, getE2EEAppsHost } from './host';
import { rocketChatPorts } from './ports';
import { SystemLogger } from '../../lib/logger/system';

const ENABLED_STATUSES: ReadonlySet<string> = new Set(['auto_enabled', 'manually_enabled']);

function logged(what: string): (error: unknown) => void {
	return (error) => SystemLogger.error({ msg: `rc-e2ee: ${what} failed`, err: error });
}

/**
 * The service's `AppsPort.appUserId` is synchronous: before a room-wide flow, the users of every
 * app with an E2EE permission are resolved, so none is skipped for being unknown here.
 */
async function resolveE2EEAppUsers(): Promise<void> {
	for (const appId of rocketChatPorts.apps.e2eeApps()) {
		await ensureAppUser(appId);
	}
}

/**
 * `provideUsersSuggestedGroupKeys` stored `E2ESuggestedKey` for these users of the room (and took
 * them out of the waiting queue): the app users among them get theirs judged by the service. A
 * refused key leaves the app user queued again, as Rocket.Chat's own reject does.
 */
export async function onE2EESuggestedKeysStored(roomId: string, userIds: ReadonlyArray<string>, suggestedBy: string): Promise<void> {
	if (!userIds.length || !(await getE2EEAppsHost().catch(() => undefined))) {
		return;
	}
	for (const userId of userIds) {
		const appId = await appOfUserId(userId);
		if (!appId) {
			continue;
		}
		await withAppHost(appId, async (service) => {
			const delivery = await service.onSuggestedKey(appId, userId, roomId, suggestedBy);
			if (delivery.outcome === 'rejected') {
				await rocketChatPorts.rooms.addToWaitingQueue(roomId, userId);
			}
		}).catch(logged('a suggested key for an app user'));
	}
}

/**
 * `resetRoomKey` replaced the room's key: the authorized apps are told, and their users queued
 * for the new key (Rocket.Chat queues at most 50 previous holders).
 */
export async function onE2EERoomKeyReset(roomId: string, previousKid: string | undefined, newKid: string): Promise<void> {
	try {
		const host = await getE2EEAppsHost();
		if (!host) {
			return;
		}
		await resolveE2EEAppUsers();
		const told = await host.service.onRoomKeyReset(roomId, previousKid, newKid);
		for (const appId of told) {
			const appUserId = await ensureAppUser(appId);
			if (appUserId && (await rocketChatPorts.apps.isMember(roomId, appUserId))) {
				await Rooms.addUserIdToE2EEQueueByRoomIds([roomId], appUserId);
			}
		}
	} catch (error) {
		logged('a room key reset')(error);
	}
}

/** An app was enabled (at install, by an admin, or at server start): an app with an E2EE permission gets its identity and keys. */
export async function onE2EEAppStatusChanged(appId: string, status: string): Promise<void> {
	if (!ENABLED_STATUSES.has(status)) {
		return;
	}
	await withAppHost(appId, async (service) => {
		if (!rocketChatPorts.apps.hasPermission(appId, 'e2ee.read') && !rocketChatPorts.apps.hasPermission(appId, 'e2ee.write')) {
			return;
		}
		await service.enableApp(appId);
	}).catch(logged('enabling an app'));
}

/** A saved message: an encrypted one may settle an app's provisional room key. */
export async function onE2EEMessageSaved(message: Pick<IMessage, '_id' | 'rid' | 't' | 'msg' | 'content' | 'u' | 'tmid'>): Promise<void> {
	if (message.t !== 'e2e' || !message.content) {
		return;
	}
	try {
		const host = await getE2EEAppsHost();
		await host?.service.onMessage({
			_id: message._id,
			rid: message.rid,
			t: message.t,
			u: { _id: message.u._id },
			content: { ...message.content },
			...(typeof message.msg === 'string' && { msg: message.msg }),
			...(message.tmid && { tmid: message.tmid }),
		});
	} catch (error) {
		logged('settling a provisional room key')(error);
	}
}

/** A user left or was removed from a room: when it is an app user, its app loses the room at once. */
export async function onE2EEMemberLeft(user: Pick<IUser, '_id' | 'type'> & { appId?: string }, room: Pick<IRoom, '_id'>): Promise<void> {
	const appId = appOfUser(user);
	if (!appId) {
		return;
	}
	await withAppHost(appId, (service) => service.onAppUserLeft(appId, room._id)).catch(logged('an app user leaving a room'));
}

/** `e2e.setRoomKeyID` set the room's first key id: the authorized app users wait for the key with the other members. */
export async function onE2EERoomKeyIdSet(roomId: string, keyId: string): Promise<void> {
	try {
		const host = await getE2EEAppsHost();
		if (!host) {
			return;
		}
		await resolveE2EEAppUsers();
		await host.service.onRoomKeyIdSet(roomId, keyId);
	} catch (error) {
		logged("a room's first key id")(error);
	}
}

/**
 * `saveRoomEncrypted` switched the room's encryption (after Rocket.Chat's permission check and
 * write): the service reads the room and, when it is off, unsets the app users' room keys.
 */
export async function onE2EERoomEncryptionSaved(roomId: string): Promise<void> {
	try {
		const host = await getE2EEAppsHost();
		if (!host) {
			return;
		}
		await resolveE2EEAppUsers();
		await host.service.onRoomEncryptionChanged(roomId);
	} catch (error) {
		logged('a room encryption switch')(error);
	}
}

/**
 * `resetUserE2EEncriptionKey` reset a user's E2EE key and queued it in `roomIds`: when it is an app
 * user, its identity is rotated and the new public key published (an app user has no client to
 * make one), and it leaves the queues of the rooms its app is not authorized for.
 */
export async function onE2EEUserKeyReset(userId: string, roomIds: ReadonlyArray<string> = []): Promise<void> {
	try {
		if (!(await getE2EEAppsHost())) {
			return;
		}
		const appId = await appOfUserId(userId);
		if (!appId) {
			return;
		}
		await withAppHost(appId, (service) => service.onAppUserKeyReset(appId, roomIds));
	} catch (error) {
		logged("an app user's key reset")(error);
	}
}
