//! The one error type of the core. Messages are fixed strings chosen here, never built from
//! inputs, so no key byte, password or plaintext can reach a log line through an error.

/// Why an operation failed. Decryption failures are deliberately not told apart (a wrong key,
/// a flipped bit and a truncated tag all give [`Error::DecryptFailed`]): telling them apart
/// would hand an attacker an oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument has the wrong shape: not JSON, wrong type, missing member, bad user id.
    #[error("invalid input: {0}")]
    BadInput(&'static str),
    /// Encrypted content that cannot be parsed: empty members, bad base64, bad legacy prefix.
    #[error("malformed encrypted content: {0}")]
    BadEnvelope(&'static str),
    /// An algorithm label or JWK `alg` this implementation does not speak.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(&'static str),
    /// A key that cannot be imported: wrong size, inconsistent RSA parameters, bad JWK.
    #[error("invalid key: {0}")]
    BadKey(&'static str),
    /// The password does not open the private-key blob, or cannot be encoded as latin1.
    #[error("{0}")]
    BadPassword(&'static str),
    /// Authenticated decryption failed. Nothing more is said on purpose.
    #[error("decryption failed")]
    DecryptFailed,
    /// No room key is available to try.
    #[error("no room key available for this content")]
    UnknownKid,
    /// The plaintext decrypted but is not a JSON object, as Rocket.Chat requires.
    #[error("decrypted payload is not a JSON object")]
    BadPayload,
    /// An input over the size this implementation accepts.
    #[error("input too large: {0}")]
    TooLarge(&'static str),
    /// A failure inside a cryptographic library or a caught panic; a bug, never bad input.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl Error {
    /// Stable machine-readable code, the same one JavaScript sees as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadInput(_) => "E2EE_BAD_INPUT",
            Error::BadEnvelope(_) => "E2EE_BAD_ENVELOPE",
            Error::UnsupportedAlgorithm(_) => "E2EE_UNSUPPORTED_ALGORITHM",
            Error::BadKey(_) => "E2EE_BAD_KEY",
            Error::BadPassword(_) => "E2EE_BAD_PASSWORD",
            Error::DecryptFailed => "E2EE_DECRYPT_FAILED",
            Error::UnknownKid => "E2EE_UNKNOWN_KID",
            Error::BadPayload => "E2EE_BAD_PAYLOAD",
            Error::TooLarge(_) => "E2EE_TOO_LARGE",
            Error::Internal(_) => "E2EE_INTERNAL",
        }
    }

    /// Every code this crate can produce; the bridge and the TypeScript list are tested
    /// against it so the three never drift apart.
    pub const ALL_CODES: [&'static str; 10] = [
        "E2EE_BAD_INPUT",
        "E2EE_BAD_ENVELOPE",
        "E2EE_UNSUPPORTED_ALGORITHM",
        "E2EE_BAD_KEY",
        "E2EE_BAD_PASSWORD",
        "E2EE_DECRYPT_FAILED",
        "E2EE_UNKNOWN_KID",
        "E2EE_BAD_PAYLOAD",
        "E2EE_TOO_LARGE",
        "E2EE_INTERNAL",
    ];
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_code_listed_once() {
        let samples = [
            Error::BadInput("x"),
            Error::BadEnvelope("x"),
            Error::UnsupportedAlgorithm("x"),
            Error::BadKey("x"),
            Error::BadPassword("x"),
            Error::DecryptFailed,
            Error::UnknownKid,
            Error::BadPayload,
            Error::TooLarge("x"),
            Error::Internal("x"),
        ];
        // A new variant breaks this exhaustive match until it gets a sample above.
        for sample in &samples {
            match sample {
                Error::BadInput(_)
                | Error::BadEnvelope(_)
                | Error::UnsupportedAlgorithm(_)
                | Error::BadKey(_)
                | Error::BadPassword(_)
                | Error::DecryptFailed
                | Error::UnknownKid
                | Error::BadPayload
                | Error::TooLarge(_)
                | Error::Internal(_) => {}
            }
        }
        let codes: Vec<_> = samples.iter().map(Error::code).collect();
        assert_eq!(codes, Error::ALL_CODES.to_vec());
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }
}
