//! The operator's commands. They print JSON on standard output (secrets included, once, the
//! way the console shows them once) and human messages on standard error.

use crate::cli::{AdminCommand, RoleArg};
use anyhow::{Context, bail};
use keywarden_core::account::Role;
use keywarden_core::audit::Actor;
use keywarden_core::ids::AccountId;
use keywarden_core::password;
use keywarden_core::service::{AccountService, IssuedKey, NewAccount};
use serde_json::{Value, json};
use std::io::{Read, Write};

/// Runs one admin command.
pub async fn run(command: AdminCommand, service: &AccountService) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let output = match command {
        AdminCommand::CreateAccount {
            name,
            email,
            password_stdin: _,
            without_keys,
        } => {
            let hash = hash_password(read_password()?).await?;
            let created = service
                .create_account(
                    NewAccount {
                        name,
                        admin_email: email,
                        admin_password_hash: hash,
                        with_keys: !without_keys,
                    },
                    &actor,
                )
                .await?;
            let mut out = json!({
                "account_id": created.account.id.to_string(),
                "account_name": created.account.name,
                "admin_user_id": created.admin.id.to_string(),
                "admin_email": created.admin.email,
            });
            if let (false, Some(map)) = (created.keys.is_empty(), out.as_object_mut()) {
                map.insert("keys".into(), keys_json(&created.keys));
                note("The standard keys above are shown once. Store them now.");
            }
            out
        }
        AdminCommand::InitKeys { account } => {
            let account = account_id(&account)?;
            let keys = service.init_standard_keys(account, &actor).await?;
            note("The standard keys above are shown once. Store them now.");
            json!({ "account_id": account.to_string(), "keys": keys_json(&keys) })
        }
        AdminCommand::AddUser {
            account,
            email,
            role,
            password_stdin: _,
        } => {
            let account = account_id(&account)?;
            let hash = hash_password(read_password()?).await?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Developer => Role::Developer,
                RoleArg::Member => Role::Member,
            };
            let user = service
                .add_user(account, &email, role, hash, &actor)
                .await?;
            json!({
                "user_id": user.id.to_string(),
                "account_id": user.account_id.to_string(),
                "email": user.email,
                "role": user.role.as_str(),
            })
        }
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &output)?;
    writeln!(stdout)?;
    Ok(())
}

fn keys_json(keys: &[IssuedKey]) -> Value {
    let mut out = serde_json::Map::new();
    for key in keys {
        out.insert(
            key.record.mode.as_str().into(),
            Value::String(key.secret.expose().into()),
        );
    }
    Value::Object(out)
}

fn account_id(text: &str) -> anyhow::Result<AccountId> {
    text.trim()
        .parse()
        .with_context(|| format!("'{text}' is not an account id (a UUID)"))
}

fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from stdin")?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "no password on standard input: pipe it in, e.g. `printf '%s' \"$PASSWORD\" | keywarden admin …`"
        );
    }
    Ok(password.to_owned())
}

/// argon2 takes tens of milliseconds of CPU: off the async runtime.
async fn hash_password(password: String) -> anyhow::Result<String> {
    let hash = tokio::task::spawn_blocking(move || password::hash(&password)).await??;
    Ok(hash)
}

fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
