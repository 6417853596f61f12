//! JSON Web Keys as Rocket.Chat's browsers write them.
//!
//! Receivers always parse JWKs; member order differs between browsers (Chrome sorts members,
//! Node does not), so nothing here compares JWK strings. What we write follows Chrome's
//! alphabetical order, since Rocket.Chat's clients are browsers.

use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{b64, Error, Result};

/// An RSA JWK as parsed; the private members are absent for public keys.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RsaJwk {
    pub kty: String,
    #[serde(default)]
    pub alg: Option<String>,
    pub n: String,
    pub e: String,
    #[serde(default)]
    pub d: Option<String>,
    #[serde(default)]
    pub p: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub dp: Option<String>,
    #[serde(default)]
    pub dq: Option<String>,
    #[serde(default)]
    pub qi: Option<String>,
}

/// The only RSA `alg` Rocket.Chat writes: RSA-OAEP with SHA-256.
pub const RSA_ALG: &str = "RSA-OAEP-256";
/// Largest JWK text accepted (64 KiB); a private RSA-2048 JWK is about 1.7 KB.
pub const MAX_JWK_BYTES: usize = 64 * 1024;

fn check_size(json: &str) -> Result<()> {
    if json.len() > MAX_JWK_BYTES {
        return Err(Error::TooLarge("JWK over 64 KiB"));
    }
    Ok(())
}

impl RsaJwk {
    pub fn parse(json: &str) -> Result<Self> {
        check_size(json)?;
        let jwk: RsaJwk =
            serde_json::from_str(json).map_err(|_| Error::BadKey("not an RSA JWK (JSON object with kty, n, e)"))?;
        if jwk.kty != "RSA" {
            return Err(Error::BadKey("JWK kty is not RSA"));
        }
        // WebCrypto refuses to import a JWK whose alg disagrees with the requested algorithm.
        if jwk.alg.as_deref().is_some_and(|alg| alg != RSA_ALG) {
            return Err(Error::UnsupportedAlgorithm("RSA JWK alg must be RSA-OAEP-256"));
        }
        Ok(jwk)
    }
}

/// A symmetric (`kty: "oct"`) JWK: room keys and file keys.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct OctJwk {
    pub kty: String,
    #[serde(default)]
    pub alg: Option<String>,
    pub k: String,
}

impl OctJwk {
    /// Parses and returns the `alg` and the key bytes.
    pub fn parse(json: &str) -> Result<(String, Zeroizing<Vec<u8>>)> {
        check_size(json)?;
        let jwk: OctJwk = serde_json::from_str(json)
            .map_err(|_| Error::BadKey("not a symmetric JWK (JSON object with kty, alg, k)"))?;
        if jwk.kty != "oct" {
            return Err(Error::BadKey("JWK kty is not oct"));
        }
        let alg = jwk.alg.clone().ok_or(Error::UnsupportedAlgorithm("symmetric JWK has no alg"))?;
        let key = Zeroizing::new(b64::decode_url(&jwk.k, "JWK k is not base64url")?);
        Ok((alg, key))
    }

    /// `{"alg":…,"ext":true,"k":…,"key_ops":["encrypt","decrypt"],"kty":"oct"}`, the export of
    /// an extractable WebCrypto AES key.
    pub fn to_json(alg: &str, key: &[u8]) -> Zeroizing<String> {
        let k = Zeroizing::new(b64::encode_url(key));
        let mut out = Zeroizing::new(String::with_capacity(96 + k.len()));
        out.push_str("{\"alg\":\"");
        out.push_str(alg);
        out.push_str("\",\"ext\":true,\"k\":\"");
        out.push_str(&k);
        out.push_str("\",\"key_ops\":[\"encrypt\",\"decrypt\"],\"kty\":\"oct\"}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oct_round_trip_is_valid_json_in_chrome_order() {
        let json = OctJwk::to_json("A256GCM", &[7u8; 32]);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["alg"], "A256GCM");
        assert_eq!(value["ext"], true);
        assert!(json.starts_with("{\"alg\":\"A256GCM\",\"ext\":true,\"k\":"));
        let (alg, key) = OctJwk::parse(&json).unwrap();
        assert_eq!(alg, "A256GCM");
        assert_eq!(key.as_slice(), &[7u8; 32]);
    }

    #[test]
    fn rejects_wrong_kinds() {
        assert!(matches!(OctJwk::parse("[]"), Err(Error::BadKey(_))));
        assert!(matches!(OctJwk::parse(r#"{"kty":"RSA","alg":"A256GCM","k":"AA"}"#), Err(Error::BadKey(_))));
        assert!(matches!(OctJwk::parse(r#"{"kty":"oct","k":"AA"}"#), Err(Error::UnsupportedAlgorithm(_))));
        assert!(matches!(
            RsaJwk::parse(r#"{"kty":"RSA","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}"#),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(RsaJwk::parse("null"), Err(Error::BadKey(_))));
    }

    #[test]
    fn finding_5_huge_jwk_is_too_large_before_parsing() {
        let huge = format!("{{\"kty\":\"oct\",\"alg\":\"A256GCM\",\"k\":\"{}\"}}", "A".repeat(MAX_JWK_BYTES));
        assert_eq!(OctJwk::parse(&huge).map(|_| ()), Err(Error::TooLarge("JWK over 64 KiB")));
        assert!(matches!(RsaJwk::parse(&huge), Err(Error::TooLarge(_))));
    }
}
