//! Messages: decrypt and encrypt by (app, room) with the cached room keys, each call gated and
//! counted.

use std::sync::Arc;

use rc_e2ee_core::content::into_text as to_text;
use rc_e2ee_core::message::ensure_object;
use rc_e2ee_core::{EncryptedContent, RoomKey};
use zeroize::Zeroizing;

use crate::audit::{action, SYSTEM};
use crate::ids::{check_app_id, check_id, BAD_ROOM_ID};
use crate::keystore::lock;
use crate::types::{ContentFields, MessageFields};
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Decrypts a message of the room with the cached keys (the kid it names, else the current
    /// key) and returns its payload text (EJSON). The call is counted in the audit.
    pub async fn decrypt_message(
        &self,
        app_id: &str,
        room_id: &str,
        message: &MessageFields,
    ) -> Result<Zeroizing<String>> {
        let result = self
            .with_ring(app_id, room_id, action::MESSAGE_DECRYPT, message.named_kid(), |ring| {
                rc_e2ee_core::message::decrypt_message(ring, &message.as_ref())
            })
            .await;
        result.map(to_text)
    }

    /// [`AppKeyStore::decrypt_message`] answered from memory, for a caller that must not wait:
    /// `None` when the store would have to read storage or a worker thread should do the work
    /// (no fresh cached gate, no cached key for the message, a ciphertext over
    /// [`MAX_SYNC_CIPHERTEXT_B64`](rc_e2ee_core::content::MAX_SYNC_CIPHERTEXT_B64)); the
    /// caller then awaits `decrypt_message`, which counts the call. Otherwise the outcome,
    /// counted like the async call's. Takes a few locks, never blocks on I/O.
    pub fn decrypt_message_cached(
        &self,
        app_id: &str,
        room_id: &str,
        message: &MessageFields,
    ) -> Option<Result<Zeroizing<String>>> {
        self.decrypt_cached(app_id, room_id, message.ciphertext_chars(), |store| {
            store.decrypt_with_ring(app_id, room_id, message.named_kid(), |ring| {
                rc_e2ee_core::message::decrypt_message(ring, &message.as_ref())
            })
        })
    }

    /// [`AppKeyStore::decrypt_message_cached`] for a `t: 'e2e'` message given by its v2
    /// `content` alone, the common case, which the bridge passes without building a message
    /// object. Counted as a message decrypt.
    pub fn decrypt_v2_message_cached(
        &self,
        app_id: &str,
        room_id: &str,
        content: &ContentFields,
    ) -> Option<Result<Zeroizing<String>>> {
        let chars = content.ciphertext.as_ref().map_or(0, String::len);
        // A v2 envelope names its kid: the key is picked straight from the cache (the one the
        // ring would choose), with no ring to build per message.
        let pick = |store: &Self| match content.kid.as_deref() {
            Some(kid) if content.algorithm.as_deref() == Some(rc_e2ee_core::content::ALGORITHM_V2) => {
                let picked = lock(&store.inner.room_keys).pick(app_id, room_id, kid);
                let Some(picked) = picked else { return Err(Error::NoRoomKey) };
                rc_e2ee_core::decrypt_content(&[&picked.key], &content.as_ref())
                    .map_err(|error| held_or_missing(error, picked.kid_held))
            }
            _ => store.decrypt_with_ring(app_id, room_id, content.named_kid(), |ring| {
                rc_e2ee_core::decrypt_content(ring, &content.as_ref())
            }),
        };
        self.decrypt_cached(app_id, room_id, chars, pick)
    }

    fn decrypt_cached(
        &self,
        app_id: &str,
        room_id: &str,
        ciphertext_chars: usize,
        decrypt: impl FnOnce(&Self) -> Result<Zeroizing<Vec<u8>>>,
    ) -> Option<Result<Zeroizing<String>>> {
        if ciphertext_chars > rc_e2ee_core::content::MAX_SYNC_CIPHERTEXT_B64 {
            return None;
        }
        let action = action::MESSAGE_DECRYPT;
        if let Err(error) = self.ensure_open() {
            return Some(Err(error));
        }
        let actor = match self.cached_gate(app_id, room_id) {
            // An admitted pair has an authorization, and `authorize` takes only ids it checked:
            // these ids passed `precheck` before, so the hot path does not scan them again.
            Some(Ok(actor)) => actor,
            verdict => {
                if let Err(error) = self.precheck(app_id, room_id) {
                    return Some(Err(error));
                }
                match verdict? {
                    Ok(actor) => actor,
                    Err(error) => return Some(Err(self.count_now(SYSTEM, action, app_id, None, error))),
                }
            }
        };
        match decrypt(self) {
            // The async call may find the key (another instance accepted it, a reload): it
            // answers, and counts, a miss.
            Err(Error::NoRoomKey) => None,
            Ok(plain) => {
                self.count_now_ok(&actor, action, app_id, room_id);
                Some(Ok(to_text(plain)))
            }
            Err(error) => Some(Err(self.count_now(&actor, action, app_id, Some(room_id), error))),
        }
    }

    /// Decrypts one encrypted `content` of the room; see [`AppKeyStore::decrypt_message`].
    pub async fn decrypt_content(
        &self,
        app_id: &str,
        room_id: &str,
        content: &ContentFields,
    ) -> Result<Zeroizing<String>> {
        let result = self
            .with_ring(app_id, room_id, action::CONTENT_DECRYPT, content.named_kid(), |ring| {
                rc_e2ee_core::decrypt_content(ring, &content.as_ref())
            })
            .await;
        result.map(to_text)
    }

    pub(crate) async fn with_ring(
        &self,
        app_id: &str,
        room_id: &str,
        action: &'static str,
        named_kid: Option<&str>,
        decrypt: impl FnOnce(&[&RoomKey]) -> rc_e2ee_core::Result<Zeroizing<Vec<u8>>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.counted(app_id, room_id, action, || self.decrypt_with_ring(app_id, room_id, named_kid, decrypt)).await
    }

    /// Runs `decrypt` over the room's cached keys; a message under a key the cache does not
    /// hold is [`Error::NoRoomKey`].
    pub(crate) fn decrypt_with_ring(
        &self,
        app_id: &str,
        room_id: &str,
        named_kid: Option<&str>,
        decrypt: impl FnOnce(&[&RoomKey]) -> rc_e2ee_core::Result<Zeroizing<Vec<u8>>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let ring = lock(&self.inner.room_keys).ring(app_id, room_id);
        if ring.is_empty() {
            return Err(Error::NoRoomKey);
        }
        let refs: Vec<&RoomKey> = ring.iter().map(Arc::as_ref).collect();
        let held = named_kid.is_none_or(|kid| refs.iter().any(|key| key.kid() == kid));
        decrypt(&refs).map_err(|error| held_or_missing(error, held))
    }

    /// The checks before any gate: the store is open and the ids are well-formed.
    pub(crate) fn precheck(&self, app_id: &str, room_id: &str) -> Result<()> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)
    }

    /// The frame of every counted call: checks the ids and the gates (authorization, identity
    /// state), runs `work`, and counts the outcome in the audit under the acting app user. A
    /// call the gates refuse is counted per app, without its room: room ids an app invents must
    /// not each cost an audit document.
    pub(crate) async fn counted<T>(
        &self,
        app_id: &str,
        room_id: &str,
        action: &'static str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.precheck(app_id, room_id)?;
        let actor = match self.gate(app_id, room_id).await {
            Ok(actor) => actor,
            Err(error) => return Err(self.count(SYSTEM, action, app_id, None, error).await),
        };
        match work() {
            Ok(value) => {
                self.count_ok(&actor, action, app_id, room_id).await;
                Ok(value)
            }
            Err(error) => Err(self.count(&actor, action, app_id, Some(room_id), error).await),
        }
    }

    /// Encrypts a payload (EJSON text of a JSON object) as a v2 envelope under the room's
    /// current key. With `expected_kid` (the room's `e2eKeyId`), a different current key is
    /// `KEYSTORE_KID_MISMATCH` rather than a message other members cannot read.
    pub async fn encrypt_content(
        &self,
        app_id: &str,
        room_id: &str,
        plaintext: &str,
        expected_kid: Option<&str>,
    ) -> Result<EncryptedContent> {
        self.counted(app_id, room_id, action::CONTENT_ENCRYPT, || {
            let key = lock(&self.inner.room_keys).current(app_id, room_id);
            match key {
                None => Err(Error::NoRoomKey),
                Some(key) if expected_kid.is_some_and(|kid| kid != key.kid()) => Err(Error::KidMismatch),
                Some(key) => ensure_object(plaintext.as_bytes())
                    .and_then(|()| rc_e2ee_core::encrypt_content(&key, plaintext.as_bytes()))
                    .map_err(Error::Core),
            }
        })
        .await
    }
}

/// A decrypt error as the store reports it: a message under a kid the cache does not hold
/// (`kid_held` false) that the current key did not open is [`Error::NoRoomKey`], so the host
/// loads the subscription's keys; so is a ring without a usable key.
fn held_or_missing(error: rc_e2ee_core::Error, kid_held: bool) -> Error {
    match error {
        rc_e2ee_core::Error::UnknownKid => Error::NoRoomKey,
        rc_e2ee_core::Error::DecryptFailed if !kid_held => Error::NoRoomKey,
        error => Error::Core(error),
    }
}
