//! Message envelopes: the current `rc.v2.aes-sha2` content and the legacy `rc.v1.aes-sha2`
//! string (`kid(12) + b64(iv16 ‖ AES-CBC)`), decrypted with a key ring.
//!
//! Key choice follows the web client: the key whose kid equals the content's kid, otherwise the
//! current key. That fallback is safe because the cipher authenticates (GCM) or the padding and
//! payload checks reject (CBC): a wrong guess cannot produce a plaintext. The cipher follows the
//! chosen key's `alg`, not the label, so a v2 label on a legacy CBC key decrypts as CBC.
//!
//! A legacy CBC key only decrypts: [`encrypt_content`] refuses it, since unauthenticated CBC
//! under the `rc.v2.aes-sha2` label would let anyone who can alter a stored message alter it
//! undetected (see [`RoomKey::decrypt`] for how CBC failures are kept indistinguishable).

use zeroize::Zeroizing;

use crate::{b64, Error, Result, RoomKey, RoomKeyAlgorithm};

pub const ALGORITHM_V1: &str = "rc.v1.aes-sha2";
pub const ALGORITHM_V2: &str = "rc.v2.aes-sha2";
/// Length of the kid prefix of a legacy v1 string.
pub const V1_KID_CHARS: usize = 12;
/// Largest base64 ciphertext accepted (about 48 MiB of plaintext); far above any message.
pub const MAX_CIPHERTEXT_B64: usize = 64 * 1024 * 1024;
/// Largest base64 ciphertext decrypted on the caller's thread: 256 KiB decoded, about 0.7 ms on
/// a 2 GHz core and far above Rocket.Chat's message size limit. Larger ones belong on a worker
/// thread, so that a chat server's event loop never waits more than about a millisecond.
pub const MAX_SYNC_CIPHERTEXT_B64: usize = 256 * 1024 / 3 * 4 + 4;
/// Largest payload (UTF-8 bytes) encrypted on the caller's thread: exactly what makes a
/// ciphertext of at most [`MAX_SYNC_CIPHERTEXT_B64`] (the AES-GCM tag is 16 bytes), so whatever
/// a synchronous encrypt writes, a synchronous decrypt reads.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = MAX_SYNC_CIPHERTEXT_B64 / 4 * 3 - 16;

/// The rule of the synchronous calls: a ciphertext of more than [`MAX_SYNC_CIPHERTEXT_B64`]
/// characters is refused with [`Error::TooLarge`] and `refusal`, a fixed text naming the
/// asynchronous call to use instead.
pub fn check_sync_ciphertext(chars: usize, refusal: &'static str) -> Result<()> {
    if chars > MAX_SYNC_CIPHERTEXT_B64 {
        return Err(Error::TooLarge(refusal));
    }
    Ok(())
}

/// The same rule for a payload to encrypt: over [`MAX_SYNC_PAYLOAD_BYTES`] is refused.
pub fn check_sync_payload(bytes: usize, refusal: &'static str) -> Result<()> {
    if bytes > MAX_SYNC_PAYLOAD_BYTES {
        return Err(Error::TooLarge(refusal));
    }
    Ok(())
}

/// What [`encrypt_content`] says to a legacy CBC key.
pub const CBC_ONLY_DECRYPTS: Error = Error::UnsupportedAlgorithm("a legacy A128CBC room key only decrypts");

/// Largest base64 IV accepted; a real one has 16 (GCM) or 24 (CBC) characters.
pub const MAX_IV_B64: usize = 1024;

/// Encrypted `content` as found on a message, borrowed from the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContentRef<'a> {
    pub algorithm: Option<&'a str>,
    pub kid: Option<&'a str>,
    pub iv: Option<&'a str>,
    pub ciphertext: Option<&'a str>,
}

impl<'a> ContentRef<'a> {
    /// A v2 envelope.
    pub fn v2(kid: &'a str, iv: &'a str, ciphertext: &'a str) -> Self {
        Self { algorithm: Some(ALGORITHM_V2), kid: Some(kid), iv: Some(iv), ciphertext: Some(ciphertext) }
    }

    /// Base64 characters decryption may read (the ciphertext's; a legacy v1 one includes its
    /// kid prefix).
    pub fn ciphertext_chars(&self) -> usize {
        self.ciphertext.map_or(0, str::len)
    }

    /// Rocket.Chat's `isEncryptedMessageContent`: a known label with string members. Only a
    /// recognised envelope wins over a legacy ciphertext in `msg`.
    pub fn is_recognised(&self) -> bool {
        match self.algorithm {
            Some(ALGORITHM_V1) => self.ciphertext.is_some(),
            Some(ALGORITHM_V2) => self.ciphertext.is_some() && self.iv.is_some() && self.kid.is_some(),
            _ => false,
        }
    }
}

/// Encrypted content as written by [`encrypt_content`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedContent {
    pub algorithm: &'static str,
    pub kid: String,
    pub iv: String,
    pub ciphertext: String,
}

/// Decrypts `content` with the key ring `keys` (current key first, then old keys).
pub fn decrypt_content(keys: &[&RoomKey], content: &ContentRef<'_>) -> Result<Zeroizing<Vec<u8>>> {
    match content.algorithm {
        Some(ALGORITHM_V2) => {
            let (kid, iv, ciphertext) = match (content.kid, content.iv, content.ciphertext) {
                (Some(kid), Some(iv), Some(ct)) if !kid.is_empty() && !iv.is_empty() && !ct.is_empty() => (kid, iv, ct),
                _ => return Err(Error::BadEnvelope("v2 content needs non-empty kid, iv and ciphertext")),
            };
            if iv.len() > MAX_IV_B64 {
                return Err(Error::TooLarge("iv over 1 KiB of base64"));
            }
            check_size(ciphertext)?;
            let iv = b64::decode(iv, "iv is not base64")?;
            let ciphertext = b64::decode(ciphertext, "ciphertext is not base64")?;
            select_key(keys, kid)?.decrypt(&iv, ciphertext)
        }
        Some(ALGORITHM_V1) => {
            decrypt_v1(keys, content.ciphertext.ok_or(Error::BadEnvelope("v1 content needs a ciphertext"))?)
        }
        Some(_) => Err(Error::UnsupportedAlgorithm("content algorithm is not rc.v1.aes-sha2 or rc.v2.aes-sha2")),
        None => Err(Error::BadEnvelope("content has no algorithm")),
    }
}

/// Decrypts a legacy v1 string: from `content.ciphertext` or, in the oldest messages, `msg`.
pub fn decrypt_v1(keys: &[&RoomKey], text: &str) -> Result<Zeroizing<Vec<u8>>> {
    check_size(text)?;
    let split = text
        .char_indices()
        .nth(V1_KID_CHARS)
        .map(|(index, _)| index)
        .ok_or(Error::BadEnvelope("legacy ciphertext shorter than its 12-character kid"))?;
    let (kid, body) = text.split_at(split);
    let bytes = b64::decode(body, "legacy ciphertext is not base64")?;
    let (iv, ciphertext) =
        bytes.split_at_checked(16).ok_or(Error::BadEnvelope("legacy ciphertext shorter than its 16-byte iv"))?;
    select_key(keys, kid)?.decrypt(iv, ciphertext.to_vec())
}

fn check_size(text: &str) -> Result<()> {
    if text.len() > MAX_CIPHERTEXT_B64 {
        return Err(Error::TooLarge("ciphertext over 64 MiB of base64"));
    }
    Ok(())
}

/// The text a decrypted payload reads as: invalid UTF-8 becomes U+FFFD, as in the browser's
/// `TextDecoder`. Valid UTF-8 (the usual case) moves into the string without a copy, and the
/// zeroizing wrapper travels with it.
///
/// The lossy copy is allocated once at its exact length and filled in place: a growing
/// `String` would leave freed, unzeroized pieces of the plaintext behind each reallocation.
pub fn into_text(mut plaintext: Zeroizing<Vec<u8>>) -> Zeroizing<String> {
    let bytes = std::mem::take(&mut *plaintext);
    match String::from_utf8(bytes) {
        Ok(text) => Zeroizing::new(text),
        Err(error) => {
            // Wrapped first, so the original bytes are zeroized whatever happens next.
            let original = Zeroizing::new(error.into_bytes());
            let length: usize = original
                .utf8_chunks()
                .map(|chunk| chunk.valid().len() + if chunk.invalid().is_empty() { 0 } else { REPLACEMENT_BYTES })
                .sum();
            let mut text = Zeroizing::new(String::with_capacity(length));
            for chunk in original.utf8_chunks() {
                text.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    text.push(char::REPLACEMENT_CHARACTER);
                }
            }
            text
        }
    }
}

/// UTF-8 length of U+FFFD.
const REPLACEMENT_BYTES: usize = 3;

/// The key named by `kid`, else the current key (the first).
pub fn select_key<'k>(keys: &[&'k RoomKey], kid: &str) -> Result<&'k RoomKey> {
    keys.iter().find(|key| key.kid() == kid).or_else(|| keys.first()).copied().ok_or(Error::UnknownKid)
}

/// Encrypts a payload (the UTF-8 of its EJSON text) as a v2 envelope under `key`.
///
/// A legacy `A128CBC` key is refused with [`Error::UnsupportedAlgorithm`]: it only decrypts.
pub fn encrypt_content(key: &RoomKey, plaintext: &[u8]) -> Result<EncryptedContent> {
    if key.algorithm() == RoomKeyAlgorithm::A128Cbc {
        return Err(CBC_ONLY_DECRYPTS);
    }
    if key.kid().is_empty() {
        // Receivers reject a v2 envelope with an empty kid, so this would be unreadable.
        return Err(Error::BadKey("room key has an empty kid"));
    }
    if plaintext.len() > MAX_CIPHERTEXT_B64 / 4 * 3 - 32 {
        return Err(Error::TooLarge("payload over 48 MiB"));
    }
    let (iv, ciphertext) = key.encrypt(plaintext)?;
    Ok(EncryptedContent {
        algorithm: ALGORITHM_V2,
        kid: key.kid().to_owned(),
        iv: b64::encode(&iv),
        ciphertext: b64::encode(&ciphertext),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gcm_key(kid: &str, byte: u8) -> RoomKey {
        let jwk = crate::jwk::OctJwk::to_json("A256GCM", &[byte; 32]);
        RoomKey::from_jwk(&jwk, kid).unwrap()
    }

    #[test]
    fn picks_named_key_else_current() {
        let (current, old) = (gcm_key("current", 1), gcm_key("old", 2));
        let ring = [&current, &old];
        let sealed = encrypt_content(&old, b"{}").unwrap();
        let content = ContentRef::v2(&sealed.kid, &sealed.iv, &sealed.ciphertext);
        assert_eq!(decrypt_content(&ring, &content).unwrap().as_slice(), b"{}");
        // Unknown kid: falls back to the current key, which did not seal it.
        let unknown = ContentRef::v2("nope", &sealed.iv, &sealed.ciphertext);
        assert_eq!(decrypt_content(&ring, &unknown), Err(Error::DecryptFailed));
        assert_eq!(decrypt_content(&[], &content), Err(Error::UnknownKid));
    }

    fn cbc_key(kid: &str) -> RoomKey {
        RoomKey::from_jwk(&crate::jwk::OctJwk::to_json("A128CBC", &[5u8; 16]), kid).unwrap()
    }

    #[test]
    fn finding_5_a_cbc_key_never_writes() {
        let legacy = cbc_key("0123456789ab");
        let refused = encrypt_content(&legacy, b"{\"msg\":\"x\"}").unwrap_err();
        assert_eq!(refused, CBC_ONLY_DECRYPTS);
        assert_eq!(refused.code(), "E2EE_UNSUPPORTED_ALGORITHM");
        assert_eq!(refused.to_string(), "unsupported algorithm: a legacy A128CBC room key only decrypts");
    }

    /// `iv ‖ AES-128-CBC(blocks)` under `cbc_key`, with no padding added: the caller chooses it.
    fn raw_cbc(blocks: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
        let iv = [9u8; 16];
        let ct = cbc::Encryptor::<aes::Aes128>::new(&[5u8; 16].into(), &iv.into())
            .encrypt_padded_vec_mut::<NoPadding>(blocks);
        (iv.to_vec(), ct)
    }

    #[test]
    fn finding_5_cbc_padding_and_payload_failures_are_one_error() {
        let key = cbc_key("0123456789ab");
        let mut padded_garbage = b"not a JSON object".to_vec();
        padded_garbage.extend([15u8; 15]);
        let mut padded_array = b"[\"an array\"]".to_vec();
        padded_array.extend([4u8; 4]);
        let cases = [
            raw_cbc(&[0u8; 32]), // last byte 0: broken padding
            raw_cbc(
                &[[1u8; 16], [5u8; 16]]
                    .map(|mut b| {
                        b[15] = 2;
                        b
                    })
                    .concat(),
            ), // padding bytes disagree
            raw_cbc(&padded_garbage), // valid padding, payload not JSON
            raw_cbc(&padded_array), // valid padding, JSON but not an object
        ];
        let mut seen = Vec::new();
        for (iv, ct) in &cases {
            let direct = key.decrypt(iv, ct.clone()).unwrap_err();
            let (iv64, ct64) = (b64::encode(iv), b64::encode(ct));
            let v2_label = decrypt_content(&[&key], &ContentRef::v2(key.kid(), &iv64, &ct64)).unwrap_err();
            let v1 = decrypt_v1(&[&key], &format!("{}{}", key.kid(), b64::encode(&[iv.as_slice(), ct].concat())))
                .unwrap_err();
            for error in [direct, v2_label, v1] {
                seen.push((error.code(), error.to_string()));
            }
        }
        assert!(seen.iter().all(|e| e == &("E2EE_DECRYPT_FAILED", "decryption failed".to_owned())), "{seen:?}");
        // And a good one still opens.
        let mut good = b"{\"msg\":\"ok\"}".to_vec();
        good.extend([4u8; 4]);
        let (iv, ct) = raw_cbc(&good);
        assert_eq!(key.decrypt(&iv, ct).unwrap().as_slice(), b"{\"msg\":\"ok\"}");
    }

    #[test]
    fn finding_5_lossy_utf8_copy_is_allocated_once() {
        let bytes = b"{\"msg\":\"caf\xc3\xa9 \xff\xfe bad \xe2\x82\"}".to_vec();
        let text = into_text(Zeroizing::new(bytes.clone()));
        assert_eq!(text.as_str(), String::from_utf8_lossy(&bytes));
        assert_eq!(text.capacity(), text.len(), "grown, not allocated at its length");
        let valid = into_text(Zeroizing::new(b"{}".to_vec()));
        assert_eq!(valid.as_str(), "{}");
    }

    #[test]
    fn the_sync_bound_is_256_kib_decoded_and_encrypt_matches_decrypt() {
        // 256 KiB decoded, rounded up to a whole base64 quantum.
        assert_eq!(MAX_SYNC_CIPHERTEXT_B64 / 4 * 3, 256 * 1024 + 2);
        let refusal = "ciphertext over 256 KiB: use decryptContentAsync";
        assert_eq!(check_sync_ciphertext(MAX_SYNC_CIPHERTEXT_B64, refusal), Ok(()));
        let refused = check_sync_ciphertext(MAX_SYNC_CIPHERTEXT_B64 + 1, refusal).unwrap_err();
        assert_eq!(refused.code(), "E2EE_TOO_LARGE");
        assert_eq!(refused.to_string(), "input too large: ciphertext over 256 KiB: use decryptContentAsync");
        // The largest payload a sync encrypt takes seals to a ciphertext a sync decrypt takes.
        let key = gcm_key("k", 3);
        let largest = encrypt_content(&key, &vec![b'x'; MAX_SYNC_PAYLOAD_BYTES]).unwrap();
        assert_eq!(largest.ciphertext.len(), MAX_SYNC_CIPHERTEXT_B64);
        let one_more = encrypt_content(&key, &vec![b'x'; MAX_SYNC_PAYLOAD_BYTES + 1]).unwrap();
        assert!(one_more.ciphertext.len() > MAX_SYNC_CIPHERTEXT_B64);
        assert_eq!(check_sync_payload(MAX_SYNC_PAYLOAD_BYTES, refusal), Ok(()));
        assert!(check_sync_payload(MAX_SYNC_PAYLOAD_BYTES + 1, refusal).is_err());
        let content = ContentRef::v2("k", &largest.iv, &largest.ciphertext);
        assert_eq!(content.ciphertext_chars(), MAX_SYNC_CIPHERTEXT_B64);
        let message = crate::message::MessageRef {
            t: Some("e2e"),
            msg: Some("short"),
            content: Some(ContentRef::default()),
            pinned_content: Some(content),
        };
        assert_eq!(message.ciphertext_chars(), MAX_SYNC_CIPHERTEXT_B64);
    }

    #[test]
    fn finding_5_huge_iv_is_too_large() {
        let key = gcm_key("k", 1);
        let iv = "A".repeat(MAX_IV_B64 + 4);
        assert_eq!(decrypt_content(&[&key], &ContentRef::v2("k", &iv, "AAAA")).unwrap_err().code(), "E2EE_TOO_LARGE");
    }

    proptest! {
        #[test]
        fn v2_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let key = gcm_key("k", 9);
            let sealed = encrypt_content(&key, &payload).unwrap();
            let content = ContentRef::v2(&sealed.kid, &sealed.iv, &sealed.ciphertext);
            let opened = decrypt_content(&[&key], &content).unwrap();
            prop_assert_eq!(opened.as_slice(), payload.as_slice());
        }

        #[test]
        fn parsers_never_panic(algorithm in ".{0,20}", kid in ".{0,40}", iv in ".{0,40}", ct in ".{0,200}") {
            let key = gcm_key("k", 9);
            let content = ContentRef { algorithm: Some(&algorithm), kid: Some(&kid), iv: Some(&iv), ciphertext: Some(&ct) };
            let _ = decrypt_content(&[&key], &content);
            let _ = decrypt_v1(&[&key], &ct);
        }

        #[test]
        fn tampering_is_always_detected(payload in proptest::collection::vec(any::<u8>(), 1..256), flip in any::<usize>()) {
            let key = gcm_key("k", 9);
            let (iv, mut ct) = key.encrypt(&payload).unwrap();
            let index = flip % ct.len();
            ct[index] ^= 1;
            prop_assert_eq!(key.decrypt(&iv, ct), Err(Error::DecryptFailed));
        }
    }
}
