//! [`Pkcs11Custody`]: the KEK is an AES-256 key inside a PKCS#11 token, created there with
//! `CKA_EXTRACTABLE=false` and `CKA_SENSITIVE=true`, so no one (this process included) ever
//! holds its bytes. Identities are sealed and opened by the token with `CKM_AES_GCM` (96-bit
//! random IV, 128-bit tag) and the same AAD as [`super::SealedCustody`]; the stored [`Sealed`]
//! has the same shape, so `rekey` moves identities between the two. The unsealed PKCS#8 exists
//! only in this crate's zeroized memory, as with the software custody.
//!
//! What it protects against beyond sealed custody: a copy of the secret file or of the
//! configuration no longer opens anything, and a dump of the process after it stopped holds no
//! KEK. What it does not: a process that is logged in can ask the token to open blobs while it
//! runs, and the opened private key lives in its memory (the `rsa` mode removes that).
//!
//! Checked at open, so a broken setup fails before anything is written: the module loads, a
//! token has the label, the PIN logs in, exactly one AES secret key has the label and it is
//! neither extractable nor readable, and a seal/open round trip with AAD works (a token that
//! lists `CKM_AES_GCM` but refuses it, as some do for caller-chosen IVs, fails there).

use std::path::PathBuf;
use std::sync::Arc;

use aws_lc_rs::digest::{Context, SHA256};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::Zeroizing;

use super::token::{map, Token};
use super::{KeyCustody, Sealed};
use crate::{Error, HsmKind, Result};

const NONCE_BYTES: usize = 12;
const TAG_BITS: u64 = 128;
const KEK_ID_DOMAIN: &[u8] = b"rc-e2ee/pkcs11-kek-id/v1\0";
const PROBE_AAD: &[u8] = b"rc-e2ee/pkcs11-probe/v1";
/// Label of the KEK object when the configuration names none.
pub const DEFAULT_KEK_LABEL: &str = "rc-e2ee-kek";

/// Where the token is and how to log in. Holds no secret: the PIN stays in its file until
/// [`Pkcs11Custody::open`] reads it, and is zeroized once the token took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// Path of the module (shared object), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// Label of the token (slot) to use.
    pub token_label: String,
    /// File holding the user PIN (surrounding whitespace ignored).
    pub pin_file: PathBuf,
    /// Label of the key object (`CKA_LABEL`).
    pub key_label: String,
}

/// A KEK in a PKCS#11 token. Cheap to share; every call takes a pooled session.
pub struct Pkcs11Custody {
    kek_id: String,
    description: String,
    token: Arc<Token>,
    key: ObjectHandle,
}

impl Pkcs11Custody {
    /// Opens the existing KEK object `config.key_label`; see the module doc for what is checked.
    pub fn open(config: &Pkcs11Config) -> Result<Self> {
        let token = Token::open(&config.module, &config.token_label, &config.pin_file)?;
        token.require_mechanism(MechanismType::AES_GCM)?;
        let (key, id) = token.with_object_session(|session| find_kek(session, &config.key_label))?;
        let custody = Self::new(token, key, &id, &config.key_label);
        custody.probe()?;
        Ok(custody)
    }

    /// Creates a new KEK object labelled `config.key_label` in the token (setup tooling, and
    /// tests) and opens it. Fails with `KEYSTORE_HSM_KEY` if an object already has the label:
    /// a second KEK under one label would make `open` ambiguous.
    pub fn generate(config: &Pkcs11Config) -> Result<Self> {
        let token = Token::open(&config.module, &config.token_label, &config.pin_file)?;
        token.require_mechanism(MechanismType::AES_KEY_GEN)?;
        token.require_mechanism(MechanismType::AES_GCM)?;
        let mut id = [0u8; 16];
        rc_e2ee_core::random::key_bytes(&mut id);
        let key = token.with_object_session(|session| {
            if !session
                .find_objects(&[Attribute::Label(config.key_label.as_bytes().to_vec())])
                .map_err(|error| map(&error, HsmKind::Key))?
                .is_empty()
            {
                return Err(Error::hsm(HsmKind::Key, "an object with this label already exists"));
            }
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Label(config.key_label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ];
            session.generate_key(&Mechanism::AesKeyGen, &template).map_err(|error| map(&error, HsmKind::Key))
        })?;
        let custody = Self::new(token, key, &id, &config.key_label);
        custody.probe()?;
        Ok(custody)
    }

    /// Destroys the KEK object: every blob sealed under it becomes unreadable for good. For
    /// retiring a KEK after a `rekey` away from it, and for tests.
    pub fn destroy(self) -> Result<()> {
        self.token
            .with_object_session(|session| session.destroy_object(self.key).map_err(|error| map(&error, HsmKind::Key)))
    }

    /// What audit records name: the custody, the token and the key object (never a PIN).
    pub fn description(&self) -> &str {
        &self.description
    }

    fn new(token: Arc<Token>, key: ObjectHandle, id: &[u8], label: &str) -> Self {
        let mut context = Context::new(&SHA256);
        context.update(KEK_ID_DOMAIN);
        context.update(token.serial().as_bytes());
        context.update(b"\0");
        context.update(id);
        let kek_id = format!("p11-{}", hex(context.finish().as_ref().get(..8).unwrap_or_default()));
        let description = format!("pkcs11-kek kek_id={kek_id} token={} key={label} id={}", token.label(), hex(id));
        Self { kek_id, description, token, key }
    }

    /// One seal and open with AAD, so a token that lists the mechanism but refuses it (or
    /// a key object without encrypt/decrypt) fails at open, not at the first identity.
    fn probe(&self) -> Result<()> {
        let sealed = self.seal(b"probe", PROBE_AAD)?;
        match self.unseal(&sealed, PROBE_AAD) {
            Ok(opened) if opened.as_slice() == b"probe" => Ok(()),
            Ok(_) | Err(Error::BadKek(_)) => {
                Err(Error::hsm(HsmKind::Mechanism, "the token's AES-GCM does not round-trip with AAD"))
            }
            Err(error) => Err(error),
        }
    }
}

impl KeyCustody for Pkcs11Custody {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let mut nonce = [0u8; NONCE_BYTES];
        rc_e2ee_core::random::key_bytes(&mut nonce);
        let mut iv = nonce;
        let ciphertext = self.token.with_session(|session| {
            let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
                .map_err(|_| Error::hsm(HsmKind::Mechanism, "AES-GCM parameters refused"))?;
            session
                .encrypt(&Mechanism::AesGcm(params), self.key, plaintext)
                .map_err(|error| map(&error, HsmKind::Failed))
        })?;
        Ok(Sealed { kek_id: self.kek_id.clone(), nonce: nonce.to_vec(), ciphertext })
    }

    fn unseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.kek_id != self.kek_id {
            return Err(Error::BadKek("sealed under another key-encryption key"));
        }
        let mut iv: [u8; NONCE_BYTES] =
            sealed.nonce.as_slice().try_into().map_err(|_| Error::BadKek("sealed key does not open"))?;
        self.token.with_session(|session| {
            let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
                .map_err(|_| Error::hsm(HsmKind::Mechanism, "AES-GCM parameters refused"))?;
            match session.decrypt(&Mechanism::AesGcm(params), self.key, &sealed.ciphertext) {
                Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
                // A wrong tag (other AAD, flipped bit, another key) must read like the software
                // custody's: the blob does not open. Tokens do not agree on the return value
                // for it (SoftHSM2 2.6.1 does not say CKR_ENCRYPTED_DATA_INVALID), so every
                // failure that is not the key, the mechanism or the login counts as that.
                Err(error) => match map(&error, HsmKind::Failed) {
                    Error::Hsm { kind: HsmKind::Failed, .. } => {
                        Err(Error::BadKek("sealed key does not open (wrong KEK, app id or key version)"))
                    }
                    other => Err(other),
                },
            }
        })
    }

    fn description(&self) -> String {
        self.description.clone()
    }
}

impl std::fmt::Debug for Pkcs11Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Custody")
            .field("kek_id", &self.kek_id)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The one AES secret key labelled `label`, refused unless it is sensitive and not extractable
/// (a KEK that can leave the token protects nothing more than a secret file). Returns its
/// handle and `CKA_ID`.
fn find_kek(session: &Session, label: &str) -> Result<(ObjectHandle, Vec<u8>)> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let found = session.find_objects(&template).map_err(|error| map(&error, HsmKind::Key))?;
    let key = match found.as_slice() {
        [] => return Err(Error::hsm(HsmKind::Key, "no AES key object has this label")),
        [key] => *key,
        _ => return Err(Error::hsm(HsmKind::Key, "several AES key objects have this label")),
    };
    let wanted = [AttributeType::Sensitive, AttributeType::Extractable, AttributeType::ValueLen, AttributeType::Id];
    let attributes = session.get_attributes(key, &wanted).map_err(|error| map(&error, HsmKind::Key))?;
    let (mut sensitive, mut extractable, mut length, mut id) = (false, true, 0u64, Vec::new());
    for attribute in attributes {
        match attribute {
            Attribute::Sensitive(value) => sensitive = value,
            Attribute::Extractable(value) => extractable = value,
            Attribute::ValueLen(value) => length = value.into(),
            Attribute::Id(value) => id = value,
            _ => {}
        }
    }
    if !sensitive || extractable {
        return Err(Error::hsm(HsmKind::Key, "the KEK object is extractable or not sensitive"));
    }
    if length != 32 {
        return Err(Error::hsm(HsmKind::Key, "the KEK object is not an AES-256 key"));
    }
    Ok((key, id))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
