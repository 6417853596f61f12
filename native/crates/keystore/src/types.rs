//! Plain owned types of the public API, shaped to cross the N-API bridge as they are.

use rc_e2ee_core::content::ContentRef;
use rc_e2ee_core::message::MessageRef;

/// Encrypted `content` members as strings (absent members are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentFields {
    pub algorithm: Option<String>,
    pub kid: Option<String>,
    pub iv: Option<String>,
    pub ciphertext: Option<String>,
}

impl ContentFields {
    pub fn as_ref(&self) -> ContentRef<'_> {
        ContentRef {
            algorithm: self.algorithm.as_deref(),
            kid: self.kid.as_deref(),
            iv: self.iv.as_deref(),
            ciphertext: self.ciphertext.as_deref(),
        }
    }

    /// The kid the envelope names: `kid` for v2, the 12-character prefix for legacy v1.
    pub(crate) fn named_kid(&self) -> Option<&str> {
        match self.algorithm.as_deref() {
            Some(rc_e2ee_core::content::ALGORITHM_V1) => self.ciphertext.as_deref().and_then(v1_kid),
            _ => self.kid.as_deref(),
        }
    }
}

/// The fields of a message that decryption reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFields {
    pub t: Option<String>,
    pub msg: Option<String>,
    pub content: Option<ContentFields>,
    /// `attachments[0].content` of a `message_pinned_e2e` system message.
    pub pinned_content: Option<ContentFields>,
}

impl MessageFields {
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            t: self.t.as_deref(),
            msg: self.msg.as_deref(),
            content: self.content.as_ref().map(ContentFields::as_ref),
            pinned_content: self.pinned_content.as_ref().map(ContentFields::as_ref),
        }
    }

    /// Base64 ciphertext characters decryption may read: the larger of the envelopes and the
    /// legacy `msg` (only one is decrypted).
    pub(crate) fn ciphertext_chars(&self) -> usize {
        let of = |content: &Option<ContentFields>| {
            content.as_ref().and_then(|c| c.ciphertext.as_ref()).map_or(0, String::len)
        };
        of(&self.content).max(of(&self.pinned_content)).max(self.msg.as_ref().map_or(0, String::len))
    }

    /// The kid the message's envelope names, as decryption will look it up.
    pub(crate) fn named_kid(&self) -> Option<&str> {
        let content = match self.t.as_deref() {
            Some(rc_e2ee_core::message::TYPE_PINNED_E2E) => self.pinned_content.as_ref(),
            _ => self.content.as_ref(),
        };
        match content {
            Some(content) if content.as_ref().is_recognised() => content.named_kid(),
            _ => self.msg.as_deref().and_then(v1_kid),
        }
    }
}

fn v1_kid(text: &str) -> Option<&str> {
    let end = text.char_indices().nth(rc_e2ee_core::content::V1_KID_CHARS).map(|(index, _)| index)?;
    text.get(..end)
}

/// What the app user's subscription holds for one room, as the host reads and writes it
/// (`E2EKey`, `oldRoomKeys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionKeys {
    pub room_id: String,
    /// `E2EKey`: the current room key wrapped to the app's public key.
    pub e2e_key: Option<String>,
    /// `oldRoomKeys`, newest first.
    pub old_room_keys: Vec<OldRoomKey>,
}

/// One `oldRoomKeys` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OldRoomKey {
    pub e2e_key_id: String,
    pub ts_ms: i64,
    /// `E2EKey` of that old key: kid prefix + wrapped key.
    pub e2e_key: String,
}

/// One message of the room offered as evidence about a suggested key: who sent it (the
/// message's `u._id`, as the host read it from the stored message) and its encrypted `content`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proof {
    pub sender_id: String,
    pub content: ContentFields,
}

/// An old room key suggested alongside the current one (`suggestedOldRoomKeys`), with the
/// room's newest messages under its own kid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuggestedOldKey {
    /// `e2eKeyId` of the entry: must equal the kid wrapped in `e2e_key`.
    pub e2e_key_id: String,
    /// `E2EKey` of that old key.
    pub e2e_key: String,
    pub proofs: Vec<Proof>,
}

/// What [`crate::AppKeyStore::accept_room_key`] judges a suggested key by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The room's `e2eKeyId`; the key's kid must equal it. Required.
    pub expected_kid: String,
    /// The user id of the member who suggested the key. Required: their own messages prove
    /// nothing about it.
    pub suggested_by: String,
    /// The room's newest messages under `expected_kid` (the host gathers them), any sender.
    pub proofs: Vec<Proof>,
    /// Old keys suggested with it, each judged the same way under its own kid.
    pub old_room_keys: Vec<SuggestedOldKey>,
}

/// How far a cached room key is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// It opened the messages of every other sender offered as evidence (at least one), or it
    /// came from the app user's own subscription, which only the host writes after acceptance.
    Verified,
    /// Nobody but the suggester (or the app user) has written under its kid yet: usable, and
    /// settled by [`crate::AppKeyStore::confirm_room_key`] with the first message of another
    /// sender.
    Provisional,
    /// It failed to open a message of another sender: dropped, never used.
    Rejected,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Verified => "verified",
            KeyStatus::Provisional => "provisional",
            KeyStatus::Rejected => "rejected",
        }
    }
}

/// The verdict on one key of an acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVerdict {
    /// The kid the key was judged under (`e2eKeyId` for an old key whose wrapped kid differs).
    pub kid: String,
    pub status: KeyStatus,
}

/// Outcome of [`crate::AppKeyStore::accept_room_key`]: the current key (verified or
/// provisional; a rejected current key is an error) and each suggested old key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub kid: String,
    pub status: KeyStatus,
    pub old_room_keys: Vec<KeyVerdict>,
}

/// One authorization of an app for a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub room_id: String,
    pub granted_by: String,
    /// Milliseconds since the epoch.
    pub granted_at: i64,
}

/// What [`crate::AppKeyStore::load_room_keys`] put in the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedKeys {
    /// The room's current kid now (from `E2EKey`), if its key opened.
    pub current_kid: Option<String>,
    /// Every kid cached by this call, current first.
    pub kids: Vec<String>,
    /// Wrapped keys that opened with none of the app's keys (left alone).
    pub unreadable: u32,
    /// Keys that opened but were not loaded: an old entry under the current kid or under a kid
    /// other than its `e2eKeyId`, a repeated kid, a legacy CBC key without a legacy kid, or a
    /// kid this store already holds a different key for.
    pub skipped: u32,
}

/// Public facts about an identity; never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub app_id: String,
    pub app_user_id: String,
    pub key_version: i64,
    /// The key to publish: the current one, or a rotation's new one once published.
    pub public_key: String,
    /// `"active"` or `"revoked"`.
    pub state: String,
    /// The KEK the current private key is sealed under (`None` once revoked).
    pub kek_id: Option<String>,
    /// Step of a rotation in progress: `"begun"`, `"rewrapped"` or `"published"`.
    pub rotation_step: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

/// Outcome of [`crate::AppKeyStore::rotate_identity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub key_version: i64,
    pub public_key: String,
    /// Whether this call continued a rotation an earlier call had started.
    pub resumed: bool,
    /// Rooms whose subscription keys this call rewrote.
    pub rooms_rewritten: u32,
    /// Wrapped room keys re-wrapped to the new key by this call.
    pub keys_rewrapped: u32,
    /// Wrapped room keys that opened with neither key (left as they were).
    pub keys_unreadable: u32,
}

/// Outcome of [`crate::AppKeyStore::rekey`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Identities re-sealed under the new KEK by this call.
    pub resealed: u32,
    /// Identities already under the new KEK, or with nothing sealed (revoked).
    pub unchanged: u32,
}
