//! What only the MongoDB backend has to prove (at `MONGO_URL`, FerretDB in CI; required unless
//! `RC_E2EE_SKIP_MONGO=1`):
//! its compare-and-swap stays atomic under many concurrent writers even on a server whose
//! updates are not (FerretDB applies them as read-modify-write), a claim left by a crashed
//! writer is taken over once its lease ends, and audit counters written by several instances at
//! once lose no count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mongodb::bson::{doc, Document};
use rc_e2ee_keystore::store::mongo::MongoStore;
use rc_e2ee_keystore::store::{AuditCount, IdentityDoc, IdentityState, Store, CLAIMS, IDENTITIES};
use rc_e2ee_keystore::{AuditQuery, StoreUrl};

/// A fresh test database and `count` independent stores on it (each its own client and
/// connection pool, like separate server instances).
async fn stores(test: &str, count: usize, lease: Option<Duration>) -> Option<(Backend, Vec<Arc<MongoStore>>)> {
    let backend = Backend::mongo(test).await?;
    let StoreUrl::MongoDb { uri, database } = &backend.url else { unreachable!() };
    let mut out = Vec::new();
    for _ in 0..count {
        let store = MongoStore::open(uri, database.as_deref()).await.unwrap();
        out.push(Arc::new(match lease {
            Some(lease) => store.with_claim_lease(lease),
            None => store,
        }));
    }
    Some((backend, out))
}

/// The test database, straight through the driver.
async fn database(backend: &Backend) -> mongodb::Database {
    let StoreUrl::MongoDb { uri, database } = &backend.url else { unreachable!() };
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    client.database(database.as_deref().unwrap())
}

fn identity(app_id: &str) -> IdentityDoc {
    IdentityDoc {
        app_id: app_id.to_owned(),
        app_user_id: format!("{app_id}.bot"),
        key_version: 1,
        public_key: "not a key: the raw store does not look".to_owned(),
        sealed: None,
        sealed_copies: Vec::new(),
        state: IdentityState::Active,
        created_at: 1,
        updated_at: 1,
        revoked_at: None,
        revoked_by: None,
        rotation: None,
        version: 0,
    }
}

/// Runs one compare-and-swap per `markers` entry at once, all from the version `base` holds,
/// spread over `stores`; returns the markers (`updated_at`) of the writers that won.
async fn race(stores: &[Arc<MongoStore>], base: &IdentityDoc, markers: std::ops::Range<i64>) -> Vec<i64> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, marker) in markers.enumerate() {
        let store = Arc::clone(&stores[i % stores.len()]);
        let mut doc = base.clone();
        doc.updated_at = marker;
        tasks.spawn(async move { (marker, store.update_identity(&doc).await) });
    }
    let mut winners = Vec::new();
    while let Some(task) = tasks.join_next().await {
        match task.unwrap() {
            (marker, Ok(version)) => {
                assert_eq!(version, base.version + 1);
                winners.push(marker);
            }
            (_, Err(error)) => assert_eq!(error.code(), "KEYSTORE_CONFLICT", "{error}"),
        }
    }
    winners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_compare_and_swap_has_exactly_one_winner() {
    const ROUNDS: i64 = 25;
    const WRITERS: i64 = 16;
    let Some((backend, stores)) = stores("concurrent_compare_and_swap_has_exactly_one_winner", 4, None).await else {
        return;
    };
    let app = app_id();
    stores[0].insert_identity(&identity(&app)).await.unwrap();
    for round in 0..ROUNDS {
        let base = stores[0].identity(&app).await.unwrap().unwrap();
        assert_eq!(base.version, round, "a lost update or a second winner moved the version");
        let markers = round * 1000..round * 1000 + WRITERS;
        let winners = race(&stores, &base, markers).await;
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let stored = stores[1].identity(&app).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.updated_at), (round + 1, winners[0]), "round {round}");
    }
    // Every claim was cleaned up behind its winner.
    let claims = database(&backend).await.collection::<Document>(CLAIMS);
    assert_eq!(claims.count_documents(doc! {}).await.unwrap(), 0);
}

/// The claim a writer leaves when it dies between claiming the transition of `app_id`'s identity
/// from `version` and its update (the layout of `src/store/mongo/claims.rs`).
fn crashed_claim(app_id: &str, version: i64, generation: i64, at: i64) -> Document {
    doc! {
        "_id": format!("{IDENTITIES}/{app_id}/{version}/{generation}"),
        "target": format!("{IDENTITIES}/{app_id}"),
        "version": version,
        "generation": generation,
        "at": at,
        "owner": "crashed",
        "instance": "crashed",
    }
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_millis()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_crashed_writers_claim_is_taken_over_after_the_lease() {
    const LEASE: Duration = Duration::from_millis(1500);
    let lease_ms = i64::try_from(LEASE.as_millis()).unwrap();
    let Some((backend, stores)) = stores("a_crashed_writers_claim_is_taken_over_after_the_lease", 3, Some(LEASE)).await
    else {
        return;
    };
    let claims = database(&backend).await.collection::<Document>(CLAIMS);
    // Ids may contain the separator of the claim's `_id`.
    let app = unique("app/with/slashes");
    stores[0].insert_identity(&identity(&app)).await.unwrap();
    let base = stores[0].identity(&app).await.unwrap().unwrap();

    // A writer claimed the transition from version 0, then died before its update. While the
    // lease holds, every writer loses and the document stays as it is.
    claims.insert_one(crashed_claim(&app, 0, 0, now_ms())).await.unwrap();
    for store in &stores {
        let mut doc = base.clone();
        doc.updated_at = 7;
        assert_eq!(code(store.update_identity(&doc).await), "KEYSTORE_CONFLICT");
    }
    assert_eq!(stores[1].identity(&app).await.unwrap().unwrap(), base);
    // Once it ran out, writers racing to take the claim over: exactly one wins, and its success
    // removes the dead claim along with its own.
    tokio::time::sleep(LEASE).await;
    let winners = race(&stores, &base, 100..112).await;
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let stored = stores[2].identity(&app).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.updated_at), (1, winners[0]));
    assert_eq!(claims.count_documents(doc! {}).await.unwrap(), 0);

    // The writer that took over a dead claim died as well: its claim (generation 1) holds for
    // a lease of its own, then generation 2 takes over.
    claims.insert_one(crashed_claim(&app, 1, 0, now_ms() - 10 * lease_ms)).await.unwrap();
    claims.insert_one(crashed_claim(&app, 1, 1, now_ms())).await.unwrap();
    let mut doc = stored.clone();
    doc.updated_at = 8;
    assert_eq!(code(stores[0].update_identity(&doc).await), "KEYSTORE_CONFLICT");
    tokio::time::sleep(LEASE).await;
    let winners = race(&stores, &stored, 200..212).await;
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let stored = stores[0].identity(&app).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.updated_at), (2, winners[0]));
    assert_eq!(claims.count_documents(doc! {}).await.unwrap(), 0);

    // A claim left behind by a writer that died after its update (the document moved on):
    // taking it over lets a stale writer no further than its filter.
    claims.insert_one(crashed_claim(&app, 1, 0, now_ms() - 10 * lease_ms)).await.unwrap();
    assert_eq!(code(stores[1].update_identity(&doc).await), "KEYSTORE_CONFLICT");
    assert_eq!(stores[1].identity(&app).await.unwrap().unwrap(), stored);
    // The next successful update clears every claim of the document up to its version.
    let mut next = stored.clone();
    next.updated_at = 9;
    assert_eq!(stores[1].update_identity(&next).await.unwrap(), 3);
    assert_eq!(claims.count_documents(doc! {}).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn audit_counts_from_concurrent_instances_add_up() {
    const FLUSHES: i64 = 20;
    let Some((_backend, stores)) = stores("audit_counts_from_concurrent_instances_add_up", 4, None).await else {
        return;
    };
    let app = app_id();
    let minute = 1_700_000_040_000_i64;
    let count = |minute: i64, room: &str, count: i64| AuditCount {
        minute,
        actor: "bot".into(),
        action: "message.decrypt".into(),
        app_id: app.clone(),
        room_id: Some(room.into()),
        outcome: "ok".into(),
        count,
    };
    // Two callers per instance, four instances, all flushing the same counters at once.
    let batch = vec![count(minute, "a", 1), count(minute, "b", 2), count(minute - 60_000, "a", 3)];
    let mut tasks = tokio::task::JoinSet::new();
    for store in stores.iter().chain(&stores) {
        let (store, batch) = (Arc::clone(store), batch.clone());
        tasks.spawn(async move {
            for _ in 0..FLUSHES {
                store.add_audit_counts(&batch).await.unwrap();
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    // And a few events, newer than the counters.
    for i in 0..3 {
        let mut event = rc_e2ee_keystore::AuditRecord {
            id: unique("event"),
            ts: minute + 30_000 + i,
            actor: "admin".into(),
            action: "authorization.grant".into(),
            app_id: Some(app.clone()),
            room_id: Some("a".into()),
            kid: None,
            outcome: "ok".into(),
            detail: None,
            count: None,
        };
        stores[0].append_audit(&event).await.unwrap();
        event.id = unique("other-app-event");
        event.app_id = Some("other-app".into());
        stores[0].append_audit(&event).await.unwrap();
    }

    let query = AuditQuery { app_id: Some(app.clone()), ..Default::default() };
    let records = stores[3].audit(&query).await.unwrap();
    let writers = 2 * stores.len() as i64 * FLUSHES;
    let counters: Vec<_> = records.iter().filter(|r| r.count.is_some()).collect();
    assert_eq!(counters.len(), 3, "one record per counter: {counters:?}");
    for (expected_minute, room, per_flush) in [(minute, "a", 1), (minute, "b", 2), (minute - 60_000, "a", 3)] {
        let record = counters.iter().find(|r| r.ts == expected_minute && r.room_id.as_deref() == Some(room)).unwrap();
        assert_eq!(record.count, Some(writers * per_flush), "{record:?}");
        assert_eq!(record.id, count(expected_minute, room, 0).id(), "the file backend's id");
    }
    assert_eq!(records.len(), 6);
    assert!(records.windows(2).all(|w| (w[0].ts, &w[0].id) > (w[1].ts, &w[1].id)), "newest first");
    // A limit cuts the merged list, never a counter's total.
    for limit in 1..=6 {
        let limited = stores[0].audit(&AuditQuery { limit, ..query.clone() }).await.unwrap();
        assert_eq!(limited, records[..limit as usize].to_vec(), "limit {limit}");
    }
    let since = AuditQuery { since_ms: Some(minute), ..query.clone() };
    assert_eq!(stores[1].audit(&since).await.unwrap(), records[..5].to_vec());
}
