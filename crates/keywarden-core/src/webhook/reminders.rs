//! The scheduled events: `key.expiring` 7 days and 1 day before a key's expiry, `key.expired`
//! when it passes, and `key.rotation_due` when a key becomes older than its account's rotation
//! period. Each is sent once per key and threshold: the store records a reminder in the same
//! transaction as its event, under a unique (key, reminder) pair, so several instances and
//! restarts cannot send it twice. Everything is computed from the data and the injected clock.

use crate::audit::Action;
use crate::key_record::{KeyRecord, Lifecycle};
use time::{Duration, OffsetDateTime};

/// A reminder about one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reminder {
    /// The key expires in 7 days.
    ExpiresInSevenDays,
    /// The key expires in 1 day.
    ExpiresInOneDay,
    /// The key expired.
    Expired,
    /// The key is older than the rotation period.
    RotationDue,
}

impl Reminder {
    /// Every reminder.
    pub const ALL: [Reminder; 4] = [
        Self::ExpiresInSevenDays,
        Self::ExpiresInOneDay,
        Self::Expired,
        Self::RotationDue,
    ];

    /// Storage spelling (the unique marker's second half).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExpiresInSevenDays => "expiring_7d",
            Self::ExpiresInOneDay => "expiring_1d",
            Self::Expired => "expired",
            Self::RotationDue => "rotation_due",
        }
    }

    /// The audit action (and so the webhook type) of the reminder.
    pub const fn action(self) -> Action {
        match self {
            Self::ExpiresInSevenDays | Self::ExpiresInOneDay => Action::KeyExpiring,
            Self::Expired => Action::KeyExpired,
            Self::RotationDue => Action::KeyRotationDue,
        }
    }

    /// The audit detail of the reminder.
    pub fn detail(self, key: &KeyRecord) -> String {
        let when = key
            .expires_at
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        match self {
            Self::ExpiresInSevenDays => format!("key {} expires in 7 days ({when})", key.hint),
            Self::ExpiresInOneDay => format!("key {} expires in 1 day ({when})", key.hint),
            Self::Expired => format!("key {} expired ({when})", key.hint),
            Self::RotationDue => format!("key {} is due for rotation", key.hint),
        }
    }
}

/// How far ahead the store must look for keys that may need a reminder now.
pub const HORIZON: Duration = Duration::days(7);

/// The reminders `key` is due at `now` (whether they were already sent is the store's
/// business). Only a key whose lifecycle is active gets any. An expiry reminder is due only if
/// the key existed at its threshold: a key made to last 3 days gets no "7 days" reminder.
pub fn due(key: &KeyRecord, now: OffsetDateTime, rotation_period_days: u32) -> Vec<Reminder> {
    let mut due = Vec::new();
    if key.lifecycle != Lifecycle::Active {
        return due;
    }
    if let Some(expires_at) = key.expires_at {
        if now >= expires_at {
            due.push(Reminder::Expired);
        } else {
            for (reminder, before) in [
                (Reminder::ExpiresInSevenDays, Duration::days(7)),
                (Reminder::ExpiresInOneDay, Duration::days(1)),
            ] {
                let threshold = expires_at - before;
                if now >= threshold && key.created_at <= threshold {
                    due.push(reminder);
                }
            }
        }
    }
    if key.rotation_due(now, rotation_period_days) && key.expires_at.is_none_or(|e| now < e) {
        due.push(Reminder::RotationDue);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::KeyDigest;
    use crate::ids::{AccountId, KeyId, UserId};
    use crate::key_format::{KeyKind, Mode};
    use time::macros::datetime;

    fn key(created: OffsetDateTime, expires: Option<OffsetDateTime>) -> KeyRecord {
        KeyRecord {
            id: KeyId::new_at(created),
            account_id: AccountId::new_at(created),
            kind: KeyKind::Restricted,
            mode: Mode::Test,
            label: "k".into(),
            hint: "rk_test_…abcd".into(),
            digest: KeyDigest([0; 32]),
            scopes: vec![],
            lifecycle: Lifecycle::Active,
            created_at: created,
            created_by: Some(UserId::new_at(created)),
            expires_at: expires,
            revoked_at: None,
            rotated_at: None,
            grace_until: None,
            replaced_by: None,
            replaces: None,
            last_used_at: None,
            change_seq: 0,
            policy: Default::default(),
            leak: None,
        }
    }

    #[test]
    fn expiry_reminders_come_at_their_thresholds() {
        let made = datetime!(2026-01-01 00:00 UTC);
        let expires = datetime!(2026-02-01 00:00 UTC);
        let k = key(made, Some(expires));
        assert!(due(&k, datetime!(2026-01-24 23:59 UTC), 90).is_empty());
        assert_eq!(
            due(&k, datetime!(2026-01-25 00:00 UTC), 90),
            vec![Reminder::ExpiresInSevenDays]
        );
        assert_eq!(
            due(&k, datetime!(2026-01-31 00:00 UTC), 90),
            vec![Reminder::ExpiresInSevenDays, Reminder::ExpiresInOneDay]
        );
        assert_eq!(due(&k, expires, 90), vec![Reminder::Expired]);
    }

    #[test]
    fn a_short_lived_key_gets_no_seven_day_reminder_and_a_revoked_key_none() {
        let made = datetime!(2026-01-29 00:00 UTC);
        let k = key(made, Some(datetime!(2026-02-01 00:00 UTC)));
        assert_eq!(
            due(&k, datetime!(2026-01-31 00:00 UTC), 90),
            vec![Reminder::ExpiresInOneDay]
        );
        let mut revoked = k.clone();
        revoked.lifecycle = Lifecycle::Revoked;
        assert!(due(&revoked, datetime!(2026-02-02 00:00 UTC), 90).is_empty());
    }

    #[test]
    fn rotation_is_due_after_the_period() {
        let k = key(datetime!(2026-01-01 00:00 UTC), None);
        assert!(due(&k, datetime!(2026-03-31 23:00 UTC), 90).is_empty());
        assert_eq!(
            due(&k, datetime!(2026-04-01 00:00 UTC), 90),
            vec![Reminder::RotationDue]
        );
    }
}
