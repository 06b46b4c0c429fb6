//! Webhooks' storage (SPEC §7): the outbox written with every change, endpoints, dispatching
//! events into deliveries once, claiming deliveries under a lease, finishing attempts, the
//! delivery log, retries, and the reminders sent. Checked against `&dyn Store` like the rest
//! of this test binary; fixtures come from `store.rs`.
//!
//! The queue operations (dispatch, claim, backlog) see every account of the database, so each
//! check starts by moving whatever earlier checks left queued out of its way ([`quiesce`]),
//! and counts the backlog relative to what it found: the checks also pass one after the other
//! on one shared database.

use super::*;
use keywarden_core::ids::{DeliveryId, EndpointId};
use keywarden_core::store::{
    Attempt, AttemptResult, ClaimedDelivery, DeliveryState, EndpointUpdate,
};
use keywarden_core::webhook::reminders::{self, Reminder};
use keywarden_core::webhook::{Endpoint, EndpointState, EventType, Subscription};
use std::collections::{BTreeSet, HashSet};

/// Later than any time a check uses.
const FAR: OffsetDateTime = datetime!(2100-01-01 00:00 UTC);
pub(crate) const FARTHER: OffsetDateTime = datetime!(2200-01-01 00:00 UTC);

/// Dispatches whatever earlier checks left in the outbox and claims every delivery they left
/// pending, at [`FAR`] and until [`FARTHER`]: nothing of theirs is due at the times a check
/// uses. Returns the backlog left (their claimed, still pending deliveries).
async fn quiesce(store: &dyn Store) -> u64 {
    while store.dispatch_events(FAR, 1000).await.unwrap() > 0 {}
    while !store
        .claim_deliveries(FAR, FARTHER, 1000)
        .await
        .unwrap()
        .is_empty()
    {}
    store.webhook_backlog().await.unwrap().queued
}

pub(crate) async fn queued(store: &dyn Store) -> u64 {
    store.webhook_backlog().await.unwrap().queued
}

fn endpoint(
    account: AccountId,
    events: Subscription,
    state: EndpointState,
    created: OffsetDateTime,
) -> Endpoint {
    let id = EndpointId::new_at(created);
    Endpoint {
        id,
        account_id: account,
        url: format!("https://hooks.example.com/{id}"),
        description: format!("{} endpoint", state.as_str()),
        events,
        state,
        sealed_secret: id.0.as_bytes().repeat(3),
        previous_secret: None,
        created_at: created,
        updated_at: created,
    }
}

/// An endpoint stored with its event.
pub(crate) async fn add_endpoint(
    store: &dyn Store,
    account: AccountId,
    events: Subscription,
    state: EndpointState,
    created: OffsetDateTime,
) -> Endpoint {
    let e = endpoint(account, events, state, created);
    store
        .insert_endpoint(
            &e,
            &event(account, Action::WebhookEndpointAdded, None, created),
        )
        .await
        .unwrap();
    e
}

fn only(types: &[EventType]) -> Subscription {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    Subscription::parse(&names).unwrap()
}

/// An event that cannot be written: it reuses the id of the account's newest event.
async fn clashing(store: &dyn Store, account: AccountId, action: Action) -> AuditEvent {
    let existing = store.audit_events(account, 1).await.unwrap().remove(0);
    AuditEvent { action, ..existing }
}

async fn trail(store: &dyn Store, account: AccountId) -> Vec<AuditEvent> {
    store.audit_events(account, u32::MAX).await.unwrap()
}

fn attempt(
    delivery: DeliveryId,
    number: u32,
    when: OffsetDateTime,
    status: Option<u16>,
    error: Option<&str>,
) -> Attempt {
    Attempt {
        delivery_id: delivery,
        number,
        at: when,
        status,
        error: error.map(str::to_owned),
        duration_ms: 10 * number + 3,
    }
}

async fn claim(
    store: &dyn Store,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Vec<ClaimedDelivery> {
    store
        .claim_deliveries(now, lease_until, limit)
        .await
        .unwrap()
}

fn ids(claimed: &[ClaimedDelivery]) -> Vec<DeliveryId> {
    claimed.iter().map(|c| c.delivery.id).collect()
}

/// (event, endpoint) of each claimed delivery.
fn routes(claimed: &[ClaimedDelivery]) -> BTreeSet<(EventId, EndpointId)> {
    claimed
        .iter()
        .map(|c| (c.delivery.event_id, c.delivery.endpoint_id))
        .collect()
}

async fn endpoint_state(store: &dyn Store, e: &Endpoint) -> EndpointState {
    store
        .endpoint(e.account_id, e.id)
        .await
        .unwrap()
        .unwrap()
        .state
}

pub(crate) async fn check_outbox_rows_commit_with_their_change(store: &dyn Store) {
    let base = quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    assert_eq!(
        queued(store).await,
        base,
        "account.created is not a webhook"
    );

    // A sign-in stays in the audit trail only.
    store
        .insert_event(&event(a.id, Action::SignIn, None, at(1)))
        .await
        .unwrap();
    assert_eq!(queued(store).await, base);

    // Each change whose action has a webhook type queues one event, with its change.
    let k = key(a.id, KeyKind::Restricted, Mode::Test, at(2));
    let created = event(a.id, Action::KeyCreated, Some(k.id), at(2));
    store.insert_keys(slice(&k), slice(&created)).await.unwrap();
    assert_eq!(queued(store).await, base + 1);
    let backlog = store.webhook_backlog().await.unwrap();
    if base == 0 {
        assert_eq!(backlog.oldest, Some(at(2)));
    }
    let revoked = event(a.id, Action::KeyRevoked, Some(k.id), at(3));
    store.revoke_key(a.id, k.id, at(3), &revoked).await.unwrap();
    let dev = User {
        id: UserId::new_at(at(4)),
        ..user(&a, &format!("dev-{}@example.com", a.id), Role::Developer)
    };
    let added = event(a.id, Action::UserCreated, None, at(4));
    store.insert_user(&dev, &added).await.unwrap();
    let policy = event(a.id, Action::AccountUpdated, None, at(5));
    store
        .update_account(
            &Account {
                rotation_period_days: 30,
                ..a.clone()
            },
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(queued(store).await, base + 4);

    // Webhook administration is not a webhook event either.
    let hook = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(6)).await;
    assert_eq!(queued(store).await, base + 4);

    // A change whose event cannot be written does not happen, and queues nothing.
    let other = key(a.id, KeyKind::Restricted, Mode::Live, at(7));
    let result = store
        .insert_keys(
            slice(&other),
            slice(&clashing(store, a.id, Action::KeyCreated).await),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.key(a.id, other.id).await.unwrap(), None);
    let live = issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(8))).await;
    let before = queued(store).await;
    let result = store
        .revoke_key(
            a.id,
            live.id,
            at(9),
            &clashing(store, a.id, Action::KeyRevoked).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.key(a.id, live.id).await.unwrap(), Some(live.clone()));
    assert_eq!(queued(store).await, before);

    // What was queued is exactly the events of the changes that happened, with their types.
    assert_eq!(store.dispatch_events(at(10), 100).await.unwrap(), 5);
    let claimed = claim(store, at(10), at(70), 100).await;
    let mut got: Vec<(EventId, EventType)> = claimed
        .iter()
        .map(|c| {
            assert_eq!(c.delivery.endpoint_id, hook.id);
            assert_eq!(
                EventType::of_action(c.event.action),
                Some(c.delivery.event_type)
            );
            (c.event.id, c.delivery.event_type)
        })
        .collect();
    got.sort();
    let live_created = trail(store, a.id)
        .await
        .into_iter()
        .find(|e| e.action == Action::KeyCreated && e.key_id == Some(live.id))
        .unwrap();
    let mut expected = vec![
        (created.id, EventType::KeyCreated),
        (revoked.id, EventType::KeyRevoked),
        (added.id, EventType::UserAdded),
        (policy.id, EventType::AccountUpdated),
        (live_created.id, EventType::KeyCreated),
    ];
    expected.sort();
    assert_eq!(got, expected);
}

fn slice<T>(one: &T) -> &[T] {
    std::slice::from_ref(one)
}

pub(crate) async fn check_dispatch_fans_out_once(store: &dyn Store) {
    let base = quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let all = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    let revocations = add_endpoint(
        store,
        a.id,
        only(&[EventType::KeyRevoked]),
        EndpointState::Active,
        at(2),
    )
    .await;
    let disabled = add_endpoint(
        store,
        a.id,
        Subscription::All,
        EndpointState::Disabled,
        at(3),
    )
    .await;
    // A failing endpoint still gets events.
    let failing = add_endpoint(
        store,
        a.id,
        only(&[EventType::KeyCreated, EventType::KeyRevoked]),
        EndpointState::Failing,
        at(4),
    )
    .await;
    let users_only = add_endpoint(
        store,
        a.id,
        only(&[EventType::UserAdded]),
        EndpointState::Active,
        at(5),
    )
    .await;
    let theirs = add_endpoint(store, b.id, Subscription::All, EndpointState::Active, at(6)).await;

    let k = issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(10))).await;
    let revoked = event(a.id, Action::KeyRevoked, Some(k.id), at(11));
    store
        .revoke_key(a.id, k.id, at(11), &revoked)
        .await
        .unwrap();
    let kb = issue(store, key(b.id, KeyKind::Restricted, Mode::Test, at(12))).await;
    let events_of = |trail: Vec<AuditEvent>, action: Action| {
        trail
            .into_iter()
            .find(|e| e.action == action)
            .map(|e| e.id)
            .unwrap()
    };
    let a_created = events_of(trail(store, a.id).await, Action::KeyCreated);
    let b_created = events_of(trail(store, b.id).await, Action::KeyCreated);
    assert_eq!(queued(store).await, base + 3);

    // Two dispatchers at once, one event at a time each: every event is dispatched once.
    let mut dispatched = 0;
    loop {
        let (first, second) = tokio::join!(
            store.dispatch_events(at(20), 1),
            store.dispatch_events(at(20), 1)
        );
        let round = first.unwrap() + second.unwrap();
        if round == 0 {
            break;
        }
        dispatched += round;
    }
    assert_eq!(dispatched, 3);
    assert_eq!(store.dispatch_events(at(21), 100).await.unwrap(), 0);
    // Outbox rows became pending deliveries: 2 + 3 for A's events, 1 for B's.
    assert_eq!(queued(store).await, base + 6);
    if base == 0 {
        assert_eq!(store.webhook_backlog().await.unwrap().oldest, Some(at(20)));
    }

    let claimed = claim(store, at(20), at(80), 100).await;
    let expected: BTreeSet<(EventId, EndpointId)> = [
        (a_created, all.id),
        (a_created, failing.id),
        (revoked.id, all.id),
        (revoked.id, revocations.id),
        (revoked.id, failing.id),
        (b_created, theirs.id),
    ]
    .into_iter()
    .collect();
    assert_eq!(routes(&claimed), expected);
    assert!(
        claimed
            .iter()
            .all(|c| c.delivery.endpoint_id != disabled.id
                && c.delivery.endpoint_id != users_only.id)
    );
    // Oldest due first (all due together: by id, which follows the order of dispatch).
    let order: Vec<(Option<OffsetDateTime>, DeliveryId)> = claimed
        .iter()
        .map(|c| (c.delivery.next_attempt_at, c.delivery.id))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    for c in &claimed {
        assert_eq!(c.delivery.state, DeliveryState::Pending);
        assert_eq!(c.delivery.attempts, 0);
        assert_eq!(c.delivery.next_attempt_at, Some(at(20)));
        assert_eq!(c.delivery.created_at, at(20));
        assert_eq!(c.endpoint.id, c.delivery.endpoint_id);
        assert_eq!(c.event.id, c.delivery.event_id);
        let owner = c.endpoint.account_id;
        assert_eq!(c.event.account_id, owner);
        assert_eq!(
            store.endpoint(owner, c.endpoint.id).await.unwrap().as_ref(),
            Some(&c.endpoint)
        );
        // The key as it is now: A's is revoked by the time it is sent.
        let key_now = store.key(owner, c.event.key_id.unwrap()).await.unwrap();
        assert_eq!(c.key, key_now);
    }
    let revoked_key = store.key(a.id, k.id).await.unwrap().unwrap();
    assert_eq!(revoked_key.lifecycle, Lifecycle::Revoked);
    assert!(claimed.iter().any(|c| c.key.as_ref() == Some(&revoked_key)));
    assert!(
        claimed
            .iter()
            .any(|c| c.key.as_ref().map(|k| k.id) == Some(kb.id))
    );

    // A test event goes to its endpoint only, even a disabled one, whatever it subscribes to.
    let test_sent = event(a.id, Action::WebhookTestSent, None, at(30));
    assert_not_found(
        store
            .queue_test_event(
                b.id,
                disabled.id,
                &AuditEvent {
                    account_id: b.id,
                    ..test_sent.clone()
                },
            )
            .await,
    );
    assert!(
        !trail(store, b.id)
            .await
            .iter()
            .any(|e| e.id == test_sent.id)
    );
    store
        .queue_test_event(a.id, disabled.id, &test_sent)
        .await
        .unwrap();
    assert!(trail(store, a.id).await.contains(&test_sent));
    let test_to_users_only = event(a.id, Action::WebhookTestSent, None, at(31));
    store
        .queue_test_event(a.id, users_only.id, &test_to_users_only)
        .await
        .unwrap();
    assert_eq!(store.dispatch_events(at(40), 100).await.unwrap(), 2);
    let tests = claim(store, at(40), at(100), 100).await;
    let expected: BTreeSet<(EventId, EndpointId)> = [
        (test_sent.id, disabled.id),
        (test_to_users_only.id, users_only.id),
    ]
    .into_iter()
    .collect();
    assert_eq!(routes(&tests), expected);
    for c in &tests {
        assert_eq!(c.delivery.event_type, EventType::WebhookTest);
        assert_eq!(c.event.action, Action::WebhookTestSent);
        assert_eq!(c.key, None);
    }
    // A test event that cannot be written queues nothing.
    let before = queued(store).await;
    let result = store
        .queue_test_event(
            a.id,
            all.id,
            &clashing(store, a.id, Action::WebhookTestSent).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(queued(store).await, before);
    assert_eq!(store.dispatch_events(at(50), 100).await.unwrap(), 0);
}

/// A disabled endpoint is sent nothing: its pending deliveries wait, test events excepted, and
/// go out once it is enabled again.
pub(crate) async fn check_disabled_endpoints_are_sent_nothing_but_tests(store: &dyn Store) {
    quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let hook = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    let k = issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(2))).await;
    assert_eq!(store.dispatch_events(at(3), 100).await.unwrap(), 1);
    let off = EndpointUpdate {
        state: Some(EndpointState::Disabled),
        ..EndpointUpdate::default()
    };
    let changed = event(a.id, Action::WebhookEndpointUpdated, None, at(4));
    store
        .update_endpoint(a.id, hook.id, &off, at(4), &changed)
        .await
        .unwrap();
    assert!(claim(store, at(5), at(65), 10).await.is_empty());

    let test = event(a.id, Action::WebhookTestSent, None, at(6));
    store.queue_test_event(a.id, hook.id, &test).await.unwrap();
    assert_eq!(store.dispatch_events(at(7), 100).await.unwrap(), 1);
    let claimed = claim(store, at(8), at(68), 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].delivery.event_type, EventType::WebhookTest);

    let on = EndpointUpdate {
        state: Some(EndpointState::Active),
        ..EndpointUpdate::default()
    };
    let changed = event(a.id, Action::WebhookEndpointUpdated, None, at(9));
    store
        .update_endpoint(a.id, hook.id, &on, at(9), &changed)
        .await
        .unwrap();
    let resumed = claim(store, at(10), at(70), 10).await;
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].event.key_id, Some(k.id));
}

pub(crate) async fn check_claims_leases_and_attempt_results(store: &dyn Store) {
    let base = quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let hook = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    let mut keys = Vec::new();
    for i in 0..3 {
        keys.push(issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(2 + i))).await);
    }
    assert_eq!(store.dispatch_events(at(10), 100).await.unwrap(), 3);

    // Oldest due first, at most `limit`.
    let first = claim(store, at(10), at(70), 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event.key_id, Some(keys[0].id));
    let rest = claim(store, at(10), at(70), 10).await;
    assert_eq!(rest.len(), 2);
    // Claimed: not again while the lease holds, nor at its very end; after it, again.
    assert!(claim(store, at(11), at(200), 10).await.is_empty());
    assert!(claim(store, at(69), at(200), 10).await.is_empty());
    assert!(claim(store, at(70), at(200), 10).await.is_empty());
    let again = claim(store, at(71), at(131), 10).await;
    let mut all_ids = ids(&first);
    all_ids.extend(ids(&rest));
    assert_eq!(ids(&again), all_ids);
    let [d1, d2, d3] = [all_ids[0], all_ids[1], all_ids[2]];

    // Delivered: done.
    store
        .finish_attempt(
            &attempt(d1, 1, at(72), Some(200), None),
            AttemptResult::Delivered,
        )
        .await
        .unwrap();
    // Failed, retry later: pending, due then, and no longer claimed.
    store
        .finish_attempt(
            &attempt(d2, 1, at(73), Some(500), None),
            AttemptResult::RetryAt(at(200)),
        )
        .await
        .unwrap();
    // Failed for the last time: the delivery failed and the endpoint is failing.
    store
        .finish_attempt(
            &attempt(d3, 1, at(74), None, Some("timed out after 10 s")),
            AttemptResult::GaveUp,
        )
        .await
        .unwrap();
    assert_eq!(endpoint_state(store, &hook).await, EndpointState::Failing);
    assert_eq!(
        queued(store).await,
        base + 1,
        "only the retried one is pending"
    );

    assert!(claim(store, at(199), at(300), 10).await.is_empty());
    let retried = claim(store, at(200), at(260), 10).await;
    assert_eq!(ids(&retried), vec![d2]);
    assert_eq!(retried[0].delivery.attempts, 1);
    assert_eq!(retried[0].delivery.next_attempt_at, Some(at(200)));
    assert_eq!(retried[0].endpoint.state, EndpointState::Failing);
    // The next success makes the endpoint active again.
    store
        .finish_attempt(
            &attempt(d2, 2, at(201), Some(204), None),
            AttemptResult::Delivered,
        )
        .await
        .unwrap();
    assert_eq!(endpoint_state(store, &hook).await, EndpointState::Active);
    assert!(claim(store, at(10_000), at(20_000), 10).await.is_empty());

    // The log, newest first, with each delivery as it stands.
    let log = store
        .attempts_of_endpoint(a.id, hook.id, None, 10)
        .await
        .unwrap();
    let seen: Vec<(DeliveryId, u32)> = log
        .iter()
        .map(|l| (l.attempt.delivery_id, l.attempt.number))
        .collect();
    assert_eq!(seen, vec![(d2, 2), (d3, 1), (d2, 1), (d1, 1)]);
    assert_eq!(
        log[1].attempt,
        attempt(d3, 1, at(74), None, Some("timed out after 10 s"))
    );
    assert_eq!(log[3].attempt, attempt(d1, 1, at(72), Some(200), None));
    for l in &log {
        assert_eq!(l.delivery.id, l.attempt.delivery_id);
        assert_eq!(l.delivery.endpoint_id, hook.id);
        let (state, attempts) = match l.delivery.id {
            d if d == d1 => (DeliveryState::Delivered, 1),
            d if d == d2 => (DeliveryState::Delivered, 2),
            _ => (DeliveryState::Failed, 1),
        };
        assert_eq!(
            (l.delivery.state, l.delivery.attempts),
            (state, attempts),
            "{l:?}"
        );
        assert_eq!(l.delivery.next_attempt_at, None);
    }

    // An attempt is recorded once; a late "retry" never reopens a finished delivery.
    assert_conflict(
        store
            .finish_attempt(
                &attempt(d1, 1, at(300), Some(200), None),
                AttemptResult::Delivered,
            )
            .await,
        "webhook_attempts_unique",
    );
    store
        .finish_attempt(
            &attempt(d1, 2, at(301), Some(500), None),
            AttemptResult::RetryAt(at(400)),
        )
        .await
        .unwrap();
    assert!(claim(store, at(10_000), at(20_000), 10).await.is_empty());
    assert_not_found(
        store
            .finish_attempt(
                &attempt(DeliveryId::new_at(at(1)), 1, at(302), Some(200), None),
                AttemptResult::Delivered,
            )
            .await,
    );
}

async fn log_page(
    store: &dyn Store,
    account: AccountId,
    endpoint: EndpointId,
    before: Option<OffsetDateTime>,
    limit: u32,
) -> Vec<Attempt> {
    store
        .attempts_of_endpoint(account, endpoint, before, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.attempt)
        .collect()
}

pub(crate) async fn check_attempt_log_pages_and_stays_in_its_account(store: &dyn Store) {
    quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let hook = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    let other = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(2)).await;
    issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(3))).await;
    assert_eq!(store.dispatch_events(at(10), 10).await.unwrap(), 1);
    // Five attempts to `hook`, one to `other`.
    let mut written = Vec::new();
    for n in 1..=5u32 {
        let now = at(10 + 100 * i64::from(n));
        let claimed = claim(store, now, now + Duration::seconds(60), 10).await;
        for c in claimed {
            let error = (n % 2 == 0).then_some("connection refused");
            let status = (n % 2 == 1).then_some(500 + n as u16);
            let a = attempt(c.delivery.id, n, now, status, error);
            if c.delivery.endpoint_id == hook.id {
                written.push(a.clone());
            }
            let result = if c.delivery.endpoint_id == hook.id {
                AttemptResult::RetryAt(now + Duration::seconds(100))
            } else {
                AttemptResult::Delivered
            };
            store.finish_attempt(&a, result).await.unwrap();
        }
    }
    written.reverse();

    let page = |before, limit| log_page(store, a.id, hook.id, before, limit);
    assert_eq!(page(None, 10).await, written);
    let first = page(None, 2).await;
    assert_eq!(first, written[..2]);
    let second = page(Some(first[1].at), 2).await;
    assert_eq!(second, written[2..4]);
    let third = page(Some(second[1].at), 2).await;
    assert_eq!(third, written[4..]);
    assert!(page(Some(third[0].at), 2).await.is_empty());
    assert!(page(None, 0).await.is_empty());
    let theirs = store
        .attempts_of_endpoint(a.id, other.id, None, 10)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].delivery.state, DeliveryState::Delivered);

    // Another account sees nothing of it, and neither does an unknown endpoint.
    assert!(
        store
            .attempts_of_endpoint(b.id, hook.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .attempts_of_endpoint(a.id, EndpointId::new_at(at(1)), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn check_retry_delivery(store: &dyn Store) {
    quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let hook = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(2))).await;
    store.dispatch_events(at(10), 10).await.unwrap();
    let claimed = claim(store, at(10), at(70), 10).await;
    assert_eq!(claimed.len(), 1);
    let d = claimed[0].delivery.id;
    store
        .finish_attempt(
            &attempt(d, 1, at(11), Some(410), None),
            AttemptResult::GaveUp,
        )
        .await
        .unwrap();
    assert!(claim(store, at(1000), at(2000), 10).await.is_empty());

    // Another account's delivery is not found, and nothing is written.
    let retried = event(b.id, Action::WebhookEndpointUpdated, None, at(20));
    assert_not_found(store.retry_delivery(b.id, d, at(20), &retried).await);
    assert!(!trail(store, b.id).await.contains(&retried));
    assert_not_found(
        store
            .retry_delivery(a.id, DeliveryId::new_at(at(1)), at(20), &retried)
            .await,
    );
    // A retry whose event cannot be written does not happen.
    let result = store
        .retry_delivery(
            a.id,
            d,
            at(21),
            &clashing(store, a.id, Action::WebhookEndpointUpdated).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(claim(store, at(1000), at(2000), 10).await.is_empty());

    let retried = event(a.id, Action::WebhookEndpointUpdated, None, at(30));
    let delivery = store
        .retry_delivery(a.id, d, at(30), &retried)
        .await
        .unwrap();
    assert_eq!(delivery.id, d);
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.next_attempt_at, Some(at(30)));
    assert_eq!(delivery.attempts, 1, "the attempts so far stay");
    assert_eq!(delivery.endpoint_id, hook.id);
    assert!(trail(store, a.id).await.contains(&retried));
    assert!(claim(store, at(29), at(100), 10).await.is_empty());
    let again = claim(store, at(30), at(90), 10).await;
    assert_eq!(ids(&again), vec![d]);
    store
        .finish_attempt(
            &attempt(d, 2, at(31), Some(200), None),
            AttemptResult::Delivered,
        )
        .await
        .unwrap();
    let log = store
        .attempts_of_endpoint(a.id, hook.id, None, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].delivery.state, DeliveryState::Delivered);
    assert_eq!(endpoint_state(store, &hook).await, EndpointState::Active);
}

pub(crate) async fn check_endpoint_changes(store: &dyn Store) {
    quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let second = add_endpoint(
        store,
        a.id,
        only(&[EventType::KeyRevoked]),
        EndpointState::Active,
        at(2),
    )
    .await;
    let first = Endpoint {
        previous_secret: Some((vec![9; 40], at(100))),
        description: "payroll — ünïcode".into(),
        ..endpoint(a.id, Subscription::All, EndpointState::Active, at(1))
    };
    let added = event(a.id, Action::WebhookEndpointAdded, None, at(3));
    store.insert_endpoint(&first, &added).await.unwrap();
    assert!(trail(store, a.id).await.contains(&added));
    assert_eq!(
        store.endpoint(a.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.endpoint(b.id, first.id).await.unwrap(), None);
    assert_eq!(
        store.endpoints_of_account(a.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(store.endpoints_of_account(b.id).await.unwrap().is_empty());

    // Updates: each field or none, another account's endpoint is not found.
    let update = EndpointUpdate {
        url: Some("https://hooks.example.org/keywarden".into()),
        description: None,
        events: Some(only(&[EventType::KeyCreated, EventType::UserRemoved])),
        state: Some(EndpointState::Disabled),
    };
    let updated_event = event(a.id, Action::WebhookEndpointUpdated, None, at(10));
    assert_not_found(
        store
            .update_endpoint(
                b.id,
                first.id,
                &update,
                at(10),
                &AuditEvent {
                    account_id: b.id,
                    ..updated_event.clone()
                },
            )
            .await,
    );
    let result = store
        .update_endpoint(
            a.id,
            first.id,
            &update,
            at(10),
            &clashing(store, a.id, Action::WebhookEndpointUpdated).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        store.endpoint(a.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    let updated = store
        .update_endpoint(a.id, first.id, &update, at(10), &updated_event)
        .await
        .unwrap();
    let expected = Endpoint {
        url: "https://hooks.example.org/keywarden".into(),
        events: only(&[EventType::KeyCreated, EventType::UserRemoved]),
        state: EndpointState::Disabled,
        updated_at: at(10),
        ..first.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        store.endpoint(a.id, first.id).await.unwrap(),
        Some(expected)
    );
    assert!(trail(store, a.id).await.contains(&updated_event));
    let unchanged = store
        .update_endpoint(
            a.id,
            first.id,
            &EndpointUpdate {
                state: Some(EndpointState::Active),
                ..EndpointUpdate::default()
            },
            at(11),
            &event(a.id, Action::WebhookEndpointUpdated, None, at(11)),
        )
        .await
        .unwrap();
    assert_eq!(unchanged.state, EndpointState::Active);
    assert_eq!(unchanged.url, updated.url);
    assert_eq!(unchanged.description, first.description);

    // Rotating the secret keeps the current one as the previous one, until the given time.
    let rotated_event = event(a.id, Action::WebhookSecretRotated, None, at(20));
    assert_not_found(
        store
            .rotate_endpoint_secret(
                b.id,
                second.id,
                b"new",
                at(50),
                &AuditEvent {
                    account_id: b.id,
                    ..rotated_event.clone()
                },
            )
            .await,
    );
    let rotated = store
        .rotate_endpoint_secret(a.id, second.id, b"sealed-two", at(50), &rotated_event)
        .await
        .unwrap();
    assert_eq!(rotated.sealed_secret, b"sealed-two".to_vec());
    assert_eq!(
        rotated.previous_secret,
        Some((second.sealed_secret.clone(), at(50)))
    );
    assert_eq!(rotated.updated_at, at(20));
    assert!(trail(store, a.id).await.contains(&rotated_event));
    let again = store
        .rotate_endpoint_secret(
            a.id,
            second.id,
            b"sealed-three",
            at(60),
            &event(a.id, Action::WebhookSecretRotated, None, at(21)),
        )
        .await
        .unwrap();
    assert_eq!(
        again.previous_secret,
        Some((b"sealed-two".to_vec(), at(60)))
    );
    assert_eq!(store.endpoint(a.id, second.id).await.unwrap(), Some(again));
}

pub(crate) async fn check_deleting_an_endpoint_takes_its_deliveries(store: &dyn Store) {
    let base = quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let doomed = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(1)).await;
    let kept = add_endpoint(store, a.id, Subscription::All, EndpointState::Active, at(2)).await;
    issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(3))).await;
    issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(4))).await;
    store.dispatch_events(at(10), 10).await.unwrap();
    let claimed = claim(store, at(10), at(70), 10).await;
    assert_eq!(claimed.len(), 4);
    let mut doomed_deliveries = Vec::new();
    for c in &claimed {
        let result = AttemptResult::RetryAt(at(100));
        store
            .finish_attempt(&attempt(c.delivery.id, 1, at(11), Some(502), None), result)
            .await
            .unwrap();
        if c.delivery.endpoint_id == doomed.id {
            doomed_deliveries.push(c.delivery.id);
        }
    }
    store
        .queue_test_event(
            a.id,
            doomed.id,
            &event(a.id, Action::WebhookTestSent, None, at(12)),
        )
        .await
        .unwrap();
    assert_eq!(queued(store).await, base + 5);

    let removed = event(a.id, Action::WebhookEndpointRemoved, None, at(20));
    assert_not_found(
        store
            .delete_endpoint(
                b.id,
                doomed.id,
                &AuditEvent {
                    account_id: b.id,
                    ..removed.clone()
                },
            )
            .await,
    );
    let result = store
        .delete_endpoint(
            a.id,
            doomed.id,
            &clashing(store, a.id, Action::WebhookEndpointRemoved).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(store.endpoint(a.id, doomed.id).await.unwrap().is_some());
    assert_eq!(queued(store).await, base + 5);

    store
        .delete_endpoint(a.id, doomed.id, &removed)
        .await
        .unwrap();
    assert!(trail(store, a.id).await.contains(&removed));
    assert_eq!(store.endpoint(a.id, doomed.id).await.unwrap(), None);
    assert_eq!(
        store.endpoints_of_account(a.id).await.unwrap(),
        vec![kept.clone()]
    );
    // Its two deliveries, their attempts and its undispatched test event went with it.
    assert_eq!(queued(store).await, base + 2);
    assert!(
        store
            .attempts_of_endpoint(a.id, doomed.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .attempts_of_endpoint(a.id, kept.id, None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    for d in doomed_deliveries {
        assert_not_found(
            store
                .finish_attempt(
                    &attempt(d, 2, at(21), Some(200), None),
                    AttemptResult::Delivered,
                )
                .await,
        );
        assert_not_found(
            store
                .retry_delivery(
                    a.id,
                    d,
                    at(21),
                    &event(a.id, Action::WebhookEndpointUpdated, None, at(21)),
                )
                .await,
        );
    }
    assert_eq!(store.dispatch_events(at(30), 10).await.unwrap(), 0);
    let due = claim(store, at(100), at(160), 10).await;
    assert!(due.iter().all(|c| c.delivery.endpoint_id == kept.id));
    assert_eq!(due.len(), 2);
    assert_not_found(
        store
            .delete_endpoint(
                a.id,
                doomed.id,
                &event(a.id, Action::WebhookEndpointRemoved, None, at(40)),
            )
            .await,
    );
    assert_not_found(
        store
            .queue_test_event(
                a.id,
                doomed.id,
                &event(a.id, Action::WebhookTestSent, None, at(41)),
            )
            .await,
    );
}

/// The reminder candidates of `accounts`, all pages of `page` keys.
async fn candidates(
    store: &dyn Store,
    now: OffsetDateTime,
    accounts: &[AccountId],
    page: u32,
) -> Vec<(KeyId, u32)> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let batch = store
            .reminder_candidates(now, reminders::HORIZON, after, page)
            .await
            .unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.key.id);
        let done = batch.len() < page as usize;
        for c in batch {
            assert_eq!(c.key.lifecycle, Lifecycle::Active);
            if accounts.contains(&c.key.account_id) {
                found.push((c.key.id, c.rotation_period_days));
            }
        }
        if done {
            break;
        }
    }
    found
}

/// Records every reminder due for the candidates of `accounts` at `now`; returns them.
async fn send_due(
    store: &dyn Store,
    now: OffsetDateTime,
    accounts: &[AccountId],
) -> Vec<(KeyId, Reminder)> {
    let mut sent = Vec::new();
    let batch = store
        .reminder_candidates(now, reminders::HORIZON, None, 1000)
        .await
        .unwrap();
    for c in batch {
        if !accounts.contains(&c.key.account_id) {
            continue;
        }
        for reminder in reminders::due(&c.key, now, c.rotation_period_days) {
            let e = AuditEvent {
                actor: Actor::system(),
                detail: reminder.detail(&c.key),
                ..event(c.key.account_id, reminder.action(), Some(c.key.id), now)
            };
            if store.record_reminder(c.key.id, reminder, &e).await.unwrap() {
                sent.push((c.key.id, reminder));
            }
        }
    }
    sent.sort_by_key(|(k, r)| (*k, r.as_str()));
    sent
}

pub(crate) async fn check_reminders_are_recorded_once(store: &dyn Store) {
    quiesce(store).await;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    store
        .update_account(
            &Account {
                rotation_period_days: 10,
                ..b.clone()
            },
            &event(b.id, Action::AccountUpdated, None, at(0)),
        )
        .await
        .unwrap();
    let now = at(0);
    let day = Duration::days(1);
    let with =
        |account: AccountId, created: OffsetDateTime, expires: Option<OffsetDateTime>| KeyRecord {
            expires_at: expires,
            ..key(account, KeyKind::Restricted, Mode::Test, created)
        };
    // Due now: the 7-day reminder (expires in 5 days); only the 1-day one (made to last less
    // than 7 days, expires in 12 hours); expired; rotation (100 days old, A rotates at 90);
    // rotation in B (20 days old, B rotates at 10).
    let seven = issue(store, with(a.id, now - day * 30, Some(now + day * 5))).await;
    let short = issue(
        store,
        with(a.id, now - day, Some(now + Duration::hours(12))),
    )
    .await;
    let expired = issue(
        store,
        with(a.id, now - day * 30, Some(now - Duration::hours(1))),
    )
    .await;
    let old = issue(store, with(a.id, now - day * 100, None)).await;
    let b_old = issue(store, with(b.id, now - day * 20, None)).await;
    // Not due: young, expiring later than 7 days, revoked, rotated.
    issue(store, with(a.id, now - day, None)).await;
    issue(store, with(a.id, now - day * 30, Some(now + day * 30))).await;
    let revoked = issue(store, with(a.id, now - day * 100, Some(now - day))).await;
    store
        .revoke_key(
            a.id,
            revoked.id,
            now - day,
            &event(a.id, Action::KeyRevoked, Some(revoked.id), at(0)),
        )
        .await
        .unwrap();
    let accounts = [a.id, b.id];

    let mut expected = vec![
        (seven.id, 90),
        (short.id, 90),
        (expired.id, 90),
        (old.id, 90),
        (b_old.id, 10),
    ];
    expected.sort();
    assert_eq!(candidates(store, now, &accounts, 1000).await, expected);
    assert_eq!(
        candidates(store, now, &accounts, 2).await,
        expected,
        "paged"
    );

    // Recorded once, each with its event (and so its outbox row).
    let queued_before = queued(store).await;
    let mut want = vec![
        (seven.id, Reminder::ExpiresInSevenDays),
        (short.id, Reminder::ExpiresInOneDay),
        (expired.id, Reminder::Expired),
        (old.id, Reminder::RotationDue),
        (b_old.id, Reminder::RotationDue),
    ];
    want.sort_by_key(|(k, r)| (*k, r.as_str()));
    assert_eq!(send_due(store, now, &accounts).await, want);
    assert_eq!(queued(store).await, queued_before + 5);
    let events_before = trail(store, a.id).await.len();
    let again = AuditEvent {
        actor: Actor::system(),
        ..event(a.id, Action::KeyExpiring, Some(seven.id), now)
    };
    assert!(
        !store
            .record_reminder(seven.id, Reminder::ExpiresInSevenDays, &again)
            .await
            .unwrap()
    );
    assert_eq!(trail(store, a.id).await.len(), events_before, "no event");
    assert_eq!(queued(store).await, queued_before + 5);
    // A key holding every reminder that applies is not a candidate any more.
    assert!(candidates(store, now, &accounts, 1000).await.is_empty());
    assert!(
        candidates(store, now + Duration::hours(6), &accounts, 1000)
            .await
            .is_empty()
    );

    // A reminder whose event cannot be written is not recorded.
    let later = now + day * 4 + Duration::hours(1);
    let result = store
        .record_reminder(
            seven.id,
            Reminder::ExpiresInOneDay,
            &clashing(store, a.id, Action::KeyExpiring).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

    // Later: the 1-day reminder of the 7-day key, the short key's expiry.
    let mut expected = vec![(seven.id, 90), (short.id, 90)];
    expected.sort();
    assert_eq!(candidates(store, later, &accounts, 1000).await, expected);
    let mut want = vec![
        (seven.id, Reminder::ExpiresInOneDay),
        (short.id, Reminder::Expired),
    ];
    want.sort_by_key(|(k, r)| (*k, r.as_str()));
    assert_eq!(send_due(store, later, &accounts).await, want);
    assert!(candidates(store, later, &accounts, 1000).await.is_empty());

    // The reminders' events reach the outbox like any other.
    let hook = add_endpoint(
        store,
        a.id,
        only(&[
            EventType::KeyExpiring,
            EventType::KeyExpired,
            EventType::KeyRotationDue,
        ]),
        EndpointState::Active,
        at(1),
    )
    .await;
    while store.dispatch_events(later, 100).await.unwrap() > 0 {}
    let claimed = claim(store, later, later + Duration::minutes(1), 100).await;
    let mut types: Vec<EventType> = claimed
        .iter()
        .filter(|c| c.delivery.endpoint_id == hook.id)
        .map(|c| c.delivery.event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            EventType::KeyExpiring,
            EventType::KeyExpiring,
            EventType::KeyExpiring,
            EventType::KeyExpired,
            EventType::KeyExpired,
            EventType::KeyRotationDue,
        ]
    );
    let unique: HashSet<DeliveryId> = ids(&claimed).into_iter().collect();
    assert_eq!(unique.len(), claimed.len());
}
