//! In-memory caches of unwrapped keys. Nothing here is ever persisted.
//!
//! [`RoomKeyCache`]: room keys by (app, room, kid), bounded with least-recently-used eviction,
//! plus the current kid of each (app, room). Values are `Arc<RoomKey>`: the core zeroizes a room
//! key when its last reference drops, so an evicted key dies as soon as no decrypt in flight
//! still holds it. [`PrivateKeyCache`]: imported app private keys (importing costs more than a
//! decrypt), by (app, key version, public key), small and bounded the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rc_e2ee_core::RoomKey;

use crate::custody::IdentityKey;

/// Kids whose accepted key a room remembers (by fingerprint) after the key left the cache.
const REMEMBERED_KIDS_PER_ROOM: usize = 64;

/// How far a cached key is trusted ([`crate::KeyStatus`] without the rejected state, which is
/// never cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trust {
    Verified,
    /// Usable until a message of a sender other than `suggested_by` (or the app user) settles it.
    Provisional {
        suggested_by: String,
    },
}

/// Room keys, bounded, least recently used evicted first.
///
/// A read only stamps the keys it touches with a new tick; the use order is brought up to
/// date lazily, when something must be evicted (see [`RoomKeyCache::insert`]). Reads are
/// per message on the JS thread, inserts are rare (a key accepted or loaded), so the ordered
/// map's work moved from the first to the second.
pub(crate) struct RoomKeyCache {
    capacity: usize,
    tick: u64,
    apps: HashMap<String, HashMap<String, Room>>,
    /// Queue order: the tick each key was queued under → (app, room, kid). A key is queued
    /// under a tick no later than its last use.
    order: BTreeMap<u64, (String, String, String)>,
    len: usize,
}

#[derive(Default)]
struct Room {
    current: Option<String>,
    keys: HashMap<String, Entry>,
    /// (kid, fingerprint) of the keys accepted for this room, newest last; outlives eviction so
    /// an accepted kid is never taken over by another key (see [`RoomKeyCache::fingerprint`]).
    accepted: Vec<(String, [u8; 32])>,
}

struct Entry {
    key: Arc<RoomKey>,
    /// When it was last used.
    tick: u64,
    /// Its key in `order` (at most `tick`).
    queued: u64,
    trust: Trust,
}

/// The key a v2 message picks from a room (see [`RoomKeyCache::pick`]).
pub(crate) struct Picked {
    pub key: Arc<RoomKey>,
    /// Whether the room holds a key under the message's kid (then `key` is that key).
    pub kid_held: bool,
}

impl Room {
    fn remember(&mut self, kid: &str, fingerprint: [u8; 32]) {
        self.accepted.retain(|(known, _)| known != kid);
        if self.accepted.len() >= REMEMBERED_KIDS_PER_ROOM {
            // Forget the oldest kid that no longer has a live key.
            let stale = self.accepted.iter().position(|(known, _)| !self.keys.contains_key(known)).unwrap_or(0);
            if stale < self.accepted.len() {
                self.accepted.remove(stale);
            }
        }
        self.accepted.push((kid.to_owned(), fingerprint));
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.current.is_none() && self.accepted.is_empty()
    }
}

impl RoomKeyCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), tick: 0, apps: HashMap::new(), order: BTreeMap::new(), len: 0 }
    }

    /// Caches `key` for (app, room) with `trust`; `current` makes its kid the room's current
    /// one. The caller has checked [`RoomKeyCache::fingerprint`]: a kid is re-inserted only
    /// with the same key.
    pub fn insert(&mut self, app_id: &str, room_id: &str, key: Arc<RoomKey>, current: bool, trust: Trust) {
        self.tick += 1;
        let tick = self.tick;
        let kid = key.kid().to_owned();
        let room = self.apps.entry(app_id.to_owned()).or_default().entry(room_id.to_owned()).or_default();
        if current {
            room.current = Some(kid.clone());
        }
        room.remember(&kid, key.fingerprint());
        match room.keys.insert(kid.clone(), Entry { key, tick, queued: tick, trust }) {
            Some(old) => {
                self.order.remove(&old.queued);
            }
            None => self.len += 1,
        }
        self.order.insert(tick, (app_id.to_owned(), room_id.to_owned(), kid));
        while self.len > self.capacity {
            let Some((queued, ids)) = self.order.pop_first() else { break };
            let (app, room, kid) = &ids;
            let used = self.apps.get(app).and_then(|rooms| rooms.get(room)).and_then(|room| room.keys.get(kid));
            match used.map(|entry| entry.tick) {
                // Used since it was queued: queue it again under its last use and look further.
                // Every key is requeued at most once per pass, so this ends, and the key
                // evicted is the one least recently used, exactly as with an eager order.
                Some(last) if last > queued => {
                    if let Some(entry) = self.entry_mut(app, room, kid) {
                        entry.queued = last;
                    }
                    self.order.insert(last, ids);
                }
                _ => self.evict_key(app, room, kid),
            }
        }
    }

    fn entry_mut(&mut self, app_id: &str, room_id: &str, kid: &str) -> Option<&mut Entry> {
        self.apps.get_mut(app_id)?.get_mut(room_id)?.keys.get_mut(kid)
    }

    /// The fingerprint of the key accepted for (app, room, kid), even if the key itself was
    /// evicted since.
    pub fn fingerprint(&self, app_id: &str, room_id: &str, kid: &str) -> Option<[u8; 32]> {
        let room = self.apps.get(app_id)?.get(room_id)?;
        room.accepted.iter().find(|(known, _)| known == kid).map(|(_, fingerprint)| *fingerprint)
    }

    /// The cached key of a kid and its trust.
    pub fn entry(&self, app_id: &str, room_id: &str, kid: &str) -> Option<(Arc<RoomKey>, Trust)> {
        let entry = self.apps.get(app_id)?.get(room_id)?.keys.get(kid)?;
        Some((Arc::clone(&entry.key), entry.trust.clone()))
    }

    /// Changes the trust of a cached kid; `false` if it is not cached.
    pub fn set_trust(&mut self, app_id: &str, room_id: &str, kid: &str, trust: Trust) -> bool {
        match self.apps.get_mut(app_id).and_then(|rooms| rooms.get_mut(room_id)).and_then(|room| room.keys.get_mut(kid))
        {
            Some(entry) => {
                entry.trust = trust;
                true
            }
            None => false,
        }
    }

    /// Drops a rejected kid entirely: its key, its fingerprint, and the room's current kid if
    /// it was that one (the room then reads as "no key").
    pub fn reject(&mut self, app_id: &str, room_id: &str, kid: &str) {
        let Some(rooms) = self.apps.get_mut(app_id) else { return };
        let Some(room) = rooms.get_mut(room_id) else { return };
        if let Some(entry) = room.keys.remove(kid) {
            self.order.remove(&entry.queued);
            self.len -= 1;
        }
        room.accepted.retain(|(known, _)| known != kid);
        if room.current.as_deref() == Some(kid) {
            room.current = None;
        }
        if room.is_empty() {
            rooms.remove(room_id);
        }
        if rooms.is_empty() {
            self.apps.remove(app_id);
        }
    }

    /// Sets (or clears) the current kid of a room without touching its keys.
    pub fn set_current(&mut self, app_id: &str, room_id: &str, kid: Option<String>) {
        if kid.is_none() && !self.apps.get(app_id).is_some_and(|rooms| rooms.contains_key(room_id)) {
            return;
        }
        let room = self.apps.entry(app_id.to_owned()).or_default().entry(room_id.to_owned()).or_default();
        room.current = kid;
    }

    /// The room's key ring, current key first (the order the core's key choice expects).
    pub fn ring(&mut self, app_id: &str, room_id: &str) -> Vec<Arc<RoomKey>> {
        let Some(room) = self.apps.get_mut(app_id).and_then(|rooms| rooms.get_mut(room_id)) else {
            return Vec::new();
        };
        let mut ring: Vec<(bool, Arc<RoomKey>)> = Vec::with_capacity(room.keys.len());
        for (kid, entry) in room.keys.iter_mut() {
            self.tick += 1;
            entry.tick = self.tick;
            ring.push((room.current.as_deref() == Some(kid.as_str()), Arc::clone(&entry.key)));
        }
        // Current first; a room without a current key still decrypts by kid.
        ring.sort_by_key(|(current, _)| !current);
        ring.into_iter().map(|(_, key)| key).collect()
    }

    /// The room's current key, if cached.
    pub fn current(&mut self, app_id: &str, room_id: &str) -> Option<Arc<RoomKey>> {
        let room = self.apps.get_mut(app_id)?.get_mut(room_id)?;
        let kid = room.current.clone()?;
        let entry = room.keys.get_mut(&kid)?;
        self.tick += 1;
        entry.tick = self.tick;
        Some(Arc::clone(&entry.key))
    }

    /// The key [`rc_e2ee_core::content::select_key`] would choose from [`RoomKeyCache::ring`]
    /// for a message under `kid` (that kid's key, else the current one, else any), found
    /// without building the ring: the per-message read path. Every key of the room counts as
    /// used, as with `ring`. `None` when the room holds no key.
    pub fn pick(&mut self, app_id: &str, room_id: &str, kid: &str) -> Option<Picked> {
        let room = self.apps.get_mut(app_id)?.get_mut(room_id)?;
        for entry in room.keys.values_mut() {
            self.tick += 1;
            entry.tick = self.tick;
        }
        if let Some(entry) = room.keys.get(kid) {
            return Some(Picked { key: Arc::clone(&entry.key), kid_held: true });
        }
        let current = room.current.as_deref().and_then(|current| room.keys.get(current));
        // Without a current key the ring's first key is whichever the map yields first; under
        // another kid it cannot open the message (authenticated cipher), so which one is moot.
        let entry = current.or_else(|| room.keys.values().next())?;
        Some(Picked { key: Arc::clone(&entry.key), kid_held: false })
    }

    /// The room's current kid, even if its key was evicted.
    #[cfg(test)]
    pub fn current_kid(&self, app_id: &str, room_id: &str) -> Option<&str> {
        self.apps.get(app_id)?.get(room_id)?.current.as_deref()
    }

    pub fn evict_room(&mut self, app_id: &str, room_id: &str) {
        if let Some(room) = self.apps.get_mut(app_id).and_then(|rooms| rooms.remove(room_id)) {
            self.forget(room);
        }
    }

    pub fn evict_app(&mut self, app_id: &str) {
        if let Some(rooms) = self.apps.remove(app_id) {
            for room in rooms.into_values() {
                self.forget(room);
            }
        }
    }

    pub fn clear(&mut self) {
        self.apps.clear();
        self.order.clear();
        self.len = 0;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn forget(&mut self, room: Room) {
        for (_, entry) in room.keys {
            self.order.remove(&entry.queued);
            self.len -= 1;
        }
    }

    /// Least-recently-used eviction of one key; its fingerprint stays.
    fn evict_key(&mut self, app_id: &str, room_id: &str, kid: &str) {
        let Some(rooms) = self.apps.get_mut(app_id) else { return };
        let Some(room) = rooms.get_mut(room_id) else { return };
        if room.keys.remove(kid).is_some() {
            self.len -= 1;
        }
        if room.is_empty() {
            rooms.remove(room_id);
        }
        if rooms.is_empty() {
            self.apps.remove(app_id);
        }
    }
}

/// (app id, key version, public key string).
type KeyId = (String, i64, String);

/// Opened identity keys (imported software keys, or handles of token objects) by (app id, key
/// version, public key string), few and bounded.
pub(crate) struct PrivateKeyCache {
    capacity: usize,
    tick: u64,
    keys: HashMap<KeyId, (Arc<dyn IdentityKey>, u64)>,
}

impl PrivateKeyCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), tick: 0, keys: HashMap::new() }
    }

    pub fn get(&mut self, app_id: &str, key_version: i64, public_key: &str) -> Option<Arc<dyn IdentityKey>> {
        self.tick += 1;
        let tick = self.tick;
        let (key, used) = self.keys.get_mut(&(app_id.to_owned(), key_version, public_key.to_owned()))?;
        *used = tick;
        Some(Arc::clone(key))
    }

    pub fn insert(&mut self, app_id: &str, key_version: i64, public_key: &str, key: Arc<dyn IdentityKey>) {
        self.tick += 1;
        self.keys.insert((app_id.to_owned(), key_version, public_key.to_owned()), (key, self.tick));
        while self.keys.len() > self.capacity {
            let oldest = self.keys.iter().min_by_key(|(_, (_, used))| *used).map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.keys.remove(&id),
                None => break,
            };
        }
    }

    /// Drops an app's keys, except those whose public key is in `keep`.
    pub fn evict_app(&mut self, app_id: &str, keep: &[&str]) {
        self.keys.retain(|(app, _, public), _| app != app_id || keep.contains(&public.as_str()));
    }

    pub fn clear(&mut self) {
        self.keys.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> Arc<RoomKey> {
        Arc::new(
            RoomKey::from_jwk(
                r#"{"kty":"oct","alg":"A256GCM","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                kid,
            )
            .unwrap(),
        )
    }

    #[test]
    fn bounded_lru_with_current_first() {
        let mut cache = RoomKeyCache::new(3);
        cache.insert("app", "r1", key("old"), false, Trust::Verified);
        cache.insert("app", "r1", key("cur"), true, Trust::Verified);
        cache.insert("app", "r2", key("x"), true, Trust::Verified);
        let ring: Vec<_> = cache.ring("app", "r1").iter().map(|k| k.kid().to_owned()).collect();
        assert_eq!(ring, ["cur", "old"]);
        // r1 was just used, so r2's key is the least recently used one.
        cache.insert("app", "r3", key("y"), true, Trust::Verified);
        assert_eq!(cache.len(), 3);
        assert!(cache.ring("app", "r2").is_empty());
        assert_eq!(cache.current("app", "r1").unwrap().kid(), "cur");
        cache.evict_room("app", "r1");
        assert_eq!(cache.len(), 1);
        assert!(cache.current("app", "r1").is_none());
        cache.insert("other", "r1", key("z"), true, Trust::Verified);
        cache.evict_app("app");
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.current_kid("other", "r1"), Some("z"));
        cache.set_current("other", "r1", None);
        assert!(cache.current("other", "r1").is_none());
        assert_eq!(cache.ring("other", "r1").len(), 1);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn eviction_follows_use_since_insertion() {
        let mut cache = RoomKeyCache::new(3);
        cache.insert("a", "r1", key("k1"), true, Trust::Verified);
        cache.insert("a", "r2", key("k2"), true, Trust::Verified);
        cache.insert("a", "r3", key("k3"), true, Trust::Verified);
        // k1 was inserted first but used since, then k3: k2 is the least recently used, then k1.
        assert_eq!(cache.pick("a", "r1", "k1").unwrap().key.kid(), "k1");
        assert!(cache.current("a", "r3").is_some());
        cache.insert("a", "r4", key("k4"), true, Trust::Verified);
        assert!(cache.ring("a", "r2").is_empty());
        assert_eq!(cache.len(), 3);
        cache.insert("a", "r5", key("k5"), true, Trust::Verified);
        assert!(cache.ring("a", "r1").is_empty());
        assert!(cache.current("a", "r3").is_some());
        assert!(cache.current("a", "r4").is_some());
        // k5 is the least recently used now: k3 and k4 were just read.
        cache.insert("a", "r6", key("k6"), true, Trust::Verified);
        assert!(cache.ring("a", "r5").is_empty());
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn pick_chooses_as_the_ring_does() {
        let mut cache = RoomKeyCache::new(8);
        assert!(cache.pick("a", "r", "k").is_none());
        cache.insert("a", "r", key("old"), false, Trust::Verified);
        // No current key: a kid the room holds, else some key, never named.
        assert!(cache.pick("a", "r", "old").unwrap().kid_held);
        let other = cache.pick("a", "r", "unknown").unwrap();
        assert!(!other.kid_held);
        assert_eq!(other.key.kid(), "old");
        cache.insert("a", "r", key("cur"), true, Trust::Verified);
        let named = cache.pick("a", "r", "old").unwrap();
        assert!(named.kid_held);
        assert_eq!(named.key.kid(), "old");
        let fallback = cache.pick("a", "r", "unknown").unwrap();
        assert!(!fallback.kid_held);
        assert_eq!(fallback.key.kid(), "cur");
        let ring = cache.ring("a", "r");
        let refs: Vec<&RoomKey> = ring.iter().map(Arc::as_ref).collect();
        for kid in ["old", "cur", "unknown"] {
            let chosen = rc_e2ee_core::content::select_key(&refs, kid).unwrap().kid().to_owned();
            assert_eq!(cache.pick("a", "r", kid).unwrap().key.kid(), chosen, "{kid}");
        }
    }

    #[test]
    fn reinserting_a_kid_replaces_it() {
        let mut cache = RoomKeyCache::new(2);
        cache.insert("a", "r", key("k"), true, Trust::Verified);
        cache.insert("a", "r", key("k"), true, Trust::Verified);
        assert_eq!(cache.len(), 1);
        cache.insert("a", "r", key("k2"), false, Trust::Verified);
        cache.insert("a", "r", key("k3"), false, Trust::Verified);
        assert_eq!(cache.len(), 2);
        // "k" was the oldest and is gone, but the room still remembers its current kid.
        assert_eq!(cache.current_kid("a", "r"), Some("k"));
        assert!(cache.current("a", "r").is_none());
        // ...and which key it accepted for it.
        assert!(cache.fingerprint("a", "r", "k").is_some());
    }

    #[test]
    fn a_rejected_kid_leaves_no_trace() {
        let mut cache = RoomKeyCache::new(4);
        cache.insert("a", "r", key("k"), true, Trust::Provisional { suggested_by: "m".into() });
        assert_eq!(cache.entry("a", "r", "k").unwrap().1, Trust::Provisional { suggested_by: "m".into() });
        assert!(cache.set_trust("a", "r", "k", Trust::Verified));
        cache.reject("a", "r", "k");
        assert!(cache.current("a", "r").is_none());
        assert!(cache.current_kid("a", "r").is_none());
        assert!(cache.fingerprint("a", "r", "k").is_none());
        assert_eq!(cache.len(), 0);
        assert!(!cache.set_trust("a", "r", "k", Trust::Verified));
    }

    #[test]
    fn remembered_kids_are_bounded_per_room() {
        let mut cache = RoomKeyCache::new(2);
        for index in 0..(REMEMBERED_KIDS_PER_ROOM + 10) {
            cache.insert("a", "r", key(&format!("k{index}")), true, Trust::Verified);
        }
        let room = &cache.apps["a"]["r"];
        assert_eq!(room.accepted.len(), REMEMBERED_KIDS_PER_ROOM);
        // The newest kids, live or not, are remembered; the oldest are forgotten.
        assert!(cache.fingerprint("a", "r", &format!("k{}", REMEMBERED_KIDS_PER_ROOM + 9)).is_some());
        assert!(cache.fingerprint("a", "r", "k0").is_none());
    }
}
