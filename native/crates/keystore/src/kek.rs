//! The key-encryption key (KEK) over identities: re-sealing every identity under a new KEK
//! while the old blob stays for instances that hold only the old KEK, and retiring a KEK.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::audit::{action, Event, OK, SYSTEM};
use crate::clock::now_ms;
use crate::custody::{identity_aad, KeyCustody, Sealed};
use crate::ids::check_id;
use crate::keystore::{write, CAS_ATTEMPTS};
use crate::store::IdentityDoc;
use crate::types::RekeyReport;
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Re-seals every identity under `custody`, which becomes this store's current KEK once
    /// every identity has a blob under it (the previous one stays usable for opening). The old
    /// KEK's blob stays beside the new one, so other server instances that hold only the old
    /// KEK keep opening identities for the whole rotation and after it; shred those blobs with
    /// [`AppKeyStore::retire_kek`] once every instance has the new KEK. One document at a time
    /// with compare-and-swap; resumable: call again after a failure. Fails with
    /// `KEYSTORE_BAD_KEK` (after re-sealing all it can, and without switching) if some
    /// identity has no blob under a KEK this store holds, and with `KEYSTORE_BAD_INPUT` (nothing
    /// written) if `custody` seals nothing (PKCS#11 `rsa` mode: rotate identities into it).
    pub async fn rekey(&self, custody: Arc<dyn KeyCustody>) -> Result<RekeyReport> {
        self.ensure_open()?;
        if !custody.seals() {
            // A key that was once in this process does not become non-extractable by being
            // imported into a token: identities move into such a custody by rotation (open
            // with it as the current custody and the old one in `previous_keks`).
            return Err(Error::BadInput("this custody keeps key pairs in the token: rotate identities into it"));
        }
        let mut report = RekeyReport::default();
        let mut failure = None;
        for identity in self.inner.store.identities().await? {
            let app_id = identity.app_id.clone();
            match self.reseal(&app_id, &custody).await {
                Ok(true) => {
                    report.resealed += 1;
                    let event = Event {
                        detail: Some(custody.description()),
                        ..self.event(SYSTEM, action::KEK_REKEY, Some(&app_id), None)
                    };
                    self.append(&event, OK).await?;
                }
                Ok(false) => report.unchanged += 1,
                Err(error) => {
                    let event = self.event(SYSTEM, action::KEK_REKEY, Some(&app_id), None);
                    self.append(&event, error.code()).await?;
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        // Only now: until every identity opens under the new KEK, this instance seals under
        // the old one, which every instance holds.
        let mut keks = write(&self.inner.keks);
        if keks.current.kek_id() != custody.kek_id() {
            let old = std::mem::replace(&mut keks.current, Arc::clone(&custody));
            keks.previous.retain(|kek| kek.kek_id() != custody.kek_id() && kek.kek_id() != old.kek_id());
            keks.previous.insert(0, old);
        }
        Ok(report)
    }

    /// Adds a blob under `custody` to each of one identity's keys that lacks one (it becomes
    /// the primary; the others stay as copies); `false` if none lacked one.
    pub(crate) async fn reseal(&self, app_id: &str, custody: &Arc<dyn KeyCustody>) -> Result<bool> {
        self.update_identity_with(app_id, |identity| {
            let mut changed = false;
            for (key_version, primary, copies) in identity.keys_mut() {
                changed |= self.reseal_key(primary, copies, &identity_aad(app_id, key_version), custody)?;
            }
            Ok(changed)
        })
        .await
    }

    /// Makes the blob under `custody` the primary one, sealing it from another blob if there
    /// is none; the previous primary stays as a copy. `false` if it already was the primary.
    fn reseal_key(
        &self,
        primary: &mut Sealed,
        copies: &mut Vec<Sealed>,
        aad: &[u8],
        custody: &Arc<dyn KeyCustody>,
    ) -> Result<bool> {
        if primary.kek_id == custody.kek_id() {
            return Ok(false);
        }
        if let Some(copy) = copies.iter_mut().find(|sealed| sealed.kek_id == custody.kek_id()) {
            std::mem::swap(primary, copy);
            return Ok(true);
        }
        let blobs: Vec<&Sealed> = std::iter::once(&*primary).chain(copies.iter()).collect();
        let plaintext = self.open_any(&blobs, aad, Some(custody))?;
        let new = custody.seal(&plaintext, aad)?;
        copies.insert(0, std::mem::replace(primary, new));
        Ok(true)
    }

    /// Shreds every blob sealed under the KEK `kek_id` (after a [`AppKeyStore::rekey`] away from
    /// it, once every instance holds the new KEK): a key whose only blob is under it is first
    /// re-sealed under this store's current KEK. The current KEK cannot be retired
    /// (`KEYSTORE_BAD_INPUT`). Afterwards this store no longer accepts that KEK. Resumable.
    pub async fn retire_kek(&self, kek_id: &str) -> Result<RekeyReport> {
        self.ensure_open()?;
        check_id(kek_id, "KEK id is empty, too long or has control characters")?;
        let current = self.current_custody();
        if current.kek_id() == kek_id {
            return Err(Error::BadInput("the current KEK cannot be retired; rekey away from it first"));
        }
        let mut report = RekeyReport::default();
        for identity in self.inner.store.identities().await? {
            let app_id = identity.app_id;
            let changed = self
                .update_identity_with(&app_id, |identity| {
                    let mut changed = false;
                    for (key_version, primary, copies) in identity.keys_mut() {
                        let retired = |sealed: &Sealed| sealed.kek_id == kek_id;
                        if !retired(primary) && !copies.iter().any(retired) {
                            continue;
                        }
                        self.reseal_key(primary, copies, &identity_aad(&app_id, key_version), &current)?;
                        copies.retain(|sealed| !retired(sealed));
                        changed = true;
                    }
                    Ok(changed)
                })
                .await?;
            match changed {
                true => {
                    report.resealed += 1;
                    let event = Event {
                        detail: Some(format!("retired_kek_id={kek_id}")),
                        ..self.event(SYSTEM, action::KEK_RETIRE, Some(&app_id), None)
                    };
                    self.append(&event, OK).await?;
                }
                false => report.unchanged += 1,
            }
        }
        write(&self.inner.keks).previous.retain(|kek| kek.kek_id() != kek_id);
        Ok(report)
    }

    /// Reads the app's identity, lets `change` edit it (returning whether it did) and writes it
    /// back with compare-and-swap, starting over on a lost race (at most [`CAS_ATTEMPTS`]
    /// times). `false` when there is no identity or nothing changed.
    async fn update_identity_with(
        &self,
        app_id: &str,
        mut change: impl FnMut(&mut IdentityDoc) -> Result<bool>,
    ) -> Result<bool> {
        let mut attempt = 0;
        loop {
            let Some(mut identity) = self.inner.store.identity(app_id).await? else { return Ok(false) };
            if !change(&mut identity)? {
                return Ok(false);
            }
            identity.updated_at = now_ms();
            match self.inner.store.update_identity(&identity).await {
                Ok(_) => return Ok(true),
                Err(Error::Conflict(_)) if attempt + 1 < CAS_ATTEMPTS => attempt += 1,
                Err(error) => return Err(error),
            }
        }
    }

    /// Opens the first of `blobs` this store (or `extra`) holds the KEK of.
    pub(crate) fn open_any(
        &self,
        blobs: &[&Sealed],
        aad: &[u8],
        extra: Option<&Arc<dyn KeyCustody>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut last = Error::BadKek("sealed under a KEK this store was not given");
        for sealed in blobs {
            let custody = match extra.filter(|extra| extra.kek_id() == sealed.kek_id) {
                Some(extra) => Arc::clone(extra),
                None => match self.custody_for(&sealed.kek_id) {
                    Ok(custody) => custody,
                    Err(error) => {
                        last = error;
                        continue;
                    }
                },
            };
            match custody.unseal(sealed, aad) {
                Ok(plaintext) => return Ok(plaintext),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}
