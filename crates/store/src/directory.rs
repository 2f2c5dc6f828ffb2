//! Enterprises, their users and teams.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, Roles, TeamId, UserId};

use crate::{KeyRow, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseRow {
    pub id: EnterpriseId,
    /// Sealed under the enterprise's own data key (table `enterprises`, column `name`).
    pub name_ct: Vec<u8>,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub enterprise_id: EnterpriseId,
    /// Blind index of the normalised email; unique within an enterprise.
    pub email_index: Vec<u8>,
    pub email_ct: Vec<u8>,
    pub name_ct: Vec<u8>,
    /// Everything the person may do beyond membership (A7).
    pub roles: Roles,
    /// argon2id PHC string; `None` for accounts that cannot sign in with a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRow {
    pub id: TeamId,
    pub enterprise_id: EnterpriseId,
    pub name_ct: Vec<u8>,
    pub archived: bool,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamMemberRow {
    pub team_id: TeamId,
    pub user_id: UserId,
    /// True for the team's admins (A7 team-admin duty is per team).
    pub is_admin: bool,
    pub added_at: Millis,
}

/// Enterprises, their users and teams.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Creates the enterprise together with its data key row, atomically.
    async fn create_enterprise(&self, enterprise: &EnterpriseRow, key: &KeyRow, audit: &AuditDraft) -> Result<()>;
    async fn get_enterprise(&self, id: EnterpriseId) -> Result<Option<EnterpriseRow>>;
    async fn list_enterprises(&self) -> Result<Vec<EnterpriseRow>>;

    /// `Conflict("users.email")` when the email index is taken in that enterprise.
    async fn create_user(&self, user: &UserRow, audit: &AuditDraft) -> Result<()>;
    async fn get_user(&self, enterprise: EnterpriseId, id: UserId) -> Result<Option<UserRow>>;
    /// Every account with this email index, across enterprises (sign-in does not know the tenant).
    async fn find_users_by_email_index(&self, email_index: &[u8]) -> Result<Vec<UserRow>>;
    async fn list_users(&self, enterprise: EnterpriseId) -> Result<Vec<UserRow>>;
    /// Disabling also ends every open session of the user, in the same transaction.
    async fn set_user_disabled(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        disabled: bool,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn set_password_hash(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        hash: &str,
        at: Millis,
        audit: Option<&AuditDraft>,
    ) -> Result<()>;

    async fn create_team(&self, team: &TeamRow, audit: &AuditDraft) -> Result<()>;
    async fn get_team(&self, enterprise: EnterpriseId, id: TeamId) -> Result<Option<TeamRow>>;
    async fn list_teams(&self, enterprise: EnterpriseId) -> Result<Vec<TeamRow>>;
    /// The teams `user` belongs to, archived ones included.
    async fn teams_of_user(&self, enterprise: EnterpriseId, user: UserId) -> Result<Vec<TeamRow>>;
    async fn set_team_archived(
        &self,
        enterprise: EnterpriseId,
        id: TeamId,
        archived: bool,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Adds or updates a membership. Both ids must belong to `enterprise`, else `NotFound`.
    async fn put_team_member(&self, enterprise: EnterpriseId, member: &TeamMemberRow, audit: &AuditDraft)
        -> Result<()>;
    /// Removes a membership and, in the same transaction, the person's place in the team's
    /// channel (team channels follow the team). Returns the channel they left, if they were in it.
    async fn remove_team_member(
        &self,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<Option<domain::ConversationId>>;
    async fn list_team_members(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Vec<TeamMemberRow>>;
}
