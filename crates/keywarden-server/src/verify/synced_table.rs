//! The authoritative in-memory key table of this instance: every key, kept in sync with the
//! store's change feed. Not a cache: a key it does not hold is refused.
//!
//! - At start the table is filled from the feed (every key).
//! - A background task reads the feed every `refresh_interval` (this also picks up changes made
//!   by the operator CLI or, on PostgreSQL, by other instances).
//! - A change made through this instance is applied to the table before its answer is sent, so
//!   a revoked key is refused by the very next request.
//! - If the feed cannot be read for longer than `max_age`, the table is no longer trusted and
//!   verification answers 503 rather than serve stale verdicts.
//! - Successful uses are noted in the table (an atomic store) and written in batches.

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard};
use keywarden_core::Clock;
use keywarden_core::check::{self, ClientAddr, Context, Limits};
use keywarden_core::digest::KeyHasher;
use keywarden_core::key_format::ParsedKey;
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::key_table::{KeyTable, TableEntry};
use keywarden_core::key_usage::{UsageTally, Use};
use keywarden_core::scope::Catalog;
use keywarden_core::service::KeyTableUpdates;
use keywarden_core::store::{KeyTableRow, Store, StoreError};
use keywarden_core::verdict::{Needs, Outcome, Refusal};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Changes read from the feed per query. Small enough that the rows of one page (freed once
/// applied) stay a few megabytes: at start-up with 1e6 keys, pages of 10,000 left
/// about 55 MB of freed but fragmented heap resident (docs/BENCHMARKS.md); a query more per
/// 2,000 keys costs little next to decoding them.
const FEED_PAGE: u32 = 2_000;

/// Shortest time between two feed reads made for unknown keys: a flood of random well-formed
/// keys costs at most one read per this interval, never a query per request (SPEC §5).
pub const UNKNOWN_KEY_READ_GAP: Duration = Duration::from_millis(25);

/// Longest an unknown key's answer waits for the feed.
const UNKNOWN_KEY_WAIT: Duration = Duration::from_millis(500);

/// A first load longer than this many feed numbers is read as two halves at once.
const SPLIT_LOAD: i64 = 8 * FEED_PAGE as i64;

/// The key table and what keeps it in sync: the store, the feed position, the freshness.
#[derive(Debug)]
pub struct SyncedKeyTable {
    /// A reader locks only its own thread's shard: a single `RwLock` would have every check on
    /// every core write the lock's one reader count, moving its cache line between cores on
    /// each request. Writers (feed pages, this instance's changes) lock every shard.
    table: ShardedLock<KeyTable>,
    hasher: KeyHasher,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Serialises feed reads; holds the highest change_seq applied.
    feed_position: tokio::sync::Mutex<i64>,
    /// When the table was last known current (Unix ms).
    synced_at: AtomicI64,
    /// Feed reads started so far. A request that found no key remembers the count it saw: a
    /// read counted after it began after the request arrived, so it sees the key if it exists.
    reads_started: AtomicU64,
    /// When the last read for an unknown key started: taken by one such read at a time (the
    /// others wait here and then find that a read has started since they arrived).
    unknown_key_read: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    /// Feed reads made because a key was unknown, for `/metrics`.
    unknown_key_reads: AtomicU64,
    /// When finished usage periods were last pruned (Unix milliseconds).
    usage_pruned_at: std::sync::atomic::AtomicI64,
    /// Every check of a found key, counted until the next batch is written (SPEC §10).
    usage: UsageTally,
    /// Whether checks are counted at all (configuration `usage_counting`).
    counting: bool,
    /// When usage counts past their keeping were last pruned (Unix milliseconds).
    key_usage_pruned_at: AtomicI64,
    max_age_ms: i64,
}

impl SyncedKeyTable {
    /// An empty table; call [`SyncedKeyTable::catch_up`] before serving.
    pub fn new(
        hasher: KeyHasher,
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        max_age: Duration,
    ) -> Self {
        Self {
            table: ShardedLock::new(KeyTable::default()),
            hasher,
            catalog,
            store,
            clock,
            feed_position: tokio::sync::Mutex::new(0),
            synced_at: AtomicI64::new(0),
            reads_started: AtomicU64::new(0),
            unknown_key_read: tokio::sync::Mutex::new(None),
            unknown_key_reads: AtomicU64::new(0),
            usage_pruned_at: std::sync::atomic::AtomicI64::new(0),
            // About twice the threads that check keys, so two rarely share a shard.
            usage: UsageTally::new(std::thread::available_parallelism().map_or(4, |n| 2 * n.get())),
            key_usage_pruned_at: AtomicI64::new(0),
            counting: true,
            max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(60_000),
        }
    }

    /// Counts checks in the usage tally, or not (SPEC §10; on by default).
    pub fn counting_usage(mut self, on: bool) -> Self {
        self.counting = on;
        self
    }

    /// Reads the change feed up to its end and applies it.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let started = self.clock.unix_millis();
        let mut position = self.feed_position.lock().await;
        self.reads_started.fetch_add(1, Ordering::AcqRel);
        let mut applied = 0;
        if *position == 0 {
            // The first load (start-up): two halves of the feed read at once, so decoding
            // rows runs on both cores. A key sits in one half only: its row has one number
            // up to `end`, and a change made meanwhile moves it past `end`, to the read below.
            let end = self.store.feed_end().await?;
            if end > SPLIT_LOAD {
                let middle = end / 2;
                applied += self.read_ranges(&[(0, middle), (middle, end)]).await?.0;
                *position = end;
            }
        }
        // The rest of the feed, in order; the next page is read while one is applied.
        let (count, last) = self.read_ranges(&[(*position, i64::MAX)]).await?;
        applied += count;
        *position = last.unwrap_or(*position);
        self.synced_at.fetch_max(started, Ordering::Relaxed);
        Ok(applied)
    }

    /// Reads the feed's `(after, until]` ranges, each on its own task page by page, and
    /// applies every page as it arrives. Pages of one range arrive in feed order. Returns the
    /// rows applied and the number of the last one (of the last range to deliver).
    async fn read_ranges(&self, ranges: &[(i64, i64)]) -> Result<(usize, Option<i64>), StoreError> {
        // Two pages per range may wait: enough to keep the readers busy, little memory.
        let (sender, mut pages) = tokio::sync::mpsc::channel(2 * ranges.len());
        let readers: Vec<_> = ranges
            .iter()
            .map(|&(after, until)| {
                let store = Arc::clone(&self.store);
                let sender = sender.clone();
                tokio::spawn(read_range(store, after, until, sender))
            })
            .collect();
        drop(sender);
        let (mut applied, mut last) = (0, None);
        while let Some(page) = pages.recv().await {
            let rows = page?;
            applied += rows.len();
            last = rows.last().map(|row| row.change_seq).or(last);
            self.apply_entries(
                rows.iter()
                    .map(|row| TableEntry::from_row(row, &self.catalog))
                    .collect(),
            );
        }
        // A reader that panicked closed its side without sending an error: not a full read.
        for reader in readers {
            reader
                .await
                .map_err(|e| StoreError::Other(format!("a key feed reader stopped: {e}")))?;
        }
        Ok((applied, last))
    }

    /// Applies records just changed through this instance, before the answer is sent.
    pub fn apply(&self, records: &[KeyRecord]) {
        self.apply_entries(
            records
                .iter()
                .map(|r| TableEntry::from_record(r, &self.catalog))
                .collect(),
        );
    }

    /// Applies entries built outside the lock, so readers wait only for the inserts.
    fn apply_entries(&self, entries: Vec<TableEntry>) {
        // Held only for these inserts, never across an await.
        let mut table = self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.reserve(entries.len());
        for entry in entries {
            // A key's lifecycle only moves forward (active → rotated → revoked). A record that
            // would move it back is a late copy (from a request that lost the race with an
            // overlapping rotation, or a feed read that began before the change): ignored, so a
            // stopped key is never revived, not even until the next feed read.
            let stale = table
                .get(&entry.digest)
                .is_some_and(|current| stage(current.lifecycle) > stage(entry.lifecycle));
            if !stale {
                table.upsert(entry);
            }
        }
    }

    /// Number of keys in the table.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> ShardedLockReadGuard<'_, KeyTable> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Milliseconds since the table was last known current.
    pub fn age_millis(&self, now_ms: i64) -> i64 {
        (now_ms - self.synced_at.load(Ordering::Relaxed)).max(0)
    }

    /// Whether the table is recent enough to answer from.
    pub fn is_fresh(&self, now_ms: i64) -> bool {
        now_ms - self.synced_at.load(Ordering::Relaxed) <= self.max_age_ms
    }

    /// Checks a parsed key for a request that `needs` this access from the address `client`
    /// gives; calls `accept` with the entry, its limits' state and the use as counted if every
    /// step passes. Every check of a found key is counted in the usage tally (SPEC §10), so
    /// the client's address is worked out once for a found key. The closure runs under the
    /// read lock, so it must be short and must not block.
    #[inline]
    pub fn check<R>(
        &self,
        key: ParsedKey<'_>,
        needs: Needs,
        client: &ClientAddr<'_>,
        accept: impl FnOnce(&TableEntry, Limits, Use) -> R,
    ) -> Result<R, Refusal> {
        self.check_counting(key, needs, client, true, accept)
    }

    /// [`SyncedKeyTable::check`], with a refusal counted in the usage tally only when
    /// `count_refusal` (a reverse proxy asking again only for a refusal's body says so).
    #[inline]
    pub fn check_counting<R>(
        &self,
        key: ParsedKey<'_>,
        needs: Needs,
        client: &ClientAddr<'_>,
        count_refusal: bool,
        accept: impl FnOnce(&TableEntry, Limits, Use) -> R,
    ) -> Result<R, Refusal> {
        let now_ms = self.clock.unix_millis();
        if !self.is_fresh(now_ms) {
            return Err(Refusal::Unavailable);
        }
        let table = self.read();
        let entry = table.find(&self.hasher, key).ok_or(Refusal::NotFound)?;
        let address = client();
        let context = Context {
            needs,
            required: needs.scopes(&self.catalog),
            now_ms,
            client: &|| address,
            consume: true,
        };
        let used = Use::of(entry, needs, address, now_ms);
        match check::check_found(entry, &context) {
            Ok(limits) => {
                if self.counting {
                    self.usage.record(used, Outcome::Valid);
                }
                Ok(accept(entry, limits, used))
            }
            // A canary's presentations are its trips, not usage; and it is checked twice, as
            // an unknown key is (after the feed wait), so counting it would count it twice.
            Err(refusal @ Refusal::Canary { .. }) => Err(refusal),
            Err(refusal) => {
                if count_refusal && self.counting {
                    self.usage.record(used, refusal.outcome());
                }
                Err(refusal)
            }
        }
    }

    /// What [`SyncedKeyTable::check`] would answer, without counting the request or consuming
    /// any limit (`POST /v1/explain/`): `explain` runs on the entry `find` picks, under the read
    /// lock; `None` when the table does not hold the key.
    pub fn explain<R>(
        &self,
        find: impl FnOnce(&KeyTable) -> Option<&TableEntry>,
        needs: Needs,
        client: IpAddr,
        explain: impl FnOnce(&TableEntry, &Context<'_>) -> R,
    ) -> Result<Option<R>, Refusal> {
        let now_ms = self.clock.unix_millis();
        if !self.is_fresh(now_ms) {
            return Err(Refusal::Unavailable);
        }
        let table = self.read();
        let Some(entry) = find(&table) else {
            return Ok(None);
        };
        let context = Context {
            needs,
            required: needs.scopes(&self.catalog),
            now_ms,
            client: &|| client,
            consume: false,
        };
        Ok(Some(explain(entry, &context)))
    }

    /// The keyed hash that finds a presented key.
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// A use counted as allowed was refused by the rate limit shared through Redis: moves it
    /// to `outcome` in the usage tally.
    pub fn overrule(&self, used: Use, outcome: Outcome) {
        // With counting off nothing was counted, and nothing (no address) may be written.
        if self.counting {
            self.usage.overrule(used, outcome);
        }
    }

    /// Feed reads started so far (see [`SyncedKeyTable::catch_up_for_unknown_key`]).
    pub fn reads_started(&self) -> u64 {
        self.reads_started.load(Ordering::Acquire)
    }

    /// Feed reads made because a key was unknown, since start.
    pub fn unknown_key_reads(&self) -> u64 {
        self.unknown_key_reads.load(Ordering::Relaxed)
    }

    /// Brings the table up to date for a key it did not hold when `seen` reads had started
    /// (SPEC §5: a new key works on the very next request, wherever it was created). Returns
    /// once a read that started after `seen` has finished: the refresh loop's, another unknown
    /// key's, or one made here. Such reads are single-flight and at most one per
    /// [`UNKNOWN_KEY_READ_GAP`], whatever the rate of unknown keys.
    pub async fn catch_up_for_unknown_key(&self, seen: u64) -> Result<(), StoreError> {
        let mut last = self.unknown_key_read.lock().await;
        if self.reads_started() <= seen {
            if let Some(at) = *last {
                tokio::time::sleep_until(at + UNKNOWN_KEY_READ_GAP).await;
            }
            if self.reads_started() <= seen {
                *last = Some(tokio::time::Instant::now());
                self.unknown_key_reads.fetch_add(1, Ordering::Relaxed);
                drop(last);
                return self.catch_up().await.map(|_| ());
            }
        }
        drop(last);
        // A read began after this request arrived; it may still run: wait for it to finish.
        drop(self.feed_position.lock().await);
        Ok(())
    }

    /// [`SyncedKeyTable::check`], and for a well-formed key the table does not hold, the same
    /// check again after [`SyncedKeyTable::catch_up_for_unknown_key`]. `seen` is
    /// [`SyncedKeyTable::reads_started`] taken after the request arrived.
    pub async fn check_after_catching_up<R>(
        &self,
        seen: u64,
        key: ParsedKey<'_>,
        needs: Needs,
        client: &ClientAddr<'_>,
        accept: impl Fn(&TableEntry, Limits, Use) -> R,
    ) -> Result<R, Refusal> {
        // Bounded: with the database away, an unknown key is answered as unknown, not held.
        match tokio::time::timeout(UNKNOWN_KEY_WAIT, self.catch_up_for_unknown_key(seen)).await {
            Ok(Ok(())) => {}
            // Debug, not warn: a flood of unknown keys while the database is away would write
            // a line per request; the refresh loop already warns when the feed cannot be read.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot read the key change feed for an unknown key");
            }
            Err(_) => {
                tracing::debug!("the key change feed took too long to read for an unknown key")
            }
        }
        self.check(key, needs, client, accept)
    }

    /// Writes the uses noted since the last call, in one batch.
    pub async fn flush_last_used(&self) -> Result<usize, StoreError> {
        let uses = self.read().take_uses();
        if uses.is_empty() {
            return Ok(0);
        }
        self.store.record_last_used(&uses).await?;
        Ok(uses.len())
    }

    /// Adds this instance's usage-limit counts to the store's and takes every instance's
    /// totals back (SPEC §9): the only writes usage limits make, one batch per interval.
    pub async fn flush_usage(&self) -> Result<usize, StoreError> {
        let now_ms = self.clock.unix_millis();
        if now_ms - self.usage_pruned_at.load(Ordering::Relaxed) >= USAGE_PRUNE_EVERY_MS {
            self.usage_pruned_at.store(now_ms, Ordering::Relaxed);
            // Older than any month that may still be current.
            let before = self.clock.now() - time::Duration::days(62);
            self.store.prune_usage(before).await?;
        }
        let counts = self.read().take_usage_counts(now_ms);
        if counts.is_empty() {
            return Ok(0);
        }
        match self.store.add_usage(&counts).await {
            Ok(totals) => {
                self.read().set_usage_totals(&counts, &totals);
                Ok(counts.iter().filter(|c| c.count > 0).count())
            }
            Err(e) => {
                // Counted again next time rather than lost.
                self.read().restore_usage_counts(&counts);
                Err(e)
            }
        }
    }

    /// Writes the usage counted since the last batch (SPEC §10): the only writes usage
    /// counting makes, one batch per interval. Counts that cannot be written are put back and
    /// go with the next batch; a crash loses at most what was counted since the last batch.
    pub async fn flush_key_usage(&self) -> Result<usize, StoreError> {
        let now_ms = self.clock.unix_millis();
        if now_ms - self.key_usage_pruned_at.load(Ordering::Relaxed) >= USAGE_PRUNE_EVERY_MS {
            self.key_usage_pruned_at.store(now_ms, Ordering::Relaxed);
            let before_hour = now_ms.div_euclid(HOUR_MS) - KEY_USAGE_KEPT_HOURS;
            self.store.prune_key_usage(before_hour).await?;
        }
        let taken = self.usage.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let batch = taken.batch(&self.catalog);
        match self.store.add_key_usage(&batch).await {
            Ok(()) => Ok(batch.counts.len()),
            Err(e) => {
                self.usage.put_back(taken);
                Err(e)
            }
        }
    }

    /// The catalog the table was built against.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

impl KeyTableUpdates for SyncedKeyTable {
    fn apply(&self, records: &[KeyRecord]) {
        SyncedKeyTable::apply(self, records);
    }
}

/// Sends the pages of the feed's `(after, until]` range in order, until the range is read,
/// a read fails (the error is sent) or nobody listens.
async fn read_range(
    store: Arc<dyn Store>,
    mut after: i64,
    until: i64,
    pages: tokio::sync::mpsc::Sender<Result<Vec<KeyTableRow>, StoreError>>,
) {
    loop {
        let page = store.key_table_since(after, until, FEED_PAGE).await;
        let more = match &page {
            Ok(rows) if rows.len() == FEED_PAGE as usize => rows.last().map(|row| row.change_seq),
            _ => None,
        };
        if pages.send(page).await.is_err() {
            return;
        }
        match more {
            Some(last) => after = last,
            None => return,
        }
    }
}

/// How far along its one-way lifecycle a key is.
fn stage(lifecycle: Lifecycle) -> u8 {
    match lifecycle {
        Lifecycle::Active => 0,
        Lifecycle::Rotated => 1,
        Lifecycle::Revoked => 2,
    }
}

/// How often rows of finished usage periods (and usage counts past their keeping) are
/// deleted: hourly.
const USAGE_PRUNE_EVERY_MS: i64 = 3_600_000;

/// Milliseconds per hour.
const HOUR_MS: i64 = 3_600_000;

/// How long usage counts are kept (SPEC §10): 90 days.
pub const KEY_USAGE_KEPT_HOURS: i64 = 90 * 24;

/// Runs the feed reader and the last-used writer until `shutdown` fires, then flushes once more.
pub async fn run_refresh(
    table: Arc<SyncedKeyTable>,
    refresh_every: Duration,
    flush_every: Duration,
    usage_every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // Start-up has just read the feed: the first read is one interval away. (The usage counts'
    // first flush runs at once, so a starting instance learns the others' totals.)
    let start = tokio::time::Instant::now();
    let mut refresh = tokio::time::interval_at(start + refresh_every, refresh_every);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flush = tokio::time::interval_at(start + flush_every, flush_every);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut usage = tokio::time::interval(usage_every);
    usage.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick() => {
                if let Err(e) = table.catch_up().await {
                    tracing::warn!(error = %e, "cannot read the key change feed; serving from the table until it is too old");
                }
            }
            _ = flush.tick() => {
                if let Err(e) = table.flush_last_used().await {
                    tracing::warn!(error = %e, "cannot record last use times; will retry");
                }
            }
            _ = usage.tick() => {
                if let Err(e) = table.flush_usage().await {
                    tracing::warn!(error = %e, "cannot record usage-limit counts; will retry");
                }
                if let Err(e) = table.flush_key_usage().await {
                    tracing::warn!(error = %e, "cannot record key usage counts; will retry");
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    if let Err(e) = table.flush_last_used().await {
        tracing::warn!(error = %e, "cannot record last use times at shutdown");
    }
    if let Err(e) = table.flush_usage().await {
        tracing::warn!(error = %e, "cannot record usage-limit counts at shutdown");
    }
    if let Err(e) = table.flush_key_usage().await {
        tracing::warn!(error = %e, "cannot record key usage counts at shutdown");
    }
}
