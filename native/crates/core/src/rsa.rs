//! User key pairs: RSA-OAEP-2048 with SHA-256 (hash and MGF1), empty label.
//!
//! Every private-key operation runs in aws-lc (constant-time, blinded): the app's key decrypts
//! ciphertexts that any room member can submit as a suggested key, so a timing side channel
//! here (RUSTSEC-2023-0071, Marvin) would be reachable by any member. The `pkcs1`/`pkcs8`
//! crates only move key parameters between JWK and DER; they never compute with them.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256,
};
use pkcs1::der::asn1::{BitStringRef, UintRef};
use pkcs1::der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::jwk::{RsaJwk, RSA_ALG};
use crate::{b64, Error, Result};

/// Rocket.Chat's keys are 2048-bit; an `E2EKey` holds exactly one 256-byte RSA block.
pub const MODULUS_BYTES: usize = 256;
/// Largest OAEP-SHA256 plaintext for a 2048-bit key: 256 - 2*32 - 2.
pub const MAX_OAEP_PLAINTEXT: usize = 190;

/// A member's public key, as stored in `users.e2e.public_key`.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: PublicEncryptingKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaPublicKey {
    /// Parses Rocket.Chat's public-key string (a JSON RSA JWK).
    pub fn from_rc_string(text: &str) -> Result<Self> {
        let jwk = RsaJwk::parse(text)?;
        let n = b64::decode_url(&jwk.n, "RSA JWK n is not base64url")?;
        let e = b64::decode_url(&jwk.e, "RSA JWK e is not base64url")?;
        Self::from_components(&n, &e)
    }

    /// A public key from its big-endian modulus and public exponent, as a PKCS#11 token gives
    /// them (`CKA_MODULUS`, `CKA_PUBLIC_EXPONENT`); 2048-bit only.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let modulus = UintRef::new(n).map_err(|_| Error::BadKey("RSA modulus is malformed"))?;
        let public_exponent = UintRef::new(e).map_err(|_| Error::BadKey("RSA exponent is malformed"))?;
        if modulus.as_bytes().len() != MODULUS_BYTES {
            return Err(Error::BadKey("RSA key is not 2048 bits"));
        }
        let pkcs1 = pkcs1::RsaPublicKey { modulus, public_exponent }
            .to_der()
            .map_err(|_| Error::BadKey("RSA public key cannot be encoded"))?;
        let bits = BitStringRef::from_bytes(&pkcs1).map_err(|_| Error::BadKey("RSA public key cannot be encoded"))?;
        let spki = pkcs8::spki::SubjectPublicKeyInfo { algorithm: pkcs1::ALGORITHM_ID, subject_public_key: bits }
            .to_der()
            .map_err(|_| Error::BadKey("RSA public key cannot be encoded"))?;
        let key = PublicEncryptingKey::from_der(&spki).map_err(|_| Error::BadKey("RSA public key rejected"))?;
        Ok(Self { key, n: modulus.as_bytes().to_vec(), e: public_exponent.as_bytes().to_vec() })
    }

    /// The exact string a browser would upload: Chrome's member order.
    pub fn to_rc_string(&self) -> String {
        format!(
            "{{\"alg\":\"{RSA_ALG}\",\"e\":\"{}\",\"ext\":true,\"key_ops\":[\"encrypt\"],\"kty\":\"RSA\",\"n\":\"{}\"}}",
            b64::encode_url(&self.e),
            b64::encode_url(&self.n)
        )
    }

    /// RSA-OAEP-SHA256 encryption to this key; at most 190 bytes of plaintext.
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        if plaintext.len() > MAX_OAEP_PLAINTEXT {
            return Err(Error::TooLarge("RSA-OAEP plaintext over 190 bytes"));
        }
        let oaep = OaepPublicEncryptingKey::new(self.key.clone()).map_err(|_| Error::Internal("RSA public key"))?;
        let mut out = vec![0u8; oaep.ciphertext_size()];
        let len = oaep
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
            .map_err(|_| Error::Internal("RSA-OAEP encryption"))?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl PartialEq for RsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey").field("bits", &(self.n.len() * 8)).finish_non_exhaustive()
    }
}

/// A member's private key. It can decrypt room keys and be exported only sealed: wrapped with
/// a password ([`crate::password_blob`]) or as PKCS#8 for a custody provider to seal.
pub struct RsaPrivateKey {
    key: PrivateDecryptingKey,
    public: RsaPublicKey,
}

impl RsaPrivateKey {
    /// A fresh 2048-bit key pair with exponent 65537.
    pub fn generate() -> Result<Self> {
        let key =
            PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| Error::Internal("RSA key generation"))?;
        Self::from_aws_key(key)
    }

    /// Imports a private JWK (all CRT members required, as browsers export them). Inconsistent
    /// parameters are refused by aws-lc's key check.
    pub fn from_jwk(json: &str) -> Result<Self> {
        let jwk = RsaJwk::parse(json)?;
        let member = |value: &Option<String>, what: &'static str| -> Result<Zeroizing<Vec<u8>>> {
            let text = value.as_deref().ok_or(Error::BadKey("RSA JWK lacks a private member"))?;
            Ok(Zeroizing::new(b64::decode_url(text, what)?))
        };
        let n = Zeroizing::new(b64::decode_url(&jwk.n, "RSA JWK n is not base64url")?);
        let e = Zeroizing::new(b64::decode_url(&jwk.e, "RSA JWK e is not base64url")?);
        let d = member(&jwk.d, "RSA JWK d is not base64url")?;
        let p = member(&jwk.p, "RSA JWK p is not base64url")?;
        let q = member(&jwk.q, "RSA JWK q is not base64url")?;
        let dp = member(&jwk.dp, "RSA JWK dp is not base64url")?;
        let dq = member(&jwk.dq, "RSA JWK dq is not base64url")?;
        let qi = member(&jwk.qi, "RSA JWK qi is not base64url")?;
        let pkcs1 = pkcs1::RsaPrivateKey {
            modulus: uint(&n)?,
            public_exponent: uint(&e)?,
            private_exponent: uint(&d)?,
            prime1: uint(&p)?,
            prime2: uint(&q)?,
            exponent1: uint(&dp)?,
            exponent2: uint(&dq)?,
            coefficient: uint(&qi)?,
            other_prime_infos: None,
        };
        let pkcs1_der = Zeroizing::new(pkcs1.to_der().map_err(|_| Error::BadKey("RSA JWK cannot be encoded"))?);
        let pkcs8_der = Zeroizing::new(
            pkcs8::PrivateKeyInfo::new(pkcs1::ALGORITHM_ID, &pkcs1_der)
                .to_der()
                .map_err(|_| Error::BadKey("RSA JWK cannot be encoded"))?,
        );
        Self::from_pkcs8_der(&pkcs8_der)
    }

    /// Imports an unencrypted PKCS#8 document, as produced by [`Self::to_pkcs8_der`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|_| Error::BadKey("RSA private key parameters are invalid"))?;
        Self::from_aws_key(key)
    }

    fn from_aws_key(key: PrivateDecryptingKey) -> Result<Self> {
        if key.key_size_bytes() != MODULUS_BYTES {
            return Err(Error::BadKey("RSA key is not 2048 bits"));
        }
        let der = Self::pkcs8_of(&key)?;
        let public =
            with_pkcs1(&der, |k| RsaPublicKey::from_components(k.modulus.as_bytes(), k.public_exponent.as_bytes()))?;
        Ok(Self { key, public })
    }

    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// RSA-OAEP-SHA256 decryption in constant time. Every failure is the same
    /// [`Error::DecryptFailed`].
    pub fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != MODULUS_BYTES {
            return Err(Error::DecryptFailed);
        }
        let oaep = OaepPrivateDecryptingKey::new(self.key.clone()).map_err(|_| Error::Internal("RSA private key"))?;
        let mut out = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
        let len =
            oaep.decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None).map_err(|_| Error::DecryptFailed)?.len();
        out.truncate(len);
        Ok(out)
    }

    /// The PKCS#8 document, for a custody provider to seal. Never hand it to JavaScript.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        Self::pkcs8_of(&self.key)
    }

    fn pkcs8_of(key: &PrivateDecryptingKey) -> Result<Zeroizing<Vec<u8>>> {
        let der = key.as_der().map_err(|_| Error::Internal("RSA private key export"))?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The private JWK as a browser exports it (Chrome's member order): the plaintext of the
    /// password-wrapped blob.
    pub(crate) fn to_jwk_json(&self) -> Result<Zeroizing<String>> {
        let der = self.to_pkcs8_der()?;
        with_pkcs1(&der, |k| {
            // Room for any 2048-bit JWK (about 1.66 KB), so the string never grows: a reallocation
            // would leave a freed, unzeroized copy of the private members behind.
            let mut out = Zeroizing::new(String::with_capacity(2048));
            out.push_str("{\"alg\":\"");
            out.push_str(RSA_ALG);
            out.push('"');
            for (name, value) in
                [("d", k.private_exponent), ("dp", k.exponent1), ("dq", k.exponent2), ("e", k.public_exponent)]
            {
                push_member(&mut out, name, value.as_bytes());
            }
            out.push_str(",\"ext\":true,\"key_ops\":[\"decrypt\"],\"kty\":\"RSA\"");
            for (name, value) in [("n", k.modulus), ("p", k.prime1), ("q", k.prime2), ("qi", k.coefficient)] {
                push_member(&mut out, name, value.as_bytes());
            }
            out.push('}');
            Ok(out)
        })
    }
}

fn uint(bytes: &[u8]) -> Result<UintRef<'_>> {
    UintRef::new(bytes).map_err(|_| Error::BadKey("RSA JWK member is malformed"))
}

fn push_member(out: &mut String, name: &str, value: &[u8]) {
    let encoded = Zeroizing::new(b64::encode_url(value));
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    out.push_str(&encoded);
    out.push('"');
}

/// Runs `f` over the PKCS#1 key inside a PKCS#8 document.
fn with_pkcs1<T>(pkcs8_der: &[u8], f: impl FnOnce(&pkcs1::RsaPrivateKey<'_>) -> Result<T>) -> Result<T> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8_der).map_err(|_| Error::Internal("PKCS#8 parse"))?;
    let key = pkcs1::RsaPrivateKey::from_der(info.private_key).map_err(|_| Error::Internal("PKCS#1 parse"))?;
    f(&key)
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateKey").field("public", &self.public).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_round_trips_through_jwk_and_oaep() {
        let key = RsaPrivateKey::generate().unwrap();
        let again = RsaPrivateKey::from_jwk(&key.to_jwk_json().unwrap()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let public = RsaPublicKey::from_rc_string(&key.public_key().to_rc_string()).unwrap();
        let ct = public.encrypt_oaep(&[42u8; MAX_OAEP_PLAINTEXT]).unwrap();
        assert_eq!(ct.len(), MODULUS_BYTES);
        assert_eq!(again.decrypt_oaep(&ct).unwrap().as_slice(), &[42u8; MAX_OAEP_PLAINTEXT]);
        assert_eq!(public.encrypt_oaep(&[0u8; 191]), Err(Error::TooLarge("RSA-OAEP plaintext over 190 bytes")));
        let mut bad = ct.clone();
        bad[10] ^= 1;
        assert_eq!(again.decrypt_oaep(&bad), Err(Error::DecryptFailed));
        assert_eq!(again.decrypt_oaep(&ct[1..]), Err(Error::DecryptFailed));
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = RsaPrivateKey::generate().unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&key.to_jwk_json().unwrap()).unwrap();
        let shown = format!("{key:?}");
        for member in ["d", "p", "q", "n"] {
            assert!(!shown.contains(jwk[member].as_str().unwrap()));
        }
    }
}
