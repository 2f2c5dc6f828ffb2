//! Keyed blind indexes: HMAC-SHA256 over a normalised value, so the store can answer "which user
//! has this email?" without ever holding the email. The key is a data key of its own (purpose
//! `blind-index`), so an attacker with the database alone cannot test guesses.

use crate::DataKey;
use aws_lc_rs::hmac;

pub struct BlindIndexKey(hmac::Key);

impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey(***)")
    }
}

impl BlindIndexKey {
    pub fn from_data_key(key: &DataKey) -> BlindIndexKey {
        BlindIndexKey(hmac::Key::new(hmac::HMAC_SHA256, key.expose()))
    }

    /// The index value for `value` in the namespace `kind` (e.g. "email"); callers normalise
    /// `value` first (emails are lower-cased by `domain::validate::email`).
    pub fn compute(&self, kind: &str, value: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(kind.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        ctx.sign().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_deterministic_keyed_and_namespaced() {
        let key = BlindIndexKey::from_data_key(&DataKey::generate());
        let other = BlindIndexKey::from_data_key(&DataKey::generate());
        assert_eq!(key.compute("email", "a@b.co"), key.compute("email", "a@b.co"));
        assert_ne!(key.compute("email", "a@b.co"), other.compute("email", "a@b.co"));
        assert_ne!(key.compute("email", "a@b.co"), key.compute("name", "a@b.co"));
    }
}
