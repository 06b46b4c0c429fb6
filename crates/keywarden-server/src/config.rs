//! Configuration: a TOML file (`--config`), overridden by `KEYWARDEN_*` environment variables
//! (a `.env` file is loaded into the environment by the CLI first). Unknown keys in the file
//! are an error, and a file that was named but cannot be read is an error: a typo must not
//! silently fall back to defaults.

use ipnet::IpNet;
use keywarden_core::scope::{Catalog, Product};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret from configuration; `Debug` never prints it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One forward-auth route: requests whose path starts with `prefix` need a scope of `product`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Path prefix, e.g. `/payroll/`.
    pub prefix: String,
    /// Product id from the catalog.
    pub product: String,
}

/// The verify cache.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// The key table is never older than this; past it, verification answers 503 (≤ 60).
    pub max_age_secs: u64,
    /// How often the change feed is read.
    pub refresh_interval_ms: u64,
    /// How often last-use times are written, in one batch.
    pub last_used_flush_secs: u64,
    /// How often usage-limit counts are added to the store's and every instance's totals read
    /// back: the bound on a usage limit's overshoot and on counts lost in a crash.
    pub usage_flush_ms: u64,
    /// On PostgreSQL, also wake on `NOTIFY` from other instances (turn off behind a pooler
    /// that cannot `LISTEN`, such as PgBouncer in transaction mode; polling still bounds it).
    pub listen: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_age_secs: 30,
            refresh_interval_ms: 500,
            last_used_flush_secs: 10,
            usage_flush_ms: 1_000,
            listen: true,
        }
    }
}

/// Abuse limits (SPEC §3).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Failed key presentations per client address per minute.
    pub failed_keys_per_minute: u32,
    /// Failed sign-ins per client address per window.
    pub failed_sign_ins_per_client: u32,
    /// Failed sign-ins per user (email) per window.
    pub failed_sign_ins_per_user: u32,
    /// The sign-in window, in seconds.
    pub sign_in_window_secs: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most connections open at once; past it a new connection is closed at once. Kept below
    /// the open-file limit, so that the database and the data files always get descriptors.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and may stay idle between
    /// requests, in seconds.
    pub header_read_timeout_secs: u64,
    /// After SIGTERM, how long requests in flight may take before the process exits anyway,
    /// in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            failed_keys_per_minute: 60,
            failed_sign_ins_per_client: 20,
            failed_sign_ins_per_user: 5,
            sign_in_window_secs: 15 * 60,
            max_body_bytes: 64 * 1024,
            max_connections: 8192,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 10,
        }
    }
}

/// Console tokens.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Access token lifetime, seconds.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_ttl_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// Webhook delivery (SPEC §7).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Allow endpoints whose host is (or resolves to) a loopback, private or link-local
    /// address. Off by default: a delivery is a request made on an admin's behalf, and must
    /// not reach the operator's own network unless the operator says so.
    pub allow_private_targets: bool,
    /// How often new events are fanned out and due deliveries claimed, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often keys are checked for scheduled reminders (`key.expiring`, `key.expired`,
    /// `key.rotation_due`), in seconds.
    pub reminder_interval_secs: u64,
    /// How long a claimed delivery belongs to this instance before another may take it over,
    /// in seconds (longer than a request may take).
    pub lease_secs: u64,
    /// Most deliveries sent at once by this instance.
    pub max_concurrent_deliveries: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            poll_interval_ms: 250,
            reminder_interval_secs: 60,
            lease_secs: 60,
            max_concurrent_deliveries: 16,
        }
    }
}

/// Leak reports from GitHub's secret scanning partner program (SPEC §8): where the public keys
/// that sign them come from. Neither set: `POST /v1/leaks/github/` refuses every report.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LeaksConfig {
    /// A file in the shape GitHub publishes them (`{"public_keys": [{"key_identifier", "key",
    /// "is_current"}]}`), read at start-up.
    pub github_public_keys_file: Option<PathBuf>,
    /// A URL serving that document (GitHub's is
    /// `https://api.github.com/meta/public_keys/secret_scanning`): fetched on the first report,
    /// then again once it is a day old, or when a report names a key not in the set (at most
    /// every 10 minutes). A failed fetch keeps the last good set.
    pub github_public_keys_url: Option<String>,
}

impl LeaksConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.github_public_keys_file.is_some() && self.github_public_keys_url.is_some() {
            return Err(ConfigError(
                "leaks: set github_public_keys_file or github_public_keys_url, not both".into(),
            ));
        }
        if let Some(text) = &self.github_public_keys_url {
            let web = url::Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
            if web.is_none() {
                return Err(ConfigError(format!(
                    "leaks.github_public_keys_url {text:?} is not an http(s) URL; GitHub's is \
                     https://api.github.com/meta/public_keys/secret_scanning"
                )));
            }
        }
        Ok(())
    }
}

/// Log output.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How a listen address is written, for error messages.
pub const LISTEN_EXAMPLE: &str = "give an IP address and a port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080 (not a host name)";

/// Everything `keywarden serve` and `keywarden admin` read.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; defaults to a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded database and the generated secret live.
    pub data_dir: PathBuf,
    /// The server secret (prefer the environment). Generated into `data_dir` if absent.
    pub secret: Option<SecretText>,
    /// Where to keep a generated secret (default: `data_dir/secret`).
    pub secret_file: Option<PathBuf>,
    /// If set, the verification endpoints need `X-Keywarden-Verifier-Secret`.
    pub verifier_secret: Option<SecretText>,
    /// `redis://…`: rate limits shared by every instance (SPEC §9); each instance counts alone
    /// without it. Kept out of `Debug` (it may hold a password).
    pub redis_url: Option<SecretText>,
    /// Whether every check of a found key is counted per hour, outcome, product and client
    /// address (SPEC §10: usage, impact, suggested scopes). Off: nothing is counted, and no
    /// client address is stored.
    pub usage_counting: bool,
    /// Rotation period for new accounts, in days.
    pub rotation_period_days: u32,
    /// Proxies whose `X-Forwarded-For` names the client (loopback by default).
    pub trusted_proxies: Vec<IpNet>,
    /// The product catalog; the seeds' seven products if absent.
    pub products: Option<Vec<Product>>,
    /// Forward-auth route table; `/v1/<product>/…` if empty.
    pub routes: Vec<RouteRule>,
    /// Verify cache.
    pub cache: CacheConfig,
    /// Abuse limits.
    pub limits: LimitsConfig,
    /// Console tokens.
    pub tokens: TokenConfig,
    /// Webhook delivery.
    pub webhooks: WebhooksConfig,
    /// Leak reports.
    pub leaks: LeaksConfig,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`info`, `keywarden=debug`, …).
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("keywarden-data"),
            secret: None,
            secret_file: None,
            verifier_secret: None,
            redis_url: None,
            usage_counting: true,
            rotation_period_days: keywarden_core::account::DEFAULT_ROTATION_PERIOD_DAYS,
            trusted_proxies: ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            products: None,
            routes: Vec::new(),
            cache: CacheConfig::default(),
            limits: LimitsConfig::default(),
            tokens: TokenConfig::default(),
            webhooks: WebhooksConfig::default(),
            leaks: LeaksConfig::default(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
        }
    }
}

impl WebhooksConfig {
    /// The longest a delivery request may take, in seconds (SPEC §7: a 2xx answer within 10 s).
    pub const REQUEST_TIMEOUT_SECS: u64 = 10;

    fn validate(&self) -> Result<(), ConfigError> {
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError(format!(
                "webhooks.poll_interval_ms is {}; it must be between 10 and 60000",
                self.poll_interval_ms
            )));
        }
        if !(1..=86_400).contains(&self.reminder_interval_secs) {
            return Err(ConfigError(format!(
                "webhooks.reminder_interval_secs is {}; it must be between 1 and 86400",
                self.reminder_interval_secs
            )));
        }
        let shortest_lease = 2 * Self::REQUEST_TIMEOUT_SECS;
        if !(shortest_lease..=3_600).contains(&self.lease_secs) {
            return Err(ConfigError(format!(
                "webhooks.lease_secs is {}; it must be between {shortest_lease} (twice the \
                 {} s request timeout) and 3600",
                self.lease_secs,
                Self::REQUEST_TIMEOUT_SECS
            )));
        }
        if !(1..=1_024).contains(&self.max_concurrent_deliveries) {
            return Err(ConfigError(format!(
                "webhooks.max_concurrent_deliveries is {}; it must be between 1 and 1024",
                self.max_concurrent_deliveries
            )));
        }
        Ok(())
    }
}

/// A configuration that cannot be used; the message says which setting and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Every `KEYWARDEN_*` variable Keywarden reads (`KEYWARDEN_CONFIG` names the file). Any other
/// `KEYWARDEN_*` variable is a typo or a leftover and stops the binary (see
/// [`unknown_variables`]); a unit test checks this list against what [`Config::load`] reads.
pub const VARIABLES: &[&str] = &[
    "KEYWARDEN_CONFIG",
    "KEYWARDEN_LISTEN",
    "KEYWARDEN_DATABASE_URL",
    "KEYWARDEN_DATA_DIR",
    "KEYWARDEN_SECRET",
    "KEYWARDEN_SECRET_FILE",
    "KEYWARDEN_VERIFIER_SECRET",
    "KEYWARDEN_REDIS_URL",
    "KEYWARDEN_USAGE_COUNTING",
    "KEYWARDEN_ROTATION_PERIOD_DAYS",
    "KEYWARDEN_TRUSTED_PROXIES",
    "KEYWARDEN_PRODUCTS",
    "KEYWARDEN_ROUTES",
    "KEYWARDEN_CACHE_LISTEN",
    "KEYWARDEN_CACHE_REFRESH_INTERVAL_MS",
    "KEYWARDEN_CACHE_MAX_AGE_SECS",
    "KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
    "KEYWARDEN_LEAKS_GITHUB_PUBLIC_KEYS_FILE",
    "KEYWARDEN_LEAKS_GITHUB_PUBLIC_KEYS_URL",
    "KEYWARDEN_LOG_FORMAT",
    "KEYWARDEN_LOG_LEVEL",
];

/// Variables of the test suites (`KEYWARDEN_TEST_*`), which share the prefix but are not
/// configuration: ignored here.
const TEST_PREFIX: &str = "KEYWARDEN_TEST_";

/// The `KEYWARDEN_*` names among `names` that Keywarden does not know, as an error that lists
/// the known ones; `Ok` if there are none.
pub fn unknown_variables<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let unknown: Vec<&str> = names
        .filter(|n| n.starts_with("KEYWARDEN_") && !n.starts_with(TEST_PREFIX))
        .filter(|n| !VARIABLES.contains(n))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ConfigError(format!(
        "unknown environment variable{} {}: check the spelling (docs/CONFIGURATION.md); the known ones are {}",
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join(", "),
        VARIABLES.join(", ")
    )))
}

impl Config {
    /// Reads `file` (if given) and then the `KEYWARDEN_*` variables `env` yields.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!(
                        "cannot read the config file {}: {e}",
                        path.display()
                    ))
                })?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// How a listen address is written, for error messages.
    pub const LISTEN_EXAMPLE: &str = "give an IP address and a port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080 (not a host name)";

    /// The configuration a TOML text describes, checked as [`Config::load`] checks it (no
    /// environment). What the fuzzer drives.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parsed<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            value
                .trim()
                .parse()
                .map_err(|e| ConfigError(format!("{name}={value:?}: {e}")))
        }
        if let Some(v) = env("KEYWARDEN_LISTEN") {
            self.listen = parsed::<SocketAddr>("KEYWARDEN_LISTEN", &v)
                .map_err(|e| ConfigError(format!("{}; {}", e.0, LISTEN_EXAMPLE)))?;
        }
        if let Some(v) = env("KEYWARDEN_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = env("KEYWARDEN_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KEYWARDEN_SECRET") {
            self.secret = Some(SecretText(v));
        }
        if let Some(v) = env("KEYWARDEN_SECRET_FILE") {
            self.secret_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KEYWARDEN_VERIFIER_SECRET") {
            self.verifier_secret = Some(SecretText(v));
        }
        if let Some(v) = env("KEYWARDEN_REDIS_URL") {
            self.redis_url = Some(SecretText(v));
        }
        if let Some(v) = env("KEYWARDEN_USAGE_COUNTING") {
            self.usage_counting = parsed("KEYWARDEN_USAGE_COUNTING", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_ROTATION_PERIOD_DAYS") {
            self.rotation_period_days = parsed("KEYWARDEN_ROTATION_PERIOD_DAYS", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_TRUSTED_PROXIES") {
            self.trusted_proxies = list(&v)
                .map(|n| parsed("KEYWARDEN_TRUSTED_PROXIES", n))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("KEYWARDEN_PRODUCTS") {
            // "asset=Asset,payroll=Payroll"
            let products = list(&v)
                .map(|item| {
                    let (id, name) = item.split_once('=').unwrap_or((item, item));
                    Product {
                        id: id.trim().into(),
                        name: name.trim().into(),
                    }
                })
                .collect();
            self.products = Some(products);
        }
        if let Some(v) = env("KEYWARDEN_ROUTES") {
            // "/payroll/=payroll,/hr/=talent"
            self.routes = list(&v)
                .map(|item| {
                    let (prefix, product) = item.split_once('=').ok_or_else(|| {
                        ConfigError(format!("KEYWARDEN_ROUTES: '{item}' is not PREFIX=PRODUCT"))
                    })?;
                    Ok(RouteRule {
                        prefix: prefix.trim().into(),
                        product: product.trim().into(),
                    })
                })
                .collect::<Result<_, ConfigError>>()?;
        }
        if let Some(v) = env("KEYWARDEN_CACHE_LISTEN") {
            self.cache.listen = parsed("KEYWARDEN_CACHE_LISTEN", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_CACHE_REFRESH_INTERVAL_MS") {
            self.cache.refresh_interval_ms = parsed("KEYWARDEN_CACHE_REFRESH_INTERVAL_MS", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_CACHE_MAX_AGE_SECS") {
            self.cache.max_age_secs = parsed("KEYWARDEN_CACHE_MAX_AGE_SECS", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS") {
            self.webhooks.allow_private_targets =
                parsed("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS", &v)?;
        }
        if let Some(v) = env("KEYWARDEN_LEAKS_GITHUB_PUBLIC_KEYS_FILE") {
            self.leaks.github_public_keys_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KEYWARDEN_LEAKS_GITHUB_PUBLIC_KEYS_URL") {
            self.leaks.github_public_keys_url = Some(v);
        }
        if let Some(v) = env("KEYWARDEN_LOG_FORMAT") {
            self.log_format = match v.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError(format!(
                        "KEYWARDEN_LOG_FORMAT={other:?}: use text or json"
                    )));
                }
            };
        }
        if let Some(v) = env("KEYWARDEN_LOG_LEVEL") {
            self.log_level = v;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=60).contains(&self.cache.max_age_secs) {
            return Err(ConfigError(format!(
                "cache.max_age_secs is {}; it must be between 1 and 60",
                self.cache.max_age_secs
            )));
        }
        if self.cache.refresh_interval_ms == 0
            || self.cache.refresh_interval_ms > self.cache.max_age_secs * 1000 / 2
        {
            return Err(ConfigError(
                "cache.refresh_interval_ms must be above 0 and at most half of max_age_secs".into(),
            ));
        }
        if self.rotation_period_days == 0 {
            return Err(ConfigError(
                "rotation_period_days must be at least 1".into(),
            ));
        }
        self.webhooks.validate()?;
        self.leaks.validate()?;
        let catalog = self.catalog()?;
        for route in &self.routes {
            if !route.prefix.starts_with('/') {
                return Err(ConfigError(format!(
                    "route prefix '{}' must start with '/'",
                    route.prefix
                )));
            }
            if catalog.product_index(&route.product).is_none() {
                return Err(ConfigError(format!(
                    "route '{}' names product '{}', which is not in the catalog",
                    route.prefix, route.product
                )));
            }
        }
        Ok(())
    }

    /// The product catalog.
    pub fn catalog(&self) -> Result<Catalog, ConfigError> {
        match &self.products {
            None => Ok(Catalog::default()),
            Some(products) => {
                Catalog::new(products.clone()).map_err(|e| ConfigError(format!("products: {e}")))
            }
        }
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("keywarden.db").display()))
    }

    /// Where a generated secret is kept.
    pub fn secret_file(&self) -> PathBuf {
        self.secret_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret"))
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_variable_list_is_what_load_reads() {
        let source = include_str!("config.rs");
        let read: std::collections::BTreeSet<&str> = source
            .split("env(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| name.starts_with("KEYWARDEN_"))
            .collect();
        let listed: std::collections::BTreeSet<&str> = super::VARIABLES
            .iter()
            .copied()
            .filter(|n| *n != "KEYWARDEN_CONFIG")
            .collect();
        assert!(read.len() >= 15, "{read:?}");
        assert_eq!(read, listed);
    }

    #[test]
    fn unknown_variables_are_named_and_test_variables_ignored() {
        assert!(super::unknown_variables(["KEYWARDEN_LISTEN", "PATH"].into_iter()).is_ok());
        assert!(super::unknown_variables(["KEYWARDEN_TEST_POSTGRES_URL"].into_iter()).is_ok());
        let err = super::unknown_variables(["KEYWARDEN_LISTN", "HOME"].into_iter())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown environment variable KEYWARDEN_LISTN"),
            "{err}"
        );
        assert!(err.contains("KEYWARDEN_LISTEN"), "{err}");
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_listen_on_loopback_with_sqlite_in_the_data_dir() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://keywarden-data/keywarden.db");
        assert_eq!(c.catalog().unwrap(), Catalog::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nrotation_period_days = 30\n[[products]]\nid = \"crm\"\nname = \"CRM\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), env(&[("KEYWARDEN_LISTEN", "0.0.0.0:9100")])).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9100");
        assert_eq!(c.rotation_period_days, 30);
        assert_eq!(c.catalog().unwrap().products()[0].id, "crm");
    }

    #[test]
    fn unknown_keys_and_unreadable_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "listne = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
        let missing = dir.path().join("missing.toml");
        assert!(Config::load(Some(&missing), env(&[])).is_err());
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load(None, env(&[("KEYWARDEN_CACHE_MAX_AGE_SECS", "600")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_age_secs"), "{err}");
        let err = Config::load(None, env(&[("KEYWARDEN_ROUTES", "/x/=nope")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn webhook_settings_read_from_file_and_environment_and_are_checked() {
        let c = Config::load(None, env(&[])).unwrap();
        assert!(!c.webhooks.allow_private_targets);
        assert_eq!(c.webhooks.poll_interval_ms, 250);
        let c = Config::load(
            None,
            env(&[("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]),
        )
        .unwrap();
        assert!(c.webhooks.allow_private_targets);
        let c = Config::from_toml(
            "[webhooks]\nallow_private_targets = true\npoll_interval_ms = 50\nmax_concurrent_deliveries = 4\n",
        )
        .unwrap();
        assert!(c.webhooks.allow_private_targets);
        assert_eq!(c.webhooks.max_concurrent_deliveries, 4);
        for bad in [
            "[webhooks]\nlease_secs = 5\n",
            "[webhooks]\nmax_concurrent_deliveries = 0\n",
            "[webhooks]\npoll_interval_ms = 0\n",
            "[webhooks]\nreminder_interval_secs = 0\n",
            "[webhooks]\nallow_private = true\n",
        ] {
            let err = Config::from_toml(bad).unwrap_err().to_string();
            assert!(
                err.contains("webhooks") || err.contains("allow_private"),
                "{err}"
            );
        }
        let err = Config::load(
            None,
            env(&[("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "sure")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS"),
            "{err}"
        );
    }

    #[test]
    fn leak_settings_read_from_file_and_environment_and_are_checked() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.leaks, LeaksConfig::default());
        let c = Config::from_toml(
            "[leaks]\ngithub_public_keys_url = \"https://api.github.com/meta/public_keys/secret_scanning\"\n",
        )
        .unwrap();
        assert!(c.leaks.github_public_keys_url.is_some());
        let c = Config::load(
            None,
            env(&[(
                "KEYWARDEN_LEAKS_GITHUB_PUBLIC_KEYS_FILE",
                "/etc/keywarden/github.json",
            )]),
        )
        .unwrap();
        assert_eq!(
            c.leaks.github_public_keys_file.as_deref(),
            Some(Path::new("/etc/keywarden/github.json"))
        );
        for bad in [
            "[leaks]\ngithub_public_keys_file = \"a.json\"\ngithub_public_keys_url = \"https://x.test/k\"\n",
            "[leaks]\ngithub_public_keys_url = \"file:///etc/keys.json\"\n",
            "[leaks]\ngithub_public_keys_url = \"api.github.com/meta\"\n",
            "[leaks]\ngithub_keys = \"x\"\n",
        ] {
            let err = Config::from_toml(bad).unwrap_err().to_string();
            assert!(
                err.contains("leaks") || err.contains("github_keys"),
                "{err}"
            );
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Config::load(
            None,
            env(&[("KEYWARDEN_SECRET", "hunter2-hunter2-hunter2-hunter2-x")]),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
