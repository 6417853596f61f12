//! [`SealedCustody`]: the KEK in process memory (from base64 or a mounted secret file),
//! AES-256-GCM with a random 96-bit nonce per seal. The software custody, and the baseline: whoever
//! reads the process or the secret file can unseal every identity.

use std::path::Path;

use aws_lc_rs::aead::{Aad, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{KeyCustody, Sealed, GCM_TAG_BYTES};
use crate::{Error, Result};

const KEK_ID_DOMAIN: &[u8] = b"rc-e2ee/kek-id/v1\0";
const KEK_BYTES: usize = 32;

/// AES-256-GCM under a KEK held in memory, read from base64 or from a mounted secret file.
pub struct SealedCustody {
    kek_id: String,
    key: RandomizedNonceKey,
}

impl SealedCustody {
    /// A KEK given as standard base64 of exactly 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::BadKek("no key-encryption key given"));
        }
        let bytes = Zeroizing::new(STANDARD.decode(text).map_err(|_| Error::BadKek("KEK is not base64"))?);
        Self::from_bytes(&bytes)
    }

    /// A KEK read from a file holding its base64 (a mounted secret).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path.as_ref()).map_err(|_| Error::BadKek("KEK file cannot be read"))?,
        );
        Self::from_base64(&text)
    }

    /// The KEK from exactly one of `kek` (base64) or `kek_file`, as `AppKeyStore.open` takes
    /// them; neither or both is an error, never a fallback.
    pub fn from_config(kek: Option<&str>, kek_file: Option<&Path>) -> Result<Self> {
        match (kek, kek_file) {
            (Some(kek), None) => Self::from_base64(kek),
            (None, Some(path)) => Self::from_file(path),
            (None, None) => Err(Error::BadKek("no key-encryption key given (kek or kekFile)")),
            (Some(_), Some(_)) => Err(Error::BadKek("give kek or kekFile, not both")),
        }
    }

    /// A fresh random KEK in base64, for setup tooling and tests.
    pub fn generate_kek() -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; KEK_BYTES]);
        rc_e2ee_core::random::key_bytes(bytes.as_mut());
        Zeroizing::new(STANDARD.encode(bytes.as_ref()))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != KEK_BYTES {
            return Err(Error::BadKek("KEK must be exactly 32 bytes"));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| Error::BadKek("KEK rejected"))?;
        let mut input = Zeroizing::new(Vec::with_capacity(KEK_ID_DOMAIN.len() + KEK_BYTES));
        input.extend_from_slice(KEK_ID_DOMAIN);
        input.extend_from_slice(bytes);
        let hash = digest(&SHA256, &input);
        let kek_id = hash.as_ref().iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        Ok(Self { kek_id, key })
    }
}

impl KeyCustody for SealedCustody {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + GCM_TAG_BYTES));
        buffer.extend_from_slice(plaintext);
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut *buffer)
            .map_err(|_| Error::Core(rc_e2ee_core::Error::Internal("AES-GCM seal")))?;
        Ok(Sealed { kek_id: self.kek_id.clone(), nonce: nonce.as_ref().to_vec(), ciphertext: buffer.to_vec() })
    }

    fn unseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.kek_id != self.kek_id {
            return Err(Error::BadKek("sealed under another key-encryption key"));
        }
        let nonce: [u8; NONCE_LEN] =
            sealed.nonce.as_slice().try_into().map_err(|_| Error::BadKek("sealed key does not open"))?;
        let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
        let len = self
            .key
            .open_in_place(aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buffer)
            .map_err(|_| Error::BadKek("sealed key does not open (wrong KEK, app id or key version)"))?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

impl std::fmt::Debug for SealedCustody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCustody").field("kek_id", &self.kek_id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::identity_aad;

    #[test]
    fn seals_and_binds_aad_and_kek() {
        let kek = SealedCustody::generate_kek();
        let custody = SealedCustody::from_base64(&kek).unwrap();
        assert_eq!(custody.kek_id().len(), 16);
        let sealed = custody.seal(b"secret", &identity_aad("app", 1)).unwrap();
        assert_eq!(sealed.nonce.len(), 12);
        assert_eq!(custody.unseal(&sealed, &identity_aad("app", 1)).unwrap().as_slice(), b"secret");
        let err = |r: Result<Zeroizing<Vec<u8>>>| r.unwrap_err().code();
        assert_eq!(err(custody.unseal(&sealed, &identity_aad("other", 1))), "KEYSTORE_BAD_KEK");
        assert_eq!(err(custody.unseal(&sealed, &identity_aad("app", 2))), "KEYSTORE_BAD_KEK");
        let other = SealedCustody::from_base64(&SealedCustody::generate_kek()).unwrap();
        assert_ne!(other.kek_id(), custody.kek_id());
        assert_eq!(err(other.unseal(&sealed, &identity_aad("app", 1))), "KEYSTORE_BAD_KEK");
        // Same id claimed, other key: the tag still refuses.
        let forged = Sealed { kek_id: other.kek_id().to_owned(), ..sealed.clone() };
        assert_eq!(err(other.unseal(&forged, &identity_aad("app", 1))), "KEYSTORE_BAD_KEK");
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(err(custody.unseal(&flipped, &identity_aad("app", 1))), "KEYSTORE_BAD_KEK");
    }

    #[test]
    fn refuses_bad_keks() {
        for bad in ["", "   ", "not base64!", "AAAA", &STANDARD.encode([0u8; 31]), &STANDARD.encode([0u8; 33])] {
            assert_eq!(SealedCustody::from_base64(bad).unwrap_err().code(), "KEYSTORE_BAD_KEK", "{bad:?}");
        }
        assert_eq!(SealedCustody::from_config(None, None).unwrap_err().code(), "KEYSTORE_BAD_KEK");
        let kek = SealedCustody::generate_kek();
        let path = Path::new("/nonexistent/kek");
        assert_eq!(SealedCustody::from_config(Some(&kek), Some(path)).unwrap_err().code(), "KEYSTORE_BAD_KEK");
        assert_eq!(SealedCustody::from_file(path).unwrap_err().code(), "KEYSTORE_BAD_KEK");
        let a = SealedCustody::from_base64(&format!("  {}\n", kek.as_str())).unwrap();
        let b = SealedCustody::from_base64(&kek).unwrap();
        assert_eq!(a.kek_id(), b.kek_id());
        assert!(!format!("{a:?}").contains(kek.as_str()));
    }
}
