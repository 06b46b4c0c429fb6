//! The store's promises, checked against a real SQLite database file and, where
//! `KEYWARDEN_TEST_POSTGRES_URL` names a PostgreSQL server, against PostgreSQL.
//!
//! Every `check_*` function takes `&dyn Store`, so every backend runs the very same checks;
//! `for_each_check!` lists them once, and each backend's harness gives each check a fresh
//! database (SQLite below, PostgreSQL in `store/postgres.rs`).

// A test binary: a panic here is a failed assertion, not an outage (clippy.toml allows this
// in `#[test]` functions; the checks and fixtures here are plain functions).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use keywarden_core::OsRandom;
use keywarden_core::account::{Account, Role, User};
use keywarden_core::account_key_policy::{AccountKeyPolicy, LeakAction};
use keywarden_core::audit::{Action, Actor, AuditEvent};
use keywarden_core::digest::{KeyDigest, KeyHasher};
use keywarden_core::ids::{AccountId, EventId, KeyId, UserId};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::secret::ServerSecret;
use keywarden_core::store::{
    AuditStore, InstallationStore, KeyFeed, KeyFilter, KeyStore, KeyTableRow, Rotation, Store,
    StoreError, UserStore,
};
use keywarden_store::SqliteStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A time with microseconds, like every time the domain clock hands out.
const T0: OffsetDateTime = datetime!(2026-03-01 12:34:56.123456 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds) + Duration::microseconds(seconds * 7 % 1_000_000)
}

/// Distinct digests without a hasher.
fn digest() -> KeyDigest {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes();
    let mut bytes = [0xA5; 32];
    bytes[..8].copy_from_slice(&n);
    KeyDigest(bytes)
}

fn account(name: &str) -> Account {
    Account {
        id: AccountId::new_at(T0),
        name: name.into(),
        created_at: at(0),
        require_2fa_for_keys: false,
        rotation_period_days: 90,
        key_policy: AccountKeyPolicy::default(),
    }
}

fn user(account: &Account, email: &str, role: Role) -> User {
    User {
        id: UserId::new_at(T0),
        account_id: account.id,
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        role,
        two_factor_enabled: false,
        session_version: 0,
        created_at: at(0),
    }
}

fn key(account: AccountId, kind: KeyKind, mode: Mode, created: OffsetDateTime) -> KeyRecord {
    KeyRecord {
        id: KeyId::new_at(created),
        account_id: account,
        kind,
        mode,
        label: format!("{} {} key", kind.as_str(), mode.as_str()),
        hint: "sk_test_abcd…wxyz".into(),
        digest: digest(),
        scopes: vec![],
        lifecycle: Lifecycle::Active,
        created_at: created,
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

fn event(
    account: AccountId,
    action: Action,
    key: Option<KeyId>,
    when: OffsetDateTime,
) -> AuditEvent {
    AuditEvent {
        id: EventId::new_at(when),
        account_id: account,
        action,
        actor: Actor::cli(),
        key_id: key,
        detail: format!("{} at {when}", action.as_str()),
        at: when,
    }
}

/// An account with its admin (no keys), stored.
async fn seed(store: &dyn Store, name: &str) -> (Account, User) {
    let account = account(name);
    let admin = user(
        &account,
        &format!("admin-{}@example.com", account.id),
        Role::Admin,
    );
    let created = event(account.id, Action::AccountCreated, None, at(0));
    store
        .create_account(&account, &admin, &[], &[created])
        .await
        .unwrap();
    (account, admin)
}

/// Stores one key with its event and reads it back (with the change_seq the store gave it).
async fn issue(store: &dyn Store, key: KeyRecord) -> KeyRecord {
    let e = event(
        key.account_id,
        Action::KeyCreated,
        Some(key.id),
        key.created_at,
    );
    store
        .insert_keys(std::slice::from_ref(&key), &[e])
        .await
        .unwrap();
    store.key(key.account_id, key.id).await.unwrap().unwrap()
}

fn successor(old: &KeyRecord, created: OffsetDateTime) -> KeyRecord {
    KeyRecord {
        replaces: Some(old.id),
        ..key(old.account_id, old.kind, old.mode, created)
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, rule: &str) {
    match result {
        Err(StoreError::Conflict(text)) => {
            assert!(
                text.contains(rule),
                "conflict '{text}' does not name '{rule}'"
            )
        }
        other => panic!("expected a conflict naming '{rule}', got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}

async fn max_seq(store: &dyn Store) -> i64 {
    let all = store.keys_changed_since(0, u32::MAX).await.unwrap();
    all.last().map_or(0, |k| k.change_seq)
}

// ---------------------------------------------------------------------------------------------
// Checks, backend-independent

async fn check_round_trip_is_exact(store: &dyn Store) {
    let account = Account {
        require_2fa_for_keys: true,
        rotation_period_days: 30,
        key_policy: AccountKeyPolicy {
            max_key_lifetime_days: Some(3650),
            require_expiry_for_live: true,
            require_ip_allowlist_for_live: true,
            leak_action: LeakAction::Notify,
        },
        ..account("Round Trip Ltd")
    };
    let admin = User {
        two_factor_enabled: true,
        session_version: 7,
        created_at: at(1),
        ..user(&account, "ada@example.com", Role::Admin)
    };
    let actor = Actor {
        user_id: Some(admin.id),
        label: admin.email.clone(),
        ip: Some("2001:db8::1".into()),
        user_agent: Some("curl/8.0 \"quoted\" ünïcode".into()),
    };
    let standard_test = KeyRecord {
        created_by: Some(admin.id),
        expires_at: Some(datetime!(2027-01-02 03:04:05.678901 +02:00)),
        last_used_at: Some(at(50)),
        ..key(account.id, KeyKind::Standard, Mode::Test, at(2))
    };
    let restricted = KeyRecord {
        label: "payroll export — nightly".into(),
        scopes: vec!["payroll:read".into(), "asset:write".into()],
        lifecycle: Lifecycle::Revoked,
        revoked_at: Some(at(40)),
        leak: Some(keywarden_core::key_record::Leak {
            at: at(40),
            url: Some("https://github.com/acme/app/blob/main/.env?plain=1#L2".into()),
        }),
        ..key(account.id, KeyKind::Restricted, Mode::Live, at(3))
    };
    let old_live = key(account.id, KeyKind::Standard, Mode::Live, at(4));
    let new_live = successor(&old_live, at(5));
    let old_live = KeyRecord {
        lifecycle: Lifecycle::Rotated,
        rotated_at: Some(at(5)),
        grace_until: Some(at(5) + Duration::hours(1)),
        replaced_by: Some(new_live.id),
        ..old_live
    };
    let keys = vec![standard_test, restricted, old_live, new_live];
    let mut events = vec![AuditEvent {
        actor: actor.clone(),
        ..event(account.id, Action::AccountCreated, None, at(1))
    }];
    for (i, k) in keys.iter().enumerate() {
        events.push(AuditEvent {
            actor: actor.clone(),
            ..event(
                account.id,
                Action::KeyCreated,
                Some(k.id),
                at(10 + i as i64),
            )
        });
    }
    store
        .create_account(&account, &admin, &keys, &events)
        .await
        .unwrap();

    assert_eq!(
        store.account(account.id).await.unwrap(),
        Some(account.clone())
    );
    assert_eq!(store.user(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(
        store.user_by_email(&admin.email).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );

    let mut last_seq = 0;
    for k in &keys {
        let read = store.key(account.id, k.id).await.unwrap().unwrap();
        assert!(
            read.change_seq > last_seq,
            "change_seq follows insertion order"
        );
        last_seq = read.change_seq;
        assert_eq!(
            read,
            KeyRecord {
                change_seq: read.change_seq,
                ..k.clone()
            }
        );
    }
    assert_eq!(store.key_count().await.unwrap(), 4);

    let mut newest_first = events.clone();
    newest_first.reverse();
    assert_eq!(
        store.audit_events(account.id, 100).await.unwrap(),
        newest_first
    );

    let sign_in = AuditEvent {
        actor,
        ..event(account.id, Action::SignIn, None, at(60))
    };
    store.insert_event(&sign_in).await.unwrap();
    assert_eq!(
        store.audit_events(account.id, 1).await.unwrap(),
        vec![sign_in]
    );
}

async fn check_duplicate_email_conflicts(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let b = account("B");
    let clash = user(&b, &admin.email, Role::Admin);
    let result = store
        .create_account(
            &b,
            &clash,
            &[],
            &[event(b.id, Action::AccountCreated, None, at(1))],
        )
        .await;
    assert_conflict(result, "users_email_unique");
    assert_eq!(store.account(b.id).await.unwrap(), None, "rolled back");

    let same_account = user(&a, &admin.email, Role::Member);
    let result = store
        .insert_user(
            &same_account,
            &event(a.id, Action::UserCreated, None, at(2)),
        )
        .await;
    assert_conflict(result, "users_email_unique");
    assert_eq!(store.user(same_account.id).await.unwrap(), None);
    assert_eq!(store.audit_events(a.id, 100).await.unwrap().len(), 1);

    let other = user(&a, "dev@example.com", Role::Developer);
    store
        .insert_user(&other, &event(a.id, Action::UserCreated, None, at(3)))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_email("dev@example.com").await.unwrap(),
        Some(other)
    );
}

async fn check_one_active_standard_key_per_mode(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let first = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;

    let second = key(a.id, KeyKind::Standard, Mode::Test, at(2));
    let e = event(a.id, Action::KeyCreated, Some(second.id), at(2));
    let result = store
        .insert_keys(std::slice::from_ref(&second), std::slice::from_ref(&e))
        .await;
    assert_conflict(result, "one_active_standard_key_per_mode");
    assert_eq!(store.key(a.id, second.id).await.unwrap(), None);
    assert!(!store.audit_events(a.id, 100).await.unwrap().contains(&e));

    // Two in one call: neither is stored.
    let live_1 = key(a.id, KeyKind::Standard, Mode::Live, at(3));
    let live_2 = key(a.id, KeyKind::Standard, Mode::Live, at(3));
    let result = store.insert_keys(&[live_1.clone(), live_2], &[]).await;
    assert_conflict(result, "one_active_standard_key_per_mode");
    assert_eq!(store.key(a.id, live_1.id).await.unwrap(), None);

    // Another mode, restricted keys, and another account are all fine.
    issue(store, live_1).await;
    for i in 0..3 {
        issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(4 + i))).await;
    }
    let (b, _) = seed(store, "B").await;
    issue(store, key(b.id, KeyKind::Standard, Mode::Test, at(5))).await;

    // Revoked standard keys do not count.
    store
        .revoke_key(
            a.id,
            first.id,
            at(6),
            &event(a.id, Action::KeyRevoked, Some(first.id), at(6)),
        )
        .await
        .unwrap();
    issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(7))).await;

    // The same digest twice is refused too.
    let mut twin = key(a.id, KeyKind::Restricted, Mode::Live, at(8));
    twin.digest = first.digest;
    assert_conflict(
        store.insert_keys(&[twin], &[]).await,
        "api_keys_digest_unique",
    );
}

async fn check_rotate(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let old = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let before = max_seq(store).await;
    assert_eq!(before, old.change_seq);

    let new = successor(&old, at(100));
    let grace = at(100) + Duration::hours(1);
    let rotated = event(a.id, Action::KeyRotated, Some(old.id), at(100));
    let rotation = Rotation {
        old_key: old.id,
        account_id: a.id,
        at: at(100),
        old_grace_until: grace,
        new_key: &new,
    };
    store.rotate_key(&rotation, &rotated).await.unwrap();

    let old_now = store.key(a.id, old.id).await.unwrap().unwrap();
    let new_now = store.key(a.id, new.id).await.unwrap().unwrap();
    assert_eq!(
        old_now,
        KeyRecord {
            lifecycle: Lifecycle::Rotated,
            rotated_at: Some(at(100)),
            grace_until: Some(grace),
            replaced_by: Some(new.id),
            change_seq: old_now.change_seq,
            ..old.clone()
        }
    );
    assert_eq!(
        new_now,
        KeyRecord {
            change_seq: new_now.change_seq,
            ..new.clone()
        }
    );
    assert_eq!(new_now.lifecycle, Lifecycle::Active);
    assert_eq!(new_now.replaces, Some(old.id));
    assert!(old_now.change_seq > before);
    assert!(new_now.change_seq > old_now.change_seq);

    // The old key still works during its grace, and stops at its deadline.
    assert_eq!(old_now.stopped_by(grace - Duration::seconds(1)), None);
    assert!(old_now.stopped_by(grace).is_some());

    assert_eq!(
        store.keys_changed_since(before, 100).await.unwrap(),
        vec![old_now.clone(), new_now.clone()]
    );
    assert_eq!(store.audit_events(a.id, 1).await.unwrap(), vec![rotated]);
    let active = KeyFilter {
        kind: Some(KeyKind::Standard),
        mode: Some(Mode::Test),
        only_active: true,
    };
    assert_eq!(
        store.keys_of_account(a.id, &active).await.unwrap(),
        vec![new_now.clone()]
    );

    // A rotated key cannot be rotated again.
    let again = successor(&old, at(101));
    let result = store
        .rotate_key(
            &Rotation {
                new_key: &again,
                at: at(101),
                old_grace_until: at(101),
                ..rotation
            },
            &event(a.id, Action::KeyRotated, Some(old.id), at(101)),
        )
        .await;
    assert_conflict(result, "only an active key can be rotated");
    assert_eq!(store.key(a.id, again.id).await.unwrap(), None);
    assert_eq!(store.key(a.id, old.id).await.unwrap(), Some(old_now));
}

async fn check_concurrent_rotations_leave_one_successor(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    // Standard keys are also guarded by the one-active-per-mode index; restricted keys only
    // by the rotation itself.
    for kind in [KeyKind::Standard, KeyKind::Restricted] {
        race_rotations(store, a.id, kind).await;
    }
}

async fn race_rotations(store: &dyn Store, account: AccountId, kind: KeyKind) {
    let a = store.account(account).await.unwrap().unwrap();
    let mut current = issue(store, key(a.id, kind, Mode::Live, at(1))).await;
    for round in 0..5_i64 {
        let now = at(10 * (round + 1));
        let left = successor(&current, now);
        let right = successor(&current, now);
        let left_event = event(a.id, Action::KeyRotated, Some(current.id), now);
        let right_event = event(a.id, Action::KeyRotated, Some(current.id), now);
        let rotation = |new_key| Rotation {
            old_key: current.id,
            account_id: a.id,
            at: now,
            old_grace_until: now,
            new_key,
        };
        let (left_rotation, right_rotation) = (rotation(&left), rotation(&right));
        let (l, r) = tokio::join!(
            store.rotate_key(&left_rotation, &left_event),
            store.rotate_key(&right_rotation, &right_event),
        );
        let (winner, winner_event, loser, loser_event, lost) = match (l, r) {
            (Ok(()), Err(e)) => (&left, &left_event, &right, &right_event, e),
            (Err(e), Ok(())) => (&right, &right_event, &left, &left_event, e),
            other => panic!("round {round}: expected one Ok and one Err, got {other:?}"),
        };
        assert!(
            matches!(lost, StoreError::Conflict(_)),
            "round {round}: {lost:?}"
        );

        let active = KeyFilter {
            kind: Some(kind),
            mode: Some(Mode::Live),
            only_active: true,
        };
        let successors = store.keys_of_account(a.id, &active).await.unwrap();
        assert_eq!(
            successors.len(),
            1,
            "round {round}: exactly one active successor"
        );
        assert_eq!(successors[0].id, winner.id);
        assert_eq!(store.key(a.id, loser.id).await.unwrap(), None);
        let old = store.key(a.id, current.id).await.unwrap().unwrap();
        assert_eq!(old.lifecycle, Lifecycle::Rotated);
        assert_eq!(old.replaced_by, Some(winner.id));
        let events = store.audit_events(a.id, 1000).await.unwrap();
        assert!(events.contains(winner_event));
        assert!(!events.contains(loser_event));
        current = successors[0].clone();
    }
}

async fn check_revoke(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let k = issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(1))).await;
    let revoked = event(a.id, Action::KeyRevoked, Some(k.id), at(20));
    store
        .revoke_key(a.id, k.id, at(20), &revoked)
        .await
        .unwrap();
    let read = store.key(a.id, k.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(at(20)),
            change_seq: read.change_seq,
            ..k.clone()
        }
    );
    assert!(read.change_seq > k.change_seq);

    let twice = event(a.id, Action::KeyRevoked, Some(k.id), at(21));
    assert_conflict(
        store.revoke_key(a.id, k.id, at(21), &twice).await,
        "revoked",
    );
    assert_eq!(
        store.key(a.id, k.id).await.unwrap(),
        Some(read),
        "unchanged"
    );
    let events = store.audit_events(a.id, 100).await.unwrap();
    assert!(events.contains(&revoked));
    assert!(!events.contains(&twice));

    // A rotated key (still in its grace period) can be revoked.
    let old = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(30))).await;
    let new = successor(&old, at(31));
    store
        .rotate_key(
            &Rotation {
                old_key: old.id,
                account_id: a.id,
                at: at(31),
                old_grace_until: at(31) + Duration::days(1),
                new_key: &new,
            },
            &event(a.id, Action::KeyRotated, Some(old.id), at(31)),
        )
        .await
        .unwrap();
    store
        .revoke_key(
            a.id,
            old.id,
            at(32),
            &event(a.id, Action::KeyRevoked, Some(old.id), at(32)),
        )
        .await
        .unwrap();
    let old = store.key(a.id, old.id).await.unwrap().unwrap();
    assert_eq!(old.lifecycle, Lifecycle::Revoked);
    assert_eq!(old.revoked_at, Some(at(32)));
    assert_eq!(old.replaced_by, Some(new.id));
}

async fn check_other_accounts_keys_are_not_found(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let ka = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;

    assert_eq!(store.key(b.id, ka.id).await.unwrap(), None);
    let new = successor(&ka, at(2));
    let new = KeyRecord {
        account_id: b.id,
        ..new
    };
    let rotation = Rotation {
        old_key: ka.id,
        account_id: b.id,
        at: at(2),
        old_grace_until: at(2),
        new_key: &new,
    };
    assert_not_found(
        store
            .rotate_key(
                &rotation,
                &event(b.id, Action::KeyRotated, Some(ka.id), at(2)),
            )
            .await,
    );
    assert_not_found(
        store
            .revoke_key(
                b.id,
                ka.id,
                at(3),
                &event(b.id, Action::KeyRevoked, Some(ka.id), at(3)),
            )
            .await,
    );
    let missing = KeyId::new_at(at(4));
    assert_not_found(
        store
            .revoke_key(
                a.id,
                missing,
                at(4),
                &event(a.id, Action::KeyRevoked, None, at(4)),
            )
            .await,
    );

    assert_eq!(
        store.key(a.id, ka.id).await.unwrap(),
        Some(ka.clone()),
        "untouched"
    );
    assert_eq!(store.key(b.id, new.id).await.unwrap(), None);
    assert_eq!(
        store.audit_events(b.id, 100).await.unwrap().len(),
        1,
        "only account.created"
    );
    assert_eq!(
        max_seq(store).await,
        ka.change_seq,
        "no change_seq was spent"
    );
    assert!(
        store
            .keys_of_account(b.id, &KeyFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn check_change_feed(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let start = max_seq(store).await;
    let mut keys = Vec::new();
    for i in 0..5 {
        keys.push(issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(i))).await);
    }
    store
        .revoke_key(
            a.id,
            keys[1].id,
            at(9),
            &event(a.id, Action::KeyRevoked, Some(keys[1].id), at(9)),
        )
        .await
        .unwrap();

    // Page through with a small limit, as an instance catching up would.
    let mut seen = Vec::new();
    let mut cursor = start;
    loop {
        let page = store.keys_changed_since(cursor, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        cursor = last.change_seq;
        seen.extend(page);
    }
    let ids: Vec<KeyId> = seen.iter().map(|k| k.id).collect();
    assert_eq!(
        ids,
        vec![keys[0].id, keys[2].id, keys[3].id, keys[4].id, keys[1].id],
        "each key once, in the order of its latest change"
    );
    assert!(seen.windows(2).all(|w| w[0].change_seq < w[1].change_seq));
    assert_eq!(seen[4].lifecycle, Lifecycle::Revoked);

    // Only newer changes.
    let after_third = store
        .keys_changed_since(keys[3].change_seq, 100)
        .await
        .unwrap();
    let ids: Vec<KeyId> = after_third.iter().map(|k| k.id).collect();
    assert_eq!(ids, vec![keys[4].id, keys[1].id]);
    assert!(
        store
            .keys_changed_since(cursor, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.keys_changed_since(start, 0).await.unwrap().is_empty());
}

/// The narrow feed the key table loads from says of every key what the full records say:
/// the stores compute `stopped_at` in SQL, the domain in `KeyRecord::stopped_at`.
async fn check_narrow_feed_matches_the_full_feed(store: &dyn Store) {
    assert_eq!(
        store.feed_end().await.unwrap(),
        0,
        "an empty feed ends at 0"
    );
    let (a, _) = seed(store, "A").await;
    let start = max_seq(store).await;
    assert_eq!(store.feed_end().await.unwrap(), start);
    let standard = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let scoped = issue(
        store,
        KeyRecord {
            scopes: vec!["payroll:read".into(), "asset:write".into()],
            expires_at: Some(at(500)),
            ..key(a.id, KeyKind::Restricted, Mode::Live, at(2))
        },
    )
    .await;
    let revoked = issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(3))).await;
    store
        .revoke_key(
            a.id,
            revoked.id,
            at(9),
            &event(a.id, Action::KeyRevoked, Some(revoked.id), at(9)),
        )
        .await
        .unwrap();
    let new = successor(&standard, at(100));
    store
        .rotate_key(
            &Rotation {
                old_key: standard.id,
                account_id: a.id,
                at: at(100),
                old_grace_until: at(100) + Duration::hours(1),
                new_key: &new,
            },
            &event(a.id, Action::KeyRotated, Some(standard.id), at(100)),
        )
        .await
        .unwrap();

    let full: Vec<KeyTableRow> = store
        .keys_changed_since(start, 100)
        .await
        .unwrap()
        .iter()
        .map(KeyTableRow::of)
        .collect();
    let narrow = store.key_table_since(start, i64::MAX, 100).await.unwrap();
    assert_eq!(narrow, full);
    assert_eq!(narrow.len(), 4, "{narrow:#?}");
    // The feed ends at its newest change; `until` bounds a read to the changes up to it.
    let end = narrow.last().unwrap().change_seq;
    assert_eq!(store.feed_end().await.unwrap(), end);
    let middle = narrow[1].change_seq;
    let first_half = store.key_table_since(start, middle, 100).await.unwrap();
    let second_half = store.key_table_since(middle, end, 100).await.unwrap();
    assert_eq!(first_half, narrow[..2]);
    assert_eq!(second_half, narrow[2..]);
    assert!(
        store
            .key_table_since(end, end, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let row = |id: KeyId| narrow.iter().find(|r| r.id == id).unwrap();
    assert_eq!(row(scoped.id).scopes, ["payroll:read", "asset:write"]);
    assert_eq!(row(scoped.id).expires_at, Some(at(500)));
    assert_eq!(row(scoped.id).stopped_at, None);
    assert_eq!(row(revoked.id).stopped_at, Some(at(9)));
    assert_eq!(
        row(standard.id).stopped_at,
        Some(at(100) + Duration::hours(1))
    );
    assert_eq!(row(standard.id).lifecycle, Lifecycle::Rotated);
    // Pages of one, as the refresh loop reads them, give the same rows.
    let mut paged = Vec::new();
    let mut cursor = start;
    while let Some(last) = store
        .key_table_since(cursor, i64::MAX, 1)
        .await
        .unwrap()
        .pop()
    {
        cursor = last.change_seq;
        paged.push(last);
    }
    assert_eq!(paged, narrow);
}

async fn check_last_used(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let k = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let other = issue(store, key(a.id, KeyKind::Standard, Mode::Live, at(1))).await;
    let seq = max_seq(store).await;

    store.record_last_used(&[(k.id, at(10))]).await.unwrap();
    let read = store.key(a.id, k.id).await.unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(at(10)));
    assert_eq!(
        read.change_seq, k.change_seq,
        "usage does not bump change_seq"
    );
    assert!(store.keys_changed_since(seq, 100).await.unwrap().is_empty());

    // Never backwards, even within one batch; unknown ids are ignored.
    store
        .record_last_used(&[
            (k.id, at(5)),
            (KeyId::new_at(at(0)), at(50)),
            (other.id, at(30)),
            (other.id, at(20)),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.key(a.id, k.id).await.unwrap().unwrap().last_used_at,
        Some(at(10))
    );
    assert_eq!(
        store
            .key(a.id, other.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(at(30))
    );

    store.record_last_used(&[(k.id, at(11))]).await.unwrap();
    assert_eq!(
        store.key(a.id, k.id).await.unwrap().unwrap().last_used_at,
        Some(at(11))
    );
    store.record_last_used(&[]).await.unwrap();
    assert!(store.keys_changed_since(seq, 100).await.unwrap().is_empty());
}

async fn check_failed_audit_event_rolls_back(store: &dyn Store) {
    let account = account("Doomed");
    let admin = user(&account, "doomed@example.com", Role::Admin);
    let keys = vec![
        key(account.id, KeyKind::Standard, Mode::Test, at(1)),
        key(account.id, KeyKind::Standard, Mode::Live, at(1)),
    ];
    let first = event(account.id, Action::AccountCreated, None, at(1));
    let same_id = AuditEvent {
        action: Action::KeyCreated,
        key_id: Some(keys[0].id),
        ..first.clone()
    };
    let seq = max_seq(store).await;
    let count = store.key_count().await.unwrap();
    let result = store
        .create_account(&account, &admin, &keys, &[first, same_id])
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.account(account.id).await.unwrap(), None);
    assert_eq!(store.user(admin.id).await.unwrap(), None);
    assert_eq!(store.user_by_email(&admin.email).await.unwrap(), None);
    for k in &keys {
        assert_eq!(store.key(account.id, k.id).await.unwrap(), None);
    }
    assert_eq!(store.key_count().await.unwrap(), count);
    assert!(store.keys_changed_since(seq, 100).await.unwrap().is_empty());
    assert!(
        store
            .audit_events(account.id, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // The same for a rotation and a revocation whose event cannot be written.
    let (a, _) = seed(store, "A").await;
    let existing = store.audit_events(a.id, 1).await.unwrap().remove(0);
    let old = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(2))).await;
    let new = successor(&old, at(3));
    let clashing = AuditEvent {
        action: Action::KeyRotated,
        ..existing.clone()
    };
    let result = store
        .rotate_key(
            &Rotation {
                old_key: old.id,
                account_id: a.id,
                at: at(3),
                old_grace_until: at(3),
                new_key: &new,
            },
            &clashing,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.key(a.id, old.id).await.unwrap(), Some(old.clone()));
    assert_eq!(store.key(a.id, new.id).await.unwrap(), None);

    let clashing = AuditEvent {
        action: Action::KeyRevoked,
        ..existing
    };
    let result = store.revoke_key(a.id, old.id, at(4), &clashing).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.key(a.id, old.id).await.unwrap(), Some(old.clone()));
    assert_eq!(max_seq(store).await, old.change_seq);
}

async fn check_listing(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let st = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let sl = issue(store, key(a.id, KeyKind::Standard, Mode::Live, at(2))).await;
    let rt = issue(store, key(a.id, KeyKind::Restricted, Mode::Test, at(3))).await;
    let rl = issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(4))).await;
    // Same creation time: the id breaks the tie, so the order is still total.
    let rl2 = issue(store, key(a.id, KeyKind::Restricted, Mode::Live, at(4))).await;
    issue(store, key(b.id, KeyKind::Standard, Mode::Test, at(5))).await;
    store
        .revoke_key(
            a.id,
            rt.id,
            at(6),
            &event(a.id, Action::KeyRevoked, Some(rt.id), at(6)),
        )
        .await
        .unwrap();
    let rt = store.key(a.id, rt.id).await.unwrap().unwrap();

    let ids = |keys: Vec<KeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    let (rl_first, rl_second) = if rl2.id > rl.id {
        (&rl2, &rl)
    } else {
        (&rl, &rl2)
    };
    let all = store
        .keys_of_account(a.id, &KeyFilter::default())
        .await
        .unwrap();
    assert_eq!(
        ids(all.clone()),
        vec![rl_first.id, rl_second.id, rt.id, sl.id, st.id],
        "newest first"
    );
    assert!(all.contains(&rt), "records are whole");

    let filter = |kind, mode, only_active| KeyFilter {
        kind,
        mode,
        only_active,
    };
    assert_eq!(
        ids(store
            .keys_of_account(a.id, &filter(Some(KeyKind::Standard), None, false))
            .await
            .unwrap()),
        vec![sl.id, st.id]
    );
    assert_eq!(
        ids(store
            .keys_of_account(a.id, &filter(None, Some(Mode::Test), false))
            .await
            .unwrap()),
        vec![rt.id, st.id]
    );
    assert_eq!(
        ids(store
            .keys_of_account(a.id, &filter(None, Some(Mode::Test), true))
            .await
            .unwrap()),
        vec![st.id]
    );
    assert_eq!(
        ids(store
            .keys_of_account(
                a.id,
                &filter(Some(KeyKind::Restricted), Some(Mode::Live), true)
            )
            .await
            .unwrap()),
        vec![rl_first.id, rl_second.id]
    );

    // Audit events: newest first, limited, one account only.
    let events = store.audit_events(a.id, 3).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].action, Action::KeyRevoked);
    assert!(events.windows(2).all(|w| w[0].at >= w[1].at));
    assert!(events.iter().all(|e| e.account_id == a.id));
    assert_eq!(
        store.audit_events(a.id, 100).await.unwrap().len(),
        1 + 5 + 1
    );
    assert!(store.audit_events(a.id, 0).await.unwrap().is_empty());
}

/// Times read back exactly as written, at the microsecond, on both sides of every epoch a
/// backend might count from (1970 for SQLite's integers, 2000 for PostgreSQL's timestamptz);
/// a finer part is cut towards the past, as the domain clock does.
async fn check_times_keep_microseconds(store: &dyn Store) {
    let (a, _) = seed(store, "Times").await;
    let exact = [
        datetime!(1900-01-01 00:00:00.000001 UTC),
        datetime!(1969-12-31 23:59:59.999999 UTC),
        datetime!(1970-01-01 00:00 UTC),
        datetime!(1999-12-31 23:59:59.999999 UTC),
        datetime!(2000-01-01 00:00:00.000001 UTC),
        datetime!(2026-03-01 12:34:56.123456 +05:30),
        datetime!(9999-12-31 23:59:59.999999 UTC),
    ];
    for (i, t) in exact.into_iter().enumerate() {
        let k = KeyRecord {
            expires_at: Some(t),
            last_used_at: Some(t),
            ..key(a.id, KeyKind::Restricted, Mode::Test, at(i as i64))
        };
        let read = issue(store, k.clone()).await;
        assert_eq!(read.expires_at, Some(t), "{t}");
        assert_eq!(
            read,
            KeyRecord {
                change_seq: read.change_seq,
                ..k
            }
        );
    }
    let finer = [
        (
            datetime!(1999-12-31 23:59:59.9999995 UTC),
            datetime!(1999-12-31 23:59:59.999999 UTC),
        ),
        (
            datetime!(1969-12-31 23:59:59.999999999 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
        ),
        (
            datetime!(2026-03-01 12:00:00.000000999 UTC),
            datetime!(2026-03-01 12:00 UTC),
        ),
    ];
    for (i, (written, expected)) in finer.into_iter().enumerate() {
        let k = KeyRecord {
            expires_at: Some(written),
            ..key(a.id, KeyKind::Restricted, Mode::Live, at(100 + i as i64))
        };
        assert_eq!(
            issue(store, k).await.expires_at,
            Some(expected),
            "{written}"
        );
    }
}

async fn check_meta(store: &dyn Store) {
    store.ping().await.unwrap();
    assert_eq!(store.key_count().await.unwrap(), 0);
    assert_eq!(store.secret_fingerprint().await.unwrap(), None);
    store.set_secret_fingerprint("0123abcd").await.unwrap();
    assert_eq!(
        store.secret_fingerprint().await.unwrap().as_deref(),
        Some("0123abcd")
    );
    store.set_secret_fingerprint("ffff0000").await.unwrap();
    assert_eq!(
        store.secret_fingerprint().await.unwrap().as_deref(),
        Some("ffff0000")
    );
}

/// Usage-limit counts add up across batches (and so across instances), a zero count only reads,
/// periods and keys stay apart, and pruning takes finished periods but never `total`'s.
async fn check_usage_counts(store: &dyn Store) {
    use keywarden_core::store::PeriodCount;
    let k1 = KeyId::new_at(at(1));
    let k2 = KeyId::new_at(at(2));
    let day = |d: i64| OffsetDateTime::UNIX_EPOCH + Duration::days(20_000 + d);
    let count = |key_id, period_start, count| PeriodCount {
        key_id,
        period_start,
        count,
    };
    assert_eq!(store.add_usage(&[]).await.unwrap(), Vec::<u64>::new());
    assert_eq!(
        store
            .add_usage(&[count(k1, day(0), 3), count(k2, day(0), 0)])
            .await
            .unwrap(),
        vec![3, 0]
    );
    // Two instances' batches add, never overwrite.
    let (five, seven) = ([count(k1, day(0), 5)], [count(k1, day(0), 7)]);
    let (a, b) = tokio::join!(store.add_usage(&five), store.add_usage(&seven));
    let (a, b) = (a.unwrap()[0], b.unwrap()[0]);
    assert_eq!(a.max(b), 15, "{a} {b}");
    assert_eq!(
        store
            .add_usage(&[
                count(k1, day(0), 0),
                count(k1, day(1), 1),
                count(k2, OffsetDateTime::UNIX_EPOCH, 2),
            ])
            .await
            .unwrap(),
        vec![15, 1, 2]
    );
    assert_eq!(store.prune_usage(day(1)).await.unwrap(), 1);
    assert_eq!(
        store
            .add_usage(&[
                count(k1, day(0), 0),
                count(k1, day(1), 0),
                count(k2, OffsetDateTime::UNIX_EPOCH, 0),
            ])
            .await
            .unwrap(),
        vec![0, 1, 2],
        "the finished day is gone, the rest stays"
    );
}

async fn check_key_usage(store: &dyn Store) {
    use keywarden_core::store::{AddressCount, UsageBatch, UsageCount, UsageQuery};
    use std::net::IpAddr;
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let k = issue(store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let theirs = issue(store, key(b.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let count = |key: &keywarden_core::key_record::KeyRecord, hour, outcome, n| UsageCount {
        key_id: key.id,
        account_id: key.account_id,
        hour,
        outcome,
        product: "payroll".into(),
        access: "read",
        count: n,
    };
    let address = |hour, at_ip: &str, allowed, refused, last_seen_ms| AddressCount {
        key_id: k.id,
        account_id: a.id,
        hour,
        address: Some(ip(at_ip)),
        allowed,
        refused,
        last_seen_ms,
    };
    let h = 500_000; // hours since the epoch
    let first = UsageBatch {
        counts: vec![
            count(&k, h, "allowed", 3),
            count(&k, h, "insufficient_scope", 1),
        ],
        addresses: vec![address(h, "203.0.113.7", 3, 1, 10)],
        last_ips: vec![(k.id, ip("203.0.113.7"), 10)],
    };
    // A second instance's batch at the same time, with a correction (-1 allowed, +1 refused).
    let second = UsageBatch {
        counts: vec![
            count(&k, h, "allowed", 4),
            count(&k, h, "allowed", -1),
            count(&k, h + 1, "key_rate_limited", 1),
            count(&theirs, h, "allowed", 9),
        ],
        addresses: vec![
            address(h, "203.0.113.7", 2, 0, 20),
            address(h + 1, "198.51.100.2", 0, 1, 30),
        ],
        last_ips: vec![(k.id, ip("198.51.100.2"), 5)],
    };
    let (x, y) = tokio::join!(store.add_key_usage(&first), store.add_key_usage(&second));
    x.unwrap();
    y.unwrap();
    let query = |key_id, bucket_hours| UsageQuery {
        account_id: a.id,
        key_id,
        from_hour: h,
        to_hour: h + 2,
        bucket_hours,
    };
    let mut rows: Vec<_> = store
        .usage_rows(&query(Some(k.id), 1))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.bucket, r.outcome, r.count))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (h, "allowed".to_owned(), 6),
            (h, "insufficient_scope".to_owned(), 1),
            (h + 1, "key_rate_limited".to_owned(), 1)
        ],
        "two instances' batches add up, corrections included"
    );
    let day: Vec<_> = store
        .usage_rows(&query(None, 2))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.bucket, r.count))
        .collect();
    assert_eq!(
        day.iter().map(|(_, n)| n).sum::<u64>(),
        8,
        "only account A's: {day:?}"
    );
    assert!(day.iter().all(|(bucket, _)| *bucket == h));
    let (addresses, distinct) = store
        .usage_addresses(&query(Some(k.id), 1), false, 10)
        .await
        .unwrap();
    assert_eq!(distinct, 2);
    assert_eq!(
        addresses
            .iter()
            .map(|a| (a.address.as_str(), a.allowed, a.refused, a.last_seen_ms))
            .collect::<Vec<_>>(),
        [("203.0.113.7", 5, 1, 20), ("198.51.100.2", 0, 1, 30)]
    );
    let (allowed_only, _) = store
        .usage_addresses(&query(Some(k.id), 1), true, 10)
        .await
        .unwrap();
    assert_eq!(allowed_only.len(), 1);
    let ranked = store
        .usage_by_key(&query(None, 1), false, 10)
        .await
        .unwrap();
    assert_eq!(ranked.len(), 1, "B's key is not in A's ranking");
    assert_eq!(
        (ranked[0].key_id, ranked[0].requests, ranked[0].allowed),
        (k.id, 8, 6)
    );
    // The last address only moves forward; another account's keys are not listed.
    assert_eq!(
        store.last_used_ips(a.id, &[k.id, theirs.id]).await.unwrap(),
        [(k.id, "203.0.113.7".to_owned())]
    );
    assert_eq!(store.prune_key_usage(h + 1).await.unwrap(), 3 + 1);
    let left = store.usage_rows(&query(Some(k.id), 1)).await.unwrap();
    assert_eq!(left.len(), 1, "only the later hour is left: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// The console API's checks, backend-independent, in store/console.rs

#[path = "store/console.rs"]
mod console;
use console::*;

// ---------------------------------------------------------------------------------------------
// Webhooks' checks, backend-independent, in store/webhooks.rs

#[path = "store/webhooks.rs"]
mod webhooks;
use webhooks::*;

// ---------------------------------------------------------------------------------------------
// Leaked keys' checks, backend-independent, in store/leaks.rs

#[path = "store/leaks.rs"]
mod leaks;
use leaks::*;

// ---------------------------------------------------------------------------------------------
// Key pages in every order, backend-independent, in store/key_orders.rs

#[path = "store/key_orders.rs"]
mod key_orders;
use key_orders::*;

// ---------------------------------------------------------------------------------------------
// Every backend-independent check, once: `for_each_check!(harness)` calls
// `harness! { test_name => check; … }`, so each backend turns the same list into its tests.

macro_rules! for_each_check {
    ($harness:ident) => {
        $harness! {
            round_trip_is_exact => check_round_trip_is_exact;
            duplicate_email_conflicts => check_duplicate_email_conflicts;
            second_active_standard_key_per_mode_conflicts => check_one_active_standard_key_per_mode;
            rotation_supersedes_the_old_key => check_rotate;
            concurrent_rotations_leave_exactly_one_successor => check_concurrent_rotations_leave_one_successor;
            revoking_twice_conflicts => check_revoke;
            another_accounts_key_is_not_found => check_other_accounts_keys_are_not_found;
            change_feed_is_ordered_and_pages => check_change_feed;
            narrow_feed_matches_the_full_feed => check_narrow_feed_matches_the_full_feed;
            last_used_never_bumps_change_seq_nor_goes_back => check_last_used;
            a_failed_audit_event_rolls_back_the_change => check_failed_audit_event_rolls_back;
            listing_is_newest_first_and_filtered => check_listing;
            meta_ping_and_count => check_meta;
            usage_counts_add_up_and_prune => check_usage_counts;
            key_usage_adds_up_per_hour_and_address => check_key_usage;
            times_keep_microseconds => check_times_keep_microseconds;
            keys_page_newest_first_without_overlap => check_key_pages;
            key_status_filters_follow_now => check_key_status_filters;
            key_search_is_a_plain_case_insensitive_substring => check_key_search;
            key_pages_keep_every_order_across_pages => check_key_orders;
            updating_a_key_bumps_change_seq => check_update_key;
            users_roles_and_the_last_admin => check_users_and_roles;
            account_policy_updates => check_update_account;
            removing_a_user_keeps_their_keys_and_trail => check_delete_user;
            admins_demoting_each_other_leave_one_admin => check_concurrent_admin_changes;
            totp_enrolment_and_single_use_steps => check_totp;
            recovery_codes_are_single_use => check_recovery_codes;
            turning_totp_off_spends_its_proof_and_ends_the_sessions => check_disable_totp;
            replacing_recovery_codes_spends_its_proof => check_replace_recovery_codes;
            audit_queries_filter_and_page => check_audit_queries;
            console_writes_roll_back_when_their_event_fails => check_console_writes_roll_back_on_failed_event;
            webhook_outbox_rows_commit_with_their_change => check_outbox_rows_commit_with_their_change;
            webhook_dispatch_fans_out_to_subscribers_once => check_dispatch_fans_out_once;
            webhook_claims_hold_their_lease_and_attempts_decide => check_claims_leases_and_attempt_results;
            webhook_disabled_endpoints_are_sent_nothing_but_tests => check_disabled_endpoints_are_sent_nothing_but_tests;
            webhook_attempt_log_pages_newest_first_per_account => check_attempt_log_pages_and_stays_in_its_account;
            webhook_retry_makes_a_delivery_pending_again => check_retry_delivery;
            webhook_endpoints_change_within_their_account => check_endpoint_changes;
            webhook_deleting_an_endpoint_takes_its_deliveries => check_deleting_an_endpoint_takes_its_deliveries;
            webhook_reminders_are_recorded_once => check_reminders_are_recorded_once;
            leaked_keys_are_found_by_digest_in_every_account => check_keys_by_digest_cross_accounts;
            a_leak_is_recorded_with_or_without_revoking => check_record_leak;
            a_canarys_trips_add_up_with_their_events => check_canary_trips;
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Running the checks on SQLite

/// A fresh database file in its own temporary directory (one level down, so that creating
/// the directory is exercised too).
struct FileDb {
    dir: TempDir,
    url: String,
    store: SqliteStore,
}

impl FileDb {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", Self::db_path(&dir).display());
        let store = SqliteStore::connect(&url).await.unwrap();
        Self { dir, url, store }
    }

    fn db_path(dir: &TempDir) -> PathBuf {
        dir.path().join("data").join("keywarden.db")
    }

    /// The database file and its companions (`-wal`, `-shm`), read raw.
    fn raw_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let data = self.dir.path().join("data");
        std::fs::read_dir(data)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect()
    }
}

macro_rules! on_a_file_db {
    ($($test:ident => $check:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let db = FileDb::new().await;
            $check(&db.store).await;
        }
    )*};
}

for_each_check!(on_a_file_db);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_database_passes_the_same_checks() {
    let store = keywarden_store::open("sqlite::memory:").await.unwrap();
    // All checks on one database: each keeps to its own accounts, so they do not interfere.
    check_meta(store.as_ref()).await;
    check_round_trip_is_exact(store.as_ref()).await;
    check_duplicate_email_conflicts(store.as_ref()).await;
    check_one_active_standard_key_per_mode(store.as_ref()).await;
    check_rotate(store.as_ref()).await;
    check_concurrent_rotations_leave_one_successor(store.as_ref()).await;
    check_revoke(store.as_ref()).await;
    check_change_feed(store.as_ref()).await;
    check_last_used(store.as_ref()).await;
    check_listing(store.as_ref()).await;
    check_failed_audit_event_rolls_back(store.as_ref()).await;
    check_key_pages(store.as_ref()).await;
    check_key_status_filters(store.as_ref()).await;
    check_key_search(store.as_ref()).await;
    check_key_orders(store.as_ref()).await;
    check_update_key(store.as_ref()).await;
    check_users_and_roles(store.as_ref()).await;
    check_update_account(store.as_ref()).await;
    check_delete_user(store.as_ref()).await;
    check_concurrent_admin_changes(store.as_ref()).await;
    check_totp(store.as_ref()).await;
    check_recovery_codes(store.as_ref()).await;
    check_disable_totp(store.as_ref()).await;
    check_replace_recovery_codes(store.as_ref()).await;
    check_audit_queries(store.as_ref()).await;
    check_console_writes_roll_back_on_failed_event(store.as_ref()).await;
    check_times_keep_microseconds(store.as_ref()).await;
    check_outbox_rows_commit_with_their_change(store.as_ref()).await;
    check_keys_by_digest_cross_accounts(store.as_ref()).await;
    check_record_leak(store.as_ref()).await;
    check_canary_trips(store.as_ref()).await;
    check_dispatch_fans_out_once(store.as_ref()).await;
    check_claims_leases_and_attempt_results(store.as_ref()).await;
    check_attempt_log_pages_and_stays_in_its_account(store.as_ref()).await;
    check_retry_delivery(store.as_ref()).await;
    check_endpoint_changes(store.as_ref()).await;
    check_deleting_an_endpoint_takes_its_deliveries(store.as_ref()).await;
    check_reminders_are_recorded_once(store.as_ref()).await;

    // Each memory URL is a database of its own.
    let other = keywarden_store::open("sqlite::memory:").await.unwrap();
    assert_eq!(other.key_count().await.unwrap(), 0);
    assert!(store.key_count().await.unwrap() > 0);
}

#[tokio::test]
async fn a_file_db_runs_in_wal_with_synchronous_full() {
    let db = FileDb::new().await;
    let settings = db.store.settings().await.unwrap();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, 2, "FULL");
    assert!(settings.foreign_keys);
    assert!(
        FileDb::db_path(&db.dir).is_file(),
        "file and directory were created"
    );

    let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let settings = memory.settings().await.unwrap();
    assert_eq!(settings.journal_mode, "memory");
    assert!(settings.foreign_keys);
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let db = FileDb::new().await;
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(db.dir.path().join("data")), 0o700);
    assert_eq!(mode(FileDb::db_path(&db.dir)), 0o600);
}

#[tokio::test]
async fn the_database_file_holds_no_plain_secret() {
    let db = FileDb::new().await;
    let hasher = KeyHasher::new(&ServerSecret::from_text(&"not-a-real-secret-".repeat(4)).unwrap());
    let (account, admin) = seed(&db.store, "A").await;
    let mut secrets = Vec::new();
    let mut digests = Vec::new();
    for (kind, mode) in [
        (KeyKind::Standard, Mode::Live),
        (KeyKind::Restricted, Mode::Test),
    ] {
        let secret = key_format::generate(kind, mode, &OsRandom).unwrap();
        let record = KeyRecord {
            hint: secret.hint(),
            digest: hasher.digest(secret.expose()),
            created_by: Some(admin.id),
            ..key(account.id, kind, mode, at(1))
        };
        digests.push(record.digest);
        issue(&db.store, record.clone()).await;
        db.store
            .record_last_used(&[(record.id, at(2))])
            .await
            .unwrap();
        secrets.push(secret.expose().to_owned());
    }

    let files = db.raw_bytes();
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().ends_with("-wal"))
    );
    for secret in &secrets {
        // The whole key, and the 30 characters the hint does not show.
        for needle in [secret.as_str(), &secret[12..42]] {
            for (path, bytes) in &files {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} contains a secret",
                    path.display()
                );
            }
        }
    }
    // The files read are the ones written: the digests are in them.
    for d in digests {
        assert!(
            files
                .iter()
                .any(|(_, bytes)| bytes.windows(32).any(|w| w == d.0))
        );
    }
}

#[tokio::test]
async fn data_survives_a_reopen() {
    let db = FileDb::new().await;
    let (a, admin) = seed(&db.store, "A").await;
    let k = issue(&db.store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    db.store.set_secret_fingerprint("abc").await.unwrap();
    db.store.close().await;

    let again = keywarden_store::open(&db.url).await.unwrap();
    assert_eq!(again.account(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(again.user(admin.id).await.unwrap(), Some(admin));
    assert_eq!(again.key(a.id, k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(
        again.secret_fingerprint().await.unwrap().as_deref(),
        Some("abc")
    );
    // The counter carries on where it was.
    let next = issue(
        again.as_ref(),
        key(a.id, KeyKind::Standard, Mode::Live, at(2)),
    )
    .await;
    assert!(next.change_seq > k.change_seq);
}

#[tokio::test]
async fn open_dispatches_on_the_scheme_and_never_repeats_the_url() {
    let store = keywarden_store::open("sqlite::memory:").await.unwrap();
    store.ping().await.unwrap();

    // A PostgreSQL URL goes to the PostgreSQL backend (here: refused for its port number).
    for url in [
        "postgres://u:hunter2@db:port/kw",
        "postgresql://u:hunter2@db:99999/kw",
    ] {
        let Err(StoreError::Other(text)) = keywarden_store::open(url).await else {
            panic!("{url} should be refused")
        };
        assert!(text.contains("PostgreSQL"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    for url in ["sqlite://", "SQLITE://x.db"] {
        let Err(StoreError::Other(text)) = keywarden_store::open(url).await else {
            panic!("{url} should be refused")
        };
        assert!(
            text.contains("sqlite://keywarden-data/keywarden.db"),
            "{text}"
        );
    }
    for url in ["mysql://u:hunter2@db/kw", "hunter2", "", "keywarden.db"] {
        let Err(StoreError::Other(text)) = keywarden_store::open(url).await else {
            panic!("{url} should be refused")
        };
        assert!(
            text.contains("sqlite://") && text.contains("postgres"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Running the checks on PostgreSQL, and what only PostgreSQL has

#[path = "store/postgres.rs"]
mod postgres;
