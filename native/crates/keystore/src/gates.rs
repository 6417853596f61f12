//! The gates of every per-room call: the identity is active and the app is authorized for the
//! room, trusted for a bounded time in a bounded cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::keystore::{lock, Gate, MAX_GATES};
use crate::store::{IdentityDoc, IdentityState};
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Reads identity and authorization now: the identity document, or why not.
    pub(crate) async fn fresh_gate(&self, app_id: &str, room_id: &str) -> Result<IdentityDoc> {
        let identity = self.inner.store.identity(app_id).await?;
        let verdict = match identity {
            None => Err(Error::NoIdentity),
            Some(identity) if identity.state == IdentityState::Revoked => Err(Error::Revoked),
            Some(identity) => match self.inner.store.authorization(app_id, room_id).await? {
                None => Err(Error::NotAuthorized),
                Some(authorization) => {
                    // Keys another instance settled since are settled here too.
                    self.apply_trust(app_id, room_id, &authorization);
                    Ok(identity)
                }
            },
        };
        self.remember_gate(
            app_id,
            room_id,
            verdict.as_ref().map(|identity| Arc::from(identity.app_user_id.as_str())).map_err(Clone::clone),
        );
        verdict
    }

    /// The gate of decrypt/encrypt: identity active and app authorized, trusted for
    /// `authorization_ttl`. Returns the app user id (the audit actor).
    pub(crate) async fn gate(&self, app_id: &str, room_id: &str) -> Result<Arc<str>> {
        match self.cached_gate(app_id, room_id) {
            Some(verdict) => verdict,
            None => self.fresh_gate(app_id, room_id).await.map(|identity| Arc::from(identity.app_user_id)),
        }
    }

    /// The verdict checked within `authorization_ttl`, if there is one.
    pub(crate) fn cached_gate(&self, app_id: &str, room_id: &str) -> Option<Result<Arc<str>>> {
        let ttl = self.inner.authorization_ttl;
        if ttl.is_zero() {
            return None;
        }
        let gates = lock(&self.inner.gates);
        let gate = gates.get(app_id, room_id)?;
        (gate.checked.elapsed() < ttl).then(|| gate.verdict.clone())
    }

    pub(crate) fn remember_gate(&self, app_id: &str, room_id: &str, verdict: Result<Arc<str>>) {
        match &verdict {
            Err(Error::Revoked | Error::NoIdentity) => self.forget_app(app_id, &[]),
            Err(Error::NotAuthorized) => lock(&self.inner.room_keys).evict_room(app_id, room_id),
            _ => {}
        }
        let mut gates = lock(&self.inner.gates);
        if gates.len() >= MAX_GATES {
            // Expired verdicts first, then refusals (an app probing room ids makes those), then
            // everything: the map never outgrows MAX_GATES.
            let ttl = self.inner.authorization_ttl;
            gates.retain(|gate| gate.checked.elapsed() < ttl);
            if gates.len() >= MAX_GATES {
                gates.retain(|gate| gate.verdict.is_ok());
            }
            if gates.len() >= MAX_GATES {
                gates.clear();
            }
        }
        gates.insert(app_id, room_id, Gate { checked: Instant::now(), verdict });
    }

    /// Drops an app's cached room keys, gates and private keys (except `keep`).
    pub(crate) fn forget_app(&self, app_id: &str, keep: &[&str]) {
        lock(&self.inner.room_keys).evict_app(app_id);
        lock(&self.inner.private_keys).evict_app(app_id, keep);
        lock(&self.inner.gates).forget_app(app_id);
    }
}

/// Checked gates by app, then room: a lookup borrows the ids instead of allocating a key, since
/// it sits on every decrypt's path.
#[derive(Default)]
pub(crate) struct GateCache {
    apps: HashMap<String, HashMap<String, Gate>>,
    len: usize,
}

impl GateCache {
    pub(crate) fn get(&self, app_id: &str, room_id: &str) -> Option<&Gate> {
        self.apps.get(app_id)?.get(room_id)
    }

    pub(crate) fn insert(&mut self, app_id: &str, room_id: &str, gate: Gate) {
        let rooms = match self.apps.get_mut(app_id) {
            Some(rooms) => rooms,
            None => self.apps.entry(app_id.to_owned()).or_default(),
        };
        if rooms.insert(room_id.to_owned(), gate).is_none() {
            self.len += 1;
        }
    }

    pub(crate) fn remove(&mut self, app_id: &str, room_id: &str) {
        if self.apps.get_mut(app_id).and_then(|rooms| rooms.remove(room_id)).is_some() {
            self.len -= 1;
        }
    }

    pub(crate) fn forget_app(&mut self, app_id: &str) {
        if let Some(rooms) = self.apps.remove(app_id) {
            self.len -= rooms.len();
        }
    }

    pub(crate) fn retain(&mut self, keep: impl Fn(&Gate) -> bool) {
        for rooms in self.apps.values_mut() {
            rooms.retain(|_, gate| keep(gate));
        }
        self.apps.retain(|_, rooms| !rooms.is_empty());
        self.len = self.apps.values().map(HashMap::len).sum();
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.apps.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::custody::SealedCustody;
    use crate::keystore::MAX_AUTHORIZATION_TTL;
    use crate::store::StoreUrl;
    use crate::types::ContentFields;
    use crate::OpenOptions;

    const APP: &str = "5abebfa7-c29d-4b8f-8fa6-6e7d8c9b0a1f";

    async fn store(ttl: Duration) -> (AppKeyStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::File(dir.path().join("keystore.json"));
        let kek = SealedCustody::from_base64(&SealedCustody::generate_kek()).unwrap();
        let options = OpenOptions { authorization_ttl: ttl, ..OpenOptions::default() };
        (AppKeyStore::open(&url, Arc::new(kek), options).await.unwrap(), dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_5_the_gate_cache_is_bounded_and_its_ttl_capped() {
        let (store, _dir) = store(Duration::from_secs(24 * 3600)).await;
        assert_eq!(store.inner.authorization_ttl, MAX_AUTHORIZATION_TTL);
        store.ensure_identity(APP, "app.bot").await.unwrap();
        store.authorize(APP, "real-room", "admin").await.unwrap();
        let content = ContentFields::default();
        let _ = store.decrypt_content(APP, "real-room", &content).await;
        // An app probing invented room ids within the TTL: every verdict is fresh.
        for index in 0..(MAX_GATES + 200) {
            let _ = store.decrypt_content(APP, &format!("probe-{index}"), &content).await;
            assert!(lock(&store.inner.gates).len() <= MAX_GATES);
        }
        // The authorized room's verdict survived the sweep of refusals.
        assert!(lock(&store.inner.gates).get(APP, "real-room").is_some_and(|gate| gate.verdict.is_ok()));
        store.close().await.unwrap();
    }
}
