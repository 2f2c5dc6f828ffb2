//! Single-use password links (invitations and resets): only the newest works, each is claimed
//! once, and a claim whose password was refused can be given back.

use super::{audit, enterprise, user};
use domain::Millis;
use store::CredentialLinkRow;
use store_conformance::conformance;

fn link(e: domain::EnterpriseId, u: domain::UserId, hash: &[u8], purpose: &str, at: i64) -> CredentialLinkRow {
    CredentialLinkRow {
        token_hash: hash.to_vec(),
        enterprise_id: e,
        user_id: u,
        purpose: purpose.into(),
        created_by: None,
        created_at: Millis(at),
        expires_at: Millis(at + 1_000),
        used_at: None,
    }
}

conformance!(only_the_newest_link_works_and_each_is_claimed_once, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"invited").await;
    let first = link(e, u.id, &[1; 32], "invitation", 100);
    store.create_credential_link(&first, &audit("user.credential-link.create", Some(e))).await.unwrap();
    assert_eq!(store.credential_link(&[1; 32]).await.unwrap(), Some(first.clone()));
    // A second invitation retires the first; a reset is another purpose and leaves it alone.
    let reset = link(e, u.id, &[3; 32], "password-reset", 150);
    store.create_credential_link(&reset, &audit("user.credential-link.create", Some(e))).await.unwrap();
    let second = link(e, u.id, &[2; 32], "invitation", 200);
    store.create_credential_link(&second, &audit("user.credential-link.create", Some(e))).await.unwrap();
    assert!(!store.claim_credential_link(&[1; 32], Millis(210)).await.unwrap(), "retired by the newer link");
    assert!(store.credential_link(&[3; 32]).await.unwrap().unwrap().used_at.is_none());
    // Two people with one link at once: exactly one claims it.
    let (a, b) = tokio::join!(
        store.claim_credential_link(&[2; 32], Millis(220)),
        store.claim_credential_link(&[2; 32], Millis(220))
    );
    assert!(a.unwrap() ^ b.unwrap());
    assert_eq!(store.credential_link(&[2; 32]).await.unwrap().unwrap().used_at, Some(Millis(220)));
    // The password was refused: the claim is given back, and only that claim.
    store.release_credential_link(&[2; 32], Millis(999)).await.unwrap();
    assert!(
        !store.claim_credential_link(&[2; 32], Millis(230)).await.unwrap(),
        "another claim's time releases nothing"
    );
    store.release_credential_link(&[2; 32], Millis(220)).await.unwrap();
    assert!(store.claim_credential_link(&[2; 32], Millis(230)).await.unwrap());
    // Expired links cannot be claimed; unknown ones are not there.
    assert!(!store.claim_credential_link(&[3; 32], Millis(1_150)).await.unwrap(), "expired");
    assert!(store.credential_link(&[9; 32]).await.unwrap().is_none());
    assert!(!store.claim_credential_link(&[9; 32], Millis(230)).await.unwrap());
});
