/**
 * Dispatch of the E2EE room key events. Only apps granted `e2ee.read` or `e2ee.write` hear them:
 * they tell which rooms the app can read, which is itself worth keeping from other apps.
 * No imports, so the tests run it directly.
 */
import type { ICallableApp } from './appView';
import type { IE2EECapabilities } from './viewForApp';

/** JSON-RPC "method not found", which the runtime returns for an optional `check*` an app did not write. */
export const JSONRPC_METHOD_NOT_FOUND = -32601;

export const E2EE_EVENTS: Readonly<Record<string, { check: string; execute: string }>> = Object.freeze({
	IPostE2EERoomKeyReady: { check: 'checkPostE2EERoomKeyReady', execute: 'executePostE2EERoomKeyReady' },
	IPostE2EERoomKeyRotated: { check: 'checkPostE2EERoomKeyRotated', execute: 'executePostE2EERoomKeyRotated' },
	IPostE2EEAccessRevoked: { check: 'checkPostE2EEAccessRevoked', execute: 'executePostE2EEAccessRevoked' },
});

export function isE2EEEvent(event: string): boolean {
	return Object.prototype.hasOwnProperty.call(E2EE_EVENTS, event);
}

export async function executeE2EEListener(
	event: string,
	context: unknown,
	appIds: ReadonlyArray<string> | undefined,
	getApp: (appId: string) => ICallableApp | undefined,
	capabilitiesOf: (appId: string) => IE2EECapabilities,
): Promise<void> {
	const methods = E2EE_EVENTS[event];
	if (!methods) {
		throw new Error(`not an E2EE event: ${event}`);
	}
	for (const appId of appIds ?? []) {
		const caps = capabilitiesOf(appId);
		const app = getApp(appId);
		if (!app || !(caps.read || caps.write)) {
			continue;
		}
		const continueOn = await app.call(methods.check, context).catch((error: { code?: number }) => {
			if (error?.code === JSONRPC_METHOD_NOT_FOUND) {
				return true;
			}
			throw error;
		});
		if (continueOn) {
			await app.call(methods.execute, context);
		}
	}
}

/**
 * An E2EE event as the host raises it through the listener manager: it concerns one app (its
 * key became ready, its room's key was reset, its access ended), so it names that app. Telling
 * other apps would tell them which rooms that app can read.
 */
export interface IE2EETargetedEvent<C> {
	appId: string;
	context: C;
}

/** Delivers `data.context` to the app `data` names, if it listens and is entitled; nobody else hears it. */
export function executeTargetedE2EEEvent(
	event: string,
	data: unknown,
	appIds: ReadonlyArray<string> | undefined,
	getApp: (appId: string) => ICallableApp | undefined,
	capabilitiesOf: (appId: string) => IE2EECapabilities,
): Promise<void> {
	const target = data !== null && typeof data === 'object' ? (data as { appId?: unknown }).appId : undefined;
	if (typeof target !== 'string' || target === '') {
		return Promise.reject(new Error(`an E2EE event names the app it is for ({ appId, context }): ${event}`));
	}
	const listening = (appIds ?? []).filter((appId) => appId === target);
	return executeE2EEListener(event, (data as { context?: unknown }).context, listening, getApp, capabilitiesOf);
}
