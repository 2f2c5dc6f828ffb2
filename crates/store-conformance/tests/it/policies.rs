//! Per-enterprise policy documents: versioned, replaced whole, audited, tenant by tenant.

use domain::audit::{Action, Actor, AuditDraft, Origin};
use domain::{EnterpriseId, Millis};
use std::sync::Arc;
use store::{EnterpriseRow, Error, KeyRow, PolicyChange, Store};
use store_conformance::conformance;

async fn enterprise(store: &Arc<dyn Store>) -> EnterpriseId {
    let id = EnterpriseId::new();
    let row = EnterpriseRow { id, name_ct: vec![1], created_at: Millis::now() };
    let key = KeyRow {
        id: format!("enterprise:{id}"),
        enterprise_id: Some(id),
        master_key_id: "mk".into(),
        wrapped: vec![9; 60],
        created_at: Millis::now(),
        rotated_at: None,
    };
    let audit = AuditDraft::new(Action::EnterpriseCreate, Actor::Operator, Origin::default());
    store.create_enterprise(&row, &key, &audit).await.unwrap();
    id
}

fn doc<'a>(e: EnterpriseId, kind: &'a str, document: &'a str, expected: Option<i64>, at: i64) -> PolicyChange<'a> {
    PolicyChange {
        enterprise_id: e,
        kind,
        document,
        sealed: None,
        expected_version: expected,
        at: Millis(at),
        by: None,
    }
}

fn change(e: EnterpriseId) -> AuditDraft {
    AuditDraft {
        enterprise_id: Some(e),
        ..AuditDraft::new(Action::PasswordPolicyUpdate, Actor::Operator, Origin::default())
    }
}

conformance!(policy_documents_count_versions_and_refuse_stale_edits, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    assert!(store.policy_document(e, "password").await.unwrap().is_none());
    let first = store.put_policy_document(&doc(e, "password", r#"{"min":12}"#, Some(0), 1), &change(e)).await.unwrap();
    assert_eq!(first.version, 1);
    let events = store.audit_count().await.unwrap();
    let stale = store.put_policy_document(&doc(e, "password", r#"{"min":8}"#, Some(0), 2), &change(e)).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    assert_eq!(store.audit_count().await.unwrap(), events, "a refused edit writes no event");
    let second = store.put_policy_document(&doc(e, "password", r#"{"min":14}"#, Some(1), 3), &change(e)).await.unwrap();
    assert_eq!((second.version, second.document.as_str()), (2, r#"{"min":14}"#));
    let forced = store.put_policy_document(&doc(e, "password", r#"{"min":16}"#, None, 4), &change(e)).await.unwrap();
    assert_eq!(forced.version, 3);
    let missing = store.put_policy_document(&doc(e, "desk", "{}", Some(5), 5), &change(e)).await;
    assert!(matches!(missing, Err(Error::Conflict(_))), "a version that never existed: {missing:?}");
    assert!(store.policy_document(e, "desk").await.unwrap().is_none(), "nothing half-written");
    assert!(store.policy_document(other, "password").await.unwrap().is_none(), "another tenant");
    assert_eq!(store.policy_document(e, "password").await.unwrap().unwrap().version, 3);
});

conformance!(a_document_keeps_its_sealed_secret_and_kinds_list_across_enterprises, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let kind = store::kinds::SSO_OIDC;
    let with_secret =
        |e, document, secret: &'static [u8]| PolicyChange { sealed: Some(secret), ..doc(e, kind, document, None, 1) };
    store.put_policy_document(&with_secret(e, r#"{"issuer":"a"}"#, &[1; 40]), &change(e)).await.unwrap();
    let replaced = store.put_policy_document(&with_secret(e, r#"{"issuer":"b"}"#, &[2; 40]), &change(e)).await.unwrap();
    assert_eq!((replaced.version, replaced.sealed_ct.as_deref()), (2, Some(&[2u8; 40][..])));
    store.put_policy_document(&with_secret(other, r#"{"issuer":"c"}"#, &[3; 40]), &change(other)).await.unwrap();
    store.put_policy_document(&doc(e, store::kinds::SSO_SAML, r#"{"entity":"x"}"#, None, 2), &change(e)).await.unwrap();
    let mut listed: Vec<(EnterpriseId, String)> = store
        .policy_documents_of_kind(kind)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.enterprise_id, d.document))
        .collect();
    listed.sort_by_key(|(id, _)| *id == other);
    assert_eq!(listed, [(e, r#"{"issuer":"b"}"#.to_owned()), (other, r#"{"issuer":"c"}"#.to_owned())]);
    let saml = store.policy_documents_of_kind(store::kinds::SSO_SAML).await.unwrap();
    assert_eq!((saml.len(), saml[0].sealed_ct.clone()), (1, None), "a document without a secret keeps none");
    // Replacing a document without a secret removes the old one: nothing stale is kept.
    store.put_policy_document(&doc(e, kind, r#"{"issuer":"d"}"#, None, 3), &change(e)).await.unwrap();
    assert_eq!(store.policy_document(e, kind).await.unwrap().unwrap().sealed_ct, None);
});
