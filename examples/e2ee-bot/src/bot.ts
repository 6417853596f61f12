/** Whether `text` mentions `@username` as a whole word. */
export function mentions(text: string | undefined, username: string | undefined): boolean {
	if (!text || !username) {
		return false;
	}
	const escaped = username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	return new RegExp(`(^|[^\\w@])@${escaped}(?![\\w.-])`).test(text);
}

/** The bot's answer; it goes back encrypted, so quoting the question leaks nothing. */
export function replyFor(text: string, sender: string): string {
	const question = text.length > 200 ? `${text.slice(0, 200)}…` : text;
	return `@${sender} I read your encrypted message: "${question}"`;
}
