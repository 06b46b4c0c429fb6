//! The domain services: every change to accounts, users and keys goes through here, whether
//! it comes from the HTTP API or the operator CLI, so the rules and the audit trail are the
//! same for both.

use crate::account::{Account, DEFAULT_ROTATION_PERIOD_DAYS, Role, User, normalize_email};
use crate::account_key_policy::AccountKeyPolicy;
use crate::audit::{Action, Actor, AuditEvent};
use crate::clock::Clock;
use crate::digest::KeyHasher;
use crate::error::DomainError;
use crate::ids::{AccountId, EventId, KeyId, UserId};
use crate::key_format::{self, KeyKind, Mode, PlainKey};
use crate::key_policy::KeyPolicy;
use crate::key_record::{KeyRecord, Lifecycle};
use crate::random::RandomSource;
use crate::scope::Catalog;
use crate::secret::ServerSecret;
use crate::store::{Rotation, Store, StoreError};
use crate::two_factor::SecondFactor;
use crate::webhook::signing::SecretSeal;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

mod account_policy;
mod canaries;
mod leaks;
mod restricted_keys;
mod second_factor;
pub mod sign_in;
mod standard_keys;
mod users;
mod webhooks;

pub use account_policy::{AccountPolicyChanges, PolicyViolation};
pub use canaries::CanaryPresentation;
pub use leaks::{HandledLeak, LeakOrigin, MAX_LEAK_URL_LEN, PastedLeaks, ReportedToken};
pub use restricted_keys::{KeyChanges, NewKey};
pub use second_factor::TotpSetup;
pub use webhooks::{AddedEndpoint, EndpointChanges, NewEndpoint, RotatedEndpointSecret};

/// Longest grace a rotated key may keep working (SPEC §4: at most 7 days).
pub const MAX_ROTATION_GRACE: Duration = Duration::days(7);
/// Longest account name.
pub const MAX_ACCOUNT_NAME_LEN: usize = 100;

/// A key just issued: its record and the secret, to show once.
#[derive(Debug)]
pub struct IssuedKey {
    /// What is stored.
    pub record: KeyRecord,
    /// The secret.
    pub secret: PlainKey,
}

/// A rotation just made: the new key (shown once) and the old key as it now stands.
#[derive(Debug)]
pub struct RotatedKey {
    /// The successor.
    pub issued: IssuedKey,
    /// The replaced key, now `rotated`, working until its `grace_until`.
    pub previous: KeyRecord,
}

/// What the operator asks for when creating an account.
#[derive(Debug)]
pub struct NewAccount {
    /// Display name.
    pub name: String,
    /// Email of the first admin.
    pub admin_email: String,
    /// argon2id hash of the first admin's password (hashed by the caller, off the runtime).
    pub admin_password_hash: String,
    /// Whether to issue the two standard keys now.
    pub with_keys: bool,
}

/// An account just created.
#[derive(Debug)]
pub struct CreatedAccount {
    /// The account.
    pub account: Account,
    /// Its first admin.
    pub admin: User,
    /// Its standard keys, if asked for.
    pub keys: Vec<IssuedKey>,
}

/// Where a committed key change goes before the operation returns: the serving instance's
/// in-memory key table, so that the instance that made a change answers the very next request
/// by it (SPEC §5). The operator CLI has none; servers catch up from the change feed.
pub trait KeyTableUpdates: Send + Sync + std::fmt::Debug {
    /// Applies records as they now stand.
    fn apply(&self, records: &[KeyRecord]);
}

/// The services, over one store.
#[derive(Debug, Clone)]
pub struct AccountService {
    store: Arc<dyn Store>,
    key_table: Option<Arc<dyn KeyTableUpdates>>,
    hasher: KeyHasher,
    second_factor: SecondFactor,
    webhook_seal: SecretSeal,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    rotation_period_days: u32,
}

impl AccountService {
    /// Services over `store`, with keys derived from the server `secret`.
    pub fn new(
        store: Arc<dyn Store>,
        secret: &ServerSecret,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn RandomSource>,
    ) -> Self {
        Self {
            store,
            key_table: None,
            hasher: KeyHasher::new(secret),
            second_factor: SecondFactor::new(secret),
            webhook_seal: SecretSeal::new(secret),
            catalog,
            clock,
            random,
            rotation_period_days: DEFAULT_ROTATION_PERIOD_DAYS,
        }
    }

    /// Key changes are applied to `table` before each operation returns.
    pub fn with_key_table(mut self, table: Arc<dyn KeyTableUpdates>) -> Self {
        self.key_table = Some(table);
        self
    }

    /// Tells the key table of committed key changes.
    fn committed(&self, records: &[KeyRecord]) {
        if let Some(table) = &self.key_table {
            table.apply(records);
        }
    }

    /// Sets the rotation period new accounts start with.
    pub fn with_rotation_period(mut self, days: u32) -> Self {
        self.rotation_period_days = days.max(1);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The key hasher.
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// The product catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn event(
        &self,
        account_id: AccountId,
        action: Action,
        actor: &Actor,
        key_id: Option<KeyId>,
        detail: String,
        at: OffsetDateTime,
    ) -> AuditEvent {
        AuditEvent {
            id: EventId::new_at(at),
            account_id,
            action,
            actor: actor.clone(),
            key_id,
            detail,
            at,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn issue(
        &self,
        account_id: AccountId,
        kind: KeyKind,
        mode: Mode,
        label: String,
        scopes: Vec<String>,
        expires_at: Option<OffsetDateTime>,
        actor: &Actor,
        replaces: Option<KeyId>,
        now: OffsetDateTime,
    ) -> Result<IssuedKey, DomainError> {
        let secret = key_format::generate(kind, mode, self.random.as_ref())?;
        let record = KeyRecord {
            id: KeyId::new_at(now),
            account_id,
            kind,
            mode,
            label,
            hint: secret.hint(),
            digest: self.hasher.digest(secret.expose()),
            scopes,
            lifecycle: Lifecycle::Active,
            created_at: now,
            created_by: actor.user_id,
            expires_at,
            last_used_at: None,
            rotated_at: None,
            revoked_at: None,
            grace_until: None,
            replaced_by: None,
            replaces,
            change_seq: 0,
            policy: KeyPolicy::default(),
            leak: None,
        };
        Ok(IssuedKey { record, secret })
    }

    fn standard_pair(
        &self,
        account_id: AccountId,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(Vec<IssuedKey>, Vec<AuditEvent>), DomainError> {
        let mut keys = Vec::with_capacity(2);
        let mut events = Vec::with_capacity(2);
        for mode in Mode::ALL {
            let label = format!("Standard {mode} key");
            let key = self.issue(
                account_id,
                KeyKind::Standard,
                mode,
                label,
                vec![],
                None,
                actor,
                None,
                now,
            )?;
            events.push(self.event(
                account_id,
                Action::KeyCreated,
                actor,
                Some(key.record.id),
                format!("issued the standard {mode} key {}", key.record.hint),
                now,
            ));
            keys.push(key);
        }
        Ok((keys, events))
    }

    /// Creates an account with its first admin and, if asked, its two standard keys.
    pub async fn create_account(
        &self,
        new: NewAccount,
        actor: &Actor,
    ) -> Result<CreatedAccount, DomainError> {
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_ACCOUNT_NAME_LEN {
            return Err(DomainError::Invalid {
                field: "name",
                message: format!(
                    "give the account a name of 1 to {MAX_ACCOUNT_NAME_LEN} characters"
                ),
            });
        }
        let email = valid_email(&new.admin_email)?;
        let now = self.clock.now();
        let account = Account {
            id: AccountId::new_at(now),
            name,
            created_at: now,
            require_2fa_for_keys: false,
            rotation_period_days: self.rotation_period_days,
            key_policy: AccountKeyPolicy::default(),
        };
        let admin = User {
            id: UserId::new_at(now),
            account_id: account.id,
            email,
            password_hash: new.admin_password_hash,
            role: Role::Admin,
            two_factor_enabled: false,
            session_version: 0,
            created_at: now,
        };
        let mut events = vec![self.event(
            account.id,
            Action::AccountCreated,
            actor,
            None,
            format!(
                "created account '{}' with admin {}",
                account.name, admin.email
            ),
            now,
        )];
        let mut keys = Vec::new();
        if new.with_keys {
            let (issued, key_events) = self.standard_pair(account.id, actor, now)?;
            keys = issued;
            events.extend(key_events);
        }
        let records: Vec<KeyRecord> = keys.iter().map(|k| k.record.clone()).collect();
        self.store
            .create_account(&account, &admin, &records, &events)
            .await
            .map_err(|e| conflict_as(e, "that email address is already in use"))?;
        self.committed(&records);
        Ok(CreatedAccount {
            account,
            admin,
            keys,
        })
    }

    /// Issues the account's standard keys of the modes it has no active one of: both for an
    /// account created without them, or one to replace a standard key that was revoked (by
    /// hand, or automatically when it leaked), which rotation can no longer reach.
    pub async fn init_standard_keys(
        &self,
        account_id: AccountId,
        actor: &Actor,
    ) -> Result<Vec<IssuedKey>, DomainError> {
        self.store
            .account(account_id)
            .await?
            .ok_or(DomainError::NotFound("account"))?;
        let active: Vec<Mode> = self
            .standard_keys(account_id)
            .await?
            .iter()
            .map(|k| k.mode)
            .collect();
        if Mode::ALL.iter().all(|m| active.contains(m)) {
            return Err(DomainError::Conflict(
                "this account's standard keys are already initialised; rotate them instead".into(),
            ));
        }
        let now = self.clock.now();
        let (keys, events) = self.standard_pair(account_id, actor, now)?;
        let (keys, events): (Vec<IssuedKey>, Vec<AuditEvent>) = keys
            .into_iter()
            .zip(events)
            .filter(|(k, _)| !active.contains(&k.record.mode))
            .unzip();
        let records: Vec<KeyRecord> = keys.iter().map(|k| k.record.clone()).collect();
        self.store
            .insert_keys(&records, &events)
            .await
            .map_err(|e| {
                conflict_as(
                    e,
                    "this account's standard keys were initialised concurrently",
                )
            })?;
        self.committed(&records);
        Ok(keys)
    }

    /// Adds a user to an account.
    pub async fn add_user(
        &self,
        account_id: AccountId,
        email: &str,
        role: Role,
        password_hash: String,
        actor: &Actor,
    ) -> Result<User, DomainError> {
        self.store
            .account(account_id)
            .await?
            .ok_or(DomainError::NotFound("account"))?;
        let email = valid_email(email)?;
        let now = self.clock.now();
        let user = User {
            id: UserId::new_at(now),
            account_id,
            email,
            password_hash,
            role,
            two_factor_enabled: false,
            session_version: 0,
            created_at: now,
        };
        let event = self.event(
            account_id,
            Action::UserCreated,
            actor,
            None,
            format!("added {} as {}", user.email, role.as_str()),
            now,
        );
        self.store
            .insert_user(&user, &event)
            .await
            .map_err(|e| conflict_as(e, "that email address is already in use"))?;
        Ok(user)
    }

    /// Rotates any key of the account: a new secret with the same settings.
    pub async fn rotate_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        grace: Option<Duration>,
        actor: &Actor,
    ) -> Result<RotatedKey, DomainError> {
        let account = self.ensure_actor_may_change_keys(account_id, actor).await?;
        let current = self
            .store
            .key(account_id, key_id)
            .await?
            .ok_or(DomainError::NotFound("key"))?;
        self.rotate(current, grace, &account.key_policy, actor)
            .await
    }

    /// Rotates `current`. The successor keeps its expiry and policy, and must meet the account's
    /// key policy as it stands now.
    async fn rotate(
        &self,
        current: KeyRecord,
        grace: Option<Duration>,
        key_policy: &AccountKeyPolicy,
        actor: &Actor,
    ) -> Result<RotatedKey, DomainError> {
        let grace = grace.unwrap_or(Duration::ZERO);
        if grace.is_negative() || grace > MAX_ROTATION_GRACE {
            return Err(DomainError::Invalid {
                field: "expire_previous_in",
                message: format!(
                    "give a number of seconds from 0 to {} (7 days)",
                    MAX_ROTATION_GRACE.whole_seconds()
                ),
            });
        }
        if current.lifecycle != Lifecycle::Active {
            return Err(DomainError::Conflict(format!(
                "this key is already {} and cannot be rotated; rotate its successor instead",
                current.lifecycle.as_str()
            )));
        }
        if current.policy.canary {
            return Err(DomainError::Conflict(
                "a canary key is not rotated: its secret is there to be found. Create another \
                 canary to plant elsewhere, and revoke this one when you retire it"
                    .into(),
            ));
        }
        let now = self.clock.now();
        if current.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::Conflict(
                "this key has expired; rotating it would only make an expired successor. \
                 Extend its expiry (PATCH expires_at) or create a new key"
                    .into(),
            ));
        }
        let mut new = self.issue(
            current.account_id,
            current.kind,
            current.mode,
            current.label.clone(),
            current.scopes.clone(),
            current.expires_at,
            actor,
            Some(current.id),
            now,
        )?;
        // The successor keeps the old key's allowlist, limits and metadata (its counts start
        // afresh: they belong to the old key).
        new.record.policy = current.policy.clone();
        if let Some(breach) = key_policy.breaches(&new.record, now).into_iter().next() {
            return Err(restricted_keys::violation(
                breach,
                &format!(
                    "change the key first (PATCH /v1/api-keys/{}/), then rotate it: the new key \
                     keeps the old one's expiry and allowlist",
                    current.id
                ),
            ));
        }
        let until = now + grace;
        let detail = if grace.is_zero() {
            format!(
                "rotated {} to {}; the old key stopped at once",
                current.hint, new.record.hint
            )
        } else {
            format!(
                "rotated {} to {}; the old key keeps working for {}",
                current.hint,
                new.record.hint,
                duration_in_words(grace)
            )
        };
        let event = self.event(
            current.account_id,
            Action::KeyRotated,
            actor,
            Some(current.id),
            detail,
            now,
        );
        let rotation = Rotation {
            old_key: current.id,
            account_id: current.account_id,
            at: now,
            old_grace_until: until,
            new_key: &new.record,
        };
        self.store.rotate_key(&rotation, &event).await.map_err(|e| match e {
            StoreError::NotFound => DomainError::NotFound("key"),
            other => conflict_as(
                other,
                "this key was rotated or revoked by another request just now; reload and try again",
            ),
        })?;
        let previous = KeyRecord {
            lifecycle: Lifecycle::Rotated,
            rotated_at: Some(now),
            grace_until: Some(until),
            replaced_by: Some(new.record.id),
            ..current
        };
        self.committed(&[previous.clone(), new.record.clone()]);
        Ok(RotatedKey {
            issued: new,
            previous,
        })
    }

    /// Revokes a key of the account; the record stays, as `revoked`, and is returned as it
    /// now stands.
    pub async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        actor: &Actor,
    ) -> Result<KeyRecord, DomainError> {
        self.ensure_actor_may_change_keys(account_id, actor).await?;
        let key = self
            .store
            .key(account_id, key_id)
            .await?
            .ok_or(DomainError::NotFound("key"))?;
        if key.lifecycle == Lifecycle::Revoked {
            return Err(DomainError::Conflict("this key is already revoked".into()));
        }
        let now = self.clock.now();
        let event = self.event(
            account_id,
            Action::KeyRevoked,
            actor,
            Some(key_id),
            format!("revoked {}", key.hint),
            now,
        );
        self.store
            .revoke_key(account_id, key_id, now, &event)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DomainError::NotFound("key"),
                other => conflict_as(other, "this key was revoked by another request just now"),
            })?;
        let revoked = KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(now),
            ..key
        };
        // Out of the table before the answer: the very next request with this key is refused.
        self.committed(std::slice::from_ref(&revoked));
        Ok(revoked)
    }
}

/// A duration as a person reads it in the audit log: "1 hour", "24 hours", "7 days",
/// "90 minutes"; whole seconds only when nothing larger divides it.
fn duration_in_words(duration: time::Duration) -> String {
    let seconds = duration.whole_seconds();
    let (count, unit) = if seconds >= 2 * 86_400 && seconds % 86_400 == 0 {
        (seconds / 86_400, "day")
    } else if seconds >= 3_600 && seconds % 3_600 == 0 {
        (seconds / 3_600, "hour")
    } else if seconds >= 60 && seconds % 60 == 0 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

fn valid_email(email: &str) -> Result<String, DomainError> {
    normalize_email(email).ok_or_else(|| DomainError::Invalid {
        field: "email",
        message: "give a valid email address, like ada@example.com".into(),
    })
}

/// Turns a store conflict into a domain conflict with a message for people.
fn conflict_as(error: StoreError, message: &str) -> DomainError {
    match error {
        StoreError::Conflict(_) => DomainError::Conflict(message.to_owned()),
        other => DomainError::Store(other),
    }
}

#[cfg(test)]
mod tests {
    use super::duration_in_words;
    use time::Duration;

    #[test]
    fn hand_over_periods_read_in_human_units() {
        let cases = [
            (Duration::hours(1), "1 hour"),
            (Duration::hours(24), "24 hours"),
            (Duration::days(7), "7 days"),
            (Duration::days(2), "2 days"),
            (Duration::minutes(90), "90 minutes"),
            (Duration::minutes(1), "1 minute"),
            (Duration::seconds(61), "61 seconds"),
            (Duration::seconds(1), "1 second"),
        ];
        for (duration, words) in cases {
            assert_eq!(duration_in_words(duration), words);
        }
    }
}
