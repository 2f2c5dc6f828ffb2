//! The foundation aggregates' store: enterprises, users, teams, sessions, the audit log and
//! wrapped keys. Portable SQL: the PostgreSQL crate compiles this file too (`#[path]`); each
//! backend keeps only what differs (connecting, migrating, and how audit appends serialise).

use super::{append_audit, db, insert_key, DbRow, Store};
use async_trait::async_trait;
use domain::audit::{Actor, AuditDraft, AuditEvent, Origin, Outcome};
use domain::{ConversationId, EnterpriseId, Millis, SessionId, TeamId, UserId};
use sqlx::Row;
use store::decode;
use store::{EnterpriseRow, Error, KeyRow, Result, SessionRow, TeamMemberRow, TeamRow, UserRow};

const USER_COLUMNS: &str =
    "id, enterprise_id, email_index, email_ct, name_ct, role, roles, password_hash, disabled, created_at, updated_at";
const SESSION_COLUMNS: &str = "id, enterprise_id, user_id, token_hash, device_kind, device_name_ct, ip_ct, created_at, last_seen_at, expires_at, ended_at, ended_reason, auth_method, elevated_until";
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, at, actor, ip, user_agent, enterprise_id, team_id, action, target, outcome, detail, prev_hash, hash";
pub(crate) const KEY_COLUMNS: &str = "id, enterprise_id, master_key_id, wrapped, created_at, rotated_at";

pub(crate) fn text(row: &DbRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(db)
}

fn enterprise_row(row: &DbRow) -> Result<EnterpriseRow> {
    Ok(EnterpriseRow {
        id: EnterpriseId(decode::uuid(&text(row, "id")?)?),
        name_ct: row.try_get("name_ct").map_err(db)?,
        created_at: Millis(row.try_get("created_at").map_err(db)?),
    })
}

fn user_row(row: &DbRow) -> Result<UserRow> {
    Ok(UserRow {
        id: UserId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        email_index: row.try_get("email_index").map_err(db)?,
        email_ct: row.try_get("email_ct").map_err(db)?,
        name_ct: row.try_get("name_ct").map_err(db)?,
        roles: decode::roles(&text(row, "roles")?)?,
        password_hash: row.try_get("password_hash").map_err(db)?,
        disabled: row.try_get("disabled").map_err(db)?,
        created_at: Millis(row.try_get("created_at").map_err(db)?),
        updated_at: Millis(row.try_get("updated_at").map_err(db)?),
    })
}

fn team_row(row: &DbRow) -> Result<TeamRow> {
    Ok(TeamRow {
        id: TeamId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        name_ct: row.try_get("name_ct").map_err(db)?,
        archived: row.try_get("archived").map_err(db)?,
        created_at: Millis(row.try_get("created_at").map_err(db)?),
    })
}

fn member_row(row: &DbRow) -> Result<TeamMemberRow> {
    Ok(TeamMemberRow {
        team_id: TeamId(decode::uuid(&text(row, "team_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        is_admin: row.try_get("is_admin").map_err(db)?,
        added_at: Millis(row.try_get("added_at").map_err(db)?),
    })
}

fn session_row(row: &DbRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: SessionId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        token_hash: row.try_get("token_hash").map_err(db)?,
        device_kind: decode::device_kind(&text(row, "device_kind")?)?,
        device_name_ct: row.try_get("device_name_ct").map_err(db)?,
        ip_ct: row.try_get("ip_ct").map_err(db)?,
        created_at: Millis(row.try_get("created_at").map_err(db)?),
        last_seen_at: Millis(row.try_get("last_seen_at").map_err(db)?),
        expires_at: Millis(row.try_get("expires_at").map_err(db)?),
        ended_at: row.try_get::<Option<i64>, _>("ended_at").map_err(db)?.map(Millis),
        ended_reason: row.try_get("ended_reason").map_err(db)?,
        auth_method: decode::auth_method(&text(row, "auth_method")?)?,
        elevated_until: row.try_get::<Option<i64>, _>("elevated_until").map_err(db)?.map(Millis),
    })
}

fn key_row(row: &DbRow) -> Result<KeyRow> {
    let enterprise: Option<String> = row.try_get("enterprise_id").map_err(db)?;
    Ok(KeyRow {
        id: text(row, "id")?,
        enterprise_id: enterprise.map(|e| decode::uuid(&e).map(EnterpriseId)).transpose()?,
        master_key_id: text(row, "master_key_id")?,
        wrapped: row.try_get("wrapped").map_err(db)?,
        created_at: Millis(row.try_get("created_at").map_err(db)?),
        rotated_at: row.try_get::<Option<i64>, _>("rotated_at").map_err(db)?.map(Millis),
    })
}

fn audit_row(row: &DbRow) -> Result<AuditEvent> {
    let opt_uuid = |col: &str| -> Result<Option<uuid::Uuid>> {
        let v: Option<String> = row.try_get(col).map_err(db)?;
        v.map(|s| decode::uuid(&s)).transpose()
    };
    let actor = text(row, "actor")?;
    let outcome = text(row, "outcome")?;
    Ok(AuditEvent {
        seq: row.try_get("seq").map_err(db)?,
        draft: AuditDraft {
            at: Millis(row.try_get("at").map_err(db)?),
            actor: Actor::decode(&actor).ok_or_else(|| Error::Other(format!("stored actor {actor:?} is unknown")))?,
            origin: Origin { ip: row.try_get("ip").map_err(db)?, user_agent: row.try_get("user_agent").map_err(db)? },
            enterprise_id: opt_uuid("enterprise_id")?.map(EnterpriseId),
            team_id: opt_uuid("team_id")?.map(TeamId),
            action: decode::action(&text(row, "action")?)?,
            target: row.try_get("target").map_err(db)?,
            outcome: Outcome::parse(&outcome)
                .ok_or_else(|| Error::Other(format!("stored outcome {outcome:?} is unknown")))?,
            detail: text(row, "detail")?,
        },
        prev_hash: decode::hash32(&row.try_get::<Vec<u8>, _>("prev_hash").map_err(db)?)?,
        hash: decode::hash32(&row.try_get::<Vec<u8>, _>("hash").map_err(db)?)?,
    })
}

pub(crate) fn expect_rows(affected: u64) -> Result<()> {
    if affected == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl store::DirectoryStore for Store {
    async fn create_enterprise(&self, enterprise: &EnterpriseRow, key: &KeyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            sqlx::query("INSERT INTO enterprises (id, name_ct, created_at) VALUES ($1, $2, $3)")
                .bind(enterprise.id.to_string())
                .bind(&enterprise.name_ct)
                .bind(enterprise.created_at.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            insert_key(&mut tx, key).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_enterprise(&self, id: EnterpriseId) -> Result<Option<EnterpriseRow>> {
        sqlx::query("SELECT id, name_ct, created_at FROM enterprises WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(db)?
            .as_ref()
            .map(enterprise_row)
            .transpose()
    }

    async fn list_enterprises(&self) -> Result<Vec<EnterpriseRow>> {
        sqlx::query("SELECT id, name_ct, created_at FROM enterprises ORDER BY created_at, id")
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(enterprise_row)
            .collect()
    }

    async fn create_user(&self, user: &UserRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            sqlx::query(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(user.id.to_string())
            .bind(user.enterprise_id.to_string())
            .bind(&user.email_index)
            .bind(&user.email_ct)
            .bind(&user.name_ct)
            .bind(user.roles.primary().as_str())
            .bind(user.roles.encode())
            .bind(&user.password_hash)
            .bind(user.disabled)
            .bind(user.created_at.0)
            .bind(user.updated_at.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_user(&self, enterprise: EnterpriseId, id: UserId) -> Result<Option<UserRow>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE enterprise_id = $1 AND id = $2"))
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(db)?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    async fn find_users_by_email_index(&self, email_index: &[u8]) -> Result<Vec<UserRow>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email_index = $1 ORDER BY id LIMIT 16"))
            .bind(email_index)
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn list_users(&self, enterprise: EnterpriseId) -> Result<Vec<UserRow>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE enterprise_id = $1 ORDER BY id"))
            .bind(enterprise.to_string())
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn set_user_disabled(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        disabled: bool,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done =
                sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE enterprise_id = $3 AND id = $4")
                    .bind(disabled)
                    .bind(at.0)
                    .bind(enterprise.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            expect_rows(done.rows_affected())?;
            if disabled {
                sqlx::query("UPDATE sessions SET ended_at = $1, ended_reason = 'user-disabled' WHERE enterprise_id = $2 AND user_id = $3 AND ended_at IS NULL")
                .bind(at.0)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn set_password_hash(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        hash: &str,
        at: Millis,
        audit: Option<&AuditDraft>,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = sqlx::query(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE enterprise_id = $3 AND id = $4",
            )
            .bind(hash)
            .bind(at.0)
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            expect_rows(done.rows_affected())?;
            if let Some(audit) = audit {
                append_audit(&mut tx, audit).await?;
            }
            Ok(())
        })
    }

    async fn create_team(&self, team: &TeamRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            sqlx::query(
                "INSERT INTO teams (id, enterprise_id, name_ct, archived, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(team.id.to_string())
            .bind(team.enterprise_id.to_string())
            .bind(&team.name_ct)
            .bind(team.archived)
            .bind(team.created_at.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_team(&self, enterprise: EnterpriseId, id: TeamId) -> Result<Option<TeamRow>> {
        sqlx::query(
            "SELECT id, enterprise_id, name_ct, archived, created_at FROM teams WHERE enterprise_id = $1 AND id = $2",
        )
        .bind(enterprise.to_string())
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(db)?
        .as_ref()
        .map(team_row)
        .transpose()
    }

    async fn list_teams(&self, enterprise: EnterpriseId) -> Result<Vec<TeamRow>> {
        sqlx::query(
            "SELECT id, enterprise_id, name_ct, archived, created_at FROM teams WHERE enterprise_id = $1 ORDER BY id",
        )
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(db)?
        .iter()
        .map(team_row)
        .collect()
    }

    async fn teams_of_user(&self, enterprise: EnterpriseId, user: UserId) -> Result<Vec<TeamRow>> {
        sqlx::query(
            "SELECT t.id, t.enterprise_id, t.name_ct, t.archived, t.created_at FROM teams t \
             JOIN team_members m ON m.team_id = t.id WHERE t.enterprise_id = $1 AND m.user_id = $2 ORDER BY t.id",
        )
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(db)?
        .iter()
        .map(team_row)
        .collect()
    }

    async fn set_team_archived(
        &self,
        enterprise: EnterpriseId,
        id: TeamId,
        archived: bool,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = sqlx::query("UPDATE teams SET archived = $1 WHERE enterprise_id = $2 AND id = $3")
                .bind(archived)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn put_team_member(
        &self,
        enterprise: EnterpriseId,
        member: &TeamMemberRow,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            // Both ends must belong to the enterprise: the INSERT selects them under that filter.
            let done = sqlx::query(
                "INSERT INTO team_members (team_id, user_id, is_admin, added_at) \
             SELECT t.id, u.id, $1, $2 FROM teams t, users u \
             WHERE t.enterprise_id = $3 AND t.id = $4 AND u.enterprise_id = $3 AND u.id = $5 \
             ON CONFLICT (team_id, user_id) DO UPDATE SET is_admin = excluded.is_admin",
            )
            .bind(member.is_admin)
            .bind(member.added_at.0)
            .bind(enterprise.to_string())
            .bind(member.team_id.to_string())
            .bind(member.user_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn remove_team_member(
        &self,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<Option<ConversationId>> {
        transaction!(self.writer(), |tx| {
            let done = sqlx::query(
                "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2 \
             AND team_id IN (SELECT id FROM teams WHERE enterprise_id = $3)",
            )
            .bind(team.to_string())
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            expect_rows(done.rows_affected())?;
            let channel: Option<String> = sqlx::query_scalar(
                "SELECT id FROM conversations WHERE kind = 'team' AND team_id = $1 AND enterprise_id = $2",
            )
            .bind(team.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let mut left = None;
            if let Some(channel) = channel {
                let gone = sqlx::query("DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2")
                    .bind(&channel)
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                if gone.rows_affected() > 0 {
                    left = ConversationId::parse(&channel);
                }
            }
            append_audit(&mut tx, audit).await?;
            Ok(left)
        })
    }

    async fn list_team_members(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Vec<TeamMemberRow>> {
        sqlx::query(
            "SELECT m.team_id, m.user_id, m.is_admin, m.added_at FROM team_members m \
             JOIN teams t ON t.id = m.team_id WHERE t.enterprise_id = $1 AND m.team_id = $2 ORDER BY m.user_id",
        )
        .bind(enterprise.to_string())
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(db)?
        .iter()
        .map(member_row)
        .collect()
    }
}

#[async_trait]
impl store::SessionStore for Store {
    async fn create_session(&self, session: &SessionRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            sqlx::query(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(session.id.to_string())
            .bind(session.enterprise_id.to_string())
            .bind(session.user_id.to_string())
            .bind(&session.token_hash)
            .bind(session.device_kind.as_str())
            .bind(&session.device_name_ct)
            .bind(&session.ip_ct)
            .bind(session.created_at.0)
            .bind(session.last_seen_at.0)
            .bind(session.expires_at.0)
            .bind(session.ended_at.map(|m| m.0))
            .bind(&session.ended_reason)
            .bind(session.auth_method.as_str())
            .bind(session.elevated_until.map(|m| m.0))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn session_by_token_hash(&self, token_hash: &[u8], now: Millis) -> Result<Option<SessionRow>> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.reader())
        .await
        .map_err(db)?
        .as_ref()
        .map(session_row)
        .transpose()
    }

    async fn session_principal(&self, token_hash: &[u8], now: Millis) -> Result<Option<(SessionRow, domain::Roles)>> {
        let columns = SESSION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        let row = sqlx::query(&format!(
            "SELECT {columns}, u.roles FROM sessions s \
             JOIN users u ON u.id = s.user_id AND u.enterprise_id = s.enterprise_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.disabled = FALSE"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.reader())
        .await
        .map_err(db)?;
        row.as_ref().map(|r| Ok((session_row(r)?, decode::roles(&text(r, "roles")?)?))).transpose()
    }

    async fn touch_session(&self, id: SessionId, at: Millis) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(at.0)
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn last_activity(&self, enterprise: EnterpriseId, now: Millis) -> Result<Vec<(UserId, Millis)>> {
        let rows = sqlx::query(
            "SELECT user_id, MAX(last_seen_at) AS seen FROM sessions \
             WHERE enterprise_id = $1 AND ended_at IS NULL AND expires_at > $2 GROUP BY user_id",
        )
        .bind(enterprise.to_string())
        .bind(now.0)
        .fetch_all(self.reader())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((UserId(decode::uuid(&text(r, "user_id")?)?), Millis(r.try_get("seen").map_err(db)?))))
            .collect()
    }

    async fn list_sessions(&self, enterprise: EnterpriseId, user: UserId, now: Millis) -> Result<Vec<SessionRow>> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE enterprise_id = $1 AND user_id = $2 \
             AND ended_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id DESC"
        ))
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .bind(now.0)
        .fetch_all(self.reader())
        .await
        .map_err(db)?
        .iter()
        .map(session_row)
        .collect()
    }

    async fn end_session(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        id: SessionId,
        reason: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = sqlx::query(
                "UPDATE sessions SET ended_at = $1, ended_reason = $2 \
             WHERE enterprise_id = $3 AND user_id = $4 AND id = $5 AND ended_at IS NULL",
            )
            .bind(at.0)
            .bind(reason)
            .bind(enterprise.to_string())
            .bind(user.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }
}

#[async_trait]
impl store::AuditStore for Store {
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEvent> {
        transaction!(self.writer(), |tx| { append_audit(&mut tx, draft).await })
    }

    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        sqlx::query(&format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(audit_row)
            .collect()
    }

    async fn enterprise_audit(&self, enterprise: EnterpriseId, before: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE enterprise_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(enterprise.to_string())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(db)?
        .iter()
        .map(audit_row)
        .collect()
    }

    async fn audit_count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(self.reader()).await.map_err(db)
    }
}

#[async_trait]
impl store::KeyStore for Store {
    async fn create_key(&self, key: &KeyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            insert_key(&mut tx, key).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>> {
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .map_err(db)?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>> {
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY id"))
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(key_row)
            .collect()
    }

    async fn rewrap_key(
        &self,
        id: &str,
        expected_master_key_id: &str,
        new_master_key_id: &str,
        wrapped: &[u8],
        at: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE keys SET master_key_id = $1, wrapped = $2, rotated_at = $3 WHERE id = $4 AND master_key_id = $5",
        )
        .bind(new_master_key_id)
        .bind(wrapped)
        .bind(at.0)
        .bind(id)
        .bind(expected_master_key_id)
        .execute(self.writer())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
