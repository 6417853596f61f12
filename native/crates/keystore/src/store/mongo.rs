//! The MongoDB backend (production: Rocket.Chat's own database).
//!
//! Only single-document operations with plain filters and `$set`/`$unset`/`$inc`/
//! `$setOnInsert`: no transactions, no change streams, no aggregation, so it runs on MongoDB 5+
//! and on FerretDB 1.x (SQLite or PostgreSQL backend) alike. Driver errors are reduced to a
//! [`StorageKind`] and a fixed message: a server message can quote the document it refused.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};

use super::{
    AuditCount, AuditQuery, AuditRecord, AuthorizationDoc, IdentityDoc, Store, AUDIT, AUTHORIZATIONS, IDENTITIES,
    IDENTITY_OPTIONAL_FIELDS,
};
use crate::error::StorageKind;
use crate::{Error, Result};

const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    client: Client,
    identities: Collection<IdentityDoc>,
    authorizations: Collection<AuthorizationDoc>,
    audit: Collection<AuditRecord>,
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
        let store = Self {
            identities: db.collection(IDENTITIES),
            authorizations: db.collection(AUTHORIZATIONS),
            audit: db.collection(AUDIT),
            client,
        };
        store.create_indexes().await?;
        Ok(store)
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
        self.audit.create_index(index(doc! {"ts": -1}, "ts", false)).await.map_err(failed)?;
        self.audit.create_index(index(doc! {"app_id": 1, "ts": -1}, "app_id_ts", false)).await.map_err(failed)?;
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
        let result = self
            .identities
            .update_one(filter, update)
            .await
            .map_err(|e| map_error(&e, "cannot update the identity"))?;
        if result.matched_count == 1 {
            Ok(identity.version + 1)
        } else {
            Err(Error::Conflict("the identity changed since it was read"))
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

    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        self.audit.insert_one(record).await.map_err(|e| map_error(&e, "cannot append the audit record"))?;
        Ok(())
    }

    async fn add_audit_counts(&self, counts: &[AuditCount]) -> Result<()> {
        let raw = self.audit.clone_with_type::<Document>();
        for count in counts {
            let on_insert = doc! {
                "ts": count.minute,
                "actor": &count.actor,
                "action": &count.action,
                "app_id": &count.app_id,
                "room_id": &count.room_id,
                "outcome": &count.outcome,
            };
            let update = doc! {"$setOnInsert": on_insert, "$inc": {"count": count.count}};
            let filter = doc! {"_id": count.id()};
            let result = raw.update_one(filter.clone(), update.clone()).upsert(true).await;
            match result {
                Ok(_) => {}
                // Two upserts of a new counter can race to insert it; the loser's retry updates.
                Err(e) if is_duplicate_key(&e) => {
                    raw.update_one(filter, update).await.map_err(|e| map_error(&e, "cannot count the audit event"))?;
                }
                Err(e) => return Err(map_error(&e, "cannot count the audit event")),
            }
        }
        Ok(())
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
        let limit = i64::from(query.effective_limit());
        Self::collect(self.audit.find(filter).sort(doc! {"ts": -1, "_id": -1}).limit(limit).await).await
    }

    async fn export(&self) -> Result<Vec<(&'static str, serde_json::Value)>> {
        let mut out = Vec::new();
        for (name, collection) in [
            (IDENTITIES, self.identities.clone_with_type::<Document>()),
            (AUTHORIZATIONS, self.authorizations.clone_with_type::<Document>()),
            (AUDIT, self.audit.clone_with_type::<Document>()),
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
