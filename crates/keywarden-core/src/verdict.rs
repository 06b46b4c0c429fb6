//! The verdict of a key check: every way a presented key can be answered, as one type.
//!
//! [`Refusal`] is the one word for "no" on the verify path, from the `Authorization` header to
//! the answer; its [`Outcome`] carries the wire code, the metrics label and the HTTP status, so
//! the server maps nothing by hand and a new refusal is one variant here and one step in
//! [`crate::check`].

use crate::ids::{AccountId, KeyId};
use crate::key_format::KeyFormatError;
use crate::key_limits::LimitState;
use crate::key_record::Stopped;
use crate::scope::{Access, Catalog, Scope, ScopeSet};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;

/// How a key check ended, without its details: what `/metrics` counts and what the wire
/// `code` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The key may make the request.
    Valid,
    /// `invalid_key_format`
    InvalidKeyFormat,
    /// `key_not_found`
    KeyNotFound,
    /// `key_revoked`
    KeyRevoked,
    /// `key_rotated`
    KeyRotated,
    /// `key_expired`
    KeyExpired,
    /// `insufficient_scope`
    InsufficientScope,
    /// `ip_not_allowed`: the key's allowlist does not hold the client's address.
    IpNotAllowed,
    /// `key_rate_limited`: the key's own rate limit.
    KeyRateLimited,
    /// `usage_limit_exceeded`: the key's usage limit for its period.
    UsageLimitExceeded,
    /// `rate_limited`
    RateLimited,
    /// `unavailable`: the key table is too old to trust.
    Unavailable,
    /// No `Authorization` header (the body has no code, as the seeds have it).
    NotProvided,
}

impl Outcome {
    /// Every outcome, in the order `/metrics` lists them.
    pub const ALL: [Self; 13] = [
        Self::Valid,
        Self::InvalidKeyFormat,
        Self::KeyNotFound,
        Self::KeyRevoked,
        Self::KeyRotated,
        Self::KeyExpired,
        Self::InsufficientScope,
        Self::IpNotAllowed,
        Self::KeyRateLimited,
        Self::UsageLimitExceeded,
        Self::RateLimited,
        Self::Unavailable,
        Self::NotProvided,
    ];

    /// The wire code (SPEC §3) and metrics label.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::InvalidKeyFormat => "invalid_key_format",
            Self::KeyNotFound => "key_not_found",
            Self::KeyRevoked => "key_revoked",
            Self::KeyRotated => "key_rotated",
            Self::KeyExpired => "key_expired",
            Self::InsufficientScope => "insufficient_scope",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::KeyRateLimited => "key_rate_limited",
            Self::UsageLimitExceeded => "usage_limit_exceeded",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::NotProvided => "not_provided",
        }
    }

    /// The HTTP status of a forward-auth answer with this outcome.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Valid => 200,
            Self::InvalidKeyFormat
            | Self::KeyNotFound
            | Self::KeyRevoked
            | Self::KeyRotated
            | Self::KeyExpired
            | Self::NotProvided => 401,
            Self::InsufficientScope | Self::IpNotAllowed => 403,
            Self::RateLimited | Self::KeyRateLimited | Self::UsageLimitExceeded => 429,
            Self::Unavailable => 503,
        }
    }

    /// Position in [`Outcome::ALL`] (for counters kept in an array).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What exactly is wrong with the presented text; `Display` is the hint shown to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatProblem {
    /// The key itself (shape, length, characters, checksum).
    Key(KeyFormatError),
    /// The header that carries it; the text says how to fix it.
    Header(&'static str),
    /// A header far longer than any key.
    HeaderTooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for FormatProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(e) => e.fmt(f),
            Self::Header(hint) => f.write_str(hint),
            Self::HeaderTooLong { len } => write!(
                f,
                "The Authorization header is {len} bytes long; a header with an API key is under 100. Send only `Api-Key <key>`."
            ),
        }
    }
}

/// The access a request needs: nothing beyond a valid key, one product's scope, or a scope of
/// every product (a path that belongs to no product).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Any valid key.
    Nothing,
    /// One product's read or write.
    Scope(Scope),
    /// Read or write on every product: only a standard key has it.
    Every(Access),
}

impl Needs {
    /// The scopes a key must hold.
    pub fn scopes(self, catalog: &Catalog) -> ScopeSet {
        match self {
            Self::Nothing => ScopeSet::default(),
            Self::Scope(scope) => ScopeSet::only(scope),
            Self::Every(access) => catalog.every(access),
        }
    }

    /// The scope's name, as `required_scope` says it (`*:write` for every product).
    pub fn name(self, catalog: &Catalog) -> String {
        match self {
            Self::Nothing => String::new(),
            Self::Scope(scope) => catalog.scope_name(scope),
            Self::Every(access) => format!("*:{}", access.as_str()),
        }
    }
}

/// Why a presented key was not accepted: the first check that said no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    NotProvided,
    /// Not a key, or not sent the way keys are sent (no lookup was made).
    Format(FormatProblem),
    /// Well-formed, but no such key.
    NotFound,
    /// A canary key (SPEC §8). Answered exactly as [`Refusal::NotFound`], everywhere: the
    /// variant exists only so the server can record the presentation before answering.
    Canary {
        /// The canary.
        key: KeyId,
        /// Its account.
        account: AccountId,
    },
    /// Known, but revoked, rotated past its grace, or expired.
    Stopped(Stopped),
    /// Valid, but without the scope the request needs.
    InsufficientScope(Needs),
    /// The key may not be used from this address.
    IpNotAllowed(IpAddr),
    /// The key's own rate limit is reached.
    KeyRateLimited {
        /// The limit's state, for the `RateLimit-*` headers.
        state: LimitState,
        /// Seconds until a request fits.
        retry_after: u64,
    },
    /// The key's usage limit for its period is reached.
    UsageLimitExceeded(LimitState),
    /// Too many failed presentations from this client.
    RateLimited {
        /// Seconds until another attempt is counted.
        retry_after: u64,
    },
    /// The key table is older than its maximum age: no verdict can be trusted.
    Unavailable,
}

impl Refusal {
    /// The outcome this refusal stands for.
    pub const fn outcome(&self) -> Outcome {
        match self {
            Self::NotProvided => Outcome::NotProvided,
            Self::Format(_) => Outcome::InvalidKeyFormat,
            Self::NotFound | Self::Canary { .. } => Outcome::KeyNotFound,
            Self::Stopped(Stopped::Revoked { .. }) => Outcome::KeyRevoked,
            Self::Stopped(Stopped::Rotated { .. }) => Outcome::KeyRotated,
            Self::Stopped(Stopped::Expired { .. }) => Outcome::KeyExpired,
            Self::InsufficientScope(_) => Outcome::InsufficientScope,
            Self::IpNotAllowed(_) => Outcome::IpNotAllowed,
            Self::KeyRateLimited { .. } => Outcome::KeyRateLimited,
            Self::UsageLimitExceeded(_) => Outcome::UsageLimitExceeded,
            Self::RateLimited { .. } => Outcome::RateLimited,
            Self::Unavailable => Outcome::Unavailable,
        }
    }

    /// What the answer tells a person: what is wrong and what to do. `required_scope` names
    /// the scope an `insufficient_scope` lacked.
    pub fn detail(&self, required_scope: &str) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::NotProvided => "Authentication credentials were not provided.",
            Self::Format(_) => "Invalid API Key format",
            Self::NotFound | Self::Canary { .. } => "Invalid API Key",
            Self::Stopped(Stopped::Revoked { .. }) => {
                "This API key has been revoked. Use another key, or create a new one in the console."
            }
            Self::Stopped(Stopped::Rotated { .. }) => {
                "This API key was replaced by rotation and no longer works. Use the new key from the console."
            }
            Self::Stopped(Stopped::Expired { .. }) => {
                "This API key has expired. Create a new key in the console."
            }
            Self::InsufficientScope(_) => {
                return Cow::Owned(format!(
                    "This API key does not have the '{required_scope}' permission."
                ));
            }
            Self::IpNotAllowed(client) => {
                return Cow::Owned(format!("This API key may not be used from {client}."));
            }
            Self::KeyRateLimited { retry_after, .. } => {
                return Cow::Owned(format!(
                    "This API key has reached its rate limit. Retry in {retry_after} seconds, or ask an admin for a higher limit."
                ));
            }
            Self::UsageLimitExceeded(state) => {
                return Cow::Owned(match state.reset_ms {
                    Some(reset) => format!(
                        "This API key has used all {} requests of its usage limit; it resets at {}.",
                        state.limit,
                        crate::key_table::rfc3339(reset)
                    ),
                    None => format!(
                        "This API key has used all {} requests of its usage limit, which never resets. Ask an admin to raise it, or use another key.",
                        state.limit
                    ),
                });
            }
            Self::RateLimited { retry_after } => {
                return Cow::Owned(format!(
                    "Too many failed attempts from your address. Wait {retry_after} seconds, then check the credentials you are sending and try again."
                ));
            }
            Self::Unavailable => {
                "Keywarden cannot reach its database right now. Retry after the time in Retry-After."
            }
        })
    }

    /// Exactly what is wrong with a malformed key or header.
    pub fn hint(&self) -> Option<&FormatProblem> {
        match self {
            Self::Format(problem) => Some(problem),
            _ => None,
        }
    }

    /// When a revoked, rotated or expired key stopped working.
    pub fn stopped_at(&self) -> Option<OffsetDateTime> {
        match self {
            Self::Stopped(
                Stopped::Revoked { at } | Stopped::Rotated { at } | Stopped::Expired { at },
            ) => Some(*at),
            _ => None,
        }
    }

    /// Whether this is a failed presentation that counts against the client's limit (a wrong
    /// or dead key; not a missing header, a missing scope or our own unavailability).
    pub const fn counts_against_the_client(&self) -> bool {
        matches!(
            self,
            Self::Format(_) | Self::NotFound | Self::Canary { .. } | Self::Stopped(_)
        )
    }
}

impl From<KeyFormatError> for Refusal {
    fn from(error: KeyFormatError) -> Self {
        Self::Format(FormatProblem::Key(error))
    }
}

impl From<Stopped> for Refusal {
    fn from(stopped: Stopped) -> Self {
        Self::Stopped(stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_code_and_index() {
        let codes: std::collections::BTreeSet<_> = Outcome::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(codes.len(), Outcome::ALL.len());
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(outcome.index(), i, "{outcome:?}");
        }
    }

    #[test]
    fn refusals_name_their_outcome_and_status() {
        let at = OffsetDateTime::UNIX_EPOCH;
        for (refusal, code, status) in [
            (Refusal::NotProvided, "not_provided", 401),
            (
                Refusal::from(KeyFormatError::BadChecksum),
                "invalid_key_format",
                401,
            ),
            (Refusal::NotFound, "key_not_found", 401),
            (
                Refusal::Canary {
                    key: KeyId(uuid::Uuid::nil()),
                    account: AccountId(uuid::Uuid::nil()),
                },
                "key_not_found",
                401,
            ),
            (Refusal::from(Stopped::Revoked { at }), "key_revoked", 401),
            (Refusal::from(Stopped::Rotated { at }), "key_rotated", 401),
            (Refusal::from(Stopped::Expired { at }), "key_expired", 401),
            (
                Refusal::InsufficientScope(Needs::Every(Access::Read)),
                "insufficient_scope",
                403,
            ),
            (Refusal::RateLimited { retry_after: 3 }, "rate_limited", 429),
            (
                Refusal::IpNotAllowed(std::net::Ipv4Addr::LOCALHOST.into()),
                "ip_not_allowed",
                403,
            ),
            (
                Refusal::KeyRateLimited {
                    state: LimitState::default(),
                    retry_after: 1,
                },
                "key_rate_limited",
                429,
            ),
            (
                Refusal::UsageLimitExceeded(LimitState::default()),
                "usage_limit_exceeded",
                429,
            ),
            (Refusal::Unavailable, "unavailable", 503),
        ] {
            assert_eq!(refusal.outcome().code(), code);
            assert_eq!(refusal.outcome().http_status(), status, "{code}");
        }
    }

    #[test]
    fn needs_name_their_scope() {
        let catalog = Catalog::default();
        let payroll = catalog.parse_scope("payroll:write").unwrap();
        assert_eq!(Needs::Scope(payroll).name(&catalog), "payroll:write");
        assert_eq!(Needs::Every(Access::Read).name(&catalog), "*:read");
        assert_eq!(
            Needs::Every(Access::Write).scopes(&catalog),
            catalog.every(Access::Write)
        );
        assert_eq!(Needs::Nothing.scopes(&catalog), ScopeSet::default());
    }
}
