//! Console sign-in (SPEC §4 `POST /v1/auth/token/`): every rule of it in one place, so the
//! HTTP handler only reads the request and issues the tokens.
//!
//! - **Limits.** An attempt is counted as a failure when it starts and given back if it turns
//!   out not to be one: counted only after the password check, parallel attempts would all pass
//!   the limit. Per client address, and per email and address (someone guessing elsewhere
//!   does not lock the real user out). A second-factor code has a limit of its own, per user
//!   from any address: whoever sends codes has the password, and six digits must not be
//!   guessable from many addresses.
//! - **No enumeration.** An unknown email and a wrong password get the same answer after the
//!   same argon2 work (a decoy hash), and the failed-attempt audit row is written off the
//!   response path ([`Background`]), so neither the body nor the timing tells whether an email
//!   has an account.
//! - **Two factors.** A user with 2FA needs a current TOTP code or an unused recovery code;
//!   without one the answer is [`DomainError::OtpRequired`], the first of two steps.
//! - **Audit.** A sign-in and every failure of a known user are recorded.
//!
//! A signed-in user confirms a change to their own second factor (turning it off, new
//! recovery codes) with their password and a code, under the same rules: the password goes
//! through the same checker and counts against the same limits, per address and per user,
//! so these requests are no way around them; a wrong code counts against the user's
//! second-factor limit. A wrong password or code is [`DomainError::PasswordInvalid`] or
//! [`DomainError::ConfirmationOtpInvalid`], not sign-in's `InvalidCredentials`: the session
//! stands. The code is spent in the change's own transaction, so a refused attempt changes
//! nothing.

use super::AccountService;
use crate::account::{User, normalize_email};
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::failure_limit::FailureLimiter;
use crate::password;
use crate::store::SecondFactorProof;
use async_trait::async_trait;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

/// Checks a password against a stored PHC string. The server runs argon2 on a bounded pool
/// of workers; a full pool answers [`DomainError::Busy`].
#[async_trait]
pub trait PasswordChecker: Send + Sync + std::fmt::Debug {
    /// Whether `password` matches `phc`.
    async fn verify(&self, password: String, phc: String) -> Result<bool, DomainError>;
}

/// A write to make off the response path.
pub type Task = Pin<Box<dyn Future<Output = Result<(), DomainError>> + Send + 'static>>;

/// Runs tasks off the response path (the server: on its runtime, logging a failure).
pub trait Background: Send + Sync + std::fmt::Debug {
    /// Starts `task` and returns at once.
    fn start(&self, task: Task);
}

/// The failure limits of sign-in.
#[derive(Debug)]
pub struct SignInLimits {
    /// Failed sign-ins per client address.
    pub per_client: FailureLimiter<IpAddr>,
    /// Failed sign-ins per email and client address.
    pub per_user: FailureLimiter<(String, IpAddr)>,
    /// Wrong second-factor codes per email, from any address.
    pub second_factors: FailureLimiter<String>,
}

impl SignInLimits {
    /// `per_client` failures per address and `per_user` per email (and address, and for
    /// second-factor codes from any address), each per `window_secs`.
    pub fn new(per_client: u32, per_user: u32, window_secs: u64) -> Self {
        Self {
            per_client: FailureLimiter::new(per_client, window_secs),
            per_user: FailureLimiter::new(per_user, window_secs),
            second_factors: FailureLimiter::new(per_user, window_secs),
        }
    }
}

/// One sign-in attempt, as the client sent it.
#[derive(Debug)]
pub struct SignInAttempt {
    /// The email as typed (normalised here).
    pub email: String,
    /// The password.
    pub password: String,
    /// The TOTP code or recovery code, if sent.
    pub otp: Option<String>,
    /// Who sent it.
    pub client: Client,
}

/// Where a request came from, as the audit trail records it.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address (SPEC §3).
    pub ip: IpAddr,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

impl Client {
    /// The audit actor: `user` (or anonymous) from this client.
    pub fn actor(&self, user: &User) -> Actor {
        Actor {
            user_id: Some(user.id),
            label: user.email.clone(),
            ip: Some(self.ip.to_string()),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// A signed-in user's password and second factor, sent again to confirm a change to that
/// second factor.
pub struct Confirmation {
    /// The user's password.
    pub password: String,
    /// A current TOTP code or an unused recovery code.
    pub otp: String,
    /// Who sent it.
    pub client: Client,
}

impl std::fmt::Debug for Confirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmation")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// A confirmation whose password was right and whose code was read; the code is spent by the
/// change it confirms.
#[derive(Debug)]
struct Confirmed {
    proof: SecondFactorProof,
    actor: Actor,
    ip: IpAddr,
    user_here: (String, IpAddr),
    now: i64,
}

/// Sign-in's own parts: its limits, the password checker and where failures are recorded.
#[derive(Debug)]
pub struct SignIns {
    limits: SignInLimits,
    passwords: Arc<dyn PasswordChecker>,
    background: Arc<dyn Background>,
}

impl SignIns {
    /// Sign-in with these limits, checking passwords with `passwords`.
    pub fn new(
        limits: SignInLimits,
        passwords: Arc<dyn PasswordChecker>,
        background: Arc<dyn Background>,
    ) -> Self {
        Self {
            limits,
            passwords,
            background,
        }
    }

    /// The user whose credentials `attempt` presents, with the sign-in recorded; or why not:
    /// [`DomainError::RateLimited`], [`DomainError::InvalidCredentials`] (unknown email or
    /// wrong password, alike), [`DomainError::OtpRequired`], [`DomainError::OtpInvalid`],
    /// [`DomainError::Busy`] or a storage error.
    pub async fn sign_in(
        &self,
        service: &AccountService,
        attempt: SignInAttempt,
    ) -> Result<User, DomainError> {
        let now = service.clock().unix_millis();
        let email = normalize_email(&attempt.email).unwrap_or_default();
        let limits = &self.limits;
        if let Some(retry_after) = limits.per_client.fail(&attempt.client.ip, now) {
            return Err(DomainError::RateLimited { retry_after });
        }
        let user_here = (email.clone(), attempt.client.ip);
        let not_a_failure = || {
            limits.per_client.refund(&attempt.client.ip, now);
            limits.per_user.refund(&user_here, now);
        };
        if let Some(retry_after) = limits.per_user.fail(&user_here, now) {
            limits.per_client.refund(&attempt.client.ip, now);
            return Err(DomainError::RateLimited { retry_after });
        }

        let store = service.store();
        let user = store
            .user_by_email(&email)
            .await
            .inspect_err(|_| not_a_failure())?;
        let hash = user.as_ref().map_or_else(
            || password::decoy_hash().to_owned(),
            |u| u.password_hash.clone(),
        );
        let matches = self
            .passwords
            .verify(attempt.password, hash)
            .await
            .inspect_err(|_| not_a_failure())?;

        let user = match user {
            Some(user) if matches => user,
            known => {
                if let Some(user) = known {
                    self.record_failure(
                        service,
                        &user,
                        attempt.client.actor(&user),
                        "wrong password",
                    );
                }
                return Err(DomainError::InvalidCredentials);
            }
        };
        let actor = attempt.client.actor(&user);
        if user.two_factor_enabled {
            let otp = attempt.otp.as_deref().map(str::trim).unwrap_or("");
            if otp.is_empty() {
                // The first of the two steps of a 2FA sign-in, not a failure.
                not_a_failure();
                return Err(DomainError::OtpRequired);
            }
            // The password was right; the code has a limit of its own.
            limits.per_user.refund(&user_here, now);
            if let Some(retry_after) = limits.second_factors.blocked(&email, now) {
                limits.per_client.refund(&attempt.client.ip, now);
                return Err(DomainError::RateLimited { retry_after });
            }
            if let Err(e) = service.check_second_factor(&user, otp, &actor).await {
                limits.second_factors.fail(&email, now);
                self.record_failure(service, &user, actor, "wrong two-factor code");
                return Err(e);
            }
        }
        limits.per_client.refund(&attempt.client.ip, now);
        limits.per_user.reset(&user_here);
        limits.second_factors.reset(&email);
        let at = service.clock().now();
        let event = service.event(
            user.account_id,
            Action::SignIn,
            &actor,
            None,
            "signed in".into(),
            at,
        );
        store.insert_event(&event).await?;
        Ok(user)
    }
}

impl SignIns {
    /// Records a failed sign-in of a known user off the response path, so a wrong password
    /// answers as fast as an unknown email.
    fn record_failure(
        &self,
        service: &AccountService,
        user: &User,
        actor: Actor,
        detail: &'static str,
    ) {
        let store = Arc::clone(service.store());
        let at = service.clock().now();
        let event = service.event(
            user.account_id,
            Action::SignInFailed,
            &actor,
            None,
            detail.into(),
            at,
        );
        self.background.start(Box::pin(async move {
            store.insert_event(&event).await?;
            Ok(())
        }));
    }
}

impl SignIns {
    /// Turns off the user's two-factor authentication, confirmed with their password and a
    /// current code or an unused recovery code; every console session of the user ends. Or
    /// why not: [`DomainError::TwoFactorNotEnabled`], [`DomainError::Invalid`] (an empty
    /// field), [`DomainError::RateLimited`], [`DomainError::PasswordInvalid`],
    /// [`DomainError::ConfirmationOtpInvalid`], [`DomainError::Busy`] or a storage error.
    pub async fn disable_two_factor(
        &self,
        service: &AccountService,
        user: &User,
        confirmation: Confirmation,
    ) -> Result<(), DomainError> {
        let confirmed = self.confirm(service, user, confirmation).await?;
        let done = service
            .turn_off_two_factor(user, &confirmed.proof, &confirmed.actor)
            .await;
        self.settle(user, &confirmed, done)
    }

    /// Replaces the user's recovery codes with ten new ones (returned, shown once), confirmed
    /// like [`Self::disable_two_factor`] and refused for the same reasons.
    pub async fn regenerate_recovery_codes(
        &self,
        service: &AccountService,
        user: &User,
        confirmation: Confirmation,
    ) -> Result<Vec<String>, DomainError> {
        let confirmed = self.confirm(service, user, confirmation).await?;
        let codes = service
            .replace_recovery_codes(user, &confirmed.proof, &confirmed.actor)
            .await;
        self.settle(user, &confirmed, codes)
    }

    /// Checks a confirmation up to the code, which only the change spends: both fields
    /// given, 2FA on, the limits (an attempt counted as a failure from the start, as at
    /// sign-in), the password, the code's own limit, and the code against the user's seed.
    async fn confirm(
        &self,
        service: &AccountService,
        user: &User,
        confirmation: Confirmation,
    ) -> Result<Confirmed, DomainError> {
        let otp = confirmation.otp.trim();
        if confirmation.password.is_empty() {
            return Err(DomainError::Invalid {
                field: "password",
                message: "enter the password you sign in with".into(),
            });
        }
        if otp.is_empty() {
            return Err(DomainError::Invalid {
                field: "otp",
                message: "enter the 6-digit code from your authenticator app, or an unused \
                          recovery code"
                    .into(),
            });
        }
        if !user.two_factor_enabled {
            return Err(DomainError::TwoFactorNotEnabled);
        }
        let now = service.clock().unix_millis();
        let limits = &self.limits;
        let ip = confirmation.client.ip;
        if let Some(retry_after) = limits.per_client.fail(&ip, now) {
            return Err(DomainError::RateLimited { retry_after });
        }
        let user_here = (user.email.clone(), ip);
        let not_a_failure = || {
            limits.per_client.refund(&ip, now);
            limits.per_user.refund(&user_here, now);
        };
        if let Some(retry_after) = limits.per_user.fail(&user_here, now) {
            limits.per_client.refund(&ip, now);
            return Err(DomainError::RateLimited { retry_after });
        }
        let matches = self
            .passwords
            .verify(confirmation.password, user.password_hash.clone())
            .await
            .inspect_err(|_| not_a_failure())?;
        if !matches {
            return Err(DomainError::PasswordInvalid);
        }
        // The password was right; the code has a limit of its own.
        limits.per_user.refund(&user_here, now);
        if let Some(retry_after) = limits.second_factors.blocked(&user.email, now) {
            limits.per_client.refund(&ip, now);
            return Err(DomainError::RateLimited { retry_after });
        }
        let proof = match service.second_factor_proof(user, otp).await {
            Ok(proof) => proof,
            Err(DomainError::OtpInvalid) => {
                limits.second_factors.fail(&user.email, now);
                return Err(DomainError::ConfirmationOtpInvalid);
            }
            Err(other) => {
                limits.per_client.refund(&ip, now);
                return Err(other);
            }
        };
        Ok(Confirmed {
            proof,
            actor: confirmation.client.actor(user),
            ip,
            user_here,
            now,
        })
    }

    /// Counts the outcome of a confirmed change: a success clears the user's failures, as a
    /// sign-in does; a refused code counts against the user's second-factor limit.
    fn settle<T>(
        &self,
        user: &User,
        confirmed: &Confirmed,
        outcome: Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let limits = &self.limits;
        match outcome {
            Ok(value) => {
                limits.per_client.refund(&confirmed.ip, confirmed.now);
                limits.per_user.reset(&confirmed.user_here);
                limits.second_factors.reset(&user.email);
                Ok(value)
            }
            Err(DomainError::OtpInvalid) => {
                limits.second_factors.fail(&user.email, confirmed.now);
                Err(DomainError::ConfirmationOtpInvalid)
            }
            Err(other) => {
                limits.per_client.refund(&confirmed.ip, confirmed.now);
                Err(other)
            }
        }
    }
}
