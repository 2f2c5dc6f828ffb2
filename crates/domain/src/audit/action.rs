//! The audit catalogue: every action Conclave records, with its scope, what it acts on and which
//! detail fields it may carry. A draft names an [`Action`], never a string, so the audit trail
//! cannot gain an action nobody declared, and `GET /api/v1/audit/catalogue` and ARCHITECTURE.md
//! are read from this one table.

use serde::Serialize;

/// Whose log an action belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The whole installation (master keys); no enterprise.
    Installation,
    /// One enterprise's directory, sign-in and messaging.
    Enterprise,
    /// One team inside an enterprise (the event also names the team).
    Team,
    /// The security desk of the desk's enterprise.
    Desk,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Installation => "installation",
            Scope::Enterprise => "enterprise",
            Scope::Team => "team",
            Scope::Desk => "desk",
        }
    }
}

/// What the event's `target` names (`<kind>:<id>`), if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    None,
    Enterprise,
    User,
    Team,
    Session,
    Conversation,
    Message,
    Report,
    Incident,
    Page,
    Key,
    MasterKey,
    Policy,
    Job,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::None => "none",
            TargetKind::Enterprise => "enterprise",
            TargetKind::User => "user",
            TargetKind::Team => "team",
            TargetKind::Session => "session",
            TargetKind::Conversation => "conversation",
            TargetKind::Message => "message",
            TargetKind::Report => "report",
            TargetKind::Incident => "incident",
            TargetKind::Page => "page",
            TargetKind::Key => "key",
            TargetKind::MasterKey => "master-key",
            TargetKind::Policy => "policy",
            TargetKind::Job => "job",
        }
    }
}

/// When an action reaches the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recorded {
    /// Every time, whatever the outcome.
    Always,
    /// Only when it is refused for lack of rights: reads are not logged when they succeed.
    WhenDenied,
}

impl Recorded {
    pub fn as_str(self) -> &'static str {
        match self {
            Recorded::Always => "always",
            Recorded::WhenDenied => "when-denied",
        }
    }
}

/// Detail fields every denial may carry, besides the action's own.
pub const DENIAL_FIELDS: &[&str] = &["rule", "enterprise"];

macro_rules! catalogue {
    ($( $variant:ident = $name:literal, $scope:ident, $target:ident, $recorded:ident, [$($field:literal),*], $doc:literal; )*) => {
        /// Every audited action. The name is what the chain stores; never rename one that has
        /// been released, since old events carry it and the verifier reads them back.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action { $( #[doc = $doc] $variant, )* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The dotted name stored in the chain, e.g. `auth.sign-in`.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }
            pub fn scope(self) -> Scope {
                match self { $(Action::$variant => Scope::$scope,)* }
            }
            pub fn target_kind(self) -> TargetKind {
                match self { $(Action::$variant => TargetKind::$target,)* }
            }
            pub fn recorded(self) -> Recorded {
                match self { $(Action::$variant => Recorded::$recorded,)* }
            }
            /// The keys the detail object may hold. `*` means the action records the settings
            /// document it saved (which never holds a secret).
            pub fn detail_fields(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($field),*],)* }
            }
            /// One sentence for people reading the log.
            pub fn description(self) -> &'static str {
                match self { $(Action::$variant => $doc,)* }
            }
        }
    };
}

catalogue! {
    EnterpriseCreate = "enterprise.create", Enterprise, Enterprise, Always, [], "An enterprise was created with its data key.";
    EnterpriseRead = "enterprise.read", Enterprise, Enterprise, WhenDenied, [], "Someone asked for an enterprise's details.";
    UserCreate = "user.create", Enterprise, User, Always, ["role", "roles", "via"], "An account was created, by an admin or just in time by single sign-on.";
    UserRead = "user.read", Enterprise, User, WhenDenied, [], "Someone asked for another person's account.";
    UserList = "user.list", Enterprise, None, WhenDenied, [], "Someone asked for the enterprise's people.";
    UserDisable = "user.disable", Enterprise, User, Always, [], "An account was disabled and its sessions ended.";
    UserEnable = "user.enable", Enterprise, User, Always, [], "A disabled account was enabled again.";
    UserRole = "user.role", Enterprise, User, Always, ["role", "roles", "via"], "An account's roles changed.";
    TeamCreate = "team.create", Team, Team, Always, [], "A team was created.";
    TeamList = "team.list", Enterprise, None, WhenDenied, [], "Someone asked for the enterprise's teams.";
    TeamArchive = "team.archive", Team, Team, Always, [], "A team was archived.";
    TeamUnarchive = "team.unarchive", Team, Team, Always, [], "An archived team was restored.";
    TeamMemberPut = "team.member.put", Team, User, Always, ["is_admin", "via"], "Someone was added to a team or their team role changed.";
    TeamMemberRemove = "team.member.remove", Team, User, Always, ["via"], "Someone was removed from a team.";
    TeamMemberList = "team.member.list", Team, Team, WhenDenied, [], "Someone asked for a team's members.";
    AuthSignIn = "auth.sign-in", Enterprise, Session, Always, ["method", "device_kind", "reason"], "A sign-in succeeded (target: the new session) or failed (with the reason).";
    AuthSignOut = "auth.sign-out", Enterprise, Session, Always, ["reason"], "Someone signed out.";
    AuthLockout = "auth.lockout", Enterprise, User, Always, ["minutes"], "An account locked after too many failed sign-ins.";
    AuthPasswordChange = "auth.password-change", Enterprise, User, Always, [], "A password was changed.";
    CredentialLinkCreate = "user.credential-link.create", Enterprise, User, Always, ["purpose", "mailed"], "An admin made a single-use link for someone to set their password: an invitation or a reset.";
    CredentialLinkUse = "auth.credential-link.use", Enterprise, User, Always, ["purpose"], "Someone set their password through a single-use link.";
    AuthTotpEnable = "auth.totp-enable", Enterprise, User, Always, [], "One-time codes were turned on (recovery codes issued).";
    AuthTotpDisable = "auth.totp-disable", Enterprise, User, Always, [], "One-time codes were turned off.";
    SessionEnd = "session.end", Enterprise, Session, Always, ["reason", "wipe", "sessions"], "A device's session was ended.";
    SessionWipeAcknowledge = "session.wipe-acknowledge", Enterprise, Session, Always, [], "A device confirmed it erased what it held of Conclave after its session was ended.";
    SessionElevate = "session.elevate", Enterprise, Session, Always, ["method", "reason"], "Someone authenticated again to use the admin consoles (or failed to, with the reason).";
    SessionLock = "session.lock", Enterprise, Session, Always, ["reason"], "A session was locked behind its PIN: the device asked (`requested`), or it sat idle past the PIN delay and a request found it so (`idle`); requests refused while it stays locked are not recorded again.";
    SessionUnlock = "session.unlock", Enterprise, Session, Always, ["reason", "failures"], "A session was unlocked with the PIN, or a wrong PIN was entered (with the count so far).";
    PinSet = "user.pin.set", Enterprise, User, Always, ["lock_after_minutes"], "Someone set or changed their PIN and when their sessions lock.";
    PinRemove = "user.pin.remove", Enterprise, User, Always, [], "Someone removed their PIN.";
    SessionPolicyRead = "session-policy.read", Enterprise, Policy, WhenDenied, [], "Someone asked for an enterprise's elevation and PIN rules.";
    SessionPolicyUpdate = "session-policy.update", Enterprise, Policy, Always, ["*"], "The elevation and PIN rules changed (the new rules are the detail).";
    SessionList = "session.list", Enterprise, User, WhenDenied, [], "Someone asked for another person's devices.";
    PasswordPolicyRead = "password-policy.read", Enterprise, Policy, WhenDenied, [], "Someone asked for an enterprise's password policy.";
    PasswordPolicyUpdate = "password-policy.update", Enterprise, Policy, Always, ["*"], "The password policy changed (the new policy is the detail).";
    SsoOidcRead = "sso.oidc.read", Enterprise, Policy, WhenDenied, [], "Someone asked for the OpenID provider settings.";
    SsoOidcConfigure = "sso.oidc.configure", Enterprise, Policy, Always, ["*"], "The OpenID provider settings changed (without the client secret).";
    SsoSamlRead = "sso.saml.read", Enterprise, Policy, WhenDenied, [], "Someone asked for the SAML identity provider settings.";
    SsoSamlConfigure = "sso.saml.configure", Enterprise, Policy, Always, ["*"], "The SAML identity provider settings changed.";
    AuditRead = "audit.read", Enterprise, None, WhenDenied, [], "Someone asked for the enterprise's audit log.";
    AuditVerify = "audit.verify", Installation, None, WhenDenied, [], "Someone asked to verify the whole chain.";
    KeyCreate = "key.create", Installation, Key, Always, [], "A data key was created and wrapped under the master key.";
    KeyRotate = "key.rotate", Installation, MasterKey, Always, ["new_master_key", "retired", "rewrapped"], "The master key was rotated and every data key rewrapped.";
    ConversationCreate = "conversation.create", Enterprise, Conversation, Always, ["kind"], "A conversation was opened.";
    ConversationJoin = "conversation.join", Enterprise, Conversation, Always, [], "Someone joined a team channel.";
    ConversationAddMember = "conversation.add-member", Enterprise, Conversation, Always, [], "Someone was added to a group.";
    ConversationRemoveMember = "conversation.remove-member", Enterprise, Conversation, Always, [], "Someone was removed from a group.";
    ConversationLeave = "conversation.leave", Enterprise, Conversation, Always, [], "Someone left a group.";
    MessageEdit = "message.edit", Enterprise, Message, WhenDenied, [], "Someone tried to edit another person's message.";
    MessageDelete = "message.delete", Enterprise, Message, WhenDenied, [], "Someone tried to delete another person's message.";
    MessageForward = "message.forward", Enterprise, Message, Always, ["to_conversation", "copy", "hops"], "A message was forwarded into another conversation (target: the message forwarded).";
    MessageRecall = "message.recall", Enterprise, Message, Always, ["copies", "conversations"], "A message and every copy forwarded from it were recalled and their content destroyed.";
    MessageExpire = "message.expire", Enterprise, Message, Always, [], "A message reached its expiry and its content was destroyed.";
    MessageRead = "message.read", Enterprise, Message, WhenDenied, [], "Someone was refused a message's content or file under its policy (time, network, device or no-copy).";
    MessageForwardsRead = "message.forwards", Enterprise, Message, WhenDenied, [], "Someone asked who forwarded a message they did not send.";
    MessagePolicyList = "message-policy.list", Enterprise, None, WhenDenied, [], "Someone outside the enterprise asked for its message policy templates.";
    MessagePolicyCreate = "message-policy.create", Enterprise, Policy, Always, ["name"], "A message policy template was created.";
    MessagePolicyUpdate = "message-policy.update", Enterprise, Policy, Always, ["name", "version"], "A message policy template changed.";
    MessagePolicyRetire = "message-policy.retire", Enterprise, Policy, Always, ["name"], "A message policy template was retired; senders can no longer pick it.";
    ConversationDefaultPolicy = "conversation.default-policy", Enterprise, Conversation, Always, ["policy_id"], "The template a conversation's messages get by default changed.";
    DeskRead = "desk.read", Desk, None, WhenDenied, [], "Someone outside the security team opened the desk.";
    DeskSettingsUpdate = "desk.settings.update", Desk, Policy, Always, ["store_finder_ip", "retention_days"], "The desk's data choices changed.";
    DeskPageUpdate = "desk.page.update", Desk, Page, Always, [], "A public security page was edited.";
    DeskKeyGenerate = "desk.key.generate", Desk, Key, Always, ["fingerprint", "algorithm"], "The desk generated a new OpenPGP key.";
    DeskKeyImport = "desk.key.import", Desk, Key, Always, ["fingerprint", "algorithm"], "An OpenPGP key was imported for the desk.";
    DeskReportSubmit = "desk.report.submit", Desk, Report, Always, ["encrypted", "files"], "A finder submitted a report.";
    DeskReportEmailVerified = "desk.report.email-verified", Desk, Report, Always, [], "A finder confirmed their email address.";
    DeskReportFinderFiles = "desk.report.finder-files", Desk, Report, Always, ["files"], "A finder added files to their report.";
    DeskReportTeamFiles = "desk.report.team-files", Desk, Report, Always, ["files"], "The security team added files to a report.";
    DeskReportReply = "desk.report.reply", Desk, Report, Always, [], "The security team wrote to the finder.";
    DeskReportFinderReply = "desk.report.finder-reply", Desk, Report, Always, [], "The finder wrote to the security team.";
    DeskReportState = "desk.report.state", Desk, Report, Always, ["from", "state", "duplicate_of"], "A report changed state, or a move the state machine does not allow was refused.";
    DeskReportWithdraw = "desk.report.withdraw", Desk, Report, Always, ["from"], "The finder withdrew their report.";
    DeskReportTriage = "desk.report.triage", Desk, Report, Always, ["assignee", "cvss_v3", "cvss_v4"], "The team assigned a report or set its CVSS vectors.";
    DeskReportNote = "desk.report.note", Desk, Report, Always, [], "The team added an internal note to a report.";
    DeskReportReminder = "desk.report.reminder", Desk, Report, Always, ["clock", "kind", "due_at"], "A clock of a report is about to run out (due-soon) or ran out (missed); the desk reminded the assignee or the whole team.";
    DeskAdvisorySave = "desk.advisory.save", Desk, Report, Always, ["version", "publish_on"], "The team saved a new version of a report's advisory draft.";
    DeskAdvisoryConsent = "desk.advisory.consent", Desk, Report, Always, ["version", "draft_sha256"], "The finder agreed to a version of the advisory draft.";
    DeskAdvisoryPublish = "desk.advisory.publish", Desk, Report, Always, ["public_id", "version", "consent", "override_reason"], "An advisory was published, with the finder's agreement or an override and its reason.";
    DeskIncidentReport = "desk.incident.report", Desk, Incident, Always, ["category", "from"], "Someone reported a security incident (a member, or an outsider with a receipt code).";
    DeskIncidentState = "desk.incident.state", Desk, Incident, Always, ["from", "state"], "An incident changed state, or a move its state machine does not allow was refused.";
    DeskIncidentEntry = "desk.incident.entry", Desk, Incident, Always, ["kind", "mailed"], "The team added to an incident's timeline: a note, or a notice to affected parties or an authority.";
    DeskIncidentClock = "desk.incident.clock", Desk, Incident, Always, ["hours"], "The team set or cleared an incident's notification clock.";
    DeskClocksUpdate = "desk.clocks.update", Desk, Policy, Always, ["time_zone", "working_days", "holidays", "imported"], "The desk's response clocks, working week or holidays changed.";
    DeskReportPurge = "desk.report.purge", Desk, None, Always, ["closed_before"], "Finder contact data of long-closed reports was deleted.";
}

impl Action {
    /// The action with this stored name.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Action::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown audit action {name:?}")))
    }
}

/// Lets tests and filters compare an action with its stored name.
impl PartialEq<&str> for Action {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl PartialEq<str> for Action {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.name()), "{} is declared twice", a.name());
            assert_eq!(Action::parse(a.name()), Some(*a));
        }
    }

    #[test]
    fn names_are_dotted_lower_case() {
        for a in Action::ALL {
            let ok = a.name().contains('.') && a.name().chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '-');
            assert!(ok, "{} is not a dotted lower-case name", a.name());
        }
    }
}
