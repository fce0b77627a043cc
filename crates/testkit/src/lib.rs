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

/// A port free for both TCP and UDP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP socket on 127.0.0.1");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
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
