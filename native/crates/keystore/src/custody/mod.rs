//! Custody of the key-encryption key (KEK) that seals app private keys at rest.
//!
//! [`KeyCustody`] is the only thing the key store asks of a custody provider: seal and unseal a
//! short secret (a PKCS#8 document) with associated data. Nothing in the trait requires the KEK
//! to be exportable. Its implementations live side by side:
//! - [`sealed`]: [`SealedCustody`], the KEK in process memory (base64 or a secret file);
//! - [`pkcs11`]: [`Pkcs11Custody`], the KEK an AES-256 key in a PKCS#11 token
//!   (`CKA_EXTRACTABLE=false`, `CKA_SENSITIVE=true`), sealing and opening done by the token with
//!   `CKM_AES_GCM` and the same AAD.
//!
//! Both store the same [`Sealed`] shape, so a store moves from one to the other with
//! [`crate::AppKeyStore::rekey`]. Calls are synchronous (PKCS#11 is); the key store makes them
//! off the async runtime's worker threads. There is no plaintext fallback anywhere: no KEK, no
//! key store.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Result;

pub mod pkcs11;
pub mod sealed;
mod token;

pub use pkcs11::{Pkcs11Config, Pkcs11Custody};
pub use sealed::SealedCustody;

/// Purpose label in the AAD of a sealed identity key; a new purpose gets a new label.
pub const IDENTITY_PURPOSE: &str = "rc-e2ee/identity/v1";
pub(crate) const GCM_TAG_BYTES: usize = 16;

/// A custody provider: seals and unseals secrets under a KEK it may never reveal.
pub trait KeyCustody: Send + Sync {
    /// Stable public identifier of the KEK; stored beside every sealed blob so a KEK rotation
    /// knows which blobs still need re-sealing and which provider opens which blob.
    fn kek_id(&self) -> &str;
    /// Encrypts and authenticates `plaintext` bound to `aad`.
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed>;
    /// Opens a blob made by [`KeyCustody::seal`] with the same `aad`. A blob of another KEK,
    /// another AAD or with a flipped bit fails with [`crate::Error::BadKek`].
    fn unseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    /// What audit records name: the kind of custody and its key (object) id, never a secret.
    fn description(&self) -> String {
        format!("sealed kek_id={}", self.kek_id())
    }
}

/// A sealed secret as stored: base64 members in JSON and BSON alike.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub kek_id: String,
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed").field("kek_id", &self.kek_id).field("bytes", &self.ciphertext.len()).finish()
    }
}

/// The AAD of an app's sealed private key: purpose, app id and key version, NUL-separated, so a
/// blob copied to another app, another key version or another purpose does not open.
pub fn identity_aad(app_id: &str, key_version: i64) -> Vec<u8> {
    format!("{IDENTITY_PURPOSE}\0{app_id}\0{key_version}").into_bytes()
}

/// Serde for byte strings as standard base64, the same in the JSON file and in BSON.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(|_| serde::de::Error::custom("sealed member is not base64"))
    }
}
