//! `keywarden`: the one binary. `serve` runs the API and console; `admin` holds the operator's
//! commands, which go through the same domain services (and audit trail) as the HTTP API;
//! `scan` finds leaked keys in files and git history, with no configuration or database.

mod admin;
mod cli;
mod scan;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command};
use keywarden_core::{OsRandom, SystemClock};
use keywarden_server::config::{Config, LogFormat};
use std::sync::Arc;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

fn main() -> std::process::ExitCode {
    // `scan` reads no configuration: it runs before the .env file is loaded (a repository
    // being scanned often has one, perhaps holding the very keys to find) and needs no
    // runtime. A command line clap refuses is refused here too, with clap's message and exit
    // status 2: the .env file can only fill in `--config`, which is optional.
    match Cli::try_parse() {
        Ok(Cli {
            command: Command::Scan(args),
            ..
        }) => return scan::run(args),
        Ok(_) => {}
        Err(e) => e.exit(),
    }
    // A .env file fills in variables that are not already set; it never overrides them. A
    // missing file is fine; one that cannot be read or parsed is an error, not ignored.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("keywarden: .env: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    if let Err(e) = keywarden_server::config::unknown_variables(names.iter().map(String::as_str)) {
        eprintln!("keywarden: {e}");
        return std::process::ExitCode::FAILURE;
    }
    // `ring` as rustls's process default, before anything connects: a crate that asks for the
    // default instead of naming a provider would otherwise panic.
    keywarden_server::tls::install_default_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keywarden: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keywarden: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(url) = cli.database_url {
        config.database_url = Some(url);
    }
    // An admin command's output is for a person or a pipe: only warnings and errors are logged
    // (on standard error) unless a level was asked for.
    let quiet = matches!(cli.command, Command::Admin(_)) && config.log_level == "info";
    init_logging(&config, quiet);
    let clock = Arc::new(SystemClock);
    let random = Arc::new(OsRandom);
    match cli.command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            let (service, secret) =
                keywarden_server::startup::open_service(&config, clock, random).await?;
            if service.store().account_count().await? == 0 {
                tracing::info!(
                    "no account yet: create one with `keywarden admin create-account --name NAME --email EMAIL --password-stdin`"
                );
            }
            let listen = config.listen;
            let state = keywarden_server::startup::build_state(config, service, &secret).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "keywarden is listening");
            keywarden_server::serve(listener, state, shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Admin(admin) => {
            let (service, _) =
                keywarden_server::startup::open_service(&config, clock, random).await?;
            admin::run(admin, &service).await
        }
        // `main` runs scan before anything async: reaching here would be a bug, not bad input.
        Command::Scan(_) => anyhow::bail!("keywarden scan runs before the configuration is read"),
    }
}

fn init_logging(config: &Config, quiet: bool) {
    let level = if quiet {
        "warn"
    } else {
        config.log_level.as_str()
    };
    // `Targets` takes `info` or `info,keywarden_server=debug`, the forms the configuration
    // documents; `EnvFilter`'s span and field filters would cost a regex engine in the build.
    let (filter, unusable) = match level.parse::<Targets>() {
        Ok(filter) => (filter, None),
        Err(e) => (Targets::new().with_default(LevelFilter::INFO), Some(e)),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // The builder's own ceiling is info: set it to the filter's most verbose level instead, so
    // that a disabled `debug!` on the verify path still stops at the first, static check.
    let ceiling = Layer::<Registry>::max_level_hint(&filter).unwrap_or(LevelFilter::TRACE);
    let builder = tracing_subscriber::fmt()
        .with_max_level(ceiling)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Text => builder.finish().with(filter).try_init(),
        LogFormat::Json => builder.json().finish().with(filter).try_init(),
    };
    if let Some(e) = unusable {
        tracing::warn!(
            log_level = level,
            error = %e,
            "log_level is not a filter (use a level, e.g. info, or info,keywarden_server=debug); logging at info"
        );
    }
}

/// Completes on SIGTERM or Ctrl-C; in-flight requests then finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
