//! The stateful participant: `AppKeyStore` over `rc-e2ee-keystore`. All I/O is async on
//! napi-rs's tokio runtime; the rotation writer calls back into JavaScript through
//! thread-safe functions. Errors carry their code as a `CODE: ` message prefix, which the
//! facade turns into `E2EEError.code`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use rc_e2ee_keystore::{
    self as keystore, AcceptOptions, AppKeyStore, AuditQuery, KeyCustody, OpenOptions, RoomKeyWriter, SealedCustody,
    StoreUrl,
};
use zeroize::Zeroizing;

use crate::errors::run;
use crate::messages::{ContentFields, EncryptedContent, MessageFields};
use crate::wire::{PlainText, Secret, Str};

/// Options of `AppKeyStore.open`.
#[napi(object)]
pub struct StoreOptions {
    /// `mongodb://…` (Rocket.Chat's database) or `file:///absolute/path.json` (embedded).
    pub url: String,
    /// Database name for `mongodb://` URLs that name none (default `rc_e2ee`).
    pub database: Option<String>,
    /// The key-encryption key, base64 of 32 bytes. Prefer `kekFile`.
    pub kek: Option<String>,
    /// A file holding the base64 KEK (a mounted secret).
    pub kek_file: Option<String>,
    /// Earlier KEKs (base64 or `file:` paths) still accepted while a KEK rotation runs.
    pub previous_keks: Option<Vec<String>>,
    /// Room keys held in memory at most.
    pub room_key_capacity: Option<u32>,
    /// How long a checked authorization is trusted, in milliseconds.
    pub authorization_ttl_ms: Option<u32>,
    /// Longest delay before counted decrypt/encrypt calls reach the audit, in milliseconds.
    pub audit_flush_interval_ms: Option<u32>,
}

fn custody(kek: Option<&str>, kek_file: Option<&str>) -> keystore::Result<Arc<dyn KeyCustody>> {
    Ok(Arc::new(SealedCustody::from_config(kek, kek_file.map(Path::new))?))
}

fn previous_custody(value: &str) -> keystore::Result<Arc<dyn KeyCustody>> {
    match value.strip_prefix("file:") {
        Some(path) => custody(None, Some(path)),
        None => custody(Some(value), None),
    }
}

#[napi(object)]
pub struct OldRoomKey {
    #[napi(js_name = "e2eKeyId")]
    pub e2e_key_id: String,
    /// Milliseconds since the epoch.
    pub ts: f64,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: String,
}

/// The app user's subscription keys for one room (`E2EKey`, `oldRoomKeys`).
#[napi(object)]
pub struct SubscriptionKeys {
    pub room_id: String,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: Option<String>,
    pub old_room_keys: Vec<OldRoomKey>,
}

impl From<SubscriptionKeys> for keystore::SubscriptionKeys {
    fn from(keys: SubscriptionKeys) -> Self {
        keystore::SubscriptionKeys {
            room_id: keys.room_id,
            e2e_key: keys.e2e_key,
            old_room_keys: keys
                .old_room_keys
                .into_iter()
                .map(|old| keystore::OldRoomKey {
                    e2e_key_id: old.e2e_key_id,
                    ts_ms: old.ts as i64,
                    e2e_key: old.e2e_key,
                })
                .collect(),
        }
    }
}

impl From<&keystore::SubscriptionKeys> for SubscriptionKeys {
    fn from(keys: &keystore::SubscriptionKeys) -> Self {
        SubscriptionKeys {
            room_id: keys.room_id.clone(),
            e2e_key: keys.e2e_key.clone(),
            old_room_keys: keys
                .old_room_keys
                .iter()
                .map(|old| OldRoomKey {
                    e2e_key_id: old.e2e_key_id.clone(),
                    ts: old.ts_ms as f64,
                    e2e_key: old.e2e_key.clone(),
                })
                .collect(),
        }
    }
}

fn content_of(fields: ContentFields) -> keystore::ContentFields {
    keystore::ContentFields {
        algorithm: fields.algorithm,
        kid: fields.kid,
        iv: fields.iv,
        ciphertext: fields.ciphertext,
    }
}

#[napi(object)]
pub struct Authorization {
    pub room_id: String,
    pub granted_by: String,
    pub granted_at: f64,
}

impl From<keystore::Authorization> for Authorization {
    fn from(a: keystore::Authorization) -> Self {
        Authorization { room_id: a.room_id, granted_by: a.granted_by, granted_at: a.granted_at as f64 }
    }
}

#[napi(object)]
pub struct LoadedKeys {
    pub current_kid: Option<String>,
    pub kids: Vec<String>,
    pub unreadable: u32,
    pub skipped: u32,
}

/// A message of the room offered as evidence about a suggested key.
#[napi(object)]
pub struct Proof {
    /// The message's sender (`u._id`).
    pub sender_id: String,
    pub content: ContentFields,
}

impl From<Proof> for keystore::Proof {
    fn from(proof: Proof) -> Self {
        keystore::Proof { sender_id: proof.sender_id, content: content_of(proof.content) }
    }
}

/// An old room key suggested with the current one (`suggestedOldRoomKeys` entry).
#[napi(object)]
pub struct SuggestedOldKey {
    #[napi(js_name = "e2eKeyId")]
    pub e2e_key_id: String,
    #[napi(js_name = "e2eKey")]
    pub e2e_key: String,
    /// The room's newest messages under this old key's kid.
    pub proofs: Vec<Proof>,
}

/// What a suggested key is judged by (see the key store's acceptance rule).
#[napi(object)]
pub struct AcceptRequest {
    /// The room's `e2eKeyId`.
    pub expected_kid: String,
    /// The user id of the member who suggested the key.
    pub suggested_by: String,
    /// The room's newest messages under `expectedKid`.
    pub proofs: Vec<Proof>,
    pub old_room_keys: Vec<SuggestedOldKey>,
}

#[napi(object)]
pub struct KeyVerdict {
    pub kid: String,
    #[napi(ts_type = "'verified' | 'provisional' | 'rejected'")]
    pub status: String,
}

#[napi(object)]
pub struct AcceptResult {
    pub kid: String,
    #[napi(ts_type = "'verified' | 'provisional'")]
    pub status: String,
    pub old_room_keys: Vec<KeyVerdict>,
}

#[napi(object)]
pub struct IdentityInfo {
    pub app_id: String,
    pub app_user_id: String,
    pub key_version: f64,
    pub public_key: String,
    pub state: String,
    pub kek_id: Option<String>,
    pub rotation_step: Option<String>,
    pub created_at: f64,
    pub revoked_at: Option<f64>,
    pub revoked_by: Option<String>,
}

#[napi(object)]
pub struct RotationReport {
    pub key_version: f64,
    pub public_key: String,
    pub resumed: bool,
    pub rooms_rewritten: u32,
    pub keys_rewrapped: u32,
    pub keys_unreadable: u32,
}

#[napi(object)]
pub struct RekeyReport {
    pub resealed: u32,
    pub unchanged: u32,
}

#[napi(object)]
pub struct AuditFilter {
    pub app_id: Option<String>,
    pub room_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<f64>,
    pub limit: Option<u32>,
}

#[napi(object)]
pub struct AuditRecord {
    pub ts: f64,
    pub actor: String,
    pub action: String,
    pub app_id: Option<String>,
    pub room_id: Option<String>,
    pub kid: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub count: Option<f64>,
}

type ListRoomKeys = ThreadsafeFunction<(), Promise<Vec<SubscriptionKeys>>, (), Status, false>;
/// `FnArgs` spreads the tuple into three JavaScript arguments (a bare tuple arrives as one array).
type WriteArgs = FnArgs<(String, SubscriptionKeys, SubscriptionKeys)>;
type WriteRoomKeys = ThreadsafeFunction<WriteArgs, Promise<bool>, WriteArgs, Status, false>;
type PublishPublicKey = ThreadsafeFunction<String, Promise<bool>, String, Status, false>;

/// The host's side of an identity rotation, as three JavaScript async functions.
struct JsWriter {
    list: ListRoomKeys,
    write: WriteRoomKeys,
    publish: PublishPublicKey,
}

/// A JavaScript callback failed or threw; its message is not repeated (it is the host's).
fn host_failed(_: napi::Error) -> keystore::Error {
    keystore::Error::Host("a rotation callback failed")
}

#[async_trait::async_trait]
impl RoomKeyWriter for JsWriter {
    async fn list_room_keys(&self) -> keystore::Result<Vec<keystore::SubscriptionKeys>> {
        let keys = self.list.call_async(()).await.map_err(host_failed)?.await.map_err(host_failed)?;
        Ok(keys.into_iter().map(Into::into).collect())
    }

    async fn write_room_keys(
        &self,
        room_id: &str,
        previous: &keystore::SubscriptionKeys,
        keys: &keystore::SubscriptionKeys,
    ) -> keystore::Result<()> {
        let written = self
            .write
            .call_async(FnArgs::from((room_id.to_owned(), previous.into(), keys.into())))
            .await
            .map_err(host_failed)?
            .await
            .map_err(host_failed)?;
        // `false` means the subscription no longer held `previous` (a room-key reset landed).
        if written {
            Ok(())
        } else {
            Err(keystore::Error::Conflict("the subscription changed during the rotation"))
        }
    }

    async fn publish_public_key(&self, public_key: &str) -> keystore::Result<()> {
        self.publish.call_async(public_key.to_owned()).await.map_err(host_failed)?.await.map_err(host_failed)?;
        Ok(())
    }
}

/// App identities, authorizations, verified room keys and audit, on MongoDB or a local file.
#[napi(js_name = "AppKeyStore")]
pub struct JsAppKeyStore {
    inner: AppKeyStore,
}

#[napi]
impl JsAppKeyStore {
    /// Opens (and prepares) the store. Fails with `KEYSTORE_BAD_KEK` when the KEK is missing,
    /// malformed, or not the one the stored identities are sealed under.
    #[napi(factory, catch_unwind)]
    pub async fn open(options: StoreOptions) -> Result<JsAppKeyStore> {
        run(async move {
            let mut url = StoreUrl::parse(&options.url)?;
            if let (StoreUrl::MongoDb { database, .. }, Some(name)) = (&mut url, options.database) {
                *database = Some(name);
            }
            // KEK strings are secrets: wiped when dropped, whatever happens below.
            let kek = options.kek.map(Zeroizing::new);
            let previous_keks: Vec<Zeroizing<String>> =
                options.previous_keks.unwrap_or_default().into_iter().map(Zeroizing::new).collect();
            let current = custody(kek.as_deref().map(String::as_str), options.kek_file.as_deref())?;
            let mut open = OpenOptions::default();
            for previous in &previous_keks {
                open.previous_keks.push(previous_custody(previous)?);
            }
            if let Some(capacity) = options.room_key_capacity {
                open.room_key_capacity = capacity as usize;
            }
            if let Some(ms) = options.authorization_ttl_ms {
                open.authorization_ttl = Duration::from_millis(u64::from(ms));
            }
            if let Some(ms) = options.audit_flush_interval_ms {
                open.audit_flush_interval = Duration::from_millis(u64::from(ms));
            }
            AppKeyStore::open(&url, current, open).await
        })
        .await
        .map(|inner| JsAppKeyStore { inner })
    }

    /// Flushes counted audit records and closes the store; later calls fail.
    #[napi(catch_unwind)]
    pub async fn close(&self) -> Result<()> {
        run(self.inner.close()).await
    }

    /// The id of the KEK new blobs are sealed under (a hash; not secret).
    #[napi(getter, catch_unwind)]
    pub fn kek_id(&self) -> String {
        self.inner.kek_id()
    }

    /// Creates or loads the app's identity; returns Rocket.Chat's public-key string.
    #[napi(catch_unwind)]
    pub async fn ensure_identity(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] app_user_id: Str,
    ) -> Result<String> {
        run(self.inner.ensure_identity(&app_id, &app_user_id)).await
    }

    /// Makes a new identity for an app whose identity was revoked.
    #[napi(catch_unwind)]
    pub async fn recreate_identity(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] app_user_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Result<String> {
        run(self.inner.recreate_identity(&app_id, &app_user_id, &actor_id)).await
    }

    /// Public facts about the app's identity, or `null`.
    #[napi(catch_unwind)]
    pub async fn identity(&self, #[napi(ts_arg_type = "string")] app_id: Str) -> Result<Option<IdentityInfo>> {
        let info = run(self.inner.identity(&app_id)).await?;
        Ok(info.map(|i| IdentityInfo {
            app_id: i.app_id,
            app_user_id: i.app_user_id,
            key_version: i.key_version as f64,
            public_key: i.public_key,
            state: i.state,
            kek_id: i.kek_id,
            rotation_step: i.rotation_step,
            created_at: i.created_at as f64,
            revoked_at: i.revoked_at.map(|t| t as f64),
            revoked_by: i.revoked_by,
        }))
    }

    /// Rotates the app's key pair, re-wrapping every room key it can open through the host's
    /// callbacks. Resumable: call again after any failure.
    #[napi(
        catch_unwind,
        ts_args_type = "appId: string, listRoomKeys: () => Promise<SubscriptionKeys[]>, writeRoomKeys: (roomId: string, previous: SubscriptionKeys, keys: SubscriptionKeys) => Promise<boolean>, publishPublicKey: (publicKey: string) => Promise<boolean>"
    )]
    pub async fn rotate_identity(
        &self,
        app_id: Str,
        list_room_keys: ListRoomKeys,
        write_room_keys: WriteRoomKeys,
        publish_public_key: PublishPublicKey,
    ) -> Result<RotationReport> {
        let writer = JsWriter { list: list_room_keys, write: write_room_keys, publish: publish_public_key };
        let report = run(self.inner.rotate_identity(&app_id, &writer)).await?;
        Ok(RotationReport {
            key_version: report.key_version as f64,
            public_key: report.public_key,
            resumed: report.resumed,
            rooms_rewritten: report.rooms_rewritten,
            keys_rewrapped: report.keys_rewrapped,
            keys_unreadable: report.keys_unreadable,
        })
    }

    /// Shreds the app's private key, drops its authorizations and cached room keys.
    #[napi(catch_unwind)]
    pub async fn revoke_identity(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Result<()> {
        run(self.inner.revoke_identity(&app_id, &actor_id)).await
    }

    /// Re-seals every identity under a new KEK (resumable); the old KEK stays accepted.
    #[napi(catch_unwind)]
    pub async fn rekey(&self, kek: Option<String>, kek_file: Option<String>) -> Result<RekeyReport> {
        let kek = kek.map(Zeroizing::new);
        let report =
            run(async { self.inner.rekey(custody(kek.as_deref().map(String::as_str), kek_file.as_deref())?).await })
                .await?;
        Ok(RekeyReport { resealed: report.resealed, unchanged: report.unchanged })
    }

    /// Shreds every blob sealed under the KEK `kekId` (after a rekey away from it).
    #[napi(catch_unwind)]
    pub async fn retire_kek(&self, #[napi(ts_arg_type = "string")] kek_id: Str) -> Result<RekeyReport> {
        let report = run(self.inner.retire_kek(&kek_id)).await?;
        Ok(RekeyReport { resealed: report.resealed, unchanged: report.unchanged })
    }

    #[napi(catch_unwind)]
    pub async fn authorize(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Result<Authorization> {
        run(self.inner.authorize(&app_id, &room_id, &actor_id)).await.map(Into::into)
    }

    #[napi(catch_unwind)]
    pub async fn revoke_authorization(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Result<bool> {
        run(self.inner.revoke_authorization(&app_id, &room_id, &actor_id)).await
    }

    #[napi(catch_unwind)]
    pub async fn is_authorized(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
    ) -> Result<bool> {
        run(self.inner.is_authorized(&app_id, &room_id)).await
    }

    #[napi(catch_unwind)]
    pub async fn list_authorizations(&self, #[napi(ts_arg_type = "string")] app_id: Str) -> Result<Vec<Authorization>> {
        run(self.inner.list_authorizations(&app_id)).await.map(|list| list.into_iter().map(Into::into).collect())
    }

    /// Judges and caches a suggested room key with the old keys suggested alongside.
    #[napi(catch_unwind)]
    pub async fn accept_room_key(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] suggested_key: Str,
        request: AcceptRequest,
    ) -> Result<AcceptResult> {
        let options = AcceptOptions {
            expected_kid: request.expected_kid,
            suggested_by: request.suggested_by,
            proofs: request.proofs.into_iter().map(Into::into).collect(),
            old_room_keys: request
                .old_room_keys
                .into_iter()
                .map(|old| keystore::SuggestedOldKey {
                    e2e_key_id: old.e2e_key_id,
                    e2e_key: old.e2e_key,
                    proofs: old.proofs.into_iter().map(Into::into).collect(),
                })
                .collect(),
        };
        let accepted = run(self.inner.accept_room_key(&app_id, &room_id, &suggested_key, &options)).await?;
        Ok(AcceptResult {
            kid: accepted.kid,
            status: accepted.status.as_str().to_owned(),
            old_room_keys: accepted
                .old_room_keys
                .into_iter()
                .map(|old| KeyVerdict { kid: old.kid, status: old.status.as_str().to_owned() })
                .collect(),
        })
    }

    /// Settles a provisional room key with one message of the room.
    #[napi(catch_unwind, ts_return_type = "Promise<'verified' | 'provisional' | 'rejected'>")]
    pub async fn confirm_room_key(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        proof: Proof,
    ) -> Result<String> {
        let proof: keystore::Proof = proof.into();
        let status = run(self.inner.confirm_room_key(&app_id, &room_id, &proof)).await?;
        Ok(status.as_str().to_owned())
    }

    /// Refills the cache from the app user's subscription (after a restart).
    #[napi(catch_unwind)]
    pub async fn load_room_keys(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        keys: SubscriptionKeys,
    ) -> Result<LoadedKeys> {
        let keys: keystore::SubscriptionKeys = keys.into();
        let loaded = run(self.inner.load_room_keys(&app_id, &room_id, &keys)).await?;
        Ok(LoadedKeys {
            current_kid: loaded.current_kid,
            kids: loaded.kids,
            unreadable: loaded.unreadable,
            skipped: loaded.skipped,
        })
    }

    /// Decrypts a message of the room for the app; returns the payload text.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub async fn decrypt_message(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        message: MessageFields,
    ) -> Result<PlainText> {
        let fields = keystore::MessageFields {
            t: message.t,
            msg: message.msg,
            content: message.content.map(content_of),
            pinned_content: message.pinned_content.map(content_of),
        };
        run(self.inner.decrypt_message(&app_id, &room_id, &fields)).await.map(PlainText)
    }

    /// Encrypts a payload text for the room with its current key.
    #[napi(catch_unwind)]
    pub async fn encrypt_content(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] plaintext: Secret,
        expected_kid: Option<String>,
    ) -> Result<EncryptedContent> {
        let sealed = run(self.inner.encrypt_content(&app_id, &room_id, &plaintext, expected_kid.as_deref())).await?;
        Ok(EncryptedContent {
            algorithm: sealed.algorithm.to_owned(),
            kid: sealed.kid,
            iv: sealed.iv,
            ciphertext: sealed.ciphertext,
        })
    }

    /// Audit records, newest first.
    #[napi(catch_unwind)]
    pub async fn audit(&self, filter: Option<AuditFilter>) -> Result<Vec<AuditRecord>> {
        let filter =
            filter.unwrap_or(AuditFilter { app_id: None, room_id: None, action: None, since: None, limit: None });
        let query = AuditQuery {
            app_id: filter.app_id,
            room_id: filter.room_id,
            action: filter.action,
            since_ms: filter.since.map(|t| t as i64),
            limit: filter.limit.unwrap_or(0),
        };
        let records = run(self.inner.audit(&query)).await?;
        Ok(records
            .into_iter()
            .map(|r| AuditRecord {
                ts: r.ts as f64,
                actor: r.actor,
                action: r.action,
                app_id: r.app_id,
                room_id: r.room_id,
                kid: r.kid,
                outcome: r.outcome,
                detail: r.detail,
                count: r.count.map(|c| c as f64),
            })
            .collect())
    }

    /// Writes counted decrypt/encrypt calls to the audit now.
    #[napi(catch_unwind)]
    pub async fn flush_audit(&self) -> Result<()> {
        run(self.inner.flush_audit()).await
    }
}

/// Every `KEYSTORE_*` code (the facade's list is tested against it).
#[napi(catch_unwind)]
pub fn keystore_error_codes() -> Vec<&'static str> {
    keystore::Error::ALL_CODES.to_vec()
}
