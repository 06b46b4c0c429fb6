//! Fills an empty Keywarden database with N keys, fast, for load tests (`benches/load.sh`).
//!
//! ```text
//! KEYWARDEN_SECRET=… cargo run --release -p keywarden-server --example seed_keys -- \
//!     sqlite:///tmp/kw/keywarden.db 100000 /tmp/kw/keys
//! ```
//!
//! Reads the configuration like `keywarden serve` does (`KEYWARDEN_*` variables: the same
//! secret must be used to serve), then, through the domain services and the `Store` trait:
//! - one account with its two standard keys (`sk_live_…` is the load test's valid key);
//! - one restricted key, then revokes it (the revoked key);
//! - two restricted keys with a policy (SPEC §9): one that may be used only from 100 ranges,
//!   loopback the last of them (every range is compared), one with a rate limit no load run
//!   reaches (1,000,000 a second: the count runs, the refusal never);
//! - N − 5 restricted filler keys, inserted with `KeyStore::insert_keys` in transactions of
//!   10,000 (one transaction per batch, at the store's production durability; filler keys get
//!   no audit events, since no one ever presents them).
//!
//! Writes `valid.txt`, `revoked.txt`, `unknown.txt` (well-formed, never stored),
//! `malformed.txt` (the valid key with a wrong checksum), `allowlist.txt` and `rate_limit.txt`
//! into the output folder, one key each.

#![allow(clippy::print_stdout)]

use anyhow::{Context, anyhow, bail};
use keywarden_core::ids::KeyId;
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_policy::PolicyChanges;
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::service::{NewAccount, NewKey};
use keywarden_core::{Clock, OsRandom, SystemClock, audit::Actor, password};
use keywarden_server::config::Config;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Keys per transaction.
const BATCH: usize = 10_000;

const USAGE: &str = "usage: seed_keys DATABASE_URL COUNT OUT_DIR (COUNT at least 5)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count), Some(out)) = (args.next(), args.next(), args.next()) else {
        bail!(USAGE);
    };
    let count: usize = count.parse().context(USAGE)?;
    if count < 5 {
        bail!(USAGE);
    }
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;

    let mut config = Config::load(None, |name| std::env::var(name).ok())?;
    config.database_url = Some(url);
    let clock = Arc::new(SystemClock);
    let (service, _secret) =
        keywarden_server::startup::open_service(&config, clock.clone(), Arc::new(OsRandom)).await?;
    let store = service.store().clone();
    if store.key_count().await? > 0 {
        bail!("the database already holds keys; seed an empty one");
    }
    let started = Instant::now();
    let actor = Actor::cli();

    let account = service
        .create_account(
            NewAccount {
                name: "Load test".into(),
                admin_email: "load@keywarden.test".into(),
                admin_password_hash: password::hash("load-test-password-not-secret")?,
                with_keys: true,
            },
            &actor,
        )
        .await?;
    let valid = account
        .keys
        .iter()
        .find(|k| k.record.mode == Mode::Live)
        .ok_or_else(|| anyhow!("no live standard key was issued"))?
        .secret
        .expose()
        .to_owned();

    let catalog = service.catalog();
    let every_read: Vec<String> = catalog
        .products()
        .iter()
        .map(|p| format!("{}:read", p.id))
        .collect();
    let doomed = service
        .create_restricted_key(
            account.account.id,
            NewKey {
                label: "revoked".into(),
                mode: Mode::Live,
                scopes: every_read.clone(),
                expires_at: None,
                policy: Default::default(),
                canary: false,
            },
            &actor,
        )
        .await?;
    let with_policy = |label: &str, policy: PolicyChanges| NewKey {
        label: label.into(),
        mode: Mode::Live,
        scopes: every_read.clone(),
        expires_at: None,
        policy,
        canary: false,
    };
    let mut ranges: Vec<String> = (0..99).map(|i| format!("10.{i}.0.0/16")).collect();
    ranges.push("127.0.0.0/8".into());
    let allowlist = service
        .create_restricted_key(
            account.account.id,
            with_policy(
                "allowlist of 100 ranges",
                PolicyChanges {
                    allowed_ips: Some(Some(ranges)),
                    ..PolicyChanges::default()
                },
            ),
            &actor,
        )
        .await?;
    let rate_limited = service
        .create_restricted_key(
            account.account.id,
            with_policy(
                "rate limit never reached",
                PolicyChanges {
                    rate_limit: Some(Some((1_000_000, 1))),
                    ..PolicyChanges::default()
                },
            ),
            &actor,
        )
        .await?;
    service
        .revoke_key(account.account.id, doomed.record.id, &actor)
        .await?;
    let revoked = doomed.secret.expose().to_owned();

    let hasher = service.hasher();
    let products: Vec<String> = catalog.products().iter().map(|p| p.id.clone()).collect();
    let filler = count - 5;
    let mut made = 0;
    let mut batch = Vec::with_capacity(BATCH);
    let fill_started = Instant::now();
    while made < filler {
        batch.clear();
        let now = clock.now();
        for n in made..(made + BATCH).min(filler) {
            let mode = if n % 2 == 0 { Mode::Live } else { Mode::Test };
            let key = key_format::generate(KeyKind::Restricted, mode, &OsRandom)?;
            let product = products.get(n % products.len().max(1)).cloned();
            let access = if n % 3 == 0 { "write" } else { "read" };
            batch.push(KeyRecord {
                id: KeyId::new_at(now),
                account_id: account.account.id,
                kind: KeyKind::Restricted,
                mode,
                label: format!("filler {n}"),
                hint: key.hint(),
                digest: hasher.digest(key.expose()),
                scopes: product
                    .map(|p| vec![format!("{p}:{access}")])
                    .unwrap_or_default(),
                lifecycle: Lifecycle::Active,
                created_at: now,
                created_by: None,
                expires_at: None,
                last_used_at: None,
                rotated_at: None,
                revoked_at: None,
                grace_until: None,
                replaced_by: None,
                replaces: None,
                change_seq: 0,
                policy: Default::default(),
                leak: None,
            });
        }
        store.insert_keys(&batch, &[]).await?;
        made += batch.len();
    }
    let fill_secs = fill_started.elapsed().as_secs_f64();

    let unknown = key_format::generate(KeyKind::Standard, Mode::Live, &OsRandom)?;
    let mut malformed = valid.clone();
    let last = if malformed.ends_with('0') { "1" } else { "0" };
    malformed.replace_range(key_format::KEY_LEN - 1.., last);
    for (name, key) in [
        ("valid.txt", valid.as_str()),
        ("revoked.txt", revoked.as_str()),
        ("unknown.txt", unknown.expose()),
        ("malformed.txt", malformed.as_str()),
        ("allowlist.txt", allowlist.secret.expose()),
        ("rate_limit.txt", rate_limited.secret.expose()),
    ] {
        std::fs::write(out.join(name), format!("{key}\n"))?;
    }
    let total = store.key_count().await?;
    println!(
        "seeded {total} keys in {:.1} s ({filler} filler keys in {:.1} s: {:.0} keys/s in \
         transactions of {BATCH}); sample keys in {}",
        started.elapsed().as_secs_f64(),
        fill_secs,
        filler as f64 / fill_secs.max(1e-9),
        out.display()
    );
    Ok(())
}
