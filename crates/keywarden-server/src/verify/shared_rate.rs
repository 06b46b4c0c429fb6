//! Rate limits shared by every instance through Redis (SPEC §9, `redis_url`).
//!
//! The local window of each key (core's `key_limits::RateWindow`) always counts, so an instance
//! can fall back to it at once. With Redis configured, a request the local window allows asks
//! Redis too: one round trip (`EVALSHA` of a small script, the same sliding-window arithmetic
//! over the instances' common count), and Redis's answer decides. Keys without a rate limit
//! never reach this module.
//!
//! A Redis that errs or takes longer than [`BUDGET`] is left alone for [`PAUSE`]: requests are
//! answered from the local window meanwhile (`/metrics` says degraded, the log says so once),
//! then the next request tries Redis again, reconnecting first if the connection was lost.

use keywarden_core::ids::KeyId;
use keywarden_core::key_limits::{LimitState, sliding_decision};
use keywarden_core::key_policy::RateLimit;
use keywarden_core::key_usage::Use;
use keywarden_core::verdict::Refusal;
use redis::aio::MultiplexedConnection;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// The most a request waits for Redis.
pub const BUDGET: Duration = Duration::from_millis(5);
/// How long Redis is left alone after it failed or was slow.
pub const PAUSE: Duration = Duration::from_secs(1);
/// The most a reconnection may take (in the background, never on a request).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: this window's count, the previous window's. ARGV: limit, period (ms), elapsed (ms)
/// into this window. Counts one request if the sliding estimate leaves room; answers
/// `{allowed, this window's count before, previous window's count}`.
const SCRIPT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
if previous * (period - elapsed) + (current + 1) * period <= limit * period then
  redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], 2 * period)
  return {1, current, previous}
end
return {0, current, previous}
";

/// The connection to Redis and its health.
pub struct SharedRateLimits {
    client: redis::Client,
    script: redis::Script,
    connection: RwLock<Option<MultiplexedConnection>>,
    connecting: AtomicBool,
    /// Until when Redis is left alone (Unix milliseconds; 0 when healthy).
    paused_until: AtomicI64,
    degraded: AtomicBool,
    shared: AtomicU64,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for SharedRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("SharedRateLimits")
            .field("degraded", &self.degraded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What `/metrics` shows of the shared rate limits.
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedRateReadings {
    /// Whether requests are answered from the local windows because Redis failed.
    pub degraded: bool,
    /// Requests decided by Redis.
    pub shared: u64,
    /// Requests of rate-limited keys decided locally because Redis failed or was slow.
    pub fallbacks: u64,
}

impl SharedRateLimits {
    /// A client for `url` (`redis://…`); the connection is made in the background.
    pub fn new(url: &str) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url: {e}"))?;
        let shared = Arc::new(Self {
            client,
            script: redis::Script::new(SCRIPT),
            connection: RwLock::new(None),
            connecting: AtomicBool::new(false),
            paused_until: AtomicI64::new(0),
            degraded: AtomicBool::new(false),
            shared: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        });
        shared.reconnect_in_background();
        Ok(shared)
    }

    /// The figures for `/metrics`.
    pub fn readings(&self) -> SharedRateReadings {
        SharedRateReadings {
            degraded: self.degraded.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
        }
    }

    /// Counts one request of `key` against its shared window at `now_ms`: `Some` with
    /// Redis's verdict, or `None` when Redis is away, failed or slow (the local verdict
    /// stands).
    pub async fn take(
        self: &Arc<Self>,
        key: KeyId,
        limit: RateLimit,
        now_ms: i64,
    ) -> Option<Result<LimitState, (LimitState, u64)>> {
        if now_ms < self.paused_until.load(Ordering::Relaxed) {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let Some(mut connection) = self.connection() else {
            self.fail(now_ms, "no connection to Redis");
            self.reconnect_in_background();
            return None;
        };
        let period = i64::from(limit.period_seconds) * 1000;
        let window = now_ms - now_ms.rem_euclid(period);
        let index = window / period;
        let elapsed = now_ms - window;
        let mut invocation = self.script.key(format!("keywarden:rate:{}:{index}", key.0));
        invocation
            .key(format!("keywarden:rate:{}:{}", key.0, index - 1))
            .arg(limit.limit)
            .arg(period)
            .arg(elapsed);
        let answer = tokio::time::timeout(
            BUDGET,
            invocation.invoke_async::<(i64, u64, u64)>(&mut connection),
        )
        .await;
        let (allowed, current, previous) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                // An error (not mere slowness): make a fresh connection in the background.
                *self
                    .connection
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                self.fail(now_ms, &e.to_string());
                self.reconnect_in_background();
                return None;
            }
            Err(_) => {
                self.fail(now_ms, "Redis took longer than 5 ms");
                return None;
            }
        };
        self.shared.fetch_add(1, Ordering::Relaxed);
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis answers again: rate limits are shared by every instance");
        }
        let limit_n = u64::from(limit.limit);
        let reset_ms = Some(window + period);
        let reset_secs = u64::try_from(window + period - now_ms)
            .unwrap_or(0)
            .div_ceil(1000);
        let state = |remaining| LimitState {
            limit: limit_n,
            remaining,
            reset_ms,
            reset_secs,
        };
        let decision = sliding_decision(limit_n, period, elapsed, previous, current);
        Some(match (allowed == 1, decision) {
            (true, Ok(remaining)) => Ok(state(remaining)),
            // Redis counted it: the arithmetic agrees, so this is only a guard.
            (true, Err(_)) => Ok(state(0)),
            (false, Err(wait_ms)) => Err((
                state(0),
                u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1),
            )),
            (false, Ok(_)) => Err((state(0), 1)),
        })
    }

    fn connection(&self) -> Option<MultiplexedConnection> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Redis failed or was slow: answer locally for [`PAUSE`].
    fn fail(&self, now_ms: i64, why: &str) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let pause = i64::try_from(PAUSE.as_millis()).unwrap_or(1000);
        self.paused_until.store(now_ms + pause, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "Redis failed or was slow: rate limits are counted by each instance alone until it answers again"
            );
        }
    }

    /// Connects in a task of its own, one attempt at a time.
    fn reconnect_in_background(self: &Arc<Self>) {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.connecting.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            // The script is loaded with the connection, so that no request pays the
            // EVALSHA → NOSCRIPT → SCRIPT LOAD → EVALSHA of a Redis that has not seen it.
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let mut connection = this.client.get_multiplexed_async_connection().await?;
                this.script.load_async(&mut connection).await?;
                Ok::<_, redis::RedisError>(connection)
            })
            .await;
            match connected {
                Ok(Ok(connection)) => {
                    *this
                        .connection
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = Some(connection);
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot connect to Redis yet"),
                Err(_) => tracing::debug!("connecting to Redis took too long"),
            }
            this.connecting.store(false, Ordering::Release);
        });
    }
}

/// The shared verdict for a request the local checks accepted: for a key with a rate limit,
/// when Redis is configured and answers within [`BUDGET`], Redis's window decides (its state
/// replaces `local`); otherwise `local` stands. A refusal here moves the use, counted as
/// allowed by the local checks, to `key_rate_limited` in the usage tally.
pub async fn decide(
    state: &crate::state::AppState,
    used: Use,
    limit: Option<RateLimit>,
    local: Option<LimitState>,
) -> Result<Option<LimitState>, Refusal> {
    let (Some(shared), Some(limit)) = (&state.shared_rates, limit) else {
        return Ok(local);
    };
    match shared
        .take(used.key_id, limit, state.service.clock().unix_millis())
        .await
    {
        None => Ok(local),
        Some(Ok(rate)) => Ok(Some(rate)),
        Some(Err((rate, retry_after))) => {
            let refusal = Refusal::KeyRateLimited {
                state: rate,
                retry_after,
            };
            state.keys.overrule(used, refusal.outcome());
            Err(refusal)
        }
    }
}
