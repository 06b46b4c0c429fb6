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
pub async fn get(console: Console) -> Result<Json<AccountBody>, ApiError> {
    console.require_admin()?;
    Ok(Json(body(&console.account)))
}

/// `PATCH /v1/account/` `{require_2fa_for_keys?, rotation_period_days?}`
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
