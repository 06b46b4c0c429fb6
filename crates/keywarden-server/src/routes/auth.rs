//! Console sign-in: `POST /v1/auth/token/`, `POST /v1/auth/token/refresh/`, `GET /v1/auth/me/`.
//!
//! An unknown email and a wrong password get the same answer after the same argon2 work, and
//! the failed-attempt audit row is written off the response path, so neither the body nor the
//! timing tells whether an email has an account.

use crate::error::ApiError;
use crate::extract::{ApiJson, ClientMeta, Console};
use crate::state::AppState;
use crate::tokens::TokenType;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::session::{
    AccessToken, Me, MeAccount, MeUser, RefreshRequest, TokenPair, TokenRequest,
};
use keywarden_core::account::{User, normalize_email};
use keywarden_core::audit::{Action, AuditEvent};
use keywarden_core::ids::EventId;
use keywarden_core::password;

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
        (status = 400, response = crate::openapi::BadRequest),
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
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let now = state.service.clock().unix_millis();
    let email = normalize_email(&request.email).unwrap_or_default();
    let limits = &state.limiters;
    if let Some(retry_after) = limits
        .sign_ins_per_client
        .blocked(&client.ip, now)
        .or_else(|| limits.sign_ins_per_user.blocked(&email, now))
    {
        return Err(ApiError::RateLimited { retry_after });
    }

    let user = state.service.store().user_by_email(&email).await?;
    let hash = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let candidate = request.password;
    let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check task failed: {e}")))?;

    let Some(user) = user.filter(|_| matches) else {
        limits.sign_ins_per_client.fail(&client.ip, now);
        limits.sign_ins_per_user.fail(&email, now);
        if let Some(user) = state
            .service
            .store()
            .user_by_email(&email)
            .await
            .ok()
            .flatten()
        {
            record_in_background(
                &state,
                &user,
                &client,
                Action::SignInFailed,
                "wrong password",
            );
        }
        state.metrics.sign_in(false);
        return Err(ApiError::InvalidCredentials);
    };
    if user.two_factor_enabled {
        let otp = request.otp.as_deref().map(str::trim).unwrap_or("");
        if otp.is_empty() {
            return Err(ApiError::OtpRequired);
        }
        let actor = client.actor(Some(&user));
        if let Err(e) = state.service.check_second_factor(&user, otp, &actor).await {
            limits.sign_ins_per_client.fail(&client.ip, now);
            limits.sign_ins_per_user.fail(&email, now);
            record_in_background(
                &state,
                &user,
                &client,
                Action::SignInFailed,
                "wrong two-factor code",
            );
            return Err(e.into());
        }
    }
    limits.sign_ins_per_user.reset(&email);
    state.metrics.sign_in(true);
    let event = sign_in_event(&state, &user, &client, Action::SignIn, "signed in");
    state.service.store().insert_event(&event).await?;
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

fn sign_in_event(
    state: &AppState,
    user: &User,
    client: &ClientMeta,
    action: Action,
    detail: &str,
) -> AuditEvent {
    let at = state.service.clock().now();
    AuditEvent {
        id: EventId::new_at(at),
        account_id: user.account_id,
        action,
        actor: client.actor(Some(user)),
        key_id: None,
        detail: detail.into(),
        at,
    }
}

fn record_in_background(
    state: &AppState,
    user: &User,
    client: &ClientMeta,
    action: Action,
    detail: &str,
) {
    let event = sign_in_event(state, user, client, action, detail);
    let store = state.service.store().clone();
    tokio::spawn(async move {
        if let Err(e) = store.insert_event(&event).await {
            tracing::warn!(error = %e, "cannot record a failed sign-in");
        }
    });
}

/// `POST /v1/auth/token/refresh/`
#[utoipa::path(
    post,
    path = "/v1/auth/token/refresh/",
    operation_id = "refresh_access_token",
    tag = "Sign-in",
    summary = "New access token",
    description = "Trades a refresh token for a new access token. A refresh token stops working \
                   when it expires, or when the user's sessions end (removal, role change).",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token.", body = AccessToken),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, description = "The refresh token is invalid, expired or from an ended \
                                      session: sign in again.",
            body = keywarden_api_types::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"keywarden-console\"`")),
            example = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
        ),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
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
        (status = 401, response = crate::openapi::ConsoleUnauthorized),
        (status = 503, response = crate::openapi::Unavailable),
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
