//! Turning on TOTP and checking second factors at sign-in.

use super::Keywarden;
use crate::account::User;
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::store::StoreError;
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

impl Keywarden {
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
        if is_recovery_code(otp) {
            let hash = self.second_factor.recovery_hash(otp);
            let now = self.clock.now();
            let event = self.event(
                user.account_id,
                Action::RecoveryCodeUsed,
                actor,
                None,
                format!("{} signed in with a recovery code", user.email),
                now,
            );
            return match self
                .store
                .consume_recovery_code(user.id, &hash, &event)
                .await?
            {
                true => Ok(()),
                false => Err(DomainError::OtpInvalid),
            };
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
        let step = seed
            .verify(otp, self.clock.now())
            .ok_or(DomainError::OtpInvalid)?;
        if self.store.claim_totp_step(user.id, step).await? {
            Ok(())
        } else {
            Err(DomainError::OtpInvalid)
        }
    }
}
