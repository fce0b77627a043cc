//! The generator against a scripted submission server on 127.0.0.1: STARTTLS with a
//! self-signed certificate, AUTH PLAIN, MAIL/RCPT/DATA. The server keeps what it saw,
//! so each test checks what went over the wire, not only the generator's counters.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use sendwell_loadgen::message::MessageTemplate;
use sendwell_loadgen::{LoadConfig, Report, run};
use sendwell_smtp::sasl;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const USER: &str = "bench@sender.test";
const PASSWORD: &str = "correct horse";

/// How the scripted server behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    /// Leave PIPELINING out of the EHLO reply.
    no_pipelining: bool,
    /// Refuse every RCPT with 550.
    refuse_rcpt: bool,
    /// Close the connection without a reply at the end of every Nth message.
    drop_every: Option<usize>,
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    /// Messages answered with 250 at the end of data, as received (dot-unstuffed).
    messages: Vec<Vec<u8>>,
    /// Every AUTH PLAIN (authcid, password).
    logins: Vec<(String, String)>,
    /// Every command line, in order, per connection.
    commands: Vec<String>,
    /// Whether a MAIL line arrived with its RCPT and DATA already buffered.
    pipelined_groups: usize,
}

async fn start(script: Script) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen2);
            tokio::spawn(async move {
                let mut plain = BufReader::new(tcp);
                plain.write_all(b"220 mock ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if plain.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    seen.lock().unwrap().commands.push(cmd.clone());
                    if cmd.starts_with("EHLO") {
                        plain
                            .write_all(b"250-mock\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
                            .await
                            .unwrap();
                    } else if cmd == "STARTTLS" {
                        plain.write_all(b"220 go ahead\r\n").await.unwrap();
                        break;
                    } else {
                        plain
                            .write_all(b"503 5.5.1 STARTTLS first\r\n")
                            .await
                            .unwrap();
                    }
                }
                let tls = acceptor.accept(plain.into_inner()).await.unwrap();
                session(BufReader::new(tls), script, &seen).await;
            });
        }
    });
    (addr, seen)
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: BufReader<S>,
    script: Script,
    seen: &Mutex<Seen>,
) {
    let mut line = String::new();
    let mut authenticated = false;
    let mut recipients = 0;
    let mut transactions = 0;
    loop {
        line.clear();
        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        seen.lock().unwrap().commands.push(upper.clone());
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if script.no_pipelining {
                b"250-mock\r\n250 AUTH PLAIN LOGIN\r\n"
            } else {
                b"250-mock\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n"
            }
        } else if let Some(b64) = upper.strip_prefix("AUTH PLAIN ") {
            let raw = sasl::decode_response(&cmd[cmd.len() - b64.len()..]).unwrap();
            let creds = sasl::parse_plain(&raw).unwrap();
            let ok = creds.authcid == USER && creds.password == PASSWORD;
            seen.lock()
                .unwrap()
                .logins
                .push((creds.authcid, creds.password));
            authenticated = ok;
            if ok {
                b"235 2.7.0 ok\r\n"
            } else {
                b"535 5.7.8 bad credentials\r\n"
            }
        } else if upper.starts_with("MAIL FROM:") {
            let buffered = String::from_utf8_lossy(s.buffer()).to_ascii_uppercase();
            if buffered.starts_with("RCPT TO:") && buffered.contains("\r\nDATA\r\n") {
                seen.lock().unwrap().pipelined_groups += 1;
            }
            recipients = 0;
            if authenticated {
                b"250 2.1.0 ok\r\n"
            } else {
                b"530 5.7.0 authentication required\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            if script.refuse_rcpt {
                b"550 5.1.1 no such user\r\n"
            } else {
                recipients += 1;
                b"250 2.1.5 ok\r\n"
            }
        } else if upper == "DATA" {
            if recipients == 0 {
                b"554 5.5.1 no valid recipients\r\n"
            } else {
                s.write_all(b"354 go ahead\r\n").await.unwrap();
                s.flush().await.unwrap();
                let mut message = Vec::new();
                loop {
                    let mut l = Vec::new();
                    s.read_until(b'\n', &mut l).await.unwrap();
                    if l == b".\r\n" {
                        break;
                    }
                    let l = l.strip_prefix(b".").unwrap_or(&l);
                    message.extend_from_slice(l);
                }
                transactions += 1;
                if script.drop_every.is_some_and(|n| transactions % n == 0) {
                    return;
                }
                seen.lock().unwrap().messages.push(message);
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            s.write_all(b"221 2.0.0 bye\r\n").await.unwrap();
            s.flush().await.unwrap();
            return;
        } else {
            b"500 5.5.2 what\r\n"
        };
        s.write_all(reply).await.unwrap();
        s.flush().await.unwrap();
    }
}

fn config(server: SocketAddr, sessions: usize, messages: usize, password: &str) -> LoadConfig {
    LoadConfig {
        server,
        tls_name: "localhost".into(),
        helo: "loadgen.test".into(),
        user: USER.into(),
        password: password.into(),
        sessions,
        messages,
        template: MessageTemplate {
            from: USER.into(),
            to: "sink@receiver.test".into(),
            size: 2048,
            run: "t".into(),
        },
        tls: sendwell_delivery::opportunistic_tls(),
    }
}

#[tokio::test]
async fn every_message_is_submitted_once_over_tls_after_login() {
    let (addr, seen) = start(Script::default()).await;
    let report: Report = run(config(addr, 4, 25, PASSWORD)).await;
    assert_eq!(
        (report.accepted, report.rejected, report.failed),
        (25, 0, 0),
        "{:?}",
        report.errors
    );
    assert!(report.msgs_per_sec > 0.0 && report.latency_ms_p50 > 0.0);
    assert!(report.latency_ms_p50 <= report.latency_ms_p99);
    assert!(report.latency_ms_p99 <= report.latency_ms_max);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 25);
    assert!(seen.messages.iter().all(|m| m.len() == 2048));
    let mut ids: Vec<String> = seen
        .messages
        .iter()
        .map(|m| {
            String::from_utf8_lossy(m)
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "Message-IDs repeat");
    assert_eq!(seen.logins.len(), 4);
    assert!(seen.logins.iter().all(|(u, p)| u == USER && p == PASSWORD));
    // Four sessions: four STARTTLS, four QUIT, and every MAIL group pipelined.
    assert_eq!(seen.commands.iter().filter(|c| *c == "STARTTLS").count(), 4);
    assert_eq!(seen.commands.iter().filter(|c| *c == "QUIT").count(), 4);
    assert_eq!(seen.pipelined_groups, 25);
}

#[tokio::test]
async fn without_pipelining_commands_go_one_by_one() {
    let (addr, seen) = start(Script {
        no_pipelining: true,
        ..Script::default()
    })
    .await;
    let report = run(config(addr, 1, 5, PASSWORD)).await;
    assert_eq!(report.accepted, 5, "{:?}", report.errors);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 5);
    assert_eq!(seen.pipelined_groups, 0);
}

#[tokio::test]
async fn a_wrong_password_fails_every_message_without_retrying() {
    let (addr, seen) = start(Script::default()).await;
    let report = run(config(addr, 2, 10, "wrong")).await;
    assert_eq!(
        (report.accepted, report.rejected, report.failed),
        (0, 0, 10)
    );
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("AUTH") && e.contains("535"))
    );
    let seen = seen.lock().unwrap();
    assert!(seen.messages.is_empty());
    assert_eq!(seen.logins.len(), 2, "a refused login is not retried");
}

#[tokio::test]
async fn refused_recipients_are_counted_and_reset() {
    let (addr, seen) = start(Script {
        refuse_rcpt: true,
        ..Script::default()
    })
    .await;
    let report = run(config(addr, 1, 4, PASSWORD)).await;
    assert_eq!((report.accepted, report.rejected, report.failed), (0, 4, 0));
    assert!(report.errors.iter().any(|e| e.contains("550")));
    let seen = seen.lock().unwrap();
    assert!(seen.messages.is_empty());
    assert_eq!(seen.commands.iter().filter(|c| *c == "RSET").count(), 4);
}

#[tokio::test]
async fn a_dropped_connection_fails_the_message_in_flight_and_the_session_goes_on() {
    let (addr, seen) = start(Script {
        drop_every: Some(3),
        ..Script::default()
    })
    .await;
    // Connection 1: 0, 1 accepted, 2 lost; 2: 3, 4 and 5 lost; 3: 6, 7, 8 lost; 4: 9.
    let report = run(config(addr, 1, 10, PASSWORD)).await;
    assert_eq!((report.accepted, report.rejected, report.failed), (7, 0, 3));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 7);
    assert_eq!(seen.logins.len(), 4);
}
