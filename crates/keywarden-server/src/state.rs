//! What every handler can reach.

use crate::config::Config;
use crate::key_cache::KeyCache;
use crate::metrics::Metrics;
use crate::rate_limit::FailureLimiter;
use crate::routes::forward_auth::RouteTable;
use crate::tokens::TokenIssuer;
use keywarden_core::service::Keywarden;
use std::net::IpAddr;
use std::sync::Arc;

/// The failure limiters of SPEC §3.
#[derive(Debug)]
pub struct Limiters {
    /// Failed key presentations per client address.
    pub keys_per_client: FailureLimiter<IpAddr>,
    /// Failed sign-ins per client address.
    pub sign_ins_per_client: FailureLimiter<IpAddr>,
    /// Failed sign-ins per email.
    pub sign_ins_per_user: FailureLimiter<String>,
}

impl Limiters {
    /// Limiters as configured.
    pub fn new(config: &Config) -> Self {
        let l = &config.limits;
        Self {
            keys_per_client: FailureLimiter::new(l.failed_keys_per_minute, 60),
            sign_ins_per_client: FailureLimiter::new(
                l.failed_sign_ins_per_client,
                l.sign_in_window_secs,
            ),
            sign_ins_per_user: FailureLimiter::new(
                l.failed_sign_ins_per_user,
                l.sign_in_window_secs,
            ),
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
    pub service: Keywarden,
    /// The in-memory key table.
    pub cache: Arc<KeyCache>,
    /// Console tokens.
    pub tokens: Arc<TokenIssuer>,
    /// Failure limits.
    pub limiters: Arc<Limiters>,
    /// Forward-auth routes.
    pub routes: Arc<RouteTable>,
    /// The configuration.
    pub config: Arc<Config>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}
