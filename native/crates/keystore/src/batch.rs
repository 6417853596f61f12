//! Many messages of one room in one call, for apps that read history (archivers, exports,
//! search indexers): the gates are checked once, the messages are decrypted on the blocking
//! pool (never on the caller's thread), and one bad message fails alone.

use rc_e2ee_core::content::into_text as to_text;
use zeroize::Zeroizing;

use crate::audit::{action, SYSTEM};
use crate::keystore::blocking;
use crate::types::MessageFields;
use crate::{AppKeyStore, Error, Result};

/// Most messages one [`AppKeyStore::decrypt_messages`] call takes; a history is read in pages.
pub const MAX_BATCH_MESSAGES: usize = 1000;

impl AppKeyStore {
    /// Decrypts `messages` of the room with its cached keys (each by the kid it names, else the
    /// current key), in order: each the payload text (EJSON) or that message's error. The
    /// authorization and identity are checked once for the whole batch; a refused batch fails
    /// as a whole, counted once. Each message is counted like a single decrypt. More than
    /// [`MAX_BATCH_MESSAGES`] is `KEYSTORE_BAD_INPUT`, before anything is read.
    pub async fn decrypt_messages(
        &self,
        app_id: &str,
        room_id: &str,
        messages: Vec<MessageFields>,
    ) -> Result<Vec<Result<Zeroizing<String>>>> {
        if messages.len() > MAX_BATCH_MESSAGES {
            return Err(Error::BadInput("more than 1000 messages in one batch"));
        }
        let action = action::MESSAGE_DECRYPT;
        self.precheck(app_id, room_id)?;
        let actor = match self.gate(app_id, room_id).await {
            Ok(actor) => actor,
            Err(error) => return Err(self.count(SYSTEM, action, app_id, None, error).await),
        };
        let store = self.clone();
        let (app_id, room_id) = (app_id.to_owned(), room_id.to_owned());
        blocking(move || {
            let outcomes = messages
                .iter()
                .map(|message| {
                    let decrypted = store.decrypt_with_ring(&app_id, &room_id, message.named_kid(), |ring| {
                        rc_e2ee_core::message::decrypt_message(ring, &message.as_ref())
                    });
                    match decrypted {
                        Ok(plain) => {
                            store.count_now_ok(&actor, action, &app_id, &room_id);
                            Ok(to_text(plain))
                        }
                        Err(error) => Err(store.count_now(&actor, action, &app_id, Some(&room_id), error)),
                    }
                })
                .collect();
            Ok(outcomes)
        })
        .await
    }
}
