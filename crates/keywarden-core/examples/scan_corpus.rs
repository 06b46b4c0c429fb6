//! Writes the leak-scan corpus for `benches/scan.sh`: `DIR/dNN/fileNNN.txt`, about `MIB`
//! mebibytes of generated text in `FILES` files, with a key per 64 KiB on average and as many
//! look-alikes of each sort (benches/support/scan_corpus.rs). Prints what was planted as JSON.
//!
//! `cargo run --release -p keywarden-core --example scan_corpus -- DIR [MIB] [FILES]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::print_stdout)] // its output is the point

#[path = "../benches/support/scan_corpus.rs"]
mod scan_corpus;

use scan_corpus::{Planted, Seeded};
use std::io::Write;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: scan_corpus DIR [MIB] [FILES]"));
    let mib: usize = args
        .next()
        .map_or(1024, |a| a.parse().expect("MIB: a number"));
    let files: usize = args
        .next()
        .map_or(64, |a| a.parse().expect("FILES: a number"));
    let per_file = (mib << 20).div_ceil(files);
    let random = Seeded::new(2026);
    let mut planted = Planted::default();
    let mut bytes = 0u64;
    let mut text = Vec::with_capacity(per_file + 4096);
    for n in 0..files {
        let sub = dir.join(format!("d{:02}", n % 8));
        std::fs::create_dir_all(&sub).unwrap();
        text.clear();
        planted.add(scan_corpus::generate(
            &random,
            per_file,
            64 << 10,
            &mut text,
        ));
        let mut file = std::fs::File::create(sub.join(format!("file{n:03}.txt"))).unwrap();
        file.write_all(&text).unwrap();
        bytes += text.len() as u64;
    }
    println!(
        "{{\"files\": {files}, \"bytes\": {bytes}, \"keys\": {}, \"regex_look_alikes\": {}, \"other_look_alikes\": {}}}",
        planted.keys, planted.regex_look_alikes, planted.other_look_alikes
    );
}
