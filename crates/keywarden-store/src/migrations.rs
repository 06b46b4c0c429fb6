//! The schema migrations of both backends, compiled into the binary with `include_str!` and
//! handed to sqlx's migrator. They are listed here rather than found by `sqlx::migrate!`, whose
//! proc macro builds a second copy of sqlx — drivers, the bundled SQLite and the TLS provider —
//! for the compiler's host, a large share of a cold build. A test checks that each list holds
//! exactly the files of its folder, read the way sqlx reads them (same versions, descriptions
//! and checksums), so existing databases see the same migrations.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One migration file: its name (`<version>_<description>.sql`) and its SQL.
pub(crate) type File = (&'static str, &'static str);

macro_rules! files {
    ($folder:literal: $($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../migrations/", $folder, "/", $name)))),+]
    };
}

/// `migrations/sqlite/`, oldest first.
pub(crate) const SQLITE: &[File] = files!(
    "sqlite": "0001_initial.sql",
    "0002_console.sql",
    "0003_webhooks.sql",
    "0004_key_policy.sql",
    "0005_usage_counts.sql",
    "0006_account_key_policy.sql",
    "0007_key_usage.sql",
    "0008_key_leaks.sql",
    "0009_canary_trips.sql",
    "0010_key_orders.sql",
);

/// `migrations/postgres/`, oldest first.
pub(crate) const POSTGRES: &[File] = files!(
    "postgres": "0001_initial.sql",
    "0002_webhooks.sql",
    "0003_key_policy.sql",
    "0004_usage_counts.sql",
    "0005_account_key_policy.sql",
    "0006_key_usage.sql",
    "0007_key_leaks.sql",
    "0008_canary_trips.sql",
    "0009_key_orders.sql",
);

/// The migrator for `files`, as `sqlx::migrate!` would build it from their folder.
pub(crate) fn migrator(files: &[File]) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|&(name, sql)| migration(name, sql))
            .collect(),
    )
}

fn migration(name: &'static str, sql: &'static str) -> Migration {
    // `<version>_<description>.sql`, as sqlx names them; the names are this file's own
    // constants, checked by the test below, so a malformed one is a build-time mistake.
    let (version, rest) = name.split_once('_').unwrap_or(("0", name));
    let version = version.parse().unwrap_or(0);
    let description = rest.trim_end_matches(".sql").replace('_', " ");
    let no_tx = sql.starts_with("-- no-transaction");
    Migration::new(
        version,
        description.into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        no_tx,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    async fn as_sqlx_reads(folder: &str, files: &[File]) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder);
        let from_folder = Migrator::new(dir.as_path()).await.unwrap();
        let listed = migrator(files);
        let summary = |m: &Migrator| {
            m.iter()
                .map(|m| {
                    (
                        m.version,
                        m.description.to_string(),
                        m.checksum.to_vec(),
                        m.no_tx,
                        m.migration_type,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            summary(&listed),
            summary(&from_folder),
            "migrations/{folder}/ and its list in migrations.rs differ: list every file, in order"
        );
        assert!(listed.iter().all(|m| m.version > 0));
    }

    #[tokio::test]
    async fn each_list_is_its_folder_as_sqlx_reads_it() {
        as_sqlx_reads("sqlite", SQLITE).await;
        as_sqlx_reads("postgres", POSTGRES).await;
    }
}
