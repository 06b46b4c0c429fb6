//! Command-line syntax (SPEC §6).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Keywarden: a self-hostable API key service.
#[derive(Debug, Parser)]
#[command(name = "keywarden", version, about)]
pub struct Cli {
    /// TOML configuration file; KEYWARDEN_* environment variables override it.
    #[arg(long, global = true, env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: a SQLite file in
    /// ./keywarden-data/). Overrides KEYWARDEN_DATABASE_URL; serve and admin take it alike.
    #[arg(long = "database-url", alias = "db", global = true)]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and the console.
    Serve(ServeArgs),
    /// Operator commands.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `keywarden serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address: an IP address and a port, e.g. 127.0.0.1:8080 (the default) or
    /// 0.0.0.0:8080.
    #[arg(long, value_parser = listen_address)]
    pub listen: Option<SocketAddr>,
}

/// `--listen`, with an example of the right form when it is wrong.
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("{e}; {}", keywarden_server::config::LISTEN_EXAMPLE))
}

/// `keywarden admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account with its first admin; prints its ids and standard keys (once).
    CreateAccount {
        /// Account name.
        #[arg(long)]
        name: String,
        /// Email of the first admin.
        #[arg(long)]
        email: String,
        /// Read the admin's password (at least 12 characters) from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Do not issue the standard keys now (issue them later with init-keys).
        #[arg(long)]
        without_keys: bool,
    },
    /// Issue the standard test and live keys of an account that has none.
    InitKeys {
        /// Account id.
        #[arg(long)]
        account: String,
    },
    /// Add a user to an account.
    AddUser {
        /// Account id.
        #[arg(long)]
        account: String,
        /// Email.
        #[arg(long)]
        email: String,
        /// Role in the account.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password (at least 12 characters) from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// `--role`
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Manages keys, users and policy.
    Admin,
    /// Manages keys.
    Developer,
    /// Signs in; sees no keys.
    Member,
}
