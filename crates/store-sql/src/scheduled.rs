//! Scheduled messages and the jobs that deliver them.

use crate::{query, query_scalar, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::{ConversationId, EnterpriseId, MessageId, MessagePolicyId, Millis, UserId};
use store::{decode, JobRow, Result, ScheduledMessageRow};

const COLUMNS: &str =
    "id, enterprise_id, conversation_id, sender_id, body_ct, policy_id, policy_rules, deliver_at, created_at";

fn scheduled_row(row: &Row) -> Result<ScheduledMessageRow> {
    Ok(ScheduledMessageRow {
        id: MessageId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        conversation_id: ConversationId(decode::uuid(&text(row, "conversation_id")?)?),
        sender_id: UserId(decode::uuid(&text(row, "sender_id")?)?),
        body_ct: row.try_get("body_ct")?,
        policy_id: row
            .try_get::<Option<String>, _>("policy_id")?
            .map(|p| decode::uuid(&p).map(MessagePolicyId))
            .transpose()?,
        policy_rules: row.try_get("policy_rules")?,
        deliver_at: Millis(row.try_get("deliver_at")?),
        created_at: Millis(row.try_get("created_at")?),
    })
}

#[async_trait]
impl store::ScheduledMessageStore for SqlStore {
    async fn schedule_message(&self, row: &ScheduledMessageRow, job: &JobRow) -> Result<()> {
        transaction!(self.writer(), |tx| {
            // Written only for a member of a conversation of that enterprise, in the same statement.
            let done = query(&format!(
                "INSERT INTO scheduled_messages ({COLUMNS}) \
                 SELECT $1, c.enterprise_id, c.id, m.user_id, $2, $3, $4, $5, $6 \
                 FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id \
                 WHERE c.id = $7 AND c.enterprise_id = $8 AND m.user_id = $9"
            ))
            .bind(row.id.to_string())
            .bind(&row.body_ct)
            .bind(row.policy_id.map(|p| p.to_string()))
            .bind(&row.policy_rules)
            .bind(row.deliver_at.0)
            .bind(row.created_at.0)
            .bind(row.conversation_id.to_string())
            .bind(row.enterprise_id.to_string())
            .bind(row.sender_id.to_string())
            .execute(&mut *tx)
            .await?;
            crate::expect_rows(done.rows_affected())?;
            crate::jobs::insert_job(&mut *tx, job, "DO NOTHING").await?;
            Ok(())
        })
    }

    async fn scheduled_messages(
        &self,
        enterprise: EnterpriseId,
        sender: UserId,
        conversation: ConversationId,
    ) -> Result<Vec<ScheduledMessageRow>> {
        query(&format!(
            "SELECT {COLUMNS} FROM scheduled_messages \
             WHERE enterprise_id = $1 AND sender_id = $2 AND conversation_id = $3 ORDER BY deliver_at, id"
        ))
        .bind(enterprise.to_string())
        .bind(sender.to_string())
        .bind(conversation.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(scheduled_row)
        .collect()
    }

    async fn get_scheduled_message(
        &self,
        enterprise: EnterpriseId,
        id: MessageId,
    ) -> Result<Option<ScheduledMessageRow>> {
        query(&format!("SELECT {COLUMNS} FROM scheduled_messages WHERE id = $1 AND enterprise_id = $2"))
            .bind(id.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(scheduled_row)
            .transpose()
    }

    async fn cancel_scheduled_message(
        &self,
        enterprise: EnterpriseId,
        sender: UserId,
        id: MessageId,
        job_key: &str,
    ) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query("DELETE FROM scheduled_messages WHERE id = $1 AND enterprise_id = $2 AND sender_id = $3")
                .bind(id.to_string())
                .bind(enterprise.to_string())
                .bind(sender.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            // A job that is running already finds nothing to deliver.
            query("DELETE FROM jobs WHERE job_key = $1 AND lease_owner IS NULL")
                .bind(job_key)
                .execute(&mut *tx)
                .await?;
            Ok(true)
        })
    }

    async fn delete_scheduled_message(&self, enterprise: EnterpriseId, id: MessageId) -> Result<()> {
        let _: Option<String> =
            query_scalar("DELETE FROM scheduled_messages WHERE id = $1 AND enterprise_id = $2 RETURNING id")
                .bind(id.to_string())
                .bind(enterprise.to_string())
                .fetch_optional(self.writer())
                .await?;
        Ok(())
    }
}
