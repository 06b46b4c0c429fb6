//! Pins "the key check allocates nothing": a counting global allocator (a wrapper around the
//! system allocator) counts every allocation while `the key check (keywarden_core::check)` runs on a valid, a
//! malformed, an unknown, a revoked and an unscoped key, and on a digest alone.
//!
//! Its own test binary, with a single test, so no other test's allocations are counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use keywarden_core::check::{Context, check_text};
use keywarden_core::digest::KeyHasher;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::key_table::{KeyTable, TableEntry};
use keywarden_core::random::OsRandom;
use keywarden_core::scope::Catalog;
use keywarden_core::secret::ServerSecret;
use keywarden_core::verdict::Needs;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;
use time::macros::datetime;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const NOW_MS: i64 = 1_800_000_000_000;

fn stored(
    hasher: &KeyHasher,
    kind: KeyKind,
    lifecycle: Lifecycle,
    scopes: &[&str],
) -> (String, KeyRecord) {
    let at = datetime!(2026-01-01 00:00 UTC);
    let key = key_format::generate(kind, Mode::Live, &OsRandom).unwrap();
    let record = KeyRecord {
        id: KeyId::new_at(at),
        account_id: AccountId::new_at(at),
        kind,
        mode: Mode::Live,
        label: "x".into(),
        hint: key.hint(),
        digest: hasher.digest(key.expose()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
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
        change_seq: 1,
        policy: Default::default(),
        leak: None,
    };
    (key.expose().to_owned(), record)
}

#[test]
fn the_key_check_allocates_nothing() {
    let secret = ServerSecret::from_text(&"alloc-test-secret-".repeat(3)).unwrap();
    let hasher = KeyHasher::new(&secret);
    let catalog = Catalog::default();
    let mut table = KeyTable::with_capacity(4_096);
    let (valid, rec) = stored(&hasher, KeyKind::Standard, Lifecycle::Active, &[]);
    table.upsert(TableEntry::from_record(&rec, &catalog));
    let (revoked, rec) = stored(&hasher, KeyKind::Standard, Lifecycle::Revoked, &[]);
    table.upsert(TableEntry::from_record(&rec, &catalog));
    let (unscoped, rec) = stored(
        &hasher,
        KeyKind::Restricted,
        Lifecycle::Active,
        &["asset:read"],
    );
    table.upsert(TableEntry::from_record(&rec, &catalog));
    for _ in 0..3_000 {
        let (_, rec) = stored(&hasher, KeyKind::Restricted, Lifecycle::Active, &[]);
        table.upsert(TableEntry::from_record(&rec, &catalog));
    }
    let (unknown, _) = stored(&hasher, KeyKind::Standard, Lifecycle::Active, &[]);
    let bad_checksum = format!(
        "{}{}",
        &valid[..45],
        if valid.ends_with('0') { '1' } else { '0' }
    );
    let too_short = valid[..30].to_owned();
    let with_space = format!(" {valid}");
    let accented = format!("{}é{}", &valid[..20], &valid[22..]);
    let payroll_read = Needs::Scope(catalog.parse_scope("payroll:read").unwrap());
    let context = Context {
        needs: payroll_read,
        required: payroll_read.scopes(&catalog),
        now_ms: NOW_MS,
        client: &|| std::net::Ipv4Addr::LOCALHOST.into(),
        consume: true,
    };

    let cases: [(&str, &str, bool); 8] = [
        ("valid", &valid, true),
        ("revoked", &revoked, false),
        ("unknown", &unknown, false),
        ("unscoped", &unscoped, false),
        ("bad checksum", &bad_checksum, false),
        ("too short", &too_short, false),
        ("whitespace", &with_space, false),
        ("non-ASCII", &accented, false),
    ];
    // Warm up: first calls may set up lazily detected CPU features.
    for (_, text, _) in cases {
        let _ = black_box(check_text(&table, &hasher, text, &context));
    }

    for (name, text, accepted) in cases {
        let region = Region::new(GLOBAL);
        for _ in 0..1_000 {
            let verdict = check_text(&table, &hasher, black_box(text), &context);
            assert_eq!(verdict.is_ok(), accepted, "{name}");
            black_box(verdict.ok().map(|(e, _)| e.key_id));
        }
        let change = region.change();
        assert_eq!(
            (
                change.allocations,
                change.reallocations,
                change.bytes_allocated
            ),
            (0, 0, 0),
            "{name}: the check allocated"
        );
    }

    let region = Region::new(GLOBAL);
    for _ in 0..1_000 {
        black_box(hasher.digest(black_box(&valid)));
    }
    assert_eq!(region.change().allocations, 0, "digest allocated");
}
