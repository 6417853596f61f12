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

/// Checks of [`crate::AppKeyStore::accept_room_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The room's `e2eKeyId`; the key's kid must equal it.
    pub expected_kid: Option<String>,
    /// An encrypted `content` from the room (v2 or v1) that must decrypt with this key.
    pub proof: Option<ContentFields>,
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
