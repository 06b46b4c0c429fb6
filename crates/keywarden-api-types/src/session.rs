//! Console sign-in and profile bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/auth/token/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Sign-in email.
    #[cfg_attr(feature = "openapi", schema(example = "ada@example.com"))]
    pub email: String,
    /// Password.
    pub password: String,
    /// TOTP code, for users with 2FA.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "123456"))]
    pub otp: Option<String>,
}

/// A token pair.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    /// Short-lived access token (JWT).
    pub access: String,
    /// Longer-lived refresh token (JWT).
    pub refresh: String,
}

/// `POST /v1/auth/token/refresh/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh: String,
}

/// A new access token.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessToken {
    /// Short-lived access token (JWT).
    pub access: String,
}

/// `GET /v1/auth/me/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The signed-in user.
    pub user: MeUser,
    /// Their account.
    pub account: MeAccount,
}

/// The user part of [`Me`].
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeUser {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// `admin`, `developer` or `member`.
    #[cfg_attr(feature = "openapi", schema(example = "admin"))]
    pub role: String,
    /// Whether TOTP is on.
    pub two_factor_enabled: bool,
}

/// The account part of [`Me`].
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeAccount {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Key changes need 2FA.
    pub require_2fa_for_keys: bool,
    /// Rotation period in days.
    pub rotation_period_days: u32,
}
