//! The in-process key check, as the verify path runs it: parse the text (shape and
//! checksum) → keyed hash → table lookup → state and scope check (`KeyTable::check`).
//!
//! `cargo bench -p keywarden-core` (add `-- check/` or a bench name to filter). Figures and
//! how to read them: docs/BENCHMARKS.md.
//!
//! Tables of 1e3 and 1e6 stored keys (`BENCH_KEYS=1000` keeps only the small one). Every
//! stored key is a real key (`sk_live_…`/`rk_test_…`, checksum and all) drawn from a seeded
//! generator, and its entry is built from a `KeyRecord` exactly as the server builds it. Which
//! keys each bench presents:
//! - `valid_same_key`: one active stored key, presented again and again (hot in cache: the
//!   best case).
//! - `valid_16384_keys`: 16,384 different active stored keys (every stored key for the 1e3
//!   table), presented in turn, so the entry and its table slot are usually not in L1/L2.
//! - `unknown_16384_keys`: 16,384 well-formed keys with valid checksums that are not stored,
//!   in turn (what a flood of random keys costs: a full hash, then a miss).
//! - `revoked_same_key`: one stored key whose lifecycle is revoked.
//! - `malformed_checksum`: a stored key with its last character changed: everything up to
//!   and including the CRC-32 runs, no hash, no lookup.
//! - `malformed_length`: a key cut to 45 characters (the cheapest refusal).
//!
//! Components, to show where the time goes: `parts/parse`, `parts/digest`, `parts/lookup`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keywarden_core::check::{Context, check_text};
use keywarden_core::digest::KeyHasher;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_policy::{KeyPolicy, PolicyChanges};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::key_table::{KeyTable, TableEntry};
use keywarden_core::random::{RandomError, RandomSource};
use keywarden_core::scope::Catalog;
use keywarden_core::secret::ServerSecret;
use keywarden_core::verdict::{FormatProblem, Needs, Refusal};
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;
use time::macros::datetime;

/// The "now" of every check: 2027-01-15, after every key's creation, before any expiry.
const NOW_MS: i64 = 1_800_000_000_000;
/// Keys presented in turn by the `…_16384_keys` benches.
const IN_TURN: usize = 16_384;

/// A seeded splitmix64: fast and reproducible (the OS CSPRNG would make building 1e6 keys
/// take seconds of system calls, and key quality does not matter to a benchmark).
#[derive(Debug)]
struct Seeded(Mutex<u64>);

impl RandomSource for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        let mut state = self.0.lock().unwrap();
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

struct Fixture {
    hasher: KeyHasher,
    table: KeyTable,
    /// Texts of up to 16,384 active stored keys.
    valid: Vec<String>,
    revoked: String,
    unknown: Vec<String>,
}

fn record(
    hasher: &KeyHasher,
    random: &Seeded,
    n: u64,
    lifecycle: Lifecycle,
) -> (String, KeyRecord) {
    let at = datetime!(2026-01-01 00:00 UTC);
    // Half standard, half restricted keys (with `payroll:read`, which the checks require).
    let (kind, mode) = match n % 4 {
        0 => (KeyKind::Restricted, Mode::Test),
        1 => (KeyKind::Standard, Mode::Live),
        2 => (KeyKind::Standard, Mode::Test),
        _ => (KeyKind::Restricted, Mode::Live),
    };
    let key = key_format::generate(kind, mode, random).unwrap();
    let record = KeyRecord {
        id: KeyId(uuid::Uuid::from_u128(u128::from(n) | (1 << 100))),
        account_id: AccountId(uuid::Uuid::from_u128(u128::from(n / 2) | (2 << 100))),
        kind,
        mode,
        label: String::new(),
        hint: key.hint(),
        digest: hasher.digest(key.expose()),
        scopes: vec!["payroll:read".into(), "asset:write".into()],
        lifecycle,
        created_at: at,
        created_by: None,
        expires_at: None,
        last_used_at: None,
        rotated_at: None,
        revoked_at: (lifecycle == Lifecycle::Revoked).then_some(at),
        grace_until: None,
        replaced_by: None,
        replaces: None,
        change_seq: i64::try_from(n).unwrap() + 1,
        policy: Default::default(),
        leak: None,
    };
    (key.expose().to_owned(), record)
}

fn fixture(stored: usize) -> Fixture {
    let secret = ServerSecret::from_text(&"bench-secret-".repeat(4)).unwrap();
    let hasher = KeyHasher::new(&secret);
    let catalog = Catalog::default();
    let random = Seeded(Mutex::new(u64::try_from(stored).unwrap()));
    let mut table = KeyTable::with_capacity(stored);
    let mut valid = Vec::new();
    let mut revoked = String::new();
    for n in 0..stored as u64 {
        let lifecycle = if n == 7 {
            Lifecycle::Revoked
        } else {
            Lifecycle::Active
        };
        let (text, rec) = record(&hasher, &random, n, lifecycle);
        table.upsert(TableEntry::from_record(&rec, &catalog));
        if lifecycle == Lifecycle::Revoked {
            revoked = text;
        } else if valid.len() < IN_TURN {
            valid.push(text);
        }
    }
    let unknown = (0..IN_TURN)
        .map(|_| {
            key_format::generate(KeyKind::Standard, Mode::Live, &random)
                .unwrap()
                .expose()
                .to_owned()
        })
        .collect();
    assert_eq!(table.len(), stored);
    Fixture {
        hasher,
        table,
        valid,
        revoked,
        unknown,
    }
}

fn sizes() -> Vec<usize> {
    match std::env::var("BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => vec![n],
        None => vec![1_000, 1_000_000],
    }
}

fn bench_check(c: &mut Criterion) {
    let catalog = Catalog::default();
    // What a GET through forward-auth to a path of no product needs: read on every product
    // (standard keys have it). Restricted keys in the table hold payroll:read + asset:write.
    let read_payroll = catalog.parse_scope("payroll:read").unwrap();
    let context = Context {
        needs: Needs::Scope(read_payroll),
        required: Needs::Scope(read_payroll).scopes(&catalog),
        now_ms: NOW_MS,
        client: &|| CLIENT.into(),
        consume: true,
    };
    for stored in sizes() {
        let f = fixture(stored);
        let mut group = c.benchmark_group(format!("check/{stored}"));
        group.throughput(Throughput::Elements(1));

        let same = f.valid[1].clone();
        assert!(check_text(&f.table, &f.hasher, &same, &context).is_ok());
        group.bench_function("valid_same_key", |b| {
            b.iter(|| check_text(&f.table, &f.hasher, black_box(&same), &context).is_ok());
        });

        let keys: Vec<&str> = f.valid.iter().map(String::as_str).collect();
        group.bench_function(BenchmarkId::new("valid_16384_keys", keys.len()), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % keys.len();
                let ok = check_text(&f.table, &f.hasher, black_box(keys[i]), &context).is_ok();
                debug_assert!(ok);
                ok
            });
        });

        let unknown: Vec<&str> = f.unknown.iter().map(String::as_str).collect();
        assert_eq!(
            check_text(&f.table, &f.hasher, unknown[0], &context).unwrap_err(),
            Refusal::NotFound
        );
        group.bench_function("unknown_16384_keys", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % unknown.len();
                check_text(&f.table, &f.hasher, black_box(unknown[i]), &context).is_err()
            });
        });

        assert!(matches!(
            check_text(&f.table, &f.hasher, &f.revoked, &context),
            Err(Refusal::Stopped(_))
        ));
        group.bench_function("revoked_same_key", |b| {
            b.iter(|| check_text(&f.table, &f.hasher, black_box(&f.revoked), &context).is_err());
        });

        let mut bad_sum = same.clone();
        let last = if bad_sum.ends_with('0') { "1" } else { "0" };
        bad_sum.replace_range(45.., last);
        assert!(matches!(
            check_text(&f.table, &f.hasher, &bad_sum, &context),
            Err(Refusal::Format(FormatProblem::Key(
                key_format::KeyFormatError::BadChecksum
            )))
        ));
        group.bench_function("malformed_checksum", |b| {
            b.iter(|| check_text(&f.table, &f.hasher, black_box(&bad_sum), &context).is_err());
        });

        let short = &same[..45];
        group.bench_function("malformed_length", |b| {
            b.iter(|| check_text(&f.table, &f.hasher, black_box(short), &context).is_err());
        });

        let digests: Vec<_> = keys.iter().map(|k| f.hasher.digest(k)).collect();
        group.bench_function("parts/lookup_16384_keys", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % digests.len();
                f.table.get(black_box(&digests[i])).is_some()
            });
        });
        group.finish();
    }

    let f = fixture(1_000);
    let key = f.valid[1].clone();
    let mut group = c.benchmark_group("parts");
    group.bench_function("parse", |b| {
        b.iter(|| key_format::parse(black_box(&key)).is_ok());
    });
    group.bench_function("digest", |b| {
        b.iter(|| f.hasher.digest(black_box(&key)));
    });
    group.finish();
    bench_policy(c, &context);
}

/// The client of the policy benches: in the last of 100 allowed ranges.
const CLIENT: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 99, 7);

/// One valid key checked again and again, plain and with each part of a key's own policy
/// (SPEC §9), in a table of 1e3 keys: what an allowlist of 100 ranges (the client in the last
/// one, so every range is compared) and a local rate limit add to a check.
fn bench_policy(c: &mut Criterion, context: &Context<'_>) {
    let catalog = Catalog::default();
    let mut f = fixture(1_000);
    let random = Seeded(Mutex::new(99));
    let ranges: Vec<String> = (0..100).map(|i| format!("10.0.{i}.0/24")).collect();
    let allowlist = PolicyChanges {
        allowed_ips: Some(Some(ranges)),
        ..PolicyChanges::default()
    }
    .apply(&KeyPolicy::default())
    .unwrap();
    let rate_limit = PolicyChanges {
        // Never reached: the bench measures the count, not the refusal.
        rate_limit: Some(Some((1_000_000, 1))),
        ..PolicyChanges::default()
    }
    .apply(&KeyPolicy::default())
    .unwrap();
    let mut group = c.benchmark_group("policy/1000");
    for (n, (name, policy)) in [
        ("plain", KeyPolicy::default()),
        ("allowlist_100_ranges", allowlist),
        ("rate_limit_local", rate_limit),
    ]
    .into_iter()
    .enumerate()
    {
        let (text, mut record) = record(&f.hasher, &random, 5_000 + n as u64, Lifecycle::Active);
        record.policy = policy;
        f.table.upsert(TableEntry::from_record(&record, &catalog));
        assert!(check_text(&f.table, &f.hasher, &text, context).is_ok());
        group.bench_function(name, |b| {
            b.iter(|| check_text(&f.table, &f.hasher, black_box(&text), context).is_ok());
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the figures are medians of nanosecond-scale loops and settle quickly; the
    // whole suite, with the 1e6-key table built once, takes about two minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = bench_check
}
criterion_main!(benches);
