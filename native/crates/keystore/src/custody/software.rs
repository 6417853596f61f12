//! [`SoftwareKey`]: an identity key in this process's memory, the software implementation of
//! [`IdentityKey`] behind sealed and PKCS#11 `kek` custody. The RSA operations are aws-lc's
//! (constant-time, blinded); the core's key type zeroizes its parameters on drop.

use rc_e2ee_core::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::IdentityKey;
use crate::Result;

pub(crate) struct SoftwareKey {
    key: RsaPrivateKey,
}

impl SoftwareKey {
    pub(crate) fn new(key: RsaPrivateKey) -> Self {
        Self { key }
    }
}

impl IdentityKey for SoftwareKey {
    fn public_key(&self) -> &RsaPublicKey {
        self.key.public_key()
    }

    fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        Ok(self.key.decrypt_oaep(ciphertext)?)
    }
}
