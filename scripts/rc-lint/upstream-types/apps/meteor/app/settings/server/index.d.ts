// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists: `settings.get('Message_AlwaysSearchRegExp')` in messageSearch.ts), so that the type-aware
// rules of scripts/rc-lint see types. Never shipped nor run.
export declare const settings: {
	get<T = unknown>(id: string): T;
};
