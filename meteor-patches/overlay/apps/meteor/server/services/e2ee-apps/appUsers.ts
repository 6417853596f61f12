/**
 * rc-e2ee: which user is an app's user. The host service's `AppsPort.appUserId` is synchronous (as
 * Apps-Engine's permission check is), so every entry point resolves the app's user first
 * (`Users.findOneByAppId`, the lookup Rocket.Chat's own AppUserBridge uses) and the port reads it
 * from here.
 */
import { Users } from '@rocket.chat/models';

const byAppId = new Map<string, string>();

/** The app's user id, read from `users` (`type: 'app'`, `appId`) and remembered; `undefined` when the app has none. */
export async function resolveAppUser(appId: string): Promise<string | undefined> {
	const user = await Users.findOneByAppId(appId, { projection: { _id: 1, type: 1 } });
	if (user?.type !== 'app') {
		byAppId.delete(appId);
		return undefined;
	}
	byAppId.set(appId, user._id);
	return user._id;
}

/**
 * The app's user id as last resolved, else resolved now: the bridge's path, so that a read answered
 * from the key store's memory costs no query. An app's user changes only when the app is
 * reinstalled, and enabling it resolves again (hooks.ts).
 */
export async function ensureAppUser(appId: string): Promise<string | undefined> {
	return byAppId.get(appId) ?? resolveAppUser(appId);
}

/** The app's user id as last resolved. */
export function knownAppUser(appId: string): string | undefined {
	return byAppId.get(appId);
}

/** The app a user belongs to, when it is an app user (`type: 'app'` with an `appId`); remembered too. */
export function appOfUser(user: { _id: string; type?: string; appId?: string } | null | undefined): string | undefined {
	if (user?.type !== 'app' || typeof user.appId !== 'string') {
		return undefined;
	}
	byAppId.set(user.appId, user._id);
	return user.appId;
}

/** The app a user id belongs to, read from `users`. */
export async function appOfUserId(userId: string): Promise<string | undefined> {
	return appOfUser(await Users.findOneById(userId, { projection: { _id: 1, type: 1, appId: 1 } }));
}
