//! The conversation store: conversations, members with read receipts, messages, reactions and
//! the blind search tokens of their words.

use crate::{
    expect_rows, foundation::append_audit, query, query_scalar, text, transaction, Row, SqlStore, Transaction,
};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{AttachmentId, ConversationId, EnterpriseId, MessageId, Millis, TeamId, UserId};
use store::decode;
use store::{ConversationMemberRow, ConversationRow, Error, MessagePage, MessageRow, ReactionRow, Result};

const CONVERSATION_COLUMNS: &str =
    "c.id, c.enterprise_id, c.kind, c.team_id, c.direct_key, c.title_ct, c.created_by, c.created_at, c.last_seq, \
     c.default_policy_id";
const MEMBER_COLUMNS: &str = "m.conversation_id, m.user_id, m.role, m.joined_at, m.last_read_seq, m.muted";
/// Keeps rows to the conversation bound as `$1` when it belongs to the enterprise bound as `$2`.
const IN_ENTERPRISE_2: &str = "conversation_id IN (SELECT id FROM conversations WHERE id = $1 AND enterprise_id = $2)";
/// The same with the enterprise bound as `$3`.
const IN_ENTERPRISE_3: &str = "conversation_id IN (SELECT id FROM conversations WHERE id = $1 AND enterprise_id = $3)";

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sender_id, body_ct, created_at, edited_at, deleted_at, \
     attachment_id, attachment_name_ct, attachment_type, attachment_size, thread_root_id, \
     thumbnail_id, thumbnail_type, thumbnail_width, thumbnail_height, \
     policy_id, policy_rules, expires_at, forwarded_from, forward_root, forward_hops, original_sender_id, removed";

fn conversation_row(row: &Row) -> Result<ConversationRow> {
    let team: Option<String> = row.try_get("team_id")?;
    Ok(ConversationRow {
        id: ConversationId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        kind: decode::conversation_kind(&text(row, "kind")?)?,
        team_id: team.map(|t| decode::uuid(&t).map(TeamId)).transpose()?,
        direct_key: row.try_get("direct_key")?,
        title_ct: row.try_get("title_ct")?,
        created_by: UserId(decode::uuid(&text(row, "created_by")?)?),
        created_at: Millis(row.try_get("created_at")?),
        last_seq: row.try_get("last_seq")?,
        default_policy_id: row
            .try_get::<Option<String>, _>("default_policy_id")?
            .map(|id| decode::uuid(&id).map(domain::MessagePolicyId))
            .transpose()?,
    })
}

fn member_row(row: &Row) -> Result<ConversationMemberRow> {
    Ok(ConversationMemberRow {
        conversation_id: ConversationId(decode::uuid(&text(row, "conversation_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        role: decode::member_role(&text(row, "role")?)?,
        joined_at: Millis(row.try_get("joined_at")?),
        last_read_seq: row.try_get("last_read_seq")?,
        muted: row.try_get("muted")?,
    })
}

/// Stores a message's blind search tokens (inside the caller's transaction), in one statement:
/// a message's words cost one round trip, not one each. `at` is the message's own time, kept
/// with each token so a search walks a word's messages newest first and stops at its limit.
async fn insert_words(
    tx: &mut Transaction,
    conversation: ConversationId,
    message: MessageId,
    at: Millis,
    words: &[Vec<u8>],
) -> Result<()> {
    if words.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..words.len()).map(|i| format!("(${}, $1, $2, $3)", i + 4)).collect();
    // (Each row repeats the message's three values; only the token differs.)
    let sql = format!(
        "INSERT INTO message_words (token, message_id, conversation_id, created_at) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    let mut statement = query(&sql).bind(message.to_string()).bind(conversation.to_string()).bind(at.0);
    for word in words {
        statement = statement.bind(word);
    }
    statement.execute(&mut **tx).await?;
    Ok(())
}

fn dimension(row: &Row, column: &str) -> Result<u32> {
    let value = row.try_get::<Option<i64>, _>(column)?.unwrap_or_default();
    u32::try_from(value).map_err(|_| Error::Other(format!("{column} out of range: {value}")))
}

/// Records the members a message names (inside the caller's transaction).
async fn insert_mentions(tx: &mut Transaction, message: MessageId, mentioned: &[UserId]) -> Result<()> {
    if mentioned.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..mentioned.len()).map(|i| format!("($1, ${})", i + 2)).collect();
    let sql =
        format!("INSERT INTO message_mentions (message_id, user_id) VALUES {} ON CONFLICT DO NOTHING", rows.join(", "));
    let mut statement = query(&sql).bind(message.to_string());
    for user in mentioned {
        statement = statement.bind(user.to_string());
    }
    statement.execute(&mut **tx).await?;
    Ok(())
}

fn reaction_row(row: &Row) -> Result<ReactionRow> {
    Ok(ReactionRow {
        message_id: MessageId(decode::uuid(&text(row, "message_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        emoji: text(row, "emoji")?,
    })
}

fn message_row(row: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: MessageId(decode::uuid(&text(row, "id")?)?),
        conversation_id: ConversationId(decode::uuid(&text(row, "conversation_id")?)?),
        seq: row.try_get("seq")?,
        sender_id: UserId(decode::uuid(&text(row, "sender_id")?)?),
        body_ct: row.try_get("body_ct")?,
        created_at: Millis(row.try_get("created_at")?),
        edited_at: row.try_get::<Option<i64>, _>("edited_at")?.map(Millis),
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Millis),
        attachment: match row.try_get::<Option<String>, _>("attachment_id")? {
            None => None,
            Some(id) => Some(store::AttachmentMeta {
                id: AttachmentId(decode::uuid(&id)?),
                name_ct: row.try_get::<Option<Vec<u8>>, _>("attachment_name_ct")?.unwrap_or_default(),
                content_type: row.try_get::<Option<String>, _>("attachment_type")?.unwrap_or_default(),
                size: row.try_get::<Option<i64>, _>("attachment_size")?.unwrap_or_default(),
                thumbnail: match row.try_get::<Option<String>, _>("thumbnail_id")? {
                    None => None,
                    Some(id) => Some(store::Thumbnail {
                        id: AttachmentId(decode::uuid(&id)?),
                        content_type: row.try_get::<Option<String>, _>("thumbnail_type")?.unwrap_or_default(),
                        width: dimension(row, "thumbnail_width")?,
                        height: dimension(row, "thumbnail_height")?,
                    }),
                },
            }),
        },
        thread_root_id: optional_id(row, "thread_root_id")?.map(MessageId),
        control: match row.try_get::<Option<String>, _>("policy_rules")? {
            None => None,
            Some(rules) => Some(store::MessageControl {
                policy_id: optional_id(row, "policy_id")?.map(domain::MessagePolicyId),
                rules,
                expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Millis),
            }),
        },
        forward: match (optional_id(row, "forwarded_from")?, optional_id(row, "forward_root")?) {
            (Some(parent), Some(root)) => Some(store::ForwardLink {
                parent_id: MessageId(parent),
                root_id: MessageId(root),
                hops: row.try_get("forward_hops")?,
                original_sender_id: UserId(
                    optional_id(row, "original_sender_id")?
                        .ok_or_else(|| Error::Other("copy without its author".into()))?,
                ),
            }),
            _ => None,
        },
        removed: match row.try_get::<Option<String>, _>("removed")? {
            None => None,
            Some(r) => Some(store::Removal::parse(&r).ok_or_else(|| Error::Other(format!("unknown removal {r:?}")))?),
        },
    })
}

fn optional_id(row: &Row, column: &str) -> Result<Option<uuid::Uuid>> {
    row.try_get::<Option<String>, _>(column)?.map(|id| decode::uuid(&id)).transpose()
}

/// The message bound as `$1` (in the enterprise bound as `$2`) and, when `with_copies`, every
/// copy forwarded from it at any depth: a recursive walk down `forwarded_from`.
fn message_tree(with_copies: bool) -> &'static str {
    if with_copies {
        "WITH RECURSIVE tree(id) AS (\
             SELECT id FROM messages WHERE id = $1 \
               AND conversation_id IN (SELECT id FROM conversations WHERE enterprise_id = $2) \
             UNION SELECT m.id FROM messages m JOIN tree t ON m.forwarded_from = t.id) "
    } else {
        "WITH tree(id) AS (SELECT id FROM messages WHERE id = $1 \
             AND conversation_id IN (SELECT id FROM conversations WHERE enterprise_id = $2)) "
    }
}

/// Binds message ids in order, after whatever the statement has bound: one query for a page,
/// the ids bound and never spliced into the SQL.
fn bind_ids<'q>(mut statement: crate::Query<'q>, ids: &[MessageId]) -> crate::Query<'q> {
    for id in ids {
        statement = statement.bind(id.to_string());
    }
    statement
}

/// Reads `(id, n)` rows: a count per message.
fn id_counts(rows: &[Row]) -> Result<Vec<(MessageId, i64)>> {
    rows.iter().map(|r| Ok((MessageId(decode::uuid(&text(r, "id")?)?), r.try_get("n")?))).collect()
}

#[async_trait]
impl store::ConversationStore for SqlStore {
    async fn create_conversation(
        &self,
        conversation: &ConversationRow,
        members: &[ConversationMemberRow],
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(
                "INSERT INTO conversations (id, enterprise_id, kind, team_id, direct_key, title_ct, created_by, created_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
            )
            .bind(conversation.id.to_string())
            .bind(conversation.enterprise_id.to_string())
            .bind(conversation.kind.as_str())
            .bind(conversation.team_id.map(|t| t.to_string()))
            .bind(&conversation.direct_key)
            .bind(&conversation.title_ct)
            .bind(conversation.created_by.to_string())
            .bind(conversation.created_at.0)
            .execute(&mut *tx)
            .await?;
            for m in members {
                // Only enabled users of the same enterprise can be members.
                let done = query(
                    "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, last_read_seq) \
                     SELECT $1, u.id, $2, $3, 0 FROM users u WHERE u.enterprise_id = $4 AND u.id = $5 AND u.disabled = FALSE",
                )
                .bind(conversation.id.to_string())
                .bind(m.role.as_str())
                .bind(m.joined_at.0)
                .bind(conversation.enterprise_id.to_string())
                .bind(m.user_id.to_string())
                .execute(&mut *tx)
                .await?;
                expect_rows(done.rows_affected())?;
            }
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn find_direct(&self, enterprise: EnterpriseId, direct_key: &str) -> Result<Option<ConversationRow>> {
        query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.enterprise_id = $1 AND c.direct_key = $2"
        ))
        .bind(enterprise.to_string())
        .bind(direct_key)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(conversation_row)
        .transpose()
    }

    async fn find_team_conversation(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Option<ConversationRow>> {
        query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.enterprise_id = $1 AND c.team_id = $2 AND c.kind = 'team'"
        ))
        .bind(enterprise.to_string())
        .bind(team.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(conversation_row)
        .transpose()
    }

    async fn add_member(
        &self,
        enterprise: EnterpriseId,
        member: &ConversationMemberRow,
        audit: &AuditDraft,
    ) -> Result<bool> {
        // A team channel takes only the team's members and enterprise admins, checked in the same
        // statement, so a removal from the team that commits meanwhile cannot be overtaken.
        transaction!(self.writer(), |tx| {
            let for_share = self.dialect().for_share;
            let done = query(&format!(
                "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, last_read_seq) \
                 SELECT c.id, u.id, $1, $2, 0 FROM conversations c, users u \
                 WHERE c.enterprise_id = $3 AND c.id = $4 AND u.enterprise_id = $3 AND u.id = $5 AND u.disabled = FALSE \
                 AND (c.kind <> 'team' OR (',' || u.roles || ',') LIKE '%,enterprise-admin,%' OR EXISTS \
                      (SELECT 1 FROM team_members tm WHERE tm.team_id = c.team_id AND tm.user_id = u.id {for_share})) \
                 ON CONFLICT (conversation_id, user_id) DO NOTHING"
            ))
            .bind(member.role.as_str())
            .bind(member.joined_at.0)
            .bind(enterprise.to_string())
            .bind(member.conversation_id.to_string())
            .bind(member.user_id.to_string())
            .execute(&mut *tx)
            .await?;
            let added = done.rows_affected() == 1;
            if added {
                append_audit(&mut tx, audit).await?;
            }
            Ok(added)
        })
    }

    async fn remove_member(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 \
                 AND conversation_id IN (SELECT id FROM conversations WHERE enterprise_id = $3)",
            )
            .bind(conversation.to_string())
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            let removed = done.rows_affected() == 1;
            if removed {
                append_audit(&mut tx, audit).await?;
            }
            Ok(removed)
        })
    }

    async fn conversation_for_member(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<(ConversationRow, ConversationMemberRow)>> {
        let row = query(&format!(
            "SELECT {CONVERSATION_COLUMNS}, {MEMBER_COLUMNS} FROM conversations c \
             JOIN conversation_members m ON m.conversation_id = c.id \
             WHERE c.enterprise_id = $1 AND c.id = $2 AND m.user_id = $3"
        ))
        .bind(enterprise.to_string())
        .bind(conversation.to_string())
        .bind(user.to_string())
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(|r| Ok((conversation_row(r)?, member_row(r)?))).transpose()
    }

    async fn list_conversations(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
    ) -> Result<Vec<(ConversationRow, ConversationMemberRow)>> {
        query(&format!(
            "SELECT {CONVERSATION_COLUMNS}, {MEMBER_COLUMNS} FROM conversations c \
             JOIN conversation_members m ON m.conversation_id = c.id \
             WHERE c.enterprise_id = $1 AND m.user_id = $2 \
             ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC"
        ))
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|r| Ok((conversation_row(r)?, member_row(r)?)))
        .collect()
    }

    async fn unread_counts(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<store::UnreadCount>> {
        let rows = query(
            "SELECT m.conversation_id, COUNT(x.id) AS unread, \
               SUM(CASE WHEN EXISTS (SELECT 1 FROM message_mentions n WHERE n.message_id = x.id AND n.user_id = m.user_id) \
                   THEN 1 ELSE 0 END) AS mentions, \
               SUM(CASE WHEN x.mentions_everyone THEN 1 ELSE 0 END) AS everyone_mentions \
             FROM conversation_members m \
             JOIN conversations c ON c.id = m.conversation_id \
             JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.last_read_seq \
             WHERE c.enterprise_id = $1 AND m.user_id = $2 AND ($3 IS NULL OR m.conversation_id = $3) \
               AND x.sender_id <> m.user_id AND x.deleted_at IS NULL \
             GROUP BY m.conversation_id",
        )
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .bind(conversation.map(|c| c.to_string()))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(store::UnreadCount {
                    conversation: ConversationId(decode::uuid(&text(r, "conversation_id")?)?),
                    unread: r.try_get("unread")?,
                    mentions: r.try_get("mentions")?,
                    everyone_mentions: r.try_get("everyone_mentions")?,
                })
            })
            .collect()
    }

    async fn set_muted(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool> {
        let done = query(
            "UPDATE conversation_members SET muted = $1 WHERE conversation_id = $2 AND user_id = $3 \
             AND conversation_id IN (SELECT id FROM conversations WHERE id = $2 AND enterprise_id = $4)",
        )
        .bind(muted)
        .bind(conversation.to_string())
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_members(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
    ) -> Result<Vec<ConversationMemberRow>> {
        query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM conversation_members m WHERE m.conversation_id = $1 AND {IN_ENTERPRISE_2} \
             ORDER BY m.user_id"
        ))
        .bind(conversation.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(member_row)
        .collect()
    }

    async fn append_message(
        &self,
        enterprise: EnterpriseId,
        message: &MessageRow,
        index: &store::MessageIndex<'_>,
    ) -> Result<(MessageRow, Vec<UserId>)> {
        transaction!(self.writer(), |tx| {
            // One query gives both the authorization (is the sender a member, in this tenant?)
            // and the recipients of the live event.
            let members: Vec<String> = query_scalar(
                "SELECT m.user_id FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE c.enterprise_id = $1 AND m.conversation_id = $2",
            )
            .bind(enterprise.to_string())
            .bind(message.conversation_id.to_string())
            .fetch_all(&mut *tx)
            .await?;
            let sender = message.sender_id.to_string();
            if !members.contains(&sender) {
                return Err(Error::NotFound);
            }
            let members = members.iter().map(|m| decode::uuid(m).map(UserId)).collect::<Result<Vec<_>>>()?;
            if let Some(root) = message.thread_root_id {
                // One level of threads: the root is a live top-level message of this conversation.
                let for_share = self.dialect().for_share;
                let found: Option<String> = query_scalar(&format!(
                    "SELECT id FROM messages WHERE id = $1 AND conversation_id = $2 AND thread_root_id IS NULL \
                     AND deleted_at IS NULL {for_share}"
                ))
                .bind(root.to_string())
                .bind(message.conversation_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                if found.is_none() {
                    return Err(Error::Conflict("messages.thread_root_id".to_owned()));
                }
            }
            if let Some(forward) = &message.forward {
                // A copy of a message recalled meanwhile must not appear after the recall.
                let for_share = self.dialect().for_share;
                let parent: Option<String> =
                    query_scalar(&format!("SELECT id FROM messages WHERE id = $1 AND removed IS NULL {for_share}"))
                        .bind(forward.parent_id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                if parent.is_none() {
                    return Err(Error::Conflict("messages.forwarded_from".to_owned()));
                }
            }
            let seq: i64 = query_scalar(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $1 WHERE id = $2 RETURNING last_seq",
            )
            .bind(message.created_at.0)
            .bind(message.conversation_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            let thumbnail = message.attachment.as_ref().and_then(|a| a.thumbnail.as_ref());
            let greatest = self.dialect().greatest;
            query(&format!(
                "UPDATE conversation_members SET last_read_seq = {greatest}(last_read_seq, $1) \
                 WHERE conversation_id = $2 AND user_id = $3"
            ))
            .bind(seq)
            .bind(message.conversation_id.to_string())
            .bind(&sender)
            .execute(&mut *tx)
            .await?;
            let control = message.control.as_ref();
            let forward = message.forward.as_ref();
            query(&format!(
                "INSERT INTO messages ({MESSAGE_COLUMNS}, mentions_everyone) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                         $16, $17, $18, $19, $20, $21, $22, NULL, $23)"
            ))
            .bind(message.id.to_string())
            .bind(message.conversation_id.to_string())
            .bind(seq)
            .bind(message.sender_id.to_string())
            .bind(&message.body_ct)
            .bind(message.created_at.0)
            .bind(message.attachment.as_ref().map(|a| a.id.to_string()))
            .bind(message.attachment.as_ref().map(|a| a.name_ct.clone()))
            .bind(message.attachment.as_ref().map(|a| a.content_type.clone()))
            .bind(message.attachment.as_ref().map(|a| a.size))
            .bind(message.thread_root_id.map(|r| r.to_string()))
            .bind(thumbnail.map(|t| t.id.to_string()))
            .bind(thumbnail.map(|t| t.content_type.clone()))
            .bind(thumbnail.map(|t| i64::from(t.width)))
            .bind(thumbnail.map(|t| i64::from(t.height)))
            .bind(control.and_then(|c| c.policy_id).map(|p| p.to_string()))
            .bind(control.map(|c| c.rules.clone()))
            .bind(control.and_then(|c| c.expires_at).map(|t| t.0))
            .bind(forward.map(|f| f.parent_id.to_string()))
            .bind(forward.map(|f| f.root_id.to_string()))
            .bind(forward.map_or(0, |f| f.hops))
            .bind(forward.map(|f| f.original_sender_id.to_string()))
            .bind(index.everyone)
            .execute(&mut *tx)
            .await?;
            for job in index.jobs {
                crate::jobs::insert_job(&mut *tx, job, "DO NOTHING").await?;
            }
            if let Some(audit) = index.audit {
                append_audit(&mut tx, audit).await?;
            }
            insert_words(&mut tx, message.conversation_id, message.id, message.created_at, index.words).await?;
            insert_mentions(&mut tx, message.id, index.mentioned).await?;
            Ok((MessageRow { seq, edited_at: None, deleted_at: None, ..message.clone() }, members))
        })
    }

    async fn edit_message(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        id: MessageId,
        sender: UserId,
        edit: &store::MessageEdit<'_>,
    ) -> Result<MessageRow> {
        transaction!(self.writer(), |tx| {
            let row = query(&format!(
                "UPDATE messages SET body_ct = $1, edited_at = $2, mentions_everyone = $7 \
                 WHERE conversation_id = $3 AND id = $4 AND sender_id = $5 AND deleted_at IS NULL \
                 AND conversation_id IN (SELECT id FROM conversations WHERE id = $3 AND enterprise_id = $6) \
                 RETURNING {MESSAGE_COLUMNS}"
            ))
            .bind(edit.body_ct)
            .bind(edit.at.0)
            .bind(conversation.to_string())
            .bind(id.to_string())
            .bind(sender.to_string())
            .bind(enterprise.to_string())
            .bind(edit.index.everyone)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.as_ref().map(message_row).transpose()?.ok_or(Error::NotFound)?;
            // The index follows the text: the old words stop finding the message at once.
            query("DELETE FROM message_words WHERE message_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            insert_words(&mut tx, conversation, id, row.created_at, edit.index.words).await?;
            query("DELETE FROM message_mentions WHERE message_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            insert_mentions(&mut tx, id, edit.index.mentioned).await?;
            Ok(row)
        })
    }

    async fn search_messages(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        words: &[Vec<u8>],
        filter: &store::SearchFilter,
        limit: u32,
    ) -> Result<Vec<MessageRow>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let search = Search { enterprise, user, words, filter, limit };
        match self.dialect().search_plan {
            // PostgreSQL: one pool serves reads and writes; the settings end with the transaction.
            Some(plan) => transaction!(self.writer(), |tx| {
                query(plan.probe).execute(&mut *tx).await?;
                search.run(&mut *tx, Some(plan)).await
            }),
            None => search.run(&mut *self.backend.acquire(crate::Side::Reader).await?, None).await,
        }
    }

    async fn delete_message(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        id: MessageId,
        sender: UserId,
        at: Millis,
    ) -> Result<MessageRow> {
        transaction!(self.writer(), |tx| {
            let row = query(&format!(
                "UPDATE messages SET body_ct = NULL, attachment_name_ct = NULL, mentions_everyone = FALSE, deleted_at = $1 \
                 WHERE conversation_id = $2 AND id = $3 AND sender_id = $4 AND deleted_at IS NULL \
                 AND conversation_id IN (SELECT id FROM conversations WHERE id = $2 AND enterprise_id = $5) \
                 RETURNING {MESSAGE_COLUMNS}"
            ))
            .bind(at.0)
            .bind(conversation.to_string())
            .bind(id.to_string())
            .bind(sender.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.as_ref().map(message_row).transpose()?.ok_or(Error::NotFound)?;
            // A deleted message keeps nothing people added to it, and cannot be found by its words.
            for table in ["message_reactions", "message_words", "message_mentions"] {
                query(&format!("DELETE FROM {table} WHERE message_id = $1"))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(row)
        })
    }

    async fn set_reaction(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        message: MessageId,
        user: UserId,
        emoji: &str,
        change: store::ReactionChange,
    ) -> Result<Vec<ReactionRow>> {
        transaction!(self.writer(), |tx| {
            let for_share = self.dialect().for_share;
            let live: Option<String> = query_scalar(&format!(
                "SELECT id FROM messages WHERE conversation_id = $1 AND id = $2 AND deleted_at IS NULL \
                 AND {IN_ENTERPRISE_3} {for_share}"
            ))
            .bind(conversation.to_string())
            .bind(message.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            if live.is_none() {
                return Err(Error::NotFound);
            }
            if let store::ReactionChange::Add { max_distinct, at } = change {
                let distinct: Vec<String> =
                    query_scalar("SELECT DISTINCT emoji FROM message_reactions WHERE message_id = $1")
                        .bind(message.to_string())
                        .fetch_all(&mut *tx)
                        .await?;
                if !distinct.iter().any(|e| e == emoji) && distinct.len() >= max_distinct {
                    return Err(Error::Conflict("message_reactions.limit".to_owned()));
                }
                query(
                    "INSERT INTO message_reactions (message_id, conversation_id, user_id, emoji, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(message.to_string())
                .bind(conversation.to_string())
                .bind(user.to_string())
                .bind(emoji)
                .bind(at.0)
                .execute(&mut *tx)
                .await?;
            } else {
                query("DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
                    .bind(message.to_string())
                    .bind(user.to_string())
                    .bind(emoji)
                    .execute(&mut *tx)
                    .await?;
            }
            let rows = query(
                "SELECT message_id, user_id, emoji FROM message_reactions WHERE message_id = $1 ORDER BY created_at, user_id",
            )
            .bind(message.to_string())
            .fetch_all(&mut *tx)
            .await?;
            rows.iter().map(reaction_row).collect()
        })
    }

    async fn thread_summaries(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        roots: &[MessageId],
    ) -> Result<Vec<store::ThreadSummary>> {
        if roots.is_empty() {
            return Ok(Vec::new());
        }
        // One query per page of history: the ids are bound, never spliced into the SQL.
        let sql = format!(
            "SELECT thread_root_id, COUNT(*) AS replies, MAX(created_at) AS last_reply_at FROM messages \
             WHERE conversation_id = $1 AND {IN_ENTERPRISE_2} AND deleted_at IS NULL AND thread_root_id IN ({}) \
             GROUP BY thread_root_id",
            crate::placeholders(3, roots.len())
        );
        let statement = bind_ids(query(&sql).bind(conversation.to_string()).bind(enterprise.to_string()), roots);
        statement
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|row| {
                Ok(store::ThreadSummary {
                    root_id: MessageId(decode::uuid(&text(row, "thread_root_id")?)?),
                    replies: row.try_get("replies")?,
                    last_reply_at: Millis(row.try_get("last_reply_at")?),
                })
            })
            .collect()
    }

    async fn thread_replies(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        root: MessageId,
        limit: u32,
    ) -> Result<Vec<MessageRow>> {
        query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND {IN_ENTERPRISE_2} \
             AND thread_root_id = $3 AND removed IS NULL ORDER BY seq LIMIT $4"
        ))
        .bind(conversation.to_string())
        .bind(enterprise.to_string())
        .bind(root.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn reactions(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        messages: &[MessageId],
    ) -> Result<Vec<ReactionRow>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        // One query per page of history: the ids are bound, never spliced into the SQL.
        let sql = format!(
            "SELECT message_id, user_id, emoji FROM message_reactions WHERE conversation_id = $1 AND {IN_ENTERPRISE_2} \
             AND message_id IN ({}) ORDER BY created_at, user_id",
            crate::placeholders(3, messages.len())
        );
        let query = bind_ids(query(&sql).bind(conversation.to_string()).bind(enterprise.to_string()), messages);
        query.fetch_all(self.reader()).await?.iter().map(reaction_row).collect()
    }

    async fn get_message(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<MessageRow>> {
        query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id = $2 AND {IN_ENTERPRISE_3}"
        ))
        .bind(conversation.to_string())
        .bind(id.to_string())
        .bind(enterprise.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(message_row)
        .transpose()
    }

    async fn get_attachment(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        attachment: AttachmentId,
    ) -> Result<Vec<MessageRow>> {
        query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND attachment_id = $2 \
             AND deleted_at IS NULL AND {IN_ENTERPRISE_3} ORDER BY seq"
        ))
        .bind(conversation.to_string())
        .bind(attachment.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn list_messages(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        page: MessagePage,
        limit: u32,
    ) -> Result<Vec<MessageRow>> {
        let (condition, order, bound) = match page {
            MessagePage::Before(seq) => ("seq < $2", "DESC", seq),
            MessagePage::After(seq) => ("seq > $2", "ASC", seq),
        };
        query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND {condition} AND removed IS NULL \
             AND conversation_id IN (SELECT id FROM conversations WHERE id = $1 AND enterprise_id = $4) \
             ORDER BY seq {order} LIMIT $3"
        ))
        .bind(conversation.to_string())
        .bind(bound)
        .bind(i64::from(limit))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn forward_descendants(&self, enterprise: EnterpriseId, message: MessageId) -> Result<Vec<MessageRow>> {
        query(&format!(
            "WITH RECURSIVE tree(id) AS (SELECT id FROM messages WHERE forwarded_from = $1 \
                 UNION SELECT m.id FROM messages m JOIN tree t ON m.forwarded_from = t.id) \
             SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (SELECT id FROM tree) \
             AND conversation_id IN (SELECT id FROM conversations WHERE enterprise_id = $2) \
             ORDER BY forward_hops, created_at, id"
        ))
        .bind(message.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    async fn forward_counts(&self, enterprise: EnterpriseId, messages: &[MessageId]) -> Result<Vec<(MessageId, i64)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            // The enterprise is checked per row (EXISTS), not as `conversation_id IN (...)`: with
            // that, SQLite walked every message of the conversation by its conversation index
            // instead of looking the listed ids up (34 ms at 60,000 messages, growing with them;
            // a search's 100 hits paid it every time).
            "SELECT p.id, (SELECT COUNT(*) FROM messages c WHERE c.forward_root = p.id OR c.forwarded_from = p.id) AS n \
             FROM messages p WHERE p.id IN ({}) \
             AND EXISTS (SELECT 1 FROM conversations cv WHERE cv.id = p.conversation_id AND cv.enterprise_id = $1)",
            crate::placeholders(2, messages.len())
        );
        let statement = bind_ids(query(&sql).bind(enterprise.to_string()), messages);
        Ok(id_counts(&statement.fetch_all(self.reader()).await?)?.into_iter().filter(|(_, n)| *n > 0).collect())
    }

    async fn remove_messages(
        &self,
        enterprise: EnterpriseId,
        remove: &store::RemoveMessages<'_>,
    ) -> Result<Vec<MessageRow>> {
        let tree = message_tree(remove.with_copies);
        transaction!(self.writer(), |tx| {
            let mut rows = Vec::new();
            // PostgreSQL walks the tree in the snapshot its statement began with: a copy whose
            // forward committed while this statement waited for the parent's row lock is outside
            // it. The next statement sees it, so passes repeat until one removes nothing (and a
            // forward after the first pass finds its parent removed and is refused).
            loop {
                let found = query(&format!(
                    "{tree} UPDATE messages SET body_ct = NULL, attachment_name_ct = NULL, mentions_everyone = FALSE, \
                       deleted_at = COALESCE(deleted_at, $3), removed = $4 \
                     WHERE id IN (SELECT id FROM tree) AND removed IS NULL RETURNING {MESSAGE_COLUMNS}"
                ))
                .bind(remove.message.to_string())
                .bind(enterprise.to_string())
                .bind(remove.at.0)
                .bind(remove.removal.as_str())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(message_row)
                .collect::<Result<Vec<_>>>()?;
                let done = found.is_empty() || !remove.with_copies;
                rows.extend(found);
                if done {
                    break;
                }
            }
            // What people added to the messages goes with them.
            for table in ["message_reactions", "message_words", "message_mentions", "message_reveals"] {
                query(&format!("{tree} DELETE FROM {table} WHERE message_id IN (SELECT id FROM tree)"))
                    .bind(remove.message.to_string())
                    .bind(enterprise.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            if !rows.is_empty() {
                if let Some(audit) = remove.audit {
                    append_audit(&mut tx, audit).await?;
                }
                if let Some(job) = remove.job {
                    crate::jobs::insert_job(&mut *tx, job, "DO NOTHING").await?;
                }
            }
            Ok(rows)
        })
    }

    async fn attachment_in_use(&self, attachment: AttachmentId) -> Result<bool> {
        let found: Option<String> = query_scalar(
            "SELECT id FROM messages WHERE attachment_id = $1 AND deleted_at IS NULL AND removed IS NULL LIMIT 1",
        )
        .bind(attachment.to_string())
        .fetch_optional(self.writer())
        .await?;
        Ok(found.is_some())
    }

    async fn reveal_message(
        &self,
        enterprise: EnterpriseId,
        message: MessageId,
        user: UserId,
        at: Millis,
        burns_at: Millis,
    ) -> Result<Millis> {
        transaction!(self.writer(), |tx| {
            query(
                "INSERT INTO message_reveals (message_id, user_id, revealed_at, burns_at) \
                 SELECT m.id, $2, $3, $4 FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.id = $1 AND c.enterprise_id = $5 AND m.removed IS NULL \
                 ON CONFLICT (message_id, user_id) DO NOTHING",
            )
            .bind(message.to_string())
            .bind(user.to_string())
            .bind(at.0)
            .bind(burns_at.0)
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            let stored: Option<i64> = query_scalar(
                "SELECT r.burns_at FROM message_reveals r JOIN messages m ON m.id = r.message_id \
                 JOIN conversations c ON c.id = m.conversation_id \
                 WHERE r.message_id = $1 AND r.user_id = $2 AND c.enterprise_id = $3",
            )
            .bind(message.to_string())
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            stored.map(Millis).ok_or(Error::NotFound)
        })
    }

    async fn reveals_for(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        messages: &[MessageId],
    ) -> Result<Vec<(MessageId, Millis)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.message_id AS id, r.burns_at AS n FROM message_reveals r \
             JOIN messages m ON m.id = r.message_id JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.enterprise_id = $1 AND r.user_id = $2 AND r.message_id IN ({})",
            crate::placeholders(3, messages.len())
        );
        let statement = bind_ids(query(&sql).bind(enterprise.to_string()).bind(user.to_string()), messages);
        Ok(id_counts(&statement.fetch_all(self.reader()).await?)?
            .into_iter()
            .map(|(id, at)| (id, Millis(at)))
            .collect())
    }

    async fn reveal_counts(&self, enterprise: EnterpriseId, messages: &[MessageId]) -> Result<Vec<(MessageId, i64)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.message_id AS id, COUNT(*) AS n FROM message_reveals r \
             JOIN messages m ON m.id = r.message_id JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.enterprise_id = $1 AND r.message_id IN ({}) GROUP BY r.message_id",
            crate::placeholders(2, messages.len())
        );
        let statement = bind_ids(query(&sql).bind(enterprise.to_string()), messages);
        id_counts(&statement.fetch_all(self.reader()).await?)
    }

    async fn find_message(&self, enterprise: EnterpriseId, id: MessageId) -> Result<Option<MessageRow>> {
        query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 \
             AND conversation_id IN (SELECT id FROM conversations WHERE enterprise_id = $2)"
        ))
        .bind(id.to_string())
        .bind(enterprise.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(message_row)
        .transpose()
    }

    async fn mark_read(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        user: UserId,
        seq: i64,
    ) -> Result<i64> {
        let (greatest, least) = (self.dialect().greatest, self.dialect().least);
        let stored: Option<i64> = query_scalar(&format!(
            "UPDATE conversation_members SET last_read_seq = \
               {greatest}(last_read_seq, {least}($1, (SELECT last_seq FROM conversations WHERE id = $2))) \
             WHERE conversation_id = $2 AND user_id = $3 \
             AND conversation_id IN (SELECT id FROM conversations WHERE id = $2 AND enterprise_id = $4) \
             RETURNING last_read_seq"
        ))
        .bind(seq)
        .bind(conversation.to_string())
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .fetch_optional(self.writer())
        .await?;
        stored.ok_or(Error::NotFound)
    }
}

/// One search, run on one connection (the count and the walk see the same data).
struct Search<'a> {
    enterprise: EnterpriseId,
    user: UserId,
    words: &'a [Vec<u8>],
    filter: &'a store::SearchFilter,
    limit: u32,
}

/// A word's postings as the search first counts them: at most [`COUNTED`], newest first.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Postings {
    /// How many were counted.
    count: i64,
    /// The time of the oldest counted (of every posting, when fewer than [`COUNTED`] exist).
    oldest: i64,
}

/// How many of a word's postings are counted before the search chooses how to walk: enough to
/// tell a rare word from a common one, few enough that counting a common word costs little.
const COUNTED: i64 = 5_000;

/// A word is merged with the rarest (both read in key order side by side) when it is at most this
/// many times as dense in time; denser, it is probed once per posting of the rarest instead. A
/// probe costs about as much as reading ten postings in order, so the merge wins below that.
const MERGE_DENSITY: f64 = 8.0;

/// The order in which the words are walked (the rarest first) and, for each word after the first,
/// whether it is merged with the walk rather than probed. `newest` is the newest posting's time.
fn walk_order(postings: &[Postings], newest: i64) -> (Vec<usize>, Vec<bool>) {
    // Postings per millisecond over the span the counted postings cover, up to the newest.
    let density = |p: &Postings| p.count as f64 / (newest.saturating_sub(p.oldest).max(0) as f64 + 1.0);
    let mut order: Vec<usize> = (0..postings.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&postings[a], &postings[b]);
        a.count.cmp(&b.count).then(density(a).total_cmp(&density(b)))
    });
    let Some(&first) = order.first() else { return (order, Vec::new()) };
    let base = density(&postings[first]);
    let merged = order[1..].iter().map(|&i| base > 0.0 && density(&postings[i]) <= base * MERGE_DENSITY).collect();
    (order, merged)
}

/// The walk's statement: the rarest word's postings (`$3`) newest first, in the person's
/// conversations (`$1` the enterprise, `$2` the person), each other word either merged (`true`: a
/// join the planner reads in the same key order beside the walk) or probed (one lookup of the
/// key), then the filters. Placeholders are numbered in the order [`Search::run`] binds: the other
/// words, the conversation, the sender, the two times, the limit. Every value is bound; only
/// placeholders are written into the SQL.
fn walk_sql(merged: &[bool], filter: &store::SearchFilter) -> String {
    let mut n = 3;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let tokens: Vec<String> = merged.iter().map(|_| next()).collect();
    let conversation = filter.conversation.map(|_| next());
    let sender = filter.sender.map(|_| next());
    let before = filter.before.map(|_| next());
    let after = filter.after.map(|_| next());
    let limit = next();
    // The times bound every word read in key order: a merged word's scan then starts where the
    // walk starts, not at its own newest posting.
    let within = |table: &str| {
        let mut bounds = String::new();
        if let Some(before) = &before {
            bounds.push_str(&format!(" AND {table}.created_at < {before}"));
        }
        if let Some(after) = &after {
            bounds.push_str(&format!(" AND {table}.created_at > {after}"));
        }
        bounds
    };
    let mut joins = String::new();
    let mut conditions = within("w");
    for (k, (merge, token)) in merged.iter().zip(&tokens).enumerate() {
        if *merge {
            joins.push_str(&format!(
                " JOIN message_words o{k} ON o{k}.token = {token} \
                 AND o{k}.created_at = w.created_at AND o{k}.message_id = w.message_id{}",
                within(&format!("o{k}"))
            ));
        } else {
            conditions.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM message_words o \
                 WHERE o.token = {token} AND o.created_at = w.created_at AND o.message_id = w.message_id)"
            ));
        }
    }
    if let Some(conversation) = conversation {
        conditions.push_str(&format!(" AND w.conversation_id = {conversation}"));
    }
    // Filters on the message itself are checked only for postings that hold every word.
    let mut on_message = Vec::new();
    if let Some(sender) = sender {
        on_message.push(format!("m.sender_id = {sender}"));
    }
    if filter.has_file {
        on_message.push("m.attachment_id IS NOT NULL".to_owned());
    }
    if !on_message.is_empty() {
        conditions.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM messages m WHERE m.id = w.message_id AND {})",
            on_message.join(" AND ")
        ));
    }
    let members = "SELECT cm.conversation_id FROM conversation_members cm \
                   JOIN conversations c ON c.id = cm.conversation_id WHERE c.enterprise_id = $1 AND cm.user_id = $2";
    // Where merge joins are allowed, the person's conversations are read once into a list (an
    // array, PostgreSQL's syntax) so that the membership check stays a filter and cannot be
    // planned as a join that sorts the postings.
    let membership =
        if merged.contains(&true) { format!("= ANY(ARRAY({members}))") } else { format!("IN ({members})") };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (\
             SELECT w.message_id FROM message_words w{joins} WHERE w.token = $3 \
             AND w.conversation_id {membership}{conditions} \
             ORDER BY w.created_at DESC, w.message_id DESC LIMIT {limit}) \
         AND deleted_at IS NULL ORDER BY created_at DESC, id DESC"
    )
}

impl Search<'_> {
    async fn run(
        &self,
        c: &mut (dyn crate::Connection + 'static),
        plan: Option<crate::SearchPlan>,
    ) -> Result<Vec<MessageRow>> {
        // The walk starts from the rarest word (counted up to a bound, so a common word costs
        // little to count): its postings are read newest first through the key
        // (token, created_at, message_id), each checked for the other words, the person's
        // conversations and the filters, until `limit` are found. A message's words all carry
        // its time, so another word is either probed with one lookup of the same key, or (where
        // the backend can merge and the word is about as dense in time) read in the same key
        // order beside the walk and merged. Messages are not read during the walk: a deleted,
        // recalled or expired message has no postings left (its words go in the same step).
        let counts: Vec<String> = (1..=self.words.len())
            .map(|i| {
                format!(
                    "(SELECT COUNT(*) AS n, MIN(created_at) AS oldest, MAX(created_at) AS newest FROM \
                     (SELECT created_at FROM message_words WHERE token = ${i} ORDER BY created_at DESC LIMIT {COUNTED}) p{i}) t{i}"
                )
            })
            .collect();
        let count_sql = format!("SELECT * FROM {}", counts.join(", "));
        let mut count = query(&count_sql);
        for word in self.words {
            count = count.bind(word);
        }
        let row = count.fetch_one(&mut *c).await?;
        let mut postings = Vec::with_capacity(self.words.len());
        let mut newest = i64::MIN;
        for i in 0..self.words.len() {
            let count: i64 = row.try_get(3 * i)?;
            let oldest: Option<i64> = row.try_get(3 * i + 1)?;
            let last: Option<i64> = row.try_get(3 * i + 2)?;
            newest = newest.max(last.unwrap_or(i64::MIN));
            postings.push(Postings { count, oldest: oldest.unwrap_or(i64::MAX) });
        }
        let (order, mut merged) = walk_order(&postings, newest);
        if plan.is_none() {
            merged.iter_mut().for_each(|m| *m = false);
        }
        if let Some(plan) = plan.filter(|_| merged.contains(&true)) {
            query(plan.merge).execute(&mut *c).await?;
        }
        let counted: Vec<&Vec<u8>> = order.iter().map(|&i| &self.words[i]).collect();
        let sql = walk_sql(&merged, self.filter);
        let filter = self.filter;
        let mut query = query(&sql).bind(self.enterprise.to_string()).bind(self.user.to_string()).bind(counted[0]);
        for word in &counted[1..] {
            query = query.bind(*word);
        }
        if let Some(c) = filter.conversation {
            query = query.bind(c.to_string());
        }
        if let Some(s) = filter.sender {
            query = query.bind(s.to_string());
        }
        if let Some(b) = filter.before {
            query = query.bind(b.0);
        }
        if let Some(a) = filter.after {
            query = query.bind(a.0);
        }
        query.bind(i64::from(self.limit)).fetch_all(&mut *c).await?.iter().map(message_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{walk_order, walk_sql, Postings, COUNTED};
    use domain::{ConversationId, Millis, UserId};

    #[test]
    fn a_word_at_most_eight_times_as_dense_is_merged_and_a_denser_one_probed() {
        let base = Postings { count: 10, oldest: 0 };
        // Over the same span (0..=999): 80 postings is 8x as dense, 81 is more.
        let eight = Postings { count: 80, oldest: 0 };
        let more = Postings { count: 81, oldest: 0 };
        assert_eq!(walk_order(&[base, eight, more], 999), (vec![0, 1, 2], vec![true, false]));
        // More postings over a far longer span is sparser in time: still merged.
        let long = Postings { count: 40, oldest: -99_000 };
        assert_eq!(walk_order(&[base, long], 999).1, vec![true]);
    }

    #[test]
    fn the_walk_binds_each_value_once_in_order_and_bounds_merged_words_by_the_same_times() {
        let filter = store::SearchFilter {
            conversation: Some(ConversationId::new()),
            sender: Some(UserId::new()),
            before: Some(Millis(2_000)),
            after: Some(Millis(1_000)),
            has_file: true,
        };
        let sql = walk_sql(&[true, false], &filter);
        for part in [
            "JOIN message_words o0 ON o0.token = $4 AND o0.created_at = w.created_at AND o0.message_id = w.message_id \
             AND o0.created_at < $8 AND o0.created_at > $9",
            "WHERE o.token = $5 AND o.created_at = w.created_at AND o.message_id = w.message_id",
            "w.conversation_id = $6",
            "m.sender_id = $7 AND m.attachment_id IS NOT NULL",
            "w.created_at < $8 AND w.created_at > $9",
            "LIMIT $10",
            "w.conversation_id = ANY(ARRAY(SELECT cm.conversation_id",
        ] {
            assert!(sql.contains(part), "{part:?} in {sql}");
        }
        assert!(!sql.contains("$11"), "nothing past the limit is bound");
        // Nothing merged: no join, and membership is a sub-select every backend understands.
        let sql = walk_sql(&[false], &store::SearchFilter::default());
        assert!(!sql.contains("JOIN message_words"), "{sql}");
        assert!(sql.contains("w.conversation_id IN (SELECT cm.conversation_id") && sql.contains("LIMIT $5"), "{sql}");
    }

    #[test]
    fn the_walk_starts_from_the_rarest_word_and_merges_only_words_about_as_dense() {
        let day = 86_400_000;
        let now = 400 * day;
        // 100 postings over the year, every posting counted: the walk starts there; a word
        // counted to the bound within the last two days is far denser and is probed.
        let rare = Postings { count: 100, oldest: 35 * day };
        let common = Postings { count: COUNTED, oldest: now - 2 * day };
        assert_eq!(walk_order(&[common, rare], now), (vec![1, 0], vec![false]));
        // Two common words counted to the bound over about the same span: merged, and the walk
        // starts from the one whose counted postings reach further back (the sparser).
        let other = Postings { count: COUNTED, oldest: now - 3 * day };
        assert_eq!(walk_order(&[common, other], now), (vec![1, 0], vec![true]));
        // A word that is ten times as dense is probed even when both reach the bound.
        let dense = Postings { count: COUNTED, oldest: now - 3 * day / 10 };
        assert_eq!(walk_order(&[other, dense, common], now), (vec![0, 2, 1], vec![true, false]));
    }

    #[test]
    fn a_word_without_postings_is_walked_first_and_nothing_is_merged_with_it() {
        let none = Postings { count: 0, oldest: i64::MAX };
        let some = Postings { count: 3, oldest: 10 };
        assert_eq!(walk_order(&[some, none], 20), (vec![1, 0], vec![false]));
        assert_eq!(walk_order(&[none], i64::MIN), (vec![0], vec![]));
        assert_eq!(walk_order(&[], i64::MIN), (vec![], vec![]));
    }
}
