//! Password hashing off the async runtime, bounded.
//!
//! A fixed set of worker threads, one per core, each with its own argon2 memory
//! ([`HashingMemory`], 19 MiB) reused for every hash, and a short queue in front of them. When
//! the queue is full the caller is told to come back later (a JSON 503 with `Retry-After`)
//! rather than getting a thread and 19 MiB of its own: that was how concurrent wrong sign-ins
//! took gigabytes that the allocator never gave back. Memory for hashing is `workers × 19 MiB`,
//! whatever arrives.

use keywarden_core::error::DomainError;
use keywarden_core::password::{HashingMemory, PasswordError};
use keywarden_core::service::sign_in::PasswordChecker;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Requests that may wait for a worker, per worker. A hash takes tens of milliseconds, so a full
/// queue is answered in well under a second.
const QUEUED_PER_WORKER: usize = 8;

/// Why a password could not be checked or hashed now.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full.
    #[error("every password worker is busy")]
    Busy {
        /// Seconds after which a retry is likely to get a worker.
        retry_after: u64,
    },
    /// The workers are gone (the process is stopping).
    #[error("the password workers have stopped")]
    Stopped,
}

enum Work {
    Verify {
        password: Zeroizing<String>,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
    Hash {
        password: Zeroizing<String>,
        reply: oneshot::Sender<Result<String, PasswordError>>,
    },
}

/// The workers and their queue. Dropping the pool ends the workers once the queue is drained.
#[derive(Debug)]
pub struct PasswordPool {
    queue: SyncSender<Work>,
    workers: usize,
    refused: AtomicU64,
}

impl PasswordPool {
    /// One worker per available core.
    pub fn for_this_machine() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(cores, cores * QUEUED_PER_WORKER)
    }

    /// `workers` threads, and at most `queued` requests waiting for one.
    pub fn new(workers: usize, queued: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (queue, jobs) = std::sync::mpsc::sync_channel(queued);
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..workers {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("keywarden-password-{n}"))
                .spawn(move || work(&jobs))?;
        }
        Ok(Self {
            queue,
            workers,
            refused: AtomicU64::new(0),
        })
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Requests refused because the queue was full, since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn submit(&self, work: Work) -> Result<(), PoolError> {
        match self.queue.try_send(work) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(PoolError::Busy { retry_after: 1 })
            }
            Err(TrySendError::Disconnected(_)) => Err(PoolError::Stopped),
        }
    }

    /// Checks `password` against the stored PHC string `phc`.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, PoolError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Work::Verify {
            password: Zeroizing::new(password),
            phc,
            reply,
        })?;
        answer.await.map_err(|_| PoolError::Stopped)
    }

    /// Hashes a new password (its length checked first).
    pub async fn hash(&self, password: String) -> Result<Result<String, PasswordError>, PoolError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Work::Hash {
            password: Zeroizing::new(password),
            reply,
        })?;
        answer.await.map_err(|_| PoolError::Stopped)
    }
}

/// A worker: takes jobs until the pool is dropped. A caller that went away (its request was
/// cancelled) is simply not answered.
fn work(jobs: &Mutex<Receiver<Work>>) {
    let mut memory = HashingMemory::new();
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(Work::Verify {
                password,
                phc,
                reply,
            }) => {
                if !reply.is_closed() {
                    let _ = reply.send(memory.verify(&password, &phc));
                }
            }
            Ok(Work::Hash { password, reply }) => {
                if !reply.is_closed() {
                    let _ = reply.send(memory.hash(&password));
                }
            }
            Err(_) => return,
        }
    }
}

#[async_trait::async_trait]
impl PasswordChecker for PasswordPool {
    async fn verify(&self, password: String, phc: String) -> Result<bool, DomainError> {
        PasswordPool::verify(self, password, phc)
            .await
            .map_err(|e| match e {
                PoolError::Busy { retry_after } => DomainError::Busy { retry_after },
                // Only while the process stops: come back to another instance.
                PoolError::Stopped => DomainError::Busy { retry_after: 1 },
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_checks_through_the_workers() {
        let pool = PasswordPool::new(2, 4).unwrap();
        let phc = pool.hash("a long enough password".into()).await.unwrap();
        let phc = phc.unwrap();
        assert!(
            pool.verify("a long enough password".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(!pool.verify("another password!!".into(), phc).await.unwrap());
        assert!(matches!(
            pool.hash("short".into()).await.unwrap(),
            Err(PasswordError::TooShort)
        ));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_nothing_else_waits() {
        let pool = Arc::new(PasswordPool::new(1, 2).unwrap());
        let phc = keywarden_core::password::decoy_hash().to_owned();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (pool, phc) = (pool.clone(), phc.clone());
                tokio::spawn(async move { pool.verify("wrong password!!".into(), phc).await })
            })
            .collect();
        let mut answered = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(false) => answered += 1,
                Err(PoolError::Busy { retry_after: 1 }) => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            busy >= 12 - 3,
            "one running and two queued at most: {answered} answered"
        );
        assert_eq!(answered + busy, 12);
        assert_eq!(pool.refused(), busy);
    }
}
