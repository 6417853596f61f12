//! Custody of the key-encryption key (KEK) that seals app private keys at rest.
//!
//! [`KeyCustody`] is the only thing the key store asks of a custody provider: seal and unseal a
//! short secret (a PKCS#8 document) with associated data. Nothing in the trait requires the KEK
//! to be exportable. Its implementations live side by side:
//! - [`sealed`]: [`SealedCustody`], the KEK in process memory (base64 or a secret file);
//! - [`pkcs11`]: [`Pkcs11Custody`], the KEK an AES-256 key in a PKCS#11 token
//!   (`CKA_EXTRACTABLE=false`, `CKA_SENSITIVE=true`), sealing and opening done by the token with
//!   `CKM_AES_GCM` and the same AAD (PKCS#11 `kek` mode);
//! - [`pkcs11_rsa`]: [`Pkcs11RsaCustody`], each identity's RSA key pair generated in the token,
//!   non-extractable, room keys unwrapped there by `C_Decrypt` (PKCS#11 `rsa` mode).
//!
//! The first two store the same [`Sealed`] shape, so a store moves from one to the other with
//! [`crate::AppKeyStore::rekey`]; `rsa` mode stores a reference to the token's object in that
//! shape, and an identity moves into it by rotation (a key that was once in memory is not made
//! non-extractable by importing it). Calls are synchronous (PKCS#11 is); the key store makes them
//! off the async runtime's worker threads. There is no plaintext fallback anywhere: no KEK, no
//! key store.

use std::sync::Arc;

use rc_e2ee_core::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Error, Result};

pub mod pkcs11;
pub mod pkcs11_rsa;
pub mod sealed;
mod software;
mod token;

pub use pkcs11::{Pkcs11Config, Pkcs11Custody};
pub use pkcs11_rsa::Pkcs11RsaCustody;
pub use sealed::SealedCustody;
pub(crate) use software::SoftwareKey;

/// Purpose label in the AAD of a sealed identity key; a new purpose gets a new label.
pub const IDENTITY_PURPOSE: &str = "rc-e2ee/identity/v1";
pub(crate) const GCM_TAG_BYTES: usize = 16;

/// A custody provider: holds the app identities' private keys, and may never reveal them.
///
/// The key store asks it for identity keys only: create one ([`KeyCustody::create_key`]),
/// open a stored one ([`KeyCustody::open_key`]), destroy one ([`KeyCustody::destroy_key`]).
/// The provided methods are the software implementation, over [`KeyCustody::seal`] and
/// [`KeyCustody::unseal`]: an RSA key generated here, its PKCS#8 sealed under the KEK, opened
/// into zeroizing memory (sealed and PKCS#11 `kek` custody). A custody that keeps the private
/// key itself (PKCS#11 `rsa` mode) overrides all three and stores only a reference.
pub trait KeyCustody: Send + Sync {
    /// Stable public identifier of the KEK (or token); stored beside every sealed blob so a KEK
    /// rotation knows which blobs still need re-sealing and which provider opens which blob.
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
    /// What audit records name for one stored identity key: [`KeyCustody::description`], plus
    /// the token object's id where the key is one.
    fn key_description(&self, _stored: &Sealed) -> String {
        self.description()
    }
    /// Whether [`KeyCustody::seal`] works, so [`crate::AppKeyStore::rekey`] can move blobs
    /// under this custody; a custody that keeps key pairs (PKCS#11 `rsa`) takes identities by
    /// rotation instead.
    fn seals(&self) -> bool {
        true
    }
    /// A new RSA-2048 identity key bound to `aad`, and what the identity document stores for
    /// it. Slow (key generation): called off the async workers.
    fn create_key(&self, aad: &[u8]) -> Result<(Arc<dyn IdentityKey>, Sealed)> {
        let key = RsaPrivateKey::generate()?;
        let der = key.to_pkcs8_der()?;
        let sealed = self.seal(&der, aad)?;
        Ok((Arc::new(SoftwareKey::new(key)), sealed))
    }
    /// The identity key `stored` refers to, bound to `aad` (another app's or key version's
    /// stored key fails with [`crate::Error::BadKek`]).
    fn open_key(&self, stored: &Sealed, aad: &[u8]) -> Result<Arc<dyn IdentityKey>> {
        let der = self.unseal(stored, aad)?;
        let key = RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| Error::BadKek("the sealed key is not a key"))?;
        Ok(Arc::new(SoftwareKey::new(key)))
    }
    /// Destroys what `stored` refers to outside the document (a token object); the software
    /// custody keeps nothing outside it, so removing the document's blob is the shredding.
    /// Idempotent: a key already gone is not an error.
    fn destroy_key(&self, _stored: &Sealed) -> Result<()> {
        Ok(())
    }
}

/// An identity's private key as the key store uses it: its public key, and RSA-OAEP-SHA256
/// decryption of one 256-byte block (a wrapped room key). The key itself may be in this
/// process (zeroized on drop) or in a token; callers cannot tell.
pub trait IdentityKey: Send + Sync {
    /// The public key, whose Rocket.Chat string members wrap room keys to.
    fn public_key(&self) -> &RsaPublicKey;
    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label). A block this key does not open fails with
    /// `E2EE_DECRYPT_FAILED`, a token failure with its `KEYSTORE_HSM_*` code.
    fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
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
