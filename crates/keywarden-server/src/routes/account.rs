//! Account policy (admins): `GET`/`PATCH /v1/account/`; the catalog: `GET /v1/products/`.

use crate::error::ApiError;
use crate::extract::{ApiJson, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::users::{AccountBody, ProductBody, ProductList, UpdateAccountRequest};
use keywarden_core::account::Account;

fn body(account: &Account) -> AccountBody {
    AccountBody {
        id: account.id.to_string(),
        name: account.name.clone(),
        require_2fa_for_keys: account.require_2fa_for_keys,
        rotation_period_days: account.rotation_period_days,
        created_at: account.created_at,
    }
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

/// `PATCH /v1/account/` `{require_2fa_for_keys?, rotation_period_days?}`
#[utoipa::path(
    patch,
    path = "/v1/account/",
    operation_id = "update_account",
    tag = "Account",
    summary = "Change the account policy",
    description = "With `require_2fa_for_keys` on, a user without 2FA who creates, rotates or \
                   revokes a key gets 403 `two_factor_required`. Keys older than \
                   `rotation_period_days` are marked `rotation_due`.",
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
    let account = state
        .service
        .update_policy(
            &console.account,
            request.require_2fa_for_keys,
            request.rotation_period_days,
            &console.actor(),
        )
        .await?;
    Ok(Json(body(&account)))
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
