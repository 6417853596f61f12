//! Encrypted files, always on the thread pool: files are large.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rc_e2ee_core::file;

use crate::errors::Background;

/// Decrypts a file with the JWK (JSON string) and counter block from its metadata.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn decrypt_file(key_jwk: String, iv: String, data: Buffer) -> AsyncTask<Background<Vec<u8>, Buffer>> {
    let key_jwk = zeroize::Zeroizing::new(key_jwk);
    let data = data.to_vec();
    Background::new(move || file::decrypt_file(&key_jwk, &iv, &data), |bytes| Ok(Buffer::from(bytes)))
}

/// A file encrypted under a fresh key.
#[napi(object)]
pub struct EncryptedFile {
    /// The file key's JWK JSON (`A256CTR`), for the encrypted metadata.
    pub key: String,
    pub iv: String,
    pub ciphertext: Buffer,
    /// Lowercase hex SHA-256 of the plaintext.
    pub hash: String,
}

/// Encrypts a file under a fresh AES-CTR-256 key.
#[napi(ts_return_type = "Promise<EncryptedFile>")]
pub fn encrypt_file(data: Buffer) -> AsyncTask<Background<file::EncryptedFile, EncryptedFile>> {
    let data = data.to_vec();
    Background::new(
        move || file::encrypt_file(&data),
        |sealed| {
            Ok(EncryptedFile {
                key: sealed.key_jwk.to_string(),
                iv: sealed.iv,
                ciphertext: Buffer::from(sealed.ciphertext),
                hash: sealed.hash,
            })
        },
    )
}
