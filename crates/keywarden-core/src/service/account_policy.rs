//! Account policy: whether key changes need 2FA, after how many days keys are due for
//! rotation, and the key policy (SPEC §9): the rules keys must meet, and the keys that break
//! them.

use super::AccountService;
use crate::account::Account;
use crate::account_key_policy::{AccountKeyPolicy, Breach, LeakAction, MAX_KEY_LIFETIME_DAYS};
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::key_record::{KeyRecord, KeyStatus};
use crate::store::KeyFilter;

/// Longest rotation period accepted (ten years).
pub const MAX_ROTATION_PERIOD_DAYS: u32 = 3650;

/// Changes to an account's policy; `None` leaves a setting alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountPolicyChanges {
    /// Key changes need 2FA.
    pub require_2fa_for_keys: Option<bool>,
    /// Days until a key is due for rotation, 1 to [`MAX_ROTATION_PERIOD_DAYS`].
    pub rotation_period_days: Option<u32>,
    /// Longest life of a restricted key in days, 1 to [`MAX_KEY_LIFETIME_DAYS`];
    /// `Some(None)` removes the maximum.
    pub max_key_lifetime_days: Option<Option<u32>>,
    /// Restricted live keys must expire.
    pub require_expiry_for_live: Option<bool>,
    /// Live keys must have an IP allowlist.
    pub require_ip_allowlist_for_live: Option<bool>,
    /// What a leak report does to a key.
    pub leak_action: Option<LeakAction>,
}

/// An active key that breaks the account's key policy, and which rule.
#[derive(Clone, Debug)]
pub struct PolicyViolation {
    /// The key.
    pub key: KeyRecord,
    /// The rule it breaks.
    pub breach: Breach,
}

impl AccountService {
    /// Changes the account's policy. Tightening it changes no existing key: the keys that break
    /// it are listed by [`Self::policy_violations`].
    pub async fn update_policy(
        &self,
        account: &Account,
        changes: AccountPolicyChanges,
        actor: &Actor,
    ) -> Result<Account, DomainError> {
        if changes
            .rotation_period_days
            .is_some_and(|d| !(1..=MAX_ROTATION_PERIOD_DAYS).contains(&d))
        {
            return Err(DomainError::Invalid {
                field: "rotation_period_days",
                message: format!(
                    "give a whole number of days from 1 to {MAX_ROTATION_PERIOD_DAYS}; 90 is the usual choice"
                ),
            });
        }
        if changes
            .max_key_lifetime_days
            .flatten()
            .is_some_and(|d| !(1..=MAX_KEY_LIFETIME_DAYS).contains(&d))
        {
            return Err(DomainError::Invalid {
                field: "max_key_lifetime_days",
                message: format!(
                    "give a whole number of days from 1 to {MAX_KEY_LIFETIME_DAYS}, or null for no maximum"
                ),
            });
        }
        let before = &account.key_policy;
        let updated = Account {
            require_2fa_for_keys: changes
                .require_2fa_for_keys
                .unwrap_or(account.require_2fa_for_keys),
            rotation_period_days: changes
                .rotation_period_days
                .unwrap_or(account.rotation_period_days),
            key_policy: AccountKeyPolicy {
                max_key_lifetime_days: changes
                    .max_key_lifetime_days
                    .unwrap_or(before.max_key_lifetime_days),
                require_expiry_for_live: changes
                    .require_expiry_for_live
                    .unwrap_or(before.require_expiry_for_live),
                require_ip_allowlist_for_live: changes
                    .require_ip_allowlist_for_live
                    .unwrap_or(before.require_ip_allowlist_for_live),
                leak_action: changes.leak_action.unwrap_or(before.leak_action),
            },
            ..account.clone()
        };
        let now = self.clock.now();
        let detail = describe(account, &updated);
        let event = self.event(account.id, Action::AccountUpdated, actor, None, detail, now);
        self.store.update_account(&updated, &event).await?;
        Ok(updated)
    }

    /// The account's working keys (active, not expired) that break its current key policy,
    /// newest first; a key breaking two rules is listed twice.
    pub async fn policy_violations(
        &self,
        account: &Account,
    ) -> Result<Vec<PolicyViolation>, DomainError> {
        let filter = KeyFilter {
            only_active: true,
            ..KeyFilter::default()
        };
        let mut keys = self.store.keys_of_account(account.id, &filter).await?;
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let now = self.clock.now();
        let mut found = Vec::new();
        for key in keys {
            if key.status_at(now) != KeyStatus::Active {
                continue;
            }
            for breach in account.key_policy.breaches(&key, now) {
                found.push(PolicyViolation {
                    key: key.clone(),
                    breach,
                });
            }
        }
        Ok(found)
    }
}

/// The audit detail: each setting that changed, before → after.
fn describe(before: &Account, after: &Account) -> String {
    fn days(d: Option<u32>) -> String {
        d.map_or_else(|| "none".to_owned(), |d| d.to_string())
    }
    let (b, a) = (&before.key_policy, &after.key_policy);
    let settings = [
        (
            "require_2fa_for_keys",
            before.require_2fa_for_keys.to_string(),
            after.require_2fa_for_keys.to_string(),
        ),
        (
            "rotation_period_days",
            before.rotation_period_days.to_string(),
            after.rotation_period_days.to_string(),
        ),
        (
            "max_key_lifetime_days",
            days(b.max_key_lifetime_days),
            days(a.max_key_lifetime_days),
        ),
        (
            "require_expiry_for_live",
            b.require_expiry_for_live.to_string(),
            a.require_expiry_for_live.to_string(),
        ),
        (
            "require_ip_allowlist_for_live",
            b.require_ip_allowlist_for_live.to_string(),
            a.require_ip_allowlist_for_live.to_string(),
        ),
        (
            "leak_action",
            b.leak_action.as_str().to_owned(),
            a.leak_action.as_str().to_owned(),
        ),
    ];
    let changed: Vec<String> = settings
        .iter()
        .filter(|(_, was, now)| was != now)
        .map(|(name, was, now)| format!("{name}: {was} → {now}"))
        .collect();
    if changed.is_empty() {
        "account policy saved without changes".to_owned()
    } else {
        changed.join("; ")
    }
}
