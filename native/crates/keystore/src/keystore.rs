//! [`AppKeyStore`]: the stateful participant. Identities, authorizations, room keys, decrypt
//! and encrypt by (app, room), and the audit, over one [`Store`] and one custody provider.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use rc_e2ee_core::content::into_text as to_text;
use rc_e2ee_core::message::ensure_object;
use rc_e2ee_core::{unwrap_room_key, EncryptedContent, RoomKey, RsaPrivateKey};
use zeroize::Zeroizing;

use crate::audit::{action, now_ms, Counters, Event, OK, SYSTEM};
use crate::cache::{PrivateKeyCache, RoomKeyCache};
use crate::custody::{identity_aad, KeyCustody, Sealed};
use crate::error::StorageKind;
use crate::store::{
    self, AuditQuery, AuditRecord, AuthorizationDoc, IdentityDoc, IdentityState, RotationStep, Store, StoreUrl,
};
use crate::types::{Authorization, ContentFields, IdentityInfo, MessageFields, RekeyReport};
use crate::{Error, Result};

/// Longest id (app, room, user, kid) accepted, in bytes.
const MAX_ID_BYTES: usize = 512;
/// How often a lost compare-and-swap is retried by operations that must win eventually
/// (revocation, re-sealing); the others report [`Error::Conflict`] to the caller.
const CAS_ATTEMPTS: usize = 5;
pub(crate) const BAD_APP_ID: &str = "app id is empty, too long or has control characters";
pub(crate) const BAD_ROOM_ID: &str = "room id is empty, too long or has control characters";
pub(crate) const BAD_ACTOR_ID: &str = "actor id is empty, too long or has control characters";
pub(crate) const BAD_APP_USER_ID: &str = "app user id is empty, too long or has control characters";
pub(crate) const BAD_KID: &str = "expected kid is empty, too long or has control characters";
/// Checked gates kept at most.
pub(crate) const MAX_GATES: usize = 4096;
/// Longest `authorization_ttl` honoured: a revocation made on another instance applies within
/// this delay whatever the configuration says.
pub const MAX_AUTHORIZATION_TTL: Duration = Duration::from_secs(60);

/// Settings of [`AppKeyStore::open`].
#[derive(Clone)]
pub struct OpenOptions {
    /// Custody providers of earlier KEKs: blobs still sealed under them open (mid-rotation of
    /// the KEK); new blobs are always sealed under the current provider.
    pub previous_keks: Vec<Arc<dyn KeyCustody>>,
    /// Room keys held in memory at most (least recently used evicted first).
    pub room_key_capacity: usize,
    /// Imported app private keys held in memory at most.
    pub private_key_capacity: usize,
    /// How long decrypt/encrypt trust a checked authorization before reading it again. A
    /// revocation made through this instance applies at once; one made by another instance
    /// within this delay. Zero reads the store on every call; capped at
    /// [`MAX_AUTHORIZATION_TTL`].
    pub authorization_ttl: Duration,
    /// Longest delay before counted decrypt/encrypt calls reach the audit collection.
    pub audit_flush_interval: Duration,
    /// Opens even if an active identity is sealed under a KEK this store does not hold (to
    /// revoke or re-create such identities); normally that fails at open with
    /// `KEYSTORE_BAD_KEK`.
    pub skip_kek_check: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            previous_keks: Vec::new(),
            room_key_capacity: 4096,
            private_key_capacity: 64,
            authorization_ttl: Duration::from_secs(1),
            audit_flush_interval: Duration::from_secs(10),
            skip_kek_check: false,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<_> = self.previous_keks.iter().map(|kek| kek.kek_id().to_owned()).collect();
        f.debug_struct("OpenOptions")
            .field("previous_keks", &previous)
            .field("room_key_capacity", &self.room_key_capacity)
            .field("private_key_capacity", &self.private_key_capacity)
            .field("authorization_ttl", &self.authorization_ttl)
            .field("audit_flush_interval", &self.audit_flush_interval)
            .field("skip_kek_check", &self.skip_kek_check)
            .finish()
    }
}

/// The key store. Cheap to clone (one shared state); every method is `async`, returns `Send`
/// futures and may be called concurrently from a multi-thread tokio runtime. No method returns
/// private-key or room-key material.
#[derive(Clone)]
pub struct AppKeyStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    keks: RwLock<Keks>,
    pub(crate) room_keys: Mutex<RoomKeyCache>,
    private_keys: Mutex<PrivateKeyCache>,
    gates: Mutex<HashMap<(String, String), Gate>>,
    counters: Mutex<Counters>,
    authorization_ttl: Duration,
    audit_flush_interval: Duration,
    closed: AtomicBool,
}

struct Keks {
    current: Arc<dyn KeyCustody>,
    previous: Vec<Arc<dyn KeyCustody>>,
}

/// A checked (app, room) gate: the app user id, or why the app may not use the room.
struct Gate {
    checked: Instant,
    verdict: Result<String>,
}

impl std::fmt::Debug for AppKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppKeyStore").field("kek_id", &self.kek_id()).finish_non_exhaustive()
    }
}

impl AppKeyStore {
    /// Opens the store at `url` (creating collections, indexes or the file as needed) with
    /// `custody` sealing private keys. Fails with `KEYSTORE_BAD_KEK` if an active identity is
    /// sealed under a KEK neither `custody` nor `options.previous_keks` holds.
    pub async fn open(url: &StoreUrl, custody: Arc<dyn KeyCustody>, options: OpenOptions) -> Result<Self> {
        let store = store::open(url).await?;
        Self::with_store(store, custody, options).await
    }

    /// The same over an already opened [`Store`].
    pub async fn with_store(store: Arc<dyn Store>, custody: Arc<dyn KeyCustody>, options: OpenOptions) -> Result<Self> {
        let this = Self {
            inner: Arc::new(Inner {
                store,
                keks: RwLock::new(Keks { current: custody, previous: options.previous_keks }),
                room_keys: Mutex::new(RoomKeyCache::new(options.room_key_capacity)),
                private_keys: Mutex::new(PrivateKeyCache::new(options.private_key_capacity)),
                gates: Mutex::new(HashMap::new()),
                counters: Mutex::new(Counters::new()),
                authorization_ttl: options.authorization_ttl.min(MAX_AUTHORIZATION_TTL),
                audit_flush_interval: options.audit_flush_interval,
                closed: AtomicBool::new(false),
            }),
        };
        if !options.skip_kek_check {
            for identity in this.inner.store.identities().await? {
                for blobs in [identity.current_blobs(), identity.new_blobs()] {
                    if !blobs.is_empty() && !blobs.iter().any(|sealed| this.custody_for(&sealed.kek_id).is_ok()) {
                        let _ = this.inner.store.close().await;
                        return Err(Error::BadKek("an identity is sealed under a KEK this store was not given"));
                    }
                }
            }
        }
        this.spawn_audit_flusher();
        Ok(this)
    }

    /// Flushes counted audit events, drops every cached key and releases the store. Later calls
    /// fail with `KEYSTORE_STORAGE` (closed); closing again does nothing. Without `close`, up to
    /// `audit_flush_interval` of counted calls may never reach the audit.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let flushed = self.flush_audit().await;
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        lock(&self.inner.room_keys).clear();
        lock(&self.inner.private_keys).clear();
        lock(&self.inner.gates).clear();
        let closed = self.inner.store.close().await;
        flushed.and(closed)
    }

    /// Id of the KEK new blobs are sealed under.
    pub fn kek_id(&self) -> String {
        read(&self.inner.keks).current.kek_id().to_owned()
    }

    // ----- identities -----

    /// Creates the app's identity (a new RSA-2048 key, sealed) or loads it, and returns its
    /// public key in Rocket.Chat's format (during a rotation, the new key once it is
    /// published). A revoked identity stays revoked (`KEYSTORE_REVOKED`): re-creating one is
    /// explicit, [`AppKeyStore::recreate_identity`].
    pub async fn ensure_identity(&self, app_id: &str, app_user_id: &str) -> Result<String> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(app_user_id, BAD_APP_USER_ID)?;
        for _ in 0..CAS_ATTEMPTS {
            if let Some(identity) = self.inner.store.identity(app_id).await? {
                if identity.state == IdentityState::Revoked {
                    return Err(Error::Revoked);
                }
                if identity.app_user_id != app_user_id {
                    return Err(Error::BadInput("the app's identity belongs to another app user"));
                }
                return Ok(published_key(&identity).to_owned());
            }
            let identity = self.new_identity(app_id, app_user_id, 1).await?;
            match self.inner.store.insert_identity(&identity).await {
                // Another instance created it meanwhile: load theirs.
                Err(Error::Conflict(_)) => continue,
                result => {
                    let event = self.event(SYSTEM, action::IDENTITY_CREATE, Some(app_id), None);
                    self.audited(event, result).await?;
                    return Ok(identity.public_key);
                }
            }
        }
        Err(Error::Conflict("the identity kept changing while it was created"))
    }

    /// Replaces a revoked identity by a new one (new key, `key_version` above every earlier
    /// one, no authorizations). Creates one if the app has none; an active identity is left
    /// alone (`KEYSTORE_BAD_INPUT`: rotate it instead).
    pub async fn recreate_identity(&self, app_id: &str, app_user_id: &str, actor_id: &str) -> Result<String> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(app_user_id, BAD_APP_USER_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let Some(tombstone) = self.inner.store.identity(app_id).await? else {
            return self.ensure_identity(app_id, app_user_id).await;
        };
        if tombstone.state != IdentityState::Revoked {
            return Err(Error::BadInput("the identity is active; rotate it instead of re-creating it"));
        }
        // Authorizations granted while the identity was revoked (a race with the revocation)
        // must not carry over to the new identity.
        self.inner.store.delete_authorizations(app_id).await?;
        let mut identity = self.new_identity(app_id, app_user_id, tombstone.key_version + 1).await?;
        identity.created_at = tombstone.created_at;
        identity.version = tombstone.version;
        let result = self.inner.store.update_identity(&identity).await;
        let event = self.event(actor_id, action::IDENTITY_RECREATE, Some(app_id), None);
        self.audited(event, result).await?;
        self.forget_app(app_id, &[&identity.public_key]);
        Ok(identity.public_key)
    }

    /// Public facts about an app's identity.
    pub async fn identity(&self, app_id: &str) -> Result<Option<IdentityInfo>> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        Ok(self.inner.store.identity(app_id).await?.map(|identity| IdentityInfo {
            public_key: published_key(&identity).to_owned(),
            kek_id: identity.sealed.as_ref().map(|sealed| sealed.kek_id.clone()),
            rotation_step: identity.rotation.as_ref().map(|rotation| step_name(rotation.step).to_owned()),
            state: match identity.state {
                IdentityState::Active => "active",
                IdentityState::Revoked => "revoked",
            }
            .to_owned(),
            app_id: identity.app_id,
            app_user_id: identity.app_user_id,
            key_version: identity.key_version,
            created_at: identity.created_at,
            revoked_at: identity.revoked_at,
            revoked_by: identity.revoked_by,
        }))
    }

    /// Crypto-shreds the identity: removes its sealed private key (and any half-rotated one)
    /// from the document, which stays as a tombstone `{state: "revoked", revoked_at,
    /// revoked_by}`; drops every authorization of the app and every cached key. Idempotent: a
    /// second call finishes an interrupted one.
    pub async fn revoke_identity(&self, app_id: &str, actor_id: &str) -> Result<()> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.revoke_identity_inner(app_id, actor_id).await;
        self.forget_app(app_id, &[]);
        let event = Event {
            detail: result.as_ref().ok().map(|dropped| format!("authorizations_dropped={dropped}")),
            ..self.event(actor_id, action::IDENTITY_REVOKE, Some(app_id), None)
        };
        self.audited(event, result).await.map(drop)
    }

    async fn revoke_identity_inner(&self, app_id: &str, actor_id: &str) -> Result<u64> {
        let mut attempt = 0;
        loop {
            let identity = self.inner.store.identity(app_id).await?.ok_or(Error::NoIdentity)?;
            if identity.state == IdentityState::Revoked {
                break;
            }
            let now = now_ms();
            let mut tombstone = identity.clone();
            tombstone.state = IdentityState::Revoked;
            tombstone.key_version = identity.key_version.max(identity.rotation.map_or(0, |r| r.new_key_version));
            tombstone.sealed = None;
            tombstone.sealed_copies.clear();
            tombstone.rotation = None;
            tombstone.revoked_at = Some(now);
            tombstone.revoked_by = Some(actor_id.to_owned());
            tombstone.updated_at = now;
            match self.inner.store.update_identity(&tombstone).await {
                Ok(_) => break,
                Err(Error::Conflict(_)) if attempt + 1 < CAS_ATTEMPTS => attempt += 1,
                Err(error) => return Err(error),
            }
        }
        self.inner.store.delete_authorizations(app_id).await
    }

    /// Re-seals every identity under `custody`, which becomes this store's current KEK once
    /// every identity has a blob under it (the previous one stays usable for opening). The old
    /// KEK's blob stays beside the new one, so other server instances that hold only the old
    /// KEK keep opening identities for the whole rotation and after it; shred those blobs with
    /// [`AppKeyStore::retire_kek`] once every instance has the new KEK. One document at a time
    /// with compare-and-swap; resumable: call again after a failure. Fails with
    /// `KEYSTORE_BAD_KEK` (after re-sealing all it can, and without switching) if some
    /// identity has no blob under a KEK this store holds.
    pub async fn rekey(&self, custody: Arc<dyn KeyCustody>) -> Result<RekeyReport> {
        self.ensure_open()?;
        let mut report = RekeyReport::default();
        let mut failure = None;
        for identity in self.inner.store.identities().await? {
            let app_id = identity.app_id.clone();
            match self.reseal(&app_id, &custody).await {
                Ok(true) => {
                    report.resealed += 1;
                    let event = Event {
                        detail: Some(format!("kek_id={}", custody.kek_id())),
                        ..self.event(SYSTEM, action::KEK_REKEY, Some(&app_id), None)
                    };
                    self.append(&event, OK).await?;
                }
                Ok(false) => report.unchanged += 1,
                Err(error) => {
                    let event = self.event(SYSTEM, action::KEK_REKEY, Some(&app_id), None);
                    self.append(&event, error.code()).await?;
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        // Only now: until every identity opens under the new KEK, this instance seals under
        // the old one, which every instance holds.
        let mut keks = write(&self.inner.keks);
        if keks.current.kek_id() != custody.kek_id() {
            let old = std::mem::replace(&mut keks.current, Arc::clone(&custody));
            keks.previous.retain(|kek| kek.kek_id() != custody.kek_id() && kek.kek_id() != old.kek_id());
            keks.previous.insert(0, old);
        }
        Ok(report)
    }

    /// Adds a blob under `custody` to each of one identity's keys that lacks one (it becomes
    /// the primary; the others stay as copies); `false` if none lacked one.
    async fn reseal(&self, app_id: &str, custody: &Arc<dyn KeyCustody>) -> Result<bool> {
        let mut attempt = 0;
        loop {
            let Some(mut identity) = self.inner.store.identity(app_id).await? else { return Ok(false) };
            let mut changed = false;
            let aad = identity_aad(app_id, identity.key_version);
            changed |= self.reseal_key(&mut identity.sealed, &mut identity.sealed_copies, &aad, custody)?;
            if let Some(rotation) = identity.rotation.as_mut() {
                let aad = identity_aad(app_id, rotation.new_key_version);
                let mut primary = Some(rotation.new_sealed.clone());
                changed |= self.reseal_key(&mut primary, &mut rotation.new_sealed_copies, &aad, custody)?;
                rotation.new_sealed = primary.ok_or_else(Error::task_failed)?;
            }
            if !changed {
                return Ok(false);
            }
            identity.updated_at = now_ms();
            match self.inner.store.update_identity(&identity).await {
                Ok(_) => return Ok(true),
                Err(Error::Conflict(_)) if attempt + 1 < CAS_ATTEMPTS => attempt += 1,
                Err(error) => return Err(error),
            }
        }
    }

    fn reseal_key(
        &self,
        primary: &mut Option<Sealed>,
        copies: &mut Vec<Sealed>,
        aad: &[u8],
        custody: &Arc<dyn KeyCustody>,
    ) -> Result<bool> {
        let Some(old) = primary.take() else { return Ok(false) };
        let blobs: Vec<&Sealed> = std::iter::once(&old).chain(copies.iter()).collect();
        if let Some(position) = blobs.iter().position(|sealed| sealed.kek_id == custody.kek_id()) {
            // Already sealed under it: make that blob the primary.
            if position > 0 {
                let new = copies.remove(position - 1);
                copies.insert(0, old);
                *primary = Some(new);
                return Ok(true);
            }
            *primary = Some(old);
            return Ok(false);
        }
        let plaintext = self.open_any(&blobs, aad, Some(custody))?;
        let new = custody.seal(&plaintext, aad)?;
        copies.insert(0, old);
        *primary = Some(new);
        Ok(true)
    }

    /// Shreds every blob sealed under the KEK `kek_id` (after a [`AppKeyStore::rekey`] away from
    /// it, once every instance holds the new KEK): a key whose only blob is under it is first
    /// re-sealed under this store's current KEK. The current KEK cannot be retired
    /// (`KEYSTORE_BAD_INPUT`). Afterwards this store no longer accepts that KEK. Resumable.
    pub async fn retire_kek(&self, kek_id: &str) -> Result<RekeyReport> {
        self.ensure_open()?;
        check_id(kek_id, "KEK id is empty, too long or has control characters")?;
        let current = self.current_custody();
        if current.kek_id() == kek_id {
            return Err(Error::BadInput("the current KEK cannot be retired; rekey away from it first"));
        }
        let mut report = RekeyReport::default();
        for identity in self.inner.store.identities().await? {
            let app_id = identity.app_id.clone();
            let mut attempt = 0;
            let changed = loop {
                let Some(mut identity) = self.inner.store.identity(&app_id).await? else { break false };
                let before = identity.clone();
                let aad = identity_aad(&app_id, identity.key_version);
                if identity.current_blobs().iter().any(|sealed| sealed.kek_id == kek_id) {
                    self.reseal_key(&mut identity.sealed, &mut identity.sealed_copies, &aad, &current)?;
                    identity.sealed_copies.retain(|sealed| sealed.kek_id != kek_id);
                }
                if let Some(rotation) = identity.rotation.as_mut() {
                    let aad = identity_aad(&app_id, rotation.new_key_version);
                    let mut primary = Some(rotation.new_sealed.clone());
                    self.reseal_key(&mut primary, &mut rotation.new_sealed_copies, &aad, &current)?;
                    rotation.new_sealed = primary.ok_or_else(Error::task_failed)?;
                    rotation.new_sealed_copies.retain(|sealed| sealed.kek_id != kek_id);
                }
                if identity == before {
                    break false;
                }
                identity.updated_at = now_ms();
                match self.inner.store.update_identity(&identity).await {
                    Ok(_) => break true,
                    Err(Error::Conflict(_)) if attempt + 1 < CAS_ATTEMPTS => attempt += 1,
                    Err(error) => return Err(error),
                }
            };
            match changed {
                true => {
                    report.resealed += 1;
                    let event = Event {
                        detail: Some(format!("retired_kek_id={kek_id}")),
                        ..self.event(SYSTEM, action::KEK_RETIRE, Some(&app_id), None)
                    };
                    self.append(&event, OK).await?;
                }
                false => report.unchanged += 1,
            }
        }
        write(&self.inner.keks).previous.retain(|kek| kek.kek_id() != kek_id);
        Ok(report)
    }

    /// Opens the first of `blobs` this store (or `extra`) holds the KEK of.
    fn open_any(
        &self,
        blobs: &[&Sealed],
        aad: &[u8],
        extra: Option<&Arc<dyn KeyCustody>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut last = Error::BadKek("sealed under a KEK this store was not given");
        for sealed in blobs {
            let custody = match extra.filter(|extra| extra.kek_id() == sealed.kek_id) {
                Some(extra) => Arc::clone(extra),
                None => match self.custody_for(&sealed.kek_id) {
                    Ok(custody) => custody,
                    Err(error) => {
                        last = error;
                        continue;
                    }
                },
            };
            match custody.unseal(sealed, aad) {
                Ok(plaintext) => return Ok(plaintext),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    // ----- authorizations -----

    /// Authorizes the app for the room, recording who granted it. Idempotent: a second grant
    /// keeps (and returns) the first one.
    pub async fn authorize(&self, app_id: &str, room_id: &str, actor_id: &str) -> Result<Authorization> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(room_id, BAD_ROOM_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.authorize_inner(app_id, room_id, actor_id).await;
        lock(&self.inner.gates).remove(&(app_id.to_owned(), room_id.to_owned()));
        let event = Event {
            detail: match &result {
                Ok((_, false)) => Some("already granted".to_owned()),
                _ => None,
            },
            ..self.event(actor_id, action::GRANT, Some(app_id), Some(room_id))
        };
        let (authorization, _) = self.audited(event, result).await?;
        Ok(authorization)
    }

    async fn authorize_inner(&self, app_id: &str, room_id: &str, actor_id: &str) -> Result<(Authorization, bool)> {
        if let Some(identity) = self.inner.store.identity(app_id).await? {
            if identity.state == IdentityState::Revoked {
                return Err(Error::Revoked);
            }
        }
        let doc = AuthorizationDoc {
            id: AuthorizationDoc::id_of(app_id, room_id),
            app_id: app_id.to_owned(),
            room_id: room_id.to_owned(),
            granted_by: actor_id.to_owned(),
            granted_at: now_ms(),
            version: 1,
        };
        let inserted = self.inner.store.insert_authorization(&doc).await?;
        let stored = match inserted {
            true => doc,
            false => self.inner.store.authorization(app_id, room_id).await?.unwrap_or(doc),
        };
        Ok((authorization_of(stored), inserted))
    }

    /// Withdraws the app's authorization for the room and drops the room's cached keys.
    /// Returns whether there was one.
    pub async fn revoke_authorization(&self, app_id: &str, room_id: &str, actor_id: &str) -> Result<bool> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(room_id, BAD_ROOM_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.inner.store.delete_authorization(app_id, room_id).await;
        lock(&self.inner.room_keys).evict_room(app_id, room_id);
        lock(&self.inner.gates).remove(&(app_id.to_owned(), room_id.to_owned()));
        let event = Event {
            detail: match &result {
                Ok(false) => Some("was not granted".to_owned()),
                _ => None,
            },
            ..self.event(actor_id, action::REVOKE, Some(app_id), Some(room_id))
        };
        self.audited(event, result).await
    }

    /// Whether the app is authorized for the room (read from the store, not cached).
    pub async fn is_authorized(&self, app_id: &str, room_id: &str) -> Result<bool> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(room_id, BAD_ROOM_ID)?;
        Ok(self.inner.store.authorization(app_id, room_id).await?.is_some())
    }

    /// The app's authorizations, oldest first.
    pub async fn list_authorizations(&self, app_id: &str) -> Result<Vec<Authorization>> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        Ok(self.inner.store.authorizations(app_id).await?.into_iter().map(authorization_of).collect())
    }

    // ----- messages -----

    /// Decrypts a message of the room with the cached keys (the kid it names, else the current
    /// key) and returns its payload text (EJSON). The call is counted in the audit.
    pub async fn decrypt_message(
        &self,
        app_id: &str,
        room_id: &str,
        message: &MessageFields,
    ) -> Result<Zeroizing<String>> {
        let result = self
            .with_ring(app_id, room_id, action::MESSAGE_DECRYPT, message.named_kid(), |ring| {
                rc_e2ee_core::message::decrypt_message(ring, &message.as_ref())
            })
            .await;
        result.map(to_text)
    }

    /// Decrypts one encrypted `content` of the room; see [`AppKeyStore::decrypt_message`].
    pub async fn decrypt_content(
        &self,
        app_id: &str,
        room_id: &str,
        content: &ContentFields,
    ) -> Result<Zeroizing<String>> {
        let result = self
            .with_ring(app_id, room_id, action::CONTENT_DECRYPT, content.named_kid(), |ring| {
                rc_e2ee_core::decrypt_content(ring, &content.as_ref())
            })
            .await;
        result.map(to_text)
    }

    async fn with_ring(
        &self,
        app_id: &str,
        room_id: &str,
        action: &'static str,
        named_kid: Option<&str>,
        decrypt: impl FnOnce(&[&RoomKey]) -> rc_e2ee_core::Result<Zeroizing<Vec<u8>>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.counted(app_id, room_id, action, || {
            let ring = lock(&self.inner.room_keys).ring(app_id, room_id);
            match ring.is_empty() {
                true => Err(Error::NoRoomKey),
                false => {
                    let refs: Vec<&RoomKey> = ring.iter().map(Arc::as_ref).collect();
                    decrypt(&refs).map_err(|error| match error {
                        rc_e2ee_core::Error::UnknownKid => Error::NoRoomKey,
                        // The message names a key this cache does not hold and the current one
                        // did not open it: the host should load the subscription's keys.
                        rc_e2ee_core::Error::DecryptFailed
                            if named_kid.is_some_and(|kid| !refs.iter().any(|key| key.kid() == kid)) =>
                        {
                            Error::NoRoomKey
                        }
                        error => Error::Core(error),
                    })
                }
            }
        })
        .await
    }

    /// The frame of every counted call: checks the ids and the gates (authorization, identity
    /// state), runs `work`, and counts the outcome in the audit under the acting app user. A
    /// call the gates refuse is counted per app, without its room: room ids an app invents must
    /// not each cost an audit document.
    async fn counted<T>(
        &self,
        app_id: &str,
        room_id: &str,
        action: &'static str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(room_id, BAD_ROOM_ID)?;
        let actor = match self.gate(app_id, room_id).await {
            Ok(actor) => actor,
            Err(error) => return Err(self.count(SYSTEM, action, app_id, None, error).await),
        };
        match work() {
            Ok(value) => {
                self.count_ok(&actor, action, app_id, room_id).await;
                Ok(value)
            }
            Err(error) => Err(self.count(&actor, action, app_id, Some(room_id), error).await),
        }
    }

    /// Encrypts a payload (EJSON text of a JSON object) as a v2 envelope under the room's
    /// current key. With `expected_kid` (the room's `e2eKeyId`), a different current key is
    /// `KEYSTORE_KID_MISMATCH` rather than a message other members cannot read.
    pub async fn encrypt_content(
        &self,
        app_id: &str,
        room_id: &str,
        plaintext: &str,
        expected_kid: Option<&str>,
    ) -> Result<EncryptedContent> {
        self.counted(app_id, room_id, action::CONTENT_ENCRYPT, || {
            let key = lock(&self.inner.room_keys).current(app_id, room_id);
            match key {
                None => Err(Error::NoRoomKey),
                Some(key) if expected_kid.is_some_and(|kid| kid != key.kid()) => Err(Error::KidMismatch),
                Some(key) => ensure_object(plaintext.as_bytes())
                    .and_then(|()| rc_e2ee_core::encrypt_content(&key, plaintext.as_bytes()))
                    .map_err(Error::Core),
            }
        })
        .await
    }

    // ----- audit -----

    /// Audit records, newest first (pending counters are flushed first).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        self.ensure_open()?;
        self.flush_audit().await?;
        self.inner.store.audit(query).await
    }

    /// Writes pending decrypt/encrypt counters now.
    pub async fn flush_audit(&self) -> Result<()> {
        flush(&self.inner).await
    }

    fn spawn_audit_flusher(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.audit_flush_interval.max(Duration::from_millis(100));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::Acquire) {
                    break;
                }
                let due = lock(&inner.counters).due(interval);
                if due {
                    // A failed flush keeps its counts for the next one.
                    let _ = flush(&inner).await;
                }
            }
        });
    }

    async fn count_ok(&self, actor: &str, action: &'static str, app_id: &str, room_id: &str) {
        let due = {
            let mut counters = lock(&self.inner.counters);
            counters.add(actor, action, app_id, Some(room_id), OK);
            counters.due(self.inner.audit_flush_interval)
        };
        if due {
            // The call succeeded; counts of a failed flush are kept and retried.
            let _ = flush(&self.inner).await;
        }
    }

    /// Counts a failed call and hands its error back.
    async fn count(
        &self,
        actor: &str,
        action: &'static str,
        app_id: &str,
        room_id: Option<&str>,
        error: Error,
    ) -> Error {
        let due = {
            let mut counters = lock(&self.inner.counters);
            counters.add(actor, action, app_id, room_id, error.code());
            counters.due(self.inner.audit_flush_interval)
        };
        if due {
            let _ = flush(&self.inner).await;
        }
        error
    }

    pub(crate) fn event<'a>(
        &self,
        actor: &'a str,
        action: &'static str,
        app_id: Option<&'a str>,
        room_id: Option<&'a str>,
    ) -> Event<'a> {
        Event { actor, action, app_id, room_id, kid: None, detail: None }
    }

    pub(crate) async fn append(&self, event: &Event<'_>, outcome: &str) -> Result<()> {
        self.inner.store.append_audit(&event.record(outcome)).await
    }

    /// Appends the outcome of `result` and returns it; a failed audit write fails a
    /// successful operation (whose change is made: the operations are idempotent to retry).
    pub(crate) async fn audited<T>(&self, event: Event<'_>, result: Result<T>) -> Result<T> {
        let outcome = match &result {
            Ok(_) => OK,
            Err(error) => error.code(),
        };
        let written = self.append(&event, outcome).await;
        let value = result?;
        written.map(|()| value)
    }

    // ----- shared internals -----

    pub(crate) fn ensure_open(&self) -> Result<()> {
        match self.inner.closed.load(Ordering::Acquire) {
            true => Err(Error::storage(StorageKind::Closed, "the key store is closed")),
            false => Ok(()),
        }
    }

    pub(crate) fn custody_for(&self, kek_id: &str) -> Result<Arc<dyn KeyCustody>> {
        let keks = read(&self.inner.keks);
        std::iter::once(&keks.current)
            .chain(keks.previous.iter())
            .find(|kek| kek.kek_id() == kek_id)
            .cloned()
            .ok_or(Error::BadKek("sealed under a KEK this store was not given"))
    }

    fn current_custody(&self) -> Arc<dyn KeyCustody> {
        Arc::clone(&read(&self.inner.keks).current)
    }

    /// A new active identity document with a fresh key sealed under the current KEK.
    async fn new_identity(&self, app_id: &str, app_user_id: &str, key_version: i64) -> Result<IdentityDoc> {
        let (public_key, sealed) = self.generate_sealed(app_id, key_version).await?;
        let now = now_ms();
        Ok(IdentityDoc {
            app_id: app_id.to_owned(),
            app_user_id: app_user_id.to_owned(),
            key_version,
            public_key,
            sealed: Some(sealed),
            sealed_copies: Vec::new(),
            state: IdentityState::Active,
            created_at: now,
            updated_at: now,
            revoked_at: None,
            revoked_by: None,
            rotation: None,
            version: 1,
        })
    }

    /// Generates a key pair off the async workers, seals its PKCS#8 under the current KEK for
    /// (app, key version) and caches the imported key. Returns (public key, sealed).
    pub(crate) async fn generate_sealed(&self, app_id: &str, key_version: i64) -> Result<(String, Sealed)> {
        let custody = self.current_custody();
        let aad = identity_aad(app_id, key_version);
        let (key, sealed) = blocking(move || {
            let key = RsaPrivateKey::generate()?;
            let der = key.to_pkcs8_der()?;
            let sealed = custody.seal(&der, &aad)?;
            Ok((Arc::new(key), sealed))
        })
        .await?;
        let public_key = key.public_key().to_rc_string();
        lock(&self.inner.private_keys).insert(app_id, key_version, &public_key, key);
        Ok((public_key, sealed))
    }

    /// The imported private key sealed in `blobs` (copies under different KEKs: the first one
    /// this store holds the KEK of opens) for (app, key version), whose public key must be
    /// `public_key`; cached.
    pub(crate) async fn private_key(
        &self,
        app_id: &str,
        public_key: &str,
        blobs: &[&Sealed],
        key_version: i64,
    ) -> Result<Arc<RsaPrivateKey>> {
        if let Some(key) = lock(&self.inner.private_keys).get(app_id, key_version, public_key) {
            return Ok(key);
        }
        let aad = identity_aad(app_id, key_version);
        let this = self.clone();
        let blobs: Vec<Sealed> = blobs.iter().map(|sealed| (*sealed).clone()).collect();
        let expected = public_key.to_owned();
        let key = blocking(move || {
            let refs: Vec<&Sealed> = blobs.iter().collect();
            let der = this.open_any(&refs, &aad, None)?;
            let key = RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| Error::BadKek("the sealed key is not a key"))?;
            if key.public_key().to_rc_string() != expected {
                return Err(Error::BadKek("the sealed key does not match the identity's public key"));
            }
            Ok(Arc::new(key))
        })
        .await?;
        lock(&self.inner.private_keys).insert(app_id, key_version, public_key, Arc::clone(&key));
        Ok(key)
    }

    /// Every private key of an active identity: the current one, and the new one of a rotation
    /// in progress (new first once it is published, as new wrappings then use it).
    pub(crate) async fn private_keys_of(&self, identity: &IdentityDoc) -> Result<Vec<Arc<RsaPrivateKey>>> {
        if identity.sealed.is_none() {
            return Err(Error::Revoked);
        }
        let current = self
            .private_key(&identity.app_id, &identity.public_key, &identity.current_blobs(), identity.key_version)
            .await?;
        let Some(rotation) = &identity.rotation else { return Ok(vec![current]) };
        let new = self
            .private_key(&identity.app_id, &rotation.new_public_key, &identity.new_blobs(), rotation.new_key_version)
            .await?;
        Ok(match rotation.step {
            RotationStep::Published => vec![new, current],
            _ => vec![current, new],
        })
    }

    /// Reads identity and authorization now: the identity document, or why not.
    pub(crate) async fn fresh_gate(&self, app_id: &str, room_id: &str) -> Result<IdentityDoc> {
        let identity = self.inner.store.identity(app_id).await?;
        let verdict = match identity {
            None => Err(Error::NoIdentity),
            Some(identity) if identity.state == IdentityState::Revoked => Err(Error::Revoked),
            Some(identity) => match self.inner.store.authorization(app_id, room_id).await? {
                None => Err(Error::NotAuthorized),
                Some(_) => Ok(identity),
            },
        };
        self.remember_gate(
            app_id,
            room_id,
            verdict.as_ref().map(|identity| identity.app_user_id.clone()).map_err(Clone::clone),
        );
        verdict
    }

    /// The gate of decrypt/encrypt: identity active and app authorized, trusted for
    /// `authorization_ttl`. Returns the app user id (the audit actor).
    pub(crate) async fn gate(&self, app_id: &str, room_id: &str) -> Result<String> {
        let ttl = self.inner.authorization_ttl;
        if !ttl.is_zero() {
            let gates = lock(&self.inner.gates);
            if let Some(gate) = gates.get(&(app_id.to_owned(), room_id.to_owned())) {
                if gate.checked.elapsed() < ttl {
                    return gate.verdict.clone();
                }
            }
        }
        self.fresh_gate(app_id, room_id).await.map(|identity| identity.app_user_id)
    }

    fn remember_gate(&self, app_id: &str, room_id: &str, verdict: Result<String>) {
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
            gates.retain(|_, gate| gate.checked.elapsed() < ttl);
            if gates.len() >= MAX_GATES {
                gates.retain(|_, gate| gate.verdict.is_ok());
            }
            if gates.len() >= MAX_GATES {
                gates.clear();
            }
        }
        gates.insert((app_id.to_owned(), room_id.to_owned()), Gate { checked: Instant::now(), verdict });
    }

    /// Drops an app's cached room keys, gates and private keys (except `keep`).
    pub(crate) fn forget_app(&self, app_id: &str, keep: &[&str]) {
        lock(&self.inner.room_keys).evict_app(app_id);
        lock(&self.inner.private_keys).evict_app(app_id, keep);
        lock(&self.inner.gates).retain(|(app, _), _| app != app_id);
    }
}

async fn flush(inner: &Inner) -> Result<()> {
    let counts = lock(&inner.counters).take();
    if counts.is_empty() {
        return Ok(());
    }
    let result = inner.store.add_audit_counts(&counts).await;
    if result.is_err() {
        lock(&inner.counters).restore(counts);
    }
    result
}

/// Unwraps with the first key that opens `e2e_key`; the last key's error otherwise.
pub(crate) fn unwrap_with_any(keys: &[Arc<RsaPrivateKey>], e2e_key: &str) -> Result<RoomKey> {
    let mut last = Error::Core(rc_e2ee_core::Error::DecryptFailed);
    for key in keys {
        match unwrap_room_key(key, e2e_key) {
            Ok(room_key) => return Ok(room_key),
            Err(error) => last = Error::Core(error),
        }
    }
    Err(last)
}

/// The public key members should wrap room keys to: the current one, or the new one once a
/// rotation has published it (a host that re-publishes what `ensure_identity` returns must not
/// undo that step).
fn published_key(identity: &IdentityDoc) -> &str {
    match &identity.rotation {
        Some(rotation) if rotation.step == RotationStep::Published => &rotation.new_public_key,
        _ => &identity.public_key,
    }
}

pub(crate) fn step_name(step: RotationStep) -> &'static str {
    match step {
        RotationStep::Begun => "begun",
        RotationStep::Rewrapped => "rewrapped",
        RotationStep::Published => "published",
    }
}

fn authorization_of(doc: AuthorizationDoc) -> Authorization {
    Authorization { room_id: doc.room_id, granted_by: doc.granted_by, granted_at: doc.granted_at }
}

/// Ids are opaque but bounded, non-empty and free of control characters (they end up in
/// documents, audit records and filters). `problem` is the error message.
pub(crate) fn check_id(value: &str, problem: &'static str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_ID_BYTES || value.chars().any(char::is_control) {
        return Err(Error::BadInput(problem));
    }
    Ok(())
}

/// Runs CPU-heavy work (RSA, sealing) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|_| Error::task_failed())?
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::SealedCustody;

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
        store.ensure_identity("app", "app.bot").await.unwrap();
        store.authorize("app", "real-room", "admin").await.unwrap();
        let content = ContentFields::default();
        let _ = store.decrypt_content("app", "real-room", &content).await;
        // An app probing invented room ids within the TTL: every verdict is fresh.
        for index in 0..(MAX_GATES + 200) {
            let _ = store.decrypt_content("app", &format!("probe-{index}"), &content).await;
            assert!(lock(&store.inner.gates).len() <= MAX_GATES);
        }
        // The authorized room's verdict survived the sweep of refusals.
        assert!(lock(&store.inner.gates)
            .get(&("app".to_owned(), "real-room".to_owned()))
            .is_some_and(|gate| gate.verdict.is_ok()));
        store.close().await.unwrap();
    }
}
