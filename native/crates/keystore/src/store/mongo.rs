//! The MongoDB backend (production: Rocket.Chat's own database).
//!
//! Only single-document operations with plain filters and `$set`/`$unset`/`$inc`/
//! `$setOnInsert`: no transactions, no change streams, no aggregation, so it runs on MongoDB 5+
//! and on FerretDB 1.x (SQLite or PostgreSQL backend) alike. Driver errors are reduced to a
//! [`StorageKind`] and a fixed message: a server message can quote the document it refused.
//!
//! FerretDB applies an update as read, change, write back by `_id`, with no lock across
//! connections, so concurrent updates of one document can lose each other's changes
//! (scripts/test-db/README.md). An insert of a new `_id` is atomic there: one wins, the others
//! get duplicate key. Hence every write here is one of:
//! - an insert (identities, authorizations, audit events, claims);
//! - a delete (authorizations, claims): FerretDB reads the matches, then deletes them by `_id`,
//!   which loses nothing for documents that are never updated, only inserted and deleted (a
//!   document re-inserted in between may go too: as if the delete came after that insert);
//! - the identity's compare-and-swap on `version`, run by the one owner of a claim on that
//!   transition (`mongo/claims.rs`);
//! - an audit counter's `$inc`, on a counter document of this store instance only, with the
//!   instance's counter writes run one after another; [`Store::audit`] adds up the instances'
//!   counters of one (app, room, action, outcome, minute).
//!
//! MongoDB needs neither the claims nor the per-instance counters; they cost it a few round
//! trips on rare writes and keep one code path for both servers.

mod claims;

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};

use self::claims::Claims;
use super::{
    hashed_id, AuditCount, AuditQuery, AuditRecord, AuthorizationDoc, IdentityDoc, Store, AUDIT, AUTHORIZATIONS,
    CLAIMS, IDENTITIES, IDENTITY_OPTIONAL_FIELDS,
};
use crate::error::StorageKind;
use crate::{Error, Result};

pub use self::claims::DEFAULT_LEASE;

const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    client: Client,
    identities: Collection<IdentityDoc>,
    authorizations: Collection<AuthorizationDoc>,
    audit: Collection<AuditRecord>,
    claims: Claims,
    /// Random per opened store: names its audit counter documents and its claims.
    instance: String,
    /// Held while this instance writes audit counters, so its `$inc`s never overlap.
    counter_writes: Arc<tokio::sync::Mutex<()>>,
}

impl MongoStore {
    /// Connects, then creates the collections' indexes (idempotent). `database` overrides the
    /// database named in the URI; one of them is required.
    pub async fn open(uri: &str, database: Option<&str>) -> Result<Self> {
        let mut options =
            ClientOptions::parse(uri).await.map_err(|_| Error::BadInput("the MongoDB connection string is invalid"))?;
        let name = database
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .filter(|name| !name.is_empty())
            .ok_or(Error::BadInput("the MongoDB connection string names no database"))?;
        if options.app_name.is_none() {
            options.app_name = Some("rc-e2ee-keystore".to_owned());
        }
        let client = Client::with_options(options).map_err(|e| map_error(&e, "cannot create the MongoDB client"))?;
        let db = client.database(&name);
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let store = Self {
            identities: db.collection(IDENTITIES),
            authorizations: db.collection(AUTHORIZATIONS),
            audit: db.collection(AUDIT),
            claims: Claims::new(db.collection(CLAIMS), &instance),
            instance,
            counter_writes: Arc::default(),
            client,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    /// How long a claim on a compare-and-swap holds before another writer may take it over
    /// ([`DEFAULT_LEASE`] unless set): the longest a document stays blocked after a writer died
    /// between claim and update. It must exceed the time one update takes plus the clock skew
    /// between instances.
    pub fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claims.set_lease(lease);
        self
    }

    async fn create_indexes(&self) -> Result<()> {
        let index = |keys: Document, name: &str, unique: bool| {
            let options = IndexOptions::builder().name(name.to_owned()).unique(unique.then_some(true)).build();
            IndexModel::builder().keys(keys).options(options).build()
        };
        let failed = |e: mongodb::error::Error| map_error(&e, "cannot create the key-store indexes");
        self.identities.create_index(index(doc! {"app_user_id": 1}, "app_user_id", false)).await.map_err(failed)?;
        self.authorizations
            .create_index(index(doc! {"app_id": 1, "room_id": 1}, "app_id_room_id", true))
            .await
            .map_err(failed)?;
        // A saved message asks which apps hold a provisional key in its room.
        self.authorizations.create_index(index(doc! {"room_id": 1}, "room_id", false)).await.map_err(failed)?;
        self.audit.create_index(index(doc! {"ts": -1}, "ts", false)).await.map_err(failed)?;
        self.audit.create_index(index(doc! {"app_id": 1, "ts": -1}, "app_id_ts", false)).await.map_err(failed)?;
        // Finds the newest claim on a transition, and a document's claims to clean up.
        let by_target = index(doc! {"target": 1, "version": 1, "generation": -1}, "target_version_generation", false);
        self.claims.collection().create_index(by_target).await.map_err(failed)?;
        Ok(())
    }

    async fn collect<T>(cursor: mongodb::error::Result<mongodb::Cursor<T>>) -> Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned + Send + Sync + Unpin,
    {
        let mut cursor = cursor.map_err(|e| map_error(&e, "query failed"))?;
        let mut out = Vec::new();
        while cursor.advance().await.map_err(|e| map_error(&e, "query failed"))? {
            out.push(cursor.deserialize_current().map_err(|e| map_error(&e, "a stored document does not parse"))?);
        }
        Ok(out)
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn identity(&self, app_id: &str) -> Result<Option<IdentityDoc>> {
        self.identities.find_one(doc! {"_id": app_id}).await.map_err(|e| map_error(&e, "cannot read the identity"))
    }

    async fn identities(&self) -> Result<Vec<IdentityDoc>> {
        Self::collect(self.identities.find(doc! {}).sort(doc! {"_id": 1}).await).await
    }

    async fn insert_identity(&self, identity: &IdentityDoc) -> Result<()> {
        match self.identities.insert_one(identity).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(Error::Conflict("the app already has an identity")),
            Err(e) => Err(map_error(&e, "cannot store the identity")),
        }
    }

    async fn update_identity(&self, identity: &IdentityDoc) -> Result<i64> {
        let mut set = mongodb::bson::to_document(identity)
            .map_err(|_| Error::storage(StorageKind::Database, "cannot encode the identity"))?;
        set.remove("_id");
        set.remove("version");
        let mut unset = Document::new();
        for field in IDENTITY_OPTIONAL_FIELDS {
            if !set.contains_key(field) {
                unset.insert(field, "");
            }
        }
        let mut update = doc! {"$set": set, "$inc": {"version": 1_i64}};
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        let filter = doc! {"_id": &identity.app_id, "version": identity.version};
        let cas = async { Ok(self.identities.update_one(filter, update).await?.matched_count == 1) };
        // The filter alone is not atomic on FerretDB; the claim makes this writer the only one.
        let failed = "cannot update the identity";
        match self.claims.compare_and_swap(IDENTITIES, &identity.app_id, identity.version, cas, failed).await? {
            true => Ok(identity.version + 1),
            false => Err(Error::Conflict("the identity changed since it was read")),
        }
    }

    async fn authorization(&self, app_id: &str, room_id: &str) -> Result<Option<AuthorizationDoc>> {
        self.authorizations
            .find_one(doc! {"_id": AuthorizationDoc::id_of(app_id, room_id)})
            .await
            .map_err(|e| map_error(&e, "cannot read the authorization"))
    }

    async fn insert_authorization(&self, authorization: &AuthorizationDoc) -> Result<bool> {
        match self.authorizations.insert_one(authorization).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(map_error(&e, "cannot store the authorization")),
        }
    }

    async fn delete_authorization(&self, app_id: &str, room_id: &str) -> Result<bool> {
        let result = self
            .authorizations
            .delete_one(doc! {"_id": AuthorizationDoc::id_of(app_id, room_id)})
            .await
            .map_err(|e| map_error(&e, "cannot delete the authorization"))?;
        Ok(result.deleted_count > 0)
    }

    async fn delete_authorizations(&self, app_id: &str) -> Result<u64> {
        let result = self
            .authorizations
            .delete_many(doc! {"app_id": app_id})
            .await
            .map_err(|e| map_error(&e, "cannot delete the authorizations"))?;
        Ok(result.deleted_count)
    }

    async fn authorizations(&self, app_id: &str) -> Result<Vec<AuthorizationDoc>> {
        Self::collect(
            self.authorizations.find(doc! {"app_id": app_id}).sort(doc! {"granted_at": 1, "room_id": 1}).await,
        )
        .await
    }

    async fn update_authorization(&self, authorization: &AuthorizationDoc) -> Result<i64> {
        let encoded = mongodb::bson::to_document(authorization)
            .map_err(|_| Error::storage(StorageKind::Database, "cannot encode the authorization"))?;
        let trust = encoded.get("trust").cloned();
        let update = match trust {
            Some(trust) => doc! {"$set": {"trust": trust}, "$inc": {"version": 1_i64}},
            None => doc! {"$unset": {"trust": ""}, "$inc": {"version": 1_i64}},
        };
        let filter = doc! {"_id": &authorization.id, "version": authorization.version};
        let cas = async { Ok(self.authorizations.update_one(filter, update).await?.matched_count == 1) };
        // As for identities: the filter alone is not atomic on FerretDB; the claim is.
        let failed = "cannot update the authorization";
        let target = &authorization.id;
        match self.claims.compare_and_swap(AUTHORIZATIONS, target, authorization.version, cas, failed).await? {
            true => Ok(authorization.version + 1),
            false => Err(Error::Conflict("the authorization changed since it was read")),
        }
    }

    async fn marked_authorizations(&self, room_id: &str) -> Result<Vec<AuthorizationDoc>> {
        Self::collect(self.authorizations.find(doc! {"room_id": room_id, "trust": {"$exists": true}}).await).await
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        self.audit.insert_one(record).await.map_err(|e| map_error(&e, "cannot append the audit record"))?;
        Ok(())
    }

    async fn add_audit_counts(&self, counts: &[AuditCount]) -> Result<()> {
        let raw = self.audit.clone_with_type::<Document>();
        let instance = self.instance.clone();
        let counts = counts.to_vec();
        // Each counter document has one writer, this instance, and the lock runs its writes one
        // after another: an `$inc` never overlaps another on the same document, which FerretDB
        // needs to lose no count. The writes run on a task of their own that holds the lock, so
        // a caller that stops waiting leaves no `$inc` in flight while the next flush starts.
        let turn = Arc::clone(&self.counter_writes).lock_owned().await;
        let writes = tokio::spawn(async move {
            let _turn = turn;
            for count in &counts {
                let mut on_insert = doc! {
                    "ts": count.minute,
                    "actor": &count.actor,
                    "action": &count.action,
                    "app_id": &count.app_id,
                    "outcome": &count.outcome,
                    "instance": &instance,
                };
                if let Some(room_id) = &count.room_id {
                    on_insert.insert("room_id", room_id);
                }
                let update = doc! {"$setOnInsert": on_insert, "$inc": {"count": count.count}};
                raw.update_one(doc! {"_id": instance_counter_id(&instance, count)}, update)
                    .upsert(true)
                    .await
                    .map_err(|e| map_error(&e, "cannot count the audit event"))?;
            }
            Ok(())
        });
        writes.await.map_err(|_| Error::task_failed())?
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut filter = Document::new();
        if let Some(app_id) = &query.app_id {
            filter.insert("app_id", app_id);
        }
        if let Some(room_id) = &query.room_id {
            filter.insert("room_id", room_id);
        }
        if let Some(action) = &query.action {
            filter.insert("action", action);
        }
        if let Some(since) = query.since_ms {
            filter.insert("ts", doc! {"$gte": since});
        }
        let limit = usize::try_from(query.effective_limit()).unwrap_or(usize::MAX);
        // Each instance writes its own counter documents; the caller sees one record per
        // (app, room, action, outcome, minute), as from the file backend. Merging happens here,
        // so the server's limit cannot be used: read newest first until `limit` records are
        // complete, which they are once a record older than the `limit`-th one shows up (the
        // documents of one counter share its minute's `ts`).
        let mut cursor = self
            .audit
            .find(filter)
            .sort(doc! {"ts": -1, "_id": -1})
            .await
            .map_err(|e| map_error(&e, "query failed"))?;
        let mut merged: HashMap<String, AuditRecord> = HashMap::new();
        let mut last_ts = None;
        while cursor.advance().await.map_err(|e| map_error(&e, "query failed"))? {
            let mut record: AuditRecord =
                cursor.deserialize_current().map_err(|e| map_error(&e, "a stored document does not parse"))?;
            if last_ts.is_some_and(|last| record.ts < last) {
                break;
            }
            let ts = record.ts;
            if let Some(id) = counter_id(&record) {
                record.id = id;
            }
            match merged.entry(record.id.clone()) {
                Entry::Occupied(mut entry) => {
                    let total = entry.get().count.unwrap_or(0).saturating_add(record.count.unwrap_or(0));
                    entry.get_mut().count = Some(total);
                }
                Entry::Vacant(entry) => {
                    entry.insert(record);
                }
            }
            if last_ts.is_none() && merged.len() >= limit {
                last_ts = Some(ts);
            }
        }
        let mut out: Vec<_> = merged.into_values().collect();
        out.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn export(&self) -> Result<Vec<(&'static str, serde_json::Value)>> {
        let mut out = Vec::new();
        for (name, collection) in [
            (IDENTITIES, self.identities.clone_with_type::<Document>()),
            (AUTHORIZATIONS, self.authorizations.clone_with_type::<Document>()),
            (AUDIT, self.audit.clone_with_type::<Document>()),
            (CLAIMS, self.claims.collection()),
        ] {
            for document in Self::collect(collection.find(doc! {}).await).await? {
                out.push((name, Bson::Document(document).into_relaxed_extjson()));
            }
        }
        Ok(out)
    }

    async fn close(&self) -> Result<()> {
        self.client.clone().shutdown().await;
        Ok(())
    }
}

/// The `_id` of this instance's document of a counter.
fn instance_counter_id(instance: &str, count: &AuditCount) -> String {
    let minute = count.minute.to_string();
    let room = count.room_id.as_deref().unwrap_or("");
    let parts = [instance, &minute, &count.actor, &count.action, &count.app_id, room, &count.outcome];
    hashed_id("count", &parts)
}

/// For a counter document (of any instance), the id of the merged record: the one the file
/// backend gives the counter.
fn counter_id(record: &AuditRecord) -> Option<String> {
    let count = AuditCount {
        minute: record.ts,
        actor: record.actor.clone(),
        action: record.action.clone(),
        app_id: record.app_id.clone()?,
        room_id: record.room_id.clone(),
        outcome: record.outcome.clone(),
        count: record.count?,
    };
    Some(count.id())
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// The driver's error reduced to a kind; its text (which may quote a document or the
/// connection string) is dropped on purpose.
fn map_error(error: &mongodb::error::Error, message: &'static str) -> Error {
    let kind = match error.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::Authentication { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::InvalidTlsConfig { .. } => StorageKind::Unavailable,
        ErrorKind::BsonDeserialization(_) => StorageKind::Corrupt,
        _ => StorageKind::Database,
    };
    Error::storage(kind, message)
}
