//! BIND (`named`) as an authoritative DNS server for test zones, on 127.0.0.1.
//!
//! ```no_run
//! let dns = sendwell_testkit::Bind::start(&[(
//!     "example.test",
//!     "@ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n@ A 192.0.2.1\n",
//! )]);
//! let server = dns.addr(); // 127.0.0.1:PORT, for --resolver
//! ```
//!
//! Each zone body is written after a generated `$ORIGIN`, `$TTL`, SOA and NS, so a
//! test gives only the records it cares about, in zone-file syntax relative to the
//! origin. Zones are checked with `named-checkzone` first, so a typo in a test says so.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Netns, TempDir, free_port, require_program};

/// A running `named`, stopped on drop.
#[derive(Debug)]
pub struct Bind {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Bind {
    /// Start `named` serving `zones` (origin, records) on 127.0.0.1 at a free port.
    /// Panics, saying why, if it cannot.
    pub fn start(zones: &[(&str, &str)]) -> Bind {
        Self::spawn(zones, free_port(), None)
    }

    /// Start `named` inside `netns` on 127.0.0.1:53, the address the namespace's
    /// resolv.conf names, so every program in the namespace resolves through it.
    pub fn start_in(netns: &Netns, zones: &[(&str, &str)]) -> Bind {
        Self::spawn(zones, 53, Some(netns))
    }

    fn spawn(zones: &[(&str, &str)], port: u16, netns: Option<&Netns>) -> Bind {
        let named = require_program("named", "bind9");
        let checkzone = require_program("named-checkzone", "bind9-utils");
        let dir = TempDir::new("bind");
        let mut conf = format!(
            "options {{\n  directory \"{d}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  \
             listen-on-v6 {{ none; }};\n  recursion no;\n  pid-file \"{d}/named.pid\";\n  \
             dnssec-validation no;\n  allow-transfer {{ any; }};\n  notify no;\n  \
             check-names primary ignore;\n}};\n\
             controls {{ }};\n",
            d = dir.path().display()
        );
        for (origin, body) in zones {
            let origin = origin.trim_end_matches('.');
            let file = dir.path().join(format!("{origin}.zone"));
            let text = format!(
                "$ORIGIN {origin}.\n$TTL 300\n@ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n\
                 @ IN NS ns.{origin}.\nns.{origin}. IN A 127.0.0.1\n{body}\n"
            );
            std::fs::write(&file, text).expect("write zone file");
            let check = Command::new(&checkzone)
                .arg(origin)
                .arg(&file)
                .output()
                .expect("run named-checkzone");
            assert!(
                check.status.success(),
                "zone {origin} is not valid:\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
            conf.push_str(&format!(
                "zone \"{origin}\" {{ type primary; file \"{}\"; }};\n",
                file.display()
            ));
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).expect("write named.conf");
        let log = std::fs::File::create(dir.path().join("named.log")).expect("log file");
        let mut command = match netns {
            Some(ns) => ns.command(named),
            None => Command::new(named),
        };
        let child = command
            .args(["-g", "-4", "-u", "root", "-c"])
            .arg(&conf_path)
            .stdout(Stdio::from(log.try_clone().expect("dup log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start named");
        let mut bind = Bind { child, port, dir };
        bind.wait_ready();
        bind
    }

    /// The server's address, for `--resolver`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The working directory (zone files, `named.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "named exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
                );
            }
            let log =
                std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default();
            // A zone named refuses to load (named-checkzone passed it) would answer
            // SERVFAIL to everything: fail loudly instead.
            if log.contains("not loaded due to errors") {
                panic!("named refused a zone:\n{log}");
            }
            // "running as: named ..." is printed at start, before zones load; "all zones
            // loaded" comes after every zone is served (a query before it may SERVFAIL).
            if log.contains("all zones loaded") {
                return;
            }
            if Instant::now() > deadline {
                panic!("named did not start within 20 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
