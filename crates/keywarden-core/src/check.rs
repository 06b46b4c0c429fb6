//! The key check as an ordered list of small steps; the first that refuses decides.
//!
//! 1. **format**: the text has a key's shape and checksum ([`crate::key_format::parse`]). It
//!    runs where the key is read, so a malformed key never reaches a lookup and is parsed once.
//! 2. **key**: the keyed hash finds the table entry ([`KeyTable::find`]).
//! 3. then each of [`STEPS`] looks at the entry: **status** (revoked, rotated past its grace,
//!    expired), **scope** (the access the request needs).
//!
//! A new check (an address allowlist, a rate limit) is one [`Refusal`] variant and one entry in
//! [`STEPS`]; an explanation of a verdict can walk the same list.

use crate::digest::KeyHasher;
use crate::key_format::{self, ParsedKey};
use crate::key_table::{KeyTable, TableEntry};
use crate::scope::ScopeSet;
use crate::verdict::{Needs, Refusal};

/// What a check of one request knows besides the key.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The access the request needs, as named in a refusal.
    pub needs: Needs,
    /// The same as a set of scopes (computed once per request).
    pub required: ScopeSet,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
}

/// A check of a found entry.
pub type Step = fn(&TableEntry, &Context) -> Result<(), Refusal>;

/// The checks of a found entry, in order, with the names an explanation shows.
pub const STEPS: [(&str, Step); 2] = [("status", status), ("scope", scope)];

/// Revoked, rotated past its grace, or expired at `now`.
#[inline]
fn status(entry: &TableEntry, context: &Context) -> Result<(), Refusal> {
    match entry.stopped_by(context.now_ms) {
        Some(stopped) => Err(Refusal::Stopped(stopped)),
        None => Ok(()),
    }
}

/// Holds the scopes the request needs.
#[inline]
fn scope(entry: &TableEntry, context: &Context) -> Result<(), Refusal> {
    if entry.scopes.contains(context.required) {
        Ok(())
    } else {
        Err(Refusal::InsufficientScope(context.needs))
    }
}

/// Checks a key that has passed the format step; on success its use is noted.
#[inline]
pub fn check<'t>(
    table: &'t KeyTable,
    hasher: &KeyHasher,
    key: ParsedKey<'_>,
    context: &Context,
) -> Result<&'t TableEntry, Refusal> {
    let entry = table.find(hasher, key).ok_or(Refusal::NotFound)?;
    for (_, step) in STEPS {
        step(entry, context)?;
    }
    entry.mark_used(context.now_ms);
    Ok(entry)
}

/// Every step from the text on: the format step, then [`check`].
#[inline]
pub fn check_text<'t>(
    table: &'t KeyTable,
    hasher: &KeyHasher,
    text: &str,
    context: &Context,
) -> Result<&'t TableEntry, Refusal> {
    let key = key_format::parse(text)?;
    check(table, hasher, key, context)
}
