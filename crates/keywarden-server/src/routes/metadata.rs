//! Key records to the wire's key metadata.

use crate::error::ApiError;
use crate::state::AppState;
use keywarden_api_types::keys::{IssuedKeyBody, KeyMetadata};
use keywarden_api_types::policy::{RateLimitBody, UsageLimitBody, UsageStatus};
use keywarden_core::account::User;
use keywarden_core::ids::{AccountId, UserId};
use keywarden_core::key_format::KeyKind;
use keywarden_core::key_policy::{PolicyChanges, ip_text};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::scope::Catalog;
use keywarden_core::service::IssuedKey;
use keywarden_core::store::PeriodCount;
use std::collections::HashMap;
use time::OffsetDateTime;

/// The emails of an account's members by id, to say who created each key (a developer may not
/// list the members, but sees who made the keys they manage).
#[derive(Debug, Default)]
pub struct Creators(HashMap<UserId, String>);

impl Creators {
    /// Every member of `account`: one read, however many keys are shown.
    pub async fn of_account(state: &AppState, account: AccountId) -> Result<Self, ApiError> {
        let users = state.service.users(account).await?;
        Ok(Self(users.into_iter().map(|u| (u.id, u.email)).collect()))
    }

    /// Just `user`, for a key they have just created.
    pub fn only(user: &User) -> Self {
        Self(HashMap::from([(user.id, user.email.clone())]))
    }

    /// The email of `creator`, if they are a member.
    pub fn email(&self, creator: Option<UserId>) -> Option<String> {
        creator.and_then(|id| self.0.get(&id).cloned())
    }
}

/// What is shown about a key at `now`; `creator_email` names its creator if still a member.
pub fn metadata(
    record: &KeyRecord,
    catalog: &Catalog,
    now: OffsetDateTime,
    rotation_period_days: u32,
    creator_email: Option<String>,
) -> KeyMetadata {
    let scopes = match record.kind {
        KeyKind::Standard => catalog.names(catalog.all()),
        KeyKind::Restricted => record.scopes.clone(),
    };
    KeyMetadata {
        id: record.id.to_string(),
        kind: record.kind.as_str().into(),
        mode: record.mode.as_str().into(),
        label: record.label.clone(),
        hint: record.hint.clone(),
        scopes,
        status: record.status_at(now).as_str().into(),
        created_at: record.created_at,
        created_by: record.created_by.map(|u| u.to_string()),
        created_by_email: creator_email,
        expires_at: record.expires_at,
        last_used_at: record.last_used_at,
        rotated_at: record.rotated_at,
        revoked_at: record.revoked_at,
        grace_until: record.grace_until,
        rotation_due: record.rotation_due(now, rotation_period_days),
        allowed_ips: record
            .policy
            .allowed_ips
            .as_ref()
            .map(|nets| nets.iter().map(ip_text).collect()),
        rate_limit: record.policy.rate_limit.map(|r| RateLimitBody {
            limit: i64::from(r.limit),
            period_seconds: i64::from(r.period_seconds),
        }),
        usage_limit: record.policy.usage_limit.map(|u| UsageLimitBody {
            limit: i64::try_from(u.limit).unwrap_or(i64::MAX),
            period: u.period.as_str().into(),
        }),
        usage: None,
        last_used_ip: None,
        metadata: record.policy.metadata.clone(),
        leaked_at: record.leak.as_ref().map(|l| l.at),
        leak_url: record.leak.as_ref().and_then(|l| l.url.clone()),
        canary: record.policy.canary,
        tripped_count: 0,
        last_tripped_at: None,
    }
}

/// Fills `last_used_ip`, a canary's trips, and `usage` for the keys with a usage limit, of
/// `shown` (`records` in the same order), from the store: one read each for the whole page.
pub async fn fill_usage(
    state: &AppState,
    shown: &mut [KeyMetadata],
    records: &[KeyRecord],
) -> Result<(), ApiError> {
    if let Some(first) = records.first() {
        let ids: Vec<_> = records.iter().map(|r| r.id).collect();
        let last = state
            .service
            .store()
            .last_used_ips(first.account_id, &ids)
            .await?;
        let canaries: Vec<_> = records
            .iter()
            .filter(|r| r.policy.canary)
            .map(|r| r.id)
            .collect();
        let trips = state
            .service
            .canary_trips(first.account_id, &canaries)
            .await?;
        for (meta, record) in shown.iter_mut().zip(records) {
            if let Some(trip) = trips.iter().find(|t| t.key_id == record.id) {
                meta.tripped_count = trip.tripped_count;
                meta.last_tripped_at = Some(trip.last_tripped_at);
            }
        }
        for (meta, record) in shown.iter_mut().zip(records) {
            meta.last_used_ip = last
                .iter()
                .find(|(id, _)| *id == record.id)
                .map(|(_, address)| address.clone());
        }
    }
    let now = state.service.clock().now();
    let mut limited = Vec::new();
    let mut counts = Vec::new();
    for (at, record) in records.iter().enumerate() {
        if let Some(limit) = record.policy.usage_limit {
            let (start, end) = limit.period.window(now);
            limited.push((at, limit.limit, end));
            counts.push(PeriodCount {
                key_id: record.id,
                period_start: start,
                count: 0,
            });
        }
    }
    if counts.is_empty() {
        return Ok(());
    }
    let totals = state.service.store().add_usage(&counts).await?;
    for ((at, limit, resets_at), used) in limited.into_iter().zip(totals) {
        if let Some(meta) = shown.get_mut(at) {
            meta.usage = Some(UsageStatus {
                used,
                remaining: limit.saturating_sub(used),
                resets_at,
            });
        }
    }
    Ok(())
}

/// The policy parts of a create or update body, for the service to check.
pub fn policy_changes(
    allowed_ips: Option<Option<Vec<String>>>,
    rate_limit: Option<Option<RateLimitBody>>,
    usage_limit: Option<Option<UsageLimitBody>>,
    metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
) -> PolicyChanges {
    PolicyChanges {
        allowed_ips,
        rate_limit: rate_limit.map(|r| r.map(|r| (r.limit, r.period_seconds))),
        usage_limit: usage_limit.map(|u| u.map(|u| (u.limit, u.period))),
        metadata,
    }
}

/// A new key with its secret, for the one response that shows it.
pub fn issued(
    issued: &IssuedKey,
    catalog: &Catalog,
    now: OffsetDateTime,
    rotation_period_days: u32,
    creators: &Creators,
) -> IssuedKeyBody {
    IssuedKeyBody {
        key: issued.secret.expose().to_owned(),
        metadata: metadata(
            &issued.record,
            catalog,
            now,
            rotation_period_days,
            creators.email(issued.record.created_by),
        ),
    }
}
