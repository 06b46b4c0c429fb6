//! The one place where sqlx and SQLite errors become [`StoreError`]s.
//!
//! SQLite messages name tables and columns, never bound values, so no message carries a
//! digest, a password hash or anything else a caller sent. (There is no plain secret in
//! storage to leak anyway.)

use keywarden_core::store::StoreError;
use sqlx::error::ErrorKind;

/// SQLite primary result codes (the low byte of an extended code) that mean "try again".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;

/// For unique indexes on plain columns SQLite names the columns, not the index
/// (`UNIQUE constraint failed: users.email`); this turns them back into the index names of
/// the migration, which are what callers match on.
const UNIQUE_RULES: [(&str, &str); 7] = [
    (
        "api_keys.account_id, api_keys.mode",
        "one_active_standard_key_per_mode",
    ),
    ("users.email", "users_email_unique"),
    ("api_keys.digest", "api_keys_digest_unique"),
    ("api_keys.change_seq", "api_keys_change_seq"),
    // The primary key of recovery_codes (0002): one user's codes are distinct.
    (
        "recovery_codes.user_id, recovery_codes.code_hash",
        "recovery_codes_unique",
    ),
    // 0003: an event goes to an endpoint once, and an attempt is recorded once (the primary
    // key of webhook_attempts).
    (
        "webhook_deliveries.event_id, webhook_deliveries.endpoint_id",
        "webhook_deliveries_unique",
    ),
    (
        "webhook_attempts.delivery_id, webhook_attempts.number",
        "webhook_attempts_unique",
    ),
];

/// Maps any sqlx error to the store's terms.
pub(crate) fn map_sqlx(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(db) => {
            let message = db.message().to_owned();
            match db.kind() {
                ErrorKind::UniqueViolation => {
                    let columns = message
                        .strip_prefix("UNIQUE constraint failed: ")
                        .unwrap_or(&message);
                    let rule = UNIQUE_RULES
                        .iter()
                        .find(|(cols, _)| *cols == columns)
                        .map_or(message.as_str(), |(_, name)| name);
                    StoreError::Conflict(rule.to_owned())
                }
                ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation
                | ErrorKind::ExclusionViolation => StoreError::Conflict(message),
                _ => {
                    let primary = db
                        .code()
                        .and_then(|code| code.parse::<i64>().ok())
                        .map(|code| code & 0xff);
                    match primary {
                        Some(
                            SQLITE_BUSY | SQLITE_LOCKED | SQLITE_NOMEM | SQLITE_IOERR | SQLITE_FULL
                            | SQLITE_CANTOPEN | SQLITE_PROTOCOL,
                        ) => StoreError::Unavailable(message),
                        _ => StoreError::Other(message),
                    }
                }
            }
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("database i/o: {e}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("no database connection became free in time".into())
        }
        sqlx::Error::PoolClosed => {
            StoreError::Unavailable("the database connection pool is closed".into())
        }
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection worker stopped".into())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// Maps a migration failure; the database errors inside are mapped like any other.
pub(crate) fn map_migrate(error: sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(e) => match map_sqlx(e) {
            StoreError::Unavailable(m) => StoreError::Unavailable(m),
            other => StoreError::Other(format!("migrating the database failed: {other}")),
        },
        other => StoreError::Other(format!("migrating the database failed: {other}")),
    }
}
