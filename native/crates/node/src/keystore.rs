//! The stateful participant: `AppKeyStore` over `rc-e2ee-keystore`. All I/O is async on
//! napi-rs's tokio runtime and settles a promise (errors reject with the same coded objects a
//! synchronous call throws, see `errors`); a decrypt the store can answer from memory also has
//! a synchronous form. The rotation writer calls back into JavaScript through thread-safe
//! functions. The argument and result objects are in `keystore_types`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use rc_e2ee_keystore::{
    self as keystore, AcceptOptions, AppKeyStore, AuditQuery, HsmKind, KeyCustody, OpenOptions, Pkcs11Config,
    Pkcs11Custody, Pkcs11RsaCustody, RoomKeyWriter, SealedCustody, StoreUrl,
};
use zeroize::Zeroizing;

use crate::errors::{promise, to_js, Code};
use crate::keystore_types::{
    audit_query, AcceptRequest, AcceptResult, AuditFilter, AuditRecord, Authorization, CustodyOptions, IdentityInfo,
    LoadedKeys, Proof, ProvisionalKey, RekeyReport, RotationReport, StoreOptions, SubscriptionKeys,
};
use crate::messages::{EncryptedContent, MessageFields};
use crate::payload::{self, SplitPayload};
use crate::staging::{into_ascii, JsStaged};
use crate::wire::{Ascii, Guarded, Id, List, OwnedText, PlainText, Secret, Str, Text};

/// Most messages one `decryptMessages` call takes (the key store's bound, checked before reading).
const MAX_BATCH: u32 = keystore::MAX_BATCH_MESSAGES as u32;

fn custody(kek: Option<&str>, kek_file: Option<&str>) -> keystore::Result<Arc<dyn KeyCustody>> {
    Ok(Arc::new(SealedCustody::from_config(kek, kek_file.map(Path::new))?))
}

/// The custody `StoreOptions.custody` names; the sealed one (from `kek`/`kekFile`) when absent.
/// Opening a token logs in and checks its key objects: blocking calls, made off the workers.
async fn chosen_custody(
    options: Option<CustodyOptions>,
    kek: Option<&str>,
    kek_file: Option<&str>,
) -> keystore::Result<Arc<dyn KeyCustody>> {
    let Some(options) = options else { return custody(kek, kek_file) };
    match options.kind.as_str() {
        "sealed" => {
            if options.mode.is_some() || options.module.is_some() || options.token_label.is_some() {
                return Err(keystore::Error::BadInput("sealed custody takes no PKCS#11 settings"));
            }
            custody(kek, kek_file)
        }
        "pkcs11" => {
            if kek.is_some() || kek_file.is_some() {
                return Err(keystore::Error::BadInput("PKCS#11 custody takes no kek or kekFile"));
            }
            let rsa = match options.mode.as_deref() {
                Some("kek") => false,
                Some("rsa") => true,
                _ => return Err(keystore::Error::BadInput("custody.mode must be 'kek' or 'rsa'")),
            };
            let required = |value: Option<String>, message: &'static str| match value {
                Some(value) if !value.is_empty() && !value.contains('\0') => Ok(value),
                _ => Err(keystore::Error::BadInput(message)),
            };
            let config = Pkcs11Config {
                module: required(options.module, "custody.module must be a path")?.into(),
                token_label: required(options.token_label, "custody.tokenLabel must be a label")?,
                pin_file: required(options.pin_file, "custody.pinFile must be a path")?.into(),
                key_label: match options.key_label {
                    Some(label) => required(Some(label), "custody.keyLabel must be a label")?,
                    None if rsa => "rc-e2ee".to_owned(),
                    None => keystore::custody::pkcs11::DEFAULT_KEK_LABEL.to_owned(),
                },
            };
            let create = options.create_key.unwrap_or(false);
            if rsa && create {
                return Err(keystore::Error::BadInput(
                    "custody.createKey is for kek mode (rsa mode creates key pairs)",
                ));
            }
            let opened = napi::tokio::task::spawn_blocking(move || -> keystore::Result<Arc<dyn KeyCustody>> {
                if rsa {
                    return Ok(Arc::new(Pkcs11RsaCustody::open(&config)?));
                }
                match Pkcs11Custody::open(&config) {
                    Err(keystore::Error::Hsm { kind: HsmKind::Key, .. }) if create => {
                        Ok(Arc::new(Pkcs11Custody::generate(&config)?))
                    }
                    result => Ok(Arc::new(result?)),
                }
            })
            .await;
            opened.map_err(|_| keystore::Error::Core(rc_e2ee_core::Error::Internal("custody task failed")))?
        }
        _ => Err(keystore::Error::BadInput("custody.kind must be 'sealed' or 'pkcs11'")),
    }
}

fn previous_custody(value: &str) -> keystore::Result<Arc<dyn KeyCustody>> {
    match value.strip_prefix("file:") {
        Some(path) => custody(None, Some(path)),
        None => custody(Some(value), None),
    }
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

/// Outcome of the key store's batch read: each message's payload as the single read returns it
/// (a large one split, see `payload`), or `null` where it failed, with the failures listed apart.
#[napi(object, object_from_js = false)]
pub struct PayloadBatch {
    #[napi(ts_type = "Array<string | SplitPayload | null>")]
    pub payloads: Vec<Option<Either<OwnedText, SplitPayload>>>,
    /// Indexes of the failed items, in order.
    pub failed: Vec<u32>,
    /// The error code of each failed item, parallel to `failed`.
    pub codes: Vec<&'static str>,
}

/// App identities, authorizations, verified room keys and audit, on MongoDB or a local file.
#[napi(js_name = "AppKeyStore")]
pub struct JsAppKeyStore {
    inner: AppKeyStore,
}

/// The promise of an async export: settles with `T` or rejects with a coded error.
type Pending<'env, T> = Result<PromiseRaw<'env, Guarded<T>>>;

#[napi]
impl JsAppKeyStore {
    /// Opens (and prepares) the store. Fails with `KEYSTORE_BAD_KEK` when the KEK is missing,
    /// malformed, or not the one the stored identities are sealed under.
    #[napi(catch_unwind, ts_return_type = "Promise<AppKeyStore>")]
    pub fn open(env: &Env, options: StoreOptions) -> Pending<'_, JsAppKeyStore> {
        promise(env, async move {
            let mut url = StoreUrl::parse(&options.url)?;
            if let (StoreUrl::MongoDb { database, .. }, Some(name)) = (&mut url, options.database) {
                *database = Some(name);
            }
            // KEK strings are secrets: wiped when dropped, whatever happens below.
            let kek = options.kek.map(Zeroizing::new);
            let previous_keks: Vec<Zeroizing<String>> =
                options.previous_keks.unwrap_or_default().into_iter().map(Zeroizing::new).collect();
            let current =
                chosen_custody(options.custody, kek.as_deref().map(String::as_str), options.kek_file.as_deref())
                    .await?;
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
            AppKeyStore::open(&url, current, open).await.map(|inner| JsAppKeyStore { inner })
        })
    }

    /// Flushes counted audit records and closes the store; later calls fail.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Pending<'env, ()> {
        let store = self.inner.clone();
        promise(env, async move { store.close().await })
    }

    /// The id of the KEK new blobs are sealed under (a hash; not secret).
    #[napi(getter, catch_unwind)]
    pub fn kek_id(&self) -> String {
        self.inner.kek_id()
    }

    /// Creates or loads the app's identity; returns Rocket.Chat's public-key string.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn ensure_identity<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] app_user_id: Str,
    ) -> Pending<'env, String> {
        let store = self.inner.clone();
        promise(env, async move { store.ensure_identity(&app_id.0, &app_user_id.0).await })
    }

    /// Makes a new identity for an app whose identity was revoked.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn recreate_identity<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] app_user_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Pending<'env, String> {
        let store = self.inner.clone();
        promise(env, async move { store.recreate_identity(&app_id.0, &app_user_id.0, &actor_id.0).await })
    }

    /// Public facts about the app's identity, or `null`.
    #[napi(catch_unwind, ts_return_type = "Promise<IdentityInfo | null>")]
    pub fn identity<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
    ) -> Pending<'env, Option<IdentityInfo>> {
        let store = self.inner.clone();
        promise(env, async move { Ok(store.identity(&app_id.0).await?.map(Into::into)) })
    }

    /// Rotates the app's key pair, re-wrapping every room key it can open through the host's
    /// callbacks. Resumable: call again after any failure.
    #[napi(
        catch_unwind,
        ts_args_type = "appId: string, listRoomKeys: () => Promise<SubscriptionKeys[]>, writeRoomKeys: (roomId: string, previous: SubscriptionKeys, keys: SubscriptionKeys) => Promise<boolean>, publishPublicKey: (publicKey: string) => Promise<boolean>",
        ts_return_type = "Promise<RotationReport>"
    )]
    pub fn rotate_identity<'env>(
        &self,
        env: &'env Env,
        app_id: Str,
        list_room_keys: ListRoomKeys,
        write_room_keys: WriteRoomKeys,
        publish_public_key: PublishPublicKey,
    ) -> Pending<'env, RotationReport> {
        let store = self.inner.clone();
        let writer = JsWriter { list: list_room_keys, write: write_room_keys, publish: publish_public_key };
        promise(env, async move { store.rotate_identity(&app_id.0, &writer).await.map(Into::into) })
    }

    /// Shreds the app's private key, drops its authorizations and cached room keys.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn revoke_identity<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Pending<'env, ()> {
        let store = self.inner.clone();
        promise(env, async move { store.revoke_identity(&app_id.0, &actor_id.0).await })
    }

    /// Re-seals every identity under a new KEK (resumable); the old KEK stays accepted.
    #[napi(catch_unwind, ts_return_type = "Promise<RekeyReport>")]
    pub fn rekey<'env>(
        &self,
        env: &'env Env,
        kek: Option<String>,
        kek_file: Option<String>,
        custody: Option<CustodyOptions>,
    ) -> Pending<'env, RekeyReport> {
        let store = self.inner.clone();
        let kek = kek.map(Zeroizing::new);
        promise(env, async move {
            let custody = chosen_custody(custody, kek.as_deref().map(String::as_str), kek_file.as_deref()).await?;
            store.rekey(custody).await.map(Into::into)
        })
    }

    /// Shreds every blob sealed under the KEK `kekId` (after a rekey away from it).
    #[napi(catch_unwind, ts_return_type = "Promise<RekeyReport>")]
    pub fn retire_kek<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] kek_id: Str,
    ) -> Pending<'env, RekeyReport> {
        let store = self.inner.clone();
        promise(env, async move { store.retire_kek(&kek_id.0).await.map(Into::into) })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<Authorization>")]
    pub fn authorize<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Pending<'env, Authorization> {
        let store = self.inner.clone();
        promise(env, async move { store.authorize(&app_id.0, &room_id.0, &actor_id.0).await.map(Into::into) })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn revoke_authorization<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] actor_id: Str,
    ) -> Pending<'env, bool> {
        let store = self.inner.clone();
        promise(env, async move { store.revoke_authorization(&app_id.0, &room_id.0, &actor_id.0).await })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn is_authorized<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
    ) -> Pending<'env, bool> {
        let store = self.inner.clone();
        promise(env, async move { store.is_authorized(&app_id.0, &room_id.0).await })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<Array<Authorization>>")]
    pub fn list_authorizations<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
    ) -> Pending<'env, Vec<Authorization>> {
        let store = self.inner.clone();
        promise(
            env,
            async move { Ok(store.list_authorizations(&app_id.0).await?.into_iter().map(Into::into).collect()) },
        )
    }

    /// Judges and caches a suggested room key with the old keys suggested alongside.
    #[napi(catch_unwind, ts_return_type = "Promise<AcceptResult>")]
    pub fn accept_room_key<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] suggested_key: Str,
        request: AcceptRequest,
    ) -> Pending<'env, AcceptResult> {
        let store = self.inner.clone();
        let options: AcceptOptions = request.into();
        promise(env, async move {
            store.accept_room_key(&app_id.0, &room_id.0, &suggested_key.0, &options).await.map(Into::into)
        })
    }

    /// Settles a provisional room key with one message of the room.
    #[napi(catch_unwind, ts_return_type = "Promise<'verified' | 'provisional' | 'rejected'>")]
    pub fn confirm_room_key<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        proof: Proof,
    ) -> Pending<'env, String> {
        let store = self.inner.clone();
        let proof: keystore::Proof = proof.into();
        promise(
            env,
            async move { Ok(store.confirm_room_key(&app_id.0, &room_id.0, &proof).await?.as_str().to_owned()) },
        )
    }

    /// The apps holding a provisional key in the room, with its kid: what a saved message of the
    /// room could settle, whichever server instance accepted the key.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<ProvisionalKey>>")]
    pub fn provisional_keys<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] room_id: Str,
    ) -> Pending<'env, Vec<ProvisionalKey>> {
        let store = self.inner.clone();
        promise(env, async move {
            let keys = store.provisional_keys(&room_id.0).await?;
            Ok(keys.into_iter().map(|(app_id, kid)| ProvisionalKey { app_id, kid }).collect())
        })
    }

    /// Refills the cache from the app user's subscription (after a restart).
    #[napi(catch_unwind, ts_return_type = "Promise<LoadedKeys>")]
    pub fn load_room_keys<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        keys: SubscriptionKeys,
    ) -> Pending<'env, LoadedKeys> {
        let store = self.inner.clone();
        let keys: keystore::SubscriptionKeys = keys.into();
        promise(env, async move { store.load_room_keys(&app_id.0, &room_id.0, &keys).await.map(Into::into) })
    }

    /// Decrypts a message of the room for the app; returns the payload text, or for a large
    /// payload the text split for parsing (see `payload`), its long strings crossing without a
    /// copy on the JS thread.
    #[napi(catch_unwind, ts_return_type = "Promise<string | SplitPayload>")]
    pub fn decrypt_message<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        message: MessageFields,
    ) -> Pending<'env, Either<OwnedText, SplitPayload>> {
        let store = self.inner.clone();
        let fields: keystore::MessageFields = message.into();
        promise(env, async move { store.decrypt_message(&app_id.0, &room_id.0, &fields).await.map(payload::prepare) })
    }

    /// [`decrypt_message`](Self::decrypt_message) with the ciphertext of the envelope it reads
    /// staged by the facade (see `staging`): `ciphertext` is `pinnedContent.ciphertext` when
    /// `pinned`, else `content.ciphertext`, whatever `message` holds there. Nothing of it is
    /// read on the JS thread now; its bytes move to the worker, and the call is the same.
    #[napi(catch_unwind, ts_return_type = "Promise<string | SplitPayload>")]
    pub fn decrypt_message_staged<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        message: MessageFields,
        ciphertext: &JsStaged,
        pinned: bool,
    ) -> Pending<'env, Either<OwnedText, SplitPayload>> {
        let store = self.inner.clone();
        let mut fields: keystore::MessageFields = message.into();
        let staged = ciphertext.take();
        promise(env, async move {
            let text = into_ascii(staged?)?;
            let slot = if pinned { &mut fields.pinned_content } else { &mut fields.content };
            slot.get_or_insert_with(Default::default).ciphertext = Some(text);
            store.decrypt_message(&app_id.0, &room_id.0, &fields).await.map(payload::prepare)
        })
    }

    /// The same without leaving the JS thread when the store can answer from memory: the
    /// authorization was checked within its TTL, the key is cached and the ciphertext is small.
    /// Returns `null` when it cannot (the caller then awaits `decryptMessage`); a refusal or a
    /// failed decrypt it can judge from memory is thrown like `decryptMessage` rejects.
    #[napi(catch_unwind, ts_return_type = "string | null")]
    pub fn decrypt_message_cached(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Id,
        #[napi(ts_arg_type = "string")] room_id: Id,
        message: MessageFields,
    ) -> Result<Option<PlainText>, Code> {
        let fields: keystore::MessageFields = message.into();
        match self.inner.decrypt_message_cached(&app_id, &room_id, &fields) {
            None => Ok(None),
            Some(result) => result.map(|text| Some(PlainText(text))).map_err(|error| to_js(&error)),
        }
    }

    /// `decryptMessageCached` for a `t: 'e2e'` message whose `content` is labelled
    /// `rc.v2.aes-sha2` (the caller checked the label), given by its other members as strings:
    /// the bridge's hot path, with no message object and no label to convert.
    #[napi(catch_unwind, ts_return_type = "string | null")]
    pub fn decrypt_v2_message_cached(
        &self,
        #[napi(ts_arg_type = "string")] app_id: Id,
        #[napi(ts_arg_type = "string")] room_id: Id,
        #[napi(ts_arg_type = "string | undefined")] kid: Text,
        #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
        #[napi(ts_arg_type = "string | undefined")] ciphertext: Ascii,
    ) -> Result<Option<PlainText>, Code> {
        let algorithm = Some(rc_e2ee_core::content::ALGORITHM_V2.to_owned());
        let content = keystore::ContentFields { algorithm, kid: kid.0, iv: iv.0, ciphertext: ciphertext.0 };
        match self.inner.decrypt_v2_message_cached(&app_id, &room_id, &content) {
            None => Ok(None),
            Some(result) => result.map(|text| Some(PlainText(text))).map_err(|error| to_js(&error)),
        }
    }

    /// Decrypts a page of the room's history (at most 1000 messages) on the thread pool: the
    /// gates are checked once, then each message alone; one that fails is `null` in
    /// `plaintexts`, with its index in `failed` and its code in `codes`. A refused batch rejects.
    #[napi(catch_unwind, ts_return_type = "Promise<PayloadBatch>")]
    pub fn decrypt_messages<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "Array<MessageFields>")] messages: List<MessageFields, MAX_BATCH>,
    ) -> Pending<'env, PayloadBatch> {
        let store = self.inner.clone();
        let fields: Vec<keystore::MessageFields> = messages.0.into_iter().map(Into::into).collect();
        promise(env, async move {
            let outcomes = store.decrypt_messages(&app_id.0, &room_id.0, fields).await?;
            let mut result =
                PayloadBatch { payloads: Vec::with_capacity(outcomes.len()), failed: Vec::new(), codes: Vec::new() };
            for (index, outcome) in outcomes.into_iter().enumerate() {
                match outcome {
                    Ok(text) => result.payloads.push(Some(payload::prepare(text))),
                    Err(error) => {
                        result.payloads.push(None);
                        result.failed.push(u32::try_from(index).unwrap_or(u32::MAX));
                        result.codes.push(error.code());
                    }
                }
            }
            Ok(result)
        })
    }

    /// Encrypts a payload text for the room with its current key.
    #[napi(catch_unwind, ts_return_type = "Promise<EncryptedContent>")]
    pub fn encrypt_content<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] app_id: Str,
        #[napi(ts_arg_type = "string")] room_id: Str,
        #[napi(ts_arg_type = "string")] plaintext: Secret,
        expected_kid: Option<String>,
    ) -> Pending<'env, EncryptedContent> {
        let store = self.inner.clone();
        promise(env, async move {
            store.encrypt_content(&app_id.0, &room_id.0, &plaintext.0, expected_kid.as_deref()).await.map(Into::into)
        })
    }

    /// Audit records, newest first.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<AuditRecord>>")]
    pub fn audit<'env>(&self, env: &'env Env, filter: Option<AuditFilter>) -> Pending<'env, Vec<AuditRecord>> {
        let store = self.inner.clone();
        let query: AuditQuery = audit_query(filter);
        promise(env, async move { Ok(store.audit(&query).await?.into_iter().map(Into::into).collect()) })
    }

    /// Writes counted decrypt/encrypt calls to the audit now.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn flush_audit<'env>(&self, env: &'env Env) -> Pending<'env, ()> {
        let store = self.inner.clone();
        promise(env, async move { store.flush_audit().await })
    }
}

/// Every `KEYSTORE_*` code (the facade's list is tested against it).
#[napi(catch_unwind)]
pub fn keystore_error_codes() -> Vec<&'static str> {
    keystore::Error::ALL_CODES.to_vec()
}
