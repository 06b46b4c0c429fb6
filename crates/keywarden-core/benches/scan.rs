//! The leak scanner (`key_scan`), as `keywarden scan` runs it: 256 KiB chunks fed in turn.
//!
//! `cargo bench -p keywarden-core --bench scan`. Figures and the end-to-end run beside
//! ripgrep (`benches/scan.sh`): docs/BENCHMARKS.md, "Leak scan".
//!
//! - `scan/text_chunks`: 64 MiB of generated code, configuration and log lines with a key per
//!   64 KiB and as many look-alikes of each sort (benches/support/scan_corpus.rs), fed in
//!   256 KiB chunks; the count found is checked against the count planted before timing.
//! - `scan/text_whole`: the same text in one piece (`find_keys`, as for a pasted text).
//! - `scan/random_bytes`: 64 MiB of uniformly random bytes (a binary file): `k_` every 64 KiB
//!   on average, no key.
//! - `scan/dense_keys`: 4 MiB of little but keys and look-alikes (a key per 256 bytes): the
//!   cost of the checksum path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(missing_docs)]

#[path = "support/scan_corpus.rs"]
mod scan_corpus;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keywarden_core::key_scan::{KeyScanner, find_keys};
use keywarden_core::random::RandomSource;
use scan_corpus::Seeded;
use std::hint::black_box;
use std::time::Duration;

const CHUNK: usize = 256 * 1024;

fn scan_chunks(bytes: &[u8]) -> u64 {
    let mut scanner = KeyScanner::new();
    let mut found = 0u64;
    for chunk in bytes.chunks(CHUNK) {
        scanner.feed(chunk, |_| found += 1);
    }
    found
}

fn bench_scan(c: &mut Criterion) {
    let random = Seeded::new(17);
    let mut text = Vec::new();
    let planted = scan_corpus::generate(&random, 64 << 20, 64 << 10, &mut text);
    assert_eq!(scan_chunks(&text), planted.keys);
    assert_eq!(find_keys(&text).count() as u64, planted.keys);

    let mut noise = vec![0u8; 64 << 20];
    random.fill(&mut noise).unwrap();
    assert_eq!(scan_chunks(&noise), 0);

    let mut dense = Vec::new();
    let dense_planted = scan_corpus::generate(&random, 4 << 20, 256, &mut dense);
    assert_eq!(scan_chunks(&dense), dense_planted.keys);

    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("text_chunks", |b| b.iter(|| scan_chunks(black_box(&text))));
    group.bench_function("text_whole", |b| {
        b.iter(|| find_keys(black_box(&text)).count())
    });
    group.throughput(Throughput::Bytes(noise.len() as u64));
    group.bench_function("random_bytes", |b| {
        b.iter(|| scan_chunks(black_box(&noise)))
    });
    group.throughput(Throughput::Bytes(dense.len() as u64));
    group.bench_function("dense_keys", |b| b.iter(|| scan_chunks(black_box(&dense))));
    group.finish();
}

criterion_group! {
    name = benches;
    // Each iteration reads 64 MiB (tens of milliseconds): ten samples settle.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    targets = bench_scan
}
criterion_main!(benches);
