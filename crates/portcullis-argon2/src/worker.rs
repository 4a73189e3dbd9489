//! The hashing threads: each takes the next job in turn, runs it with the memory it keeps, and
//! answers; and the metrics they record.

use portcullis_domain::{HashError, Verification};

use crate::queue::{Job, Lines, Queue, Queued, Reply, busy};
use crate::{Argon2Settings, Engine, metrics_names};

pub(crate) struct Worker {
    pub(crate) engine: Box<dyn Engine>,
    pub(crate) settings: Argon2Settings,
}

impl Worker {
    pub(crate) fn run(mut self, queue: &Queue) {
        lower_priority(self.settings.nice);
        loop {
            let next = {
                let mut lines = queue.lock();
                loop {
                    if lines.closed {
                        return;
                    }
                    if let Some(job) = lines.next() {
                        break job;
                    }
                    lines = queue
                        .work
                        .wait(lines)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            let Queued { job, since } = next;
            // The job stops counting as running before its answer goes out, so the caller's
            // next request never finds it still holding a place.
            let finished = if since.elapsed() > queue.wait_timeout {
                record_rejected();
                Finished::Refused(job)
            } else if job.abandoned() {
                // A request that went away does not burn a hash.
                Finished::Dropped
            } else {
                self.run_job(job)
            };
            {
                let mut lines = queue.lock();
                lines.running -= 1;
                record_in_flight(&lines);
            }
            finished.send();
        }
    }

    fn run_job(&mut self, job: Job) -> Finished {
        let _timer = HashTimer(std::time::Instant::now());
        match job {
            Job::Hash { password, salt, reply } => {
                Finished::Hashed(reply, self.engine.hash(&password, &salt).map_err(HashError::Internal))
            }
            Job::Verify {
                password,
                stored,
                reply,
            } => {
                let verdict = self.engine.verify(&password, &stored, &self.settings);
                Finished::Verified(reply, verdict.map_err(HashError::Internal))
            }
        }
    }
}

/// Records how long the engine took for one job, when dropped.
struct HashTimer(std::time::Instant);

impl Drop for HashTimer {
    fn drop(&mut self) {
        metrics::histogram!(metrics_names::HASH_DURATION).record(self.0.elapsed().as_secs_f64());
    }
}

pub(crate) fn record_in_flight(lines: &Lines) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(metrics_names::HASHES_IN_FLIGHT).set((lines.queued + lines.running) as f64);
}

pub(crate) fn record_rejected() {
    metrics::counter!(metrics_names::HASHES_REJECTED).increment(1);
}

/// A job done (or refused), its answer not yet sent.
enum Finished {
    Hashed(Reply<String>, Result<String, HashError>),
    Verified(Reply<Verification>, Result<Verification, HashError>),
    Refused(Job),
    Dropped,
}

impl Finished {
    fn send(self) {
        match self {
            Self::Hashed(reply, answer) => drop(reply.send(answer)),
            Self::Verified(reply, answer) => drop(reply.send(answer)),
            Self::Refused(job) => job.refuse(busy()),
            Self::Dropped => {}
        }
    }
}

/// Lowers this thread's scheduling priority by `nice` (Linux: niceness is per thread, and
/// raising it needs no privilege).
#[cfg(target_os = "linux")]
pub(crate) fn lower_priority(nice: u8) {
    if nice == 0 {
        return;
    }
    let thread = Some(rustix::thread::gettid());
    let lowered = rustix::process::getpriority_process(thread)
        .and_then(|now| rustix::process::setpriority_process(thread, (now + i32::from(nice)).min(19)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, nice, "cannot lower the hashing thread's priority; hashing runs at the process's");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_priority(_nice: u8) {}
