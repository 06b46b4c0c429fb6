//! Console sign-in: `POST /v1/auth/token/`, `POST /v1/auth/token/refresh/`, `GET /v1/auth/me/`.
//!
//! Sign-in's rules (limits, the decoy hash, two factors, the audit trail) are core's
//! [`keywarden_core::service::sign_in::SignIns`]; this handler reads the request and issues the tokens. Passwords are checked by
//! the bounded [`crate::password_pool`]: when it is full the answer is a 503 with `Retry-After`.

use crate::error::ApiError;
use crate::extract::{ApiJson, ClientMeta, Console};
use crate::state::AppState;
use crate::tokens::TokenType;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::session::{
    AccessToken, Me, MeAccount, MeUser, RefreshRequest, TokenPair, TokenRequest,
};
use keywarden_core::account::User;
use keywarden_core::error::DomainError;
use keywarden_core::service::sign_in::{Client, SignInAttempt};

/// `POST /v1/auth/token/`
#[utoipa::path(
    post,
    path = "/v1/auth/token/",
    operation_id = "sign_in",
    tag = "Sign-in",
    summary = "Sign in",
    description = "Email and password, plus the current TOTP code (or a recovery code) as `otp` \
                   for a user with two-factor authentication. Answers an access token (short-lived) \
                   and a refresh token. An unknown email and a wrong password get the same answer.",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenPair),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, description = "Wrong email or password (`invalid_credentials`), or the user \
                                      has 2FA and sent no code (`otp_required`) or a wrong one \
                                      (`otp_invalid`).",
            body = keywarden_api_types::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"keywarden-console\"`")),
            examples(
                ("invalid_credentials" = (summary = "Wrong email or password", value = json!({
                    "detail": "No active account found with the given credentials",
                    "code": "invalid_credentials"
                }))),
                ("otp_required" = (summary = "2FA is on and no code was sent", value = json!({
                    "detail": "This account uses two-factor authentication: send the 6-digit code from your authenticator app as `otp`.",
                    "code": "otp_required"
                }))),
                ("otp_invalid" = (summary = "Wrong or reused code", value = json!({
                    "detail": "The two-factor code is wrong, expired or already used. Wait for the next code and try again.",
                    "code": "otp_invalid"
                })))
            )
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 429, response = crate::error::responses::RateLimited),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let attempt = SignInAttempt {
        email: request.email,
        password: request.password,
        otp: request.otp,
        client: Client {
            ip: client.ip,
            user_agent: client.user_agent,
        },
    };
    let user = match state.sign_ins.sign_in(&state.service, attempt).await {
        Ok(user) => user,
        Err(refused) => {
            if matches!(refused, DomainError::InvalidCredentials) {
                state.metrics.sign_in(false);
            }
            return Err(refused.into());
        }
    };
    state.metrics.sign_in(true);
    Ok(Json(TokenPair {
        access: issue(&state, &user, TokenType::Access)?,
        refresh: issue(&state, &user, TokenType::Refresh)?,
    }))
}

fn issue(state: &AppState, user: &User, typ: TokenType) -> Result<String, ApiError> {
    state
        .tokens
        .issue(user, typ)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `POST /v1/auth/token/refresh/`
#[utoipa::path(
    post,
    path = "/v1/auth/token/refresh/",
    operation_id = "refresh_access_token",
    tag = "Sign-in",
    summary = "New access token",
    description = "Trades a refresh token for a new access token. A refresh token stops working \
                   when it expires, or when the user's sessions end (removal, role change, \
                   two-factor authentication turned off).",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token.", body = AccessToken),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, description = "The refresh token is invalid, expired or from an ended \
                                      session: sign in again.",
            body = keywarden_api_types::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"keywarden-console\"`")),
            example = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<AccessToken>, ApiError> {
    let claims = state
        .tokens
        .check(&request.refresh, TokenType::Refresh)
        .ok_or(ApiError::RefreshNotValid)?;
    let user = state
        .service
        .store()
        .user(claims.sub)
        .await?
        .ok_or(ApiError::RefreshNotValid)?;
    if user.session_version != claims.sv || user.account_id != claims.acc {
        return Err(ApiError::RefreshNotValid);
    }
    Ok(Json(AccessToken {
        access: issue(&state, &user, TokenType::Access)?,
    }))
}

/// `GET /v1/auth/me/`
#[utoipa::path(
    get,
    path = "/v1/auth/me/",
    operation_id = "me",
    tag = "Sign-in",
    summary = "The signed-in user and their account",
    security(("console" = [])),
    responses(
        (status = 200, description = "The user and their account.", body = Me),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn me(console: Console) -> Json<Me> {
    let Console { user, account, .. } = console;
    Json(Me {
        user: MeUser {
            id: user.id.to_string(),
            email: user.email,
            role: user.role.as_str().into(),
            two_factor_enabled: user.two_factor_enabled,
        },
        account: MeAccount {
            id: account.id.to_string(),
            name: account.name,
            require_2fa_for_keys: account.require_2fa_for_keys,
            rotation_period_days: account.rotation_period_days,
        },
    })
}
