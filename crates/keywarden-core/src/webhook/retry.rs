//! When a failed delivery is tried again: exponential back-off with jitter, for more than
//! three days (SPEC §7), the first retry within 10 seconds.
//!
//! The waits after attempts 1, 2, 3, …: 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
//! 20 h, 24 h, 24 h — 99 h 36 min in all before jitter, 12 attempts — then the delivery has
//! failed and its endpoint is marked `failing`. Each wait is scaled by a random factor in
//! [0.8, 1.2), so that endpoints that failed together do not all come back at once; jitter
//! never shortens the last wait, so even the shortest schedule spans 84 hours.

use time::Duration;

/// The wait after each failed attempt, before jitter; its length is the number of retries.
const WAITS_SECS: [i64; 11] = [
    5,
    60,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
    24 * 3600,
];

/// Attempts in all: the first and one per wait.
pub const MAX_ATTEMPTS: u32 = WAITS_SECS.len() as u32 + 1;

/// How long to wait after failed attempt number `attempt` (1 for the first) before the next,
/// or `None` when it was the last. `jitter` is a uniform random number in [0, 1).
pub fn wait_after(attempt: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    let base = *WAITS_SECS.get(index)?;
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    // The last wait only grows: the schedule must still span three days.
    let factor = if index + 1 == WAITS_SECS.len() {
        factor.max(1.0)
    } else {
        factor
    };
    Some(Duration::milliseconds(
        (base as f64 * 1000.0 * factor) as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_comes_within_ten_seconds() {
        for jitter in [0.0, 0.5, 0.999] {
            let wait = wait_after(1, jitter).unwrap_or(Duration::MAX);
            assert!(wait >= Duration::seconds(4) && wait < Duration::seconds(10));
        }
    }

    #[test]
    fn retries_span_more_than_three_days_whatever_the_jitter() {
        for jitter in [0.0, 0.999] {
            let total: Duration = (1..MAX_ATTEMPTS)
                .map(|a| wait_after(a, jitter).unwrap_or(Duration::ZERO))
                .sum();
            assert!(total > Duration::days(3), "{total} with jitter {jitter}");
        }
        assert_eq!(wait_after(MAX_ATTEMPTS, 0.5), None);
        assert_eq!(wait_after(0, 0.5), None);
    }

    #[test]
    fn waits_never_shrink() {
        let waits: Vec<Duration> = (1..MAX_ATTEMPTS)
            .filter_map(|a| wait_after(a, 0.5))
            .collect();
        assert_eq!(waits.len(), 11);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    }
}
