//! Test support: real peers started on loopback for integration tests.
//!
//! Everything here starts a real program from Debian's packages (installed by
//! `scripts/test.sh`), on 127.0.0.1 at a free high port, in a fresh temporary
//! directory, and stops it by its pid when the handle is dropped, also when a test
//! panics. A peer that cannot start makes the test fail loudly: never a skip.

pub mod bind;
pub mod netns;
pub mod sink;
pub mod tempdir;
pub mod world;

pub use bind::Bind;
pub use netns::Netns;
pub use sink::SmtpSink;
pub use tempdir::TempDir;
pub use world::{MailWorld, SigningSetup, WorldOptions};

use std::net::{TcpListener, UdpSocket};

/// A port free for both TCP and UDP on 127.0.0.1 right now, for a server a test
/// starts.
///
/// Chosen at random *below* the kernel's ephemeral range: a port the kernel handed out
/// for `bind(0)` comes from that range, and the kernel may give the same number to the
/// next outgoing connection of any process before the test's server binds it (seen as
/// "Address already in use" in a parallel test run). Ports are not handed out twice by
/// one test process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let (low, high) = below_ephemeral_range();
    let random = RandomState::new();
    for attempt in 0u32..1000 {
        let span = u64::from(high - low) + 1;
        let port = low + (random.hash_one((std::process::id(), attempt)) % span) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        let given = given.get_or_insert_with(HashSet::new);
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            given.insert(port);
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
}

/// The ports to choose test ports from: 10000 up to just below the ephemeral range of
/// `/proc/sys/net/ipv4/ip_local_port_range` (32768 by default).
fn below_ephemeral_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_low > 11000 {
        (10000, ephemeral_low - 1)
    } else {
        // An unusual configuration: any unprivileged port.
        (1024, 65535)
    }
}

/// Path of a program, or a panic that says which Debian package provides it.
pub fn require_program(name: &str, package: &str) -> std::path::PathBuf {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let path = std::path::Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{name} is not installed: this test needs the Debian package {package} \
         (scripts/test.sh installs it)"
    );
}

/// The standard output of a finished command, or a panic with everything it printed
/// when it failed.
pub fn succeeded(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
