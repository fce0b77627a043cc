//! The connection as the session sees it: a socket, plain or TLS, with one read buffer
//! and one write buffer that the session owns.
//!
//! Owning the read buffer is what makes the STARTTLS rule enforceable: RFC 3207 §4
//! and CVE-2011-0411 (command injection) say that whatever the client sent after
//! `STARTTLS` and before the handshake must be thrown away, and
//! [`Wire::discard_buffered`] does exactly that.
//!
//! Replies are collected in the write buffer and sent when the session is about to
//! wait for input (RFC 2920 §3: a server "MUST NOT" wait for more commands while
//! holding replies, and may send a batch of them at once).
//!
//! Writes can block for ever when the client stops reading, so the session bounds
//! every flush by a deadline (see `Session::flush`). A flush cut off half-way leaves
//! the stream mid-reply; the wire remembers that ([`Wire::write_unfinished`]) and then
//! closes without writing anything more.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use sendwell_smtp::Reply;

/// A TCP connection, before or after TLS.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Between taking the plain stream for the handshake and getting the TLS one back.
    Gone,
}

impl Conn {
    /// The TLS version and cipher suite, when TLS is up (for Received and logs).
    pub fn tls_info(&self) -> Option<String> {
        match self {
            Conn::Tls(s) => {
                let c = s.get_ref().1;
                let version = c
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .unwrap_or("TLS")
                    .replace('_', ".");
                let suite = c
                    .negotiated_cipher_suite()
                    .and_then(|s| s.suite().as_str())
                    .unwrap_or("unknown");
                Some(format!("{version} with cipher {suite}"))
            }
            _ => None,
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection taken for TLS")
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// What [`Wire::read_line`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its CRLF (or LF).
    Line(Vec<u8>),
    /// A line longer than the limit; it was read to its end and thrown away.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// Initial size of the read buffer; it grows up to [`READ_BUFFER_MAX`] for data.
const READ_BUFFER: usize = 16 * 1024;
const READ_BUFFER_MAX: usize = 256 * 1024;

/// The buffered connection.
pub struct Wire {
    conn: Conn,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// A flush started and did not finish (cancelled by its deadline, or failed).
    write_unfinished: bool,
}

impl Wire {
    /// Wrap a connection.
    pub fn new(conn: Conn) -> Self {
        Wire {
            conn,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            out: Vec::with_capacity(1024),
            write_unfinished: false,
        }
    }

    /// The connection (for TLS details).
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Queue a reply to be sent with the next flush.
    pub fn send(&mut self, reply: &Reply) {
        use std::fmt::Write as _;
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = write!(s, "{reply}");
        self.out.extend_from_slice(s.as_bytes());
    }

    /// Queue raw bytes (a reply already formatted).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Send everything queued. The future may be dropped part-way (a deadline): the
    /// wire then counts as [`Wire::write_unfinished`] and every later flush fails.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        if self.write_unfinished {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "an earlier write did not finish",
            ));
        }
        // Cleared only when the whole batch is out.
        self.write_unfinished = true;
        self.conn.write_all(&self.out).await?;
        self.out.clear();
        self.conn.flush().await?;
        self.write_unfinished = false;
        Ok(())
    }

    /// True when a flush was cut off or failed: the client has part of a reply at
    /// most, and nothing more can be said on this connection.
    pub fn write_unfinished(&self) -> bool {
        self.write_unfinished
    }

    /// The bytes received and not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Mark `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Throw away everything received and not yet used (after STARTTLS).
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.end - self.start;
        self.start = 0;
        self.end = 0;
        n
    }

    /// Flush pending replies, then read more from the socket. Returns 0 at EOF.
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.flush().await?;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.buf.len() - self.end < READ_BUFFER / 2 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_BUFFER / 2 {
            let grown = (self.buf.len() * 2)
                .min(READ_BUFFER_MAX)
                .max(self.end + READ_BUFFER / 2);
            self.buf.resize(grown, 0);
        }
        let n = self.conn.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Read one line of at most `max` octets including its line ending. A longer line
    /// is read to its end, dropped, and reported as [`Line::TooLong`], so memory stays
    /// bounded by `max` whatever the client sends.
    pub async fn read_line(&mut self, max: usize) -> io::Result<Line> {
        let mut too_long = false;
        loop {
            if let Some(pos) = memchr::memchr(b'\n', self.buffered()) {
                let line_end = self.start + pos;
                let mut text_end = line_end;
                if text_end > self.start && self.buf[text_end - 1] == b'\r' {
                    text_end -= 1;
                }
                let len = line_end + 1 - self.start;
                let line = self.buf[self.start..text_end].to_vec();
                self.consume(len);
                if too_long || len > max {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Line(line));
            }
            if self.end - self.start > max {
                // Drop what we have of the long line; keep reading to its end.
                too_long = true;
                self.start = 0;
                self.end = 0;
            }
            if self.fill().await? == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    /// Take the plain TCP stream out for a TLS handshake; the read buffer must be
    /// empty (call [`Wire::discard_buffered`] first).
    pub fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::Plain(s) => Some(s),
            other => {
                self.conn = other;
                None
            }
        }
    }

    /// Put the connection back after the handshake.
    pub fn set_conn(&mut self, conn: Conn) {
        self.conn = conn;
    }

    /// Close the connection politely (flush, then FIN or TLS close_notify), giving up
    /// after `limit`: a client that does not read must not keep the connection. After
    /// an unfinished write nothing more is sent; the socket is just dropped.
    pub async fn shutdown(&mut self, limit: Duration) {
        if self.write_unfinished {
            return;
        }
        let _ = tokio::time::timeout(limit, async {
            if self.flush().await.is_ok() {
                let _ = self.conn.shutdown().await;
            }
        })
        .await;
    }
}
