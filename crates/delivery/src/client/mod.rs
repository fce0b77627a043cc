//! One SMTP transaction with one server (RFC 5321 §3, §4), as a delivering client.
//!
//! The session: greeting, EHLO (HELO if EHLO is refused), STARTTLS when offered (RFC
//! 3207) and EHLO again, then MAIL, RCPT for each recipient and DATA, pipelined when the
//! server offers PIPELINING (RFC 2920), and QUIT. Each recipient gets an outcome of its
//! own: the RCPT reply decides refusals, the reply to the end of data decides the rest.
//!
//! A [`SessionError`] means no transaction happened on this connection (connection
//! refused, greeting refused, TLS required but not had, a timeout, a protocol error)
//! and the server cannot have the message: the caller tries the next address or host.
//! Anything decided inside a transaction is a [`RecipientOutcome`], never an error;
//! that includes a missing reply after the whole message was sent, because then the
//! server may have it (see [`transaction`]).
//!
//! The transaction itself (MAIL, RCPT, DATA, and what each reply may be) is in
//! [`transaction`]; the check of envelope addresses before they are written, in
//! [`address`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use sendwell_smtp::{Extension, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::route::AddressPreference;
use crate::tls;

pub mod address;
pub mod transaction;

pub use address::{AddressError, check_address};

/// When to use STARTTLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Never (tests, or a receiver known to break TLS).
    Disabled,
    /// When the server offers it; certificates are not authenticated (RFC 7435). If the
    /// handshake fails the caller retries the same address in cleartext.
    #[default]
    Opportunistic,
    /// Encrypted or not at all: a server without STARTTLS, or a failed handshake, is a
    /// temporary failure. Certificates are not authenticated.
    Required,
    /// Encrypted, with the certificate chain checked against the system's trust anchors
    /// and the MX host name.
    Verified,
}

/// Time allowed for each step (RFC 5321 §4.5.3.2 gives the minimums used as defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (not in the RFC; 30 s is common practice).
    pub connect: Duration,
    /// §4.5.3.2.1 initial 220 message: 5 minutes.
    pub greeting: Duration,
    /// EHLO, STARTTLS and the TLS handshake (treated like MAIL: 5 minutes).
    pub command: Duration,
    /// §4.5.3.2.2 MAIL and §4.5.3.2.3 RCPT: 5 minutes.
    pub mail_rcpt: Duration,
    /// §4.5.3.2.4 DATA initiation: 2 minutes.
    pub data_init: Duration,
    /// §4.5.3.2.5 data block: 3 minutes for each write.
    pub data_block: Duration,
    /// §4.5.3.2.6 DATA termination: 10 minutes.
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            mail_rcpt: Duration::from_secs(300),
            data_init: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
        }
    }
}

/// How this server presents itself and connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The name sent in EHLO: the host name the sending address's PTR gives.
    pub helo_name: String,
    /// Source address for IPv4 connections (the address SPF and the PTR are about).
    pub source_v4: Option<Ipv4Addr>,
    /// Source address for IPv6 connections.
    pub source_v6: Option<Ipv6Addr>,
    /// The port to connect to: 25 on the Internet (tests use others).
    pub port: u16,
    /// STARTTLS policy.
    pub tls: TlsPolicy,
    /// Step timeouts.
    pub timeouts: Timeouts,
    /// Which address family to try first.
    pub address_preference: AddressPreference,
    /// This server's own host names: an MX list naming one of them is cut there
    /// (RFC 5321 §5.1), so mail never loops back.
    pub local_names: Vec<String>,
    /// Log in with AUTH PLAIN (RFC 4954, RFC 4616) after TLS: for submission to a
    /// server of our own (`sendwell send --via`). Credentials never go in cleartext.
    pub auth: Option<Credentials>,
    /// For [`TlsPolicy::Verified`]: authenticate servers against these anchors instead
    /// of the system's (`sendwell send --ca-file`).
    pub trust_anchors: Option<crate::tls::TrustAnchors>,
}

/// A user name and password for AUTH PLAIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for `helo_name`: port 25, opportunistic TLS, RFC timeouts, any source.
    pub fn new(helo_name: impl Into<String>) -> Self {
        ClientConfig {
            helo_name: helo_name.into(),
            source_v4: None,
            source_v6: None,
            port: 25,
            tls: TlsPolicy::Opportunistic,
            timeouts: Timeouts::default(),
            auth: None,
            address_preference: AddressPreference::default(),
            local_names: Vec::new(),
            trust_anchors: None,
        }
    }
}

/// What happened to one recipient in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// The server took responsibility for the message (2xx to RCPT and to the data).
    Delivered {
        /// The reply to the end of data.
        reply: String,
    },
    /// A temporary failure: try again later.
    Deferred {
        /// RFC 3463 status, e.g. `4.2.0`.
        status: String,
        /// The server's reply, or our own reason.
        reason: String,
    },
    /// A permanent failure: bounce.
    Failed {
        /// RFC 3463 status, e.g. `5.1.1`.
        status: String,
        /// The server's reply, or our own reason.
        reason: String,
        /// True when a server's reply decided it (a 5yz), false when we did (a null
        /// MX, an address that cannot be written, a size the server refuses). The
        /// reply itself, for `Diagnostic-Code: smtp;`, is in the report's `replies`.
        remote: bool,
    },
}

impl RecipientOutcome {
    /// The outcome a 2yz, 4yz or 5yz reply gives (RFC 5321 §4.2.1). Callers pass
    /// other replies only after deciding they are protocol errors.
    pub(crate) fn from_reply(reply: &Reply) -> Self {
        let text = reply_line(reply);
        let code = reply.code;
        let status = reply
            .enhanced
            .map(|e| e.to_string())
            .unwrap_or_else(|| format!("{}.0.0", code.get() / 100));
        if code.is_positive() {
            RecipientOutcome::Delivered { reply: text }
        } else if code.is_transient() || code.get() < 400 {
            RecipientOutcome::Deferred {
                status: if status.starts_with('4') {
                    status
                } else {
                    "4.0.0".into()
                },
                reason: text,
            }
        } else {
            RecipientOutcome::Failed {
                status,
                reason: text,
                remote: true,
            }
        }
    }

    /// True for [`RecipientOutcome::Delivered`].
    pub fn is_delivered(&self) -> bool {
        matches!(self, RecipientOutcome::Delivered { .. })
    }
}

/// One reply on one line: `550 5.1.1 text / more text`.
pub fn reply_line(reply: &Reply) -> String {
    let mut s = reply.code.to_string();
    if let Some(e) = reply.enhanced {
        s.push(' ');
        s.push_str(&e.to_string());
    }
    let text = reply
        .lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    if !text.is_empty() {
        s.push(' ');
        s.push_str(&text);
    }
    // A hostile server's text goes into DSNs and logs: keep it printable and bounded.
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect()
}

/// The session with one server ended before a transaction completed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// TCP connection failed.
    #[error("cannot connect to {addr}: {detail}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        detail: String,
    },
    /// A step took longer than its timeout.
    #[error("timed out waiting for {step}")]
    Timeout {
        /// Which step.
        step: &'static str,
    },
    /// The connection closed or failed mid-session.
    #[error("connection lost during {step}: {detail}")]
    Io {
        /// Which step.
        step: &'static str,
        /// The error.
        detail: String,
    },
    /// The server refused the session (greeting, EHLO and HELO) with this reply.
    #[error("the server refused the session: {reply}")]
    Refused {
        /// The reply, on one line.
        reply: String,
        /// True for a 5xx reply.
        permanent: bool,
    },
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// TLS could not be established (and the policy allows cleartext: retry without).
    #[error("TLS handshake failed: {0}")]
    TlsFailed(String),
    /// TLS is required by policy and was not had.
    #[error("TLS required but {0}")]
    TlsRequired(String),
}

impl SessionError {
    /// True when the server itself said no for good (a 5xx to the greeting or EHLO).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SessionError::Refused {
                permanent: true,
                ..
            }
        )
    }
}

/// What one transaction gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionReport {
    /// The MX host name.
    pub host: String,
    /// The address connected to.
    pub addr: SocketAddr,
    /// The TLS protocol and cipher suite, when TLS was used.
    pub tls: Option<String>,
    /// One outcome per recipient, in the order given.
    pub recipients: Vec<RecipientOutcome>,
    /// Per recipient (same order), the server's reply that decided the outcome, on one
    /// line (`550 5.1.1 no such user`); `None` when no reply did (an address refused
    /// before sending, a reply that never came). DSNs quote it as `Diagnostic-Code:
    /// smtp; ...` (RFC 3464 §2.3.6).
    pub replies: Vec<Option<String>>,
}

/// The envelope of one transaction.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// The reverse-path; empty for a bounce (null sender).
    pub mail_from: &'a str,
    /// The forward-paths.
    pub recipients: &'a [String],
}

/// A reply longer than this is a protocol error (bounded memory against a hostile peer).
const MAX_REPLY: usize = 64 * 1024;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

pub(crate) struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// The session is out of step with the server (a reply that never came or made no
    /// sense): it must not carry another transaction.
    pub(crate) broken: bool,
}

impl Conn {
    pub(crate) async fn read_reply(
        &mut self,
        limit: Duration,
        step: &'static str,
    ) -> Result<Reply, SessionError> {
        let read = async {
            loop {
                match Reply::parse(&self.buf) {
                    Ok(Some((reply, used))) => {
                        self.buf.drain(..used);
                        return Ok(reply);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Err(SessionError::Protocol(format!(
                            "unreadable reply to {step}: {e}"
                        )));
                    }
                }
                if self.buf.len() > MAX_REPLY {
                    return Err(SessionError::Protocol(format!(
                        "reply to {step} longer than {MAX_REPLY} octets"
                    )));
                }
                let mut chunk = [0u8; 4096];
                let n = match &mut self.stream {
                    Stream::Plain(s) => s.read(&mut chunk).await,
                    Stream::Tls(s) => s.read(&mut chunk).await,
                }
                .map_err(|e| SessionError::Io {
                    step,
                    detail: e.to_string(),
                })?;
                if n == 0 {
                    return Err(SessionError::Io {
                        step,
                        detail: "the server closed the connection".into(),
                    });
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        timeout(limit, read)
            .await
            .map_err(|_| SessionError::Timeout { step })?
    }

    pub(crate) async fn send(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        step: &'static str,
    ) -> Result<(), SessionError> {
        let write = async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(bytes).await,
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
            }
        };
        timeout(limit, write)
            .await
            .map_err(|_| SessionError::Timeout { step })?
            .map_err(|e| SessionError::Io {
                step,
                detail: e.to_string(),
            })
    }
}

/// The extensions a server announced.
#[derive(Debug, Default)]
pub(crate) struct Capabilities {
    pub(crate) pipelining: bool,
    pub(crate) eight_bit: bool,
    pub(crate) smtputf8: bool,
    pub(crate) starttls: bool,
    pub(crate) size: Option<Option<u64>>,
}

fn capabilities(reply: &Reply) -> Capabilities {
    let mut caps = Capabilities::default();
    // The first line is the greeting text, the rest are extensions (RFC 5321 §4.1.1.1).
    for line in reply.lines.iter().skip(1) {
        match Extension::parse(line) {
            Extension::Pipelining => caps.pipelining = true,
            Extension::EightBitMime => caps.eight_bit = true,
            Extension::SmtpUtf8 => caps.smtputf8 = true,
            Extension::StartTls => caps.starttls = true,
            Extension::Size(limit) => caps.size = Some(limit),
            _ => {}
        }
    }
    caps
}

/// Deliver `message` to `recipients` through the server at `addr` (host name `host`,
/// used for TLS), on a connection of its own. `allow_tls` false forces cleartext, for
/// the retry after a failed opportunistic handshake.
pub async fn transaction(
    config: &ClientConfig,
    host: &str,
    addr: IpAddr,
    envelope: Envelope<'_>,
    message: &[u8],
    allow_tls: bool,
) -> Result<TransactionReport, SessionError> {
    let mut session = Session::open(config, host, addr, allow_tls).await?;
    let report = session.send(config, envelope, message).await?;
    session.quit().await;
    Ok(report)
}

/// An open SMTP session with one server, ready for a transaction: greeted, EHLO done,
/// TLS and AUTH as the configuration asks. After [`Session::send`] it can carry the
/// next message to the same server ([`Session::reset`] first), as a connection cache.
pub struct Session {
    conn: Conn,
    caps: Capabilities,
    host: String,
    addr: SocketAddr,
    tls: Option<String>,
    transactions: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.host)
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("transactions", &self.transactions)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The MX host name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Transactions completed on this session.
    pub fn transactions(&self) -> u32 {
        self.transactions
    }

    /// One transaction on this session.
    pub async fn send(
        &mut self,
        config: &ClientConfig,
        envelope: Envelope<'_>,
        message: &[u8],
    ) -> Result<TransactionReport, SessionError> {
        let decided =
            transaction::mail_transaction(&mut self.conn, &self.caps, config, envelope, message)
                .await?;
        self.transactions += 1;
        let (recipients, replies) = decided.into_iter().unzip();
        Ok(TransactionReport {
            host: self.host.clone(),
            addr: self.addr,
            tls: self.tls.clone(),
            recipients,
            replies,
        })
    }

    /// False once the session is out of step with the server (the reply to the end of
    /// data never came, or made no sense): it must then be closed, never reused.
    pub fn is_reusable(&self) -> bool {
        !self.conn.broken
    }

    /// RSET (RFC 5321 §4.1.1.5) before reusing the session: true when the server
    /// answered 250 in time, so the session is alive and outside any transaction.
    pub async fn reset(&mut self) -> bool {
        let limit = Duration::from_secs(10);
        if self.conn.broken || !self.conn.buf.is_empty() {
            return false;
        }
        if self.conn.send(b"RSET\r\n", limit, "RSET").await.is_err() {
            return false;
        }
        matches!(self.conn.read_reply(limit, "RSET").await, Ok(r) if r.code.is_positive())
    }

    /// QUIT, politely and briefly.
    pub async fn quit(mut self) {
        let _ = self
            .conn
            .send(b"QUIT\r\n", Duration::from_secs(5), "QUIT")
            .await;
        let _ = self.conn.read_reply(Duration::from_secs(5), "QUIT").await;
    }

    /// Connect, read the greeting, EHLO, STARTTLS and AUTH as configured.
    pub async fn open(
        config: &ClientConfig,
        host: &str,
        addr: IpAddr,
        allow_tls: bool,
    ) -> Result<Session, SessionError> {
        let t = config.timeouts;
        let sockaddr = SocketAddr::new(addr, config.port);
        let tcp = connect(config, sockaddr).await?;
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            broken: false,
        };

        let greeting = conn.read_reply(t.greeting, "the greeting").await?;
        if !greeting.code.is_positive() {
            return Err(refused(&greeting));
        }
        let mut caps = ehlo(&mut conn, config).await?;

        let mut tls_info = None;
        let want_tls = allow_tls && config.tls != TlsPolicy::Disabled;
        if want_tls && caps.starttls {
            conn.send(b"STARTTLS\r\n", t.command, "STARTTLS").await?;
            let reply = conn.read_reply(t.command, "STARTTLS").await?;
            if reply.code.get() != 220 {
                return Err(tls_failure(
                    config,
                    format!("STARTTLS refused: {}", reply_line(&reply)),
                ));
            }
            // RFC 3207 §4.2 (and CVE-2011-0411 in reverse): nothing the server sent before
            // the handshake may be read as part of the TLS session.
            if !conn.buf.is_empty() {
                return Err(SessionError::Protocol(
                    "the server sent data after its STARTTLS reply, before the handshake".into(),
                ));
            }
            let Stream::Plain(tcp) = conn.stream else {
                return Err(SessionError::Protocol("STARTTLS twice".into()));
            };
            let client_config = match (config.tls, &config.trust_anchors) {
                (TlsPolicy::Verified, Some(anchors)) => anchors.client_config(),
                (TlsPolicy::Verified, None) => tls::verified(),
                _ => tls::opportunistic(),
            };
            let name = ServerName::try_from(host.to_string())
                .unwrap_or_else(|_| ServerName::IpAddress(addr.into()));
            let handshake = TlsConnector::from(Arc::clone(&client_config)).connect(name, tcp);
            let stream = timeout(t.command, handshake)
                .await
                .map_err(|_| tls_failure(config, "handshake timed out".into()))?
                .map_err(|e| tls_failure(config, e.to_string()))?;
            let (_, session) = stream.get_ref();
            tls_info = Some(format!(
                "{} {}",
                session
                    .protocol_version()
                    .map(|v| format!("{v:?}"))
                    .unwrap_or_default(),
                session
                    .negotiated_cipher_suite()
                    .map(|c| format!("{:?}", c.suite()))
                    .unwrap_or_default()
            ));
            conn.stream = Stream::Tls(Box::new(stream));
            // RFC 3207 §4.2: forget what was learned before TLS; EHLO again.
            caps = ehlo(&mut conn, config).await?;
        } else if matches!(config.tls, TlsPolicy::Required | TlsPolicy::Verified) {
            let _ = conn.send(b"QUIT\r\n", Duration::from_secs(5), "QUIT").await;
            return Err(SessionError::TlsRequired(
                "the server does not offer STARTTLS".into(),
            ));
        }

        if let Some(credentials) = &config.auth {
            authenticate(&mut conn, config, credentials, tls_info.is_some()).await?;
        }

        Ok(Session {
            conn,
            caps,
            host: host.to_string(),
            addr: sockaddr,
            tls: tls_info,
            transactions: 0,
        })
    }
}

/// RFC 4954 §4 with the PLAIN mechanism (RFC 4616): `AUTH PLAIN base64(NUL user NUL password)`.
async fn authenticate(
    conn: &mut Conn,
    config: &ClientConfig,
    credentials: &Credentials,
    encrypted: bool,
) -> Result<(), SessionError> {
    use base64::Engine;
    if !encrypted {
        return Err(SessionError::TlsRequired(
            "credentials are never sent without TLS, and TLS was not established".into(),
        ));
    }
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0{}", credentials.user, credentials.password));
    let command = format!("AUTH PLAIN {token}\r\n");
    conn.send(command.as_bytes(), config.timeouts.command, "AUTH")
        .await?;
    let reply = conn.read_reply(config.timeouts.command, "AUTH").await?;
    if reply.code.get() == 235 {
        Ok(())
    } else {
        Err(SessionError::Refused {
            reply: reply_line(&reply),
            permanent: reply.code.is_permanent(),
        })
    }
}

fn tls_failure(config: &ClientConfig, detail: String) -> SessionError {
    match config.tls {
        TlsPolicy::Required | TlsPolicy::Verified => SessionError::TlsRequired(detail),
        _ => SessionError::TlsFailed(detail),
    }
}

fn refused(reply: &Reply) -> SessionError {
    SessionError::Refused {
        reply: reply_line(reply),
        permanent: reply.code.is_permanent(),
    }
}

async fn connect(config: &ClientConfig, addr: SocketAddr) -> Result<TcpStream, SessionError> {
    let err = |e: std::io::Error| SessionError::Connect {
        addr,
        detail: e.to_string(),
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(err)?;
    let source = match addr {
        SocketAddr::V4(_) => config.source_v4.map(IpAddr::V4),
        SocketAddr::V6(_) => config.source_v6.map(IpAddr::V6),
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(err)?;
    }
    timeout(config.timeouts.connect, socket.connect(addr))
        .await
        .map_err(|_| SessionError::Timeout { step: "connect" })?
        .map_err(err)
}

async fn ehlo(conn: &mut Conn, config: &ClientConfig) -> Result<Capabilities, SessionError> {
    let t = config.timeouts;
    let ehlo = format!("EHLO {}\r\n", config.helo_name);
    conn.send(ehlo.as_bytes(), t.command, "EHLO").await?;
    let reply = conn.read_reply(t.command, "EHLO").await?;
    if reply.code.is_positive() {
        return Ok(capabilities(&reply));
    }
    // RFC 5321 §3.2: a server that does not know EHLO answers 500/502; fall back to HELO.
    let helo = format!("HELO {}\r\n", config.helo_name);
    conn.send(helo.as_bytes(), t.command, "HELO").await?;
    let reply = conn.read_reply(t.command, "HELO").await?;
    if reply.code.is_positive() {
        Ok(Capabilities::default())
    } else {
        Err(refused(&reply))
    }
}
