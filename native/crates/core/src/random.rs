//! Randomness. Long-lived keys come straight from the operating system; per-message IVs come
//! from a userspace ChaCha generator seeded (and periodically reseeded) from the OS, because a
//! syscall per IV costs more than sealing a 200-byte message.

use rand::rngs::OsRng;
use rand::{thread_rng, RngCore};

/// Fills `out` with OS randomness: for keys.
pub fn key_bytes(out: &mut [u8]) {
    OsRng.fill_bytes(out);
}

/// A fresh nonce or IV of `N` bytes.
pub fn iv<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    thread_rng().fill_bytes(&mut out);
    out
}
