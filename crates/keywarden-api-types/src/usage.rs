//! How keys are used, on the wire (SPEC §10): usage series, the impact of a revocation, the
//! explanation of a verdict and suggested scopes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Requests of one bucket (an hour or a UTC day).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageBucket {
    /// The bucket's start.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub start: OffsetDateTime,
    /// Requests the key checks allowed.
    pub allowed: u64,
    /// Refused requests by refusal code; `{}` when none.
    #[cfg_attr(feature = "openapi", schema(example = json!({"insufficient_scope": 1})))]
    pub denied: BTreeMap<String, u64>,
}

/// Requests over the whole range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageTotals {
    /// Every request.
    pub requests: u64,
    /// Allowed requests.
    pub allowed: u64,
    /// Refused requests by refusal code.
    pub denied: BTreeMap<String, u64>,
}

/// Requests to one product, by access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessCounts {
    /// Reads (GET, HEAD).
    pub read: u64,
    /// Writes (every other method).
    pub write: u64,
}

/// Requests from one client address.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddressUsage {
    /// The client's address (`other` counts addresses not told apart under a flood of them).
    #[cfg_attr(feature = "openapi", schema(example = "203.0.113.7"))]
    pub address: String,
    /// Every request from it.
    pub requests: u64,
    /// Refused requests from it.
    pub refused: u64,
    /// Its latest request.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub last_seen: OffsetDateTime,
}

/// A key's (or an account's) usage over a range.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// The first bucket's start.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub from: OffsetDateTime,
    /// The end of the last bucket.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub to: OffsetDateTime,
    /// `hour` or `day`.
    #[cfg_attr(feature = "openapi", schema(example = "hour"))]
    pub granularity: String,
    /// One entry per bucket from `from` to `to`, empty buckets included.
    pub series: Vec<UsageBucket>,
    /// The whole range.
    pub totals: UsageTotals,
    /// Requests per product (`*`: a path of every product), all outcomes.
    #[cfg_attr(feature = "openapi", schema(example = json!({"payroll": {"read": 3, "write": 1}})))]
    pub products: BTreeMap<String, AccessCounts>,
    /// Up to 10 client addresses, most requests first.
    pub addresses: Vec<AddressUsage>,
}

/// One key's requests in an account's usage.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyTrafficBody {
    /// The key's id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// First 12 and last 4 characters.
    pub hint: String,
    /// `standard` or `restricted`.
    pub kind: String,
    /// `test` or `live`.
    pub mode: String,
    /// `active`, `expired`, `revoked` or `rotated`.
    pub status: String,
    /// Every request.
    pub requests: u64,
    /// Allowed requests.
    pub allowed: u64,
    /// Refused requests.
    pub refused: u64,
}

/// An account's usage: the report over every key, and the keys ranked by traffic.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountUsageReport {
    /// Summed over the account's keys.
    #[serde(flatten)]
    pub report: UsageReport,
    /// Keys with requests in the range, most requests first (at most 100).
    pub keys: Vec<KeyTrafficBody>,
}

/// An address in a key's impact.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImpactAddress {
    /// The client's address.
    #[cfg_attr(feature = "openapi", schema(example = "203.0.113.7"))]
    pub address: String,
    /// Successful requests from it in the last 7 days.
    pub requests: u64,
    /// Its latest request.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub last_seen: OffsetDateTime,
}

/// What revoking a key would break: its successful requests.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImpactReport {
    /// Successful requests in the last 24 hours.
    pub requests_last_24_hours: u64,
    /// Successful requests in the last 7 days.
    pub requests_last_7_days: u64,
    /// Client addresses with successful requests in the last 24 hours.
    pub addresses_last_24_hours: u64,
    /// Up to 10 addresses of the last 7 days, most requests first.
    pub addresses: Vec<ImpactAddress>,
    /// Products used in the last 7 days.
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll"])))]
    pub products: Vec<String>,
    /// The last successful use (recorded in batches, seconds behind).
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub last_used_at: Option<OffsetDateTime>,
    /// Where the last successful use came from.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub last_used_ip: Option<String>,
}

/// `POST /v1/explain/`: one of `key_id` and `key`, and the request to explain.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// A key of your account, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Or the key itself, as presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The request's method.
    #[cfg_attr(feature = "openapi", schema(example = "GET"))]
    pub method: String,
    /// The request's path (and query).
    #[cfg_attr(feature = "openapi", schema(example = "/v1/payroll/runs"))]
    pub uri: String,
    /// The client's address; default: yours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "203.0.113.7"))]
    pub client_ip: Option<String>,
}

/// One check of an explanation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExplainStep {
    /// `format`, `key`, `status`, `route`, `scope`, `ip`, `rate_limit` or `usage_limit`.
    #[cfg_attr(feature = "openapi", schema(example = "scope"))]
    pub check: String,
    /// `pass`, `fail` or `skip`.
    #[cfg_attr(feature = "openapi", schema(example = "pass"))]
    pub result: String,
    /// What the check found, for a person.
    pub detail: String,
}

/// What verification would answer, check by check.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExplainAnswer {
    /// `allow` or `deny`.
    #[cfg_attr(feature = "openapi", schema(example = "deny"))]
    pub decision: String,
    /// The status forward-auth would answer.
    #[cfg_attr(feature = "openapi", schema(example = 403))]
    pub status: u16,
    /// The refusal's code; null when allowed.
    #[cfg_attr(feature = "openapi", schema(required, example = "insufficient_scope"))]
    pub code: Option<String>,
    /// The key's id, when it is a key of your account.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub key_id: Option<String>,
    /// The scope the request needs; null when it needs none.
    #[cfg_attr(feature = "openapi", schema(required, example = "payroll:write"))]
    pub required_scope: Option<String>,
    /// Every check in order; after the first `fail` the rest are `skip`.
    pub steps: Vec<ExplainStep>,
}

/// Scopes a key holds against the scopes its successful requests of the last 30 days needed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestedScopes {
    /// Scopes the key holds.
    #[cfg_attr(feature = "openapi", schema(example = json!(["asset:read", "payroll:write"])))]
    pub held: Vec<String>,
    /// Scopes its successful requests needed.
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll:read"])))]
    pub used: Vec<String>,
    /// The narrowest scopes that would have allowed them all.
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll:read"])))]
    pub suggested: Vec<String>,
    /// The start of the period looked at.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-06T08:00:00Z"))]
    pub since: OffsetDateTime,
    /// Successful requests in it.
    pub requests: u64,
    /// Whether `PATCH /v1/api-keys/{id}/` with `{"scopes": suggested}` would narrow the key: a
    /// restricted key, used, holding more than it needed.
    pub can_narrow: bool,
}
