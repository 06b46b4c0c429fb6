//! The store's checks against PostgreSQL, and the promises only the PostgreSQL backend makes:
//! a change feed that never skips a change while many instances write at once, and
//! notifications on commit.
//!
//! `KEYWARDEN_TEST_POSTGRES_URL` names the server, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`; its user must be allowed to create databases.
//! Each test creates a database of its own on that server (`kw_test_<random>`), so tests run
//! in parallel, and drops it when it ends, failed or not. Without the variable, every test
//! here that needs a server says so on stderr and passes.

use super::*;
use keywarden_core::ids::DeliveryId;
use keywarden_core::store::WebhookStore;
use keywarden_core::webhook::{EndpointState, Subscription};
use keywarden_store::{KEY_CHANGES_CHANNEL, KeyChangeListener, KeyChangeNotice, PostgresStore};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const URL_VAR: &str = "KEYWARDEN_TEST_POSTGRES_URL";

/// The server's URL, or `None` after saying loudly that the test is skipped.
fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            // Straight to the process's stderr: the test harness captures eprintln!, and a
            // skipped test must be visible in the output of a passing run.
            let _ = writeln!(std::io::stderr(), "SKIPPED: {URL_VAR} is not set");
            None
        }
    }
}

/// `url` with its database replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// A database of its own on the test server, dropped (connections and all) when this goes
/// out of scope, also when the test panics.
struct PgDb {
    store: PostgresStore,
    url: String,
    _dropper: DropDatabase,
}

struct DropDatabase {
    server_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop cannot await: a thread with a runtime of its own does the async work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server_url).await?;
                conn.execute(AssertSqlSafe(sql)).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

impl PgDb {
    /// A fresh, migrated database, or `None` when no server is configured.
    async fn new() -> Option<PgDb> {
        let server_url = server_url()?;
        let name = format!("kw_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"));
        // template0: nobody is ever connected to it, so parallel CREATEs never find it busy.
        admin
            .execute(AssertSqlSafe(format!(
                "CREATE DATABASE \"{name}\" TEMPLATE template0"
            )))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let dropper = DropDatabase {
            server_url: server_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&server_url, &name);
        let store = PostgresStore::connect(&url).await.unwrap();
        Some(PgDb {
            store,
            url,
            _dropper: dropper,
        })
    }

    /// Another instance on the same database (its own pool), as a second server would be.
    async fn another_instance(&self) -> PostgresStore {
        PostgresStore::connect(&self.url).await.unwrap()
    }
}

macro_rules! on_a_postgres_db {
    ($($test:ident => $check:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let Some(db) = PgDb::new().await else { return };
            $check(&db.store).await;
        }
    )*};
}

for_each_check!(on_a_postgres_db);

// ---------------------------------------------------------------------------------------------
// What only PostgreSQL has

#[test]
fn test_urls_name_the_fresh_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "kw_x"),
        "postgres://postgres@127.0.0.1:5432/kw_x"
    );
    assert_eq!(
        with_database("postgresql://u:p@db/test?sslmode=disable", "kw_x"),
        "postgresql://u:p@db/kw_x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://db", "kw_x"), "postgres://db/kw_x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connects_migrates_and_reopens() {
    let Some(db) = PgDb::new().await else { return };
    let store = keywarden_store::open(&db.url).await.unwrap();
    check_meta(store.as_ref()).await;
    let (a, admin) = seed(store.as_ref(), "A").await;
    let k = issue(
        store.as_ref(),
        key(a.id, KeyKind::Standard, Mode::Test, at(1)),
    )
    .await;

    // A second instance (migrations already applied) sees the same data, and the counter
    // carries on.
    let again = db.another_instance().await;
    assert_eq!(again.user(admin.id).await.unwrap(), Some(admin));
    assert_eq!(again.key(a.id, k.id).await.unwrap(), Some(k.clone()));
    let next = issue(&again, key(a.id, KeyKind::Standard, Mode::Live, at(2))).await;
    assert!(next.change_seq > k.change_seq);

    let settings = db.store.settings().await.unwrap();
    assert_ne!(settings.synchronous_commit, "off");
    assert!(settings.server_version_num >= 130000, "{settings:?}");
    // The store's Debug never shows the connection options.
    assert!(!format!("{:?}", db.store).contains(&db.url));
}

#[tokio::test]
async fn unreachable_or_missing_databases_do_not_repeat_the_url() {
    let Some(server) = server_url() else { return };
    // A password in the URL (the test server may well ignore it).
    let missing = with_database(&server, "kw_no_such_database");
    let missing = match missing.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains(':') => {
                format!("{scheme}://{user}:hunter2@{host}")
            }
            _ => missing.clone(),
        },
        None => missing.clone(),
    };
    let result = PostgresStore::connect(&missing).await;
    let Err(StoreError::Other(text)) = result else {
        panic!("a missing database is a configuration error: {result:?}")
    };
    assert!(!text.contains("hunter2"), "{text}");

    // Nobody listens on port 1: the pool keeps trying until its acquire timeout (10 s, so
    // both at once), then the store is Unavailable, and the password stays out of the message.
    let closed = "postgres://kw:hunter2@127.0.0.1:1/kw";
    let (store, listener) = tokio::join!(
        PostgresStore::connect(closed),
        KeyChangeListener::connect(closed)
    );
    let Err(StoreError::Unavailable(text)) = store else {
        panic!("a closed port is Unavailable: {store:?}")
    };
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        matches!(&listener, Err(StoreError::Unavailable(text)) if !text.contains("hunter2")),
        "{listener:?}"
    );
}

/// What one writer task does: `rounds` times, issue a restricted key or rotate its newest one
/// (or, every fifth round, relabel or revoke it), each a key change with a fresh change_seq.
async fn churn(store: PostgresStore, account: AccountId, task: i64, rounds: i64) {
    let mut current: Option<KeyRecord> = None;
    for round in 0..rounds {
        let now = at(task * 1000 + round);
        current = Some(match current {
            Some(old) if round % 5 == 4 => {
                let e = event(account, Action::KeyRevoked, Some(old.id), now);
                store.revoke_key(account, old.id, now, &e).await.unwrap();
                issue(&store, key(account, KeyKind::Restricted, Mode::Live, now)).await
            }
            Some(old) if round % 5 == 2 => {
                let update = keywarden_core::store::KeyUpdate {
                    label: Some(format!("task {task} round {round}")),
                    ..Default::default()
                };
                let e = event(account, Action::KeyUpdated, Some(old.id), now);
                store
                    .update_key(account, old.id, &update, &e)
                    .await
                    .unwrap()
            }
            Some(old) => {
                let new = successor(&old, now);
                let rotation = Rotation {
                    old_key: old.id,
                    account_id: account,
                    at: now,
                    old_grace_until: now,
                    new_key: &new,
                };
                let e = event(account, Action::KeyRotated, Some(old.id), now);
                store.rotate_key(&rotation, &e).await.unwrap();
                store.key(account, new.id).await.unwrap().unwrap()
            }
            None => issue(&store, key(account, KeyKind::Restricted, Mode::Live, now)).await,
        });
    }
}

/// Reads the feed in small pages until `done` is set and a page comes back empty; asserts
/// that the numbers it sees only grow, and returns the last change_seq seen per key.
async fn follow(store: PostgresStore, done: Arc<AtomicBool>) -> (HashMap<KeyId, i64>, usize) {
    let mut cursor = 0;
    let mut latest = HashMap::new();
    let mut pages = 0;
    loop {
        // Read the flag before the page: a page read after the writers finished is complete.
        let finished = done.load(Ordering::SeqCst);
        let page = store.keys_changed_since(cursor, 7).await.unwrap();
        pages += 1;
        for k in &page {
            assert!(
                k.change_seq > cursor,
                "the feed went backwards: {} after {cursor}",
                k.change_seq
            );
            cursor = k.change_seq;
            latest.insert(k.id, k.change_seq);
        }
        if page.is_empty() {
            if finished {
                return (latest, pages);
            }
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_change_feed_never_skips_a_change_under_concurrent_writers() {
    let Some(db) = PgDb::new().await else { return };
    const TASKS: i64 = 8;
    const ROUNDS: i64 = 25;
    // Two instances write, a third one follows the feed, as three servers would.
    let writers = [db.store.clone(), db.another_instance().await];
    let reader = db.another_instance().await;
    let mut accounts = Vec::new();
    for task in 0..TASKS {
        accounts.push(seed(&db.store, &format!("Churn {task}")).await.0.id);
    }

    let done = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn(follow(reader, done.clone()));
    let tasks: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(task, account)| {
            let store = writers[task % 2].clone();
            tokio::spawn(churn(store, *account, task as i64, ROUNDS))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (seen, pages) = follower.await.unwrap();

    // Every key's final state reached the follower: had it moved its cursor past a number
    // whose transaction committed later, that key's last change would be missing or stale.
    let all = db.store.keys_changed_since(0, u32::MAX).await.unwrap();
    let expected: HashMap<KeyId, i64> = all.iter().map(|k| (k.id, k.change_seq)).collect();
    // Every round but the relabelling ones issues a key (a rotation's successor, or a new
    // key after a revocation).
    let relabels = (0..ROUNDS).filter(|round| round % 5 == 2).count() as i64;
    assert_eq!(expected.len() as i64, TASKS * (ROUNDS - relabels));
    assert_eq!(seen.len(), expected.len(), "every key was seen");
    for (id, seq) in &expected {
        assert_eq!(seen.get(id), Some(seq), "the final change of {id} was seen");
    }
    // The numbers handed out are the numbers stored: none lost to a rollback, none twice.
    let counter: i64 = sqlx::query_scalar("SELECT last_seq FROM change_counter")
        .fetch_one(&mut PgConnection::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(all.last().unwrap().change_seq, counter);
    assert!(pages > 1, "the follower read while the writers wrote");
}

/// The next notice, or a failure after a few seconds.
async fn next_notice(listener: &mut KeyChangeListener) -> KeyChangeNotice {
    tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification within 10 s"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changes_notify_listeners_on_commit() {
    let Some(db) = PgDb::new().await else { return };
    let mut listener = db.store.listen_for_changes().await.unwrap();
    let mut by_url = KeyChangeListener::connect(&db.url).await.unwrap();
    assert!(listener.try_next().is_none());

    // Writes that change no key notify nobody; a rolled-back key change neither.
    let (a, _) = seed(&db.store, "A").await;
    let first = issue(&db.store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    let twin = KeyRecord {
        digest: first.digest,
        ..key(a.id, KeyKind::Restricted, Mode::Test, at(2))
    };
    assert_conflict(
        db.store.insert_keys(&[twin], &[]).await,
        "api_keys_digest_unique",
    );
    // From another instance, as a revocation on another server would come.
    let other = db.another_instance().await;
    let e = event(a.id, Action::KeyRevoked, Some(first.id), at(3));
    other.revoke_key(a.id, first.id, at(3), &e).await.unwrap();
    let revoked = db.store.key(a.id, first.id).await.unwrap().unwrap();

    for l in [&mut listener, &mut by_url] {
        assert_eq!(
            next_notice(l).await,
            KeyChangeNotice::Changed(Some(first.change_seq))
        );
        assert_eq!(
            next_notice(l).await,
            KeyChangeNotice::Changed(Some(revoked.change_seq))
        );
    }

    // A rotation (two numbers) notifies once, with the higher one.
    let new = successor(&revoked, at(4));
    let second = issue(&db.store, key(a.id, KeyKind::Standard, Mode::Live, at(4))).await;
    let new = KeyRecord {
        replaces: Some(second.id),
        mode: Mode::Live,
        ..new
    };
    db.store
        .rotate_key(
            &Rotation {
                old_key: second.id,
                account_id: a.id,
                at: at(5),
                old_grace_until: at(5),
                new_key: &new,
            },
            &event(a.id, Action::KeyRotated, Some(second.id), at(5)),
        )
        .await
        .unwrap();
    let new = db.store.key(a.id, new.id).await.unwrap().unwrap();
    assert_eq!(
        next_notice(&mut listener).await,
        KeyChangeNotice::Changed(Some(second.change_seq))
    );
    assert_eq!(
        next_notice(&mut listener).await,
        KeyChangeNotice::Changed(Some(new.change_seq))
    );
    assert!(listener.try_next().is_none());

    // Anyone may NOTIFY the channel; a payload that is not a number is still a wake-up.
    sqlx::query("SELECT pg_notify($1, 'hello')")
        .bind(KEY_CHANGES_CHANNEL)
        .execute(&mut PgConnection::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        next_notice(&mut listener).await,
        KeyChangeNotice::Changed(None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_lost_its_connection_says_so() {
    let Some(db) = PgDb::new().await else { return };
    let mut listener = db.store.listen_for_changes().await.unwrap();
    // Terminate the listening session from the server side, as a failover or a restart would.
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let terminated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') AS t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(terminated, 1);
    assert_eq!(
        next_notice(&mut listener).await,
        KeyChangeNotice::Reconnected
    );
    // Listening again: the next change is heard.
    let (a, _) = seed(&db.store, "A").await;
    let k = issue(&db.store, key(a.id, KeyKind::Standard, Mode::Test, at(1))).await;
    assert_eq!(
        next_notice(&mut listener).await,
        KeyChangeNotice::Changed(Some(k.change_seq))
    );
}

/// Waits until a session of the store (application_name `keywarden`) waits for a lock.
async fn until_the_store_waits_for_a_lock(url: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    for _ in 0..1000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'keywarden' AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the store never waited for the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_aborted_to_break_a_deadlock_runs_again() {
    let Some(db) = PgDb::new().await else { return };
    let (a, _) = seed(&db.store, "A").await;
    let k = issue(&db.store, key(a.id, KeyKind::Restricted, Mode::Test, at(1))).await;

    // Another session holds the key's row...
    let mut other = PgConnection::connect(&db.url).await.unwrap();
    let mut other = other.begin().await.unwrap();
    sqlx::query("UPDATE api_keys SET label = 'held' WHERE id = $1")
        .bind(k.id.0)
        .execute(&mut *other)
        .await
        .unwrap();
    // ...while the store's revocation takes the change counter and then waits for that row.
    let store = db.store.clone();
    let revoked = event(a.id, Action::KeyRevoked, Some(k.id), at(2));
    let revocation = {
        let revoked = revoked.clone();
        tokio::spawn(async move { store.revoke_key(a.id, k.id, at(2), &revoked).await })
    };
    until_the_store_waits_for_a_lock(&db.url).await;
    // Now the other session waits for the counter: a cycle. The store's session has waited
    // longer, so its deadlock check (after deadlock_timeout, 1 s by default) runs first and
    // aborts the store's transaction; this statement then goes through.
    sqlx::query("UPDATE change_counter SET last_seq = last_seq WHERE id = 1")
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();

    // The revocation ran again, after the other session committed, and succeeded once.
    revocation.await.unwrap().unwrap();
    let read = db.store.key(a.id, k.id).await.unwrap().unwrap();
    assert_eq!(read.lifecycle, Lifecycle::Revoked);
    assert_eq!(read.label, "held");
    assert!(read.change_seq > k.change_seq);
    let events = db.store.audit_events(a.id, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| **e == revoked).count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Webhook queues shared by several instances

/// Events, endpoints, and so deliveries, of the concurrency test.
const QUEUE_EVENTS: usize = 50;
const QUEUE_ENDPOINTS: usize = 4;

/// Runs `work` on two instances at once (each on a task of its own, started together) until
/// both say they are done, and returns what each one did.
async fn on_two_instances<T, F, Fut>(first: PostgresStore, second: PostgresStore, work: F) -> [T; 2]
where
    T: Send + 'static,
    F: Fn(PostgresStore, Arc<tokio::sync::Barrier>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let a = tokio::spawn(work(first, start.clone()));
    let b = tokio::spawn(work(second, start));
    [a.await.unwrap(), b.await.unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_dispatch_each_event_once_and_never_claim_the_same_delivery() {
    let Some(db) = PgDb::new().await else { return };
    let other = db.another_instance().await;
    let store: &dyn Store = &db.store;
    let (a, _) = seed(store, "A").await;
    for i in 0..QUEUE_ENDPOINTS {
        add_endpoint(
            store,
            a.id,
            Subscription::All,
            EndpointState::Active,
            at(i as i64),
        )
        .await;
    }
    let mut events = HashSet::new();
    for i in 0..QUEUE_EVENTS {
        let e = event(a.id, Action::UserCreated, None, at(10 + i as i64));
        store.insert_event(&e).await.unwrap();
        events.insert(e.id);
    }
    assert_eq!(queued(store).await, QUEUE_EVENTS as u64);
    let now = at(100);

    // Two dispatchers, a few events at a time each.
    let dispatched = on_two_instances(db.store.clone(), other.clone(), |s, start| async move {
        start.wait().await;
        let mut total = 0;
        loop {
            let n = s.dispatch_events(now, 3).await.unwrap();
            if n == 0 {
                break total;
            }
            total += n;
        }
    })
    .await;
    eprintln!("dispatched by each instance: {dispatched:?}");
    assert_eq!(dispatched.iter().sum::<u32>() as usize, QUEUE_EVENTS);
    let deliveries = QUEUE_EVENTS * QUEUE_ENDPOINTS;
    assert_eq!(queued(store).await, deliveries as u64);

    // Two claimers, a few deliveries at a time each, leases far longer than the test.
    let claimed = on_two_instances(db.store.clone(), other, |s, start| async move {
        start.wait().await;
        let mut mine = Vec::new();
        loop {
            let batch = s.claim_deliveries(now, FARTHER, 7).await.unwrap();
            if batch.is_empty() {
                break mine;
            }
            mine.extend(
                batch
                    .into_iter()
                    .map(|c| (c.delivery.id, c.delivery.event_id)),
            );
        }
    })
    .await;
    eprintln!(
        "claimed by each instance: [{}, {}]",
        claimed[0].len(),
        claimed[1].len()
    );
    let all: Vec<(DeliveryId, EventId)> = claimed.concat();
    let unique: HashSet<DeliveryId> = all.iter().map(|(d, _)| *d).collect();
    assert_eq!(all.len(), deliveries, "every delivery claimed");
    assert_eq!(unique.len(), deliveries, "none claimed twice");
    // Each event fanned out exactly once: one delivery per endpoint.
    let mut per_event: HashMap<EventId, usize> = HashMap::new();
    for (_, e) in &all {
        *per_event.entry(*e).or_default() += 1;
    }
    assert_eq!(per_event.keys().copied().collect::<HashSet<_>>(), events);
    assert!(per_event.values().all(|n| *n == QUEUE_ENDPOINTS));
}

/// One TLS provider for the whole graph, `ring` (docs/decisions/0012-ring-and-hand-written-hs256.md):
/// rustls's AWS-LC provider, and AWS-LC's C build, must not be in the dependency tree that is
/// built here. Needs no server. The host's tree only: `--target all` needs every platform's
/// crates downloaded, which a fresh offline machine lacks.
#[test]
fn aws_lc_is_not_in_the_dependency_tree() {
    let tree = |package: &str| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args(["tree", "--offline", "-i", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    for package in ["aws-lc-rs", "aws-lc-sys"] {
        let (stdout, stderr) = tree(package);
        assert!(
            stdout.trim().is_empty(),
            "{package} is in the tree:\n{stdout}"
        );
        // `cargo tree -i` of a package the lock file lacks fails; one it holds but does not
        // build here prints nothing. Either way it is not built.
        assert!(
            !stderr.contains("error") || stderr.contains("did not match any packages"),
            "{stderr}"
        );
    }
    // The same command does find the provider that is in the tree (so the check can fail).
    let (ring, stderr) = tree("ring");
    assert!(
        ring.contains("rustls"),
        "cargo tree -i ring finds no rustls: {stderr}"
    );
}

/// `url` with `params` added to its query.
fn with_params(url: &str, params: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{params}")
}

/// Whether the connection `url` opens is encrypted, and with which TLS version.
async fn tls_of(url: &str) -> Result<(bool, Option<String>), sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
}

/// TLS to PostgreSQL is sqlx's rustls over `ring`: with `sslmode=require` the connection is
/// encrypted; with `sslmode=verify-ca` the server's certificate is checked (through rustls's
/// process default provider, which a graph of one provider finds by itself), against the
/// server's own certificate as root, and refused against a root that did not sign it. Skipped,
/// saying so, when the server does not offer TLS.
#[tokio::test]
async fn the_connection_to_postgres_can_be_encrypted_and_verified() {
    let Some(url) = server_url() else { return };
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let offered: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if offered != "on" {
        let _ = writeln!(std::io::stderr(), "SKIPPED: the server has ssl = {offered}");
        return;
    }
    let cert_file: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&mut conn)
        .await
        .unwrap();

    let (encrypted, version) = tls_of(&with_params(&url, "sslmode=require")).await.unwrap();
    assert!(encrypted);
    assert!(version.unwrap().starts_with("TLSv1."));
    // The control: without TLS the same query says so.
    let (plain, _) = tls_of(&with_params(&url, "sslmode=disable")).await.unwrap();
    assert!(!plain);

    // The server's certificate as the root: readable when the test runs beside the server.
    if std::fs::metadata(&cert_file).is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (verify-ca): cannot read {cert_file}"
        );
        return;
    }
    let trusted = with_params(&url, &format!("sslmode=verify-ca&sslrootcert={cert_file}"));
    let (verified, _) = tls_of(&trusted).await.unwrap();
    assert!(verified);
    let stranger = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keywarden-server/tests/data/tls/ca.pem"
    );
    let untrusted = with_params(&url, &format!("sslmode=verify-ca&sslrootcert={stranger}"));
    let refused = tls_of(&untrusted).await.unwrap_err().to_string();
    assert!(refused.contains("UnknownIssuer"), "{refused}");
}
