//! App identities for rc-e2ee: an authorized Apps-Engine app becomes a cryptographic member of
//! encrypted Rocket.Chat rooms without its private key ever leaving this crate.
//!
//! - [`AppKeyStore`] is the whole public surface: identities (create, rotate, revoke),
//!   authorizations per (app, room), verified room keys in a bounded zeroizing cache, decrypt
//!   and encrypt by (app, room), and the audit. All methods are `async`; none returns key
//!   material.
//! - [`custody`]: private keys are sealed at rest under a key-encryption key through the
//!   [`KeyCustody`] trait (AES-256-GCM [`SealedCustody`] in memory, or [`Pkcs11Custody`] in a
//!   PKCS#11 token), with AAD
//!   binding app id, key version and purpose.
//! - [`store`]: one document trait with a MongoDB backend (production; also FerretDB 1.x) and an
//!   embedded JSON-file backend (development, demo); optimistic concurrency on a `version` field
//!   so several server instances share one database safely.
//! - Room keys are never persisted here: their durable copy is the app user's subscription,
//!   wrapped to the app's public key like any member's. [`AppKeyStore::load_room_keys`] refills
//!   the cache from it.
//!
//! Errors are one [`Error`] enum with stable codes ([`Error::code`]); messages are fixed strings.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod acceptance;
mod audit;
mod auditing;
mod authorizations;
mod batch;
mod cache;
mod clock;
pub mod custody;
mod error;
mod gates;
mod identities;
mod ids;
mod kek;
mod keystore;
mod messages;
mod room_keys;
mod rotation;
pub mod store;
mod trust_marks;
mod types;

pub use batch::MAX_BATCH_MESSAGES;
pub use custody::{IdentityKey, KeyCustody, Pkcs11Config, Pkcs11Custody, Pkcs11RsaCustody, Sealed, SealedCustody};
pub use error::{Error, HsmKind, Result, StorageKind};
pub use keystore::{AppKeyStore, OpenOptions, MAX_AUTHORIZATION_TTL};
pub use rc_e2ee_core::EncryptedContent;
pub use rotation::RoomKeyWriter;
pub use store::{AuditQuery, AuditRecord, StoreUrl};
pub use types::{
    AcceptOptions, Accepted, Authorization, ContentFields, IdentityInfo, KeyStatus, KeyVerdict, LoadedKeys,
    MessageFields, OldRoomKey, Proof, RekeyReport, RotationReport, SubscriptionKeys, SuggestedOldKey,
};

/// Audit action names, as stored in [`AuditRecord::action`].
pub mod actions {
    pub use crate::audit::action::*;
}
