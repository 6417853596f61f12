//! [`AppKeyStore`]: the stateful participant, over one [`Store`] and one custody provider. This
//! file holds its state, opening and closing, and the helpers every concern shares; each concern
//! has its own file: `identities`, `kek` (KEK rotation), `authorizations`, `gates`, `room_keys`
//! (with the `acceptance` rule), `messages`, `rotation` (identity rotation), `auditing`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::audit::Counters;
use crate::cache::{PrivateKeyCache, RoomKeyCache};
use crate::custody::KeyCustody;
use crate::error::StorageKind;
use crate::gates::GateCache;
use crate::store::{self, Store, StoreUrl};
use crate::{Error, Result};

/// How often a lost compare-and-swap is retried by operations that must win eventually
/// (revocation, re-sealing); the others report [`Error::Conflict`] to the caller.
pub(crate) const CAS_ATTEMPTS: usize = 5;
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
    pub(crate) keks: RwLock<Keks>,
    pub(crate) room_keys: Mutex<RoomKeyCache>,
    pub(crate) private_keys: Mutex<PrivateKeyCache>,
    pub(crate) gates: Mutex<GateCache>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) authorization_ttl: Duration,
    pub(crate) audit_flush_interval: Duration,
    pub(crate) closed: AtomicBool,
}

pub(crate) struct Keks {
    pub(crate) current: Arc<dyn KeyCustody>,
    pub(crate) previous: Vec<Arc<dyn KeyCustody>>,
}

/// A checked (app, room) gate: the app user id, or why the app may not use the room.
pub(crate) struct Gate {
    pub(crate) checked: Instant,
    /// Shared, so that a read clones a reference count rather than the id.
    pub(crate) verdict: Result<Arc<str>>,
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
                gates: Mutex::new(GateCache::default()),
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

    pub(crate) fn current_custody(&self) -> Arc<dyn KeyCustody> {
        Arc::clone(&read(&self.inner.keks).current)
    }
}

/// Runs CPU-heavy work (RSA, sealing) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|_| Error::task_failed())?
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
