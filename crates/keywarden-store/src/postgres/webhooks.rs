//! [`WebhookStore`] on PostgreSQL: endpoints, the outbox fanned out into deliveries, claiming
//! and finishing deliveries, the delivery log, and the reminders sent (migration 0002).
//!
//! The outbox is written by `insert_events` (`postgres.rs`) in the transaction of every
//! change; this module only reads it. Several instances run the queue operations at once:
//! - Dispatching locks the oldest undispatched outbox rows `FOR UPDATE SKIP LOCKED`: instances
//!   take disjoint rows, and a row another instance dispatched meanwhile fails the re-check of
//!   `dispatched_at IS NULL` that PostgreSQL makes on the committed row before locking it. So
//!   each event is dispatched once. The receiving endpoints are read `FOR KEY SHARE`, so an
//!   endpoint removed meanwhile is either skipped or waits for the deliveries to be inserted
//!   (and then takes them with it).
//! - Claiming locks due deliveries the same way and sets their lease in the same statement,
//!   so two instances never claim the same delivery.
//! - Finishing an attempt first takes `FOR KEY SHARE` on the delivery's endpoint, the lock
//!   removing the endpoint must wait for, so the two cannot deadlock over the delivery row.
//!
//! Reminder candidates are the active keys for which `reminders::due` would name a reminder
//! not yet recorded: the same thresholds, in absolute hours (never `days`, which PostgreSQL
//! adds in the session's time zone, across daylight saving changes), so that a key holding
//! every marker that applies is not read again on the next run.

use super::codec::{
    self, attempt_columns_of_t, delivery_columns_of_d, endpoint_columns, event_columns,
    key_columns, opt_pg_time, pg_time, pg_time_up,
};
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, insert_events, insert_outbox_row, page_limit};
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
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::HashMap;
use std::slice;
use time::OffsetDateTime;
use uuid::Uuid;

/// Rotation periods are clamped to this many days in SQL, so that their hours fit the
/// `integer` of `make_interval`; a key would have to be 2,700 years old to tell the difference.
const MAX_PERIOD_DAYS: i64 = 1_000_000;

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_endpoint(
        &self,
        endpoint: &Endpoint,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let (previous_secret, previous_until) = match &endpoint.previous_secret {
            Some((secret, until)) => (Some(secret.as_slice()), Some(*until)),
            None => (None, None),
        };
        let events = endpoint.events.names();
        in_transaction!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO webhook_endpoints (",
                endpoint_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(endpoint.id.0)
            .bind(endpoint.account_id.0)
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(&events)
            .bind(endpoint.state.as_str())
            .bind(endpoint.sealed_secret.as_slice())
            .bind(previous_secret)
            .bind(opt_pg_time(previous_until))
            .bind(pg_time(endpoint.created_at))
            .bind(pg_time(endpoint.updated_at))
            .execute(&mut *tx)
            .await?;
            insert_events(tx, slice::from_ref(event)).await
        })
    }

    async fn endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE id = $1 AND account_id = $2"
        ))
        .bind(id.0)
        .bind(account_id.0)
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
            " FROM webhook_endpoints WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id.0)
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
        let events = update.events.as_ref().map(|e| e.names());
        in_transaction!(self, |tx| {
            let row = sqlx::query(concat!(
                "UPDATE webhook_endpoints SET url = COALESCE($1, url), \
                 description = COALESCE($2, description), \
                 events = COALESCE($3::text[], events), state = COALESCE($4, state), \
                 updated_at = $5 WHERE id = $6 AND account_id = $7 RETURNING ",
                endpoint_columns!()
            ))
            .bind(update.url.as_deref())
            .bind(update.description.as_deref())
            .bind(events.as_ref())
            .bind(update.state.map(EndpointState::as_str))
            .bind(pg_time(at))
            .bind(id.0)
            .bind(account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound.into());
            };
            let endpoint = codec::endpoint_from_row(&row)?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(endpoint)
        })
    }

    async fn rotate_endpoint_secret(
        &self,
        account_id: AccountId,
        id: EndpointId,
        sealed_secret: &[u8],
        previous_until: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Endpoint, StoreError> {
        in_transaction!(self, |tx| {
            // The right-hand sides read the row as it was: the current secret becomes the
            // previous one.
            let row = sqlx::query(concat!(
                "UPDATE webhook_endpoints SET previous_secret = sealed_secret, \
                 previous_until = $1, sealed_secret = $2, updated_at = $3 \
                 WHERE id = $4 AND account_id = $5 RETURNING ",
                endpoint_columns!()
            ))
            .bind(pg_time(previous_until))
            .bind(sealed_secret)
            .bind(pg_time(event.at))
            .bind(id.0)
            .bind(account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound.into());
            };
            let endpoint = codec::endpoint_from_row(&row)?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(endpoint)
        })
    }

    async fn delete_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            // Deliveries, their attempts and an undispatched test event go with it (ON DELETE
            // CASCADE, migration 0002).
            let deleted =
                sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2")
                    .bind(id.0)
                    .bind(account_id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            insert_events(tx, slice::from_ref(event)).await
        })
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
        in_transaction!(self, |tx| {
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND account_id = $2 \
                 FOR KEY SHARE",
            )
            .bind(endpoint_id.0)
            .bind(account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            if found.is_none() {
                return Err(StoreError::NotFound.into());
            }
            insert_events(tx, slice::from_ref(event)).await?;
            insert_outbox_row(tx, event, EventType::WebhookTest, Some(endpoint_id)).await
        })
    }

    async fn dispatch_events(&self, now: OffsetDateTime, limit: u32) -> Result<u32, StoreError> {
        let now = pg_time(now);
        in_transaction!(self, |tx| {
            let rows = sqlx::query(
                "SELECT event_id, account_id, type, endpoint_id FROM webhook_outbox \
                 WHERE dispatched_at IS NULL ORDER BY created_at, event_id LIMIT $1 \
                 FOR UPDATE SKIP LOCKED",
            )
            .bind(page_limit(limit))
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                // Nothing was written: ending here rolls back nothing but the read.
                return Ok(0);
            }
            let outbox = rows
                .iter()
                .map(outbox_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let endpoints = receiving_endpoints(tx, &outbox).await?;

            let mut ids = Vec::new();
            let mut event_ids = Vec::new();
            let mut endpoint_ids = Vec::new();
            let mut types = Vec::new();
            for row in &outbox {
                let targets = endpoints.iter().filter(|e| match row.endpoint_id {
                    // A test event: its endpoint only, whatever its subscription or state.
                    Some(only) => e.id == only,
                    None => {
                        e.account_id == row.account_id
                            && e.state != EndpointState::Disabled
                            && e.events.wants(row.event_type)
                    }
                });
                for endpoint in targets {
                    ids.push(DeliveryId::new_at(now).0);
                    event_ids.push(row.event_id.0);
                    endpoint_ids.push(endpoint.id.0);
                    types.push(row.event_type.as_str());
                }
            }
            if !ids.is_empty() {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, event_type, \
                     attempts, state, next_attempt_at, created_at) \
                     SELECT u.id, u.event_id, u.endpoint_id, u.event_type, 0, 'pending', $5, $5 \
                     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) \
                         AS u (id, event_id, endpoint_id, event_type)",
                )
                .bind(&ids)
                .bind(&event_ids)
                .bind(&endpoint_ids)
                .bind(&types)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let dispatched: Vec<Uuid> = outbox.iter().map(|row| row.event_id.0).collect();
            sqlx::query("UPDATE webhook_outbox SET dispatched_at = $1 WHERE event_id = ANY($2)")
                .bind(now)
                .bind(&dispatched)
                .execute(&mut *tx)
                .await?;
            Ok(u32::try_from(dispatched.len()).unwrap_or(u32::MAX))
        })
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = pg_time(now);
        in_transaction!(self, |tx| {
            let rows = sqlx::query(concat!(
                "WITH due AS (\
                     SELECT id FROM webhook_deliveries \
                     WHERE state = 'pending' AND next_attempt_at <= $1 \
                       AND (lease_until IS NULL OR lease_until < $1) \
                       AND (event_type = 'webhook.test' OR endpoint_id NOT IN \
                            (SELECT id FROM webhook_endpoints WHERE state = 'disabled')) \
                     ORDER BY next_attempt_at, id LIMIT $3 \
                     FOR UPDATE SKIP LOCKED) \
                 UPDATE webhook_deliveries AS d SET lease_until = $2 FROM due \
                 WHERE d.id = due.id RETURNING ",
                delivery_columns_of_d!()
            ))
            .bind(now)
            .bind(pg_time(lease_until))
            .bind(page_limit(limit))
            .fetch_all(&mut *tx)
            .await?;
            let mut deliveries = rows
                .iter()
                .map(codec::delivery_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if deliveries.is_empty() {
                return Ok(Vec::new());
            }
            // RETURNING keeps no order: oldest due first again.
            deliveries.sort_by_key(|d| (d.next_attempt_at, d.id));

            let endpoint_ids: Vec<Uuid> = deliveries.iter().map(|d| d.endpoint_id.0).collect();
            let endpoints = endpoints_by_id(tx, &endpoint_ids).await?;
            let event_ids: Vec<Uuid> = deliveries.iter().map(|d| d.event_id.0).collect();
            let events = events_by_id(tx, &event_ids).await?;
            let key_ids: Vec<Uuid> = events
                .values()
                .filter_map(|e| e.key_id)
                .map(|k| k.0)
                .collect();
            let keys = keys_by_id(tx, &key_ids).await?;

            let mut claimed = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
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
                claimed.push(ClaimedDelivery {
                    delivery,
                    endpoint,
                    event,
                    key,
                });
            }
            Ok(claimed)
        })
    }

    async fn finish_attempt(
        &self,
        attempt: &Attempt,
        result: AttemptResult,
    ) -> Result<(), StoreError> {
        let delivery = attempt.delivery_id.0;
        let at = pg_time(attempt.at);
        in_transaction!(self, |tx| {
            // The endpoint first, in the lock its removal waits for (see the module
            // documentation); a delivery whose endpoint was removed meanwhile is gone.
            let endpoint_id: Option<Uuid> = sqlx::query_scalar(
                "SELECT e.id FROM webhook_deliveries AS d \
                 JOIN webhook_endpoints AS e ON e.id = d.endpoint_id \
                 WHERE d.id = $1 FOR KEY SHARE OF e",
            )
            .bind(delivery)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(endpoint_id) = endpoint_id else {
                return Err(StoreError::NotFound.into());
            };
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, number, endpoint_id, at, status, \
                 error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(delivery)
            .bind(i64::from(attempt.number))
            .bind(endpoint_id)
            .bind(at)
            .bind(attempt.status.map(i32::from))
            .bind(attempt.error.as_deref())
            .bind(i64::from(attempt.duration_ms))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = NULL \
                 WHERE id = $1",
            )
            .bind(delivery)
            .execute(&mut *tx)
            .await?;
            match result {
                AttemptResult::Delivered => {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = 'delivered', \
                         next_attempt_at = NULL WHERE id = $1",
                    )
                    .bind(delivery)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE webhook_endpoints SET state = 'active', updated_at = $1 \
                         WHERE id = $2 AND state = 'failing'",
                    )
                    .bind(at)
                    .bind(endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                }
                AttemptResult::RetryAt(next) => {
                    // Only while pending: a late answer never reopens a finished delivery.
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                         WHERE id = $2 AND state = 'pending'",
                    )
                    .bind(pg_time(next))
                    .bind(delivery)
                    .execute(&mut *tx)
                    .await?;
                }
                AttemptResult::GaveUp => {
                    let failed = sqlx::query(
                        "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL \
                         WHERE id = $1 AND state = 'pending'",
                    )
                    .bind(delivery)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if failed > 0 {
                        // A disabled endpoint stays disabled.
                        sqlx::query(
                            "UPDATE webhook_endpoints SET state = 'failing', updated_at = $1 \
                             WHERE id = $2 AND state = 'active'",
                        )
                        .bind(at)
                        .bind(endpoint_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            Ok(())
        })
    }

    async fn attempts_of_endpoint(
        &self,
        account_id: AccountId,
        endpoint_id: EndpointId,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<LoggedAttempt>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            delivery_columns_of_d!(),
            ", ",
            attempt_columns_of_t!(),
            " FROM webhook_attempts AS t JOIN webhook_deliveries AS d ON d.id = t.delivery_id \
             WHERE t.endpoint_id = "
        ));
        sql.push_bind(endpoint_id.0)
            .push(
                " AND EXISTS (SELECT 1 FROM webhook_endpoints AS e \
                 WHERE e.id = t.endpoint_id AND e.account_id = ",
            )
            .push_bind(account_id.0)
            .push(")");
        if let Some(before) = before {
            sql.push(" AND t.at < ").push_bind(pg_time_up(before)?);
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
        in_transaction!(self, |tx| {
            // The lease stays: a delivery being sent right now is not sent twice at once.
            let row = sqlx::query(concat!(
                "UPDATE webhook_deliveries AS d SET state = 'pending', next_attempt_at = $1 \
                 FROM webhook_endpoints AS e \
                 WHERE d.id = $2 AND e.id = d.endpoint_id AND e.account_id = $3 RETURNING ",
                delivery_columns_of_d!()
            ))
            .bind(pg_time(now))
            .bind(delivery_id.0)
            .bind(account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound.into());
            };
            let delivery = codec::delivery_from_row(&row)?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(delivery)
        })
    }

    async fn webhook_backlog(&self) -> Result<Backlog, StoreError> {
        let row = sqlx::query(
            "SELECT o.n + d.n AS queued, LEAST(o.oldest, d.oldest) AS oldest \
             FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM webhook_outbox \
                   WHERE dispatched_at IS NULL) AS o, \
                  (SELECT count(*) AS n, min(created_at) AS oldest FROM webhook_deliveries \
                   WHERE state = 'pending') AS d",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let queued: i64 = row.try_get("queued").map_err(map_sqlx)?;
        let oldest: Option<OffsetDateTime> = row.try_get("oldest").map_err(map_sqlx)?;
        Ok(Backlog {
            queued: u64::try_from(queued).unwrap_or(0),
            oldest,
        })
    }

    async fn reminder_candidates(
        &self,
        now: OffsetDateTime,
        horizon: time::Duration,
        after: Option<KeyId>,
        limit: u32,
    ) -> Result<Vec<ReminderCandidate>, StoreError> {
        let until = now.checked_add(horizon).ok_or_else(|| {
            StoreError::Other(format!("{now} + {horizon} is out of the storable range"))
        })?;
        let now = pg_time(now);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT k.*, a.rotation_period_days AS reminder_period_days \
             FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id \
             WHERE k.lifecycle = 'active'",
        );
        if let Some(after) = after {
            sql.push(" AND k.id > ").push_bind(after.0);
        }
        // The reminders of `reminders::due`, each only while its marker is missing.
        sql.push(" AND ((k.expires_at <= ")
            .push_bind(pg_time(until))
            .push(" AND ((k.expires_at <= ")
            .push_bind(now)
            .push(
                " AND NOT EXISTS (SELECT 1 FROM webhook_reminders_sent AS r \
                 WHERE r.key_id = k.id AND r.reminder = ",
            )
            .push_bind(Reminder::Expired.as_str())
            .push(")");
        for (reminder, before) in [
            (Reminder::ExpiresInSevenDays, "interval '168 hours'"),
            (Reminder::ExpiresInOneDay, "interval '24 hours'"),
        ] {
            // Due from the threshold (expiry minus 7 days, or 1 day) until the expiry, and only
            // for a key that already existed at the threshold.
            sql.push(") OR (k.expires_at > ")
                .push_bind(now)
                .push(" AND k.expires_at - ")
                .push(before)
                .push(" <= ")
                .push_bind(now)
                .push(" AND k.created_at <= k.expires_at - ")
                .push(before)
                .push(
                    " AND NOT EXISTS (SELECT 1 FROM webhook_reminders_sent AS r \
                     WHERE r.key_id = k.id AND r.reminder = ",
                )
                .push_bind(reminder.as_str())
                .push(")");
        }
        // Rotation: at least the account's period old, and not expired.
        sql.push("))) OR ((k.expires_at IS NULL OR k.expires_at > ")
            .push_bind(now)
            .push(") AND k.created_at <= ")
            .push_bind(now)
            .push(" - make_interval(hours => (LEAST(a.rotation_period_days, ")
            .push_bind(MAX_PERIOD_DAYS)
            .push(") * 24)::integer)")
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
        in_transaction!(self, |tx| {
            // A concurrent insert of the same marker waits for this one's commit, then does
            // nothing.
            let inserted = sqlx::query(
                "INSERT INTO webhook_reminders_sent (key_id, reminder, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key_id, reminder) DO NOTHING",
            )
            .bind(key_id.0)
            .bind(reminder.as_str())
            .bind(pg_time(event.at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                // Sent before: nothing is written (ending here rolls the transaction back).
                return Ok(false);
            }
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(true)
        })
    }
}

/// An outbox row as the dispatcher reads it.
struct OutboxRow {
    event_id: EventId,
    account_id: AccountId,
    event_type: EventType,
    endpoint_id: Option<EndpointId>,
}

fn outbox_from_row(row: &PgRow) -> Result<OutboxRow, StoreError> {
    let type_name: String = row.try_get("type").map_err(map_sqlx)?;
    Ok(OutboxRow {
        event_id: EventId(row.try_get("event_id").map_err(map_sqlx)?),
        account_id: AccountId(row.try_get("account_id").map_err(map_sqlx)?),
        event_type: EventType::from_name(&type_name).ok_or_else(|| {
            StoreError::Other(format!(
                "webhook_outbox.type cannot be read: unknown value '{type_name}'"
            ))
        })?,
        endpoint_id: row
            .try_get::<Option<Uuid>, _>("endpoint_id")
            .map_err(map_sqlx)?
            .map(EndpointId),
    })
}

/// A row of [`WebhookStore::reminder_candidates`]: a key and its account's period.
fn candidate_from_row(row: &PgRow) -> Result<ReminderCandidate, StoreError> {
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

/// The endpoints the outbox rows may go to: those of their accounts that are not disabled,
/// and the endpoints of test events (whatever their state). Locked `FOR KEY SHARE`: one being
/// removed is waited for and then skipped; one not yet being removed stays until the
/// deliveries referring to it are committed.
async fn receiving_endpoints(
    conn: &mut PgConnection,
    outbox: &[OutboxRow],
) -> Result<Vec<Endpoint>, Failure> {
    let mut accounts: Vec<Uuid> = outbox
        .iter()
        .filter(|row| row.endpoint_id.is_none())
        .map(|row| row.account_id.0)
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let tested: Vec<Uuid> = outbox
        .iter()
        .filter_map(|row| row.endpoint_id.map(|id| id.0))
        .collect();
    let rows = sqlx::query(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints \
         WHERE (account_id = ANY($1) AND state <> 'disabled') OR id = ANY($2) \
         ORDER BY id FOR KEY SHARE"
    ))
    .bind(&accounts)
    .bind(&tested)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(codec::endpoint_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

async fn endpoints_by_id(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<EndpointId, Endpoint>, Failure> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| codec::endpoint_from_row(row).map(|e| (e.id, e)))
        .collect::<Result<_, _>>()?)
}

async fn events_by_id(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<EventId, AuditEvent>, Failure> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| codec::event_from_row(row).map(|e| (e.id, e)))
        .collect::<Result<_, _>>()?)
}

async fn keys_by_id(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<KeyId, KeyRecord>, Failure> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| codec::key_from_row(row).map(|k| (k.id, k)))
        .collect::<Result<_, _>>()?)
}
