// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
export declare function notifyOnRoomChangedById(rid: string): Promise<void>;
export declare function notifyOnSubscriptionChangedById(id: string): Promise<void>;
export declare function notifyOnUserChange(change: {
	id: string;
	clientAction: 'inserted' | 'removed' | 'updated';
	diff?: Record<string, unknown>;
}): Promise<void>;
