//! Extractors that say on a handler's first line what it accepts: [`Console`] (a signed-in
//! user, with role checks), [`ApiJson`] (a JSON body whose every failure is a JSON 400/413),
//! and [`ClientMeta`] (address and user agent, for limits and the audit trail).

use crate::client_addr::client_ip;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::TokenType;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use bytes::Bytes;
use keywarden_core::account::{Account, User};
use keywarden_core::audit::Actor;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A JSON body; malformed, mistyped or oversized bodies get JSON errors that name the problem.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::MalformedBody(
                "send the header `Content-Type: application/json`".into(),
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        // Every body of this API is a JSON object; serde would also take an array for a struct.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::MalformedBody(
                "send a JSON object, `{…}`, with the fields this endpoint documents".into(),
            ));
        }
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `Content-Type: application/json`, or another JSON type (`application/…+json`).
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .get(..12)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/"))
            && essence.to_ascii_lowercase().ends_with("+json")
}

/// Maps axum's JSON rejections to our errors. A body of the wrong shape names the field
/// (axum reports the path of the field that failed to deserialize).
pub fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::MalformedBody("send the header `Content-Type: application/json`".into())
        }
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        other => ApiError::MalformedBody(other.body_text()),
    }
}

/// "Failed to deserialize … target type: scopes\[0\]: invalid type: …" → field `scopes`.
fn data_error(text: &str) -> ApiError {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    if let Some(field) = detail
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        return ApiError::Invalid {
            field: field.to_owned().into(),
            message: format!("this endpoint does not accept `{field}`; {detail}"),
        };
    }
    if let Some(field) = detail
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return ApiError::Invalid {
            field: field.to_owned().into(),
            message: "this field is required".into(),
        };
    }
    match detail.split_once(": ") {
        Some((path, why)) if !path.contains(' ') && path != "." => {
            let field: String = path
                .chars()
                .take_while(|c| *c != '[' && *c != '.')
                .collect();
            ApiError::Invalid {
                field: field.into(),
                message: why.to_owned(),
            }
        }
        _ => ApiError::MalformedBody(detail.to_owned()),
    }
}

/// Parses an optional JSON body: empty means the type's default.
pub fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    // No body, or `null`: nothing asked for.
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            ApiError::MalformedBody(e.inner().to_string())
        } else {
            data_error(&format!("target type: {path}: {}", e.inner()))
        }
    })
}

/// Query parameters; unknown or mistyped ones are a 400 that names them.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        // An empty parameter (`?status=`, as a form sends an empty field) is an absent one.
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(query.as_bytes()).filter(|(_, value)| !value.is_empty()),
            )
            .finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|e| {
                let text = e.inner().to_string();
                // A mistyped value has a path (`limit`); an unknown parameter is named in the text.
                let path = e.path().to_string();
                let field = if path != "." && !path.is_empty() {
                    path
                } else {
                    text.split('`')
                        .nth(1)
                        .map_or_else(|| "query".to_owned(), str::to_owned)
                };
                ApiError::Invalid {
                    field: field.into(),
                    message: format!("query parameter: {text}"),
                }
            })
    }
}

/// Maps axum's raw-body rejections (over the body limit, unreadable body) to JSON errors, for
/// handlers that take `Result<Bytes, BytesRejection>` (axum's own answer would be plain text).
pub fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::MalformedBody(rejection.body_text())
    }
}

/// A path parameter. One that cannot be decoded (bad percent-encoding, not UTF-8) names nothing
/// that exists: a JSON 404 like any unknown id, not axum's plain-text 400.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| ApiError::NotFound("resource"))
    }
}

/// The client's address (behind trusted proxies) and user agent.
#[derive(Clone, Debug)]
pub struct ClientMeta {
    /// Client address.
    pub ip: IpAddr,
    /// `User-Agent`, cut to 200 characters.
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// Reads it from request parts.
    pub fn from_parts(parts: &Parts, state: &AppState) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect());
        Self { ip, user_agent }
    }

    /// An audit actor for this client.
    pub fn actor(&self, user: Option<&User>) -> Actor {
        Actor {
            user_id: user.map(|u| u.id),
            label: user.map_or_else(|| "anonymous".into(), |u| u.email.clone()),
            ip: Some(self.ip.to_string()),
            user_agent: self.user_agent.clone(),
        }
    }
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self::from_parts(parts, state))
    }
}

/// A signed-in console user with a valid, unexpired access token whose session is current.
#[derive(Debug, Clone)]
pub struct Console {
    /// The user.
    pub user: User,
    /// Their account.
    pub account: Account,
    /// Where the request came from.
    pub client: ClientMeta,
}

impl Console {
    /// Admins and developers may see and manage keys.
    pub fn require_key_manager(&self) -> Result<(), ApiError> {
        if self.user.role.manages_keys() {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Only admins manage users, account policy and the audit trail.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == keywarden_core::account::Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> Actor {
        self.client.actor(Some(&self.user))
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::NotProvided)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(ApiError::TokenNotValid)?;
        let claims = state
            .tokens
            .check(token, TokenType::Access)
            .ok_or(ApiError::TokenNotValid)?;
        let store = state.service.store();
        let user = store
            .user(claims.sub)
            .await?
            .ok_or(ApiError::TokenNotValid)?;
        if user.session_version != claims.sv || user.account_id != claims.acc {
            return Err(ApiError::TokenNotValid);
        }
        let account = store
            .account(user.account_id)
            .await?
            .ok_or(ApiError::TokenNotValid)?;
        Ok(Self {
            user,
            account,
            client: ClientMeta::from_parts(parts, state),
        })
    }
}
