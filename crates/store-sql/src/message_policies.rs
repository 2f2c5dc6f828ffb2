//! Message policy templates and conversations' default template.

use crate::{foundation::append_audit, query, query_scalar, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{ConversationId, EnterpriseId, MessagePolicyId, Millis};
use store::{decode, Error, MessagePolicyChange, MessagePolicyRow, Result};

const COLUMNS: &str = "id, enterprise_id, name, rules, version, created_at, updated_at, retired_at";

fn policy_row(row: &Row) -> Result<MessagePolicyRow> {
    Ok(MessagePolicyRow {
        id: MessagePolicyId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        name: text(row, "name")?,
        rules: text(row, "rules")?,
        version: row.try_get("version")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
        retired_at: row.try_get::<Option<i64>, _>("retired_at")?.map(Millis),
    })
}

/// The backends word a broken unique index differently (SQLite names the columns, PostgreSQL
/// the index); both mean another active template has the name.
fn name_taken(e: Error) -> Error {
    match e {
        Error::Conflict(what) if what.contains("name") => Error::Conflict("message_policies.name".to_owned()),
        e => e,
    }
}

#[async_trait]
impl store::MessagePolicyStore for SqlStore {
    async fn create_message_policy(&self, row: &MessagePolicyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(&format!("INSERT INTO message_policies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"))
                .bind(row.id.to_string())
                .bind(row.enterprise_id.to_string())
                .bind(&row.name)
                .bind(&row.rules)
                .bind(row.version)
                .bind(row.created_at.0)
                .bind(row.updated_at.0)
                .execute(&mut *tx)
                .await
                .map_err(name_taken)?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn update_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
        change: &MessagePolicyChange<'_>,
        audit: &AuditDraft,
    ) -> Result<MessagePolicyRow> {
        transaction!(self.writer(), |tx| {
            // The version check and the write are one statement, so two editors cannot both win.
            let row = query(&format!(
                "UPDATE message_policies SET name = $1, rules = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $4 AND enterprise_id = $5 AND retired_at IS NULL AND ($6 < 0 OR version = $6) \
                 RETURNING {COLUMNS}"
            ))
            .bind(change.name)
            .bind(change.rules)
            .bind(change.at.0)
            .bind(id.to_string())
            .bind(enterprise.to_string())
            .bind(change.expected_version.unwrap_or(-1))
            .fetch_optional(&mut *tx)
            .await
            .map_err(name_taken)?;
            let Some(row) = row else {
                let exists: Option<String> = query_scalar(
                    "SELECT id FROM message_policies WHERE id = $1 AND enterprise_id = $2 AND retired_at IS NULL",
                )
                .bind(id.to_string())
                .bind(enterprise.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                return Err(match exists {
                    Some(_) => Error::Conflict("message_policies.version".to_owned()),
                    None => Error::NotFound,
                });
            };
            append_audit(&mut tx, audit).await?;
            policy_row(&row)
        })
    }

    async fn retire_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<MessagePolicyRow> {
        transaction!(self.writer(), |tx| {
            let row = query(&format!(
                "UPDATE message_policies SET retired_at = $1, version = version + 1, updated_at = $1 \
                 WHERE id = $2 AND enterprise_id = $3 AND retired_at IS NULL RETURNING {COLUMNS}"
            ))
            .bind(at.0)
            .bind(id.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound)?;
            query(
                "UPDATE conversations SET default_policy_id = NULL WHERE default_policy_id = $1 AND enterprise_id = $2",
            )
            .bind(id.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            policy_row(&row)
        })
    }

    async fn list_message_policies(&self, enterprise: EnterpriseId) -> Result<Vec<MessagePolicyRow>> {
        query(&format!(
            "SELECT {COLUMNS} FROM message_policies WHERE enterprise_id = $1 ORDER BY retired_at IS NOT NULL, name, id"
        ))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(policy_row)
        .collect()
    }

    async fn get_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
    ) -> Result<Option<MessagePolicyRow>> {
        query(&format!("SELECT {COLUMNS} FROM message_policies WHERE id = $1 AND enterprise_id = $2"))
            .bind(id.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(policy_row)
            .transpose()
    }

    async fn set_default_message_policy(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        policy: Option<MessagePolicyId>,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE conversations SET default_policy_id = $1 WHERE id = $2 AND enterprise_id = $3 \
                 AND ($1 IS NULL OR $1 IN (SELECT id FROM message_policies WHERE enterprise_id = $3 AND retired_at IS NULL))",
            )
            .bind(policy.map(|p| p.to_string()))
            .bind(conversation.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            crate::expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }
}
