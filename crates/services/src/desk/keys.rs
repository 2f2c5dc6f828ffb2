//! The organisation's OpenPGP key (D2): generated or imported, published, and used to decrypt
//! reports sent encrypted.

use super::*;

impl Desk {
    /// Generates the organisation's key and makes it the active one; the previous key stays to
    /// decrypt reports sent to it.
    pub async fn generate_desk_key(
        &self,
        caller: &Caller,
        origin: &Origin,
        user_id: &str,
        algorithm: KeyAlgorithm,
        valid_days: u32,
    ) -> Result<DeskKeyView> {
        let enterprise = self.require_security_team(caller, Action::DeskKeyGenerate).await?;
        let user_id = user_id.trim();
        if user_id.is_empty() || user_id.len() > 200 || user_id.chars().any(char::is_control) {
            return Err(Error::Invalid(FieldError::new(
                "user_id",
                Rule::InvalidValue,
                "give a name and address such as: Security Team <security@example.org>",
            )));
        }
        if !(1..=3 * 365).contains(&valid_days) {
            return Err(Error::Invalid(FieldError::new("valid_days", Rule::InvalidValue, "must be 1 to 1095 days")));
        }
        let owned = user_id.to_owned();
        let key = tokio::task::spawn_blocking(move || OrgKey::generate(&owned, algorithm, valid_days))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.store_desk_key(caller, origin, enterprise, &key, Action::DeskKeyGenerate).await
    }

    /// Imports an existing secret key (Ed25519/Cv25519, RSA, ...), checked for fitness first.
    pub async fn import_desk_key(&self, caller: &Caller, origin: &Origin, armored: &str) -> Result<DeskKeyView> {
        let enterprise = self.require_security_team(caller, Action::DeskKeyImport).await?;
        if armored.len() > 64 * 1024 {
            return Err(Error::Invalid(FieldError::new("armored_key", Rule::TooLong, "must be at most 64 KiB")));
        }
        let text = armored.to_owned();
        let key = tokio::task::spawn_blocking(move || OrgKey::import(&text, now_unix()))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| pgp_field_error("armored_key", e))?;
        self.store_desk_key(caller, origin, enterprise, &key, Action::DeskKeyImport).await
    }

    pub(super) async fn store_desk_key(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        key: &OrgKey,
        action: Action,
    ) -> Result<DeskKeyView> {
        let info = key.info();
        let data_key = self.core.keys.enterprise_key(enterprise).await?;
        let secret = zeroize::Zeroizing::new(key.secret_armored());
        let row = store::DeskKeyRow {
            fingerprint: info.fingerprint.clone(),
            enterprise_id: enterprise,
            key_id: info.key_id.clone(),
            algorithm: info.algorithm.clone(),
            algorithm_id: i64::from(info.algorithm_id),
            bits: i64::from(info.bits),
            user_ids: serde_json::to_string(&info.user_ids).expect("strings serialise"),
            secret_ct: data_key
                .seal(secret.as_bytes(), Aad { table: "desk_keys", row: &info.fingerprint, column: "secret" }),
            public_armored: key.public_armored(),
            public_binary: key.public_binary(),
            created_at: info.created_at,
            expires_at: info.expires_at,
            added_at: Millis::now(),
            active: true,
            retired_at: None,
        };
        let audit = draft(caller, origin, Some(enterprise), action, Some(format!("pgp-key:{}", info.fingerprint)));
        self.desk_store.add_desk_key(&row, &audit).await.map_err(|e| match e {
            store::Error::Conflict(_) => {
                Error::Conflict(FieldError::new("armored_key", Rule::Duplicate, "this key is already on the desk"))
            }
            e => e.into(),
        })?;
        Ok(key_view(&row, now_unix()))
    }

    pub async fn list_desk_keys(&self, caller: &Caller) -> Result<Vec<DeskKeyView>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let now = now_unix();
        Ok(self.desk_store.desk_keys(enterprise).await?.iter().map(|k| key_view(k, now)).collect())
    }

    /// The active public key, if the desk has one (public: security.txt, HKP, WKD, the pages).
    pub async fn published_key(&self) -> Result<Option<PublishedKey>> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(None) };
        let now = now_unix();
        Ok(self.desk_store.desk_keys(enterprise).await?.into_iter().find(|k| k.active).map(|k| PublishedKey {
            view: key_view(&k, now),
            algorithm_id: k.algorithm_id,
            bits: k.bits,
            created_unix: k.created_at,
            expires_unix: k.expires_at,
            subkey_fingerprints: crypto::openpgp::subkey_fingerprints(&k.public_armored),
            armored: k.public_armored,
            binary: k.public_binary,
        }))
    }

    /// Every secret key of the desk, newest first, unsealed (to decrypt reports).
    pub(super) async fn desk_secret_keys(&self, enterprise: EnterpriseId) -> Result<Vec<OrgKey>> {
        let data_key = self.core.keys.enterprise_key(enterprise).await?;
        let mut keys = Vec::new();
        for row in self.desk_store.desk_keys(enterprise).await? {
            let secret = zeroize::Zeroizing::new(
                data_key.open(&row.secret_ct, Aad { table: "desk_keys", row: &row.fingerprint, column: "secret" })?,
            );
            let text = std::str::from_utf8(&secret).map_err(|_| Error::Internal("a stored key is not text".into()))?;
            keys.push(OrgKey::from_secret_armor(text).map_err(|e| Error::Internal(e.to_string()))?);
        }
        Ok(keys)
    }
}
