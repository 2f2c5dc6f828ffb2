//! Enterprises (tenants), users and teams: creation, listing, disabling, membership (M1, A7).
//! Names and emails are sealed here under the enterprise's data key, bound to their row.

use crate::identity::credentials::PersonalText;
use crate::{draft, team_draft, Caller, Error, Result};
use crypto::{Aad, DataKey};
use domain::audit::{Action, AuditDraft, Origin};
use domain::{validate, EnterpriseId, FieldError, Millis, Role, Roles, Rule, TeamId, UserId};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Enterprises, users and teams.
pub struct Directory {
    core: Arc<crate::core::Core>,
    directory_store: Arc<dyn store::DirectoryStore>,
    conversation_store: Arc<dyn store::ConversationStore>,
    session_store: Arc<dyn store::SessionStore>,
    credentials: Arc<super::Credentials>,
}

impl Directory {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        credentials: Arc<super::Credentials>,
    ) -> Directory {
        Directory {
            core,
            directory_store: store.clone(),
            conversation_store: store.clone(),
            session_store: store.clone(),
            credentials,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct EnterpriseView {
    #[schema(value_type = String, format = Uuid)]
    pub id: EnterpriseId,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, format = Uuid)]
    pub enterprise_id: EnterpriseId,
    pub email: String,
    pub name: String,
    /// The most powerful role held: `enterprise-admin`, `security`, `team-admin` or `member`.
    #[schema(value_type = String)]
    pub role: Role,
    /// Every role held (a person may be enterprise admin and on the security team).
    #[schema(value_type = Vec<String>)]
    pub roles: Roles,
    pub disabled: bool,
    /// Whether the account has a password (an invitation gives it one).
    pub has_password: bool,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct TeamView {
    #[schema(value_type = String, format = Uuid)]
    pub id: TeamId,
    pub name: String,
    pub archived: bool,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct TeamMemberView {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub is_admin: bool,
    pub added_at: String,
}

/// A new account, as given by an admin. Validated by [`Directory::create_user`].
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub roles: Roles,
    /// How the account came to be, when not by an admin's hand (`oidc`, `saml`).
    pub via: Option<String>,
    /// `None` creates an account that cannot sign in with a password (SSO-only, later).
    pub password: Option<String>,
}

fn aad<'a>(table: &'a str, row: &'a str, column: &'a str) -> Aad<'a> {
    Aad { table, row, column }
}

fn open_user(key: &DataKey, row: &store::UserRow) -> Result<UserView> {
    let id = row.id.to_string();
    Ok(UserView {
        id: row.id,
        enterprise_id: row.enterprise_id,
        email: key.open_str(&row.email_ct, aad("users", &id, "email"))?,
        name: key.open_str(&row.name_ct, aad("users", &id, "name"))?,
        role: row.roles.primary(),
        roles: row.roles,
        disabled: row.disabled,
        has_password: row.password_hash.is_some(),
        created_at: row.created_at.rfc3339(),
    })
}

fn user_create_detail(roles: Roles, via: Option<&str>) -> String {
    let mut detail = serde_json::json!({ "role": roles.primary() });
    if roles.to_vec().len() > 1 {
        detail["roles"] = serde_json::json!(roles);
    }
    if let Some(via) = via {
        detail["via"] = serde_json::json!(via);
    }
    detail.to_string()
}

fn open_team(key: &DataKey, row: &store::TeamRow) -> Result<TeamView> {
    Ok(TeamView {
        id: row.id,
        name: key.open_str(&row.name_ct, aad("teams", &row.id.to_string(), "name"))?,
        archived: row.archived,
        created_at: row.created_at.rfc3339(),
    })
}

pub(crate) fn open_enterprise(key: &DataKey, row: &store::EnterpriseRow) -> Result<EnterpriseView> {
    Ok(EnterpriseView {
        id: row.id,
        name: key.open_str(&row.name_ct, aad("enterprises", &row.id.to_string(), "name"))?,
        created_at: row.created_at.rfc3339(),
    })
}

impl Directory {
    /// Creates a tenant with its own data key (operator only: tenants are provisioned from the shell).
    pub async fn create_enterprise(&self, caller: &Caller, origin: &Origin, name: &str) -> Result<EnterpriseView> {
        self.core.require_operator(caller, Action::EnterpriseCreate).await?;
        let name = validate::name("name", name).map_err(Error::Invalid)?;
        let id = EnterpriseId::new();
        let (key, key_row) = self.core.keys.new_enterprise_key(id);
        let row = store::EnterpriseRow {
            id,
            name_ct: key.seal_str(&name, aad("enterprises", &id.to_string(), "name")),
            created_at: Millis::now(),
        };
        let audit = draft(caller, origin, Some(id), Action::EnterpriseCreate, Some(format!("enterprise:{id}")));
        self.directory_store.create_enterprise(&row, &key_row, &audit).await?;
        open_enterprise(&key, &row)
    }

    pub async fn list_enterprises(&self, caller: &Caller) -> Result<Vec<EnterpriseView>> {
        let rows = self.directory_store.list_enterprises().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if caller.is_member_of(row.id) {
                out.push(open_enterprise(&*self.core.keys.enterprise_key(row.id).await?, &row)?);
            }
        }
        Ok(out)
    }

    pub async fn get_enterprise(&self, caller: &Caller, id: EnterpriseId) -> Result<EnterpriseView> {
        self.core
            .require_member_of(caller, id, Action::EnterpriseRead)
            .await
            .map_err(|_| Error::NotFound("enterprise"))?;
        let row = self.directory_store.get_enterprise(id).await?.ok_or(Error::NotFound("enterprise"))?;
        open_enterprise(&*self.core.keys.enterprise_key(id).await?, &row)
    }

    /// Creates an account. Enterprise admins of `enterprise` and the operator only.
    pub async fn create_user(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        new: NewUser,
    ) -> Result<UserView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::UserCreate).await?;
        let email = validate::email("email", &new.email).map_err(Error::Invalid)?;
        let name = validate::name("name", &new.name).map_err(Error::Invalid)?;
        if let Some(password) = &new.password {
            validate::new_password("password", password).map_err(Error::Invalid)?;
        }
        if self.directory_store.get_enterprise(enterprise).await?.is_none() {
            return Err(Error::NotFound("enterprise"));
        }
        if let Some(password) = &new.password {
            // An initial password meets the enterprise's policy like any other.
            self.credentials
                .check_new_password(
                    enterprise,
                    PersonalText { name: name.clone(), email: email.clone() },
                    password,
                    Vec::new(),
                )
                .await?;
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let password_hash = match &new.password {
            Some(p) => Some(self.core.hash_password(p).await?),
            None => None,
        };
        let id = UserId::new();
        let row_id = id.to_string();
        let now = Millis::now();
        let row = store::UserRow {
            id,
            enterprise_id: enterprise,
            email_index: self.core.keys.email_index(&email),
            email_ct: key.seal_str(&email, aad("users", &row_id, "email")),
            name_ct: key.seal_str(&name, aad("users", &row_id, "name")),
            roles: new.roles,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditDraft {
            detail: user_create_detail(new.roles, new.via.as_deref()),
            ..draft(caller, origin, Some(enterprise), Action::UserCreate, Some(format!("user:{id}")))
        };
        match self.directory_store.create_user(&row, &audit).await {
            Ok(()) => open_user(&key, &row),
            Err(store::Error::Conflict(_)) => Err(Error::Conflict(FieldError::new(
                "email",
                Rule::Duplicate,
                "an account with this email already exists in this enterprise",
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<Vec<UserView>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::UserList).await?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        self.directory_store.list_users(enterprise).await?.iter().map(|row| open_user(&key, row)).collect()
    }

    /// The caller's own account, or any account of their enterprise for its admins.
    pub async fn get_user(&self, caller: &Caller, enterprise: EnterpriseId, id: UserId) -> Result<UserView> {
        let own = matches!(caller, Caller::User(p) if p.user_id == id && p.enterprise_id == enterprise);
        if !own {
            self.core.require_enterprise_admin(caller, enterprise, Action::UserRead).await.map_err(|e| {
                if matches!(e, Error::Forbidden) {
                    Error::NotFound("user")
                } else {
                    e
                }
            })?;
        }
        let row = self.directory_store.get_user(enterprise, id).await?.ok_or(Error::NotFound("user"))?;
        open_user(&*self.core.keys.enterprise_key(enterprise).await?, &row)
    }

    /// Disables (ending every session) or re-enables an account. Admins cannot disable themselves,
    /// so an enterprise cannot lose its last admin by accident.
    pub async fn set_user_disabled(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        id: UserId,
        disabled: bool,
    ) -> Result<UserView> {
        let action = if disabled { Action::UserDisable } else { Action::UserEnable };
        self.core.require_enterprise_admin(caller, enterprise, action).await?;
        if matches!(caller, Caller::User(p) if p.user_id == id) && disabled {
            return Err(Error::Invalid(FieldError::new(
                "disabled",
                Rule::InvalidValue,
                "you cannot disable your own account",
            )));
        }
        let audit = draft(caller, origin, Some(enterprise), action, Some(format!("user:{id}")));
        self.directory_store.set_user_disabled(enterprise, id, disabled, Millis::now(), &audit).await.map_err(|e| {
            match e {
                store::Error::NotFound => Error::NotFound("user"),
                e => e.into(),
            }
        })?;
        if disabled {
            self.core.publish_session_ended(enterprise, id, None, true).await;
        }
        self.get_user(caller, enterprise, id).await
    }

    pub async fn create_team(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        name: &str,
    ) -> Result<TeamView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::TeamCreate).await?;
        let name = validate::name("name", name).map_err(Error::Invalid)?;
        if self.directory_store.get_enterprise(enterprise).await?.is_none() {
            return Err(Error::NotFound("enterprise"));
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let id = TeamId::new();
        let row = store::TeamRow {
            id,
            enterprise_id: enterprise,
            name_ct: key.seal_str(&name, aad("teams", &id.to_string(), "name")),
            archived: false,
            created_at: Millis::now(),
        };
        let audit = team_draft(caller, origin, enterprise, id, Action::TeamCreate, Some(format!("team:{id}")));
        self.directory_store.create_team(&row, &audit).await?;
        open_team(&key, &row)
    }

    /// Teams of the enterprise; any member may see them (they pick channels from this list).
    pub async fn list_teams(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<Vec<TeamView>> {
        self.core.require_member_of(caller, enterprise, Action::TeamList).await?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        self.directory_store.list_teams(enterprise).await?.iter().map(|row| open_team(&key, row)).collect()
    }

    pub async fn set_team_archived(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        id: TeamId,
        archived: bool,
    ) -> Result<TeamView> {
        let action = if archived { Action::TeamArchive } else { Action::TeamUnarchive };
        self.core.require_enterprise_admin(caller, enterprise, action).await?;
        let audit = team_draft(caller, origin, enterprise, id, action, Some(format!("team:{id}")));
        self.directory_store.set_team_archived(enterprise, id, archived, &audit).await.map_err(not_found("team"))?;
        let row = self.directory_store.get_team(enterprise, id).await?.ok_or(Error::NotFound("team"))?;
        open_team(&*self.core.keys.enterprise_key(enterprise).await?, &row)
    }

    /// Enterprise admins manage every team; a team's own admins manage its members.
    async fn require_team_manager(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        team: TeamId,
        action: Action,
    ) -> Result<()> {
        if caller.is_enterprise_admin_of(enterprise) {
            return self.core.require_elevated(caller, enterprise, action).await;
        }
        let allowed = match caller {
            Caller::User(p) if p.enterprise_id == enterprise && p.has(Role::TeamAdmin) => {
                let members = self.directory_store.list_team_members(enterprise, team).await?;
                members.iter().any(|m| m.user_id == p.user_id && m.is_admin)
            }
            _ => false,
        };
        if allowed {
            self.core.require_elevated(caller, enterprise, action).await
        } else {
            Err(self.core.deny(caller, action, Some(enterprise), "team-admin", Some(format!("team:{team}"))).await)
        }
    }

    pub async fn put_team_member(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
        is_admin: bool,
    ) -> Result<()> {
        self.require_team_manager(caller, enterprise, team, Action::TeamMemberPut).await?;
        let member = store::TeamMemberRow { team_id: team, user_id: user, is_admin, added_at: Millis::now() };
        let audit = AuditDraft {
            detail: serde_json::json!({ "is_admin": is_admin }).to_string(),
            ..team_draft(caller, origin, enterprise, team, Action::TeamMemberPut, Some(format!("user:{user}")))
        };
        self.directory_store.put_team_member(enterprise, &member, &audit).await.map_err(not_found("team or user"))
    }

    pub async fn remove_team_member(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        self.require_team_manager(caller, enterprise, team, Action::TeamMemberRemove).await?;
        let audit =
            team_draft(caller, origin, enterprise, team, Action::TeamMemberRemove, Some(format!("user:{user}")));
        let left = self
            .directory_store
            .remove_team_member(enterprise, team, user, &audit)
            .await
            .map_err(not_found("membership"))?;
        if let Some(channel) = left {
            // The channel follows the team: the person's browser drops it, the others see them go.
            let mut recipients: Vec<UserId> = self
                .conversation_store
                .list_members(enterprise, channel)
                .await?
                .into_iter()
                .map(|m| m.user_id)
                .collect();
            recipients.push(user);
            let key = self.core.keys.enterprise_key(enterprise).await?;
            let event = crate::protocol::Event::MemberLeft { conversation_id: channel, user_id: user };
            self.core
                .publish(enterprise, &key, &crate::core::events::conversation_topic(channel), recipients, event)
                .await;
        }
        Ok(())
    }

    /// The teams the signed-in person belongs to: whose channels they may join.
    pub async fn my_teams(&self, p: &crate::Principal) -> Result<Vec<TeamView>> {
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        self.directory_store
            .teams_of_user(p.enterprise_id, p.user_id)
            .await?
            .iter()
            .map(|row| open_team(&key, row))
            .collect()
    }

    pub async fn list_team_members(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        team: TeamId,
    ) -> Result<Vec<TeamMemberView>> {
        self.core.require_member_of(caller, enterprise, Action::TeamMemberList).await?;
        if self.directory_store.get_team(enterprise, team).await?.is_none() {
            return Err(Error::NotFound("team"));
        }
        Ok(self
            .directory_store
            .list_team_members(enterprise, team)
            .await?
            .into_iter()
            .map(|m| TeamMemberView { user_id: m.user_id, is_admin: m.is_admin, added_at: m.added_at.rfc3339() })
            .collect())
    }
}

fn not_found(what: &'static str) -> impl Fn(store::Error) -> Error {
    move |e| match e {
        store::Error::NotFound => Error::NotFound(what),
        e => e.into(),
    }
}

/// A colleague as every member sees them: enough to start a conversation.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ColleagueView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub name: String,
    pub email: String,
    /// `online` (active in the last 2 minutes: a connected client pings every 25 seconds),
    /// `away` (within 15 minutes) or `offline`, from every node's sessions alike.
    pub presence: &'static str,
}

/// How long after its last activity a person counts as online, then away.
const ONLINE_FOR_MS: i64 = 2 * 60 * 1000;
const AWAY_FOR_MS: i64 = 15 * 60 * 1000;

impl Directory {
    /// The enabled people of the caller's enterprise (the in-app directory).
    pub async fn list_colleagues(&self, p: &crate::Principal) -> Result<Vec<ColleagueView>> {
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let now = domain::Millis::now();
        let seen: std::collections::HashMap<UserId, domain::Millis> =
            self.session_store.last_activity(p.enterprise_id, now).await?.into_iter().collect();
        let mut out = Vec::new();
        for row in self.directory_store.list_users(p.enterprise_id).await?.iter().filter(|u| !u.disabled) {
            let user = open_user(&key, row)?;
            let presence = match seen.get(&user.id).map(|at| now.0 - at.0) {
                Some(ago) if ago <= ONLINE_FOR_MS => "online",
                Some(ago) if ago <= AWAY_FOR_MS => "away",
                _ => "offline",
            };
            out.push(ColleagueView { id: user.id, name: user.name, email: user.email, presence });
        }
        out.sort_by_key(|c| c.name.to_lowercase());
        Ok(out)
    }
}
