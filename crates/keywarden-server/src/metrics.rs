//! `GET /metrics`: Prometheus text exposition of a fixed set of counters and gauges.
//!
//! The counters are plain atomics bumped with relaxed ordering, so counting a key check costs
//! one atomic add and no map lookup or allocation; the text is only built when Prometheus
//! scrapes. Key checks are counted in stripes, one per thread slot and each on its own cache
//! line, so the cores do not take one counter's line from each other on every request; a
//! scrape sums the stripes. A general metrics registry would add a lookup per increment on the
//! verify path for no gain: the set of series is fixed.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use crossbeam_utils::CachePadded;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Outcomes of a key check, in exposition order.
const OUTCOMES: [&str; 9] = [
    "valid",
    "invalid_key_format",
    "key_not_found",
    "key_revoked",
    "key_rotated",
    "key_expired",
    "insufficient_scope",
    "rate_limited",
    "unavailable",
];

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

/// The process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    checks: [Stripe; STRIPES],
    sign_ins_ok: AtomicU64,
    sign_ins_failed: AtomicU64,
}

impl Metrics {
    /// Counts a key check by its outcome code (`valid` or an error code of SPEC §3).
    #[inline]
    pub fn key_check(&self, outcome: &str) {
        let index = OUTCOMES.iter().position(|o| *o == outcome);
        let stripe = self.checks.get(stripe_of_thread());
        if let Some(counter) = index.and_then(|i| stripe?.get(i)) {
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

    fn render(&self, keys: usize, table_age_secs: f64) -> String {
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP keywarden_key_checks_total Key checks by outcome (forward-auth and verify)."
        );
        let _ = writeln!(out, "# TYPE keywarden_key_checks_total counter");
        for (i, outcome) in OUTCOMES.iter().enumerate() {
            let total: u64 = self
                .checks
                .iter()
                .filter_map(|stripe| stripe.get(i))
                .map(|counter| counter.load(Ordering::Relaxed))
                .sum();
            let _ = writeln!(
                out,
                "keywarden_key_checks_total{{outcome=\"{outcome}\"}} {total}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP keywarden_sign_ins_total Console sign-ins by result."
        );
        let _ = writeln!(out, "# TYPE keywarden_sign_ins_total counter");
        let _ = writeln!(
            out,
            "keywarden_sign_ins_total{{result=\"ok\"}} {}",
            self.sign_ins_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "keywarden_sign_ins_total{{result=\"failed\"}} {}",
            self.sign_ins_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP keywarden_key_table_keys Keys held in the in-memory key table."
        );
        let _ = writeln!(out, "# TYPE keywarden_key_table_keys gauge");
        let _ = writeln!(out, "keywarden_key_table_keys {keys}");
        let _ = writeln!(
            out,
            "# HELP keywarden_key_table_age_seconds Time since the key table was last known current."
        );
        let _ = writeln!(out, "# TYPE keywarden_key_table_age_seconds gauge");
        let _ = writeln!(out, "keywarden_key_table_age_seconds {table_age_secs:.3}");
        out
    }
}

/// `GET /metrics`
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    description = "Key checks by outcome, sign-ins, the key table's size and age, in the \
                   Prometheus text format.",
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let now = state.service.clock().unix_millis();
    let age = state.cache.age_millis(now) as f64 / 1000.0;
    let text = state.metrics.render(state.cache.len(), age);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_outcome_and_counts() {
        let m = Metrics::default();
        m.key_check("valid");
        m.key_check("valid");
        m.key_check("key_revoked");
        m.key_check("not-an-outcome");
        m.sign_in(false);
        let text = m.render(7, 0.25);
        assert!(text.contains("keywarden_key_checks_total{outcome=\"valid\"} 2\n"));
        assert!(text.contains("keywarden_key_checks_total{outcome=\"key_revoked\"} 1\n"));
        assert!(text.contains("keywarden_key_checks_total{outcome=\"key_expired\"} 0\n"));
        assert!(text.contains("keywarden_sign_ins_total{result=\"failed\"} 1\n"));
        assert!(text.contains("keywarden_key_table_keys 7\n"));
        assert!(text.contains("keywarden_key_table_age_seconds 0.250\n"));
    }

    #[test]
    fn counts_from_more_threads_than_stripes_all_add_up() {
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..STRIPES + 5 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        m.key_check("valid");
                    }
                    m.key_check("key_expired");
                });
            }
        });
        let text = m.render(0, 0.0);
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
