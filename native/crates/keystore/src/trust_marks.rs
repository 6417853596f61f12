//! Provisional room keys across server instances and restarts. The room-key cache is in memory,
//! per instance, and the app user's subscription holds only the wrapped key, so how far a key
//! is trusted is recorded on the app's authorization for the room (kid, fingerprint, suggester,
//! status; never key material):
//! - a key accepted provisionally is marked so; an instance that loads it from the subscription
//!   (another instance, this one after a restart) caches it provisional, not verified;
//! - a message of another sender settles it on whichever instance saw the message, and the mark
//!   says how: verified, or rejected;
//! - every instance applies the marks to its cache at its next gate check (within the
//!   authorization TTL), so a key rejected on one is dropped by all.

use rc_e2ee_core::RoomKey;

use crate::cache::Trust;
use crate::ids::{check_id, BAD_ROOM_ID};
use crate::keystore::{lock, CAS_ATTEMPTS};
use crate::store::{AuthorizationDoc, TrustMark, TrustStatus};
use crate::{AppKeyStore, Error, Result};

/// Marks kept per (app, room): settled ones are dropped first, oldest first.
const MAX_MARKS: usize = 16;

/// A key's trust to record: its kid, its fingerprint, who suggested it and where it stands.
pub(crate) fn mark(key: &RoomKey, suggested_by: &str, status: TrustStatus) -> TrustMark {
    TrustMark {
        kid: key.kid().to_owned(),
        fingerprint: hex(&key.fingerprint()),
        suggested_by: suggested_by.to_owned(),
        status,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The trust a key read from the subscription starts with: what a mark for that very key says
/// (`None` for a rejected one: it is not loaded), verified without a mark.
pub(crate) fn loaded_trust(marks: &[TrustMark], key: &RoomKey) -> Option<Trust> {
    let fingerprint = hex(&key.fingerprint());
    match marks.iter().find(|mark| mark.kid == key.kid() && mark.fingerprint == fingerprint) {
        None => Some(Trust::Verified),
        Some(mark) => match mark.status {
            TrustStatus::Verified => Some(Trust::Verified),
            TrustStatus::Provisional => Some(Trust::Provisional { suggested_by: mark.suggested_by.clone() }),
            TrustStatus::Rejected => None,
        },
    }
}

impl AppKeyStore {
    /// Records `marks` on the app's authorization for the room, replacing earlier marks of the
    /// same kids (compare-and-swap, retried). Nothing to change is no write; a missing
    /// authorization is `KEYSTORE_NOT_AUTHORIZED`.
    pub(crate) async fn record_trust(&self, app_id: &str, room_id: &str, marks: &[TrustMark]) -> Result<()> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(mut doc) = self.inner.store.authorization(app_id, room_id).await? else {
                return Err(Error::NotAuthorized);
            };
            let before = doc.trust.clone();
            for mark in marks {
                let earlier = doc.trust.iter().position(|known| known.kid == mark.kid);
                // A verified key needs no mark of its own: it only settles an earlier one.
                if earlier.is_none() && mark.status == TrustStatus::Verified {
                    continue;
                }
                if let Some(earlier) = earlier {
                    doc.trust.remove(earlier);
                }
                doc.trust.push(mark.clone());
            }
            while doc.trust.len() > MAX_MARKS {
                let settled = doc.trust.iter().position(|known| known.status != TrustStatus::Provisional);
                doc.trust.remove(settled.unwrap_or(0));
            }
            if doc.trust == before {
                return Ok(());
            }
            match self.inner.store.update_authorization(&doc).await {
                Err(Error::Conflict(_)) => continue,
                result => return result.map(|_| ()),
            }
        }
        Err(Error::Conflict("the authorization kept changing while a room key's trust was recorded"))
    }

    /// Applies the marks another instance recorded to this instance's cache: a key settled
    /// there is settled here (verified, or dropped when rejected). Only a mark for the very key
    /// cached (same fingerprint) applies.
    pub(crate) fn apply_trust(&self, app_id: &str, room_id: &str, doc: &AuthorizationDoc) {
        if doc.trust.is_empty() {
            return;
        }
        let mut cache = lock(&self.inner.room_keys);
        for mark in &doc.trust {
            let Some(fingerprint) = cache.fingerprint(app_id, room_id, &mark.kid) else { continue };
            if hex(&fingerprint) != mark.fingerprint {
                continue;
            }
            match mark.status {
                TrustStatus::Verified => {
                    cache.set_trust(app_id, room_id, &mark.kid, Trust::Verified);
                }
                TrustStatus::Rejected => cache.reject(app_id, room_id, &mark.kid),
                // Provisional everywhere already, or settled here first and recorded soon.
                TrustStatus::Provisional => {}
            }
        }
    }

    /// The apps holding a provisional room key in the room, with its kid: what a host asks when
    /// a message is saved there, so that the message settles the key whichever instance
    /// accepted it. One indexed query; empty for nearly every room.
    pub async fn provisional_keys(&self, room_id: &str) -> Result<Vec<(String, String)>> {
        self.ensure_open()?;
        check_id(room_id, BAD_ROOM_ID)?;
        let docs = self.inner.store.marked_authorizations(room_id).await?;
        Ok(docs
            .into_iter()
            .flat_map(|doc| {
                let app_id = doc.app_id;
                doc.trust
                    .into_iter()
                    .filter(|mark| mark.status == TrustStatus::Provisional)
                    .map(move |mark| (app_id.clone(), mark.kid))
            })
            .collect())
    }
}
