import type { IRoom } from '../rooms/IRoom';
import type { IUser } from '../users/IUser';

/** The app user accepted a room key (after the host verified it) and can now read and write. */
export interface IE2EERoomKeyReadyContext {
	room: IRoom;
	/** Id of the key that became usable. */
	kid: string;
}

/**
 * The room's key was reset: keys cached by the app are stale until the new key is ready. Also sent,
 * without `newKid`, when the room was switched to unencrypted: the app holds no key for it until it
 * is switched back on and a member's client wraps the key to the app again.
 */
export interface IE2EERoomKeyRotatedContext {
	room: IRoom;
	previousKid?: string;
	/** The new key's id; absent when the room was switched to unencrypted. */
	newKid?: string;
	rotatedBy?: IUser;
}

export type E2EEAccessRevokedReason = 'authorization-revoked' | 'identity-revoked' | 'removed-from-room';

/** The app can no longer read or write the room. */
export interface IE2EEAccessRevokedContext {
	roomId: string;
	room?: IRoom;
	reason: E2EEAccessRevokedReason;
}
