//! The key store's one error type. Every message is a fixed string chosen here: no key byte, no
//! plaintext and no database error text (which could quote a document) reaches a log line
//! through an error. Database and I/O failures keep only a coarse [`StorageKind`].

use std::fmt;

/// Why a key-store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The app holds no authorization for the room.
    #[error("the app is not authorized for this room")]
    NotAuthorized,
    /// No cached room key can serve the request; the host should load the app user's
    /// subscription keys ([`crate::AppKeyStore::load_room_keys`]) or wait for a suggested key.
    #[error(
        "no room key is held for this room (or for this kid): load the app user's subscription keys (loadRoomKeys) after a restart, or wait for a suggested key"
    )]
    NoRoomKey,
    /// The app identity was revoked: its private key is gone.
    #[error("the app identity is revoked")]
    Revoked,
    /// The key-encryption key is missing, malformed, not the one a sealed key was made with, or
    /// the sealed key does not open (wrong app id, key version or purpose in the AAD).
    #[error("key-encryption key: {0}")]
    BadKek(&'static str),
    /// Another instance changed the same document first (optimistic concurrency). The caller may
    /// retry; multi-step operations resume where they stopped.
    #[error("concurrent update lost the race: {0}")]
    Conflict(&'static str),
    /// The app has no identity yet.
    #[error("the app has no identity")]
    NoIdentity,
    /// The room key's kid is not the one the caller expected.
    #[error("the room key's kid is not the expected kid")]
    KidMismatch,
    /// A suggested room key was refused: it does not open another member's message under its
    /// kid, its kid is already accepted with another key, or it is a legacy key under a new kid.
    #[error("suggested room key refused: {0}")]
    ProofFailed(&'static str),
    /// The database or the file system failed. Nothing from the driver is kept but its kind.
    #[error("storage failure ({kind}): {message}")]
    Storage { kind: StorageKind, message: &'static str },
    /// An argument has the wrong shape.
    #[error("invalid input: {0}")]
    BadInput(&'static str),
    /// The host's [`crate::RoomKeyWriter`] failed. Bridges keep the host's own error aside and
    /// rethrow it; this value only says where the failure happened.
    #[error("the host's room-key writer failed: {0}")]
    Host(&'static str),
    /// A PKCS#11 token refused or failed (see [`HsmKind`] for which part). Of the module's
    /// answer only the function and the return value's name are kept (`C_GenerateKey returned
    /// GeneralError`), which an operator needs to tell a token's fault from a setup's; never a
    /// PIN or the module's own text, which could name objects or paths.
    #[error("PKCS#11 custody ({kind}): {message}{}", returned.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Hsm { kind: HsmKind, message: &'static str, returned: Option<String> },
    /// A failure of the formats crate; [`Error::code`] reports its own `E2EE_*` code.
    #[error(transparent)]
    Core(#[from] rc_e2ee_core::Error),
}

/// What kind of storage failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageKind {
    /// Reading or writing a local file failed.
    Io,
    /// The database cannot be reached (server selection, network, authentication, TLS).
    Unavailable,
    /// The database refused or failed an operation.
    Database,
    /// A stored document or the key-store file does not parse.
    Corrupt,
    /// The key store was closed.
    Closed,
}

/// Which part of a PKCS#11 custody failed; each has its own stable code, so an operator knows
/// from the code alone whether to fix the module path, the token label, the PIN, the key
/// object or the token's mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HsmKind {
    /// The module (shared object) cannot be loaded or initialized (`KEYSTORE_HSM_MODULE`).
    Module,
    /// No initialized token has the configured label (`KEYSTORE_HSM_TOKEN`).
    Token,
    /// The PIN file cannot be read, or the token refuses the PIN (`KEYSTORE_HSM_PIN`).
    Pin,
    /// The key object is missing, ambiguous or not of the required kind (`KEYSTORE_HSM_KEY`).
    Key,
    /// The token does not offer, or refuses, a mechanism the mode needs (`KEYSTORE_HSM_MECHANISM`).
    Mechanism,
    /// Any other token failure at use: device, session, memory (`KEYSTORE_HSM_FAILED`).
    Failed,
}

impl HsmKind {
    fn code(self) -> &'static str {
        match self {
            HsmKind::Module => "KEYSTORE_HSM_MODULE",
            HsmKind::Token => "KEYSTORE_HSM_TOKEN",
            HsmKind::Pin => "KEYSTORE_HSM_PIN",
            HsmKind::Key => "KEYSTORE_HSM_KEY",
            HsmKind::Mechanism => "KEYSTORE_HSM_MECHANISM",
            HsmKind::Failed => "KEYSTORE_HSM_FAILED",
        }
    }
}

impl fmt::Display for HsmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HsmKind::Module => "module",
            HsmKind::Token => "token",
            HsmKind::Pin => "pin",
            HsmKind::Key => "key",
            HsmKind::Mechanism => "mechanism",
            HsmKind::Failed => "failed",
        })
    }
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageKind::Io => "io",
            StorageKind::Unavailable => "unavailable",
            StorageKind::Database => "database",
            StorageKind::Corrupt => "corrupt",
            StorageKind::Closed => "closed",
        })
    }
}

impl Error {
    /// A storage failure of `kind`.
    pub fn storage(kind: StorageKind, message: &'static str) -> Self {
        Error::Storage { kind, message }
    }

    /// A PKCS#11 custody failure of `kind`.
    pub fn hsm(kind: HsmKind, message: &'static str) -> Self {
        Error::Hsm { kind, message, returned: None }
    }

    /// Stable machine-readable code, the one JavaScript sees as `err.code`. A wrapped core
    /// error reports the core's own code (one of [`rc_e2ee_core::Error::ALL_CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotAuthorized => "KEYSTORE_NOT_AUTHORIZED",
            Error::NoRoomKey => "KEYSTORE_NO_ROOM_KEY",
            Error::Revoked => "KEYSTORE_REVOKED",
            Error::BadKek(_) => "KEYSTORE_BAD_KEK",
            Error::Conflict(_) => "KEYSTORE_CONFLICT",
            Error::NoIdentity => "KEYSTORE_NO_IDENTITY",
            Error::KidMismatch => "KEYSTORE_KID_MISMATCH",
            Error::ProofFailed(_) => "KEYSTORE_PROOF_FAILED",
            Error::Storage { .. } => "KEYSTORE_STORAGE",
            Error::BadInput(_) => "KEYSTORE_BAD_INPUT",
            Error::Host(_) => "KEYSTORE_HOST_FAILED",
            Error::Hsm { kind, .. } => kind.code(),
            Error::Core(error) => error.code(),
        }
    }

    /// Every `KEYSTORE_*` code this crate produces. Wrapped core errors add
    /// [`rc_e2ee_core::Error::ALL_CODES`]; the bridge's table is tested against both lists.
    pub const ALL_CODES: [&'static str; 17] = [
        "KEYSTORE_NOT_AUTHORIZED",
        "KEYSTORE_NO_ROOM_KEY",
        "KEYSTORE_REVOKED",
        "KEYSTORE_BAD_KEK",
        "KEYSTORE_CONFLICT",
        "KEYSTORE_NO_IDENTITY",
        "KEYSTORE_KID_MISMATCH",
        "KEYSTORE_PROOF_FAILED",
        "KEYSTORE_STORAGE",
        "KEYSTORE_BAD_INPUT",
        "KEYSTORE_HOST_FAILED",
        "KEYSTORE_HSM_MODULE",
        "KEYSTORE_HSM_TOKEN",
        "KEYSTORE_HSM_PIN",
        "KEYSTORE_HSM_KEY",
        "KEYSTORE_HSM_MECHANISM",
        "KEYSTORE_HSM_FAILED",
    ];

    /// The same error for a background task that died (a panic): a bug, never bad input.
    pub(crate) fn task_failed() -> Self {
        Error::Core(rc_e2ee_core::Error::Internal("key-store background task failed"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_listed_code_and_codes_are_unique() {
        let samples = [
            Error::NotAuthorized,
            Error::NoRoomKey,
            Error::Revoked,
            Error::BadKek("x"),
            Error::Conflict("x"),
            Error::NoIdentity,
            Error::KidMismatch,
            Error::ProofFailed("x"),
            Error::storage(StorageKind::Io, "x"),
            Error::BadInput("x"),
            Error::Host("x"),
            Error::hsm(HsmKind::Module, "x"),
            Error::hsm(HsmKind::Token, "x"),
            Error::hsm(HsmKind::Pin, "x"),
            Error::hsm(HsmKind::Key, "x"),
            Error::hsm(HsmKind::Mechanism, "x"),
            Error::hsm(HsmKind::Failed, "x"),
        ];
        // A new variant breaks this exhaustive match until it gets a sample above.
        for sample in &samples {
            match sample {
                Error::NotAuthorized
                | Error::NoRoomKey
                | Error::Revoked
                | Error::BadKek(_)
                | Error::Conflict(_)
                | Error::NoIdentity
                | Error::KidMismatch
                | Error::ProofFailed(_)
                | Error::Storage { .. }
                | Error::BadInput(_)
                | Error::Host(_)
                | Error::Hsm { .. }
                | Error::Core(_) => {}
            }
        }
        let codes: Vec<_> = samples.iter().map(Error::code).collect();
        assert_eq!(codes, Error::ALL_CODES.to_vec());
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        let core = Error::from(rc_e2ee_core::Error::DecryptFailed);
        assert_eq!(core.code(), "E2EE_DECRYPT_FAILED");
        assert_eq!(core.to_string(), "decryption failed");
    }
}
