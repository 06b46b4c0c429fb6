//! The account key policy (SPEC §9): the rules every key of an account must meet when it is
//! created, changed or rotated, and what to do with a leaked key.
//!
//! Pure rules over a key's mode, kind, expiry and allowlist, so the services (HTTP API and
//! operator CLI alike) and the listing of keys that break the policy read the same verdicts.
//! Where SPEC §9 is silent (decision 0010):
//! - a maximum lifetime and a required expiry apply to restricted keys only: standard keys
//!   never expire (they cannot carry an expiry);
//! - the allowlist rule binds every live key, standard ones too, but issuing an account's
//!   standard keys (`create-account`, `init-keys`) is exempt: they are issued bare and listed as
//!   breaking the policy until an admin gives them an allowlist;
//! - tightening the policy never changes existing keys; they are listed instead.

use crate::key_format::{KeyKind, Mode};
use crate::key_record::KeyRecord;
use ipnet::IpNet;
use time::{Duration, OffsetDateTime};

/// Longest maximum key lifetime an account may set (ten years).
pub const MAX_KEY_LIFETIME_DAYS: u32 = 3650;

/// What happens to a key reported as leaked (SPEC §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LeakAction {
    /// Revoke it at once (the default).
    #[default]
    Revoke,
    /// Record the leak and tell the account, but leave the key working.
    Notify,
}

impl LeakAction {
    /// Every value, in the order the console offers them.
    pub const ALL: [Self; 2] = [Self::Revoke, Self::Notify];

    /// Wire and storage spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Notify => "notify",
        }
    }

    /// Parses the wire and storage spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// The rules an account sets for its keys. The default restricts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountKeyPolicy {
    /// Restricted keys must expire at most this many days after they are created, changed or
    /// rotated; `None`: no maximum.
    pub max_key_lifetime_days: Option<u32>,
    /// Restricted live keys must have an expiry.
    pub require_expiry_for_live: bool,
    /// Live keys must have an IP allowlist.
    pub require_ip_allowlist_for_live: bool,
    /// What a leak report does to a key.
    pub leak_action: LeakAction,
}

/// A rule a key breaks: the key field to fix and why, in words for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    /// `expires_at` or `allowed_ips`.
    pub field: &'static str,
    /// What the policy asks and what the key lacks.
    pub reason: String,
}

impl AccountKeyPolicy {
    /// The rule a restricted key's expiry breaks at `now`, if any. Standard keys are exempt:
    /// they never expire.
    pub fn expiry_breach(
        &self,
        kind: KeyKind,
        mode: Mode,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<Breach> {
        if kind == KeyKind::Standard {
            return None;
        }
        let breach = |reason: String| {
            Some(Breach {
                field: "expires_at",
                reason,
            })
        };
        if let Some(days) = self.max_key_lifetime_days {
            let latest = now + Duration::days(i64::from(days));
            match expires_at {
                None => {
                    return breach(format!(
                        "the account's key policy limits restricted keys to {days} days: set \
                         expires_at no later than {} (standard keys are exempt)",
                        day_text(latest)
                    ));
                }
                Some(at) if at > latest => {
                    return breach(format!(
                        "the account's key policy limits restricted keys to {days} days: \
                         expires_at {} is later than {}; choose an earlier expiry (standard keys \
                         are exempt)",
                        day_text(at),
                        day_text(latest)
                    ));
                }
                Some(_) => {}
            }
        }
        if self.require_expiry_for_live && mode == Mode::Live && expires_at.is_none() {
            return breach(
                "the account's key policy requires restricted live keys to expire: set \
                 expires_at (test keys may do without)"
                    .into(),
            );
        }
        None
    }

    /// The rule a key's allowlist breaks, if any: a live key without one, when the policy asks
    /// for one.
    pub fn allowlist_breach(&self, mode: Mode, allowed_ips: Option<&[IpNet]>) -> Option<Breach> {
        (self.require_ip_allowlist_for_live && mode == Mode::Live && allowed_ips.is_none()).then(
            || Breach {
                field: "allowed_ips",
                reason: "the account's key policy requires live keys to have an IP allowlist: \
                         set allowed_ips to the addresses or ranges the key is used from (test \
                         keys may do without)"
                    .into(),
            },
        )
    }

    /// Every rule `key` breaks at `now`, expiry first.
    pub fn breaches(&self, key: &KeyRecord, now: OffsetDateTime) -> Vec<Breach> {
        // A canary authorizes nothing: the rules that bound a leaked key's reach do not apply.
        if key.policy.canary {
            return Vec::new();
        }
        let expiry = self.expiry_breach(key.kind, key.mode, key.expires_at, now);
        let allowlist = self.allowlist_breach(key.mode, key.policy.allowed_ips.as_deref());
        expiry.into_iter().chain(allowlist).collect()
    }
}

/// A time as a day and minute, for a message: `2027-01-31 12:00 UTC`.
fn day_text(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-02 09:30 UTC);

    fn policy() -> AccountKeyPolicy {
        AccountKeyPolicy {
            max_key_lifetime_days: Some(30),
            require_expiry_for_live: true,
            require_ip_allowlist_for_live: true,
            leak_action: LeakAction::Notify,
        }
    }

    #[test]
    fn the_default_restricts_nothing() {
        let open = AccountKeyPolicy::default();
        for mode in Mode::ALL {
            assert_eq!(
                open.expiry_breach(KeyKind::Restricted, mode, None, NOW),
                None
            );
            assert_eq!(open.allowlist_breach(mode, None), None);
        }
        assert_eq!(open.leak_action, LeakAction::Revoke);
    }

    #[test]
    fn a_maximum_lifetime_needs_an_expiry_within_it() {
        let p = policy();
        let field = |at| {
            p.expiry_breach(KeyKind::Restricted, Mode::Test, at, NOW)
                .map(|b| b.field)
        };
        assert_eq!(
            field(Some(NOW + Duration::days(30))),
            None,
            "the limit itself"
        );
        assert_eq!(
            field(Some(NOW + Duration::days(30) + Duration::SECOND)),
            Some("expires_at")
        );
        assert_eq!(field(None), Some("expires_at"));
        let reason = p
            .expiry_breach(KeyKind::Restricted, Mode::Test, None, NOW)
            .unwrap()
            .reason;
        assert!(
            reason.contains("30 days") && reason.contains("2026-12-02 09:30 UTC"),
            "{reason}"
        );
        assert!(reason.contains("standard keys are exempt"), "{reason}");
    }

    #[test]
    fn standard_keys_are_bound_by_the_allowlist_rule_only() {
        let p = policy();
        assert_eq!(
            p.expiry_breach(KeyKind::Standard, Mode::Live, None, NOW),
            None
        );
        assert_eq!(
            p.allowlist_breach(Mode::Live, None).map(|b| b.field),
            Some("allowed_ips")
        );
        assert_eq!(
            p.allowlist_breach(Mode::Test, None),
            None,
            "test keys are free"
        );
    }

    #[test]
    fn live_keys_need_an_expiry_test_keys_do_not() {
        let p = AccountKeyPolicy {
            require_expiry_for_live: true,
            ..AccountKeyPolicy::default()
        };
        assert!(
            p.expiry_breach(KeyKind::Restricted, Mode::Live, None, NOW)
                .is_some_and(|b| b.reason.contains("test keys may do without"))
        );
        assert_eq!(
            p.expiry_breach(KeyKind::Restricted, Mode::Test, None, NOW),
            None
        );
        let far = Some(NOW + Duration::days(5000));
        assert_eq!(
            p.expiry_breach(KeyKind::Restricted, Mode::Live, far, NOW),
            None
        );
    }

    #[test]
    fn leak_actions_spell_as_on_the_wire() {
        for action in LeakAction::ALL {
            assert_eq!(LeakAction::from_name(action.as_str()), Some(action));
        }
        assert_eq!(LeakAction::from_name("Revoke"), None);
        assert_eq!(LeakAction::from_name(""), None);
    }
}
