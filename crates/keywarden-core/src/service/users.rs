//! Users and roles: admins add, re-role and remove users; nobody changes their own role, and
//! an account always keeps an admin (checked by the store inside the change's transaction).

use super::{AccountService, conflict_as};
use crate::account::{Role, User};
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::ids::{AccountId, UserId};
use crate::store::StoreError;

const LAST_ADMIN: &str = "an account must keep at least one admin: make another user admin first";

impl AccountService {
    /// The account's users, oldest first.
    pub async fn users(&self, account_id: AccountId) -> Result<Vec<User>, DomainError> {
        Ok(self.store.users_of_account(account_id).await?)
    }

    /// Changes another user's role; their console sessions end so the new role applies at once.
    pub async fn change_role(
        &self,
        account_id: AccountId,
        acting: &User,
        target: UserId,
        role: Role,
        actor: &Actor,
    ) -> Result<User, DomainError> {
        if acting.id == target {
            return Err(DomainError::Forbidden(
                "You cannot change your own role. Ask another admin.".into(),
            ));
        }
        let user = self.user_of(account_id, target).await?;
        let now = self.clock.now();
        let detail = format!("{}: {} → {}", user.email, user.role.as_str(), role.as_str());
        let event = self.event(
            account_id,
            Action::UserRoleChanged,
            actor,
            None,
            detail,
            now,
        );
        self.store
            .update_user_role(account_id, target, role, &event)
            .await
            .map_err(map_user_error)
    }

    /// Removes a user; their sessions end at once, the keys they created stay.
    pub async fn remove_user(
        &self,
        account_id: AccountId,
        target: UserId,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        let user = self.user_of(account_id, target).await?;
        let now = self.clock.now();
        let detail = format!("removed {} ({})", user.email, user.role.as_str());
        let event = self.event(account_id, Action::UserRemoved, actor, None, detail, now);
        self.store
            .delete_user(account_id, target, &event)
            .await
            .map_err(map_user_error)
    }

    /// A user of the account (another account's user is "not found").
    pub async fn user_of(&self, account_id: AccountId, id: UserId) -> Result<User, DomainError> {
        self.store
            .user(id)
            .await?
            .filter(|u| u.account_id == account_id)
            .ok_or(DomainError::NotFound("user"))
    }
}

fn map_user_error(error: StoreError) -> DomainError {
    match error {
        StoreError::NotFound => DomainError::NotFound("user"),
        StoreError::Conflict(rule) if rule == "last_admin" => {
            DomainError::Conflict(LAST_ADMIN.into())
        }
        other => conflict_as(
            other,
            "this user was changed by another request just now; reload and try again",
        ),
    }
}
