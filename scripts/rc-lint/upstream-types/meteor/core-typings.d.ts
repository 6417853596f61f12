// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
export type EncryptedContent = { algorithm: 'rc.v2.aes-sha2'; kid: string; iv: string; ciphertext: string } | { algorithm: 'rc.v1.aes-sha2'; ciphertext: string };

export interface IUser {
	_id: string;
	username?: string;
	name?: string;
	type?: string;
	appId?: string;
	e2e?: { public_key?: string; private_key?: string };
}

export interface IRoom {
	_id: string;
	t: string;
	encrypted?: boolean;
	e2eKeyId?: string;
	usersWaitingForE2EKeys?: Array<{ userId: string; ts: Date }>;
	ro?: boolean;
}

export interface IOldRoomKey {
	e2eKeyId: string;
	ts: Date;
	E2EKey: string;
}

export interface ISubscription {
	_id: string;
	rid: string;
	u: { _id: string; username?: string };
	roles?: string[];
	E2EKey?: string;
	E2ESuggestedKey?: string;
	oldRoomKeys?: IOldRoomKey[];
	suggestedOldRoomKeys?: IOldRoomKey[];
}

// A few of the union's members (packages/message-types registers each type by one of them).
export type MessageTypesValues = NonNullable<IMessage['t']>;

export interface IMessage {
	_id: string;
	rid: string;
	msg: string;
	// A few of MessageTypesValues' members (the real union is longer).
	t?: 'e2e' | 'uj' | 'ul' | 'ru' | 'au' | 'room_e2e_enabled' | 'room_e2e_disabled' | 'message_pinned_e2e';
	tmid?: string;
	ts: Date;
	u: { _id: string; username?: string; name?: string };
	e2e?: 'pending' | 'done';
	content?: EncryptedContent;
	parseUrls?: boolean;
}
