//! Users, account policy, products and audit events.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user of the account.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UserBody {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// `admin`, `developer` or `member`.
    pub role: String,
    /// Whether TOTP is on.
    pub two_factor_enabled: bool,
    /// When the user was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /v1/users/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UserList {
    /// The users, oldest first.
    pub results: Vec<UserBody>,
}

/// `POST /v1/users/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Email.
    pub email: String,
    /// `admin`, `developer` or `member`.
    pub role: String,
    /// Initial password (12 characters or more).
    pub password: String,
}

/// `PATCH /v1/users/{id}/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The new role.
    pub role: String,
}

/// `GET /v1/account/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AccountBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Key changes need 2FA.
    pub require_2fa_for_keys: bool,
    /// Keys older than this are `rotation_due`.
    pub rotation_period_days: u32,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `PATCH /v1/account/`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    /// Key changes need 2FA.
    #[serde(default)]
    pub require_2fa_for_keys: Option<bool>,
    /// Rotation period in days (1–3650).
    #[serde(default)]
    pub rotation_period_days: Option<u32>,
}

/// `POST /v1/auth/2fa/setup/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TwoFactorSetup {
    /// The TOTP seed in base32, for typing in by hand.
    pub secret: String,
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// `POST /v1/auth/2fa/confirm/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorConfirm {
    /// The current 6-digit code.
    pub otp: String,
}

/// 2FA is on.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TwoFactorEnabled {
    /// Always true.
    pub two_factor_enabled: bool,
    /// One-time recovery codes, shown once: each signs in once in place of a code.
    pub recovery_codes: Vec<String>,
}

/// One product of the catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ProductBody {
    /// Id used in scopes and paths.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its two scopes: `<id>:read`, `<id>:write`.
    pub scopes: Vec<String>,
}

/// `GET /v1/products/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ProductList {
    /// The catalog.
    pub products: Vec<ProductBody>,
}

/// Who did something.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ActorBody {
    /// User id, or null for the operator CLI and anonymous callers.
    pub user_id: Option<String>,
    /// Email, or `operator (cli)`.
    pub label: String,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// One audit event.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuditEventBody {
    /// Id (also the pagination cursor).
    pub id: String,
    /// What happened, e.g. `key.revoked`.
    pub action: String,
    /// Who.
    pub actor: ActorBody,
    /// The key concerned.
    pub key_id: Option<String>,
    /// A description without secrets.
    pub detail: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// `GET /v1/audit-events/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuditPage {
    /// Newest first.
    pub results: Vec<AuditEventBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
