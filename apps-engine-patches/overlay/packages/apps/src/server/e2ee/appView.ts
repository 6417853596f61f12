/**
 * The per-app view used by the listener manager: wraps an app so that every `call` hands it
 * only what its E2EE capabilities allow, and every message it returns is made safe to pass on.
 * No imports, so the tests run it directly; `hostView.ts` binds it to the permission manager.
 */
import { mergeAppResult, viewForApp } from './viewForApp';
import type { IE2EECapabilities } from './viewForApp';

/** The part of a ProxiedApp the view needs. */
export interface ICallableApp {
	getID(): string;
	call(method: string, ...args: Array<any>): Promise<any>;
}

/** Handlers whose result is the (possibly changed) message or room that goes on to the next app and to the database. */
export const RESULT_RETURNING_METHODS: ReadonlySet<string> = new Set([
	'executePreMessageSentExtend',
	'executePreMessageSentModify',
	'executePreMessageUpdatedExtend',
	'executePreMessageUpdatedModify',
	'executePreRoomCreateExtend',
	'executePreRoomCreateModify',
]);

export function withE2EEView<A extends ICallableApp>(app: A, capabilitiesOf: (appId: string) => IE2EECapabilities): A {
	if (!app) {
		return app;
	}
	const call = async (method: string, ...args: Array<unknown>): Promise<unknown> => {
		// Looked up on every call: an admin may grant or revoke a permission while the app runs.
		const caps = capabilitiesOf(app.getID());
		const result: unknown = await app.call(method, ...args.map((arg) => viewForApp(arg, caps)));
		return RESULT_RETURNING_METHODS.has(method) ? mergeAppResult(args[0], result, caps) : result;
	};
	return new Proxy(app, {
		get(target, property) {
			if (property === 'call') {
				return call;
			}
			const value: unknown = Reflect.get(target, property, target);
			return typeof value === 'function' ? (value as (...args: Array<unknown>) => unknown).bind(target) : value;
		},
	});
}
