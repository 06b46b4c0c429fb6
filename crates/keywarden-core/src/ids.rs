//! Typed identifiers, so an account id can never be passed where a key id is expected.
//! All are UUIDv7: unique without coordination between instances, and sortable by creation.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id whose time part is `now` (UUIDv7).
            pub fn new_at(now: OffsetDateTime) -> Self {
                Self(new_v7(now))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A customer account (tenant).
    AccountId
);
id_type!(
    /// A console user.
    UserId
);
id_type!(
    /// An API key record (not the secret).
    KeyId
);
id_type!(
    /// An audit event (and, for the events that leave the system, its webhook id).
    EventId
);
id_type!(
    /// A webhook endpoint.
    EndpointId
);
id_type!(
    /// One event's delivery to one webhook endpoint.
    DeliveryId
);

/// One counter for the process, so ids made within the same millisecond still sort in the
/// order they were made ("newest first" listings and cursors rely on it).
static CONTEXT: std::sync::LazyLock<std::sync::Mutex<uuid::ContextV7>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(uuid::ContextV7::new()));

fn new_v7(now: OffsetDateTime) -> Uuid {
    let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let context = CONTEXT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ts = uuid::Timestamp::from_unix(&*context, secs, now.nanosecond());
    Uuid::new_v7(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_made_in_one_millisecond_sort_in_order() {
        let at = datetime!(2026-06-01 12:00 UTC);
        let ids: Vec<KeyId> = (0..500).map(|_| KeyId::new_at(at)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
