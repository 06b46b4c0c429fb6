//! Leaked keys (SPEC §8): a key that a secret-scanning service reports, or that a member finds
//! in a text and pastes, is revoked at once, or only reported, as its account's `leak_action`
//! says. The key keeps when and where it was first found (`leaked_at`, `leak_url`), and every
//! report is a `key.leaked` audit event, which leaves as a webhook (the outbox is written with
//! the audit row, decision 0008). A revocation goes the way of every other: its `key.revoked`
//! event, a fresh place in the change feed, and the serving instance's key table before the
//! answer. A report of a key already revoked changes nothing but is still recorded. A canary
//! key is recorded as leaked but never revoked: being found is what it is for.
//!
//! Possession of the secret is the proof here: whoever holds a key can use it, so neither a
//! scanning report nor a paste needs the `require_2fa_for_keys` rule that guards deliberate key
//! changes; a key that leaked is compromised whoever noticed.

use super::AccountService;
use crate::account_key_policy::LeakAction;
use crate::audit::{Action, Actor};
use crate::digest::KeyDigest;
use crate::error::DomainError;
use crate::ids::AccountId;
use crate::key_format;
use crate::key_record::{KeyRecord, Leak, Lifecycle};
use crate::key_scan;
use crate::store::{LeakChange, StoreError};
use std::collections::{HashMap, HashSet};
use std::slice;

/// Longest `leak_url` kept; a longer URL is not kept (the report is still handled).
pub const MAX_LEAK_URL_LEN: usize = 2048;
/// Digests looked up in one store query.
const LOOKUP_CHUNK: usize = 500;

/// Where a leak was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakOrigin<'a> {
    /// GitHub's secret scanning partner program; `source` is where on GitHub, as GitHub says
    /// it (`content`, `commit`, `issue_comment`, …).
    GitHub {
        /// GitHub's `source` field.
        source: &'a str,
    },
    /// A text a member pasted into the console or `POST /v1/leaks/`.
    Paste,
}

/// One match of GitHub's secret scanning report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReportedToken<'a> {
    /// The text the scanner matched (a key of this Keywarden, or not).
    pub token: &'a str,
    /// Where it was found, if the report says.
    pub url: Option<&'a str>,
    /// Where on GitHub, as GitHub says it (`content`, `commit`, …).
    pub source: &'a str,
}

impl std::fmt::Debug for ReportedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportedToken")
            .field("token", &"<redacted>")
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

/// What became of a leaked key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandledLeak {
    /// The key as it now stands.
    pub key: KeyRecord,
    /// Whether this report revoked it (not when it was revoked already, nor when its account
    /// only wants to be told).
    pub revoked_now: bool,
}

/// What a pasted text held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PastedLeaks {
    /// The caller's account's keys found in it, each handled as leaked, in order of appearance.
    pub leaked: Vec<HandledLeak>,
    /// Keys of other accounts found in it: counted, never named or changed.
    pub other_accounts: usize,
    /// Well-formed keys (shape and checksum) that are no key of this Keywarden.
    pub not_found: usize,
}

impl AccountService {
    /// Handles GitHub's secret scanning report: every match that is a key of this Keywarden,
    /// whatever its account and status, is handled as leaked with the account's `leak_action`.
    /// The answer says, per match in order, whether it was one (a true positive).
    pub async fn report_scanned_leaks(
        &self,
        tokens: &[ReportedToken<'_>],
        actor: &Actor,
    ) -> Result<Vec<bool>, DomainError> {
        let keys: Vec<Option<&str>> = tokens
            .iter()
            .map(|t| key_format::parse(t.token).ok().map(|k| k.text))
            .collect();
        let mut found = self.keys_by_text(keys.iter().flatten().copied()).await?;
        let mut actions = HashMap::new();
        let mut labels = Vec::with_capacity(tokens.len());
        for (token, key) in tokens.iter().zip(keys) {
            let digest = key.map(|k| self.hasher.digest(k));
            let Some((digest, record)) =
                digest.and_then(|d| found.get(&d).cloned().map(|r| (d, r)))
            else {
                labels.push(false);
                continue;
            };
            let action = self.leak_action(record.account_id, &mut actions).await?;
            let origin = LeakOrigin::GitHub {
                source: token.source,
            };
            let handled = self
                .handle_leak(record, action, token.url, origin, actor)
                .await?;
            // The same key may be reported twice in one batch: the second report sees the first.
            found.insert(digest, handled.key);
            labels.push(true);
        }
        Ok(labels)
    }

    /// Handles the keys a member found in `text`: each key of `account_id` is handled as
    /// leaked with the account's `leak_action`; keys of other accounts are only counted.
    pub async fn report_pasted_leaks(
        &self,
        account_id: AccountId,
        text: &str,
        actor: &Actor,
    ) -> Result<PastedLeaks, DomainError> {
        let keys = keys_in(text);
        let found = self.keys_by_text(keys.iter().copied()).await?;
        let mut actions = HashMap::new();
        let mut pasted = PastedLeaks::default();
        for key in keys {
            match found.get(&self.hasher.digest(key)) {
                None => pasted.not_found += 1,
                Some(record) if record.account_id != account_id => pasted.other_accounts += 1,
                Some(record) => {
                    let action = self.leak_action(account_id, &mut actions).await?;
                    let handled = self
                        .handle_leak(record.clone(), action, None, LeakOrigin::Paste, actor)
                        .await?;
                    pasted.leaked.push(handled);
                }
            }
        }
        Ok(pasted)
    }

    /// The stored keys among `keys` (well-formed key texts), by digest.
    async fn keys_by_text<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<HashMap<KeyDigest, KeyRecord>, DomainError> {
        let digests: Vec<KeyDigest> = keys
            .map(|k| self.hasher.digest(k))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut found = HashMap::with_capacity(digests.len());
        for chunk in digests.chunks(LOOKUP_CHUNK) {
            for record in self.store.keys_by_digest(chunk).await? {
                found.insert(record.digest, record);
            }
        }
        Ok(found)
    }

    /// The `leak_action` of an account, read once per report.
    async fn leak_action(
        &self,
        account_id: AccountId,
        known: &mut HashMap<AccountId, LeakAction>,
    ) -> Result<LeakAction, DomainError> {
        if let Some(action) = known.get(&account_id) {
            return Ok(*action);
        }
        let action = self
            .store
            .account(account_id)
            .await?
            .ok_or(DomainError::NotFound("account"))?
            .key_policy
            .leak_action;
        known.insert(account_id, action);
        Ok(action)
    }

    /// Records one report of `key` and revokes it if `action` says so.
    async fn handle_leak(
        &self,
        key: KeyRecord,
        action: LeakAction,
        url: Option<&str>,
        origin: LeakOrigin<'_>,
        actor: &Actor,
    ) -> Result<HandledLeak, DomainError> {
        let now = self.clock.now();
        let url = usable_url(url);
        let found = found_where(origin, url.as_deref(), actor);
        if key.lifecycle != Lifecycle::Revoked {
            // A canary is meant to be found: revoking it would blind it.
            let canary = key.policy.canary;
            let revoke = action == LeakAction::Revoke && !canary;
            let outcome = if canary {
                "; it is a canary, so it stays in place to record whoever presents it".to_owned()
            } else if revoke {
                " and revoked".to_owned()
            } else {
                "; the account's leak action is notify, so it still works: rotate or revoke it"
                    .to_owned()
            };
            let mut events = vec![self.event(
                key.account_id,
                Action::KeyLeaked,
                actor,
                Some(key.id),
                format!("key {} was {found}{outcome}", key.hint),
                now,
            )];
            if revoke {
                events.push(self.event(
                    key.account_id,
                    Action::KeyRevoked,
                    actor,
                    Some(key.id),
                    format!("revoked {}: reported leaked", key.hint),
                    now,
                ));
            }
            let leak = Leak { at: now, url };
            let change = LeakChange {
                account_id: key.account_id,
                key_id: key.id,
                leak: &leak,
                revoke,
            };
            match self.store.record_leak(&change, &events).await {
                Ok(stored) => {
                    // Out of the table before the answer, like any revocation.
                    self.committed(slice::from_ref(&stored));
                    return Ok(HandledLeak {
                        key: stored,
                        revoked_now: revoke,
                    });
                }
                // Revoked by another request since it was read: recorded below, as a report
                // of a revoked key.
                Err(StoreError::Conflict(_)) => {}
                Err(StoreError::NotFound) => return Err(DomainError::NotFound("key")),
                Err(other) => return Err(other.into()),
            }
        }
        let key = self
            .store
            .key(key.account_id, key.id)
            .await?
            .ok_or(DomainError::NotFound("key"))?;
        let event = self.event(
            key.account_id,
            Action::KeyLeaked,
            actor,
            Some(key.id),
            format!(
                "key {} was {found}; it was already revoked, so nothing changed",
                key.hint
            ),
            now,
        );
        self.store.insert_event(&event).await?;
        Ok(HandledLeak {
            key,
            revoked_now: false,
        })
    }
}

/// How a report reads in the audit trail: "reported leaked by GitHub secret scanning (commit)
/// at https://…", "found in a text pasted by ada@acme.example".
fn found_where(origin: LeakOrigin<'_>, url: Option<&str>, actor: &Actor) -> String {
    let mut text = match origin {
        LeakOrigin::GitHub { source } => format!(
            "reported leaked by GitHub secret scanning ({})",
            source_name(source)
        ),
        LeakOrigin::Paste => format!("found in a text pasted by {}", actor.label),
    };
    if let Some(url) = url {
        text.push_str(" at ");
        text.push_str(url);
    }
    text
}

/// GitHub's `source` as the audit trail shows it: its own spelling when that is a plain word
/// (`content`, `pull_request_comment`), else `unknown`.
fn source_name(source: &str) -> &str {
    let plain = !source.is_empty()
        && source.len() <= 40
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { source } else { "unknown" }
}

/// A reported URL worth keeping and showing as a link: `http(s)://`, at most
/// [`MAX_LEAK_URL_LEN`] characters, without spaces or control characters. Anything else (an
/// empty string, `javascript:`, a path) is not kept.
fn usable_url(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let scheme = url.get(..8).map(str::to_ascii_lowercase);
    let web = scheme.as_deref().is_some_and(|s| s.starts_with("https://"))
        || scheme.as_deref().is_some_and(|s| s.starts_with("http://"));
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (web && clean && url.len() > 8 && url.len() <= MAX_LEAK_URL_LEN).then(|| url.to_owned())
}

/// Every distinct key in `text`, in order of first appearance, found by the scanner
/// `keywarden scan` uses ([`key_scan::find_keys`]): anything around a key (quotes, `KEY=`, a
/// URL, more letters) is allowed, since the checksum, not a boundary, rules out look-alikes.
fn keys_in(text: &str) -> Vec<&str> {
    let mut seen = HashSet::new();
    key_scan::find_keys(text.as_bytes())
        .map(|found| found.key.text)
        .filter(|key| seen.insert(*key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_format::{KEY_LEN, KeyKind, Mode, generate};
    use crate::random::OsRandom;

    fn key(kind: KeyKind, mode: Mode) -> String {
        generate(kind, mode, &OsRandom).unwrap().expose().to_owned()
    }

    #[test]
    fn keys_are_found_wherever_they_stand_and_once_each() {
        let a = key(KeyKind::Standard, Mode::Live);
        let b = key(KeyKind::Restricted, Mode::Test);
        let text = format!(
            "STRIPE=x\nKEYWARDEN_KEY={a}\ncurl -H 'Authorization: Api-Key {b}' …\n\
             \"{a}\" again, glued:{b}trailing, https://x.test/?k={a}&q=1"
        );
        assert_eq!(keys_in(&text), [a.as_str(), b.as_str()]);
        assert_eq!(keys_in(&a), [a.as_str()], "the key alone");
        assert!(keys_in("").is_empty());
    }

    #[test]
    fn look_alikes_are_not_keys() {
        let a = key(KeyKind::Standard, Mode::Test);
        let mut damaged = a.clone().into_bytes();
        // One character changed: the checksum no longer matches.
        damaged[20] = if damaged[20] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(damaged).unwrap();
        let truncated = &a[..KEY_LEN - 1];
        let text = format!(
            "{damaged} {truncated} sk_prod_{rest} kk_test_{rest} sk_test_ sk_live_ ßk_test_ é{truncated}",
            rest = &a[8..]
        );
        assert!(keys_in(&text).is_empty(), "{:?}", keys_in(&text));
    }

    #[test]
    fn keys_next_to_multibyte_text_are_found() {
        let a = key(KeyKind::Restricted, Mode::Live);
        let text = format!("clé：{a}、ключ {a}");
        assert_eq!(keys_in(&text), [a.as_str()]);
        // A key cut by a multi-byte character is not one.
        let cut = format!("{}é{}", &a[..30], &a[30..]);
        assert!(keys_in(&cut).is_empty());
    }

    #[test]
    fn only_plain_web_urls_are_kept() {
        let ok = "https://github.com/acme/app/blob/main/.env";
        assert_eq!(usable_url(Some(ok)).as_deref(), Some(ok));
        assert_eq!(
            usable_url(Some("HTTP://example.test/x")).as_deref(),
            Some("HTTP://example.test/x")
        );
        for bad in [
            "",
            "https://",
            "javascript:alert(1)",
            "/acme/app/.env",
            "https://x.test/a b",
            "https://x.test/\u{0}",
            "ftp://x.test/",
        ] {
            assert_eq!(usable_url(Some(bad)), None, "{bad:?}");
        }
        let long = format!("https://x.test/{}", "a".repeat(MAX_LEAK_URL_LEN));
        assert_eq!(usable_url(Some(&long)), None);
        assert_eq!(usable_url(None), None);
    }

    #[test]
    fn sources_are_named_as_github_says_or_unknown() {
        assert_eq!(source_name("content"), "content");
        assert_eq!(source_name("pull_request_comment"), "pull_request_comment");
        assert_eq!(source_name("<script>"), "unknown");
        assert_eq!(source_name(""), "unknown");
    }
}
