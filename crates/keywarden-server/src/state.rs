//! What every handler can reach.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::password_pool::PasswordPool;
use crate::tokens::TokenIssuer;
use crate::verify::route_table::RouteTable;
use crate::verify::synced_table::SyncedKeyTable;
use keywarden_core::failure_limit::FailureLimiter;
use keywarden_core::service::AccountService;
use keywarden_core::service::sign_in::SignIns;
use std::net::IpAddr;
use std::sync::Arc;

/// Users added with an email in use, per account and hour, before 429.
pub const EMAIL_CONFLICTS_PER_HOUR: u32 = 10;

/// The failure limiters of SPEC §3 that the HTTP layer applies (sign-in's are in
/// [`SignIns`]).
#[derive(Debug)]
pub struct Limiters {
    /// Failed key presentations per client address.
    pub keys_per_client: FailureLimiter<IpAddr>,
    /// Users added with an email already in use, per account: an email is one identity on the
    /// whole service (decision 0006), so a 409 says the address is in use somewhere; this
    /// limit keeps an admin from probing many addresses that way.
    pub email_conflicts_per_account: FailureLimiter<keywarden_core::ids::AccountId>,
}

impl Limiters {
    /// Limiters as configured.
    pub fn new(config: &Config) -> Self {
        let l = &config.limits;
        Self {
            keys_per_client: FailureLimiter::new(l.failed_keys_per_minute, 60),
            email_conflicts_per_account: FailureLimiter::new(EMAIL_CONFLICTS_PER_HOUR, 3600),
        }
    }
}

/// Shared state: one reference-counted pointer, so the two clones axum makes per request
/// (route service, `State` extractor) are one counter update each rather than one per part.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared parts.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What handlers reach through [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Domain services (store, hasher, catalog, clock).
    pub service: AccountService,
    /// The in-memory key table, kept in sync with the store.
    pub keys: Arc<SyncedKeyTable>,
    /// Console tokens.
    pub tokens: Arc<TokenIssuer>,
    /// Failure limits of the key checks and user changes.
    pub limiters: Arc<Limiters>,
    /// Sign-in's limits, password checks and failure records (the rules are in core).
    pub sign_ins: SignIns,
    /// Forward-auth routes.
    pub routes: Arc<RouteTable>,
    /// The configuration.
    pub config: Arc<Config>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The bounded password-hashing workers.
    pub passwords: Arc<PasswordPool>,
    /// The connection loop's counters.
    pub connections: Arc<crate::connections::ConnectionStats>,
    /// The OpenAPI document as served (with this catalog's scope names).
    pub openapi: String,
    /// Webhook delivery: its client, the seal of endpoint secrets, its figures.
    pub webhooks: Arc<crate::webhooks::WebhookWorker>,
    /// GitHub's secret scanning public keys, which sign leak reports.
    pub github_keys: Arc<crate::leaks::github_keys::GitHubKeys>,
    /// Rate limits shared through Redis, when `redis_url` is configured.
    pub shared_rates: Option<Arc<crate::verify::shared_rate::SharedRateLimits>>,
    /// Canary presentations on their way to the audit trail, off the request path.
    pub canaries: crate::verify::canary_trips::CanaryTrips,
}
