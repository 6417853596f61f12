//! Room (group) keys and the per-member `E2EKey` string that carries them.
//!
//! A room key is AES-GCM-256 (`A256GCM`) today, AES-CBC-128 (`A128CBC`) in legacy rooms. Its
//! kid is only a label chosen by whoever created the key (a UUID now, 12 hex characters in
//! legacy rooms); receivers never recompute it. `E2EKey` = kid + base64 of the RSA-OAEP
//! encryption of the key's JWK JSON; the kid is everything but the last 344 characters.

use std::fmt;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::jwk::OctJwk;
use crate::rsa::MODULUS_BYTES;
use crate::{b64, latin1, random, Error, Result, RsaPrivateKey, RsaPublicKey};

/// Base64 length of one 256-byte RSA block: the fixed tail of every `E2EKey`.
pub const E2E_KEY_BODY_CHARS: usize = 344;
/// Kids are labels; anything longer than this is not one Rocket.Chat wrote.
pub const MAX_KID_BYTES: usize = 256;
const GCM_TAG_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKeyAlgorithm {
    /// AES-GCM-256, 12-byte IV, tag appended: every key made by a current client.
    A256Gcm,
    /// AES-CBC-128, 16-byte IV, PKCS#7: legacy rooms.
    A128Cbc,
}

impl RoomKeyAlgorithm {
    pub fn jwk_alg(self) -> &'static str {
        match self {
            RoomKeyAlgorithm::A256Gcm => "A256GCM",
            RoomKeyAlgorithm::A128Cbc => "A128CBC",
        }
    }

    fn from_jwk_alg(alg: &str) -> Result<Self> {
        match alg {
            "A256GCM" => Ok(RoomKeyAlgorithm::A256Gcm),
            "A128CBC" => Ok(RoomKeyAlgorithm::A128Cbc),
            _ => Err(Error::UnsupportedAlgorithm("room key alg must be A256GCM or A128CBC")),
        }
    }

    fn key_len(self) -> usize {
        match self {
            RoomKeyAlgorithm::A256Gcm => 32,
            RoomKeyAlgorithm::A128Cbc => 16,
        }
    }

    /// IV length this key's cipher takes; the wire IV must match it.
    pub fn iv_len(self) -> usize {
        match self {
            RoomKeyAlgorithm::A256Gcm => 12,
            RoomKeyAlgorithm::A128Cbc => 16,
        }
    }
}

enum Cipher {
    // The expanded key is kept so each message costs only the cipher itself; aws-lc cleanses
    // its allocations when they are freed.
    Gcm(LessSafeKey),
    Cbc,
}

/// A room key with its kid. Cloning is cheap to avoid in callers: share it behind an `Arc`.
pub struct RoomKey {
    kid: String,
    algorithm: RoomKeyAlgorithm,
    secret: Zeroizing<Vec<u8>>,
    cipher: Cipher,
}

impl RoomKey {
    /// A new AES-GCM-256 key with a fresh UUID kid, as the current client makes on room creation
    /// or reset.
    pub fn generate() -> Result<Self> {
        let mut secret = Zeroizing::new(vec![0u8; 32]);
        random::key_bytes(&mut secret);
        Self::new(uuid::Uuid::new_v4().to_string(), RoomKeyAlgorithm::A256Gcm, secret)
    }

    /// Imports a room-key JWK (`A256GCM` or `A128CBC`) under the given kid.
    pub fn from_jwk(jwk_json: &str, kid: &str) -> Result<Self> {
        let (alg, secret) = OctJwk::parse(jwk_json)?;
        Self::new(kid.to_owned(), RoomKeyAlgorithm::from_jwk_alg(&alg)?, secret)
    }

    fn new(kid: String, algorithm: RoomKeyAlgorithm, secret: Zeroizing<Vec<u8>>) -> Result<Self> {
        if kid.len() > MAX_KID_BYTES {
            return Err(Error::BadKey("kid longer than 256 bytes"));
        }
        if secret.len() != algorithm.key_len() {
            return Err(Error::BadKey("room key has the wrong length for its alg"));
        }
        let cipher = match algorithm {
            RoomKeyAlgorithm::A256Gcm => Cipher::Gcm(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &secret).map_err(|_| Error::Internal("AES key"))?,
            )),
            RoomKeyAlgorithm::A128Cbc => Cipher::Cbc,
        };
        Ok(Self { kid, algorithm, secret, cipher })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> RoomKeyAlgorithm {
        self.algorithm
    }

    /// A one-way digest of the algorithm and key bytes, domain-separated: tells two keys under
    /// one kid apart without keeping either key (a key store remembers which key it accepted
    /// for a kid after the key itself left its cache). Reveals nothing usable about the key.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        context.update(b"rc-e2ee/room-key-fingerprint/v1\0");
        context.update(self.algorithm.jwk_alg().as_bytes());
        context.update(b"\0");
        context.update(&self.secret);
        let digest = context.finish();
        let mut out = [0u8; 32];
        for (byte, digest_byte) in out.iter_mut().zip(digest.as_ref()) {
            *byte = *digest_byte;
        }
        out
    }

    /// The JWK JSON that `E2EKey` wraps (Chrome member order).
    fn to_jwk_json(&self) -> Zeroizing<String> {
        OctJwk::to_json(self.algorithm.jwk_alg(), &self.secret)
    }

    /// Decrypts one message body with this key's cipher. Every failure, a wrong IV length
    /// included, is [`Error::DecryptFailed`], as in the web client.
    ///
    /// CBC is not authenticated, so telling a bad padding from a bad payload would be a padding
    /// oracle for whoever can inject ciphertext and read the app's errors. A CBC key therefore
    /// only yields a plaintext that is a JSON object (every legacy payload is one), and a broken
    /// padding, a payload that is not a JSON object and a wrong key all give the one
    /// [`Error::DecryptFailed`], same code and same text. (Timing still differs by one JSON
    /// check, which stops at the first byte for the garbage a bit flip produces.)
    pub fn decrypt(&self, iv: &[u8], ciphertext: Vec<u8>) -> Result<Zeroizing<Vec<u8>>> {
        let mut buffer = Zeroizing::new(ciphertext);
        match &self.cipher {
            Cipher::Gcm(key) => {
                if buffer.len() < GCM_TAG_BYTES {
                    return Err(Error::DecryptFailed);
                }
                let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::DecryptFailed)?;
                let len = key.open_in_place(nonce, Aad::empty(), &mut buffer).map_err(|_| Error::DecryptFailed)?.len();
                buffer.truncate(len);
            }
            Cipher::Cbc => {
                let iv: [u8; 16] = iv.try_into().map_err(|_| Error::DecryptFailed)?;
                let key: [u8; 16] = self.secret.as_slice().try_into().map_err(|_| Error::Internal("CBC key"))?;
                let key = Zeroizing::new(key);
                let len = cbc::Decryptor::<aes::Aes128>::new(key.as_ref().into(), &iv.into())
                    .decrypt_padded_mut::<Pkcs7>(&mut buffer)
                    .map_err(|_| Error::DecryptFailed)?
                    .len();
                buffer.truncate(len);
                crate::message::ensure_object(&buffer).map_err(|_| Error::DecryptFailed)?;
            }
        }
        Ok(buffer)
    }

    /// Encrypts with a fresh random IV of the right length; returns (iv, ciphertext).
    ///
    /// Content writers use [`crate::encrypt_content`], which refuses a CBC key; the CBC branch
    /// exists only to make legacy test vectors.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        match &self.cipher {
            Cipher::Gcm(key) => {
                let iv: [u8; 12] = random::iv();
                let mut buffer = Vec::with_capacity(plaintext.len() + GCM_TAG_BYTES);
                buffer.extend_from_slice(plaintext);
                key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut buffer)
                    .map_err(|_| Error::Internal("AES-GCM seal"))?;
                Ok((iv.to_vec(), buffer))
            }
            Cipher::Cbc => {
                let iv: [u8; 16] = random::iv();
                let key: [u8; 16] = self.secret.as_slice().try_into().map_err(|_| Error::Internal("CBC key"))?;
                let key = Zeroizing::new(key);
                let ciphertext = cbc::Encryptor::<aes::Aes128>::new(key.as_ref().into(), &iv.into())
                    .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
                Ok((iv.to_vec(), ciphertext))
            }
        }
    }
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// Opens an `E2EKey` (or `E2ESuggestedKey`, or an old key's `E2EKey`) with the member's
/// private key. The kid is the prefix before the last 344 characters.
pub fn unwrap_room_key(private_key: &RsaPrivateKey, e2e_key: &str) -> Result<RoomKey> {
    unwrap_room_key_with(e2e_key, |ciphertext| private_key.decrypt_oaep(ciphertext))
}

/// [`unwrap_room_key`] with the RSA-OAEP-SHA256 decryption done by `decrypt`: for a private key
/// that is not in this process (a PKCS#11 token's `C_Decrypt`). The `E2EKey` is parsed and
/// checked here, so `decrypt` only ever sees one 256-byte block.
pub fn unwrap_room_key_with<E: From<Error>>(
    e2e_key: &str,
    decrypt: impl FnOnce(&[u8]) -> Result<Zeroizing<Vec<u8>>, E>,
) -> Result<RoomKey, E> {
    let split =
        e2e_key.len().checked_sub(E2E_KEY_BODY_CHARS).ok_or(Error::BadKey("E2EKey shorter than 344 characters"))?;
    if split > MAX_KID_BYTES {
        // Refused before the RSA operation: RoomKey::new would refuse this kid anyway.
        return Err(Error::BadKey("kid longer than 256 bytes").into());
    }
    let (kid, body) = e2e_key
        .split_at_checked(split)
        .filter(|(_, body)| body.is_ascii())
        .ok_or(Error::BadKey("E2EKey does not end in 344 base64 characters"))?;
    let ciphertext =
        b64::decode(body, "E2EKey body is not base64").map_err(|_| Error::BadKey("E2EKey body is not base64"))?;
    if ciphertext.len() != MODULUS_BYTES {
        return Err(Error::BadKey("E2EKey body is not one 256-byte RSA block").into());
    }
    let plaintext = decrypt(&ciphertext)?;
    Ok(RoomKey::from_jwk(&latin1::decode(&plaintext), kid)?)
}

/// Wraps a room key for one member: what goes into their `E2EKey` / `E2ESuggestedKey`.
pub fn wrap_room_key(room_key: &RoomKey, public_key: &RsaPublicKey) -> Result<String> {
    let jwk = room_key.to_jwk_json();
    let ciphertext = public_key.encrypt_oaep(jwk.as_bytes())?;
    let mut out = String::with_capacity(room_key.kid.len() + E2E_KEY_BODY_CHARS);
    out.push_str(&room_key.kid);
    out.push_str(&b64::encode(&ciphertext));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_round_trip_keeps_kid_and_key() {
        let member = RsaPrivateKey::generate().unwrap();
        let key = RoomKey::generate().unwrap();
        let wrapped = wrap_room_key(&key, member.public_key()).unwrap();
        assert_eq!(wrapped.len(), 36 + E2E_KEY_BODY_CHARS);
        let opened = unwrap_room_key(&member, &wrapped).unwrap();
        assert_eq!(opened.kid(), key.kid());
        let (iv, ct) = key.encrypt(b"{\"msg\":\"x\"}").unwrap();
        assert_eq!(opened.decrypt(&iv, ct).unwrap().as_slice(), b"{\"msg\":\"x\"}");
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(matches!(RoomKey::from_jwk(r#"{"kty":"oct","alg":"A256GCM","k":"AAAA"}"#, "k"), Err(Error::BadKey(_))));
        assert!(matches!(
            RoomKey::from_jwk(r#"{"kty":"oct","alg":"A256CTR","k":"AAAA"}"#, "k"),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        let member = RsaPrivateKey::generate().unwrap();
        assert!(matches!(unwrap_room_key(&member, "short"), Err(Error::BadKey(_))));
        let long_kid = format!("{}{}", "k".repeat(MAX_KID_BYTES + 1), "A".repeat(E2E_KEY_BODY_CHARS));
        assert_eq!(unwrap_room_key(&member, &long_kid).unwrap_err(), Error::BadKey("kid longer than 256 bytes"));
        let not_rsa = format!("kid{}==", "A".repeat(342));
        assert_eq!(unwrap_room_key(&member, &not_rsa).unwrap_err(), Error::DecryptFailed);
    }
}
