import type { IModify, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IE2EEModify, IE2EERead } from '@rocket.chat/apps-engine/definition/e2ee';

/** What the server offers this app for encrypted rooms. */
export interface IE2EESupport {
	reader: IE2EERead;
	modifier: IE2EEModify;
	/** The server's E2EE_API_VERSION (0 when it cannot be read). */
	apiVersion: number;
}

/**
 * Whether the server runs the E2EE series: an upstream Rocket.Chat has no getE2EEReader/getE2EE,
 * and calling them would throw, so look before using them. Only type imports come from
 * definition/e2ee, since a value import fails to load on a server without that module.
 */
export function detectE2EE(read: IRead, modify: IModify, load?: (id: string) => unknown): IE2EESupport | undefined {
	const reader = read as Partial<IRead>;
	const modifier = modify as Partial<IModify>;
	if (typeof reader.getE2EEReader !== 'function' || typeof modifier.getE2EE !== 'function') {
		return undefined;
	}
	return { reader: reader.getE2EEReader(), modifier: modifier.getE2EE(), apiVersion: serverApiVersion(load) };
}

/** The server's E2EE API version, read from its copy of the definitions; 0 if it has none. */
export function serverApiVersion(load?: (id: string) => unknown): number {
	if (!load) {
		return 0;
	}
	try {
		const version = (load('@rocket.chat/apps-engine/definition/e2ee') as { E2EE_API_VERSION?: unknown }).E2EE_API_VERSION;
		return typeof version === 'number' ? version : 0;
	} catch {
		return 0;
	}
}
