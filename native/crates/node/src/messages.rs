//! Message content: one message synchronously (it costs well under a microsecond), many
//! messages as one background batch.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::content::{decrypt_content, ContentRef};
use rc_e2ee_core::message::{decrypt_message, MessageRef};
use rc_e2ee_core::{Error as CoreError, RoomKey as CoreRoomKey};
use zeroize::Zeroizing;

use crate::errors::{guard, sync, Background, Code};
use crate::keys::{JsRoomKey, JsRoomKeyRing};

/// Encrypted `content` members as strings; the facade leaves out members that are not strings.
#[napi(object)]
pub struct ContentFields {
    pub algorithm: Option<String>,
    pub kid: Option<String>,
    pub iv: Option<String>,
    pub ciphertext: Option<String>,
}

impl ContentFields {
    fn as_ref(&self) -> ContentRef<'_> {
        ContentRef {
            algorithm: self.algorithm.as_deref(),
            kid: self.kid.as_deref(),
            iv: self.iv.as_deref(),
            ciphertext: self.ciphertext.as_deref(),
        }
    }
}

/// The fields of a message that decryption reads.
#[napi(object)]
pub struct MessageFields {
    pub t: Option<String>,
    pub msg: Option<String>,
    pub content: Option<ContentFields>,
    /// `attachments[0].content` of a `message_pinned_e2e` system message.
    pub pinned_content: Option<ContentFields>,
}

/// The text the UTF-8 plaintext reads as; invalid sequences become U+FFFD as in the browser's
/// `TextDecoder`.
fn to_text(plaintext: Zeroizing<Vec<u8>>) -> String {
    match std::str::from_utf8(&plaintext) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(&plaintext).into_owned(),
    }
}

fn ring_of(key: &Arc<CoreRoomKey>) -> [&CoreRoomKey; 1] {
    [key.as_ref()]
}

fn refs(keys: &[Arc<CoreRoomKey>]) -> Vec<&CoreRoomKey> {
    keys.iter().map(Arc::as_ref).collect()
}

/// Decrypts one `content` with one key to the exact plaintext (EJSON text).
#[napi]
pub fn decrypt_content_with_key(
    key: &JsRoomKey,
    algorithm: Option<String>,
    kid: Option<String>,
    iv: Option<String>,
    ciphertext: Option<String>,
) -> Result<String, Code> {
    sync(|| {
        let content = ContentRef {
            algorithm: algorithm.as_deref(),
            kid: kid.as_deref(),
            iv: iv.as_deref(),
            ciphertext: ciphertext.as_deref(),
        };
        decrypt_content(&ring_of(key.core()), &content).map(to_text)
    })
}

/// Decrypts one `content` with a key ring.
#[napi]
pub fn decrypt_content_with_ring(
    ring: &JsRoomKeyRing,
    algorithm: Option<String>,
    kid: Option<String>,
    iv: Option<String>,
    ciphertext: Option<String>,
) -> Result<String, Code> {
    sync(|| {
        let content = ContentRef {
            algorithm: algorithm.as_deref(),
            kid: kid.as_deref(),
            iv: iv.as_deref(),
            ciphertext: ciphertext.as_deref(),
        };
        decrypt_content(&refs(ring.keys()), &content).map(to_text)
    })
}

/// Decrypts a whole message (v2, v1 in `content` or `msg`, mobile, pinned) to its payload text.
#[napi]
pub fn decrypt_message_fields(ring: &JsRoomKeyRing, message: MessageFields) -> Result<String, Code> {
    sync(|| {
        let fields = MessageRef {
            t: message.t.as_deref(),
            msg: message.msg.as_deref(),
            content: message.content.as_ref().map(ContentFields::as_ref),
            pinned_content: message.pinned_content.as_ref().map(ContentFields::as_ref),
        };
        decrypt_message(&refs(ring.keys()), &fields).map(to_text)
    })
}

/// A v2 envelope, as stored in a message's `content`.
#[napi(object)]
pub struct EncryptedContent {
    #[napi(ts_type = "'rc.v2.aes-sha2'")]
    pub algorithm: String,
    pub kid: String,
    pub iv: String,
    pub ciphertext: String,
}

/// Encrypts a payload text (EJSON) under the room key.
#[napi]
pub fn encrypt_content_text(key: &JsRoomKey, plaintext: String) -> Result<EncryptedContent, Code> {
    let plaintext = Zeroizing::new(plaintext);
    sync(|| {
        let sealed = rc_e2ee_core::encrypt_content(key.core(), plaintext.as_bytes())?;
        Ok(EncryptedContent {
            algorithm: sealed.algorithm.to_owned(),
            kid: sealed.kid,
            iv: sealed.iv,
            ciphertext: sealed.ciphertext,
        })
    })
}

/// Outcome of a batch: for each input, the plaintext or the error code.
#[napi(object)]
pub struct BatchResult {
    pub plaintexts: Vec<Option<String>>,
    pub codes: Vec<Option<String>>,
}

/// Decrypts many v2/v1 contents on the thread pool. Inputs are parallel arrays (`kids`, `ivs`
/// may hold `null`); one bad item fails alone.
#[napi(ts_return_type = "Promise<BatchResult>")]
pub fn decrypt_content_batch(
    ring: &JsRoomKeyRing,
    algorithms: Vec<Option<String>>,
    kids: Vec<Option<String>>,
    ivs: Vec<Option<String>>,
    ciphertexts: Vec<Option<String>>,
) -> AsyncTask<Background<BatchResult, BatchResult>> {
    let keys = ring.keys().to_vec();
    Background::new(
        move || {
            let count = ciphertexts.len();
            if [algorithms.len(), kids.len(), ivs.len()].iter().any(|&len| len != count) {
                return Err(CoreError::BadInput("batch arrays differ in length"));
            }
            let ring = refs(&keys);
            let mut result = BatchResult { plaintexts: Vec::with_capacity(count), codes: Vec::with_capacity(count) };
            for (((algorithm, kid), iv), ciphertext) in algorithms.iter().zip(&kids).zip(&ivs).zip(&ciphertexts) {
                let content = ContentRef {
                    algorithm: algorithm.as_deref(),
                    kid: kid.as_deref(),
                    iv: iv.as_deref(),
                    ciphertext: ciphertext.as_deref(),
                };
                // Each item is guarded on its own so one bad message cannot fail the others.
                match guard(|| decrypt_content(&ring, &content).map(to_text)) {
                    Ok(text) => {
                        result.plaintexts.push(Some(text));
                        result.codes.push(None);
                    }
                    Err(error) => {
                        result.plaintexts.push(None);
                        result.codes.push(Some(error.code().to_owned()));
                    }
                }
            }
            Ok(result)
        },
        Ok,
    )
}
