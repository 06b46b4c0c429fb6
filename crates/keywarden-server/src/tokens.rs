//! Console session tokens: short-lived access JWTs and longer refresh JWTs, HS256 under a key
//! derived from the server secret (so every instance sharing the secret accepts them).
//!
//! One algorithm, HS256, signed and checked by [`hs256`] (no JWT library: nothing to
//! negotiate); `exp` is checked against the injected clock, with no leeway; the `typ` claim
//! keeps a refresh token from being used as an access token; the `sv` claim (the user's
//! session version) lets removing a user end their sessions at once.

mod hs256;
#[cfg(test)]
mod tests;

use keywarden_core::Clock;
use keywarden_core::account::User;
use keywarden_core::ids::{AccountId, UserId};
use keywarden_core::secret::ServerSecret;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Which token a JWT is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Authorises console requests.
    Access,
    /// Only buys new access tokens.
    Refresh,
}

/// The claims we issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: UserId,
    /// Account id.
    pub acc: AccountId,
    /// The user's session version when issued.
    pub sv: i64,
    /// Access or refresh.
    pub typ: TokenType,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Unique id.
    pub jti: Uuid,
}

/// Issues and checks console tokens.
pub struct TokenIssuer {
    /// The HS256 key, derived from the server secret.
    key: Zeroizing<[u8; 32]>,
    clock: Arc<dyn Clock>,
    access_ttl: i64,
    refresh_ttl: i64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

/// A token could not be issued (its claims did not serialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot issue a console token: {0}")]
pub struct IssueError(String);

impl TokenIssuer {
    /// An issuer under the secret's JWT sub-key.
    pub fn new(
        secret: &ServerSecret,
        clock: Arc<dyn Clock>,
        access_ttl_secs: u64,
        refresh_ttl_secs: u64,
    ) -> Self {
        Self {
            key: secret.derive("console-jwt-hs256/v1"),
            clock,
            access_ttl: i64::try_from(access_ttl_secs).unwrap_or(900),
            refresh_ttl: i64::try_from(refresh_ttl_secs).unwrap_or(604_800),
        }
    }

    /// Issues a token of `typ` for `user`.
    pub fn issue(&self, user: &User, typ: TokenType) -> Result<String, IssueError> {
        let now = self.clock.now().unix_timestamp();
        let ttl = match typ {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            sub: user.id,
            acc: user.account_id,
            sv: user.session_version,
            typ,
            iat: now,
            exp: now + ttl,
            jti: Uuid::new_v4(),
        };
        hs256::sign(self.key.as_slice(), &claims).map_err(|e| IssueError(e.to_string()))
    }

    /// The claims of a token of type `expected` that is authentic and unexpired.
    pub fn check(&self, token: &str, expected: TokenType) -> Option<Claims> {
        if token.len() > 4096 {
            return None;
        }
        let claims: Claims = hs256::verify(self.key.as_slice(), token).ok()?;
        let now = self.clock.now().unix_timestamp();
        (claims.typ == expected && claims.exp > now).then_some(claims)
    }
}
