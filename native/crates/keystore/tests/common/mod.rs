//! Shared fixtures of the key-store tests: backends, a fake host, room keys and messages, and a
//! scanner for secrets in stored data.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use mongodb::bson::doc;
use rc_e2ee_core::{wrap_room_key, RoomKey, RsaPublicKey};
use rc_e2ee_keystore::custody::identity_aad;
use rc_e2ee_keystore::store::{self, Store};
use rc_e2ee_keystore::{
    AcceptOptions, Accepted, AppKeyStore, ContentFields, Error, IdentityKey, KeyCustody, MessageFields, OldRoomKey,
    OpenOptions, Pkcs11Config, Pkcs11Custody, Pkcs11RsaCustody, Proof, Result, RoomKeyWriter, SealedCustody, StoreUrl,
    SubscriptionKeys,
};

/// Runs each named `async fn(&Backend)` once per backend × custody: the embedded file always,
/// MongoDB at `MONGO_URL` (FerretDB: `eval "$(scripts/test-db/start)"`), required unless
/// `RC_E2EE_SKIP_MONGO=1`; sealed custody always, PKCS#11 custody on the tokens of
/// `eval "$(scripts/test-hsm/start)"` (`kek` mode on SoftHSM2, `rsa` mode on kryoptic), required
/// unless `RC_E2EE_SKIP_HSM=1`. The
/// custody is what [`kek`] returns in the test's body.
#[macro_export]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        $crate::suite!(@custody sealed, $crate::common::CustodyKind::Sealed, $($name),*);
        $crate::suite!(@custody pkcs11_kek, $crate::common::CustodyKind::Pkcs11Kek, $($name),*);
        $crate::suite!(@custody pkcs11_rsa, $crate::common::CustodyKind::Pkcs11Rsa, $($name),*);
    };
    (@custody $custody:ident, $kind:expr, $($name:ident),*) => {
        mod $custody {
            mod file_backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        if !$crate::common::use_custody($kind, stringify!($name)) { return };
                        let backend = $crate::common::Backend::file();
                        super::super::$name(&backend).await;
                    }
                )*
            }
            mod mongodb_backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        if !$crate::common::use_custody($kind, stringify!($name)) { return };
                        let Some(backend) = $crate::common::Backend::mongo(stringify!($name)).await else { return };
                        super::super::$name(&backend).await;
                    }
                )*
            }
        }
    };
}

// ----- custody -----

/// The custody a test's [`kek`] calls make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustodyKind {
    Sealed,
    /// A fresh AES-256 KEK object per [`kek`] call in the SoftHSM2 token of scripts/test-hsm.
    Pkcs11Kek,
    /// Key pairs in the kryoptic token of scripts/test-hsm (OAEP-SHA-256), a fresh custody name
    /// per [`kek`] call.
    Pkcs11Rsa,
}

/// The custody of the running test.
pub fn custody_kind() -> CustodyKind {
    CUSTODY.with(std::cell::Cell::get)
}

/// The custody every test provider uses; a custody provider handed to the key store.
pub type Kek = Arc<dyn KeyCustody>;

thread_local! {
    // The test's body runs on its own thread (the runtime's `block_on`), so a thread-local
    // reaches every `kek()` of the body without threading a parameter through every test.
    static CUSTODY: std::cell::Cell<CustodyKind> = const { std::cell::Cell::new(CustodyKind::Sealed) };
}

/// Selects the custody of this test; `false` (skip, with a note) only when the token was
/// knowingly left out with `RC_E2EE_SKIP_HSM=1`. Without the token and without that, the test
/// fails: a suite that passes because its token was missing would check nothing.
pub fn use_custody(kind: CustodyKind, test: &str) -> bool {
    if kind != CustodyKind::Sealed && hsm().is_none() {
        if std::env::var("RC_E2EE_SKIP_HSM").is_ok_and(|value| value == "1") {
            eprintln!("note: RC_E2EE_SKIP_HSM=1; skipping the {kind:?} run of {test}");
            return false;
        }
        panic!(
            "no PKCS#11 test token: start them with eval \"$(scripts/test-hsm/start)\", \
             or set RC_E2EE_SKIP_HSM=1 to skip the token runs knowingly"
        );
    }
    CUSTODY.with(|custody| custody.set(kind));
    true
}

/// The tokens of scripts/test-hsm/start, from its exports.
pub struct Hsm {
    pub softhsm: PathBuf,
    pub kryoptic: PathBuf,
    pub pin_file: PathBuf,
    pub other_pin_file: PathBuf,
}

pub fn hsm() -> Option<Hsm> {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    Some(Hsm {
        softhsm: var("RC_E2EE_SOFTHSM_MODULE")?,
        kryoptic: var("RC_E2EE_KRYOPTIC_MODULE")?,
        pin_file: var("RC_E2EE_HSM_PIN_FILE")?,
        other_pin_file: var("RC_E2EE_HSM_OTHER_PIN_FILE")?,
    })
}

/// The test token's configuration in `module` with a fresh key label.
pub fn token_config(module: &std::path::Path) -> Pkcs11Config {
    let hsm = hsm().expect("scripts/test-hsm/start exports");
    Pkcs11Config {
        module: module.to_path_buf(),
        token_label: "rc-e2ee-test".into(),
        pin_file: hsm.pin_file,
        key_label: unique("kek"),
    }
}

// ----- backends -----

#[derive(Clone, Copy)]
pub enum Kind {
    File,
    Mongo { ferretdb: bool },
}

/// One backend instance for one test: a temp file, or a fresh database dropped at the end
/// (when the last clone goes).
#[derive(Clone)]
pub struct Backend {
    pub url: StoreUrl,
    pub kind: Kind,
    _guard: Arc<Guard>,
}

struct Guard {
    _dir: Option<tempfile::TempDir>,
    mongo: Option<(String, String)>,
}

impl Backend {
    pub fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::File(dir.path().join("keystore.json"));
        Self { url, kind: Kind::File, _guard: Arc::new(Guard { _dir: Some(dir), mongo: None }) }
    }

    /// The MongoDB backend at `MONGO_URL`. Without it the test fails, unless the caller skips
    /// the MongoDB runs knowingly with `RC_E2EE_SKIP_MONGO=1` (then `None`, with a note): a
    /// suite that passes because its database was missing would check nothing.
    pub async fn mongo(test: &str) -> Option<Self> {
        let Ok(uri) = std::env::var("MONGO_URL") else {
            if std::env::var("RC_E2EE_SKIP_MONGO").is_ok_and(|value| value == "1") {
                eprintln!("note: RC_E2EE_SKIP_MONGO=1; skipping the MongoDB run of {test}");
                return None;
            }
            panic!(
                "MONGO_URL is not set: start FerretDB with eval \"$(scripts/test-db/start)\", \
                 or set RC_E2EE_SKIP_MONGO=1 to skip the MongoDB runs knowingly"
            );
        };
        let database = format!("rc_e2ee_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
        let info = client.database("admin").run_command(doc! {"buildInfo": 1}).await.unwrap();
        let ferretdb = info.contains_key("ferretdbVersion") || info.contains_key("ferretdb");
        Some(Self {
            url: StoreUrl::mongodb(&uri, &database),
            kind: Kind::Mongo { ferretdb },
            _guard: Arc::new(Guard { _dir: None, mongo: Some((uri, database)) }),
        })
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::File => "file",
            Kind::Mongo { ferretdb: true } => "mongodb (FerretDB)",
            Kind::Mongo { ferretdb: false } => "mongodb",
        }
    }

    pub fn file_path(&self) -> Option<PathBuf> {
        match &self.url {
            StoreUrl::File(path) => Some(path.clone()),
            _ => None,
        }
    }

    pub async fn open(&self, kek: &Kek) -> AppKeyStore {
        self.open_with(kek, options()).await.unwrap()
    }

    pub async fn open_with(&self, kek: &Kek, options: OpenOptions) -> Result<AppKeyStore> {
        let custody: Arc<dyn KeyCustody> = kek.clone();
        AppKeyStore::open(&self.url, custody, options).await
    }

    pub async fn raw(&self) -> Arc<dyn Store> {
        store::open(&self.url).await.unwrap()
    }

    /// Everything the backend stores, as text: every document of every collection, and for
    /// the file backend the file's raw bytes too.
    pub async fn dump(&self) -> String {
        let raw = self.raw().await;
        let mut out = String::new();
        for (collection, document) in raw.export().await.unwrap() {
            out.push_str(collection);
            out.push(' ');
            out.push_str(&serde_json::to_string(&document).unwrap());
            out.push('\n');
        }
        raw.close().await.unwrap();
        if let Some(path) = self.file_path() {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(path).unwrap()));
        }
        out
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((uri, database)) = self.mongo.take() {
            // Drop the test database even when the test failed; on a thread of its own
            // because this runs inside the test's runtime.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
                    client.database(&database).drop().await.unwrap();
                    client.shutdown().await;
                });
            })
            .join();
        }
    }
}

/// Test options: gates read the store on every call so several instances see each other.
pub fn options() -> OpenOptions {
    OpenOptions { authorization_ttl: Duration::ZERO, ..OpenOptions::default() }
}

/// A fresh KEK of the test's custody (see [`use_custody`]).
pub fn kek() -> Kek {
    match CUSTODY.with(std::cell::Cell::get) {
        CustodyKind::Sealed => Arc::new(SealedCustody::from_base64(&SealedCustody::generate_kek()).unwrap()),
        CustodyKind::Pkcs11Kek => {
            let hsm = hsm().unwrap();
            Arc::new(Pkcs11Custody::generate(&token_config(&hsm.softhsm)).unwrap())
        }
        CustodyKind::Pkcs11Rsa => {
            let hsm = hsm().unwrap();
            Arc::new(Pkcs11RsaCustody::open(&token_config(&hsm.kryoptic)).unwrap())
        }
    }
}

/// A fresh Apps-Engine app id (a UUID, as in app.json).
pub fn app_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

// ----- room keys and messages -----

/// A room key whose raw bytes the test knows (to look for them in stored data).
pub struct TestKey {
    pub key: RoomKey,
    pub raw: Vec<u8>,
}

impl TestKey {
    pub fn gcm() -> Self {
        Self::new("A256GCM", 32, uuid::Uuid::new_v4().to_string())
    }

    /// A legacy AES-CBC-128 key with a 12-character kid.
    pub fn cbc() -> Self {
        Self::new("A128CBC", 16, uuid::Uuid::new_v4().simple().to_string()[..12].to_owned())
    }

    fn new(alg: &str, len: usize, kid: String) -> Self {
        let mut raw = vec![0u8; len];
        rc_e2ee_core::random::key_bytes(&mut raw);
        let jwk = format!(
            r#"{{"alg":"{alg}","ext":true,"k":"{}","key_ops":["encrypt","decrypt"],"kty":"oct"}}"#,
            URL_SAFE_NO_PAD.encode(&raw)
        );
        Self { key: RoomKey::from_jwk(&jwk, &kid).unwrap(), raw }
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// `E2EKey` for a member with `public_key`.
    pub fn wrap_for(&self, public_key: &str) -> String {
        wrap_room_key(&self.key, &RsaPublicKey::from_rc_string(public_key).unwrap()).unwrap()
    }

    /// A v2 `content` carrying `{"msg": text}`.
    pub fn content(&self, text: &str) -> ContentFields {
        // Sealed by hand: the library refuses to write with a legacy CBC key, but old clients
        // labelled CBC content rc.v2.aes-sha2 and the store must still read it.
        let (iv, ciphertext) = self.key.encrypt(payload(text).as_bytes()).unwrap();
        ContentFields {
            algorithm: Some("rc.v2.aes-sha2".to_owned()),
            kid: Some(self.kid().to_owned()),
            iv: Some(STANDARD.encode(iv)),
            ciphertext: Some(STANDARD.encode(ciphertext)),
        }
    }

    /// A `t: "e2e"` message with a v2 content.
    pub fn message(&self, text: &str) -> MessageFields {
        MessageFields { t: Some("e2e".into()), content: Some(self.content(text)), ..MessageFields::default() }
    }

    /// The oldest legacy form: `kid(12) + b64(iv ‖ AES-CBC)` in `msg` (CBC keys only).
    pub fn legacy_message(&self, text: &str) -> MessageFields {
        let (iv, ciphertext) = self.key.encrypt(payload(text).as_bytes()).unwrap();
        let body = STANDARD.encode([iv, ciphertext].concat());
        MessageFields { t: Some("e2e".into()), msg: Some(format!("{}{body}", self.kid())), ..MessageFields::default() }
    }
}

pub fn payload(text: &str) -> String {
    serde_json::json!({ "msg": text }).to_string()
}

/// A message text no stored byte may contain.
pub fn secret_text() -> String {
    unique("TOP-SECRET-PLAINTEXT")
}

/// A store with an identity for a fresh app (app user `<app>.bot`), authorized for `rooms`.
/// Returns (store, app id, public key).
pub async fn setup(backend: &Backend, kek: &Kek, rooms: &[&str]) -> (AppKeyStore, String, String) {
    let store = backend.open(kek).await;
    let app = app_id();
    let public_key = store.ensure_identity(&app, &format!("{app}.bot")).await.unwrap();
    for room in rooms {
        store.authorize(&app, room, "admin").await.unwrap();
    }
    (store, app, public_key)
}

/// The kid of an `E2EKey` string: all but its last 344 characters.
pub fn kid_of(wrapped: &str) -> String {
    wrapped.len().checked_sub(344).and_then(|split| wrapped.get(..split)).unwrap_or("no-kid").to_owned()
}

/// An offer judged by nothing: the room has no message yet, so the key becomes provisional.
pub fn offer(expected_kid: &str, suggested_by: &str, proofs: Vec<Proof>) -> AcceptOptions {
    AcceptOptions {
        expected_kid: expected_kid.to_owned(),
        suggested_by: suggested_by.to_owned(),
        proofs,
        old_room_keys: Vec::new(),
    }
}

/// Accepts a suggested key as a room with no messages yet would (kid = the wrapped kid,
/// suggested by "member", no proofs); returns the kid.
pub async fn accept(store: &AppKeyStore, app_id: &str, room_id: &str, wrapped: &str) -> Result<String> {
    let accepted: Accepted =
        store.accept_room_key(app_id, room_id, wrapped, &offer(&kid_of(wrapped), "member", Vec::new())).await?;
    Ok(accepted.kid)
}

impl TestKey {
    /// A message of the room under this key, sent by `sender`.
    pub fn proof(&self, sender: &str, text: &str) -> Proof {
        Proof { sender_id: sender.to_owned(), content: self.content(text) }
    }

    /// A key of the same algorithm and a chosen kid: what an attacker suggests.
    pub fn forged_with_kid(&self, kid: &str) -> TestKey {
        match self.key.algorithm() {
            rc_e2ee_core::RoomKeyAlgorithm::A256Gcm => TestKey::new("A256GCM", 32, kid.to_owned()),
            rc_e2ee_core::RoomKeyAlgorithm::A128Cbc => TestKey::new("A128CBC", 16, kid.to_owned()),
        }
    }

    /// A key with an arbitrary kid (for kids an attacker chooses).
    pub fn gcm_with_kid(kid: &str) -> TestKey {
        TestKey::new("A256GCM", 32, kid.to_owned())
    }

    /// A legacy CBC key under a kid of the caller's choice (a downgrade attempt).
    pub fn cbc_with_kid(kid: &str) -> TestKey {
        TestKey::new("A128CBC", 16, kid.to_owned())
    }
}

// ----- the host -----

/// Where a [`Host`] call fails: the `at`-th call (0-based), before or after its effect.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub at: usize,
    pub after_effect: bool,
}

/// A fake Rocket.Chat host for one app user: subscriptions with compare-and-set writes, and the
/// published public key.
#[derive(Default)]
pub struct Host {
    pub subscriptions: Mutex<BTreeMap<String, SubscriptionKeys>>,
    pub published: Mutex<Option<String>>,
    calls: AtomicUsize,
    fault: Mutex<Option<Fault>>,
}

impl Host {
    pub fn new(public_key: &str) -> Arc<Self> {
        let host = Arc::new(Self::default());
        *host.published.lock().unwrap() = Some(public_key.to_owned());
        host
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.fault.lock().unwrap() = fault;
        self.calls.store(0, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn published(&self) -> String {
        self.published.lock().unwrap().clone().unwrap()
    }

    pub fn subscription(&self, room_id: &str) -> SubscriptionKeys {
        self.subscriptions.lock().unwrap().get(room_id).cloned().unwrap()
    }

    pub fn set_subscription(&self, keys: SubscriptionKeys) {
        self.subscriptions.lock().unwrap().insert(keys.room_id.clone(), keys);
    }

    fn step(&self, after_effect: bool, call: usize) -> Result<()> {
        match *self.fault.lock().unwrap() {
            Some(fault) if fault.at == call && fault.after_effect == after_effect => Err(Error::Host("injected crash")),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl RoomKeyWriter for Host {
    async fn list_room_keys(&self) -> Result<Vec<SubscriptionKeys>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.step(false, call)?;
        let out = self.subscriptions.lock().unwrap().values().cloned().collect();
        self.step(true, call)?;
        Ok(out)
    }

    async fn write_room_keys(&self, room_id: &str, previous: &SubscriptionKeys, keys: &SubscriptionKeys) -> Result<()> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.step(false, call)?;
        {
            let mut subscriptions = self.subscriptions.lock().unwrap();
            let current = subscriptions.get_mut(room_id).ok_or(Error::Host("no such subscription"))?;
            if current != previous {
                return Err(Error::Conflict("the subscription changed"));
            }
            *current = keys.clone();
        }
        self.step(true, call)
    }

    async fn publish_public_key(&self, public_key: &str) -> Result<()> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.step(false, call)?;
        *self.published.lock().unwrap() = Some(public_key.to_owned());
        self.step(true, call)
    }
}

// ----- secrets -----

/// Byte strings that must never appear in stored data, each in every encoding it could take.
#[derive(Default)]
pub struct Secrets {
    needles: Vec<(String, String)>,
}

impl Secrets {
    pub fn text(&mut self, label: &str, text: &str) {
        self.needles.push((label.to_owned(), text.to_owned()));
    }

    /// Raw bytes: base64 (standard and url-safe, at each of the three alignments), hex.
    pub fn bytes(&mut self, label: &str, bytes: &[u8]) {
        for skip in 0..3 {
            let tail = &bytes[skip..];
            for encoded in [STANDARD.encode(tail), URL_SAFE_NO_PAD.encode(tail)] {
                // Only whole 3-byte groups encode the same wherever the secret sits.
                let window = &encoded[..(tail.len() / 3 * 4).min(64)];
                self.needles.push((format!("{label} (base64, skip {skip})"), window.to_owned()));
            }
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.needles.push((format!("{label} (hex)"), hex[..hex.len().min(64)].to_owned()));
        self.needles.push((format!("{label} (HEX)"), hex[..hex.len().min(64)].to_uppercase()));
    }

    pub fn room_key(&mut self, key: &TestKey) {
        self.bytes(&format!("room key {}", key.kid()), &key.raw);
    }

    /// A private key: its PKCS#8 document and its JWK private members d, p, q, dp, dq, qi.
    /// `None` (a key in a token, no bytes of it here) adds nothing.
    pub fn private_key(&mut self, label: &str, pkcs8_der: &Option<Vec<u8>>) {
        use pkcs1::der::Decode;
        let Some(pkcs8_der) = pkcs8_der else { return };
        self.bytes(&format!("{label} PKCS#8"), pkcs8_der);
        let info = pkcs8::PrivateKeyInfo::from_der(pkcs8_der).unwrap();
        let key = pkcs1::RsaPrivateKey::from_der(info.private_key).unwrap();
        for (member, value) in [
            ("d", key.private_exponent),
            ("p", key.prime1),
            ("q", key.prime2),
            ("dp", key.exponent1),
            ("dq", key.exponent2),
            ("qi", key.coefficient),
        ] {
            self.bytes(&format!("{label} JWK {member}"), value.as_bytes());
        }
    }

    pub fn assert_absent(&self, haystack: &str) {
        assert!(self.needles.len() > 10, "the scan has too few needles to mean anything");
        for (label, needle) in &self.needles {
            assert!(needle.len() >= 16, "needle {label} too short");
            assert!(!haystack.contains(needle.as_str()), "stored data contains {label}");
        }
    }
}

/// The PKCS#8 of an identity's current private key, opened with the test's KEK from the
/// stored document (what an attacker with the KEK and the database could do); `None` in
/// PKCS#11 `rsa` custody, where no such bytes exist outside the token.
pub async fn private_key_der(backend: &Backend, kek: &Kek, app_id: &str) -> Option<Vec<u8>> {
    let raw = backend.raw().await;
    let identity = raw.identity(app_id).await.unwrap().unwrap();
    raw.close().await.unwrap();
    let sealed = identity.sealed.unwrap();
    if !kek.seals() {
        return None;
    }
    Some(kek.unseal(&sealed, &identity_aad(app_id, identity.key_version)).unwrap().to_vec())
}

/// The identity's current key as its custody opens it (in any custody).
pub async fn identity_key(backend: &Backend, kek: &Kek, app_id: &str) -> Arc<dyn IdentityKey> {
    let raw = backend.raw().await;
    let identity = raw.identity(app_id).await.unwrap().unwrap();
    raw.close().await.unwrap();
    kek.open_key(&identity.sealed.unwrap(), &identity_aad(app_id, identity.key_version)).unwrap()
}

/// The code of the error `result` must be.
pub fn code<T>(result: Result<T>) -> &'static str {
    match result {
        Ok(_) => panic!("expected an error, got a value"),
        Err(error) => error.code(),
    }
}

/// A room of the rotation tests: keys wrapped in the host's subscription, and one message per
/// key.
pub struct Room {
    pub id: String,
    pub keys: Vec<TestKey>,
    pub texts: Vec<String>,
}

impl Room {
    pub fn new(host: &Host, id: &str, public_key: &str, keys: usize) -> Self {
        let keys: Vec<_> = (0..keys).map(|_| TestKey::gcm()).collect();
        let texts = keys.iter().map(|_| secret_text()).collect();
        host.set_subscription(SubscriptionKeys {
            room_id: id.into(),
            e2e_key: keys.first().map(|k| k.wrap_for(public_key)),
            old_room_keys: keys
                .iter()
                .skip(1)
                .enumerate()
                .map(|(i, k)| OldRoomKey {
                    e2e_key_id: k.kid().into(),
                    ts_ms: i as i64,
                    e2e_key: k.wrap_for(public_key),
                })
                .collect(),
        });
        Self { id: id.into(), keys, texts }
    }

    /// Every message of the room decrypts after reloading the host's subscription into `store`.
    pub async fn assert_readable(&self, store: &AppKeyStore, app: &str, host: &Host) {
        let loaded = store.load_room_keys(app, &self.id, &host.subscription(&self.id)).await.unwrap();
        assert_eq!(loaded.unreadable, 0, "room {}: a key no longer opens", self.id);
        for (key, text) in self.keys.iter().zip(&self.texts) {
            let plaintext = store.decrypt_message(app, &self.id, &key.message(text)).await.unwrap();
            assert_eq!(plaintext.as_str(), payload(text));
        }
    }
}
