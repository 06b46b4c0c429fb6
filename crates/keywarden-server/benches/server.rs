//! Server-side benchmarks (`cargo bench -p keywarden-server`); figures in docs/BENCHMARKS.md.
//!
//! - `create_key/one_per_transaction`: `Keywarden::create_restricted_key`, as the console API
//!   and the CLI call it: one key and its audit event in one SQLite transaction, at the
//!   production durability setting (a database file in WAL mode with `synchronous = FULL`,
//!   so every commit waits for the disk).
//! - `create_key/10000_per_transaction`: `KeyStore::insert_keys` with 10,000 keys per transaction
//!   (what `examples/seed_keys.rs` does): throughput is keys per second.
//! - `verify/1_thread` and `verify/2_threads`: `SyncedKeyTable::check` (clock, freshness, read
//!   lock, the whole check) with a valid key, from one thread and from two at once; if the
//!   read lock's shared counter made the two cores fight over its cache line, the time per
//!   check would rise with two threads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keywarden_core::ids::KeyId;
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::service::{AccountService, NewAccount, NewKey};
use keywarden_core::verdict::Needs;
use keywarden_core::{Clock, OsRandom, SystemClock, audit::Actor};
use keywarden_server::config::Config;
use keywarden_server::verify::synced_table::SyncedKeyTable;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    service: AccountService,
    account: keywarden_core::ids::AccountId,
    valid: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let (service, account, valid) = runtime.block_on(async {
        let (service, _) = keywarden_server::startup::open_service(
            &config,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
        )
        .await
        .unwrap();
        let created = service
            .create_account(
                NewAccount {
                    name: "Bench".into(),
                    admin_email: "bench@keywarden.test".into(),
                    admin_password_hash: "not-a-real-hash".into(),
                    with_keys: true,
                },
                &Actor::cli(),
            )
            .await
            .unwrap();
        let valid = created.keys[0].secret.expose().to_owned();
        (service, created.account.id, valid)
    });
    Fixture {
        runtime,
        service,
        account,
        valid,
        _dir: dir,
    }
}

fn filler(f: &Fixture, n: usize) -> Vec<KeyRecord> {
    let now = SystemClock.now();
    (0..n)
        .map(|i| {
            let key = key_format::generate(KeyKind::Restricted, Mode::Live, &OsRandom).unwrap();
            KeyRecord {
                id: KeyId::new_at(now),
                account_id: f.account,
                kind: KeyKind::Restricted,
                mode: Mode::Live,
                label: format!("bench {i}"),
                hint: key.hint(),
                digest: f.service.hasher().digest(key.expose()),
                scopes: vec!["payroll:read".into()],
                lifecycle: Lifecycle::Active,
                created_at: now,
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
        })
        .collect()
}

fn bench_create(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("create_key");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_per_transaction", |b| {
        b.iter(|| {
            f.runtime.block_on(async {
                f.service
                    .create_restricted_key(
                        f.account,
                        NewKey {
                            label: "bench".into(),
                            mode: Mode::Test,
                            scopes: vec!["payroll:read".into()],
                            expires_at: None,
                            policy: Default::default(),
                            canary: false,
                        },
                        &Actor::cli(),
                    )
                    .await
                    .unwrap()
            })
        });
    });
    const BATCH: usize = 10_000;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("10000_per_transaction", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let batch = filler(&f, BATCH);
                let started = Instant::now();
                f.runtime
                    .block_on(f.service.store().insert_keys(&batch, &[]))
                    .unwrap();
                spent += started.elapsed();
            }
            spent
        });
    });
    group.finish();
}

fn bench_verify_threads(c: &mut Criterion) {
    let f = fixture();
    let batch = filler(&f, 10_000);
    f.runtime
        .block_on(f.service.store().insert_keys(&batch, &[]))
        .unwrap();
    // Usage counting on (the default) and off: the difference is its cost on the verify path.
    let table = |counting: bool| {
        let table = Arc::new(
            SyncedKeyTable::new(
                f.service.hasher().clone(),
                f.service.catalog().clone(),
                f.service.store().clone(),
                f.service.clock().clone(),
                Duration::from_secs(60),
            )
            .counting_usage(counting),
        );
        f.runtime.block_on(table.catch_up()).unwrap();
        let parsed = key_format::parse(&f.valid).unwrap();
        assert!(
            table
                .check(
                    parsed,
                    Needs::Nothing,
                    &|| std::net::Ipv4Addr::LOCALHOST.into(),
                    |_, _, _| ()
                )
                .is_ok()
        );
        table
    };
    let tables = [("", table(true)), ("_uncounted", table(false))];

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    for ((suffix, cache), threads) in tables.iter().flat_map(|t| [1usize, 2].map(|n| (t, n))) {
        group.bench_function(
            format!(
                "{threads}_thread{}{suffix}",
                if threads > 1 { "s" } else { "" }
            ),
            |b| {
                b.iter_custom(|iters| {
                    let started = Instant::now();
                    std::thread::scope(|scope| {
                        for _ in 0..threads {
                            let key = f.valid.as_str();
                            scope.spawn(move || {
                                for _ in 0..iters {
                                    // The key is parsed where it is read, as the handlers do.
                                    let parsed = key_format::parse(black_box(key)).unwrap();
                                    black_box(
                                        cache
                                            .check(
                                                parsed,
                                                Needs::Nothing,
                                                &|| std::net::Ipv4Addr::LOCALHOST.into(),
                                                |e, _, _| e.key_id,
                                            )
                                            .is_ok(),
                                    );
                                }
                            });
                        }
                    });
                    // Wall time per check of one thread: equal for 1 and 2 threads if nothing is
                    // shared between the cores.
                    started.elapsed()
                });
            },
        );
    }
    group.finish();
}

/// SPEC §8: a canary is answered as an unknown key, in the same time. `table_check/*` is the
/// in-memory check alone (a canary is found, then refused; an unknown key is not found);
/// `answer/*` is what the verify path does after it, the wait for the change feed that lets a
/// key created elsewhere work on its very next request; `record/repeat` is the recorder's cost
/// for a canary presented again within its minute.
fn bench_unknown_and_canary(c: &mut Criterion) {
    let f = fixture();
    let canary = f.runtime.block_on(async {
        f.service
            .create_restricted_key(
                f.account,
                NewKey {
                    label: "canary".into(),
                    mode: Mode::Live,
                    scopes: Vec::new(),
                    expires_at: None,
                    policy: Default::default(),
                    canary: true,
                },
                &Actor::cli(),
            )
            .await
            .unwrap()
            .secret
            .expose()
            .to_owned()
    });
    let unknown = key_format::generate(KeyKind::Restricted, Mode::Live, &OsRandom)
        .unwrap()
        .expose()
        .to_owned();
    let table = Arc::new(SyncedKeyTable::new(
        f.service.hasher().clone(),
        f.service.catalog().clone(),
        f.service.store().clone(),
        f.service.clock().clone(),
        Duration::from_secs(60),
    ));
    f.runtime.block_on(table.catch_up()).unwrap();
    let client = || std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST);
    let mut group = c.benchmark_group("unknown_or_canary");
    for (name, key) in [("unknown", &unknown), ("canary", &canary)] {
        group.bench_function(format!("table_check/{name}"), |b| {
            b.iter(|| {
                let parsed = key_format::parse(black_box(key)).unwrap();
                let refused = table.check(parsed, Needs::Nothing, &client, |_, _, _| ());
                assert!(refused.is_err());
            });
        });
    }
    group.sample_size(10);
    for (name, key) in [("unknown", &unknown), ("canary", &canary)] {
        group.bench_function(format!("answer/{name}"), |b| {
            b.iter(|| {
                f.runtime.block_on(async {
                    let parsed = key_format::parse(black_box(key)).unwrap();
                    let seen = table.reads_started();
                    let refused = table
                        .check_after_catching_up(
                            seen,
                            parsed,
                            Needs::Nothing,
                            &client,
                            |_, _, _| (),
                        )
                        .await;
                    assert!(refused.is_err());
                });
            });
        });
    }
    group.sample_size(30);
    let (trips, _queued) = keywarden_server::verify::canary_trips::CanaryTrips::new();
    let (key, account) = (KeyId(uuid::Uuid::from_u128(1)), f.account);
    trips.note(key, account, client(), 0, Default::default);
    group.bench_function("record/repeat", |b| {
        b.iter(|| trips.note(key, account, client(), black_box(1_000), Default::default));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = bench_create, bench_verify_threads, bench_unknown_and_canary
}
criterion_main!(benches);
