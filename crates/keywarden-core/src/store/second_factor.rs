//! Second factors: TOTP enrolments, used steps and recovery codes.

use super::StoreError;
use crate::audit::AuditEvent;
use crate::ids::UserId;
use async_trait::async_trait;

/// A user's TOTP enrolment. The seed is stored encrypted (by the caller, under a key derived
/// from the server secret); the store never sees it in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// The encrypted seed.
    pub encrypted_seed: Vec<u8>,
    /// Whether a code has confirmed it (then sign-in needs a code).
    pub confirmed: bool,
    /// The last 30-second step accepted; a code is accepted once only.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A second factor presented to confirm a change to the second factor itself, as the store
/// takes it: spent in the change's own transaction, so one code confirms one change, and a
/// code the store refuses changes nothing.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactorProof {
    /// The 30-second step of a valid TOTP code: accepted if it is later than the last step
    /// used, and then recorded as used.
    TotpStep(i64),
    /// The hash of a recovery code: accepted if the user has that code unused, and then used
    /// up.
    RecoveryCode(String),
}

impl std::fmt::Debug for SecondFactorProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TotpStep(step) => f.debug_tuple("TotpStep").field(step).finish(),
            Self::RecoveryCode(_) => f.write_str("RecoveryCode(..)"),
        }
    }
}

/// TOTP enrolments and recovery codes. A code, a step or a recovery code is accepted once,
/// even by concurrent sign-ins.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// A user's TOTP enrolment, if any.
    async fn totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, StoreError>;

    /// Starts (or restarts) an unconfirmed enrolment. `Conflict` if one is already confirmed.
    async fn begin_totp(
        &self,
        user_id: UserId,
        encrypted_seed: &[u8],
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Confirms the enrolment with the step of a valid code: marks it confirmed, records the
    /// step as used, stores the recovery code hashes (replacing any) and sets the user's
    /// `two_factor_enabled`. `Conflict` if there is no unconfirmed enrolment.
    async fn confirm_totp(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Atomically records `step` as used if it is later than the last used one; `false` if the
    /// code was already used (or an earlier one was), so a code works once, even under
    /// concurrent sign-ins.
    async fn claim_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError>;

    /// Atomically deletes an unused recovery code; `false` if it does not exist.
    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Turns the user's two-factor authentication off, confirmed by `proof`: deletes the TOTP
    /// enrolment and every recovery code, clears the user's `two_factor_enabled` and bumps
    /// their `session_version` (every console token of the user stops being accepted).
    /// `false`, and nothing changes, if the user has no confirmed enrolment or `proof` is
    /// refused (a step not later than the last one used, a recovery code they do not have).
    async fn disable_totp(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Replaces every recovery code of the user with `recovery_code_hashes`, confirmed by
    /// `proof` (spent, like any code). `false`, and nothing changes, if the user has no
    /// confirmed enrolment or `proof` is refused.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        proof: &SecondFactorProof,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;
}
