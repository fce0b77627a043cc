//! Postfix's `smtp-sink` as a receiving server on 127.0.0.1 (or another loopback
//! address), keeping every transaction as a file: a real peer whose faults are chosen
//! with its own options (`-r RCPT` soft-rejects RCPT, `-f .` hard-rejects the end of
//! data, `-Q CONNECT` answers 421, `-p` hides PIPELINING, `-8` hides 8BITMIME).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, free_port, require_program};

/// A running smtp-sink, stopped on drop.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl SmtpSink {
    /// Start on 127.0.0.1 at a free port with extra smtp-sink `options`.
    pub fn start(options: &[&str]) -> SmtpSink {
        Self::start_on(Ipv4Addr::LOCALHOST, free_port(), options)
    }

    /// Start on `ip:port` (a loopback address) with extra smtp-sink `options`.
    pub fn start_on(ip: Ipv4Addr, port: u16, options: &[&str]) -> SmtpSink {
        let program = require_program("smtp-sink", "postfix");
        let dir = TempDir::new("sink");
        // smtp-sink refuses to run as root: it drops to the postfix user, which must be
        // able to write the transaction files.
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(chown.success(), "chown postfix {}", dir.path().display());
        let template = format!("{}/msg.", dir.path().display());
        let addr = SocketAddr::from((ip, port));
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("log file");
        let child = Command::new(program)
            .args([
                "-4",
                "-c",
                "-u",
                "postfix",
                "-h",
                "sink.test",
                "-d",
                &template,
            ])
            .args(options)
            .arg(format!("{ip}:{port}"))
            .arg("64")
            .stdout(Stdio::from(log.try_clone().expect("dup")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start smtp-sink");
        let mut sink = SmtpSink { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!(
                    "smtp-sink exited ({status}): {}",
                    std::fs::read_to_string(sink.dir.path().join("sink.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "smtp-sink did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The readiness probe above was a session: wait until smtp-sink has counted it,
        // so that counters() can leave it out.
        while sink.raw_counters().0 < 1 {
            assert!(
                Instant::now() < deadline,
                "smtp-sink did not count its first session"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        sink
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// smtp-sink's running counters (its `-c` output): sessions ended and messages
    /// received so far, not counting the readiness probe of [`SmtpSink::start`].
    pub fn counters(&self) -> (u64, u64) {
        let (sessions, messages) = self.raw_counters();
        (sessions.saturating_sub(1), messages)
    }

    fn raw_counters(&self) -> (u64, u64) {
        let log = std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default();
        let last = log
            .rsplit(['\r', '\n'])
            .find(|l| l.starts_with("sess="))
            .unwrap_or("");
        let field = |name: &str| {
            last.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("sess="), field("mesg="))
    }

    /// Every transaction received so far, oldest first: smtp-sink's own records
    /// (`X-Client-Addr`, `X-Mail-Args`, `X-Rcpt-Args`, a `Received` line) followed by
    /// the message as received (dot-unstuffed, CRLF as sent).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("msg."))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
