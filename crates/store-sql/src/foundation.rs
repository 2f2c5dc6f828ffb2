//! The foundation aggregates' store: enterprises, users, teams, sessions, the audit log and
//! wrapped keys.

use crate::{query, query_scalar, text, transaction, Row, SqlStore, Transaction};
use async_trait::async_trait;
use domain::audit::{Actor, AuditDraft, AuditEvent, Origin, Outcome, SealedOrigin};
use domain::{ConversationId, EnterpriseId, Millis, SessionId, TeamId, UserId};
use std::sync::Arc;
use store::decode;
use store::{EnterpriseRow, Error, KeyRow, Result, SessionRow, TeamMemberRow, TeamRow, UserRow};

const USER_COLUMNS: &str =
    "id, enterprise_id, email_index, email_ct, name_ct, role, roles, password_hash, disabled, created_at, updated_at";
const SESSION_COLUMNS: &str = "id, enterprise_id, user_id, token_hash, device_kind, device_name_ct, ip_ct, created_at, last_seen_at, expires_at, ended_at, ended_reason, auth_method, elevated_until, wipe_requested_at, wipe_acknowledged_at, active_at, locked_at, pin_failures";
const AUDIT_COLUMNS: &str = "seq, at, actor, ip, user_agent, enterprise_id, team_id, action, target, outcome, detail, prev_hash, hash, chain_version, origin_key, ip_ct, user_agent_ct, ip_index, network_index";
const KEY_COLUMNS: &str = "id, enterprise_id, master_key_id, wrapped, created_at, rotated_at";

fn enterprise_row(row: &Row) -> Result<EnterpriseRow> {
    Ok(EnterpriseRow {
        id: EnterpriseId(decode::uuid(&text(row, "id")?)?),
        name_ct: row.try_get("name_ct")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

fn user_row(row: &Row) -> Result<UserRow> {
    Ok(UserRow {
        id: UserId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        email_index: row.try_get("email_index")?,
        email_ct: row.try_get("email_ct")?,
        name_ct: row.try_get("name_ct")?,
        roles: decode::roles(&text(row, "roles")?)?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get("disabled")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

fn team_row(row: &Row) -> Result<TeamRow> {
    Ok(TeamRow {
        id: TeamId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        name_ct: row.try_get("name_ct")?,
        archived: row.try_get("archived")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

fn member_row(row: &Row) -> Result<TeamMemberRow> {
    Ok(TeamMemberRow {
        team_id: TeamId(decode::uuid(&text(row, "team_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        is_admin: row.try_get("is_admin")?,
        added_at: Millis(row.try_get("added_at")?),
    })
}

fn session_row(row: &Row) -> Result<SessionRow> {
    Ok(SessionRow {
        id: SessionId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        user_id: UserId(decode::uuid(&text(row, "user_id")?)?),
        token_hash: row.try_get("token_hash")?,
        device_kind: decode::device_kind(&text(row, "device_kind")?)?,
        device_name_ct: row.try_get("device_name_ct")?,
        ip_ct: row.try_get("ip_ct")?,
        created_at: Millis(row.try_get("created_at")?),
        last_seen_at: Millis(row.try_get("last_seen_at")?),
        expires_at: Millis(row.try_get("expires_at")?),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(Millis),
        ended_reason: row.try_get("ended_reason")?,
        auth_method: decode::auth_method(&text(row, "auth_method")?)?,
        elevated_until: row.try_get::<Option<i64>, _>("elevated_until")?.map(Millis),
        wipe_requested_at: row.try_get::<Option<i64>, _>("wipe_requested_at")?.map(Millis),
        wipe_acknowledged_at: row.try_get::<Option<i64>, _>("wipe_acknowledged_at")?.map(Millis),
        active_at: Millis(row.try_get("active_at")?),
        locked_at: row.try_get::<Option<i64>, _>("locked_at")?.map(Millis),
        pin_failures: row.try_get("pin_failures")?,
    })
}

fn key_row(row: &Row) -> Result<KeyRow> {
    let enterprise: Option<String> = row.try_get("enterprise_id")?;
    Ok(KeyRow {
        id: text(row, "id")?,
        enterprise_id: enterprise.map(|e| decode::uuid(&e).map(EnterpriseId)).transpose()?,
        master_key_id: text(row, "master_key_id")?,
        wrapped: row.try_get("wrapped")?,
        created_at: Millis(row.try_get("created_at")?),
        rotated_at: row.try_get::<Option<i64>, _>("rotated_at")?.map(Millis),
    })
}

fn audit_row(row: &Row) -> Result<AuditEvent> {
    let opt_uuid = |col: &str| -> Result<Option<uuid::Uuid>> {
        let v: Option<String> = row.try_get(col)?;
        v.map(|s| decode::uuid(&s)).transpose()
    };
    let actor = text(row, "actor")?;
    let outcome = text(row, "outcome")?;
    let version: i64 = row.try_get("chain_version")?;
    let sealed_origin = match version {
        1 => None,
        2 => Some(SealedOrigin {
            key_id: row.try_get::<Option<String>, _>("origin_key")?.unwrap_or_default(),
            ip_ct: row.try_get("ip_ct")?,
            user_agent_ct: row.try_get("user_agent_ct")?,
            ip_index: row.try_get("ip_index")?,
            network_index: row.try_get("network_index")?,
        }),
        other => return Err(Error::Other(format!("stored audit chain version {other} is unknown"))),
    };
    Ok(AuditEvent {
        seq: row.try_get("seq")?,
        draft: AuditDraft {
            at: Millis(row.try_get("at")?),
            actor: Actor::decode(&actor).ok_or_else(|| Error::Other(format!("stored actor {actor:?} is unknown")))?,
            origin: Origin { ip: row.try_get("ip")?, user_agent: row.try_get("user_agent")? },
            enterprise_id: opt_uuid("enterprise_id")?.map(EnterpriseId),
            team_id: opt_uuid("team_id")?.map(TeamId),
            action: decode::action(&text(row, "action")?)?,
            target: row.try_get("target")?,
            outcome: Outcome::parse(&outcome)
                .ok_or_else(|| Error::Other(format!("stored outcome {outcome:?} is unknown")))?,
            detail: text(row, "detail")?,
        },
        sealed_origin,
        prev_hash: decode::hash32(&row.try_get::<Vec<u8>, _>("prev_hash")?)?,
        hash: decode::hash32(&row.try_get::<Vec<u8>, _>("hash")?)?,
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
impl store::DirectoryStore for SqlStore {
    async fn create_enterprise(&self, enterprise: &EnterpriseRow, key: &KeyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query("INSERT INTO enterprises (id, name_ct, created_at) VALUES ($1, $2, $3)")
                .bind(enterprise.id.to_string())
                .bind(&enterprise.name_ct)
                .bind(enterprise.created_at.0)
                .execute(&mut *tx)
                .await?;
            insert_key(&mut tx, key).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_enterprise(&self, id: EnterpriseId) -> Result<Option<EnterpriseRow>> {
        query("SELECT id, name_ct, created_at FROM enterprises WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(enterprise_row)
            .transpose()
    }

    async fn list_enterprises(&self) -> Result<Vec<EnterpriseRow>> {
        query("SELECT id, name_ct, created_at FROM enterprises ORDER BY created_at, id")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(enterprise_row)
            .collect()
    }

    async fn create_user(&self, user: &UserRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(&format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
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
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_user(&self, enterprise: EnterpriseId, id: UserId) -> Result<Option<UserRow>> {
        query(&format!("SELECT {USER_COLUMNS} FROM users WHERE enterprise_id = $1 AND id = $2"))
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    async fn find_users_by_email_index(&self, email_index: &[u8]) -> Result<Vec<UserRow>> {
        query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email_index = $1 ORDER BY id LIMIT 16"))
            .bind(email_index)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn list_users(&self, enterprise: EnterpriseId) -> Result<Vec<UserRow>> {
        query(&format!("SELECT {USER_COLUMNS} FROM users WHERE enterprise_id = $1 ORDER BY id"))
            .bind(enterprise.to_string())
            .fetch_all(self.reader())
            .await?
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
            let done = query("UPDATE users SET disabled = $1, updated_at = $2 WHERE enterprise_id = $3 AND id = $4")
                .bind(disabled)
                .bind(at.0)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            expect_rows(done.rows_affected())?;
            if disabled {
                // A disabled account's devices are asked to erase what they hold, too.
                query("UPDATE sessions SET ended_at = $1, ended_reason = 'user-disabled', wipe_requested_at = $1 WHERE enterprise_id = $2 AND user_id = $3 AND ended_at IS NULL")
                .bind(at.0)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
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
            let done =
                query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE enterprise_id = $3 AND id = $4")
                    .bind(hash)
                    .bind(at.0)
                    .bind(enterprise.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            expect_rows(done.rows_affected())?;
            if let Some(audit) = audit {
                append_audit(&mut tx, audit).await?;
            }
            Ok(())
        })
    }

    async fn create_team(&self, team: &TeamRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query("INSERT INTO teams (id, enterprise_id, name_ct, archived, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(team.id.to_string())
                .bind(team.enterprise_id.to_string())
                .bind(&team.name_ct)
                .bind(team.archived)
                .bind(team.created_at.0)
                .execute(&mut *tx)
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_team(&self, enterprise: EnterpriseId, id: TeamId) -> Result<Option<TeamRow>> {
        query("SELECT id, enterprise_id, name_ct, archived, created_at FROM teams WHERE enterprise_id = $1 AND id = $2")
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(team_row)
            .transpose()
    }

    async fn list_teams(&self, enterprise: EnterpriseId) -> Result<Vec<TeamRow>> {
        query("SELECT id, enterprise_id, name_ct, archived, created_at FROM teams WHERE enterprise_id = $1 ORDER BY id")
            .bind(enterprise.to_string())
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(team_row)
            .collect()
    }

    async fn teams_of_user(&self, enterprise: EnterpriseId, user: UserId) -> Result<Vec<TeamRow>> {
        query(
            "SELECT t.id, t.enterprise_id, t.name_ct, t.archived, t.created_at FROM teams t \
             JOIN team_members m ON m.team_id = t.id WHERE t.enterprise_id = $1 AND m.user_id = $2 ORDER BY t.id",
        )
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .fetch_all(self.reader())
        .await?
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
            let done = query("UPDATE teams SET archived = $1 WHERE enterprise_id = $2 AND id = $3")
                .bind(archived)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
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
            let done = query(
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
            .await?;
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
            let done = query(
                "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2 \
             AND team_id IN (SELECT id FROM teams WHERE enterprise_id = $3)",
            )
            .bind(team.to_string())
            .bind(user.to_string())
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            expect_rows(done.rows_affected())?;
            let channel: Option<String> = query_scalar(
                "SELECT id FROM conversations WHERE kind = 'team' AND team_id = $1 AND enterprise_id = $2",
            )
            .bind(team.to_string())
            .bind(enterprise.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let mut left = None;
            if let Some(channel) = channel {
                let gone = query("DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2")
                    .bind(&channel)
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
                if gone.rows_affected() > 0 {
                    left = ConversationId::parse(&channel);
                }
            }
            append_audit(&mut tx, audit).await?;
            Ok(left)
        })
    }

    async fn list_team_members(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Vec<TeamMemberRow>> {
        query(
            "SELECT m.team_id, m.user_id, m.is_admin, m.added_at FROM team_members m \
             JOIN teams t ON t.id = m.team_id WHERE t.enterprise_id = $1 AND m.team_id = $2 ORDER BY m.user_id",
        )
        .bind(enterprise.to_string())
        .bind(team.to_string())
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(member_row)
        .collect()
    }
}

#[async_trait]
impl store::SessionStore for SqlStore {
    async fn create_session(&self, session: &SessionRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, $15, NULL, 0)"
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
            .bind(session.active_at.0)
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn session_by_token_hash(&self, token_hash: &[u8], now: Millis) -> Result<Option<SessionRow>> {
        query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(session_row)
        .transpose()
    }

    async fn session_principal(&self, token_hash: &[u8], now: Millis) -> Result<Option<store::SessionPrincipal>> {
        let columns = SESSION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        let row = query(&format!(
            "SELECT {columns}, u.roles, CASE WHEN u.pin_hash IS NULL THEN NULL ELSE u.pin_lock_after END AS pin_lock_after \
             FROM sessions s JOIN users u ON u.id = s.user_id AND u.enterprise_id = s.enterprise_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.disabled = FALSE"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.reader())
        .await?;
        row.as_ref()
            .map(|r| {
                Ok(store::SessionPrincipal {
                    session: session_row(r)?,
                    roles: decode::roles(&text(r, "roles")?)?,
                    pin_lock_after: r.try_get("pin_lock_after")?,
                })
            })
            .transpose()
    }

    async fn touch_session(&self, id: SessionId, at: Millis) -> Result<()> {
        query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(at.0)
            .bind(id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn mark_session_active(&self, id: SessionId, at: Millis) -> Result<()> {
        query(
            "UPDATE sessions SET active_at = $1, last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END \
             WHERE id = $2 AND active_at < $1 AND locked_at IS NULL",
        )
        .bind(at.0)
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn set_session_elevation(&self, id: SessionId, until: Millis, audit: Option<&AuditDraft>) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = query("UPDATE sessions SET elevated_until = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(until.0)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            expect_rows(done.rows_affected())?;
            if let Some(audit) = audit {
                append_audit(&mut tx, audit).await?;
            }
            Ok(())
        })
    }

    async fn lock_session(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done =
                query("UPDATE sessions SET locked_at = $1 WHERE id = $2 AND ended_at IS NULL AND locked_at IS NULL")
                    .bind(at.0)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 1 {
                append_audit(&mut tx, audit).await?;
                return Ok(true);
            }
            let open: Option<String> = query_scalar("SELECT id FROM sessions WHERE id = $1 AND ended_at IS NULL")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            match open {
                Some(_) => Ok(false),
                None => Err(Error::NotFound),
            }
        })
    }

    async fn reserve_pin_attempt(&self, id: SessionId, limit: i64) -> Result<Option<i64>> {
        let counted: Option<i64> = query_scalar(
            "UPDATE sessions SET pin_failures = pin_failures + 1 \
             WHERE id = $1 AND ended_at IS NULL AND pin_failures < $2 RETURNING pin_failures",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_optional(self.writer())
        .await?;
        if counted.is_some() {
            return Ok(counted);
        }
        let open: Option<i64> = query_scalar("SELECT pin_failures FROM sessions WHERE id = $1 AND ended_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(self.writer())
            .await?;
        match open {
            Some(_) => Ok(None),
            None => Err(Error::NotFound),
        }
    }

    async fn release_pin_attempt(&self, id: SessionId) -> Result<()> {
        query("UPDATE sessions SET pin_failures = pin_failures - 1 WHERE id = $1 AND pin_failures > 0")
            .bind(id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn record_pin_failure(&self, id: SessionId, audit: &AuditDraft) -> Result<i64> {
        transaction!(self.writer(), |tx| {
            let count: i64 = query_scalar("SELECT pin_failures FROM sessions WHERE id = $1 AND ended_at IS NULL")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::NotFound)?;
            append_audit(&mut tx, audit).await?;
            Ok(count)
        })
    }

    async fn unlock_session(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE sessions SET locked_at = NULL, pin_failures = 0, active_at = $1, \
                 last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END \
                 WHERE id = $2 AND ended_at IS NULL",
            )
            .bind(at.0)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn user_pin(&self, enterprise: EnterpriseId, user: UserId) -> Result<Option<store::UserPin>> {
        let row = query(
            "SELECT pin_hash, pin_lock_after FROM users WHERE id = $1 AND enterprise_id = $2 AND pin_hash IS NOT NULL",
        )
        .bind(user.to_string())
        .bind(enterprise.to_string())
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(store::UserPin {
                hash: text(&r, "pin_hash")?,
                lock_after: r.try_get::<Option<i64>, _>("pin_lock_after")?.unwrap_or(0),
            })
        })
        .transpose()
    }

    async fn set_user_pin(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        pin: Option<&store::UserPin>,
        audit: &AuditDraft,
    ) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let done =
                query("UPDATE users SET pin_hash = $1, pin_lock_after = $2 WHERE id = $3 AND enterprise_id = $4")
                    .bind(pin.map(|p| p.hash.clone()))
                    .bind(pin.map(|p| p.lock_after))
                    .bind(user.to_string())
                    .bind(enterprise.to_string())
                    .execute(&mut *tx)
                    .await?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn last_activity(&self, enterprise: EnterpriseId, now: Millis) -> Result<Vec<(UserId, Millis)>> {
        let rows = query(
            "SELECT user_id, MAX(last_seen_at) AS seen FROM sessions \
             WHERE enterprise_id = $1 AND ended_at IS NULL AND expires_at > $2 GROUP BY user_id",
        )
        .bind(enterprise.to_string())
        .bind(now.0)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| Ok((UserId(decode::uuid(&text(r, "user_id")?)?), Millis(r.try_get("seen")?)))).collect()
    }

    async fn list_sessions(&self, enterprise: EnterpriseId, user: UserId, now: Millis) -> Result<Vec<SessionRow>> {
        query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE enterprise_id = $1 AND user_id = $2 \
             AND ended_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id DESC"
        ))
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .bind(now.0)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(session_row)
        .collect()
    }

    async fn end_and_wipe_sessions(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        id: Option<SessionId>,
        reason: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<Vec<SessionId>> {
        transaction!(self.writer(), |tx| {
            let ended: Vec<String> = query_scalar(
                "UPDATE sessions SET ended_at = $1, ended_reason = $2, wipe_requested_at = $1 \
                 WHERE enterprise_id = $3 AND user_id = $4 AND ($5 IS NULL OR id = $5) \
                 AND ended_at IS NULL AND expires_at > $1 RETURNING id",
            )
            .bind(at.0)
            .bind(reason)
            .bind(enterprise.to_string())
            .bind(user.to_string())
            .bind(id.map(|s| s.to_string()))
            .fetch_all(&mut *tx)
            .await?;
            if id.is_some() && ended.is_empty() {
                return Err(Error::NotFound);
            }
            if !ended.is_empty() {
                append_audit(&mut tx, audit).await?;
            }
            ended.iter().map(|s| decode::uuid(s).map(SessionId)).collect()
        })
    }

    async fn session_awaiting_wipe(&self, token_hash: &[u8]) -> Result<Option<SessionRow>> {
        query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NOT NULL \
             AND wipe_requested_at IS NOT NULL AND wipe_acknowledged_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(session_row)
        .transpose()
    }

    async fn acknowledge_wipe(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE sessions SET wipe_acknowledged_at = $1 WHERE id = $2 \
                 AND wipe_requested_at IS NOT NULL AND wipe_acknowledged_at IS NULL",
            )
            .bind(at.0)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            let acknowledged = done.rows_affected() == 1;
            if acknowledged {
                append_audit(&mut tx, audit).await?;
            }
            Ok(acknowledged)
        })
    }

    async fn wiped_sessions(&self, enterprise: EnterpriseId, user: UserId, since: Millis) -> Result<Vec<SessionRow>> {
        query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE enterprise_id = $1 AND user_id = $2 \
             AND wipe_requested_at IS NOT NULL AND wipe_requested_at >= $3 ORDER BY wipe_requested_at DESC, id DESC"
        ))
        .bind(enterprise.to_string())
        .bind(user.to_string())
        .bind(since.0)
        .fetch_all(self.reader())
        .await?
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
            let done = query(
                "UPDATE sessions SET ended_at = $1, ended_reason = $2 \
             WHERE enterprise_id = $3 AND user_id = $4 AND id = $5 AND ended_at IS NULL",
            )
            .bind(at.0)
            .bind(reason)
            .bind(enterprise.to_string())
            .bind(user.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            expect_rows(done.rows_affected())?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }
}

#[async_trait]
impl store::AuditStore for SqlStore {
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEvent> {
        transaction!(self.writer(), |tx| { append_audit(&mut tx, draft).await })
    }

    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        query(&format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(audit_row)
            .collect()
    }

    fn install_audit_sealer(&self, sealer: Arc<dyn store::AuditSealer>) {
        // A second install (a second set of services over the same store, as tests do) keeps
        // the first: both derive their keys from the same store and keyring.
        let _ = self.audit_sealer.set(sealer);
    }

    async fn enterprise_audit(
        &self,
        enterprise: EnterpriseId,
        filter: &store::AuditFilter,
        before: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        // Each filter adds its own condition (rather than `$n IS NULL OR ...`) so the planner can
        // use the index on that column.
        let (column, index) = match (&filter.ip_index, &filter.network_index) {
            (Some(ip), _) => ("ip_index", Some(ip.clone())),
            (None, Some(network)) => ("network_index", Some(network.clone())),
            (None, None) => ("", None),
        };
        let condition = if index.is_some() { format!("AND {column} = $4") } else { "AND $4 IS NULL".to_owned() };
        query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE enterprise_id = $1 AND seq < $2 {condition} \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(enterprise.to_string())
        .bind(before)
        .bind(i64::from(limit))
        .bind(index)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(audit_row)
        .collect()
    }

    async fn audit_count(&self) -> Result<i64> {
        query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(self.reader()).await
    }
}

#[async_trait]
impl store::KeyStore for SqlStore {
    async fn create_key(&self, key: &KeyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            insert_key(&mut tx, key).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>> {
        query(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>> {
        query(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY id"))
            .fetch_all(self.reader())
            .await?
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
        let done = query(
            "UPDATE keys SET master_key_id = $1, wrapped = $2, rotated_at = $3 WHERE id = $4 AND master_key_id = $5",
        )
        .bind(new_master_key_id)
        .bind(wrapped)
        .bind(at.0)
        .bind(id)
        .bind(expected_master_key_id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Appends `draft` to the chain inside `tx`. Where several nodes write, the dialect's lock
/// serialises appends until the transaction ends, so reading the head and linking after it cannot
/// race; where one writer runs at a time, it serialises them already.
pub(crate) async fn append_audit(tx: &mut Transaction, draft: &AuditDraft) -> Result<AuditEvent> {
    if let Some(lock) = tx.dialect().audit_chain_lock {
        query(lock).execute(&mut **tx).await?;
    }
    let head = query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
    let prev = match head {
        Some(row) => Some((row.try_get::<i64, _>("seq")?, decode::hash32(&row.try_get::<Vec<u8>, _>("hash")?)?)),
        None => None,
    };
    let event = store::link_audit(draft, prev, tx.audit_sealer(), crypto::chain_hash)?;
    let sealed = event.sealed_origin.clone().unwrap_or_default();
    query(&format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 2, $14, $15, $16, $17, $18)"
    ))
    .bind(event.seq)
    .bind(draft.at.0)
    .bind(draft.actor.encode())
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(draft.enterprise_id.map(|e| e.to_string()))
    .bind(draft.team_id.map(|t| t.to_string()))
    .bind(draft.action.name())
    .bind(&draft.target)
    .bind(draft.outcome.as_str())
    .bind(&draft.detail)
    .bind(&event.prev_hash[..])
    .bind(&event.hash[..])
    .bind(&sealed.key_id)
    .bind(&sealed.ip_ct)
    .bind(&sealed.user_agent_ct)
    .bind(&sealed.ip_index)
    .bind(&sealed.network_index)
    .execute(&mut **tx)
    .await?;
    Ok(event)
}

async fn insert_key(tx: &mut Transaction, key: &KeyRow) -> Result<()> {
    query(&format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind(&key.id)
        .bind(key.enterprise_id.map(|e| e.to_string()))
        .bind(&key.master_key_id)
        .bind(&key.wrapped)
        .bind(key.created_at.0)
        .bind(key.rotated_at.map(|m| m.0))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
