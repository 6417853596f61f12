/**
 * What an app may see of, and send as, end-to-end encrypted data. Pure functions over the plain
 * objects the converters build, with no imports, so they run anywhere (and under the tests).
 *
 * Why: Rocket.Chat's converters copy every core field they do not map into
 * `_unmappedProperties_`, so without this every listening app receives the ciphertext
 * (`content`, `e2e`, `e2eMentions`) and the room's key id and key queue. An app without
 * `e2ee.read` gets a copy without them; an app without `e2ee.write` cannot set them.
 */

export interface IE2EECapabilities {
	read: boolean;
	write: boolean;
}

export const UNMAPPED = '_unmappedProperties_';

/** Mapped fields an app without `e2ee.read` must not see. */
export const HIDDEN_FIELDS: ReadonlySet<string> = new Set(['encryptedContent']);

/** Mapped fields hidden on messages only (a message has a sender and a room). */
export const HIDDEN_MESSAGE_FIELDS: ReadonlySet<string> = new Set(['e2e']);

/** Core fields, left in `_unmappedProperties_` at any depth, that an app without `e2ee.read` must not see. */
export const HIDDEN_UNMAPPED_FIELDS: ReadonlySet<string> = new Set(['content', 'e2e', 'e2eMentions', 'e2eKeyId', 'usersWaitingForE2EKeys']);

/** Core fields an app without `e2ee.write` must not set through `_unmappedProperties_`. */
export const WRITE_GUARDED_UNMAPPED_FIELDS: ReadonlySet<string> = new Set([
	't',
	'content',
	'e2e',
	'e2eMentions',
	'e2eKeyId',
	'usersWaitingForE2EKeys',
]);

/** Room fields only the host's E2EE code may change; no app sets them, whatever it holds. */
export const HOST_ONLY_ROOM_FIELDS: ReadonlySet<string> = new Set(['e2eKeyId', 'usersWaitingForE2EKeys']);

const E2EE_TYPES: ReadonlySet<unknown> = new Set(['e2e']);

type Plain = Record<string, unknown>;

/** A plain object of any realm: its prototype is null or a prototype whose own prototype is null. */
export function isPlainObject(value: unknown): value is Plain {
	if (value === null || typeof value !== 'object' || Array.isArray(value)) {
		return false;
	}
	const proto: unknown = Object.getPrototypeOf(value);
	return proto === null || Object.getPrototypeOf(proto) === null;
}

/** Values with no fields to hide: dates, patterns, binary data. */
function isOpaque(value: object): boolean {
	const tag = Object.prototype.toString.call(value);
	return tag === '[object Date]' || tag === '[object RegExp]' || ArrayBuffer.isView(value) || tag === '[object ArrayBuffer]';
}

function isMessageLike(value: Plain): boolean {
	return 'sender' in value && 'room' in value;
}

/**
 * The copy of `value` an app may see. With `e2ee.read` it is `value` itself; otherwise a copy
 * without the encrypted fields, at any depth (context objects, the message's room, a room's
 * `lastMessage`, lists). The input is never modified: other apps still get the full object.
 */
export function viewForApp<T>(value: T, caps: Pick<IE2EECapabilities, 'read'>): T {
	if (caps.read) {
		return value;
	}
	return hide(value, false, new Map()) as T;
}

function hide(value: unknown, inUnmapped: boolean, seen: Map<object, unknown>): unknown {
	if (Array.isArray(value)) {
		if (seen.has(value)) {
			return seen.get(value);
		}
		const out: unknown[] = [];
		seen.set(value, out);
		for (const item of value) {
			out.push(hide(item, inUnmapped, seen));
		}
		return out;
	}
	if (value === null || typeof value !== 'object' || isOpaque(value)) {
		return value;
	}
	// Any other object, plain or not (a class instance, an object of another realm), becomes a
	// plain copy of its own fields with the hidden ones left out: the view fails closed.
	if (seen.has(value)) {
		return seen.get(value);
	}
	const out: Plain = {};
	seen.set(value, out);
	const message = !inUnmapped && isMessageLike(value as Plain);
	for (const [key, field] of Object.entries(value as Plain)) {
		if (HIDDEN_FIELDS.has(key) || (message && HIDDEN_MESSAGE_FIELDS.has(key)) || (inUnmapped && HIDDEN_UNMAPPED_FIELDS.has(key))) {
			continue;
		}
		out[key] = hide(field, inUnmapped || key === UNMAPPED, seen);
	}
	return out;
}

/**
 * A message or room coming from an app without `e2ee.write`, without anything that would make
 * Rocket.Chat store it as encrypted or change the room's key state. Returns a copy.
 */
export function stripForWrite<T>(value: T, caps: Pick<IE2EECapabilities, 'write'>): T {
	if (caps.write || !isPlainObject(value)) {
		return value;
	}
	const out: Plain = { ...value };
	delete out.encryptedContent;
	delete out.e2e;
	if (E2EE_TYPES.has(out.type)) {
		delete out.type;
	}
	const unmapped = out[UNMAPPED];
	if (isPlainObject(unmapped)) {
		out[UNMAPPED] = withoutKeys(unmapped, WRITE_GUARDED_UNMAPPED_FIELDS);
	}
	return out as T;
}

/** Removes the room fields only the host's E2EE code may set, in place (upstream's strip helper works in place too). */
export function stripHostOnlyRoomFields<T>(room: T): T {
	if (!isPlainObject(room)) {
		return room;
	}
	for (const key of HOST_ONLY_ROOM_FIELDS) {
		delete room[key];
	}
	const unmapped = room[UNMAPPED];
	if (isPlainObject(unmapped)) {
		for (const key of HOST_ONLY_ROOM_FIELDS) {
			delete unmapped[key];
		}
	}
	return room;
}

/**
 * The message (or room) an app returned from a Pre*Extend / Pre*Modify handler, made safe to
 * hand to the next app and to save: what the app may not write is dropped, and what its view hid
 * is put back from `input` (the object the app was shown a view of), so an app without
 * `e2ee.read` neither erases the ciphertext nor hides it from the apps after it.
 */
export function mergeAppResult<T>(input: unknown, result: T, caps: IE2EECapabilities): T {
	if (!isPlainObject(input) || !isPlainObject(result)) {
		return result;
	}
	// A copy in every case, so restoring never touches the object the app returned.
	const merged: Plain = { ...(stripForWrite(result, caps) as Plain) };
	for (const key of ['encryptedContent', 'e2e', 'type']) {
		if (!(key in merged) && key in input) {
			merged[key] = input[key];
		}
	}
	const inputUnmapped = input[UNMAPPED];
	if (isPlainObject(inputUnmapped)) {
		const unmapped: Plain = isPlainObject(merged[UNMAPPED]) ? { ...(merged[UNMAPPED]) } : {};
		for (const key of WRITE_GUARDED_UNMAPPED_FIELDS) {
			if (!(key in unmapped) && key in inputUnmapped) {
				unmapped[key] = inputUnmapped[key];
			}
		}
		merged[UNMAPPED] = unmapped;
	}
	return merged as T;
}

function withoutKeys(value: Plain, keys: ReadonlySet<string>): Plain {
	const out: Plain = {};
	for (const [key, field] of Object.entries(value)) {
		if (!keys.has(key)) {
			out[key] = field;
		}
	}
	return out;
}

/** Every key path in `value` whose last key is in `keys` (for checks and tests). */
export function findKeys(value: unknown, keys: ReadonlySet<string>, path = '$', seen = new Set<unknown>()): string[] {
	if (value === null || typeof value !== 'object' || seen.has(value)) {
		return [];
	}
	seen.add(value);
	const found: string[] = [];
	for (const [key, field] of Object.entries(value as Plain)) {
		const here = `${path}.${key}`;
		if (keys.has(key)) {
			found.push(here);
		}
		found.push(...findKeys(field, keys, here, seen));
	}
	return found;
}
