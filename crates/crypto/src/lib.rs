//! Conclave's cryptography, in one place so it can be reviewed in one sitting.
//!
//! - [`envelope`]: a master keyring wraps per-enterprise data keys; data keys seal field values
//!   with AES-256-GCM and associated data that binds each ciphertext to its table, row and column.
//! - [`blind_index`]: keyed HMAC look-up values, so an email can be found without storing it.
//! - [`password`]: argon2id hashing whose parameters travel with the hash.
//! - [`totp`]: RFC 6238 one-time codes and recovery codes.
//! - [`jwt`]: ID-token signature checks (RS256, ES256) against a provider's keys.
//! - [`token`]: high-entropy random tokens and their fast hashes.
//! - [`openpgp`]: the organisation's OpenPGP key: generate, import, publish, sign, decrypt.
//! - [`chain_hash`]: SHA-256 over an audit event's canonical encoding.
//!
//! Architecture invariant: key bytes never appear in `Debug` output or logs; every key type
//! zeroizes on drop and prints as `***`.

pub mod blind_index;
pub mod envelope;
pub mod jwt;
pub mod openpgp;
pub mod password;
pub mod token;
pub mod totp;

pub use envelope::{Aad, DataKey, MasterKeyring, WrappedKey};

/// Opaque cryptographic failure. Deliberately carries no detail that could help an attacker
/// distinguish a wrong key from a tampered ciphertext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("decryption failed: wrong key, wrong row binding, or tampered ciphertext")]
    Decrypt,
    #[error("the master key file is missing: {0}")]
    MasterKeyMissing(String),
    #[error("the master key file is unreadable or corrupt: {0}")]
    MasterKeyCorrupt(String),
    #[error("no master key with id {0} in the keyring")]
    UnknownMasterKey(String),
    #[error("key file I/O failed: {0}")]
    Io(String),
    #[error("password hashing failed")]
    PasswordHash,
}

/// SHA-256 of an audit event's canonical bytes: the link hash of the tamper-evident chain (L3).
pub fn chain_hash(canonical: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 over bytes that arrive in pieces (an evidence file as it streams in).
pub struct Sha256(aws_lc_rs::digest::Context);

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }
}

impl Sha256 {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).expect("the system random source failed");
    out
}
