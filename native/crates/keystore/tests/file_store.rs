//! What only the embedded backend has to prove: one file shared by several stores in one
//! process, private and atomically replaced, and refused when it does not parse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use common::*;
use rc_e2ee_keystore::store::{self, IdentityState};
use rc_e2ee_keystore::{AuditQuery, StoreUrl};

const APP: &str = "3e9c9d85-a07b-4f6d-8d84-4c5b6a7f8e9d";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_lose_no_update() {
    let backend = Backend::file();
    let kek = kek();
    let (a, b) = (backend.open(&kek).await, backend.open(&kek).await);
    a.ensure_identity(APP, "bot").await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { store.authorize(APP, &format!("room-{i}"), "admin").await.unwrap() });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    let rooms: BTreeSet<_> = b.list_authorizations(APP).await.unwrap().into_iter().map(|a| a.room_id).collect();
    assert_eq!(rooms.len(), 40);
    let query = AuditQuery { action: Some("authorization.grant".into()), limit: 1000, ..Default::default() };
    assert_eq!(a.audit(&query).await.unwrap().len(), 40);

    // Raw compare-and-swap from two handles at once: exactly one writer wins.
    let (x, y) = (backend.raw().await, backend.raw().await);
    let doc = x.identity(APP).await.unwrap().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = if i % 2 == 0 { x.clone() } else { y.clone() };
        let mut doc = doc.clone();
        doc.updated_at = i;
        tasks.spawn(async move { store.update_identity(&doc).await });
    }
    let mut wins = 0;
    while let Some(task) = tasks.join_next().await {
        match task.unwrap() {
            Ok(_) => wins += 1,
            Err(error) => assert_eq!(error.code(), "KEYSTORE_CONFLICT"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(x.identity(APP).await.unwrap().unwrap().state, IdentityState::Active);
}

#[tokio::test]
async fn file_is_private_and_replaced_atomically() {
    let backend = Backend::file();
    let path = backend.file_path().unwrap();
    let store = backend.open(&kek()).await;
    store.ensure_identity(APP, "bot").await.unwrap();
    store.authorize(APP, "room", "admin").await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["format"], "rc-e2ee-keystore/1");
    assert_eq!(parsed["identities"][APP]["state"], "active");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [path.clone(), path.with_extension("json.lock")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn unreadable_files_are_storage_errors() {
    let backend = Backend::file();
    let path = backend.file_path().unwrap();
    std::fs::write(&path, "{ not json").unwrap();
    assert_eq!(code(backend.open_with(&kek(), options()).await), "KEYSTORE_STORAGE");
    std::fs::write(&path, r#"{"format":"something-else/9"}"#).unwrap();
    assert_eq!(code(backend.open_with(&kek(), options()).await), "KEYSTORE_STORAGE");
    let missing = StoreUrl::parse("file:///nonexistent-dir-rc-e2ee/keystore.json").unwrap();
    assert_eq!(code(store::open(&missing).await), "KEYSTORE_STORAGE");
    let error = backend.open_with(&kek(), options()).await.unwrap_err();
    assert!(!error.to_string().contains("something-else"), "{error}");
}
