//! Message content: one message synchronously (a chat message costs about a microsecond) up to
//! the core's synchronous bound of 256 KiB (about 0.7 ms), one message of any size on the
//! thread pool (the `*_async` exports), many messages as one background batch.
//!
//! The synchronous exports refuse a larger ciphertext or payload with `E2EE_TOO_LARGE` and a
//! fixed text naming the asynchronous call, so a chat server's event loop never holds one
//! decrypt for more than about a millisecond.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::content::{decrypt_content, ContentRef};
use rc_e2ee_core::message::{decrypt_message, MessageRef};
use rc_e2ee_core::{Error as CoreError, RoomKey as CoreRoomKey};
use zeroize::Zeroizing;

use crate::errors::{guard, sync, Background, Code};
use crate::keys::{JsRoomKey, JsRoomKeyRing};
use crate::payload::{self, SplitPayload};
use crate::staging::{into_ascii, JsStaged};
use crate::wire::{Ascii, AsciiColumn, OwnedText, PlainText, Sealed, Secret, Text, TextList};

/// What the synchronous exports say to a ciphertext or payload over the synchronous bound.
const SYNC_DECRYPT_CONTENT: &str = "ciphertext over 256 KiB: use decryptContentAsync";
const SYNC_DECRYPT_MESSAGE: &str = "ciphertext over 256 KiB: use decryptMessageAsync";
const SYNC_ENCRYPT_CONTENT: &str = "payload over 256 KiB: use encryptContentAsync";

/// Encrypted `content` members as strings; a member that is not a string reads as absent, as
/// in the web client (the facade already leaves such members out). Read from JavaScript by the
/// hand-written conversion in `wire`: a throwing getter or Proxy trap becomes a fixed error,
/// and a refused value is never formatted with `JSON.stringify`.
#[napi(object, object_from_js = false)]
pub struct ContentFields {
    pub algorithm: Option<String>,
    pub kid: Option<String>,
    pub iv: Option<String>,
    pub ciphertext: Option<String>,
}

impl ContentFields {
    /// A `content` with no members, for a staged ciphertext to fill.
    fn absent() -> Self {
        ContentFields { algorithm: None, kid: None, iv: None, ciphertext: None }
    }

    fn as_ref(&self) -> ContentRef<'_> {
        ContentRef {
            algorithm: self.algorithm.as_deref(),
            kid: self.kid.as_deref(),
            iv: self.iv.as_deref(),
            ciphertext: self.ciphertext.as_deref(),
        }
    }
}

/// The fields of a message that decryption reads (conversion in `wire`, as for
/// [`ContentFields`]; a `content` that is not an object reads as absent).
#[napi(object, object_from_js = false)]
pub struct MessageFields {
    pub t: Option<String>,
    pub msg: Option<String>,
    pub content: Option<ContentFields>,
    /// `attachments[0].content` of a `message_pinned_e2e` system message.
    pub pinned_content: Option<ContentFields>,
}

impl MessageFields {
    fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            t: self.t.as_deref(),
            msg: self.msg.as_deref(),
            content: self.content.as_ref().map(ContentFields::as_ref),
            pinned_content: self.pinned_content.as_ref().map(ContentFields::as_ref),
        }
    }
}

/// The text the UTF-8 plaintext reads as; invalid sequences become U+FFFD as in the browser's
/// `TextDecoder`.
fn to_text(plaintext: Zeroizing<Vec<u8>>) -> PlainText {
    PlainText(rc_e2ee_core::content::into_text(plaintext))
}

/// The wire fields of one `content`, as the exports receive them.
struct Fields {
    algorithm: Text,
    kid: Text,
    iv: Ascii,
    ciphertext: Ascii,
}

impl Fields {
    fn as_ref(&self) -> ContentRef<'_> {
        ContentRef {
            algorithm: self.algorithm.as_deref(),
            kid: self.kid.as_deref(),
            iv: self.iv.as_deref(),
            ciphertext: self.ciphertext.as_deref(),
        }
    }
}

/// One `content`, decrypted with `keys`; `refusal` is `Some` on the caller's thread, where a
/// ciphertext over the synchronous bound is refused with that text.
fn decrypt_fields(
    keys: &[&CoreRoomKey],
    fields: &Fields,
    refusal: Option<&'static str>,
) -> rc_e2ee_core::Result<Zeroizing<String>> {
    let content = fields.as_ref();
    if let Some(refusal) = refusal {
        rc_e2ee_core::content::check_sync_ciphertext(content.ciphertext_chars(), refusal)?;
    }
    decrypt_content(keys, &content).map(rc_e2ee_core::content::into_text)
}

/// A whole message, decrypted with `keys`; `refusal` as for [`decrypt_fields`].
fn decrypt_fields_of_message(
    keys: &[&CoreRoomKey],
    message: &MessageFields,
    refusal: Option<&'static str>,
) -> rc_e2ee_core::Result<Zeroizing<String>> {
    let fields = message.as_ref();
    if let Some(refusal) = refusal {
        rc_e2ee_core::content::check_sync_ciphertext(fields.ciphertext_chars(), refusal)?;
    }
    decrypt_message(keys, &fields).map(rc_e2ee_core::content::into_text)
}

fn ring_of(key: &Arc<CoreRoomKey>) -> [&CoreRoomKey; 1] {
    [key.as_ref()]
}

fn refs(keys: &[Arc<CoreRoomKey>]) -> Vec<&CoreRoomKey> {
    keys.iter().map(Arc::as_ref).collect()
}

/// Decrypts one `content` with one key to the exact plaintext (EJSON text). A ciphertext over
/// 256 KiB is refused (`E2EE_TOO_LARGE`): use [`decrypt_content_with_key_async`].
#[napi(catch_unwind, ts_return_type = "string")]
pub fn decrypt_content_with_key(
    key: &JsRoomKey,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    #[napi(ts_arg_type = "string | undefined")] ciphertext: Ascii,
) -> Result<PlainText, Code> {
    let fields = Fields { algorithm, kid, iv, ciphertext };
    sync(|| decrypt_fields(&ring_of(key.core()), &fields, Some(SYNC_DECRYPT_CONTENT)).map(PlainText))
}

/// Decrypts one `content` with a key ring; over 256 KiB as for [`decrypt_content_with_key`].
#[napi(catch_unwind, ts_return_type = "string")]
pub fn decrypt_content_with_ring(
    ring: &JsRoomKeyRing,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    #[napi(ts_arg_type = "string | undefined")] ciphertext: Ascii,
) -> Result<PlainText, Code> {
    let fields = Fields { algorithm, kid, iv, ciphertext };
    sync(|| decrypt_fields(&refs(ring.keys()), &fields, Some(SYNC_DECRYPT_CONTENT)).map(PlainText))
}

/// Decrypts a whole message (v2, v1 in `content` or `msg`, mobile, pinned) to its payload text.
/// A ciphertext over 256 KiB is refused (`E2EE_TOO_LARGE`): use
/// [`decrypt_message_fields_async`].
#[napi(catch_unwind, ts_return_type = "string")]
pub fn decrypt_message_fields(ring: &JsRoomKeyRing, message: MessageFields) -> Result<PlainText, Code> {
    sync(|| decrypt_fields_of_message(&refs(ring.keys()), &message, Some(SYNC_DECRYPT_MESSAGE)).map(PlainText))
}

/// [`decrypt_content_with_key`] of any size (up to the 64 MiB cap) on the thread pool. A large
/// plaintext reaches JavaScript without a copy on the JS thread (see [`OwnedText`]).
#[napi(catch_unwind, ts_return_type = "Promise<string>")]
pub fn decrypt_content_with_key_async(
    key: &JsRoomKey,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    #[napi(ts_arg_type = "string | undefined")] ciphertext: Ascii,
) -> AsyncTask<Background<OwnedText, OwnedText>> {
    let key = Arc::clone(key.core());
    let fields = Fields { algorithm, kid, iv, ciphertext };
    Background::new(move || decrypt_fields(&ring_of(&key), &fields, None).map(OwnedText::prepare), Ok)
}

/// [`decrypt_content_with_key_async`] with the ciphertext staged by the facade (see
/// `staging`): nothing of it is read on the JS thread now, and its bytes move to the worker.
#[napi(catch_unwind, ts_return_type = "Promise<string>")]
pub fn decrypt_content_with_key_staged_async(
    key: &JsRoomKey,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    ciphertext: &JsStaged,
) -> AsyncTask<Background<OwnedText, OwnedText>> {
    let key = Arc::clone(key.core());
    let staged = ciphertext.take();
    Background::new(
        move || {
            let fields = Fields { algorithm, kid, iv, ciphertext: Ascii(Some(into_ascii(staged?)?)) };
            decrypt_fields(&ring_of(&key), &fields, None).map(OwnedText::prepare)
        },
        Ok,
    )
}

/// [`decrypt_content_with_ring_async`] with the ciphertext staged, as above.
#[napi(catch_unwind, ts_return_type = "Promise<string>")]
pub fn decrypt_content_with_ring_staged_async(
    ring: &JsRoomKeyRing,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    ciphertext: &JsStaged,
) -> AsyncTask<Background<OwnedText, OwnedText>> {
    let keys = ring.keys().to_vec();
    let staged = ciphertext.take();
    Background::new(
        move || {
            let fields = Fields { algorithm, kid, iv, ciphertext: Ascii(Some(into_ascii(staged?)?)) };
            decrypt_fields(&refs(&keys), &fields, None).map(OwnedText::prepare)
        },
        Ok,
    )
}

/// [`decrypt_content_with_ring`] of any size on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<string>")]
pub fn decrypt_content_with_ring_async(
    ring: &JsRoomKeyRing,
    #[napi(ts_arg_type = "string | undefined")] algorithm: Text,
    #[napi(ts_arg_type = "string | undefined")] kid: Text,
    #[napi(ts_arg_type = "string | undefined")] iv: Ascii,
    #[napi(ts_arg_type = "string | undefined")] ciphertext: Ascii,
) -> AsyncTask<Background<OwnedText, OwnedText>> {
    let keys = ring.keys().to_vec();
    let fields = Fields { algorithm, kid, iv, ciphertext };
    Background::new(move || decrypt_fields(&refs(&keys), &fields, None).map(OwnedText::prepare), Ok)
}

/// What the async message decrypts return: the payload text, or a large payload split for
/// parsing (see `payload`).
type Payload = Either<OwnedText, SplitPayload>;

/// [`decrypt_message_fields`] of any size on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<string | SplitPayload>")]
pub fn decrypt_message_fields_async(
    ring: &JsRoomKeyRing,
    message: MessageFields,
) -> AsyncTask<Background<Payload, Payload>> {
    let keys = ring.keys().to_vec();
    Background::new(move || decrypt_fields_of_message(&refs(&keys), &message, None).map(payload::prepare), Ok)
}

/// [`decrypt_message_fields_async`] with the ciphertext of the envelope it reads staged by the
/// facade (see `staging`): `pinnedContent.ciphertext` when `pinned`, else `content.ciphertext`,
/// whatever `message` holds there.
#[napi(catch_unwind, ts_return_type = "Promise<string | SplitPayload>")]
pub fn decrypt_message_fields_staged_async(
    ring: &JsRoomKeyRing,
    mut message: MessageFields,
    ciphertext: &JsStaged,
    pinned: bool,
) -> AsyncTask<Background<Payload, Payload>> {
    let keys = ring.keys().to_vec();
    let staged = ciphertext.take();
    Background::new(
        move || {
            let text = into_ascii(staged?)?;
            let slot = if pinned { &mut message.pinned_content } else { &mut message.content };
            slot.get_or_insert_with(ContentFields::absent).ciphertext = Some(text);
            decrypt_fields_of_message(&refs(&keys), &message, None).map(payload::prepare)
        },
        Ok,
    )
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

/// Encrypts a payload text (EJSON) under the room key; a legacy CBC key is refused. A payload
/// over 256 KiB is refused (`E2EE_TOO_LARGE`): use [`encrypt_content_text_async`].
#[napi(catch_unwind, ts_return_type = "EncryptedContent")]
pub fn encrypt_content_text(
    key: &JsRoomKey,
    #[napi(ts_arg_type = "string")] plaintext: Secret,
) -> Result<Sealed, Code> {
    sync(|| {
        rc_e2ee_core::content::check_sync_payload(plaintext.len(), SYNC_ENCRYPT_CONTENT)?;
        rc_e2ee_core::encrypt_content(key.core(), plaintext.as_bytes()).map(Sealed)
    })
}

/// [`encrypt_content_text`] of any size (up to the 48 MiB cap) on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<EncryptedContent>")]
pub fn encrypt_content_text_async(
    key: &JsRoomKey,
    #[napi(ts_arg_type = "string")] plaintext: Secret,
) -> AsyncTask<Background<EncryptedContent, EncryptedContent>> {
    let key = Arc::clone(key.core());
    Background::new(move || rc_e2ee_core::encrypt_content(&key, plaintext.as_bytes()).map(EncryptedContent::from), Ok)
}

/// Outcome of a batch: each plaintext, or `null` where that item failed; failures are listed
/// apart (they are rare), so a healthy batch creates no per-item error values.
#[napi(object, object_from_js = false)]
pub struct BatchResult {
    #[napi(ts_type = "Array<string | null>")]
    pub plaintexts: Vec<Option<PlainText>>,
    /// Indexes of the failed items, in order.
    pub failed: Vec<u32>,
    /// The error code of each failed item, parallel to `failed`.
    pub codes: Vec<&'static str>,
}

// The numbers of the packed batch, exported so the facade packs with exactly these.
/// `algorithms[i]` when `content.algorithm` is absent.
#[napi]
pub const BATCH_ALGORITHM_ABSENT: u32 = 0;
/// `algorithms[i]` for `rc.v1.aes-sha2`.
#[napi]
pub const BATCH_ALGORITHM_V1: u32 = 1;
/// `algorithms[i]` for `rc.v2.aes-sha2`.
#[napi]
pub const BATCH_ALGORITHM_V2: u32 = 2;
/// `algorithms[i]` for a string that is neither label: decrypting it reports an unsupported
/// algorithm.
#[napi]
pub const BATCH_ALGORITHM_OTHER: u32 = 3;
/// `algorithms[i]` when the item is not an object, or reading it threw: the single-message call
/// reports bad input.
#[napi]
pub const BATCH_NOT_AN_OBJECT: u32 = 4;
/// `kidIndexes[i]` for a kid that is not a string.
#[napi]
pub const BATCH_KID_ABSENT: u32 = 4_294_967_295;

/// Decrypts many contents on the thread pool; one bad item fails alone.
///
/// The inputs are packed to cross N-API as few times as possible (each array element read costs
/// a property lookup): `algorithms` is a byte per item (the `BATCH_*` constants above), kids
/// are deduplicated into `kids` and referenced by `kidIndexes` (`0xffffffff` = absent), and the
/// base64 members are read column by column into one buffer.
#[napi(catch_unwind, ts_return_type = "Promise<BatchResult>")]
pub fn decrypt_content_batch(
    ring: &JsRoomKeyRing,
    algorithms: &[u8],
    #[napi(ts_arg_type = "Array<string>")] kids: TextList,
    kid_indexes: &[u32],
    #[napi(ts_arg_type = "Array<string | undefined | null>")] ivs: AsciiColumn,
    #[napi(ts_arg_type = "Array<string | undefined | null>")] ciphertexts: AsciiColumn,
) -> AsyncTask<Background<BatchResult, BatchResult>> {
    let keys = ring.keys().to_vec();
    let (algorithms, kid_indexes) = (algorithms.to_vec(), kid_indexes.to_vec());
    Background::new(
        move || {
            let count = ciphertexts.len();
            if [algorithms.len(), kid_indexes.len(), ivs.len()].iter().any(|&len| len != count) {
                return Err(CoreError::BadInput("batch arrays differ in length"));
            }
            let ring = refs(&keys);
            let (ivs, ciphertexts) = (ivs.texts(), ciphertexts.texts());
            let mut result =
                BatchResult { plaintexts: Vec::with_capacity(count), failed: Vec::new(), codes: Vec::new() };
            for index in 0..count {
                let item = || -> rc_e2ee_core::Result<PlainText> {
                    let packed = algorithms.get(index).copied().map(u32::from);
                    if packed == Some(BATCH_NOT_AN_OBJECT) {
                        return Err(CoreError::BadInput("content must be an object"));
                    }
                    let kid = match kid_indexes.get(index).copied().unwrap_or(BATCH_KID_ABSENT) {
                        BATCH_KID_ABSENT => None,
                        kid => Some(kids.get(kid as usize).ok_or(CoreError::BadInput("kid index"))?),
                    };
                    let algorithm = match packed {
                        Some(BATCH_ALGORITHM_V1) => Some(rc_e2ee_core::content::ALGORITHM_V1),
                        Some(BATCH_ALGORITHM_V2) => Some(rc_e2ee_core::content::ALGORITHM_V2),
                        Some(BATCH_ALGORITHM_OTHER) => Some("unsupported"),
                        _ => None,
                    };
                    let content = ContentRef {
                        algorithm,
                        kid,
                        iv: ivs.get(index).copied().flatten(),
                        ciphertext: ciphertexts.get(index).copied().flatten(),
                    };
                    decrypt_content(&ring, &content).map(to_text)
                };
                // Each item is guarded on its own so one bad message cannot fail the others.
                match guard(item) {
                    Ok(text) => result.plaintexts.push(Some(text)),
                    Err(error) => {
                        result.plaintexts.push(None);
                        result.failed.push(u32::try_from(index).unwrap_or(u32::MAX));
                        result.codes.push(error.code());
                    }
                }
            }
            Ok(result)
        },
        Ok,
    )
}
