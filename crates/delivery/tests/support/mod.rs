//! A scripted SMTP server on a loopback address, for the cases no real server is
//! configured to produce: a 250 to DATA, a 3xx to MAIL, a connection dropped after the
//! end of data, a server that never greets. It answers each command as its [`Script`]
//! says and records every command line it received and every message, so a test can
//! see exactly what the client wrote.
//!
//! Not every test binary uses every helper.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the server does after it has read the end of a message (`.`).
#[derive(Clone, Debug)]
pub enum EndOfData {
    /// Answer this line.
    Reply(&'static str),
    /// Close the connection without a reply.
    Close,
    /// Never answer (hold the connection).
    Stall,
}

/// The server's answers. Every reply is one line, written as given.
#[derive(Clone, Debug)]
pub struct Script {
    /// The greeting; `None` accepts connections and never greets. A 4xx/5xx greeting
    /// makes every later command but QUIT get 503.
    pub greeting: Option<&'static str>,
    /// Announce PIPELINING in the EHLO reply.
    pub pipelining: bool,
    /// The reply to MAIL.
    pub mail: &'static str,
    /// The reply to RCPT, unless an entry of `rcpt_for` matches.
    pub rcpt: &'static str,
    /// (part of the address, reply): the reply to a RCPT whose line contains it.
    pub rcpt_for: Vec<(&'static str, &'static str)>,
    /// The reply to DATA; only one starting with 354 makes the server read a message.
    pub data: &'static str,
    /// After each message, in turn (cycled).
    pub end_of_data: Vec<EndOfData>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            greeting: Some("220 fake.test ESMTP"),
            pipelining: true,
            mail: "250 2.1.0 ok",
            rcpt: "250 2.1.5 ok",
            rcpt_for: Vec::new(),
            data: "354 go ahead",
            end_of_data: vec![EndOfData::Reply("250 2.0.0 queued as FAKE")],
        }
    }
}

#[derive(Default)]
struct Record {
    lines: Mutex<Vec<String>>,
    messages: Mutex<Vec<Vec<u8>>>,
    connections: AtomicUsize,
    ends: AtomicUsize,
}

/// A running scripted server; stops (with every connection) on drop.
pub struct FakeMx {
    addr: SocketAddr,
    record: Arc<Record>,
    task: JoinHandle<()>,
}

impl Drop for FakeMx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMx {
    /// Listen on `ip:port` (port 0: any free port) and answer by `script`.
    pub async fn start(ip: Ipv4Addr, port: u16, script: Script) -> FakeMx {
        let listener = TcpListener::bind((ip, port))
            .await
            .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
        let addr = listener.local_addr().expect("local address");
        let record = Arc::new(Record::default());
        let shared = Arc::clone(&record);
        let task = tokio::spawn(async move {
            // The connections belong to this task: aborting it closes them all.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, script.clone(), Arc::clone(&shared)));
            }
        });
        FakeMx { addr, record, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every command line received, without CRLF, in order.
    pub fn lines(&self) -> Vec<String> {
        self.record.lines.lock().unwrap().clone()
    }

    /// Every message received in full (up to the end-of-data line, as on the wire).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.record.messages.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.record.connections.load(Ordering::SeqCst)
    }
}

async fn serve(stream: TcpStream, script: Script, record: Arc<Record>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let Some(greeting) = script.greeting else {
        std::future::pending::<()>().await;
        return;
    };
    if write
        .write_all(format!("{greeting}\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let refusing = !greeting.starts_with('2');
    loop {
        let mut line = Vec::new();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        record.lines.lock().unwrap().push(text.clone());
        let verb = text
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: String = if refusing && verb != "QUIT" {
            "503 5.5.1 go away".into()
        } else {
            match verb.as_str() {
                "EHLO" => {
                    let mut r = String::from("250-fake.test\r\n");
                    if script.pipelining {
                        r.push_str("250-PIPELINING\r\n");
                    }
                    r.push_str("250 8BITMIME");
                    r
                }
                "HELO" => "250 fake.test".into(),
                "MAIL" => script.mail.into(),
                "RCPT" => script
                    .rcpt_for
                    .iter()
                    .find(|(part, _)| text.contains(part))
                    .map_or(script.rcpt, |(_, reply)| reply)
                    .into(),
                "DATA" => script.data.into(),
                "RSET" | "NOOP" => "250 2.0.0 ok".into(),
                "QUIT" => {
                    let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                    return;
                }
                _ => "500 5.5.2 unknown command".into(),
            }
        };
        if write
            .write_all(format!("{reply}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        if verb == "DATA" && reply.starts_with("354") {
            let mut message = Vec::new();
            loop {
                let mut data_line = Vec::new();
                match read.read_until(b'\n', &mut data_line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if data_line == b".\r\n" {
                    break;
                }
                message.extend_from_slice(&data_line);
            }
            record.messages.lock().unwrap().push(message);
            let n = record.ends.fetch_add(1, Ordering::SeqCst);
            match &script.end_of_data[n % script.end_of_data.len()] {
                EndOfData::Reply(r) => {
                    if write
                        .write_all(format!("{r}\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                EndOfData::Close => return,
                EndOfData::Stall => std::future::pending::<()>().await,
            }
        }
    }
}
