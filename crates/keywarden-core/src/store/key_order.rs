//! The orders of a page of keys (`order` of `GET /v1/api-keys/`), and where a page ends in one.
//!
//! Every order ends with the key's id, so no two keys tie: a page starts strictly after the
//! [`KeyPosition`] of the previous page's last key, and paging never repeats or skips a key
//! however many share a label or have no expiry. Each order's descending form is its exact
//! reverse, the id included, except that keys without the value (no expiry, never used) come
//! last both ways: they are the least interesting either way.

use crate::ids::KeyId;
use crate::key_record::KeyRecord;
use time::OffsetDateTime;

/// What keys are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeySort {
    /// By id: ids are UUIDv7, so this is creation order.
    #[default]
    CreatedAt,
    /// By label with ASCII letters folded to lower case, then by id. Both backends fold ASCII
    /// only (SQLite's `lower`, PostgreSQL's under the "C" collation), and compare what is left
    /// by code point, so the order is the same on either and does not depend on a locale.
    Label,
    /// By expiry; keys that never expire come last.
    ExpiresAt,
    /// By the last use as stored: uses are written in batches, so a use of the last few seconds
    /// may not count yet. Keys never used come last.
    LastUsedAt,
}

/// An order: what keys are sorted by, and which way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyOrder {
    /// What keys are sorted by.
    pub sort: KeySort,
    /// Largest first (newest, last in the alphabet, latest).
    pub descending: bool,
}

impl Default for KeyOrder {
    /// Newest first, as the listing always was.
    fn default() -> Self {
        Self {
            sort: KeySort::CreatedAt,
            descending: true,
        }
    }
}

/// Each order's name on the wire, the descending ones with a leading `-`.
const NAMES: [(&str, KeySort); 4] = [
    ("created_at", KeySort::CreatedAt),
    ("label", KeySort::Label),
    ("expires_at", KeySort::ExpiresAt),
    ("last_used_at", KeySort::LastUsedAt),
];

impl KeyOrder {
    /// Every order, ascending then descending for each sort: `created_at`, `-created_at`, ….
    pub fn all() -> impl Iterator<Item = Self> {
        NAMES
            .iter()
            .flat_map(|&(_, sort)| [false, true].map(|descending| Self { sort, descending }))
    }

    /// The order named `name` (`label`, `-label`, …), or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        let (descending, field) = match name.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, name),
        };
        NAMES
            .iter()
            .find(|(n, _)| *n == field)
            .map(|&(_, sort)| Self { sort, descending })
    }

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match (self.sort, self.descending) {
            (KeySort::CreatedAt, false) => "created_at",
            (KeySort::CreatedAt, true) => "-created_at",
            (KeySort::Label, false) => "label",
            (KeySort::Label, true) => "-label",
            (KeySort::ExpiresAt, false) => "expires_at",
            (KeySort::ExpiresAt, true) => "-expires_at",
            (KeySort::LastUsedAt, false) => "last_used_at",
            (KeySort::LastUsedAt, true) => "-last_used_at",
        }
    }

    /// Where `key` stands in this order: what the next page starts after.
    pub fn position_of(self, key: &KeyRecord) -> KeyPosition {
        let value = match self.sort {
            KeySort::CreatedAt => SortValue::Id,
            KeySort::Label => SortValue::Label(key.label.clone()),
            KeySort::ExpiresAt => SortValue::Time(key.expires_at),
            KeySort::LastUsedAt => SortValue::Time(key.last_used_at),
        };
        KeyPosition { value, id: key.id }
    }

    /// Whether `value` is the kind of value this order sorts by.
    pub fn fits(self, value: &SortValue) -> bool {
        matches!(
            (self.sort, value),
            (KeySort::CreatedAt, SortValue::Id)
                | (KeySort::Label, SortValue::Label(_))
                | (KeySort::ExpiresAt | KeySort::LastUsedAt, SortValue::Time(_))
        )
    }
}

/// A key's place in an order: its sort value, then its id, which breaks every tie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPosition {
    /// What the order sorts by, as the key had it.
    pub value: SortValue,
    /// The key's id.
    pub id: KeyId,
}

/// The value an order sorts by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortValue {
    /// Creation order: the id is the value.
    Id,
    /// The label as stored (the store folds its case).
    Label(String),
    /// An expiry or a last use; `None` for none.
    Time(Option<OffsetDateTime>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_has_a_name_that_reads_back() {
        let names: Vec<&str> = KeyOrder::all().map(KeyOrder::name).collect();
        assert_eq!(
            names,
            [
                "created_at",
                "-created_at",
                "label",
                "-label",
                "expires_at",
                "-expires_at",
                "last_used_at",
                "-last_used_at"
            ]
        );
        for order in KeyOrder::all() {
            assert_eq!(KeyOrder::from_name(order.name()), Some(order));
        }
        assert_eq!(KeyOrder::default().name(), "-created_at");
        for bad in ["", "-", "--label", "Label", "label ", "+label", "id", "-id"] {
            assert_eq!(KeyOrder::from_name(bad), None, "{bad:?}");
        }
    }
}
