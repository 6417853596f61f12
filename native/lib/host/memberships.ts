/**
 * Memberships of app users the host checked recently, by app then room: until when (ms) each
 * is trusted. The lookup sits on every read, so it takes two `Map` lookups on the ids as
 * given, where one map keyed by `appId \0 roomId` built (and hashed) a new string per read.
 */

/** Trusted memberships kept at most; beyond it the cache starts over (each is re-checked). */
export const MAX_MEMBERSHIPS = 4096;

export class Memberships {
  readonly #apps = new Map<string, Map<string, number>>();
  #size = 0;

  /** Until when (ms) the app user's membership of the room is trusted, if it is. */
  until(appId: string, roomId: string): number | undefined {
    return this.#apps.get(appId)?.get(roomId);
  }

  /** Trusts the membership until `until` (ms). */
  trust(appId: string, roomId: string, until: number): void {
    if (this.#size >= MAX_MEMBERSHIPS) this.clear();
    let rooms = this.#apps.get(appId);
    if (rooms === undefined) {
      rooms = new Map();
      this.#apps.set(appId, rooms);
    }
    if (!rooms.has(roomId)) this.#size++;
    rooms.set(roomId, until);
  }

  /** Forgets the membership (the app user left, or was found not to be a member). */
  forget(appId: string, roomId: string): void {
    const rooms = this.#apps.get(appId);
    if (rooms?.delete(roomId)) {
      this.#size--;
      if (rooms.size === 0) this.#apps.delete(appId);
    }
  }

  clear(): void {
    this.#apps.clear();
    this.#size = 0;
  }
}
