//! A4: an admin ends a user's sessions and each device is told to erase what it holds; the
//! device acknowledges with its own credentials; the console shows both.

use crate::{origin, world};
use domain::Role;
use services::Error;

#[tokio::test]
async fn an_admin_signs_a_device_out_and_only_that_device_can_acknowledge_its_wipe() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let other = w.enterprise("Other").await;
    w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let bob = w.user(e, "bob@e.example", Role::Member).await;
    w.user(e, "cy@e.example", Role::Member).await;
    w.user(other, "x@o.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@e.example").await;
    let phone = w.services.sessions.sign_in(&origin(), "bob@e.example", crate::PASSWORD).await.unwrap();
    let laptop = w.services.sessions.sign_in(&origin(), "bob@e.example", crate::PASSWORD).await.unwrap();
    let sessions = &w.services.sessions;
    // Neither a member nor another enterprise's admin may.
    let member = w.caller("cy@e.example").await;
    let stranger = w.caller("x@o.example").await;
    for caller in [&member, &stranger] {
        let refused = sessions.end_user_devices(caller, &origin(), e, bob.id, Some(phone.principal.session_id)).await;
        assert!(matches!(refused, Err(Error::Forbidden)), "{refused:?}");
    }
    assert!(sessions.authenticate(&phone.token).await.is_ok(), "nothing changed");
    let audit = w.services.compliance.enterprise_audit(&admin, e, None, 10).await.unwrap();
    assert!(audit.iter().any(|ev| ev.action == "session.end" && ev.outcome == "denied"));

    assert_eq!(
        sessions.end_user_devices(&admin, &origin(), e, bob.id, Some(phone.principal.session_id)).await.unwrap(),
        1
    );
    let again = sessions.end_user_devices(&admin, &origin(), e, bob.id, Some(phone.principal.session_id)).await;
    assert!(matches!(again, Err(Error::NotFound("session"))), "already ended: {again:?}");
    // The phone, offline meanwhile, is told on its next request; the laptop is untouched.
    assert!(matches!(sessions.authenticate(&phone.token).await, Err(Error::WipeRequired)));
    assert!(sessions.authenticate(&laptop.token).await.is_ok());
    let listed = sessions.list_user_devices(&admin, e, bob.id).await.unwrap();
    let wiped = listed.iter().find(|d| d.session_id == phone.principal.session_id).unwrap();
    assert!(wiped.ended && wiped.wipe_requested_at.is_some() && wiped.wipe_acknowledged_at.is_none());
    // A forged acknowledgement (another token, a wrong CSRF token) changes nothing.
    assert!(matches!(sessions.acknowledge_wipe(&origin(), &laptop.token, None).await, Err(Error::NotFound(_))));
    assert!(matches!(sessions.acknowledge_wipe(&origin(), "made-up", None).await, Err(Error::NotFound(_))));
    assert!(matches!(
        sessions.acknowledge_wipe(&origin(), &phone.token, Some(&laptop.csrf_token)).await,
        Err(Error::NotFound(_))
    ));
    sessions.acknowledge_wipe(&origin(), &phone.token, Some(&phone.csrf_token)).await.unwrap();
    assert!(matches!(sessions.acknowledge_wipe(&origin(), &phone.token, None).await, Err(Error::NotFound(_))), "once");
    assert!(matches!(sessions.authenticate(&phone.token).await, Err(Error::Unauthenticated)));
    let listed = sessions.list_user_devices(&admin, e, bob.id).await.unwrap();
    assert!(listed.iter().any(|d| d.session_id == phone.principal.session_id && d.wipe_acknowledged_at.is_some()));
    let audit = w.services.compliance.enterprise_audit(&admin, e, None, 10).await.unwrap();
    assert!(audit.iter().any(|ev| ev.action == "session.wipe-acknowledge" && ev.actor.contains(&bob.id.to_string())));

    // Every device at once; then disabling the account wipes what is left.
    let tablet = sessions.sign_in(&origin(), "bob@e.example", crate::PASSWORD).await.unwrap();
    assert_eq!(sessions.end_user_devices(&admin, &origin(), e, bob.id, None).await.unwrap(), 2);
    assert!(matches!(sessions.authenticate(&tablet.token).await, Err(Error::WipeRequired)));
    let watch = sessions.sign_in(&origin(), "bob@e.example", crate::PASSWORD).await.unwrap();
    w.services.directory.set_user_disabled(&admin, &origin(), e, bob.id, true).await.unwrap();
    assert!(matches!(sessions.authenticate(&watch.token).await, Err(Error::WipeRequired)));
}
