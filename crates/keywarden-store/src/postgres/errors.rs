//! The one place where sqlx and PostgreSQL errors become [`StoreError`]s.
//!
//! PostgreSQL reports a broken rule with its SQLSTATE and the name of the constraint (for a
//! unique index: the index name), so a conflict is reported by that name, which is also the
//! name the SQLite backend reports (`users_email_unique`, `one_active_standard_key_per_mode`,
//! `api_keys_digest_unique`, …). Only the primary message is ever used, never the DETAIL
//! (which would quote the offending values), and no message here repeats the database URL,
//! which may carry a password.

use keywarden_core::store::StoreError;
use sqlx::error::{DatabaseError, ErrorKind};

/// SQLSTATE `serialization_failure`: the transaction was rolled back and may simply be run again.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`: the transaction was rolled back to break a deadlock.
const DEADLOCK_DETECTED: &str = "40P01";

/// SQLSTATE classes and codes that mean "the database cannot serve now; try again later":
/// connection exceptions (08), insufficient resources (53: disk full, out of memory, too many
/// connections), operator intervention (57: shutdown, cancelled, cannot connect now), system
/// errors (58), and a read-only transaction (25006: the server is a standby, e.g. during a
/// failover).
fn means_unavailable(code: &str) -> bool {
    ["08", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "25006"
}

/// A failure inside a write transaction: the [`StoreError`] it stands for, and whether the
/// database rolled the transaction back only to resolve a clash with a concurrent one
/// (serialization failure, deadlock), so that running it again may succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: StoreError,
    pub(crate) transient: bool,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure {
            error,
            transient: false,
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        let transient = matches!(
            &error,
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED))
        );
        Failure {
            error: map_sqlx(error),
            transient,
        }
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

/// Maps any sqlx error to the store's terms.
pub(crate) fn map_sqlx(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(db) => map_database(db.as_ref()),
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("database i/o: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("database TLS: {e}")),
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(
            "no database connection became free (or could be opened) in time".into(),
        ),
        sqlx::Error::PoolClosed => {
            StoreError::Unavailable("the database connection pool is closed".into())
        }
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection worker stopped".into())
        }
        // The connection broke off in a way the protocol did not expect: most often a proxy or
        // pooler in front of a database that is down (it accepts, then closes at once). A new
        // connection is the remedy, so the caller is told to retry, not that we failed.
        sqlx::Error::Protocol(e) => {
            StoreError::Unavailable(format!("the database connection broke off: {e}"))
        }
        // The variants that remain (decoding, protocol, configuration) carry no URL: sqlx
        // parses the URL into options before any of them can arise, and its URL errors name
        // the part that is wrong, not the URL.
        other => StoreError::Other(other.to_string()),
    }
}

fn map_database(db: &dyn DatabaseError) -> StoreError {
    let message = db.message().to_owned();
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match db.kind() {
        // A broken rule: named by its constraint (for unique indexes, the index name).
        ErrorKind::UniqueViolation
        | ErrorKind::ForeignKeyViolation
        | ErrorKind::CheckViolation
        | ErrorKind::ExclusionViolation => {
            StoreError::Conflict(db.constraint().map_or(message, str::to_owned))
        }
        ErrorKind::NotNullViolation => StoreError::Conflict(message),
        _ if code == SERIALIZATION_FAILURE || code == DEADLOCK_DETECTED => {
            StoreError::Unavailable(format!(
                "the database kept aborting the transaction because of concurrent ones \
                 ({message}); try again"
            ))
        }
        _ if means_unavailable(&code) => StoreError::Unavailable(message),
        _ => StoreError::Other(if code.is_empty() {
            message
        } else {
            format!("{message} (SQLSTATE {code})")
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_classes() {
        for code in [
            "08006", "08001", "53300", "53100", "57P01", "57014", "58030", "25006",
        ] {
            assert!(means_unavailable(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "22008", "28P01", "3D000", ""] {
            assert!(!means_unavailable(code), "{code}");
        }
    }

    #[test]
    fn pool_and_io_failures_are_unavailable() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
        ] {
            let failure = Failure::from(error);
            assert!(!failure.transient);
            assert!(
                matches!(failure.error, StoreError::Unavailable(_)),
                "{:?}",
                failure.error
            );
        }
        assert!(matches!(
            map_sqlx(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }
}
