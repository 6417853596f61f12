//! The embedded backend: one local JSON file, for development and the demo.
//!
//! Every operation runs on a blocking thread under two locks: a process-local mutex per file
//! (shared by every store opened on that path in this process) and an advisory lock (`flock`)
//! on `<file>.lock` against other processes. Under them it re-reads the file, applies the same
//! compare-and-swap rules as the MongoDB backend in memory, and persists by writing a temporary
//! file, fsyncing it, renaming it over the old one and fsyncing the directory. So two stores on
//! one file, in one process or in two, never lose an update, and a crash leaves the old file or
//! the new one, never a torn one. The whole file is rewritten per change: fine for an embedded
//! store, not for a busy server (use MongoDB there).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    AuditCount, AuditQuery, AuditRecord, AuthorizationDoc, IdentityDoc, Store, AUDIT, AUTHORIZATIONS, IDENTITIES,
};
use crate::error::StorageKind;
use crate::{Error, Result};

const FORMAT: &str = "rc-e2ee-keystore/1";

type FileLock = Mutex<fd_lock::RwLock<File>>;
type SharedLock = Arc<FileLock>;

pub struct FileStore {
    path: PathBuf,
    lock: SharedLock,
    closed: AtomicBool,
}

#[derive(Serialize, Deserialize)]
struct FileDb {
    format: String,
    #[serde(default)]
    identities: BTreeMap<String, IdentityDoc>,
    #[serde(default)]
    authorizations: BTreeMap<String, AuthorizationDoc>,
    #[serde(default)]
    audit: Vec<AuditRecord>,
}

impl Default for FileDb {
    fn default() -> Self {
        Self {
            format: FORMAT.to_owned(),
            identities: BTreeMap::new(),
            authorizations: BTreeMap::new(),
            audit: Vec::new(),
        }
    }
}

impl FileStore {
    /// Opens (creating if needed) the store file. Its directory must exist.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_owned();
        let store = tokio::task::spawn_blocking(move || -> Result<Self> {
            let name = path.file_name().ok_or(Error::BadInput("the key-store file path names no file"))?;
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let dir = fs::canonicalize(parent)
                .map_err(|_| Error::storage(StorageKind::Io, "the key-store file's directory does not exist"))?;
            let path = dir.join(name);
            let lock = shared_lock(&path)?;
            Ok(Self { path, lock, closed: AtomicBool::new(false) })
        })
        .await
        .map_err(|_| Error::task_failed())??;
        // Creates the file (or checks that the existing one parses) under the locks.
        store.run(true, |_| Ok(((), false))).await?;
        Ok(store)
    }

    /// Runs `body` over the current file contents under both locks; writes the file back when
    /// `body` reports a change (or when the file does not exist yet).
    async fn run<T, F>(&self, write: bool, body: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut FileDb) -> Result<(T, bool)> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::storage(StorageKind::Closed, "the key store is closed"));
        }
        let path = self.path.clone();
        let lock = Arc::clone(&self.lock);
        tokio::task::spawn_blocking(move || -> Result<T> {
            // The mutex only orders this process's callers; a poisoned one protects nothing.
            let mut local = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if write {
                let _flock =
                    local.write().map_err(|_| Error::storage(StorageKind::Io, "cannot lock the key-store file"))?;
                let (mut db, exists) = read_db(&path)?;
                let (out, dirty) = body(&mut db)?;
                if dirty || !exists {
                    write_db(&path, &db)?;
                }
                Ok(out)
            } else {
                let _flock =
                    local.read().map_err(|_| Error::storage(StorageKind::Io, "cannot lock the key-store file"))?;
                let (mut db, _) = read_db(&path)?;
                Ok(body(&mut db)?.0)
            }
        })
        .await
        .map_err(|_| Error::task_failed())?
    }
}

/// One lock-file handle per store file in this process, shared while any store uses it.
fn shared_lock(path: &Path) -> Result<SharedLock> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Weak<FileLock>>>> = OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.retain(|_, lock| lock.strong_count() > 0);
    if let Some(lock) = locks.get(path).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(|_| Error::storage(StorageKind::Io, "cannot open the key-store lock file"))?;
    let lock = Arc::new(Mutex::new(fd_lock::RwLock::new(file)));
    locks.insert(path.to_owned(), Arc::downgrade(&lock));
    Ok(lock)
}

fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn read_db(path: &Path) -> Result<(FileDb, bool)> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((FileDb::default(), false)),
        Err(_) => return Err(Error::storage(StorageKind::Io, "cannot read the key-store file")),
    };
    let db: FileDb = serde_json::from_slice(&bytes)
        .map_err(|_| Error::storage(StorageKind::Corrupt, "the key-store file does not parse"))?;
    if db.format != FORMAT {
        return Err(Error::storage(StorageKind::Corrupt, "the key-store file has an unknown format"));
    }
    Ok((db, true))
}

/// Temp file + fsync + rename + fsync of the directory: the old file or the new one survives a
/// crash, never a torn one.
fn write_db(path: &Path, db: &FileDb) -> Result<()> {
    let io = |_| Error::storage(StorageKind::Io, "cannot write the key-store file");
    let bytes = serde_json::to_vec(db).map_err(|_| Error::storage(StorageKind::Io, "cannot encode the key store"))?;
    let dir = path.parent().ok_or(Error::storage(StorageKind::Io, "the key-store file has no directory"))?;
    let name = path.file_name().ok_or(Error::storage(StorageKind::Io, "the key-store path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let temp = dir.join(temp_name);
    let written = (|| -> std::io::Result<()> {
        let mut file = private_options().write(true).create_new(true).open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temp);
        return Err(io(error));
    }
    #[cfg(unix)]
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(io)?;
    Ok(())
}

#[async_trait]
impl Store for FileStore {
    async fn identity(&self, app_id: &str) -> Result<Option<IdentityDoc>> {
        let app_id = app_id.to_owned();
        self.run(false, move |db| Ok((db.identities.get(&app_id).cloned(), false))).await
    }

    async fn identities(&self) -> Result<Vec<IdentityDoc>> {
        self.run(false, |db| Ok((db.identities.values().cloned().collect(), false))).await
    }

    async fn insert_identity(&self, identity: &IdentityDoc) -> Result<()> {
        let identity = identity.clone();
        self.run(true, move |db| {
            if db.identities.contains_key(&identity.app_id) {
                return Err(Error::Conflict("the app already has an identity"));
            }
            db.identities.insert(identity.app_id.clone(), identity);
            Ok(((), true))
        })
        .await
    }

    async fn update_identity(&self, identity: &IdentityDoc) -> Result<i64> {
        let mut identity = identity.clone();
        self.run(true, move |db| {
            let stored = db.identities.get_mut(&identity.app_id);
            match stored {
                Some(stored) if stored.version == identity.version => {
                    identity.version += 1;
                    let version = identity.version;
                    *stored = identity;
                    Ok((version, true))
                }
                _ => Err(Error::Conflict("the identity changed since it was read")),
            }
        })
        .await
    }

    async fn authorization(&self, app_id: &str, room_id: &str) -> Result<Option<AuthorizationDoc>> {
        let id = AuthorizationDoc::id_of(app_id, room_id);
        self.run(false, move |db| Ok((db.authorizations.get(&id).cloned(), false))).await
    }

    async fn insert_authorization(&self, authorization: &AuthorizationDoc) -> Result<bool> {
        let authorization = authorization.clone();
        self.run(true, move |db| {
            if db.authorizations.contains_key(&authorization.id) {
                return Ok((false, false));
            }
            db.authorizations.insert(authorization.id.clone(), authorization);
            Ok((true, true))
        })
        .await
    }

    async fn delete_authorization(&self, app_id: &str, room_id: &str) -> Result<bool> {
        let id = AuthorizationDoc::id_of(app_id, room_id);
        self.run(true, move |db| {
            let removed = db.authorizations.remove(&id).is_some();
            Ok((removed, removed))
        })
        .await
    }

    async fn delete_authorizations(&self, app_id: &str) -> Result<u64> {
        let app_id = app_id.to_owned();
        self.run(true, move |db| {
            let before = db.authorizations.len();
            db.authorizations.retain(|_, authorization| authorization.app_id != app_id);
            let removed = (before - db.authorizations.len()) as u64;
            Ok((removed, removed > 0))
        })
        .await
    }

    async fn authorizations(&self, app_id: &str) -> Result<Vec<AuthorizationDoc>> {
        let app_id = app_id.to_owned();
        self.run(false, move |db| {
            let mut out: Vec<_> = db.authorizations.values().filter(|a| a.app_id == app_id).cloned().collect();
            out.sort_by(|a, b| (a.granted_at, &a.room_id).cmp(&(b.granted_at, &b.room_id)));
            Ok((out, false))
        })
        .await
    }

    async fn update_authorization(&self, authorization: &AuthorizationDoc) -> Result<i64> {
        let mut authorization = authorization.clone();
        self.run(true, move |db| match db.authorizations.get_mut(&authorization.id) {
            Some(stored) if stored.version == authorization.version => {
                authorization.version += 1;
                let version = authorization.version;
                *stored = authorization;
                Ok((version, true))
            }
            _ => Err(Error::Conflict("the authorization changed since it was read")),
        })
        .await
    }

    async fn marked_authorizations(&self, room_id: &str) -> Result<Vec<AuthorizationDoc>> {
        let room_id = room_id.to_owned();
        self.run(false, move |db| {
            let marked = db.authorizations.values().filter(|a| a.room_id == room_id && !a.trust.is_empty());
            Ok((marked.cloned().collect(), false))
        })
        .await
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        let record = record.clone();
        self.run(true, move |db| {
            db.audit.push(record);
            Ok(((), true))
        })
        .await
    }

    async fn add_audit_counts(&self, counts: &[AuditCount]) -> Result<()> {
        let counts = counts.to_vec();
        self.run(true, move |db| {
            for count in counts {
                let id = count.id();
                // Counters of the current minutes sit at the end of the log.
                match db.audit.iter_mut().rev().find(|record| record.id == id) {
                    Some(record) => record.count = Some(record.count.unwrap_or(0) + count.count),
                    None => db.audit.push(AuditRecord {
                        id,
                        ts: count.minute,
                        actor: count.actor,
                        action: count.action,
                        app_id: Some(count.app_id),
                        room_id: count.room_id,
                        kid: None,
                        outcome: count.outcome,
                        detail: None,
                        count: Some(count.count),
                    }),
                }
            }
            Ok(((), true))
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let query = query.clone();
        self.run(false, move |db| {
            let mut out: Vec<_> = db.audit.iter().filter(|record| query.matches(record)).cloned().collect();
            out.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
            out.truncate(query.effective_limit() as usize);
            Ok((out, false))
        })
        .await
    }

    async fn export(&self) -> Result<Vec<(&'static str, serde_json::Value)>> {
        self.run(false, |db| {
            let encode = |value: Result<serde_json::Value, serde_json::Error>| {
                value.map_err(|_| Error::storage(StorageKind::Corrupt, "cannot encode a stored document"))
            };
            let mut out = Vec::new();
            for identity in db.identities.values() {
                out.push((IDENTITIES, encode(serde_json::to_value(identity))?));
            }
            for authorization in db.authorizations.values() {
                out.push((AUTHORIZATIONS, encode(serde_json::to_value(authorization))?));
            }
            for record in &db.audit {
                out.push((AUDIT, encode(serde_json::to_value(record))?));
            }
            Ok((out, false))
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}
