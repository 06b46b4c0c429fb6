//! How both backends read a page of keys in an order ([`KeyOrder`]): the statements a page
//! takes and where each starts, decided once here; each backend writes them in its dialect.
//!
//! Orders on a column that is never NULL (the id, the label) are one statement:
//! `ORDER BY value, id` from the cursor's `(value, id)` on. Orders on a column that may be
//! NULL (the expiry, the last use) put keys without a value last in both directions, which no
//! single index order gives on both backends; so such a page is two statements, each one index
//! order: the keys with a value (`col IS NOT NULL ORDER BY col, id`), then, if the page is not
//! full, the keys without (`col IS NULL ORDER BY id`). A cursor without a value starts in the
//! second part.

use keywarden_core::ids::KeyId;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{KeyOrder, KeyQuery, KeySort, SortValue, StoreError};
use time::OffsetDateTime;

/// Which keys a statement of the page reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Every key (the order's column is never NULL).
    Every,
    /// Keys with a value in the order's column.
    Valued,
    /// Keys without one, by id.
    Unvalued,
}

/// Where a statement starts: strictly after this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After<'a> {
    /// At the beginning.
    Start,
    /// After this id (creation order, or among keys without a value).
    Id(KeyId),
    /// After this label (case-folded by the store) and id.
    Label(&'a str, KeyId),
    /// After this time and id.
    Time(OffsetDateTime, KeyId),
}

/// One statement of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    pub part: Part,
    pub after: After<'a>,
}

/// The statements of the page `query` asks for, in order.
pub(crate) fn segments(query: &KeyQuery) -> Result<Vec<Segment<'_>>, StoreError> {
    let every = |after| {
        vec![Segment {
            part: Part::Every,
            after,
        }]
    };
    let after = query.after.as_ref();
    Ok(match (query.order.sort, after.map(|a| (&a.value, a.id))) {
        (KeySort::CreatedAt, None) | (KeySort::Label, None) => every(After::Start),
        (KeySort::CreatedAt, Some((SortValue::Id, id))) => every(After::Id(id)),
        (KeySort::Label, Some((SortValue::Label(label), id))) => every(After::Label(label, id)),
        (KeySort::ExpiresAt | KeySort::LastUsedAt, None) => vec![
            Segment {
                part: Part::Valued,
                after: After::Start,
            },
            Segment {
                part: Part::Unvalued,
                after: After::Start,
            },
        ],
        (KeySort::ExpiresAt | KeySort::LastUsedAt, Some((SortValue::Time(Some(t)), id))) => vec![
            Segment {
                part: Part::Valued,
                after: After::Time(*t, id),
            },
            Segment {
                part: Part::Unvalued,
                after: After::Start,
            },
        ],
        (KeySort::ExpiresAt | KeySort::LastUsedAt, Some((SortValue::Time(None), id))) => {
            vec![Segment {
                part: Part::Unvalued,
                after: After::Id(id),
            }]
        }
        (_, Some(_)) => {
            return Err(StoreError::Other(format!(
                "a key page in the order {} was given a cursor of another order",
                query.order.name()
            )));
        }
    })
}

/// The column an order sorts by, when it may be NULL.
pub(crate) fn nullable_column(order: KeyOrder) -> &'static str {
    match order.sort {
        KeySort::LastUsedAt => "last_used_at",
        _ => "expires_at",
    }
}

/// `>` ascending, `<` descending: "after" in the order.
pub(crate) fn after_op(order: KeyOrder) -> &'static str {
    if order.descending { " < " } else { " > " }
}

/// `ASC` or `DESC`.
pub(crate) fn direction(order: KeyOrder) -> &'static str {
    if order.descending { " DESC" } else { " ASC" }
}

/// Adds a statement's keys to the page. A key whose value changed between the two statements
/// of one page (an expiry removed in between) is not shown twice.
pub(crate) fn extend_page(page: &mut Vec<KeyRecord>, more: Vec<KeyRecord>) {
    for key in more {
        if !page.iter().any(|k| k.id == key.id) {
            page.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_core::store::KeyPosition;
    use time::macros::datetime;

    #[test]
    fn a_cursor_of_another_order_is_refused_not_read() {
        let id = KeyId::new_at(datetime!(2026-03-01 12:00 UTC));
        let query = |order: &str, value: SortValue| KeyQuery {
            order: KeyOrder::from_name(order).unwrap(),
            after: Some(KeyPosition { value, id }),
            ..KeyQuery::default()
        };
        for (order, value) in [
            ("label", SortValue::Id),
            ("-created_at", SortValue::Label("x".into())),
            ("expires_at", SortValue::Label("x".into())),
            ("-label", SortValue::Time(None)),
        ] {
            assert!(
                segments(&query(order, value.clone())).is_err(),
                "{order} {value:?}"
            );
        }
        let never = query("-expires_at", SortValue::Time(None));
        assert_eq!(
            segments(&never).unwrap(),
            [Segment {
                part: Part::Unvalued,
                after: After::Id(id)
            }]
        );
    }
}
