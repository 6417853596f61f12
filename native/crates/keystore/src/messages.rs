//! Messages: decrypt and encrypt by (app, room) with the cached room keys, each call gated and
//! counted.

use std::sync::Arc;

use rc_e2ee_core::content::into_text as to_text;
use rc_e2ee_core::message::ensure_object;
use rc_e2ee_core::{EncryptedContent, RoomKey};
use zeroize::Zeroizing;

use crate::audit::{action, SYSTEM};
use crate::ids::{check_id, BAD_APP_ID, BAD_ROOM_ID};
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
        self.counted(app_id, room_id, action, || {
            let ring = lock(&self.inner.room_keys).ring(app_id, room_id);
            match ring.is_empty() {
                true => Err(Error::NoRoomKey),
                false => {
                    let refs: Vec<&RoomKey> = ring.iter().map(Arc::as_ref).collect();
                    decrypt(&refs).map_err(|error| match error {
                        rc_e2ee_core::Error::UnknownKid => Error::NoRoomKey,
                        // The message names a key this cache does not hold and the current one
                        // did not open it: the host should load the subscription's keys.
                        rc_e2ee_core::Error::DecryptFailed
                            if named_kid.is_some_and(|kid| !refs.iter().any(|key| key.kid() == kid)) =>
                        {
                            Error::NoRoomKey
                        }
                        error => Error::Core(error),
                    })
                }
            }
        })
        .await
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
        self.ensure_open()?;
        check_id(app_id, BAD_APP_ID)?;
        check_id(room_id, BAD_ROOM_ID)?;
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
