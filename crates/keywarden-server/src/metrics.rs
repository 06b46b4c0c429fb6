//! `GET /metrics`: Prometheus text exposition of a fixed set of counters and gauges.
//!
//! The counters are plain atomics bumped with relaxed ordering, so counting a key check costs
//! one atomic add and no map lookup or allocation; the text is only built when Prometheus
//! scrapes. Key checks are counted in stripes, one per thread slot and each on its own cache
//! line, so the cores do not take one counter's line from each other on every request; a
//! scrape sums the stripes. A general metrics registry would add a lookup per increment on the
//! verify path for no gain: the set of series is fixed.

use crossbeam_utils::CachePadded;
use keywarden_core::verdict::Outcome;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Outcomes of a key check, in exposition order (core's verdict names them).
const OUTCOMES: [Outcome; Outcome::ALL.len()] = Outcome::ALL;

/// Stripes of the key-check counters: more than the cores of the machines this runs on, so
/// worker threads rarely share one.
const STRIPES: usize = 16;

/// One stripe: a counter per outcome, alone on its cache line.
type Stripe = CachePadded<[AtomicU64; OUTCOMES.len()]>;

/// The stripe of the calling thread: threads take slots in turn as they first count.
fn stripe_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    SLOT.try_with(|slot| *slot).unwrap_or(0)
}

/// What `/metrics` reads from the rest of the process when it is scraped.
#[derive(Clone, Copy, Debug, Default)]
pub struct Readings {
    /// Keys in the in-memory table.
    pub table_keys: usize,
    /// Seconds since the table last caught up with the change feed.
    pub table_age_secs: f64,
    /// Change-feed reads made for unknown keys.
    pub unknown_key_reads: u64,
    /// Password checks refused because every worker and its queue were taken.
    pub passwords_busy: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections refused at the cap.
    pub connections_refused: u64,
    /// Webhook deliveries that got a 2xx answer.
    pub webhooks_delivered: u64,
    /// Webhook attempts that failed and will be tried again.
    pub webhooks_retried: u64,
    /// Webhook deliveries whose last attempt failed.
    pub webhooks_failed: u64,
    /// Webhook events and deliveries waiting, as of the delivery task's last round.
    pub webhook_queue_depth: u64,
    /// Age of the oldest of them then, in seconds.
    pub webhook_oldest_secs: f64,
    /// Rate limits shared through Redis (all zero without `redis_url`).
    pub shared_rates: crate::verify::shared_rate::SharedRateReadings,
}

/// Writes the `# HELP` and `# TYPE` lines of a series.
fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a series of one value, without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    describe(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    checks: [Stripe; STRIPES],
    sign_ins_ok: AtomicU64,
    sign_ins_failed: AtomicU64,
}

impl Metrics {
    /// Counts a key check by its outcome.
    #[inline]
    pub fn key_check(&self, outcome: Outcome) {
        let stripe = self.checks.get(stripe_of_thread());
        if let Some(counter) = stripe.and_then(|s| s.get(outcome.index())) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a sign-in.
    pub fn sign_in(&self, ok: bool) {
        let counter = if ok {
            &self.sign_ins_ok
        } else {
            &self.sign_ins_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text of every series, with `readings` taken at the scrape.
    pub fn render(&self, readings: Readings) -> String {
        let mut out = String::with_capacity(2048);
        let checks = "keywarden_key_checks_total";
        describe(
            &mut out,
            checks,
            "counter",
            "Key checks by outcome (forward-auth and verify).",
        );
        for (i, outcome) in OUTCOMES.iter().enumerate() {
            let total: u64 = self
                .checks
                .iter()
                .filter_map(|stripe| stripe.get(i))
                .map(|counter| counter.load(Ordering::Relaxed))
                .sum();
            let _ = writeln!(out, "{checks}{{outcome=\"{}\"}} {total}", outcome.code());
        }
        let sign_ins = "keywarden_sign_ins_total";
        describe(&mut out, sign_ins, "counter", "Console sign-ins by result.");
        for (result, counter) in [("ok", &self.sign_ins_ok), ("failed", &self.sign_ins_failed)] {
            let total = counter.load(Ordering::Relaxed);
            let _ = writeln!(out, "{sign_ins}{{result=\"{result}\"}} {total}");
        }
        let r = readings;
        for (name, kind, help, value) in [
            (
                "keywarden_password_checks_refused_total",
                "counter",
                "Sign-ins and password changes answered 503 because every password worker and its queue were taken.",
                r.passwords_busy,
            ),
            (
                "keywarden_connections_open",
                "gauge",
                "HTTP connections open now.",
                r.connections_open,
            ),
            (
                "keywarden_connections_refused_total",
                "counter",
                "Connections closed at once because limits.max_connections were open.",
                r.connections_refused,
            ),
            (
                "keywarden_key_table_keys",
                "gauge",
                "Keys held in the in-memory key table.",
                r.table_keys as u64,
            ),
        ] {
            single(&mut out, name, kind, help, value);
        }
        single(
            &mut out,
            "keywarden_key_table_age_seconds",
            "gauge",
            "Time since the key table was last known current.",
            format_args!("{:.3}", r.table_age_secs),
        );
        single(
            &mut out,
            "keywarden_unknown_key_feed_reads_total",
            "counter",
            "Change-feed reads made because a well-formed key was not in the table (at most one per 25 ms).",
            r.unknown_key_reads,
        );
        let deliveries = "keywarden_webhook_deliveries_total";
        describe(
            &mut out,
            deliveries,
            "counter",
            "Webhook attempts by outcome: delivered (2xx), retried (failed, tried again later), failed (the last attempt failed).",
        );
        for (outcome, total) in [
            ("delivered", r.webhooks_delivered),
            ("retried", r.webhooks_retried),
            ("failed", r.webhooks_failed),
        ] {
            let _ = writeln!(out, "{deliveries}{{outcome=\"{outcome}\"}} {total}");
        }
        single(
            &mut out,
            "keywarden_webhook_queue_depth",
            "gauge",
            "Webhook events not yet fanned out plus deliveries waiting for an attempt (as of the delivery task's last round).",
            r.webhook_queue_depth,
        );
        single(
            &mut out,
            "keywarden_webhook_oldest_undelivered_seconds",
            "gauge",
            "Age of the oldest of them (0 when there is none).",
            format_args!("{:.3}", r.webhook_oldest_secs),
        );
        single(
            &mut out,
            "keywarden_rate_limit_redis_degraded",
            "gauge",
            "1 while Redis failed or was slow and each instance counts rate limits alone; 0 otherwise (and without redis_url).",
            u8::from(r.shared_rates.degraded),
        );
        let decided = "keywarden_rate_limit_decisions_total";
        describe(
            &mut out,
            decided,
            "counter",
            "Requests of rate-limited keys, with redis_url set, by where their limit was decided: shared (Redis answered) or local (Redis failed or was slow).",
        );
        for (place, total) in [
            ("shared", r.shared_rates.shared),
            ("local", r.shared_rates.fallbacks),
        ] {
            let _ = writeln!(out, "{decided}{{by=\"{place}\"}} {total}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_outcome_and_counts() {
        let m = Metrics::default();
        m.key_check(Outcome::Valid);
        m.key_check(Outcome::Valid);
        m.key_check(Outcome::KeyRevoked);
        m.sign_in(false);
        let text = m.render(Readings {
            table_keys: 7,
            table_age_secs: 0.25,
            unknown_key_reads: 4,
            passwords_busy: 3,
            connections_open: 5,
            connections_refused: 6,
            webhooks_delivered: 8,
            webhooks_retried: 2,
            webhooks_failed: 1,
            webhook_queue_depth: 4,
            webhook_oldest_secs: 12.5,
            shared_rates: crate::verify::shared_rate::SharedRateReadings {
                degraded: true,
                shared: 9,
                fallbacks: 10,
            },
        });
        assert!(text.contains("keywarden_key_checks_total{outcome=\"valid\"} 2\n"));
        assert!(text.contains("keywarden_key_checks_total{outcome=\"key_revoked\"} 1\n"));
        assert!(text.contains("keywarden_key_checks_total{outcome=\"key_expired\"} 0\n"));
        assert!(text.contains("keywarden_sign_ins_total{result=\"failed\"} 1\n"));
        assert!(text.contains("keywarden_key_table_keys 7\n"));
        assert!(text.contains("keywarden_password_checks_refused_total 3\n"));
        assert!(text.contains("keywarden_unknown_key_feed_reads_total 4\n"));
        assert!(text.contains("keywarden_connections_open 5\n"));
        assert!(text.contains("keywarden_connections_refused_total 6\n"));
        assert!(text.contains("keywarden_key_table_age_seconds 0.250\n"));
        assert!(text.contains("keywarden_webhook_deliveries_total{outcome=\"delivered\"} 8\n"));
        assert!(text.contains("keywarden_webhook_deliveries_total{outcome=\"retried\"} 2\n"));
        assert!(text.contains("keywarden_webhook_deliveries_total{outcome=\"failed\"} 1\n"));
        assert!(text.contains("keywarden_webhook_queue_depth 4\n"));
        assert!(text.contains("keywarden_webhook_oldest_undelivered_seconds 12.500\n"));
        assert!(text.contains("keywarden_rate_limit_redis_degraded 1\n"));
        assert!(text.contains("keywarden_rate_limit_decisions_total{by=\"shared\"} 9\n"));
        assert!(text.contains("keywarden_rate_limit_decisions_total{by=\"local\"} 10\n"));
    }

    #[test]
    fn counts_from_more_threads_than_stripes_all_add_up() {
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..STRIPES + 5 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        m.key_check(Outcome::Valid);
                    }
                    m.key_check(Outcome::KeyExpired);
                });
            }
        });
        let text = m.render(Readings::default());
        let valid = (STRIPES + 5) * 1_000;
        assert!(
            text.contains(&format!(
                "keywarden_key_checks_total{{outcome=\"valid\"}} {valid}\n"
            )),
            "{text}"
        );
        let expired = STRIPES + 5;
        assert!(text.contains(&format!(
            "keywarden_key_checks_total{{outcome=\"key_expired\"}} {expired}\n"
        )));
    }
}
