//! The shape the N-API bridge relies on: `Send` futures, a cloneable `Send + Sync` store,
//! stable codes, and MongoDB connection failures that say nothing about the connection string.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable, clippy::indexing_slicing)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rc_e2ee_keystore::store::{self, StoreUrl};

const APP: &str = "4fadae96-b18c-4a7e-9e95-5d6c7b8a9f0e";
use rc_e2ee_keystore::{
    AcceptOptions, AppKeyStore, AuditQuery, ContentFields, Error, KeyCustody, MessageFields, OpenOptions, Proof,
    RoomKeyWriter, SubscriptionKeys,
};

fn send<F: Future + Send>(_: F) {}

#[allow(dead_code)]
fn every_future_is_send(store: AppKeyStore, writer: Arc<dyn RoomKeyWriter>, custody: Arc<dyn KeyCustody>) {
    let (url, keys) = (StoreUrl::File("/x".into()), SubscriptionKeys::default());
    send(AppKeyStore::open(&url, custody.clone(), OpenOptions::default()));
    send(store.close());
    send(store.ensure_identity("a", "u"));
    send(store.recreate_identity("a", "u", "admin"));
    send(store.identity("a"));
    send(store.rotate_identity("a", writer.as_ref()));
    send(store.revoke_identity("a", "admin"));
    send(store.rekey(custody));
    send(store.authorize("a", "r", "admin"));
    send(store.revoke_authorization("a", "r", "admin"));
    send(store.is_authorized("a", "r"));
    send(store.list_authorizations("a"));
    let offer = AcceptOptions::default();
    send(store.accept_room_key("a", "r", "k", &offer));
    send(store.confirm_room_key("a", "r", &Proof::default()));
    send(store.retire_kek("k"));
    send(store.load_room_keys("a", "r", &keys));
    send(store.decrypt_message("a", "r", &MessageFields::default()));
    send(store.decrypt_content("a", "r", &ContentFields::default()));
    send(store.encrypt_content("a", "r", "{}", None));
    send(store.audit(&AuditQuery::default()));
    send(store.flush_audit());
}

#[test]
fn store_is_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<AppKeyStore>();
}

#[test]
fn codes_are_stable() {
    assert_eq!(Error::ALL_CODES.len(), 17);
    assert!(Error::ALL_CODES.iter().all(|code| code.starts_with("KEYSTORE_")));
    assert_eq!(Error::NotAuthorized.code(), "KEYSTORE_NOT_AUTHORIZED");
    assert_eq!(Error::from(rc_e2ee_core::Error::UnknownKid).code(), "E2EE_UNKNOWN_KID");
}

#[tokio::test]
async fn mongodb_failures_name_no_secret() {
    let url = StoreUrl::parse("mongodb://user:hunter2@127.0.0.1:1/db?serverSelectionTimeoutMS=300").unwrap();
    let started = Instant::now();
    let error = store::open(&url).await.err().unwrap();
    assert_eq!(error.code(), "KEYSTORE_STORAGE");
    assert!(!format!("{error} {error:?}").contains("hunter2"));
    assert!(started.elapsed() < Duration::from_secs(10));
    let error = store::open(&StoreUrl::parse("mongodb://127.0.0.1:1/").unwrap()).await.err().unwrap();
    assert_eq!(error.code(), "KEYSTORE_BAD_INPUT", "no database named");
    let error = store::open(&StoreUrl::parse("mongodb://[not a url/db").unwrap()).await.err().unwrap();
    assert_eq!(error.code(), "KEYSTORE_BAD_INPUT");
}

#[tokio::test]
async fn mongodb_collections_get_their_indexes() {
    let Some(backend) = Backend::mongo("mongodb_collections_get_their_indexes").await else { return };
    let kek = kek();
    let store = backend.open(&kek).await;
    store.ensure_identity(APP, "bot").await.unwrap();
    store.authorize(APP, "room", "admin").await.unwrap();
    let StoreUrl::MongoDb { uri, database } = &backend.url else { unreachable!() };
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let db = client.database(database.as_deref().unwrap());
    let names = |collection: &str| {
        let collection = db.collection::<mongodb::bson::Document>(collection);
        async move {
            let mut names = collection.list_index_names().await.unwrap();
            names.sort();
            names
        }
    };
    assert_eq!(names("rc_e2ee_app_identities").await, ["_id_", "app_user_id"]);
    assert_eq!(names("rc_e2ee_app_authorizations").await, ["_id_", "app_id_room_id", "room_id"]);
    assert_eq!(names("rc_e2ee_audit").await, ["_id_", "app_id_ts", "ts"]);
    // Opening again (a second server instance) keeps them.
    backend.open(&kek).await.close().await.unwrap();
    assert_eq!(names("rc_e2ee_app_authorizations").await, ["_id_", "app_id_room_id", "room_id"]);
    client.shutdown().await;
}
