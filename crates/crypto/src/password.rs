//! Password hashing with argon2id. The PHC string records algorithm, version and parameters, so
//! raising the parameters later only affects new hashes, and old hashes still verify and can be
//! upgraded at the next successful sign-in ([`Verified::needs_rehash`]).

use crate::Error;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Cost parameters. The defaults follow the OWASP recommendation for argon2id
/// (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Cost {
    fn default() -> Cost {
        Cost { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

impl Cost {
    fn argon2(self) -> Argon2<'static> {
        let params =
            Params::new(self.memory_kib, self.iterations, self.parallelism, None).expect("valid argon2 parameters");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

/// The outcome of a successful check.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// True when the stored hash used other parameters than `cost`.
    pub needs_rehash: bool,
}

pub fn hash(password: &str, cost: Cost) -> Result<String, Error> {
    let salt = SaltString::encode_b64(&crate::random_bytes::<16>()).map_err(|_| Error::PasswordHash)?;
    cost.argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| Error::PasswordHash)
}

/// Checks `password` against a stored PHC string. `None` means "does not match" (or an unusable
/// stored hash, which must look the same to the caller).
pub fn verify(password: &str, stored: &str, cost: Cost) -> Option<Verified> {
    let parsed = PasswordHash::new(stored).ok()?;
    // The stored parameters, not `cost`, decide how to verify: that is what lets costs change.
    Argon2::default().verify_password(password.as_bytes(), &parsed).ok()?;
    let current = format!("m={},t={},p={}", cost.memory_kib, cost.iterations, cost.parallelism);
    let needs_rehash = parsed.algorithm.as_str() != "argon2id" || parsed.params.to_string() != current;
    Some(Verified { needs_rehash })
}

/// A hash of a random password, verified against when the account does not exist, so an unknown
/// email costs the same time as a wrong password (no user enumeration by timing).
pub fn decoy_hash(cost: Cost) -> String {
    hash(&crate::token::generate(), cost).expect("hashing a random password succeeds")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Cost = Cost { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn hashes_verify_and_record_their_parameters() {
        let h = hash("correct horse", CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert_eq!(verify("correct horse", &h, CHEAP), Some(Verified { needs_rehash: false }));
        assert_eq!(verify("wrong horse", &h, CHEAP), None);
        assert_eq!(verify("correct horse", "not a hash", CHEAP), None);
    }

    #[test]
    fn raised_parameters_ask_for_a_rehash() {
        let h = hash("correct horse", CHEAP).unwrap();
        let raised = Cost { memory_kib: 128, ..CHEAP };
        assert_eq!(verify("correct horse", &h, raised), Some(Verified { needs_rehash: true }));
    }
}
