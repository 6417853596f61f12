//! Identity rotation: a new key pair replaces the app's key without losing a room key.
//!
//! The state machine lives on the identity document (`rotation: {step, new_key_version,
//! new_public_key, new_sealed}`), each step persisted by compare-and-swap:
//!
//! 1. **begin** — a new key is generated, sealed (AAD: the new key version) and stored beside
//!    the old one. From here on, unwrapping tries both keys.
//! 2. **re-wrap** — every room key the host lists (current and history) that opens with the old
//!    key is re-wrapped to the new public key and written back room by room. Idempotent: a key
//!    that already opens with the new key stays as it is, so a resumed pass rewrites only what
//!    is left. Keys that open with neither are left untouched and counted.
//! 3. **publish** — the host publishes the new public key (idempotent).
//! 4. **commit** — a last re-wrap sweep catches keys that members wrapped to the old public
//!    key while it was still published; then the new key becomes current, `key_version` is
//!    bumped and the old sealed key is removed from the document (shredded) in one update.
//!
//! A crash anywhere leaves a state the next [`AppKeyStore::rotate_identity`] call resumes
//! (the old key is shredded only by the commit, after everything was re-wrapped). Two instances
//! racing: the begin and every step are compare-and-swap updates, so one wins; the other gets
//! `KEYSTORE_CONFLICT` or, if it read the document after the begin, helps with the same
//! rotation (its writes are the same re-wrapping and are idempotent).

use std::sync::Arc;

use async_trait::async_trait;
use rc_e2ee_core::{unwrap_room_key_with, wrap_room_key};

use crate::audit::{action, Event, SYSTEM};
use crate::clock::now_ms;
use crate::custody::{IdentityKey, Sealed};
use crate::ids::check_app_id;
use crate::keystore::blocking;
use crate::store::{IdentityDoc, IdentityState, Rotation, RotationStep};
use crate::types::{RotationReport, SubscriptionKeys};
use crate::{AppKeyStore, Error, Result};

/// The host side of a rotation: it reads and writes the app user's subscriptions and user
/// record in Rocket.Chat's database.
#[async_trait]
pub trait RoomKeyWriter: Send + Sync {
    /// The app user's subscriptions that hold room keys (`E2EKey`, `oldRoomKeys`).
    async fn list_room_keys(&self) -> Result<Vec<SubscriptionKeys>>;
    /// Replaces the room's `E2EKey`/`oldRoomKeys` on the app user's subscription with `keys`.
    /// `previous` is what [`RoomKeyWriter::list_room_keys`] returned for the room: a host should
    /// write only if the subscription still holds it (compare-and-set, e.g. a filter on the old
    /// `E2EKey`) and return [`Error::Conflict`] otherwise, so a room-key reset that lands
    /// mid-rotation is never overwritten; the next `rotate_identity` call re-reads it.
    async fn write_room_keys(&self, room_id: &str, previous: &SubscriptionKeys, keys: &SubscriptionKeys) -> Result<()>;
    /// Publishes the app user's new public key (`users.e2e.public_key`).
    async fn publish_public_key(&self, public_key: &str) -> Result<()>;
}

/// Counts of one re-wrap pass.
#[derive(Default)]
struct Tally {
    rooms: u32,
    rewrapped: u32,
    unreadable: u32,
}

impl Tally {
    fn detail(&self) -> String {
        format!("rooms_rewritten={} keys_rewrapped={} keys_unreadable={}", self.rooms, self.rewrapped, self.unreadable)
    }
}

impl AppKeyStore {
    /// Rotates the app's identity key, or resumes a rotation in progress; see the module
    /// documentation. Every step is audited. Cached room keys of the app are dropped at the
    /// end: the host reloads them from the rewritten subscriptions
    /// ([`AppKeyStore::load_room_keys`]).
    pub async fn rotate_identity(&self, app_id: &str, writer: &dyn RoomKeyWriter) -> Result<RotationReport> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        let mut identity = self.inner.store.identity(app_id).await?.ok_or(Error::NoIdentity)?;
        if identity.state == IdentityState::Revoked {
            return Err(Error::Revoked);
        }
        let mut report = RotationReport { resumed: identity.rotation.is_some(), ..RotationReport::default() };
        if identity.rotation.is_none() {
            let result = self.begin(&mut identity).await;
            let event = self.event(SYSTEM, action::ROTATE_BEGIN, Some(app_id), None);
            self.audited(event, result).await?;
        }
        let rotation = identity.rotation.clone().ok_or(Error::Conflict("the rotation vanished"))?;
        if identity.sealed.is_none() {
            return Err(Error::Revoked);
        }
        let old =
            self.private_key(app_id, &identity.public_key, &identity.current_blobs(), identity.key_version).await?;
        let new =
            self.private_key(app_id, &rotation.new_public_key, &identity.new_blobs(), rotation.new_key_version).await?;

        if rotation.step == RotationStep::Begun {
            let result = self.rewrap_all(&old, &new, writer).await;
            let result = match result {
                Ok(tally) => self.advance(&mut identity, RotationStep::Rewrapped).await.map(|()| tally),
                Err(error) => Err(error),
            };
            let event = Event {
                detail: result.as_ref().ok().map(Tally::detail),
                ..self.event(SYSTEM, action::ROTATE_REWRAP, Some(app_id), None)
            };
            let tally = self.audited(event, result).await?;
            report.add(&tally);
        }
        if rotation.step <= RotationStep::Rewrapped {
            let result = match writer.publish_public_key(&rotation.new_public_key).await {
                Ok(()) => self.advance(&mut identity, RotationStep::Published).await,
                Err(error) => Err(error),
            };
            let event = self.event(SYSTEM, action::ROTATE_PUBLISH, Some(app_id), None);
            self.audited(event, result).await?;
        }
        let result = match self.rewrap_all(&old, &new, writer).await {
            Ok(tally) => self.commit(&mut identity).await.map(|()| tally),
            Err(error) => Err(error),
        };
        let event = Event {
            detail: result.as_ref().ok().map(Tally::detail),
            ..self.event(SYSTEM, action::ROTATE_COMMIT, Some(app_id), None)
        };
        let tally = self.audited(event, result).await?;
        report.add(&tally);
        self.forget_app(app_id, &[&rotation.new_public_key]);
        report.key_version = identity.key_version;
        report.public_key = identity.public_key;
        Ok(report)
    }

    async fn begin(&self, identity: &mut IdentityDoc) -> Result<()> {
        if identity.sealed.is_none() {
            return Err(Error::Revoked);
        }
        let new_key_version = identity.key_version + 1;
        let (new_public_key, new_sealed) = self.generate_sealed(&identity.app_id, new_key_version).await?;
        let now = now_ms();
        let mut next = identity.clone();
        next.rotation = Some(Rotation {
            step: RotationStep::Begun,
            new_key_version,
            new_public_key,
            new_sealed,
            new_sealed_copies: Vec::new(),
            started_at: now,
        });
        next.updated_at = now;
        match self.inner.store.update_identity(&next).await {
            Ok(version) => next.version = version,
            Err(error) => {
                // Lost the race: the new key is referenced nowhere. (Not on other failures: a
                // write that failed to answer may still have been applied.)
                if let (Error::Conflict(_), Some(rotation)) = (&error, &next.rotation) {
                    let _ = self.destroy_keys(std::slice::from_ref(&rotation.new_sealed)).await;
                }
                return Err(error);
            }
        }
        *identity = next;
        Ok(())
    }

    async fn advance(&self, identity: &mut IdentityDoc, step: RotationStep) -> Result<()> {
        let mut next = identity.clone();
        let rotation = next.rotation.as_mut().ok_or(Error::Conflict("the rotation vanished"))?;
        rotation.step = step;
        next.updated_at = now_ms();
        next.version = self.inner.store.update_identity(&next).await?;
        *identity = next;
        Ok(())
    }

    async fn commit(&self, identity: &mut IdentityDoc) -> Result<()> {
        let mut next = identity.clone();
        let rotation = next.rotation.take().ok_or(Error::Conflict("the rotation vanished"))?;
        next.key_version = rotation.new_key_version;
        next.public_key = rotation.new_public_key;
        // The old sealed key is overwritten: shredded with this update.
        let old: Vec<Sealed> = identity.current_blobs().into_iter().cloned().collect();
        next.sealed = Some(rotation.new_sealed);
        next.sealed_copies = rotation.new_sealed_copies;
        next.updated_at = now_ms();
        next.version = self.inner.store.update_identity(&next).await?;
        *identity = next;
        // A custody that keeps the key outside the document (a token's key pair) destroys it
        // now that nothing refers to it. Only after the update: until then, a resumed rotation
        // still needs the old key to re-wrap. A crash in between leaves the old pair in the
        // token, unreferenced (its label names the identity and key version), and so does a
        // token failure here: it must not turn a finished rotation into a failed one.
        let _ = self.destroy_keys(&old).await;
        Ok(())
    }

    /// One pass over the host's rooms: re-wraps what opens with `old` to `new`, writes back the
    /// rooms that changed.
    async fn rewrap_all(
        &self,
        old: &Arc<dyn IdentityKey>,
        new: &Arc<dyn IdentityKey>,
        writer: &dyn RoomKeyWriter,
    ) -> Result<Tally> {
        let mut tally = Tally::default();
        for room in writer.list_room_keys().await? {
            if room.room_id.is_empty() {
                return Err(Error::BadInput("the writer listed a subscription without a room id"));
            }
            let (old, new) = (Arc::clone(old), Arc::clone(new));
            let listed = room.clone();
            let (next, rewrapped, unreadable) = blocking(move || rewrap_room(&*old, &*new, listed)).await?;
            tally.rewrapped += rewrapped;
            tally.unreadable += unreadable;
            if rewrapped > 0 {
                writer.write_room_keys(&room.room_id, &room, &next).await?;
                tally.rooms += 1;
            }
        }
        Ok(tally)
    }
}

impl RotationReport {
    /// Adds one pass. The commit pass re-reads every subscription: what the first pass re-wrapped
    /// it finds done, but a key neither private key opens it meets again, so unreadable keys are
    /// the most any pass met, not the sum.
    fn add(&mut self, tally: &Tally) {
        self.rooms_rewritten += tally.rooms;
        self.keys_rewrapped += tally.rewrapped;
        self.keys_unreadable = self.keys_unreadable.max(tally.unreadable);
    }
}

/// Re-wraps one subscription's keys; returns the new keys and the counts (re-wrapped,
/// unreadable).
fn rewrap_room(
    old: &dyn IdentityKey,
    new: &dyn IdentityKey,
    mut keys: SubscriptionKeys,
) -> Result<(SubscriptionKeys, u32, u32)> {
    let (mut rewrapped, mut unreadable) = (0, 0);
    let slots = keys.e2e_key.iter_mut().chain(keys.old_room_keys.iter_mut().map(|old| &mut old.e2e_key));
    for slot in slots {
        if unwrap_room_key_with(slot, |block| new.decrypt_oaep(block)).is_ok() {
            continue;
        }
        match unwrap_room_key_with(slot, |block| old.decrypt_oaep(block)) {
            Ok(room_key) => {
                *slot = wrap_room_key(&room_key, new.public_key())?;
                rewrapped += 1;
            }
            Err(_) => unreadable += 1,
        }
    }
    Ok((keys, rewrapped, unreadable))
}
