//! [`Pkcs11RsaCustody`]: each identity's RSA-2048 key pair is generated inside a PKCS#11 token
//! (`CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE=true`, `CKA_EXTRACTABLE=false`), and room keys
//! are unwrapped there by `C_Decrypt` with `CKM_RSA_PKCS_OAEP` (SHA-256, MGF1-SHA-256, empty
//! label). The private key never exists in this process; the public key is read from the
//! token's public object (`CKA_MODULUS`, `CKA_PUBLIC_EXPONENT`) and becomes Rocket.Chat's
//! public-key string exactly as a generated software key's would.
//!
//! What the identity document stores is a reference, in the [`Sealed`] shape so the stored
//! format is the same for every custody: `kek_id` names this token (`p11rsa-…`), `nonce` is
//! empty, `ciphertext` holds the pair's random `CKA_ID`. The binding to (app, key version) that
//! sealed custody gets from the AAD is the objects' `CKA_LABEL`, a digest of that AAD, checked
//! at open: a reference copied onto another app's document does not open.
//!
//! Destroying the objects is real shredding: rotation destroys the old pair at commit,
//! revocation destroys the pair before the tombstone is written.
//!
//! What it protects against beyond `kek` mode: a dump of the running process holds no private
//! key, so no one can unwrap room keys later without the token. What it does not: a process
//! logged in to the token can ask it to unwrap while it runs (audit and token logs show it).

use std::sync::Arc;

use aws_lc_rs::digest::{digest, Context, SHA256};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use rc_e2ee_core::RsaPublicKey;
use zeroize::Zeroizing;

use super::pkcs11::{hex, Pkcs11Config};
use super::token::{map, Token};
use super::{IdentityKey, KeyCustody, Sealed};
use crate::{Error, HsmKind, Result};

const TOKEN_ID_DOMAIN: &[u8] = b"rc-e2ee/pkcs11-rsa-id/v1\0";
const LABEL_DOMAIN: &[u8] = b"rc-e2ee/pkcs11-rsa-label/v1\0";
const OBJECT_ID_BYTES: usize = 16;
const MODULUS_BITS: u64 = 2048;
const PUBLIC_EXPONENT: [u8; 3] = [1, 0, 1];
/// A well-formed OAEP block the token must open at key creation: a token that generates the
/// pair but refuses OAEP-SHA-256 (SoftHSM2 2.6 does OAEP with SHA-1 only) fails there, before
/// anything is stored.
const PROBE: &[u8] = b"rc-e2ee/pkcs11-rsa-probe/v1";

/// Identity key pairs in a PKCS#11 token. The configuration's `key_label` names this custody
/// within the token (part of its `kek_id`), so two stores sharing a token keep apart; each
/// pair's own `CKA_LABEL` names its identity.
pub struct Pkcs11RsaCustody {
    kek_id: String,
    description: String,
    token: Arc<Token>,
}

impl Pkcs11RsaCustody {
    /// Opens the token: module, label and PIN are checked, and the token must offer RSA key
    /// pair generation and RSA-OAEP (`KEYSTORE_HSM_MECHANISM` otherwise).
    pub fn open(config: &Pkcs11Config) -> Result<Self> {
        let token = Token::open(&config.module, &config.token_label, &config.pin_file)?;
        token.require_mechanism(MechanismType::RSA_PKCS_KEY_PAIR_GEN)?;
        token.require_mechanism(MechanismType::RSA_PKCS_OAEP)?;
        let mut context = Context::new(&SHA256);
        context.update(TOKEN_ID_DOMAIN);
        context.update(token.serial().as_bytes());
        context.update(b"\0");
        context.update(token.label().as_bytes());
        context.update(b"\0");
        context.update(config.key_label.as_bytes());
        let kek_id = format!("p11rsa-{}", hex(context.finish().as_ref().get(..8).unwrap_or_default()));
        let description = format!("pkcs11-rsa kek_id={kek_id} token={} key={}", token.label(), config.key_label);
        Ok(Self { kek_id, description, token })
    }
}

impl KeyCustody for Pkcs11RsaCustody {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// Refused: this custody seals nothing, it keeps key pairs. An identity moves into it by
    /// rotation, which generates the new pair in the token.
    fn seal(&self, _plaintext: &[u8], _aad: &[u8]) -> Result<Sealed> {
        Err(Error::BadInput("PKCS#11 rsa custody keeps key pairs in the token: rotate identities into it"))
    }

    fn unseal(&self, _sealed: &Sealed, _aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        Err(Error::BadKek("a key in PKCS#11 rsa custody never leaves the token"))
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn seals(&self) -> bool {
        false
    }

    fn key_description(&self, stored: &Sealed) -> String {
        format!("{} id={}", self.description, hex(&stored.ciphertext))
    }

    fn create_key(&self, aad: &[u8]) -> Result<(Arc<dyn IdentityKey>, Sealed)> {
        let mut id = [0u8; OBJECT_ID_BYTES];
        rc_e2ee_core::random::key_bytes(&mut id);
        let label = label_of(aad);
        let (private, public) = self.token.with_object_session(|session| {
            let common = [Attribute::Token(true), Attribute::Id(id.to_vec()), Attribute::Label(label.clone())];
            let mut public_template = vec![
                Attribute::ModulusBits(MODULUS_BITS.into()),
                Attribute::PublicExponent(PUBLIC_EXPONENT.to_vec()),
                Attribute::Encrypt(true),
                Attribute::Verify(false),
                Attribute::Wrap(false),
            ];
            public_template.extend_from_slice(&common);
            let mut private_template = vec![
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Decrypt(true),
                Attribute::Sign(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
            ];
            private_template.extend_from_slice(&common);
            let (public, private) = session
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_template, &private_template)
                .map_err(|error| map(&error, HsmKind::Key))?;
            let key = public_key_of(session, public);
            Ok((private, key))
        })?;
        let cleanup = |error: Error| {
            let _ = self.destroy_key(&reference(&self.kek_id, &id));
            error
        };
        let public = public.map_err(cleanup)?;
        let key = TokenKey { token: Arc::clone(&self.token), private, public };
        // Prove the token does what room keys need before anything refers to this pair.
        let block = key.public.encrypt_oaep(PROBE).map_err(|error| cleanup(error.into()))?;
        match key.decrypt_oaep(&block) {
            Ok(opened) if opened.as_slice() == PROBE => {}
            Ok(_) | Err(Error::Core(_)) => {
                return Err(cleanup(Error::hsm(HsmKind::Mechanism, "the token's RSA-OAEP is not SHA-256")));
            }
            Err(error) => return Err(cleanup(error)),
        }
        Ok((Arc::new(key), reference(&self.kek_id, &id)))
    }

    fn open_key(&self, stored: &Sealed, aad: &[u8]) -> Result<Arc<dyn IdentityKey>> {
        if stored.kek_id != self.kek_id {
            return Err(Error::BadKek("stored under another token"));
        }
        if !stored.nonce.is_empty() || stored.ciphertext.len() != OBJECT_ID_BYTES {
            return Err(Error::BadKek("not a PKCS#11 key reference"));
        }
        let id = &stored.ciphertext;
        let (private, public) = self.token.with_object_session(|session| {
            let private = find(session, ObjectClass::PRIVATE_KEY, id)?
                .ok_or(Error::hsm(HsmKind::Key, "the identity's key object is missing"))?;
            let public = find(session, ObjectClass::PUBLIC_KEY, id)?
                .ok_or(Error::hsm(HsmKind::Key, "the identity's public key object is missing"))?;
            check_private(session, private, &label_of(aad))?;
            Ok((private, public_key_of(session, public)?))
        })?;
        Ok(Arc::new(TokenKey { token: Arc::clone(&self.token), private, public }))
    }

    fn destroy_key(&self, stored: &Sealed) -> Result<()> {
        if stored.kek_id != self.kek_id {
            return Err(Error::BadKek("stored under another token"));
        }
        let id = &stored.ciphertext;
        self.token.with_object_session(|session| {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                if let Some(object) = find(session, class, id)? {
                    session.destroy_object(object).map_err(|error| map(&error, HsmKind::Key))?;
                }
            }
            Ok(())
        })
    }
}

impl std::fmt::Debug for Pkcs11RsaCustody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11RsaCustody").field("kek_id", &self.kek_id).field("token", &self.token).finish()
    }
}

/// A private key object in the token.
struct TokenKey {
    token: Arc<Token>,
    private: ObjectHandle,
    public: RsaPublicKey,
}

impl IdentityKey for TokenKey {
    fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let params = PkcsOaepParams::new(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, PkcsOaepSource::empty());
        self.token.with_session(|session| {
            match session.decrypt(&Mechanism::RsaPkcsOaep(params), self.private, ciphertext) {
                Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
                // A block for another key reads as the software key's failure, so the caller
                // tries its next key (rotation) and members see one error whatever the custody.
                Err(error) => match map(&error, HsmKind::Failed) {
                    Error::Hsm { kind: HsmKind::Failed, .. } => Err(rc_e2ee_core::Error::DecryptFailed.into()),
                    other => Err(other),
                },
            }
        })
    }
}

fn reference(kek_id: &str, id: &[u8]) -> Sealed {
    Sealed { kek_id: kek_id.to_owned(), nonce: Vec::new(), ciphertext: id.to_vec() }
}

/// The objects' `CKA_LABEL`: a digest of the identity's AAD, so an operator's tools show which
/// objects belong together and open can check the binding; the AAD (app id) is not in it.
fn label_of(aad: &[u8]) -> Vec<u8> {
    let mut input = LABEL_DOMAIN.to_vec();
    input.extend_from_slice(aad);
    format!("rc-e2ee-{}", hex(digest(&SHA256, &input).as_ref().get(..16).unwrap_or_default())).into_bytes()
}

fn find(session: &Session, class: ObjectClass, id: &[u8]) -> Result<Option<ObjectHandle>> {
    let template = [Attribute::Class(class), Attribute::KeyType(KeyType::RSA), Attribute::Id(id.to_vec())];
    let found = session.find_objects(&template).map_err(|error| map(&error, HsmKind::Key))?;
    match found.as_slice() {
        [] => Ok(None),
        [object] => Ok(Some(*object)),
        _ => Err(Error::hsm(HsmKind::Key, "several key objects have the identity's id")),
    }
}

/// Refuses a private key that is bound to another identity, or that can leave the token.
fn check_private(session: &Session, private: ObjectHandle, label: &[u8]) -> Result<()> {
    let wanted = [AttributeType::Label, AttributeType::Sensitive, AttributeType::Extractable];
    let attributes = session.get_attributes(private, &wanted).map_err(|error| map(&error, HsmKind::Key))?;
    let (mut bound, mut sensitive, mut extractable) = (false, false, true);
    for attribute in attributes {
        match attribute {
            Attribute::Label(value) => bound = value == label,
            Attribute::Sensitive(value) => sensitive = value,
            Attribute::Extractable(value) => extractable = value,
            _ => {}
        }
    }
    if !bound {
        return Err(Error::BadKek("the key object belongs to another identity"));
    }
    if !sensitive || extractable {
        return Err(Error::hsm(HsmKind::Key, "the identity's key object is extractable or not sensitive"));
    }
    Ok(())
}

fn public_key_of(session: &Session, public: ObjectHandle) -> Result<RsaPublicKey> {
    let attributes = session
        .get_attributes(public, &[AttributeType::Modulus, AttributeType::PublicExponent])
        .map_err(|error| map(&error, HsmKind::Key))?;
    let (mut modulus, mut exponent) = (None, None);
    for attribute in attributes {
        match attribute {
            Attribute::Modulus(value) => modulus = Some(value),
            Attribute::PublicExponent(value) => exponent = Some(value),
            _ => {}
        }
    }
    match (modulus, exponent) {
        (Some(n), Some(e)) => RsaPublicKey::from_components(&n, &e)
            .map_err(|_| Error::hsm(HsmKind::Key, "the token's public key is not RSA-2048")),
        _ => Err(Error::hsm(HsmKind::Key, "the token does not give the public key")),
    }
}
