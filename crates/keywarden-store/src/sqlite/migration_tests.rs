//! Upgrading a database written under an earlier schema: the data survives every migration,
//! and the rules of the new schema hold for it.

use super::codec::{id_text, micros};
use super::{MIGRATOR, SqliteStore, insert_user_row, next_change_seq};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::audit::{Action, Actor, AuditEvent};
use keywarden_core::digest::KeyDigest;
use keywarden_core::ids::{AccountId, EventId, KeyId, UserId};
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::store::{
    AccountStore, AuditQuery, AuditStore, KeyFeed, KeyStore, StoreError, UserStore,
};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::str::FromStr;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-01-10 08:00:00.123456 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

fn key(account: AccountId, kind: KeyKind, mode: Mode, n: u8, by: Option<UserId>) -> KeyRecord {
    KeyRecord {
        id: KeyId::new_at(at(i64::from(n))),
        account_id: account,
        kind,
        mode,
        label: format!("key {n}"),
        hint: "sk_test_abcd…wxyz".into(),
        digest: KeyDigest([n; 32]),
        scopes: vec![],
        lifecycle: Lifecycle::Active,
        created_at: at(i64::from(n)),
        created_by: by,
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

fn event(account: AccountId, who: &User, action: Action, key: Option<KeyId>, s: i64) -> AuditEvent {
    AuditEvent {
        id: EventId::new_at(at(s)),
        account_id: account,
        action,
        actor: Actor {
            user_id: Some(who.id),
            label: who.email.clone(),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
        },
        key_id: key,
        detail: action.as_str().into(),
        at: at(s),
    }
}

/// Inserts an audit event as 0001 stored it. (`insert_events` also writes the webhook outbox
/// of 0003, which a database of 0001 does not have.)
async fn insert_event_of_0001(conn: &mut sqlx::SqliteConnection, e: &AuditEvent) {
    sqlx::query(
        "INSERT INTO audit_events (id, account_id, action, actor_user_id, actor_label, ip, \
         user_agent, key_id, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_text(e.id.0))
    .bind(id_text(e.account_id.0))
    .bind(e.action.as_str())
    .bind(e.actor.user_id.map(|u| id_text(u.0)))
    .bind(&e.actor.label)
    .bind(e.actor.ip.as_deref())
    .bind(e.actor.user_agent.as_deref())
    .bind(e.key_id.map(|k| id_text(k.0)))
    .bind(&e.detail)
    .bind(micros(e.at).unwrap())
    .execute(conn)
    .await
    .unwrap();
}

/// A key as 0001's `api_keys` holds it: every column but those later migrations add.
/// An account row as 0001 stored it (no key policy columns yet: 0006 adds them).
async fn insert_account_of_0001(conn: &mut sqlx::SqliteConnection, a: &Account) {
    sqlx::query(
        "INSERT INTO accounts (id, name, created_at, require_2fa_for_keys, rotation_period_days) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id_text(a.id.0))
    .bind(&a.name)
    .bind(micros(a.created_at).unwrap())
    .bind(i64::from(a.require_2fa_for_keys))
    .bind(i64::from(a.rotation_period_days))
    .execute(conn)
    .await
    .unwrap();
}

async fn insert_key_of_0001(conn: &mut sqlx::SqliteConnection, k: &KeyRecord) {
    let seq = next_change_seq(&mut *conn).await.unwrap();
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, kind, mode, label, hint, digest, scopes, \
         lifecycle, created_at, created_by, expires_at, last_used_at, rotated_at, revoked_at, \
         grace_until, replaced_by, replaces, change_seq) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_text(k.id.0))
    .bind(id_text(k.account_id.0))
    .bind(k.kind.as_str())
    .bind(k.mode.as_str())
    .bind(&k.label)
    .bind(&k.hint)
    .bind(k.digest.0.as_slice())
    .bind(serde_json::to_string(&k.scopes).unwrap())
    .bind(k.lifecycle.as_str())
    .bind(micros(k.created_at).unwrap())
    .bind(k.created_by.map(|u| id_text(u.0)))
    .bind(k.expires_at.map(|t| micros(t).unwrap()))
    .bind(k.last_used_at.map(|t| micros(t).unwrap()))
    .bind(k.rotated_at.map(|t| micros(t).unwrap()))
    .bind(k.revoked_at.map(|t| micros(t).unwrap()))
    .bind(k.grace_until.map(|t| micros(t).unwrap()))
    .bind(k.replaced_by.map(|id| id_text(id.0)))
    .bind(k.replaces.map(|id| id_text(id.0)))
    .bind(seq)
    .execute(conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_database_of_0001_upgrades_with_its_data_and_then_lets_users_go() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());

    // A database as 0001 left it, written by this backend's own insert functions, with
    // every reference 0002 rebuilds: keys and events of a user, and rotation links.
    let account = Account {
        id: AccountId::new_at(T0),
        name: "Old Ltd".into(),
        created_at: T0,
        require_2fa_for_keys: false,
        rotation_period_days: 90,
        key_policy: Default::default(),
    };
    let user = |email: &str, role| User {
        id: UserId::new_at(T0),
        account_id: account.id,
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        two_factor_enabled: false,
        session_version: 3,
        created_at: T0,
    };
    let admin = user("admin@old.example", Role::Admin);
    let dev = user("dev@old.example", Role::Developer);
    let new_live = KeyRecord {
        replaces: None,
        ..key(account.id, KeyKind::Standard, Mode::Live, 2, Some(dev.id))
    };
    let old_live = KeyRecord {
        lifecycle: Lifecycle::Rotated,
        rotated_at: Some(at(2)),
        grace_until: Some(at(3)),
        replaced_by: Some(new_live.id),
        ..key(account.id, KeyKind::Standard, Mode::Live, 1, Some(dev.id))
    };
    let new_live = KeyRecord {
        replaces: Some(old_live.id),
        ..new_live
    };
    let restricted = KeyRecord {
        scopes: vec!["payroll:read".into()],
        lifecycle: Lifecycle::Revoked,
        revoked_at: Some(at(5)),
        ..key(
            account.id,
            KeyKind::Restricted,
            Mode::Test,
            4,
            Some(admin.id),
        )
    };
    let by_cli = key(account.id, KeyKind::Standard, Mode::Test, 6, None);
    let keys = [old_live, new_live, restricted, by_cli];
    let events = [
        event(account.id, &dev, Action::KeyCreated, Some(keys[0].id), 10),
        event(account.id, &dev, Action::KeyRotated, Some(keys[0].id), 11),
        event(account.id, &dev, Action::SignIn, None, 12),
        event(account.id, &admin, Action::KeyRevoked, Some(keys[2].id), 13),
    ];
    {
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        MIGRATOR.run_to(1, &pool).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        insert_account_of_0001(&mut tx, &account).await;
        insert_user_row(&mut tx, &admin).await.unwrap();
        insert_user_row(&mut tx, &dev).await.unwrap();
        for k in &keys {
            insert_key_of_0001(&mut tx, k).await;
        }
        for e in &events {
            insert_event_of_0001(&mut tx, e).await;
        }
        tx.commit().await.unwrap();
        // Under 0001, the developer could not be removed at all.
        let refused = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id_text(dev.id.0))
            .execute(&pool)
            .await;
        assert!(refused.is_err(), "0001 refers to users from api_keys");
        pool.close().await;
    }

    let store = SqliteStore::connect(&url).await.unwrap();

    // The account gets the key policy's defaults, which restrict nothing (0006).
    assert_eq!(
        store.account(account.id).await.unwrap(),
        Some(account.clone())
    );

    // Everything reads back as written, in the same change-feed order.
    let feed = store.keys_changed_since(0, 100).await.unwrap();
    assert_eq!(feed.len(), keys.len());
    for (read, written) in feed.iter().zip(&keys) {
        assert_eq!(
            read,
            &KeyRecord {
                change_seq: read.change_seq,
                ..written.clone()
            }
        );
    }
    let mut newest_first = events.to_vec();
    newest_first.reverse();
    assert_eq!(
        store.audit_events(account.id, 100).await.unwrap(),
        newest_first
    );
    assert_eq!(store.user(dev.id).await.unwrap(), Some(dev.clone()));

    // The rebuilt tables refer to users no more, and to api_keys (not api_keys_new) still.
    let schema: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_schema WHERE name IN ('api_keys', 'audit_events')",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    assert_eq!(schema.len(), 2);
    for sql in &schema {
        assert!(!sql.contains("REFERENCES users"), "{sql}");
        assert!(!sql.contains("api_keys_new"), "{sql}");
        assert!(sql.contains("REFERENCES \"api_keys\""), "{sql}");
    }
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    for name in [
        "api_keys_by_account",
        "api_keys_by_account_newest",
        "api_keys_change_seq",
        "api_keys_digest_unique",
        "audit_events_by_account",
        "audit_events_by_account_newest",
        "audit_events_by_actor",
        "audit_events_by_key",
        "one_active_standard_key_per_mode",
    ] {
        assert!(indexes.iter().any(|i| i == name), "{name} in {indexes:?}");
    }
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&store.pool)
        .await
        .unwrap();
    assert!(broken.is_empty());

    // The developer can now go; their keys and their trail stay, naming them.
    let removed = event(account.id, &admin, Action::UserRemoved, None, 20);
    store
        .delete_user(account.id, dev.id, &removed)
        .await
        .unwrap();
    assert_eq!(store.user(dev.id).await.unwrap(), None);
    for k in &keys[..2] {
        let read = store.key(account.id, k.id).await.unwrap().unwrap();
        assert_eq!(read.created_by, Some(dev.id));
    }
    let theirs = store
        .query_audit_events(
            account.id,
            &AuditQuery {
                actor: Some(dev.id),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 3);

    // The references that stay are still enforced: an event about an unknown key, a rotation
    // link to an unknown key.
    let ghost = KeyId::new_at(at(30));
    let stray = event(account.id, &admin, Action::KeyUpdated, Some(ghost), 30);
    assert!(matches!(
        store.insert_event(&stray).await,
        Err(StoreError::Conflict(_))
    ));
    let dangling = sqlx::query("UPDATE api_keys SET replaced_by = ? WHERE id = ?")
        .bind(id_text(ghost.0))
        .bind(id_text(keys[1].id.0))
        .execute(&store.pool)
        .await;
    assert!(dangling.is_err());
    // And the unique rules keep their names.
    let mut twin = key(account.id, KeyKind::Restricted, Mode::Live, 7, None);
    twin.digest = keys[0].digest;
    let Err(StoreError::Conflict(rule)) = store.insert_keys(&[twin], &[]).await else {
        panic!("a duplicate digest conflicts")
    };
    assert_eq!(rule, "api_keys_digest_unique");
    let second_live = key(account.id, KeyKind::Standard, Mode::Live, 8, None);
    let Err(StoreError::Conflict(rule)) = store.insert_keys(&[second_live], &[]).await else {
        panic!("a second active standard live key conflicts")
    };
    assert_eq!(rule, "one_active_standard_key_per_mode");
    let row = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    let applied = usize::try_from(row.get::<i64, _>("n")).unwrap();
    assert_eq!(applied, MIGRATOR.iter().count(), "every migration applied");
}
