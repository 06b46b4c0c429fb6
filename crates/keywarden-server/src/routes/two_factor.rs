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
pub async fn setup(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<TwoFactorSetup>, ApiError> {
    let setup = state.service.begin_two_factor(&console.user, &console.actor()).await?;
    let qr_svg = QrCode::new(setup.otpauth_uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .dark_color(svg::Color("#111827"))
                .light_color(svg::Color("#ffffff"))
                .build()
        })
        .map_err(|e| ApiError::Internal(format!("QR code: {e}")))?;
    Ok(Json(TwoFactorSetup { secret: setup.secret, otpauth_uri: setup.otpauth_uri, qr_svg }))
}

/// `POST /v1/auth/2fa/confirm/`
pub async fn confirm(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<TwoFactorConfirm>,
) -> Result<Json<TwoFactorEnabled>, ApiError> {
    let codes =
        state.service.confirm_two_factor(&console.user, &request.otp, &console.actor()).await?;
    Ok(Json(TwoFactorEnabled { two_factor_enabled: true, recovery_codes: codes }))
}
