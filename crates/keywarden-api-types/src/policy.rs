//! A key's own policy on the wire (SPEC §9): its allowlist, rate and usage limits, and what a
//! verification says about those limits.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// At most `limit` requests per `period_seconds` (a sliding window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    /// Requests per period, 1 to 1,000,000.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 1_000_000, example = 100)
    )]
    pub limit: i64,
    /// The period in seconds, 1 to 86,400.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 86_400, example = 60)
    )]
    pub period_seconds: i64,
}

/// At most `limit` requests per calendar day or month (UTC), or in all.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UsageLimitBody {
    /// Requests per period, 1 to 10^12.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 1_000_000_000_000_i64, example = 10_000)
    )]
    pub limit: i64,
    /// `day`, `month` or `total` (never resets).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::UsagePeriodName, example = "month"))]
    pub period: String,
}

/// A limit's state after a verification.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitStatus {
    /// The limit.
    #[cfg_attr(feature = "openapi", schema(example = 100))]
    pub limit: u64,
    /// Requests left in the period, after this one.
    #[cfg_attr(feature = "openapi", schema(example = 41))]
    pub remaining: u64,
    /// When the count resets; null for a usage limit over the key's whole life.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:31:00Z"))]
    pub reset: Option<OffsetDateTime>,
}

/// Where a key stands against its usage limit, as every instance has reported it (up to one
/// flush interval behind).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageStatus {
    /// Requests allowed in the current period.
    #[cfg_attr(feature = "openapi", schema(example = 1204))]
    pub used: u64,
    /// Requests left in it.
    #[cfg_attr(feature = "openapi", schema(example = 8796))]
    pub remaining: u64,
    /// When the period ends; null for a limit over the key's whole life.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z"))]
    pub resets_at: Option<OffsetDateTime>,
}

/// Reads a field that may be absent (leave it), `null` (remove it) or a value (set it).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `resets_at`: absent (not a usage refusal), `null` (a limit that never resets) or a time.
pub mod resets_at {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    /// Writes `null` or the time.
    pub fn serialize<S: Serializer>(
        value: &Option<Option<OffsetDateTime>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(&value.flatten(), serializer)
    }

    /// Reads `null` or a time as present.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
        #[derive(Deserialize)]
        struct At(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>);
        At::deserialize(deserializer).map(|At(at)| Some(at))
    }
}
