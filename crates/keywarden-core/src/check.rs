//! The key check as an ordered list of small steps; the first that refuses decides.
//!
//! 1. **format**: the text has a key's shape and checksum ([`crate::key_format::parse`]). It
//!    runs where the key is read, so a malformed key never reaches a lookup and is parsed once.
//! 2. **key**: the keyed hash finds the table entry ([`KeyTable::find`]).
//! 3. then each of [`STEPS`] looks at the entry: **status** (revoked, rotated past its grace,
//!    expired), **scope** (the access the request needs), **ip** (the key's allowlist),
//!    **rate_limit** and **usage_limit** (the key's own limits, SPEC §9).
//!
//! A new check is one [`Refusal`] variant and one entry in [`STEPS`]; an explanation of a
//! verdict can walk the same list.

use crate::digest::KeyHasher;
use crate::key_format::{self, ParsedKey};
use crate::key_limits::LimitState;
use crate::key_table::{KeyTable, TableEntry};
use crate::scope::ScopeSet;
use crate::verdict::{Needs, Refusal};
use std::net::IpAddr;

/// What a check of one request knows besides the key.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The access the request needs, as named in a refusal.
    pub needs: Needs,
    /// The same as a set of scopes (computed once per request).
    pub required: ScopeSet,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
    /// The client's address, worked out only for a key with an allowlist (behind a trusted
    /// proxy it means reading `X-Forwarded-For`, which most keys never need).
    pub client: &'a ClientAddr<'a>,
    /// Whether the limits count this request; an explanation only looks.
    pub consume: bool,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("needs", &self.needs)
            .field("now_ms", &self.now_ms)
            .field("consume", &self.consume)
            .finish_non_exhaustive()
    }
}

/// How a check finds the client's address when a key's allowlist needs it.
pub type ClientAddr<'a> = dyn Fn() -> IpAddr + Sync + 'a;

/// What the limits said about an accepted request, for the answer's headers and body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// The rate limit's state, for a key with one.
    pub rate: Option<LimitState>,
    /// The usage limit's state, for a key with one.
    pub usage: Option<LimitState>,
}

/// A check of a found entry; a limit that passes notes its state in `limits`.
pub type Step = fn(&TableEntry, &Context<'_>, &mut Limits) -> Result<(), Refusal>;

/// The checks of a found entry, in order, with the names an explanation shows.
pub const STEPS: [(&str, Step); 5] = [
    ("status", status),
    ("scope", scope),
    ("ip", ip),
    ("rate_limit", rate_limit),
    ("usage_limit", usage_limit),
];

/// Revoked, rotated past its grace, or expired at `now`.
#[inline]
fn status(entry: &TableEntry, context: &Context<'_>, _: &mut Limits) -> Result<(), Refusal> {
    match entry.stopped_by(context.now_ms) {
        Some(stopped) => Err(Refusal::Stopped(stopped)),
        None => Ok(()),
    }
}

/// Holds the scopes the request needs.
#[inline]
fn scope(entry: &TableEntry, context: &Context<'_>, _: &mut Limits) -> Result<(), Refusal> {
    if entry.scopes.contains(context.required) {
        Ok(())
    } else {
        Err(Refusal::InsufficientScope(context.needs))
    }
}

/// Used from an address the key's allowlist holds (a key without one may be used anywhere).
#[inline]
fn ip(entry: &TableEntry, context: &Context<'_>, _: &mut Limits) -> Result<(), Refusal> {
    match &entry.policy {
        Some(policy) if !policy.allowed_ips.is_empty() => {
            let client = (context.client)();
            if policy.allowed_ips.contains(client) {
                Ok(())
            } else {
                Err(Refusal::IpNotAllowed(client))
            }
        }
        _ => Ok(()),
    }
}

/// Within the key's rate limit on this instance. (A rate limit shared through Redis is
/// checked by the server, which owns the connection, after these steps.)
#[inline]
fn rate_limit(
    entry: &TableEntry,
    context: &Context<'_>,
    limits: &mut Limits,
) -> Result<(), Refusal> {
    let Some(window) = entry.policy.as_ref().and_then(|p| p.rate.as_ref()) else {
        return Ok(());
    };
    match window.take(context.now_ms, context.consume) {
        Ok(state) => {
            limits.rate = Some(state);
            Ok(())
        }
        Err((state, retry_after)) => Err(Refusal::KeyRateLimited { state, retry_after }),
    }
}

/// Within the key's usage limit for its period.
#[inline]
fn usage_limit(
    entry: &TableEntry,
    context: &Context<'_>,
    limits: &mut Limits,
) -> Result<(), Refusal> {
    let Some(count) = entry.policy.as_ref().and_then(|p| p.usage.as_ref()) else {
        return Ok(());
    };
    match count.take(context.now_ms, context.consume) {
        Ok(state) => {
            limits.usage = Some(state);
            Ok(())
        }
        Err(state) => Err(Refusal::UsageLimitExceeded(state)),
    }
}

/// Checks a key that has passed the format step; on success its use is noted.
#[inline]
pub fn check<'t>(
    table: &'t KeyTable,
    hasher: &KeyHasher,
    key: ParsedKey<'_>,
    context: &Context<'_>,
) -> Result<(&'t TableEntry, Limits), Refusal> {
    let entry = table.find(hasher, key).ok_or(Refusal::NotFound)?;
    check_found(entry, context).map(|limits| (entry, limits))
}

/// [`STEPS`] on an entry the key step has found (a canary is refused first, as
/// [`Refusal::Canary`]); on success its use is noted.
#[inline]
pub fn check_found(entry: &TableEntry, context: &Context<'_>) -> Result<Limits, Refusal> {
    // A canary authorizes nothing and says nothing about itself (not even that it was
    // revoked): it is answered as an unknown key before any step could tell it apart. A
    // retired one (revoked or expired) is no longer recorded.
    if entry.is_canary() {
        return Err(match entry.stopped_by(context.now_ms) {
            Some(_) => Refusal::NotFound,
            None => Refusal::Canary {
                key: entry.key_id,
                account: entry.account_id,
            },
        });
    }
    let mut limits = Limits::default();
    for (_, step) in STEPS {
        step(entry, context, &mut limits)?;
    }
    if context.consume {
        entry.mark_used(context.now_ms);
    }
    Ok(limits)
}

/// Every step from the text on: the format step, then [`check`].
#[inline]
pub fn check_text<'t>(
    table: &'t KeyTable,
    hasher: &KeyHasher,
    text: &str,
    context: &Context<'_>,
) -> Result<(&'t TableEntry, Limits), Refusal> {
    let key = key_format::parse(text)?;
    check(table, hasher, key, context)
}
