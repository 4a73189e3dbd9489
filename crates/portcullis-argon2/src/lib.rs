//! Password hashing adapter: argon2id on a fixed pool of OS threads, fed by a fair queue.
//!
//! Why a pool of our own rather than `spawn_blocking`: the number of hashes in flight must be
//! bounded (each one holds `m_cost` KiB), and the memory must be *reused*. Every worker thread
//! owns one argon2 memory block for its whole life, so resident memory is `threads × m_cost`
//! whatever the request rate, the allocator never sees 19 MiB churn (glibc would otherwise keep
//! freed blocks in per-thread arenas), and a hash skips the page faults of fresh memory.
//!
//! The queue in front of the threads is fair between [`HashOwner`]s (a signed-in account, or an
//! anonymous client network):
//!
//! - **Round robin.** Each owner with work waiting has its own line; the threads take one job
//!   from each line in turn. A newcomer waits for at most one job per other busy owner, however
//!   many jobs those owners have queued.
//! - **Work-conserving admission.** The queue holds at most `threads + queue` jobs (running and
//!   waiting). An owner may fill idle capacity alone; when the queue is full, a newcomer takes the
//!   place of the newest job of the owner with the most jobs waiting, as long as that owner
//!   would still hold more than the newcomer. That job, and a newcomer that cannot take a place,
//!   get [`HashError::Busy`] (503 with `Retry-After`) at once: nobody is held open waiting for
//!   room.
//! - **Bursts, not floods.** The full `queue` is there for bursts and for steady load from
//!   a bounded number of clients: as long as it fits, nothing is refused, however long the
//!   backlog lasts. Once a job has been turned away (the queue overflowed: a flood), each
//!   owner may have only `overload_queue` jobs waiting (one per thread by default) until a
//!   second passes without a refusal, and its waiting jobs beyond that are turned away at
//!   once (newest first), so a flooding owner's admitted jobs wait for about one hash instead
//!   of a full queue's worth, and other owners still get in and take turns.
//! - **Bounded waiting.** A job that has waited longer than `wait_timeout` when its turn comes is
//!   answered `Busy` instead of being run: its client has likely given up.

mod queue;
mod reference;
mod rustcrypto;
mod worker;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::{HashError, HashOwner, OsRandom, Password, PasswordHasher, SecureRandom, Verification};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::queue::{Capacity, Job, Lines, Queue, Reply, SALT_LEN, busy};

/// Hash output length in bytes.
const OUTPUT_LEN: usize = 32;

/// Which argon2 implementation hashes. Both read and write standard PHC strings and give the
/// same output for the same input, so stored hashes stay valid when it changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// `argon2-rust`: the reference implementation ported to Rust, with SIMD compression
    /// chosen at run time. About twice as fast as `RustCrypto` on x86-64 with AVX2 (see the
    /// `hashing` benchmark).
    #[default]
    Reference,
    /// The RustCrypto `argon2` crate (portable Rust, no SIMD).
    RustCrypto,
}

impl Backend {
    /// The configuration name: `argon2-rust` or `rustcrypto`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Reference => "argon2-rust",
            Self::RustCrypto => "rustcrypto",
        }
    }
}

/// One hashing thread's argon2id: its parameters and the memory it keeps between hashes.
pub(crate) trait Engine: Send {
    /// argon2id of `password` with `salt` under the configured parameters, as a PHC string.
    fn hash(&mut self, password: &[u8], salt: &[u8]) -> Result<String, String>;
    /// Checks `password` against a stored PHC string (any argon2 variant and parameters up to
    /// the verify cap); a stored hash that is not the configured kind asks for a rehash.
    fn verify(&mut self, password: &[u8], stored: &str, settings: &Argon2Settings) -> Result<Verification, String>;
}

fn engine(settings: &Argon2Settings) -> Result<Box<dyn Engine>, SettingsError> {
    Ok(match settings.backend {
        Backend::Reference => Box::new(reference::Reference::new(settings)?),
        Backend::RustCrypto => Box::new(rustcrypto::RustCrypto::new(settings)?),
    })
}

/// What a stored hash was made with.
pub(crate) struct StoredParams {
    pub(crate) argon2id: bool,
    pub(crate) version_13: bool,
    pub(crate) m_cost_kib: u32,
    pub(crate) t_cost: u32,
    pub(crate) p_cost: u32,
    pub(crate) output_len: usize,
}

impl StoredParams {
    /// Made exactly as a new hash would be.
    pub(crate) fn current(&self, settings: &Argon2Settings) -> bool {
        self.argon2id
            && self.version_13
            && self.m_cost_kib == settings.m_cost_kib
            && self.t_cost == settings.t_cost
            && self.p_cost == settings.p_cost
            && self.output_len == OUTPUT_LEN
    }
}

/// Settings of the hasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Settings {
    /// The implementation (default: [`Backend::Reference`]).
    pub backend: Backend,
    /// Memory cost in KiB (default 19456, OWASP's argon2id baseline).
    pub m_cost_kib: u32,
    /// Iterations (default 2).
    pub t_cost: u32,
    /// Lanes (default 1).
    pub p_cost: u32,
    /// Hashing threads (default: one per core).
    pub threads: usize,
    /// Hashes that may wait for a thread, beyond the ones running, while the queue drains now
    /// and then (default: 8 per thread, so a burst is admitted and waits for at most 8 others
    /// on its thread).
    pub queue: usize,
    /// Hashes one owner may have waiting within a second of a refusal (default 1 per thread,
    /// so every thread has its next job ready and an admitted hash waits for about one of its
    /// owner's). Never more than `queue`.
    pub overload_queue: usize,
    /// Niceness the hashing threads add to the process's on Linux (default 10, at most 19; 0
    /// keeps the process's): a hash is long CPU work, request handling is short, so on a busy
    /// core the requests whose hash is done (and the refusals) run first instead of waiting
    /// behind the next hash. Ignored on other systems.
    pub nice: u8,
    /// Longest a hash may wait for a thread before it is refused instead (default 2 s).
    pub wait_timeout: Duration,
    /// Largest memory cost a *stored* hash may ask for when verified (default 256 MiB): a
    /// corrupt or hostile hash row must not make us allocate without bound.
    pub max_verify_m_cost_kib: u32,
}

/// Hashes that may wait per hashing thread, by default.
pub const QUEUE_PER_THREAD: usize = 8;

/// Hashes that may wait per hashing thread within a second of a refusal, by default.
pub const OVERLOAD_QUEUE_PER_THREAD: usize = 1;

/// Niceness of the hashing threads, by default.
pub const HASHING_NICE: u8 = 10;

impl Default for Argon2Settings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self {
            backend: Backend::default(),
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
            threads,
            queue: QUEUE_PER_THREAD * threads,
            overload_queue: OVERLOAD_QUEUE_PER_THREAD * threads,
            nice: HASHING_NICE,
            wait_timeout: Duration::from_secs(2),
            max_verify_m_cost_kib: 262_144,
        }
    }
}

/// Why settings were refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 settings: {0}")]
pub struct SettingsError(String);

/// The argon2id hasher with its thread pool. Cheap to share behind an `Arc`; dropping it stops
/// the threads.
pub struct Argon2Hasher {
    queue: Arc<Queue>,
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

impl Drop for Argon2Hasher {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.work.notify_all();
    }
}

impl Argon2Hasher {
    /// Starts the worker threads and computes the dummy hash used for unknown accounts.
    pub fn start(settings: Argon2Settings) -> Result<Self, SettingsError> {
        Self::start_with_rng(settings, Arc::new(OsRandom))
    }

    /// As [`Argon2Hasher::start`], with salts from the given randomness port.
    pub fn start_with_rng(settings: Argon2Settings, rng: Arc<dyn SecureRandom>) -> Result<Self, SettingsError> {
        if settings.threads == 0 {
            return Err(SettingsError("threads must be at least 1".into()));
        }
        if settings.nice > 19 {
            return Err(SettingsError("nice must be at most 19".into()));
        }
        if settings.max_verify_m_cost_kib < settings.m_cost_kib {
            return Err(SettingsError(
                "max_verify_m_cost_kib must be at least m_cost_kib".into(),
            ));
        }
        // The dummy is a real hash of a random password with the configured parameters, so a
        // check against it costs exactly what a check against a real account costs. It is made
        // with the first worker's engine before that worker starts: no extra 19 MiB block.
        let mut first = Some(engine(&settings)?);
        let mut dummy_password = Zeroizing::new([0u8; 32]);
        rng.fill(&mut dummy_password[..]);
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt);
        let dummy_hash = first
            .as_mut()
            .map(|engine| engine.hash(&dummy_password[..], &salt))
            .transpose()
            .map_err(SettingsError)?
            .unwrap_or_default();
        let queue = Arc::new(Queue {
            lines: Mutex::new(Lines::default()),
            work: Condvar::new(),
            capacity: Capacity {
                threads: settings.threads,
                queue: settings.queue,
                overload_queue: settings.overload_queue,
            },
            wait_timeout: settings.wait_timeout,
        });
        for i in 0..settings.threads {
            let engine = match first.take() {
                Some(engine) => engine,
                None => engine(&settings)?,
            };
            let worker = worker::Worker {
                engine,
                settings: settings.clone(),
            };
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker.run(&queue))
                .map_err(|e| SettingsError(format!("cannot start hashing thread: {e}")))?;
        }
        Ok(Self {
            queue,
            settings,
            dummy_hash,
            rng,
        })
    }

    /// Settings in force.
    pub fn settings(&self) -> &Argon2Settings {
        &self.settings
    }

    async fn submit<T>(&self, owner: &HashOwner, make: impl FnOnce(Reply<T>) -> Job) -> Result<T, HashError> {
        let (reply, answer) = oneshot::channel();
        {
            let mut lines = self.queue.lock();
            if lines.closed {
                return Err(HashError::Internal("hashing pool stopped".into()));
            }
            let room = lines.room(self.queue.capacity);
            if lines.over_share(owner, room) {
                worker::record_rejected();
                return Err(busy());
            }
            match lines.admit(owner, make(reply), room.total) {
                // Another owner's newest job made room, and was refused.
                Ok(true) => worker::record_rejected(),
                Ok(false) => {}
                Err(job) => {
                    drop(job);
                    worker::record_rejected();
                    self.overloaded(&mut lines);
                    return Err(busy());
                }
            }
            worker::record_in_flight(&lines);
        }
        self.queue.work.notify_one();
        answer
            .await
            .map_err(|_| HashError::Internal("hashing thread dropped the job".into()))?
    }

    /// A request was just turned away: the overload share applies from now, to the jobs
    /// already waiting too.
    fn overloaded(&self, lines: &mut Lines) {
        let per_owner = lines.room(self.queue.capacity).per_owner;
        for _ in 0..lines.shed_beyond_share(per_owner) {
            worker::record_rejected();
        }
        worker::record_in_flight(lines);
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.queue.lock().queued
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    fn has_room(&self, owner: &HashOwner) -> bool {
        let mut lines = self.queue.lock();
        let room = lines.room(self.queue.capacity);
        let room = !lines.closed && !lines.over_share(owner, room) && lines.has_room(owner, room.total);
        if !room {
            worker::record_rejected();
            self.overloaded(&mut lines);
        }
        room
    }

    async fn hash(&self, password: &Password, owner: &HashOwner) -> Result<String, HashError> {
        let mut salt = [0u8; SALT_LEN];
        self.rng.fill(&mut salt);
        let password = Zeroizing::new(password.expose().to_vec());
        self.submit(owner, |reply| Job::Hash { password, salt, reply }).await
    }

    async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
        owner: &HashOwner,
    ) -> Result<Verification, HashError> {
        let password = Zeroizing::new(password.expose().to_vec());
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let verdict = self
            .submit(owner, |reply| Job::Verify {
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

/// The metrics this adapter records (through the `metrics` facade).
pub mod metrics_names {
    /// Time argon2 took for one hash or verification, on its thread.
    pub const HASH_DURATION: &str = "portcullis_hash_duration_seconds";
    /// Hashes admitted and not finished (running and waiting).
    pub const HASHES_IN_FLIGHT: &str = "portcullis_hashes_in_flight";
    /// Hashes turned away for want of room (each one a 503 `server_busy`).
    pub const HASHES_REJECTED: &str = "portcullis_hashes_rejected_total";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Room;
    use portcullis_domain::PasswordPolicy;
    use std::time::Instant;

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

    fn anyone() -> HashOwner {
        HashOwner::client(None)
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = Argon2Hasher::start(fast()).unwrap();
        let stored = h.hash(&pw("correct horse"), &anyone()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{stored}");
        assert_eq!(
            h.verify(&pw("correct horse"), Some(&stored), &anyone()).await.unwrap(),
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(
            !h.verify(&pw("wrong horse!"), Some(&stored), &anyone())
                .await
                .unwrap()
                .matches
        );
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_with_the_dummy_password_space() {
        let h = Argon2Hasher::start(fast()).unwrap();
        assert_eq!(
            h.verify(&pw("anything at all"), None, &anyone()).await.unwrap(),
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
        let stored = old.hash(&pw("correct horse"), &anyone()).await.unwrap();
        let current = Argon2Hasher::start(fast()).unwrap();
        assert_eq!(
            current
                .verify(&pw("correct horse"), Some(&stored), &anyone())
                .await
                .unwrap(),
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(
            !current
                .verify(&pw("wrong horse!"), Some(&stored), &anyone())
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
                    h.verify(&pw("correct horse"), Some(bad), &anyone()).await,
                    Err(HashError::Internal(_))
                ),
                "{bad}"
            );
        }
    }

    fn owner(n: u8) -> HashOwner {
        HashOwner::client(Some(std::net::IpAddr::from([192, 0, 2, n])))
    }

    /// A job whose reply says whether it was refused, and a probe for that reply.
    /// A job whose caller (kept in `alive`) waits for its answer.
    fn kept(alive: &mut Vec<oneshot::Receiver<Result<String, HashError>>>) -> Job {
        let (j, answer) = job();
        alive.push(answer);
        j
    }

    fn job() -> (Job, oneshot::Receiver<Result<String, HashError>>) {
        let (reply, answer) = oneshot::channel();
        let job = Job::Hash {
            password: Zeroizing::new(Vec::new()),
            salt: [0; SALT_LEN],
            reply,
        };
        (job, answer)
    }

    fn serve_all(lines: &mut Lines) -> Vec<usize> {
        std::iter::from_fn(|| {
            let next = lines.next()?;
            lines.running -= 1;
            let Job::Hash { salt, .. } = next.job else { return None };
            Some(usize::from(salt[0]))
        })
        .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_hashing_thread_runs_at_a_lower_priority_than_the_process() {
        let niceness = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let (before, after) = std::thread::spawn(move || {
            let before = niceness();
            worker::lower_priority(3);
            (before, niceness())
        })
        .join()
        .unwrap();
        assert_eq!(after, (before + 3).min(19));
        assert!(niceness() <= before, "the calling thread keeps its own");
        assert!(Argon2Hasher::start(Argon2Settings { nice: 20, ..fast() }).is_err());
    }

    #[test]
    fn after_a_refusal_each_owner_may_have_only_the_overload_queue_waiting_for_a_second() {
        let c = Capacity {
            threads: 1,
            queue: 8,
            overload_queue: 1,
        };
        let mut lines = Lines::default();
        // Callers that wait for their answers (an abandoned job gives its place up).
        let mut answers = Vec::new();
        let mut job = || {
            let (j, answer) = job();
            answers.push(answer);
            j
        };
        let unlimited = Room {
            threads: 1,
            total: 9,
            per_owner: usize::MAX,
        };
        // Steady load that fits: the whole queue, however long it stays full.
        for _ in 0..9 {
            let room = lines.room(c);
            assert_eq!(room, unlimited);
            assert!(!lines.over_share(&owner(1), room));
            assert!(lines.admit(&owner(1), job(), room.total).is_ok());
        }
        assert!(lines.next().is_some());
        assert!(lines.refused_at.is_none(), "full, but nobody turned away");
        // One more overflows it: refused, and from then on an owner may have one job waiting.
        assert!(lines.admit(&owner(1), job(), lines.room(c).total).is_err());
        let room = lines.room(c);
        assert_eq!(room.per_owner, 1);
        assert!(lines.over_share(&owner(1), room), "owner 1 holds 8");
        while lines.next().is_some() {}
        lines.running = 1;
        assert!(!lines.over_share(&owner(1), room));
        assert!(lines.admit(&owner(1), job(), room.total).is_ok());
        assert!(lines.over_share(&owner(1), room), "its one place is taken");
        // With two threads, one idle: the waiting job is about to start, a new one would not wait.
        lines.running = 0;
        let two = Room { threads: 2, ..room };
        assert!(!lines.over_share(&owner(1), two), "a thread is idle");
        lines.running = 1;
        // Another owner still gets in, and is served next in turn.
        assert!(!lines.over_share(&owner(2), room));
        assert!(lines.has_room(&owner(2), room.total));
        assert!(lines.admit(&owner(2), job(), room.total).is_ok());
        // A second without a refusal: no share any more.
        lines.refused_at = lines.refused_at.map(|at| at - Duration::from_millis(1_100));
        assert_eq!(lines.room(c), unlimited);
        // The overload queue is never larger than the queue.
        lines.refused_at = Some(Instant::now());
        let odd = Capacity {
            overload_queue: 20,
            ..c
        };
        assert_eq!(lines.room(odd).per_owner, 8);
        // And never none, whatever is configured.
        let none = Capacity {
            overload_queue: 0,
            queue: 0,
            ..c
        };
        assert_eq!(lines.room(none).per_owner, 1);
    }

    #[test]
    fn the_first_refusal_turns_away_what_waits_beyond_each_owners_share() {
        let mut lines = Lines::default();
        let mut answers = Vec::new();
        for who in [1, 1, 1, 1, 2, 2] {
            let (j, answer) = job();
            answers.push(answer);
            assert!(lines.admit(&owner(who), j, 100).is_ok());
        }
        assert_eq!(lines.shed_beyond_share(1), 4);
        assert_eq!(lines.queued, 2);
        let refused: Vec<bool> = answers
            .iter_mut()
            .map(|a| matches!(a.try_recv(), Ok(Err(HashError::Busy { .. }))))
            .collect();
        assert_eq!(refused, [false, true, true, true, false, true], "the newest go");
        assert!(lines.next().is_some() && lines.next().is_some() && lines.next().is_none());
        assert!(lines.waiting.is_empty() && lines.turns.is_empty());
    }

    #[test]
    fn owners_take_turns_whatever_each_has_queued() {
        let mut lines = Lines::default();
        let tag = |lines: &mut Lines, who: u8, n: u8| {
            let (mut job, _) = job();
            if let Job::Hash { salt, .. } = &mut job {
                salt[0] = n;
            }
            assert!(lines.admit(&owner(who), job, 100).is_ok());
        };
        for n in 0..5 {
            tag(&mut lines, 1, n);
        }
        tag(&mut lines, 2, 10);
        tag(&mut lines, 3, 20);
        tag(&mut lines, 2, 11);
        assert_eq!(serve_all(&mut lines), vec![0, 10, 20, 1, 11, 2, 3, 4]);
        assert!(lines.waiting.is_empty() && lines.turns.is_empty());
    }

    #[test]
    fn a_full_queue_makes_room_for_a_lighter_owner_only() {
        let mut lines = Lines::default();
        let mut hog = Vec::new();
        // Callers still waiting for their answers (a job whose caller went away gives up its place).
        let mut alive = Vec::new();
        for _ in 0..4 {
            let (j, answer) = job();
            assert!(lines.admit(&owner(1), j, 4).is_ok());
            hog.push(answer);
        }
        // Full: the hog itself gets no more room (and is told so before it asks).
        assert!(!lines.has_room(&owner(1), 4));
        assert!(lines.admit(&owner(1), job().0, 4).is_err());
        assert!(lines.has_room(&owner(2), 4), "a newcomer would be admitted");
        // A newcomer takes the place of the hog's newest job, which is refused.
        assert!(lines.admit(&owner(2), kept(&mut alive), 4).is_ok());
        assert!(matches!(hog[3].try_recv(), Ok(Err(HashError::Busy { .. }))));
        assert!(hog[2].try_recv().is_err(), "older jobs keep their place");
        // Another newcomer, again at the hog's expense (3 held > 0 + 1)...
        assert!(lines.admit(&owner(3), kept(&mut alive), 4).is_ok());
        // ...until the hog holds no more than anyone: two each is as fair as it gets.
        assert!(!lines.has_room(&owner(2), 4));
        assert!(lines.admit(&owner(2), job().0, 4).is_err());
        assert_eq!(lines.waiting[&owner(1)].len(), 2);
        // Running jobs count against the capacity as well.
        let _running = lines.next();
        assert!(
            lines.admit(&owner(4), job().0, 4).is_err(),
            "2/1/1 waiting and 1 running: no owner holds 2 more"
        );
        // A caller that went away gives up its place: the hog's waiting job's caller leaves.
        drop(hog.remove(1));
        assert!(lines.has_room(&owner(4), 4), "an abandoned job no longer holds a place");
        assert!(lines.admit(&owner(4), kept(&mut alive), 4).is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once_and_a_newcomer_is_served_in_turn() {
        let h = Arc::new(
            Argon2Hasher::start(Argon2Settings {
                threads: 1,
                queue: 2,
                ..fast()
            })
            .unwrap(),
        );
        // One long job occupies the only thread: a stored hash of a costlier, older kind.
        let long = Argon2Hasher::start(Argon2Settings {
            m_cost_kib: 64 * 1024,
            t_cost: 6,
            threads: 1,
            ..fast()
        })
        .unwrap()
        .hash(&pw("correct horse"), &anyone())
        .await
        .unwrap();
        let hog = owner(1);
        let running = {
            let (h, hog) = (Arc::clone(&h), hog.clone());
            tokio::spawn(async move { h.verify(&pw("correct horse"), Some(&long), &hog).await })
        };
        while h.queue.lock().running == 0 {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let (h, hog) = (Arc::clone(&h), hog.clone());
                tokio::spawn(async move { h.hash(&pw("correct horse"), &hog).await })
            })
            .collect();
        while h.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        // Full, and the hog holds it all: its next request is refused at once, while the long
        // job still runs (nobody is held open waiting for room).
        assert!(matches!(
            h.hash(&pw("correct horse"), &hog).await,
            Err(HashError::Busy { .. })
        ));
        assert!(!running.is_finished());
        // A stranger is let in, at the cost of the hog's newest job, and served.
        assert!(h.hash(&pw("correct horse"), &owner(2)).await.is_ok());
        assert!(running.await.unwrap().unwrap().matches);
        let outcomes: Vec<bool> = futures_outcomes(queued).await;
        assert_eq!(
            outcomes,
            vec![true, false],
            "the hog's older job ran, its newest made room"
        );
        // Once drained, everyone is served again.
        assert!(h.hash(&pw("correct horse"), &hog).await.is_ok());
    }

    async fn futures_outcomes(jobs: Vec<tokio::task::JoinHandle<Result<String, HashError>>>) -> Vec<bool> {
        let mut out = Vec::new();
        for j in jobs {
            out.push(j.await.unwrap().is_ok());
        }
        out
    }

    #[tokio::test]
    async fn a_job_that_waited_too_long_is_refused_not_run() {
        let h = Argon2Hasher::start(Argon2Settings {
            wait_timeout: Duration::ZERO,
            ..fast()
        })
        .unwrap();
        assert!(matches!(
            h.hash(&pw("correct horse"), &anyone()).await,
            Err(HashError::Busy { .. })
        ));
    }

    const BACKENDS: [Backend; 2] = [Backend::Reference, Backend::RustCrypto];

    /// Each backend verifies the other's hashes over a matrix of parameters, and both make the
    /// same PHC string from the same password and salt (they are bit-exact).
    #[test]
    fn backends_are_interchangeable_over_a_matrix_of_parameters() {
        for (m_cost_kib, t_cost, p_cost) in [(64, 1, 1), (256, 2, 1), (512, 3, 2), (1024, 1, 4), (8, 1, 1)] {
            let settings = |backend| Argon2Settings {
                backend,
                m_cost_kib,
                t_cost,
                p_cost,
                ..fast()
            };
            let salt = [
                m_cost_kib.to_le_bytes(),
                t_cost.to_le_bytes(),
                p_cost.to_le_bytes(),
                [7; 4],
            ]
            .concat();
            let mut made = Vec::new();
            for backend in BACKENDS {
                let stored = engine(&settings(backend))
                    .unwrap()
                    .hash(b"correct horse", &salt)
                    .unwrap();
                made.push(stored.clone());
                for other in BACKENDS {
                    let mut checker = engine(&settings(other)).unwrap();
                    let right = checker.verify(b"correct horse", &stored, &settings(other)).unwrap();
                    assert_eq!(
                        right,
                        Verification {
                            matches: true,
                            needs_rehash: false
                        },
                        "{backend:?} -> {other:?} at m={m_cost_kib} t={t_cost} p={p_cost}"
                    );
                    let wrong = checker.verify(b"correct horsf", &stored, &settings(other)).unwrap();
                    assert!(!wrong.matches, "{backend:?} -> {other:?}");
                }
            }
            assert_eq!(made[0], made[1], "bit-exact at m={m_cost_kib} t={t_cost} p={p_cost}");
        }
    }

    /// The reference implementation's own test vectors (phc-winner-argon2 `src/test.c`, version
    /// 0x13, "password" with salt "somesalt"), checked by both backends; only argon2id at the
    /// configured parameters counts as current.
    #[test]
    fn known_answers_verify_on_both_backends() {
        let vectors = [
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
        ];
        for backend in BACKENDS {
            let settings = Argon2Settings {
                backend,
                m_cost_kib: 65_536,
                t_cost: 2,
                p_cost: 1,
                ..fast()
            };
            let mut checker = engine(&Argon2Settings {
                m_cost_kib: 64,
                t_cost: 1,
                ..settings.clone()
            })
            .unwrap();
            for (i, vector) in vectors.iter().enumerate() {
                let verdict = checker.verify(b"password", vector, &settings).unwrap();
                assert!(verdict.matches, "{backend:?}: {vector}");
                assert_eq!(verdict.needs_rehash, i > 0, "{backend:?}: only argon2id is current");
                assert!(!checker.verify(b"passwore", vector, &settings).unwrap().matches);
            }
            let made = engine(&settings).unwrap().hash(b"password", b"somesalt").unwrap();
            assert_eq!(made, vectors[0], "{backend:?}");
        }
    }

    /// A stored string asking for more memory than the cap, or that is not argon2 at all, is an
    /// error on both backends (never an allocation, never a panic).
    #[test]
    fn hostile_stored_strings_are_errors_on_both_backends() {
        for backend in BACKENDS {
            let settings = Argon2Settings { backend, ..fast() };
            let mut checker = engine(&settings).unwrap();
            for stored in [
                "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                "$argon2id$v=19$m=64,t=1,p=1$$",
                "$2b$12$abcdefghijklmnopqrstuuJ8aW6yYdAKVFi8R1gHn0yfKe7e6fQ.W",
                "",
                "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ",
            ] {
                assert!(
                    checker.verify(b"password", stored, &settings).is_err(),
                    "{backend:?} accepted {stored:?}"
                );
            }
        }
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
