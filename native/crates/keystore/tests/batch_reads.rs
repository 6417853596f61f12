//! `decrypt_messages`: a page of a room's history in one call. It answers exactly what one
//! `decrypt_message` per message would, one bad message fails alone, a refused batch fails as a
//! whole before any message is opened, and every message is counted. Run on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[macro_use]
mod common;

use common::*;
use rc_e2ee_keystore::{actions, AuditQuery, Error, MessageFields, MAX_BATCH_MESSAGES};

suite!(
    a_batch_answers_what_single_reads_answer,
    one_bad_message_fails_alone,
    a_refused_batch_fails_whole_and_opens_nothing,
    a_batch_over_the_bound_is_refused_before_any_read,
    every_message_of_a_batch_is_counted,
);

async fn a_batch_answers_what_single_reads_answer(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let first = TestKey::gcm();
    accept(&store, &app, "room", &first.wrap_for(&public_key)).await.unwrap();
    let texts: Vec<String> = (0..5).map(|_| secret_text()).collect();
    let messages: Vec<MessageFields> = texts.iter().map(|text| first.message(text)).collect();
    let batch = store.decrypt_messages(&app, "room", messages.clone()).await.unwrap();
    assert_eq!(batch.len(), messages.len());
    for (message, outcome) in messages.iter().zip(&batch) {
        let single = store.decrypt_message(&app, "room", message).await.unwrap();
        assert_eq!(**outcome.as_ref().unwrap(), *single);
    }
    assert_eq!(**batch[0].as_ref().unwrap(), payload(&texts[0]));
    assert!(store.decrypt_messages(&app, "room", Vec::new()).await.unwrap().is_empty());
    store.close().await.unwrap();
}

async fn one_bad_message_fails_alone(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    let mut tampered = key.message("tampered");
    let content = tampered.content.as_mut().unwrap();
    let original = content.ciphertext.take().unwrap();
    let first = if original.starts_with('A') { 'B' } else { 'A' };
    content.ciphertext = Some(format!("{first}{}", &original[1..]));
    let unknown = TestKey::gcm().message("under a key the app never got");
    let empty = MessageFields::default();
    let messages = vec![key.message("before"), tampered, unknown, empty, key.message("after")];
    let codes: Vec<&str> = store
        .decrypt_messages(&app, "room", messages)
        .await
        .unwrap()
        .iter()
        .map(|outcome| outcome.as_ref().map_or_else(Error::code, |_| "ok"))
        .collect();
    assert_eq!(codes, ["ok", "E2EE_DECRYPT_FAILED", "KEYSTORE_NO_ROOM_KEY", "E2EE_BAD_INPUT", "ok"]);
    store.close().await.unwrap();
}

async fn a_refused_batch_fails_whole_and_opens_nothing(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    let page = vec![key.message("x"); 3];
    // Another room: the grant is per room, whatever the messages hold.
    let other = store.decrypt_messages(&app, "elsewhere", page.clone()).await;
    assert!(matches!(other, Err(Error::NotAuthorized)), "{other:?}");
    // Ids that are not ids, and an app that is not one.
    assert!(matches!(store.decrypt_messages(&app, "", page.clone()).await, Err(Error::BadInput(_))));
    assert!(matches!(store.decrypt_messages("room", "room", page.clone()).await, Err(Error::BadInput(_))));
    // Revoked: the batch fails whole, even with the key still in this instance's memory.
    store.revoke_authorization(&app, "room", "admin").await.unwrap();
    assert!(store.decrypt_messages(&app, "room", page).await.is_err());
    store.close().await.unwrap();
}

async fn a_batch_over_the_bound_is_refused_before_any_read(backend: &Backend) {
    let kek = kek();
    let (store, app, _) = setup(backend, &kek, &["room"]).await;
    let page = vec![MessageFields::default(); MAX_BATCH_MESSAGES + 1];
    let refused = store.decrypt_messages(&app, "room", page).await;
    assert!(matches!(refused, Err(Error::BadInput(_))), "{refused:?}");
    let bounded = store.decrypt_messages(&app, "room", vec![MessageFields::default(); MAX_BATCH_MESSAGES]).await;
    assert_eq!(bounded.unwrap().len(), MAX_BATCH_MESSAGES);
    store.close().await.unwrap();
}

async fn every_message_of_a_batch_is_counted(backend: &Backend) {
    let kek = kek();
    let (store, app, public_key) = setup(backend, &kek, &["room"]).await;
    let key = TestKey::gcm();
    accept(&store, &app, "room", &key.wrap_for(&public_key)).await.unwrap();
    let page = vec![key.message("a"), key.message("b"), TestKey::gcm().message("c"), key.message("d")];
    store.decrypt_messages(&app, "room", page).await.unwrap();
    let query = AuditQuery {
        app_id: Some(app.clone()),
        action: Some(actions::MESSAGE_DECRYPT.to_owned()),
        ..Default::default()
    };
    let records = store.audit(&query).await.unwrap();
    let counted =
        |ok: bool| -> i64 { records.iter().filter(|r| (r.outcome == "ok") == ok).filter_map(|r| r.count).sum() };
    assert_eq!((counted(true), counted(false)), (3, 1), "{records:?}");
    store.close().await.unwrap();
}
