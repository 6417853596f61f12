/**
 * Version of the E2EE app API added by rc-e2ee (not an upstream Rocket.Chat API).
 *
 * It is independent of the Apps-Engine version, which the fork leaves as upstream's so that no
 * number collides with a future upstream release. It grows by one for every addition and never
 * breaks what an earlier version offered; a breaking change gets new accessor names instead.
 *
 * An app runs against the server's copy of these definitions, so the value it reads at run time
 * (with a guarded `require`, see the series README) is the server's, and a server without the
 * series has no such module at all.
 *
 * 1: the reader (`isAuthorized`, `getEncryptedRoomKey`, `getKeyHistory`, `decryptMessage`), the
 * modifier (`encryptContent`, `sendEncryptedMessage`) and the key events.
 * 2: `IE2EERead.decryptMessages`, a page of a room's history in one call.
 */
export const E2EE_API_VERSION = 2;

/** Most messages one `IE2EERead.decryptMessages` call takes (API version 2); read a longer history in pages. */
export const E2EE_MAX_BATCH_MESSAGES = 1000;

/** The envelope Rocket.Chat clients write today, and the only one apps may send. */
export const E2EE_ALGORITHM = 'rc.v2.aes-sha2';
