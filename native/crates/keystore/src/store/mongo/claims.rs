//! Claims: exclusive ownership of one compare-and-swap, so that it is atomic on servers whose
//! updates are not.
//!
//! FerretDB 1.x runs `update_one` as read, change in Go, write back by `_id`, so two concurrent
//! `update_one({_id, version: v}, …)` can both read version `v` and both "win"
//! (scripts/test-db/README.md). An insert of a new unique `_id` is atomic there as on MongoDB:
//! one insert wins, the others get duplicate key (11000). So before its filtered update a writer
//! inserts a claim on the transition "document `d` leaves version `v`" into `rc_e2ee_claims`:
//!
//! ```text
//! {_id: "<collection>/<doc id>/<v>/<generation>", target: "<collection>/<doc id>", version: v,
//!  generation, at: <ms since epoch>, owner: <random per attempt>, instance: <store instance>}
//! ```
//!
//! (The `_id` is unambiguous for any doc id: version and generation are digits without `/`.)
//! Only the owner of a transition runs the update, so no other write to the document can
//! interleave with its read and write back: a writer from another version is refused by the
//! filter before FerretDB writes anything, and versions only grow. Every other writer gets
//! [`Error::Conflict`] without touching the document. MongoDB's own update is atomic already;
//! there the claim costs two round trips and changes nothing.
//!
//! Clean-up is not needed for correctness: a claim on a version the document has left blocks
//! only writers whose update would miss anyway. After a successful update the owner deletes
//! every claim of the document up to the version it left; after a missed one, its own claim.
//! After a network error it keeps the claim, since the update may still be applied.
//!
//! A writer that dies between claim and update would block the document forever, so a claim
//! older than the lease (30 s by default) is abandoned: the next writer inserts the next
//! *generation* of the claim, and that insert again has exactly one winner. Nothing is deleted
//! to take over: on FerretDB a delete is also a read, then a delete by `_id`, which could remove
//! a claim re-inserted in between. The lease assumes that no live owner takes longer than it
//! (an owner gives up if its claim took more than half the lease to insert) and that the
//! instances' clocks agree to well within it.

use std::future::Future;
use std::time::{Duration, Instant};

use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::{is_duplicate_key, map_error};
use crate::clock::now_ms;
use crate::{Error, Result};

/// How long a claim holds before another writer may take it over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    #[serde(rename = "_id")]
    id: String,
    target: String,
    version: i64,
    generation: i64,
    at: i64,
    owner: String,
    instance: String,
}

/// A claim this writer inserted, so owns.
struct Owned {
    id: String,
    owner: String,
    /// When the insert was sent: the lease runs from here at the latest.
    sent: Instant,
}

pub(super) struct Claims {
    collection: Collection<Claim>,
    instance: String,
    lease: Duration,
}

impl Claims {
    pub(super) fn new(collection: Collection<Document>, instance: &str) -> Self {
        Self { collection: collection.clone_with_type(), instance: instance.to_owned(), lease: DEFAULT_LEASE }
    }

    /// The claims collection, untyped (indexes, export).
    pub(super) fn collection(&self) -> Collection<Document> {
        self.collection.clone_with_type()
    }

    pub(super) fn set_lease(&mut self, lease: Duration) {
        self.lease = lease;
    }

    /// Runs `update`, a compare-and-swap of document `doc_id` of `collection` from `version`
    /// that reports whether its filter matched, as the only writer of that transition.
    /// [`Error::Conflict`] if another writer owns it; `failed` describes a failed update.
    pub(super) async fn compare_and_swap<F>(
        &self,
        collection: &str,
        doc_id: &str,
        version: i64,
        update: F,
        failed: &'static str,
    ) -> Result<bool>
    where
        F: Future<Output = mongodb::error::Result<bool>>,
    {
        let target = format!("{collection}/{doc_id}");
        let Some(owned) = self.claim(&target, version).await? else {
            return Err(Error::Conflict("another writer is changing the document"));
        };
        if owned.sent.elapsed() > self.lease / 2 {
            // The lease may run out while the update is on its way, and a taker could then
            // write at the same time: give the transition up instead.
            self.release(&owned).await;
            return Err(Error::Conflict("claiming the document took too long"));
        }
        match update.await {
            Ok(true) => {
                // The document left `version`, so every claim up to it is dead weight now.
                let dead = doc! {"target": &target, "version": {"$lte": version}};
                // Best effort: a leftover claim blocks nobody (see the module documentation).
                let _ = self.collection.delete_many(dead).await;
                Ok(true)
            }
            Ok(false) => {
                self.release(&owned).await;
                Ok(false)
            }
            Err(error) => {
                // Unless the update surely is not on its way, the claim stays: it may still be
                // applied, and no other writer may start before it is (the lease ends the wait
                // if it never is).
                if settled(&error) {
                    self.release(&owned).await;
                }
                Err(map_error(&error, failed))
            }
        }
    }

    /// Claims the transition of `target` from `version`: generation 0, or the next generation
    /// after an abandoned claim. `None` if another writer holds it.
    async fn claim(&self, target: &str, version: i64) -> Result<Option<Owned>> {
        if let Some(owned) = self.insert(target, version, 0).await? {
            return Ok(Some(owned));
        }
        let newest = self
            .collection
            .find_one(doc! {"target": target, "version": version})
            .sort(doc! {"generation": -1})
            .await
            .map_err(|e| map_error(&e, "cannot read the claim on the document"))?;
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        match newest {
            // Its owner is presumed dead: whoever inserts the next generation takes over.
            Some(claim) if now_ms().saturating_sub(claim.at) >= lease_ms => {
                self.insert(target, version, claim.generation.saturating_add(1)).await
            }
            // Held, or released just now by an owner that moved the document on.
            _ => Ok(None),
        }
    }

    async fn insert(&self, target: &str, version: i64, generation: i64) -> Result<Option<Owned>> {
        let sent = Instant::now();
        let claim = Claim {
            id: format!("{target}/{version}/{generation}"),
            target: target.to_owned(),
            version,
            generation,
            at: now_ms(),
            owner: uuid::Uuid::new_v4().simple().to_string(),
            instance: self.instance.clone(),
        };
        match self.collection.insert_one(&claim).await {
            Ok(_) => Ok(Some(Owned { id: claim.id, owner: claim.owner, sent })),
            Err(e) if is_duplicate_key(&e) => Ok(None),
            Err(e) => Err(map_error(&e, "cannot claim the document")),
        }
    }

    /// Deletes this writer's own claim, once its update is known not to have happened.
    async fn release(&self, owned: &Owned) {
        // Best effort: a leftover claim expires with its lease.
        let _ = self.collection.delete_one(doc! {"_id": &owned.id, "owner": &owned.owner}).await;
    }
}

/// Whether the server will not apply (later) the operation that failed with `error`: it was
/// never sent, or the server answered it. A network error leaves that open.
fn settled(error: &mongodb::error::Error) -> bool {
    matches!(error.kind.as_ref(), ErrorKind::ServerSelection { .. } | ErrorKind::Command(_) | ErrorKind::Write(_))
}
