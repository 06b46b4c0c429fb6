//! Turning on TOTP: `POST /v1/auth/2fa/setup/` (seed, `otpauth://` URI, QR code as SVG) and
//! `POST /v1/auth/2fa/confirm/` `{otp}` (turns it on; recovery codes shown once). Then, each
//! confirmed with the password and a code (`{password, otp}`, core's
//! [`keywarden_core::service::sign_in::SignIns`] checks them under sign-in's limits, the
//! password on the bounded [`crate::password_pool`]): `POST /v1/auth/2fa/disable/` turns it
//! off, `POST /v1/auth/2fa/recovery-codes/` replaces the recovery codes.

use crate::error::ApiError;
use crate::extract::{ApiJson, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keywarden_api_types::users::{
    RecoveryCodes, TwoFactorConfirm, TwoFactorConfirmation, TwoFactorEnabled, TwoFactorSetup,
};
use keywarden_core::service::sign_in::{Client, Confirmation};
use qrcode::QrCode;
use qrcode::render::svg;

/// `POST /v1/auth/2fa/setup/`
#[utoipa::path(
    post,
    path = "/v1/auth/2fa/setup/",
    operation_id = "begin_two_factor",
    tag = "Sign-in",
    summary = "Start turning on two-factor authentication",
    description = "Draws a new TOTP secret and answers it with its `otpauth://` URI and a QR code \
                   (SVG). Nothing changes for sign-in until `POST /v1/auth/2fa/confirm/`.",
    security(("console" = [])),
    responses(
        (status = 200, description = "The new TOTP secret, its URI and QR code.", body = TwoFactorSetup),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 409, description = "Two-factor authentication is already on.", body = keywarden_api_types::ErrorBody,
            example = json!({"detail": "two-factor authentication is already on", "code": "conflict"})),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn setup(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<TwoFactorSetup>, ApiError> {
    let setup = state
        .service
        .begin_two_factor(&console.user, &console.actor())
        .await?;
    let qr_svg = QrCode::new(setup.otpauth_uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .dark_color(svg::Color("#111827"))
                .light_color(svg::Color("#ffffff"))
                .build()
        })
        .map_err(|e| ApiError::Internal(format!("QR code: {e}")))?;
    Ok(Json(TwoFactorSetup {
        secret: setup.secret,
        otpauth_uri: setup.otpauth_uri,
        qr_svg,
    }))
}

/// `POST /v1/auth/2fa/confirm/`
#[utoipa::path(
    post,
    path = "/v1/auth/2fa/confirm/",
    operation_id = "confirm_two_factor",
    tag = "Sign-in",
    summary = "Turn on two-factor authentication",
    description = "Confirms the setup with a current code from the authenticator app. Answers \
                   one-time recovery codes, shown this once.",
    security(("console" = [])),
    request_body = TwoFactorConfirm,
    responses(
        (status = 200, description = "2FA is on; store the recovery codes now.", body = TwoFactorEnabled),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, description = "No or invalid access token (see `ConsoleUnauthorized`), or \
                                      the code is wrong (`otp_invalid`).",
            body = keywarden_api_types::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"keywarden-console\"`")),
            examples(
                ("otp_invalid" = (summary = "Wrong or reused code", value = json!({
                    "detail": "The two-factor code is wrong, expired or already used. Wait for the next code and try again.",
                    "code": "otp_invalid"
                }))),
                ("not provided" = (summary = "No Authorization header", value = json!({
                    "detail": "Authentication credentials were not provided."
                })))
            )
        ),
        (status = 409, description = "No setup to confirm: start with `POST /v1/auth/2fa/setup/`.",
            body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "there is no two-factor setup to confirm: start with POST /v1/auth/2fa/setup/",
                "code": "conflict"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn confirm(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<TwoFactorConfirm>,
) -> Result<Json<TwoFactorEnabled>, ApiError> {
    let codes = state
        .service
        .confirm_two_factor(&console.user, &request.otp, &console.actor())
        .await?;
    Ok(Json(TwoFactorEnabled {
        two_factor_enabled: true,
        recovery_codes: codes,
    }))
}

/// `POST /v1/auth/2fa/disable/` → 204; every console session of the user ends.
#[utoipa::path(
    post,
    path = "/v1/auth/2fa/disable/",
    operation_id = "disable_two_factor",
    tag = "Sign-in",
    summary = "Turn off two-factor authentication",
    description = "For the signed-in user, confirmed with their password and a current code \
                   from the authenticator app or an unused recovery code. The TOTP secret and \
                   every recovery code are deleted, and sign-in asks for the password only. \
                   Every console session of the user ends, this one too: sign in again. If \
                   the account requires two-factor authentication for key changes, the user \
                   can no longer create, rotate or revoke keys. A wrong password or code is a \
                   403 that changes nothing and counts against the sign-in limits.",
    security(("console" = [])),
    request_body(content = TwoFactorConfirmation, examples(
        ("authenticator code" = (summary = "With a code from the authenticator app", value = json!({
            "password": "correct horse battery staple",
            "otp": "123456"
        }))),
        ("recovery code" = (summary = "With an unused recovery code", value = json!({
            "password": "correct horse battery staple",
            "otp": "k7dq-2mxv-p9fa"
        })))
    )),
    responses(
        (status = 204, description = "Two-factor authentication is off; every session of the \
                                      user has ended."),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::ConfirmationRefused),
        (status = 409, response = crate::error::responses::TwoFactorNotEnabled),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 429, response = crate::error::responses::RateLimited),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn disable(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<TwoFactorConfirmation>,
) -> Result<StatusCode, ApiError> {
    state
        .sign_ins
        .disable_two_factor(
            &state.service,
            &console.user,
            confirmation(&console, request),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/2fa/recovery-codes/`
#[utoipa::path(
    post,
    path = "/v1/auth/2fa/recovery-codes/",
    operation_id = "regenerate_recovery_codes",
    tag = "Sign-in",
    summary = "New recovery codes",
    description = "For the signed-in user, confirmed with their password and a current code \
                   from the authenticator app or an unused recovery code. Answers ten new \
                   one-time recovery codes, shown this once; every code given before stops \
                   working. A wrong password or code is a 403 that changes nothing and counts \
                   against the sign-in limits.",
    security(("console" = [])),
    request_body(content = TwoFactorConfirmation, examples(
        ("authenticator code" = (summary = "With a code from the authenticator app", value = json!({
            "password": "correct horse battery staple",
            "otp": "123456"
        }))),
        ("recovery code" = (summary = "With an unused recovery code", value = json!({
            "password": "correct horse battery staple",
            "otp": "k7dq-2mxv-p9fa"
        })))
    )),
    responses(
        (status = 200, description = "The new recovery codes; store them now. The old ones no \
                                      longer work.", body = RecoveryCodes),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::ConfirmationRefused),
        (status = 409, response = crate::error::responses::TwoFactorNotEnabled),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 429, response = crate::error::responses::RateLimited),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<TwoFactorConfirmation>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = state
        .sign_ins
        .regenerate_recovery_codes(
            &state.service,
            &console.user,
            confirmation(&console, request),
        )
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// The confirmation core checks: the body's password and code, and where they came from.
fn confirmation(console: &Console, request: TwoFactorConfirmation) -> Confirmation {
    Confirmation {
        password: request.password,
        otp: request.otp,
        client: Client {
            ip: console.client.ip,
            user_agent: console.client.user_agent.clone(),
        },
    }
}
