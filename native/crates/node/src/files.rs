//! Encrypted files, always on the thread pool: files are large.
//!
//! Plaintext the addon holds is zeroized: the copy of a file to encrypt (turned into the
//! ciphertext in place) and the decrypted bytes, which reach JavaScript as a `Buffer` over that
//! very allocation (no copy on the JS thread; zeroized when the `Buffer` is collected: see
//! `PlainBytes`). The input is still copied on the JS thread: reading a caller's `Buffer` from a
//! worker would race with JavaScript detaching or transferring it; a large one is copied a
//! slice per event-loop turn (`decrypt_file_staged`). The file key's JWK reaches JavaScript as a string built from a zeroizing buffer.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::file;
use zeroize::Zeroizing;

use crate::errors::Background;
use crate::staging::JsStaged;
use crate::wire::{PlainBytes, PlainText, Secret, Str};

/// Decrypts a file with the JWK (JSON string) and counter block from its metadata.
#[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
pub fn decrypt_file(
    #[napi(ts_arg_type = "string")] key_jwk: Secret,
    #[napi(ts_arg_type = "string")] iv: Str,
    data: Buffer,
) -> AsyncTask<Background<Zeroizing<Vec<u8>>, PlainBytes>> {
    let data = data.to_vec();
    Background::new(move || file::decrypt_file(&key_jwk, &iv, &data), |bytes| Ok(PlainBytes(bytes)))
}

/// [`decrypt_file`] with the file staged by the facade a slice per event-loop turn (see
/// `staging`), so that no turn copies more than a slice of it.
#[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
pub fn decrypt_file_staged(
    #[napi(ts_arg_type = "string")] key_jwk: Secret,
    #[napi(ts_arg_type = "string")] iv: Str,
    data: &JsStaged,
) -> AsyncTask<Background<Zeroizing<Vec<u8>>, PlainBytes>> {
    let staged = data.take();
    Background::new(move || file::decrypt_file(&key_jwk, &iv, &staged?), |bytes| Ok(PlainBytes(bytes)))
}

/// A file encrypted under a fresh key.
#[napi(object, object_from_js = false)]
pub struct EncryptedFile {
    /// The file key's JWK JSON (`A256CTR`), for the encrypted metadata.
    #[napi(ts_type = "string")]
    pub key: PlainText,
    pub iv: String,
    pub ciphertext: Buffer,
    /// Lowercase hex SHA-256 of the plaintext.
    pub hash: String,
}

/// Encrypts a file under a fresh AES-CTR-256 key.
#[napi(catch_unwind, ts_return_type = "Promise<EncryptedFile>")]
pub fn encrypt_file(data: Buffer) -> AsyncTask<Background<file::EncryptedFile, EncryptedFile>> {
    let data = Zeroizing::new(data.to_vec());
    Background::new(
        move || file::encrypt_file(&data),
        |sealed| {
            Ok(EncryptedFile {
                key: PlainText(sealed.key_jwk),
                iv: sealed.iv,
                ciphertext: Buffer::from(sealed.ciphertext),
                hash: sealed.hash,
            })
        },
    )
}
