//! N-API bridge of rc-e2ee. Only argument conversion, the choice of call style and the error
//! table live here; every rule is in `rc-e2ee-core`.
//!
//! Call style follows cost: sub-microsecond work (one message up to the core's 256 KiB
//! synchronous bound) is a plain synchronous call that returns a string, and refuses a larger
//! ciphertext naming its `*_async` twin; RSA, PBKDF2, key generation, files, batches and large
//! messages run as `AsyncTask`s on the libuv pool so the chat server's event loop never waits
//! on them. Every body runs inside
//! `errors::guard`, so a panic becomes an `E2EE_INTERNAL` error instead of aborting the process.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// napi-derive compiles the exported functions out of the unit-test target, leaving helpers unused.
#![cfg_attr(test, allow(dead_code))]

mod errors;
mod files;
mod keys;
mod keystore;
mod keystore_types;
mod messages;
mod payload;
mod staging;
mod wire;

pub use errors::{
    error_codes, internal_panic_probe, internal_panic_probe_in_argument, internal_panic_probe_in_background,
    internal_panic_probe_in_result,
};
