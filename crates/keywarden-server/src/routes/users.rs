//! Users of the account (admins only): `GET`/`POST /v1/users/`, `PATCH`/`DELETE /v1/users/{id}/`.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keywarden_api_types::users::{CreateUserRequest, UpdateUserRequest, UserBody, UserList};
use keywarden_core::account::{Role, User};
use keywarden_core::ids::UserId;
use keywarden_core::password;

fn body(user: &User) -> UserBody {
    UserBody {
        id: user.id.to_string(),
        email: user.email.clone(),
        role: user.role.as_str().into(),
        two_factor_enabled: user.two_factor_enabled,
        created_at: user.created_at,
    }
}

fn role(text: &str) -> Result<Role, ApiError> {
    Role::from_name(text).ok_or_else(|| ApiError::Invalid {
        field: "role".into(),
        message: "use admin, developer or member".into(),
    })
}

fn user_id(text: &str) -> Result<UserId, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound("user"))
}

/// `GET /v1/users/`
pub async fn list(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<UserList>, ApiError> {
    console.require_admin()?;
    let users = state.service.users(console.account.id).await?;
    Ok(Json(UserList {
        results: users.iter().map(body).collect(),
    }))
}

/// `POST /v1/users/` `{email, role, password}` → 201
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    console.require_admin()?;
    let role = role(&request.role)?;
    let candidate = request.password;
    // argon2 is deliberately slow: off the async runtime.
    let hash = tokio::task::spawn_blocking(move || password::hash(&candidate))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))?
        .map_err(|e| ApiError::Invalid {
            field: "password".into(),
            message: e.to_string(),
        })?;
    let user = state
        .service
        .add_user(
            console.account.id,
            &request.email,
            role,
            hash,
            &console.actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(body(&user))))
}

/// `PATCH /v1/users/{id}/` `{role}`
pub async fn update(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserBody>, ApiError> {
    console.require_admin()?;
    let id = user_id(&id)?;
    let role = role(&request.role)?;
    let user = state
        .service
        .change_role(
            console.account.id,
            &console.user,
            id,
            role,
            &console.actor(),
        )
        .await?;
    Ok(Json(body(&user)))
}

/// `DELETE /v1/users/{id}/` → 204; their console sessions end at once.
pub async fn remove(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    console.require_admin()?;
    state
        .service
        .remove_user(console.account.id, user_id(&id)?, &console.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
