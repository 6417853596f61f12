//! The two base64 dialects Rocket.Chat uses: standard padded base64 for every wire field, and
//! unpadded base64url inside JWK members (as WebCrypto defines it).
//!
//! Rocket.Chat's own decoder is lenient (characters outside the alphabet become zero bits);
//! ours rejects them. Either way such input never decrypts, so the outcome is the same.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::{Error, Result};

const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 with `=` padding, as Rocket.Chat's `Base64.encode`.
pub fn encode(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Decodes a standard base64 wire field; `what` names the field in the error.
///
/// Canonical padded input (everything Rocket.Chat writes) takes a SIMD decoder, several times
/// faster than the scalar one on message-sized fields; anything else is retried leniently
/// (missing padding, non-zero trailing bits) before it is refused.
pub fn decode(text: &str, what: &'static str) -> Result<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).or_else(|_| STANDARD.decode(text)).map_err(|_| Error::BadEnvelope(what))
}

/// Unpadded base64url, as in JWK members.
pub fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// Decodes a JWK member; a failure is a bad key, named by `what`.
pub fn decode_url(text: &str, what: &'static str) -> Result<Vec<u8>> {
    URL_SAFE.decode(text).map_err(|_| Error::BadKey(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_round_trip_and_rejections() {
        assert_eq!(encode(b"hi!?"), "aGkhPw==");
        assert_eq!(decode("aGkhPw==", "x").unwrap(), b"hi!?");
        assert_eq!(decode("!GkhPw==", "x"), Err(Error::BadEnvelope("x")));
        assert_eq!(decode("====aGkhPw==", "x"), Err(Error::BadEnvelope("x")));
        // base64url characters are not part of Rocket.Chat's alphabet.
        assert!(decode("a-_hPw==", "x").is_err());
    }

    #[test]
    fn url_round_trip() {
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode_url("-_8", "k").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_url("+/8", "k"), Err(Error::BadKey("k")));
    }
}
