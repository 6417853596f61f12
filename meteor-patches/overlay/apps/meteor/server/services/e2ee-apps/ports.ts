/**
 * rc-e2ee: the host service's six ports over Rocket.Chat's models, each write followed by the
 * `notifyOn…` broadcast Rocket.Chat's own code sends after it (clients and other instances see the
 * change). Only generic model calls (`findOne…`, `find`, `updateOne`) and the E2EE queue methods
 * Rocket.Chat's `handleSuggestedGroupKey` uses, so a model refactor shows up in one place.
 */
import { Apps } from '@rocket.chat/apps';
import { e2eeCapabilities, e2eeView } from '@rocket.chat/apps/dist/server/e2ee/hostView';
import { executeE2EEListener } from '@rocket.chat/apps/dist/server/e2ee/listenerExecutor';
import { AppInterface } from '@rocket.chat/apps-engine/definition/metadata';
import type { IMessage, IRoom, ISubscription } from '@rocket.chat/core-typings';
import { Messages, Rooms, Subscriptions, Users } from '@rocket.chat/models';
import type {
	AppsPort,
	EventsPort,
	HostEvent,
	HostPorts,
	MessageDoc,
	MessagesPort,
	OutgoingEncryptedMessage,
	RoomDoc,
	RoomsPort,
	SubscriptionDoc,
	SubscriptionRoomKeys,
	SubscriptionsPort,
	UsersPort,
} from 'rc-e2ee';

import { knownAppUser } from './appUsers';
import { notifyOnRoomChangedById, notifyOnSubscriptionChangedById, notifyOnUserChange } from '../../../app/lib/server/lib/notifyListener';
import { executeSendMessage } from '../../../app/lib/server/methods/sendMessage';

const SUBSCRIPTION_KEYS = { _id: 1, rid: 1, E2EKey: 1, E2ESuggestedKey: 1, oldRoomKeys: 1, suggestedOldRoomKeys: 1 } as const;
const ROOM_FIELDS = { _id: 1, encrypted: 1, e2eKeyId: 1, usersWaitingForE2EKeys: 1, ro: 1 } as const;
const MESSAGE_FIELDS = { _id: 1, rid: 1, t: 1, msg: 1, content: 1, u: 1, tmid: 1 } as const;

function toSubscriptionDoc(
	sub: Pick<ISubscription, 'rid' | 'E2EKey' | 'E2ESuggestedKey' | 'oldRoomKeys' | 'suggestedOldRoomKeys'>,
): SubscriptionDoc {
	return {
		rid: sub.rid,
		...(sub.E2EKey && { E2EKey: sub.E2EKey }),
		...(sub.E2ESuggestedKey && { E2ESuggestedKey: sub.E2ESuggestedKey }),
		...(sub.oldRoomKeys && { oldRoomKeys: sub.oldRoomKeys }),
		...(sub.suggestedOldRoomKeys && { suggestedOldRoomKeys: sub.suggestedOldRoomKeys }),
	};
}

function toRoomDoc(room: Pick<IRoom, '_id' | 'encrypted' | 'e2eKeyId' | 'usersWaitingForE2EKeys' | 'ro'>): RoomDoc {
	return {
		_id: room._id,
		...(room.encrypted !== undefined && { encrypted: room.encrypted }),
		...(room.e2eKeyId && { e2eKeyId: room.e2eKeyId }),
		...(room.usersWaitingForE2EKeys && { usersWaitingForE2EKeys: room.usersWaitingForE2EKeys }),
		...(room.ro !== undefined && { ro: room.ro }),
	};
}

function toMessageDoc(message: Pick<IMessage, '_id' | 'rid' | 't' | 'msg' | 'content' | 'u' | 'tmid'>): MessageDoc {
	return {
		_id: message._id,
		rid: message.rid,
		u: { _id: message.u._id },
		...(message.t && { t: message.t }),
		...(typeof message.msg === 'string' && { msg: message.msg }),
		...(message.content && { content: { ...message.content } }),
		...(message.tmid && { tmid: message.tmid }),
	};
}

/** `users.e2e.public_key` of an app user only: a bug here can never replace a person's key. */
export const usersPort: UsersPort = {
	async setPublicKey(userId, publicKey) {
		const { modifiedCount } = await Users.updateOne({ _id: userId, type: 'app' }, { $set: { 'e2e.public_key': publicKey } });
		if (modifiedCount) {
			void notifyOnUserChange({ clientAction: 'updated', id: userId, diff: { 'e2e.public_key': publicKey } });
		}
	},
};

export const roomsPort: RoomsPort = {
	async findById(roomId) {
		const room = await Rooms.findOneById<Pick<IRoom, '_id' | 'encrypted' | 'e2eKeyId' | 'usersWaitingForE2EKeys' | 'ro'>>(roomId, {
			projection: ROOM_FIELDS,
		});
		return room ? toRoomDoc(room) : undefined;
	},
	async addToWaitingQueue(roomId, userId) {
		await Rooms.addUserIdToE2EEQueueByRoomIds([roomId], userId);
		void notifyOnRoomChangedById(roomId);
	},
	async removeFromWaitingQueue(roomId, userId) {
		await Rooms.removeUsersFromE2EEQueueByRoomId(roomId, [userId]);
		void notifyOnRoomChangedById(roomId);
	},
};

async function subscriptionOf(roomId: string, userId: string) {
	return Subscriptions.findOneByRoomIdAndUserId(roomId, userId, { projection: SUBSCRIPTION_KEYS });
}

/** Writes by the subscription's `_id`, then `notifyOnSubscriptionChangedById`, as `handleSuggestedGroupKey` does. */
async function updateSubscription(roomId: string, userId: string, update: Parameters<typeof Subscriptions.updateOne>[1]): Promise<void> {
	const sub = await subscriptionOf(roomId, userId);
	if (!sub) {
		return;
	}
	const { modifiedCount } = await Subscriptions.updateOne({ _id: sub._id }, update);
	if (modifiedCount) {
		void notifyOnSubscriptionChangedById(sub._id);
	}
}

/**
 * The filter of an identity rotation's compare-and-set: the subscription still holds the keys the
 * rotation read (the same `E2EKey` or none; the same `oldRoomKeys`, by count and each entry's
 * `E2EKey` in order), so a reset or an accept that landed meanwhile makes the write match nothing.
 */
export function sameRoomKeys(previous: SubscriptionRoomKeys): Record<string, unknown> {
	const old = previous.oldRoomKeys ?? [];
	const filter: Record<string, unknown> = { E2EKey: previous.E2EKey ?? { $exists: false } };
	if (!old.length) {
		filter.$or = [{ oldRoomKeys: { $exists: false } }, { oldRoomKeys: { $size: 0 } }];
		return filter;
	}
	filter.oldRoomKeys = { $size: old.length };
	old.forEach((entry, i) => {
		filter[`oldRoomKeys.${i}.E2EKey`] = entry.E2EKey;
	});
	return filter;
}

/** The rotation's write: the re-wrapped keys set, an absent `E2EKey` or an empty `oldRoomKeys` unset. */
export function roomKeysUpdate(keys: SubscriptionRoomKeys): Parameters<typeof Subscriptions.updateOne>[1] {
	const $set: Record<string, unknown> = {};
	const $unset: Record<string, 1> = {};
	if (keys.E2EKey) {
		$set.E2EKey = keys.E2EKey;
	} else {
		$unset.E2EKey = 1;
	}
	if (keys.oldRoomKeys?.length) {
		$set.oldRoomKeys = keys.oldRoomKeys;
	} else {
		$unset.oldRoomKeys = 1;
	}
	return { ...(Object.keys($set).length > 0 && { $set }), ...(Object.keys($unset).length > 0 && { $unset }) };
}

export const subscriptionsPort: SubscriptionsPort = {
	async find(roomId, userId) {
		const sub = await subscriptionOf(roomId, userId);
		return sub ? toSubscriptionDoc(sub) : undefined;
	},
	async listWithKeys(userId) {
		const subs = await Subscriptions.find(
			{ 'u._id': userId, '$or': [{ E2EKey: { $exists: true } }, { 'oldRoomKeys.0': { $exists: true } }] },
			{ projection: SUBSCRIPTION_KEYS },
		).toArray();
		return subs.map(toSubscriptionDoc);
	},
	async replaceRoomKeys(roomId, userId, previous, keys) {
		const { modifiedCount, matchedCount } = await Subscriptions.updateOne(
			{ 'rid': roomId, 'u._id': userId, ...sameRoomKeys(previous) },
			roomKeysUpdate(keys),
		);
		if (modifiedCount) {
			const sub = await subscriptionOf(roomId, userId);
			if (sub) {
				void notifyOnSubscriptionChangedById(sub._id);
			}
		}
		return matchedCount > 0;
	},
	async acceptSuggestedKey(roomId, userId, keys) {
		await updateSubscription(roomId, userId, {
			$set: { E2EKey: keys.E2EKey, ...(keys.oldRoomKeys.length > 0 && { oldRoomKeys: keys.oldRoomKeys }) },
			$unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 },
		});
	},
	async clearSuggestedKey(roomId, userId) {
		await updateSubscription(roomId, userId, { $unset: { E2ESuggestedKey: 1, suggestedOldRoomKeys: 1 } });
	},
	async clearRoomKeys(roomId, userId) {
		await updateSubscription(roomId, userId, { $unset: { E2EKey: 1, oldRoomKeys: 1 } });
	},
};

/** The core message Rocket.Chat's send path takes: exactly what a client sends for an encrypted message. */
export function toCoreMessage(message: OutgoingEncryptedMessage): Pick<IMessage, 'rid' | 't' | 'msg' | 'content' | 'parseUrls' | 'tmid'> {
	const { algorithm, kid, iv, ciphertext } = message.content;
	return {
		rid: message.rid,
		t: 'e2e',
		msg: '',
		content: { algorithm, kid, iv, ciphertext },
		parseUrls: false,
		...(message.tmid && { tmid: message.tmid }),
	};
}

export const messagesPort: MessagesPort = {
	async findById(messageId) {
		const message = await Messages.findOneById<Pick<IMessage, '_id' | 'rid' | 't' | 'msg' | 'content' | 'u' | 'tmid'>>(messageId, {
			projection: MESSAGE_FIELDS,
		});
		return message ? toMessageDoc(message) : undefined;
	},
	async newestUnderKid(roomId, kid, limit) {
		const messages = await Messages.find<Pick<IMessage, '_id' | 'rid' | 't' | 'msg' | 'content' | 'u' | 'tmid'>>(
			{ 'rid': roomId, 't': 'e2e', 'content.kid': kid, '_hidden': { $ne: true } },
			{ projection: MESSAGE_FIELDS, sort: { ts: -1 }, limit },
		).toArray();
		return messages.map(toMessageDoc);
	},
	async send(userId, message) {
		// Rocket.Chat's send path: membership, read-only rooms, E2E_Allow_Unencrypted_Messages, callbacks.
		const sent = await executeSendMessage(userId, toCoreMessage(message));
		return sent._id;
	},
};

export const appsPort: AppsPort = {
	appUserId: (appId) => knownAppUser(appId),
	hasPermission(appId, permission) {
		const capabilities = e2eeCapabilities(appId);
		return permission === 'e2ee.read' ? capabilities.read : capabilities.write;
	},
	async isMember(roomId, userId) {
		return Boolean(await Subscriptions.findOneByRoomIdAndUserId(roomId, userId, { projection: { _id: 1 } }));
	},
	e2eeApps() {
		const apps = Apps.self?.getManager()?.get({ enabled: true }) ?? [];
		return apps
			.map((app) => app.getID())
			.filter((appId) => {
				const capabilities = e2eeCapabilities(appId);
				return capabilities.read || capabilities.write;
			});
	},
};

/** The Apps-Engine context of a host event: the room as apps see it (the rooms converter). */
async function appRoom(roomId: string) {
	return Apps.self?.getConverters()?.get('rooms').convertById(roomId);
}

const EVENT_INTERFACES = {
	roomKeyReady: AppInterface.IPostE2EERoomKeyReady,
	roomKeyRotated: AppInterface.IPostE2EERoomKeyRotated,
	accessRevoked: AppInterface.IPostE2EEAccessRevoked,
} as const;

/**
 * The key events. Each names one app, and only that app may hear it (it tells which rooms the
 * app can read), so it is not broadcast through `executeListener` (which would reach every
 * listening app): the Apps-Engine series' E2EE executor is called for that one app, when it
 * listens to the event and holds an E2EE permission, through the same per-app view as every
 * other listener call.
 */
export const eventsPort: EventsPort = {
	async emit(event: HostEvent) {
		const manager = Apps.self?.isLoaded() ? Apps.self.getManager() : undefined;
		if (!manager) {
			return;
		}
		const int = EVENT_INTERFACES[event.type];
		if (
			!manager
				.getListenerManager()
				.getListeners(int)
				.some((app) => app.getID() === event.appId)
		) {
			return;
		}
		const room = await appRoom(event.roomId);
		let context: unknown;
		switch (event.type) {
			case 'roomKeyReady':
				context = room && { room, kid: event.kid };
				break;
			case 'roomKeyRotated':
				context = room && { room, previousKid: event.previousKid, newKid: event.newKid };
				break;
			case 'accessRevoked':
				context = { roomId: event.roomId, ...(room && { room }), reason: event.reason };
				break;
		}
		if (!context) {
			return;
		}
		await executeE2EEListener(
			int,
			context,
			[event.appId],
			(appId) => {
				const app = manager.getOneById(appId);
				return app && e2eeView(app);
			},
			e2eeCapabilities,
		);
	},
};

export const rocketChatPorts: HostPorts = {
	users: usersPort,
	rooms: roomsPort,
	subscriptions: subscriptionsPort,
	messages: messagesPort,
	apps: appsPort,
	events: eventsPort,
};
