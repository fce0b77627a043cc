//! One submission session: connect, EHLO, STARTTLS (RFC 3207), EHLO again, AUTH PLAIN
//! (RFC 4954, RFC 4616), then this session's share of the messages, then QUIT.
//!
//! Each message is one transaction. When the server offers PIPELINING (RFC 2920),
//! MAIL, RCPT and DATA go in one write and their three replies are read after it
//! (RFC 2920 §3.1: DATA ends a group); the content then goes in one write, and the
//! client waits for the final reply before the next transaction, like a mail client
//! does, so every message costs the server one durable commit the client waits for.
//!
//! A broken connection (or a 421) fails the message in flight; the session then
//! connects again and goes on with the rest, up to [`MAX_RECONNECTS`] times in a row.
//! A refused login ends the session: every message left counts as failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use sendwell_smtp::Extension;
use sendwell_smtp::reply::Reply;
use sendwell_smtp::sasl::{self, Mechanism};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::LoadConfig;
use crate::message::MessageTemplate;

/// Reconnections in a row (without a transaction completing in between) before a
/// session gives up and counts its remaining messages as failed.
pub const MAX_RECONNECTS: u32 = 3;

/// The longest reply accepted from a server, so a broken one cannot grow memory.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// How long to wait for any one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// What one session did.
#[derive(Debug, Default)]
pub struct SessionOutcome {
    /// Messages the server accepted with a 2yz after the content.
    pub accepted: usize,
    /// Messages the server refused with a 4yz or 5yz (at MAIL, RCPT, DATA or after the
    /// content).
    pub rejected: usize,
    /// Messages lost to a broken connection or a session that could not start.
    pub failed: usize,
    /// Time from MAIL to the final reply, for each accepted message.
    pub latencies: Vec<Duration>,
    /// The first few errors, for the report.
    pub errors: Vec<String>,
}

impl SessionOutcome {
    fn note(&mut self, error: impl std::fmt::Display) {
        if self.errors.len() < 5 {
            self.errors.push(error.to_string());
        }
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The socket or TLS failed.
    #[error("{stage}: {source}")]
    Io {
        /// What the client was doing.
        stage: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered something other than the SMTP reply grammar.
    #[error("{stage}: malformed reply: {detail}")]
    Malformed {
        /// What the client was doing.
        stage: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The server refused a step the session cannot do without.
    #[error("{stage}: {reply}")]
    Refused {
        /// What the client was doing.
        stage: &'static str,
        /// The server's reply, as on the wire.
        reply: String,
    },
    /// The server does not offer STARTTLS or AUTH PLAIN.
    #[error("the server does not offer {0}")]
    Missing(&'static str),
    /// No reply within [`REPLY_TIMEOUT`].
    #[error("{0}: no reply within {REPLY_TIMEOUT:?}")]
    Timeout(&'static str),
}

impl SessionError {
    /// A refused login will not succeed on a new connection.
    fn is_fatal(&self) -> bool {
        matches!(
            self,
            SessionError::Refused { stage: "AUTH", .. } | SessionError::Missing(_)
        )
    }
}

/// A connection with its read buffer.
struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn send(&mut self, stage: &'static str, bytes: &[u8]) -> Result<(), SessionError> {
        let io = |source| SessionError::Io { stage, source };
        self.stream.write_all(bytes).await.map_err(io)?;
        self.stream.flush().await.map_err(io)
    }

    async fn reply(&mut self, stage: &'static str) -> Result<Reply, SessionError> {
        tokio::time::timeout(REPLY_TIMEOUT, self.read_reply(stage))
            .await
            .map_err(|_| SessionError::Timeout(stage))?
    }

    async fn read_reply(&mut self, stage: &'static str) -> Result<Reply, SessionError> {
        loop {
            match Reply::parse(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    // RFC 5321 §3.8: 421 means the server is closing the channel.
                    if reply.code.get() == 421 {
                        return Err(SessionError::Refused {
                            stage,
                            reply: reply.to_string().trim_end().to_string(),
                        });
                    }
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(SessionError::Malformed {
                        stage,
                        detail: e.to_string(),
                    });
                }
            }
            if self.buf.len() > MAX_REPLY_BYTES {
                return Err(SessionError::Malformed {
                    stage,
                    detail: format!("reply longer than {MAX_REPLY_BYTES} bytes"),
                });
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|source| SessionError::Io { stage, source })?;
            if n == 0 {
                return Err(SessionError::Io {
                    stage,
                    source: std::io::ErrorKind::UnexpectedEof.into(),
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send a command and expect a positive completion (2yz) or, for `want`, that code.
    async fn expect(
        &mut self,
        stage: &'static str,
        command: &[u8],
        want: u16,
    ) -> Result<Reply, SessionError> {
        self.send(stage, command).await?;
        let reply = self.reply(stage).await?;
        if reply.code.get() == want || (want == 250 && reply.code.is_positive()) {
            Ok(reply)
        } else {
            Err(refused(stage, &reply))
        }
    }
}

fn refused(stage: &'static str, reply: &Reply) -> SessionError {
    SessionError::Refused {
        stage,
        reply: reply.to_string().trim_end().to_string(),
    }
}

/// The EHLO keywords this client cares about.
#[derive(Debug, Default)]
struct Offered {
    pipelining: bool,
    starttls: bool,
    auth_plain: bool,
}

fn offered(ehlo: &Reply) -> Offered {
    let mut o = Offered::default();
    // The first line is the greeting text; each further line one keyword (RFC 5321
    // §4.1.1.1).
    for line in ehlo.lines.iter().skip(1) {
        match Extension::parse(line) {
            Extension::Pipelining => o.pipelining = true,
            Extension::StartTls => o.starttls = true,
            Extension::Auth(mechs) => o.auth_plain |= mechs.contains(&Mechanism::Plain),
            _ => {}
        }
    }
    o
}

/// Run one session that submits `count` messages, numbered from 0, as session `index`.
pub async fn run(config: Arc<LoadConfig>, index: usize, count: usize) -> SessionOutcome {
    let mut outcome = SessionOutcome::default();
    let mut next = 0;
    let mut reconnects = 0;
    while next < count {
        let before = outcome.accepted + outcome.rejected;
        match connection(&config, index, count, &mut next, &mut outcome).await {
            Ok(()) => break,
            Err((error, in_flight)) => {
                if in_flight {
                    outcome.failed += 1;
                    next += 1;
                }
                let fatal = error.is_fatal();
                outcome.note(&error);
                if outcome.accepted + outcome.rejected > before {
                    reconnects = 0;
                }
                reconnects += 1;
                if fatal || reconnects > MAX_RECONNECTS {
                    outcome.failed += count - next;
                    break;
                }
            }
        }
    }
    outcome
}

/// One connection: set up, then transactions until every message is sent or the
/// connection breaks. On error, says whether a message was in flight.
async fn connection(
    config: &LoadConfig,
    index: usize,
    count: usize,
    next: &mut usize,
    outcome: &mut SessionOutcome,
) -> Result<(), (SessionError, bool)> {
    let setup = |e| (e, false);
    let tcp = TcpStream::connect(config.server).await.map_err(|source| {
        setup(SessionError::Io {
            stage: "connect",
            source,
        })
    })?;
    let _ = tcp.set_nodelay(true);
    let mut plain = Conn::new(tcp);
    let greeting = plain.reply("greeting").await.map_err(setup)?;
    if !greeting.code.is_positive() {
        return Err(setup(refused("greeting", &greeting)));
    }
    let ehlo = format!("EHLO {}\r\n", config.helo);
    let first = plain
        .expect("EHLO", ehlo.as_bytes(), 250)
        .await
        .map_err(setup)?;
    if !offered(&first).starttls {
        return Err(setup(SessionError::Missing("STARTTLS")));
    }
    plain
        .expect("STARTTLS", b"STARTTLS\r\n", 220)
        .await
        .map_err(setup)?;
    // RFC 3207 §4.2: nothing the server sent before the handshake counts.
    let name = ServerName::try_from(config.tls_name.clone()).map_err(|_| {
        setup(SessionError::Missing(
            "a valid TLS server name (--tls-name)",
        ))
    })?;
    let tls = TlsConnector::from(Arc::clone(&config.tls))
        .connect(name, plain.stream)
        .await
        .map_err(|source| {
            setup(SessionError::Io {
                stage: "TLS handshake",
                source,
            })
        })?;
    let mut conn = Conn::new(tls);
    let second = conn
        .expect("EHLO", ehlo.as_bytes(), 250)
        .await
        .map_err(setup)?;
    let ext = offered(&second);
    if !ext.auth_plain {
        return Err(setup(SessionError::Missing("AUTH PLAIN")));
    }
    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
    let mut plain_message = Vec::new();
    plain_message.push(0);
    plain_message.extend_from_slice(config.user.as_bytes());
    plain_message.push(0);
    plain_message.extend_from_slice(config.password.as_bytes());
    let auth = format!("AUTH PLAIN {}\r\n", sasl::encode(&plain_message));
    conn.expect("AUTH", auth.as_bytes(), 235)
        .await
        .map_err(setup)?;

    let mail = format!("MAIL FROM:<{}>\r\n", config.template.from);
    let rcpt = format!("RCPT TO:<{}>\r\n", config.template.to);
    while *next < count {
        transaction(
            &mut conn,
            &config.template,
            &mail,
            &rcpt,
            ext.pipelining,
            index,
            *next,
            outcome,
        )
        .await
        .map_err(|e| (e, true))?;
        *next += 1;
    }
    // The messages are in; a failed QUIT loses nothing.
    let _ = conn.send("QUIT", b"QUIT\r\n").await;
    let _ = conn.reply("QUIT").await;
    Ok(())
}

/// One message. A refusal is counted in `outcome`; an `Err` means the connection broke.
#[allow(clippy::too_many_arguments)]
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    template: &MessageTemplate,
    mail: &str,
    rcpt: &str,
    pipelining: bool,
    index: usize,
    seq: usize,
    outcome: &mut SessionOutcome,
) -> Result<(), SessionError> {
    let mut content = template.render(index, seq);
    content.extend_from_slice(b".\r\n");
    let start = Instant::now();
    let (mail_reply, rcpt_reply, data_reply) = if pipelining {
        let group = [mail.as_bytes(), rcpt.as_bytes(), b"DATA\r\n"].concat();
        conn.send("MAIL", &group).await?;
        (
            conn.reply("MAIL").await?,
            conn.reply("RCPT").await?,
            conn.reply("DATA").await?,
        )
    } else {
        conn.send("MAIL", mail.as_bytes()).await?;
        let m = conn.reply("MAIL").await?;
        if !m.code.is_positive() {
            outcome.rejected += 1;
            outcome.note(refused("MAIL", &m));
            return reset(conn).await;
        }
        conn.send("RCPT", rcpt.as_bytes()).await?;
        let r = conn.reply("RCPT").await?;
        if !r.code.is_positive() {
            outcome.rejected += 1;
            outcome.note(refused("RCPT", &r));
            return reset(conn).await;
        }
        conn.send("DATA", b"DATA\r\n").await?;
        (m, r, conn.reply("DATA").await?)
    };
    if data_reply.code.get() != 354 {
        outcome.rejected += 1;
        let (stage, reply) = if !mail_reply.code.is_positive() {
            ("MAIL", &mail_reply)
        } else if !rcpt_reply.code.is_positive() {
            ("RCPT", &rcpt_reply)
        } else {
            ("DATA", &data_reply)
        };
        outcome.note(refused(stage, reply));
        return reset(conn).await;
    }
    // RFC 2920 §3.1: a server may still say 354 after refusing every recipient; the
    // content must then be sent, and the transaction fails at its end.
    conn.send("message content", &content).await?;
    let done = conn.reply("end of data").await?;
    if done.code.is_positive() && mail_reply.code.is_positive() && rcpt_reply.code.is_positive() {
        outcome.accepted += 1;
        outcome.latencies.push(start.elapsed());
    } else {
        outcome.rejected += 1;
        outcome.note(refused("end of data", &done));
    }
    Ok(())
}

/// RSET after a refused transaction, so the next one starts clean (RFC 5321 §4.1.1.5).
async fn reset<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>) -> Result<(), SessionError> {
    conn.expect("RSET", b"RSET\r\n", 250).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        Reply::parse(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn reads_the_keywords_it_needs() {
        let o = offered(&reply(
            "250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n",
        ));
        assert!(o.pipelining && o.starttls && o.auth_plain);
        let o = offered(&reply("250-mx.test\r\n250 AUTH LOGIN\r\n"));
        assert!(!o.pipelining && !o.starttls && !o.auth_plain);
        // The greeting line is not a keyword, even when it looks like one.
        let o = offered(&reply("250-PIPELINING\r\n250 8BITMIME\r\n"));
        assert!(!o.pipelining);
    }

    #[test]
    fn a_refused_login_is_fatal_a_broken_socket_is_not() {
        let auth = SessionError::Refused {
            stage: "AUTH",
            reply: "535 5.7.8 no".into(),
        };
        assert!(auth.is_fatal());
        let io = SessionError::Io {
            stage: "MAIL",
            source: std::io::ErrorKind::ConnectionReset.into(),
        };
        assert!(!io.is_fatal());
    }
}
