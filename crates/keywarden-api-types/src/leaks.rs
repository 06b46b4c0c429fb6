//! Leak reports (SPEC §8): GitHub's secret scanning partner program (`POST /v1/leaks/github/`)
//! and a text pasted by an admin or developer (`POST /v1/leaks/`).

use serde::{Deserialize, Serialize};

/// One match of a GitHub secret scanning report; the request body is a JSON array of them.
/// Fields GitHub may add later are ignored.
#[derive(Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GitHubLeakMatch {
    /// The text GitHub matched against the registered regular expression.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "rk_live_DocsExample00000000000000000000023T2zK")
    )]
    pub token: String,
    /// The name the partner registered for the pattern.
    #[serde(rename = "type", default)]
    #[cfg_attr(feature = "openapi", schema(example = "keywarden_api_key"))]
    pub token_type: String,
    /// The public URL where it was found (may be empty).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://github.com/acme/app/blob/3f2a1c9/.env")
    )]
    pub url: String,
    /// Where on GitHub: `content`, `commit`, `issue_comment`, `gist_content`, …
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "content"))]
    pub source: String,
}

impl std::fmt::Debug for GitHubLeakMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubLeakMatch")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

/// GitHub's feedback for one match, in the order of the report.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GitHubLeakLabel {
    /// Lower-case hex SHA-256 of the token.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    )]
    pub token_hash: String,
    /// The match's `type`, as sent.
    #[cfg_attr(feature = "openapi", schema(example = "keywarden_api_key"))]
    pub token_type: String,
    /// `true_positive`: a key of this Keywarden, whatever its status; `false_positive`: not one.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::LeakLabelName, example = "true_positive"))]
    pub label: String,
}

/// `POST /v1/leaks/`
#[derive(Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasteLeakRequest {
    /// The text that may hold keys (a log, a chat message, a file), at most 1 MiB.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            example = "deploy failed: KEYWARDEN_KEY=rk_live_DocsExample00000000000000000000023T2zK"
        )
    )]
    pub text: String,
}

impl std::fmt::Debug for PasteLeakRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasteLeakRequest")
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// A key of the caller's account found in a pasted text, handled as leaked.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PastedKey {
    /// Record id.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "01936f6e-8a4b-7c1d-9e2f-3a4b5c6d7e8f")
    )]
    pub id: String,
    /// First 12 and last 4 characters.
    #[cfg_attr(feature = "openapi", schema(example = "rk_live_Docs…T2zK"))]
    pub hint: String,
    /// Label.
    #[cfg_attr(feature = "openapi", schema(example = "payroll sync"))]
    pub label: String,
    /// Its status now: `revoked` after the report, unless the account's `leak_action` is
    /// `notify`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::StatusName, example = "revoked"))]
    pub status: String,
    /// Whether the key is revoked now (by this report or before it).
    pub revoked: bool,
}

/// `POST /v1/leaks/` answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PastedLeaksBody {
    /// The caller's account's keys found in the text, in order of appearance, each once.
    pub leaked: Vec<PastedKey>,
    /// Keys of other accounts found in the text: counted, never named, left as they are.
    #[cfg_attr(feature = "openapi", schema(example = 0))]
    pub other_accounts: u64,
    /// Texts with a key's shape and checksum that are no key of this Keywarden.
    #[cfg_attr(feature = "openapi", schema(example = 0))]
    pub not_found: u64,
}
