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
#[utoipa::path(
    get,
    path = "/v1/users/",
    operation_id = "list_users",
    tag = "Users",
    summary = "List users",
    security(("console" = [])),
    responses(
        (status = 200, description = "The users of the account, oldest first.", body = UserList),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/users/",
    operation_id = "create_user",
    tag = "Users",
    summary = "Add a user",
    security(("console" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user.", body = UserBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 409, description = "The email address is already in use (an email is one \
                                      identity on the whole service).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "that email address is already in use",
                "code": "conflict"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 429, description = "More than 10 users an hour were refused as already in use \
                                      for this account: addresses are not to be probed this way.",
            body = keywarden_api_types::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until another attempt is counted.")),
            example = json!({
                "detail": "Too many failed attempts from your address. Wait 42 seconds, then check the credentials you are sending and try again.",
                "code": "rate_limited"
            })
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    console.require_admin()?;
    let role = role(&request.role)?;
    let now = state.service.clock().unix_millis();
    let conflicts = &state.limiters.email_conflicts_per_account;
    if let Some(retry_after) = conflicts.blocked(&console.account.id, now) {
        return Err(ApiError::RateLimited { retry_after });
    }
    let candidate = request.password;
    // argon2 is deliberately slow: on the bounded password workers, off the async runtime.
    let hash = state
        .passwords
        .hash(candidate)
        .await?
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
        .await
        .inspect_err(|e| {
            if matches!(e, keywarden_core::DomainError::Conflict(_)) {
                conflicts.fail(&console.account.id, now);
            }
        })?;
    Ok((StatusCode::CREATED, Json(body(&user))))
}

/// `PATCH /v1/users/{id}/` `{role}`
#[utoipa::path(
    patch,
    path = "/v1/users/{id}/",
    operation_id = "change_user_role",
    tag = "Users",
    summary = "Change a user's role",
    description = "Their console sessions end, so the new role applies at once. No user changes \
                   their own role, and the last admin cannot be demoted.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The user's id, from `GET /v1/users/`.")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user with the new role.", body = UserBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, description = "Not an admin, or the user is changing their own role.",
            body = keywarden_api_types::ErrorBody,
            examples(
                ("role" = (summary = "Not an admin", value = json!({
                    "detail": "You do not have permission to perform this action."
                }))),
                ("own role" = (summary = "Changing one's own role", value = json!({
                    "detail": "You cannot change your own role. Ask another admin.",
                    "code": "permission_denied"
                })))
            )
        ),
        (status = 404, description = "No such user in your account.", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such user in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 409, description = "The last admin cannot be demoted.", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "an account must keep at least one admin: make another user admin first",
                "code": "conflict"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
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
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/",
    operation_id = "remove_user",
    tag = "Users",
    summary = "Remove a user",
    description = "Their console sessions end at once; the keys they created stay.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The user's id, from `GET /v1/users/`.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "No such user in your account.", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such user in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 409, description = "The last admin cannot be removed.", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "an account must keep at least one admin: make another user admin first",
                "code": "conflict"
            })
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
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
