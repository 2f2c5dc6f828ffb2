//! Encryption at the service boundary and master key rotation.

use crate::{origin, settings, world, PASSWORD};
use domain::Role;
use services::{Caller, KeyringSource, Services};

#[tokio::test]
async fn the_store_holds_only_ciphertext_bound_to_its_row() {
    let w = world().await;
    let e = w.enterprise("Secret Corp").await;
    let a = w.user(e, "ada@e.example", Role::Member).await;
    let b = w.user(e, "bob@e.example", Role::Member).await;
    let row_a = w.store.get_user(e, a.id).await.unwrap().unwrap();
    let mut row_b = w.store.get_user(e, b.id).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&row_a.email_ct).contains("ada@"));
    assert!(!String::from_utf8_lossy(&row_a.name_ct).contains("Name of"));

    // Move Ada's sealed email into Bob's row: it must not open there.
    row_b.email_ct = row_a.email_ct.clone();
    let key_file = w.dir.path().join("master.key");
    let ring = crypto::MasterKeyring::load(&key_file).unwrap();
    let key_row = w.store.get_key(&format!("enterprise:{e}")).await.unwrap().unwrap();
    let data_key = ring
        .unwrap(&crypto::WrappedKey { master_key_id: key_row.master_key_id, ciphertext: key_row.wrapped }, &key_row.id)
        .unwrap();
    let b_id = b.id.to_string();
    assert!(data_key.open_str(&row_b.email_ct, crypto::Aad { table: "users", row: &b_id, column: "email" }).is_err());
}

#[tokio::test]
async fn rotation_rewraps_every_key_and_a_running_instance_keeps_working() {
    let w = world().await;
    let e1 = w.enterprise("One").await;
    w.user(e1, "ada@one.example", Role::Member).await;
    let key_file = w.dir.path().join("master.key");
    let old_ring = crypto::MasterKeyring::load(&key_file).unwrap();

    // A second instance (the CLI) rotates while `w.services` (the server) runs.
    let cli = Services::build(w.store.clone(), crate::bus(), KeyringSource::File(key_file.clone()), settings())
        .await
        .unwrap();
    let calls = std::sync::Mutex::new(Vec::new());
    let report = cli
        .core
        .rotate_master_key(&Caller::Operator, &origin(), &|done, total| calls.lock().unwrap().push((done, total)))
        .await
        .unwrap();
    assert_eq!(report.rewrapped, 3, "the enterprise key, the blind-index key and the audit-origin key");
    assert_eq!(report.retired, 1);
    assert_eq!(calls.lock().unwrap().last(), Some(&(3, 3)));
    let new_ring = crypto::MasterKeyring::load(&key_file).unwrap();
    assert_ne!(new_ring.active_id(), old_ring.active_id());
    assert_eq!(new_ring.ids().count(), 1);
    for row in w.store.list_keys().await.unwrap() {
        assert_eq!(row.master_key_id, new_ring.active_id());
    }

    // The running instance still reads old data and signs people in.
    w.services.sessions.sign_in(&origin(), "ada@one.example", PASSWORD).await.unwrap();
    // An enterprise created after rotation, unknown to the running instance's keyring, still opens:
    // it re-reads the key file.
    let e2 = cli.directory.create_enterprise(&Caller::Operator, &origin(), "Two").await.unwrap().id;
    assert_eq!(w.services.directory.get_enterprise(&Caller::Operator, e2).await.unwrap().name, "Two");
    // A fresh start with the rotated file reads everything.
    let restarted =
        Services::build(w.store.clone(), crate::bus(), KeyringSource::File(key_file), settings()).await.unwrap();
    assert_eq!(restarted.directory.list_users(&Caller::Operator, e1).await.unwrap()[0].email, "ada@one.example");
    assert!(w.store.audit_page(0, 100).await.unwrap().iter().any(|e| e.draft.action == "key.rotate"));
}

#[tokio::test]
async fn rotation_is_refused_for_an_environment_key() {
    let w = world().await;
    let ring = std::sync::Arc::new(
        crypto::MasterKeyring::from_env_value("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn store::Store> =
        std::sync::Arc::new(store_sqlite::open(&dir.path().join("x.db")).await.unwrap());
    let services = Services::build(store, crate::bus(), KeyringSource::Fixed(ring), settings()).await.unwrap();
    let err = services.core.rotate_master_key(&Caller::Operator, &origin(), &|_, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("CONCLAVE_MASTER_KEY"), "{err}");
    drop(w);
}
