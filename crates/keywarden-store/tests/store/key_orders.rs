//! Key pages in every order (`KeyQuery::order`): the whole sequence, read a page at a time
//! from each page's last position, is exactly the order's sort of the account's keys, with
//! ties on the value (equal labels, equal expiries, no expiry, never used) broken by id, keys
//! without a value last both ways, and the filters applied. Fixtures come from `store.rs`.

use super::*;
use keywarden_core::key_record::KeyStatus;
use keywarden_core::store::{KeyOrder, KeyQuery, KeySort};
use std::cmp::Ordering as Cmp;

/// `a` before `b` in `order`, as the API promises it, computed here independently of SQL.
fn compare(order: KeyOrder, a: &KeyRecord, b: &KeyRecord) -> Cmp {
    let way = |o: Cmp| if order.descending { o.reverse() } else { o };
    // Keys without the value last, whichever the direction.
    let nulls_last = |x: Option<OffsetDateTime>, y: Option<OffsetDateTime>| match (x, y) {
        (Some(x), Some(y)) => way(x.cmp(&y)),
        (Some(_), None) => Cmp::Less,
        (None, Some(_)) => Cmp::Greater,
        (None, None) => Cmp::Equal,
    };
    let by_value = match order.sort {
        KeySort::CreatedAt => Cmp::Equal,
        // ASCII letters folded, everything else by code point (= UTF-8 bytes).
        KeySort::Label => way(a
            .label
            .to_ascii_lowercase()
            .cmp(&b.label.to_ascii_lowercase())),
        KeySort::ExpiresAt => nulls_last(a.expires_at, b.expires_at),
        KeySort::LastUsedAt => nulls_last(a.last_used_at, b.last_used_at),
    };
    by_value.then_with(|| way(a.id.cmp(&b.id)))
}

/// Every key `query` matches, read `size` at a time, each page after the last one's position.
async fn walk(store: &dyn Store, account: AccountId, query: &KeyQuery, size: u32) -> Vec<KeyId> {
    let mut seen = Vec::new();
    let mut query = KeyQuery {
        limit: size,
        ..query.clone()
    };
    for _ in 0..100 {
        let page = store.list_keys(account, &query, at(1000)).await.unwrap();
        assert!(page.len() <= size as usize);
        let Some(last) = page.last() else {
            return seen;
        };
        query.after = Some(query.order.position_of(last));
        seen.extend(page.iter().map(|k| k.id));
    }
    panic!("the pages never end");
}

pub(crate) async fn check_key_orders(store: &dyn Store) {
    let (a, _) = seed(store, "A").await;
    let (b, _) = seed(store, "B").await;
    let now = at(1000);
    let soon = at(2000);
    let later = at(3000);
    // Labels that tie exactly and tie without case, letters outside ASCII (never folded), and
    // punctuation between the cases in ASCII ("_" sorts after "Z" but before "a" unfolded).
    let rows: [(&str, Option<OffsetDateTime>, Option<OffsetDateTime>, Mode); 14] = [
        ("beta", None, None, Mode::Test),
        ("Alpha", Some(soon), Some(at(500)), Mode::Live),
        ("alpha", Some(later), None, Mode::Test),
        ("beta", Some(soon), Some(at(500)), Mode::Live),
        ("Beta", None, Some(at(600)), Mode::Test),
        ("_under", Some(soon), None, Mode::Live),
        ("Zeta", Some(at(900)), Some(at(400)), Mode::Test),
        ("Überweisung", None, None, Mode::Live),
        ("über", Some(later), Some(at(500)), Mode::Test),
        ("zeta", None, None, Mode::Live),
        ("ALPHA", Some(soon), Some(at(700)), Mode::Test),
        ("beta", Some(at(900)), None, Mode::Live),
        ("alpha", None, Some(at(600)), Mode::Test),
        ("", Some(later), Some(at(800)), Mode::Live),
    ];
    let mut keys = Vec::new();
    for (i, (label, expires_at, _, mode)) in rows.iter().enumerate() {
        let i = i as i64;
        let k = KeyRecord {
            label: (*label).into(),
            expires_at: *expires_at,
            mode: *mode,
            ..key(a.id, KeyKind::Restricted, *mode, at(i))
        };
        keys.push(issue(store, k).await);
        // Another account's keys with the same values interleave, and never show.
        let theirs = KeyRecord {
            label: (*label).into(),
            expires_at: *expires_at,
            ..key(b.id, KeyKind::Restricted, *mode, at(i))
        };
        let theirs = issue(store, theirs).await;
        store
            .record_last_used(&[(theirs.id, at(450))])
            .await
            .unwrap();
    }
    // A revoked key among them, for the filters.
    let revoked = keys[3].id;
    store
        .revoke_key(
            a.id,
            revoked,
            at(20),
            &event(a.id, Action::KeyRevoked, Some(revoked), at(20)),
        )
        .await
        .unwrap();
    let uses: Vec<(KeyId, OffsetDateTime)> = keys
        .iter()
        .zip(rows.iter())
        .filter_map(|(k, row)| row.2.map(|t| (k.id, t)))
        .collect();
    store.record_last_used(&uses).await.unwrap();
    // As stored now (last uses and the revocation included).
    let mut stored = Vec::new();
    for k in &keys {
        stored.push(store.key(a.id, k.id).await.unwrap().unwrap());
    }
    // Two of them (at(900)) have expired by `now`: the status filter must drop them.
    assert_eq!(
        stored
            .iter()
            .filter(|k| k.status_at(now) == KeyStatus::Expired)
            .count(),
        2
    );

    let sorted = |order: KeyOrder, keep: &dyn Fn(&KeyRecord) -> bool| {
        let mut matching: Vec<&KeyRecord> = stored.iter().filter(|k| keep(k)).collect();
        matching.sort_by(|x, y| compare(order, x, y));
        matching.into_iter().map(|k| k.id).collect::<Vec<_>>()
    };
    for order in KeyOrder::all() {
        let everything = KeyQuery {
            order,
            ..KeyQuery::default()
        };
        let expected = sorted(order, &|_| true);
        assert_eq!(expected.len(), rows.len());
        for size in [1, 2, 3, 5, 100] {
            let got = walk(store, a.id, &everything, size).await;
            assert_eq!(got, expected, "{} in pages of {size}", order.name());
        }
        // With filters: live, active, and a search.
        let live_active = KeyQuery {
            mode: Some(Mode::Live),
            status: Some(KeyStatus::Active),
            ..everything.clone()
        };
        let expected = sorted(order, &|k| {
            k.mode == Mode::Live && k.status_at(now) == KeyStatus::Active
        });
        assert!(expected.len() >= 5 && !expected.contains(&revoked));
        for size in [1, 2, 3] {
            let got = walk(store, a.id, &live_active, size).await;
            assert_eq!(
                got,
                expected,
                "{} live and active, pages of {size}",
                order.name()
            );
        }
        let search = KeyQuery {
            search: Some("ALPHA".into()),
            ..everything.clone()
        };
        let expected = sorted(order, &|k| k.label.to_ascii_lowercase().contains("alpha"));
        assert_eq!(expected.len(), 4);
        assert_eq!(
            walk(store, a.id, &search, 2).await,
            expected,
            "{}",
            order.name()
        );
    }

    // Spot checks in words, so the comparison above cannot be wrong in the same way as SQL:
    // "_under" sorts before the letters once they are folded, "Überweisung" and "über"
    // (never folded) after every ASCII letter, and the empty label first.
    let labels = |ids: Vec<KeyId>| -> Vec<String> {
        ids.iter()
            .map(|id| stored.iter().find(|k| k.id == *id).unwrap().label.clone())
            .collect()
    };
    let by_label = KeyQuery {
        order: KeyOrder::from_name("label").unwrap(),
        ..KeyQuery::default()
    };
    assert_eq!(
        labels(walk(store, a.id, &by_label, 4).await),
        [
            "",
            "_under",
            "Alpha",
            "alpha",
            "ALPHA",
            "alpha",
            "beta",
            "beta",
            "Beta",
            "beta",
            "Zeta",
            "zeta",
            "Überweisung",
            "über"
        ]
    );
    // Soonest expiry first, the ones that never expire last (oldest first among them); the
    // reverse keeps those last, newest first among them.
    let expiring = |name: &str| KeyQuery {
        order: KeyOrder::from_name(name).unwrap(),
        ..KeyQuery::default()
    };
    let never: Vec<KeyId> = stored
        .iter()
        .filter(|k| k.expires_at.is_none())
        .map(|k| k.id)
        .collect();
    assert_eq!(never.len(), 5);
    let up = walk(store, a.id, &expiring("expires_at"), 3).await;
    assert_eq!(
        up[..2],
        [keys[6].id, keys[11].id],
        "at(900), the earlier id first"
    );
    assert_eq!(up[up.len() - 5..], never[..]);
    let down = walk(store, a.id, &expiring("-expires_at"), 3).await;
    let newest_never: Vec<KeyId> = never.iter().rev().copied().collect();
    assert_eq!(down[down.len() - 5..], newest_never[..]);
    // Most recently used first; never used last.
    let used = walk(store, a.id, &expiring("-last_used_at"), 2).await;
    assert_eq!(used[0], keys[13].id, "at(800)");
    let unused = stored.iter().filter(|k| k.last_used_at.is_none()).count();
    assert!(used[used.len() - unused..].iter().all(|id| {
        stored
            .iter()
            .any(|k| k.id == *id && k.last_used_at.is_none())
    }));
}
