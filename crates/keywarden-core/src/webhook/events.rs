//! The event types of SPEC §7 and an endpoint's choice of them.

use crate::audit::Action;
use serde::{Deserialize, Serialize};

/// A webhook event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A key was issued.
    #[serde(rename = "key.created")]
    KeyCreated,
    /// A key's label, scopes or expiry changed.
    #[serde(rename = "key.updated")]
    KeyUpdated,
    /// A key was rotated.
    #[serde(rename = "key.rotated")]
    KeyRotated,
    /// A key was revoked.
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// A key expires in 7 days, or in 1 day (once each).
    #[serde(rename = "key.expiring")]
    KeyExpiring,
    /// A key expired.
    #[serde(rename = "key.expired")]
    KeyExpired,
    /// A key became older than the account's rotation period.
    #[serde(rename = "key.rotation_due")]
    KeyRotationDue,
    /// A key was found leaked (SPEC §8).
    #[serde(rename = "key.leaked")]
    KeyLeaked,
    /// A canary key was used (SPEC §8).
    #[serde(rename = "key.canary_used")]
    KeyCanaryUsed,
    /// A user was added.
    #[serde(rename = "user.added")]
    UserAdded,
    /// A user was removed.
    #[serde(rename = "user.removed")]
    UserRemoved,
    /// A user's role changed.
    #[serde(rename = "user.role_changed")]
    UserRoleChanged,
    /// The account's policy changed.
    #[serde(rename = "account.updated")]
    AccountUpdated,
    /// Sent on request, to try an endpoint.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// Every type, in catalogue order.
    pub const ALL: [EventType; 14] = [
        Self::KeyCreated,
        Self::KeyUpdated,
        Self::KeyRotated,
        Self::KeyRevoked,
        Self::KeyExpiring,
        Self::KeyExpired,
        Self::KeyRotationDue,
        Self::KeyLeaked,
        Self::KeyCanaryUsed,
        Self::UserAdded,
        Self::UserRemoved,
        Self::UserRoleChanged,
        Self::AccountUpdated,
        Self::WebhookTest,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KeyCreated => "key.created",
            Self::KeyUpdated => "key.updated",
            Self::KeyRotated => "key.rotated",
            Self::KeyRevoked => "key.revoked",
            Self::KeyExpiring => "key.expiring",
            Self::KeyExpired => "key.expired",
            Self::KeyRotationDue => "key.rotation_due",
            Self::KeyLeaked => "key.leaked",
            Self::KeyCanaryUsed => "key.canary_used",
            Self::UserAdded => "user.added",
            Self::UserRemoved => "user.removed",
            Self::UserRoleChanged => "user.role_changed",
            Self::AccountUpdated => "account.updated",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// The type spelt `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The webhook type of an audit action, if it leaves the system. Sign-ins, 2FA steps and
    /// webhook administration stay in the audit trail only.
    pub const fn of_action(action: Action) -> Option<Self> {
        match action {
            Action::KeyCreated => Some(Self::KeyCreated),
            Action::KeyUpdated => Some(Self::KeyUpdated),
            Action::KeyRotated => Some(Self::KeyRotated),
            Action::KeyRevoked => Some(Self::KeyRevoked),
            Action::KeyExpiring => Some(Self::KeyExpiring),
            Action::KeyExpired => Some(Self::KeyExpired),
            Action::KeyRotationDue => Some(Self::KeyRotationDue),
            Action::KeyLeaked => Some(Self::KeyLeaked),
            Action::KeyCanaryUsed => Some(Self::KeyCanaryUsed),
            Action::UserCreated => Some(Self::UserAdded),
            Action::UserRemoved => Some(Self::UserRemoved),
            Action::UserRoleChanged => Some(Self::UserRoleChanged),
            Action::AccountUpdated => Some(Self::AccountUpdated),
            _ => None,
        }
    }
}

/// The event types an endpoint receives: every one (`["*"]`) or a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// Every type, including types added later.
    All,
    /// These types (never empty, sorted, without duplicates).
    Only(Vec<EventType>),
}

impl Subscription {
    /// Whether an event of type `event` goes to this endpoint. A test event goes only to the
    /// endpoint it was sent to, whatever it subscribes to.
    pub fn wants(&self, event: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&event),
        }
    }

    /// Reads the wire form: `["*"]` or a non-empty list of type names (a list holding `"*"`
    /// means every type). The error names the first word that is not a type.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("give at least one event type, or [\"*\"] for every type".into());
        }
        // "*" already names every type, so a list that holds it means every type.
        if names.iter().any(|n| n.as_ref() == "*") {
            return Ok(Self::All);
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let event = EventType::from_name(name).ok_or_else(|| {
                format!("{name:?} is not an event type; use one of SPEC §7's types (e.g. key.revoked) or \"*\"")
            })?;
            types.push(event);
        }
        types.sort();
        types.dedup();
        Ok(Self::Only(types))
    }

    /// The wire form.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(types) => types.iter().map(|t| t.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serde_agrees() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).ok(),
                Some(serde_json::Value::String(t.as_str().into()))
            );
        }
        assert_eq!(EventType::from_name("key.deleted"), None);
    }

    #[test]
    fn subscriptions_parse_strictly() {
        assert_eq!(Subscription::parse(&["*"]), Ok(Subscription::All));
        assert!(Subscription::parse::<&str>(&[]).is_err());
        assert_eq!(
            Subscription::parse(&["*", "key.revoked"]),
            Ok(Subscription::All)
        );
        assert_eq!(Subscription::parse(&["*", "*"]), Ok(Subscription::All));
        assert!(Subscription::parse(&["key.revokd"]).is_err());
        let s = Subscription::parse(&["key.revoked", "key.created", "key.revoked"]);
        assert_eq!(
            s,
            Ok(Subscription::Only(vec![
                EventType::KeyCreated,
                EventType::KeyRevoked
            ]))
        );
        let s = s.unwrap_or(Subscription::All);
        assert!(s.wants(EventType::KeyRevoked) && !s.wants(EventType::UserAdded));
        assert_eq!(s.names(), vec!["key.created", "key.revoked"]);
    }
}
