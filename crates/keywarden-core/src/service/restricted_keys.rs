//! Restricted keys (seed 000): labelled, scoped, optionally expiring; and the rules that
//! apply to changing any key.

use super::{AccountService, IssuedKey, conflict_as};
use crate::account::{Account, User};
use crate::account_key_policy::Breach;
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::ids::{AccountId, KeyId};
use crate::key_format::{KeyKind, Mode};
use crate::key_policy::{KeyPolicy, PolicyChanges, describe_changes};
use crate::key_record::{KeyRecord, Lifecycle};
use crate::store::{KeyPosition, KeyQuery, KeyUpdate, StoreError};
use time::OffsetDateTime;

/// Longest label.
pub const MAX_LABEL_LEN: usize = 100;
/// Largest page of a key listing.
pub const MAX_PAGE: u32 = 100;

/// A restricted key to create.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// Label, 1–100 characters.
    pub label: String,
    /// Test or live.
    pub mode: Mode,
    /// Scope names from the catalog; at least one.
    pub scopes: Vec<String>,
    /// Optional expiry, in the future.
    pub expires_at: Option<OffsetDateTime>,
    /// Allowlist, limits and metadata, as sent.
    pub policy: PolicyChanges,
    /// A canary (SPEC §8): no scopes, no allowlist and no limits; answered as unknown.
    pub canary: bool,
}

/// Changes to a key; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct KeyChanges {
    /// New label.
    pub label: Option<String>,
    /// New scopes (restricted keys only).
    pub scopes: Option<Vec<String>>,
    /// New expiry; `Some(None)` removes it (restricted keys only).
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// Changes to the allowlist, limits and metadata.
    pub policy: PolicyChanges,
}

impl AccountService {
    /// The account as stored now, after its policy `require_2fa_for_keys` for the acting user:
    /// every operation that creates, rotates or revokes a key checks it first, so no caller can
    /// skip it. The operator CLI (no user) is not bound by it, but is by the key policy the
    /// account returned carries.
    pub(crate) async fn ensure_actor_may_change_keys(
        &self,
        account_id: AccountId,
        actor: &Actor,
    ) -> Result<Account, DomainError> {
        let account = self.account_of(account_id).await?;
        let Some(user_id) = actor.user_id else {
            return Ok(account);
        };
        let user = self
            .store
            .user(user_id)
            .await?
            .filter(|u| u.account_id == account_id)
            .ok_or(DomainError::NotFound("user"))?;
        self.ensure_may_change_keys(&account, Some(&user))?;
        Ok(account)
    }

    async fn account_of(&self, account_id: AccountId) -> Result<Account, DomainError> {
        self.store
            .account(account_id)
            .await?
            .ok_or(DomainError::NotFound("account"))
    }

    /// The account policy `require_2fa_for_keys`: a user without 2FA may not create, rotate
    /// or revoke keys. The operator CLI (no user) is not bound by it.
    pub fn ensure_may_change_keys(
        &self,
        account: &Account,
        user: Option<&User>,
    ) -> Result<(), DomainError> {
        match user {
            Some(user) if account.require_2fa_for_keys && !user.two_factor_enabled => {
                Err(DomainError::TwoFactorRequired)
            }
            _ => Ok(()),
        }
    }

    /// Creates a restricted key and returns its secret, once.
    pub async fn create_restricted_key(
        &self,
        account_id: AccountId,
        new: NewKey,
        actor: &Actor,
    ) -> Result<IssuedKey, DomainError> {
        let account = self.ensure_actor_may_change_keys(account_id, actor).await?;
        let now = self.clock.now();
        let label = valid_label(&new.label)?;
        let scopes = if new.canary {
            canary_takes_none("scopes", new.scopes.is_empty())?;
            Vec::new()
        } else {
            self.valid_scopes(&new.scopes)?
        };
        let expires_at = valid_expiry(new.expires_at, now)?;
        let canary = new.canary;
        let mut policy = new.policy.apply(&KeyPolicy::default())?;
        if canary {
            canary_keeps_only_metadata(&policy)?;
            policy.canary = true;
        }
        let rules = &account.key_policy;
        // The account's rules on expiry and allowlists limit what a leaked key can do; a
        // canary can do nothing, and is meant to lie in wait for a long time.
        let breach = rules
            .expiry_breach(KeyKind::Restricted, new.mode, expires_at, now)
            .or_else(|| rules.allowlist_breach(new.mode, policy.allowed_ips.as_deref()))
            .filter(|_| !canary);
        if let Some(breach) = breach {
            return Err(violation(breach, ""));
        }
        let mut key = self.issue(
            account_id,
            KeyKind::Restricted,
            new.mode,
            label,
            scopes,
            expires_at,
            actor,
            None,
            now,
        )?;
        let mut detail = if canary {
            format!(
                "created {} canary key '{}' ({})",
                new.mode, key.record.label, key.record.hint
            )
        } else {
            format!(
                "created restricted {} key '{}' ({}) with scopes {}",
                new.mode,
                key.record.label,
                key.record.hint,
                key.record.scopes.join(", ")
            )
        };
        for part in describe_changes(&KeyPolicy::default(), &policy) {
            detail.push_str("; ");
            detail.push_str(&part);
        }
        key.record.policy = policy;
        let event = self.event(
            account_id,
            Action::KeyCreated,
            actor,
            Some(key.record.id),
            detail,
            now,
        );
        self.store
            .insert_keys(
                std::slice::from_ref(&key.record),
                std::slice::from_ref(&event),
            )
            .await?;
        self.committed(std::slice::from_ref(&key.record));
        Ok(key)
    }

    /// A page of the account's keys at the current time (at most `MAX_PAGE`), and, when more
    /// follow it, the position the next page starts after (its last key's, in the order).
    pub async fn list_keys(
        &self,
        account_id: AccountId,
        mut query: KeyQuery,
    ) -> Result<(Vec<KeyRecord>, Option<KeyPosition>), DomainError> {
        if let Some(after) = &query.after
            && !query.order.fits(&after.value)
        {
            return Err(DomainError::Invalid {
                field: "cursor",
                message: format!(
                    "this cursor belongs to another order than {}",
                    query.order.name()
                ),
            });
        }
        let limit = query.limit.clamp(1, MAX_PAGE);
        // One more than the page: its presence says whether a next page exists.
        query.limit = limit + 1;
        let mut keys = self
            .store
            .list_keys(account_id, &query, self.clock.now())
            .await?;
        let more = keys.len() > limit as usize;
        keys.truncate(limit as usize);
        let next = more
            .then(|| keys.last().map(|k| query.order.position_of(k)))
            .flatten();
        Ok((keys, next))
    }

    /// One key of the account.
    pub async fn key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
    ) -> Result<KeyRecord, DomainError> {
        self.store
            .key(account_id, key_id)
            .await?
            .ok_or(DomainError::NotFound("key"))
    }

    /// Changes a key's label, scopes or expiry. Standard keys reach every product and never
    /// expire, so only their label can change.
    pub async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        changes: KeyChanges,
        actor: &Actor,
    ) -> Result<KeyRecord, DomainError> {
        let current = self.key(account_id, key_id).await?;
        if current.lifecycle == Lifecycle::Revoked {
            return Err(DomainError::Conflict(
                "this key is revoked and can no longer be changed".into(),
            ));
        }
        if current.kind == KeyKind::Standard
            && (changes.scopes.is_some() || changes.expires_at.is_some())
        {
            let field = if changes.scopes.is_some() {
                "scopes"
            } else {
                "expires_at"
            };
            return Err(DomainError::Invalid {
                field,
                message: "standard keys reach every product and never expire: change their label, allowed_ips, rate_limit, usage_limit or metadata instead".into(),
            });
        }
        if current.policy.canary {
            canary_takes_none("scopes", changes.scopes.is_none())?;
        }
        let now = self.clock.now();
        let update = KeyUpdate {
            label: changes.label.as_deref().map(valid_label).transpose()?,
            scopes: changes
                .scopes
                .as_deref()
                .map(|s| self.valid_scopes(s))
                .transpose()?,
            expires_at: match changes.expires_at {
                None => None,
                Some(at) => Some(valid_expiry(at, now)?),
            },
            policy: if changes.policy.is_empty() {
                None
            } else {
                let policy = changes.policy.apply(&current.policy)?;
                if policy.canary {
                    canary_keeps_only_metadata(&policy)?;
                }
                Some(policy)
            },
        };
        self.ensure_update_keeps_policy(&current, &update, now)
            .await?;
        if update == KeyUpdate::default() {
            return Err(DomainError::Invalid {
                field: "label",
                message: "send at least one of label, scopes, expires_at, allowed_ips, rate_limit, usage_limit and metadata".into(),
            });
        }
        let mut changed = Vec::new();
        if let Some(label) = &update.label {
            changed.push(format!("label '{}' → '{label}'", current.label));
        }
        if let Some(scopes) = &update.scopes {
            changed.push(format!(
                "scopes [{}] → [{}]",
                current.scopes.join(", "),
                scopes.join(", ")
            ));
        }
        if let Some(expiry) = &update.expires_at {
            changed.push(format!(
                "expiry → {}",
                expiry.map_or_else(|| "never".to_owned(), |t| t.to_string())
            ));
        }
        if let Some(policy) = &update.policy {
            changed.extend(describe_changes(&current.policy, policy));
        }
        let detail = format!("updated {}: {}", current.hint, changed.join("; "));
        let event = self.event(
            account_id,
            Action::KeyUpdated,
            actor,
            Some(key_id),
            detail,
            now,
        );
        let updated = self
            .store
            .update_key(account_id, key_id, &update, &event)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DomainError::NotFound("key"),
                other => conflict_as(other, "this key was revoked by another request just now"),
            })?;
        self.committed(std::slice::from_ref(&updated));
        Ok(updated)
    }

    /// The account key policy for a change of `current`: a new expiry must meet it, and so
    /// must a changed allowlist. Other changes are free, even to a key that already breaks the
    /// policy (tightening it never changes existing keys).
    async fn ensure_update_keeps_policy(
        &self,
        current: &KeyRecord,
        update: &KeyUpdate,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        let expiry_changes = update.expires_at.is_some();
        let allowlist_changes = update
            .policy
            .as_ref()
            .is_some_and(|p| p.allowed_ips != current.policy.allowed_ips);
        // A canary can do nothing: the rules that bound a leaked key's reach do not apply.
        if (!expiry_changes && !allowlist_changes) || current.policy.canary {
            return Ok(());
        }
        let rules = self.account_of(current.account_id).await?.key_policy;
        let expiry = update.expires_at.and_then(|expires_at| {
            rules.expiry_breach(current.kind, current.mode, expires_at, now)
        });
        let allowlist = update
            .policy
            .as_ref()
            .filter(|_| allowlist_changes)
            .and_then(|p| rules.allowlist_breach(current.mode, p.allowed_ips.as_deref()));
        match expiry.or(allowlist) {
            Some(breach) => Err(violation(breach, "")),
            None => Ok(()),
        }
    }

    fn valid_scopes(&self, names: &[String]) -> Result<Vec<String>, DomainError> {
        if names.is_empty() {
            return Err(DomainError::Invalid {
                field: "scopes",
                message: "choose at least one scope, e.g. [\"payroll:read\"]; GET /v1/products/ lists them".into(),
            });
        }
        let set = self
            .catalog
            .parse_set(names.iter().map(String::as_str))
            .map_err(|e| DomainError::Invalid {
                field: "scopes",
                message: e.to_string(),
            })?;
        Ok(self.catalog.names(set))
    }
}

/// A canary authorizes nothing, so it holds no scopes: `field` must be left out (`absent`).
fn canary_takes_none(field: &'static str, absent: bool) -> Result<(), DomainError> {
    if absent {
        Ok(())
    } else {
        Err(DomainError::Invalid {
            field,
            message: "a canary key authorizes nothing: leave scopes out".into(),
        })
    }
}

/// A canary is answered as an unknown key whatever the request, so an allowlist or a limit
/// would never apply (and could tell it apart): only metadata may be kept on it.
fn canary_keeps_only_metadata(policy: &KeyPolicy) -> Result<(), DomainError> {
    let field = if policy.allowed_ips.is_some() {
        "allowed_ips"
    } else if policy.rate_limit.is_some() {
        "rate_limit"
    } else if policy.usage_limit.is_some() {
        "usage_limit"
    } else {
        return Ok(());
    };
    Err(DomainError::Invalid {
        field,
        message: format!(
            "a canary key is answered as an unknown key whatever the request: leave {field} out"
        ),
    })
}

/// The error for a key change that breaks the account's key policy; `then` says what to do
/// when the breach's own words are not enough.
pub(crate) fn violation(breach: Breach, then: &str) -> DomainError {
    let message = if then.is_empty() {
        breach.reason
    } else {
        format!("{}; {then}", breach.reason)
    };
    DomainError::PolicyViolation {
        field: breach.field,
        message,
    }
}

/// A label: trimmed, 1–100 characters, no control characters.
fn valid_label(label: &str) -> Result<String, DomainError> {
    let label = label.trim();
    let len = label.chars().count();
    if len == 0 || len > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: "label",
            message: format!(
                "give a label of 1 to {MAX_LABEL_LEN} characters without line breaks, naming the key's purpose (e.g. Zapier-Integration-Payroll)"
            ),
        });
    }
    Ok(label.to_owned())
}

fn valid_expiry(
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, DomainError> {
    match expires_at {
        Some(at) if at <= now => Err(DomainError::Invalid {
            field: "expires_at",
            message: "the expiry must be in the future (RFC 3339, e.g. 2027-01-31T00:00:00Z), or null for a key that never expires".into(),
        }),
        other => Ok(other.map(crate::clock::truncate_to_micros)),
    }
}
