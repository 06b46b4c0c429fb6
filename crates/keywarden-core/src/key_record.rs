//! A stored key and the rules that decide, at a given moment, whether it still works.

use crate::digest::KeyDigest;
use crate::ids::{AccountId, KeyId, UserId};
use crate::key_format::{KeyKind, Mode};
use crate::key_policy::KeyPolicy;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What the last action on a key made of it. Expiry is not stored: it follows from the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// In service.
    Active,
    /// Superseded by rotation; works until `grace_until`.
    Rotated,
    /// Revoked; never works again.
    Revoked,
}

impl Lifecycle {
    /// Storage spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Rotated => "rotated",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the storage spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "rotated" => Some(Self::Rotated),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// The status a reader sees (SPEC §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Works.
    Active,
    /// Its expiry has passed.
    Expired,
    /// Revoked.
    Revoked,
    /// Superseded by rotation (may still work until its grace deadline).
    Rotated,
}

impl KeyStatus {
    /// Wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Rotated => "rotated",
        }
    }
}

/// Why a stored key no longer works (SPEC §3): revoked, rotated past its grace, or expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// `key_revoked`
    Revoked {
        /// When it was revoked.
        at: OffsetDateTime,
    },
    /// `key_rotated`: superseded and past its grace deadline.
    Rotated {
        /// When it stopped working.
        at: OffsetDateTime,
    },
    /// `key_expired`
    Expired {
        /// Its expiry.
        at: OffsetDateTime,
    },
}

/// A key as stored: metadata and digest, never the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Record id.
    pub id: KeyId,
    /// Owning account.
    pub account_id: AccountId,
    /// Standard or restricted.
    pub kind: KeyKind,
    /// Test or live.
    pub mode: Mode,
    /// Human label.
    pub label: String,
    /// First 12 and last 4 characters of the secret.
    pub hint: String,
    /// HMAC of the secret.
    pub digest: KeyDigest,
    /// Canonical scope names (restricted keys); standard keys reach every product.
    pub scopes: Vec<String>,
    /// What the last action made of it.
    pub lifecycle: Lifecycle,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Who created it (none for keys made by the operator CLI).
    pub created_by: Option<UserId>,
    /// Optional expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Last successful verification (batched, so a few seconds behind).
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was superseded by rotation.
    pub rotated_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// A rotated key works until then.
    pub grace_until: Option<OffsetDateTime>,
    /// The key that replaced it.
    pub replaced_by: Option<KeyId>,
    /// The key it replaced; the time of that rotation is this key's `created_at`.
    pub replaces: Option<KeyId>,
    /// Position in the store's change feed (assigned by the store).
    pub change_seq: i64,
    /// Allowlist, limits and metadata (SPEC §9); empty for most keys.
    pub policy: KeyPolicy,
    /// When and where the key was first reported leaked (SPEC §8); `None` if it never was.
    pub leak: Option<Leak>,
}

/// A key's first leak report: kept on the key so that the console can say it, whatever the
/// account's `leak_action` did about it (every later report is in the audit trail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// When it was reported.
    pub at: OffsetDateTime,
    /// Where it was found: the `http(s)` URL a scanning report gave, or `None` (a pasted text,
    /// or a report without a usable URL).
    pub url: Option<String>,
}

impl KeyRecord {
    /// When a revoked key was revoked, or when a rotated key stops working (the end of its
    /// grace); `None` for an active key. The stores' narrow feed query computes the same in
    /// SQL (`stopped_at` in `keywarden-store`; a conformance check compares the two).
    pub fn stopped_at(&self) -> Option<OffsetDateTime> {
        match self.lifecycle {
            Lifecycle::Active => None,
            Lifecycle::Revoked => Some(self.revoked_at.unwrap_or(self.created_at)),
            Lifecycle::Rotated => Some(
                self.grace_until
                    .or(self.rotated_at)
                    .unwrap_or(self.created_at),
            ),
        }
    }

    /// Whether the key is refused at `now`, and why. Revocation wins over rotation, which wins
    /// over expiry.
    pub fn stopped_by(&self, now: OffsetDateTime) -> Option<Stopped> {
        match (self.lifecycle, self.stopped_at()) {
            (Lifecycle::Revoked, Some(at)) => return Some(Stopped::Revoked { at }),
            (Lifecycle::Rotated, Some(until)) if now >= until => {
                return Some(Stopped::Rotated { at: until });
            }
            _ => {}
        }
        match self.expires_at {
            Some(at) if now >= at => Some(Stopped::Expired { at }),
            _ => None,
        }
    }

    /// The status shown in metadata at `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> KeyStatus {
        match (self.lifecycle, self.stopped_by(now)) {
            (Lifecycle::Revoked, _) => KeyStatus::Revoked,
            (Lifecycle::Rotated, _) => KeyStatus::Rotated,
            (Lifecycle::Active, Some(Stopped::Expired { .. })) => KeyStatus::Expired,
            (Lifecycle::Active, _) => KeyStatus::Active,
        }
    }

    /// Whether the key is older than the account's rotation period at `now` (never for a
    /// canary: it is not rotated, it lies in wait).
    pub fn rotation_due(&self, now: OffsetDateTime, period_days: u32) -> bool {
        self.lifecycle == Lifecycle::Active
            && !self.policy.canary
            && now - self.created_at >= time::Duration::days(i64::from(period_days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    fn record() -> KeyRecord {
        let at = datetime!(2026-01-01 00:00 UTC);
        KeyRecord {
            id: KeyId::new_at(at),
            account_id: AccountId::new_at(at),
            kind: KeyKind::Restricted,
            mode: Mode::Test,
            label: "l".into(),
            hint: "h".into(),
            digest: KeyDigest([0; 32]),
            scopes: vec![],
            lifecycle: Lifecycle::Active,
            created_at: at,
            created_by: None,
            expires_at: None,
            last_used_at: None,
            rotated_at: None,
            revoked_at: None,
            grace_until: None,
            replaced_by: None,
            replaces: None,
            change_seq: 0,
            policy: Default::default(),
            leak: None,
        }
    }

    #[test]
    fn expiry_takes_effect_at_the_exact_moment() {
        let at = datetime!(2026-02-01 00:00 UTC);
        let r = KeyRecord {
            expires_at: Some(at),
            ..record()
        };
        assert_eq!(r.stopped_by(at - Duration::nanoseconds(1)), None);
        assert_eq!(r.stopped_by(at), Some(Stopped::Expired { at }));
        assert_eq!(r.status_at(at), KeyStatus::Expired);
    }

    #[test]
    fn a_rotated_key_works_until_its_grace_deadline() {
        let rotated = datetime!(2026-02-01 00:00 UTC);
        let until = rotated + Duration::hours(1);
        let r = KeyRecord {
            lifecycle: Lifecycle::Rotated,
            rotated_at: Some(rotated),
            grace_until: Some(until),
            ..record()
        };
        assert_eq!(r.stopped_by(until - Duration::seconds(1)), None);
        assert_eq!(
            r.status_at(until - Duration::seconds(1)),
            KeyStatus::Rotated
        );
        assert_eq!(r.stopped_by(until), Some(Stopped::Rotated { at: until }));
    }

    #[test]
    fn revocation_wins() {
        let at = datetime!(2026-02-01 00:00 UTC);
        let r = KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(at),
            expires_at: Some(at - Duration::days(1)),
            ..record()
        };
        assert_eq!(r.stopped_by(at), Some(Stopped::Revoked { at }));
        assert_eq!(r.status_at(at), KeyStatus::Revoked);
    }

    #[test]
    fn rotation_is_due_after_the_period() {
        let r = record();
        assert!(!r.rotation_due(r.created_at + Duration::days(89), 90));
        assert!(r.rotation_due(r.created_at + Duration::days(90), 90));
    }
}
