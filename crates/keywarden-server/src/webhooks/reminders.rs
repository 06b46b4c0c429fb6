//! The scheduled events (`key.expiring` 7 days and 1 day ahead, `key.expired`,
//! `key.rotation_due`): a scan pages through the keys that may need one
//! ([`WebhookStore::reminder_candidates`]), asks core which are due
//! ([`keywarden_core::webhook::reminders::due`]) and records each with its audit event, by the
//! system. The store records a reminder once per key, whichever instance or scan asks first,
//! and the event's outbox row goes out like any other event.
//!
//! [`WebhookStore::reminder_candidates`]: keywarden_core::store::WebhookStore::reminder_candidates

use keywarden_core::audit::{Actor, AuditEvent};
use keywarden_core::ids::EventId;
use keywarden_core::store::{Store, StoreError};
use keywarden_core::webhook::reminders::{HORIZON, due};
use time::OffsetDateTime;

/// Keys read per query.
const PAGE: u32 = 500;

/// Records every reminder due at `now`; returns how many were new.
pub async fn scan(store: &dyn Store, now: OffsetDateTime) -> Result<u32, StoreError> {
    let mut recorded = 0;
    let mut after = None;
    loop {
        let page = store.reminder_candidates(now, HORIZON, after, PAGE).await?;
        for candidate in &page {
            let key = &candidate.key;
            for reminder in due(key, now, candidate.rotation_period_days) {
                let event = AuditEvent {
                    id: EventId::new_at(now),
                    account_id: key.account_id,
                    action: reminder.action(),
                    actor: Actor::system(),
                    key_id: Some(key.id),
                    detail: reminder.detail(key),
                    at: now,
                };
                if store.record_reminder(key.id, reminder, &event).await? {
                    recorded += 1;
                }
            }
        }
        match page.last() {
            Some(last) if page.len() >= PAGE as usize => after = Some(last.key.id),
            _ => return Ok(recorded),
        }
    }
}
