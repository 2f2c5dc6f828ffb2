//! Every boundary: another tenant, a weaker role, another user's session.

use crate::{origin, world, PASSWORD};
use domain::{Role, TeamId};
use services::directory::NewUser;
use services::{Caller, Error};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "New Person".into(),
        roles: Role::Member.into(),
        via: None,
        password: Some(PASSWORD.into()),
    }
}

#[tokio::test]
async fn an_enterprise_admin_cannot_reach_another_enterprise() {
    let w = world().await;
    let a = w.enterprise("A").await;
    let b = w.enterprise("B").await;
    w.user(a, "admin@a.example", Role::EnterpriseAdmin).await;
    let b_user = w.user(b, "someone@b.example", Role::Member).await;
    let admin_a = w.caller("admin@a.example").await;

    assert!(matches!(w.services.directory.list_users(&admin_a, b).await, Err(Error::Forbidden)));
    assert!(matches!(
        w.services.directory.create_user(&admin_a, &origin(), b, new_user("x@b.example")).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        w.services.directory.create_team(&admin_a, &origin(), b, "Intruders").await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        w.services.directory.set_user_disabled(&admin_a, &origin(), b, b_user.id, true).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(w.services.directory.get_user(&admin_a, b, b_user.id).await, Err(Error::NotFound(_))));
    assert!(matches!(w.services.directory.get_enterprise(&admin_a, b).await, Err(Error::NotFound(_))));
    assert!(matches!(w.services.directory.list_teams(&admin_a, b).await, Err(Error::Forbidden)));
    assert!(matches!(w.services.compliance.enterprise_audit(&admin_a, b, None, 10).await, Err(Error::Forbidden)));
    // Naming a user of B under A's id finds nothing: the tenant filter is in the query too.
    assert!(matches!(
        w.services.directory.set_user_disabled(&admin_a, &origin(), a, b_user.id, true).await,
        Err(Error::NotFound(_))
    ));
    assert!(!w.services.directory.get_user(&Caller::Operator, b, b_user.id).await.unwrap().disabled);
    // The admin only sees their own enterprise in the list.
    let visible = w.services.directory.list_enterprises(&admin_a).await.unwrap();
    assert_eq!(visible.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a]);
}

#[tokio::test]
async fn members_and_security_cannot_administer() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "member@e.example", Role::Member).await;
    w.user(e, "security@e.example", Role::Security).await;
    w.user(e, "teamadmin@e.example", Role::TeamAdmin).await;
    for email in ["member@e.example", "security@e.example", "teamadmin@e.example"] {
        let caller = w.caller(email).await;
        assert!(matches!(w.services.directory.list_users(&caller, e).await, Err(Error::Forbidden)), "{email}");
        assert!(
            matches!(
                w.services.directory.create_user(&caller, &origin(), e, new_user("n@e.example")).await,
                Err(Error::Forbidden)
            ),
            "{email}"
        );
        assert!(
            matches!(w.services.directory.create_team(&caller, &origin(), e, "T").await, Err(Error::Forbidden)),
            "{email}"
        );
        assert!(
            matches!(w.services.compliance.enterprise_audit(&caller, e, None, 10).await, Err(Error::Forbidden)),
            "{email}"
        );
        // Every member may see the enterprise's teams.
        w.services.directory.list_teams(&caller, e).await.unwrap();
    }
    // Only the operator creates tenants and rotates keys.
    let member = w.caller("member@e.example").await;
    assert!(matches!(w.services.directory.create_enterprise(&member, &origin(), "Mine").await, Err(Error::Forbidden)));
    assert!(matches!(w.services.core.rotate_master_key(&member, &origin(), &|_, _| {}).await, Err(Error::Forbidden)));
    assert!(matches!(w.services.compliance.verify_audit_chain(&member, &|_, _| {}).await, Err(Error::Forbidden)));
}

#[tokio::test]
async fn team_admins_manage_only_their_own_team() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let lead = w.user(e, "lead@e.example", Role::TeamAdmin).await;
    let member = w.user(e, "member@e.example", Role::Member).await;
    let admin = w.caller("admin@e.example").await;
    let mine = w.services.directory.create_team(&admin, &origin(), e, "Mine").await.unwrap();
    let theirs = w.services.directory.create_team(&admin, &origin(), e, "Theirs").await.unwrap();
    w.services.directory.put_team_member(&admin, &origin(), e, mine.id, lead.id, true).await.unwrap();

    let lead_caller = w.caller("lead@e.example").await;
    w.services.directory.put_team_member(&lead_caller, &origin(), e, mine.id, member.id, false).await.unwrap();
    assert!(matches!(
        w.services.directory.put_team_member(&lead_caller, &origin(), e, theirs.id, member.id, false).await,
        Err(Error::Forbidden)
    ));
    w.services.directory.remove_team_member(&lead_caller, &origin(), e, mine.id, member.id).await.unwrap();
    assert!(matches!(
        w.services.directory.set_team_archived(&lead_caller, &origin(), e, mine.id, true).await,
        Err(Error::Forbidden)
    ));
    let members = w.services.directory.list_team_members(&lead_caller, e, mine.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(matches!(
        w.services.directory.list_team_members(&lead_caller, e, TeamId::new()).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn one_user_cannot_end_another_users_session() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    w.user(e, "b@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let b = w.principal("b@e.example").await;
    assert!(matches!(w.services.sessions.end_device(&a, &origin(), b.session_id).await, Err(Error::NotFound(_))));
    assert_eq!(w.services.sessions.list_devices(&b).await.unwrap().len(), 1);
}

#[tokio::test]
async fn admins_cannot_disable_themselves() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let admin_view = w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@e.example").await;
    let err = w.services.directory.set_user_disabled(&admin, &origin(), e, admin_view.id, true).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(ref f) if f.field == "disabled"), "{err:?}");
}
