/**
 * rc-e2ee: encrypted messages are left out of server-side message search (`messageSearch`, behind
 * `chat.search` and the default search provider; one hook line). The server cannot read them, so
 * a match could only come from their metadata or, for a legacy v1 message, from ciphertext in
 * `msg`; and an app-sent message carries no text to find. Rocket.Chat's clients already tell users
 * that search does not work in encrypted rooms.
 */

/** The message types search never returns: removed messages (Rocket.Chat's own rule) and encrypted ones. */
export const UNSEARCHABLE_MESSAGE_TYPES = ['rm', 'e2e'] as const;

/**
 * Narrows a search query's `t` so that `t: 'e2e'` never matches. Keeps what the query already
 * excludes (Rocket.Chat sets `t: { $ne: 'rm' }` just before) and never widens it.
 */
export function excludeEncryptedMessagesFromSearch(query: { t?: unknown }): void {
	const excluded = new Set<string>(UNSEARCHABLE_MESSAGE_TYPES);
	const current = query.t;
	if (current && typeof current === 'object' && !Array.isArray(current)) {
		const { $ne, $nin, ...rest } = current as { $ne?: unknown; $nin?: unknown };
		if (typeof $ne === 'string') {
			excluded.add($ne);
		}
		if (Array.isArray($nin)) {
			$nin.filter((type): type is string => typeof type === 'string').forEach((type) => excluded.add(type));
		}
		query.t = { ...rest, $nin: [...excluded] };
		return;
	}
	if (typeof current === 'string') {
		// A query for one type: an encrypted one finds nothing, any other stays as it was.
		query.t = excluded.has(current) ? { $in: [] } : current;
		return;
	}
	query.t = { $nin: [...excluded] };
}
