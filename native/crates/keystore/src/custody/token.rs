//! A logged-in PKCS#11 token shared by every custody of this process that names it: the loaded
//! module, the slot, a pool of sessions, and the mapping of the module's return values to our
//! typed codes.
//!
//! Why shared, and kept for the process's life: a module may be initialized once per process
//! (a second `C_Initialize` fails with `CKR_CRYPTOKI_ALREADY_INITIALIZED`), and PKCS#11 login
//! is per application and token, lost when the token's last session closes. So one registry
//! entry per (module, token) holds the module, an anchor session that keeps the login, and the
//! pool. Only opening takes the registry's lock; an operation takes a session from the pool
//! (or opens one) and gives it back, so concurrent seals and unwraps run side by side in the
//! token, never behind one lock.
//!
//! Because the token is already logged in once one custody opened it, a second custody with
//! another PIN would otherwise ride on the first login. Each entry keeps a salted digest of the
//! PIN that logged in and refuses a custody whose PIN differs (`KEYSTORE_HSM_PIN`), as the
//! token itself would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{Context, SHA256};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::keystore::lock;
use crate::{Error, HsmKind, Result};

/// Idle sessions kept per token; more may be open while calls are in flight.
const POOL_SIZE: usize = 16;
/// Longest PIN file read (a PIN is short; a large file is a mistake, not a PIN).
const MAX_PIN_FILE: u64 = 4096;

pub(crate) struct Token {
    pkcs11: Pkcs11,
    slot: Slot,
    label: String,
    serial: String,
    /// SHA-256(process salt ‖ PIN) of the login this entry holds.
    pin_digest: [u8; 32],
    /// Keeps the login alive while the pool is empty; never used for operations.
    _anchor: Mutex<Session>,
    pool: Mutex<Vec<Session>>,
    /// Held while the object store is worked on; see [`Token::with_object_session`].
    objects: Mutex<()>,
}

impl Token {
    /// The logged-in token labelled `label` in `module`, opened (and logged in with the PIN in
    /// `pin_file`) on first use in this process.
    pub(crate) fn open(module: &Path, label: &str, pin_file: &Path) -> Result<Arc<Token>> {
        let pin = read_pin(pin_file)?;
        let digest = pin_digest(&pin);
        let mut registry = lock(registry());
        let key = (module.to_path_buf(), label.to_owned());
        if let Some(token) = registry.get(&key) {
            verify_slices_are_equal(&token.pin_digest, &digest)
                .map_err(|_| Error::hsm(HsmKind::Pin, "the token refuses the PIN"))?;
            return Ok(Arc::clone(token));
        }
        let pkcs11 = module_of(module)?;
        let slot = find_slot(&pkcs11, label)?;
        let info = pkcs11.get_token_info(slot).map_err(|_| Error::hsm(HsmKind::Token, "the token does not answer"))?;
        let anchor = pkcs11.open_rw_session(slot).map_err(|error| map(&error, HsmKind::Token))?;
        match anchor.login(UserType::User, Some(&AuthPin::new(pin.as_str().into()))) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(P11Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange | RvError::PinLocked,
                _,
            )) => return Err(Error::hsm(HsmKind::Pin, "the token refuses the PIN")),
            Err(error) => return Err(map(&error, HsmKind::Pin)),
        }
        let token = Arc::new(Token {
            pkcs11,
            slot,
            label: label.to_owned(),
            serial: info.serial_number().trim().to_owned(),
            pin_digest: digest,
            _anchor: Mutex::new(anchor),
            pool: Mutex::new(Vec::new()),
            objects: Mutex::new(()),
        });
        registry.insert(key, Arc::clone(&token));
        Ok(token)
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The token's serial number (public; part of key object ids, so two tokens' objects with
    /// the same `CKA_ID` stay apart).
    pub(crate) fn serial(&self) -> &str {
        &self.serial
    }

    /// Fails with `KEYSTORE_HSM_MECHANISM` unless the token offers `mechanism`.
    pub(crate) fn require_mechanism(&self, mechanism: MechanismType) -> Result<()> {
        let offered = self
            .pkcs11
            .get_mechanism_list(self.slot)
            .map_err(|_| Error::hsm(HsmKind::Mechanism, "the token does not list its mechanisms"))?;
        if offered.contains(&mechanism) {
            Ok(())
        } else {
            Err(Error::hsm(HsmKind::Mechanism, "the token does not offer a mechanism this custody needs"))
        }
    }

    /// Runs `work` on a pooled session. A session whose call failed at the device or session
    /// level is dropped rather than pooled again.
    pub(crate) fn with_session<T>(&self, work: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let pooled = lock(&self.pool).pop();
        let session = match pooled {
            Some(session) => session,
            None => self.pkcs11.open_rw_session(self.slot).map_err(|error| map(&error, HsmKind::Failed))?,
        };
        let result = work(&session);
        let healthy = !matches!(result, Err(Error::Hsm { kind: HsmKind::Failed, .. }));
        if healthy {
            let mut pool = lock(&self.pool);
            if pool.len() < POOL_SIZE {
                pool.push(session);
            }
        }
        result
    }

    /// [`Token::with_session`] for work on the token's object store (creating, destroying or
    /// searching objects), one at a time per token. SoftHSM2 2.6.1 (Debian's) loses objects
    /// being written while another session of the process creates or searches, and can crash
    /// (its issues #573 and #688); a token gains nothing from running these side by side. They
    /// happen when a store opens, an identity is opened, created, rotated or revoked, never per
    /// message: seals and unwraps keep running in parallel.
    pub(crate) fn with_object_session<T>(&self, work: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let _one_at_a_time = lock(&self.objects);
        self.with_session(work)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("label", &self.label).field("serial", &self.serial).finish_non_exhaustive()
    }
}

/// Maps a module's failure to our codes: `fallback` says which part the caller was using.
/// Kept of it: the function and the return value's name. The module's own text is never kept
/// (it may name objects or paths).
pub(crate) fn map(error: &P11Error, fallback: HsmKind) -> Error {
    let kind = match error {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::MechanismInvalid | RvError::MechanismParamInvalid => HsmKind::Mechanism,
            RvError::KeyHandleInvalid
            | RvError::ObjectHandleInvalid
            | RvError::KeyTypeInconsistent
            | RvError::KeyFunctionNotPermitted
            | RvError::KeySizeRange => HsmKind::Key,
            RvError::UserNotLoggedIn | RvError::PinExpired | RvError::PinLocked => HsmKind::Pin,
            RvError::TokenNotPresent | RvError::TokenNotRecognized | RvError::SlotIdInvalid => HsmKind::Token,
            _ => fallback,
        },
        P11Error::LibraryLoading(_) | P11Error::MissingSymbol(_) | P11Error::NullFunctionPointer => HsmKind::Module,
        _ => fallback,
    };
    let message = match kind {
        HsmKind::Module => "the PKCS#11 module cannot be loaded",
        HsmKind::Token => "the token cannot be used",
        HsmKind::Pin => "the token refuses the PIN or is not logged in",
        HsmKind::Key => "the token refuses the key object",
        HsmKind::Mechanism => "the token refuses the mechanism",
        _ => "the token failed",
    };
    let returned = match error {
        P11Error::Pkcs11(rv, function) => Some(format!("C_{function:?} returned {rv:?}")),
        _ => None,
    };
    Error::Hsm { kind, message, returned }
}

type Registry = Mutex<HashMap<(PathBuf, String), Arc<Token>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The initialized module at `path`, loaded once per process (tokens of one module share it).
fn module_of(path: &Path) -> Result<Pkcs11> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = lock(MODULES.get_or_init(|| Mutex::new(HashMap::new())));
    if let Some(pkcs11) = modules.get(path) {
        return Ok(pkcs11.clone());
    }
    if !path.is_file() {
        return Err(Error::hsm(HsmKind::Module, "the PKCS#11 module is not a file"));
    }
    let pkcs11 = Pkcs11::new(path).map_err(|_| Error::hsm(HsmKind::Module, "the PKCS#11 module cannot be loaded"))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Someone else in this process (another library) initialized it: usable as is.
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(_) => return Err(Error::hsm(HsmKind::Module, "the PKCS#11 module refuses to initialize")),
    }
    modules.insert(path.to_path_buf(), pkcs11.clone());
    Ok(pkcs11)
}

fn find_slot(pkcs11: &Pkcs11, label: &str) -> Result<Slot> {
    let slots = pkcs11
        .get_slots_with_initialized_token()
        .map_err(|_| Error::hsm(HsmKind::Token, "the module lists no token"))?;
    let mut found = slots
        .into_iter()
        .filter(|slot| pkcs11.get_token_info(*slot).is_ok_and(|info| info.label().trim_end() == label));
    let slot = found.next().ok_or(Error::hsm(HsmKind::Token, "no initialized token has this label"))?;
    if found.next().is_some() {
        return Err(Error::hsm(HsmKind::Token, "several tokens have this label"));
    }
    Ok(slot)
}

/// The PIN in `path`, without surrounding whitespace (a file written by `echo` ends in a
/// newline that is not part of the PIN).
fn read_pin(path: &Path) -> Result<Zeroizing<String>> {
    let unreadable = || Error::hsm(HsmKind::Pin, "the PIN file cannot be read");
    let metadata = std::fs::metadata(path).map_err(|_| unreadable())?;
    if !metadata.is_file() || metadata.len() > MAX_PIN_FILE {
        return Err(unreadable());
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|_| unreadable())?);
    let pin = Zeroizing::new(text.trim().to_owned());
    if pin.is_empty() {
        return Err(Error::hsm(HsmKind::Pin, "the PIN file is empty"));
    }
    Ok(pin)
}

fn pin_digest(pin: &str) -> [u8; 32] {
    static SALT: OnceLock<[u8; 32]> = OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut salt = [0u8; 32];
        rc_e2ee_core::random::key_bytes(&mut salt);
        salt
    });
    let mut context = Context::new(&SHA256);
    context.update(salt);
    context.update(pin.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}
