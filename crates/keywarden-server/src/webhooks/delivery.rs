//! Sending deliveries (SPEC §7): a background task fans new outbox events out to endpoints,
//! claims due deliveries and sends each on a task of its own, at most
//! `webhooks.max_concurrent_deliveries` at once, over one HTTP client with a small connection
//! pool. Nothing here runs on a request's path: a slow or dead receiver costs a task and a
//! permit, never a verify or console answer.
//!
//! Every attempt is recorded with what it led to: a 2xx answer is delivered; anything else —
//! another status (redirects are not followed), a timeout after 10 s, a refused connection, a
//! refused address — is tried again after [`wait_after`], until [`MAX_ATTEMPTS`]. A claim
//! lasts `webhooks.lease_secs`: an instance that dies mid-send leaves its deliveries to be
//! claimed again when the lease ends, so delivery is at least once. Every time stored or
//! compared comes from the service's clock; the wall clock only paces the polling.

use crate::config::WebhooksConfig;
use crate::webhooks::body::{self, KeyView};
use crate::webhooks::reminders;
use crate::webhooks::targets::{self, GuardedResolver};
use keywarden_core::scope::Catalog;
use keywarden_core::store::{Attempt, AttemptResult, Backlog, ClaimedDelivery, Store, StoreError};
use keywarden_core::webhook::retry::{MAX_ATTEMPTS, wait_after};
use keywarden_core::webhook::signing::{SecretSeal, signature_header};
use keywarden_core::webhook::targets::is_private;
use keywarden_core::{Clock, OsRandom, RandomSource};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// Outbox events fanned out per query.
const DISPATCH_BATCH: u32 = 100;
/// Most dispatch queries in one round (the rest wait for the next round).
const DISPATCH_PAGES: u32 = 10;
/// Idle connections kept per receiving host.
const IDLE_PER_HOST: usize = 2;
/// Longest error text recorded for an attempt.
const MAX_ERROR_LEN: usize = 300;
/// Most bytes of an answer read (so the connection can be reused); the rest is dropped.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Delivery counts and the backlog, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    queued: AtomicU64,
    /// `f64` bits: seconds since the oldest undelivered event was created.
    oldest_secs: AtomicU64,
}

impl DeliveryStats {
    /// Deliveries that got a 2xx answer.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Attempts that failed and will be tried again.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Deliveries whose last attempt failed.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Events not yet fanned out plus deliveries pending, at the last round.
    pub fn queue_depth(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Age of the oldest of them at the last round, in seconds (0 when there is none).
    pub fn oldest_undelivered_secs(&self) -> f64 {
        f64::from_bits(self.oldest_secs.load(Ordering::Relaxed))
    }

    fn count(&self, result: AttemptResult) {
        let counter = match result {
            AttemptResult::Delivered => &self.delivered,
            AttemptResult::RetryAt(_) => &self.retried,
            AttemptResult::GaveUp => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn backlog(&self, backlog: Backlog, now: OffsetDateTime) {
        let age = backlog
            .oldest
            .map(|oldest| (now - oldest).as_seconds_f64().max(0.0))
            .unwrap_or(0.0);
        self.queued.store(backlog.queued, Ordering::Relaxed);
        self.oldest_secs.store(age.to_bits(), Ordering::Relaxed);
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Outbox events fanned out.
    pub dispatched: u32,
    /// Deliveries claimed and sent.
    pub sent: usize,
}

/// Why a delivery could not be sent, before any request left.
enum NotSent {
    /// The attempt counts: the target or the endpoint's secret is refused.
    Refused(String),
    /// The store could not be read: the attempt is not made, and the delivery is claimed
    /// again when its lease ends.
    Store(StoreError),
}

/// The delivery side of webhooks: the client, the seal that opens endpoint secrets, the
/// bound on concurrent sends, the counters.
#[derive(Debug)]
pub struct WebhookWorker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    seal: SecretSeal,
    client: reqwest::Client,
    allow_private: bool,
    lease: time::Duration,
    poll_every: Duration,
    scan_every: Duration,
    permits: Arc<Semaphore>,
    /// The permits there are in all.
    capacity: u32,
    stats: DeliveryStats,
}

impl WebhookWorker {
    /// The worker of this instance: one HTTP client (no redirects, a 10 s limit per request,
    /// a small pool, the guarded resolver), secrets opened with `seal` (the service's, which
    /// sealed them).
    pub fn new(
        config: &WebhooksConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        seal: SecretSeal,
    ) -> Result<Self, crate::tls::ClientError> {
        let client = crate::tls::http_client_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(WebhooksConfig::REQUEST_TIMEOUT_SECS))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .pool_idle_timeout(Duration::from_secs(30))
            // A proxy would resolve the target itself, past the guarded resolver.
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allow_private: config.allow_private_targets,
            })
            .user_agent(concat!("Keywarden-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let capacity = u32::try_from(config.max_concurrent_deliveries.clamp(1, 1_024)).unwrap_or(1);
        Ok(Self {
            store,
            clock,
            catalog,
            seal,
            client,
            allow_private: config.allow_private_targets,
            lease: time::Duration::seconds(i64::try_from(config.lease_secs).unwrap_or(60)),
            poll_every: Duration::from_millis(config.poll_interval_ms.max(1)),
            scan_every: Duration::from_secs(config.reminder_interval_secs.max(1)),
            permits: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            stats: DeliveryStats::default(),
        })
    }

    /// The seal endpoint secrets are stored under.
    pub fn seal(&self) -> &SecretSeal {
        &self.seal
    }

    /// Delivery counts and the backlog.
    pub fn stats(&self) -> &DeliveryStats {
        &self.stats
    }

    /// One round at the clock's time, waiting for every send it started: what tests call
    /// after moving the clock. The background task does the same without waiting.
    pub async fn run_once(self: &Arc<Self>) -> Result<Round, StoreError> {
        let (round, sends) = self.start_round().await?;
        for send in sends {
            if let Err(e) = send.await {
                tracing::warn!(error = %e, "a webhook delivery task ended abnormally");
            }
        }
        Ok(round)
    }

    /// One reminder scan at the clock's time; returns the reminders recorded.
    pub async fn scan_reminders(&self) -> Result<u32, StoreError> {
        reminders::scan(self.store.as_ref(), self.clock.now()).await
    }

    /// Fans out new events, claims as many due deliveries as there are free permits and
    /// starts sending them; refreshes the backlog figures.
    async fn start_round(
        self: &Arc<Self>,
    ) -> Result<(Round, Vec<tokio::task::JoinHandle<()>>), StoreError> {
        let now = self.clock.now();
        let mut round = Round::default();
        for _ in 0..DISPATCH_PAGES {
            let dispatched = self.store.dispatch_events(now, DISPATCH_BATCH).await?;
            round.dispatched += dispatched;
            if dispatched < DISPATCH_BATCH {
                break;
            }
        }
        let free = u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX);
        let mut sends = Vec::new();
        if free > 0 {
            // The lease starts when the claim is made, not when the round began.
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_deliveries(now, now + self.lease, free)
                .await?;
            for delivery in claimed {
                // Only this round takes permits between the count above and here, save a
                // test's `run_once`; then this waits for a send to end (10 s at most).
                let Ok(permit) = self.permits.clone().acquire_owned().await else {
                    break;
                };
                let worker = Arc::clone(self);
                sends.push(tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(permit);
                }));
            }
        }
        round.sent = sends.len();
        let backlog = self.store.webhook_backlog().await?;
        self.stats.backlog(backlog, self.clock.now());
        Ok((round, sends))
    }

    /// Makes one attempt and records it.
    async fn deliver(&self, claimed: ClaimedDelivery) {
        let at = self.clock.now();
        let number = claimed.delivery.attempts.saturating_add(1);
        let timer = tokio::time::Instant::now();
        let (status, error) = match self.send(&claimed, at).await {
            Ok(status) => (Some(status), None),
            Err(NotSent::Refused(why)) => (None, Some(why)),
            Err(NotSent::Store(e)) => {
                tracing::warn!(delivery = %claimed.delivery.id, error = %e,
                    "cannot prepare a webhook delivery; it is tried again when its claim ends");
                return;
            }
        };
        let duration_ms = u32::try_from(timer.elapsed().as_millis()).unwrap_or(u32::MAX);
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let result = if delivered {
            AttemptResult::Delivered
        } else {
            match wait_after(number, jitter()) {
                Some(wait) if number < MAX_ATTEMPTS => {
                    AttemptResult::RetryAt(self.clock.now() + wait)
                }
                _ => AttemptResult::GaveUp,
            }
        };
        let attempt = Attempt {
            delivery_id: claimed.delivery.id,
            number,
            at,
            status,
            error,
            duration_ms,
        };
        match self.store.finish_attempt(&attempt, result).await {
            Ok(()) => {
                self.stats.count(result);
                if result == AttemptResult::GaveUp {
                    tracing::warn!(delivery = %claimed.delivery.id, endpoint = %claimed.endpoint.id,
                        attempts = number, "a webhook delivery failed for good; its endpoint is marked failing");
                }
            }
            Err(e) => tracing::warn!(delivery = %claimed.delivery.id, error = %e,
                "cannot record a webhook attempt; the delivery is tried again when its claim ends"),
        }
    }

    /// Builds the request and sends it; the answer's status, or why there is none.
    async fn send(&self, claimed: &ClaimedDelivery, now: OffsetDateTime) -> Result<u16, NotSent> {
        let endpoint = &claimed.endpoint;
        let url = targets::parse(&endpoint.url)
            .map_err(|e| NotSent::Refused(format!("refused target: {e}")))?;
        if let Some(ip) = targets::literal_ip(&url).filter(|ip| is_private(*ip))
            && !self.allow_private
        {
            return Err(NotSent::Refused(format!(
                "refused target: {ip} is a loopback, private or link-local address \
                 (the operator can allow private targets with [webhooks] allow_private_targets)"
            )));
        }
        let current = self
            .seal
            .open(&endpoint.sealed_secret)
            .map_err(|e| NotSent::Refused(e.to_string()))?;
        let previous = match &endpoint.previous_secret {
            Some((sealed, until)) if now < *until => match self.seal.open(sealed) {
                Ok(secret) => Some(secret),
                Err(e) => {
                    tracing::warn!(endpoint = %endpoint.id, error = %e,
                        "the previous webhook secret does not open; signing with the current one only");
                    None
                }
            },
            _ => None,
        };
        let rotation_period_days = match &claimed.key {
            Some(key) => self
                .store
                .account(key.account_id)
                .await
                .map_err(NotSent::Store)?
                .map(|a| a.rotation_period_days)
                .unwrap_or(keywarden_core::account::DEFAULT_ROTATION_PERIOD_DAYS),
            None => keywarden_core::account::DEFAULT_ROTATION_PERIOD_DAYS,
        };
        // The key as the API shows it, creator named as the API names them.
        let creator_email = match claimed.key.as_ref().and_then(|k| k.created_by) {
            Some(id) => self
                .store
                .user(id)
                .await
                .map_err(NotSent::Store)?
                .filter(|u| {
                    claimed
                        .key
                        .as_ref()
                        .is_some_and(|k| k.account_id == u.account_id)
                })
                .map(|u| u.email),
            None => None,
        };
        let key = claimed.key.as_ref().map(|record| KeyView {
            record,
            rotation_period_days,
            creator_email,
        });
        let body = body::render(
            claimed.delivery.event_type,
            &claimed.event,
            key,
            &self.catalog,
            now,
        )
        .map_err(|e| NotSent::Store(StoreError::Other(format!("cannot render the body: {e}"))))?;
        let id = claimed.delivery.event_id.to_string();
        let timestamp = now.unix_timestamp();
        let signature = signature_header(&current, previous.as_ref(), &id, timestamp, &body);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| NotSent::Refused(describe(e)))?;
        let status = response.status().as_u16();
        drain(response).await;
        Ok(status)
    }
}

/// Reads a little of an answer, so a short one leaves its connection reusable.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read <= MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

/// What went wrong with a request, without its URL (which may carry a token).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        format!(
            "no answer within {} s",
            WebhooksConfig::REQUEST_TIMEOUT_SECS
        )
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A uniform random number in [0, 1) for the retry jitter (0.5 if the OS source fails).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match OsRandom.fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Runs until `shutdown` turns true: a delivery round every `poll_interval_ms`, a reminder
/// scan every `reminder_interval_secs`. At shutdown, sends in flight get the request timeout,
/// but no more than `grace` (the server's shutdown grace, which runs at the same time), to
/// finish and be recorded; one still running then is claimed again after its lease.
pub async fn run(
    worker: Arc<WebhookWorker>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) {
    let mut poll = tokio::time::interval(worker.poll_every);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut scan = tokio::time::interval(worker.scan_every);
    scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deliveries = async {
        let mut failures = 0u32;
        loop {
            poll.tick().await;
            match worker.start_round().await {
                Ok(_) => failures = 0,
                Err(e) => {
                    // The first failure of a run, then about once a minute at the default
                    // interval: a database outage must not flood the log.
                    if failures.is_multiple_of(240) {
                        tracing::warn!(error = %e, failures = failures + 1,
                            "webhook delivery round failed; trying again");
                    }
                    failures = failures.saturating_add(1);
                }
            }
        }
    };
    let scans = async {
        loop {
            scan.tick().await;
            if let Err(e) = worker.scan_reminders().await {
                tracing::warn!(error = %e, "webhook reminder scan failed; trying again");
            }
        }
    };
    tokio::select! {
        () = deliveries => {}
        () = scans => {}
        _ = shutdown.changed() => {}
    }
    let grace = grace.min(Duration::from_secs(
        WebhooksConfig::REQUEST_TIMEOUT_SECS + 1,
    ));
    if tokio::time::timeout(grace, worker.permits.acquire_many(worker.capacity))
        .await
        .is_err()
    {
        tracing::warn!(
            "webhook deliveries still in flight at shutdown; they are sent again after their lease"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1_000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn the_backlog_age_is_never_negative() {
        let stats = DeliveryStats::default();
        let now = time::macros::datetime!(2026-06-01 12:00 UTC);
        stats.backlog(
            Backlog {
                queued: 3,
                oldest: Some(now - time::Duration::seconds(90)),
            },
            now,
        );
        assert_eq!(stats.queue_depth(), 3);
        assert!((stats.oldest_undelivered_secs() - 90.0).abs() < 1e-9);
        stats.backlog(
            Backlog {
                queued: 0,
                oldest: Some(now + time::Duration::seconds(5)),
            },
            now,
        );
        assert_eq!(stats.oldest_undelivered_secs(), 0.0);
        stats.backlog(Backlog::default(), now);
        assert_eq!(stats.oldest_undelivered_secs(), 0.0);
    }
}
