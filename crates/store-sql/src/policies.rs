//! Per-enterprise policy documents.

use crate::{foundation::append_audit, query, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};
use store::{decode, Error, PolicyChange, PolicyDocumentRow, Result};

const POLICY_COLUMNS: &str = "enterprise_id, kind, version, document, sealed_ct, updated_at, updated_by";

fn policy_row(row: &Row) -> Result<PolicyDocumentRow> {
    Ok(PolicyDocumentRow {
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        kind: text(row, "kind")?,
        version: row.try_get("version")?,
        document: text(row, "document")?,
        sealed_ct: row.try_get("sealed_ct")?,
        updated_at: Millis(row.try_get("updated_at")?),
        updated_by: row
            .try_get::<Option<String>, _>("updated_by")?
            .map(|u| decode::uuid(&u).map(UserId))
            .transpose()?,
    })
}

#[async_trait]
impl store::PolicyStore for SqlStore {
    async fn policy_document(&self, enterprise: EnterpriseId, kind: &str) -> Result<Option<PolicyDocumentRow>> {
        query(&format!("SELECT {POLICY_COLUMNS} FROM policy_documents WHERE enterprise_id = $1 AND kind = $2"))
            .bind(enterprise.to_string())
            .bind(kind)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(policy_row)
            .transpose()
    }

    async fn put_policy_document(&self, change: &PolicyChange<'_>, audit: &AuditDraft) -> Result<PolicyDocumentRow> {
        let expected_version = change.expected_version;
        transaction!(self.writer(), |tx| {
            // The version check and the write are one statement, so two editors cannot both win.
            let row = query(&format!(
                "INSERT INTO policy_documents ({POLICY_COLUMNS}) VALUES ($1, $2, 1, $3, $7, $4, $5) \
                 ON CONFLICT (enterprise_id, kind) DO UPDATE SET version = policy_documents.version + 1, \
                 document = excluded.document, sealed_ct = excluded.sealed_ct, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by \
                 WHERE $6 < 0 OR policy_documents.version = $6 \
                 RETURNING {POLICY_COLUMNS}"
            ))
            .bind(change.enterprise_id.to_string())
            .bind(change.kind)
            .bind(change.document)
            .bind(change.at.0)
            .bind(change.by.map(|u| u.to_string()))
            .bind(expected_version.unwrap_or(-1))
            .bind(change.sealed)
            .fetch_optional(&mut *tx)
            .await?;
            let row = match row {
                Some(row) => policy_row(&row)?,
                None => return Err(Error::Conflict("policy_documents.version".to_owned())),
            };
            // A first document expected to replace an existing one was inserted meanwhile.
            if expected_version.is_some_and(|v| v + 1 != row.version) {
                return Err(Error::Conflict("policy_documents.version".to_owned()));
            }
            append_audit(&mut tx, audit).await?;
            Ok(row)
        })
    }

    async fn policy_documents_of_kind(&self, kind: &str) -> Result<Vec<PolicyDocumentRow>> {
        query(&format!("SELECT {POLICY_COLUMNS} FROM policy_documents WHERE kind = $1 ORDER BY enterprise_id"))
            .bind(kind)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(policy_row)
            .collect()
    }
}
