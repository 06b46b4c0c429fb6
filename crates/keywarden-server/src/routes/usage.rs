//! How keys are used (SPEC §10), read back from the counts the verify path keeps
//! (`verify::synced_table`, written in batches): a key's usage, the account's, what revoking a
//! key would break, and the narrowest scopes its use needed. Admins and developers; another
//! account's key is a 404.

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Console};
use crate::routes::api_keys::key_id;
use crate::routes::metadata::metadata;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::usage::{
    AccessCounts, AccountUsageReport, AddressUsage, ImpactAddress, ImpactReport, KeyTrafficBody,
    SuggestedScopes, UsageBucket, UsageReport, UsageTotals,
};
use keywarden_core::ids::AccountId;
use keywarden_core::key_format::KeyKind;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::key_table::from_millis;
use keywarden_core::store::{KeyFilter, UsageQuery, UsageRow};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const HOUR_MS: i64 = 3_600_000;
/// The longest range a report covers: what is kept (SPEC §10).
const MAX_RANGE_HOURS: i64 = 90 * 24;
/// Addresses a report lists.
const ADDRESSES_SHOWN: u32 = 10;
/// Keys an account's report ranks.
const KEYS_RANKED: u32 = 100;
/// The period suggested scopes look at.
const SUGGESTION_DAYS: i64 = 30;

/// The range of a usage report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// RFC 3339 start, rounded down to its bucket. Default: 24 hours (hourly) or 30 days
    /// (daily) before `to`.
    from: Option<String>,
    /// RFC 3339 end (exclusive), rounded up to its bucket. Default: the end of the current
    /// bucket.
    to: Option<String>,
    /// `hour` (default) or `day` (UTC days).
    granularity: Option<String>,
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn time_param(value: Option<&str>, field: &'static str) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| invalid(field, "give an RFC 3339 time such as 2026-12-01T00:00:00Z"))
        })
        .transpose()
}

/// The range asked for, in whole buckets: (first hour, the hour after the last, bucket hours).
fn range(params: &UsageParams, now_ms: i64) -> Result<(i64, i64, i64, &'static str), ApiError> {
    let (bucket, name, default_hours) = match params.granularity.as_deref() {
        None | Some("hour") => (1, "hour", 24),
        Some("day") => (24, "day", 30 * 24),
        Some(_) => return Err(invalid("granularity", "use hour or day")),
    };
    let span = HOUR_MS * bucket;
    let to = match time_param(params.to.as_deref(), "to")? {
        // An end is exclusive: up to the end of the bucket it falls in, a bucket start as it is.
        Some(ms) => (ms.saturating_add(span - 1)).div_euclid(span) * bucket,
        // Now: the current bucket included.
        None => (now_ms.div_euclid(span) + 1) * bucket,
    };
    let from = match time_param(params.from.as_deref(), "from")? {
        Some(ms) => ms.div_euclid(span) * bucket,
        None => to - default_hours,
    };
    if from >= to {
        return Err(invalid("from", "give a start before the end"));
    }
    if to - from > MAX_RANGE_HOURS {
        return Err(invalid(
            "from",
            "ask for at most 90 days: usage is kept for 90 days",
        ));
    }
    Ok((from, to, bucket, name))
}

fn hour_time(hour: i64) -> OffsetDateTime {
    from_millis(hour.saturating_mul(HOUR_MS))
}

fn address_name(stored: String) -> String {
    if stored.is_empty() {
        "other".into()
    } else {
        stored
    }
}

/// The report of `query`: series with every bucket, totals, products and addresses.
async fn report(
    state: &AppState,
    query: &UsageQuery,
    granularity: &str,
) -> Result<UsageReport, ApiError> {
    let store = state.service.store();
    let rows = store.usage_rows(query).await?;
    let (addresses, _) = store.usage_addresses(query, false, ADDRESSES_SHOWN).await?;
    let mut series: Vec<UsageBucket> = (query.from_hour..query.to_hour)
        .step_by(usize::try_from(query.bucket_hours.max(1)).unwrap_or(1))
        .map(|hour| UsageBucket {
            start: hour_time(hour),
            allowed: 0,
            denied: BTreeMap::new(),
        })
        .collect();
    let mut totals = UsageTotals::default();
    let mut products: BTreeMap<String, AccessCounts> = BTreeMap::new();
    for row in rows {
        let UsageRow {
            bucket,
            outcome,
            product,
            access,
            count,
        } = row;
        let at = usize::try_from((bucket - query.from_hour) / query.bucket_hours.max(1)).ok();
        let slot = at.and_then(|at| series.get_mut(at));
        totals.requests += count;
        if outcome == "allowed" {
            totals.allowed += count;
            if let Some(slot) = slot {
                slot.allowed += count;
            }
        } else {
            *totals.denied.entry(outcome.clone()).or_default() += count;
            if let Some(slot) = slot {
                *slot.denied.entry(outcome).or_default() += count;
            }
        }
        if !product.is_empty() {
            let counts = products.entry(product).or_default();
            match access.as_str() {
                "write" => counts.write += count,
                _ => counts.read += count,
            }
        }
    }
    Ok(UsageReport {
        from: hour_time(query.from_hour),
        to: hour_time(query.to_hour),
        granularity: granularity.into(),
        series,
        totals,
        products,
        addresses: addresses
            .into_iter()
            .map(|a| AddressUsage {
                address: address_name(a.address),
                requests: a.allowed + a.refused,
                refused: a.refused,
                last_seen: from_millis(a.last_seen_ms),
            })
            .collect(),
    })
}

/// The key `id` of the caller's account (another account's is a 404).
async fn own_key(state: &AppState, console: &Console, id: &str) -> Result<KeyRecord, ApiError> {
    console.require_key_manager()?;
    Ok(state.service.key(console.account.id, key_id(id)?).await?)
}

fn query(
    account_id: AccountId,
    key: Option<&KeyRecord>,
    (from_hour, to_hour, bucket_hours): (i64, i64, i64),
) -> UsageQuery {
    UsageQuery {
        account_id,
        key_id: key.map(|k| k.id),
        from_hour,
        to_hour,
        bucket_hours,
    }
}

/// `GET /v1/api-keys/{id}/usage/`
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}/usage/",
    operation_id = "key_usage",
    tag = "Usage",
    summary = "A key's usage",
    description = "Verifications of the key per hour or day: allowed, and refused by code; the \
                   products and the client addresses. Counted in memory by each instance and \
                   written every second or so, kept 90 days. Unknown and malformed keys are not \
                   any key's usage.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id."), UsageParams),
    responses(
        (status = 200, description = "The key's usage.", body = UsageReport),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::KeyNotFoundInAccount),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn key_usage(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    let record = own_key(&state, &console, &id).await?;
    let (from, to, bucket, name) = range(&params, state.service.clock().unix_millis())?;
    let query = query(console.account.id, Some(&record), (from, to, bucket));
    Ok(Json(report(&state, &query, name).await?))
}

/// `GET /v1/usage/`
#[utoipa::path(
    get,
    path = "/v1/usage/",
    operation_id = "account_usage",
    tag = "Usage",
    summary = "The account's usage",
    description = "The same report as a key's, summed over every key of the account, and the \
                   keys with traffic in the range, most requests first.",
    security(("console" = [])),
    params(UsageParams),
    responses(
        (status = 200, description = "The account's usage.", body = AccountUsageReport),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn account_usage(
    State(state): State<AppState>,
    console: Console,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<AccountUsageReport>, ApiError> {
    console.require_key_manager()?;
    let now = state.service.clock().now();
    let (from, to, bucket, name) = range(&params, state.service.clock().unix_millis())?;
    let query = query(console.account.id, None, (from, to, bucket));
    let report = report(&state, &query, name).await?;
    let store = state.service.store();
    let traffic = store.usage_by_key(&query, KEYS_RANKED).await?;
    let records = store
        .keys_of_account(console.account.id, &KeyFilter::default())
        .await?;
    let keys = traffic
        .into_iter()
        .filter_map(|t| {
            let record = records.iter().find(|r| r.id == t.key_id)?;
            let shown = metadata(
                record,
                state.keys.catalog(),
                now,
                console.account.rotation_period_days,
                None,
            );
            Some(KeyTrafficBody {
                id: shown.id,
                label: shown.label,
                hint: shown.hint,
                kind: shown.kind,
                mode: shown.mode,
                status: shown.status,
                requests: t.requests,
                allowed: t.allowed,
                refused: t.requests.saturating_sub(t.allowed),
            })
        })
        .collect();
    Ok(Json(AccountUsageReport { report, keys }))
}

/// `GET /v1/api-keys/{id}/impact/`
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}/impact/",
    operation_id = "key_impact",
    tag = "Usage",
    summary = "What revoking a key would break",
    description = "The key's successful requests in the last 24 hours and 7 days, the client \
                   addresses they came from (up to 10, most first) and the products they used: \
                   what stops working when the key is revoked.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id.")),
    responses(
        (status = 200, description = "The key's recent successful use.", body = ImpactReport),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::KeyNotFoundInAccount),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn impact(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ImpactReport>, ApiError> {
    let record = own_key(&state, &console, &id).await?;
    let store = state.service.store();
    let now_hour = state.service.clock().unix_millis().div_euclid(HOUR_MS);
    let week = query(
        console.account.id,
        Some(&record),
        (now_hour - 7 * 24 + 1, now_hour + 1, 7 * 24),
    );
    let day = UsageQuery {
        from_hour: now_hour - 23,
        bucket_hours: 24,
        ..week
    };
    let allowed = |rows: &[UsageRow]| -> u64 {
        rows.iter()
            .filter(|r| r.outcome == "allowed")
            .map(|r| r.count)
            .sum()
    };
    let week_rows = store.usage_rows(&week).await?;
    let day_rows = store.usage_rows(&day).await?;
    let (addresses, _) = store.usage_addresses(&week, true, ADDRESSES_SHOWN).await?;
    let (_, addresses_today) = store.usage_addresses(&day, true, 1).await?;
    let products: BTreeSet<String> = week_rows
        .iter()
        .filter(|r| r.outcome == "allowed" && !r.product.is_empty())
        .map(|r| r.product.clone())
        .collect();
    let last_used_ip = store
        .last_used_ips(console.account.id, &[record.id])
        .await?
        .into_iter()
        .next()
        .map(|(_, address)| address);
    Ok(Json(ImpactReport {
        requests_last_24_hours: allowed(&day_rows),
        requests_last_7_days: allowed(&week_rows),
        addresses_last_24_hours: addresses_today,
        addresses: addresses
            .into_iter()
            .map(|a| ImpactAddress {
                address: address_name(a.address),
                requests: a.allowed,
                last_seen: from_millis(a.last_seen_ms),
            })
            .collect(),
        products: products.into_iter().collect(),
        last_used_at: record.last_used_at,
        last_used_ip,
    }))
}

/// `GET /v1/api-keys/{id}/suggested-scopes/`
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}/suggested-scopes/",
    operation_id = "suggested_scopes",
    tag = "Usage",
    summary = "The narrowest scopes a key's use needed",
    description = "The scopes the key's successful requests of the last 30 days needed, against \
                   the scopes it holds: per product, write if it wrote, read if it only read. \
                   When `can_narrow` is true, `PATCH /v1/api-keys/{id}/` with \
                   `{\"scopes\": suggested}` narrows the key to them in one step.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id.")),
    responses(
        (status = 200, description = "Held, used and suggested scopes.", body = SuggestedScopes),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::KeyNotFoundInAccount),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn suggested_scopes(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SuggestedScopes>, ApiError> {
    let record = own_key(&state, &console, &id).await?;
    let catalog = state.keys.catalog();
    let now_hour = state.service.clock().unix_millis().div_euclid(HOUR_MS);
    let span = SUGGESTION_DAYS * 24;
    let period = query(
        console.account.id,
        Some(&record),
        (now_hour - span + 1, now_hour + 1, span),
    );
    let rows = state.service.store().usage_rows(&period).await?;
    // Per product: whether any successful request wrote (write implies read).
    let mut used: BTreeMap<String, bool> = BTreeMap::new();
    let mut requests = 0;
    for row in rows.iter().filter(|r| r.outcome == "allowed") {
        requests += row.count;
        if row.product.is_empty() {
            continue;
        }
        let wrote = used.entry(row.product.clone()).or_default();
        *wrote |= row.access == "write";
    }
    let mut used_names = BTreeSet::new();
    let mut suggested = BTreeSet::new();
    for (product, wrote) in &used {
        let products: Vec<&str> = if product == "*" {
            catalog.products().iter().map(|p| p.id.as_str()).collect()
        } else {
            vec![product.as_str()]
        };
        for p in products {
            let access = if *wrote { "write" } else { "read" };
            used_names.insert(format!("{p}:{access}"));
            suggested.insert(format!("{p}:{access}"));
        }
    }
    let held: Vec<String> = match record.kind {
        KeyKind::Standard => catalog.names(catalog.all()),
        KeyKind::Restricted => {
            let mut held = record.scopes.clone();
            held.sort();
            held
        }
    };
    let suggested: Vec<String> = suggested.into_iter().collect();
    // Narrower: every suggested scope is held (or implied by a held write) and the sets differ.
    let held_set = catalog.parse_stored(held.iter().map(String::as_str));
    let suggested_set = catalog.parse_stored(suggested.iter().map(String::as_str));
    let can_narrow = record.kind == KeyKind::Restricted
        && !suggested.is_empty()
        && held_set.contains(suggested_set)
        && held_set != suggested_set;
    Ok(Json(SuggestedScopes {
        held,
        used: used_names.into_iter().collect(),
        suggested,
        since: hour_time(period.from_hour),
        requests,
        can_narrow,
    }))
}
