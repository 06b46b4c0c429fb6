//! The standard keys (seed 001): one test and one live key per account, rotated in place.
//!
//! A standard key that was revoked (by hand, or automatically when it leaked) can no longer be
//! rotated: rotation needs a working key. Asking to rotate it issues its replacement instead, a
//! new standard key of the same mode with the revoked key's label and policy, so that a user
//! who revoked a leaked key is not left waiting for an operator.

use super::{AccountService, RotatedKey};
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::ids::AccountId;
use crate::key_format::{KeyKind, Mode};
use crate::key_record::{KeyRecord, Lifecycle};
use crate::store::KeyFilter;
use time::Duration;

impl AccountService {
    /// The account's current standard keys (lifecycle `active`), test first.
    pub async fn standard_keys(
        &self,
        account_id: AccountId,
    ) -> Result<Vec<KeyRecord>, DomainError> {
        let mut keys = self.standard_keys_where(account_id, None, true).await?;
        keys.sort_by_key(|k| k.mode == Mode::Live);
        Ok(keys)
    }

    /// Whether the account was ever given standard keys, whatever has become of them since.
    pub async fn standard_keys_were_issued(
        &self,
        account_id: AccountId,
    ) -> Result<bool, DomainError> {
        Ok(!self
            .standard_keys_where(account_id, None, false)
            .await?
            .is_empty())
    }

    /// Rotates the account's standard key of `mode`; or, when it has none active because the
    /// last one was revoked, issues its replacement (`grace` has nothing left to hand over then, and is ignored).
    /// An account that never had standard keys gets [`DomainError::NoStandardKeys`].
    pub async fn rotate_standard_key(
        &self,
        account_id: AccountId,
        mode: Mode,
        grace: Option<Duration>,
        actor: &Actor,
    ) -> Result<RotatedKey, DomainError> {
        let account = self.ensure_actor_may_change_keys(account_id, actor).await?;
        let keys = self
            .standard_keys_where(account_id, Some(mode), false)
            .await?;
        // The active one (at most one: a unique index) is rotated. Without one, the end of its
        // chain of rotations was revoked: the latest revocation is the key replaced.
        if let Some(current) = keys.iter().find(|k| k.lifecycle == Lifecycle::Active) {
            return self
                .rotate(current.clone(), grace, &account.key_policy, actor)
                .await;
        }
        let revoked = keys
            .into_iter()
            .filter(|k| k.lifecycle == Lifecycle::Revoked)
            .max_by_key(|k| (k.revoked_at, k.created_at, k.id))
            .ok_or(DomainError::NoStandardKeys)?;
        self.replace_revoked_standard_key(revoked, &account.key_policy, actor)
            .await
    }

    /// A new standard key in place of `revoked`, which stays as it is (revoked, for the audit
    /// trail). The new key keeps its label, allowlist, limits and metadata, as a rotation
    /// would, and must meet the account's key policy as it stands now.
    async fn replace_revoked_standard_key(
        &self,
        revoked: KeyRecord,
        key_policy: &crate::account_key_policy::AccountKeyPolicy,
        actor: &Actor,
    ) -> Result<RotatedKey, DomainError> {
        let now = self.clock.now();
        let mut new = self.issue(
            revoked.account_id,
            KeyKind::Standard,
            revoked.mode,
            revoked.label.clone(),
            vec![],
            None,
            actor,
            Some(revoked.id),
            now,
        )?;
        new.record.policy = revoked.policy.clone();
        if let Some(breach) = key_policy.breaches(&new.record, now).into_iter().next() {
            return Err(super::restricted_keys::violation(
                breach,
                "the replacement would keep the revoked key's allowlist, and a revoked key can \
                 no longer be changed: create a restricted key that meets the policy instead, \
                 or ask an admin to relax the policy",
            ));
        }
        let event = self.event(
            revoked.account_id,
            Action::KeyCreated,
            actor,
            Some(new.record.id),
            format!(
                "issued the standard {} key {} to replace {}, which was revoked",
                revoked.mode, new.record.hint, revoked.hint
            ),
            now,
        );
        self.store
            .insert_keys(std::slice::from_ref(&new.record), &[event])
            .await
            .map_err(|e| {
                super::conflict_as(
                    e,
                    "this standard key was replaced by another request just now; reload to see it",
                )
            })?;
        self.committed(std::slice::from_ref(&new.record));
        Ok(RotatedKey {
            issued: new,
            previous: revoked,
        })
    }

    async fn standard_keys_where(
        &self,
        account_id: AccountId,
        mode: Option<Mode>,
        only_active: bool,
    ) -> Result<Vec<KeyRecord>, DomainError> {
        let filter = KeyFilter {
            kind: Some(KeyKind::Standard),
            mode,
            only_active,
        };
        Ok(self.store.keys_of_account(account_id, &filter).await?)
    }
}
