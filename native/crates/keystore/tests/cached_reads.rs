//! The synchronous read path (`decrypt_message_cached`): it answers only what memory can
//! answer, never more than the async call would, and is counted like it. Run on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use rc_e2ee_keystore::{actions, AppKeyStore, AuditQuery, Error, OpenOptions};

suite!(
    a_cached_read_needs_a_checked_gate_and_a_cached_key,
    a_cached_read_returns_what_the_async_read_returns,
    a_refusal_seen_in_memory_is_thrown_not_deferred,
    a_revocation_on_this_instance_ends_cached_reads_at_once,
    a_large_ciphertext_goes_to_the_async_path,
    cached_reads_are_counted_in_the_audit,
    the_v2_read_answers_as_the_message_read_does,
);

async fn open(backend: &Backend, kek: &Kek) -> AppKeyStore {
    let options = OpenOptions { authorization_ttl: Duration::from_secs(60), ..OpenOptions::default() };
    backend.open_with(kek, options).await.unwrap()
}

/// A store whose app holds `key` for "room", authorized, identity active.
async fn ready(backend: &Backend, key: &TestKey) -> (AppKeyStore, String) {
    ready_under(backend, &kek(), key).await
}

async fn ready_under(backend: &Backend, kek: &Kek, key: &TestKey) -> (AppKeyStore, String) {
    let store = open(backend, kek).await;
    let app = app_id();
    let public_key = store.ensure_identity(&app, &format!("{app}.bot")).await.unwrap();
    store.authorize(&app, "room", "admin").await.unwrap();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    (store, app)
}

/// The app's message decrypts the audit counts as succeeded, and its decrypt records.
async fn decrypts_counted_ok(store: &AppKeyStore, app: &str) -> (i64, Vec<rc_e2ee_keystore::AuditRecord>) {
    let query = AuditQuery {
        app_id: Some(app.to_owned()),
        action: Some(actions::MESSAGE_DECRYPT.to_owned()),
        ..Default::default()
    };
    let records = store.audit(&query).await.unwrap();
    let ok = records.iter().filter(|r| r.outcome == "ok").filter_map(|r| r.count).sum();
    (ok, records)
}

fn code<T>(outcome: Option<rc_e2ee_keystore::Result<T>>) -> &'static str {
    match outcome {
        None => "miss",
        Some(Ok(_)) => "ok",
        Some(Err(error)) => error.code(),
    }
}

async fn a_cached_read_needs_a_checked_gate_and_a_cached_key(backend: &Backend) {
    let kek = kek();
    let key = TestKey::gcm();
    let (store, app) = ready_under(backend, &kek, &key).await;
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message("one"))), "ok");
    // A second server instance: nothing in its memory has checked (app, room), only storage can
    // say whether the app may read; once checked, it still lacks the key until it loads it.
    let other_instance = open(backend, &kek).await;
    assert_eq!(code(other_instance.decrypt_message_cached(&app, "room", &key.message("one"))), "miss");
    let awaited = other_instance.decrypt_message(&app, "room", &key.message("one")).await;
    assert!(matches!(awaited, Err(Error::NoRoomKey)));
    assert_eq!(code(other_instance.decrypt_message_cached(&app, "room", &key.message("one"))), "miss");
    other_instance.close().await.unwrap();
    // A message under a key the cache does not hold: the async call decides (it may load it).
    let other = TestKey::gcm();
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &other.message("x"))), "miss");
    assert!(matches!(store.decrypt_message(&app, "room", &other.message("x")).await, Err(Error::NoRoomKey)));
    store.close().await.unwrap();
}

async fn a_cached_read_returns_what_the_async_read_returns(backend: &Backend) {
    let key = TestKey::gcm();
    let (store, app) = ready(backend, &key).await;
    let text = secret_text();
    let awaited = store.decrypt_message(&app, "room", &key.message(&text)).await.unwrap();
    let cached = store.decrypt_message_cached(&app, "room", &key.message(&text)).unwrap().unwrap();
    assert_eq!(*cached, *awaited);
    assert_eq!(*cached, payload(&text));
    // A tampered ciphertext under the cached key fails the same way on both paths.
    let mut tampered = key.message(&text);
    let content = tampered.content.as_mut().unwrap();
    let original = content.ciphertext.take().unwrap();
    // A different first character, whatever the original one was.
    let first = if original.starts_with('A') { 'B' } else { 'A' };
    content.ciphertext = Some(format!("{first}{}", &original[1..]));
    let awaited = store.decrypt_message(&app, "room", &tampered).await.unwrap_err().code();
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &tampered)), awaited);
    assert_eq!(awaited, "E2EE_DECRYPT_FAILED");
    store.close().await.unwrap();
}

async fn a_refusal_seen_in_memory_is_thrown_not_deferred(backend: &Backend) {
    let key = TestKey::gcm();
    let (store, app) = ready(backend, &key).await;
    // The app probes a room it is not authorized for: the async call checks storage and the
    // cached verdict is a refusal, which the sync path reports itself.
    let refused = store.decrypt_message(&app, "elsewhere", &key.message("x")).await;
    assert!(matches!(refused, Err(Error::NotAuthorized)));
    assert_eq!(code(store.decrypt_message_cached(&app, "elsewhere", &key.message("x"))), "KEYSTORE_NOT_AUTHORIZED");
    // Bad ids are refused before any gate, as on the async path.
    assert_eq!(code(store.decrypt_message_cached("", "room", &key.message("x"))), "KEYSTORE_BAD_INPUT");
    assert_eq!(code(store.decrypt_message_cached(&app, "", &key.message("x"))), "KEYSTORE_BAD_INPUT");
    // The admitted ids are not scanned again on the hot path; ids that only look like them are,
    // and a refused verdict cached for a bad id still answers as a bad id.
    assert_eq!(code(store.decrypt_message_cached(&app, "room\0", &key.message("x"))), "KEYSTORE_BAD_INPUT");
    let _ = store.decrypt_message(&app, "room\u{7}", &key.message("x")).await;
    assert_eq!(code(store.decrypt_message_cached(&app, "room\u{7}", &key.message("x"))), "KEYSTORE_BAD_INPUT");
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message("x"))), "ok");
    store.close().await.unwrap();
    // A closed store answers nothing from memory.
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message("x"))), "KEYSTORE_STORAGE");
}

async fn a_revocation_on_this_instance_ends_cached_reads_at_once(backend: &Backend) {
    let kek = kek();
    let key = TestKey::gcm();
    let (store, app) = ready_under(backend, &kek, &key).await;
    assert!(store.decrypt_message(&app, "room", &key.message("warm")).await.is_ok());
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message("warm"))), "ok");
    store.revoke_authorization(&app, "room", "admin").await.unwrap();
    assert_ne!(code(store.decrypt_message_cached(&app, "room", &key.message("after"))), "ok");
    assert!(store.decrypt_message(&app, "room", &key.message("after")).await.is_err());

    store.close().await.unwrap();
    let key = TestKey::gcm();
    let (store, app) = ready_under(backend, &kek, &key).await;
    assert!(store.decrypt_message(&app, "room", &key.message("warm")).await.is_ok());
    store.revoke_identity(&app, "admin").await.unwrap();
    assert_ne!(code(store.decrypt_message_cached(&app, "room", &key.message("after"))), "ok");
    store.close().await.unwrap();
}

async fn a_large_ciphertext_goes_to_the_async_path(backend: &Backend) {
    let key = TestKey::gcm();
    let (store, app) = ready(backend, &key).await;
    assert!(store.decrypt_message(&app, "room", &key.message("warm")).await.is_ok());
    // 200 KiB of text stays on the caller's thread; 300 KiB does not.
    let small = "s".repeat(200 * 1024);
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message(&small))), "ok");
    let large = "l".repeat(300 * 1024);
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message(&large))), "miss");
    assert_eq!(*store.decrypt_message(&app, "room", &key.message(&large)).await.unwrap(), payload(&large));
    store.close().await.unwrap();
}

async fn cached_reads_are_counted_in_the_audit(backend: &Backend) {
    let key = TestKey::gcm();
    let (store, app) = ready(backend, &key).await;
    assert!(store.decrypt_message(&app, "room", &key.message("warm")).await.is_ok());
    for _ in 0..5 {
        assert_eq!(code(store.decrypt_message_cached(&app, "room", &key.message("hot"))), "ok");
    }
    // A miss is not counted: the async call it hands over to counts it.
    assert_eq!(code(store.decrypt_message_cached(&app, "room", &TestKey::gcm().message("x"))), "miss");
    let (ok, records) = decrypts_counted_ok(&store, &app).await;
    assert_eq!(ok, 6, "{records:?}");
    assert!(records.iter().all(|r| r.actor == format!("{app}.bot")));
    store.close().await.unwrap();
}

/// The bridge's v2 path (`decrypt_v2_message_cached`, the key picked by kid without a ring)
/// gives the message path's answer in every case: current key, old key, unknown kid, tampered
/// or malformed content, unauthorized room, too large; and both are counted alike.
async fn the_v2_read_answers_as_the_message_read_does(backend: &Backend) {
    let store = open(backend, &kek()).await;
    let app = app_id();
    let public_key = store.ensure_identity(&app, &format!("{app}.bot")).await.unwrap();
    store.authorize(&app, "room", "admin").await.unwrap();
    let (old, current) = (TestKey::gcm(), TestKey::gcm());
    accept(&store, &app, "room", &old.wrap_for(&public_key)).await.unwrap();
    accept(&store, &app, "room", &current.wrap_for(&public_key)).await.unwrap();
    assert!(store.decrypt_message(&app, "room", &current.message("warm")).await.is_ok());
    let text = secret_text();
    let mut cases = vec![
        ("current", "room", current.message(&text)),
        ("old", "room", old.message(&text)),
        ("unknown kid", "room", TestKey::gcm().message(&text)),
        ("unauthorized", "elsewhere", current.message(&text)),
        ("too large", "room", current.message(&"l".repeat(300 * 1024))),
    ];
    let mut tampered = current.message(&text);
    let content = tampered.content.as_mut().unwrap();
    let original = content.ciphertext.take().unwrap();
    let first = if original.starts_with('A') { 'B' } else { 'A' };
    content.ciphertext = Some(format!("{first}{}", &original[1..]));
    cases.push(("tampered", "room", tampered));
    // Another key's ciphertext under a kid the room holds: that key is tried, and fails.
    let mut crossed = old.message(&text);
    crossed.content.as_mut().unwrap().kid = current.message(&text).content.unwrap().kid;
    cases.push(("crossed", "room", crossed));
    let mut no_iv = current.message(&text);
    no_iv.content.as_mut().unwrap().iv = None;
    cases.push(("no iv", "room", no_iv));
    let mut empty_kid = current.message(&text);
    empty_kid.content.as_mut().unwrap().kid = Some(String::new());
    cases.push(("empty kid", "room", empty_kid));
    let mut bad_base64 = current.message(&text);
    bad_base64.content.as_mut().unwrap().ciphertext = Some("!!!!".into());
    cases.push(("bad base64", "room", bad_base64));
    for (name, room, message) in &cases {
        let content = message.content.as_ref().unwrap();
        let by_message = store.decrypt_message_cached(&app, room, message);
        let by_v2 = store.decrypt_v2_message_cached(&app, room, content);
        assert_eq!(code(by_v2), code(by_message), "{name}");
        if let (Some(Ok(a)), Some(Ok(b))) =
            (store.decrypt_message_cached(&app, room, message), store.decrypt_v2_message_cached(&app, room, content))
        {
            assert_eq!(*a, *b, "{name}");
        }
    }
    assert_eq!(code(store.decrypt_v2_message_cached(&app, "room", cases[0].2.content.as_ref().unwrap())), "ok");
    assert_eq!(code(store.decrypt_v2_message_cached(&app, "room", cases[1].2.content.as_ref().unwrap())), "ok");
    assert_eq!(code(store.decrypt_v2_message_cached(&app, "room", cases[2].2.content.as_ref().unwrap())), "miss");
    // Counted as message decrypts: "warm", then current and old, each twice per path, twice.
    let (ok, records) = decrypts_counted_ok(&store, &app).await;
    assert_eq!(ok, 1 + 2 * 2 * 2 + 2, "{records:?}");
    store.close().await.unwrap();
}
