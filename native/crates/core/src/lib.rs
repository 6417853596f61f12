//! Rocket.Chat's end-to-end encryption formats, byte-exact with the web client (current and
//! legacy): user RSA keys and their password-wrapped blobs, room keys and their per-member
//! `E2EKey` wrapping, message envelopes and encrypted files.
//!
//! Pure Rust, no Node and no I/O: the N-API bridge (`rc-e2ee-node`) and the key store
//! (`rc-e2ee-keystore`) are thin layers over this crate. Every function returns a typed
//! [`Error`]; none panics on bad input. Secret material lives in zeroizing containers, and no
//! `Display`/`Debug` output contains key bytes or plaintext.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod b64;
pub mod content;
mod error;
pub mod file;
pub mod jwk;
pub mod latin1;
pub mod message;
pub mod password_blob;
pub mod random;
pub mod room_key;
pub mod rsa;

pub use content::{decrypt_content, encrypt_content, ContentRef, EncryptedContent};
pub use error::{Error, Result};
pub use room_key::{unwrap_room_key, unwrap_room_key_with, wrap_room_key, RoomKey, RoomKeyAlgorithm};
pub use rsa::{RsaPrivateKey, RsaPublicKey};
