//! PKCS#11 custody against the real soft tokens of scripts/test-hsm/start (SoftHSM2 and
//! kryoptic): what the behaviour suite cannot show by running over it. A broken setup (module,
//! token, PIN, key object, mechanism) fails with its own code before anything is written; the
//! KEK cannot be read out of the token; identities move from sealed custody into the token with
//! `rekey` and then open with the token alone; what is stored and what the process's
//! environment holds after setup cannot open a room key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
// The guard `tokens` hands out only orders this file's tests; each test has its own thread and
// runtime, so holding it across an await blocks no one else's tasks.
#![allow(clippy::await_holding_lock)]

#[macro_use]
mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rc_e2ee_keystore::custody::identity_aad;
use rc_e2ee_keystore::{
    actions, AuditQuery, KeyCustody, OpenOptions, Pkcs11Config, Pkcs11Custody, Pkcs11RsaCustody, SealedCustody,
    SubscriptionKeys,
};

/// The tokens, or `None` (skip, with a note) when knowingly left out with RC_E2EE_SKIP_HSM=1;
/// with a guard that runs this file's tests one at a time. Some of them act as an attacker
/// through the module directly, outside the custody's serialization of object-store work,
/// and SoftHSM2 loses objects when that runs beside another session's (see
/// `key_objects_are_created_and_destroyed_from_many_threads`).
fn tokens(test: &str) -> Option<(Hsm, std::sync::MutexGuard<'static, ()>)> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    use_custody(CustodyKind::Pkcs11Kek, test).then(|| (hsm().unwrap(), serial))
}

fn p11_code<T>(result: rc_e2ee_keystore::Result<T>) -> &'static str {
    match result {
        Ok(_) => panic!("expected an error, got a value"),
        Err(error) => error.code(),
    }
}

#[test]
fn a_broken_setup_fails_at_open_with_its_own_code() {
    let Some((hsm, _serial)) = tokens("a_broken_setup_fails_at_open_with_its_own_code") else { return };
    let good = token_config(&hsm.softhsm);
    Pkcs11Custody::generate(&good).unwrap();

    let with = |change: &dyn Fn(&mut Pkcs11Config)| {
        let mut config = good.clone();
        change(&mut config);
        config
    };
    let cases: Vec<(&str, Pkcs11Config)> = vec![
        ("KEYSTORE_HSM_MODULE", with(&|c| c.module = PathBuf::from("/nonexistent/libpkcs11.so"))),
        // A file that is not a module.
        ("KEYSTORE_HSM_MODULE", with(&|c| c.module = hsm.pin_file.clone())),
        ("KEYSTORE_HSM_TOKEN", with(&|c| c.token_label = "no-such-token".into())),
        ("KEYSTORE_HSM_PIN", with(&|c| c.pin_file = PathBuf::from("/nonexistent/pin"))),
        // The other token's PIN on the test token: refused even though this process is already
        // logged in to it (the login of another custody must not carry a wrong PIN).
        ("KEYSTORE_HSM_PIN", with(&|c| c.pin_file = hsm.other_pin_file.clone())),
        // ...and on a token no one here logged in to yet, the token itself refuses it.
        (
            "KEYSTORE_HSM_PIN",
            with(&|c| {
                c.token_label = "rc-e2ee-other".into();
                c.pin_file = hsm.pin_file.clone();
            }),
        ),
        ("KEYSTORE_HSM_KEY", with(&|c| c.key_label = unique("missing"))),
    ];
    for (expected, config) in &cases {
        assert_eq!(p11_code(Pkcs11Custody::open(config)), *expected, "{config:?}");
    }
    // An empty PIN file.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("pin");
    std::fs::write(&empty, "\n").unwrap();
    assert_eq!(p11_code(Pkcs11Custody::open(&with(&|c| c.pin_file = empty.clone()))), "KEYSTORE_HSM_PIN");
    // Generating under a label that exists is refused: open would be ambiguous.
    assert_eq!(p11_code(Pkcs11Custody::generate(&good)), "KEYSTORE_HSM_KEY");
    // The right configuration opens, and a second custody shares the token's login.
    let first = Pkcs11Custody::open(&good).unwrap();
    let second = Pkcs11Custody::open(&good).unwrap();
    assert_eq!(first.kek_id(), second.kek_id());
    assert!(first.kek_id().starts_with("p11-"));
    // No PIN in what the custody prints or names.
    let pin = std::fs::read_to_string(&hsm.pin_file).unwrap();
    for text in [format!("{first:?}"), first.description().to_owned()] {
        assert!(!text.contains(pin.trim()), "{text}");
    }
}

#[test]
fn a_token_that_refuses_the_mechanism_fails_at_open() {
    let Some((hsm, _serial)) = tokens("a_token_that_refuses_the_mechanism_fails_at_open") else { return };
    // kryoptic's rc-e2ee-nomech slot has AES-GCM and RSA-OAEP on a deny list.
    let config = Pkcs11Config { token_label: "rc-e2ee-nomech".into(), ..token_config(&hsm.kryoptic) };
    assert_eq!(p11_code(Pkcs11Custody::generate(&config)), "KEYSTORE_HSM_MECHANISM");
    assert_eq!(p11_code(Pkcs11Custody::open(&config)), "KEYSTORE_HSM_MECHANISM");
    assert_eq!(p11_code(Pkcs11RsaCustody::open(&config)), "KEYSTORE_HSM_MECHANISM");
}

/// SoftHSM2 2.6 lists RSA-OAEP but does it with SHA-1 only: `rsa` mode opens on it, and the
/// first identity fails with KEYSTORE_HSM_MECHANISM, nothing stored, no object left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_without_oaep_sha256_fails_at_first_use_and_writes_nothing() {
    let Some((hsm, _serial)) = tokens("a_token_without_oaep_sha256_fails_at_first_use_and_writes_nothing") else {
        return;
    };
    let config = token_config(&hsm.softhsm);
    let custody: Kek = Arc::new(Pkcs11RsaCustody::open(&config).unwrap());
    let backend = Backend::file();
    let store = backend.open(&custody).await;
    let before = backend.dump().await;
    let app = app_id();
    assert_eq!(code(store.ensure_identity(&app, "bot").await), "KEYSTORE_HSM_MECHANISM");
    assert!(store.identity(&app).await.unwrap().is_none());
    assert_eq!(backend.dump().await, before);
    let session = login(&hsm.softhsm, &hsm.pin_file);
    let pairs = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).unwrap();
    assert!(pairs.is_empty(), "the refused pair was left in the token");
}

#[test]
fn the_kek_never_leaves_the_token_and_an_extractable_one_is_refused() {
    let Some((hsm, _serial)) = tokens("the_kek_never_leaves_the_token_and_an_extractable_one_is_refused") else {
        return;
    };
    for module in [&hsm.softhsm, &hsm.kryoptic] {
        let config = token_config(module);
        let custody = Pkcs11Custody::generate(&config).unwrap();
        // What an attacker holding the PIN would try, through the module directly.
        let session = login(module, &hsm.pin_file);
        let key = session.find_objects(&[Attribute::Label(config.key_label.as_bytes().to_vec())]).unwrap()[0];
        let value = session.get_attributes(key, &[AttributeType::Value]).unwrap();
        assert!(!value.iter().any(|a| matches!(a, Attribute::Value(_))), "CKA_VALUE readable in {module:?}");
        // Wrapping it out under a key the attacker made is refused too.
        let attacker = attacker_wrapping_key(&session);
        assert!(session.wrap_key(&Mechanism::AesKeyWrapPad, attacker, key).is_err(), "wrapped out of {module:?}");

        // A KEK object someone made extractable is refused at open.
        let loose = unique("loose");
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Label(loose.as_bytes().to_vec()),
                ],
            )
            .unwrap();
        let config = Pkcs11Config { key_label: loose, ..config.clone() };
        assert_eq!(p11_code(Pkcs11Custody::open(&config)), "KEYSTORE_HSM_KEY");
        drop(custody);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identities_move_from_sealed_custody_into_the_token() {
    let Some((hsm, _serial)) = tokens("identities_move_from_sealed_custody_into_the_token") else { return };
    for backend in backends("identities_move_from_sealed_custody_into_the_token").await {
        let sealed: Kek = Arc::new(SealedCustody::from_base64(&SealedCustody::generate_kek()).unwrap());
        let (store, app, public_key) = setup(&backend, &sealed, &["room"]).await;
        let key = TestKey::gcm();
        accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();

        let config = token_config(&hsm.softhsm);
        let token: Kek = Arc::new(Pkcs11Custody::generate(&config).unwrap());
        let report = store.rekey(Arc::clone(&token)).await.unwrap();
        assert_eq!(report.resealed, 1);
        assert_eq!(store.kek_id(), token.kek_id());
        store.retire_kek(sealed.kek_id()).await.unwrap();
        store.close().await.unwrap();

        // The secret-file KEK no longer opens anything; the token alone does.
        assert_eq!(code(backend.open_with(&sealed, options()).await), "KEYSTORE_BAD_KEK");
        let reopened: Kek = Arc::new(Pkcs11Custody::open(&config).unwrap());
        let store = backend.open(&reopened).await;
        let second = TestKey::gcm();
        assert_eq!(code(accept(&store, &app, "room2", &second.wrap_for(&public_key)).await), "KEYSTORE_NOT_AUTHORIZED");
        store.authorize(&app, "room2", "admin").await.unwrap();
        assert_eq!(accept(&store, &app, "room2", &second.wrap_for(&public_key)).await.unwrap(), second.kid());
        // The audit names the custody and the key object, never the PIN.
        let query = AuditQuery { action: Some(actions::KEK_REKEY.into()), ..Default::default() };
        let audit = store.audit(&query).await.unwrap();
        let detail = audit.iter().find_map(|record| record.detail.clone()).unwrap();
        assert!(detail.starts_with("pkcs11-kek kek_id=p11-") && detail.contains("token=rc-e2ee-test"), "{detail}");
        let pin = std::fs::read_to_string(&hsm.pin_file).unwrap();
        assert!(!backend.dump().await.contains(pin.trim()));
        store.close().await.unwrap();
    }
}

/// After setup in the token, the stored documents and this process's environment together
/// hold nothing that opens a room key: no private key in any encoding, no room key, no PIN.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stored_documents_and_environment_cannot_open_a_room_key() {
    let Some((hsm, _serial)) = tokens("stored_documents_and_environment_cannot_open_a_room_key") else { return };
    for rsa in [false, true] {
        for backend in &backends("stored_documents_and_environment_cannot_open_a_room_key").await {
            let kek: Kek = if rsa {
                Arc::new(Pkcs11RsaCustody::open(&token_config(&hsm.kryoptic)).unwrap())
            } else {
                Arc::new(Pkcs11Custody::generate(&token_config(&hsm.softhsm)).unwrap())
            };
            let (store, app, public_key) = setup(backend, &kek, &["room", "room2"]).await;
            let (key, key2) = (TestKey::gcm(), TestKey::gcm());
            accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
            accept(&store, &app, "room2", &key2.wrap_for(&public_key)).await.unwrap();
            store.flush_audit().await.unwrap();

            let mut secrets = Secrets::default();
            secrets.room_key(&key);
            secrets.room_key(&key2);
            // In `kek` mode the test can ask the token to open the blob (it holds the login); what it
            // gets must not be in the data. In `rsa` mode no bytes of the key exist outside the
            // token: the stored reference is all there is.
            secrets.private_key("identity key", &private_key_der(backend, &kek, &app).await);
            let pin = std::fs::read_to_string(&hsm.pin_file).unwrap();
            secrets.text("PIN", pin.trim());
            let mut haystack = backend.dump().await;
            for (name, value) in std::env::vars_os() {
                haystack.push_str(&format!("{}={}\n", name.to_string_lossy(), value.to_string_lossy()));
            }
            secrets.assert_absent(&haystack);
            // And no software KEK could open the stored blob: it names a token key.
            let stored = backend.raw().await.identity(&app).await.unwrap().unwrap().sealed.unwrap();
            assert!(stored.kek_id.starts_with(if rsa { "p11rsa-" } else { "p11-" }));
            if rsa {
                assert!(stored.nonce.is_empty() && stored.ciphertext.len() == 16, "{stored:?}");
            }
            store.close().await.unwrap();
        }
    }
}

/// `rsa` mode on kryoptic: the private key object cannot be read out (CKA_PRIVATE_EXPONENT,
/// CKA_PRIME_1, CKA_VALUE are sensitive) nor wrapped out, the public key Rocket.Chat gets is the
/// token's, and revocation destroys both objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rsa_mode_keys_cannot_leave_the_token_and_revocation_destroys_them() {
    let Some((hsm, _serial)) = tokens("rsa_mode_keys_cannot_leave_the_token_and_revocation_destroys_them") else {
        return;
    };
    let custody: Kek = Arc::new(Pkcs11RsaCustody::open(&token_config(&hsm.kryoptic)).unwrap());
    let backend = Backend::file();
    let (store, app, public_key) = setup(&backend, &custody, &["room"]).await;
    let key = TestKey::gcm();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    let stored = backend.raw().await.identity(&app).await.unwrap().unwrap().sealed.unwrap();
    assert!(stored.kek_id.starts_with("p11rsa-") && stored.nonce.is_empty() && stored.ciphertext.len() == 16);

    // The attacker holds the PIN and talks to the module directly.
    let session = login(&hsm.kryoptic, &hsm.pin_file);
    let id = Attribute::Id(stored.ciphertext.clone());
    let private = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), id.clone()]).unwrap();
    assert_eq!(private.len(), 1);
    let secret = [AttributeType::PrivateExponent, AttributeType::Prime1, AttributeType::Prime2, AttributeType::Value];
    for (attribute, info) in secret.iter().zip(session.get_attribute_info(private[0], &secret).unwrap()) {
        assert!(
            matches!(info, AttributeInfo::Sensitive | AttributeInfo::TypeInvalid | AttributeInfo::Unavailable),
            "{attribute:?} is readable: {info:?}"
        );
    }
    let values = session.get_attributes(private[0], &secret).unwrap();
    assert!(!values
        .iter()
        .any(|a| matches!(a, Attribute::PrivateExponent(_) | Attribute::Prime1(_) | Attribute::Value(_))));
    let flags = session.get_attributes(private[0], &[AttributeType::Sensitive, AttributeType::Extractable]).unwrap();
    assert!(flags.contains(&Attribute::Sensitive(true)) && flags.contains(&Attribute::Extractable(false)));
    // Wrapping out under a key the attacker made is refused too.
    let attacker = attacker_wrapping_key(&session);
    assert!(session.wrap_key(&Mechanism::AesKeyWrapPad, attacker, private[0]).is_err());
    // Rocket.Chat's public-key string is the token's public key.
    let public = session.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), id.clone()]).unwrap();
    let parts = session.get_attributes(public[0], &[AttributeType::Modulus, AttributeType::PublicExponent]).unwrap();
    let (Attribute::Modulus(n), Attribute::PublicExponent(e)) = (&parts[0], &parts[1]) else { panic!("{parts:?}") };
    assert_eq!(rc_e2ee_core::RsaPublicKey::from_components(n, e).unwrap().to_rc_string(), public_key);

    // Revocation is real shredding: both objects are gone from the token.
    store.revoke_identity(&app, "admin").await.unwrap();
    assert!(session.find_objects(&[id]).unwrap().is_empty(), "revocation left the key pair in the token");
    assert_eq!(code(custody.open_key(&stored, &identity_aad(&app, 1))), "KEYSTORE_HSM_KEY");
    // The audit names the custody and the object, never the PIN.
    let records = store.audit(&AuditQuery { app_id: Some(app.clone()), ..Default::default() }).await.unwrap();
    let created = records.iter().find(|r| r.action == actions::IDENTITY_CREATE).unwrap();
    let detail = created.detail.as_deref().unwrap();
    let hex: String = stored.ciphertext.iter().map(|b| format!("{b:02x}")).collect();
    assert!(detail.starts_with("pkcs11-rsa kek_id=p11rsa-") && detail.ends_with(&format!("id={hex}")), "{detail}");
    let pin = std::fs::read_to_string(&hsm.pin_file).unwrap();
    assert!(!backend.dump().await.contains(pin.trim()));
}

/// Identities move from sealed custody into `rsa` mode by rotation: the new pair is generated in
/// the token, the old sealed key shredded at commit; then the token alone opens the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identities_rotate_from_sealed_custody_into_token_key_pairs() {
    let Some((hsm, _serial)) = tokens("identities_rotate_from_sealed_custody_into_token_key_pairs") else { return };
    for backend in backends("identities_rotate_from_sealed_custody_into_token_key_pairs").await {
        let sealed: Kek = Arc::new(SealedCustody::from_base64(&SealedCustody::generate_kek()).unwrap());
        let (store, app, public_key) = setup(&backend, &sealed, &["room"]).await;
        let old_der = private_key_der(&backend, &sealed, &app).await;
        store.close().await.unwrap();

        let rsa: Kek = Arc::new(Pkcs11RsaCustody::open(&token_config(&hsm.kryoptic)).unwrap());
        assert_eq!(code(backend.open_with(&rsa, options()).await), "KEYSTORE_BAD_KEK");
        let store =
            backend.open_with(&rsa, OpenOptions { previous_keks: vec![sealed.clone()], ..options() }).await.unwrap();
        let host = Host::new(&public_key);
        let room = Room::new(&host, "room", &public_key, 2);
        let report = store.rotate_identity(&app, host.as_ref()).await.unwrap();
        assert_eq!(report.keys_rewrapped, 2);
        assert_eq!(store.identity(&app).await.unwrap().unwrap().kek_id.as_deref(), Some(rsa.kek_id()));
        store.close().await.unwrap();

        let store = backend.open(&rsa).await;
        room.assert_readable(&store, &app, &host).await;
        let mut secrets = Secrets::default();
        secrets.private_key("old software key", &old_der);
        secrets.assert_absent(&backend.dump().await);
        store.close().await.unwrap();
    }
}

/// Several instances on one token: two stores (as two servers would be) unwrap room keys
/// concurrently through the token's session pool, in `rsa` mode where every unwrap is a token
/// call; each store's keys and the other's agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_share_one_token_concurrently() {
    let Some((hsm, _serial)) = tokens("instances_share_one_token_concurrently") else { return };
    let config = token_config(&hsm.kryoptic);
    let backend = Backend::file();
    let first: Kek = Arc::new(Pkcs11RsaCustody::open(&config).unwrap());
    let second: Kek = Arc::new(Pkcs11RsaCustody::open(&config).unwrap());
    let rooms: Vec<String> = (0..8).map(|i| format!("room-{i}")).collect();
    let names: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let (a, app, public_key) = setup(&backend, &first, &names).await;
    let b = backend.open(&second).await;
    let keys: Vec<TestKey> = rooms.iter().map(|_| TestKey::gcm()).collect();
    let mut calls = Vec::new();
    for (room, key) in rooms.iter().zip(&keys) {
        for store in [&a, &b] {
            let (store, app, room) = (store.clone(), app.clone(), room.clone());
            let subscription = SubscriptionKeys {
                room_id: room.clone(),
                e2e_key: Some(key.wrap_for(&public_key)),
                old_room_keys: vec![],
            };
            calls.push(tokio::spawn(async move { store.load_room_keys(&app, &room, &subscription).await }));
        }
    }
    for call in calls {
        let loaded = call.await.unwrap().unwrap();
        assert_eq!((loaded.unreadable, loaded.kids.len()), (0, 1));
    }
    for (room, key) in rooms.iter().zip(&keys) {
        for store in [&a, &b] {
            let message = key.message("hello");
            assert!(store.decrypt_message(&app, room, &message).await.is_ok());
        }
    }
}

/// Key objects created and destroyed from many threads at once, in both tokens. SoftHSM2
/// 2.6.1's file store loses objects being written by concurrent sessions (its issue #573:
/// `CKR_GENERAL_ERROR` from `C_GenerateKey`), which once failed a CI run here; creating and
/// destroying objects is rare, so the token serializes it and every creation must succeed.
#[test]
fn key_objects_are_created_and_destroyed_from_many_threads() {
    let Some((hsm, _serial)) = tokens("key_objects_are_created_and_destroyed_from_many_threads") else { return };
    // Meanwhile others find the objects they need and use them, as stores opening do.
    let existing = token_config(&hsm.softhsm);
    Pkcs11Custody::generate(&existing).unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let existing = existing.clone();
            std::thread::spawn(move || {
                for _ in 0..12 {
                    let kek = Pkcs11Custody::open(&existing).unwrap();
                    let sealed = kek.seal(b"secret", b"aad").unwrap();
                    assert_eq!(kek.unseal(&sealed, b"aad").unwrap().as_slice(), b"secret");
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (softhsm, kryoptic) = (hsm.softhsm.clone(), hsm.kryoptic.clone());
            std::thread::spawn(move || {
                for _ in 0..6 {
                    let kek = Pkcs11Custody::generate(&token_config(&softhsm)).unwrap();
                    let sealed = kek.seal(b"secret", b"aad").unwrap();
                    assert_eq!(kek.unseal(&sealed, b"aad").unwrap().as_slice(), b"secret");
                    kek.destroy().unwrap();
                }
                let pairs = Pkcs11RsaCustody::open(&token_config(&kryoptic)).unwrap();
                for _ in 0..2 {
                    let (_, stored) = pairs.create_key(&identity_aad(&app_id(), 1)).unwrap();
                    pairs.destroy_key(&stored).unwrap();
                }
            })
        })
        .collect();
    for thread in workers.into_iter().chain(readers) {
        thread.join().unwrap();
    }
}

/// A session AES key the attacker may wrap with and read back: what they would wrap a token
/// key out under.
fn attacker_wrapping_key(session: &Session) -> cryptoki::object::ObjectHandle {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Wrap(true),
        Attribute::Extractable(true),
    ];
    session.generate_key(&Mechanism::AesKeyGen, &template).unwrap()
}

/// A logged-in session on the test token of `module`, as an attacker holding the PIN has.
fn login(module: &std::path::Path, pin_file: &std::path::Path) -> Session {
    let pkcs11 = Pkcs11::new(module).unwrap();
    // The custody initialized this module in this process already.
    let _ = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = pkcs11
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|slot| pkcs11.get_token_info(*slot).unwrap().label() == "rc-e2ee-test")
        .unwrap();
    let session = pkcs11.open_rw_session(slot).unwrap();
    let pin = std::fs::read_to_string(pin_file).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::new(pin.trim().into())));
    session
}

/// The file backend, and MongoDB at MONGO_URL (required unless RC_E2EE_SKIP_MONGO=1).
async fn backends(test: &str) -> Vec<Backend> {
    let mut all = vec![Backend::file()];
    all.extend(Backend::mongo(test).await);
    all
}
