//! `sendwell user add|passwd|del|list`: the accounts in `DIR/users.toml`.
//!
//! Passwords are stored only as argon2id hashes. With `--password-stdin` the password
//! is the first line of standard input; without it, a random one is generated and
//! printed once. A running server picks up changes without a restart.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use sendwell_config::{User, Users};

use super::init::DirArgs;
use crate::output;

/// `sendwell user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

/// What to do with an account.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account that may submit mail (log in with its address).
    Add(AddArgs),
    /// Set a new password.
    Passwd(PasswdArgs),
    /// Remove an account.
    Del(DelArgs),
    /// List the accounts.
    List(ListArgs),
}

/// `sendwell user add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The account's address (its login name), e.g. alice@example.com.
    pub address: String,
    /// Another address or a whole domain the user may send from (repeatable). Their
    /// own address is always allowed.
    #[arg(long, value_name = "ADDRESS|DOMAIN")]
    pub may_send_from: Vec<String>,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// `sendwell user passwd`.
#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// The account's address.
    pub address: String,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// `sendwell user del`.
#[derive(Debug, Args)]
pub struct DelArgs {
    /// The account's address.
    pub address: String,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// `sendwell user list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print JSON: a list of {"address", "may_send_from"}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: UserArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.command {
        UserCommand::Add(a) => add(a),
        UserCommand::Passwd(a) => passwd(a),
        UserCommand::Del(a) => del(a),
        UserCommand::List(a) => list(a),
    }?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The password: from stdin, or generated (and printed once).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("read the password from standard input")?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        if p.is_empty() {
            bail!("the password on standard input is empty");
        }
        return Ok((p, false));
    }
    // 18 random bytes as base64: 24 characters, 144 bits.
    let mut r = [0u8; 18];
    getrandom_fill(&mut r)?;
    Ok((
        sendwell_smtp::sasl::encode(&r).replace(['+', '/'], "x"),
        true,
    ))
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("read /dev/urandom")
}

fn check_address(address: &str) -> anyhow::Result<()> {
    let m = sendwell_smtp::Mailbox::parse(address)
        .with_context(|| format!("{address:?} is not a mail address"))?;
    if m.domain_name().is_none() {
        bail!("{address:?}: use a domain name, not an address literal");
    }
    Ok(())
}

fn add(a: AddArgs) -> anyhow::Result<()> {
    check_address(&a.address)?;
    let dir = &a.dir.dir;
    let mut users = Users::load(dir)?;
    if users.find(&a.address).is_some() {
        bail!("{} already exists (use `sendwell user passwd`)", a.address);
    }
    if let Ok(config) = sendwell_config::Config::load(dir) {
        let domain = a
            .address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        if !config
            .domains
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(domain))
        {
            eprintln!("note: {domain} is not one of this server's domains");
        }
    }
    let (pw, generated) = password(a.password_stdin)?;
    let hash = sendwell_smtp_server::auth::hash_password(&pw).map_err(anyhow::Error::msg)?;
    users.users.push(User {
        address: a.address.to_ascii_lowercase(),
        password_hash: hash,
        may_send_from: a.may_send_from,
    });
    users.save(dir)?;
    if generated {
        show_password(&pw)?;
        eprintln!(
            "Added {}; its password is above (shown only once).",
            a.address
        );
    } else {
        eprintln!("Added {}.", a.address);
    }
    Ok(())
}

/// Print a generated password. Not being able to is a failure, a closed pipe too: the
/// password is shown nowhere else.
fn show_password(pw: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{pw}")
        .and_then(|()| out.flush())
        // A message, not the io::Error: main treats a broken pipe as success.
        .map_err(|e| {
            anyhow::anyhow!(
                "could not print the generated password ({e}); set one with `sendwell user passwd`"
            )
        })
}

fn passwd(a: PasswdArgs) -> anyhow::Result<()> {
    let dir = &a.dir.dir;
    let mut users = Users::load(dir)?;
    let (pw, generated) = password(a.password_stdin)?;
    let hash = sendwell_smtp_server::auth::hash_password(&pw).map_err(anyhow::Error::msg)?;
    let Some(u) = users
        .users
        .iter_mut()
        .find(|u| u.address.eq_ignore_ascii_case(&a.address))
    else {
        bail!("no account {}", a.address);
    };
    u.password_hash = hash;
    users.save(dir)?;
    if generated {
        show_password(&pw)?;
        eprintln!("New password for {} above (shown only once).", a.address);
    } else {
        eprintln!("Password of {} changed.", a.address);
    }
    Ok(())
}

fn del(a: DelArgs) -> anyhow::Result<()> {
    let dir = &a.dir.dir;
    let mut users = Users::load(dir)?;
    let before = users.users.len();
    users
        .users
        .retain(|u| !u.address.eq_ignore_ascii_case(&a.address));
    if users.users.len() == before {
        bail!("no account {}", a.address);
    }
    users.save(dir)?;
    eprintln!("Removed {}.", a.address);
    Ok(())
}

#[derive(Serialize)]
struct Listed<'a> {
    address: &'a str,
    may_send_from: &'a [String],
}

fn list(a: ListArgs) -> anyhow::Result<()> {
    let users = Users::load(&a.dir.dir)?;
    let listed: Vec<Listed<'_>> = users
        .users
        .iter()
        .map(|u| Listed {
            address: &u.address,
            may_send_from: &u.may_send_from,
        })
        .collect();
    if a.json {
        return output::print_json(&listed);
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|u| vec![u.address.to_string(), u.may_send_from.join(", ")])
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}",
        output::table(&["ADDRESS", "MAY ALSO SEND FROM"], &rows)
    )?;
    out.flush()?;
    Ok(())
}
