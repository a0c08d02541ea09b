//! Password hashing: argon2id with the crate's recommended parameters, and a
//! verifier whose cost to anonymous visitors is bounded.
//!
//! One argon2id check needs 19 MiB and a core for tens of milliseconds.
//! Anyone can ask for one at `/admin/login`, so checks run at most as many
//! at once as there are cores, each in a memory block kept for the next one
//! (the process holds that many blocks for its life, instead of allocating
//! and freeing 19 MiB per attempt, which the allocator keeps); a check that
//! cannot start within a short wait is refused at once.

use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// No stored hash of ours asks for more than this (the default is 19 MiB).
const MAX_MEMORY_BLOCKS: usize = 64 * 1024;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Checks `password` against a stored PHC hash, computing in `memory`; any
/// malformed hash fails.
fn verify_in(hash: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if params.block_count() > MAX_MEMORY_BLOCKS {
        return false;
    }
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .is_ok()
        && aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
}

/// Checks `password` against a stored PHC hash; any malformed hash fails.
pub fn verify_password(hash: &str, password: &str) -> bool {
    verify_in(hash, password.as_bytes(), &mut Vec::new())
}

/// All hashing slots stayed taken for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Password checks with bounded concurrency and memory.
pub struct Verifier {
    slots: Semaphore,
    /// Memory blocks of finished checks, for the next ones.
    memory: Mutex<Vec<Vec<Block>>>,
    wait: Duration,
}

impl Verifier {
    /// At most `slots` checks at once; a check waits at most `wait` for a slot.
    pub fn new(slots: usize, wait: Duration) -> Verifier {
        Verifier {
            slots: Semaphore::new(slots.max(1)),
            memory: Mutex::new(Vec::new()),
            wait,
        }
    }

    /// One slot per core.
    pub fn per_core(wait: Duration) -> Verifier {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Verifier::new(cores, wait)
    }

    /// Checks `password` against `hash` on the blocking pool.
    pub async fn verify(&self, hash: String, password: String) -> Result<bool, Busy> {
        let _slot = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let checked = tokio::task::spawn_blocking(move || {
            let matches = verify_in(&hash, password.as_bytes(), &mut memory);
            (matches, memory)
        })
        .await;
        match checked {
            Ok((matches, memory)) => {
                self.memory
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(memory);
                Ok(matches)
            }
            // A check that panicked did not match.
            Err(_) => Ok(false),
        }
    }
}

/// A hash of a random password, to spend the same time on unknown users.
pub fn dummy_hash() -> anyhow::Result<String> {
    let mut random = [0u8; 24];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| anyhow::anyhow!("no randomness"))?;
    hash_password(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        random,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[tokio::test]
    async fn the_verifier_reuses_its_memory_and_refuses_when_busy() {
        let hash = hash_password("correct horse battery").unwrap();
        let verifier = Verifier::new(1, Duration::from_millis(1));
        assert_eq!(
            verifier
                .verify(hash.clone(), "correct horse battery".into())
                .await,
            Ok(true)
        );
        assert_eq!(verifier.memory.lock().unwrap().len(), 1);
        let (a, b) = tokio::join!(
            verifier.verify(hash.clone(), "wrong".into()),
            verifier.verify(hash.clone(), "wrong".into())
        );
        assert!(
            [a, b].contains(&Err(Busy)),
            "one slot, a 1 ms wait: {a:?} {b:?}"
        );
        assert_eq!(
            verifier.memory.lock().unwrap().len(),
            1,
            "one block, reused"
        );
    }
}
