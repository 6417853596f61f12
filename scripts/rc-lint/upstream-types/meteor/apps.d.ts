// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
import type { ProxiedApp } from '../packages/apps/src/server/ProxiedApp';

export interface IAppServerOrchestrator {
	debugLog(...args: unknown[]): void;
}

interface IListenerManager {
	getListeners(int: string): ProxiedApp[];
}

interface IAppManagerLike {
	get(filter?: { enabled?: boolean }): ProxiedApp[];
	getOneById(appId: string): ProxiedApp | undefined;
	getListenerManager(): IListenerManager;
}

interface IRoomsConverter {
	convertById(roomId: string): Promise<Record<string, unknown> | undefined>;
}

interface IOrchestrator extends IAppServerOrchestrator {
	isLoaded(): boolean;
	getManager(): IAppManagerLike;
	getConverters(): { get(name: 'rooms'): IRoomsConverter };
}

export declare const Apps: {
	self?: IOrchestrator;
	isLoaded(): boolean;
};
