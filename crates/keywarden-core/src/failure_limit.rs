//! Failure limits (SPEC §3): a token bucket per client (or per user) that only failures drain.
//! A bucket refills continuously, so a limit decays and the real user is never locked out for
//! good. Successful requests never touch the limiter, so the verify fast path takes no lock.
//!
//! Written here rather than taken from a crate because it must run on the injected clock
//! (tests move time instead of sleeping) and only on the failure path.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Most clients tracked; past it, buckets that have refilled completely are dropped first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// A limit of `capacity` failures per `window_ms`, per key.
#[derive(Debug)]
pub struct FailureLimiter<K> {
    capacity: f64,
    per_ms: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    /// `capacity` failures per `window_secs`.
    pub fn new(capacity: u32, window_secs: u64) -> Self {
        let capacity = f64::from(capacity.max(1));
        let window_ms = (window_secs.max(1) * 1000) as f64;
        Self {
            capacity,
            per_ms: capacity / window_ms,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now_ms: i64) -> f64 {
        let elapsed = (now_ms - bucket.updated_ms).max(0) as f64;
        (bucket.tokens + elapsed * self.per_ms).min(self.capacity)
    }

    fn retry_after(&self, tokens: f64) -> u64 {
        (((1.0 - tokens) / self.per_ms) / 1000.0).ceil().max(1.0) as u64
    }

    /// Seconds to wait if `key` has no failures left, without counting anything.
    pub fn blocked(&self, key: &K, now_ms: i64) -> Option<u64> {
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = *buckets.get(key)?;
        let tokens = self.refilled(bucket, now_ms);
        (tokens < 1.0).then(|| self.retry_after(tokens))
    }

    /// Counts a failure; returns seconds to wait if this failure was over the limit.
    pub fn fail(&self, key: &K, now_ms: i64) -> Option<u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            buckets.retain(|_, b| self.refilled(*b, now_ms) < self.capacity);
            if buckets.len() >= MAX_TRACKED {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.capacity,
            updated_ms: now_ms,
        });
        let tokens = self.refilled(*bucket, now_ms);
        if tokens < 1.0 {
            *bucket = Bucket {
                tokens,
                updated_ms: now_ms,
            };
            return Some(self.retry_after(tokens));
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            updated_ms: now_ms,
        };
        None
    }

    /// Gives back one failure counted by [`Self::fail`] for an attempt that turned out not to
    /// be one (it succeeded, or was never evaluated). Attempts are counted when they start, so
    /// that attempts made in parallel cannot all pass the check before any of them is counted.
    pub fn refund(&self, key: &K, now_ms: i64) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(key) {
            let tokens = (self.refilled(*bucket, now_ms) + 1.0).min(self.capacity);
            *bucket = Bucket {
                tokens,
                updated_ms: now_ms,
            };
        }
    }

    /// Forgets a key (after a successful sign-in).
    pub fn reset(&self, key: &K) {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_are_refused_and_the_limit_decays() {
        let limiter = FailureLimiter::new(3, 60);
        let t = 1_000_000;
        assert_eq!(limiter.fail(&"a", t), None);
        assert_eq!(limiter.fail(&"a", t), None);
        assert_eq!(limiter.fail(&"a", t), None);
        assert_eq!(limiter.blocked(&"a", t), Some(20));
        assert_eq!(limiter.fail(&"a", t), Some(20));
        assert_eq!(
            limiter.blocked(&"b", t),
            None,
            "other clients are not affected"
        );
        assert_eq!(
            limiter.blocked(&"a", t + 20_000),
            None,
            "one failure refilled after 20 s"
        );
        assert_eq!(limiter.fail(&"a", t + 20_000), None);
        assert!(limiter.fail(&"a", t + 20_000).is_some());
    }

    #[test]
    fn a_refund_gives_one_failure_back_and_never_more_than_the_capacity() {
        let limiter = FailureLimiter::new(2, 60);
        assert_eq!(limiter.fail(&"a", 0), None);
        assert_eq!(limiter.fail(&"a", 0), None);
        assert!(limiter.blocked(&"a", 0).is_some());
        limiter.refund(&"a", 0);
        assert_eq!(limiter.blocked(&"a", 0), None);
        assert_eq!(limiter.fail(&"a", 0), None);
        assert!(limiter.fail(&"a", 0).is_some());
        for _ in 0..5 {
            limiter.refund(&"a", 0);
        }
        assert_eq!(limiter.fail(&"a", 0), None);
        assert_eq!(limiter.fail(&"a", 0), None);
        assert!(limiter.fail(&"a", 0).is_some(), "capped at the capacity");
        limiter.refund(&"unknown", 0);
        assert_eq!(limiter.blocked(&"unknown", 0), None);
    }

    #[test]
    fn reset_forgets() {
        let limiter = FailureLimiter::new(1, 60);
        limiter.fail(&1, 0);
        assert!(limiter.blocked(&1, 0).is_some());
        limiter.reset(&1);
        assert!(limiter.blocked(&1, 0).is_none());
    }
}
