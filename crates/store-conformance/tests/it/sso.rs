//! Single sign-on settings per enterprise: replaced whole, listed for the domain look-up, audited.

use super::{audit, enterprise};
use domain::Millis;
use store_conformance::conformance;

conformance!(openid_settings_are_one_per_enterprise_and_replaced_whole, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    assert_eq!(store.oidc_config(e).await.unwrap(), None);
    let events = store.audit_count().await.unwrap();
    store
        .put_oidc_config(e, r#"{"issuer":"a"}"#, &[1; 40], Millis(1), &audit("sso.oidc.configure", Some(e)))
        .await
        .unwrap();
    store
        .put_oidc_config(e, r#"{"issuer":"b"}"#, &[2; 40], Millis(2), &audit("sso.oidc.configure", Some(e)))
        .await
        .unwrap();
    assert_eq!(store.audit_count().await.unwrap(), events + 2, "each change is audited");
    assert_eq!(store.oidc_config(e).await.unwrap(), Some((r#"{"issuer":"b"}"#.to_owned(), vec![2; 40])));
    assert_eq!(store.oidc_config(other).await.unwrap(), None);
    store
        .put_oidc_config(other, r#"{"issuer":"c"}"#, &[3; 40], Millis(3), &audit("sso.oidc.configure", Some(other)))
        .await
        .unwrap();
    let mut all = store.oidc_configs().await.unwrap();
    all.sort_by_key(|(id, _)| *id == other);
    assert_eq!(all, [(e, r#"{"issuer":"b"}"#.to_owned()), (other, r#"{"issuer":"c"}"#.to_owned())]);
});

conformance!(saml_settings_are_one_per_enterprise_and_replaced_whole, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    assert_eq!(store.saml_config(e).await.unwrap(), None);
    store.put_saml_config(e, r#"{"entity":"a"}"#, Millis(1), &audit("sso.saml.configure", Some(e))).await.unwrap();
    store.put_saml_config(e, r#"{"entity":"b"}"#, Millis(2), &audit("sso.saml.configure", Some(e))).await.unwrap();
    assert_eq!(store.saml_config(e).await.unwrap().as_deref(), Some(r#"{"entity":"b"}"#));
    assert_eq!(store.saml_config(other).await.unwrap(), None);
    assert_eq!(store.saml_configs().await.unwrap(), [(e, r#"{"entity":"b"}"#.to_owned())]);
});
