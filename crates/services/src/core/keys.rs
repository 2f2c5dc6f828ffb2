//! Key management: the master keyring, per-enterprise data keys, the blind-index key, and master
//! key rotation (S2).
//!
//! Unwrapped data keys are cached in memory for the life of the process. Rotation by another
//! process (`conclave keys rotate` while a server runs) therefore never disturbs the running
//! server: keys it already holds stay valid, and when it meets a key wrapped under a master key it
//! does not know yet, it re-reads the key file once and retries.

use crate::{Caller, Error, Result};
use crypto::blind_index::BlindIndexKey;
use crypto::{DataKey, MasterKeyring, WrappedKey};
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, Millis};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Where the master keyring comes from.
#[derive(Clone)]
pub enum KeyringSource {
    /// The key file in the data directory; rotation rewrites it.
    File(PathBuf),
    /// `CONCLAVE_MASTER_KEY`: fixed for the life of the process; rotation is refused.
    Fixed(Arc<MasterKeyring>),
}

impl std::fmt::Debug for KeyringSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyringSource::File(p) => write!(f, "File({})", p.display()),
            KeyringSource::Fixed(_) => f.write_str("Fixed(***)"),
        }
    }
}

impl KeyringSource {
    fn load(&self) -> Result<Arc<MasterKeyring>> {
        match self {
            KeyringSource::File(path) => Ok(Arc::new(MasterKeyring::load(path)?)),
            KeyringSource::Fixed(ring) => Ok(ring.clone()),
        }
    }
}

pub(crate) const BLIND_INDEX_KEY_ID: &str = "blind-index";

pub(crate) fn enterprise_key_id(enterprise: EnterpriseId) -> String {
    format!("enterprise:{enterprise}")
}

pub(crate) struct Keys {
    store: Arc<dyn store::Store>,
    source: KeyringSource,
    ring: RwLock<Arc<MasterKeyring>>,
    cache: RwLock<HashMap<String, Arc<DataKey>>>,
    blind: BlindIndexKey,
    /// Set only by the benchmark switch: enterprise keys become [`DataKey::plaintext_for_benchmark`].
    plaintext_for_benchmark: Option<Arc<DataKey>>,
}

impl Keys {
    pub(crate) async fn load(
        store: Arc<dyn store::Store>,
        source: KeyringSource,
        plaintext_for_benchmark: bool,
    ) -> Result<Keys> {
        let ring = source.load()?;
        let blind_key = match store.get_key(BLIND_INDEX_KEY_ID).await? {
            Some(row) => ring.unwrap(
                &WrappedKey { master_key_id: row.master_key_id, ciphertext: row.wrapped },
                BLIND_INDEX_KEY_ID,
            )?,
            None => {
                let key = DataKey::generate();
                let row = key_row(&ring, &key, BLIND_INDEX_KEY_ID, None);
                let audit = crate::draft(
                    &Caller::System,
                    &Origin::default(),
                    None,
                    Action::KeyCreate,
                    Some(format!("key:{BLIND_INDEX_KEY_ID}")),
                );
                match store.create_key(&row, &audit).await {
                    Ok(()) => key,
                    // Another node created it first: use theirs.
                    Err(store::Error::Conflict(_)) => {
                        let row = store.get_key(BLIND_INDEX_KEY_ID).await?.ok_or(Error::NotFound("blind-index key"))?;
                        ring.unwrap(
                            &WrappedKey { master_key_id: row.master_key_id, ciphertext: row.wrapped },
                            BLIND_INDEX_KEY_ID,
                        )?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        Ok(Keys {
            store,
            source,
            ring: RwLock::new(ring),
            cache: RwLock::new(HashMap::new()),
            blind: BlindIndexKey::from_data_key(&blind_key),
            plaintext_for_benchmark: plaintext_for_benchmark.then(|| Arc::new(DataKey::plaintext_for_benchmark())),
        })
    }

    pub(crate) fn email_index(&self, normalised_email: &str) -> Vec<u8> {
        self.blind.compute("email", normalised_email)
    }

    /// Finds a report by its receipt code without storing the code (D5).
    pub(crate) fn receipt_index(&self, normalised_code: &str) -> Vec<u8> {
        self.blind.compute("receipt", normalised_code)
    }

    fn ring(&self) -> Arc<MasterKeyring> {
        self.ring.read().expect("keyring lock").clone()
    }

    /// A fresh data key for a new enterprise, wrapped under the active master key.
    pub(crate) fn new_enterprise_key(&self, enterprise: EnterpriseId) -> (Arc<DataKey>, store::KeyRow) {
        let key = DataKey::generate();
        let id = enterprise_key_id(enterprise);
        let row = key_row(&self.ring(), &key, &id, Some(enterprise));
        if let Some(plain) = &self.plaintext_for_benchmark {
            return (plain.clone(), row);
        }
        let key = Arc::new(key);
        self.cache.write().expect("key cache lock").insert(id, key.clone());
        (key, row)
    }

    /// The enterprise's data key, from the cache or unwrapped from the store.
    pub(crate) async fn enterprise_key(&self, enterprise: EnterpriseId) -> Result<Arc<DataKey>> {
        if let Some(plain) = &self.plaintext_for_benchmark {
            return Ok(plain.clone());
        }
        let id = enterprise_key_id(enterprise);
        if let Some(key) = self.cache.read().expect("key cache lock").get(&id) {
            return Ok(key.clone());
        }
        let row = self.store.get_key(&id).await?.ok_or(Error::NotFound("enterprise"))?;
        let wrapped = WrappedKey { master_key_id: row.master_key_id, ciphertext: row.wrapped };
        let key = match self.ring().unwrap(&wrapped, &id) {
            Err(crypto::Error::UnknownMasterKey(_)) => {
                // Rotated by another process since we loaded the keyring: re-read it once.
                let fresh = self.source.load()?;
                *self.ring.write().expect("keyring lock") = fresh.clone();
                fresh.unwrap(&wrapped, &id)?
            }
            other => other?,
        };
        let key = Arc::new(key);
        self.cache.write().expect("key cache lock").insert(id, key.clone());
        Ok(key)
    }

    /// Master key rotation: add a new active master key to the key file, re-wrap every data key
    /// under it (compare-and-swap per row), then drop the old master keys from the file. A crash
    /// part-way leaves a file holding both old and new keys, so every row stays readable and
    /// running the command again finishes the job.
    pub(crate) async fn rotate(&self, origin: &Origin, progress: &dyn Fn(u64, u64)) -> Result<RotationReport> {
        let KeyringSource::File(path) = &self.source else {
            return Err(Error::Invalid(domain::FieldError::new(
                "master_key",
                domain::Rule::InvalidValue,
                "the master key comes from CONCLAVE_MASTER_KEY; rotate it by changing the environment, not with this command",
            )));
        };
        let mut ring = MasterKeyring::load(path)?;
        let old_ids: Vec<String> = ring.ids().map(str::to_owned).collect();
        let new_id = ring.add_active_key();
        ring.save(path)?;
        let rows = self.store.list_keys().await?;
        let total = rows.len() as u64;
        let mut rewrapped = 0u64;
        for (i, row) in rows.into_iter().enumerate() {
            if row.master_key_id != new_id {
                let wrapped = WrappedKey { master_key_id: row.master_key_id.clone(), ciphertext: row.wrapped.clone() };
                let key = ring.unwrap(&wrapped, &row.id)?;
                let new_wrapping = ring.wrap(&key, &row.id);
                if self
                    .store
                    .rewrap_key(&row.id, &row.master_key_id, &new_id, &new_wrapping.ciphertext, Millis::now())
                    .await?
                {
                    rewrapped += 1;
                }
            }
            progress(i as u64 + 1, total);
        }
        // Every row must now be under the new key before the old ones may go.
        let stragglers = self.store.list_keys().await?.into_iter().filter(|r| r.master_key_id != new_id).count();
        if stragglers > 0 {
            return Err(Error::Internal(format!(
                "{stragglers} keys are still wrapped under an old master key; run the rotation again"
            )));
        }
        let retired = ring.retire_inactive();
        ring.save(path)?;
        *self.ring.write().expect("keyring lock") = Arc::new(MasterKeyring::load(path)?);
        let detail =
            serde_json::json!({ "new_master_key": new_id, "retired": old_ids, "rewrapped": rewrapped }).to_string();
        let audit = AuditDraft {
            detail,
            target: Some(format!("master-key:{new_id}")),
            ..crate::draft(&Caller::Operator, origin, None, Action::KeyRotate, None)
        };
        self.store.append_audit(&audit).await?;
        Ok(RotationReport { new_master_key_id: new_id, rewrapped, retired })
    }
}

fn key_row(ring: &MasterKeyring, key: &DataKey, id: &str, enterprise: Option<EnterpriseId>) -> store::KeyRow {
    let wrapped = ring.wrap(key, id);
    store::KeyRow {
        id: id.to_owned(),
        enterprise_id: enterprise,
        master_key_id: wrapped.master_key_id,
        wrapped: wrapped.ciphertext,
        created_at: Millis::now(),
        rotated_at: None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub new_master_key_id: String,
    pub rewrapped: u64,
    pub retired: usize,
}

impl super::Core {
    /// Rotates the master key (operator only). `progress(done, total)` reports each key re-wrapped.
    pub async fn rotate_master_key(
        &self,
        caller: &Caller,
        origin: &Origin,
        progress: &dyn Fn(u64, u64),
    ) -> Result<RotationReport> {
        self.require_operator(caller, Action::KeyRotate).await?;
        self.keys.rotate(origin, progress).await
    }
}
