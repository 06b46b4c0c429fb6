//! Bringing the service up: open the store, find or create the server secret (refusing to
//! start with a secret that would silently invalidate every stored key), build the services,
//! fill the key table.

use crate::background::OnRuntime;
use crate::config::Config;
use crate::password_pool::PasswordPool;
use crate::state::{AppState, Limiters, Shared};
use crate::tokens::TokenIssuer;
use crate::verify::canary_trips::CanaryTrips;
use crate::verify::route_table::RouteTable;
use crate::verify::synced_table::SyncedKeyTable;
use crate::webhooks::WebhookWorker;
use keywarden_core::secret::ServerSecret;
use keywarden_core::service::AccountService;
use keywarden_core::service::sign_in::{SignInLimits, SignIns};
use keywarden_core::store::{Store, StoreError};
use keywarden_core::{Clock, RandomSource};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why the service cannot start; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store cannot be opened or read.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The server secret is missing, unreadable, weak or different.
    #[error("server secret: {0}")]
    Secret(String),
    /// The OpenAPI document could not be built.
    #[error("cannot build the OpenAPI document: {0}")]
    Document(String),
    /// A thread could not be started.
    #[error("cannot start the password workers: {0}")]
    Threads(#[from] std::io::Error),
    /// The webhook delivery client could not be built.
    #[error("cannot build the webhook delivery client: {0}")]
    Webhooks(String),
}

/// Opens the store and the services over it (what both `serve` and `admin` need).
pub async fn open_service(
    config: &Config,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
) -> Result<(AccountService, ServerSecret), StartupError> {
    let store = keywarden_store::open(&config.database_url()).await?;
    let secret = resolve_secret(config, store.as_ref(), random.as_ref()).await?;
    let catalog = Arc::new(config.catalog()?);
    let service = AccountService::new(store, &secret, catalog, clock, random)
        .with_rotation_period(config.rotation_period_days);
    Ok((service, secret))
}

/// Builds the HTTP state and fills the key table from the store.
pub async fn build_state(
    config: Config,
    service: AccountService,
    secret: &ServerSecret,
) -> Result<AppState, StartupError> {
    let keys = Arc::new(
        SyncedKeyTable::new(
            service.hasher().clone(),
            service.catalog().clone(),
            service.store().clone(),
            service.clock().clone(),
            Duration::from_secs(config.cache.max_age_secs),
        )
        .counting_usage(config.usage_counting),
    );
    let loaded = keys.catch_up().await?;
    // The service applies every key change it commits to this table before it returns.
    let service = service.with_key_table(keys.clone());
    tracing::info!(keys = loaded, "key table loaded");
    let tokens = Arc::new(TokenIssuer::new(
        secret,
        service.clock().clone(),
        config.tokens.access_ttl_secs,
        config.tokens.refresh_ttl_secs,
    ));
    let routes = Arc::new(RouteTable::new(&config.routes, service.catalog())?);
    let passwords = Arc::new(PasswordPool::for_this_machine()?);
    let webhooks = Arc::new(
        WebhookWorker::new(
            &config.webhooks,
            service.store().clone(),
            service.clock().clone(),
            service.catalog().clone(),
            service.webhook_seal().clone(),
        )
        .map_err(|e| StartupError::Webhooks(e.to_string()))?,
    );
    let github_keys = Arc::new(
        crate::leaks::github_keys::GitHubKeys::from_config(&config.leaks, service.clock().clone())
            .map_err(|e| StartupError::Config(crate::config::ConfigError(format!("leaks: {e}"))))?,
    );
    let shared_rates = config
        .redis_url
        .as_ref()
        .map(|url| crate::verify::shared_rate::SharedRateLimits::new(&url.0))
        .transpose()
        .map_err(|e| StartupError::Config(crate::config::ConfigError(e)))?;
    // The writer ends when the state (the only sender) is dropped.
    let (canaries, presentations) = CanaryTrips::new();
    tokio::spawn(crate::verify::canary_trips::run(
        service.clone(),
        presentations,
    ));
    Ok(AppState::new(Shared {
        canaries,
        github_keys,
        shared_rates,
        limiters: Arc::new(Limiters::new(&config)),
        metrics: Arc::default(),
        connections: Arc::default(),
        openapi: crate::routes::document(service.catalog())
            .map_err(|e| StartupError::Document(format!("{e:?}")))?,
        sign_ins: SignIns::new(
            SignInLimits::new(
                config.limits.failed_sign_ins_per_client,
                config.limits.failed_sign_ins_per_user,
                config.limits.sign_in_window_secs,
            ),
            passwords.clone(),
            Arc::new(OnRuntime),
        ),
        passwords,
        config: Arc::new(config),
        service,
        keys,
        tokens,
        routes,
        webhooks,
    }))
}

async fn resolve_secret(
    config: &Config,
    store: &dyn Store,
    random: &dyn RandomSource,
) -> Result<ServerSecret, StartupError> {
    let keys = store.key_count().await?;
    let recorded = store.secret_fingerprint().await?;
    let secret = match &config.secret {
        Some(text) => {
            ServerSecret::from_text(&text.0).map_err(|e| StartupError::Secret(e.to_string()))?
        }
        None => secret_from_file(
            &config.secret_file(),
            keys > 0 || recorded.is_some(),
            random,
        )?,
    };
    match recorded {
        Some(fingerprint) if fingerprint != secret.fingerprint() => Err(StartupError::Secret(
            "this is not the secret the stored keys were hashed under, so every key would stop working. \
             Start with the original secret (KEYWARDEN_SECRET or the secret file); Keywarden will not replace it."
                .into(),
        )),
        Some(_) => Ok(secret),
        None if keys > 0 => Err(StartupError::Secret(
            "keys are stored but no secret fingerprint is recorded; refusing to guess which secret they use".into(),
        )),
        None => {
            store.set_secret_fingerprint(&secret.fingerprint()).await?;
            Ok(secret)
        }
    }
}

fn secret_from_file(
    path: &Path,
    keys_exist: bool,
    random: &dyn RandomSource,
) -> Result<ServerSecret, StartupError> {
    let fail = |what: String| StartupError::Secret(what);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_private(path)?;
            ServerSecret::from_text(&text).map_err(|e| fail(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if keys_exist {
                return Err(fail(format!(
                    "keys are stored but the secret file {} is missing. Restore it from your backup or set KEYWARDEN_SECRET; \
                     a new secret would make every stored key stop working.",
                    path.display()
                )));
            }
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            random
                .fill(bytes.as_mut_slice())
                .map_err(|e| fail(e.to_string()))?;
            let text: zeroize::Zeroizing<String> =
                zeroize::Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect());
            write_private(path, text.as_bytes())
                .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), "generated a new server secret (mode 0600); back it up");
            ServerSecret::from_text(&text).map_err(|e| fail(e.to_string()))
        }
        Err(e) => Err(fail(format!("cannot read {}: {e}", path.display()))),
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), StartupError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| StartupError::Secret(format!("{}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StartupError::Secret(format!(
            "{} is readable by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), StartupError> {
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
