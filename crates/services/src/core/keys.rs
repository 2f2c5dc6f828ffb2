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
use domain::audit::{Action, AuditDraft, Origin, SealedOrigin};
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
pub(crate) const AUDIT_ORIGIN_KEY_ID: &str = "audit-origin";

pub(crate) fn enterprise_key_id(enterprise: EnterpriseId) -> String {
    format!("enterprise:{enterprise}")
}

pub(crate) struct Keys {
    store: Arc<dyn store::Store>,
    source: KeyringSource,
    ring: RwLock<Arc<MasterKeyring>>,
    /// Shared with the [`OriginSealer`], which seals inside store transactions and so can only
    /// use keys already here.
    cache: Arc<RwLock<HashMap<String, Arc<DataKey>>>>,
    blind: Arc<BlindIndexKey>,
    /// Seals audit origins of events outside any enterprise (or whose enterprise key this node
    /// has not met yet).
    audit_origin: Arc<DataKey>,
    /// Set only by the benchmark switch: enterprise keys become [`DataKey::plaintext_for_benchmark`].
    plaintext_for_benchmark: Option<Arc<DataKey>>,
}

/// Loads an installation-wide data key, creating it on first start (another node may win the
/// race; then its key is used).
async fn installation_key(store: &Arc<dyn store::Store>, ring: &MasterKeyring, id: &str) -> Result<DataKey> {
    let unwrap =
        |row: store::KeyRow| ring.unwrap(&WrappedKey { master_key_id: row.master_key_id, ciphertext: row.wrapped }, id);
    if let Some(row) = store.get_key(id).await? {
        return Ok(unwrap(row)?);
    }
    let key = DataKey::generate();
    let row = key_row(ring, &key, id, None);
    let audit = crate::draft(&Caller::System, &Origin::default(), None, Action::KeyCreate, Some(format!("key:{id}")));
    match store.create_key(&row, &audit).await {
        Ok(()) => Ok(key),
        Err(store::Error::Conflict(_)) => {
            let row = store.get_key(id).await?.ok_or(Error::NotFound("installation key"))?;
            Ok(unwrap(row)?)
        }
        Err(e) => Err(e.into()),
    }
}

impl Keys {
    pub(crate) async fn load(
        store: Arc<dyn store::Store>,
        source: KeyringSource,
        plaintext_for_benchmark: bool,
    ) -> Result<Keys> {
        let ring = source.load()?;
        let blind_key = installation_key(&store, &ring, BLIND_INDEX_KEY_ID).await?;
        let audit_origin = installation_key(&store, &ring, AUDIT_ORIGIN_KEY_ID).await?;
        // Every enterprise key is unwrapped now, so audit origins are sealed under their own
        // enterprise's key from the first event on.
        let mut cache = HashMap::new();
        for row in store.list_keys().await? {
            if row.enterprise_id.is_some() {
                let id = row.id.clone();
                match ring.unwrap(&WrappedKey { master_key_id: row.master_key_id, ciphertext: row.wrapped }, &id) {
                    Ok(key) => {
                        cache.insert(id, Arc::new(key));
                    }
                    // Only that enterprise is affected (its first use reports the error); its
                    // audit origins are sealed under the installation's key meanwhile.
                    Err(e) => tracing::warn!(key = %id, error = %e, "could not unwrap an enterprise key at start"),
                }
            }
        }
        let keys = Keys {
            store: store.clone(),
            source,
            ring: RwLock::new(ring),
            cache: Arc::new(RwLock::new(cache)),
            blind: Arc::new(BlindIndexKey::from_data_key(&blind_key)),
            audit_origin: Arc::new(audit_origin),
            plaintext_for_benchmark: plaintext_for_benchmark.then(|| Arc::new(DataKey::plaintext_for_benchmark())),
        };
        store.install_audit_sealer(Arc::new(OriginSealer {
            cache: keys.cache.clone(),
            blind: keys.blind.clone(),
            audit_origin: keys.audit_origin.clone(),
            plaintext_for_benchmark: keys.plaintext_for_benchmark.clone(),
        }));
        Ok(keys)
    }

    /// The blind index an audit report of `enterprise` filters by for one address.
    pub(crate) fn audit_ip_index(&self, enterprise: Option<EnterpriseId>, ip: std::net::IpAddr) -> Vec<u8> {
        audit_ip_index(&self.blind, enterprise, ip)
    }

    /// The blind index an audit report of `enterprise` filters by for one network (see
    /// [`network_of`]).
    pub(crate) fn audit_network_index(&self, enterprise: Option<EnterpriseId>, network: &str) -> Vec<u8> {
        audit_network_index(&self.blind, enterprise, network)
    }

    /// Opens an audit event's sealed origin with the key it names.
    pub(crate) async fn open_audit_origin(&self, seq: i64, sealed: &SealedOrigin) -> Result<Origin> {
        if sealed.is_empty() {
            return Ok(Origin::default());
        }
        let key = match sealed.key_id.strip_prefix("enterprise:").and_then(|id| uuid::Uuid::parse_str(id).ok()) {
            Some(enterprise) => self.enterprise_key(EnterpriseId(enterprise)).await?,
            None if sealed.key_id == AUDIT_ORIGIN_KEY_ID => {
                self.plaintext_for_benchmark.clone().unwrap_or_else(|| self.audit_origin.clone())
            }
            None => return Err(Error::Internal(format!("audit event {seq} names an unknown key"))),
        };
        let row = seq.to_string();
        let open = |ct: &Option<Vec<u8>>, column| -> Result<Option<String>> {
            Ok(ct.as_ref().map(|ct| key.open_str(ct, audit_aad(&row, column))).transpose()?)
        };
        Ok(Origin { ip: open(&sealed.ip_ct, "ip")?, user_agent: open(&sealed.user_agent_ct, "user_agent")? })
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

fn audit_aad<'a>(row: &'a str, column: &'a str) -> crypto::Aad<'a> {
    crypto::Aad { table: "audit_events", row, column }
}

/// The network an address is indexed under: its /24 for IPv4, its /64 for IPv6 (an IPv4 address
/// mapped into IPv6 counts as IPv4), written as CIDR text.
pub(crate) fn network_of(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let net = std::net::Ipv6Addr::new(seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// The indexes name the enterprise too, so the same address is a different value in each
/// enterprise's log: someone with the database cannot follow an address across tenants.
fn audit_ip_index(blind: &BlindIndexKey, enterprise: Option<EnterpriseId>, ip: std::net::IpAddr) -> Vec<u8> {
    blind.compute("audit-ip", &format!("{}\0{}", tenant(enterprise), ip.to_canonical()))
}

fn audit_network_index(blind: &BlindIndexKey, enterprise: Option<EnterpriseId>, network: &str) -> Vec<u8> {
    blind.compute("audit-network", &format!("{}\0{network}", tenant(enterprise)))
}

fn tenant(enterprise: Option<EnterpriseId>) -> String {
    enterprise.map_or_else(|| "installation".to_owned(), |e| e.to_string())
}

/// Seals audit origins for the store (see [`store::AuditSealer`]): under the enterprise's key when
/// this node holds it, else under the installation's audit-origin key; the key used is recorded.
struct OriginSealer {
    cache: Arc<RwLock<HashMap<String, Arc<DataKey>>>>,
    blind: Arc<BlindIndexKey>,
    audit_origin: Arc<DataKey>,
    plaintext_for_benchmark: Option<Arc<DataKey>>,
}

impl store::AuditSealer for OriginSealer {
    fn seal_origin(&self, enterprise: Option<EnterpriseId>, seq: i64, origin: &Origin) -> SealedOrigin {
        if origin.ip.is_none() && origin.user_agent.is_none() {
            return SealedOrigin::default();
        }
        let enterprise_key = enterprise.and_then(|e| {
            let id = enterprise_key_id(e);
            let key = self.cache.read().expect("key cache lock").get(&id).cloned();
            key.map(|k| (id, k))
        });
        let (key_id, key) =
            enterprise_key.unwrap_or_else(|| (AUDIT_ORIGIN_KEY_ID.to_owned(), self.audit_origin.clone()));
        let key = self.plaintext_for_benchmark.clone().unwrap_or(key);
        let row = seq.to_string();
        let parsed = origin.ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
        SealedOrigin {
            key_id,
            ip_ct: origin.ip.as_deref().map(|ip| key.seal_str(ip, audit_aad(&row, "ip"))),
            user_agent_ct: origin.user_agent.as_deref().map(|ua| key.seal_str(ua, audit_aad(&row, "user_agent"))),
            ip_index: parsed.map(|ip| audit_ip_index(&self.blind, enterprise, ip)),
            network_index: parsed.map(|ip| audit_network_index(&self.blind, enterprise, &network_of(ip))),
        }
    }
}
