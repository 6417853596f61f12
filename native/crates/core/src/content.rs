//! Message envelopes: the current `rc.v2.aes-sha2` content and the legacy `rc.v1.aes-sha2`
//! string (`kid(12) + b64(iv16 ‖ AES-CBC)`), decrypted with a key ring.
//!
//! Key choice follows the web client: the key whose kid equals the content's kid, otherwise the
//! current key. That fallback is safe because the cipher authenticates (GCM) or the padding and
//! payload checks reject (CBC): a wrong guess cannot produce a plaintext. The cipher follows the
//! chosen key's `alg`, not the label, so a v2 label on a legacy CBC key decrypts as CBC.

use zeroize::Zeroizing;

use crate::{b64, Error, Result, RoomKey};

pub const ALGORITHM_V1: &str = "rc.v1.aes-sha2";
pub const ALGORITHM_V2: &str = "rc.v2.aes-sha2";
/// Length of the kid prefix of a legacy v1 string.
pub const V1_KID_CHARS: usize = 12;
/// Largest base64 ciphertext accepted (about 48 MiB of plaintext); far above any message.
pub const MAX_CIPHERTEXT_B64: usize = 64 * 1024 * 1024;

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
pub fn into_text(mut plaintext: Zeroizing<Vec<u8>>) -> Zeroizing<String> {
    let bytes = std::mem::take(&mut *plaintext);
    Zeroizing::new(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let mut bytes = error.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            text
        }
    })
}

/// The key named by `kid`, else the current key (the first).
pub fn select_key<'k>(keys: &[&'k RoomKey], kid: &str) -> Result<&'k RoomKey> {
    keys.iter().find(|key| key.kid() == kid).or_else(|| keys.first()).copied().ok_or(Error::UnknownKid)
}

/// Encrypts a payload (the UTF-8 of its EJSON text) as a v2 envelope under `key`.
pub fn encrypt_content(key: &RoomKey, plaintext: &[u8]) -> Result<EncryptedContent> {
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
