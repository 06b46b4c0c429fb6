//! The first load of the key table: a feed long enough to be read as two halves at once
//! (start-up's path) gives a table that holds every key, and the feed position it leaves
//! picks up the next change.

use crate::support::restricted_record;
use keywarden_core::audit::Actor;
use keywarden_core::key_format;
use keywarden_core::key_format::Mode;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::scope::{Access, Scope};
use keywarden_core::verdict::{Needs, Refusal};
use keywarden_server::verify::synced_table::SyncedKeyTable;
use keywarden_testkit::TestServer;
use std::time::Duration;

/// More feed numbers than the cache reads in one run (`SPLIT_LOAD`, 16,000), so the load
/// takes the two-halves path.
const KEYS: usize = 20_000;

#[tokio::test]
async fn a_long_feed_loads_every_key_and_the_next_change_after_it() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let service = server.service();
    let store = service.store();
    let payroll = service.catalog().product_index("payroll").expect("payroll");
    let (secrets, records): (Vec<String>, Vec<KeyRecord>) = (0..KEYS)
        .map(|_| restricted_record(&server, account.id, Mode::Live, &["payroll:read"], None))
        .unzip();
    for batch in records.chunks(5_000) {
        store.insert_keys(batch, &[]).await.unwrap();
    }

    // A second instance's key table on the same store, loading from nothing.
    let cache = SyncedKeyTable::new(
        service.hasher().clone(),
        service.catalog().clone(),
        store.clone(),
        service.clock().clone(),
        Duration::from_secs(60),
    );
    let loaded = cache.catch_up().await.unwrap();
    assert_eq!(
        loaded,
        KEYS + 2,
        "the fillers and the account's two standard keys"
    );
    assert_eq!(cache.len(), KEYS + 2);
    let read = Needs::Scope(Scope {
        product: payroll,
        access: Access::Read,
    });
    let check = |secret: &str| {
        let key = key_format::parse(secret).map_err(Refusal::from)?;
        cache.check(
            key,
            read,
            &|| std::net::Ipv4Addr::LOCALHOST.into(),
            |entry, _, _| entry.key_id,
        )
    };
    for (secret, record) in secrets.iter().zip(&records) {
        assert_eq!(check(secret).ok(), Some(record.id), "{}", record.hint);
    }
    for standard in [&account.test_key, &account.live_key] {
        assert!(check(standard).is_ok());
    }

    // A change after the load, in the first half of the feed: the next read picks it up.
    service
        .revoke_key(account.id, records[3].id, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(cache.catch_up().await.unwrap(), 1);
    assert!(matches!(check(&secrets[3]), Err(Refusal::Stopped(_))));
    assert!(check(&secrets[4]).is_ok());
    assert_eq!(cache.catch_up().await.unwrap(), 0, "nothing read twice");
}
