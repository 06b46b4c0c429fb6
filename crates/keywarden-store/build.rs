//! `sqlx::migrate!` embeds the files of `migrations/sqlite/` at compile time; this makes
//! cargo rebuild the crate when a migration is added or changed.

#![allow(clippy::print_stdout)] // talking to cargo is what a build script's stdout is for

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
