import type { IE2EEMessagePayload } from './IE2EEMessagePayload';
import type { IMessage } from '../messages/IMessage';

/** A room key as Rocket.Chat stores it for the app's user: wrapped to the app's public key. */
export interface IE2EEEncryptedRoomKey {
	roomId: string;
	/** Id of the room key. */
	kid: string;
	/** The subscription's `E2EKey` (or `oldRoomKeys` entry): kid followed by the RSA-OAEP wrapped key. */
	encryptedKey: string;
	/** Whether this is the room's current key (`rooms.e2eKeyId`). */
	current: boolean;
}

/** One room key the app holds, without key material. */
export interface IE2EERoomKeyInfo {
	kid: string;
	/** When the key stopped being current; absent for the current key. */
	ts?: Date;
	current: boolean;
}

/** One message of a `decryptMessages` page: its payload, or why this message alone could not be read. */
export type IE2EEDecryptResult =
	| { payload: IE2EEMessagePayload; error?: undefined }
	| {
			payload?: undefined;
			/** A stable code (`KEYSTORE_NO_ROOM_KEY`, `E2EE_DECRYPT_FAILED`, `E2EE_BAD_ARGUMENT`, …) and a fixed text. */
			error: { code: string; message: string };
	  };

/**
 * Reads end-to-end encrypted rooms. Every call needs the `e2ee.read` permission, an admin's
 * authorization of the app for the room and the app user's membership with the room key; the
 * host derives the calling app from the connection, never from the arguments.
 */
export interface IE2EERead {
	/** Whether this app may read the room now (permission, authorization, key held). */
	isAuthorized(roomId: string): Promise<boolean>;

	/** The room key wrapped to the app's public key: the current one, or the one named by `kid`. */
	getEncryptedRoomKey(roomId: string, kid?: string): Promise<IE2EEEncryptedRoomKey | undefined>;

	/** The room keys the app holds, newest first. */
	getKeyHistory(roomId: string): Promise<Array<IE2EERoomKeyInfo>>;

	/** Decrypts an encrypted message of an authorized room; the key is picked by the message's kid. */
	decryptMessage(message: IMessage): Promise<IE2EEMessagePayload>;

	/**
	 * Decrypts a page of an authorized room's history in one call (an archiver reading
	 * `getRoomReader().getMessages()`), off the host's event loop: at most
	 * `E2EE_MAX_BATCH_MESSAGES` messages of that room, each read from its `encryptedContent`.
	 * Each entry is that message's payload or its error, in order; the permission, authorization
	 * and membership are checked once, and a refusal rejects the whole page.
	 */
	decryptMessages(roomId: string, messages: Array<IMessage>): Promise<Array<IE2EEDecryptResult>>;
}
