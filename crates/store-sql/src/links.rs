//! Single-use password links.

use crate::{foundation::append_audit, query, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};
use store::{decode, CredentialLinkRow, Result};

const LINK_COLUMNS: &str = "token_hash, enterprise_id, user_id, purpose, created_by, created_at, expires_at, used_at";

fn link_row(row: &Row) -> Result<CredentialLinkRow> {
    Ok(CredentialLinkRow {
        token_hash: row.try_get("token_hash")?,
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        purpose: text(row, "purpose")?,
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(|u| decode::uuid(&u).map(UserId))
            .transpose()?,
        created_at: Millis(row.try_get("created_at")?),
        expires_at: Millis(row.try_get("expires_at")?),
        used_at: row.try_get::<Option<i64>, _>("used_at")?.map(Millis),
    })
}

#[async_trait]
impl store::CredentialLinkStore for SqlStore {
    async fn create_credential_link(&self, link: &CredentialLinkRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(
                "UPDATE credential_links SET used_at = $1, expires_at = $1 \
                 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
            )
            .bind(link.created_at.0)
            .bind(link.user_id.to_string())
            .bind(&link.purpose)
            .execute(&mut *tx)
            .await?;
            query(&format!("INSERT INTO credential_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"))
                .bind(&link.token_hash)
                .bind(link.enterprise_id.to_string())
                .bind(link.user_id.to_string())
                .bind(&link.purpose)
                .bind(link.created_by.map(|u| u.to_string()))
                .bind(link.created_at.0)
                .bind(link.expires_at.0)
                .execute(&mut *tx)
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn credential_link(&self, token_hash: &[u8]) -> Result<Option<CredentialLinkRow>> {
        query(&format!("SELECT {LINK_COLUMNS} FROM credential_links WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(link_row)
            .transpose()
    }

    async fn claim_credential_link(&self, token_hash: &[u8], now: Millis) -> Result<bool> {
        let done = query(
            "UPDATE credential_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now.0)
        .bind(token_hash)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_credential_link(&self, token_hash: &[u8], claimed_at: Millis) -> Result<()> {
        query("UPDATE credential_links SET used_at = NULL WHERE token_hash = $1 AND used_at = $2")
            .bind(token_hash)
            .bind(claimed_at.0)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
