//! Counting how keys are used (SPEC §10), on the verify path: every check of a found key adds
//! one to a cell — key, hour, outcome, product and access, client address — in memory, and the
//! server writes the cells to the store in batches ([`crate::store::KeyUsageStore`]).
//!
//! Nothing every core writes on every request: the cells are split into shards, and each
//! thread keeps to its own shard (given out round-robin on its first count), so two threads
//! counting at once take two different, uncontended locks. A shard's map keeps its capacity
//! from one batch to the next, so a steady load counts without allocating.
//!
//! Counts are signed: a request the local checks allowed but a shared rate limit (Redis) then
//! refused is moved from `allowed` to the refusal by adding −1 and +1 ([`UsageTally::overrule`]),
//! on whichever shard and in whichever batch the correction falls; the store adds them up.

use crate::ids::{AccountId, KeyId};
use crate::key_table::TableEntry;
use crate::scope::{Access, Catalog};
use crate::store::{AddressCount, UsageBatch, UsageCount};
use crate::verdict::{Needs, Outcome};
use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Distinct cells a shard holds between two batches before new client addresses stop being
/// told apart (they are then counted under no address). Bounds memory under a flood of one
/// found key from very many addresses; at about 100 bytes a cell, 16 MiB a shard at most.
const MAX_CELLS_PER_SHARD: usize = 1 << 17;

/// Milliseconds per hour.
const HOUR_MS: i64 = 3_600_000;

/// Product index of a request that named no product (a verification asking for no scope).
const NO_PRODUCT: u8 = u8::MAX;
/// Product index of a request that needed every product (a path of no product).
const EVERY_PRODUCT: u8 = u8::MAX - 1;

/// One check of a found key, as it is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Use {
    /// The key.
    pub key_id: KeyId,
    /// Its account.
    pub account_id: AccountId,
    /// What the request needed.
    pub needs: Needs,
    /// The client's address.
    pub client: IpAddr,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

impl Use {
    /// A check of `entry`.
    #[inline]
    pub fn of(entry: &TableEntry, needs: Needs, client: IpAddr, at_ms: i64) -> Self {
        Self {
            key_id: entry.key_id,
            account_id: entry.account_id,
            needs,
            client,
            at_ms,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Cell {
    key_id: KeyId,
    hour: i64,
    outcome: Outcome,
    product: u8,
    access: Option<Access>,
    client: Option<IpAddr>,
}

#[derive(Clone, Copy, Debug)]
struct Tally {
    account_id: AccountId,
    count: i64,
    last_seen_ms: i64,
}

type Cells = HashMap<Cell, Tally>;

/// A cell without its address: what the per-outcome counts are kept by.
type CountKey = (KeyId, i64, Outcome, u8, Option<Access>);

/// The counts not yet written, split into shards by thread.
pub struct UsageTally {
    shards: Box<[Mutex<Cells>]>,
}

impl std::fmt::Debug for UsageTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageTally")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// The next shard a thread that has not counted yet is given.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard number (taken modulo each tally's shard count).
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
}

/// Counts taken out of a tally, to be written (or put back if the write fails).
#[derive(Debug, Default)]
pub struct TakenUsage {
    cells: Cells,
}

impl UsageTally {
    /// A tally with `shards` shards (at least one; about twice the worker threads keeps two
    /// threads off one shard).
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Cells::new()))
                .collect(),
        }
    }

    /// Counts one check with its outcome.
    #[inline]
    pub fn record(&self, used: Use, outcome: Outcome) {
        self.add(used, outcome, 1);
    }

    /// A check counted as allowed was refused after all (by the rate limit shared through
    /// Redis): moves it to `outcome`.
    pub fn overrule(&self, used: Use, outcome: Outcome) {
        self.add(used, Outcome::Valid, -1);
        self.add(used, outcome, 1);
    }

    #[inline]
    fn add(&self, used: Use, outcome: Outcome, count: i64) {
        let (product, access) = match used.needs {
            Needs::Nothing => (NO_PRODUCT, None),
            Needs::Scope(scope) => (scope.product, Some(scope.access)),
            Needs::Every(access) => (EVERY_PRODUCT, Some(access)),
        };
        let mut cell = Cell {
            key_id: used.key_id,
            hour: used.at_ms.div_euclid(HOUR_MS),
            outcome,
            product,
            access,
            client: Some(used.client),
        };
        let shard = SHARD.try_with(|s| *s).unwrap_or(0) % self.shards.len();
        let Some(shard) = self.shards.get(shard) else {
            return;
        };
        // A poisoned shard only means a thread panicked mid-count: the counts stay usable.
        let mut cells = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if cells.len() >= MAX_CELLS_PER_SHARD && !cells.contains_key(&cell) {
            cell.client = None;
        }
        let tally = cells.entry(cell).or_insert(Tally {
            account_id: used.account_id,
            count: 0,
            last_seen_ms: used.at_ms,
        });
        tally.count += count;
        tally.last_seen_ms = tally.last_seen_ms.max(used.at_ms);
    }

    /// Takes every count so far, leaving each shard empty with room for as many cells.
    pub fn take(&self) -> TakenUsage {
        let mut taken = TakenUsage::default();
        for shard in &*self.shards {
            let cells = {
                let mut cells = shard.lock().unwrap_or_else(PoisonError::into_inner);
                if cells.is_empty() {
                    continue;
                }
                let room = cells.len().min(MAX_CELLS_PER_SHARD);
                std::mem::replace(&mut *cells, Cells::with_capacity(room))
            };
            taken.merge(cells);
        }
        taken
    }

    /// Puts back counts that could not be written, to go with the next batch.
    pub fn put_back(&self, taken: TakenUsage) {
        if let Some(shard) = self.shards.first() {
            let mut cells = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for (cell, tally) in taken.cells {
                merge_one(&mut cells, cell, tally);
            }
        }
    }
}

fn merge_one(into: &mut Cells, cell: Cell, tally: Tally) {
    into.entry(cell)
        .and_modify(|t| {
            t.count += tally.count;
            t.last_seen_ms = t.last_seen_ms.max(tally.last_seen_ms);
        })
        .or_insert(tally);
}

impl TakenUsage {
    fn merge(&mut self, cells: Cells) {
        if self.cells.is_empty() {
            self.cells = cells;
            return;
        }
        for (cell, tally) in cells {
            merge_one(&mut self.cells, cell, tally);
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The counts as the store's batch: per key, hour, outcome and product; per key, hour and
    /// address; and each key's last allowed address.
    pub fn batch(&self, catalog: &Catalog) -> UsageBatch {
        let mut counts: HashMap<CountKey, (AccountId, i64)> = HashMap::new();
        let mut addresses: HashMap<(KeyId, i64, Option<IpAddr>), AddressCount> = HashMap::new();
        let mut last: HashMap<KeyId, (IpAddr, i64)> = HashMap::new();
        for (cell, tally) in &self.cells {
            let key = (
                cell.key_id,
                cell.hour,
                cell.outcome,
                cell.product,
                cell.access,
            );
            counts.entry(key).or_insert((tally.account_id, 0)).1 += tally.count;
            let address = addresses
                .entry((cell.key_id, cell.hour, cell.client))
                .or_insert(AddressCount {
                    key_id: cell.key_id,
                    account_id: tally.account_id,
                    hour: cell.hour,
                    address: cell.client,
                    allowed: 0,
                    refused: 0,
                    last_seen_ms: tally.last_seen_ms,
                });
            if cell.outcome == Outcome::Valid {
                address.allowed += tally.count;
                if let Some(client) = cell.client
                    && tally.count > 0
                {
                    let seen = last.entry(cell.key_id).or_insert((client, i64::MIN));
                    if tally.last_seen_ms > seen.1 {
                        *seen = (client, tally.last_seen_ms);
                    }
                }
            } else {
                address.refused += tally.count;
            }
            address.last_seen_ms = address.last_seen_ms.max(tally.last_seen_ms);
        }
        UsageBatch {
            counts: counts
                .into_iter()
                .filter(|(_, (_, count))| *count != 0)
                .map(
                    |((key_id, hour, outcome, product, access), (account_id, count))| UsageCount {
                        key_id,
                        account_id,
                        hour,
                        outcome: outcome_name(outcome),
                        product: product_name(catalog, product),
                        access: access.map_or("", Access::as_str),
                        count,
                    },
                )
                .collect(),
            addresses: addresses
                .into_values()
                .filter(|a| a.allowed != 0 || a.refused != 0)
                .collect(),
            last_ips: last
                .into_iter()
                .map(|(key, (address, at))| (key, address, at))
                .collect(),
        }
    }
}

/// `allowed`, or the refusal's wire code.
pub const fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Valid => "allowed",
        other => other.code(),
    }
}

fn product_name(catalog: &Catalog, product: u8) -> String {
    match product {
        NO_PRODUCT => String::new(),
        EVERY_PRODUCT => "*".to_owned(),
        index => catalog
            .products()
            .get(usize::from(index))
            .map_or_else(|| "*".to_owned(), |p| p.id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{Product, Scope};
    use std::net::Ipv4Addr;
    use uuid::Uuid;

    fn catalog() -> Catalog {
        Catalog::new(vec![
            Product {
                id: "payroll".into(),
                name: "Payroll".into(),
            },
            Product {
                id: "asset".into(),
                name: "Asset".into(),
            },
        ])
        .unwrap()
    }

    fn used(key: u128, client: u8, at_ms: i64, needs: Needs) -> Use {
        Use {
            key_id: KeyId(Uuid::from_u128(key)),
            account_id: AccountId(Uuid::from_u128(7)),
            needs,
            client: IpAddr::V4(Ipv4Addr::new(203, 0, 113, client)),
            at_ms,
        }
    }

    const READ_PAYROLL: Needs = Needs::Scope(Scope {
        product: 0,
        access: Access::Read,
    });

    #[test]
    fn counts_add_up_across_shards_per_hour_outcome_product_and_address() {
        let tally = UsageTally::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..250 {
                        tally.record(
                            used(1, (i % 2) as u8, 1_000 + i, READ_PAYROLL),
                            Outcome::Valid,
                        );
                    }
                    tally.record(
                        used(1, 9, 3_600_000, Needs::Every(Access::Write)),
                        Outcome::InsufficientScope,
                    );
                });
            }
        });
        let mut batch = tally.take().batch(&catalog());
        batch.counts.sort_by_key(|c| c.hour);
        assert_eq!(batch.counts.len(), 2);
        let first = &batch.counts[0];
        assert_eq!(
            (
                first.hour,
                first.outcome,
                first.product.as_str(),
                first.access,
                first.count
            ),
            (0, "allowed", "payroll", "read", 1_000)
        );
        let second = &batch.counts[1];
        assert_eq!(
            (
                second.hour,
                second.outcome,
                second.product.as_str(),
                second.access,
                second.count
            ),
            (1, "insufficient_scope", "*", "write", 4)
        );
        let mut addresses: Vec<_> = batch
            .addresses
            .iter()
            .map(|a| {
                (
                    a.hour,
                    a.address.map(|a| a.to_string()),
                    a.allowed,
                    a.refused,
                )
            })
            .collect();
        addresses.sort();
        assert_eq!(
            addresses,
            [
                (0, Some("203.0.113.0".into()), 500, 0),
                (0, Some("203.0.113.1".into()), 500, 0),
                (1, Some("203.0.113.9".into()), 0, 4),
            ]
        );
        // The last allowed use came from .1 (i = 249, odd) at 1,249 ms.
        assert_eq!(batch.last_ips.len(), 1);
        assert_eq!(batch.last_ips[0].1.to_string(), "203.0.113.1");
        assert_eq!(batch.last_ips[0].2, 1_249);
        // Taken: the next batch is empty.
        assert!(tally.take().is_empty());
    }

    #[test]
    fn an_overruled_use_moves_from_allowed_to_the_refusal_and_put_back_counts_return() {
        let tally = UsageTally::new(2);
        let u = used(1, 1, 10, READ_PAYROLL);
        tally.record(u, Outcome::Valid);
        tally.record(u, Outcome::Valid);
        let first = tally.take();
        tally.overrule(u, Outcome::KeyRateLimited);
        tally.put_back(first);
        let batch = tally.take().batch(&catalog());
        let mut counts: Vec<_> = batch.counts.iter().map(|c| (c.outcome, c.count)).collect();
        counts.sort();
        assert_eq!(counts, [("allowed", 1), ("key_rate_limited", 1)]);
        assert_eq!(
            (batch.addresses[0].allowed, batch.addresses[0].refused),
            (1, 1)
        );
    }

    #[test]
    fn a_verification_without_a_scope_has_no_product() {
        let tally = UsageTally::new(1);
        tally.record(used(1, 1, 10, Needs::Nothing), Outcome::Valid);
        let batch = tally.take().batch(&catalog());
        assert_eq!(
            (batch.counts[0].product.as_str(), batch.counts[0].access),
            ("", "")
        );
    }
}
