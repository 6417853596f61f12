/**
 * The bridge caller rule: no bridge call from an app's runtime names another app. Both runtime
 * controller layouts call `guardBridgeParams` from their `bridges:` handler, before the call
 * reaches the bridge (hooks: `bind_every_bridge_call_to_its_app_in_the_*_runtime_controller.patch`).
 *
 * Why: the sandbox sends `bridges:<bridge>:<method>` with any arguments, and upstream's handler
 * only swaps the literal `'APP_ID'` for the runtime's app id, passing any other value through.
 * Bridges decide permissions and per-app views by that argument, so naming another app would
 * read its persistence, its rooms' ciphertext (the E2EE view trusts the id), or post as its bot.
 *
 * The rule, per method (positions from `bridgeCallerTable.ts`):
 * - the app-id argument must be the `'APP_ID'` placeholder or the runtime's own app id (upstream's
 *   accessors send the real id from inside the sandbox, so refusing it would break every app);
 *   it is then written as the host's id. Anything else there is refused: fail closed, never
 *   "fixed up", so a spoofing attempt shows as an error instead of silently running as the caller;
 * - an optional app id that is absent is written as the host's id too;
 * - no more arguments than the method declares, and a required app id must be present;
 * - a bridge or method not in the table is refused;
 * - the E2EE bridge is strict: exactly its arity, the placeholder and only the placeholder at the
 *   app-id index, and the placeholder nowhere else (`E2EEArgumentError`, code `E2EE_BAD_ARGUMENT`).
 * Other errors are `BridgeCallerError` (code `APPS_BRIDGE_CALLER_REFUSED`). Messages never quote
 * what the sandbox sent, not even the bridge or method name.
 */
import { BRIDGE_METHODS, HOST_ONLY_BRIDGES, STRICT_BRIDGES } from './bridgeCallerTable';
import { APP_ID_PLACEHOLDER, E2EEArgumentError, assertAppId } from './bridgeGuard';

export { APP_ID_PLACEHOLDER };

export class BridgeCallerError extends Error {
	public readonly code = 'APPS_BRIDGE_CALLER_REFUSED';

	constructor(message: string) {
		super(message);
		this.name = 'BridgeCallerError';
	}
}

/** Where a method's app id is: a positional argument, or a field of one. */
export interface ICallerPosition {
	index: number;
	optional: boolean;
	field?: string;
}

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

function signatureOf(bridgeName: string, method: string): ReadonlyArray<string> | undefined {
	if (typeof bridgeName !== 'string' || typeof method !== 'string' || hasOwn(HOST_ONLY_BRIDGES, bridgeName)) {
		return undefined;
	}
	if (!hasOwn(BRIDGE_METHODS, bridgeName) || !hasOwn(BRIDGE_METHODS[bridgeName], method)) {
		return undefined;
	}
	return BRIDGE_METHODS[bridgeName][method];
}

/** The app-id position of a known method, `null` when it takes none, `undefined` when unknown. */
export function callerPosition(bridgeName: string, method: string): ICallerPosition | null | undefined {
	const signature = signatureOf(bridgeName, method);
	return signature === undefined ? undefined : positionIn(signature);
}

function positionIn(signature: ReadonlyArray<string>): ICallerPosition | null {
	for (const [index, parameter] of signature.entries()) {
		if (parameter === 'appId' || parameter === 'appId?') {
			return { index, optional: parameter === 'appId?' };
		}
		if (parameter.endsWith('.appId')) {
			return { index, optional: false, field: 'appId' };
		}
	}
	return null;
}

/**
 * The parameters of a `bridges:` request as the bridge must receive them, with the caller bound
 * to `hostAppId` (the app the runtime process belongs to). Throws when the request names another
 * app or is not a call the table knows. The request itself is never modified.
 */
export function guardBridgeParams(bridgeName: string, method: string, params: ReadonlyArray<unknown>, hostAppId: string): Array<unknown> {
	const strict = STRICT_BRIDGES.has(bridgeName);
	const refuse = strict ? (message: string) => new E2EEArgumentError(message) : (message: string) => new BridgeCallerError(message);
	if (strict) {
		assertAppId(hostAppId);
	} else if (typeof hostAppId !== 'string' || hostAppId === '' || hostAppId === APP_ID_PLACEHOLDER) {
		throw refuse('the runtime has no app id to bind its bridge calls to');
	}
	const signature = signatureOf(bridgeName, method);
	if (signature === undefined) {
		throw refuse('this bridge method cannot be called from an app runtime');
	}
	if (!Array.isArray(params)) {
		throw refuse('bridge arguments must be a list');
	}
	const position = positionIn(signature);
	if (strict) {
		return bindStrict(signature, position, params, hostAppId, refuse);
	}
	if (params.length > signature.length) {
		throw refuse('too many arguments for this bridge method');
	}
	const bound = [...params];
	if (position === null) {
		return bound;
	}
	if (position.field !== undefined) {
		bound[position.index] = bindField(params[position.index], position.field, hostAppId, refuse);
		return bound;
	}
	const value = params[position.index];
	const absent = position.index >= params.length || value === undefined || value === null;
	if (absent ? !position.optional : value !== APP_ID_PLACEHOLDER && value !== hostAppId) {
		throw refuse(absent ? 'this bridge method needs the calling app' : 'a bridge call may only name its own app');
	}
	bound[position.index] = hostAppId;
	return bound;
}

// The E2EE bridge has no upstream callers to stay compatible with: only the placeholder, where
// the method expects it, in a request of exactly the method's length.
function bindStrict(
	signature: ReadonlyArray<string>,
	position: ICallerPosition | null,
	params: ReadonlyArray<unknown>,
	hostAppId: string,
	refuse: (message: string) => Error,
): Array<unknown> {
	if (position === null || position.field !== undefined || params.length !== signature.length) {
		throw refuse('the E2EE bridge takes its arguments and the APP_ID placeholder, nothing more or less');
	}
	for (const [index, value] of params.entries()) {
		if ((index === position.index) !== (value === APP_ID_PLACEHOLDER)) {
			throw refuse('the E2EE bridge takes the calling app from the host: pass APP_ID in its place only');
		}
	}
	const bound = [...params];
	bound[position.index] = hostAppId;
	return bound;
}

// `HttpBridge.doCall(info)`: the sandbox puts its id into the request object, so the placeholder
// swap of upstream's handler (top-level values only) never reaches it.
function bindField(value: unknown, field: string, hostAppId: string, refuse: (message: string) => Error): Record<string, unknown> {
	if (value === null || typeof value !== 'object' || Array.isArray(value)) {
		throw refuse('this bridge method takes an object that names the calling app');
	}
	const named = (value as Record<string, unknown>)[field];
	if (named !== APP_ID_PLACEHOLDER && named !== hostAppId) {
		throw refuse('a bridge call may only name its own app');
	}
	return { ...(value as Record<string, unknown>), [field]: hostAppId };
}
