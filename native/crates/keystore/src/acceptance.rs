//! The rule that decides whether a suggested room key is the room's key.
//!
//! Threat: any member can suggest a key to the app user (`E2ESuggestedKey`), and any member can
//! write a message under any key with the room's kid. A message therefore proves only what its
//! own sender holds. An attacker who plants a key K′ makes the app encrypt its replies to the
//! attacker and stop reading the room (an archiver would silently archive nothing).
//!
//! The rule, applied to the room's newest messages under the key's kid (the host gathers them):
//! - Messages of the suggester and of the app user are ignored: they prove nothing.
//! - Malformed envelopes are ignored: they are evidence of no key at all.
//! - **Verified** when at least one other sender wrote under the kid and *every* such message
//!   opens with the key. AES-GCM authenticates, so a message that fails to open was sealed
//!   under a different key carrying the same kid: two keys claim one kid, and we cannot tell
//!   which is honest.
//! - **Rejected** when any such message fails to open. This refuses a forged key even when an
//!   accomplice wrote under it, as long as one honest member wrote too; the price is that an
//!   insider's garbage message under the kid blocks an honest key until newer messages push it
//!   out of the host's window (a denial of service, visible in the audit with the conflicting
//!   senders, never a planted key).
//! - **Provisional** when nobody else has written under the kid yet (a new room, a room of one
//!   human): usable, and settled by the first message of another sender.
//!
//! What it cannot stop: a room whose only other recent writers are the attacker's accomplices.

use rc_e2ee_core::{RoomKey, RoomKeyAlgorithm};

use crate::ids::check_id;
use crate::types::{KeyStatus, Proof};
use crate::{Error, Result};

/// Proofs accepted per key; the host sends the newest messages under the kid, a handful.
pub(crate) const MAX_PROOFS: usize = 64;
/// Old keys accepted with one suggestion.
pub(crate) const MAX_OLD_KEYS: usize = 256;
const BAD_SENDER_ID: &str = "proof sender id is empty, too long or has control characters";
/// Conflicting senders named in an audit record, at most.
const MAX_NAMED_SENDERS: usize = 5;

/// What one message says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// It decrypted with the key.
    Opens,
    /// It names the key's kid but was sealed under another key.
    Conflicts,
    /// Malformed: says nothing.
    Irrelevant,
}

/// The verdict on a key, with the senders whose messages conflict (for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judgment {
    pub status: KeyStatus,
    pub conflicting: Vec<String>,
}

impl Judgment {
    /// Audit detail naming who conflicts, bounded.
    pub fn detail(&self, suggested_by: &str) -> String {
        let named: Vec<&str> = self.conflicting.iter().take(MAX_NAMED_SENDERS).map(String::as_str).collect();
        format!("suggested_by={suggested_by} conflicting={}", named.join(","))
    }
}

/// Checks the shape of the proofs before any work: bounded, ids well-formed, every proof under
/// `kid` (a proof under another kid is a host bug, not evidence).
pub(crate) fn check_proofs(proofs: &[Proof], kid: &str) -> Result<()> {
    if proofs.len() > MAX_PROOFS {
        return Err(Error::BadInput("too many proofs (at most 64)"));
    }
    for proof in proofs {
        check_id(&proof.sender_id, BAD_SENDER_ID)?;
        if proof.content.named_kid() != Some(kid) {
            return Err(Error::BadInput("a proof is not a message under the key's kid"));
        }
    }
    Ok(())
}

/// Judges `key` by the proofs of senders other than `ignored` (the suggester, the app user).
pub(crate) fn judge(key: &RoomKey, proofs: &[Proof], ignored: &[&str]) -> Judgment {
    let mut opened = false;
    let mut conflicting: Vec<String> = Vec::new();
    for proof in proofs.iter().filter(|proof| !ignored.contains(&proof.sender_id.as_str())) {
        match evidence(key, proof) {
            Evidence::Opens => opened = true,
            Evidence::Conflicts => {
                if !conflicting.contains(&proof.sender_id) {
                    conflicting.push(proof.sender_id.clone());
                }
            }
            Evidence::Irrelevant => {}
        }
    }
    let status = match (conflicting.is_empty(), opened) {
        (false, _) => KeyStatus::Rejected,
        (true, true) => KeyStatus::Verified,
        (true, false) => KeyStatus::Provisional,
    };
    Judgment { status, conflicting }
}

/// What one message says about `key`. One key in the ring: the message opens with exactly this
/// key or not at all. A legacy CBC key is unauthenticated, so its plaintext must also be a JSON
/// object (valid padding by chance is 1 in 256).
pub(crate) fn evidence(key: &RoomKey, proof: &Proof) -> Evidence {
    match rc_e2ee_core::decrypt_content(&[key], &proof.content.as_ref()) {
        Ok(plaintext) => match key.algorithm() {
            RoomKeyAlgorithm::A256Gcm => Evidence::Opens,
            RoomKeyAlgorithm::A128Cbc => match rc_e2ee_core::message::ensure_object(&plaintext) {
                Ok(()) => Evidence::Opens,
                Err(_) => Evidence::Conflicts,
            },
        },
        Err(rc_e2ee_core::Error::DecryptFailed) => Evidence::Conflicts,
        Err(_) => Evidence::Irrelevant,
    }
}

/// A legacy A128CBC key is acceptable only under a legacy 12-character kid: current clients
/// never make CBC keys, so a CBC key under a UUID kid is a downgrade attempt.
pub(crate) fn acceptable_algorithm(key: &RoomKey) -> bool {
    match key.algorithm() {
        RoomKeyAlgorithm::A256Gcm => true,
        RoomKeyAlgorithm::A128Cbc => key.kid().chars().count() == rc_e2ee_core::content::V1_KID_CHARS,
    }
}

/// The kid of an `E2EKey` string without opening it: everything but the last 344 characters.
pub(crate) fn wrapped_kid(e2e_key: &str) -> Option<&str> {
    let split = e2e_key.len().checked_sub(rc_e2ee_core::room_key::E2E_KEY_BODY_CHARS)?;
    e2e_key.get(..split)
}
