//! App identities: creating, loading, re-creating and revoking (crypto-shredding) the key pair
//! an app is a room member with, and the sealed private keys behind it.

use std::sync::Arc;

use crate::audit::{action, Event, SYSTEM};
use crate::clock::now_ms;
use crate::custody::{identity_aad, IdentityKey, KeyCustody, Sealed};
use crate::ids::{check_app_id, check_id, BAD_ACTOR_ID, BAD_APP_USER_ID};
use crate::keystore::{blocking, lock, CAS_ATTEMPTS};
use crate::store::{IdentityDoc, IdentityState, RotationStep};
use crate::types::IdentityInfo;
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Creates the app's identity (a new RSA-2048 key, sealed) or loads it, and returns its
    /// public key in Rocket.Chat's format (during a rotation, the new key once it is
    /// published). A revoked identity stays revoked (`KEYSTORE_REVOKED`): re-creating one is
    /// explicit, [`AppKeyStore::recreate_identity`].
    pub async fn ensure_identity(&self, app_id: &str, app_user_id: &str) -> Result<String> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(app_user_id, BAD_APP_USER_ID)?;
        for _ in 0..CAS_ATTEMPTS {
            if let Some(identity) = self.inner.store.identity(app_id).await? {
                if identity.state == IdentityState::Revoked {
                    return Err(Error::Revoked);
                }
                if identity.app_user_id != app_user_id {
                    return Err(Error::BadInput("the app's identity belongs to another app user"));
                }
                return Ok(published_key(&identity).to_owned());
            }
            let identity = self.new_identity(app_id, app_user_id, 1).await?;
            match self.inner.store.insert_identity(&identity).await {
                // Another instance created it meanwhile: load theirs, and destroy ours if its
                // custody keeps it outside the document.
                Err(Error::Conflict(_)) => {
                    let _ = self.destroy_keys(&identity.current_blobs().into_iter().cloned().collect::<Vec<_>>()).await;
                    continue;
                }
                result => {
                    // The audit names the custody and its key object, so an operator sees where
                    // each identity's key is held.
                    let event = Event {
                        detail: Some(self.key_description(&identity)),
                        ..self.event(SYSTEM, action::IDENTITY_CREATE, Some(app_id), None)
                    };
                    self.audited(event, result).await?;
                    return Ok(identity.public_key);
                }
            }
        }
        Err(Error::Conflict("the identity kept changing while it was created"))
    }

    /// Replaces a revoked identity by a new one (new key, `key_version` above every earlier
    /// one, no authorizations). Creates one if the app has none; an active identity is left
    /// alone (`KEYSTORE_BAD_INPUT`: rotate it instead).
    pub async fn recreate_identity(&self, app_id: &str, app_user_id: &str, actor_id: &str) -> Result<String> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(app_user_id, BAD_APP_USER_ID)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let Some(tombstone) = self.inner.store.identity(app_id).await? else {
            return self.ensure_identity(app_id, app_user_id).await;
        };
        if tombstone.state != IdentityState::Revoked {
            return Err(Error::BadInput("the identity is active; rotate it instead of re-creating it"));
        }
        // Authorizations granted while the identity was revoked (a race with the revocation)
        // must not carry over to the new identity.
        self.inner.store.delete_authorizations(app_id).await?;
        let mut identity = self.new_identity(app_id, app_user_id, tombstone.key_version + 1).await?;
        identity.created_at = tombstone.created_at;
        identity.version = tombstone.version;
        let result = self.inner.store.update_identity(&identity).await;
        let event = Event {
            detail: Some(self.key_description(&identity)),
            ..self.event(actor_id, action::IDENTITY_RECREATE, Some(app_id), None)
        };
        self.audited(event, result).await?;
        self.forget_app(app_id, &[&identity.public_key]);
        Ok(identity.public_key)
    }

    /// Public facts about an app's identity.
    pub async fn identity(&self, app_id: &str) -> Result<Option<IdentityInfo>> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        Ok(self.inner.store.identity(app_id).await?.map(|identity| IdentityInfo {
            public_key: published_key(&identity).to_owned(),
            kek_id: identity.sealed.as_ref().map(|sealed| sealed.kek_id.clone()),
            rotation_step: identity.rotation.as_ref().map(|rotation| step_name(rotation.step).to_owned()),
            state: match identity.state {
                IdentityState::Active => "active",
                IdentityState::Revoked => "revoked",
            }
            .to_owned(),
            app_id: identity.app_id,
            app_user_id: identity.app_user_id,
            key_version: identity.key_version,
            created_at: identity.created_at,
            revoked_at: identity.revoked_at,
            revoked_by: identity.revoked_by,
        }))
    }

    /// Crypto-shreds the identity: removes its sealed private key (and any half-rotated one)
    /// from the document, which stays as a tombstone `{state: "revoked", revoked_at,
    /// revoked_by}`; drops every authorization of the app and every cached key. Idempotent: a
    /// second call finishes an interrupted one.
    pub async fn revoke_identity(&self, app_id: &str, actor_id: &str) -> Result<()> {
        self.ensure_open()?;
        check_app_id(app_id)?;
        check_id(actor_id, BAD_ACTOR_ID)?;
        let result = self.revoke_identity_inner(app_id, actor_id).await;
        self.forget_app(app_id, &[]);
        let event = Event {
            detail: result.as_ref().ok().map(|dropped| format!("authorizations_dropped={dropped}")),
            ..self.event(actor_id, action::IDENTITY_REVOKE, Some(app_id), None)
        };
        self.audited(event, result).await.map(drop)
    }

    pub(crate) async fn revoke_identity_inner(&self, app_id: &str, actor_id: &str) -> Result<u64> {
        let mut attempt = 0;
        loop {
            let identity = self.inner.store.identity(app_id).await?.ok_or(Error::NoIdentity)?;
            if identity.state == IdentityState::Revoked {
                break;
            }
            // Keys a custody keeps outside the document (a token's key pairs) are destroyed
            // first: a crash after this and before the tombstone leaves an identity whose key
            // is gone, which the next call finishes revoking; the other order could leave a
            // live key that no document names.
            let mut blobs: Vec<Sealed> = identity.current_blobs().into_iter().cloned().collect();
            blobs.extend(identity.new_blobs().into_iter().cloned());
            self.destroy_keys(&blobs).await?;
            let now = now_ms();
            let mut tombstone = identity.clone();
            tombstone.state = IdentityState::Revoked;
            tombstone.key_version = identity.key_version.max(identity.rotation.map_or(0, |r| r.new_key_version));
            tombstone.sealed = None;
            tombstone.sealed_copies.clear();
            tombstone.rotation = None;
            tombstone.revoked_at = Some(now);
            tombstone.revoked_by = Some(actor_id.to_owned());
            tombstone.updated_at = now;
            match self.inner.store.update_identity(&tombstone).await {
                Ok(_) => break,
                Err(Error::Conflict(_)) if attempt + 1 < CAS_ATTEMPTS => attempt += 1,
                Err(error) => return Err(error),
            }
        }
        self.inner.store.delete_authorizations(app_id).await
    }

    /// A new active identity document with a fresh key sealed under the current KEK.
    pub(crate) async fn new_identity(&self, app_id: &str, app_user_id: &str, key_version: i64) -> Result<IdentityDoc> {
        let (public_key, sealed) = self.generate_sealed(app_id, key_version).await?;
        let now = now_ms();
        Ok(IdentityDoc {
            app_id: app_id.to_owned(),
            app_user_id: app_user_id.to_owned(),
            key_version,
            public_key,
            sealed: Some(sealed),
            sealed_copies: Vec::new(),
            state: IdentityState::Active,
            created_at: now,
            updated_at: now,
            revoked_at: None,
            revoked_by: None,
            rotation: None,
            version: 1,
        })
    }

    /// Creates a key pair in the current custody (off the async workers) for (app, key
    /// version) and caches it. Returns (public key, what the document stores).
    pub(crate) async fn generate_sealed(&self, app_id: &str, key_version: i64) -> Result<(String, Sealed)> {
        let custody = self.current_custody();
        let aad = identity_aad(app_id, key_version);
        let (key, sealed) = blocking(move || custody.create_key(&aad)).await?;
        let public_key = key.public_key().to_rc_string();
        lock(&self.inner.private_keys).insert(app_id, key_version, &public_key, key);
        Ok((public_key, sealed))
    }

    /// The identity key stored in `blobs` (copies under different custodies: the first one
    /// this store holds opens) for (app, key version), whose public key must be `public_key`;
    /// cached.
    pub(crate) async fn private_key(
        &self,
        app_id: &str,
        public_key: &str,
        blobs: &[&Sealed],
        key_version: i64,
    ) -> Result<Arc<dyn IdentityKey>> {
        if let Some(key) = lock(&self.inner.private_keys).get(app_id, key_version, public_key) {
            return Ok(key);
        }
        let aad = identity_aad(app_id, key_version);
        let this = self.clone();
        let blobs: Vec<Sealed> = blobs.iter().map(|sealed| (*sealed).clone()).collect();
        let expected = public_key.to_owned();
        let key = blocking(move || {
            let mut last = Error::BadKek("sealed under a KEK this store was not given");
            for sealed in &blobs {
                let Ok(custody) = this.custody_for(&sealed.kek_id) else { continue };
                match custody.open_key(sealed, &aad) {
                    Ok(key) if key.public_key().to_rc_string() == expected => return Ok(key),
                    Ok(_) => last = Error::BadKek("the sealed key does not match the identity's public key"),
                    Err(error) => last = error,
                }
            }
            Err(last)
        })
        .await?;
        lock(&self.inner.private_keys).insert(app_id, key_version, public_key, Arc::clone(&key));
        Ok(key)
    }

    /// Destroys what each stored key refers to outside the document (see
    /// [`crate::KeyCustody::destroy_key`]). A key under a custody this store was not given is
    /// skipped: for software custody there is nothing to destroy, and a token this store
    /// cannot reach must be cleaned with the token's own tools.
    pub(crate) async fn destroy_keys(&self, blobs: &[Sealed]) -> Result<()> {
        let work: Vec<(Arc<dyn KeyCustody>, Sealed)> = blobs
            .iter()
            .filter_map(|sealed| self.custody_for(&sealed.kek_id).ok().map(|custody| (custody, sealed.clone())))
            .collect();
        if work.is_empty() {
            return Ok(());
        }
        blocking(move || work.iter().try_for_each(|(custody, sealed)| custody.destroy_key(sealed))).await
    }

    /// What the audit names for an identity's current key: its custody and key object.
    fn key_description(&self, identity: &IdentityDoc) -> String {
        let custody = self.current_custody();
        match &identity.sealed {
            Some(sealed) => custody.key_description(sealed),
            None => custody.description(),
        }
    }

    /// Every private key of an active identity: the current one, and the new one of a rotation
    /// in progress (new first once it is published, as new wrappings then use it).
    pub(crate) async fn private_keys_of(&self, identity: &IdentityDoc) -> Result<Vec<Arc<dyn IdentityKey>>> {
        if identity.sealed.is_none() {
            return Err(Error::Revoked);
        }
        let current = self
            .private_key(&identity.app_id, &identity.public_key, &identity.current_blobs(), identity.key_version)
            .await?;
        let Some(rotation) = &identity.rotation else { return Ok(vec![current]) };
        let new = self
            .private_key(&identity.app_id, &rotation.new_public_key, &identity.new_blobs(), rotation.new_key_version)
            .await?;
        Ok(match rotation.step {
            RotationStep::Published => vec![new, current],
            _ => vec![current, new],
        })
    }
}

/// The public key members should wrap room keys to: the current one, or the new one once a
/// rotation has published it (a host that re-publishes what `ensure_identity` returns must not
/// undo that step).
pub(crate) fn published_key(identity: &IdentityDoc) -> &str {
    match &identity.rotation {
        Some(rotation) if rotation.step == RotationStep::Published => &rotation.new_public_key,
        _ => &identity.public_key,
    }
}

pub(crate) fn step_name(step: RotationStep) -> &'static str {
    match step {
        RotationStep::Begun => "begun",
        RotationStep::Rewrapped => "rewrapped",
        RotationStep::Published => "published",
    }
}
