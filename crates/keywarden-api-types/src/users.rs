//! Users, account policy, products and audit events.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user of the account.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserBody {
    /// Id.
    pub id: String,
    /// Email.
    #[cfg_attr(feature = "openapi", schema(example = "grace@example.com"))]
    pub email: String,
    /// `admin`, `developer` or `member`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::RoleName, example = "developer"))]
    pub role: String,
    /// Whether TOTP is on.
    pub two_factor_enabled: bool,
    /// When the user was added.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub created_at: OffsetDateTime,
}

/// `GET /v1/users/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    /// The users, oldest first.
    pub results: Vec<UserBody>,
}

/// `POST /v1/users/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Email.
    #[cfg_attr(feature = "openapi", schema(example = "grace@example.com"))]
    pub email: String,
    /// `admin`, `developer` or `member`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::RoleName, example = "developer"))]
    pub role: String,
    /// Initial password (12 characters or more).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 12, example = "correct horse battery staple")
    )]
    pub password: String,
}

/// `PATCH /v1/users/{id}/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The new role.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::RoleName, example = "member"))]
    pub role: String,
}

/// `GET /v1/account/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Key changes need 2FA.
    pub require_2fa_for_keys: bool,
    /// Keys older than this are `rotation_due`.
    pub rotation_period_days: u32,
    /// Restricted keys must expire at most this many days after they are created, changed or
    /// rotated; null: no maximum. Standard keys never expire and are exempt.
    #[cfg_attr(
        feature = "openapi",
        schema(required, minimum = 1, maximum = 3650, example = 90)
    )]
    pub max_key_lifetime_days: Option<u32>,
    /// Restricted live keys must have an expiry.
    pub require_expiry_for_live: bool,
    /// Live keys, standard and restricted, must have an IP allowlist (`allowed_ips`).
    pub require_ip_allowlist_for_live: bool,
    /// What a leak report does to a key: `revoke` it (the default) or only `notify`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::LeakActionName, example = "revoke"))]
    pub leak_action: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub created_at: OffsetDateTime,
}

/// `PATCH /v1/account/`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    /// Key changes need 2FA.
    #[serde(default)]
    pub require_2fa_for_keys: Option<bool>,
    /// Rotation period in days (1–3650).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650, example = 90))]
    pub rotation_period_days: Option<u32>,
    /// Longest life of a restricted key in days (1–3650), or null for no maximum.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 1, maximum = 3650, example = 90))]
    pub max_key_lifetime_days: Option<Option<i64>>,
    /// Restricted live keys must have an expiry.
    #[serde(default)]
    pub require_expiry_for_live: Option<bool>,
    /// Live keys must have an IP allowlist.
    #[serde(default)]
    pub require_ip_allowlist_for_live: Option<bool>,
    /// `revoke` or `notify`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::names::LeakActionName>, example = "notify"))]
    pub leak_action: Option<String>,
}

/// `GET /v1/account/policy-violations/`: one rule an active key breaks.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyViolationBody {
    /// The key's id.
    pub key_id: String,
    /// The key's display hint.
    #[cfg_attr(feature = "openapi", schema(example = "rk_live_Docs…T2zK"))]
    pub hint: String,
    /// The key's label.
    pub label: String,
    /// `standard` or `restricted`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::KindName))]
    pub kind: String,
    /// `test` or `live`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::ModeName))]
    pub mode: String,
    /// The key field to fix: `expires_at` or `allowed_ips`.
    #[cfg_attr(feature = "openapi", schema(example = "allowed_ips"))]
    pub field: String,
    /// What the policy asks and the key lacks.
    pub reason: String,
}

/// `POST /v1/auth/2fa/setup/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TwoFactorConfirm {
    /// The current 6-digit code.
    #[cfg_attr(feature = "openapi", schema(example = "123456"))]
    pub otp: String,
}

/// 2FA is on.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactorEnabled {
    /// Always true.
    pub two_factor_enabled: bool,
    /// One-time recovery codes, shown once: each signs in once in place of a code.
    pub recovery_codes: Vec<String>,
}

/// `POST /v1/auth/2fa/disable/` and `POST /v1/auth/2fa/recovery-codes/`: the password and a
/// second factor, sent again to confirm a change to two-factor authentication.
#[derive(Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TwoFactorConfirmation {
    /// The password the user signs in with.
    #[cfg_attr(feature = "openapi", schema(example = "correct horse battery staple"))]
    pub password: String,
    /// A current 6-digit code from the authenticator app, or an unused recovery code (which
    /// is then used up).
    #[cfg_attr(feature = "openapi", schema(example = "123456"))]
    pub otp: String,
}

impl std::fmt::Debug for TwoFactorConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactorConfirmation")
            .finish_non_exhaustive()
    }
}

/// `POST /v1/auth/2fa/recovery-codes/`: the new recovery codes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    /// One-time recovery codes, shown once: each signs in once in place of a code. The codes
    /// given before stop working.
    #[cfg_attr(feature = "openapi", schema(example = json!([
        "k7dq-2mxv-p9fa", "w3hn-8cte-r5jb", "m2zs-6ykw-d4qg", "t9bv-3pfr-h7nc", "c5xm-7gjd-w2ke",
        "r8fh-4nvq-z6mt", "d3kw-9tbs-p5xa", "h6qc-2rmz-v8dj", "p4ng-5wxk-b7sf", "z9tj-3hcq-m2ve"
    ])))]
    pub recovery_codes: Vec<String>,
}

/// One product of the catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductBody {
    /// Id used in scopes and paths.
    #[cfg_attr(feature = "openapi", schema(example = "payroll"))]
    pub id: String,
    /// Display name.
    #[cfg_attr(feature = "openapi", schema(example = "Payroll"))]
    pub name: String,
    /// Its two scopes: `<id>:read`, `<id>:write`.
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll:read", "payroll:write"])))]
    pub scopes: Vec<String>,
}

/// `GET /v1/products/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductList {
    /// The catalog.
    pub products: Vec<ProductBody>,
}

/// Who did something.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActorBody {
    /// User id, or null for the operator CLI and anonymous callers.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub user_id: Option<String>,
    /// Email, or `operator (cli)`.
    pub label: String,
    /// Client address.
    #[cfg_attr(feature = "openapi", schema(required, example = "203.0.113.7"))]
    pub ip: Option<String>,
    /// Client user agent.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub user_agent: Option<String>,
}

/// One audit event.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEventBody {
    /// Id (also the pagination cursor).
    pub id: String,
    /// What happened, e.g. `key.revoked`.
    #[cfg_attr(feature = "openapi", schema(example = "key.revoked"))]
    pub action: String,
    /// Who.
    pub actor: ActorBody,
    /// The key concerned.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub key_id: Option<String>,
    /// A description without secrets.
    pub detail: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub at: OffsetDateTime,
}

/// `GET /v1/audit-events/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Newest first.
    pub results: Vec<AuditEventBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub next_cursor: Option<String>,
}
