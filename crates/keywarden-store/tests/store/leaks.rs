//! Leaked keys (SPEC §8), backend-independent: reported keys found by digest across accounts,
//! and a leak recorded with or without the revocation, in one transaction with its events.

use super::*;
use keywarden_core::key_record::Leak;
use keywarden_core::store::{CanaryTrips, LeakChange};

fn leak(at: OffsetDateTime, url: Option<&str>) -> Leak {
    Leak {
        at,
        url: url.map(str::to_owned),
    }
}

pub(crate) async fn check_keys_by_digest_cross_accounts(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let ka = issue(store, key(a.id, KeyKind::Standard, Mode::Live, at(1))).await;
    let kb = issue(store, key(b.id, KeyKind::Restricted, Mode::Test, at(2))).await;
    let revoked = event(b.id, Action::KeyRevoked, Some(kb.id), at(3));
    store
        .revoke_key(b.id, kb.id, at(3), &revoked)
        .await
        .unwrap();
    let kb = store.key(b.id, kb.id).await.unwrap().unwrap();

    assert!(store.keys_by_digest(&[]).await.unwrap().is_empty());
    assert!(store.keys_by_digest(&[digest()]).await.unwrap().is_empty());
    let mut found = store
        .keys_by_digest(&[digest(), kb.digest, ka.digest, digest()])
        .await
        .unwrap();
    found.sort_by_key(|k| k.created_at);
    assert_eq!(found, [ka, kb], "every account, every status");
}

pub(crate) async fn check_record_leak(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let url = "https://github.com/acme/app/blob/main/.env";

    // Revoked with the report: the ordinary revocation plus the leak, and both events.
    let k = issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(1))).await;
    let before = queued(store).await;
    let events = [
        event(a.id, Action::KeyLeaked, Some(k.id), at(10)),
        event(a.id, Action::KeyRevoked, Some(k.id), at(10)),
    ];
    let first = leak(at(10), Some(url));
    let change = LeakChange {
        account_id: a.id,
        key_id: k.id,
        leak: &first,
        revoke: true,
    };
    let stored = store.record_leak(&change, &events).await.unwrap();
    assert_eq!(
        stored,
        KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(at(10)),
            leak: Some(first.clone()),
            change_seq: stored.change_seq,
            ..k.clone()
        }
    );
    assert!(
        stored.change_seq > k.change_seq,
        "the change feed carries it"
    );
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(stored.clone()));
    let trail = store.audit_events(a.id, 100).await.unwrap();
    assert!(events.iter().all(|e| trail.contains(e)));
    assert_eq!(
        queued(store).await,
        before + 2,
        "key.leaked and key.revoked"
    );

    // A revoked key: a conflict, and nothing changes, its events included.
    let late = [event(a.id, Action::KeyLeaked, Some(k.id), at(11))];
    let again = leak(at(11), Some("https://example.com/other"));
    assert_conflict(
        store
            .record_leak(
                &LeakChange {
                    leak: &again,
                    ..change.clone()
                },
                &late,
            )
            .await,
        "revoked",
    );
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(stored));
    assert!(
        !store
            .audit_events(a.id, 100)
            .await
            .unwrap()
            .contains(&late[0])
    );

    // Notify only: the key keeps working, and keeps its first report; a later URL only fills in
    // a missing one.
    let n = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(20))).await;
    let pasted = leak(at(21), None);
    let notify = LeakChange {
        account_id: a.id,
        key_id: n.id,
        leak: &pasted,
        revoke: false,
    };
    let once = store
        .record_leak(
            &notify,
            &[event(a.id, Action::KeyLeaked, Some(n.id), at(21))],
        )
        .await
        .unwrap();
    assert_eq!(once.lifecycle, Lifecycle::Active);
    assert_eq!(once.revoked_at, None);
    assert_eq!(once.leak, Some(pasted.clone()));
    let reported = leak(at(22), Some(url));
    let twice = store
        .record_leak(
            &LeakChange {
                leak: &reported,
                ..notify.clone()
            },
            &[event(a.id, Action::KeyLeaked, Some(n.id), at(22))],
        )
        .await
        .unwrap();
    assert_eq!(twice.leak, Some(leak(at(21), Some(url))));
    let thrice = store
        .record_leak(
            &LeakChange {
                leak: &leak(at(23), Some("https://example.com/third")),
                ..notify.clone()
            },
            &[event(a.id, Action::KeyLeaked, Some(n.id), at(23))],
        )
        .await
        .unwrap();
    assert_eq!(
        thrice.leak,
        Some(leak(at(21), Some(url))),
        "the first URL stays"
    );

    // Another account's key is not found, and nothing changes.
    let other = LeakChange {
        account_id: b.id,
        ..notify.clone()
    };
    assert_not_found(
        store
            .record_leak(
                &other,
                &[event(b.id, Action::KeyLeaked, Some(n.id), at(24))],
            )
            .await,
    );
    assert_eq!(store.key(a.id, n.id).await.unwrap(), Some(thrice));
}

pub(crate) async fn check_canary_trips(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let mut canary = key(a.id, KeyKind::Restricted, Mode::Live, at(1));
    canary.scopes.clear();
    canary.policy.canary = true;
    let canary = issue(store, canary).await;
    let other = issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(2))).await;
    let before = queued(store).await;
    let trip = |at| event(a.id, Action::KeyCanaryUsed, Some(canary.id), at);

    // Instances record at once: the count adds up; the latest time wins, whatever the order.
    let (late, early) = (trip(at(20)), trip(at(10)));
    let (first, second) = tokio::join!(
        store.record_canary_trip(&late),
        store.record_canary_trip(&early)
    );
    first.unwrap();
    second.unwrap();
    store.record_canary_trip(&trip(at(15))).await.unwrap();
    let trips = store
        .canary_trips(a.id, &[canary.id, other.id])
        .await
        .unwrap();
    assert_eq!(
        trips,
        [CanaryTrips {
            key_id: canary.id,
            tripped_count: 3,
            last_tripped_at: at(20),
        }]
    );
    assert!(store.canary_trips(a.id, &[]).await.unwrap().is_empty());
    assert!(
        store
            .canary_trips(b.id, &[canary.id])
            .await
            .unwrap()
            .is_empty(),
        "another account sees no trips"
    );

    // Each trip is its audit event, queued as a webhook in the same transaction; the key
    // itself is untouched (no new place in the change feed).
    let events = store.audit_events(a.id, 100).await.unwrap();
    let recorded = events
        .iter()
        .filter(|e| e.action == Action::KeyCanaryUsed)
        .count();
    assert_eq!(recorded, 3);
    assert_eq!(queued(store).await, before + 3);
    assert_eq!(store.key(a.id, canary.id).await.unwrap().unwrap(), canary);
}
