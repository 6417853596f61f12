//! Encrypted files: one AES-CTR-256 key per file, a random 16-byte counter block of which the
//! low 64 bits count (WebCrypto `length: 64`), no tag. Integrity rests on the SHA-256 of the
//! plaintext carried, encrypted, in the message metadata.

use aes::cipher::{KeyIvInit, StreamCipher};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::jwk::OctJwk;
use crate::{b64, random, Error, Result};

type Aes256Ctr64 = ctr::Ctr64BE<aes::Aes256>;

pub const FILE_KEY_ALG: &str = "A256CTR";

/// The result of encrypting one file.
pub struct EncryptedFile {
    /// The file key's JWK JSON; it travels inside the encrypted message metadata.
    pub key_jwk: Zeroizing<String>,
    /// Base64 of the 16-byte counter block.
    pub iv: String,
    pub ciphertext: Vec<u8>,
    /// Lowercase hex SHA-256 of the plaintext.
    pub hash: String,
}

/// Encrypts `plaintext` under a fresh file key. The copy it makes is turned into the
/// ciphertext in place, so no plaintext copy outlives the call.
pub fn encrypt_file(plaintext: &[u8]) -> Result<EncryptedFile> {
    let mut key = Zeroizing::new([0u8; 32]);
    random::key_bytes(key.as_mut_slice());
    let iv: [u8; 16] = random::iv();
    let mut ciphertext = plaintext.to_vec();
    Aes256Ctr64::new(key.as_ref().into(), &iv.into()).apply_keystream(&mut ciphertext);
    Ok(EncryptedFile {
        key_jwk: OctJwk::to_json(FILE_KEY_ALG, key.as_slice()),
        iv: b64::encode(&iv),
        ciphertext,
        hash: sha256_hex(plaintext),
    })
}

/// Decrypts a file with the JWK and counter block from its metadata. The plaintext is
/// zeroized when the caller drops it.
pub fn decrypt_file(key_jwk: &str, iv: &str, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let (alg, key) = OctJwk::parse(key_jwk)?;
    if alg != FILE_KEY_ALG {
        return Err(Error::UnsupportedAlgorithm("file key alg must be A256CTR"));
    }
    let key: Zeroizing<[u8; 32]> =
        Zeroizing::new(key.as_slice().try_into().map_err(|_| Error::BadKey("file key is not 32 bytes"))?);
    if iv.len() > crate::content::MAX_IV_B64 {
        return Err(Error::TooLarge("iv over 1 KiB of base64"));
    }
    let iv: [u8; 16] = b64::decode(iv, "file iv is not base64")?
        .try_into()
        .map_err(|_| Error::BadEnvelope("file iv is not 16 bytes"))?;
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    Aes256Ctr64::new(key.as_ref().into(), &iv.into()).apply_keystream(&mut plaintext);
    Ok(plaintext)
}

/// Lowercase hex SHA-256: `hashes.sha256` of a file and the uploaded blob's name.
pub fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(data).iter().fold(String::with_capacity(64), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_wraps_in_its_low_64_bits_like_webcrypto() {
        // A counter block whose low half is all ones: the next block must wrap to zero without
        // carrying into the high half. Reference computed block by block with plain AES.
        use aes::cipher::{BlockEncrypt, KeyInit};
        let key = [3u8; 32];
        let mut iv = [0xabu8; 16];
        iv[8..].copy_from_slice(&[0xff; 8]);
        let mut data = vec![0u8; 32];
        Aes256Ctr64::new(&key.into(), &iv.into()).apply_keystream(&mut data);
        let aes = aes::Aes256::new(&key.into());
        let mut block0 = iv.into();
        aes.encrypt_block(&mut block0);
        let mut next = iv;
        next[8..].copy_from_slice(&[0; 8]);
        let mut block1 = next.into();
        aes.encrypt_block(&mut block1);
        assert_eq!(&data[..16], block0.as_slice());
        assert_eq!(&data[16..], block1.as_slice());
    }

    #[test]
    fn round_trip_and_hash() {
        let sealed = encrypt_file(b"hello file").unwrap();
        assert_eq!(sealed.hash, sha256_hex(b"hello file"));
        assert_eq!(decrypt_file(&sealed.key_jwk, &sealed.iv, &sealed.ciphertext).unwrap().as_slice(), b"hello file");
        assert!(matches!(decrypt_file(&sealed.key_jwk, "AAAA", &sealed.ciphertext), Err(Error::BadEnvelope(_))));
    }
}
