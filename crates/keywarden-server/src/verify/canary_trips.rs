//! Canary presentations, recorded off the request path (SPEC §8).
//!
//! The verify path answers a canary exactly as an unknown key (the same 401, through the same
//! wait for the change feed) and, before answering, hands the presentation here: a lookup in a
//! small map of recent (canary, client address) pairs, and for a pair not seen in the last
//! minute a `try_send` into a bounded queue. A task writes the queue out (`key.canary_used`
//! audit event, webhook, trip count), so no request waits on the database for a canary.
//!
//! Bounded whatever an attacker does: the map holds at most [`MAX_RECENT`] pairs and the queue
//! [`QUEUE`] presentations; past either, presentations are dropped and counted, never queued.
//! The minute is per instance: several instances may each record the same pair once.

use crate::state::AppState;
use keywarden_core::error::DomainError;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::service::{AccountService, CanaryPresentation};
use keywarden_core::verdict::Refusal;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// At most one presentation per canary and client address in this many milliseconds.
const ONCE_PER_MS: i64 = 60_000;
/// Most (canary, address) pairs remembered; an attacker with more addresses than this in a
/// minute has some presentations dropped rather than grow the map.
const MAX_RECENT: usize = 10_000;
/// Most presentations waiting to be written.
const QUEUE: usize = 1_024;
/// Tries to write one presentation before giving up on it.
const WRITE_TRIES: u32 = 5;

/// What the request said about itself, read only for a presentation that will be recorded.
#[derive(Debug, Default)]
pub struct Presented {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The original method (forward-auth).
    pub method: Option<String>,
    /// The original path and query (forward-auth).
    pub uri: Option<String>,
}

/// Hands canary presentations to the writer task, at most one per canary and address a minute.
#[derive(Debug)]
pub struct CanaryTrips {
    /// When each (canary, address) pair was last queued, in Unix milliseconds.
    recent: Mutex<HashMap<(KeyId, IpAddr), i64>>,
    queue: mpsc::Sender<CanaryPresentation>,
    /// Presentations not recorded because the map or the queue was full.
    dropped: AtomicU64,
}

impl CanaryTrips {
    /// The recorder and the receiving end its writer ([`run`]) reads.
    pub fn new() -> (Self, mpsc::Receiver<CanaryPresentation>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let trips = Self {
            recent: Mutex::new(HashMap::new()),
            queue,
            dropped: AtomicU64::new(0),
        };
        (trips, receiver)
    }

    /// Notes that `key` (a canary of `account`) was presented by `client` at `now_ms`;
    /// `presented` is called only when the presentation is to be recorded.
    pub fn note(
        &self,
        key: KeyId,
        account: AccountId,
        client: IpAddr,
        now_ms: i64,
        presented: impl FnOnce() -> Presented,
    ) {
        if !self.first_this_minute(key, client, now_ms) {
            return;
        }
        let Presented {
            user_agent,
            method,
            uri,
        } = presented();
        let presentation = CanaryPresentation {
            key_id: key,
            account_id: account,
            client,
            user_agent,
            method,
            uri,
            at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        }
        .clipped();
        if self.queue.try_send(presentation).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the pair was not queued in the last minute; if so it is remembered as queued now.
    fn first_this_minute(&self, key: KeyId, client: IpAddr, now_ms: i64) -> bool {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&at) = recent.get(&(key, client))
            && now_ms - at < ONCE_PER_MS
        {
            return false;
        }
        if recent.len() >= MAX_RECENT {
            recent.retain(|_, at| now_ms - *at < ONCE_PER_MS);
            if recent.len() >= MAX_RECENT {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        recent.insert((key, client), now_ms);
        true
    }

    /// Presentations dropped since start (a flood from more addresses than can be recorded).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The refusal as the client sees it: a canary is answered as [`Refusal::NotFound`], its
/// presentation first handed to the recorder (`client` is asked only for a canary, `presented`
/// only for a presentation to be recorded). Every other refusal is returned as it is.
pub fn answered_as_unknown(
    state: &AppState,
    refusal: Refusal,
    client: impl FnOnce() -> IpAddr,
    presented: impl FnOnce() -> Presented,
) -> Refusal {
    let Refusal::Canary { key, account } = refusal else {
        return refusal;
    };
    let now_ms = state.service.clock().unix_millis();
    state
        .canaries
        .note(key, account, client(), now_ms, presented);
    Refusal::NotFound
}

/// Writes presentations until every sender is gone. A write that fails is tried again a few
/// times, a second apart; a canary revoked or deleted meanwhile is skipped.
pub async fn run(service: AccountService, mut presentations: mpsc::Receiver<CanaryPresentation>) {
    while let Some(presentation) = presentations.recv().await {
        for attempt in 1..=WRITE_TRIES {
            match service.record_canary_trip(&presentation).await {
                Ok(()) => break,
                Err(DomainError::NotFound(_)) => break,
                Err(e) if attempt == WRITE_TRIES => {
                    tracing::warn!(error = %e, key_id = %presentation.key_id, "cannot record a canary presentation; dropped it");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record a canary presentation; will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(n: u128) -> KeyId {
        KeyId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn one_presentation_per_canary_and_address_a_minute() {
        let (trips, mut queued) = CanaryTrips::new();
        let account = AccountId(uuid::Uuid::from_u128(9));
        let a = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let b = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8));
        let mut asked = 0;
        for (k, client, at) in [
            (1, a, 0),
            (1, a, 59_999), // the same minute: dropped
            (1, b, 1),      // another address
            (2, a, 2),      // another canary
            (1, a, 60_000), // a minute later
        ] {
            trips.note(key(k), account, client, at, || {
                asked += 1;
                Presented::default()
            });
        }
        assert_eq!(asked, 4, "the request is read only for what is recorded");
        let mut got = Vec::new();
        while let Ok(p) = queued.try_recv() {
            got.push((p.key_id, p.client, p.at.unix_timestamp_nanos() / 1_000_000));
        }
        assert_eq!(
            got,
            vec![
                (key(1), a, 0),
                (key(1), b, 1),
                (key(2), a, 2),
                (key(1), a, 60_000)
            ]
        );
        assert_eq!(trips.dropped(), 0);
    }

    #[test]
    fn what_the_presenter_sent_is_queued_short() {
        let (trips, mut queued) = CanaryTrips::new();
        let huge = "A".repeat(64 * 1024);
        let client = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        trips.note(
            key(1),
            AccountId(uuid::Uuid::from_u128(9)),
            client,
            0,
            || Presented {
                user_agent: Some(huge.clone()),
                method: Some(huge.clone()),
                uri: Some(format!("/{huge}")),
            },
        );
        let queued = queued.try_recv().expect("the first presentation is queued");
        let chars = |text: Option<String>| text.map_or(0, |t| t.chars().count());
        assert_eq!(
            chars(queued.user_agent),
            257,
            "256 characters and an ellipsis"
        );
        assert_eq!(chars(queued.method), 17);
        assert_eq!(chars(queued.uri), 513);
    }

    #[test]
    fn a_flood_of_addresses_is_bounded_and_counted() {
        let (trips, _queued) = CanaryTrips::new();
        let account = AccountId(uuid::Uuid::from_u128(9));
        let total = MAX_RECENT + 500;
        for n in 0..total {
            let client = IpAddr::V6(std::net::Ipv6Addr::from(n as u128 + 1));
            trips.note(key(1), account, client, 1_000, Presented::default);
        }
        let recent = trips.recent.lock().unwrap().len();
        assert_eq!(recent, MAX_RECENT);
        // The queue took its fill; the rest of the first MAX_RECENT and the 500 past the map's
        // bound were dropped.
        assert_eq!(trips.dropped(), (total - QUEUE) as u64);
        // A minute on, the map makes room again.
        let late = IpAddr::V4(Ipv4Addr::LOCALHOST);
        trips.note(key(1), account, late, 61_000, Presented::default);
        assert_eq!(trips.recent.lock().unwrap().len(), 1);
    }
}
