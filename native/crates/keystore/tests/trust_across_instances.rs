//! A provisional room key is judged the same on every server instance and after a restart: the
//! instance that did not accept it (or a fresh one) loads it provisional, not verified; a
//! message seen on any instance settles it; a key rejected on one is dropped by the others at
//! their next gate check. The record holds kids and fingerprints only. Run on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[macro_use]
mod common;

use common::*;
use rc_e2ee_keystore::{AppKeyStore, KeyStatus, SubscriptionKeys};

suite!(
    a_restart_keeps_a_planted_key_provisional_until_an_honest_message_finds_it_out,
    a_key_settled_on_one_instance_is_settled_on_the_other,
    a_key_rejected_on_one_instance_is_dropped_by_the_other,
    provisional_keys_lists_what_a_new_message_could_settle,
    the_record_holds_no_key_material,
);

const MALLORY: &str = "mallory";
const BOB: &str = "bob";

/// The app user's subscription after the host accepted `key` (what Rocket.Chat holds).
fn subscription(key: &TestKey, public_key: &str) -> SubscriptionKeys {
    SubscriptionKeys { room_id: "room".into(), e2e_key: Some(key.wrap_for(public_key)), old_room_keys: Vec::new() }
}

/// Mallory suggests her own key under the room's kid before anyone wrote: provisional on `store`.
async fn planted(store: &AppKeyStore, app: &str, public_key: &str) -> (TestKey, TestKey) {
    let honest = TestKey::gcm();
    let planted = honest.forged_with_kid(honest.kid());
    let accepted = store
        .accept_room_key(app, "room", &planted.wrap_for(public_key), &offer(honest.kid(), MALLORY, vec![]))
        .await
        .unwrap();
    assert_eq!(accepted.status, KeyStatus::Provisional);
    (honest, planted)
}

async fn a_restart_keeps_a_planted_key_provisional_until_an_honest_message_finds_it_out(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let (honest, planted) = planted(&store, &app, &public_key).await;
    store.close().await.unwrap();
    // The restarted instance reloads the key from the subscription: still provisional.
    let restarted = backend.open(&kek).await;
    let loaded = restarted.load_room_keys(&app, "room", &subscription(&planted, &public_key)).await.unwrap();
    assert_eq!(loaded.kids, [honest.kid()]);
    // Mallory's own message settles nothing; Bob's, under the real key, finds the plant out.
    let own = restarted.confirm_room_key(&app, "room", &planted.proof(MALLORY, "mine")).await.unwrap();
    assert_eq!(own, KeyStatus::Provisional);
    let found_out = restarted.confirm_room_key(&app, "room", &honest.proof(BOB, "hello")).await.unwrap();
    assert_eq!(found_out, KeyStatus::Rejected);
    assert_eq!(code(restarted.encrypt_content(&app, "room", "{}", Some(honest.kid())).await), "KEYSTORE_NO_ROOM_KEY");
    // And it stays out: reloading the same subscription again does not bring it back.
    let again = restarted.load_room_keys(&app, "room", &subscription(&planted, &public_key)).await.unwrap();
    assert!(again.kids.is_empty(), "{again:?}");
    assert_eq!(again.skipped, 1);
    restarted.close().await.unwrap();
}

async fn a_key_settled_on_one_instance_is_settled_on_the_other(backend: &Backend) {
    let kek = kek();
    let (first, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    let offer_ = offer(key.kid(), "alice", vec![]);
    let accepted = first.accept_room_key(&app, "room", &key.wrap_for(&public_key), &offer_).await.unwrap();
    assert_eq!(accepted.status, KeyStatus::Provisional);
    let second = backend.open(&kek).await;
    second.load_room_keys(&app, "room", &subscription(&key, &public_key)).await.unwrap();
    assert_eq!(first.provisional_keys("room").await.unwrap(), [(app.clone(), key.kid().to_owned())]);
    // Bob's message is saved on the second instance, which settles the key.
    assert_eq!(second.confirm_room_key(&app, "room", &key.proof(BOB, "hi")).await.unwrap(), KeyStatus::Verified);
    assert!(first.provisional_keys("room").await.unwrap().is_empty());
    // The first instance follows at its next gate check: a message of the suggester settles
    // nothing on a provisional key, but reports verified on a settled one.
    let answer = first.confirm_room_key(&app, "room", &key.proof("alice", "me")).await.unwrap();
    assert_eq!(answer, KeyStatus::Verified);
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn a_key_rejected_on_one_instance_is_dropped_by_the_other(backend: &Backend) {
    let kek = kek();
    let (first, app, public_key) = setup(backend, &kek, &["room"]).await;
    let (honest, planted) = planted(&first, &app, &public_key).await;
    // The first instance holds the planted key and would encrypt the app's answers under it.
    first.encrypt_content(&app, "room", "{}", Some(honest.kid())).await.unwrap();
    let second = backend.open(&kek).await;
    second.load_room_keys(&app, "room", &subscription(&planted, &public_key)).await.unwrap();
    let verdict = second.confirm_room_key(&app, "room", &honest.proof(BOB, "hello")).await.unwrap();
    assert_eq!(verdict, KeyStatus::Rejected);
    // The first instance's next gate check drops it: no answer goes out under Mallory's key.
    assert_eq!(code(first.encrypt_content(&app, "room", "{}", Some(honest.kid())).await), "KEYSTORE_NO_ROOM_KEY");
    assert!(first.decrypt_message(&app, "room", &planted.message("mallory's")).await.is_err());
    // The honest key, suggested later, is accepted on either instance (the kid is free again).
    let offer_ = offer(honest.kid(), "carol", vec![honest.proof(BOB, "hello")]);
    let accepted = first.accept_room_key(&app, "room", &honest.wrap_for(&public_key), &offer_).await.unwrap();
    assert_eq!(accepted.status, KeyStatus::Verified);
    first.close().await.unwrap();
    second.close().await.unwrap();
}

async fn provisional_keys_lists_what_a_new_message_could_settle(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room", "quiet"]).await;
    assert!(store.provisional_keys("room").await.unwrap().is_empty());
    let key = TestKey::gcm();
    store.accept_room_key(&app, "room", &key.wrap_for(&public_key), &offer(key.kid(), "alice", vec![])).await.unwrap();
    assert_eq!(store.provisional_keys("room").await.unwrap(), [(app.clone(), key.kid().to_owned())]);
    assert!(store.provisional_keys("quiet").await.unwrap().is_empty());
    // A verified acceptance records nothing.
    let verified = TestKey::gcm();
    let offer_ = offer(verified.kid(), "alice", vec![verified.proof(BOB, "hi")]);
    store.accept_room_key(&app, "quiet", &verified.wrap_for(&public_key), &offer_).await.unwrap();
    assert!(store.provisional_keys("quiet").await.unwrap().is_empty());
    // Revoking the grant drops the record with it.
    store.revoke_authorization(&app, "room", "admin").await.unwrap();
    assert!(store.provisional_keys("room").await.unwrap().is_empty());
    for bad in ["", "a\u{0}b"] {
        assert_eq!(code(store.provisional_keys(bad).await), "KEYSTORE_BAD_INPUT");
    }
    store.close().await.unwrap();
}

async fn the_record_holds_no_key_material(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let (honest, planted) = planted(&store, &app, &public_key).await;
    let dump = backend.dump().await;
    assert!(dump.contains(planted.kid()) && dump.contains("provisional"), "the record is there");
    let mut secrets = Secrets::default();
    secrets.room_key(&planted);
    secrets.room_key(&honest);
    secrets.assert_absent(&dump);
    store.close().await.unwrap();
}
