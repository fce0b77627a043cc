//! Limits that must hold under parallel attempts, not only sequential ones (issue 9):
//! failed logins from one client, connection pools per listener, slow data.

mod serve_support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serve_support::{Client, PASSWORD, Server, set};

/// `n` logins at once from 127.0.0.1 on the implicit-TLS port, each with its own
/// connection, `login(i)` as the name and a wrong password; the reply codes.
fn parallel_wrong_logins(s: &Server, n: usize, login: fn(usize) -> String) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(n));
    let addr = s.submissions;
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let (mut c, _) = Client::connect_tls(addr);
                c.ehlo();
                barrier.wait();
                c.auth_plain(&login(i), "wrong guess").code.get()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn count(codes: &[u16], code: u16) -> usize {
    codes.iter().filter(|&&c| c == code).count()
}

fn quick_failures(t: String, per_account: &str, per_ip: &str) -> String {
    let t = set(t, "failure_delay_ms", "5");
    let t = set(t, "max_failure_delay_ms", "20");
    let t = set(t, "max_failures", per_account);
    let t = set(t, "max_failures_per_ip", per_ip);
    set(t, "max_connections_per_ip", "100")
}

#[test]
fn parallel_guesses_for_one_account_get_exactly_max_failures_checks() {
    let s = Server::start(|t| quick_failures(t, "10", "1000"));
    let codes = parallel_wrong_logins(&s, 20, |_| "alice@example.test".into());
    // Exactly max_failures passwords were checked (535); every other attempt was
    // refused unchecked (454 4.7.0), however the 20 connections raced.
    assert_eq!(count(&codes, 535), 10, "{codes:?}");
    assert_eq!(count(&codes, 454), 10, "{codes:?}");
    // Locked out for alice from here, right password or not.
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 454);
}

#[test]
fn parallel_guesses_across_names_get_exactly_max_failures_per_ip_checks() {
    let s = Server::start(|t| quick_failures(t, "10", "30"));
    let codes = parallel_wrong_logins(&s, 40, |i| format!("guess{i}@example.test"));
    assert_eq!(count(&codes, 535), 30, "{codes:?}");
    assert_eq!(count(&codes, 454), 10, "{codes:?}");
}

#[test]
fn parallel_guesses_wait_for_each_failure_delay() {
    // 200 ms doubling to 800 ms: five parallel guesses from one client are checked
    // one after another, each after the previous one's delay, so the last answer
    // comes no sooner than 200 + 400 + 800 + 800 + 800 ms after the start. (A lower bound
    // on elapsed time: a slow machine only makes it longer.)
    let s = Server::start(|t| {
        let t = set(t, "failure_delay_ms", "200");
        let t = set(t, "max_failure_delay_ms", "800");
        set(t, "max_connections_per_ip", "100")
    });
    let start = Instant::now();
    let codes = parallel_wrong_logins(&s, 5, |_| "alice@example.test".into());
    assert_eq!(count(&codes, 535), 5, "{codes:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(200 + 400 + 800 + 800 + 800),
        "{:?}",
        start.elapsed()
    );
}
