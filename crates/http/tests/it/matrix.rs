//! The authorization matrix (A7): every operation of the OpenAPI document, as every kind of
//! caller, in its own enterprise and from another one, checked against the table below. A route
//! the table does not name fails the test, so a new route cannot be forgotten. Runs on SQLite
//! and on PostgreSQL.
//!
//! A cell is *allowed* when the answer is not a refusal (401, 403, 404, 423) and not a server
//! error; bodies are well-formed, so a refusal can only come from who is asking. Each cell gets
//! fresh sessions and fresh resources, so an action one caller takes (ending a session, deleting
//! a message) cannot decide the next cell. For callers from the other enterprise the answer must
//! also be the same as for ids that exist nowhere: a refusal must not tell whether a thing exists.

use crate::{app_on, req, Reply, TestApp, PASSWORD};
use axum::http::Method;
use domain::{Millis, Role, SessionId};
use http_api::HttpSettings;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Member,
    /// A team admin, of another team than the one in the path.
    OtherTeamAdmin,
    TeamAdmin,
    /// The same team admin, with their elevation lapsed.
    LapsedTeamAdmin,
    Admin,
    /// An enterprise admin whose elevation lapsed.
    LapsedAdmin,
    Security,
    /// The finder of the report, with its receipt code and no session.
    Finder,
    /// A session that was signed out.
    Ended,
    /// A session locked behind its PIN.
    Locked,
    /// An elevated enterprise admin of another enterprise.
    OutsideAdmin,
    /// A member of another enterprise.
    OutsideMember,
}

const EVERYONE: [Who; 13] = [
    Who::Anonymous,
    Who::Member,
    Who::OtherTeamAdmin,
    Who::TeamAdmin,
    Who::LapsedTeamAdmin,
    Who::Admin,
    Who::LapsedAdmin,
    Who::Security,
    Who::Finder,
    Who::Ended,
    Who::Locked,
    Who::OutsideAdmin,
    Who::OutsideMember,
];

/// Who may, by kind of route.
#[derive(Clone, Copy, Debug)]
enum Allow {
    /// Anyone, signed in or not.
    Public,
    /// Any open, unlocked session, of any enterprise (the route is about the caller's own things).
    Signed,
    /// Any open session, locked ones too (what the lock screen needs).
    LockScreen,
    /// Members of the enterprise named in the path.
    EnterpriseMember,
    /// The people in the conversation (see [`Fixture::conversation`]).
    Participant,
    /// The message's author.
    Author,
    /// The author, or an elevated admin of the enterprise.
    AuthorOrAdmin,
    /// The group's owner, or an elevated admin of the enterprise.
    OwnerOrAdmin,
    /// The group's owner (its members are theirs to choose; an admin of the enterprise has no say).
    Owner,
    /// An elevated enterprise admin of the enterprise in the path.
    Admin,
    /// An elevated enterprise admin, or an elevated admin of the team in the path.
    TeamManager,
    /// Members of the team in the path, and elevated enterprise admins.
    TeamMember,
    /// The security team of the desk's enterprise.
    Security,
    /// The finder, by receipt code.
    Finder,
    /// Nobody in this matrix: the route needs something no caller here holds (an expired
    /// password, a pending enrolment, a WebSocket upgrade, an image); every cell must answer
    /// with a clean 4xx, never a success.
    Nobody,
}

impl Allow {
    fn allows(self, who: Who) -> bool {
        use Who::*;
        let unlocked_here = [Member, OtherTeamAdmin, TeamAdmin, LapsedTeamAdmin, Admin, LapsedAdmin, Security];
        match self {
            Allow::Public => true,
            Allow::Signed => unlocked_here.contains(&who) || [OutsideAdmin, OutsideMember].contains(&who),
            Allow::LockScreen => Allow::Signed.allows(who) || who == Locked,
            Allow::EnterpriseMember => unlocked_here.contains(&who),
            Allow::Participant => [Member, TeamAdmin, LapsedTeamAdmin, Admin, LapsedAdmin].contains(&who),
            Allow::Author | Allow::Owner => who == Member,
            Allow::AuthorOrAdmin | Allow::OwnerOrAdmin => [Member, Admin].contains(&who),
            Allow::Admin => who == Admin,
            Allow::TeamManager => [Admin, TeamAdmin].contains(&who),
            // The fixture's team has the member and the team admin; the enterprise admins are
            // not in it, so only an elevated one may join its channel.
            Allow::TeamMember => [Member, TeamAdmin, LapsedTeamAdmin, Admin].contains(&who),
            Allow::Security => who == Security,
            Allow::Finder => who == Finder,
            Allow::Nobody => false,
        }
    }
}

/// The table: every operation, the body it is sent with, and who may. `{placeholders}` are filled
/// from each cell's fixture.
const TABLE: &[(&str, &str, Allow, Option<&str>)] = &[
    ("GET", "/healthz", Allow::Public, None),
    ("GET", "/readyz", Allow::Public, None),
    ("GET", "/api/v1/audit/catalogue", Allow::Signed, None),
    ("POST", "/api/v1/sessions", Allow::Public, Some(r#"{"email":"member@a.example","password":"{password}"}"#)),
    (
        "POST",
        "/api/v1/sessions/expired-password",
        Allow::Nobody,
        Some(r#"{"email":"member@a.example","password":"{password}","new_password":"another long passphrase 7"}"#),
    ),
    (
        "POST",
        "/api/v1/sessions/totp-enrolment",
        Allow::Nobody,
        Some(r#"{"email":"member@a.example","password":"{password}"}"#),
    ),
    ("POST", "/api/v1/sessions/wipe-acknowledgement", Allow::Nobody, None),
    ("DELETE", "/api/v1/sessions/current", Allow::LockScreen, None),
    ("POST", "/api/v1/sessions/current/elevation", Allow::Signed, Some(r#"{"password":"{password}"}"#)),
    ("POST", "/api/v1/sessions/current/lock", Allow::LockScreen, None),
    ("POST", "/api/v1/sessions/current/unlock", Allow::LockScreen, Some(r#"{"pin":"2468"}"#)),
    ("GET", "/api/v1/ws", Allow::Nobody, None),
    ("GET", "/api/v1/me", Allow::LockScreen, None),
    ("GET", "/api/v1/me/teams", Allow::Signed, None),
    ("GET", "/api/v1/me/devices", Allow::Signed, None),
    ("DELETE", "/api/v1/me/devices/{own_session_id}", Allow::Signed, None),
    (
        "POST",
        "/api/v1/me/password",
        Allow::Signed,
        Some(r#"{"current_password":"not it","new_password":"another long passphrase 7"}"#),
    ),
    ("GET", "/api/v1/me/pin", Allow::LockScreen, None),
    ("PUT", "/api/v1/me/pin", Allow::Signed, Some(r#"{"pin":"1357","lock_after_minutes":5,"current_pin":"2468"}"#)),
    ("DELETE", "/api/v1/me/pin", Allow::Signed, Some(r#"{"current_pin":"2468"}"#)),
    ("GET", "/api/v1/me/totp", Allow::Signed, None),
    ("POST", "/api/v1/me/totp", Allow::Signed, None),
    ("DELETE", "/api/v1/me/totp", Allow::Signed, Some(r#"{"password":"{password}"}"#)),
    ("POST", "/api/v1/me/totp/confirm", Allow::Signed, Some(r#"{"code":"000000"}"#)),
    ("GET", "/api/v1/directory", Allow::Signed, None),
    ("GET", "/api/v1/search?q=harbour", Allow::Signed, None),
    ("GET", "/api/v1/conversations", Allow::Signed, None),
    ("POST", "/api/v1/conversations/direct", Allow::EnterpriseMember, Some(r#"{"user_id":"{victim_id}"}"#)),
    (
        "POST",
        "/api/v1/conversations/group",
        Allow::EnterpriseMember,
        Some(r#"{"title":"Ops","member_ids":["{victim_id}"]}"#),
    ),
    ("POST", "/api/v1/conversations/team", Allow::TeamMember, Some(r#"{"team_id":"{team_id}"}"#)),
    ("GET", "/api/v1/conversations/{conversation_id}", Allow::Participant, None),
    ("POST", "/api/v1/conversations/{conversation_id}/members", Allow::Owner, Some(r#"{"user_id":"{victim_id}"}"#)),
    ("DELETE", "/api/v1/conversations/{conversation_id}/members/{participant_id}", Allow::Owner, None),
    ("GET", "/api/v1/conversations/{conversation_id}/messages", Allow::Participant, None),
    ("POST", "/api/v1/conversations/{conversation_id}/messages", Allow::Participant, Some(r#"{"body":"hello"}"#)),
    ("GET", "/api/v1/conversations/{conversation_id}/messages/{message_id}", Allow::Participant, None),
    (
        "PATCH",
        "/api/v1/conversations/{conversation_id}/messages/{message_id}",
        Allow::Author,
        Some(r#"{"body":"edited"}"#),
    ),
    ("DELETE", "/api/v1/conversations/{conversation_id}/messages/{message_id}", Allow::Author, None),
    (
        "POST",
        "/api/v1/conversations/{conversation_id}/messages/{message_id}/forward",
        Allow::Participant,
        Some(r#"{"conversation_id":"{conversation_id}"}"#),
    ),
    ("GET", "/api/v1/conversations/{conversation_id}/messages/{message_id}/forwards", Allow::AuthorOrAdmin, None),
    ("POST", "/api/v1/conversations/{conversation_id}/messages/{message_id}/recall", Allow::AuthorOrAdmin, None),
    ("POST", "/api/v1/conversations/{conversation_id}/messages/{message_id}/reveal", Allow::Participant, None),
    ("GET", "/api/v1/conversations/{conversation_id}/messages/{message_id}/thread", Allow::Participant, None),
    (
        "PUT",
        "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/%F0%9F%91%8D",
        Allow::Participant,
        None,
    ),
    (
        "DELETE",
        "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/%F0%9F%91%8D",
        Allow::Participant,
        None,
    ),
    (
        "PUT",
        "/api/v1/conversations/{conversation_id}/default-policy",
        Allow::OwnerOrAdmin,
        Some(r#"{"policy_id":null}"#),
    ),
    ("PUT", "/api/v1/conversations/{conversation_id}/preferences", Allow::Participant, Some(r#"{"muted":true}"#)),
    ("POST", "/api/v1/conversations/{conversation_id}/read", Allow::Participant, Some(r#"{"seq":1}"#)),
    ("POST", "/api/v1/conversations/{conversation_id}/typing", Allow::Participant, None),
    ("GET", "/api/v1/conversations/{conversation_id}/scheduled", Allow::Participant, None),
    (
        "POST",
        "/api/v1/conversations/{conversation_id}/scheduled",
        Allow::Participant,
        Some(r#"{"body":"later","deliver_at":"{later}"}"#),
    ),
    ("DELETE", "/api/v1/conversations/{conversation_id}/scheduled/{scheduled_id}", Allow::Author, None),
    ("POST", "/api/v1/conversations/{conversation_id}/attachments?name=notes.txt", Allow::Participant, Some("@file")),
    ("GET", "/api/v1/conversations/{conversation_id}/attachments/{attachment_id}", Allow::Participant, None),
    ("GET", "/api/v1/conversations/{conversation_id}/attachments/{attachment_id}/thumbnail", Allow::Nobody, None),
    ("GET", "/api/v1/enterprises/{enterprise_id}", Allow::EnterpriseMember, None),
    ("GET", "/api/v1/enterprises/{enterprise_id}/audit", Allow::Admin, None),
    ("GET", "/api/v1/enterprises/{enterprise_id}/users", Allow::Admin, None),
    (
        "POST",
        "/api/v1/enterprises/{enterprise_id}/users",
        Allow::Admin,
        Some(r#"{"email":"new-{n}@a.example","name":"New","role":"member"}"#),
    ),
    ("PATCH", "/api/v1/enterprises/{enterprise_id}/users/{victim_id}", Allow::Admin, Some(r#"{"disabled":true}"#)),
    (
        "POST",
        "/api/v1/enterprises/{enterprise_id}/users/{victim_id}/credential-links",
        Allow::Admin,
        Some(r#"{"purpose":"password-reset"}"#),
    ),
    ("GET", "/api/v1/enterprises/{enterprise_id}/users/{victim_id}/devices", Allow::Admin, None),
    ("DELETE", "/api/v1/enterprises/{enterprise_id}/users/{victim_id}/devices", Allow::Admin, None),
    ("DELETE", "/api/v1/enterprises/{enterprise_id}/users/{victim_id}/devices/{victim_session_id}", Allow::Admin, None),
    ("GET", "/api/v1/enterprises/{enterprise_id}/teams", Allow::EnterpriseMember, None),
    ("POST", "/api/v1/enterprises/{enterprise_id}/teams", Allow::Admin, Some(r#"{"name":"Team {n}"}"#)),
    ("PATCH", "/api/v1/enterprises/{enterprise_id}/teams/{team_id}", Allow::Admin, Some(r#"{"archived":true}"#)),
    ("GET", "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members", Allow::EnterpriseMember, None),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{victim_id}",
        Allow::TeamManager,
        Some(r#"{"is_admin":false}"#),
    ),
    (
        "DELETE",
        "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{participant_id}",
        Allow::TeamManager,
        None,
    ),
    ("GET", "/api/v1/enterprises/{enterprise_id}/message-policies", Allow::EnterpriseMember, None),
    (
        "POST",
        "/api/v1/enterprises/{enterprise_id}/message-policies",
        Allow::Admin,
        Some(r#"{"name":"Board {n}","rules":{"no_forward":true}}"#),
    ),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/message-policies/{policy_id}",
        Allow::Admin,
        Some(r#"{"name":"Board {n}","rules":{"no_copy":true}}"#),
    ),
    ("DELETE", "/api/v1/enterprises/{enterprise_id}/message-policies/{policy_id}", Allow::Admin, None),
    ("GET", "/api/v1/enterprises/{enterprise_id}/password-policy", Allow::EnterpriseMember, None),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/password-policy",
        Allow::Admin,
        Some(
            r#"{"min_length":12,"required_classes":[],"min_strength":2,"deny_words":[],"history":5,"max_age_days":null,"lockout_threshold":10,"lockout_minutes":15,"require_second_factor":false}"#,
        ),
    ),
    ("GET", "/api/v1/enterprises/{enterprise_id}/session-policy", Allow::EnterpriseMember, None),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/session-policy",
        Allow::Admin,
        Some(r#"{"elevation_minutes":15,"pin_required":false,"pin_max_lock_minutes":60,"pin_attempts":5}"#),
    ),
    ("GET", "/api/v1/enterprises/{enterprise_id}/sso/oidc", Allow::Admin, None),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/sso/oidc",
        Allow::Admin,
        Some(
            r#"{"settings":{"issuer":"https://127.0.0.1:9/","client_id":"conclave","allowed_domains":["a.example"]},"client_secret":"s"}"#,
        ),
    ),
    ("GET", "/api/v1/enterprises/{enterprise_id}/sso/saml", Allow::Admin, None),
    (
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/sso/saml",
        Allow::Admin,
        Some(
            r#"{"idp_entity_id":"https://idp.a.example","idp_sso_url":"https://idp.a.example/sso","allowed_domains":["a.example"],"allow_idp_initiated":false,"admin_groups":[],"sso_only":false}"#,
        ),
    ),
    ("GET", "/api/v1/desk/reports", Allow::Security, None),
    ("GET", "/api/v1/desk/reports/{report_id}", Allow::Security, None),
    ("POST", "/api/v1/desk/reports/{report_id}/replies", Allow::Security, Some(r#"{"body":"Thanks, looking."}"#)),
    ("PUT", "/api/v1/desk/reports/{report_id}/state", Allow::Security, Some(r#"{"state":"acknowledged"}"#)),
    (
        "PUT",
        "/api/v1/desk/reports/{report_id}/triage",
        Allow::Security,
        Some(r#"{"cvss_v3":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}"#),
    ),
    ("POST", "/api/v1/desk/reports/{report_id}/notes", Allow::Security, Some(r#"{"body":"Internal only."}"#)),
    ("GET", "/api/v1/desk/team", Allow::Security, None),
    (
        "POST",
        "/api/v1/incidents",
        Allow::EnterpriseMember,
        Some(
            r#"{"details":"Lost phone","occurred_at":"2026-12-01T10:00","reported_at":"2026-12-01T11:00","category":"theft-or-damage"}"#,
        ),
    ),
    (
        "POST",
        "/api/v1/security/incidents",
        Allow::Public,
        Some(
            r#"{"details":"Strange mail","occurred_at":"2026-12-01T10:00","reported_at":"2026-12-01T11:00","category":"misuse"}"#,
        ),
    ),
    // A receipt code nobody holds: everyone gets the same 404.
    (
        "POST",
        "/api/v1/security/incidents/status",
        Allow::Nobody,
        Some(r#"{"receipt_code":"ABCDE-FGHJK-MNPQR-STVWX-YZ234"}"#),
    ),
    ("GET", "/api/v1/desk/incidents", Allow::Security, None),
    ("GET", "/api/v1/desk/incidents/{incident_id}", Allow::Security, None),
    ("PUT", "/api/v1/desk/incidents/{incident_id}/state", Allow::Security, Some(r#"{"state":"investigating"}"#)),
    (
        "POST",
        "/api/v1/desk/incidents/{incident_id}/entries",
        Allow::Security,
        Some(r#"{"kind":"note","text":"Looked at the logs."}"#),
    ),
    ("PUT", "/api/v1/desk/incidents/{incident_id}/clock", Allow::Security, Some(r#"{"hours":72}"#)),
    ("POST", "/api/v1/desk/incidents/{incident_id}/evidence?name=capture.txt", Allow::Security, Some("@file")),
    ("GET", "/api/v1/desk/incidents/{incident_id}/evidence/{evidence_id}", Allow::Security, None),
    ("GET", "/api/v1/desk/reports/{report_id}/advisory", Allow::Security, None),
    // The fixture accepts the report first (and, to publish, resolves it and saves a draft dated
    // in the past; the override stands in for the finder's agreement).
    (
        "PUT",
        "/api/v1/desk/reports/{report_id}/advisory",
        Allow::Security,
        Some(r#"{"title":"T","summary":"S","affected":[{"product":"P"}],"fix":"F","publish_on":"2026-12-01"}"#),
    ),
    (
        "POST",
        "/api/v1/desk/reports/{report_id}/advisory/publish",
        Allow::Security,
        Some(r#"{"override_reason":"The finder stopped answering."}"#),
    ),
    ("GET", "/api/v1/desk/dashboard", Allow::Security, None),
    ("GET", "/api/v1/desk/clocks", Allow::Security, None),
    (
        "PUT",
        "/api/v1/desk/clocks",
        Allow::Security,
        Some(
            r#"{"time_zone":"Europe/Berlin","working_days":["monday","tuesday","wednesday","thursday","friday"],"holidays":[],"first_response_days":3,"triage_days":10,"resolution_days":{"critical":10,"high":20,"medium":60,"low":90,"unscored":60},"remind_before_hours":24}"#,
        ),
    ),
    (
        "POST",
        "/api/v1/desk/clocks/holidays",
        Allow::Security,
        Some(
            r#"{"calendar":"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"}"#,
        ),
    ),
    ("POST", "/api/v1/desk/reports/{report_id}/files?name=poc.txt", Allow::Security, Some("@file")),
    ("GET", "/api/v1/desk/reports/{report_id}/files/{report_file_id}", Allow::Security, None),
    ("GET", "/api/v1/desk/keys", Allow::Security, None),
    ("POST", "/api/v1/desk/keys", Allow::Security, Some(r#"{"user_id":"security"}"#)),
    ("POST", "/api/v1/desk/keys/import", Allow::Security, Some(r#"{"armored_key":"not a key"}"#)),
    ("GET", "/api/v1/desk/pages/policy", Allow::Public, None),
    ("PUT", "/api/v1/desk/pages/policy", Allow::Security, Some(r##"{"markdown":"# Policy"}"##)),
    ("GET", "/api/v1/desk/settings", Allow::Security, None),
    ("PUT", "/api/v1/desk/settings", Allow::Security, Some(r#"{"store_finder_ip":false,"retention_days":365}"#)),
    ("POST", "/api/v1/security/reports", Allow::Public, Some(r#"{"title":"XSS","description":"In the search box."}"#)),
    ("POST", "/api/v1/security/reports/status", Allow::Finder, Some(r#"{"receipt_code":"{receipt}"}"#)),
    (
        "POST",
        "/api/v1/security/reports/replies",
        Allow::Finder,
        Some(r#"{"receipt_code":"{receipt}","body":"More detail."}"#),
    ),
    ("POST", "/api/v1/security/reports/files?name=more.txt", Allow::Finder, Some("@file")),
    ("POST", "/api/v1/security/reports/withdrawal", Allow::Finder, Some(r#"{"receipt_code":"{receipt}"}"#)),
    // No advisory exists for the fixture's report: the finder's answer is 404 like a stranger's,
    // so the table says nobody gets past it here (the browser and service tests cover consent).
    (
        "POST",
        "/api/v1/security/reports/advisory/consent",
        Allow::Nobody,
        Some(r#"{"receipt_code":"{receipt}","version":1}"#),
    ),
    (
        "POST",
        "/api/v1/security/reports/files/{report_file_id}/download",
        Allow::Finder,
        Some(r#"{"receipt_code":"{receipt}"}"#),
    ),
];

/// Is this answer a refusal?
fn refused(status: u16) -> bool {
    matches!(status, 401 | 403 | 404 | 423)
}

/// What every cell shares: two enterprises and their people.
struct World {
    app: TestApp,
    a: String,
    ids: BTreeMap<&'static str, String>,
    /// The argon2id hash of the locked member's PIN, made once.
    pin_hash: String,
}

const PEOPLE: [(&str, &str, Role); 8] = [
    ("member", "member@a.example", Role::Member),
    ("team_admin", "team-admin@a.example", Role::TeamAdmin),
    ("other_team_admin", "other-team-admin@a.example", Role::TeamAdmin),
    ("admin", "admin@a.example", Role::EnterpriseAdmin),
    ("lapsed_admin", "lapsed-admin@a.example", Role::EnterpriseAdmin),
    ("security", "security@a.example", Role::Security),
    ("locked", "locked@a.example", Role::Member),
    ("participant", "participant@a.example", Role::Member),
];

async fn world(app: TestApp) -> World {
    let a = app.enterprise("Alpha").await;
    let b = app.enterprise("Beta").await;
    let mut ids = BTreeMap::new();
    for (key, email, role) in PEOPLE {
        ids.insert(key, app.user(a, email, role).await.id.to_string());
    }
    ids.insert("outside_admin", app.user(b, "admin@b.example", Role::EnterpriseAdmin).await.id.to_string());
    ids.insert("outside_member", app.user(b, "member@b.example", Role::Member).await.id.to_string());
    let pin_hash = crypto::password::hash("2468", test_support::cheap_password_cost()).unwrap();
    let locked = domain::UserId::parse(&ids["locked"]).unwrap();
    let audit = domain::audit::AuditDraft::new(
        domain::audit::Action::PinSet,
        domain::audit::Actor::Operator,
        Default::default(),
    );
    let pin = store::UserPin { hash: pin_hash.clone(), lock_after: 300 };
    app.store.set_user_pin(a, locked, Some(&pin), &audit).await.unwrap();
    World { app, a: a.to_string(), ids, pin_hash }
}

impl World {
    async fn token(&self, email: &str) -> String {
        self.app.token(email).await
    }

    async fn session_of(&self, token: &str) -> SessionId {
        let me = req(Method::GET, "/api/v1/me").bearer(token).send(&self.app).await.json();
        SessionId::parse(me["session_id"].as_str().unwrap()).unwrap()
    }

    /// A fresh credential for `who`: a bearer token (none for the anonymous and the finder).
    async fn credential(&self, who: Who) -> Option<String> {
        let email = match who {
            Who::Anonymous | Who::Finder => return None,
            Who::Member | Who::Ended => "member@a.example",
            Who::OtherTeamAdmin => "other-team-admin@a.example",
            Who::TeamAdmin | Who::LapsedTeamAdmin => "team-admin@a.example",
            Who::Admin => "admin@a.example",
            Who::LapsedAdmin => "lapsed-admin@a.example",
            Who::Security => "security@a.example",
            Who::Locked => "locked@a.example",
            Who::OutsideAdmin => "admin@b.example",
            Who::OutsideMember => "member@b.example",
        };
        let token = self.token(email).await;
        match who {
            Who::Ended => {
                assert_eq!(
                    req(Method::DELETE, "/api/v1/sessions/current").bearer(&token).send(&self.app).await.status,
                    204
                );
            }
            Who::LapsedAdmin | Who::LapsedTeamAdmin => {
                let id = self.session_of(&token).await;
                self.app.store.set_session_elevation(id, Millis(Millis::now().0 - 1), None).await.unwrap();
            }
            Who::Locked => {
                let id = self.session_of(&token).await;
                let audit = domain::audit::AuditDraft::new(
                    domain::audit::Action::SessionLock,
                    domain::audit::Actor::System,
                    Default::default(),
                );
                self.app.store.lock_session(id, Millis::now(), &audit).await.unwrap();
            }
            _ => {}
        }
        Some(token)
    }
}

/// The resources one cell acts on, made fresh for it, in enterprise A.
struct Fixture {
    values: BTreeMap<&'static str, String>,
}

async fn post(w: &World, token: &str, path: &str, body: Value) -> Value {
    let reply = req(Method::POST, path).bearer(token).json(&body).send(&w.app).await;
    assert!(reply.status.is_success(), "fixture {path}: {} {}", reply.status, reply.text());
    reply.json()
}

async fn upload(w: &World, token: &str, path: &str) -> Value {
    let reply = req(Method::POST, path).bearer(token).raw("text/plain", "some text").send(&w.app).await;
    assert!(reply.status.is_success(), "fixture {path}: {} {}", reply.status, reply.text());
    reply.json()
}

async fn fixture(w: &World, n: usize, needs: &str) -> Fixture {
    let mut values = BTreeMap::new();
    values.insert("enterprise_id", w.a.clone());
    values.insert("password", PASSWORD.to_owned());
    values.insert("n", n.to_string());
    values.insert("later", Millis(Millis::now().0 + 7 * 86_400_000).rfc3339());
    values.insert("participant_id", w.ids["participant"].clone());
    // Someone the cell may disable, sign out or move between teams: fresh each time.
    let victim_email = format!("victim-{n}@a.example");
    if needs.contains("victim") {
        let a = domain::EnterpriseId::parse(&w.a).unwrap();
        values.insert("victim_id", w.app.user(a, &victim_email, Role::Member).await.id.to_string());
    }
    let owner = w.token("member@a.example").await;
    let admin = w.token("admin@a.example").await;
    if needs.contains("{conversation_id}") || needs.contains("{message_id}") {
        // A group the member owns, with the team admin, both enterprise admins, the locked member
        // and one more participant; the other team's admin and the security team are not in it.
        let members: Vec<&String> =
            ["team_admin", "admin", "lapsed_admin", "locked", "participant"].iter().map(|k| &w.ids[*k]).collect();
        let group =
            post(w, &owner, "/api/v1/conversations/group", json!({ "title": "Harbour", "member_ids": members })).await;
        let c = group["id"].as_str().unwrap().to_owned();
        let message =
            post(w, &owner, &format!("/api/v1/conversations/{c}/messages"), json!({ "body": "harbour plans" })).await;
        values.insert("message_id", message["id"].as_str().unwrap().to_owned());
        if needs.contains("{scheduled_id}") {
            let s = post(
                w,
                &owner,
                &format!("/api/v1/conversations/{c}/scheduled"),
                json!({ "body": "later", "deliver_at": values["later"] }),
            )
            .await;
            values.insert("scheduled_id", s["id"].as_str().unwrap().to_owned());
        }
        if needs.contains("{attachment_id}") {
            let v = upload(w, &owner, &format!("/api/v1/conversations/{c}/attachments?name=plan.txt")).await;
            let id = v["attachment"]["id"].as_str().or(v["attachment_id"].as_str()).or(v["id"].as_str()).unwrap();
            values.insert("attachment_id", id.to_owned());
        }
        values.insert("conversation_id", c);
    }
    if needs.contains("{team_id}") {
        let team =
            post(w, &admin, &format!("/api/v1/enterprises/{}/teams", w.a), json!({ "name": format!("Crew {n}") }))
                .await;
        let t = team["id"].as_str().unwrap().to_owned();
        for (key, is_admin) in [("team_admin", true), ("member", false), ("participant", false)] {
            let reply = req(Method::PUT, &format!("/api/v1/enterprises/{}/teams/{t}/members/{}", w.a, w.ids[key]))
                .bearer(&admin)
                .json(&json!({ "is_admin": is_admin }))
                .send(&w.app)
                .await;
            assert!(reply.status.is_success(), "{}", reply.text());
        }
        values.insert("team_id", t);
    }
    if needs.contains("{policy_id}") {
        let policy = post(
            w,
            &admin,
            &format!("/api/v1/enterprises/{}/message-policies", w.a),
            json!({ "name": format!("Fixture {n}"), "rules": { "no_forward": true } }),
        )
        .await;
        values.insert("policy_id", policy["id"].as_str().unwrap().to_owned());
    }
    if needs.contains("{victim_session_id}") {
        let token = w.token(&victim_email).await;
        values.insert("victim_session_id", w.session_of(&token).await.to_string());
    }
    if needs.contains("{report_id}")
        || needs.contains("{receipt}")
        || needs.contains("{report_file_id}")
        || needs.contains("/security/reports/")
    {
        let reply = req(Method::POST, "/api/v1/security/reports")
            .json(&json!({ "title": format!("Report {n}"), "description": "Found a flaw." }))
            .send(&w.app)
            .await;
        let code = reply.json()["receipt_code"].as_str().unwrap().to_owned();
        let security = w.token("security@a.example").await;
        let inbox = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&w.app).await.json();
        let list = inbox.as_array().cloned().or_else(|| inbox["reports"].as_array().cloned()).unwrap();
        let newest = list.iter().find(|r| r["title"] == format!("Report {n}")).expect("the report is in the inbox");
        let id = newest["id"].as_str().unwrap().to_owned();
        if needs.contains("{report_file_id}") {
            let view = upload(w, &security, &format!("/api/v1/desk/reports/{id}/files?name=fix.txt")).await;
            values.insert("report_file_id", file_id_named(&view, "fix.txt").expect("the file is on the report"));
        }
        if needs.contains("/advisory") {
            let state = |to: &str| json!({ "state": to });
            let path = format!("/api/v1/desk/reports/{id}/state");
            req(Method::PUT, &path).bearer(&security).json(&state("accepted")).send(&w.app).await;
            if needs.contains("/publish") {
                let draft = json!({ "title": "T", "summary": "S", "affected": [{ "product": "P" }], "fix": "F",
                    "publish_on": "2026-12-01" });
                let saved = req(Method::PUT, &format!("/api/v1/desk/reports/{id}/advisory"))
                    .bearer(&security)
                    .json(&draft)
                    .send(&w.app)
                    .await;
                assert!(saved.status.is_success(), "fixture draft: {}", saved.text());
                req(Method::PUT, &path).bearer(&security).json(&state("resolved")).send(&w.app).await;
            }
        }
        values.insert("report_id", id);
        values.insert("receipt", code);
    }
    if needs.contains("{incident_id}") {
        let incident = json!({ "details": format!("Incident {n}"), "occurred_at": "2026-12-01T10:00",
            "reported_at": "2026-12-01T11:00", "category": "denial-of-service" });
        req(Method::POST, "/api/v1/security/incidents").json(&incident).send(&w.app).await;
        let security = w.token("security@a.example").await;
        let list = req(Method::GET, "/api/v1/desk/incidents").bearer(&security).send(&w.app).await.json();
        let found = list.as_array().unwrap().iter().find(|i| i["headline"] == format!("Incident {n}")).expect("listed");
        let incident = found["id"].as_str().unwrap().to_owned();
        if needs.contains("{evidence_id}") {
            let view = upload(w, &security, &format!("/api/v1/desk/incidents/{incident}/evidence?name=log.txt")).await;
            let file = view["timeline"].as_array().unwrap().iter().find_map(|e| e["body"]["file_id"].as_str()).unwrap();
            values.insert("evidence_id", file.to_owned());
        }
        values.insert("incident_id", incident);
    }
    Fixture { values }
}

/// The id of the file called `name` anywhere in a report view.
fn file_id_named(v: &Value, name: &str) -> Option<String> {
    match v {
        Value::Object(map) => {
            if map.get("name").and_then(Value::as_str) == Some(name) {
                if let Some(id) = map.get("id").and_then(Value::as_str) {
                    return Some(id.to_owned());
                }
            }
            map.values().find_map(|x| file_id_named(x, name))
        }
        Value::Array(items) => items.iter().find_map(|x| file_id_named(x, name)),
        _ => None,
    }
}

fn fill(template: &str, values: &BTreeMap<&'static str, String>) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

/// Sends one cell's request; the finder's code goes in the body or, for uploads, a header.
async fn send(w: &World, method: &str, path: &str, body: Option<&str>, token: Option<&str>, receipt: &str) -> Reply {
    let mut r = req(Method::from_bytes(method.as_bytes()).unwrap(), path);
    if let Some(token) = token {
        r = r.bearer(token);
    }
    match body {
        Some("@file") => {
            r = r.header("x-receipt-code", receipt).raw("text/plain", "proof of concept");
        }
        Some(json) => r = r.raw("application/json", json.to_owned()),
        None => {}
    }
    r.send(&w.app).await
}

/// Every id in a path or body swapped for one that exists nowhere (enterprise ids too).
fn nowhere(text: &str, values: &BTreeMap<&'static str, String>) -> String {
    let mut out = text.to_owned();
    for (key, value) in values {
        if key.ends_with("_id") || *key == "enterprise_id" {
            out = out.replace(value, &uuid::Uuid::now_v7().to_string());
        }
    }
    out
}

async fn run_matrix(app: TestApp) {
    let w = world(app).await;
    // The table names every operation of the document, and nothing else.
    let doc = req(Method::GET, "/api/openapi.json").send(&w.app).await.json();
    let mut documented = BTreeSet::new();
    // And every answer each operation documents, to hold the answers below to the document.
    let mut answers: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            let statuses = op["responses"].as_object().map(|r| r.keys().cloned().collect()).unwrap_or_default();
            answers.insert((method.to_uppercase(), path.clone()), statuses);
        }
    }
    let normalise = |path: &str| -> String {
        let path = path.split('?').next().unwrap();
        let mut out = Vec::new();
        for seg in path.split('/') {
            out.push(match seg {
                "{own_session_id}" | "{victim_session_id}" => "{session_id}".to_owned(),
                "{victim_id}" | "{participant_id}" => "{user_id}".to_owned(),
                "{scheduled_id}" => "{message_id}".to_owned(),
                "{report_file_id}" | "{evidence_id}" => "{file_id}".to_owned(),
                "%F0%9F%91%8D" => "{emoji}".to_owned(),
                "policy" if path.starts_with("/api/v1/desk/pages") => "{page}".to_owned(),
                s => s.to_owned(),
            });
        }
        out.join("/")
    };
    let tabled: BTreeSet<(String, String)> = TABLE.iter().map(|(m, p, _, _)| ((*m).to_owned(), normalise(p))).collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(missing.is_empty(), "routes without an entry in the authorization matrix: {missing:?}");
    let stale: Vec<_> = tabled.difference(&documented).collect();
    assert!(stale.is_empty(), "entries for routes the API does not have: {stale:?}");

    let mut wrong = Vec::new();
    let mut undocumented = BTreeSet::new();
    let mut n = 0;
    for (method, path, allow, body) in TABLE {
        for who in EVERYONE {
            n += 1;
            let fixture = fixture(&w, n, &format!("{path} {}", body.unwrap_or(""))).await;
            let mut values = fixture.values.clone();
            let token = w.credential(who).await;
            if path.contains("{own_session_id}") {
                // One of the caller's own other devices.
                let email = match who {
                    Who::OutsideAdmin => "admin@b.example",
                    Who::OutsideMember => "member@b.example",
                    Who::Admin => "admin@a.example",
                    Who::LapsedAdmin => "lapsed-admin@a.example",
                    Who::TeamAdmin | Who::LapsedTeamAdmin => "team-admin@a.example",
                    Who::OtherTeamAdmin => "other-team-admin@a.example",
                    Who::Security => "security@a.example",
                    Who::Locked => "locked@a.example",
                    _ => "member@a.example",
                };
                let other = w.token(email).await;
                values.insert("own_session_id", w.session_of(&other).await.to_string());
            }
            let receipt = if who == Who::Finder {
                values.get("receipt").cloned().unwrap_or_default()
            } else {
                "ABCD-EFGH-JKMN-PQRS".to_owned()
            };
            values.insert("receipt", receipt.clone());
            let url = fill(path, &values);
            let sent_body = body.map(|b| if b == "@file" { b.to_owned() } else { fill(b, &values) });
            let reply = send(&w, method, &url, sent_body.as_deref(), token.as_deref(), &receipt).await;
            let status = reply.status.as_u16();
            assert!(status < 500, "{method} {url} as {who:?}: {status} {}", reply.text());
            let key = ((*method).to_owned(), normalise(path));
            if status >= 400 && !answers.get(&key).is_some_and(|a| a.contains(&status.to_string())) {
                undocumented.insert(format!("{method} {} answers {status}", key.1));
            }
            let expected = allow.allows(who);
            // An id of another enterprise in a body is refused by field (422), alike for one that
            // exists nowhere (checked below).
            let outside = matches!(who, Who::OutsideAdmin | Who::OutsideMember);
            let refusal = refused(status) || (outside && !expected && status == 422);
            let nobody = matches!(allow, Allow::Nobody);
            if (nobody && !(400..500).contains(&status)) || (!nobody && expected == refusal) {
                wrong.push(format!(
                    "{method} {path} as {who:?}: expected {}, got {status} {}",
                    if expected { "allowed" } else { "refused" },
                    reply.text().chars().take(160).collect::<String>()
                ));
            }
            // From the other enterprise, a thing that exists answers as one that does not.
            let body_elsewhere = sent_body.as_deref().map(|b| nowhere(b, &values));
            if outside
                && refusal
                && (url != nowhere(&url, &values) || body_elsewhere.as_deref() != sent_body.as_deref())
            {
                let elsewhere = nowhere(&url, &values);
                let token = w.credential(who).await;
                let other = send(&w, method, &elsewhere, body_elsewhere.as_deref(), token.as_deref(), &receipt).await;
                if other.status != reply.status {
                    wrong.push(format!(
                        "{method} {path} as {who:?}: {status} for a real id but {} for one that exists nowhere",
                        other.status
                    ));
                }
            }
        }
    }
    let _ = &w.pin_hash;
    let undocumented: Vec<String> = undocumented.into_iter().collect();
    assert!(undocumented.is_empty(), "answers the API document does not list:\n{}", undocumented.join("\n"));
    assert!(wrong.is_empty(), "{} cells of the authorization matrix are wrong:\n{}", wrong.len(), wrong.join("\n"));
}

/// The matrix signs in thousands of times from one address; the limits have tests of their own.
fn unlimited() -> HttpSettings {
    HttpSettings { sign_in_per_minute: 1_000_000, public_per_minute: 1_000_000, ..HttpSettings::default() }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says_on_sqlite() {
    run_matrix(crate::app_with(unlimited()).await).await;
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says_on_postgres() {
    let url = test_support::postgres_url();
    let schema = test_support::SchemaGuard(test_support::unique_schema("matrix"));
    let store = match store_postgres::connect_in_schema(&url, Some(&schema.0)).await {
        Ok(store) => store,
        Err(e) => return test_support::skip_unless_ci("PostgreSQL", e).unwrap_or(()),
    };
    let dir = tempfile::tempdir().unwrap();
    run_matrix(app_on(Arc::new(store), dir, unlimited()).await).await;
}
