//! Canary keys (SPEC §8): keys that authorize nothing, planted where only an intruder would
//! find them. The verify path answers a canary exactly as an unknown key and hands the
//! presentation to a recorder off the request path; this records it as a `key.canary_used`
//! audit event (which leaves as a webhook, decision 0008) and one more trip on the canary.
//!
//! What the presenter sent (user agent, method, URI) is the attacker's own text: it is kept
//! short and free of control characters before it reaches the audit trail.

use super::AccountService;
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::ids::{AccountId, KeyId};
use crate::store::CanaryTrips;
use std::fmt::Write as _;
use std::net::IpAddr;
use time::OffsetDateTime;

/// Longest user agent kept, in characters.
const MAX_USER_AGENT: usize = 256;
/// Longest URI kept, in characters.
const MAX_URI: usize = 512;
/// Longest method kept, in characters.
const MAX_METHOD: usize = 16;

/// One presentation of a canary key, as the verify path saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryPresentation {
    /// The canary.
    pub key_id: KeyId,
    /// Its account.
    pub account_id: AccountId,
    /// The client's address (SPEC §3's: behind a trusted proxy, the address it passed).
    pub client: IpAddr,
    /// The client's `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
    /// The original request's method (forward-auth), if known.
    pub method: Option<String>,
    /// The original request's path and query (forward-auth), if known.
    pub uri: Option<String>,
    /// When it was presented.
    pub at: OffsetDateTime,
}

impl CanaryPresentation {
    /// The presenter's texts kept short and on one line. Done where a presentation is taken, so
    /// that a queue of them stays small whatever the attacker sends; doing it again is harmless.
    #[must_use]
    pub fn clipped(self) -> Self {
        let clip = |text: Option<String>, max| text.map(|t| printable(&t, max));
        Self {
            user_agent: clip(self.user_agent, MAX_USER_AGENT),
            method: clip(self.method, MAX_METHOD),
            uri: clip(self.uri, MAX_URI),
            ..self
        }
    }
}

impl AccountService {
    /// Records a canary's presentation: its `key.canary_used` event and one more trip, in one
    /// transaction. A key that is no longer a canary of that account is `NotFound`.
    pub async fn record_canary_trip(&self, trip: &CanaryPresentation) -> Result<(), DomainError> {
        let key = self.key(trip.account_id, trip.key_id).await?;
        if !key.policy.canary {
            return Err(DomainError::NotFound("key"));
        }
        let trip = trip.clone().clipped();
        let mut detail = format!("canary {} presented from {}", key.hint, trip.client);
        if let Some(ua) = &trip.user_agent {
            let _ = write!(detail, " ({ua})");
        }
        match (&trip.method, &trip.uri) {
            (Some(method), Some(uri)) => {
                let _ = write!(detail, ": {method} {uri}");
            }
            // POST /v1/verify/ names no original request.
            _ => detail.push_str(" to the verify endpoint"),
        }
        let actor = Actor {
            ip: Some(trip.client.to_string()),
            user_agent: trip.user_agent,
            ..Actor::system()
        };
        let event = self.event(
            trip.account_id,
            Action::KeyCanaryUsed,
            &actor,
            Some(trip.key_id),
            detail,
            trip.at,
        );
        self.store.record_canary_trip(&event).await?;
        Ok(())
    }

    /// How often those of `keys` that are canaries of `account_id` have been tripped.
    pub async fn canary_trips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<CanaryTrips>, DomainError> {
        Ok(self.store.canary_trips(account_id, keys).await?)
    }
}

/// `text` without control characters, cut to `max` characters (with `…` when cut).
fn printable(text: &str, max: usize) -> String {
    let mut kept: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn the_presenters_text_is_kept_short_and_on_one_line() {
        assert_eq!(printable("curl/8.5.0", 256), "curl/8.5.0");
        assert_eq!(
            printable("a\r\nb\u{1b}[31m", 256),
            "a\u{fffd}\u{fffd}b\u{fffd}[31m"
        );
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("ééé", 3), "ééé");
    }
}
