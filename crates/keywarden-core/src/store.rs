//! The storage interface. One implementation per backend lives in `keywarden-store`; the
//! domain services and the HTTP layer see only this trait.
//!
//! Every method that changes something takes the audit events that describe the change and
//! writes both in one transaction: if the events cannot be written, nothing changes.

use crate::account::{Account, Role, User};
use crate::audit::{Action, AuditEvent};
use crate::digest::KeyDigest;
use crate::ids::{AccountId, EventId, KeyId, UserId};
use crate::key_format::{KeyKind, Mode};
use crate::key_record::{KeyRecord, KeyStatus, Lifecycle};
use async_trait::async_trait;
use time::OffsetDateTime;

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist (or belongs to another account).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a concurrent change got there first. The text names the rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back, or any other failure.
    #[error("storage failure: {0}")]
    Other(String),
}

/// A rotation: the old key stops being current and the new key takes its place.
#[derive(Debug)]
pub struct Rotation<'a> {
    /// The key being replaced; must still be `active`, or the rotation conflicts.
    pub old_key: KeyId,
    /// Its account (a key of another account is `NotFound`).
    pub account_id: AccountId,
    /// When the rotation happened.
    pub at: OffsetDateTime,
    /// The old key works until then (equal to `at` when it stops at once).
    pub old_grace_until: OffsetDateTime,
    /// The successor, whose `replaces` names the old key.
    pub new_key: &'a KeyRecord,
}

/// Filters for listing an account's keys.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    /// Only this kind.
    pub kind: Option<KeyKind>,
    /// Only this mode.
    pub mode: Option<Mode>,
    /// Only keys whose lifecycle is `active` (expiry is decided by the caller).
    pub only_active: bool,
}

/// A page of an account's keys, newest first (SPEC §4 `GET /v1/api-keys/`).
#[derive(Clone, Debug, Default)]
pub struct KeyQuery {
    /// Only this kind.
    pub kind: Option<KeyKind>,
    /// Only this mode.
    pub mode: Option<Mode>,
    /// Only keys with this status at the `now` passed alongside (expired = lifecycle active
    /// and `expires_at <= now`; active = lifecycle active and not expired).
    pub status: Option<KeyStatus>,
    /// Case-insensitive substring of the label or the hint.
    pub search: Option<String>,
    /// Cursor: only keys whose id sorts below this one (ids are UUIDv7, so by creation time).
    pub before: Option<KeyId>,
    /// At most this many (the caller caps it).
    pub limit: u32,
}

/// Changes to a key's settings; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    /// New label.
    pub label: Option<String>,
    /// New canonical scope names.
    pub scopes: Option<Vec<String>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// A page of audit events, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events by this user.
    pub actor: Option<UserId>,
    /// Only this action.
    pub action: Option<Action>,
    /// Only events about this key.
    pub key_id: Option<KeyId>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Cursor: only events whose id sorts below this one.
    pub before: Option<EventId>,
    /// At most this many.
    pub limit: u32,
}

/// What the in-memory key table needs of a stored key, and nothing more: the change feed as
/// start-up reads it, 1e6 rows at a time on a large install, so no label, hint, links or
/// times the check never reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTableRow {
    /// Position in the change feed.
    pub change_seq: i64,
    /// HMAC of the key.
    pub digest: KeyDigest,
    /// Record id.
    pub id: KeyId,
    /// Owning account.
    pub account_id: AccountId,
    /// Standard or restricted.
    pub kind: KeyKind,
    /// Test or live.
    pub mode: Mode,
    /// Canonical scope names (empty for standard keys).
    pub scopes: Vec<String>,
    /// What the last action made of the key.
    pub lifecycle: Lifecycle,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// When a revoked key was revoked, or when a rotated key's grace ends; `None` when active.
    pub stopped_at: Option<OffsetDateTime>,
}

impl KeyTableRow {
    /// The row of a full record (what the store's narrow query reads of it).
    pub fn of(record: &KeyRecord) -> Self {
        Self {
            change_seq: record.change_seq,
            digest: record.digest,
            id: record.id,
            account_id: record.account_id,
            kind: record.kind,
            mode: record.mode,
            scopes: record.scopes.clone(),
            lifecycle: record.lifecycle,
            expires_at: record.expires_at,
            stopped_at: record.stopped_at(),
        }
    }
}

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

/// The persistent store.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Creates an account, its first admin and (optionally) keys, with their audit events.
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// Adds a user. An email already in use is a `Conflict`.
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError>;

    /// Issues new keys. A second active standard key for an account and mode is a `Conflict`.
    async fn insert_keys(
        &self,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// Rotates a key atomically. If the old key is no longer `active` (another rotation or a
    /// revocation won), nothing changes and the answer is `Conflict`.
    async fn rotate_key(
        &self,
        rotation: &Rotation<'_>,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Revokes a key of the account. Already revoked is a `Conflict`.
    async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// An account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// One key of an account.
    async fn key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// An account's keys, newest first.
    async fn keys_of_account(
        &self,
        account_id: AccountId,
        filter: &KeyFilter,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Keys whose `change_seq` is above `after`, in ascending `change_seq` order, at most
    /// `limit`: the change feed that keeps every instance's key table current. Sequence
    /// numbers are assigned in commit order, so a reader never skips a change.
    async fn keys_changed_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// The same feed as [`Store::keys_changed_since`], narrowed to what the key table needs
    /// ([`KeyTableRow::of`] of each record) and to `change_seq` at most `until` (`i64::MAX`:
    /// no bound): what start-up and the refresh loop read. Start-up reads two halves of the
    /// feed at once, each bounded by `until`.
    async fn key_table_since(
        &self,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<KeyTableRow>, StoreError>;

    /// Where the feed ends now: the highest `change_seq` committed (0 if there is none).
    /// Everything up to it can be read, as numbers are assigned in commit order.
    async fn feed_end(&self) -> Result<i64, StoreError>;

    /// Records last use times in one batch; never moves a time backwards. Does not bump
    /// `change_seq` (usage is not a change the key table needs).
    async fn record_last_used(&self, uses: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError>;

    /// Audit events of an account, newest first.
    async fn audit_events(
        &self,
        account_id: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends an audit event on its own (sign-ins).
    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// How many keys are stored.
    async fn key_count(&self) -> Result<i64, StoreError>;

    /// The fingerprint of the server secret the stored keys were hashed under, if recorded.
    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError>;

    /// Records the fingerprint of the server secret.
    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    // --- Console API (restricted keys, users, 2FA, policy, audit) ---

    /// A page of an account's keys, newest first (by id), filtered as `query` says.
    async fn list_keys(
        &self,
        account_id: AccountId,
        query: &KeyQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Changes a key's label, scopes or expiry and bumps its `change_seq`; returns the key as
    /// stored. A revoked key is a `Conflict`; another account's key is `NotFound`.
    async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        update: &KeyUpdate,
        event: &AuditEvent,
    ) -> Result<KeyRecord, StoreError>;

    /// The users of an account, oldest first.
    async fn users_of_account(&self, account_id: AccountId) -> Result<Vec<User>, StoreError>;

    /// Changes a user's role. `Conflict("last_admin")` if it would leave the account without
    /// an admin (checked in the same transaction, so two admins demoting each other at once
    /// cannot both succeed). Bumps the user's `session_version`, so tokens carrying the old role
    /// end.
    async fn update_user_role(
        &self,
        account_id: AccountId,
        user_id: UserId,
        role: Role,
        event: &AuditEvent,
    ) -> Result<User, StoreError>;

    /// Removes a user; their sessions end at once. Keys they created stay with the account.
    /// `Conflict("last_admin")` if they are the account's last admin.
    async fn delete_user(
        &self,
        account_id: AccountId,
        user_id: UserId,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Stores an account's new policy (`require_2fa_for_keys`, `rotation_period_days`).
    async fn update_account(&self, account: &Account, event: &AuditEvent)
    -> Result<(), StoreError>;

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

    /// A page of an account's audit events, newest first.
    async fn query_audit_events(
        &self,
        account_id: AccountId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
