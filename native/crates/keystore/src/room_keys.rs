//! Room keys of an app: accepting a suggested key (judged by the rule in `acceptance.rs`), settling
//! a provisional one, and refilling the cache from the app user's subscription.

use std::sync::Arc;

use rc_e2ee_core::{unwrap_room_key_with, RoomKey};

use crate::acceptance::{self, acceptable_algorithm, check_proofs, judge, wrapped_kid, Evidence, Judgment};
use crate::audit::{action, Event, OK, SYSTEM};
use crate::cache::{RoomKeyCache, Trust};
use crate::custody::IdentityKey;
use crate::ids::{check_app_id, check_id, BAD_KID, BAD_ROOM_ID};
use crate::keystore::{blocking, lock};
use crate::store::{TrustMark, TrustStatus};
use crate::trust_marks::{loaded_trust, mark};
use crate::types::{
    AcceptOptions, Accepted, KeyStatus, KeyVerdict, LoadedKeys, Proof, SubscriptionKeys, SuggestedOldKey,
};
use crate::{AppKeyStore, Error, Result};

const BAD_SUGGESTER_ID: &str = "suggested-by user id is empty, too long or has control characters";
const BAD_OLD_KID: &str = "an old key's e2eKeyId is empty, too long or has control characters";
const TAKEN_KID: &str = "the kid is already accepted with another key";
const CONFLICTING_PROOF: &str = "the key does not open another member's message under its kid";
const LEGACY_KID_ONLY: &str = "a legacy A128CBC key needs a legacy 12-character kid";

impl AppKeyStore {
    /// Judges and accepts a room key suggested to the app user (`E2ESuggestedKey`), with the
    /// old keys suggested alongside (`suggestedOldRoomKeys`). The app must be authorized and
    /// its identity active; the keys are unwrapped with the app's private key inside this
    /// crate. The current key's kid must equal `options.expected_kid` (the room's `e2eKeyId`),
    /// a legacy CBC key needs a legacy kid, an accepted kid is never taken over by another key,
    /// and the key is judged by the proofs (the rule in `acceptance.rs`): verified or provisional,
    /// it becomes the room's current key; rejected, nothing changes (`KEYSTORE_PROOF_FAILED`,
    /// audited as `room_key.reject`). Each old key is judged the same way under its own kid;
    /// a rejected old key is skipped (and audited), the others are cached.
    pub async fn accept_room_key(
        &self,
        app_id: &str,
        room_id: &str,
        e2e_key: &str,
        options: &AcceptOptions,
    ) -> Result<Accepted> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        check_id(&options.expected_kid, BAD_KID)?;
        check_id(&options.suggested_by, BAD_SUGGESTER_ID)?;
        check_proofs(&options.proofs, &options.expected_kid)?;
        if options.old_room_keys.len() > acceptance::MAX_OLD_KEYS {
            return Err(Error::BadInput("too many old room keys (at most 256)"));
        }
        for old in &options.old_room_keys {
            check_id(&old.e2e_key_id, BAD_OLD_KID)?;
            check_proofs(&old.proofs, &old.e2e_key_id)?;
        }
        let mut kid = None;
        let result = self.accept_inner(app_id, room_id, e2e_key, options, &mut kid).await;
        let (actor, action, outcome, detail) = match &result {
            Ok((actor, accepted)) => (actor.clone(), action::ROOM_KEY_ACCEPT, OK, Some(accepted_detail(accepted))),
            Err(Rejection { error: error @ Error::ProofFailed(_), detail }) => {
                (SYSTEM.to_owned(), action::ROOM_KEY_REJECT, error.code(), detail.clone())
            }
            Err(Rejection { error, .. }) => (SYSTEM.to_owned(), action::ROOM_KEY_ACCEPT, error.code(), None),
        };
        // The kid is recorded whenever the key unwrapped, rejected or not.
        let event = Event { kid: kid.as_deref(), detail, ..self.event(&actor, action, Some(app_id), Some(room_id)) };
        self.append(&event, outcome).await?;
        result.map(|(_, accepted)| accepted).map_err(|rejection| rejection.error)
    }

    async fn accept_inner(
        &self,
        app_id: &str,
        room_id: &str,
        e2e_key: &str,
        options: &AcceptOptions,
        kid: &mut Option<String>,
    ) -> Result<(String, Accepted), Rejection> {
        let identity = self.fresh_gate(app_id, room_id).await?;
        let app_user = identity.app_user_id.clone();
        let private_keys = self.private_keys_of(&identity).await?;
        let wrapped: Vec<String> = std::iter::once(e2e_key.to_owned())
            .chain(options.old_room_keys.iter().map(|old| old.e2e_key.clone()))
            .collect();
        let mut opened = blocking(move || {
            Ok(wrapped.iter().map(|wrapped| unwrap_with_any(&private_keys, wrapped).map(Arc::new)).collect::<Vec<_>>())
        })
        .await?
        .into_iter();
        let key = opened.next().ok_or_else(Error::task_failed)??;
        *kid = Some(key.kid().to_owned());
        if key.kid() != options.expected_kid {
            return Err(Error::KidMismatch.into());
        }
        if !acceptable_algorithm(&key) {
            return Err(Error::ProofFailed(LEGACY_KID_ONLY).into());
        }
        let ignored = [options.suggested_by.as_str(), app_user.as_str()];
        let mut opened_keys: Vec<Option<Arc<RoomKey>>> = Vec::with_capacity(options.old_room_keys.len());
        let (status, old_room_keys, rejected_old) = {
            let mut judge = Judge {
                cache: lock(&self.inner.room_keys),
                app_id,
                room_id,
                ignored: &ignored,
                suggested_by: &options.suggested_by,
            };
            let status = match judge.key(&key, &options.proofs, true) {
                Judged::Taken => return Err(Error::ProofFailed(TAKEN_KID).into()),
                Judged::Rejected(judgment) => {
                    return Err(Rejection {
                        error: Error::ProofFailed(CONFLICTING_PROOF),
                        detail: Some(judgment.detail(&options.suggested_by)),
                    })
                }
                Judged::Kept(status) => status,
            };
            let mut old_room_keys: Vec<KeyVerdict> = Vec::with_capacity(options.old_room_keys.len());
            for (old, key) in options.old_room_keys.iter().zip(opened) {
                let key = key.ok();
                let verdict = judge.old_key(key.clone(), old, &options.expected_kid, &old_room_keys);
                opened_keys.push(key);
                old_room_keys.push(verdict);
            }
            let rejected_old: Vec<String> = old_room_keys
                .iter()
                .filter(|verdict| verdict.status == KeyStatus::Rejected)
                .map(|verdict| verdict.kid.clone())
                .collect();
            (status, old_room_keys, rejected_old)
        };
        // How far each kept key is trusted goes on record for the other instances (and a restart).
        let mut kept = vec![(Arc::clone(&key), status)];
        for (old, verdict) in opened_keys.iter().zip(&old_room_keys) {
            if let Some(old) = old {
                kept.push((Arc::clone(old), verdict.status));
            }
        }
        let marks: Vec<TrustMark> = {
            let cache = lock(&self.inner.room_keys);
            kept.iter().filter_map(|(key, status)| trust_mark(&cache, app_id, room_id, key, *status)).collect()
        };
        if let Err(error) = self.record_trust(app_id, room_id, &marks).await {
            // Not recorded, not kept: another instance would load the key as verified.
            lock(&self.inner.room_keys).reject(app_id, room_id, key.kid());
            return Err(error.into());
        }
        for old_kid in rejected_old {
            let event = Event {
                kid: Some(&old_kid),
                detail: Some(format!("old key; suggested_by={}", options.suggested_by)),
                ..self.event(SYSTEM, action::ROOM_KEY_REJECT, Some(app_id), Some(room_id))
            };
            self.append(&event, Error::ProofFailed(CONFLICTING_PROOF).code()).await?;
        }
        Ok((app_user, Accepted { kid: key.kid().to_owned(), status, old_room_keys }))
    }

    /// Settles a provisional key with a message of the room (`content` under the key's kid, from
    /// `sender_id`): `Verified` when it opens, `Rejected` when it does not (the key is dropped
    /// from the cache, the room reads as "no key" again, and `room_key.reject` is audited).
    /// A message of the suggester or of the app user settles nothing (`Provisional`); a key
    /// already verified stays `Verified`; a kid this store holds no key for is
    /// `KEYSTORE_NO_ROOM_KEY`.
    pub async fn confirm_room_key(&self, app_id: &str, room_id: &str, proof: &Proof) -> Result<KeyStatus> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        let kid = proof.content.named_kid().ok_or(Error::BadInput("the message names no kid"))?.to_owned();
        check_id(&kid, BAD_KID)?;
        check_proofs(std::slice::from_ref(proof), &kid)?;
        let app_user = self.gate(app_id, room_id).await?;
        let (status, detail, settled_mark) = {
            let mut cache = lock(&self.inner.room_keys);
            let (key, trust) = cache.entry(app_id, room_id, &kid).ok_or(Error::NoRoomKey)?;
            let suggested_by = match trust {
                Trust::Verified => return Ok(KeyStatus::Verified),
                Trust::Provisional { suggested_by } => suggested_by,
            };
            let settled_mark = mark(&key, &suggested_by, TrustStatus::Provisional);
            if proof.sender_id == suggested_by || proof.sender_id == *app_user {
                return Ok(KeyStatus::Provisional);
            }
            match acceptance::evidence(&key, proof) {
                Evidence::Irrelevant => return Ok(KeyStatus::Provisional),
                Evidence::Opens => {
                    cache.set_trust(app_id, room_id, &kid, Trust::Verified);
                    (KeyStatus::Verified, format!("confirmed_by={}", proof.sender_id), settled_mark)
                }
                Evidence::Conflicts => {
                    cache.reject(app_id, room_id, &kid);
                    let detail = format!("suggested_by={suggested_by} conflicting={}", proof.sender_id);
                    (KeyStatus::Rejected, detail, settled_mark)
                }
            }
        };
        // Settled here: the other instances follow the mark at their next gate check.
        let settled = match status {
            KeyStatus::Rejected => TrustStatus::Rejected,
            _ => TrustStatus::Verified,
        };
        self.record_trust(app_id, room_id, &[TrustMark { status: settled, ..settled_mark }]).await?;
        let (actor, action, outcome) = match status {
            KeyStatus::Rejected => (SYSTEM, action::ROOM_KEY_REJECT, Error::ProofFailed(CONFLICTING_PROOF).code()),
            _ => (&*app_user, action::ROOM_KEY_CONFIRM, OK),
        };
        let event =
            Event { kid: Some(&kid), detail: Some(detail), ..self.event(actor, action, Some(app_id), Some(room_id)) };
        self.append(&event, outcome).await?;
        Ok(status)
    }

    /// Refills the cache from the app user's subscription (after a restart, or when the host
    /// sees `E2EKey`/`oldRoomKeys` change). Only the host writes that subscription, after an
    /// acceptance, so what opens is trusted — with three rules against an entry that would
    /// override a key: the current key wins (an old entry under the current kid is skipped),
    /// an old entry must carry the kid its `e2eKeyId` names, and a kid this store already
    /// accepted a different key for keeps its key. Skipped entries are counted in `skipped`,
    /// entries that open with none of the app's keys in `unreadable`. Without `e2e_key` the
    /// room has no current key.
    pub async fn load_room_keys(&self, app_id: &str, room_id: &str, keys: &SubscriptionKeys) -> Result<LoadedKeys> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        if !keys.room_id.is_empty() && keys.room_id != room_id {
            return Err(Error::BadInput("the subscription keys belong to another room"));
        }
        let result = self.load_inner(app_id, room_id, keys).await;
        let (actor, kid, detail) = match &result {
            Ok((actor, loaded)) => (
                actor.clone(),
                loaded.current_kid.clone(),
                Some(format!(
                    "loaded={} unreadable={} skipped={}",
                    loaded.kids.len(),
                    loaded.unreadable,
                    loaded.skipped
                )),
            ),
            Err(_) => (SYSTEM.to_owned(), None, None),
        };
        let event = Event {
            kid: kid.as_deref(),
            detail,
            ..self.event(&actor, action::ROOM_KEY_LOAD, Some(app_id), Some(room_id))
        };
        self.audited(event, result).await.map(|(_, loaded)| loaded)
    }

    async fn load_inner(&self, app_id: &str, room_id: &str, keys: &SubscriptionKeys) -> Result<(String, LoadedKeys)> {
        let identity = self.fresh_gate(app_id, room_id).await?;
        // A key another instance accepted provisionally (or rejected since) loads as such.
        let marks = self.inner.store.authorization(app_id, room_id).await?.map(|doc| doc.trust).unwrap_or_default();
        let private_keys = self.private_keys_of(&identity).await?;
        let wrapped: Vec<String> =
            keys.e2e_key.iter().cloned().chain(keys.old_room_keys.iter().map(|old| old.e2e_key.clone())).collect();
        let mut opened = blocking(move || {
            Ok(wrapped
                .iter()
                .map(|wrapped| unwrap_with_any(&private_keys, wrapped).ok().map(Arc::new))
                .collect::<Vec<_>>())
        })
        .await?
        .into_iter();
        let mut loaded = LoadedKeys::default();
        let mut cache = lock(&self.inner.room_keys);
        // The current kid is read off the wrapped text, so it wins even when it does not open.
        let current_kid = keys.e2e_key.as_deref().and_then(wrapped_kid).map(str::to_owned);
        let mut seen: Vec<String> = current_kid.iter().cloned().collect();
        if keys.e2e_key.is_some() {
            match opened.next().flatten() {
                Some(key) => {
                    let kid = key.kid().to_owned();
                    if load_one(&mut cache, app_id, room_id, key, true, &marks, &mut loaded) {
                        loaded.current_kid = Some(kid);
                    } else if cache.fingerprint(app_id, room_id, &kid).is_some() {
                        // The kid is held with the key this store accepted: that one stays current.
                        cache.set_current(app_id, room_id, Some(kid.clone()));
                        loaded.current_kid = Some(kid);
                    } else {
                        cache.set_current(app_id, room_id, None);
                    }
                }
                None => {
                    cache.set_current(app_id, room_id, None);
                    loaded.unreadable += 1;
                }
            }
        } else {
            cache.set_current(app_id, room_id, None);
        }
        for (old, key) in keys.old_room_keys.iter().zip(opened) {
            let Some(key) = key else {
                loaded.unreadable += 1;
                continue;
            };
            if key.kid() != old.e2e_key_id || seen.iter().any(|kid| kid == key.kid()) {
                loaded.skipped += 1;
                continue;
            }
            seen.push(key.kid().to_owned());
            load_one(&mut cache, app_id, room_id, key, false, &marks, &mut loaded);
        }
        Ok((identity.app_user_id, loaded))
    }
}

/// An acceptance failure, with the audit detail of a rejection.
struct Rejection {
    error: Error,
    detail: Option<String>,
}

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        Self { error, detail: None }
    }
}

/// What judging one key against the cache gave.
enum Judged {
    /// Its kid is already accepted with another key.
    Taken,
    /// Another sender's message under its kid does not open with it.
    Rejected(Judgment),
    /// Cached, with this status.
    Kept(KeyStatus),
}

/// The keys of one suggestion, judged against one room's cache.
struct Judge<'a> {
    cache: std::sync::MutexGuard<'a, RoomKeyCache>,
    app_id: &'a str,
    room_id: &'a str,
    /// Senders whose messages prove nothing: the suggester and the app user.
    ignored: &'a [&'a str],
    suggested_by: &'a str,
}

impl Judge<'_> {
    /// Judges `key` by `proofs` and caches it unless it is rejected (`current` makes it the
    /// room's current key). An accepted kid keeps its key; one already verified stays verified
    /// without a new judgment; a provisional one may be settled by the new proofs, and keeps
    /// its first suggester.
    fn key(&mut self, key: &Arc<RoomKey>, proofs: &[Proof], current: bool) -> Judged {
        let (app_id, room_id, kid) = (self.app_id, self.room_id, key.kid());
        let held = match self.cache.fingerprint(app_id, room_id, kid) {
            Some(fingerprint) if fingerprint != key.fingerprint() => return Judged::Taken,
            Some(_) => self.cache.entry(app_id, room_id, kid).map(|(_, trust)| trust),
            None => None,
        };
        if held == Some(Trust::Verified) {
            if current {
                self.cache.set_current(app_id, room_id, Some(kid.to_owned()));
            }
            return Judged::Kept(KeyStatus::Verified);
        }
        let judgment = judge(key, proofs, self.ignored);
        let trust = match judgment.status {
            KeyStatus::Rejected => return Judged::Rejected(judgment),
            KeyStatus::Verified => Trust::Verified,
            KeyStatus::Provisional => match held {
                Some(trust @ Trust::Provisional { .. }) => trust,
                _ => Trust::Provisional { suggested_by: self.suggested_by.to_owned() },
            },
        };
        self.cache.insert(app_id, room_id, Arc::clone(key), current, trust);
        Judged::Kept(judgment.status)
    }

    /// One suggested old key's verdict; cached unless rejected. It must carry the kid its
    /// `e2eKeyId` names, not the current kid nor that of an old key `earlier` in the suggestion.
    fn old_key(
        &mut self,
        key: Option<Arc<RoomKey>>,
        old: &SuggestedOldKey,
        current_kid: &str,
        earlier: &[KeyVerdict],
    ) -> KeyVerdict {
        let rejected = KeyVerdict { kid: old.e2e_key_id.clone(), status: KeyStatus::Rejected };
        let Some(key) = key else { return rejected };
        let kid = key.kid();
        let repeated = kid == current_kid || earlier.iter().any(|verdict| verdict.kid == kid);
        if kid != old.e2e_key_id || repeated || !acceptable_algorithm(&key) {
            return rejected;
        }
        match self.key(&key, &old.proofs, false) {
            Judged::Kept(status) => KeyVerdict { kid: kid.to_owned(), status },
            Judged::Taken | Judged::Rejected(_) => rejected,
        }
    }
}

/// Caches one key read from the subscription unless a rule skips it; `true` if cached.
fn load_one(
    cache: &mut RoomKeyCache,
    app_id: &str,
    room_id: &str,
    key: Arc<RoomKey>,
    current: bool,
    marks: &[TrustMark],
    loaded: &mut LoadedKeys,
) -> bool {
    let taken = cache.fingerprint(app_id, room_id, key.kid()).is_some_and(|known| known != key.fingerprint());
    let held = cache.entry(app_id, room_id, key.kid()).map(|(_, trust)| trust);
    // What this instance judged stands; otherwise the record does (a rejected key stays out).
    let trust = held.or_else(|| loaded_trust(marks, &key));
    let Some(trust) = trust.filter(|_| !taken && acceptable_algorithm(&key)) else {
        loaded.skipped += 1;
        return false;
    };
    loaded.kids.push(key.kid().to_owned());
    cache.insert(app_id, room_id, key, current, trust);
    true
}

/// The mark to record for a key just judged: provisional with its (first) suggester, or
/// verified (which only settles an earlier provisional mark); a rejected key was not kept.
fn trust_mark(
    cache: &RoomKeyCache,
    app_id: &str,
    room_id: &str,
    key: &RoomKey,
    status: KeyStatus,
) -> Option<TrustMark> {
    match status {
        KeyStatus::Verified => Some(mark(key, "", TrustStatus::Verified)),
        KeyStatus::Provisional => match cache.entry(app_id, room_id, key.kid()) {
            Some((_, Trust::Provisional { suggested_by })) => Some(mark(key, &suggested_by, TrustStatus::Provisional)),
            _ => None,
        },
        KeyStatus::Rejected => None,
    }
}

fn accepted_detail(accepted: &Accepted) -> String {
    let kept = accepted.old_room_keys.iter().filter(|old| old.status != KeyStatus::Rejected).count();
    format!("status={} old_keys={kept}/{}", accepted.status.as_str(), accepted.old_room_keys.len())
}

/// Unwraps with the first key that opens `e2e_key`; the last key's error otherwise.
pub(crate) fn unwrap_with_any(keys: &[Arc<dyn IdentityKey>], e2e_key: &str) -> Result<RoomKey> {
    let mut last = Error::Core(rc_e2ee_core::Error::DecryptFailed);
    for key in keys {
        match unwrap_room_key_with(e2e_key, |block| key.decrypt_oaep(block)) {
            Ok(room_key) => return Ok(room_key),
            Err(error) => last = error,
        }
    }
    Err(last)
}
