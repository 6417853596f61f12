// Lint-time shape of a Rocket.Chat module the overlay imports by relative path (names and
// signatures only), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor
// run: the real module is in Rocket.Chat's tree.
export declare class ProxiedApp {
	getID(): string;

	getName(): string;

	call(method: string, ...args: Array<unknown>): Promise<unknown>;
}
