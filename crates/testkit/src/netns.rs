//! A network namespace made by a test: its own loopback, its own port 25 and 53, and its
//! own `/etc/resolv.conf` (through `/etc/netns/NAME/resolv.conf`, which `ip netns exec`
//! bind-mounts), so every program started in it resolves through the test's DNS server.
//!
//! Only loopback addresses (127.0.0.0/8) inside the namespace are used. Dropping the
//! handle kills every process in the namespace and deletes it.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn ip(args: &[&str]) -> std::process::Output {
    Command::new(crate::require_program("ip", "iproute2"))
        .args(args)
        .output()
        .expect("run ip")
}

impl Netns {
    /// Make a namespace named `sw-<prefix>-<pid>-<n>` with loopback up, 127.0.0.1 to
    /// 127.0.0.9 usable as separate hosts, and resolv.conf pointing at 127.0.0.1.
    /// Panics (the test fails) if it cannot: these tests need root.
    pub fn new(prefix: &str) -> Netns {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        remove_stale();
        let name = format!(
            "sw-{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let out = ip(&["netns", "add", &name]);
        assert!(
            out.status.success(),
            "cannot create network namespace {name} (the tests run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns { name };
        let etc = format!("/etc/netns/{}", ns.name);
        std::fs::create_dir_all(&etc).expect("create /etc/netns/NAME");
        std::fs::write(format!("{etc}/resolv.conf"), "nameserver 127.0.0.1\n")
            .expect("write the namespace's resolv.conf");
        ns.run(&["ip", "link", "set", "lo", "up"]);
        for host in 2..=9u8 {
            ns.add_addr(Ipv4Addr::new(127, 0, 0, host));
        }
        ns
    }

    /// The namespace's name, for `ip netns exec NAME`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Put `addr`/8 on the namespace's loopback, so programs that insist on a local
    /// interface address (Postfix's `inet_interfaces`) accept it.
    pub fn add_addr(&self, addr: Ipv4Addr) {
        self.run(&["ip", "addr", "add", &format!("{addr}/8"), "dev", "lo"]);
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(crate::require_program("ip", "iproute2"));
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Run a command inside the namespace and panic, with its output, if it fails.
    pub fn run(&self, argv: &[&str]) -> String {
        let out = self
            .command(argv[0])
            .args(&argv[1..])
            .output()
            .unwrap_or_else(|e| panic!("run {argv:?} in {}: {e}", self.name));
        assert!(
            out.status.success(),
            "{argv:?} in {} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run one `#[ignore]`d test of the current test binary inside the namespace, so
    /// its own code (a client, a resolver) sees the namespace's network and DNS. The
    /// inner test is marked `#[ignore]` so that a plain `cargo test` lists it as
    /// ignored rather than running it outside; this call runs it with `--ignored
    /// --exact`. Panics with the inner test's output unless exactly it passed.
    pub fn run_test(&self, test_name: &str, env: &[(&str, &str)]) {
        let exe = std::env::current_exe().expect("the test binary's path");
        let out = self
            .command(exe)
            .args([
                test_name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .envs(env.iter().copied())
            .output()
            .expect("run the inner test");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "inner test {test_name} failed in {}:\n{stdout}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Kill every process in the namespace.
    pub fn kill_all(&self) {
        kill_namespace_pids(&self.name);
    }
}

fn kill_namespace_pids(name: &str) {
    let out = ip(&["netns", "pids", name]);
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = Command::new("kill").args(["-9", pid]).output();
    }
}

/// Delete namespaces left by test processes that no longer run (killed mid-test).
fn remove_stale() {
    let out = ip(&["netns", "list"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let mut parts = name.split('-');
        if parts.next() != Some("sw") {
            continue;
        }
        let pid = parts.nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            kill_namespace_pids(name);
            let _ = ip(&["netns", "del", name]);
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_namespace_pids(&self.name);
        // Processes take a moment to go; deleting the namespace works regardless.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}
