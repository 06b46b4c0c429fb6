//! Turning on TOTP: `POST /v1/auth/2fa/setup/` (seed, `otpauth://` URI, QR code as SVG) and
//! `POST /v1/auth/2fa/confirm/` `{otp}` (turns it on; recovery codes shown once).

use crate::error::ApiError;
use crate::extract::{ApiJson, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::users::{TwoFactorConfirm, TwoFactorEnabled, TwoFactorSetup};
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
        (status = 401, response = crate::openapi::ConsoleUnauthorized),
        (status = 409, description = "Two-factor authentication is already on.", body = keywarden_api_types::ErrorBody,
            example = json!({"detail": "two-factor authentication is already on", "code": "conflict"})),
        (status = 503, response = crate::openapi::Unavailable),
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
        (status = 400, response = crate::openapi::BadRequest),
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
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
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
