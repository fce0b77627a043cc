//! `sendwell queue list|show|delete|retry`: look into the queue and change it, while
//! the server runs or not.
//!
//! The queue is opened for administration (`FileStore::open_for_admin`): reading
//! needs no lock; a change is written to the message's state file under the state
//! lock, and a running server applies it within two seconds.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use sendwell_queue::{DeliveryStatus, Destination, FileStore, QueueId, QueueStore, QueuedMessage};

use super::init::DirArgs;
use crate::output;

/// `sendwell queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: QueueCommand,
}

/// What to do with the queue.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Every message waiting for delivery.
    List(ListArgs),
    /// One message: envelope, each recipient's state, and the message itself.
    Show(ShowArgs),
    /// Remove messages without delivering them.
    Delete(IdsArgs),
    /// Make messages due for delivery now.
    Retry(IdsArgs),
}

/// `sendwell queue list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print JSON: a list of messages (see `show --json`).
    #[arg(long)]
    pub json: bool,
}

/// `sendwell queue show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The queue id (16 hexadecimal digits, as in the 250 reply and the logs).
    pub id: QueueId,
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print JSON: {"id", "sender", "received_at", "size", "recipients": [{"address",
    /// "status", "attempts", "last_reply", "next_attempt"}], "message"}.
    #[arg(long)]
    pub json: bool,
}

/// `sendwell queue delete|retry`.
#[derive(Debug, Args)]
pub struct IdsArgs {
    /// Queue ids.
    #[arg(required = true)]
    pub ids: Vec<QueueId>,
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print JSON: {"done": [...], "not_found": [...]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct RecipientOut {
    address: String,
    original: Option<String>,
    destination: String,
    status: DeliveryStatus,
    attempts: u32,
    last_reply: Option<String>,
    next_attempt: Option<u64>,
}

#[derive(Serialize)]
struct MessageOut {
    id: String,
    sender: String,
    received_at: u64,
    client_ip: Option<String>,
    auth_user: Option<String>,
    size: u64,
    recipients: Vec<RecipientOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn to_out(m: &QueuedMessage, message: Option<String>) -> MessageOut {
    MessageOut {
        id: m.envelope.id.to_string(),
        sender: m.envelope.sender.clone(),
        received_at: m.envelope.received_at,
        client_ip: m.envelope.client_ip.map(|i| i.to_string()),
        auth_user: m.envelope.auth_user.clone(),
        size: m.size,
        recipients: m
            .envelope
            .recipients
            .iter()
            .zip(&m.state.recipients)
            .map(|(r, s)| RecipientOut {
                address: r.address.clone(),
                original: r.original.clone(),
                destination: match &r.destination {
                    Destination::Mailbox(_) => "mailbox".into(),
                    Destination::Remote => "remote".into(),
                },
                status: s.status,
                attempts: s.attempts,
                last_reply: s.last_reply.clone(),
                next_attempt: s.next_attempt,
            })
            .collect(),
        message,
    }
}

fn open(args: &DirArgs) -> anyhow::Result<FileStore> {
    let (store, _) = FileStore::open_for_admin(&args.dir.join("queue"))
        .with_context(|| format!("open the queue in {}", args.dir.display()))?;
    Ok(store)
}

fn age(since: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(since);
    let s = now.saturating_sub(since);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn status(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Queued => "queued",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

pub async fn run(args: QueueArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.command {
        QueueCommand::List(a) => {
            let store = open(&a.dir)?;
            let list = store.list().await?;
            if a.json {
                let out: Vec<MessageOut> = list.iter().map(|m| to_out(m, None)).collect();
                output::print_json(&out)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|m| {
                        let queued = m
                            .state
                            .recipients
                            .iter()
                            .filter(|r| r.status == DeliveryStatus::Queued)
                            .count();
                        vec![
                            m.envelope.id.to_string(),
                            age(m.envelope.received_at),
                            m.size.to_string(),
                            format!("<{}>", m.envelope.sender),
                            format!("{queued}/{}", m.envelope.recipients.len()),
                            m.envelope
                                .recipients
                                .first()
                                .map(|r| r.address.clone())
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    output::table(
                        &["ID", "AGE", "SIZE", "SENDER", "QUEUED", "FIRST RECIPIENT"],
                        &rows
                    )
                );
                eprintln!("{} message(s)", list.len());
            }
        }
        QueueCommand::Show(a) => {
            let store = open(&a.dir)?;
            let m = store
                .get(a.id)
                .await?
                .with_context(|| format!("no message {} in the queue", a.id))?;
            let data = store.read_data(a.id).await?;
            let text = String::from_utf8_lossy(&data).into_owned();
            if a.json {
                output::print_json(&to_out(&m, Some(text)))?;
            } else {
                let o = to_out(&m, None);
                println!("id:          {}", o.id);
                println!("sender:      <{}>", o.sender);
                println!("received:    {} ago", age(o.received_at));
                if let Some(ip) = &o.client_ip {
                    println!("client:      {ip}");
                }
                if let Some(u) = &o.auth_user {
                    println!("user:        {u}");
                }
                println!("size:        {}", o.size);
                let rows: Vec<Vec<String>> = o
                    .recipients
                    .iter()
                    .map(|r| {
                        vec![
                            r.address.clone(),
                            r.destination.clone(),
                            status(r.status).into(),
                            r.attempts.to_string(),
                            r.next_attempt.map(|t| t.to_string()).unwrap_or("-".into()),
                            r.last_reply.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                println!();
                print!(
                    "{}",
                    output::table(
                        &[
                            "RECIPIENT",
                            "TO",
                            "STATUS",
                            "ATTEMPTS",
                            "NEXT",
                            "LAST REPLY"
                        ],
                        &rows
                    )
                );
                println!("\n{text}");
            }
        }
        QueueCommand::Delete(a) => change(a, true).await?,
        QueueCommand::Retry(a) => change(a, false).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Changed {
    done: Vec<String>,
    not_found: Vec<String>,
}

async fn change(a: IdsArgs, delete: bool) -> anyhow::Result<()> {
    let store = open(&a.dir)?;
    let mut out = Changed {
        done: Vec::new(),
        not_found: Vec::new(),
    };
    for id in &a.ids {
        let found = if delete {
            store.delete(*id).await?
        } else {
            store.retry_now(*id).await?
        };
        if found {
            out.done.push(id.to_string());
        } else {
            out.not_found.push(id.to_string());
        }
    }
    if a.json {
        output::print_json(&out)?;
    } else {
        let verb = if delete { "deleted" } else { "due now" };
        for id in &out.done {
            println!("{id} {verb}");
        }
        for id in &out.not_found {
            eprintln!("{id}: not in the queue");
        }
    }
    if !out.not_found.is_empty() {
        anyhow::bail!("{} id(s) not in the queue", out.not_found.len());
    }
    Ok(())
}
