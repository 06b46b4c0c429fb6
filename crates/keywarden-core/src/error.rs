//! The domain's error type. The HTTP layer maps it to statuses and bodies in one place
//! (`keywarden-server`'s `error` module); the CLI prints it.

use crate::password::PasswordError;
use crate::random::RandomError;
use crate::store::StoreError;

/// What a domain service can answer instead of a result.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A field of the request breaks a rule; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field, as the client spelled it.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A key change breaks the account's key policy (SPEC §9); `field` names the key field to
    /// fix.
    #[error("{field}: {message}")]
    PolicyViolation {
        /// `expires_at` or `allowed_ips`.
        field: &'static str,
        /// What the policy asks and how to meet it.
        message: String,
    },
    /// The account, user or key does not exist in the caller's account.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The account has no standard keys (the seeds' "contact support" case).
    #[error("the account has no standard API keys")]
    NoStandardKeys,
    /// A concurrent or earlier change makes this one impossible.
    #[error("{0}")]
    Conflict(String),
    /// The actor may not do this (a rule, not a role: e.g. changing one's own role).
    #[error("{0}")]
    Forbidden(String),
    /// The account requires 2FA for key changes and the user has none.
    #[error(
        "enable two-factor authentication first: this account requires it to create, rotate or revoke keys"
    )]
    TwoFactorRequired,
    /// The email is unknown or the password wrong (the same answer for both).
    #[error("no account with these credentials")]
    InvalidCredentials,
    /// The user has two-factor authentication and sent no code: the first of two steps.
    #[error("a two-factor code is required")]
    OtpRequired,
    /// Too many failed attempts from this client; retry after `retry_after` seconds.
    #[error("too many failed attempts: retry in {retry_after} s")]
    RateLimited {
        /// Seconds until another attempt is counted.
        retry_after: u64,
    },
    /// Every password worker and its queue are taken; retry after `retry_after` seconds.
    #[error("too many password checks at once: retry in {retry_after} s")]
    Busy {
        /// Seconds after which a retry is likely to get a worker.
        retry_after: u64,
    },
    /// A second-factor code is wrong, expired or used already.
    #[error("the two-factor code is wrong, expired or already used")]
    OtpInvalid,
    /// A signed-in user confirming a change to their second factor sent a wrong password.
    /// Not a sign-in: their session stands.
    #[error("the password is wrong")]
    PasswordInvalid,
    /// A signed-in user confirming a change to their second factor sent a code that is wrong,
    /// expired or used already. Not a sign-in: their session stands.
    #[error("the two-factor code that confirms the change is wrong, expired or already used")]
    ConfirmationOtpInvalid,
    /// The user has no two-factor authentication to turn off or change.
    #[error("two-factor authentication is not on")]
    TwoFactorNotEnabled,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS random generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A password could not be accepted or hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}
