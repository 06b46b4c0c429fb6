//! The console API's storage operations (key pages and updates, users and the last-admin
//! rule, account policy, TOTP and recovery codes, audit queries), checked against `&dyn Store`
//! like the rest of this test binary. Fixtures come from `store.rs`.

use super::*;
use keywarden_core::key_policy::{KeyPolicy, PolicyChanges};
use keywarden_core::key_record::KeyStatus;
use keywarden_core::store::{
    AuditQuery, KeyPosition, KeyQuery, KeyUpdate, SecondFactorProof, SortValue, TotpEnrolment,
};

/// A user added to an account with its event, created at `created` (so "oldest first" is
/// defined).
async fn add_user(
    store: &dyn Store,
    account: &Account,
    email: &str,
    role: Role,
    created: OffsetDateTime,
) -> User {
    let u = User {
        id: UserId::new_at(created),
        created_at: created,
        ..user(account, email, role)
    };
    store
        .insert_user(&u, &event(account.id, Action::UserCreated, None, created))
        .await
        .unwrap();
    u
}

/// A restricted key with this label, not yet stored.
fn restricted(account: AccountId, label: &str, created: OffsetDateTime) -> KeyRecord {
    KeyRecord {
        label: label.into(),
        ..key(account, KeyKind::Restricted, Mode::Test, created)
    }
}

/// An event done by `user`.
fn by(user: &User, e: AuditEvent) -> AuditEvent {
    AuditEvent {
        actor: Actor {
            user_id: Some(user.id),
            label: user.email.clone(),
            ip: Some("192.0.2.7".into()),
            user_agent: Some("console".into()),
        },
        ..e
    }
}

/// An event that cannot be written: it reuses the id of the account's newest event.
async fn clashing(store: &dyn Store, account: AccountId, action: Action) -> AuditEvent {
    let existing = store.audit_events(account, 1).await.unwrap().remove(0);
    AuditEvent { action, ..existing }
}

fn page_query(limit: u32) -> KeyQuery {
    KeyQuery {
        limit,
        ..KeyQuery::default()
    }
}

async fn listed(
    store: &dyn Store,
    account: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
) -> Vec<KeyId> {
    let keys = store.list_keys(account, query, now).await.unwrap();
    assert!(keys.iter().all(|k| k.account_id == account));
    keys.into_iter().map(|k| k.id).collect()
}

/// The cursor after `id` in the default order, newest first.
fn after_id(id: KeyId) -> Option<KeyPosition> {
    Some(KeyPosition {
        value: SortValue::Id,
        id,
    })
}

fn newest_first(mut ids: Vec<KeyId>) -> Vec<KeyId> {
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

async fn all_events(store: &dyn Store, account: AccountId) -> Vec<AuditEvent> {
    store.audit_events(account, u32::MAX).await.unwrap()
}

/// Exactly one of the results is `Ok`; the other is the conflict `rule`. Returns whether the
/// first one won.
fn one_winner<T: std::fmt::Debug, U: std::fmt::Debug>(
    first: Result<T, StoreError>,
    second: Result<U, StoreError>,
    rule: &str,
) -> bool {
    match (first, second) {
        (Ok(_), Err(StoreError::Conflict(text))) if text == rule => true,
        (Err(StoreError::Conflict(text)), Ok(_)) if text == rule => false,
        other => panic!("expected one Ok and one Conflict({rule}), got {other:?}"),
    }
}

pub(crate) async fn check_key_pages(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let mode = if i % 2 == 0 { Mode::Test } else { Mode::Live };
        let k = KeyRecord {
            mode,
            ..restricted(a.id, &format!("key {i}"), at(i))
        };
        ids.push(issue(store, k).await.id);
        // Another account's keys interleave, and never show.
        issue(store, restricted(b.id, "b", at(i))).await;
    }
    let ids = newest_first(ids);

    let mut seen = Vec::new();
    let mut query = page_query(10);
    for expected in [10, 10, 5, 0] {
        let page = listed(store, a.id, &query, at(100)).await;
        assert_eq!(page.len(), expected, "pages of 10, 10, 5, then nothing");
        if let Some(last) = page.last() {
            query.after = after_id(*last);
        }
        seen.extend(page);
    }
    assert_eq!(seen, ids, "every key once, newest first, no overlap");

    // One page holding everything; a page after the oldest key is empty.
    assert_eq!(
        listed(store, a.id, &page_query(u32::MAX), at(100)).await,
        ids
    );
    let after_oldest = KeyQuery {
        after: ids.last().copied().and_then(after_id),
        ..page_query(10)
    };
    assert!(listed(store, a.id, &after_oldest, at(100)).await.is_empty());

    // The cursor combines with a filter (here the mode: the odd keys are live).
    let live: Vec<KeyId> = store
        .list_keys(a.id, &page_query(100), at(100))
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.mode == Mode::Live)
        .map(|k| k.id)
        .collect();
    assert_eq!(live.len(), 12);
    let live_query = |before: Option<KeyId>| KeyQuery {
        mode: Some(Mode::Live),
        after: before.and_then(after_id),
        ..page_query(4)
    };
    let first = listed(store, a.id, &live_query(None), at(100)).await;
    assert_eq!(first, live[..4].to_vec());
    let second = listed(store, a.id, &live_query(first.last().copied()), at(100)).await;
    assert_eq!(second, live[4..8].to_vec());
    let kinds = KeyQuery {
        kind: Some(KeyKind::Standard),
        ..page_query(100)
    };
    assert!(listed(store, a.id, &kinds, at(100)).await.is_empty());
}

pub(crate) async fn check_key_status_filters(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let now = at(1000);
    let with =
        |label: &str, i: i64, f: &dyn Fn(KeyRecord) -> KeyRecord| f(restricted(a.id, label, at(i)));
    let mut keys = vec![
        with("no expiry", 1, &|k| k),
        with("expires later", 2, &|k| KeyRecord {
            expires_at: Some(now + Duration::days(1)),
            ..k
        }),
        with("expires a microsecond after now", 3, &|k| KeyRecord {
            expires_at: Some(now + Duration::microseconds(1)),
            ..k
        }),
        with("expires exactly now", 4, &|k| KeyRecord {
            expires_at: Some(now),
            ..k
        }),
        with("expired yesterday", 5, &|k| KeyRecord {
            expires_at: Some(now - Duration::days(1)),
            ..k
        }),
        with("revoked", 6, &|k| KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(at(7)),
            expires_at: Some(now + Duration::days(1)),
            ..k
        }),
        with("revoked and expired", 7, &|k| KeyRecord {
            lifecycle: Lifecycle::Revoked,
            revoked_at: Some(at(8)),
            expires_at: Some(now - Duration::days(1)),
            ..k
        }),
        with("rotated, in its grace", 8, &|k| KeyRecord {
            lifecycle: Lifecycle::Rotated,
            rotated_at: Some(at(9)),
            grace_until: Some(now + Duration::hours(1)),
            ..k
        }),
        with("rotated, past its grace and expiry", 9, &|k| KeyRecord {
            lifecycle: Lifecycle::Rotated,
            rotated_at: Some(at(9)),
            grace_until: Some(at(10)),
            expires_at: Some(now - Duration::days(1)),
            ..k
        }),
    ];
    keys.push(KeyRecord {
        mode: Mode::Live,
        ..with("live, expired", 10, &|k| KeyRecord {
            expires_at: Some(now - Duration::seconds(1)),
            ..k
        })
    });
    for k in &keys {
        issue(store, k.clone()).await;
    }
    // Another account's keys in every state never show.
    for k in &keys {
        issue(
            store,
            KeyRecord {
                id: KeyId::new_at(k.created_at),
                account_id: b.id,
                digest: digest(),
                ..k.clone()
            },
        )
        .await;
    }

    let expect = |status: KeyStatus| {
        newest_first(
            keys.iter()
                .filter(|k| k.status_at(now) == status)
                .map(|k| k.id)
                .collect(),
        )
    };
    let counts = [
        (KeyStatus::Active, 3),
        (KeyStatus::Expired, 3),
        (KeyStatus::Revoked, 2),
        (KeyStatus::Rotated, 2),
    ];
    for (status, count) in counts {
        let query = KeyQuery {
            status: Some(status),
            ..page_query(100)
        };
        let got = listed(store, a.id, &query, now).await;
        assert_eq!(got, expect(status), "{status:?}");
        assert_eq!(got.len(), count, "{status:?}");
    }
    let all = listed(store, a.id, &page_query(100), now).await;
    assert_eq!(all, newest_first(keys.iter().map(|k| k.id).collect()));

    // The status is computed at the `now` passed: a minute earlier, two of them were active.
    let earlier = KeyQuery {
        status: Some(KeyStatus::Active),
        ..page_query(100)
    };
    assert_eq!(
        listed(store, a.id, &earlier, now - Duration::minutes(1))
            .await
            .len(),
        5
    );
    // Combined with the mode, and with a limit.
    let live_expired = KeyQuery {
        status: Some(KeyStatus::Expired),
        mode: Some(Mode::Live),
        ..page_query(100)
    };
    assert_eq!(
        listed(store, a.id, &live_expired, now).await,
        vec![keys[9].id]
    );
    let one = KeyQuery {
        status: Some(KeyStatus::Expired),
        ..page_query(1)
    };
    assert_eq!(
        listed(store, a.id, &one, now).await,
        expect(KeyStatus::Expired)[..1].to_vec()
    );
}

pub(crate) async fn check_key_search(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let labels = [
        "Payroll Export",
        "nightly PAYROLL sync",
        "100% coverage",
        "v2.0 rollout",
        "snake_case key",
        "one cat",
        r"back\slash",
        "Überweisung",
    ];
    let mut ids = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let k = issue(store, restricted(a.id, label, at(i as i64))).await;
        ids.push(k.id);
    }
    let hinted = issue(
        store,
        KeyRecord {
            hint: "rk_test_Q7pZ…9KmX".into(),
            ..restricted(a.id, "hinted", at(20))
        },
    )
    .await;
    issue(store, restricted(b.id, "Payroll Export", at(21))).await;

    let search = |text: &str| KeyQuery {
        search: Some(text.into()),
        ..page_query(100)
    };
    let cases: [(&str, Vec<KeyId>); 10] = [
        ("payroll", vec![ids[1], ids[0]]),
        ("PAYROLL EXPORT", vec![ids[0]]),
        // Wildcards are plain characters: "0%" is not "0 followed by anything".
        ("0%", vec![ids[2]]),
        ("%", vec![ids[2]]),
        // "_" is not "any one character": "e_c" does not match "one cat".
        ("e_c", vec![ids[4]]),
        ("_case", vec![ids[4]]),
        (r"\s", vec![ids[6]]),
        // Letters outside ASCII at least match themselves (SQLite folds only ASCII case).
        ("Über", vec![ids[7]]),
        // The hint counts too, case-insensitively.
        ("q7pz…9kmx", vec![hinted.id]),
        ("no such thing", vec![]),
    ];
    for (text, expected) in cases {
        assert_eq!(
            listed(store, a.id, &search(text), at(100)).await,
            expected,
            "search {text:?}"
        );
    }
    // Every key here has a hint with "_": all of them, the newest first, paged.
    let underscore = KeyQuery {
        search: Some("_".into()),
        ..page_query(4)
    };
    let first = listed(store, a.id, &underscore, at(100)).await;
    assert_eq!(first.len(), 4);
    let second = KeyQuery {
        after: first.last().copied().and_then(after_id),
        ..underscore.clone()
    };
    let second = listed(store, a.id, &second, at(100)).await;
    let mut all = ids.clone();
    all.push(hinted.id);
    let all = newest_first(all);
    assert_eq!([first, second].concat(), all[..8].to_vec());
    // An empty search matches everything.
    assert_eq!(listed(store, a.id, &search(""), at(100)).await, all);
    // Another account's key with the same label stays there.
    assert_eq!(
        listed(store, b.id, &search("payroll"), at(100)).await.len(),
        1
    );
}

pub(crate) async fn check_update_key(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let k = issue(
        store,
        KeyRecord {
            scopes: vec!["payroll:read".into()],
            ..restricted(a.id, "before", at(1))
        },
    )
    .await;
    let other = issue(store, restricted(a.id, "untouched", at(2))).await;

    // Label only.
    let before = max_seq(store).await;
    let e1 = by(&admin, event(a.id, Action::KeyUpdated, Some(k.id), at(10)));
    let update = KeyUpdate {
        label: Some("after".into()),
        ..KeyUpdate::default()
    };
    let updated = store.update_key(a.id, k.id, &update, &e1).await.unwrap();
    assert_eq!(
        updated,
        KeyRecord {
            label: "after".into(),
            change_seq: updated.change_seq,
            ..k.clone()
        }
    );
    assert!(updated.change_seq > before, "change_seq bumped");
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(
        store.keys_changed_since(before, 100).await.unwrap(),
        vec![updated.clone()],
        "the change feed carries the update, and only it"
    );
    assert_eq!(all_events(store, a.id).await[0], e1);

    // Scopes and an expiry, then removing the expiry.
    let expiry = at(5000);
    let update = KeyUpdate {
        scopes: Some(vec!["payroll:write".into(), "asset:read".into()]),
        expires_at: Some(Some(expiry)),
        ..KeyUpdate::default()
    };
    let e2 = event(a.id, Action::KeyUpdated, Some(k.id), at(11));
    let second = store.update_key(a.id, k.id, &update, &e2).await.unwrap();
    assert_eq!(second.label, "after");
    assert_eq!(second.scopes, vec!["payroll:write", "asset:read"]);
    assert_eq!(second.expires_at, Some(expiry));
    assert!(second.change_seq > updated.change_seq);
    let update = KeyUpdate {
        expires_at: Some(None),
        ..KeyUpdate::default()
    };
    let e3 = event(a.id, Action::KeyUpdated, Some(k.id), at(12));
    let third = store.update_key(a.id, k.id, &update, &e3).await.unwrap();
    assert_eq!(third.expires_at, None);
    assert_eq!(third.scopes, second.scopes);
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(third.clone()));
    assert_eq!(
        store.key(a.id, other.id).await.unwrap(),
        Some(other.clone()),
        "only the one key changed"
    );

    // A policy: stored whole, kept by a change of label, carried by both feeds, removed by the
    // empty policy.
    let mut metadata = serde_json::Map::new();
    metadata.insert("zeta".into(), serde_json::json!(1));
    metadata.insert("alpha".into(), serde_json::json!({"é": [true, null]}));
    let policy = PolicyChanges {
        allowed_ips: Some(Some(vec!["10.0.0.0/8".into(), "2001:db8::1".into()])),
        rate_limit: Some(Some((100, 60))),
        usage_limit: Some(Some((5_000, "month".into()))),
        metadata: Some(Some(metadata)),
    }
    .apply(&KeyPolicy::default())
    .unwrap();
    let before = max_seq(store).await;
    let update = KeyUpdate {
        policy: Some(policy.clone()),
        ..KeyUpdate::default()
    };
    let e4 = event(a.id, Action::KeyUpdated, Some(k.id), at(12));
    let fourth = store.update_key(a.id, k.id, &update, &e4).await.unwrap();
    assert_eq!(fourth.policy, policy);
    assert_eq!(
        serde_json::to_string(fourth.policy.metadata.as_ref().unwrap()).unwrap(),
        r#"{"zeta":1,"alpha":{"é":[true,null]}}"#,
        "the customer's fields keep their order"
    );
    let rows = store.key_table_since(before, i64::MAX, 100).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].policy, policy, "the narrow feed carries the policy");
    let relabelled = store
        .update_key(
            a.id,
            k.id,
            &KeyUpdate {
                label: Some("relabelled".into()),
                ..KeyUpdate::default()
            },
            &event(a.id, Action::KeyUpdated, Some(k.id), at(12)),
        )
        .await
        .unwrap();
    assert_eq!(relabelled.policy, policy, "a label change keeps the policy");
    let cleared = store
        .update_key(
            a.id,
            k.id,
            &KeyUpdate {
                policy: Some(KeyPolicy::default()),
                label: Some("after".into()),
                ..KeyUpdate::default()
            },
            &event(a.id, Action::KeyUpdated, Some(k.id), at(12)),
        )
        .await
        .unwrap();
    assert!(cleared.policy.is_empty());
    let third = cleared;

    // Another account's key, and a missing key: NotFound, nothing changes or is spent.
    let seq = max_seq(store).await;
    let relabel = KeyUpdate {
        label: Some("hijacked".into()),
        ..KeyUpdate::default()
    };
    let foreign = event(b.id, Action::KeyUpdated, Some(k.id), at(13));
    assert_not_found(store.update_key(b.id, k.id, &relabel, &foreign).await);
    let missing = KeyId::new_at(at(13));
    assert_not_found(
        store
            .update_key(
                a.id,
                missing,
                &relabel,
                &event(a.id, Action::KeyUpdated, None, at(13)),
            )
            .await,
    );
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(third.clone()));
    assert!(!all_events(store, b.id).await.contains(&foreign));
    assert_eq!(max_seq(store).await, seq);

    // A revoked key cannot be changed.
    store
        .revoke_key(
            a.id,
            k.id,
            at(14),
            &event(a.id, Action::KeyRevoked, Some(k.id), at(14)),
        )
        .await
        .unwrap();
    let revoked = store.key(a.id, k.id).await.unwrap().unwrap();
    let seq = max_seq(store).await;
    let refused = event(a.id, Action::KeyUpdated, Some(k.id), at(15));
    assert_conflict(
        store.update_key(a.id, k.id, &relabel, &refused).await,
        "revoked",
    );
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(revoked));
    assert_eq!(max_seq(store).await, seq, "no change_seq was spent");
    assert!(!all_events(store, a.id).await.contains(&refused));

    // A rotated key (still in its grace) can be: only revocation is final.
    let old = issue(store, key(a.id, KeyKind::Standard, Mode::Live, at(20))).await;
    let new = successor(&old, at(21));
    store
        .rotate_key(
            &Rotation {
                old_key: old.id,
                account_id: a.id,
                at: at(21),
                old_grace_until: at(21) + Duration::hours(1),
                new_key: &new,
            },
            &event(a.id, Action::KeyRotated, Some(old.id), at(21)),
        )
        .await
        .unwrap();
    let renamed = store
        .update_key(
            a.id,
            old.id,
            &relabel,
            &event(a.id, Action::KeyUpdated, Some(old.id), at(22)),
        )
        .await
        .unwrap();
    assert_eq!(renamed.lifecycle, Lifecycle::Rotated);
    assert_eq!(renamed.label, "hijacked");
}

pub(crate) async fn check_users_and_roles(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let (b, b_admin) = seed(store, "B").await;
    let dev = add_user(
        store,
        &a,
        &format!("dev-{}@example.com", a.id),
        Role::Developer,
        at(1),
    )
    .await;
    let member = add_user(
        store,
        &a,
        &format!("member-{}@example.com", a.id),
        Role::Member,
        at(2),
    )
    .await;
    assert_eq!(
        store.users_of_account(a.id).await.unwrap(),
        vec![admin.clone(), dev.clone(), member.clone()],
        "oldest first"
    );
    assert_eq!(
        store.users_of_account(b.id).await.unwrap(),
        vec![b_admin.clone()]
    );
    assert!(
        store
            .users_of_account(AccountId::new_at(at(0)))
            .await
            .unwrap()
            .is_empty()
    );

    // Promote the developer: a new role and a new session version.
    let e = by(&admin, event(a.id, Action::UserRoleChanged, None, at(10)));
    let promoted = store
        .update_user_role(a.id, dev.id, Role::Admin, &e)
        .await
        .unwrap();
    assert_eq!(
        promoted,
        User {
            role: Role::Admin,
            session_version: dev.session_version + 1,
            ..dev.clone()
        }
    );
    assert_eq!(store.user(dev.id).await.unwrap(), Some(promoted.clone()));
    assert_eq!(all_events(store, a.id).await[0], e);

    // Two admins: one may step down; then the other is the last one and may not.
    let demoted = store
        .update_user_role(
            a.id,
            admin.id,
            Role::Member,
            &event(a.id, Action::UserRoleChanged, None, at(11)),
        )
        .await
        .unwrap();
    assert_eq!(demoted.role, Role::Member);
    assert_eq!(demoted.session_version, admin.session_version + 1);
    let refused = event(a.id, Action::UserRoleChanged, None, at(12));
    for role in [Role::Developer, Role::Member] {
        let result = store.update_user_role(a.id, dev.id, role, &refused).await;
        assert!(
            matches!(&result, Err(StoreError::Conflict(rule)) if rule == "last_admin"),
            "{result:?}"
        );
    }
    assert_eq!(store.user(dev.id).await.unwrap(), Some(promoted.clone()));
    assert!(!all_events(store, a.id).await.contains(&refused));
    // Staying an admin is not a demotion (and still ends the sessions).
    let same = store
        .update_user_role(
            a.id,
            dev.id,
            Role::Admin,
            &event(a.id, Action::UserRoleChanged, None, at(13)),
        )
        .await
        .unwrap();
    assert_eq!(same.role, Role::Admin);
    assert_eq!(same.session_version, promoted.session_version + 1);

    // Another account's user, or no user: NotFound and unchanged.
    let foreign = event(b.id, Action::UserRoleChanged, None, at(14));
    assert_not_found(
        store
            .update_user_role(b.id, member.id, Role::Admin, &foreign)
            .await,
    );
    assert_not_found(
        store
            .update_user_role(a.id, b_admin.id, Role::Member, &foreign)
            .await,
    );
    assert_not_found(
        store
            .update_user_role(a.id, UserId::new_at(at(14)), Role::Admin, &foreign)
            .await,
    );
    assert_eq!(store.user(member.id).await.unwrap(), Some(member));
    assert_eq!(store.user(b_admin.id).await.unwrap(), Some(b_admin));
    assert!(!all_events(store, b.id).await.contains(&foreign));
}

pub(crate) async fn check_update_account(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let policy = Account {
        require_2fa_for_keys: true,
        rotation_period_days: 30,
        ..a.clone()
    };
    let e = event(a.id, Action::AccountUpdated, None, at(5));
    store.update_account(&policy, &e).await.unwrap();
    assert_eq!(store.account(a.id).await.unwrap(), Some(policy.clone()));
    assert_eq!(all_events(store, a.id).await[0], e);
    assert_eq!(
        store.account(b.id).await.unwrap(),
        Some(b.clone()),
        "untouched"
    );

    // Each part of the key policy is written, and set back to the defaults.
    for key_policy in [
        AccountKeyPolicy {
            max_key_lifetime_days: Some(1),
            require_expiry_for_live: true,
            require_ip_allowlist_for_live: false,
            leak_action: LeakAction::Notify,
        },
        AccountKeyPolicy {
            max_key_lifetime_days: Some(u32::MAX),
            require_expiry_for_live: false,
            require_ip_allowlist_for_live: true,
            leak_action: LeakAction::Revoke,
        },
        AccountKeyPolicy::default(),
    ] {
        let changed = Account {
            key_policy,
            ..policy.clone()
        };
        let e = event(a.id, Action::AccountUpdated, None, at(5));
        store.update_account(&changed, &e).await.unwrap();
        assert_eq!(store.account(a.id).await.unwrap(), Some(changed));
    }
    assert_eq!(
        store.account(b.id).await.unwrap(),
        Some(b.clone()),
        "untouched"
    );

    // The policy only: the name is not the console's to change.
    let renamed = Account {
        name: "Renamed".into(),
        rotation_period_days: 0,
        ..policy.clone()
    };
    store
        .update_account(&renamed, &event(a.id, Action::AccountUpdated, None, at(6)))
        .await
        .unwrap();
    let read = store.account(a.id).await.unwrap().unwrap();
    assert_eq!(read.name, a.name);
    assert_eq!(read.rotation_period_days, 0);

    let ghost = account("Ghost");
    let e = event(a.id, Action::AccountUpdated, None, at(7));
    assert_not_found(store.update_account(&ghost, &e).await);
    assert_eq!(store.account(ghost.id).await.unwrap(), None);
    assert!(!all_events(store, a.id).await.contains(&e));
}

pub(crate) async fn check_delete_user(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let (b, b_admin) = seed(store, "B").await;
    let dev = add_user(
        store,
        &a,
        &format!("dev-{}@example.com", a.id),
        Role::Developer,
        at(1),
    )
    .await;

    // The developer issues keys, acts, and enrols in 2FA.
    let mut keys = Vec::new();
    for i in 0..3 {
        let k = KeyRecord {
            created_by: Some(dev.id),
            ..restricted(a.id, &format!("dev key {i}"), at(10 + i))
        };
        let e = by(
            &dev,
            event(a.id, Action::KeyCreated, Some(k.id), at(10 + i)),
        );
        store
            .insert_keys(std::slice::from_ref(&k), &[e])
            .await
            .unwrap();
        keys.push(store.key(a.id, k.id).await.unwrap().unwrap());
    }
    let sign_in = by(&dev, event(a.id, Action::SignIn, None, at(20)));
    store.insert_event(&sign_in).await.unwrap();
    store
        .begin_totp(
            dev.id,
            b"sealed",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(21)),
        )
        .await
        .unwrap();
    store
        .confirm_totp(
            dev.id,
            7,
            &["h1".into(), "h2".into()],
            &event(a.id, Action::TwoFactorEnabled, None, at(22)),
        )
        .await
        .unwrap();
    let seq = max_seq(store).await;

    // Another account cannot remove them.
    let foreign = event(b.id, Action::UserRemoved, None, at(30));
    assert_not_found(store.delete_user(b.id, dev.id, &foreign).await);
    assert!(store.user(dev.id).await.unwrap().is_some());
    assert!(!all_events(store, b.id).await.contains(&foreign));

    let removed = by(&admin, event(a.id, Action::UserRemoved, None, at(31)));
    store.delete_user(a.id, dev.id, &removed).await.unwrap();
    assert_eq!(store.user(dev.id).await.unwrap(), None, "sessions end");
    assert_eq!(store.user_by_email(&dev.email).await.unwrap(), None);
    assert_eq!(
        store.users_of_account(a.id).await.unwrap(),
        vec![admin.clone()]
    );
    assert_eq!(
        store.totp(dev.id).await.unwrap(),
        None,
        "2FA went with them"
    );
    assert!(
        !store
            .consume_recovery_code(
                dev.id,
                "h1",
                &event(a.id, Action::RecoveryCodeUsed, None, at(32))
            )
            .await
            .unwrap()
    );

    // Their keys stay, still saying who created them, and unchanged (no key change).
    let listed_keys = store
        .list_keys(a.id, &page_query(100), at(40))
        .await
        .unwrap();
    for k in &keys {
        assert!(listed_keys.contains(k), "{k:?} is still listed as it was");
        assert_eq!(k.created_by, Some(dev.id));
    }
    assert_eq!(max_seq(store).await, seq);
    // And so does what they did.
    let theirs = AuditQuery {
        actor: Some(dev.id),
        limit: 100,
        ..AuditQuery::default()
    };
    let events = store.query_audit_events(a.id, &theirs).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0], sign_in);
    assert_eq!(all_events(store, a.id).await[0], removed);

    // Gone is gone; the email is free again.
    assert_not_found(
        store
            .delete_user(
                a.id,
                dev.id,
                &event(a.id, Action::UserRemoved, None, at(33)),
            )
            .await,
    );
    let again = add_user(store, &a, &dev.email, Role::Member, at(34)).await;
    assert_eq!(
        store.user_by_email(&dev.email).await.unwrap(),
        Some(again.clone())
    );

    // The last admin cannot be removed; another account's admin is not found.
    let refused = event(a.id, Action::UserRemoved, None, at(35));
    let result = store.delete_user(a.id, admin.id, &refused).await;
    assert!(
        matches!(&result, Err(StoreError::Conflict(rule)) if rule == "last_admin"),
        "{result:?}"
    );
    assert_eq!(store.user(admin.id).await.unwrap(), Some(admin.clone()));
    assert!(!all_events(store, a.id).await.contains(&refused));
    assert_not_found(store.delete_user(a.id, b_admin.id, &refused).await);
    assert_eq!(store.user(b_admin.id).await.unwrap(), Some(b_admin));
    // A member can go.
    store
        .delete_user(
            a.id,
            again.id,
            &event(a.id, Action::UserRemoved, None, at(36)),
        )
        .await
        .unwrap();
}

pub(crate) async fn check_concurrent_admin_changes(store: &dyn Store) {
    for round in 0..4_i64 {
        let (a, first) = seed(store, &format!("Race {round}")).await;
        let second = add_user(
            store,
            &a,
            &format!("second-{}@example.com", a.id),
            Role::Admin,
            at(1),
        )
        .await;
        // Each demotes (or removes) the other at the same moment.
        let e1 = by(&first, event(a.id, Action::UserRoleChanged, None, at(10)));
        let e2 = by(&second, event(a.id, Action::UserRoleChanged, None, at(10)));
        let first_won = match round {
            0 | 1 => {
                let (r1, r2) = tokio::join!(
                    store.update_user_role(a.id, second.id, Role::Developer, &e1),
                    store.update_user_role(a.id, first.id, Role::Member, &e2),
                );
                one_winner(r1, r2, "last_admin")
            }
            2 => {
                let (r1, r2) = tokio::join!(
                    store.delete_user(a.id, second.id, &e1),
                    store.delete_user(a.id, first.id, &e2),
                );
                one_winner(r1, r2, "last_admin")
            }
            _ => {
                let (r1, r2) = tokio::join!(
                    store.delete_user(a.id, second.id, &e1),
                    store.update_user_role(a.id, first.id, Role::Member, &e2),
                );
                one_winner(r1, r2, "last_admin")
            }
        };
        let admins: Vec<UserId> = store
            .users_of_account(a.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin)
            .map(|u| u.id)
            .collect();
        let (survivor, winner_event, loser_event) = if first_won {
            (first.id, &e1, &e2)
        } else {
            (second.id, &e2, &e1)
        };
        assert_eq!(
            admins,
            vec![survivor],
            "round {round}: exactly one admin left"
        );
        let events = all_events(store, a.id).await;
        assert!(events.contains(winner_event));
        assert!(!events.contains(loser_event));
    }
}

pub(crate) async fn check_totp(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let other = add_user(
        store,
        &a,
        &format!("other-{}@example.com", a.id),
        Role::Member,
        at(1),
    )
    .await;
    assert_eq!(store.totp(admin.id).await.unwrap(), None);
    assert!(
        !store.claim_totp_step(admin.id, 1).await.unwrap(),
        "no enrolment"
    );
    assert_conflict(
        store
            .confirm_totp(
                admin.id,
                1,
                &[],
                &event(a.id, Action::TwoFactorEnabled, None, at(2)),
            )
            .await,
        "",
    );

    // Begin, begin again (a new seed replaces the unconfirmed one), confirm.
    let started = event(a.id, Action::TwoFactorSetupStarted, None, at(3));
    store
        .begin_totp(admin.id, b"seed one", &started)
        .await
        .unwrap();
    assert_eq!(
        store.totp(admin.id).await.unwrap(),
        Some(TotpEnrolment {
            encrypted_seed: b"seed one".to_vec(),
            confirmed: false,
            last_step: None,
        })
    );
    assert_eq!(all_events(store, a.id).await[0], started);
    store
        .begin_totp(
            admin.id,
            b"seed two",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(4)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.totp(admin.id).await.unwrap().unwrap().encrypted_seed,
        b"seed two"
    );
    assert!(
        !store
            .user(admin.id)
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled
    );

    let enabled = event(a.id, Action::TwoFactorEnabled, None, at(5));
    store
        .confirm_totp(admin.id, 100, &["c1".into(), "c2".into()], &enabled)
        .await
        .unwrap();
    assert_eq!(
        store.totp(admin.id).await.unwrap(),
        Some(TotpEnrolment {
            encrypted_seed: b"seed two".to_vec(),
            confirmed: true,
            last_step: Some(100),
        })
    );
    let read = store.user(admin.id).await.unwrap().unwrap();
    assert!(read.two_factor_enabled);
    assert_eq!(read.session_version, admin.session_version);
    assert_eq!(all_events(store, a.id).await[0], enabled);

    // Confirmed: neither a second confirmation nor a new setup.
    let late = event(a.id, Action::TwoFactorSetupStarted, None, at(6));
    assert_conflict(store.begin_totp(admin.id, b"seed three", &late).await, "");
    assert_conflict(
        store
            .confirm_totp(admin.id, 101, &["c3".into()], &late)
            .await,
        "",
    );
    assert_eq!(
        store.totp(admin.id).await.unwrap().unwrap().encrypted_seed,
        b"seed two"
    );
    assert!(!all_events(store, a.id).await.contains(&late));

    // A code works once: the confirming step, an earlier one and a replay all fail.
    assert!(
        !store.claim_totp_step(admin.id, 100).await.unwrap(),
        "used to confirm"
    );
    assert!(
        !store.claim_totp_step(admin.id, 99).await.unwrap(),
        "earlier"
    );
    assert!(store.claim_totp_step(admin.id, 101).await.unwrap(), "later");
    assert!(
        !store.claim_totp_step(admin.id, 101).await.unwrap(),
        "replay"
    );
    assert!(
        !store.claim_totp_step(admin.id, 100).await.unwrap(),
        "earlier"
    );
    assert!(store.claim_totp_step(admin.id, 105).await.unwrap(), "later");
    assert_eq!(
        store.totp(admin.id).await.unwrap().unwrap().last_step,
        Some(105)
    );

    // Concurrent sign-ins with one code: exactly one gets in.
    for step in [200, 201, 202] {
        let (r1, r2, r3, r4) = tokio::join!(
            store.claim_totp_step(admin.id, step),
            store.claim_totp_step(admin.id, step),
            store.claim_totp_step(admin.id, step),
            store.claim_totp_step(admin.id, step),
        );
        let wins = [r1, r2, r3, r4]
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(wins, 1, "step {step}");
    }

    // Another user's enrolment is their own; an unknown user cannot start one.
    assert_eq!(store.totp(other.id).await.unwrap(), None);
    assert!(!store.claim_totp_step(other.id, 1000).await.unwrap());
    store
        .begin_totp(
            other.id,
            b"theirs",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(7)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.totp(admin.id).await.unwrap().unwrap().last_step,
        Some(202)
    );
    assert!(
        !store
            .user(other.id)
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled
    );
    let ghost = UserId::new_at(at(8));
    assert_not_found(
        store
            .begin_totp(
                ghost,
                b"x",
                &event(a.id, Action::TwoFactorSetupStarted, None, at(8)),
            )
            .await,
    );
    assert_eq!(store.totp(ghost).await.unwrap(), None);
}

pub(crate) async fn check_recovery_codes(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let other = add_user(
        store,
        &a,
        &format!("other-{}@example.com", a.id),
        Role::Admin,
        at(1),
    )
    .await;
    let codes: Vec<String> = (0..6).map(|i| format!("hash-{i}")).collect();
    for u in [&admin, &other] {
        store
            .begin_totp(
                u.id,
                b"s",
                &event(a.id, Action::TwoFactorSetupStarted, None, at(2)),
            )
            .await
            .unwrap();
        store
            .confirm_totp(
                u.id,
                1,
                &codes,
                &event(a.id, Action::TwoFactorEnabled, None, at(3)),
            )
            .await
            .unwrap();
    }

    let used = by(&admin, event(a.id, Action::RecoveryCodeUsed, None, at(10)));
    assert!(
        store
            .consume_recovery_code(admin.id, "hash-0", &used)
            .await
            .unwrap()
    );
    assert_eq!(all_events(store, a.id).await[0], used);
    let replay = by(&admin, event(a.id, Action::RecoveryCodeUsed, None, at(11)));
    assert!(
        !store
            .consume_recovery_code(admin.id, "hash-0", &replay)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_recovery_code(admin.id, "unknown", &replay)
            .await
            .unwrap()
    );
    assert!(
        !all_events(store, a.id).await.contains(&replay),
        "no event when nothing was consumed"
    );
    // The same code of another user is theirs: still there.
    assert!(
        store
            .consume_recovery_code(other.id, "hash-0", &replay)
            .await
            .unwrap()
    );

    // Concurrent uses of one code: exactly one succeeds, with exactly one event.
    for code in ["hash-1", "hash-2"] {
        let es: Vec<AuditEvent> = (0..4)
            .map(|i| event(a.id, Action::RecoveryCodeUsed, None, at(20 + i)))
            .collect();
        let (r1, r2, r3, r4) = tokio::join!(
            store.consume_recovery_code(admin.id, code, &es[0]),
            store.consume_recovery_code(admin.id, code, &es[1]),
            store.consume_recovery_code(admin.id, code, &es[2]),
            store.consume_recovery_code(admin.id, code, &es[3]),
        );
        let results: Vec<bool> = [r1, r2, r3, r4].into_iter().map(Result::unwrap).collect();
        assert_eq!(results.iter().filter(|r| **r).count(), 1, "{code}");
        let events = all_events(store, a.id).await;
        for (won, e) in results.iter().zip(&es) {
            assert_eq!(events.contains(e), *won, "{code}");
        }
    }
    // The rest are still there, once each.
    for code in &codes[3..] {
        assert!(
            store
                .consume_recovery_code(
                    admin.id,
                    code,
                    &event(a.id, Action::RecoveryCodeUsed, None, at(30))
                )
                .await
                .unwrap()
        );
    }
}

/// A user of `a` with TOTP on: confirmed at step 100 with the recovery code hashes
/// `{prefix}-0` … `{prefix}-5`.
async fn with_totp(store: &dyn Store, a: &Account, email: &str, prefix: &str) -> User {
    let u = add_user(store, a, email, Role::Developer, at(1)).await;
    let codes: Vec<String> = (0..6).map(|i| format!("{prefix}-{i}")).collect();
    store
        .begin_totp(
            u.id,
            b"seed",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(2)),
        )
        .await
        .unwrap();
    store
        .confirm_totp(
            u.id,
            100,
            &codes,
            &event(a.id, Action::TwoFactorEnabled, None, at(3)),
        )
        .await
        .unwrap();
    store.user(u.id).await.unwrap().unwrap()
}

/// Whether `user` still has the recovery code `hash` (using it up when they do).
async fn has_code(store: &dyn Store, user: &User, hash: &str) -> bool {
    let used = event(user.account_id, Action::RecoveryCodeUsed, None, at(90));
    store
        .consume_recovery_code(user.id, hash, &used)
        .await
        .unwrap()
}

pub(crate) async fn check_disable_totp(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let ada = with_totp(store, &a, &format!("ada-{}@example.com", a.id), "ada").await;
    let bob = with_totp(store, &a, &format!("bob-{}@example.com", a.id), "bob").await;
    let plain = add_user(
        store,
        &a,
        &format!("plain-{}@example.com", a.id),
        Role::Member,
        at(1),
    )
    .await;
    let enrolment = store.totp(ada.id).await.unwrap();
    let events = all_events(store, a.id).await;
    let off = |n: i64| {
        by(
            &ada,
            event(a.id, Action::TwoFactorDisabled, None, at(10 + n)),
        )
    };

    // Refused proofs change nothing: a step not later than the last one used, a recovery
    // code the user does not have (or another user's), any proof of a user without TOTP.
    for proof in [
        SecondFactorProof::TotpStep(100),
        SecondFactorProof::TotpStep(99),
        SecondFactorProof::RecoveryCode("unknown".into()),
        SecondFactorProof::RecoveryCode("bob-0".into()),
    ] {
        assert!(
            !store.disable_totp(ada.id, &proof, &off(0)).await.unwrap(),
            "{proof:?}"
        );
    }
    for proof in [
        SecondFactorProof::TotpStep(1000),
        SecondFactorProof::RecoveryCode("ada-0".into()),
    ] {
        assert!(!store.disable_totp(plain.id, &proof, &off(0)).await.unwrap());
    }
    assert_eq!(store.totp(ada.id).await.unwrap(), enrolment);
    assert_eq!(store.user(ada.id).await.unwrap().as_ref(), Some(&ada));
    assert_eq!(store.user(plain.id).await.unwrap().as_ref(), Some(&plain));
    assert_eq!(all_events(store, a.id).await, events, "no event was added");

    // A failed audit event: nothing changes, the step is not used up.
    let result = store
        .disable_totp(
            ada.id,
            &SecondFactorProof::TotpStep(101),
            &clashing(store, a.id, Action::TwoFactorDisabled).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.totp(ada.id).await.unwrap(), enrolment);
    assert_eq!(store.user(ada.id).await.unwrap().as_ref(), Some(&ada));

    // With a later step: off, the seed and the codes gone, the sessions ended, one event.
    let done = off(1);
    assert!(
        store
            .disable_totp(ada.id, &SecondFactorProof::TotpStep(101), &done)
            .await
            .unwrap()
    );
    assert_eq!(store.totp(ada.id).await.unwrap(), None);
    let after = store.user(ada.id).await.unwrap().unwrap();
    assert!(!after.two_factor_enabled);
    assert_eq!(after.session_version, ada.session_version + 1);
    assert_eq!(
        User {
            two_factor_enabled: true,
            session_version: ada.session_version,
            ..after
        },
        ada,
        "nothing else of the user changed"
    );
    assert_eq!(all_events(store, a.id).await[0], done);
    assert!(!has_code(store, &ada, "ada-1").await, "the codes are gone");
    // Nothing left to turn off.
    assert!(
        !store
            .disable_totp(ada.id, &SecondFactorProof::TotpStep(102), &off(2))
            .await
            .unwrap()
    );
    // The other user's second factor is theirs.
    assert_eq!(store.user(bob.id).await.unwrap().as_ref(), Some(&bob));
    assert!(store.totp(bob.id).await.unwrap().unwrap().confirmed);

    // With a recovery code, for the other user.
    let done = by(&bob, event(a.id, Action::TwoFactorDisabled, None, at(20)));
    assert!(
        store
            .disable_totp(
                bob.id,
                &SecondFactorProof::RecoveryCode("bob-0".into()),
                &done
            )
            .await
            .unwrap()
    );
    assert_eq!(store.totp(bob.id).await.unwrap(), None);
    assert!(
        !store
            .user(bob.id)
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled
    );
    assert!(!has_code(store, &bob, "bob-1").await);

    // Setup can start again, and an enrolment not yet confirmed cannot be "turned off".
    store
        .begin_totp(
            ada.id,
            b"seed two",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(30)),
        )
        .await
        .unwrap();
    assert!(
        !store
            .disable_totp(ada.id, &SecondFactorProof::TotpStep(500), &off(3))
            .await
            .unwrap()
    );
    assert!(!store.totp(ada.id).await.unwrap().unwrap().confirmed);

    // Concurrent attempts with one code: exactly one turns it off, with exactly one event.
    for (n, proof) in [
        SecondFactorProof::TotpStep(101),
        SecondFactorProof::RecoveryCode("carl-3".into()),
    ]
    .into_iter()
    .enumerate()
    {
        let carl = with_totp(store, &a, &format!("carl{n}-{}@example.com", a.id), "carl").await;
        let es: Vec<AuditEvent> = (0..4)
            .map(|i| {
                by(
                    &carl,
                    event(a.id, Action::TwoFactorDisabled, None, at(40 + i)),
                )
            })
            .collect();
        let (r1, r2, r3, r4) = tokio::join!(
            store.disable_totp(carl.id, &proof, &es[0]),
            store.disable_totp(carl.id, &proof, &es[1]),
            store.disable_totp(carl.id, &proof, &es[2]),
            store.disable_totp(carl.id, &proof, &es[3]),
        );
        let results: Vec<bool> = [r1, r2, r3, r4].into_iter().map(Result::unwrap).collect();
        assert_eq!(results.iter().filter(|r| **r).count(), 1, "{proof:?}");
        let events = all_events(store, a.id).await;
        for (won, e) in results.iter().zip(&es) {
            assert_eq!(events.contains(e), *won, "{proof:?}");
        }
        let after = store.user(carl.id).await.unwrap().unwrap();
        assert_eq!(
            after.session_version,
            carl.session_version + 1,
            "bumped once"
        );
    }
}

pub(crate) async fn check_replace_recovery_codes(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let ada = with_totp(store, &a, &format!("ada-{}@example.com", a.id), "ada").await;
    let bob = with_totp(store, &a, &format!("bob-{}@example.com", a.id), "bob").await;
    let plain = add_user(
        store,
        &a,
        &format!("plain-{}@example.com", a.id),
        Role::Member,
        at(1),
    )
    .await;
    let enrolment = store.totp(ada.id).await.unwrap();
    let events = all_events(store, a.id).await;
    let new = |n: i64| {
        by(
            &ada,
            event(a.id, Action::RecoveryCodesRegenerated, None, at(10 + n)),
        )
    };
    let fresh: Vec<String> = (0..10).map(|i| format!("fresh-{i}")).collect();

    // Refused proofs change nothing.
    for proof in [
        SecondFactorProof::TotpStep(100),
        SecondFactorProof::RecoveryCode("unknown".into()),
        SecondFactorProof::RecoveryCode("bob-0".into()),
    ] {
        assert!(
            !store
                .replace_recovery_codes(ada.id, &proof, &fresh, &new(0))
                .await
                .unwrap(),
            "{proof:?}"
        );
    }
    assert!(
        !store
            .replace_recovery_codes(
                plain.id,
                &SecondFactorProof::TotpStep(1000),
                &fresh,
                &new(0)
            )
            .await
            .unwrap()
    );
    assert_eq!(all_events(store, a.id).await, events, "no event was added");
    // A failed audit event: nothing changes, the code is not used up.
    let result = store
        .replace_recovery_codes(
            ada.id,
            &SecondFactorProof::RecoveryCode("ada-0".into()),
            &fresh,
            &clashing(store, a.id, Action::RecoveryCodesRegenerated).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(!has_code(store, &ada, "fresh-0").await);

    // With a recovery code: the new set replaces every old code, the one spent included.
    let done = new(1);
    assert!(
        store
            .replace_recovery_codes(
                ada.id,
                &SecondFactorProof::RecoveryCode("ada-0".into()),
                &fresh,
                &done
            )
            .await
            .unwrap()
    );
    assert_eq!(all_events(store, a.id).await[0], done);
    for old in ["ada-0", "ada-2", "ada-5"] {
        assert!(!has_code(store, &ada, old).await, "{old}");
    }
    assert!(has_code(store, &ada, "fresh-0").await);
    assert!(!has_code(store, &ada, "fresh-0").await, "once");
    assert_eq!(
        store.totp(ada.id).await.unwrap(),
        enrolment,
        "the seed stays"
    );
    assert_eq!(
        store.user(ada.id).await.unwrap().as_ref(),
        Some(&ada),
        "still on, and the sessions stand"
    );

    // With a later step, which is then used up.
    let again: Vec<String> = (0..10).map(|i| format!("again-{i}")).collect();
    assert!(
        store
            .replace_recovery_codes(ada.id, &SecondFactorProof::TotpStep(101), &again, &new(2))
            .await
            .unwrap()
    );
    assert_eq!(
        store.totp(ada.id).await.unwrap().unwrap().last_step,
        Some(101)
    );
    assert!(!store.claim_totp_step(ada.id, 101).await.unwrap());
    assert!(
        !store
            .replace_recovery_codes(ada.id, &SecondFactorProof::TotpStep(101), &fresh, &new(3))
            .await
            .unwrap(),
        "a step works once"
    );
    assert!(!has_code(store, &ada, "fresh-1").await);
    assert!(has_code(store, &ada, "again-1").await);

    // The other user's codes are theirs, even where the hashes are alike.
    assert!(has_code(store, &bob, "bob-1").await);
    assert!(!has_code(store, &bob, "again-2").await);

    // Concurrent replacements with one code: exactly one wins, and its codes are the ones.
    let mut current = again;
    for round in 0..2_i64 {
        let proof = if round == 0 {
            SecondFactorProof::TotpStep(200)
        } else {
            SecondFactorProof::RecoveryCode(current[5].clone())
        };
        let sets: Vec<Vec<String>> = (0..4)
            .map(|i| (0..10).map(|j| format!("race-{round}-{i}-{j}")).collect())
            .collect();
        let es: Vec<AuditEvent> = (0..4).map(|i| new(20 + 10 * round + i)).collect();
        let (r1, r2, r3, r4) = tokio::join!(
            store.replace_recovery_codes(ada.id, &proof, &sets[0], &es[0]),
            store.replace_recovery_codes(ada.id, &proof, &sets[1], &es[1]),
            store.replace_recovery_codes(ada.id, &proof, &sets[2], &es[2]),
            store.replace_recovery_codes(ada.id, &proof, &sets[3], &es[3]),
        );
        let results: Vec<bool> = [r1, r2, r3, r4].into_iter().map(Result::unwrap).collect();
        assert_eq!(results.iter().filter(|r| **r).count(), 1, "{proof:?}");
        let events = all_events(store, a.id).await;
        for ((won, e), set) in results.iter().zip(&es).zip(&sets) {
            assert_eq!(events.contains(e), *won, "{proof:?}");
            assert_eq!(has_code(store, &ada, &set[9]).await, *won, "{proof:?}");
        }
        let winner = results.iter().position(|won| *won).unwrap();
        current = sets[winner].clone();
    }
}

pub(crate) async fn check_audit_queries(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let (b, b_admin) = seed(store, "B").await;
    let dev = add_user(
        store,
        &a,
        &format!("dev-{}@example.com", a.id),
        Role::Developer,
        at(1),
    )
    .await;
    let k1 = issue(store, restricted(a.id, "k1", at(2))).await;
    let k2 = issue(store, restricted(a.id, "k2", at(3))).await;
    let kb = issue(store, restricted(b.id, "kb", at(3))).await;
    // A trail with distinct times (so ids, hence the order, follow time).
    let plan = [
        (Some(&admin), Action::KeyUpdated, Some(k1.id)),
        (Some(&dev), Action::KeyUpdated, Some(k2.id)),
        (Some(&dev), Action::SignIn, None),
        (None, Action::KeyRevoked, Some(k1.id)),
        (Some(&admin), Action::SignIn, None),
        (Some(&dev), Action::KeyUpdated, Some(k1.id)),
        (Some(&admin), Action::KeyRotated, Some(k2.id)),
        (Some(&dev), Action::SignIn, None),
    ];
    let mut trail = Vec::new();
    for (i, (actor, action, key)) in plan.into_iter().enumerate() {
        let e = event(a.id, action, key, at(100 + 10 * i as i64));
        let e = match actor {
            Some(u) => by(u, e),
            None => e,
        };
        store.insert_event(&e).await.unwrap();
        trail.push(e);
    }
    // The other account's trail, by its own admin, about its own key.
    for i in 0..3 {
        store
            .insert_event(&by(
                &b_admin,
                event(b.id, Action::KeyUpdated, Some(kb.id), at(105 + 10 * i)),
            ))
            .await
            .unwrap();
    }
    let everything = {
        let mut all = all_events(store, a.id).await;
        all.sort_by_key(|e| std::cmp::Reverse(e.id));
        all
    };
    let query = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let expect = |keep: &dyn Fn(&AuditEvent) -> bool| {
        everything
            .iter()
            .filter(|e| keep(e))
            .cloned()
            .collect::<Vec<_>>()
    };
    let run = |q: AuditQuery| async move { store.query_audit_events(a.id, &q).await.unwrap() };

    assert_eq!(run(query(&|_| {})).await, everything, "newest first by id");
    assert_eq!(
        everything.len(),
        1 + 1 + 2 + 8,
        "created, dev added, two keys, the trail"
    );
    assert_eq!(everything[0], trail[7]);

    let cases: Vec<(&str, AuditQuery, Vec<AuditEvent>)> = vec![
        (
            "actor",
            query(&|q| q.actor = Some(dev.id)),
            expect(&|e| e.actor.user_id == Some(dev.id)),
        ),
        (
            "action",
            query(&|q| q.action = Some(Action::SignIn)),
            expect(&|e| e.action == Action::SignIn),
        ),
        (
            "key",
            query(&|q| q.key_id = Some(k1.id)),
            expect(&|e| e.key_id == Some(k1.id)),
        ),
        (
            "since (inclusive) and until (exclusive)",
            query(&|q| {
                q.since = Some(at(120));
                q.until = Some(at(160));
            }),
            trail[2..6].iter().rev().cloned().collect(),
        ),
        (
            "since and until a microsecond off",
            query(&|q| {
                q.since = Some(at(120) + Duration::nanoseconds(1));
                q.until = Some(at(160) + Duration::nanoseconds(1));
            }),
            trail[3..7].iter().rev().cloned().collect(),
        ),
        (
            "actor, action and key together",
            query(&|q| {
                q.actor = Some(dev.id);
                q.action = Some(Action::KeyUpdated);
                q.key_id = Some(k1.id);
            }),
            vec![trail[5].clone()],
        ),
        (
            "actor and time",
            query(&|q| {
                q.actor = Some(admin.id);
                q.until = Some(at(140));
            }),
            vec![trail[0].clone()],
        ),
        (
            "another account's key",
            query(&|q| q.key_id = Some(kb.id)),
            vec![],
        ),
        (
            "another account's user",
            query(&|q| q.actor = Some(b_admin.id)),
            vec![],
        ),
    ];
    for (name, q, expected) in cases {
        assert!(
            !expected.is_empty() || name.starts_with("another"),
            "{name}"
        );
        assert_eq!(run(q).await, expected, "{name}");
    }

    // Paging with the cursor, alone and with a filter.
    for filter in [None, Some(dev.id)] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = run(query(&|q| {
                q.limit = 3;
                q.before = before;
                q.actor = filter;
            }))
            .await;
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            seen.extend(page);
        }
        let expected = expect(&|e| filter.is_none() || e.actor.user_id == filter);
        assert_eq!(seen, expected, "{filter:?}");
    }
    assert!(run(query(&|q| q.limit = 0)).await.is_empty());
    assert_eq!(run(query(&|q| q.limit = 2)).await, everything[..2].to_vec());
    // The other account sees only its own.
    let theirs = store
        .query_audit_events(b.id, &query(&|_| {}))
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1 + 1 + 3);
    assert!(theirs.iter().all(|e| e.account_id == b.id));
}

pub(crate) async fn check_console_writes_roll_back_on_failed_event(store: &dyn Store) {
    let (a, admin) = seed(store, "A").await;
    let dev = add_user(
        store,
        &a,
        &format!("dev-{}@example.com", a.id),
        Role::Admin,
        at(1),
    )
    .await;
    let k = issue(store, restricted(a.id, "keep me", at(2))).await;
    store
        .begin_totp(
            dev.id,
            b"seed",
            &event(a.id, Action::TwoFactorSetupStarted, None, at(3)),
        )
        .await
        .unwrap();
    let seq = max_seq(store).await;
    let events = all_events(store, a.id).await;
    let fails = |result: Result<(), StoreError>| {
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    };

    let update = KeyUpdate {
        label: Some("changed".into()),
        scopes: Some(vec!["asset:read".into()]),
        expires_at: Some(Some(at(900))),
        policy: Some(KeyPolicy::default()),
    };
    fails(
        store
            .update_key(
                a.id,
                k.id,
                &update,
                &clashing(store, a.id, Action::KeyUpdated).await,
            )
            .await
            .map(drop),
    );
    assert_eq!(store.key(a.id, k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(max_seq(store).await, seq, "change_seq given back");
    assert!(store.keys_changed_since(seq, 10).await.unwrap().is_empty());

    fails(
        store
            .update_user_role(
                a.id,
                dev.id,
                Role::Member,
                &clashing(store, a.id, Action::UserRoleChanged).await,
            )
            .await
            .map(drop),
    );
    assert_eq!(store.user(dev.id).await.unwrap(), Some(dev.clone()));

    fails(
        store
            .delete_user(
                a.id,
                dev.id,
                &clashing(store, a.id, Action::UserRemoved).await,
            )
            .await,
    );
    assert_eq!(store.user(dev.id).await.unwrap(), Some(dev.clone()));

    let policy = Account {
        require_2fa_for_keys: true,
        rotation_period_days: 7,
        ..a.clone()
    };
    fails(
        store
            .update_account(
                &policy,
                &clashing(store, a.id, Action::AccountUpdated).await,
            )
            .await,
    );
    assert_eq!(store.account(a.id).await.unwrap(), Some(a.clone()));

    let enrolment = store.totp(dev.id).await.unwrap();
    fails(
        store
            .begin_totp(
                dev.id,
                b"other seed",
                &clashing(store, a.id, Action::TwoFactorSetupStarted).await,
            )
            .await,
    );
    fails(
        store
            .begin_totp(
                admin.id,
                b"new seed",
                &clashing(store, a.id, Action::TwoFactorSetupStarted).await,
            )
            .await,
    );
    assert_eq!(store.totp(dev.id).await.unwrap(), enrolment);
    assert_eq!(store.totp(admin.id).await.unwrap(), None);

    fails(
        store
            .confirm_totp(
                dev.id,
                50,
                &["r1".into()],
                &clashing(store, a.id, Action::TwoFactorEnabled).await,
            )
            .await,
    );
    assert_eq!(store.totp(dev.id).await.unwrap(), enrolment);
    assert!(
        !store
            .user(dev.id)
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled
    );
    let nothing = event(a.id, Action::RecoveryCodeUsed, None, at(4));
    assert!(
        !store
            .consume_recovery_code(dev.id, "r1", &nothing)
            .await
            .unwrap()
    );

    assert_eq!(all_events(store, a.id).await, events, "no event was added");

    // Now for real, then a recovery code whose event cannot be written stays unused.
    store
        .confirm_totp(
            dev.id,
            50,
            &["r1".into()],
            &event(a.id, Action::TwoFactorEnabled, None, at(5)),
        )
        .await
        .unwrap();
    let result = store
        .consume_recovery_code(
            dev.id,
            "r1",
            &clashing(store, a.id, Action::RecoveryCodeUsed).await,
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(
        store
            .consume_recovery_code(
                dev.id,
                "r1",
                &event(a.id, Action::RecoveryCodeUsed, None, at(6))
            )
            .await
            .unwrap(),
        "the code is still there"
    );
}
