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
    /// Find Keywarden API keys in files, directories, standard input or git history.
    ///
    /// A finding has a key's shape and a valid checksum, so random text gives no false
    /// positives. Each is printed as PATH:LINE:COLUMN: KIND_MODE key HINT (the first 12 and
    /// last 4 characters, never the whole key). Exit status: 0 nothing found, 1 keys found,
    /// 2 an error (a path that cannot be read, git missing); errors are reported on standard
    /// error and the scan goes on.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
}

const SCAN_EXAMPLES: &str = "Examples:
  keywarden scan                             every file under the current directory
  keywarden scan --git .                     every commit of the repository's history
  kubectl logs deploy/api | keywarden scan -  standard input
  keywarden scan --format sarif > keywarden.sarif";

/// `keywarden scan`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan (directories recursively, skipping .git and symbolic
    /// links inside them); - reads standard input. With --git, the repositories whose
    /// history to read. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<std::ffi::OsString>,
    /// Read every commit reachable from any branch, tag or other ref of the repository (with
    /// the git program) instead of the files on disk; each finding names the commit that
    /// added the key to its file.
    #[arg(long)]
    pub git: bool,
    /// Output: text (one line per finding), json, or sarif (SARIF 2.1.0, for code scanning).
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
}

/// `--format` of `keywarden scan`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// PATH:LINE:COLUMN: KIND_MODE key HINT, one line per finding.
    Text,
    /// One JSON object: the findings and what was scanned.
    Json,
    /// SARIF 2.1.0, as GitHub code scanning and other tools read it.
    Sarif,
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
    /// Issue the standard keys an account has no active one of: both for an account created
    /// without them, or one to replace a revoked standard key (after a leak, say).
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
