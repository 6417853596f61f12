//! Persistence: one document-shaped trait, [`Store`], with a MongoDB backend ([`mongo`]) and an
//! embedded single-file backend ([`mod@file`]) that pass the same behaviour suite.
//!
//! Three collections (the embedded file keeps the same three lists):
//! - `rc_e2ee_app_identities`: one [`IdentityDoc`] per app, `_id` = app id.
//! - `rc_e2ee_app_authorizations`: one [`AuthorizationDoc`] per (app, room), with the trust
//!   marks of room keys accepted provisionally there ([`TrustMark`]: kid, fingerprint, status).
//! - `rc_e2ee_audit`: append-only [`AuditRecord`]s, plus counter records of decrypt/encrypt
//!   calls: one per (app, room, action, outcome, minute) in the file; on MongoDB one per store
//!   instance as well, which [`Store::audit`] adds up into one.
//!
//! MongoDB has a fourth, `rc_e2ee_claims`: short-lived claims that make each compare-and-swap
//! atomic on servers whose updates are not (FerretDB; see [`mongo`]).
//!
//! Concurrency: an identity changes only through [`Store::update_identity`], a compare-and-swap
//! on its `version` field (on MongoDB `update_one({_id, version}, {$set, $unset, $inc: {version:
//! 1}})`, run only by the writer that first claimed that version), so two server instances never
//! lose an update; the loser gets [`Error::Conflict`]. Authorizations are only inserted (unique
//! `_id`) or deleted, each a single atomic operation. No transactions and no change streams, so
//! MongoDB 5+ and FerretDB 1.x both work. Room keys are never stored here: their durable copy is
//! the app user's subscription.

pub mod file;
pub mod mongo;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::custody::Sealed;
use crate::{Error, Result};

pub const IDENTITIES: &str = "rc_e2ee_app_identities";
pub const AUTHORIZATIONS: &str = "rc_e2ee_app_authorizations";
pub const AUDIT: &str = "rc_e2ee_audit";
/// MongoDB only: claims on compare-and-swap transitions ([`mongo`]).
pub const CLAIMS: &str = "rc_e2ee_claims";

/// The persisted state of one app identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDoc {
    #[serde(rename = "_id")]
    pub app_id: String,
    pub app_user_id: String,
    /// Bumped by every rotation and re-creation; part of the sealed key's AAD.
    pub key_version: i64,
    /// Rocket.Chat's public-key string of the current key (kept in the tombstone: it is public).
    pub public_key: String,
    /// The sealed PKCS#8 private key; absent once revoked (shredded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    /// The same key sealed under other KEKs: during and after a KEK rotation the old KEK's blob
    /// stays beside the new one, so instances that hold only the old KEK keep working until the
    /// operator retires it ([`crate::AppKeyStore::retire_kek`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_copies: Vec<Sealed>,
    pub state: IdentityState,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// An identity rotation in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    /// Optimistic-concurrency counter, bumped by every change.
    pub version: i64,
}

impl IdentityDoc {
    /// Every blob of the current private key (none once revoked), primary first.
    pub fn current_blobs(&self) -> Vec<&Sealed> {
        self.sealed.iter().chain(self.sealed_copies.iter()).collect()
    }

    /// Every blob of a rotation's new private key, primary first.
    pub fn new_blobs(&self) -> Vec<&Sealed> {
        self.rotation
            .iter()
            .flat_map(|rotation| std::iter::once(&rotation.new_sealed).chain(rotation.new_sealed_copies.iter()))
            .collect()
    }

    /// Each private key's blobs to edit, with the key version its AAD binds: (version, primary,
    /// copies) for the current key (unless revoked) and a rotation's new key.
    pub fn keys_mut(&mut self) -> Vec<(i64, &mut Sealed, &mut Vec<Sealed>)> {
        let current = self.sealed.as_mut().map(|sealed| (self.key_version, sealed, &mut self.sealed_copies));
        let new = self
            .rotation
            .as_mut()
            .map(|rotation| (rotation.new_key_version, &mut rotation.new_sealed, &mut rotation.new_sealed_copies));
        current.into_iter().chain(new).collect()
    }
}

/// Members of [`IdentityDoc`] that may be absent; an update unsets those the new state lacks.
pub const IDENTITY_OPTIONAL_FIELDS: [&str; 5] = ["sealed", "sealed_copies", "revoked_at", "revoked_by", "rotation"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    Active,
    Revoked,
}

/// The state machine of an identity rotation, stored on the identity document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub step: RotationStep,
    pub new_key_version: i64,
    pub new_public_key: String,
    pub new_sealed: Sealed,
    /// `new_sealed` under other KEKs, as [`IdentityDoc::sealed_copies`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_sealed_copies: Vec<Sealed>,
    pub started_at: i64,
}

/// Steps of a rotation; each is persisted once reached, so a crash resumes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RotationStep {
    /// The new key is sealed and stored beside the old one.
    Begun,
    /// Every room key the store could open was re-wrapped to the new key.
    Rewrapped,
    /// The host published the new public key.
    Published,
}

/// One app's authorization for one room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationDoc {
    /// Derived from (app id, room id): a second grant collides instead of duplicating.
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    pub room_id: String,
    pub granted_by: String,
    pub granted_at: i64,
    pub version: i64,
    /// How far the app's room keys for the room are trusted, where it is not plain "verified":
    /// keys accepted provisionally and how they were settled, so every server instance (and
    /// this one after a restart) judges a key it loads from the subscription the same way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<TrustMark>,
}

/// The recorded trust of one room key, by kid and fingerprint (never key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMark {
    pub kid: String,
    /// Hex SHA-256 fingerprint of the key (`RoomKey::fingerprint`): a mark applies to that key only.
    pub fingerprint: String,
    /// Who suggested the key: their messages never settle it.
    pub suggested_by: String,
    pub status: TrustStatus,
}

/// Where a recorded key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustStatus {
    /// Accepted with nobody else's message to judge it by; settled by the next one.
    Provisional,
    /// Settled: another sender's message opened under it.
    Verified,
    /// Settled: another sender's message under its kid did not open; no instance keeps it.
    Rejected,
}

impl AuthorizationDoc {
    /// The `_id` of (app, room): hex SHA-256 of the length-prefixed pair, unambiguous for any
    /// characters in either id.
    pub fn id_of(app_id: &str, room_id: &str) -> String {
        hashed_id("authz", &[app_id, room_id])
    }
}

/// One audit record. Records carry ids, kids, outcomes and counts, never content or key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(rename = "_id")]
    pub id: String,
    /// Milliseconds since the epoch; for a counter, the start of its minute.
    pub ts: i64,
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `"ok"` or an error code.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Set on counter records: how many calls the minute saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// Calls to add to the counter record of (app, room, action, outcome, minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    pub minute: i64,
    pub actor: String,
    pub action: String,
    pub app_id: String,
    /// `None`: calls refused before their room was known to be authorized, counted per app.
    pub room_id: Option<String>,
    pub outcome: String,
    pub count: i64,
}

impl AuditCount {
    /// The counter record's deterministic `_id`: the file backend's counter record, and the
    /// record [`Store::audit`] merges a counter's per-instance MongoDB documents into.
    pub fn id(&self) -> String {
        let minute = self.minute.to_string();
        // Room ids are never empty, so "" stands for "no room" unambiguously.
        let room = self.room_id.as_deref().unwrap_or("");
        hashed_id("count", &[&minute, &self.actor, &self.action, &self.app_id, room, &self.outcome])
    }
}

/// Filter of [`Store::audit`]; results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub app_id: Option<String>,
    pub room_id: Option<String>,
    pub action: Option<String>,
    /// Only records with `ts >= since_ms`.
    pub since_ms: Option<i64>,
    /// At most this many records; 0 means [`AuditQuery::DEFAULT_LIMIT`], capped at
    /// [`AuditQuery::MAX_LIMIT`].
    pub limit: u32,
}

impl AuditQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 10_000;

    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            limit => limit.min(Self::MAX_LIMIT),
        }
    }

    pub(crate) fn matches(&self, record: &AuditRecord) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&self.app_id, &record.app_id)
            && same(&self.room_id, &record.room_id)
            && self.action.as_ref().is_none_or(|action| action == &record.action)
            && self.since_ms.is_none_or(|since| record.ts >= since)
    }
}

/// Document storage for the key store. Implementations map every driver or I/O failure to
/// [`Error::Storage`] with a fixed message.
#[async_trait]
pub trait Store: Send + Sync {
    /// The identity of `app_id`, if any.
    async fn identity(&self, app_id: &str) -> Result<Option<IdentityDoc>>;
    /// Every identity (for KEK rotation and the KEK check at open).
    async fn identities(&self) -> Result<Vec<IdentityDoc>>;
    /// Inserts a new identity; [`Error::Conflict`] if the app already has one.
    async fn insert_identity(&self, doc: &IdentityDoc) -> Result<()>;
    /// Compare-and-swap: stores `doc` with `version = doc.version + 1` if the stored version is
    /// still `doc.version`, and returns the new version; [`Error::Conflict`] otherwise.
    async fn update_identity(&self, doc: &IdentityDoc) -> Result<i64>;
    async fn authorization(&self, app_id: &str, room_id: &str) -> Result<Option<AuthorizationDoc>>;
    /// Inserts an authorization; `false` (and no change) if (app, room) is already authorized.
    async fn insert_authorization(&self, doc: &AuthorizationDoc) -> Result<bool>;
    /// Deletes one authorization; `false` if there was none.
    async fn delete_authorization(&self, app_id: &str, room_id: &str) -> Result<bool>;
    /// Deletes every authorization of an app; returns how many there were.
    async fn delete_authorizations(&self, app_id: &str) -> Result<u64>;
    async fn authorizations(&self, app_id: &str) -> Result<Vec<AuthorizationDoc>>;
    /// Compare-and-swap: stores `doc` with `version = doc.version + 1` if the stored version is
    /// `doc.version`; [`Error::Conflict`] otherwise (changed, or revoked meanwhile).
    async fn update_authorization(&self, doc: &AuthorizationDoc) -> Result<i64>;
    /// The authorizations of a room that carry trust marks (few: only while a key is new).
    async fn marked_authorizations(&self, room_id: &str) -> Result<Vec<AuthorizationDoc>>;
    async fn append_audit(&self, record: &AuditRecord) -> Result<()>;
    /// Adds to counter records (upsert with `$inc`), creating them as needed. Lossless when
    /// called concurrently, from one store or from several.
    async fn add_audit_counts(&self, counts: &[AuditCount]) -> Result<()>;
    /// Records matching `query`, newest first, with one record per counter (its `count` the
    /// total over every instance that counted).
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
    /// Every document of every collection as relaxed extended JSON, `(collection, document)`:
    /// for diagnostics and for the tests that prove no secret is stored.
    async fn export(&self) -> Result<Vec<(&'static str, serde_json::Value)>>;
    /// Releases connections; later calls fail.
    async fn close(&self) -> Result<()>;
}

/// Where the key store lives: `mongodb://…` / `mongodb+srv://…` or `file:///absolute/path`.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A MongoDB (or FerretDB) connection string; `database` overrides the one named in it.
    MongoDb { uri: String, database: Option<String> },
    /// The embedded backend's JSON file.
    File(PathBuf),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
            return Ok(StoreUrl::MongoDb { uri: url.to_owned(), database: None });
        }
        let rest = url.strip_prefix("file://").ok_or(Error::BadInput("store URL is not mongodb:// or file://"))?;
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if !path.starts_with('/') {
            return Err(Error::BadInput("file:// store URL needs an absolute path (file:///…)"));
        }
        Ok(StoreUrl::File(PathBuf::from(percent_decode(path)?)))
    }

    /// A MongoDB URL with an explicit database name.
    pub fn mongodb(uri: &str, database: &str) -> Self {
        StoreUrl::MongoDb { uri: uri.to_owned(), database: Some(database.to_owned()) }
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        Self::parse(url)
    }
}

impl std::fmt::Debug for StoreUrl {
    // A connection string may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::MongoDb { database, .. } => {
                f.debug_struct("MongoDb").field("uri", &"<redacted>").field("database", database).finish()
            }
            StoreUrl::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Opens the backend a URL names.
pub async fn open(url: &StoreUrl) -> Result<Arc<dyn Store>> {
    match url {
        StoreUrl::MongoDb { uri, database } => Ok(Arc::new(mongo::MongoStore::open(uri, database.as_deref()).await?)),
        StoreUrl::File(path) => Ok(Arc::new(file::FileStore::open(path).await?)),
    }
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = bytes.get(index + 1..index + 3).ok_or(Error::BadInput("bad percent escape in file URL"))?;
            let hex = std::str::from_utf8(hex).map_err(|_| Error::BadInput("bad percent escape in file URL"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| Error::BadInput("bad percent escape in file URL"))?);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::BadInput("file URL path is not UTF-8"))
}

fn hashed_id(kind: &str, parts: &[&str]) -> String {
    let mut input = Vec::new();
    for part in parts {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part.as_bytes());
    }
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    let hex: String = hash.as_ref().iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    format!("{kind}:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_urls() {
        assert_eq!(StoreUrl::parse("file:///tmp/a%20b.json").unwrap(), StoreUrl::File("/tmp/a b.json".into()));
        assert_eq!(StoreUrl::parse("file://localhost/x").unwrap(), StoreUrl::File("/x".into()));
        assert!(StoreUrl::parse("file://relative").is_err());
        assert!(StoreUrl::parse("file:///bad%zz").is_err());
        assert!(StoreUrl::parse("http://x").is_err());
        let mongo = StoreUrl::parse("mongodb://user:secret@host/db").unwrap();
        assert!(!format!("{mongo:?}").contains("secret"));
    }

    #[test]
    fn ids_are_unambiguous() {
        assert_ne!(AuthorizationDoc::id_of("a", "bc"), AuthorizationDoc::id_of("ab", "c"));
        assert_eq!(AuthorizationDoc::id_of("a", "b"), AuthorizationDoc::id_of("a", "b"));
    }
}
