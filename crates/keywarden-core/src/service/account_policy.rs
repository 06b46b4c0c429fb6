//! Account policy: whether key changes need 2FA, and after how many days keys are due for
//! rotation.

use super::AccountService;
use crate::account::Account;
use crate::audit::{Action, Actor};
use crate::error::DomainError;

/// Longest rotation period accepted (ten years).
pub const MAX_ROTATION_PERIOD_DAYS: u32 = 3650;

impl AccountService {
    /// Changes the account's policy; `None` leaves a setting alone.
    pub async fn update_policy(
        &self,
        account: &Account,
        require_2fa_for_keys: Option<bool>,
        rotation_period_days: Option<u32>,
        actor: &Actor,
    ) -> Result<Account, DomainError> {
        if rotation_period_days.is_some_and(|d| !(1..=MAX_ROTATION_PERIOD_DAYS).contains(&d)) {
            return Err(DomainError::Invalid {
                field: "rotation_period_days",
                message: format!(
                    "give a whole number of days from 1 to {MAX_ROTATION_PERIOD_DAYS}; 90 is the usual choice"
                ),
            });
        }
        let updated = Account {
            require_2fa_for_keys: require_2fa_for_keys.unwrap_or(account.require_2fa_for_keys),
            rotation_period_days: rotation_period_days.unwrap_or(account.rotation_period_days),
            ..account.clone()
        };
        let detail = format!(
            "require_2fa_for_keys: {} → {}; rotation_period_days: {} → {}",
            account.require_2fa_for_keys,
            updated.require_2fa_for_keys,
            account.rotation_period_days,
            updated.rotation_period_days
        );
        let now = self.clock.now();
        let event = self.event(account.id, Action::AccountUpdated, actor, None, detail, now);
        self.store.update_account(&updated, &event).await?;
        Ok(updated)
    }
}
