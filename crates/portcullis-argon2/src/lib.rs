//! Password hashing adapter: argon2id on a fixed pool of OS threads.
//!
//! Why a pool of our own rather than `spawn_blocking`: the number of hashes in flight must be
//! bounded (each one holds `m_cost` KiB), and the memory must be *reused*. Every worker thread
//! owns one argon2 memory block for its whole life, so resident memory is `threads × m_cost`
//! whatever the request rate, the allocator never sees 19 MiB churn (glibc would otherwise keep
//! freed blocks in per-thread arenas), and a hash skips the page faults of fresh memory. Requests
//! wait for a slot (a running or queued hash) for at most `wait_timeout`, then get
//! [`HashError::Busy`] — a 503 with `Retry-After`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use portcullis_domain::{HashError, OsRandom, Password, PasswordHasher, SecureRandom, Verification};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use zeroize::Zeroizing;

/// Salt length in bytes (RFC 9106 recommends 16).
const SALT_LEN: usize = 16;
/// Hash output length in bytes.
const OUTPUT_LEN: usize = 32;

/// Settings of the hasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory cost in KiB (default 19456, OWASP's argon2id baseline).
    pub m_cost_kib: u32,
    /// Iterations (default 2).
    pub t_cost: u32,
    /// Lanes (default 1).
    pub p_cost: u32,
    /// Hashing threads (default: one per core).
    pub threads: usize,
    /// Hashes that may wait for a thread, beyond the ones running (default 64).
    pub queue: usize,
    /// How long a request waits for a slot before it is refused (default 2 s).
    pub wait_timeout: Duration,
    /// Largest memory cost a *stored* hash may ask for when verified (default 256 MiB): a
    /// corrupt or hostile hash row must not make us allocate without bound.
    pub max_verify_m_cost_kib: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            queue: 64,
            wait_timeout: Duration::from_secs(2),
            max_verify_m_cost_kib: 262_144,
        }
    }
}

/// Why settings were refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 settings: {0}")]
pub struct SettingsError(String);

enum Job {
    Hash {
        password: Zeroizing<Vec<u8>>,
        salt: [u8; SALT_LEN],
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: Zeroizing<Vec<u8>>,
        stored: String,
        reply: oneshot::Sender<Result<Verification, String>>,
    },
}

struct Envelope {
    job: Job,
    // Held until the worker is done, so the semaphore counts running and queued hashes.
    _permit: OwnedSemaphorePermit,
}

/// The argon2id hasher with its thread pool. Cheap to share behind an `Arc`.
pub struct Argon2Hasher {
    jobs: Mutex<mpsc::Sender<Envelope>>,
    slots: Arc<Semaphore>,
    settings: Argon2Settings,
    dummy_hash: String,
    rng: Arc<dyn SecureRandom>,
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Argon2Hasher {
    /// Starts the worker threads and computes the dummy hash used for unknown accounts.
    pub fn start(settings: Argon2Settings) -> Result<Self, SettingsError> {
        Self::start_with_rng(settings, Arc::new(OsRandom))
    }

    /// As [`Argon2Hasher::start`], with salts from the given randomness port.
    pub fn start_with_rng(settings: Argon2Settings, rng: Arc<dyn SecureRandom>) -> Result<Self, SettingsError> {
        let params = params_of(&settings)?;
        if settings.threads == 0 {
            return Err(SettingsError("threads must be at least 1".into()));
        }
        if settings.max_verify_m_cost_kib < settings.m_cost_kib {
            return Err(SettingsError(
                "max_verify_m_cost_kib must be at least m_cost_kib".into(),
            ));
        }
        // The dummy is a real hash of a random password with the configured parameters, so a
        // check against it costs exactly what a check against a real account costs. It is made
        // in the first worker's memory block before that worker starts: no extra 19 MiB block.
        let mut first_memory = vec![Block::default(); params.block_count()];
        let mut dummy_password = Zeroizing::new([0u8; 32]);
        rng.fill(&mut dummy_password[..]);
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt);
        let dummy_hash = hash_with(&params, &dummy_password[..], &salt, &mut first_memory).map_err(SettingsError)?;
        let (tx, rx) = mpsc::channel::<Envelope>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..settings.threads {
            let rx = Arc::clone(&rx);
            let memory = if i == 0 {
                std::mem::take(&mut first_memory)
            } else {
                vec![Block::default(); params.block_count()]
            };
            let worker = Worker {
                params: params.clone(),
                memory,
                max_verify_m_cost_kib: settings.max_verify_m_cost_kib,
            };
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker.run(&rx))
                .map_err(|e| SettingsError(format!("cannot start hashing thread: {e}")))?;
        }
        let slots = Arc::new(Semaphore::new(settings.threads + settings.queue));
        Ok(Self {
            jobs: Mutex::new(tx),
            slots,
            settings,
            dummy_hash,
            rng,
        })
    }

    /// Settings in force.
    pub fn settings(&self) -> &Argon2Settings {
        &self.settings
    }

    async fn submit<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Job) -> Result<T, HashError> {
        let busy = || HashError::Busy {
            retry_after: chrono::Duration::seconds(1),
        };
        let permit = tokio::time::timeout(self.settings.wait_timeout, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| HashError::Internal("hashing pool closed".into()))?;
        let (reply, answer) = oneshot::channel();
        let envelope = Envelope {
            job: make(reply),
            _permit: permit,
        };
        self.jobs
            .lock()
            .map_err(|_| HashError::Internal("hashing pool poisoned".into()))?
            .send(envelope)
            .map_err(|_| HashError::Internal("hashing threads are gone".into()))?;
        answer
            .await
            .map_err(|_| HashError::Internal("hashing thread dropped the job".into()))?
            .map_err(HashError::Internal)
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let mut salt = [0u8; SALT_LEN];
        self.rng.fill(&mut salt);
        let password = Zeroizing::new(password.expose().to_vec());
        self.submit(|reply| Job::Hash { password, salt, reply }).await
    }

    async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification, HashError> {
        let password = Zeroizing::new(password.expose().to_vec());
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let verdict = self
            .submit(|reply| Job::Verify {
                password,
                stored,
                reply,
            })
            .await?;
        Ok(if known {
            verdict
        } else {
            Verification {
                matches: false,
                needs_rehash: false,
            }
        })
    }
}

struct Worker {
    params: Params,
    memory: Vec<Block>,
    max_verify_m_cost_kib: u32,
}

impl Worker {
    fn run(mut self, rx: &Mutex<mpsc::Receiver<Envelope>>) {
        loop {
            // Hold the lock only while waiting; idle workers queue on it, which is what we want.
            let next = match rx.lock() {
                Ok(guard) => guard.recv(),
                Err(_) => return,
            };
            let Ok(Envelope { job, _permit }) = next else { return };
            match job {
                Job::Hash { password, salt, reply } => {
                    if reply.is_closed() {
                        continue; // the request went away; do not burn a hash on it
                    }
                    let _ = reply.send(hash_with(&self.params, &password, &salt, &mut self.memory));
                }
                Job::Verify {
                    password,
                    stored,
                    reply,
                } => {
                    if reply.is_closed() {
                        continue;
                    }
                    let _ = reply.send(self.verify(&password, &stored));
                }
            }
        }
    }

    fn verify(&mut self, password: &[u8], stored: &str) -> Result<Verification, String> {
        let parsed = PasswordHash::new(stored).map_err(|e| format!("stored hash is not a PHC string: {e}"))?;
        let algorithm =
            Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| format!("stored hash algorithm: {e}"))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| format!("stored hash version: {e}"))?
            .unwrap_or(Version::V0x13);
        let params = Params::try_from(&parsed).map_err(|e| format!("stored hash parameters: {e}"))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err("stored hash has no salt or output".into());
        };
        if params.m_cost() > self.max_verify_m_cost_kib {
            return Err(format!(
                "stored hash asks for {} KiB, over the verify cap",
                params.m_cost()
            ));
        }
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        let context = Argon2::new(algorithm, version, params.clone());
        let needed = params.block_count();
        let result = if needed <= self.memory.len() {
            context.hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut self.memory[..needed])
        } else {
            // An older, costlier hash: a one-off allocation, bounded by the verify cap.
            context.hash_password_into_with_memory(password, salt.as_ref(), &mut out, vec![Block::default(); needed])
        };
        result.map_err(|e| format!("argon2: {e}"))?;
        let matches: bool = out.as_slice().ct_eq(expected.as_bytes()).into();
        let current = algorithm == Algorithm::Argon2id
            && version == Version::V0x13
            && params.m_cost() == self.params.m_cost()
            && params.t_cost() == self.params.t_cost()
            && params.p_cost() == self.params.p_cost()
            && expected.len() == OUTPUT_LEN;
        Ok(Verification {
            matches,
            needs_rehash: matches && !current,
        })
    }
}

fn params_of(settings: &Argon2Settings) -> Result<Params, SettingsError> {
    Params::new(settings.m_cost_kib, settings.t_cost, settings.p_cost, Some(OUTPUT_LEN))
        .map_err(|e| SettingsError(e.to_string()))
}

fn hash_with(params: &Params, password: &[u8], salt: &[u8], memory: &mut [Block]) -> Result<String, String> {
    let context = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
    context
        .hash_password_into_with_memory(password, salt, &mut out[..], &mut memory[..params.block_count()])
        .map_err(|e| format!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out[..]).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_domain::PasswordPolicy;

    fn fast() -> Argon2Settings {
        Argon2Settings {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
            threads: 2,
            ..Argon2Settings::default()
        }
    }

    fn pw(s: &str) -> Password {
        PasswordPolicy::default().parse(s).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = Argon2Hasher::start(fast()).unwrap();
        let stored = h.hash(&pw("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{stored}");
        assert_eq!(
            h.verify(&pw("correct horse"), Some(&stored)).await.unwrap(),
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(!h.verify(&pw("wrong horse!"), Some(&stored)).await.unwrap().matches);
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_with_the_dummy_password_space() {
        let h = Argon2Hasher::start(fast()).unwrap();
        assert_eq!(
            h.verify(&pw("anything at all"), None).await.unwrap(),
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn other_parameters_verify_and_ask_for_rehash() {
        let old = Argon2Hasher::start(Argon2Settings {
            m_cost_kib: 128,
            t_cost: 1,
            ..fast()
        })
        .unwrap();
        let stored = old.hash(&pw("correct horse")).await.unwrap();
        let current = Argon2Hasher::start(fast()).unwrap();
        assert_eq!(
            current.verify(&pw("correct horse"), Some(&stored)).await.unwrap(),
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(
            !current
                .verify(&pw("wrong horse!"), Some(&stored))
                .await
                .unwrap()
                .needs_rehash
        );
    }

    #[tokio::test]
    async fn corrupt_or_hostile_stored_hash_is_an_error_not_a_panic() {
        let h = Argon2Hasher::start(fast()).unwrap();
        for bad in [
            "",
            "plain",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=4000000,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                matches!(
                    h.verify(&pw("correct horse"), Some(bad)).await,
                    Err(HashError::Internal(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn saturated_pool_answers_busy_and_recovers() {
        let settings = Argon2Settings {
            queue: 3,
            wait_timeout: Duration::from_millis(20),
            ..fast()
        };
        let h = Argon2Hasher::start(settings).unwrap();
        // Take every slot (2 threads + 3 queued), as a flood of requests would.
        let held = Arc::clone(&h.slots).acquire_many_owned(5).await.unwrap();
        let refused = h.hash(&pw("correct horse")).await;
        assert!(matches!(refused, Err(HashError::Busy { .. })), "{refused:?}");
        assert!(matches!(
            h.verify(&pw("correct horse"), None).await,
            Err(HashError::Busy { .. })
        ));
        drop(held);
        assert!(h.hash(&pw("correct horse")).await.is_ok());
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(Argon2Hasher::start(Argon2Settings { threads: 0, ..fast() }).is_err());
        assert!(
            Argon2Hasher::start(Argon2Settings {
                m_cost_kib: 1,
                ..fast()
            })
            .is_err()
        );
    }
}
