//! The runtime form of a key's policy, as the key table keeps it: the allowlist as a slice,
//! the metadata written out once (JSON and base64) so no answer serialises it, and the counters
//! of the rate and usage limits.
//!
//! The rate limit is a sliding-window counter (the previous fixed window's count, weighted by
//! how much of it still overlaps the sliding window, plus the current window's count): exact
//! for a burst inside one window, without a log of every request. Its state is three numbers
//! behind a mutex that only requests of that one key take.

use crate::key_policy::{KeyPolicy, RateLimit, UsageLimit};
use base64::Engine;
use bytes::Bytes;
use ipnet::IpNet;
use serde_json::value::RawValue;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;

/// What a key's limits said about one request, for the answer's headers and body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitState {
    /// The limit.
    pub limit: u64,
    /// Requests left (after this one, when it was allowed).
    pub remaining: u64,
    /// When the count resets, in Unix milliseconds (`None` for a usage limit over the key's
    /// whole life).
    pub reset_ms: Option<i64>,
    /// Seconds from the check until then, rounded up (0 without a reset): `RateLimit-Reset`.
    pub reset_secs: u64,
}

/// Seconds from `now_ms` until `reset_ms`, rounded up.
fn seconds_until(reset_ms: Option<i64>, now_ms: i64) -> u64 {
    reset_ms.map_or(0, |reset| {
        u64::try_from((reset - now_ms).max(0))
            .unwrap_or(0)
            .div_ceil(1000)
    })
}

/// The policy of one table entry.
#[derive(Debug)]
pub struct EntryPolicy {
    /// Where the key may be used from; empty for anywhere.
    pub allowed_ips: AddressRanges,
    /// The rate limit and its window.
    pub rate: Option<RateWindow>,
    /// The usage limit and its count.
    pub usage: Option<UsageCount>,
    /// The metadata as compact JSON, shared with the answers that carry it.
    pub metadata_json: Option<Arc<RawValue>>,
    /// The same, base64 (standard alphabet, padded): the `X-Keywarden-Metadata` value.
    pub metadata_base64: Option<Bytes>,
    /// A canary key (SPEC §8): refused as unknown before any other step.
    pub canary: bool,
}

impl EntryPolicy {
    /// The runtime form of a stored policy, or `None` for the empty policy.
    pub fn of(policy: &KeyPolicy) -> Option<Box<Self>> {
        if policy.is_empty() {
            return None;
        }
        let metadata_json = policy
            .metadata
            .as_ref()
            .and_then(|m| serde_json::value::to_raw_value(m).ok());
        let metadata_base64 = metadata_json
            .as_ref()
            .map(|json| Bytes::from(base64::engine::general_purpose::STANDARD.encode(json.get())));
        Some(Box::new(Self {
            allowed_ips: AddressRanges::new(policy.allowed_ips.as_deref().unwrap_or_default()),
            rate: policy.rate_limit.map(RateWindow::new),
            usage: policy.usage_limit.map(UsageCount::new),
            metadata_json: metadata_json.map(Arc::from),
            metadata_base64,
            canary: policy.canary,
        }))
    }

    /// Takes over the counts of the same key's previous entry (a change to its label must not
    /// reset its limits), where the limit itself did not change.
    pub fn carry_counts_from(&self, previous: &Self) {
        if let (Some(new), Some(old)) = (&self.rate, &previous.rate)
            && new.limit == old.limit
        {
            let state = *old.state.lock().unwrap_or_else(PoisonError::into_inner);
            *new.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        }
        if let (Some(new), Some(old)) = (&self.usage, &previous.usage)
            && new.limit.period == old.limit.period
        {
            new.window_start
                .store(old.window_start.load(Ordering::Relaxed), Ordering::Relaxed);
            new.used
                .store(old.used.load(Ordering::Relaxed), Ordering::Relaxed);
            new.unsaved
                .store(old.unsaved.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// An allowlist as sorted, merged address intervals per family: a lookup is a binary search
/// (seven comparisons for 100 ranges rather than 100 prefix tests), allocation-free. An
/// IPv4-mapped IPv6 client (`::ffff:a.b.c.d`) is looked up as IPv4.
#[derive(Debug, Default)]
pub struct AddressRanges {
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl AddressRanges {
    /// The intervals of `nets`.
    pub fn new(nets: &[IpNet]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Self {
            v4: merged(v4),
            v6: merged(v6),
        }
    }

    /// Whether there is no range at all (the key may be used anywhere).
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether `client` is in one of the ranges.
    #[inline]
    pub fn contains(&self, client: IpAddr) -> bool {
        match client {
            IpAddr::V4(v4) => within(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => within(&self.v4, u32::from(v4)),
                None => within(&self.v6, u128::from(v6)),
            },
        }
    }
}

/// Sorted by start, overlapping intervals joined.
fn merged<T: Ord + Copy>(mut ranges: Vec<(T, T)>) -> Box<[(T, T)]> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out.into_boxed_slice()
}

#[inline]
fn within<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let after = ranges.partition_point(|&(start, _)| start <= x);
    after
        .checked_sub(1)
        .and_then(|at| ranges.get(at))
        .is_some_and(|&(_, end)| x <= end)
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    /// Start of the current fixed window, in Unix milliseconds.
    start: i64,
    /// Requests allowed in it.
    current: u64,
    /// Requests allowed in the window before it.
    previous: u64,
}

/// A rate limit's sliding window on this instance.
#[derive(Debug)]
pub struct RateWindow {
    /// The limit.
    pub limit: RateLimit,
    state: Mutex<Window>,
}

impl RateWindow {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(Window::default()),
        }
    }

    fn period_ms(&self) -> i64 {
        i64::from(self.limit.period_seconds) * 1000
    }

    /// Counts one request at `now_ms` if the window has room (`consume`), or only looks
    /// (an explanation). `Err` when the limit is reached, with when to retry.
    pub fn take(&self, now_ms: i64, consume: bool) -> Result<LimitState, (LimitState, u64)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let period = self.period_ms();
        let window = now_ms - now_ms.rem_euclid(period);
        let mut w = *state;
        if window != w.start {
            w.previous = if window - w.start == period {
                w.current
            } else {
                0
            };
            w.current = 0;
            w.start = window;
        }
        let decision = sliding_decision(
            u64::from(self.limit.limit),
            period,
            now_ms - window,
            w.previous,
            w.current,
        );
        if decision.is_ok() && consume {
            w.current += 1;
        }
        if consume {
            *state = w;
        }
        let reset_ms = Some(window + period);
        let reset_secs = seconds_until(reset_ms, now_ms);
        match decision {
            Ok(remaining) => Ok(LimitState {
                limit: u64::from(self.limit.limit),
                remaining,
                reset_ms,
                reset_secs,
            }),
            Err(retry_after_ms) => Err((
                LimitState {
                    limit: u64::from(self.limit.limit),
                    remaining: 0,
                    reset_ms,
                    reset_secs,
                },
                u64::try_from(retry_after_ms)
                    .unwrap_or(0)
                    .div_ceil(1000)
                    .max(1),
            )),
        }
    }
}

/// The sliding-window arithmetic, in integers: the estimate is `previous × (period − elapsed)
/// / period + current`. `Ok(remaining after this request)` when one more request fits, else
/// `Err(milliseconds until one does)`.
pub fn sliding_decision(
    limit: u64,
    period: i64,
    elapsed: i64,
    previous: u64,
    current: u64,
) -> Result<u64, i64> {
    let period_u = u64::try_from(period).unwrap_or(1).max(1);
    let overlap = u64::try_from(period - elapsed).unwrap_or(0);
    // Everything times `period`, so no division rounds a request away.
    let weighted = previous.saturating_mul(overlap);
    let used = weighted.saturating_add(current.saturating_mul(period_u));
    let after = used.saturating_add(period_u);
    let cap = limit.saturating_mul(period_u);
    if after <= cap {
        return Ok((cap - after) / period_u);
    }
    if current >= limit || previous == 0 {
        // Only the next window has room; by then this one's count weighs on it.
        let mut wait = period - elapsed;
        // In the next window `current` becomes `previous`: wait until its weight leaves room.
        if current > 0 {
            let room = limit.saturating_sub(1).saturating_mul(period_u);
            let needed = current.saturating_mul(period_u).saturating_sub(room);
            wait += i64::try_from(needed.div_ceil(current)).unwrap_or(period);
        }
        return Err(wait.max(1));
    }
    // The previous window's weight must fall by the excess.
    let excess = after - cap;
    Err(i64::try_from(excess.div_ceil(previous))
        .unwrap_or(period)
        .max(1))
}

/// A usage limit's count on this instance: what this instance has allowed in the current
/// period (`used`, including what other instances had stored when it last read) and what it
/// has not saved yet (`unsaved`).
#[derive(Debug)]
pub struct UsageCount {
    /// The limit.
    pub limit: UsageLimit,
    window_start: AtomicI64,
    used: AtomicU64,
    unsaved: AtomicU64,
}

impl UsageCount {
    fn new(limit: UsageLimit) -> Self {
        Self {
            limit,
            window_start: AtomicI64::new(i64::MIN),
            used: AtomicU64::new(0),
            unsaved: AtomicU64::new(0),
        }
    }

    fn window(&self, now_ms: i64) -> (i64, Option<i64>) {
        let (start, end) = self
            .limit
            .period
            .window(crate::key_table::from_millis(now_ms));
        (millis(start), end.map(millis))
    }

    /// Moves the count to the period holding `now_ms` if it is not there yet; the period's
    /// start and end.
    fn roll_to(&self, now_ms: i64) -> (i64, Option<i64>) {
        let (start, end) = self.window(now_ms);
        if self.window_start.load(Ordering::Relaxed) != start {
            // A new period. What the last one counted but did not save yet (at most one flush
            // interval) is dropped: the period is over, and no limit reads it again.
            self.window_start.store(start, Ordering::Relaxed);
            self.used.store(0, Ordering::Relaxed);
            self.unsaved.store(0, Ordering::Relaxed);
        }
        (start, end)
    }

    /// Counts one request at `now_ms` if the limit has room (`consume`), or only looks.
    pub fn take(&self, now_ms: i64, consume: bool) -> Result<LimitState, LimitState> {
        let (_, end) = self.roll_to(now_ms);
        let limit = self.limit.limit;
        let state = |used: u64| LimitState {
            limit,
            remaining: limit.saturating_sub(used),
            reset_ms: end,
            reset_secs: seconds_until(end, now_ms),
        };
        if !consume {
            let used = self.used.load(Ordering::Relaxed);
            return if used < limit {
                Ok(state(used))
            } else {
                Err(state(used))
            };
        }
        match self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used < limit).then_some(used + 1)
            }) {
            Ok(before) => {
                self.unsaved.fetch_add(1, Ordering::Relaxed);
                Ok(state(before + 1))
            }
            Err(used) => Err(state(used)),
        }
    }

    /// The requests counted since the last call in the period holding `now_ms`, with its
    /// start, for the store; zero when none. A key not used yet in this period (a new entry,
    /// an instance just started) still names its period, so the store's answer tells this
    /// instance what the others allowed before its first request.
    pub fn take_unsaved(&self, now_ms: i64) -> (OffsetDateTime, u64) {
        let (start, _) = self.roll_to(now_ms);
        (
            crate::key_table::from_millis(start),
            self.unsaved.swap(0, Ordering::Relaxed),
        )
    }

    /// Puts back counts a failed flush took, to be saved with the next one (only if the
    /// period has not moved on meanwhile).
    pub fn restore_unsaved(&self, start: OffsetDateTime, count: u64) {
        if self.window_start.load(Ordering::Relaxed) == millis(start) {
            self.unsaved.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// What every instance has stored for the period starting at `start`: this instance's
    /// count becomes that total plus what it has not saved yet.
    pub fn set_stored_total(&self, start: OffsetDateTime, stored: u64) {
        let start = millis(start);
        if self.window_start.load(Ordering::Relaxed) == start {
            let unsaved = self.unsaved.load(Ordering::Relaxed);
            self.used.store(stored + unsaved, Ordering::Relaxed);
        }
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_policy::UsagePeriod;

    fn window(limit: u32, period_seconds: u32) -> RateWindow {
        RateWindow::new(RateLimit {
            limit,
            period_seconds,
        })
    }

    #[test]
    fn address_ranges_match_the_prefix_test_of_each_range() {
        let nets: Vec<IpNet> = [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "192.0.2.7/32",
            "192.0.2.8/29",
            "0.0.0.0/0",
            "2001:db8::/32",
            "2001:db8:1::/48",
            "::1/128",
        ]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
        // Every subset of a few ranges, against addresses around their edges.
        let probes: Vec<IpAddr> = [
            "9.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "11.0.0.0",
            "192.0.2.6",
            "192.0.2.7",
            "192.0.2.15",
            "192.0.2.16",
            "255.255.255.255",
            "2001:db7:ffff::1",
            "2001:db8::",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "::1",
            "::2",
            "::ffff:10.9.9.9",
            "::ffff:11.0.0.1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for mask in 0u32..(1 << nets.len()) {
            let subset: Vec<IpNet> = nets
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            let ranges = AddressRanges::new(&subset);
            assert_eq!(ranges.is_empty(), subset.is_empty());
            for probe in &probes {
                assert_eq!(
                    ranges.contains(*probe),
                    crate::key_policy::allows(&subset, *probe),
                    "{subset:?} {probe}"
                );
            }
        }
    }

    #[test]
    fn a_burst_gets_exactly_the_limit() {
        let w = window(10, 60);
        let now = 1_800_000_000_000;
        let allowed = (0..30).filter(|_| w.take(now, true).is_ok()).count();
        assert_eq!(allowed, 10);
        let (state, retry) = w.take(now, true).unwrap_err();
        assert_eq!(state.remaining, 0);
        assert!(retry >= 1);
    }

    #[test]
    fn remaining_counts_down_and_an_explanation_consumes_nothing() {
        let w = window(3, 10);
        let now = 1_800_000_000_000;
        assert_eq!(w.take(now, false).unwrap().remaining, 2);
        assert_eq!(w.take(now, true).unwrap().remaining, 2);
        assert_eq!(w.take(now, true).unwrap().remaining, 1);
        assert_eq!(w.take(now, true).unwrap().remaining, 0);
        assert!(w.take(now, false).is_err());
    }

    #[test]
    fn the_window_slides() {
        // 10 a minute, all used at the start of a window.
        let w = window(10, 60);
        // A multiple of 60 s: the start of a window.
        let start = 1_800_000_000_000;
        for _ in 0..10 {
            w.take(start, true).unwrap();
        }
        let (_, retry) = w.take(start + 30_000, true).unwrap_err();
        // Next window: the previous count weighs (60 − elapsed)/60; one request fits once
        // 10 × (60 − e)/60 ≤ 9, i.e. 6 s into it: 36 s from here.
        assert_eq!(retry, 36);
        assert!(w.take(start + 60_000 + 5_000, true).is_err());
        assert!(w.take(start + 60_000 + 6_000, true).is_ok());
        // Half way through the next window, half the previous count still weighs.
        let mut allowed = 1;
        while w.take(start + 90_000, true).is_ok() {
            allowed += 1;
        }
        assert_eq!(allowed, 5);
        // Two windows later nothing weighs.
        let allowed = (0..20)
            .filter(|_| w.take(start + 180_000, true).is_ok())
            .count();
        assert_eq!(allowed, 10);
    }

    #[test]
    fn retry_after_is_when_a_request_fits() {
        for (limit, period, elapsed, previous, current) in [
            (10u64, 60_000i64, 0i64, 10u64, 0u64),
            (10, 60_000, 30_000, 10, 5),
            (10, 60_000, 59_999, 0, 10),
            (1, 1_000, 0, 1, 1),
            (5, 1_000, 500, 7, 1),
        ] {
            let wait = sliding_decision(limit, period, elapsed, previous, current).unwrap_err();
            // A moment before, still no room; at the moment, room (in this window or the
            // next, where `current` becomes `previous`).
            let at = |t: i64| {
                let e = elapsed + t;
                if e < period {
                    sliding_decision(limit, period, e, previous, current)
                } else if e < 2 * period {
                    sliding_decision(limit, period, e - period, current, 0)
                } else {
                    sliding_decision(limit, period, e - 2 * period, 0, 0)
                }
            };
            assert!(
                at(wait).is_ok(),
                "{limit} {elapsed} {previous} {current}: {wait}"
            );
            assert!(
                at(wait - 1).is_err(),
                "{limit} {elapsed} {previous} {current}: {wait}"
            );
        }
    }

    #[test]
    fn usage_counts_up_to_the_limit_and_resets_with_the_period() {
        let count = UsageCount::new(UsageLimit {
            limit: 2,
            period: UsagePeriod::Day,
        });
        let day = 86_400_000;
        let now = 20_000 * day + 5;
        assert_eq!(count.take(now, true).unwrap().remaining, 1);
        assert_eq!(count.take(now, true).unwrap().remaining, 0);
        let refused = count.take(now, true).unwrap_err();
        assert_eq!(refused.reset_ms, Some(20_001 * day));
        let (start, unsaved) = count.take_unsaved(now);
        assert_eq!((millis(start), unsaved), (20_000 * day, 2));
        // Another instance stored 5 more: still refused, and nothing unsaved.
        count.set_stored_total(start, 7);
        assert!(count.take(now, false).is_err());
        assert!(count.take(now + day, true).is_ok());
    }
}
