//! Which encrypted field of a message to decrypt, following the web client's rules.
//!
//! Deliberate difference: the payload is returned, never merged into the message. Rocket.Chat
//! merges every decrypted member over the clear ones (`_id`, `ts`, `u` included), which lets a
//! sender spoof them; callers here decide what to take from the payload.

use zeroize::Zeroizing;

use crate::content::{decrypt_content, decrypt_v1, ContentRef};
use crate::{Error, Result, RoomKey};

/// Message type of an encrypted message.
pub const TYPE_E2E: &str = "e2e";
/// System message that carries a pinned message's encrypted content in `attachments[0]`.
pub const TYPE_PINNED_E2E: &str = "message_pinned_e2e";

/// The fields of a message that matter for decryption.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageRef<'a> {
    pub t: Option<&'a str>,
    pub msg: Option<&'a str>,
    pub content: Option<ContentRef<'a>>,
    /// `attachments[0].content` of a pinned-message system message.
    pub pinned_content: Option<ContentRef<'a>>,
}

impl MessageRef<'_> {
    /// Base64 characters decryption may read: the largest of the envelopes and the legacy
    /// `msg` (only one of them is decrypted).
    pub fn ciphertext_chars(&self) -> usize {
        let of = |content: &Option<ContentRef<'_>>| content.as_ref().map_or(0, ContentRef::ciphertext_chars);
        of(&self.content).max(of(&self.pinned_content)).max(self.msg.map_or(0, str::len))
    }
}

/// Decrypts a message and returns the payload's exact plaintext (EJSON text). The `e2e` status
/// is ignored: it is a client-side marker, and a server-side copy never holds plaintext.
pub fn decrypt_message(keys: &[&RoomKey], message: &MessageRef<'_>) -> Result<Zeroizing<Vec<u8>>> {
    match message.t {
        Some(TYPE_PINNED_E2E) => match message.pinned_content {
            Some(content) if content.is_recognised() => decrypt_content(keys, &content),
            Some(content) => {
                decrypt_content(keys, &content).and(Err(Error::BadEnvelope("pinned content is malformed")))
            }
            None => Err(Error::BadEnvelope("pinned message has no encrypted attachment")),
        },
        Some(TYPE_E2E) => match (message.content, message.msg) {
            (Some(content), _) if content.is_recognised() => decrypt_content(keys, &content),
            (_, Some(msg)) if !msg.is_empty() => decrypt_v1(keys, msg),
            (Some(content), _) => decrypt_content(keys, &content).and(Err(Error::BadEnvelope("content is malformed"))),
            (None, _) => Err(Error::BadEnvelope("message carries no encrypted content")),
        },
        _ => Err(Error::BadInput("not an encrypted message (t is not e2e)")),
    }
}

/// Rocket.Chat shows `E2E_indecipherable` unless the payload parses to an object; this is that
/// check, for callers that keep the payload as text.
pub fn ensure_object(plaintext: &[u8]) -> Result<()> {
    let starts_with_brace = plaintext.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if starts_with_brace && serde_json::from_slice::<serde::de::IgnoredAny>(plaintext).is_ok() {
        Ok(())
    } else {
        Err(Error::BadPayload)
    }
}
