//! Test harness for `sendwell serve`: the real binary in its own temporary directory
//! on free high ports of 127.0.0.1, killed (SIGKILL) on drop; and a small synchronous
//! SMTP client, plain or TLS, that sends exactly the bytes a test gives it.

#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sendwell_smtp::Reply;
use sendwell_testkit::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_sendwell");
pub const PASSWORD: &str = "correct horse battery staple";

/// A running `sendwell serve`.
pub struct Server {
    pub child: Option<Child>,
    pub dir: TempDir,
    pub mx: SocketAddr,
    pub submission: SocketAddr,
    pub submissions: SocketAddr,
}

/// Run the binary to completion; panic with its output if it fails.
pub fn sendwell(args: &[&str], stdin: Option<&str>) -> String {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "sendwell {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run the binary; return its output whatever the exit code.
pub fn run(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendwell");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait for sendwell")
}

impl Server {
    /// `sendwell init --local` for example.test, with free ports, `extra` appended
    /// to the config (and `edit` applied to its text), a user alice@example.test,
    /// then `sendwell serve`.
    pub fn start(edit: impl FnOnce(String) -> String) -> Server {
        let dir = TempDir::new("serve");
        let d = dir.path().to_str().unwrap().to_string();
        sendwell(
            &[
                "init",
                "--local",
                "--domain",
                "example.test",
                "--hostname",
                "mail.example.test",
                "--dir",
                &d,
            ],
            None,
        );
        let (mx, sub, subs) = (
            sendwell_testkit::free_port(),
            sendwell_testkit::free_port(),
            sendwell_testkit::free_port(),
        );
        let path = dir.path().join("sendwell.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text
            .replace("127.0.0.1:2525", &format!("127.0.0.1:{mx}"))
            .replace("127.0.0.1:2587", &format!("127.0.0.1:{sub}"))
            .replace("127.0.0.1:2465", &format!("127.0.0.1:{subs}"));
        // These tests are about taking mail in: remote mail stays queued (delivery is
        // proven in serve_world.rs).
        let text = text.replace("\nhold = false\n", "\nhold = true\n");
        // DNS only on loopback: a port where nothing answers (tests that need answers
        // start BIND and set `resolver` to it), never the machine's own resolver.
        let text = text.replace("# resolver = (not set)", "resolver = \"127.0.0.1:9\"");
        assert!(text.contains("resolver = \"127.0.0.1:9\""), "{text}");
        assert!(
            text.contains("hold = true"),
            "the config has a [delivery] table"
        );
        std::fs::write(&path, edit(text)).unwrap();
        sendwell(
            &[
                "user",
                "add",
                "alice@example.test",
                "--password-stdin",
                "--dir",
                &d,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        let mut s = Server {
            child: None,
            dir,
            mx: ([127, 0, 0, 1], mx).into(),
            submission: ([127, 0, 0, 1], sub).into(),
            submissions: ([127, 0, 0, 1], subs).into(),
        };
        s.spawn();
        s
    }

    /// A client logged in as alice@example.test on the submission port (STARTTLS,
    /// then AUTH PLAIN), asserting the greeting and the 235.
    pub fn alice(&self) -> Client {
        let (mut c, greeting) = Client::connect(self.submission);
        assert_eq!(greeting.code.get(), 220, "{greeting}");
        c.ehlo();
        c.starttls();
        c.ehlo();
        let r = c.auth_plain("alice@example.test", PASSWORD);
        assert_eq!(r.code.get(), 235, "{r}");
        c
    }

    /// The directory as a string, for `--dir`.
    pub fn dir_arg(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    /// Start (or restart) the server process and wait until every port answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("serve.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--dir", &self.dir_arg()])
            .env("SENDWELL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sendwell serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        for addr in [self.mx, self.submission, self.submissions] {
            loop {
                if TcpStream::connect(addr).is_ok() {
                    break;
                }
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("sendwell serve exited ({status}):\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "server did not listen on {addr}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILL the server (no chance to clean up) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// `sendwell queue list --json`.
    pub fn queue(&self) -> serde_json::Value {
        let out = sendwell(&["queue", "list", "--json", "--dir", &self.dir_arg()], None);
        serde_json::from_str(&out).expect("queue list --json is JSON")
    }

    /// The Maildir `new/` files of a local mailbox.
    pub fn mailbox(&self, address: &str) -> Vec<PathBuf> {
        let new = self.dir.path().join("mail").join(address).join("new");
        let mut v: Vec<PathBuf> = std::fs::read_dir(new)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Wait until a mailbox holds `n` messages (local delivery runs after the 250).
    pub fn wait_mailbox(&self, address: &str, n: usize) -> Vec<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.mailbox(address);
            if v.len() >= n || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
    }
}

/// swaks, with its output; panics if it cannot run.
pub fn swaks(args: &[&str]) -> (bool, String) {
    let swaks = sendwell_testkit::require_program("swaks", "swaks");
    let out = Command::new(swaks)
        .args(args)
        .args(["--timeout", "60"])
        .output()
        .expect("run swaks");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    None,
}

/// A synchronous SMTP client that writes exactly what it is given.
pub struct Client {
    stream: Stream,
    buf: Vec<u8>,
}

impl Client {
    /// Connect and read the greeting.
    pub fn connect(addr: SocketAddr) -> (Client, Reply) {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut c = Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
        };
        let greeting = c.reply();
        (c, greeting)
    }

    /// Connect with TLS from the first byte (port 465 style) and read the greeting.
    pub fn connect_tls(addr: SocketAddr) -> (Client, Reply) {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut c = Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
        };
        c.handshake();
        let greeting = c.reply();
        (c, greeting)
    }

    /// Connect without reading anything.
    pub fn connect_raw(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
        }
    }

    /// Write bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        assert!(self.try_send(bytes), "write failed");
    }

    /// Write bytes; false if the connection is gone.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).and_then(|_| s.flush()).is_ok(),
            Stream::Tls(s) => s.write_all(bytes).and_then(|_| s.flush()).is_ok(),
            Stream::None => false,
        }
    }

    fn read_more(&mut self) -> usize {
        let mut chunk = [0u8; 16384];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut chunk),
            Stream::Tls(s) => s.read(&mut chunk),
            Stream::None => panic!("no stream"),
        }
        .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Read one reply; panics at end of input.
    pub fn reply(&mut self) -> Reply {
        self.try_reply()
            .expect("a reply, not the end of the connection")
    }

    /// Read one reply, or `None` when the server closed the connection.
    pub fn try_reply(&mut self) -> Option<Reply> {
        loop {
            if let Some((r, used)) = Reply::parse(&self.buf).expect("a well-formed reply") {
                self.buf.drain(..used);
                return Some(r);
            }
            if self.read_more() == 0 {
                return None;
            }
        }
    }

    /// True when the server has closed the connection (and sent nothing more).
    pub fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.read_more() == 0
    }

    /// Send a command line (CRLF added) and read its reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// STARTTLS and the handshake; panics unless the server says 220.
    pub fn starttls(&mut self) {
        let r = self.cmd("STARTTLS");
        assert_eq!(r.code.get(), 220, "{r}");
        self.handshake();
    }

    /// The TLS handshake on the current plain stream (no certificate check: the
    /// server's certificate is self-signed).
    pub fn handshake(&mut self) {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::None) else {
            panic!("not a plain stream");
        };
        assert!(
            self.buf.is_empty(),
            "bytes left before the handshake: {:?}",
            self.buf
        );
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("mail.example.test").unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tcp = tcp;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("TLS handshake");
        }
        self.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
    }

    /// EHLO, returning the reply.
    pub fn ehlo(&mut self) -> Reply {
        let r = self.cmd("EHLO client.example");
        assert_eq!(r.code.get(), 250, "{r}");
        r
    }

    /// AUTH PLAIN with a login and password.
    pub fn auth_plain(&mut self, login: &str, password: &str) -> Reply {
        let msg = sendwell_smtp::sasl::encode(format!("\0{login}\0{password}").as_bytes());
        self.cmd(&format!("AUTH PLAIN {msg}"))
    }

    /// MAIL, RCPTs, DATA and the message (dot-stuffed here); the final reply.
    pub fn send_mail(&mut self, from: &str, to: &[&str], message: &str) -> Reply {
        let r = self.cmd(&format!("MAIL FROM:<{from}>"));
        assert_eq!(r.code.get(), 250, "MAIL: {r}");
        for t in to {
            let r = self.cmd(&format!("RCPT TO:<{t}>"));
            assert_eq!(r.code.get(), 250, "RCPT {t}: {r}");
        }
        let r = self.cmd("DATA");
        assert_eq!(r.code.get(), 354, "DATA: {r}");
        let mut data = String::new();
        for line in message.split("\r\n") {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        self.send(data.as_bytes());
        self.reply()
    }
}

/// The queue id in a "250 2.6.0 Message accepted, queued as ID" reply.
pub fn queue_id(r: &Reply) -> String {
    assert_eq!(r.code.get(), 250, "{r}");
    r.text()
        .rsplit(' ')
        .next()
        .expect("an id at the end")
        .to_string()
}

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Replace a `key = value` line in a TOML section's text.
pub fn set(text: String, key: &str, value: &str) -> String {
    let mut done = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.starts_with(&format!("{key} = ")) {
                done = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "no key {key} in the config");
    out.join("\n") + "\n"
}

/// Parse a path relative to nothing (helper for assertions on files).
pub fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()
}
