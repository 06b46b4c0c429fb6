//! [`WebhookStore`] on SQLite: endpoints, the outbox fanned out into deliveries, claiming and
//! finishing deliveries, the delivery log, and the reminders sent (migration 0003).
//!
//! The outbox is written by `insert_events` (`sqlite.rs`) in the transaction of every change;
//! this module only reads it. Like every write of this backend, each method that changes
//! something is one `BEGIN IMMEDIATE` transaction, which holds the database's write lock from
//! its first statement. That lock is what makes the queue operations safe between concurrent
//! callers (and between processes sharing the file): a dispatcher reads the undispatched
//! events and marks them dispatched before any other writer can read them, so each event is
//! dispatched once, and a claimer reads the due deliveries and sets their lease before any
//! other claimer can see them unleased.
//!
//! Reminder candidates are the active keys for which `reminders::due` would name a reminder
//! not yet recorded: the same thresholds, written in SQL over microseconds, so that a key
//! holding every marker that applies is not read again on the next run.

use super::audit::micros_up;
use super::codec::{
    self, attempt_columns_of_t, delivery_columns, delivery_columns_of_d, endpoint_columns,
    event_columns, id_text, ids_json, key_columns, micros, opt_micros, subscription_json,
};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, insert_outbox_row, page_limit};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, DeliveryId, EndpointId, EventId, KeyId};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{
    Attempt, AttemptResult, Backlog, ClaimedDelivery, Delivery, EndpointUpdate, LoggedAttempt,
    ReminderCandidate, StoreError, WebhookStore,
};
use keywarden_core::webhook::reminders::Reminder;
use keywarden_core::webhook::{Endpoint, EndpointState, EventType};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::slice;
use time::OffsetDateTime;
use uuid::Uuid;

/// Microseconds in a day and in a week: the thresholds of the expiry reminders.
const DAY_US: i64 = 86_400_000_000;
const WEEK_US: i64 = 7 * DAY_US;
/// Rotation periods are clamped to this many days in SQL, so that the product with
/// [`DAY_US`] stays an integer; a key would have to be 2,700 years old to tell the difference.
const MAX_PERIOD_DAYS: i64 = 1_000_000;

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_endpoint(
        &self,
        endpoint: &Endpoint,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let (previous_secret, previous_until) = match &endpoint.previous_secret {
            Some((secret, until)) => (Some(secret.as_slice()), Some(*until)),
            None => (None, None),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO webhook_endpoints (",
            endpoint_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id_text(endpoint.id.0))
        .bind(id_text(endpoint.account_id.0))
        .bind(&endpoint.url)
        .bind(&endpoint.description)
        .bind(subscription_json(&endpoint.events)?)
        .bind(endpoint.state.as_str())
        .bind(endpoint.sealed_secret.as_slice())
        .bind(previous_secret)
        .bind(opt_micros(previous_until)?)
        .bind(micros(endpoint.created_at)?)
        .bind(micros(endpoint.updated_at)?)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE id = ? AND account_id = ?"
        ))
        .bind(id_text(id.0))
        .bind(id_text(account_id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::endpoint_from_row).transpose()
    }

    async fn endpoints_of_account(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(id_text(account_id.0))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(codec::endpoint_from_row).collect()
    }

    async fn update_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        update: &EndpointUpdate,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Endpoint, StoreError> {
        let events = update.events.as_ref().map(subscription_json).transpose()?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "UPDATE webhook_endpoints SET url = COALESCE(?1, url), \
             description = COALESCE(?2, description), events = COALESCE(?3, events), \
             state = COALESCE(?4, state), updated_at = ?5 \
             WHERE id = ?6 AND account_id = ?7 RETURNING ",
            endpoint_columns!()
        ))
        .bind(update.url.as_deref())
        .bind(update.description.as_deref())
        .bind(events)
        .bind(update.state.map(EndpointState::as_str))
        .bind(micros(at)?)
        .bind(id_text(id.0))
        .bind(id_text(account_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let endpoint = row
            .as_ref()
            .map(codec::endpoint_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(endpoint)
    }

    async fn rotate_endpoint_secret(
        &self,
        account_id: AccountId,
        id: EndpointId,
        sealed_secret: &[u8],
        previous_until: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Endpoint, StoreError> {
        let mut tx = self.begin_write().await?;
        // The right-hand sides read the row as it was: the current secret becomes the previous.
        let row = sqlx::query(concat!(
            "UPDATE webhook_endpoints SET previous_secret = sealed_secret, previous_until = ?1, \
             sealed_secret = ?2, updated_at = ?3 WHERE id = ?4 AND account_id = ?5 RETURNING ",
            endpoint_columns!()
        ))
        .bind(micros(previous_until)?)
        .bind(sealed_secret)
        .bind(micros(event.at)?)
        .bind(id_text(id.0))
        .bind(id_text(account_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let endpoint = row
            .as_ref()
            .map(codec::endpoint_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(endpoint)
    }

    async fn delete_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Deliveries, their attempts and an undispatched test event go with it (ON DELETE
        // CASCADE, migration 0003).
        let deleted = sqlx::query("DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ?")
            .bind(id_text(id.0))
            .bind(id_text(account_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn queue_test_event(
        &self,
        account_id: AccountId,
        endpoint_id: EndpointId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        if event.account_id != account_id {
            return Err(StoreError::Other(
                "a test event must belong to the endpoint's account".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM webhook_endpoints WHERE id = ? AND account_id = ?")
                .bind(id_text(endpoint_id.0))
                .bind(id_text(account_id.0))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        insert_events(&mut tx, slice::from_ref(event)).await?;
        insert_outbox_row(&mut tx, event, EventType::WebhookTest, Some(endpoint_id)).await?;
        commit(tx).await
    }

    async fn dispatch_events(&self, now: OffsetDateTime, limit: u32) -> Result<u32, StoreError> {
        let now_us = micros(now)?;
        // The write lock from the first statement: no other dispatcher reads these rows until
        // they are marked dispatched and committed.
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT event_id, account_id, type, endpoint_id FROM webhook_outbox \
             WHERE dispatched_at IS NULL ORDER BY created_at, event_id LIMIT ?",
        )
        .bind(page_limit(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let outbox = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // The receiving endpoints of each account, read once per batch.
        let mut by_account: HashMap<AccountId, Vec<Endpoint>> = HashMap::new();
        let mut dispatched: u32 = 0;
        for row in &outbox {
            let targets: Vec<EndpointId> = match row.endpoint_id {
                // A test event: its endpoint only, whatever its subscription or state.
                Some(endpoint_id) => vec![endpoint_id],
                None => {
                    if let Entry::Vacant(slot) = by_account.entry(row.account_id) {
                        slot.insert(receiving_endpoints(&mut tx, row.account_id).await?);
                    }
                    by_account
                        .get(&row.account_id)
                        .map(|endpoints| {
                            endpoints
                                .iter()
                                .filter(|e| e.events.wants(row.event_type))
                                .map(|e| e.id)
                                .collect()
                        })
                        .unwrap_or_default()
                }
            };
            for endpoint_id in targets {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, event_type, \
                     attempts, state, next_attempt_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, 0, 'pending', ?5, ?5)",
                )
                .bind(id_text(DeliveryId::new_at(now).0))
                .bind(id_text(row.event_id.0))
                .bind(id_text(endpoint_id.0))
                .bind(row.event_type.as_str())
                .bind(now_us)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            }
            sqlx::query("UPDATE webhook_outbox SET dispatched_at = ? WHERE event_id = ?")
                .bind(now_us)
                .bind(id_text(row.event_id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            dispatched = dispatched.saturating_add(1);
        }
        commit(tx).await?;
        Ok(dispatched)
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now_us = micros(now)?;
        // The write lock from the first statement: no other claimer sees these deliveries
        // unleased once this commits, nor reads them before.
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?1 \
              AND (lease_until IS NULL OR lease_until < ?1) \
              AND (event_type = 'webhook.test' OR endpoint_id NOT IN \
                   (SELECT id FROM webhook_endpoints WHERE state = 'disabled')) \
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))
        .bind(now_us)
        .bind(page_limit(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let deliveries = rows
            .iter()
            .map(codec::delivery_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = ? \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(micros(lease_until)?)
        .bind(ids_json(deliveries.iter().map(|d| d.id.0))?)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;

        let endpoints = endpoints_by_id(&mut tx, deliveries.iter().map(|d| d.endpoint_id)).await?;
        let events = events_by_id(&mut tx, deliveries.iter().map(|d| d.event_id)).await?;
        let keys = keys_by_id(&mut tx, events.values().filter_map(|e| e.key_id)).await?;
        commit(tx).await?;

        deliveries
            .into_iter()
            .map(|delivery| {
                let endpoint = endpoints
                    .get(&delivery.endpoint_id)
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Other(format!(
                            "webhook delivery {} names a missing endpoint",
                            delivery.id
                        ))
                    })?;
                let event = events.get(&delivery.event_id).cloned().ok_or_else(|| {
                    StoreError::Other(format!(
                        "webhook delivery {} names a missing audit event",
                        delivery.id
                    ))
                })?;
                let key = event.key_id.and_then(|k| keys.get(&k).cloned());
                Ok(ClaimedDelivery {
                    delivery,
                    endpoint,
                    event,
                    key,
                })
            })
            .collect()
    }

    async fn finish_attempt(
        &self,
        attempt: &Attempt,
        result: AttemptResult,
    ) -> Result<(), StoreError> {
        let delivery = id_text(attempt.delivery_id.0);
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, number, endpoint_id, at, status, error, \
             duration_ms) SELECT id, ?, endpoint_id, ?, ?, ?, ? FROM webhook_deliveries \
             WHERE id = ?",
        )
        .bind(i64::from(attempt.number))
        .bind(micros(attempt.at)?)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(i64::from(attempt.duration_ms))
        .bind(delivery)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
        if inserted == 0 {
            // Its endpoint was removed meanwhile, and the delivery with it.
            return Err(StoreError::NotFound);
        }
        let endpoint_id: String = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = NULL \
             WHERE id = ? RETURNING endpoint_id",
        )
        .bind(delivery)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let at = micros(attempt.at)?;
        match result {
            AttemptResult::Delivered => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'delivered', next_attempt_at = NULL \
                     WHERE id = ?",
                )
                .bind(delivery)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                sqlx::query(
                    "UPDATE webhook_endpoints SET state = 'active', updated_at = ? \
                     WHERE id = ? AND state = 'failing'",
                )
                .bind(at)
                .bind(&endpoint_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            }
            AttemptResult::RetryAt(next) => {
                // Only while pending: a late answer never reopens a finished delivery.
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = ? \
                     WHERE id = ? AND state = 'pending'",
                )
                .bind(micros(next)?)
                .bind(delivery)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            }
            AttemptResult::GaveUp => {
                let failed = sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL \
                     WHERE id = ? AND state = 'pending'",
                )
                .bind(delivery)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?
                .rows_affected();
                if failed > 0 {
                    // A disabled endpoint stays disabled.
                    sqlx::query(
                        "UPDATE webhook_endpoints SET state = 'failing', updated_at = ? \
                         WHERE id = ? AND state = 'active'",
                    )
                    .bind(at)
                    .bind(&endpoint_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                }
            }
        }
        commit(tx).await
    }

    async fn attempts_of_endpoint(
        &self,
        account_id: AccountId,
        endpoint_id: EndpointId,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<LoggedAttempt>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            delivery_columns_of_d!(),
            ", ",
            attempt_columns_of_t!(),
            " FROM webhook_attempts AS t JOIN webhook_deliveries AS d ON d.id = t.delivery_id \
             WHERE t.endpoint_id = "
        ));
        sql.push_bind(id_text(endpoint_id.0))
            .push(
                " AND EXISTS (SELECT 1 FROM webhook_endpoints AS e \
                 WHERE e.id = t.endpoint_id AND e.account_id = ",
            )
            .push_bind(id_text(account_id.0))
            .push(")");
        if let Some(before) = before {
            sql.push(" AND t.at < ").push_bind(micros_up(before)?);
        }
        sql.push(" ORDER BY t.at DESC, t.delivery_id DESC, t.number DESC LIMIT ")
            .push_bind(page_limit(limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(LoggedAttempt {
                    delivery: codec::delivery_from_row(row)?,
                    attempt: codec::attempt_from_row(row)?,
                })
            })
            .collect()
    }

    async fn retry_delivery(
        &self,
        account_id: AccountId,
        delivery_id: DeliveryId,
        now: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Delivery, StoreError> {
        let mut tx = self.begin_write().await?;
        // The lease stays: a delivery being sent right now is not sent twice at once.
        let row = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? \
             WHERE id = ? AND endpoint_id IN \
                 (SELECT id FROM webhook_endpoints WHERE account_id = ?) \
             RETURNING ",
            delivery_columns!()
        ))
        .bind(micros(now)?)
        .bind(id_text(delivery_id.0))
        .bind(id_text(account_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let delivery = row
            .as_ref()
            .map(codec::delivery_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(delivery)
    }

    async fn webhook_backlog(&self) -> Result<Backlog, StoreError> {
        // min() of several arguments is NULL if any is: each side stands in for a missing other.
        let row = sqlx::query(
            "SELECT o.n + d.n AS queued, \
                    min(coalesce(o.oldest, d.oldest), coalesce(d.oldest, o.oldest)) AS oldest \
             FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM webhook_outbox \
                   WHERE dispatched_at IS NULL) AS o, \
                  (SELECT count(*) AS n, min(created_at) AS oldest FROM webhook_deliveries \
                   WHERE state = 'pending') AS d",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let queued: i64 = row.try_get("queued").map_err(map_sqlx)?;
        let oldest: Option<i64> = row.try_get("oldest").map_err(map_sqlx)?;
        Ok(Backlog {
            queued: u64::try_from(queued).unwrap_or(0),
            oldest: oldest
                .map(|us| codec::from_micros(us, "the webhook backlog's oldest time"))
                .transpose()?,
        })
    }

    async fn reminder_candidates(
        &self,
        now: OffsetDateTime,
        horizon: time::Duration,
        after: Option<KeyId>,
        limit: u32,
    ) -> Result<Vec<ReminderCandidate>, StoreError> {
        let now_us = micros(now)?;
        let until = now.checked_add(horizon).ok_or_else(|| {
            StoreError::Other(format!("{now} + {horizon} is out of the storable range"))
        })?;
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT k.*, a.rotation_period_days AS reminder_period_days \
             FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id \
             WHERE k.lifecycle = 'active'",
        );
        if let Some(after) = after {
            sql.push(" AND k.id > ").push_bind(id_text(after.0));
        }
        // The reminders of `reminders::due`, each only while its marker is missing.
        sql.push(" AND ((k.expires_at <= ")
            .push_bind(micros(until)?)
            .push(" AND ((k.expires_at <= ")
            .push_bind(now_us)
            .push(
                " AND NOT EXISTS (SELECT 1 FROM webhook_reminders_sent AS r \
                 WHERE r.key_id = k.id AND r.reminder = ",
            )
            .push_bind(Reminder::Expired.as_str())
            .push("))");
        for (reminder, before_us) in [
            (Reminder::ExpiresInSevenDays, WEEK_US),
            (Reminder::ExpiresInOneDay, DAY_US),
        ] {
            // Due from the threshold (expiry minus 7 days, or 1 day) until the expiry, and only
            // for a key that already existed at the threshold.
            sql.push(" OR (k.expires_at > ")
                .push_bind(now_us)
                .push(" AND k.expires_at - ")
                .push_bind(before_us)
                .push(" <= ")
                .push_bind(now_us)
                .push(" AND k.created_at <= k.expires_at - ")
                .push_bind(before_us)
                .push(
                    " AND NOT EXISTS (SELECT 1 FROM webhook_reminders_sent AS r \
                     WHERE r.key_id = k.id AND r.reminder = ",
                )
                .push_bind(reminder.as_str())
                .push("))");
        }
        // Rotation: at least the account's period old, and not expired.
        sql.push(")) OR ((k.expires_at IS NULL OR k.expires_at > ")
            .push_bind(now_us)
            .push(") AND k.created_at <= ")
            .push_bind(now_us)
            .push(" - min(a.rotation_period_days, ")
            .push_bind(MAX_PERIOD_DAYS)
            .push(") * ")
            .push_bind(DAY_US)
            .push(
                " AND NOT EXISTS (SELECT 1 FROM webhook_reminders_sent AS r \
                 WHERE r.key_id = k.id AND r.reminder = ",
            )
            .push_bind(Reminder::RotationDue.as_str())
            .push("))) ORDER BY k.id LIMIT ")
            .push_bind(page_limit(limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_sqlx)?;
        rows.iter().map(candidate_from_row).collect()
    }

    async fn record_reminder(
        &self,
        key_id: KeyId,
        reminder: Reminder,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_reminders_sent (key_id, reminder, at) VALUES (?, ?, ?) \
             ON CONFLICT (key_id, reminder) DO NOTHING",
        )
        .bind(id_text(key_id.0))
        .bind(reminder.as_str())
        .bind(micros(event.at)?)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
        if inserted == 0 {
            // Sent before: nothing is written (dropping the transaction rolls it back).
            return Ok(false);
        }
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(true)
    }
}

/// An outbox row as the dispatcher reads it.
struct OutboxRow {
    event_id: EventId,
    account_id: AccountId,
    event_type: EventType,
    endpoint_id: Option<EndpointId>,
}

fn outbox_from_row(row: &SqliteRow) -> Result<OutboxRow, StoreError> {
    let text = |column: &str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(column).map_err(map_sqlx)
    };
    let bad = |column: &str, why: &dyn std::fmt::Display| {
        StoreError::Other(format!("webhook_outbox.{column} cannot be read: {why}"))
    };
    let uuid = |column: &str| -> Result<Option<Uuid>, StoreError> {
        text(column)?
            .map(|t| Uuid::parse_str(&t).map_err(|e| bad(column, &e)))
            .transpose()
    };
    let required = |column: &str| -> Result<Uuid, StoreError> {
        uuid(column)?.ok_or_else(|| bad(column, &"NULL"))
    };
    let type_name = text("type")?.unwrap_or_default();
    Ok(OutboxRow {
        event_id: EventId(required("event_id")?),
        account_id: AccountId(required("account_id")?),
        event_type: EventType::from_name(&type_name)
            .ok_or_else(|| bad("type", &format!("unknown value '{type_name}'")))?,
        endpoint_id: uuid("endpoint_id")?.map(EndpointId),
    })
}

/// A row of [`WebhookStore::reminder_candidates`]: a key and its account's period.
fn candidate_from_row(row: &SqliteRow) -> Result<ReminderCandidate, StoreError> {
    let key = codec::key_from_row(row)?;
    let days: i64 = row.try_get("reminder_period_days").map_err(map_sqlx)?;
    Ok(ReminderCandidate {
        rotation_period_days: u32::try_from(days).map_err(|_| {
            StoreError::Other(format!(
                "accounts.rotation_period_days of key {} reads {days}",
                key.id
            ))
        })?,
        key,
    })
}

/// The account's endpoints that receive new events (every state but `disabled`).
async fn receiving_endpoints(
    conn: &mut SqliteConnection,
    account_id: AccountId,
) -> Result<Vec<Endpoint>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE account_id = ? AND state <> 'disabled' \
         ORDER BY created_at, id"
    ))
    .bind(id_text(account_id.0))
    .fetch_all(conn)
    .await
    .map_err(map_sqlx)?;
    rows.iter().map(codec::endpoint_from_row).collect()
}

async fn endpoints_by_id(
    conn: &mut SqliteConnection,
    ids: impl Iterator<Item = EndpointId>,
) -> Result<HashMap<EndpointId, Endpoint>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE id IN (SELECT value FROM json_each(?))"
    ))
    .bind(ids_json(ids.map(|id| id.0))?)
    .fetch_all(conn)
    .await
    .map_err(map_sqlx)?;
    rows.iter()
        .map(|row| codec::endpoint_from_row(row).map(|e| (e.id, e)))
        .collect()
}

async fn events_by_id(
    conn: &mut SqliteConnection,
    ids: impl Iterator<Item = EventId>,
) -> Result<HashMap<EventId, AuditEvent>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE id IN (SELECT value FROM json_each(?))"
    ))
    .bind(ids_json(ids.map(|id| id.0))?)
    .fetch_all(conn)
    .await
    .map_err(map_sqlx)?;
    rows.iter()
        .map(|row| codec::event_from_row(row).map(|e| (e.id, e)))
        .collect()
}

async fn keys_by_id(
    conn: &mut SqliteConnection,
    ids: impl Iterator<Item = KeyId>,
) -> Result<HashMap<KeyId, KeyRecord>, StoreError> {
    let ids: Vec<Uuid> = ids.map(|id| id.0).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id IN (SELECT value FROM json_each(?))"
    ))
    .bind(ids_json(ids)?)
    .fetch_all(conn)
    .await
    .map_err(map_sqlx)?;
    rows.iter()
        .map(|row| codec::key_from_row(row).map(|k| (k.id, k)))
        .collect()
}
