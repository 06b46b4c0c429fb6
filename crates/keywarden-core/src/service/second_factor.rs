//! Turning on TOTP, checking second factors at sign-in, and the changes a signed-in user
//! confirms with their password and a second factor (turning TOTP off, new recovery codes:
//! their rules are in [`super::sign_in::SignIns`], which checks the password).

use super::AccountService;
use crate::account::User;
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::store::{SecondFactorProof, StoreError};
use crate::two_factor::{Seed, is_recovery_code};

/// What a user needs to add Keywarden to an authenticator app.
#[derive(Debug)]
pub struct TotpSetup {
    /// The seed in base32 (for typing in by hand).
    pub secret: String,
    /// The `otpauth://` URI (for the QR code).
    pub otpauth_uri: String,
}

/// Issuer shown in authenticator apps.
const ISSUER: &str = "Keywarden";

impl AccountService {
    /// Starts 2FA setup: a new seed, sealed in storage until a code confirms it.
    pub async fn begin_two_factor(
        &self,
        user: &User,
        actor: &Actor,
    ) -> Result<TotpSetup, DomainError> {
        if user.two_factor_enabled {
            return Err(DomainError::Conflict(
                "two-factor authentication is already on".into(),
            ));
        }
        let seed = Seed::generate(self.random.as_ref())?;
        let sealed = self.second_factor.seal(&seed, self.random.as_ref())?;
        let now = self.clock.now();
        let event = self.event(
            user.account_id,
            Action::TwoFactorSetupStarted,
            actor,
            None,
            format!("{} started two-factor setup", user.email),
            now,
        );
        self.store
            .begin_totp(user.id, &sealed, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    DomainError::Conflict("two-factor authentication is already on".into())
                }
                other => other.into(),
            })?;
        Ok(TotpSetup {
            secret: seed.base32(),
            otpauth_uri: seed.otpauth_uri(ISSUER, &user.email),
        })
    }

    /// Confirms setup with a current code; returns the one-time recovery codes, shown once.
    pub async fn confirm_two_factor(
        &self,
        user: &User,
        otp: &str,
        actor: &Actor,
    ) -> Result<Vec<String>, DomainError> {
        let enrolment = self
            .store
            .totp(user.id)
            .await?
            .filter(|e| !e.confirmed)
            .ok_or_else(|| {
                DomainError::Conflict(
                    "there is no two-factor setup to confirm: start with POST /v1/auth/2fa/setup/"
                        .into(),
                )
            })?;
        let seed = self
            .second_factor
            .open(&enrolment.encrypted_seed)
            .map_err(|e| DomainError::Store(StoreError::Other(e.to_string())))?;
        let now = self.clock.now();
        let step = seed.verify(otp, now).ok_or(DomainError::OtpInvalid)?;
        let (codes, hashes) = self.second_factor.recovery_codes(self.random.as_ref())?;
        let event = self.event(
            user.account_id,
            Action::TwoFactorEnabled,
            actor,
            None,
            format!("{} turned on two-factor authentication", user.email),
            now,
        );
        self.store
            .confirm_totp(user.id, step, &hashes, &event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => DomainError::OtpInvalid,
                other => other.into(),
            })?;
        Ok(codes)
    }

    /// Checks a sign-in's second factor: a TOTP code (each step accepted once) or an unused
    /// recovery code (consumed).
    pub async fn check_second_factor(
        &self,
        user: &User,
        otp: &str,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        let spent = match self.second_factor_proof(user, otp).await? {
            SecondFactorProof::RecoveryCode(hash) => {
                let event = self.event(
                    user.account_id,
                    Action::RecoveryCodeUsed,
                    actor,
                    None,
                    format!("{} signed in with a recovery code", user.email),
                    self.clock.now(),
                );
                self.store
                    .consume_recovery_code(user.id, &hash, &event)
                    .await?
            }
            SecondFactorProof::TotpStep(step) => self.store.claim_totp_step(user.id, step).await?,
        };
        if spent {
            Ok(())
        } else {
            Err(DomainError::OtpInvalid)
        }
    }

    /// What `otp` proves, before it is spent: the step of a current code of the user's
    /// confirmed TOTP seed, or the hash of a recovery code (whether the user has it unused is
    /// decided where it is spent). [`DomainError::OtpInvalid`] if it is neither.
    pub(crate) async fn second_factor_proof(
        &self,
        user: &User,
        otp: &str,
    ) -> Result<SecondFactorProof, DomainError> {
        if is_recovery_code(otp) {
            return Ok(SecondFactorProof::RecoveryCode(
                self.second_factor.recovery_hash(otp),
            ));
        }
        let enrolment = self
            .store
            .totp(user.id)
            .await?
            .filter(|e| e.confirmed)
            .ok_or(DomainError::OtpInvalid)?;
        let seed = self
            .second_factor
            .open(&enrolment.encrypted_seed)
            .map_err(|e| DomainError::Store(StoreError::Other(e.to_string())))?;
        seed.verify(otp, self.clock.now())
            .map(SecondFactorProof::TotpStep)
            .ok_or(DomainError::OtpInvalid)
    }

    /// Turns the user's 2FA off, spending `proof`: the seed and the recovery codes are
    /// deleted and every console session of the user ends. [`DomainError::OtpInvalid`] if the
    /// store refuses the proof (then nothing changed). Only through
    /// [`super::sign_in::SignIns::disable_two_factor`], which checks the password first.
    pub(crate) async fn turn_off_two_factor(
        &self,
        user: &User,
        proof: &SecondFactorProof,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        let event = self.event(
            user.account_id,
            Action::TwoFactorDisabled,
            actor,
            None,
            format!(
                "{} turned off two-factor authentication (confirmed with {})",
                user.email,
                proof_name(proof)
            ),
            self.clock.now(),
        );
        if self.store.disable_totp(user.id, proof, &event).await? {
            Ok(())
        } else {
            Err(DomainError::OtpInvalid)
        }
    }

    /// Replaces the user's recovery codes with new ones, spending `proof`; returns the new
    /// codes, shown once. [`DomainError::OtpInvalid`] if the store refuses the proof (then
    /// the old codes still work). Only through
    /// [`super::sign_in::SignIns::regenerate_recovery_codes`], which checks the password first.
    pub(crate) async fn replace_recovery_codes(
        &self,
        user: &User,
        proof: &SecondFactorProof,
        actor: &Actor,
    ) -> Result<Vec<String>, DomainError> {
        let (codes, hashes) = self.second_factor.recovery_codes(self.random.as_ref())?;
        let event = self.event(
            user.account_id,
            Action::RecoveryCodesRegenerated,
            actor,
            None,
            format!(
                "{} replaced their recovery codes (confirmed with {})",
                user.email,
                proof_name(proof)
            ),
            self.clock.now(),
        );
        if self
            .store
            .replace_recovery_codes(user.id, proof, &hashes, &event)
            .await?
        {
            Ok(codes)
        } else {
            Err(DomainError::OtpInvalid)
        }
    }
}

/// How a change was confirmed, for its audit row (never the code itself).
fn proof_name(proof: &SecondFactorProof) -> &'static str {
    match proof {
        SecondFactorProof::TotpStep(_) => "an authenticator code",
        SecondFactorProof::RecoveryCode(_) => "a recovery code",
    }
}
