//! One SMTP session: the state of a conversation with one client, and the loop that
//! reads a command, runs it and answers (RFC 5321 §4.1.4 "Order of Commands").
//!
//! One file per command group: [`greeting`] (EHLO, HELO), [`transaction`] (MAIL,
//! RCPT, RSET), [`data`] (DATA, BDAT and storing the message), [`auth`] (AUTH),
//! [`starttls`] (STARTTLS), [`misc`] (NOOP, HELP, VRFY, EXPN, QUIT).
//!
//! Limits live here: the command-line length (500 5.5.2), the errors per session and
//! the commands without a transaction (421 4.7.0 and close), the wait for a command
//! (RFC 5321 §4.5.3.2.7, 421 4.4.2) and the length of the whole session.
//!
//! Writing is bounded like reading: every flush of replies must finish within the
//! command timeout and the session's deadline, and the final flush and close within
//! [`CLOSE_LIMIT`]. A client that stops reading (its replies pile up until the
//! socket's send buffer is full) so loses its connection, and its place in the
//! connection limits, like one that stops writing.

mod auth;
mod data;
mod greeting;
mod misc;
mod starttls;
mod transaction;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use sendwell_config::User;
use sendwell_queue::{QueueId, QueueStore, Recipient};
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{
    Command, CommandError, DataReader, MailParameters, PathError, Reply, ReplyCode as C,
    ReversePath,
};

use crate::Context;
use crate::listener::ListenerKind;
use crate::memory::MessageBuffer;
use crate::wire::{Line, Wire};

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection.
    Close,
}

/// The mail transaction between MAIL and the end of the data (RFC 5321 §3.3).
pub(crate) struct Transaction {
    pub id: QueueId,
    pub sender: ReversePath,
    pub params: MailParameters,
    /// Accepted recipients, aliases expanded.
    pub recipients: Vec<Recipient>,
    /// The RCPT addresses accepted, as given (for logs and the limit).
    pub given: Vec<String>,
    /// A BDAT transfer in progress (RFC 3030): the reader and the data so far.
    pub bdat: Option<(DataReader, MessageBuffer)>,
    /// When the message data began (the 354, or the first BDAT) and the octets read
    /// since: the average rate `limits.min_data_rate` is about.
    pub data_since: Option<(Instant, u64)>,
}

/// One client's session.
pub struct Session<S> {
    pub(crate) ctx: Arc<Context<S>>,
    pub(crate) kind: ListenerKind,
    pub(crate) ip: IpAddr,
    pub(crate) wire: Wire,
    /// The EHLO/HELO argument, once given.
    pub(crate) helo: Option<String>,
    /// EHLO rather than HELO.
    pub(crate) esmtp: bool,
    /// TLS version and cipher, once TLS is up.
    pub(crate) tls: Option<String>,
    /// The authenticated account.
    pub(crate) user: Option<User>,
    pub(crate) tx: Option<Transaction>,
    errors: u32,
    idle_commands: u32,
    deadline: Instant,
    /// The last timeout was the data rate's (`limits.min_data_rate`), not a silence.
    too_slow: bool,
}

/// The longest the final flush and close of a session may take (capped further by
/// the command timeout). RFC 5321 gives no figure; a client that does not take its
/// last reply within seconds does not get it.
pub const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Why reading or writing failed.
pub(crate) enum WireError {
    /// No input, or no room for output, within the timeout (or the session's time is
    /// up).
    Timeout,
    /// The connection failed or closed.
    Closed,
}

impl<S: QueueStore + Clone> Session<S> {
    /// A session on an accepted (and, for submissions, TLS-wrapped) connection.
    pub fn new(ctx: Arc<Context<S>>, kind: ListenerKind, ip: IpAddr, wire: Wire) -> Self {
        let deadline = Instant::now() + Duration::from_secs(ctx.config.limits.session_timeout_secs);
        let tls = wire.conn().tls_info();
        Session {
            ctx,
            kind,
            ip,
            wire,
            helo: None,
            esmtp: false,
            tls,
            user: None,
            tx: None,
            errors: 0,
            idle_commands: 0,
            deadline,
            too_slow: false,
        }
    }

    /// Greet, then run commands until QUIT, a limit, a timeout or the client leaves.
    pub async fn run(&mut self) {
        tracing::debug!(listener = self.kind.name(), client = %self.ip, tls = self.tls.is_some(), "session start");
        // RFC 5321 §4.2: the greeting carries no enhanced code (RFC 2034 §3).
        let greeting = Reply::plain(
            C::C220_SERVICE_READY,
            format!("{} ESMTP Sendwell", self.ctx.hostname),
        );
        self.wire.send(&greeting);
        loop {
            let max = self.ctx.config.limits.max_command_line;
            let line = match self.read_line(max, self.command_timeout()).await {
                Ok(Line::Line(l)) => l,
                Ok(Line::TooLong) => {
                    // RFC 5321 §4.5.3.1.4 and §4.2.4: "500 Line too long".
                    self.refuse(Reply::new(
                        C::C500_SYNTAX_ERROR,
                        E::S5_5_2_SYNTAX_ERROR,
                        format!("Line too long (at most {max} octets)"),
                    ));
                    if self.over_limits() == Flow::Close {
                        break;
                    }
                    continue;
                }
                Ok(Line::Eof) | Err(WireError::Closed) => break,
                Err(WireError::Timeout) => {
                    self.timeout_reply();
                    break;
                }
            };
            if self.dispatch(&line).await == Flow::Close || self.over_limits() == Flow::Close {
                break;
            }
        }
        if let Some(tx) = self.tx.take() {
            tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                outcome = "abandoned", "transaction ended without data");
        }
        self.wire
            .shutdown(CLOSE_LIMIT.min(self.command_timeout()))
            .await;
        tracing::debug!(listener = self.kind.name(), client = %self.ip, "session end");
    }

    fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.ctx.config.limits.command_timeout_secs)
    }

    fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.ctx.config.limits.data_timeout_secs)
    }

    /// `timeout` from now, but no later than the session's deadline.
    fn until(&self, timeout: Duration) -> Instant {
        (Instant::now() + timeout).min(self.deadline)
    }

    /// Read a line within `timeout` and the session's deadline.
    pub(crate) async fn read_line(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Line, WireError> {
        let until = self.until(timeout);
        match tokio::time::timeout_at(until, self.wire.read_line(max)).await {
            Ok(Ok(l)) => Ok(l),
            Ok(Err(_)) => Err(WireError::Closed),
            Err(_) => Err(WireError::Timeout),
        }
    }

    /// Read more message data within the data timeout, the session's deadline and
    /// the data rate's (see [`Session::rate_deadline`]); `Ok(0)` at end of file.
    pub(crate) async fn fill(&mut self) -> Result<usize, WireError> {
        let silence = self.until(self.data_timeout());
        let rate = self.rate_deadline();
        let until = rate.map_or(silence, |r| r.min(silence));
        match tokio::time::timeout_at(until, self.wire.fill()).await {
            Ok(Ok(n)) => {
                if let Some((_, received)) = self.tx.as_mut().and_then(|t| t.data_since.as_mut()) {
                    *received += n as u64;
                }
                Ok(n)
            }
            Ok(Err(_)) => Err(WireError::Closed),
            Err(_) => {
                self.too_slow = rate.is_some_and(|r| r < silence);
                Err(WireError::Timeout)
            }
        }
    }

    /// The moment the message data falls below `limits.min_data_rate` unless more
    /// arrives: `received` octets since `start` pay for `received / rate` seconds,
    /// and the first `data_rate_grace_secs` are free. `None` when the check is off
    /// or no data is being received.
    fn rate_deadline(&self) -> Option<Instant> {
        let limits = &self.ctx.config.limits;
        let (start, received) = self.tx.as_ref()?.data_since?;
        if limits.min_data_rate == 0 {
            return None;
        }
        let paid = Duration::from_secs_f64(received as f64 / limits.min_data_rate as f64);
        Some(start + paid.max(Duration::from_secs(limits.data_rate_grace_secs)))
    }

    /// Send the queued replies now, within the command timeout and the session's
    /// deadline. On failure the session must end (`Flow::Close`).
    pub(crate) async fn flush(&mut self) -> Result<(), WireError> {
        // RFC 5321 §4.5.3.2: the server's timeouts bound the wait for the client; a
        // client that takes no replies is waited for no longer than one that sends no
        // commands.
        let until = self.until(self.command_timeout());
        match tokio::time::timeout_at(until, self.wire.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(WireError::Closed),
            Err(_) => {
                self.timeout_reply();
                Err(WireError::Timeout)
            }
        }
    }

    /// Answer a timeout (RFC 5321 §4.5.3.2: the server may close after its timeout;
    /// 421 first), unless the timeout was on writing: a client that reads nothing gets
    /// nothing more.
    pub(crate) fn timeout_reply(&mut self) {
        if self.wire.write_unfinished() {
            tracing::info!(client = %self.ip, "Client not reading replies; closing");
            return;
        }
        let slow;
        let why = if std::mem::take(&mut self.too_slow) {
            // A drip-feeding client would otherwise hold its connection (and its
            // place in the limits) for the whole session.
            slow = format!(
                "Message data too slow (under {} octets per second)",
                self.ctx.config.limits.min_data_rate
            );
            slow.as_str()
        } else if Instant::now() >= self.deadline {
            "Session time limit reached"
        } else {
            "Timeout waiting for input"
        };
        tracing::info!(client = %self.ip, "{why}; closing");
        self.wire.send(&Reply::new(
            C::C421_SERVICE_NOT_AVAILABLE,
            E::S4_4_2_BAD_CONNECTION,
            format!("{} {why}, closing connection", self.ctx.hostname),
        ));
    }

    /// Send a positive or intermediate reply.
    pub(crate) fn reply(&mut self, reply: Reply) {
        self.wire.send(&reply);
    }

    /// Send a refusal (4yz/5yz): it counts against the error limit.
    pub(crate) fn refuse(&mut self, reply: Reply) {
        self.errors += 1;
        self.wire.send(&reply);
    }

    /// Count a command that is not part of a transaction (NOOP, RSET, EHLO...).
    pub(crate) fn idle(&mut self) {
        self.idle_commands += 1;
    }

    /// A transaction began: commands without one start counting again.
    pub(crate) fn active(&mut self) {
        self.idle_commands = 0;
    }

    /// Close with 421 when a per-session limit is passed.
    fn over_limits(&mut self) -> Flow {
        let limits = &self.ctx.config.limits;
        if self.errors < limits.max_errors {
            return Flow::Continue;
        }
        self.close_with("Too many errors")
    }

    /// Answer 421 4.7.0 with a reason, and close.
    fn close_with(&mut self, why: &str) -> Flow {
        tracing::info!(client = %self.ip, errors = self.errors, idle_commands = self.idle_commands, "{why}; closing");
        self.wire.send(&Reply::new(
            C::C421_SERVICE_NOT_AVAILABLE,
            E::S4_7_0_SECURITY,
            format!("{} {why}, closing connection", self.ctx.hostname),
        ));
        Flow::Close
    }

    async fn dispatch(&mut self, line: &[u8]) -> Flow {
        let cmd = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                self.command_error(e);
                return Flow::Continue;
            }
        };
        // Commands outside a transaction are limited (address harvesting, idling):
        // one over the limit is not run.
        let idle = matches!(
            cmd,
            Command::Ehlo(_)
                | Command::Helo(_)
                | Command::Noop(_)
                | Command::Help(_)
                | Command::Vrfy(_)
                | Command::Expn(_)
                | Command::Rset
        );
        if idle && self.idle_commands >= self.ctx.config.limits.max_commands_without_mail {
            return self.close_with("Too many commands without a mail transaction");
        }
        // RFC 3030 §2: during a BDAT transfer only BDAT, RSET and QUIT make sense.
        if self.tx.as_ref().is_some_and(|t| t.bdat.is_some())
            && !matches!(
                cmd,
                Command::Bdat { .. } | Command::Rset | Command::Quit | Command::Noop(_)
            )
        {
            self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "Finish the BDAT transfer (BDAT ... LAST) or RSET first",
            ));
            return Flow::Continue;
        }
        match cmd {
            Command::Ehlo(d) => self.ehlo(d, true),
            Command::Helo(d) => self.ehlo(d, false),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, .. } => self.rcpt(to),
            Command::Rset => self.rset(),
            Command::Data => return self.data().await,
            Command::Bdat { size, last } => return self.bdat(size, last).await,
            Command::StartTls => return self.starttls().await,
            Command::Auth {
                mechanism,
                initial_response,
            } => return self.auth(mechanism, initial_response).await,
            Command::Noop(_) => self.noop(),
            Command::Help(_) => self.help(),
            Command::Vrfy(_) => self.vrfy(),
            Command::Expn(_) => self.expn(),
            Command::Quit => return self.quit(),
        }
        Flow::Continue
    }

    fn command_error(&mut self, e: CommandError) {
        if e.verb() == Some("RCPT") && self.tx.is_none() {
            // RFC 5321 §4.1.4 and §3.3: RCPT requires a prior MAIL; the sequence is
            // judged before the arguments, so a bad path before MAIL is still 503.
            self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "Need MAIL before RCPT",
            ));
            return;
        }
        // A recipient without a domain is one of the relay tricks (`<user>`,
        // `<host!user>`): answered as relaying refused, like the others.
        if let CommandError::Path {
            verb: "RCPT",
            error: PathError::Unqualified,
        } = e
        {
            tracing::info!(client = %self.ip, outcome = "recipient refused", reason = "unqualified", "relay attempt");
            self.refuse(Reply::new(
                C::C554_TRANSACTION_FAILED,
                E::S5_7_1_DELIVERY_NOT_AUTHORIZED,
                "Relay access denied: unqualified recipient address",
            ));
            return;
        }
        tracing::debug!(client = %self.ip, error = %e, "command refused");
        self.refuse(e.reply());
    }

    /// True once AUTH succeeded in this session (since the last STARTTLS).
    pub(crate) fn authenticated(&self) -> bool {
        self.user.is_some()
    }
}
