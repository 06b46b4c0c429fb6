//! What a key may carry besides its scopes (SPEC §9): the addresses it may be used from, a rate
//! limit, a usage limit and the customer's own metadata; and the rules for each value.
//!
//! Stored with the key as one JSON document; the key table turns it into the runtime form the
//! checks read ([`crate::key_limits`]).

use crate::error::DomainError;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;
use time::{Date, Month, OffsetDateTime, Time};

/// Most addresses or ranges in an allowlist.
pub const MAX_ALLOWED_IPS: usize = 100;
/// Largest metadata object, as compact JSON.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Largest rate limit count.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;
/// Longest rate limit period: a day.
pub const MAX_RATE_PERIOD_SECONDS: u32 = 86_400;
/// Largest usage limit.
pub const MAX_USAGE_LIMIT: u64 = 1_000_000_000_000;

/// A key's policy; every part is optional, and the empty policy restricts nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPolicy {
    /// The addresses and ranges the key may be used from; `None` is anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<IpNet>>,
    /// At most `limit` requests per `period_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// At most `limit` requests per day, month or in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<UsageLimit>,
    /// The customer's JSON object, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// A canary (SPEC §8): the key authorizes nothing, is answered as an unknown key, and
    /// each presentation is recorded. Set at creation only; no change turns it on or off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canary: bool,
}

impl KeyPolicy {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A rate limit: requests per period, over a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub limit: u32,
    /// The period, in seconds.
    pub period_seconds: u32,
}

/// A usage limit: requests per calendar day or month (UTC), or in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageLimit {
    /// Requests allowed per period.
    pub limit: u64,
    /// Which period.
    pub period: UsagePeriod,
}

/// The period of a usage limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsagePeriod {
    /// A calendar day, UTC.
    Day,
    /// A calendar month, UTC.
    Month,
    /// The key's whole life: never resets.
    Total,
}

impl UsagePeriod {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
            Self::Total => "total",
        }
    }

    /// The wire name back.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            "total" => Some(Self::Total),
            _ => None,
        }
    }

    /// The period that holds `at`: its start and its end (`None` for `total`).
    pub fn window(self, at: OffsetDateTime) -> (OffsetDateTime, Option<OffsetDateTime>) {
        let at = at.to_offset(time::UtcOffset::UTC);
        let day = |date: Date| date.with_time(Time::MIDNIGHT).assume_utc();
        match self {
            Self::Total => (OffsetDateTime::UNIX_EPOCH, None),
            Self::Day => {
                let start = day(at.date());
                (start, Some(start + time::Duration::DAY))
            }
            Self::Month => {
                let first = at.date().replace_day(1).unwrap_or(at.date());
                let (year, month) = match at.month() {
                    Month::December => (at.year() + 1, Month::January),
                    month => (at.year(), month.next()),
                };
                let next = Date::from_calendar_date(year, month, 1).ok().map(day);
                (day(first), next)
            }
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: message.into(),
    }
}

/// An allowlist as sent: each entry an IPv4 or IPv6 address or a CIDR range, at most
/// [`MAX_ALLOWED_IPS`], none with host bits set below its prefix; duplicates are dropped.
pub fn valid_allowed_ips(entries: &[String]) -> Result<Vec<IpNet>, DomainError> {
    const FIELD: &str = "allowed_ips";
    if entries.is_empty() {
        return Err(invalid(
            FIELD,
            "list at least one address or range (e.g. [\"203.0.113.7\", \"10.0.0.0/8\"]), or send null to allow every address",
        ));
    }
    if entries.len() > MAX_ALLOWED_IPS {
        return Err(invalid(
            FIELD,
            format!(
                "{} entries; at most {MAX_ALLOWED_IPS} addresses or ranges are allowed: merge neighbouring addresses into CIDR ranges",
                entries.len()
            ),
        ));
    }
    let mut nets: Vec<IpNet> = Vec::with_capacity(entries.len());
    for entry in entries {
        let text = entry.trim();
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => match text.parse::<IpAddr>() {
                Ok(ip) => IpNet::from(ip),
                Err(_) => {
                    return Err(invalid(
                        FIELD,
                        format!(
                            "'{}' is neither an IP address nor a CIDR range; write e.g. 203.0.113.7, 2001:db8::1 or 10.0.0.0/8",
                            shorten(entry)
                        ),
                    ));
                }
            },
        };
        if net.trunc() != net {
            return Err(invalid(
                FIELD,
                format!(
                    "'{text}' has bits set after its /{} prefix; the range is written {}",
                    net.prefix_len(),
                    net.trunc()
                ),
            ));
        }
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    Ok(nets)
}

/// Long hostile input is not echoed whole.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// A rate limit as sent: 1 to [`MAX_RATE_LIMIT`] requests per 1 s to a day.
pub fn valid_rate_limit(limit: i64, period_seconds: i64) -> Result<RateLimit, DomainError> {
    const FIELD: &str = "rate_limit";
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=MAX_RATE_LIMIT).contains(l))
        .ok_or_else(|| {
            invalid(
                FIELD,
                format!("limit must be a whole number from 1 to {MAX_RATE_LIMIT}, e.g. {{\"limit\": 100, \"period_seconds\": 60}}"),
            )
        })?;
    let period_seconds = u32::try_from(period_seconds)
        .ok()
        .filter(|p| (1..=MAX_RATE_PERIOD_SECONDS).contains(p))
        .ok_or_else(|| {
            invalid(
                FIELD,
                format!("period_seconds must be from 1 to {MAX_RATE_PERIOD_SECONDS} (a day); for longer periods use usage_limit"),
            )
        })?;
    Ok(RateLimit {
        limit,
        period_seconds,
    })
}

/// A usage limit as sent: 1 to [`MAX_USAGE_LIMIT`] requests per `day`, `month` or `total`.
pub fn valid_usage_limit(limit: i64, period: &str) -> Result<UsageLimit, DomainError> {
    const FIELD: &str = "usage_limit";
    let limit = u64::try_from(limit)
        .ok()
        .filter(|l| (1..=MAX_USAGE_LIMIT).contains(l))
        .ok_or_else(|| {
            invalid(
                FIELD,
                format!("limit must be a whole number from 1 to {MAX_USAGE_LIMIT}"),
            )
        })?;
    let period = UsagePeriod::from_name(period).ok_or_else(|| {
        invalid(
            FIELD,
            format!(
                "period '{}' is not one of day, month, total",
                shorten(period)
            ),
        )
    })?;
    Ok(UsageLimit { limit, period })
}

/// Metadata as sent: a JSON object of at most [`MAX_METADATA_BYTES`] as compact JSON.
pub fn valid_metadata(metadata: Map<String, Value>) -> Result<Map<String, Value>, DomainError> {
    let len = serde_json::to_vec(&metadata).map_or(usize::MAX, |v| v.len());
    if len > MAX_METADATA_BYTES {
        return Err(invalid(
            "metadata",
            format!(
                "{len} bytes as compact JSON; metadata may take at most {MAX_METADATA_BYTES}: keep identifiers here and the rest in your own database"
            ),
        ));
    }
    Ok(metadata)
}

/// Changes to a key's policy as sent, each validated here: `None` leaves a part as it is,
/// `Some(None)` removes it. A new key's policy is the changes applied to the empty one.
#[derive(Clone, Debug, Default)]
pub struct PolicyChanges {
    /// Addresses and ranges, as text.
    pub allowed_ips: Option<Option<Vec<String>>>,
    /// `(limit, period_seconds)`.
    pub rate_limit: Option<Option<(i64, i64)>>,
    /// `(limit, period)`.
    pub usage_limit: Option<Option<(i64, String)>>,
    /// A JSON object.
    pub metadata: Option<Option<Map<String, Value>>>,
}

impl PolicyChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.allowed_ips.is_none()
            && self.rate_limit.is_none()
            && self.usage_limit.is_none()
            && self.metadata.is_none()
    }

    /// `base` with these changes, every value checked.
    pub fn apply(self, base: &KeyPolicy) -> Result<KeyPolicy, DomainError> {
        let mut policy = base.clone();
        if let Some(ips) = self.allowed_ips {
            policy.allowed_ips = ips.as_deref().map(valid_allowed_ips).transpose()?;
        }
        if let Some(rate) = self.rate_limit {
            policy.rate_limit = rate.map(|(l, p)| valid_rate_limit(l, p)).transpose()?;
        }
        if let Some(usage) = self.usage_limit {
            policy.usage_limit = usage.map(|(l, p)| valid_usage_limit(l, &p)).transpose()?;
        }
        if let Some(metadata) = self.metadata {
            policy.metadata = metadata.map(valid_metadata).transpose()?;
        }
        Ok(policy)
    }
}

/// What changed between two policies, for the audit trail (never the metadata's values: they
/// are the customer's).
pub fn describe_changes(before: &KeyPolicy, after: &KeyPolicy) -> Vec<String> {
    let mut changed = Vec::new();
    if before.allowed_ips != after.allowed_ips {
        changed.push(match &after.allowed_ips {
            None => "allowed addresses → anywhere".to_owned(),
            Some(nets) => format!("allowed addresses → {}", ip_list(nets)),
        });
    }
    if before.rate_limit != after.rate_limit {
        changed.push(match after.rate_limit {
            None => "rate limit removed".to_owned(),
            Some(r) => format!("rate limit → {} per {} s", r.limit, r.period_seconds),
        });
    }
    if before.usage_limit != after.usage_limit {
        changed.push(match after.usage_limit {
            None => "usage limit removed".to_owned(),
            Some(u) => format!("usage limit → {} per {}", u.limit, u.period.as_str()),
        });
    }
    if before.metadata != after.metadata {
        changed.push(match &after.metadata {
            None => "metadata removed".to_owned(),
            Some(m) => format!("metadata → {} fields", m.len()),
        });
    }
    changed
}

/// An allowlist as people write it: a single address without its `/32` or `/128`.
pub fn ip_list(nets: &[IpNet]) -> String {
    nets.iter().map(ip_text).collect::<Vec<_>>().join(", ")
}

/// One entry as people write it.
pub fn ip_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Where a key is used from, checked against an allowlist one range at a time: the reference
/// that the key table's interval form (`key_limits::AddressRanges`) is tested against. An IPv4
/// client written as IPv6 (`::ffff:a.b.c.d`) is checked as IPv4.
#[cfg(test)]
pub(crate) fn allows(allowed: &[IpNet], client: IpAddr) -> bool {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    allowed.iter().any(|net| net.contains(&client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn allowlists_take_addresses_and_ranges_of_both_families() {
        let nets = valid_allowed_ips(&strings(&[
            "203.0.113.7",
            "10.0.0.0/8",
            "2001:db8::/32",
            " ::1 ",
            "10.0.0.0/8",
        ]))
        .unwrap();
        assert_eq!(nets.len(), 4, "the duplicate is dropped");
        assert!(allows(&nets, "10.200.1.1".parse().unwrap()));
        assert!(allows(&nets, "203.0.113.7".parse().unwrap()));
        assert!(!allows(&nets, "203.0.113.8".parse().unwrap()));
        assert!(allows(&nets, "2001:db8:ffff::1".parse().unwrap()));
        assert!(!allows(&nets, "2001:db9::1".parse().unwrap()));
        assert!(allows(&nets, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(allows(&nets, "::1".parse().unwrap()));
    }

    #[test]
    fn bad_allowlists_say_what_is_wrong() {
        let message = |list: &[&str]| match valid_allowed_ips(&strings(list)) {
            Err(DomainError::Invalid { field, message }) => {
                assert_eq!(field, "allowed_ips");
                message
            }
            other => panic!("{other:?}"),
        };
        assert!(message(&[]).contains("send null"));
        assert!(message(&["10.1.2.3/8"]).contains("10.0.0.0/8"));
        assert!(message(&["example.com"]).contains("'example.com' is neither"));
        assert!(message(&["10.0.0.0/33"]).contains("neither"));
        let many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(message(&many).contains("101 entries"));
        assert!(message(&[&"x".repeat(1000)]).chars().count() < 200);
    }

    #[test]
    fn limits_are_bounded() {
        assert!(valid_rate_limit(100, 60).is_ok());
        for (limit, period) in [(0, 60), (-1, 60), (100, 0), (100, 86_401), (2_000_000, 1)] {
            assert!(valid_rate_limit(limit, period).is_err(), "{limit}/{period}");
        }
        assert_eq!(
            valid_usage_limit(5, "month").unwrap(),
            UsageLimit {
                limit: 5,
                period: UsagePeriod::Month
            }
        );
        assert!(valid_usage_limit(0, "day").is_err());
        assert!(valid_usage_limit(5, "week").is_err());
    }

    #[test]
    fn metadata_is_at_most_4_kib() {
        let mut map = Map::new();
        map.insert("customer".into(), Value::String("x".repeat(4000)));
        assert!(valid_metadata(map.clone()).is_ok());
        map.insert("more".into(), Value::String("x".repeat(100)));
        assert!(valid_metadata(map).is_err());
    }

    #[test]
    fn usage_periods_are_calendar_days_and_months_in_utc() {
        let at = datetime!(2026-12-31 23:59:59 UTC);
        assert_eq!(
            UsagePeriod::Day.window(at),
            (
                datetime!(2026-12-31 00:00 UTC),
                Some(datetime!(2027-01-01 00:00 UTC))
            )
        );
        assert_eq!(
            UsagePeriod::Month.window(at),
            (
                datetime!(2026-12-01 00:00 UTC),
                Some(datetime!(2027-01-01 00:00 UTC))
            )
        );
        assert_eq!(
            UsagePeriod::Month.window(datetime!(2027-02-10 08:00 +02:00)),
            (
                datetime!(2027-02-01 00:00 UTC),
                Some(datetime!(2027-03-01 00:00 UTC))
            )
        );
        assert_eq!(UsagePeriod::Total.window(at).1, None);
    }

    #[test]
    fn the_stored_form_round_trips_and_omits_what_is_unset() {
        let policy = KeyPolicy {
            allowed_ips: Some(valid_allowed_ips(&strings(&["10.0.0.0/8", "::1"])).unwrap()),
            rate_limit: Some(RateLimit {
                limit: 10,
                period_seconds: 60,
            }),
            usage_limit: None,
            metadata: None,
            canary: false,
        };
        let text = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            text,
            r#"{"allowed_ips":["10.0.0.0/8","::1/128"],"rate_limit":{"limit":10,"period_seconds":60}}"#
        );
        assert_eq!(serde_json::from_str::<KeyPolicy>(&text).unwrap(), policy);
        assert!(KeyPolicy::default().is_empty());
        // A canary says so; a policy stored before canaries existed reads as no canary.
        let canary = KeyPolicy {
            canary: true,
            ..KeyPolicy::default()
        };
        assert_eq!(
            serde_json::to_string(&canary).unwrap(),
            r#"{"canary":true}"#
        );
        assert!(!serde_json::from_str::<KeyPolicy>("{}").unwrap().canary);
    }
}
