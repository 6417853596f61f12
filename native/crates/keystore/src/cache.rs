//! In-memory caches of unwrapped keys. Nothing here is ever persisted.
//!
//! [`RoomKeyCache`]: room keys by (app, room, kid), bounded with least-recently-used eviction,
//! plus the current kid of each (app, room). Values are `Arc<RoomKey>`: the core zeroizes a room
//! key when its last reference drops, so an evicted key dies as soon as no decrypt in flight
//! still holds it. [`PrivateKeyCache`]: imported app private keys (importing costs more than a
//! decrypt), by (app, key version, public key), small and bounded the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rc_e2ee_core::{RoomKey, RsaPrivateKey};

/// Room keys, bounded, least recently used evicted first.
pub(crate) struct RoomKeyCache {
    capacity: usize,
    tick: u64,
    apps: HashMap<String, HashMap<String, Room>>,
    /// Use order: tick → (app, room, kid).
    order: BTreeMap<u64, (String, String, String)>,
    len: usize,
}

#[derive(Default)]
struct Room {
    current: Option<String>,
    keys: HashMap<String, (Arc<RoomKey>, u64)>,
}

impl RoomKeyCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), tick: 0, apps: HashMap::new(), order: BTreeMap::new(), len: 0 }
    }

    /// Caches `key` for (app, room); `current` makes its kid the room's current one.
    pub fn insert(&mut self, app_id: &str, room_id: &str, key: Arc<RoomKey>, current: bool) {
        self.tick += 1;
        let tick = self.tick;
        let kid = key.kid().to_owned();
        let room = self.apps.entry(app_id.to_owned()).or_default().entry(room_id.to_owned()).or_default();
        if current {
            room.current = Some(kid.clone());
        }
        match room.keys.insert(kid.clone(), (key, tick)) {
            Some((_, old_tick)) => {
                self.order.remove(&old_tick);
            }
            None => self.len += 1,
        }
        self.order.insert(tick, (app_id.to_owned(), room_id.to_owned(), kid));
        while self.len > self.capacity {
            let Some((_, (app, room, kid))) = self.order.pop_first() else { break };
            self.remove_key(&app, &room, &kid);
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
        for (kid, (key, tick)) in room.keys.iter_mut() {
            self.tick += 1;
            if let Some(entry) = self.order.remove(tick) {
                self.order.insert(self.tick, entry);
            }
            *tick = self.tick;
            ring.push((room.current.as_deref() == Some(kid.as_str()), Arc::clone(key)));
        }
        // Current first; a room without a current key still decrypts by kid.
        ring.sort_by_key(|(current, _)| !current);
        ring.into_iter().map(|(_, key)| key).collect()
    }

    /// The room's current key, if cached.
    pub fn current(&mut self, app_id: &str, room_id: &str) -> Option<Arc<RoomKey>> {
        let room = self.apps.get_mut(app_id)?.get_mut(room_id)?;
        let kid = room.current.clone()?;
        let (key, tick) = room.keys.get_mut(&kid)?;
        self.tick += 1;
        if let Some(entry) = self.order.remove(tick) {
            self.order.insert(self.tick, entry);
        }
        *tick = self.tick;
        Some(Arc::clone(key))
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
        for (_, (_, tick)) in room.keys {
            self.order.remove(&tick);
            self.len -= 1;
        }
    }

    fn remove_key(&mut self, app_id: &str, room_id: &str, kid: &str) {
        let Some(rooms) = self.apps.get_mut(app_id) else { return };
        let Some(room) = rooms.get_mut(room_id) else { return };
        if room.keys.remove(kid).is_some() {
            self.len -= 1;
        }
        if room.keys.is_empty() && room.current.is_none() {
            rooms.remove(room_id);
        }
        if rooms.is_empty() {
            self.apps.remove(app_id);
        }
    }
}

/// Imported app private keys by (app id, key version, public key string), few and bounded.
pub(crate) struct PrivateKeyCache {
    capacity: usize,
    tick: u64,
    keys: HashMap<(String, i64, String), (Arc<RsaPrivateKey>, u64)>,
}

impl PrivateKeyCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), tick: 0, keys: HashMap::new() }
    }

    pub fn get(&mut self, app_id: &str, key_version: i64, public_key: &str) -> Option<Arc<RsaPrivateKey>> {
        self.tick += 1;
        let tick = self.tick;
        let (key, used) = self.keys.get_mut(&(app_id.to_owned(), key_version, public_key.to_owned()))?;
        *used = tick;
        Some(Arc::clone(key))
    }

    pub fn insert(&mut self, app_id: &str, key_version: i64, public_key: &str, key: Arc<RsaPrivateKey>) {
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
        cache.insert("app", "r1", key("old"), false);
        cache.insert("app", "r1", key("cur"), true);
        cache.insert("app", "r2", key("x"), true);
        let ring: Vec<_> = cache.ring("app", "r1").iter().map(|k| k.kid().to_owned()).collect();
        assert_eq!(ring, ["cur", "old"]);
        // r1 was just used, so r2's key is the least recently used one.
        cache.insert("app", "r3", key("y"), true);
        assert_eq!(cache.len(), 3);
        assert!(cache.ring("app", "r2").is_empty());
        assert_eq!(cache.current("app", "r1").unwrap().kid(), "cur");
        cache.evict_room("app", "r1");
        assert_eq!(cache.len(), 1);
        assert!(cache.current("app", "r1").is_none());
        cache.insert("other", "r1", key("z"), true);
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
    fn reinserting_a_kid_replaces_it() {
        let mut cache = RoomKeyCache::new(2);
        cache.insert("a", "r", key("k"), true);
        cache.insert("a", "r", key("k"), true);
        assert_eq!(cache.len(), 1);
        cache.insert("a", "r", key("k2"), false);
        cache.insert("a", "r", key("k3"), false);
        assert_eq!(cache.len(), 2);
        // "k" was the oldest and is gone, but the room still remembers its current kid.
        assert_eq!(cache.current_kid("a", "r"), Some("k"));
        assert!(cache.current("a", "r").is_none());
    }
}
