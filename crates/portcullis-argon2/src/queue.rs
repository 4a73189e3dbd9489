//! The fair queue of hashing jobs: one line per owner (an account or a client network), served
//! in turn, so one owner's burst waits behind itself and not in front of everyone else.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portcullis_domain::{HashError, HashOwner, Verification};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, HashError>>;

pub(crate) enum Job {
    Hash {
        password: Zeroizing<Vec<u8>>,
        salt: [u8; SALT_LEN],
        reply: Reply<String>,
    },
    Verify {
        password: Zeroizing<Vec<u8>>,
        stored: String,
        reply: Reply<Verification>,
    },
}

impl Job {
    pub(crate) fn refuse(self, error: HashError) {
        match self {
            Self::Hash { reply, .. } => drop(reply.send(Err(error))),
            Self::Verify { reply, .. } => drop(reply.send(Err(error))),
        }
    }

    pub(crate) fn abandoned(&self) -> bool {
        match self {
            Self::Hash { reply, .. } => reply.is_closed(),
            Self::Verify { reply, .. } => reply.is_closed(),
        }
    }
}

pub(crate) struct Queued {
    pub(crate) job: Job,
    pub(crate) since: Instant,
}

pub(crate) fn busy() -> HashError {
    HashError::Busy {
        retry_after: chrono::Duration::seconds(1),
    }
}

/// Salt length in bytes (RFC 9106 recommends 16).
pub(crate) const SALT_LEN: usize = 16;

/// The lines of waiting jobs, one per owner, and the turn order between them.
#[derive(Default)]
pub(crate) struct Lines {
    pub(crate) waiting: HashMap<HashOwner, VecDeque<Queued>>,
    /// Owners with jobs waiting, in the order they are next served.
    pub(crate) turns: VecDeque<HashOwner>,
    pub(crate) queued: usize,
    pub(crate) running: usize,
    pub(crate) closed: bool,
    /// The last time a job was turned away for want of room.
    pub(crate) refused_at: Option<Instant>,
}

/// How long after a refusal the overload queue stays in force.
pub(crate) const REFUSAL_HOLD: Duration = Duration::from_secs(1);

/// How many jobs may be held: one running per thread plus the queue, and within
/// [`REFUSAL_HOLD`] of a refusal, at most the overload queue's worth waiting for any one owner.
/// A queue that had to turn a request away is facing more than it can take (a flood, not a
/// burst it can absorb); holding each owner to a short line then keeps its admitted jobs from
/// waiting behind a full queue of its own, while another owner still gets in and is served in
/// turn. Steady load from a bounded number of clients that fits the queue is never refused,
/// however long it lasts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capacity {
    pub(crate) threads: usize,
    pub(crate) queue: usize,
    pub(crate) overload_queue: usize,
}

/// The room in force now: jobs in all, and jobs waiting per owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Room {
    pub(crate) threads: usize,
    pub(crate) total: usize,
    pub(crate) per_owner: usize,
}

impl Lines {
    /// The room in force now.
    pub(crate) fn room(&self, c: Capacity) -> Room {
        let overloaded = self.refused_at.is_some_and(|at| at.elapsed() < REFUSAL_HOLD);
        Room {
            threads: c.threads,
            total: c.threads + c.queue,
            // At least one: a share of none would refuse every job of everyone, each refusal
            // holding the overload on.
            per_owner: if overloaded {
                c.overload_queue.min(c.queue).max(1)
            } else {
                usize::MAX
            },
        }
    }

    /// Whether `owner` already has its share of waiting jobs under `room`, with no thread
    /// idle (a job a thread has not picked up yet does not wait). Only a refusal for want of
    /// room in all starts or prolongs the overload, not this one: an owner whose steady load
    /// fits the queue gets the whole queue back a second after the flood that crowded it.
    pub(crate) fn over_share(&self, owner: &HashOwner, room: Room) -> bool {
        let mine = self.waiting.get(owner).map_or(0, VecDeque::len);
        mine >= room.per_owner && self.queued + self.running >= room.threads
    }

    /// Turns away, newest first, every waiting job beyond `per_owner` of its owner (called on
    /// a refusal: the overload share starts now, and jobs admitted under the burst queue would
    /// otherwise keep their owner's next ones waiting behind a full queue). The number turned
    /// away.
    pub(crate) fn shed_beyond_share(&mut self, per_owner: usize) -> usize {
        let mut shed = 0;
        for line in self.waiting.values_mut() {
            while line.len() > per_owner {
                if let Some(q) = line.pop_back() {
                    q.job.refuse(busy());
                    shed += 1;
                }
            }
        }
        if shed > 0 {
            self.forget_empty_lines();
        }
        shed
    }

    /// Admits `job` for `owner` if there is room, or room can be made by turning away the
    /// newest job of the owner holding the most (then `Ok(true)`); otherwise hands the job back.
    pub(crate) fn admit(&mut self, owner: &HashOwner, job: Job, capacity: usize) -> Result<bool, Job> {
        let mut pushed = false;
        if self.queued + self.running >= capacity {
            self.shed_abandoned();
        }
        if self.queued + self.running >= capacity {
            let mine = self.waiting.get(owner).map_or(0, VecDeque::len);
            let heaviest = self
                .waiting
                .iter()
                .max_by_key(|(_, line)| line.len())
                .map(|(o, line)| (o.clone(), line.len()));
            match heaviest {
                Some((heavy, held)) if held > mine + 1 => {
                    if let Some(pushed_out) = self.waiting.get_mut(&heavy).and_then(VecDeque::pop_back) {
                        self.queued -= 1;
                        self.refused_at = Some(Instant::now());
                        pushed_out.job.refuse(busy());
                        pushed = true;
                    }
                    if self.waiting.get(&heavy).is_some_and(VecDeque::is_empty) {
                        self.waiting.remove(&heavy);
                        self.turns.retain(|o| *o != heavy);
                    }
                }
                _ => {
                    self.refused_at = Some(Instant::now());
                    return Err(job);
                }
            }
        }
        let line = self.waiting.entry(owner.clone()).or_default();
        if line.is_empty() {
            self.turns.push_back(owner.clone());
        }
        line.push_back(Queued {
            job,
            since: Instant::now(),
        });
        self.queued += 1;
        Ok(pushed)
    }

    /// Drops waiting jobs whose requests went away (their client disconnected): they would be
    /// skipped at their turn anyway, and must not keep a newcomer out meanwhile.
    fn shed_abandoned(&mut self) {
        let before = self.queued;
        for line in self.waiting.values_mut() {
            line.retain(|q| !q.job.abandoned());
        }
        self.forget_empty_lines();
        debug_assert!(self.queued <= before);
    }

    /// After jobs were taken out of lines other than by [`Lines::next`]: drops the empty lines
    /// and their turns, and counts what still waits.
    fn forget_empty_lines(&mut self) {
        self.waiting.retain(|_, line| !line.is_empty());
        let waiting = &self.waiting;
        self.turns.retain(|o| waiting.contains_key(o));
        self.queued = self.waiting.values().map(VecDeque::len).sum();
    }

    /// Whether [`Lines::admit`] would admit a job of `owner` now.
    pub(crate) fn has_room(&mut self, owner: &HashOwner, capacity: usize) -> bool {
        if self.queued + self.running >= capacity {
            self.shed_abandoned();
        }
        if self.queued + self.running < capacity {
            return true;
        }
        let mine = self.waiting.get(owner).map_or(0, VecDeque::len);
        let room = self
            .waiting
            .values()
            .map(VecDeque::len)
            .max()
            .is_some_and(|held| held > mine + 1);
        if !room {
            // The caller turns its request away.
            self.refused_at = Some(Instant::now());
        }
        room
    }

    /// The next job in turn, counted as running.
    pub(crate) fn next(&mut self) -> Option<Queued> {
        let owner = self.turns.pop_front()?;
        let line = self.waiting.get_mut(&owner)?;
        let job = line.pop_front()?;
        if line.is_empty() {
            self.waiting.remove(&owner);
        } else {
            self.turns.push_back(owner);
        }
        self.queued -= 1;
        self.running += 1;
        Some(job)
    }
}

pub(crate) struct Queue {
    pub(crate) lines: Mutex<Lines>,
    pub(crate) work: Condvar,
    pub(crate) capacity: Capacity,
    pub(crate) wait_timeout: Duration,
}

impl Queue {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Lines> {
        // A worker that panicked mid-bookkeeping leaves counts that are at worst off by one;
        // keep serving rather than poisoning every later request.
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
