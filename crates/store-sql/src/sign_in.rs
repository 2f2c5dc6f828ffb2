//! The sign-in store: password policies, lockout counters, password history, one-time codes.

use crate::{expect_rows, foundation::append_audit, query, query_scalar, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};
use store::{Error, Result, SignInState};

/// How long a started single sign-on (OIDC state, SAML request) is kept unanswered: longer than
/// the services accept one, so expiry is decided there and this only bounds the table.
const STARTED_SIGN_IN_KEPT_MS: i64 = 3_600_000;

/// Keeps a per-user row (`user_id` is `$1`) to users of the enterprise bound as `$2`.
const OF_ENTERPRISE: &str = "user_id IN (SELECT id FROM users WHERE id = $1 AND enterprise_id = $2)";
/// The same with the enterprise bound as `$3`.
const OF_ENTERPRISE_3: &str = "user_id IN (SELECT id FROM users WHERE id = $2 AND enterprise_id = $3)";

const STATE_COLUMNS: &str =
    "password_changed_at, failed_sign_ins, locked_until, totp_secret_ct, totp_pending_ct, totp_last_step";

fn state_row(row: &Row) -> Result<SignInState> {
    let millis = |c: &str| -> Result<Option<Millis>> { Ok(row.try_get::<Option<i64>, _>(c)?.map(Millis)) };
    Ok(SignInState {
        password_changed_at: millis("password_changed_at")?,
        failed_sign_ins: row.try_get("failed_sign_ins")?,
        locked_until: millis("locked_until")?,
        totp_secret_ct: row.try_get("totp_secret_ct")?,
        totp_pending_ct: row.try_get("totp_pending_ct")?,
        totp_last_step: row.try_get("totp_last_step")?,
    })
}

#[async_trait]
impl store::SignInStore for SqlStore {
    async fn sign_in_state(&self, enterprise: EnterpriseId, user: UserId) -> Result<SignInState> {
        let row = query(&format!("SELECT {STATE_COLUMNS} FROM users WHERE id = $1 AND enterprise_id = $2"))
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or(Error::NotFound)?;
        state_row(&row)
    }

    async fn record_failed_sign_in(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        threshold: i64,
        lock_until: Millis,
    ) -> Result<SignInState> {
        let row = query(&format!(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, \
             locked_until = CASE WHEN failed_sign_ins + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE id = $3 AND enterprise_id = $4 RETURNING {STATE_COLUMNS}"
        ))
        .bind(threshold)
        .bind(lock_until.0)
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .fetch_optional(self.writer())
        .await?
        .ok_or(Error::NotFound)?;
        state_row(&row)
    }

    async fn reset_failed_sign_ins(&self, enterprise: EnterpriseId, user: UserId) -> Result<()> {
        query("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1 AND enterprise_id = $2 AND (failed_sign_ins <> 0 OR locked_until IS NOT NULL)")
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn password_history(&self, enterprise: EnterpriseId, user: UserId, limit: u32) -> Result<Vec<String>> {
        query_scalar(&format!("SELECT hash FROM password_history WHERE user_id = $1 AND {OF_ENTERPRISE} ORDER BY created_at DESC LIMIT $3"))
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await
    }

    async fn change_password(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        new_hash: &str,
        at: Millis,
        keep: u32,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let old: Option<Option<String>> =
                query_scalar("SELECT password_hash FROM users WHERE enterprise_id = $1 AND id = $2")
                    .bind(enterprise.to_string())
                    .bind(user.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(old) = old else { return Err(Error::NotFound) };
            if let Some(old) = old {
                query("INSERT INTO password_history (user_id, hash, created_at) VALUES ($1, $2, $3)")
                    .bind(user.to_string())
                    .bind(old)
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await?;
            }
            query(
                "DELETE FROM password_history WHERE user_id = $1 AND created_at NOT IN \
                 (SELECT created_at FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)",
            )
            .bind(user.to_string())
            .bind(i64::from(keep))
            .execute(&mut *tx)
            .await?;
            query(
                "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2, \
                 failed_sign_ins = 0, locked_until = NULL WHERE id = $3",
            )
            .bind(new_hash)
            .bind(at.0)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn set_totp_pending(&self, enterprise: EnterpriseId, user: UserId, secret_ct: Option<&[u8]>) -> Result<()> {
        query("UPDATE users SET totp_pending_ct = $1 WHERE id = $2 AND enterprise_id = $3")
            .bind(secret_ct)
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn enable_totp(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        secret_ct: &[u8],
        step: i64,
        recovery_hashes: &[Vec<u8>],
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE users SET totp_secret_ct = $1, totp_pending_ct = NULL, totp_last_step = $2 \
                 WHERE id = $3 AND enterprise_id = $4",
            )
            .bind(secret_ct)
            .bind(step)
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            expect_rows(done.rows_affected())?;
            query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
            for hash in recovery_hashes {
                query("INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)")
                    .bind(user.to_string())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn disable_totp(&self, enterprise: EnterpriseId, user: UserId, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE users SET totp_secret_ct = NULL, totp_pending_ct = NULL, totp_last_step = NULL \
                 WHERE id = $1 AND enterprise_id = $2",
            )
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            expect_rows(done.rows_affected())?;
            query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn use_totp_step(&self, enterprise: EnterpriseId, user: UserId, step: i64) -> Result<bool> {
        let done = query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND enterprise_id = $3 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_recovery_code(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        code_hash: &[u8],
        at: Millis,
    ) -> Result<bool> {
        let done =
            query(&format!("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND {OF_ENTERPRISE_3} AND code_hash = $4 AND used_at IS NULL"))
                .bind(at.0)
                .bind(user.to_string())
                .bind(enterprise.to_string())
                .bind(code_hash)
                .execute(self.writer())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn recovery_code_unused(&self, enterprise: EnterpriseId, user: UserId, code_hash: &[u8]) -> Result<bool> {
        let n: i64 = query_scalar(
            &format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND {OF_ENTERPRISE} AND code_hash = $3 AND used_at IS NULL"),
        )
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .bind(code_hash)
        .fetch_one(self.reader())
        .await?;
        Ok(n > 0)
    }

    async fn unused_recovery_codes(&self, enterprise: EnterpriseId, user: UserId) -> Result<i64> {
        query_scalar(&format!(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND {OF_ENTERPRISE} AND used_at IS NULL"
        ))
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .fetch_one(self.reader())
        .await
    }

    async fn set_user_roles(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        roles: domain::Roles,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done =
                query("UPDATE users SET role = $1, roles = $2, updated_at = $3 WHERE enterprise_id = $4 AND id = $5")
                    .bind(roles.primary().as_str())
                    .bind(roles.encode())
                    .bind(at.0)
                    .bind(enterprise.to_string())
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn create_oidc_login(
        &self,
        state_hash: &[u8],
        enterprise: EnterpriseId,
        secrets_ct: &[u8],
        at: Millis,
    ) -> Result<()> {
        // Forget sign-ins started long ago and never finished: they are refused as stale anyway,
        // and nothing else would ever delete them.
        query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(at.0 - STARTED_SIGN_IN_KEPT_MS)
            .execute(self.writer())
            .await?;
        query("INSERT INTO oidc_logins (state_hash, enterprise_id, secrets_ct, created_at) VALUES ($1, $2, $3, $4)")
            .bind(state_hash)
            .bind(enterprise.to_string())
            .bind(secrets_ct)
            .bind(at.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn take_oidc_login(&self, state_hash: &[u8]) -> Result<Option<(EnterpriseId, Vec<u8>, Millis)>> {
        let row =
            query("DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING enterprise_id, secrets_ct, created_at")
                .bind(state_hash)
                .fetch_optional(self.writer())
                .await?;
        row.map(|r| {
            let id: String = r.try_get("enterprise_id")?;
            Ok((EnterpriseId(store::decode::uuid(&id)?), r.try_get("secrets_ct")?, Millis(r.try_get("created_at")?)))
        })
        .transpose()
    }

    async fn create_saml_request(&self, id: &str, enterprise: EnterpriseId, at: Millis) -> Result<()> {
        query("DELETE FROM saml_requests WHERE created_at < $1")
            .bind(at.0 - STARTED_SIGN_IN_KEPT_MS)
            .execute(self.writer())
            .await?;
        query("INSERT INTO saml_requests (id, enterprise_id, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(enterprise.to_string())
            .bind(at.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn take_saml_request(&self, id: &str) -> Result<Option<(EnterpriseId, Millis)>> {
        let row = query("DELETE FROM saml_requests WHERE id = $1 RETURNING enterprise_id, created_at")
            .bind(id)
            .fetch_optional(self.writer())
            .await?;
        row.map(|r| {
            let e: String = r.try_get("enterprise_id")?;
            Ok((EnterpriseId(store::decode::uuid(&e)?), Millis(r.try_get("created_at")?)))
        })
        .transpose()
    }

    async fn record_saml_assertion(&self, id: &str, enterprise: EnterpriseId, expires_at: Millis) -> Result<bool> {
        // Forget assertions past their lifetime: they are refused as expired anyway.
        query("DELETE FROM saml_assertions WHERE expires_at < $1").bind(Millis::now().0).execute(self.writer()).await?;
        let done = query(
            "INSERT INTO saml_assertions (id, enterprise_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(enterprise.to_string())
        .bind(expires_at.0)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
