//! The in-memory key table: everything a verification needs, for every stored key, so that the
//! steady-state check (parse → checksum → keyed hash → lookup → state and scope) never waits
//! on the database and allocates nothing. Unknown keys are refused from here too, so a flood
//! of random well-formed keys never reaches storage.
//!
//! The table is filled at start and kept current from the store's change feed; this module is
//! pure data, the server owns the refresh loop.

use crate::digest::{KeyDigest, KeyHasher};
use crate::ids::{AccountId, KeyId};
use crate::key_format::{KeyKind, Mode, ParsedKey};
use crate::key_limits::EntryPolicy;
use crate::key_record::{KeyRecord, Lifecycle, Stopped};
use crate::scope::{Catalog, ScopeSet};
use crate::store::{KeyTableRow, PeriodCount};
use hashbrown::HashTable;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// "Never" for expiry and deadlines.
const NEVER: i64 = i64::MAX;

/// What the table keeps per key.
#[derive(Debug)]
pub struct TableEntry {
    /// HMAC of the key.
    pub digest: KeyDigest,
    /// Record id.
    pub key_id: KeyId,
    /// Owning account.
    pub account_id: AccountId,
    /// Standard or restricted.
    pub kind: KeyKind,
    /// Test or live.
    pub mode: Mode,
    /// Granted scopes; a standard key holds every scope of the catalog.
    pub scopes: ScopeSet,
    /// Expiry in Unix milliseconds, or `i64::MAX`.
    pub expires_at: i64,
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Revocation time, or the end of a rotated key's grace, in Unix milliseconds.
    pub stopped_at: i64,
    /// Allowlist, limits and metadata; `None` for a key without any (most keys).
    pub policy: Option<Box<EntryPolicy>>,
    /// Last successful use not yet written to storage (0 = none).
    last_used: AtomicI64,
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(NEVER)
}

/// Unix milliseconds back to a time (for `stopped_at` in answers).
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Unix milliseconds as RFC 3339 (for a refusal's detail).
pub fn rfc3339(ms: i64) -> String {
    from_millis(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl TableEntry {
    /// Builds the entry of a stored key against the current catalog.
    pub fn from_record(record: &KeyRecord, catalog: &Catalog) -> Self {
        Self::from_row(&KeyTableRow::of(record), catalog)
    }

    /// Builds the entry of a row of the store's narrow feed against the current catalog.
    pub fn from_row(row: &KeyTableRow, catalog: &Catalog) -> Self {
        let scopes = match row.kind {
            KeyKind::Standard => catalog.all(),
            KeyKind::Restricted => catalog.parse_stored(row.scopes.iter().map(String::as_str)),
        };
        Self {
            digest: row.digest,
            key_id: row.id,
            account_id: row.account_id,
            kind: row.kind,
            mode: row.mode,
            scopes,
            expires_at: row.expires_at.map_or(NEVER, millis),
            lifecycle: row.lifecycle,
            stopped_at: row.stopped_at.map_or(NEVER, millis),
            policy: EntryPolicy::of(&row.policy),
            last_used: AtomicI64::new(0),
        }
    }

    /// Whether the key has stopped working by `now_ms`; the same rules as
    /// [`KeyRecord::stopped_by`].
    #[inline]
    pub fn stopped_by(&self, now_ms: i64) -> Option<Stopped> {
        match self.lifecycle {
            Lifecycle::Active => {}
            Lifecycle::Revoked => {
                return Some(Stopped::Revoked {
                    at: from_millis(self.stopped_at),
                });
            }
            Lifecycle::Rotated if now_ms >= self.stopped_at => {
                return Some(Stopped::Rotated {
                    at: from_millis(self.stopped_at),
                });
            }
            Lifecycle::Rotated => {}
        }
        (now_ms >= self.expires_at).then(|| Stopped::Expired {
            at: from_millis(self.expires_at),
        })
    }

    /// Whether the key is a canary (SPEC §8); most keys have no policy, so this is one branch.
    #[inline]
    pub fn is_canary(&self) -> bool {
        self.policy.as_ref().is_some_and(|p| p.canary)
    }

    /// Notes a successful use; a relaxed store, no lock and no allocation.
    #[inline]
    pub fn mark_used(&self, now_ms: i64) {
        // Skip the store when this millisecond is already noted: a key checked many times a
        // millisecond from several cores then does not bounce its cache line between them.
        if self.last_used.load(Ordering::Relaxed) != now_ms {
            self.last_used.store(now_ms, Ordering::Relaxed);
        }
    }
}

/// Digest → entry. Buckets hash on the digest's first 8 bytes (see [`KeyDigest::bucket`]);
/// the full digest is compared in constant time.
///
/// Layout: the entries sit densely in one `Vec` (104 bytes each, in arrival order) and the
/// hash table holds only their 4-byte positions. A hash table of whole entries would need
/// `buckets × 105` bytes, and hashbrown keeps at most 7/8 of its buckets full with a
/// power-of-two count: at 1e6 keys that is 2^21 buckets, 220 bytes per key. Indexed, the same
/// table is 2^21 × 5 bytes plus the entries: about 115 bytes per key (docs/BENCHMARKS.md). The
/// price is one more memory access per lookup. Entries are never removed (a revoked key stays
/// as a revoked entry), so positions never move.
#[derive(Default)]
pub struct KeyTable {
    index: HashTable<u32>,
    entries: Vec<TableEntry>,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable")
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl KeyTable {
    /// An empty table with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            index: HashTable::with_capacity(n),
            entries: Vec::with_capacity(n),
        }
    }

    /// Makes room for `additional` more keys (before applying a batch).
    pub fn reserve(&mut self, additional: usize) {
        let entries = &self.entries;
        self.index.reserve(additional, |&at| bucket_of(entries, at));
        self.entries.reserve(additional);
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Inserts or replaces the entry for a digest. A replaced entry's pending use is kept.
    ///
    /// A table holds at most `u32::MAX` keys; past that, new keys are not added (and are
    /// therefore refused as unknown: the table fails closed).
    pub fn upsert(&mut self, entry: TableEntry) {
        let hash = entry.digest.bucket();
        let digest = entry.digest;
        let entries = &mut self.entries;
        let found = self
            .index
            .find(hash, |&at| same_digest(entries, at, &digest))
            .copied();
        match found.and_then(|at| entries.get_mut(at as usize)) {
            Some(slot) => {
                let pending = slot.last_used.load(Ordering::Relaxed);
                entry.last_used.store(pending, Ordering::Relaxed);
                if let (Some(new), Some(old)) = (&entry.policy, &slot.policy) {
                    new.carry_counts_from(old);
                }
                *slot = entry;
            }
            None => {
                let Ok(at) = u32::try_from(entries.len()) else {
                    return;
                };
                entries.push(entry);
                let entries = &self.entries;
                self.index
                    .insert_unique(hash, at, |&at| bucket_of(entries, at));
            }
        }
    }

    /// The entry for a digest.
    #[inline]
    pub fn get(&self, digest: &KeyDigest) -> Option<&TableEntry> {
        let entries = &self.entries;
        let at = *self
            .index
            .find(digest.bucket(), |&at| same_digest(entries, at, digest))?;
        entries.get(at as usize)
    }

    /// The entry of a presented key (the keyed hash of its text), if it is in the table.
    #[inline]
    pub fn find(&self, hasher: &KeyHasher, key: ParsedKey<'_>) -> Option<&TableEntry> {
        self.get(&hasher.digest(key.text))
    }

    /// Takes the uses noted since the last call, for one batched write.
    /// The unsaved counts of every key with a usage limit (zero counts too: the store's
    /// answer tells this instance what the others allowed).
    pub fn take_usage_counts(&self, now_ms: i64) -> Vec<PeriodCount> {
        self.entries
            .iter()
            .filter_map(|e| {
                let usage = e.policy.as_ref()?.usage.as_ref()?;
                let (period_start, count) = usage.take_unsaved(now_ms);
                Some(PeriodCount {
                    key_id: e.key_id,
                    period_start,
                    count,
                })
            })
            .collect()
    }

    /// Puts back the counts of a flush that failed.
    pub fn restore_usage_counts(&self, counts: &[PeriodCount]) {
        self.each_usage(counts.iter().map(|c| (c.key_id, c)), |usage, c| {
            usage.restore_unsaved(c.period_start, c.count);
        });
    }

    /// Every instance's totals, as the store answered for `counts`.
    pub fn set_usage_totals(&self, counts: &[PeriodCount], totals: &[u64]) {
        let by_key = counts.iter().zip(totals).map(|(c, t)| (c.key_id, (c, *t)));
        self.each_usage(by_key, |usage, (c, total)| {
            usage.set_stored_total(c.period_start, *total);
        });
    }

    /// Calls `apply` with the usage count of each entry `by_key` names (one pass over the
    /// table, whatever the number of keys named).
    fn each_usage<T>(
        &self,
        by_key: impl Iterator<Item = (KeyId, T)>,
        mut apply: impl FnMut(&crate::key_limits::UsageCount, &T),
    ) {
        let by_key: std::collections::HashMap<KeyId, T> = by_key.collect();
        for entry in &self.entries {
            if let (Some(usage), Some(value)) = (
                entry.policy.as_ref().and_then(|p| p.usage.as_ref()),
                by_key.get(&entry.key_id),
            ) {
                apply(usage, value);
            }
        }
    }

    pub fn take_uses(&self) -> Vec<(KeyId, OffsetDateTime)> {
        self.entries
            .iter()
            .filter_map(|e| {
                // Read first: a swap would write every entry's cache line, used or not.
                if e.last_used.load(Ordering::Relaxed) == 0 {
                    return None;
                }
                let used = e.last_used.swap(0, Ordering::Relaxed);
                (used != 0).then(|| (e.key_id, from_millis(used)))
            })
            .collect()
    }
}

/// The hash of the entry at `at` (for the index's rehashing).
#[inline]
fn bucket_of(entries: &[TableEntry], at: u32) -> u64 {
    entries.get(at as usize).map_or(0, |e| e.digest.bucket())
}

/// Whether the entry at `at` has `digest` (compared in constant time).
#[inline]
fn same_digest(entries: &[TableEntry], at: u32, digest: &KeyDigest) -> bool {
    entries
        .get(at as usize)
        .is_some_and(|e| e.digest.ct_eq(digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Context, check_text};
    use crate::ids::UserId;
    use crate::key_format::{self, KeyFormatError};
    use crate::random::OsRandom;
    use crate::secret::ServerSecret;
    use crate::verdict::{FormatProblem, Needs, Refusal};
    use time::macros::datetime;

    struct Fixture {
        hasher: KeyHasher,
        catalog: Catalog,
        table: KeyTable,
    }

    fn fixture() -> Fixture {
        let secret = ServerSecret::from_text(&"s".repeat(40)).unwrap();
        Fixture {
            hasher: KeyHasher::new(&secret),
            catalog: Catalog::default(),
            table: KeyTable::default(),
        }
    }

    fn record(f: &Fixture, kind: KeyKind, scopes: &[&str]) -> (String, KeyRecord) {
        let at = datetime!(2026-01-01 00:00 UTC);
        let key = key_format::generate(kind, Mode::Live, &OsRandom).unwrap();
        let rec = KeyRecord {
            id: KeyId::new_at(at),
            account_id: AccountId::new_at(at),
            kind,
            mode: Mode::Live,
            label: "x".into(),
            hint: key.hint(),
            digest: f.hasher.digest(key.expose()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            lifecycle: Lifecycle::Active,
            created_at: at,
            created_by: Some(UserId::new_at(at)),
            expires_at: None,
            last_used_at: None,
            rotated_at: None,
            revoked_at: None,
            grace_until: None,
            replaced_by: None,
            replaces: None,
            change_seq: 1,
            policy: Default::default(),
            leak: None,
        };
        (key.expose().to_owned(), rec)
    }

    const NOW: i64 = 1_800_000_000_000;

    /// The whole check of `key` for a request that needs `needs`, at `NOW`.
    fn check<'t>(f: &'t Fixture, key: &str, needs: Needs) -> Result<&'t TableEntry, Refusal> {
        let context = Context {
            needs,
            required: needs.scopes(&f.catalog),
            now_ms: NOW,
            client: &|| std::net::Ipv4Addr::LOCALHOST.into(),
            consume: true,
        };
        check_text(&f.table, &f.hasher, key, &context).map(|(entry, _)| entry)
    }

    #[test]
    fn a_stored_key_is_found_and_its_use_noted() {
        let mut f = fixture();
        let (key, rec) = record(&f, KeyKind::Standard, &[]);
        f.table.upsert(TableEntry::from_record(&rec, &f.catalog));
        let payroll = f.catalog.parse_scope("payroll:write").unwrap();
        let entry = check(&f, &key, Needs::Scope(payroll)).unwrap();
        assert_eq!(entry.key_id, rec.id);
        let uses = f.table.take_uses();
        assert_eq!(uses, vec![(rec.id, from_millis(NOW))]);
        assert!(f.table.take_uses().is_empty());
    }

    #[test]
    fn unknown_malformed_and_unscoped_keys_are_told_apart() {
        let mut f = fixture();
        let (key, rec) = record(&f, KeyKind::Restricted, &["payroll:read"]);
        let (other, _) = record(&f, KeyKind::Restricted, &[]);
        f.table.upsert(TableEntry::from_record(&rec, &f.catalog));
        assert_eq!(
            check(&f, &other, Needs::Nothing).unwrap_err(),
            Refusal::NotFound
        );
        assert!(matches!(
            check(&f, "sk_live_short", Needs::Nothing),
            Err(Refusal::Format(FormatProblem::Key(
                KeyFormatError::WrongLength { .. }
            )))
        ));
        let write = f.catalog.parse_scope("payroll:write").unwrap();
        let read = f.catalog.parse_scope("payroll:read").unwrap();
        assert_eq!(
            check(&f, &key, Needs::Scope(write)).unwrap_err(),
            Refusal::InsufficientScope(Needs::Scope(write))
        );
        assert!(check(&f, &key, Needs::Scope(read)).is_ok());
        let every_read = Needs::Every(crate::scope::Access::Read);
        assert_eq!(
            check(&f, &key, every_read).unwrap_err(),
            Refusal::InsufficientScope(every_read)
        );
    }

    #[test]
    fn a_replaced_entry_takes_effect_at_once() {
        let mut f = fixture();
        let (key, mut rec) = record(&f, KeyKind::Standard, &[]);
        f.table.upsert(TableEntry::from_record(&rec, &f.catalog));
        rec.lifecycle = Lifecycle::Revoked;
        rec.revoked_at = Some(from_millis(NOW - 5));
        f.table.upsert(TableEntry::from_record(&rec, &f.catalog));
        assert_eq!(f.table.len(), 1);
        assert_eq!(
            check(&f, &key, Needs::Nothing).unwrap_err(),
            Refusal::Stopped(Stopped::Revoked {
                at: from_millis(NOW - 5)
            })
        );
    }

    #[test]
    fn many_keys_are_found_and_replaced_in_place() {
        let mut f = fixture();
        f.table.reserve(10);
        let mut keys = Vec::new();
        for _ in 0..3_000 {
            let (key, rec) = record(&f, KeyKind::Standard, &[]);
            f.table.upsert(TableEntry::from_record(&rec, &f.catalog));
            keys.push((key, rec));
        }
        assert_eq!(f.table.len(), 3_000);
        for (key, rec) in &mut keys {
            rec.lifecycle = Lifecycle::Revoked;
            rec.revoked_at = Some(from_millis(NOW - 1));
            f.table.upsert(TableEntry::from_record(rec, &f.catalog));
            assert!(matches!(
                check(&f, key, Needs::Nothing),
                Err(Refusal::Stopped(Stopped::Revoked { .. }))
            ));
        }
        assert_eq!(f.table.len(), 3_000);
        for (_, rec) in &keys {
            assert_eq!(f.table.get(&rec.digest).unwrap().key_id, rec.id);
        }
        assert!(format!("{:?}", f.table).contains("3000"));
    }

    #[test]
    fn entry_rules_match_record_rules() {
        let f = fixture();
        let (_, mut rec) = record(&f, KeyKind::Restricted, &[]);
        let base = datetime!(2026-03-01 00:00 UTC);
        rec.expires_at = Some(base);
        for (lifecycle, grace) in [
            (Lifecycle::Active, None),
            (Lifecycle::Rotated, Some(base - time::Duration::hours(1))),
            (Lifecycle::Rotated, Some(base + time::Duration::hours(1))),
            (Lifecycle::Revoked, None),
        ] {
            rec.lifecycle = lifecycle;
            rec.grace_until = grace;
            rec.rotated_at = grace;
            rec.revoked_at = Some(base - time::Duration::days(1));
            let entry = TableEntry::from_record(&rec, &f.catalog);
            for offset in [-7200, -1, 0, 1, 7200] {
                let now = base + time::Duration::seconds(offset);
                assert_eq!(
                    entry.stopped_by(millis(now)),
                    rec.stopped_by(now),
                    "{lifecycle:?} {offset}"
                );
            }
        }
    }
}
