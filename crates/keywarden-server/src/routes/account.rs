//! Account policy (admins): `GET`/`PATCH /v1/account/`, and the keys that break its key policy,
//! `GET /v1/account/policy-violations/`; the catalog: `GET /v1/products/`.

use crate::error::ApiError;
use crate::extract::{ApiJson, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::users::{
    AccountBody, PolicyViolationBody, ProductBody, ProductList, UpdateAccountRequest,
};
use keywarden_core::account::Account;
use keywarden_core::account_key_policy::{LeakAction, MAX_KEY_LIFETIME_DAYS};
use keywarden_core::service::AccountPolicyChanges;

fn body(account: &Account) -> AccountBody {
    AccountBody {
        id: account.id.to_string(),
        name: account.name.clone(),
        require_2fa_for_keys: account.require_2fa_for_keys,
        rotation_period_days: account.rotation_period_days,
        max_key_lifetime_days: account.key_policy.max_key_lifetime_days,
        require_expiry_for_live: account.key_policy.require_expiry_for_live,
        require_ip_allowlist_for_live: account.key_policy.require_ip_allowlist_for_live,
        leak_action: account.key_policy.leak_action.as_str().to_owned(),
        created_at: account.created_at,
    }
}

/// The request's changes, each value checked: a wrong one is a 400 naming its field.
fn changes(request: UpdateAccountRequest) -> Result<AccountPolicyChanges, ApiError> {
    let invalid = |field: &'static str, message: String| ApiError::Invalid {
        field: field.into(),
        message,
    };
    let max_key_lifetime_days = request
        .max_key_lifetime_days
        .map(|days| {
            days.map(|d| {
                u32::try_from(d)
                    .ok()
                    .filter(|d| (1..=MAX_KEY_LIFETIME_DAYS).contains(d))
                    .ok_or_else(|| {
                        invalid(
                            "max_key_lifetime_days",
                            format!(
                                "give a whole number of days from 1 to {MAX_KEY_LIFETIME_DAYS}, or null for no maximum"
                            ),
                        )
                    })
            })
            .transpose()
        })
        .transpose()?;
    let leak_action = request
        .leak_action
        .map(|name| {
            LeakAction::from_name(&name).ok_or_else(|| {
                invalid(
                    "leak_action",
                    "use revoke (a leaked key stops working at once) or notify (it is only reported)"
                        .into(),
                )
            })
        })
        .transpose()?;
    Ok(AccountPolicyChanges {
        require_2fa_for_keys: request.require_2fa_for_keys,
        rotation_period_days: request.rotation_period_days,
        max_key_lifetime_days,
        require_expiry_for_live: request.require_expiry_for_live,
        require_ip_allowlist_for_live: request.require_ip_allowlist_for_live,
        leak_action,
    })
}

/// `GET /v1/account/`
#[utoipa::path(
    get,
    path = "/v1/account/",
    operation_id = "get_account",
    tag = "Account",
    summary = "The account and its policy",
    security(("console" = [])),
    responses(
        (status = 200, description = "The account.", body = AccountBody),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn get(console: Console) -> Result<Json<AccountBody>, ApiError> {
    console.require_admin()?;
    Ok(Json(body(&console.account)))
}

/// `PATCH /v1/account/` `{require_2fa_for_keys?, rotation_period_days?, max_key_lifetime_days?,
/// require_expiry_for_live?, require_ip_allowlist_for_live?, leak_action?}`
#[utoipa::path(
    patch,
    path = "/v1/account/",
    operation_id = "update_account",
    tag = "Account",
    summary = "Change the account policy",
    description = "Absent fields stay as they are. With `require_2fa_for_keys` on, a user without \
                   2FA who creates, rotates or revokes a key gets 403 `two_factor_required`. Keys \
                   older than `rotation_period_days` are marked `rotation_due`.\n\n\
                   The key policy binds the console and the operator CLI alike: a key created, \
                   changed or rotated against it is refused with 400 `policy_violation`. \
                   `max_key_lifetime_days` (null: none) and `require_expiry_for_live` apply to \
                   restricted keys (standard keys never expire); `require_ip_allowlist_for_live` \
                   to every live key, though an account's standard keys are issued without an \
                   allowlist. `leak_action` (`revoke` or `notify`) says what a leak report does. \
                   Tightening the policy changes no existing key: \
                   `GET /v1/account/policy-violations/` lists those that break it.",
    security(("console" = [])),
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, description = "The account as changed.", body = AccountBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<UpdateAccountRequest>,
) -> Result<Json<AccountBody>, ApiError> {
    console.require_admin()?;
    let changes = changes(request)?;
    let account = state
        .service
        .update_policy(&console.account, changes, &console.actor())
        .await?;
    Ok(Json(body(&account)))
}

/// `GET /v1/account/policy-violations/`
#[utoipa::path(
    get,
    path = "/v1/account/policy-violations/",
    operation_id = "list_policy_violations",
    tag = "Account",
    summary = "Keys that break the key policy",
    description = "Every working key of the account (active, not expired) that breaks the \
                   account's key policy as it stands now, newest first: one entry per rule a key \
                   breaks, naming the key field to fix (`expires_at` or `allowed_ips`) and why. \
                   Tightening the policy changes no existing key, so such keys keep working \
                   until they are changed (`PATCH /v1/api-keys/{id}/`), rotated or revoked. An \
                   empty list: every key meets the policy.",
    security(("console" = [])),
    responses(
        (status = 200, description = "The keys that break the policy, one entry per rule.",
            body = Vec<PolicyViolationBody>),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn policy_violations(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<Vec<PolicyViolationBody>>, ApiError> {
    console.require_admin()?;
    let found = state.service.policy_violations(&console.account).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|v| PolicyViolationBody {
                key_id: v.key.id.to_string(),
                hint: v.key.hint,
                label: v.key.label,
                kind: v.key.kind.as_str().to_owned(),
                mode: v.key.mode.as_str().to_owned(),
                field: v.breach.field.to_owned(),
                reason: v.breach.reason,
            })
            .collect(),
    ))
}

/// `GET /v1/products/`: any signed-in user.
#[utoipa::path(
    get,
    path = "/v1/products/",
    operation_id = "list_products",
    tag = "Account",
    summary = "The product catalog and its scopes",
    description = "Every product with its two scopes, `<id>:read` and `<id>:write`. Any \
                   signed-in user.",
    security(("console" = [])),
    responses(
        (status = 200, description = "The catalog.", body = ProductList),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn products(State(state): State<AppState>, _console: Console) -> Json<ProductList> {
    let products = state
        .service
        .catalog()
        .products()
        .iter()
        .map(|p| ProductBody {
            id: p.id.clone(),
            name: p.name.clone(),
            scopes: vec![format!("{}:read", p.id), format!("{}:write", p.id)],
        })
        .collect();
    Json(ProductList { products })
}
