//! Password hashing on the blocking pool, for every domain that keeps a secret a person types
//! (accounts, PINs, finders' status codes), and the decoy hash that makes an unknown name cost as
//! much as a wrong password.
//!
//! Each argon2id hash holds its memory cost (19 MiB by default) while it runs, so at most one
//! hash per core runs at a time ([`hashing_permits`]); the rest wait their turn. A burst of
//! sign-ins then costs time, which the rate limits already bound, instead of memory without
//! bound.

use super::Core;
use crate::{Error, Result};
use std::sync::Arc;

/// How many hashes may run at once: one per core the process may use.
pub(super) fn hashing_permits() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Arc::new(tokio::sync::Semaphore::new(cores))
}

/// Starts computing the decoy hash on the blocking pool, so start-up does not wait for it.
pub(super) fn start_decoy(cost: crypto::password::Cost) -> Arc<tokio::sync::OnceCell<String>> {
    let cell = Arc::new(tokio::sync::OnceCell::new());
    let filling = cell.clone();
    tokio::spawn(async move {
        let _ = filling.get_or_try_init(|| compute_decoy(cost)).await;
    });
    cell
}

async fn compute_decoy(cost: crypto::password::Cost) -> Result<String> {
    tokio::task::spawn_blocking(move || crypto::password::decoy_hash(cost))
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

impl Core {
    pub(crate) async fn decoy_hash(&self) -> Result<String> {
        let cost = self.settings.password_cost;
        self.decoy_hash.get_or_try_init(|| compute_decoy(cost)).await.cloned()
    }

    pub(crate) async fn hash_password(&self, password: &str) -> Result<String> {
        let password = zeroize::Zeroizing::new(password.to_owned());
        let cost = self.settings.password_cost;
        let _turn = self.hashing.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || crypto::password::hash(&password, cost))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(Error::from)
    }

    pub(crate) async fn verify_password(
        &self,
        password: &str,
        stored: String,
    ) -> Result<Option<crypto::password::Verified>> {
        let password = zeroize::Zeroizing::new(password.to_owned());
        let cost = self.settings.password_cost;
        let _turn = self.hashing.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || crypto::password::verify(&password, &stored, cost))
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }
}
