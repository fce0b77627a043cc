//! An SMTP submission load generator for the relay benchmark (`bench/relay/run.sh`).
//!
//! It plays C mail clients at once against one server: each session connects, says
//! EHLO, starts TLS (RFC 3207), says EHLO again, logs in with AUTH PLAIN (RFC 4954,
//! RFC 4616), submits its share of N messages of a fixed size, and says QUIT.
//!
//! Why not Postfix's `smtp-source`: it cannot log in, and a relay that signs with DKIM
//! must only relay for authenticated users. The same generator drives Sendwell and
//! Postfix + OpenDKIM, so what differs between the two figures is the server.
//!
//! Design decision: one transaction at a time per session, the client waiting for the
//! final reply of each message (the server's durable commit) before the next, as a
//! mail client does. Concurrency comes from sessions, not from deeper pipelining.

pub mod message;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::message::MessageTemplate;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server's submission address.
    pub server: SocketAddr,
    /// The name sent in TLS SNI (the certificate is not checked).
    pub tls_name: String,
    /// The name in EHLO.
    pub helo: String,
    /// AUTH PLAIN user name.
    pub user: String,
    /// AUTH PLAIN password.
    pub password: String,
    /// Sessions at once.
    pub sessions: usize,
    /// Messages in all, shared out between the sessions.
    pub messages: usize,
    /// The messages.
    pub template: MessageTemplate,
    /// The TLS client configuration.
    pub tls: Arc<rustls::ClientConfig>,
}

/// What a run did: the fields of `--json`, stable and snake_case.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The server's address.
    pub server: String,
    /// Sessions at once.
    pub sessions: usize,
    /// Messages to send.
    pub messages: usize,
    /// Octets per message.
    pub size: usize,
    /// Messages the server accepted (2yz after the content).
    pub accepted: usize,
    /// Messages the server refused (4yz/5yz).
    pub rejected: usize,
    /// Messages lost to broken connections or sessions that could not start.
    pub failed: usize,
    /// When the first connection was opened, in seconds since the Unix epoch.
    pub start_unix: f64,
    /// From the first connection to the last final reply.
    pub elapsed_secs: f64,
    /// Accepted messages per second over `elapsed_secs`.
    pub msgs_per_sec: f64,
    /// Median time from MAIL to the final reply of an accepted message.
    pub latency_ms_p50: f64,
    /// 99th percentile of the same.
    pub latency_ms_p99: f64,
    /// The longest of the same (a stalled server shows here first).
    pub latency_ms_max: f64,
    /// The first errors seen (at most five per session, ten in all).
    pub errors: Vec<String>,
}

/// Session `i`'s share of `messages` over `sessions` (the first ones take the rest).
pub fn share(messages: usize, sessions: usize, i: usize) -> usize {
    messages / sessions + usize::from(i < messages % sessions)
}

/// Run the load and report. `sessions` must be at least 1.
pub async fn run(config: LoadConfig) -> Report {
    let config = Arc::new(config);
    let sessions = config.sessions.max(1);
    let start_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let start = Instant::now();
    let tasks: Vec<_> = (0..sessions)
        .map(|i| {
            let count = share(config.messages, sessions, i);
            tokio::spawn(session::run(Arc::clone(&config), i, count))
        })
        .collect();
    let mut accepted = 0;
    let mut rejected = 0;
    let mut failed = 0;
    let mut latencies: Vec<Duration> = Vec::with_capacity(config.messages);
    let mut errors = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(o) => {
                accepted += o.accepted;
                rejected += o.rejected;
                failed += o.failed;
                latencies.extend(o.latencies);
                errors.extend(o.errors.into_iter().map(|e| format!("session {i}: {e}")));
            }
            Err(e) => {
                failed += share(config.messages, sessions, i);
                errors.push(format!("session {i}: {e}"));
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    errors.truncate(10);
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Report {
        server: config.server.to_string(),
        sessions,
        messages: config.messages,
        size: config.template.size,
        accepted,
        rejected,
        failed,
        start_unix,
        elapsed_secs: elapsed,
        msgs_per_sec: if elapsed > 0.0 {
            accepted as f64 / elapsed
        } else {
            0.0
        },
        latency_ms_p50: percentile(0.50),
        latency_ms_p99: percentile(0.99),
        latency_ms_max: percentile(1.0),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for messages in [0, 1, 7, 20, 21, 1000, 1001] {
            for sessions in [1, 2, 3, 20] {
                let all: Vec<usize> = (0..sessions)
                    .map(|i| share(messages, sessions, i))
                    .collect();
                assert_eq!(all.iter().sum::<usize>(), messages);
                let (min, max) = (all.iter().min().unwrap(), all.iter().max().unwrap());
                assert!(max - min <= 1);
            }
        }
    }
}
