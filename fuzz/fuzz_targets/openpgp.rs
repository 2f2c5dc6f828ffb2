//! Armoured OpenPGP intake: a key an admin imports, and a message a finder encrypts to the
//! organisation's key (decrypted with a fixed key made once).
#![no_main]
use std::sync::OnceLock;

fn key() -> &'static crypto::openpgp::OrgKey {
    static KEY: OnceLock<crypto::openpgp::OrgKey> = OnceLock::new();
    KEY.get_or_init(|| {
        crypto::openpgp::OrgKey::generate("Fuzz <security@fuzz.example>", crypto::openpgp::KeyAlgorithm::Ed25519, 30)
            .unwrap()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = crypto::openpgp::OrgKey::import(text, 1_800_000_000);
    let _ = crypto::openpgp::subkey_fingerprints(text);
    let _ = key().decrypt(text, 1024 * 1024);
});
