//! `sendwell queue list|show|delete|retry`: look into the queue and change it, while
//! the server runs or not.
//!
//! The queue is opened for administration (`FileStore::open_for_admin`): reading
//! needs no lock; a change is written to the message's state file under the state
//! lock, and a running server applies it within two seconds.

use std::io::Write;
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
    /// "status", "attempts", "last_reply", "remote_reply", "remote_mta", "next_attempt"
    /// (Unix seconds), "next_attempt_at" (RFC 3339)}], "message"}.
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
    /// The reply of a remote server quoted verbatim (the DSN's Diagnostic-Code).
    remote_reply: Option<String>,
    /// The host that gave `remote_reply`.
    remote_mta: Option<String>,
    /// Seconds since the Unix epoch.
    next_attempt: Option<u64>,
    /// `next_attempt` as an RFC 3339 UTC time.
    next_attempt_at: Option<String>,
}

#[derive(Serialize)]
struct MessageOut {
    id: String,
    sender: String,
    received_at: u64,
    client_ip: Option<String>,
    auth_user: Option<String>,
    /// The SRS envelope sender forwarded copies leave with (mail from outside to an
    /// alias that forwards elsewhere).
    forward_sender: Option<String>,
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
        forward_sender: m.envelope.forward_sender.clone(),
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
                remote_reply: s.remote_reply.clone(),
                remote_mta: s.remote_mta.clone(),
                next_attempt: s.next_attempt,
                next_attempt_at: s.next_attempt.map(rfc3339),
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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A span of seconds, roughly: `42s`, `5m`, `3h`, `2d`.
fn span(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn age(since: u64) -> String {
    span(now().saturating_sub(since))
}

/// Seconds since the epoch as an RFC 3339 UTC time.
fn rfc3339(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// When the next attempt is, for people: `in 5m (2026-11-27T14:05:00Z)`, `due now` (a
/// waiting recipient with no time set has not been tried yet, or was retried with
/// `queue retry`), or `-` when there is none (delivered or failed).
fn next_attempt(status: DeliveryStatus, next: Option<u64>, now: u64) -> String {
    match (status, next) {
        (DeliveryStatus::Queued, None) => "due now".into(),
        (DeliveryStatus::Queued, Some(t)) if t <= now => "due now".into(),
        (DeliveryStatus::Queued, Some(t)) => format!("in {} ({})", span(t - now), rfc3339(t)),
        _ => "-".into(),
    }
}

/// The first `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
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
                let now = now();
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|m| {
                        // The recipients still waiting: their attempts, the earliest
                        // next attempt, and the last reply one of them got.
                        let waiting: Vec<_> = m
                            .state
                            .recipients
                            .iter()
                            .filter(|r| r.status == DeliveryStatus::Queued)
                            .collect();
                        let attempts = waiting.iter().map(|r| r.attempts).max().unwrap_or(0);
                        // The earliest: a waiting recipient without a time is due now.
                        let next = waiting.iter().map(|r| r.next_attempt.unwrap_or(0)).min();
                        let reply = waiting
                            .iter()
                            .find_map(|r| r.last_reply.as_deref())
                            .unwrap_or("");
                        vec![
                            m.envelope.id.to_string(),
                            age(m.envelope.received_at),
                            m.size.to_string(),
                            format!("<{}>", m.envelope.sender),
                            format!("{}/{}", waiting.len(), m.envelope.recipients.len()),
                            m.envelope
                                .recipients
                                .first()
                                .map(|r| r.address.clone())
                                .unwrap_or_default(),
                            attempts.to_string(),
                            match next {
                                Some(t) => next_attempt(DeliveryStatus::Queued, Some(t), now),
                                None => "-".into(),
                            },
                            shorten(reply, 60),
                        ]
                    })
                    .collect();
                let mut out = std::io::stdout().lock();
                write!(
                    out,
                    "{}",
                    output::table(
                        &[
                            "ID",
                            "AGE",
                            "SIZE",
                            "SENDER",
                            "QUEUED",
                            "FIRST RECIPIENT",
                            "ATTEMPTS",
                            "NEXT",
                            "LAST REPLY"
                        ],
                        &rows
                    )
                )?;
                out.flush()?;
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
                let mut out = std::io::stdout().lock();
                writeln!(out, "id:          {}", o.id)?;
                writeln!(out, "sender:      <{}>", o.sender)?;
                if let Some(f) = &o.forward_sender {
                    writeln!(out, "forwarded as <{f}> (SRS)")?;
                }
                writeln!(out, "received:    {} ago", age(o.received_at))?;
                if let Some(ip) = &o.client_ip {
                    writeln!(out, "client:      {ip}")?;
                }
                if let Some(u) = &o.auth_user {
                    writeln!(out, "user:        {u}")?;
                }
                writeln!(out, "size:        {}", o.size)?;
                let now = now();
                let rows: Vec<Vec<String>> = o
                    .recipients
                    .iter()
                    .map(|r| {
                        vec![
                            r.address.clone(),
                            r.destination.clone(),
                            status(r.status).into(),
                            r.attempts.to_string(),
                            next_attempt(r.status, r.next_attempt, now),
                            // The server is named only beside its own reply: a later
                            // attempt may have failed without any server answering.
                            match (&r.last_reply, &r.remote_reply, &r.remote_mta) {
                                (Some(last), Some(remote), Some(mta)) if last == remote => {
                                    format!("{last} (from {mta})")
                                }
                                (last, _, _) => last.clone().unwrap_or_default(),
                            },
                        ]
                    })
                    .collect();
                writeln!(out)?;
                write!(
                    out,
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
                )?;
                writeln!(out, "\n{text}")?;
                out.flush()?;
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
        let mut stdout = std::io::stdout().lock();
        for id in &out.done {
            writeln!(stdout, "{id} {verb}")?;
        }
        stdout.flush()?;
        for id in &out.not_found {
            eprintln!("{id}: not in the queue");
        }
    }
    if !out.not_found.is_empty() {
        anyhow::bail!("{} id(s) not in the queue", out.not_found.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_attempts_read_as_times() {
        use DeliveryStatus::*;
        assert_eq!(next_attempt(Queued, None, 1000), "due now");
        assert_eq!(next_attempt(Queued, Some(900), 1000), "due now");
        assert_eq!(next_attempt(Queued, Some(1000), 1000), "due now");
        // 2026-11-27T14:05:00Z is 1795788300.
        assert_eq!(
            next_attempt(Queued, Some(1_795_788_300), 1_795_788_000),
            "in 5m (2026-11-27T14:05:00Z)"
        );
        assert_eq!(next_attempt(Delivered, None, 1000), "-");
        assert_eq!(next_attempt(Failed, Some(2000), 1000), "-");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn long_replies_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("451 4.7.1 later", 60), "451 4.7.1 later");
        assert_eq!(shorten("ééééé", 3), "ééé…");
    }
}
