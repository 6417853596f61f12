//! Authorizations: which rooms an admin allowed an app into.

use crate::audit::{action, Event};
use crate::clock::now_ms;
use crate::ids::{check_app_id, check_id, BAD_ACTOR_ID, BAD_ROOM_ID};
use crate::keystore::lock;
use crate::store::{AuthorizationDoc, IdentityState};
use crate::types::Authorization;
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Authorizes the app for the room, recording who granted it. The app needs an active
    /// identity (`KEYSTORE_NO_IDENTITY`, `KEYSTORE_REVOKED`). Idempotent: a second grant keeps
    /// (and returns) the first one.
    pub async fn authorize(&self, app_id: &str, room_id: &str, actor_id: &str) -> Result<Authorization> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.authorize_inner(app_id, room_id, actor_id).await;
        lock(&self.inner.gates).remove(app_id, room_id);
        let event = Event {
            detail: match &result {
                Ok((_, false)) => Some("already granted".to_owned()),
                _ => None,
            },
            ..self.event(actor_id, action::GRANT, Some(app_id), Some(room_id))
        };
        let (authorization, _) = self.audited(event, result).await?;
        Ok(authorization)
    }

    pub(crate) async fn authorize_inner(
        &self,
        app_id: &str,
        room_id: &str,
        actor_id: &str,
    ) -> Result<(Authorization, bool)> {
        // Only an app with an identity can be a member; this also refuses swapped arguments
        // (a room id where the app id belongs) instead of granting a nonsense pair.
        match self.inner.store.identity(app_id).await? {
            None => return Err(Error::NoIdentity),
            Some(identity) if identity.state == IdentityState::Revoked => return Err(Error::Revoked),
            Some(_) => {}
        }
        let doc = AuthorizationDoc {
            id: AuthorizationDoc::id_of(app_id, room_id),
            app_id: app_id.to_owned(),
            room_id: room_id.to_owned(),
            granted_by: actor_id.to_owned(),
            granted_at: now_ms(),
            version: 1,
            trust: Vec::new(),
        };
        let inserted = self.inner.store.insert_authorization(&doc).await?;
        let stored = match inserted {
            true => doc,
            false => self.inner.store.authorization(app_id, room_id).await?.unwrap_or(doc),
        };
        Ok((authorization_of(stored), inserted))
    }

    /// Withdraws the app's authorization for the room and drops the room's cached keys.
    /// Returns whether there was one.
    pub async fn revoke_authorization(&self, app_id: &str, room_id: &str, actor_id: &str) -> Result<bool> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.inner.store.delete_authorization(app_id, room_id).await;
        lock(&self.inner.room_keys).evict_room(app_id, room_id);
        lock(&self.inner.gates).remove(app_id, room_id);
        let event = Event {
            detail: match &result {
                Ok(false) => Some("was not granted".to_owned()),
                _ => None,
            },
            ..self.event(actor_id, action::REVOKE, Some(app_id), Some(room_id))
        };
        self.audited(event, result).await
    }

    /// Whether the app is authorized for the room (read from the store, not cached).
    pub async fn is_authorized(&self, app_id: &str, room_id: &str) -> Result<bool> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(room_id, BAD_ROOM_ID)?;
        Ok(self.inner.store.authorization(app_id, room_id).await?.is_some())
    }

    /// The app's authorizations, oldest first.
    pub async fn list_authorizations(&self, app_id: &str) -> Result<Vec<Authorization>> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        Ok(self.inner.store.authorizations(app_id).await?.into_iter().map(authorization_of).collect())
    }
}

pub(crate) fn authorization_of(doc: AuthorizationDoc) -> Authorization {
    Authorization { room_id: doc.room_id, granted_by: doc.granted_by, granted_at: doc.granted_at }
}
