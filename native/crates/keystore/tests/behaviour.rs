//! The key store's behaviour suite, written once and run against every backend: the embedded
//! file always, MongoDB at `MONGO_URL` (FerretDB: `eval "$(scripts/test-db/start)"`; required unless
//! `RC_E2EE_SKIP_MONGO=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable, clippy::indexing_slicing)]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use rc_e2ee_core::RsaPublicKey;
use rc_e2ee_keystore::custody::identity_aad;
use rc_e2ee_keystore::store::IdentityState;
use rc_e2ee_keystore::{
    actions, AppKeyStore, AuditQuery, ContentFields, KeyCustody, KeyStatus, OldRoomKey, OpenOptions, Proof,
    SealedCustody, SubscriptionKeys,
};

suite!(
    rotation_counts_an_unreadable_key_once,
    identity_is_created_once_and_loaded,
    missing_or_wrong_kek_is_bad_kek,
    sealed_key_is_bound_to_app_id_and_version,
    authorizations_are_recorded_idempotent_and_gate_everything,
    room_keys_are_verified_before_acceptance,
    messages_decrypt_and_encrypt_by_app_and_room,
    room_keys_reload_from_the_subscription_after_restart,
    rotation_rewraps_every_room_key_and_shreds_the_old_key,
    rotation_resumes_after_a_crash_at_every_step,
    racing_rotations_end_consistent,
    racing_authorizations_end_consistent,
    racing_identity_creation_yields_one_key,
    stale_version_is_a_conflict,
    revoked_identity_cannot_decrypt_and_leaves_no_key,
    kek_rotation_reseals_every_identity,
    audit_records_every_operation,
    nothing_secret_is_stored,
    closed_store_refuses_calls,
);

const APP_1: &str = "0b6f6a52-7d4e-4c3a-9a51-1f2e3d4c5b6a";
const APP_2: &str = "1c7a7b63-8e5f-4d4b-8b62-2a3f4e5d6c7b";
const NOBODY: &str = "2d8b8c74-9f6a-4e5c-9c73-3b4a5f6e7d8c";

async fn identity_is_created_once_and_loaded(backend: &Backend) {
    let kek = kek();
    let store = backend.open(&kek).await;
    let public_key = store.ensure_identity(APP_1, "app-1.bot").await.unwrap();
    RsaPublicKey::from_rc_string(&public_key).unwrap();
    assert!(public_key.contains("\"kty\":\"RSA\"") && !public_key.contains("\"d\""));
    assert_eq!(store.ensure_identity(APP_1, "app-1.bot").await.unwrap(), public_key);
    // A second instance loads the same identity.
    let other = backend.open(&kek).await;
    assert_eq!(other.ensure_identity(APP_1, "app-1.bot").await.unwrap(), public_key);
    assert_eq!(code(store.ensure_identity(APP_1, "someone.else").await), "KEYSTORE_BAD_INPUT");
    assert_ne!(store.ensure_identity(APP_2, "app-2.bot").await.unwrap(), public_key);
    let info = store.identity(APP_1).await.unwrap().unwrap();
    assert_eq!((info.key_version, info.state.as_str(), info.public_key.as_str()), (1, "active", public_key.as_str()));
    assert_eq!(info.kek_id.as_deref(), Some(kek.kek_id()));
    assert_eq!(info.rotation_step, None);
    assert!(store.identity(NOBODY).await.unwrap().is_none());
    for bad in ["", "a\u{0}b", "line\nbreak", &"x".repeat(600)] {
        assert_eq!(code(store.ensure_identity(bad, "u").await), "KEYSTORE_BAD_INPUT");
        assert_eq!(code(store.authorize(APP_1, bad, "admin").await), "KEYSTORE_BAD_INPUT");
    }
    let query = AuditQuery { action: Some(actions::IDENTITY_CREATE.into()), ..Default::default() };
    assert_eq!(store.audit(&query).await.unwrap().len(), 2);
}

async fn missing_or_wrong_kek_is_bad_kek(backend: &Backend) {
    use std::path::Path;
    // Missing, short, long, not base64, unreadable file: refused before anything opens.
    assert_eq!(code(SealedCustody::from_config(None, None)), "KEYSTORE_BAD_KEK");
    assert_eq!(code(SealedCustody::from_base64("")), "KEYSTORE_BAD_KEK");
    assert_eq!(code(SealedCustody::from_base64("c2hvcnQ=")), "KEYSTORE_BAD_KEK");
    assert_eq!(code(SealedCustody::from_base64(&"QUFB".repeat(12))), "KEYSTORE_BAD_KEK");
    assert_eq!(code(SealedCustody::from_base64("%%%not-base64%%%")), "KEYSTORE_BAD_KEK");
    assert_eq!(code(SealedCustody::from_file(Path::new("/nonexistent/kek"))), "KEYSTORE_BAD_KEK");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kek");
    std::fs::write(&file, "\n").unwrap();
    assert_eq!(code(SealedCustody::from_file(&file)), "KEYSTORE_BAD_KEK");
    let right = kek();
    let text = SealedCustody::generate_kek();
    std::fs::write(&file, format!("{}\n", text.as_str())).unwrap();
    let from_file = Arc::new(SealedCustody::from_config(None, Some(&file)).unwrap());
    assert_eq!(from_file.kek_id(), SealedCustody::from_base64(&text).unwrap().kek_id());

    let (store, app, public_key) = setup(backend, &right, &["room"]).await;
    store.close().await.unwrap();
    // A different KEK: the store does not open at all.
    let wrong = kek();
    assert_eq!(code(backend.open_with(&wrong, options()).await), "KEYSTORE_BAD_KEK");
    // Opened anyway (recovery mode): the first use of the key fails, never silently.
    let forced = backend.open_with(&wrong, OpenOptions { skip_kek_check: true, ..options() }).await.unwrap();
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_key);
    assert_eq!(code(accept(&forced, &app, "room", &wrapped).await), "KEYSTORE_BAD_KEK");
    // A blob claiming the right KEK id but sealed under another key fails its tag.
    let raw = backend.raw().await;
    let mut identity = raw.identity(&app).await.unwrap().unwrap();
    let mut forged = if right.seals() {
        wrong.seal(b"not a key", &identity_aad(&app, identity.key_version)).unwrap()
    } else {
        // A token custody's reference names an object: here a real one of another identity.
        right.create_key(&identity_aad(&app_id(), identity.key_version)).unwrap().1
    };
    forged.kek_id = right.kek_id().to_owned();
    let genuine = identity.sealed.replace(forged).unwrap();
    identity.version = raw.update_identity(&identity).await.unwrap();
    let fresh = backend.open(&right).await;
    assert_eq!(code(accept(&fresh, &app, "room", &wrapped).await), "KEYSTORE_BAD_KEK");
    identity.sealed = Some(genuine);
    raw.update_identity(&identity).await.unwrap();
    let fresh = backend.open(&right).await;
    assert_eq!(accept(&fresh, &app, "room", &wrapped).await.unwrap(), key.kid());
}

async fn sealed_key_is_bound_to_app_id_and_version(backend: &Backend) {
    let kek = kek();
    let (store, app_a, public_a) = setup(backend, &kek, &["room"]).await;
    let app_b = app_id();
    store.ensure_identity(&app_b, "b.bot").await.unwrap();
    store.authorize(&app_b, "room", "admin").await.unwrap();
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_a);

    // Copy A's sealed key and public key onto B's document: only the AAD stands in the way.
    let raw = backend.raw().await;
    let a = raw.identity(&app_a).await.unwrap().unwrap();
    let mut b = raw.identity(&app_b).await.unwrap().unwrap();
    b.sealed = a.sealed.clone();
    b.public_key = a.public_key.clone();
    raw.update_identity(&b).await.unwrap();
    let fresh = backend.open(&kek).await;
    assert_eq!(code(accept(&fresh, &app_b, "room", &wrapped).await), "KEYSTORE_BAD_KEK");
    // The same blob under its own app opens.
    assert_eq!(accept(&fresh, &app_a, "room", &wrapped).await.unwrap(), key.kid());

    // Relabel A's key version: the AAD no longer matches.
    let mut a = raw.identity(&app_a).await.unwrap().unwrap();
    a.key_version += 1;
    raw.update_identity(&a).await.unwrap();
    let fresh = backend.open(&kek).await;
    assert_eq!(code(accept(&fresh, &app_a, "room", &wrapped).await), "KEYSTORE_BAD_KEK");
    // And a blob sealed for another purpose does not open as an identity key either (a token
    // custody seals nothing; its binding is the objects' label, checked above).
    if !kek.seals() {
        return;
    }
    let der = b"whatever";
    let other_purpose = kek.seal(der, format!("rc-e2ee/other/v1\0{app_a}\0{}", a.key_version).as_bytes()).unwrap();
    assert!(kek.unseal(&other_purpose, &identity_aad(&app_a, a.key_version)).is_err());
}

async fn authorizations_are_recorded_idempotent_and_gate_everything(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &[]).await;
    assert!(!store.is_authorized(&app, "r1").await.unwrap());
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_key);
    let message = key.message("hello");
    // Not authorized: nothing works, and no key is accepted.
    assert_eq!(code(accept(&store, &app, "r1", &wrapped).await), "KEYSTORE_NOT_AUTHORIZED");
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NOT_AUTHORIZED");
    assert_eq!(code(store.encrypt_content(&app, "r1", "{}", None).await), "KEYSTORE_NOT_AUTHORIZED");

    let first = store.authorize(&app, "r1", "alice").await.unwrap();
    assert_eq!(first.granted_by, "alice");
    let again = store.authorize(&app, "r1", "bob").await.unwrap();
    assert_eq!(again, first, "a second grant keeps the first");
    store.authorize(&app, "r2", "bob").await.unwrap();
    assert!(store.is_authorized(&app, "r1").await.unwrap());
    let listed = store.list_authorizations(&app).await.unwrap();
    let rooms: BTreeSet<_> = listed.iter().map(|a| (a.room_id.as_str(), a.granted_by.as_str())).collect();
    assert_eq!(rooms, BTreeSet::from([("r1", "alice"), ("r2", "bob")]));
    assert!(store.list_authorizations(NOBODY).await.unwrap().is_empty());

    accept(&store, &app, "r1", &wrapped).await.unwrap();
    assert!(store.decrypt_message(&app, "r1", &message).await.is_ok());
    assert!(store.revoke_authorization(&app, "r1", "carol").await.unwrap());
    assert!(!store.revoke_authorization(&app, "r1", "carol").await.unwrap());
    assert!(!store.is_authorized(&app, "r1").await.unwrap());
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NOT_AUTHORIZED");
    // Re-granting does not bring back the evicted keys.
    store.authorize(&app, "r1", "alice").await.unwrap();
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NO_ROOM_KEY");

    // A revocation made by another instance applies to this one (gates read the store here).
    accept(&store, &app, "r1", &wrapped).await.unwrap();
    let other = backend.open(&kek).await;
    other.revoke_authorization(&app, "r1", "dave").await.unwrap();
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NOT_AUTHORIZED");

    let audit = store.audit(&AuditQuery { app_id: Some(app.clone()), ..Default::default() }).await.unwrap();
    let grants: Vec<_> =
        audit.iter().filter(|r| r.action == actions::GRANT).map(|r| (r.actor.as_str(), r.detail.as_deref())).collect();
    assert!(grants.contains(&("alice", None)) && grants.contains(&("bob", Some("already granted"))));
    let revokes: BTreeSet<_> = audit.iter().filter(|r| r.action == actions::REVOKE).map(|r| r.actor.as_str()).collect();
    assert_eq!(revokes, BTreeSet::from(["carol", "dave"]));
}

async fn room_keys_are_verified_before_acceptance(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_key);
    assert_eq!(
        code(store.accept_room_key(&app, "room", &wrapped, &offer("other-kid", "alice", vec![])).await),
        "KEYSTORE_KID_MISMATCH"
    );
    // The expected kid and the suggester are required.
    assert_eq!(
        code(store.accept_room_key(&app, "room", &wrapped, &offer("", "alice", vec![])).await),
        "KEYSTORE_BAD_INPUT"
    );
    assert_eq!(
        code(store.accept_room_key(&app, "room", &wrapped, &offer(key.kid(), "", vec![])).await),
        "KEYSTORE_BAD_INPUT"
    );
    let foreign = TestKey::gcm();
    // Relabelling another key's content with this kid does not help: GCM authenticates.
    let mut relabelled = foreign.proof("bob", "x");
    relabelled.content.kid = Some(key.kid().to_owned());
    assert_eq!(
        code(store.accept_room_key(&app, "room", &wrapped, &offer(key.kid(), "alice", vec![relabelled])).await),
        "KEYSTORE_PROOF_FAILED"
    );
    // A proof under another kid is the host's mistake, not evidence.
    let elsewhere = foreign.proof("bob", "x");
    assert_eq!(
        code(store.accept_room_key(&app, "room", &wrapped, &offer(key.kid(), "alice", vec![elsewhere])).await),
        "KEYSTORE_BAD_INPUT"
    );
    // A key wrapped for someone else, or garbage, does not unwrap.
    let stranger = rc_e2ee_core::RsaPrivateKey::generate().unwrap();
    let not_ours = key.wrap_for(&stranger.public_key().to_rc_string());
    assert_eq!(code(accept(&store, &app, "room", &not_ours).await), "E2EE_DECRYPT_FAILED");
    assert_eq!(
        code(store.accept_room_key(&app, "room", "garbage", &offer("kid", "alice", vec![])).await),
        "E2EE_BAD_KEY"
    );
    // Nothing above was cached.
    assert_eq!(code(store.decrypt_message(&app, "room", &key.message("x")).await), "KEYSTORE_NO_ROOM_KEY");

    let good = offer(key.kid(), "alice", vec![key.proof("bob", "proof")]);
    let accepted = store.accept_room_key(&app, "room", &wrapped, &good).await.unwrap();
    assert_eq!((accepted.kid.as_str(), accepted.status), (key.kid(), KeyStatus::Verified));
    // Legacy rooms: a CBC key under its 12-character kid, proven by another sender's v1 content.
    let legacy = TestKey::cbc();
    let v1 = legacy.legacy_message("old").msg.unwrap();
    let v1_proof = Proof {
        sender_id: "bob".into(),
        content: ContentFields { algorithm: Some("rc.v1.aes-sha2".into()), ciphertext: Some(v1), ..Default::default() },
    };
    let wrapped_legacy = legacy.wrap_for(&public_key);
    let accepted = store
        .accept_room_key(&app, "room", &wrapped_legacy, &offer(legacy.kid(), "alice", vec![v1_proof]))
        .await
        .unwrap();
    assert_eq!((accepted.kid.as_str(), accepted.status), (legacy.kid(), KeyStatus::Verified));

    let query = AuditQuery { app_id: Some(app), ..Default::default() };
    let outcomes: Vec<_> =
        store.audit(&query).await.unwrap().into_iter().map(|r| (r.action, r.outcome, r.kid)).collect();
    let accept_action = actions::ROOM_KEY_ACCEPT.to_owned();
    for expected in ["KEYSTORE_KID_MISMATCH", "E2EE_DECRYPT_FAILED", "E2EE_BAD_KEY"] {
        assert!(
            outcomes.iter().any(|(a, outcome, _)| a == &accept_action && outcome == expected),
            "no audit of {expected}"
        );
    }
    assert!(outcomes.iter().any(|(a, outcome, _)| a == actions::ROOM_KEY_REJECT && outcome == "KEYSTORE_PROOF_FAILED"));
    assert!(outcomes.contains(&(accept_action.clone(), "ok".to_owned(), Some(key.kid().to_owned()))));
    assert!(outcomes.contains(&(accept_action, "KEYSTORE_KID_MISMATCH".to_owned(), Some(key.kid().to_owned()))));
}

async fn messages_decrypt_and_encrypt_by_app_and_room(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room", "other-room"]).await;
    let (old, current, legacy) = (TestKey::gcm(), TestKey::gcm(), TestKey::cbc());
    let subscription = SubscriptionKeys {
        room_id: "room".into(),
        e2e_key: Some(current.wrap_for(&public_key)),
        old_room_keys: [&old, &legacy]
            .iter()
            .map(|k| OldRoomKey { e2e_key_id: k.kid().into(), ts_ms: 1, e2e_key: k.wrap_for(&public_key) })
            .collect(),
    };
    let loaded = store.load_room_keys(&app, "room", &subscription).await.unwrap();
    assert_eq!(loaded.current_kid.as_deref(), Some(current.kid()));
    assert_eq!((loaded.kids.len(), loaded.unreadable), (3, 0));

    for (key, text) in [(&current, "now"), (&old, "before"), (&legacy, "long ago")] {
        let plaintext = store.decrypt_message(&app, "room", &key.message(text)).await.unwrap();
        assert_eq!(plaintext.as_str(), payload(text));
        let plaintext = store.decrypt_content(&app, "room", &key.content(text)).await.unwrap();
        assert_eq!(plaintext.as_str(), payload(text));
    }
    let plaintext = store.decrypt_message(&app, "room", &legacy.legacy_message("oldest")).await.unwrap();
    assert_eq!(plaintext.as_str(), payload("oldest"));
    // Keys are per room: the other room holds none.
    assert_eq!(code(store.decrypt_message(&app, "other-room", &current.message("x")).await), "KEYSTORE_NO_ROOM_KEY");
    // A message naming a kid the cache lacks: the host should load keys.
    assert_eq!(code(store.decrypt_message(&app, "room", &TestKey::gcm().message("x")).await), "KEYSTORE_NO_ROOM_KEY");
    // A tampered message under a known key is a decryption failure.
    let mut tampered = current.message("x");
    let content = tampered.content.as_mut().unwrap();
    content.iv = old.content("y").iv;
    assert_eq!(code(store.decrypt_message(&app, "room", &tampered).await), "E2EE_DECRYPT_FAILED");

    let text = payload("from the app");
    let sealed = store.encrypt_content(&app, "room", &text, Some(current.kid())).await.unwrap();
    assert_eq!((sealed.algorithm, sealed.kid.as_str()), ("rc.v2.aes-sha2", current.kid()));
    let content = ContentFields {
        algorithm: Some(sealed.algorithm.into()),
        kid: Some(sealed.kid.clone()),
        iv: Some(sealed.iv.clone()),
        ciphertext: Some(sealed.ciphertext.clone()),
    };
    // A member holding the key reads it.
    let opened = rc_e2ee_core::decrypt_content(&[&current.key], &content.as_ref()).unwrap();
    assert_eq!(opened.as_slice(), text.as_bytes());
    assert_eq!(code(store.encrypt_content(&app, "room", &text, Some(old.kid())).await), "KEYSTORE_KID_MISMATCH");
    assert_eq!(code(store.encrypt_content(&app, "room", "not an object", None).await), "E2EE_BAD_PAYLOAD");
    assert_eq!(code(store.encrypt_content(&app, "other-room", &text, None).await), "KEYSTORE_NO_ROOM_KEY");
    assert_eq!(code(store.decrypt_message(&app, "room", &Default::default()).await), "E2EE_BAD_INPUT");
    assert_eq!(code(store.decrypt_message(NOBODY, "room", &current.message("x")).await), "KEYSTORE_NO_IDENTITY");
    // Not an app id at all (a room id in its place): refused before anything is looked up.
    assert_eq!(code(store.decrypt_message("room", &app, &current.message("x")).await), "KEYSTORE_BAD_INPUT");
}

async fn room_keys_reload_from_the_subscription_after_restart(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let (old, current) = (TestKey::gcm(), TestKey::gcm());
    accept(&store, &app, "room", &current.wrap_for(&public_key)).await.unwrap();
    let messages = [(old.message("a"), "a"), (current.message("b"), "b")];
    store.close().await.unwrap();

    let restarted = backend.open(&kek).await;
    assert_eq!(code(restarted.decrypt_message(&app, "room", &messages[1].0).await), "KEYSTORE_NO_ROOM_KEY");
    let foreign =
        TestKey::gcm().wrap_for(&rc_e2ee_core::RsaPrivateKey::generate().unwrap().public_key().to_rc_string());
    let subscription = SubscriptionKeys {
        room_id: "room".into(),
        e2e_key: Some(current.wrap_for(&public_key)),
        old_room_keys: vec![
            OldRoomKey { e2e_key_id: old.kid().into(), ts_ms: 5, e2e_key: old.wrap_for(&public_key) },
            OldRoomKey { e2e_key_id: "foreign".into(), ts_ms: 4, e2e_key: foreign },
        ],
    };
    let loaded = restarted.load_room_keys(&app, "room", &subscription).await.unwrap();
    assert_eq!(loaded.kids, vec![current.kid().to_owned(), old.kid().to_owned()]);
    assert_eq!(loaded.unreadable, 1);
    for (message, text) in &messages {
        assert_eq!(restarted.decrypt_message(&app, "room", message).await.unwrap().as_str(), payload(text));
    }
    assert!(restarted.encrypt_content(&app, "room", "{}", Some(current.kid())).await.is_ok());
    // The room's key was reset: the subscription lost its E2EKey; old messages still read.
    let reset = SubscriptionKeys { e2e_key: None, ..subscription.clone() };
    restarted.load_room_keys(&app, "room", &reset).await.unwrap();
    assert_eq!(code(restarted.encrypt_content(&app, "room", "{}", None).await), "KEYSTORE_NO_ROOM_KEY");
    assert!(restarted.decrypt_message(&app, "room", &messages[0].0).await.is_ok());
    let elsewhere = SubscriptionKeys { room_id: "other".into(), ..subscription };
    assert_eq!(code(restarted.load_room_keys(&app, "room", &elsewhere).await), "KEYSTORE_BAD_INPUT");
    let unauthorized = SubscriptionKeys { room_id: "unauthorized".into(), ..reset };
    assert_eq!(code(restarted.load_room_keys(&app, "unauthorized", &unauthorized).await), "KEYSTORE_NOT_AUTHORIZED");
}

/// The identity is settled: no rotation pending, the host publishes its key, and every key in
/// the host's subscriptions is wrapped to it.
async fn assert_settled(backend: &Backend, kek: &Kek, app: &str, host: &Host, rooms: &[&Room]) {
    let fresh = backend.open(kek).await;
    let info = fresh.identity(app).await.unwrap().unwrap();
    assert_eq!(info.rotation_step, None);
    assert_eq!(host.published(), info.public_key);
    for room in rooms {
        room.assert_readable(&fresh, app, host).await;
    }
    let key = identity_key(backend, kek, app).await;
    assert_eq!(key.public_key().to_rc_string(), info.public_key);
    for subscription in host.subscriptions.lock().unwrap().values() {
        for wrapped in subscription.e2e_key.iter().chain(subscription.old_room_keys.iter().map(|k| &k.e2e_key)) {
            rc_e2ee_core::unwrap_room_key_with(wrapped, |block| key.decrypt_oaep(block))
                .expect("a key is not wrapped to the current identity");
        }
    }
}

async fn rotation_rewraps_every_room_key_and_shreds_the_old_key(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["r1", "r2"]).await;
    let host = Host::new(&public_key);
    let rooms = [Room::new(&host, "r1", &public_key, 3), Room::new(&host, "r2", &public_key, 1)];
    rooms[0].assert_readable(&store, &app, &host).await;
    let old_der = private_key_der(backend, &kek, &app).await;
    let old_sealed = backend.raw().await.identity(&app).await.unwrap().unwrap().sealed.unwrap();

    let report = store.rotate_identity(&app, host.as_ref()).await.unwrap();
    assert_eq!((report.key_version, report.resumed), (2, false));
    assert_eq!((report.rooms_rewritten, report.keys_rewrapped, report.keys_unreadable), (2, 4, 0));
    assert_ne!(report.public_key, public_key);
    assert_eq!(host.published(), report.public_key);
    // Cached keys were dropped; reloading from the rewritten subscriptions restores them.
    let message = rooms[0].keys[0].message("x");
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NO_ROOM_KEY");
    assert_settled(backend, &kek, &app, &host, &rooms.iter().collect::<Vec<_>>()).await;
    for room in &rooms {
        room.assert_readable(&store, &app, &host).await;
    }
    // The old key is gone from the store, and new keys wrapped to the old public key do not
    // open any more.
    let dump = backend.dump().await;
    let mut secrets = Secrets::default();
    secrets.private_key("old identity key", &old_der);
    if kek.seals() {
        // (A token custody's reference is an object id, public and named by the audit; the
        // object itself is checked destroyed below.)
        secrets.bytes("old sealed key", &old_sealed.ciphertext);
    }
    for room in &rooms {
        room.keys.iter().for_each(|key| secrets.room_key(key));
    }
    secrets.assert_absent(&dump);
    let late = TestKey::gcm().wrap_for(&public_key);
    assert_eq!(code(accept(&store, &app, "r1", &late).await), "E2EE_DECRYPT_FAILED");
    if !kek.seals() {
        // In a token the old pair itself is destroyed at commit, not only its reference.
        assert_eq!(code(kek.open_key(&old_sealed, &identity_aad(&app, 1))), "KEYSTORE_HSM_KEY");
    }

    let again = store.rotate_identity(&app, host.as_ref()).await.unwrap();
    assert_eq!((again.key_version, again.keys_rewrapped), (3, 4));
    assert_settled(backend, &kek, &app, &host, &rooms.iter().collect::<Vec<_>>()).await;
    let steps: Vec<_> = store
        .audit(&AuditQuery { app_id: Some(app.clone()), ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("identity.rotate."))
        .map(|r| (r.action, r.outcome))
        .collect();
    for step in [actions::ROTATE_BEGIN, actions::ROTATE_REWRAP, actions::ROTATE_PUBLISH, actions::ROTATE_COMMIT] {
        assert_eq!(steps.iter().filter(|(action, outcome)| action == step && outcome == "ok").count(), 2, "{step}");
    }
}

async fn rotation_resumes_after_a_crash_at_every_step(backend: &Backend) {
    let kek = kek();
    let store = backend.open(&kek).await;
    // Host calls of an uninterrupted rotation over two rooms: list, write, write, publish,
    // list (sweep). Crash before and after each call's effect; the cases run concurrently,
    // one app each.
    let mut cases = tokio::task::JoinSet::new();
    for at in 0..5 {
        for after_effect in [false, true] {
            let (backend, kek, store) = (backend.clone(), kek.clone(), store.clone());
            cases.spawn(crash_and_resume(backend, kek, store, Fault { at, after_effect }));
        }
    }
    let mut done = 0;
    while let Some(case) = cases.join_next().await {
        case.unwrap();
        done += 1;
    }
    assert_eq!(done, 10);
}

async fn crash_and_resume(backend: Backend, kek: Kek, store: AppKeyStore, fault: Fault) {
    let app = app_id();
    let public_key = store.ensure_identity(&app, "bot").await.unwrap();
    for room in ["r1", "r2", "r3"] {
        store.authorize(&app, room, "admin").await.unwrap();
    }
    let host = Host::new(&public_key);
    let mut rooms = vec![Room::new(&host, "r1", &public_key, 2), Room::new(&host, "r2", &public_key, 1)];
    host.set_fault(Some(fault));
    let crashed = store.rotate_identity(&app, host.as_ref()).await;
    assert_eq!(code(crashed), "KEYSTORE_HOST_FAILED", "{fault:?}");
    assert_eq!(host.calls(), fault.at + 1, "{fault:?}");

    // Mid-rotation, in another instance: whatever the host holds still opens, and a new room
    // key wrapped to whichever public key is published is accepted.
    let other = backend.open(&kek).await;
    let info = other.identity(&app).await.unwrap().unwrap();
    assert!(info.rotation_step.is_some(), "{fault:?}");
    for room in &rooms {
        room.assert_readable(&other, &app, &host).await;
    }
    let arrived = Room { id: "r3".into(), keys: vec![TestKey::gcm()], texts: vec![secret_text()] };
    let wrapped = arrived.keys[0].wrap_for(&host.published());
    accept(&other, &app, "r3", &wrapped).await.unwrap();
    host.set_subscription(SubscriptionKeys { room_id: "r3".into(), e2e_key: Some(wrapped), old_room_keys: vec![] });
    rooms.push(arrived);

    host.set_fault(None);
    let resumed = other.rotate_identity(&app, host.as_ref()).await.unwrap();
    assert!(resumed.resumed && resumed.key_version == 2, "{fault:?}");
    assert_settled(&backend, &kek, &app, &host, &rooms.iter().collect::<Vec<_>>()).await;
    if fault.at == 0 && !fault.after_effect {
        // Rotating again starts a new rotation, which completes too.
        assert_eq!(store.rotate_identity(&app, host.as_ref()).await.unwrap().key_version, 3);
        assert_settled(&backend, &kek, &app, &host, &rooms.iter().collect::<Vec<_>>()).await;
    }
}

async fn racing_rotations_end_consistent(backend: &Backend) {
    let kek = kek();
    for _ in 0..3 {
        let (a, app, public_key) = setup(backend, &kek, &["r1", "r2"]).await;
        let b = backend.open(&kek).await;
        let host = Host::new(&public_key);
        let rooms = [Room::new(&host, "r1", &public_key, 2), Room::new(&host, "r2", &public_key, 2)];
        let (ra, rb) = tokio::join!(a.rotate_identity(&app, host.as_ref()), b.rotate_identity(&app, host.as_ref()));
        let outcomes = [ra.map(|r| r.key_version), rb.map(|r| r.key_version)];
        for outcome in &outcomes {
            if let Err(error) = outcome {
                assert_eq!(error.code(), "KEYSTORE_CONFLICT", "{outcomes:?}");
            }
        }
        // A loser retries: it resumes whatever is left (or, if the winner already committed,
        // rotates once more, which must complete too).
        for _ in 0..3 {
            if b.identity(&app).await.unwrap().unwrap().rotation_step.is_none() && outcomes.iter().any(Result::is_ok) {
                break;
            }
            if b.rotate_identity(&app, host.as_ref()).await.is_ok() {
                break;
            }
        }
        assert_settled(backend, &kek, &app, &host, &rooms.iter().collect::<Vec<_>>()).await;
    }
}

async fn racing_authorizations_end_consistent(backend: &Backend) {
    let kek = kek();
    let (a, app, _) = setup(backend, &kek, &[]).await;
    let b = backend.open(&kek).await;
    let rooms: Vec<String> = (0..12).map(|i| format!("room-{i}")).collect();
    let mut tasks = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        for (store, actor) in [(&a, "alice"), (&b, "bob")] {
            let (store, app, room) = (store.clone(), app.clone(), room.clone());
            let actor = format!("{actor}-{i}");
            tasks.push(tokio::spawn(async move { store.authorize(&app, &room, &actor).await.unwrap() }));
        }
    }
    let mut granted = Vec::new();
    for task in tasks {
        granted.push(task.await.unwrap());
    }
    let listed = a.list_authorizations(&app).await.unwrap();
    assert_eq!(listed.len(), rooms.len(), "one authorization per room");
    for authorization in &listed {
        // Both racers report the one stored grant.
        let reported: Vec<_> = granted.iter().filter(|g| g.room_id == authorization.room_id).collect();
        assert_eq!(reported.len(), 2);
        assert!(reported.iter().all(|g| *g == authorization), "{reported:?} vs {authorization:?}");
    }
    // Grant and revoke racing on every room: each ends in one state, the same from both sides.
    let mut tasks = Vec::new();
    for room in &rooms {
        let (a, b, app, room) = (a.clone(), b.clone(), app.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            let (_, _) = tokio::join!(a.revoke_authorization(&app, &room, "x"), b.authorize(&app, &room, "y"));
            (a.is_authorized(&app, &room).await.unwrap(), b.is_authorized(&app, &room).await.unwrap())
        }));
    }
    for task in tasks {
        let (seen_by_a, seen_by_b) = task.await.unwrap();
        assert_eq!(seen_by_a, seen_by_b);
    }
}

async fn racing_identity_creation_yields_one_key(backend: &Backend) {
    let kek = kek();
    let (a, b) = (backend.open(&kek).await, backend.open(&kek).await);
    for _ in 0..3 {
        let app = app_id();
        let (ka, kb) = tokio::join!(a.ensure_identity(&app, "bot"), b.ensure_identity(&app, "bot"));
        assert_eq!(ka.unwrap(), kb.unwrap());
        let info = a.identity(&app).await.unwrap().unwrap();
        assert_eq!(info.key_version, 1);
    }
}

async fn stale_version_is_a_conflict(backend: &Backend) {
    let kek = kek();
    let (store, app, _) = setup(backend, &kek, &[]).await;
    let raw = backend.raw().await;
    let read = raw.identity(&app).await.unwrap().unwrap();
    let mut first = read.clone();
    first.updated_at += 1;
    assert_eq!(raw.update_identity(&first).await.unwrap(), read.version + 1);
    // A writer still holding the old version loses.
    assert_eq!(code(raw.update_identity(&read).await), "KEYSTORE_CONFLICT");
    assert_eq!(raw.identity(&app).await.unwrap().unwrap().updated_at, first.updated_at);
    // Concurrent writers of the same version, from two stores: exactly one wins (on FerretDB
    // too, whose updates alone are not atomic; tests/mongo_store.rs hammers this harder).
    let current = raw.identity(&app).await.unwrap().unwrap();
    let other = backend.raw().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { Arc::clone(&raw) } else { Arc::clone(&other) };
        let mut doc = current.clone();
        doc.updated_at = i;
        tasks.push(tokio::spawn(async move { store.update_identity(&doc).await }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(error) => assert_eq!(error.code(), "KEYSTORE_CONFLICT"),
        }
    }
    assert_eq!(wins, 1);
    store.close().await.unwrap();
}

async fn revoked_identity_cannot_decrypt_and_leaves_no_key(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["r1", "r2"]).await;
    let other = backend.open(&kek).await;
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_key);
    accept(&store, &app, "r1", &wrapped).await.unwrap();
    accept(&other, &app, "r1", &wrapped).await.unwrap();
    let message = key.message("secret");
    assert!(other.decrypt_message(&app, "r1", &message).await.is_ok());
    // Leave a rotation half done, so its new sealed key must be shredded too.
    let host = Host::new(&public_key);
    Room::new(&host, "r1", &public_key, 1);
    host.set_fault(Some(Fault { at: 0, after_effect: false }));
    assert!(store.rotate_identity(&app, host.as_ref()).await.is_err());
    let mut secrets = Secrets::default();
    secrets.private_key("identity key", &private_key_der(backend, &kek, &app).await);
    let half = backend.raw().await.identity(&app).await.unwrap().unwrap().rotation.unwrap();
    let current = backend.raw().await.identity(&app).await.unwrap().unwrap().sealed.unwrap();
    if kek.seals() {
        let new_der = kek.unseal(&half.new_sealed, &identity_aad(&app, half.new_key_version)).unwrap();
        secrets.private_key("rotation key", &Some(new_der.to_vec()));
    }
    secrets.bytes("sealed rotation key", &half.new_sealed.ciphertext);
    secrets.room_key(&key);

    store.revoke_identity(&app, "admin").await.unwrap();
    for s in [&store, &other] {
        assert_eq!(code(s.decrypt_message(&app, "r1", &message).await), "KEYSTORE_REVOKED");
        assert_eq!(code(s.encrypt_content(&app, "r1", "{}", None).await), "KEYSTORE_REVOKED");
        assert_eq!(code(accept(s, &app, "r1", &wrapped).await), "KEYSTORE_REVOKED");
    }
    assert_eq!(code(store.ensure_identity(&app, "bot").await), "KEYSTORE_REVOKED");
    assert_eq!(code(store.authorize(&app, "r1", "admin").await), "KEYSTORE_REVOKED");
    assert_eq!(code(store.rotate_identity(&app, host.as_ref()).await), "KEYSTORE_REVOKED");
    assert!(store.list_authorizations(&app).await.unwrap().is_empty());
    store.revoke_identity(&app, "admin").await.unwrap();
    assert_eq!(code(store.revoke_identity(NOBODY, "admin").await), "KEYSTORE_NO_IDENTITY");

    let tombstone = backend.raw().await.identity(&app).await.unwrap().unwrap();
    assert_eq!(tombstone.state, IdentityState::Revoked);
    assert!(tombstone.sealed.is_none() && tombstone.rotation.is_none());
    assert_eq!(tombstone.revoked_by.as_deref(), Some("admin"));
    let dump = backend.dump().await;
    secrets.assert_absent(&dump);
    let document = dump.lines().find(|line| line.contains(&format!("\"_id\":\"{app}\""))).unwrap();
    assert!(!document.contains("sealed") && !document.contains("rotation"), "{document}");
    if !kek.seals() {
        // Real shredding: both key pairs (current and half-rotated) are gone from the token.
        assert_eq!(code(kek.open_key(&current, &identity_aad(&app, 1))), "KEYSTORE_HSM_KEY");
        assert_eq!(code(kek.open_key(&half.new_sealed, &identity_aad(&app, half.new_key_version))), "KEYSTORE_HSM_KEY");
    }

    // Re-created explicitly: a new key under a higher version, no authorizations carried over.
    let renewed = store.recreate_identity(&app, "bot", "admin").await.unwrap();
    assert_ne!(renewed, public_key);
    let info = store.identity(&app).await.unwrap().unwrap();
    assert_eq!((info.state.as_str(), info.key_version), ("active", 3));
    assert_eq!(code(store.decrypt_message(&app, "r1", &message).await), "KEYSTORE_NOT_AUTHORIZED");
    store.authorize(&app, "r1", "admin").await.unwrap();
    let rewrapped = key.wrap_for(&renewed);
    accept(&store, &app, "r1", &rewrapped).await.unwrap();
    assert!(store.decrypt_message(&app, "r1", &message).await.is_ok());
    assert_eq!(code(store.recreate_identity(&app, "bot", "admin").await), "KEYSTORE_BAD_INPUT");
}

async fn kek_rotation_reseals_every_identity(backend: &Backend) {
    let (old_kek, new_kek) = (kek(), kek());
    let (store, app_a, public_a) = setup(backend, &old_kek, &["room"]).await;
    if !new_kek.seals() {
        // A custody that keeps key pairs in a token takes identities by rotation, never by
        // re-sealing a key that was once in memory: refused, nothing written.
        let before = backend.dump().await;
        assert_eq!(code(store.rekey(new_kek.clone()).await), "KEYSTORE_BAD_INPUT");
        assert_eq!(store.kek_id(), old_kek.kek_id());
        assert_eq!(backend.dump().await, before);
        return;
    }
    let app_b = app_id();
    store.ensure_identity(&app_b, "b").await.unwrap();
    let app_c = app_id();
    store.ensure_identity(&app_c, "c").await.unwrap();
    store.revoke_identity(&app_c, "admin").await.unwrap();
    // B is mid-rotation: both its sealed keys must move.
    let host_b = Host::new("unused");
    host_b.set_fault(Some(Fault { at: 0, after_effect: false }));
    assert!(store.rotate_identity(&app_b, host_b.as_ref()).await.is_err());
    store.close().await.unwrap();

    // Mid-rotation of the KEK: the new one is current, the old one still opens old blobs.
    let previous: Arc<dyn KeyCustody> = old_kek.clone();
    let both = OpenOptions { previous_keks: vec![previous], ..options() };
    let store = backend.open_with(&new_kek, both).await.unwrap();
    let key = TestKey::gcm();
    let wrapped = key.wrap_for(&public_a);
    accept(&store, &app_a, "room", &wrapped).await.unwrap();
    // Identities created now are sealed under the new KEK.
    let app_d = app_id();
    store.ensure_identity(&app_d, "d").await.unwrap();
    assert_eq!(store.identity(&app_d).await.unwrap().unwrap().kek_id.as_deref(), Some(new_kek.kek_id()));

    let report = store.rekey(new_kek.clone()).await.unwrap();
    assert_eq!((report.resealed, report.unchanged), (2, 2));
    assert_eq!(store.rekey(new_kek.clone()).await.unwrap().resealed, 0, "resumable: nothing left");
    for app in [&app_a, &app_b, &app_d] {
        assert_eq!(store.identity(app).await.unwrap().unwrap().kek_id.as_deref(), Some(new_kek.kek_id()));
    }
    let half = backend.raw().await.identity(&app_b).await.unwrap().unwrap().rotation.unwrap();
    assert_eq!(half.new_sealed.kek_id, new_kek.kek_id());
    store.close().await.unwrap();

    // The old KEK can be retired: the new one alone opens everything, the old one nothing.
    assert_eq!(code(backend.open_with(&old_kek, options()).await), "KEYSTORE_BAD_KEK");
    let store = backend.open(&new_kek).await;
    let fresh = accept(&store, &app_a, "room", &wrapped).await.unwrap();
    assert_eq!(fresh, key.kid());
    store.rotate_identity(&app_b, host_b.as_ref()).await.unwrap();
    let query = AuditQuery { action: Some(actions::KEK_REKEY.into()), ..Default::default() };
    assert_eq!(store.audit(&query).await.unwrap().len(), 2);

    // A store given a KEK change while it holds a blob of an unknown KEK reports it.
    let stranger = kek();
    let raw = backend.raw().await;
    let mut doc = raw.identity(&app_d).await.unwrap().unwrap();
    doc.sealed = Some(stranger.seal(b"x", &identity_aad(&app_d, doc.key_version)).unwrap());
    raw.update_identity(&doc).await.unwrap();
    let recovery = backend.open_with(&new_kek, OpenOptions { skip_kek_check: true, ..options() }).await.unwrap();
    assert_eq!(code(recovery.rekey(kek()).await), "KEYSTORE_BAD_KEK");
}

async fn audit_records_every_operation(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    let _ = accept(&store, &app, "room", "garbage").await;
    let subscription =
        SubscriptionKeys { room_id: "room".into(), e2e_key: Some(key.wrap_for(&public_key)), old_room_keys: vec![] };
    store.load_room_keys(&app, "room", &subscription).await.unwrap();
    for i in 0..5 {
        store.decrypt_message(&app, "room", &key.message(&format!("m{i}"))).await.unwrap();
    }
    store.decrypt_content(&app, "room", &key.content("c")).await.unwrap();
    store.encrypt_content(&app, "room", "{}", None).await.unwrap();
    store.encrypt_content(&app, "room", "{}", None).await.unwrap();
    let _ = store.decrypt_message(&app, "unauthorized-room", &key.message("x")).await;
    let host = Host::new(&public_key);
    store.rotate_identity(&app, host.as_ref()).await.unwrap();
    store.revoke_authorization(&app, "room", "admin").await.unwrap();
    let next = common::kek();
    if next.seals() {
        store.rekey(next).await.unwrap();
    } else {
        assert_eq!(code(store.rekey(next).await), "KEYSTORE_BAD_INPUT");
    }
    store.revoke_identity(&app, "security-officer").await.unwrap();

    let records = store.audit(&AuditQuery { app_id: Some(app.clone()), ..Default::default() }).await.unwrap();
    let has = |action: &str, outcome: &str| records.iter().any(|r| r.action == action && r.outcome == outcome);
    for action in [
        actions::IDENTITY_CREATE,
        actions::GRANT,
        actions::ROOM_KEY_ACCEPT,
        actions::ROOM_KEY_LOAD,
        actions::ROTATE_BEGIN,
        actions::ROTATE_REWRAP,
        actions::ROTATE_PUBLISH,
        actions::ROTATE_COMMIT,
        actions::REVOKE,
        actions::IDENTITY_REVOKE,
    ] {
        assert!(has(action, "ok"), "no audit record of {action}");
    }
    assert!(has(actions::ROOM_KEY_ACCEPT, "E2EE_BAD_KEY"), "the rejection is audited");
    // Decrypt/encrypt are counted per (app, room, action, outcome, minute), not one per call.
    let counted = |action: &str, room: &str, outcome: &str| -> i64 {
        records
            .iter()
            .filter(|r| r.action == action && r.room_id.as_deref() == Some(room) && r.outcome == outcome)
            .map(|r| r.count.unwrap())
            .sum()
    };
    assert_eq!(counted(actions::MESSAGE_DECRYPT, "room", "ok"), 5);
    assert!(records.iter().filter(|r| r.action == actions::MESSAGE_DECRYPT).count() <= 2);
    assert_eq!(counted(actions::CONTENT_DECRYPT, "room", "ok"), 1);
    assert_eq!(counted(actions::CONTENT_ENCRYPT, "room", "ok"), 2);
    // A refusal is counted per app, without the room id the app made up.
    let refused: i64 = records
        .iter()
        .filter(|r| {
            r.action == actions::MESSAGE_DECRYPT && r.room_id.is_none() && r.outcome == "KEYSTORE_NOT_AUTHORIZED"
        })
        .map(|r| r.count.unwrap())
        .sum();
    assert_eq!(refused, 1);
    assert!(!records.iter().any(|r| r.room_id.as_deref() == Some("unauthorized-room")));
    let revoke = records.iter().find(|r| r.action == actions::IDENTITY_REVOKE).unwrap();
    assert_eq!(revoke.actor, "security-officer");
    let accepted = records.iter().find(|r| r.action == actions::ROOM_KEY_ACCEPT && r.outcome == "ok").unwrap();
    assert_eq!(accepted.kid.as_deref(), Some(key.kid()));
    assert_eq!(accepted.actor, format!("{app}.bot"));
    assert_eq!(has(actions::KEK_REKEY, "ok"), kek.seals());
    // Creation names the custody and its key object.
    let created = records.iter().find(|r| r.action == actions::IDENTITY_CREATE).unwrap();
    let detail = created.detail.as_deref().unwrap();
    assert!(detail.contains(&format!("kek_id={}", kek.kek_id())), "{detail}");

    // Newest first (counters carry the start of their minute), filters and limits.
    assert!(records.windows(2).all(|w| w[0].ts >= w[1].ts));
    let events: Vec<_> = records.iter().filter(|r| r.count.is_none()).collect();
    assert_eq!(events.first().unwrap().action, actions::IDENTITY_REVOKE);
    assert_eq!(events.last().unwrap().action, actions::IDENTITY_CREATE);
    let limited = store.audit(&AuditQuery { app_id: Some(app.clone()), limit: 3, ..Default::default() }).await.unwrap();
    assert_eq!(limited, records[..3].to_vec());
    let query = AuditQuery {
        app_id: Some(app.clone()),
        room_id: Some("room".into()),
        action: Some(actions::GRANT.into()),
        ..Default::default()
    };
    assert_eq!(store.audit(&query).await.unwrap().len(), 1);
    assert!(store.audit(&AuditQuery { since_ms: Some(i64::MAX), ..Default::default() }).await.unwrap().is_empty());
    let since = events[events.len() / 2].ts;
    let recent =
        store.audit(&AuditQuery { app_id: Some(app), since_ms: Some(since), ..Default::default() }).await.unwrap();
    assert!(!recent.is_empty() && recent.iter().all(|r| r.ts >= since));
    assert_eq!(recent.len(), records.iter().filter(|r| r.ts >= since).count());
}

async fn nothing_secret_is_stored(backend: &Backend) {
    let kek = kek();
    let mut secrets = Secrets::default();
    let (store, app, public_key) = setup(backend, &kek, &["r1", "r2"]).await;
    secrets.private_key("identity key v1", &private_key_der(backend, &kek, &app).await);
    let host = Host::new(&public_key);
    let rooms = [Room::new(&host, "r1", &public_key, 3), Room::new(&host, "r2", &public_key, 2)];
    let legacy = TestKey::cbc();
    let legacy_text = secret_text();
    let accepted = TestKey::gcm();
    let accepted_text = secret_text();
    for room in &rooms {
        room.assert_readable(&store, &app, &host).await;
        for key in &room.keys {
            secrets.room_key(key);
        }
        for text in &room.texts {
            secrets.text("plaintext", text);
        }
    }
    secrets.room_key(&legacy);
    secrets.room_key(&accepted);
    secrets.text("plaintext", &legacy_text);
    secrets.text("plaintext", &accepted_text);
    store
        .accept_room_key(&app, "r2", &legacy.wrap_for(&public_key), &offer(legacy.kid(), "member", vec![]))
        .await
        .unwrap();
    assert!(store.decrypt_message(&app, "r2", &legacy.legacy_message(&legacy_text)).await.is_ok());
    let proof = accepted.content(&accepted_text);
    store
        .accept_room_key(
            &app,
            "r1",
            &accepted.wrap_for(&public_key),
            &offer(accepted.kid(), "member", vec![Proof { sender_id: "bob".into(), content: proof }]),
        )
        .await
        .unwrap();
    let outgoing = secret_text();
    secrets.text("plaintext", &outgoing);
    store.encrypt_content(&app, "r1", &payload(&outgoing), None).await.unwrap();
    // A failed proof with content that does decrypt under another key.
    let _ = store
        .accept_room_key(
            &app,
            "r2",
            &accepted.wrap_for(&public_key),
            &offer(
                accepted.kid(),
                "member",
                vec![Proof { sender_id: "bob".into(), content: legacy.content(&legacy_text) }],
            ),
        )
        .await;
    store.rotate_identity(&app, host.as_ref()).await.unwrap();
    secrets.private_key("identity key v2", &private_key_der(backend, &kek, &app).await);
    // And a second app, revoked.
    let revoked = app_id();
    store.ensure_identity(&revoked, "r").await.unwrap();
    secrets.private_key("revoked identity key", &private_key_der(backend, &kek, &revoked).await);
    store.revoke_identity(&revoked, "admin").await.unwrap();
    store.flush_audit().await.unwrap();
    store.close().await.unwrap();

    let dump = backend.dump().await;
    assert!(dump.contains(&app) && dump.contains(accepted.kid()), "the dump should hold the store's documents");
    for collection in ["rc_e2ee_app_identities", "rc_e2ee_app_authorizations", "rc_e2ee_audit"] {
        assert!(dump.contains(collection), "no document of {collection} scanned");
    }
    secrets.assert_absent(&dump);
}

async fn closed_store_refuses_calls(backend: &Backend) {
    let kek = kek();
    let (store, app, _) = setup(backend, &kek, &["room"]).await;
    let clone = store.clone();
    store.close().await.unwrap();
    clone.close().await.unwrap();
    assert_eq!(code(clone.ensure_identity(&app, "bot").await), "KEYSTORE_STORAGE");
    assert_eq!(code(clone.is_authorized(&app, "room").await), "KEYSTORE_STORAGE");
    assert_eq!(code(clone.encrypt_content(&app, "room", "{}", None).await), "KEYSTORE_STORAGE");
    assert_eq!(code(clone.audit(&AuditQuery::default()).await), "KEYSTORE_STORAGE");
    // Reopening works.
    assert!(backend.open(&kek).await.is_authorized(&app, "room").await.unwrap());
}

async fn rotation_counts_an_unreadable_key_once(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["r1"]).await;
    let host = Host::new(&public_key);
    let _room = Room::new(&host, "r1", &public_key, 1);
    // A subscription whose key was wrapped to another key pair: neither pass can open it.
    let stranger = store.ensure_identity(&app_id(), "stranger.bot").await.unwrap();
    host.set_subscription(SubscriptionKeys {
        room_id: "r2".into(),
        e2e_key: Some(TestKey::gcm().wrap_for(&stranger)),
        old_room_keys: Vec::new(),
    });
    let report = store.rotate_identity(&app, host.as_ref()).await.unwrap();
    // The re-wrap pass and the commit pass both meet it; the report counts the key, not the passes.
    assert_eq!((report.rooms_rewritten, report.keys_rewrapped, report.keys_unreadable), (1, 1, 1));
}
