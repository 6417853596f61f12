//! The password-wrapped private key stored in `users.e2e.private_key` (Rocket.Chat's client
//! names this module `keychain`; it holds one blob, not a keychain).
//!
//! Current ("v2") blob: `{"iv","ciphertext","salt","iterations"}`, PBKDF2-SHA256 over the
//! latin1 password and salt `v2:<userId>:<uuid>`, AES-256-GCM. Legacy ("v1") blob:
//! `{"$binary": b64(iv16 ‖ AES-256-CBC)}`, PBKDF2 with 1000 iterations and the user id as
//! salt. Like the web client we choose the cipher from the decoded IV length (16 = CBC).

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{b64, latin1, random, Error, Result, RsaPrivateKey};

/// Iterations the current client uses when it wraps.
pub const V2_ITERATIONS: u32 = 100_000;
/// Iterations of the legacy format (fixed, not stored).
pub const V1_ITERATIONS: u32 = 1_000;
/// Largest stored iteration count accepted: 1,000,000, ten times what the current client
/// writes. Rocket.Chat does not bound the stored count; we do, so one hostile blob cannot hold
/// a libuv worker for seconds (1,000,000 take about 0.16 s here). A blob over the cap
/// is [`Error::BadKey`] with a fixed message, refused before any key derivation.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Largest blob, password or user id accepted (64 KiB); a real blob is about 2.4 KB.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

const WRONG_PASSWORD: Error = Error::BadPassword("wrong password or corrupted private key");
const NOT_LATIN1: Error = Error::BadPassword("password has a character above U+00FF, which Rocket.Chat cannot encode");
const BAD_FORMAT: Error = Error::BadKey("invalid private key format");
const BAD_ITERATIONS: Error = Error::BadKey("private key blob has an unusable iteration count");

/// PBKDF2-HMAC-SHA256 to a 256-bit key.
pub fn derive_key(password: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, key.as_mut_slice());
    key
}

/// Opens a stored blob (either version) with the user's password.
pub fn unwrap_private_key(blob: &str, password: &str, user_id: &str) -> Result<RsaPrivateKey> {
    check_sizes(&[blob, password, user_id])?;
    let password = latin1::encode(password).ok_or(NOT_LATIN1)?;
    let parsed: Value = serde_json::from_str(blob).map_err(|_| BAD_FORMAT)?;
    let object = parsed.as_object().ok_or(BAD_FORMAT)?;

    let plaintext = if let Some(Value::String(binary)) = object.get("$binary") {
        let bytes = b64::decode(binary, "legacy private key is not base64")?;
        let (iv, ciphertext) = bytes.split_at_checked(16).ok_or(WRONG_PASSWORD)?;
        let salt = latin1::encode(user_id).ok_or(Error::BadInput("user id has a character above U+00FF"))?;
        open(&derive_key(&password, &salt, V1_ITERATIONS), iv, ciphertext)?
    } else {
        let field = |name| object.get(name).and_then(Value::as_str).ok_or(BAD_FORMAT);
        let (iv, ciphertext, salt) = (field("iv")?, field("ciphertext")?, field("salt")?);
        let iterations = parse_iterations(object.get("iterations"))?;
        let salt = latin1::encode(salt).ok_or(Error::BadKey("private key salt is not latin1"))?;
        let key = derive_key(&password, &salt, iterations);
        let iv = b64::decode(iv, "private key iv is not base64")?;
        let ciphertext = b64::decode(ciphertext, "private key ciphertext is not base64")?;
        open(&key, &iv, &ciphertext)?
    };

    // A CBC blob has no authentication: a wrong password can slip past the padding check and
    // yield garbage, which must read as a wrong password too, not as a bad key.
    let json = latin1::decode(&plaintext);
    RsaPrivateKey::from_jwk(&json).map_err(|_| WRONG_PASSWORD)
}

/// The stored `iterations` member: a whole number from 1 to [`MAX_ITERATIONS`].
pub fn parse_iterations(value: Option<&Value>) -> Result<u32> {
    let iterations = value.ok_or(BAD_FORMAT)?;
    let iterations = iterations.as_f64().ok_or(BAD_FORMAT)?;
    if !(1.0..=f64::from(MAX_ITERATIONS)).contains(&iterations) || iterations.fract() != 0.0 {
        return Err(BAD_ITERATIONS);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range-checked above
    Ok(iterations as u32)
}

fn check_sizes(texts: &[&str]) -> Result<()> {
    if texts.iter().any(|text| text.len() > MAX_TEXT_BYTES) {
        return Err(Error::TooLarge("private key blob, password or user id over 64 KiB"));
    }
    Ok(())
}

fn open(key: &[u8; 32], iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    if iv.len() == 16 {
        let iv: [u8; 16] = iv.try_into().map_err(|_| WRONG_PASSWORD)?;
        let len = cbc::Decryptor::<aes::Aes256>::new(key.into(), &iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .map_err(|_| WRONG_PASSWORD)?
            .len();
        buffer.truncate(len);
    } else {
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| WRONG_PASSWORD)?;
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Internal("AES key"))?);
        let len = aead.open_in_place(nonce, Aad::empty(), &mut buffer).map_err(|_| WRONG_PASSWORD)?.len();
        buffer.truncate(len);
    }
    Ok(buffer)
}

/// Wraps `key` the way the current client does on a password change: fresh salt
/// `v2:<userId>:<uuid v4>`, 100 000 iterations, AES-256-GCM with a random 12-byte IV.
pub fn wrap_private_key(key: &RsaPrivateKey, password: &str, user_id: &str) -> Result<String> {
    check_sizes(&[password, user_id])?;
    let password = latin1::encode(password).ok_or(NOT_LATIN1)?;
    if user_id.is_empty() {
        return Err(Error::BadInput("user id is empty"));
    }
    let salt = format!("v2:{user_id}:{}", uuid::Uuid::new_v4());
    let salt_bytes = latin1::encode(&salt).ok_or(Error::BadInput("user id has a character above U+00FF"))?;
    let derived = derive_key(&password, &salt_bytes, V2_ITERATIONS);

    let jwk = key.to_jwk_json()?;
    // The JWK is ASCII, so its UTF-8 bytes are its latin1 bytes.
    let mut buffer = Zeroizing::new(jwk.as_bytes().to_vec());
    let iv: [u8; 12] = random::iv();
    let aead =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, derived.as_slice()).map_err(|_| Error::Internal("AES key"))?);
    aead.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut *buffer)
        .map_err(|_| Error::Internal("AES-GCM seal"))?;

    let salt_json = serde_json::to_string(&salt).map_err(|_| Error::Internal("JSON"))?;
    Ok(format!(
        "{{\"iv\":\"{}\",\"ciphertext\":\"{}\",\"salt\":{salt_json},\"iterations\":{V2_ITERATIONS}}}",
        b64::encode(&iv),
        b64::encode(&buffer)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::block_padding::NoPadding;
    use aes::cipher::BlockEncryptMut;

    #[test]
    fn finding_5_iterations_capped_at_one_million() {
        let count = |n: f64| parse_iterations(Some(&serde_json::json!(n)));
        assert_eq!(count(1_000_000.0), Ok(1_000_000));
        assert_eq!(count(1.0), Ok(1));
        assert_eq!(count(1_000_001.0), Err(BAD_ITERATIONS));
        assert_eq!(count(10_000_000.0), Err(BAD_ITERATIONS));
        assert_eq!(count(0.0), Err(BAD_ITERATIONS));
        assert_eq!(count(1.5), Err(BAD_ITERATIONS));
        assert_eq!(parse_iterations(Some(&serde_json::json!("100000"))), Err(BAD_FORMAT));
        assert_eq!(parse_iterations(None), Err(BAD_FORMAT));
        // Through the whole parser, refused before any derivation, with one fixed text.
        let blob = |n: u32| serde_json::json!({ "iv": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAA", "salt": "s", "iterations": n });
        let over = unwrap_private_key(&blob(MAX_ITERATIONS + 1).to_string(), "p", "u").unwrap_err();
        assert_eq!(over, BAD_ITERATIONS);
        assert_eq!(over.code(), "E2EE_BAD_KEY");
        assert_eq!(over.to_string(), "invalid key: private key blob has an unusable iteration count");
    }

    #[test]
    fn finding_5_huge_blob_password_or_user_id_is_too_large() {
        let huge = "A".repeat(MAX_TEXT_BYTES + 1);
        for (blob, password, user) in
            [(huge.as_str(), "p", "u"), ("{}", huge.as_str(), "u"), ("{}", "p", huge.as_str())]
        {
            assert_eq!(unwrap_private_key(blob, password, user).unwrap_err().code(), "E2EE_TOO_LARGE");
        }
        let key = RsaPrivateKey::generate().unwrap();
        assert_eq!(wrap_private_key(&key, &huge, "u").unwrap_err().code(), "E2EE_TOO_LARGE");
        assert_eq!(wrap_private_key(&key, "p", &huge).unwrap_err().code(), "E2EE_TOO_LARGE");
    }

    /// A legacy `{"$binary"}` blob of `plaintext` under `password`, padded or raw.
    fn legacy_blob(password: &str, user_id: &str, plaintext: &[u8], pad: bool) -> String {
        let key = derive_key(password.as_bytes(), user_id.as_bytes(), V1_ITERATIONS);
        let iv = [7u8; 16];
        let encryptor = cbc::Encryptor::<aes::Aes256>::new(key.as_slice().into(), &iv.into());
        let ciphertext = if pad {
            encryptor.encrypt_padded_vec_mut::<Pkcs7>(plaintext)
        } else {
            encryptor.encrypt_padded_vec_mut::<NoPadding>(plaintext)
        };
        serde_json::json!({ "$binary": b64::encode(&[iv.as_slice(), &ciphertext].concat()) }).to_string()
    }

    #[test]
    fn finding_5_legacy_blob_padding_and_payload_failures_are_one_error() {
        // The last byte 0 is never valid PKCS#7 padding.
        let bad_padding = legacy_blob("pw", "user", &[0u8; 32], false);
        let bad_payload = legacy_blob("pw", "user", b"{\"kty\":\"RSA\",\"n\":\"not a key\"}", true);
        let wrong_password = legacy_blob("other", "user", b"{}", true);
        let errors: Vec<Error> = [bad_padding, bad_payload, wrong_password]
            .iter()
            .map(|blob| unwrap_private_key(blob, "pw", "user").map(|_| ()).unwrap_err())
            .collect();
        assert_eq!(errors[0], WRONG_PASSWORD);
        assert!(errors.iter().all(|e| e == &errors[0] && e.to_string() == errors[0].to_string()));
    }
}
