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
    set(t, "max_submission_connections_per_ip", "100")
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
        set(t, "max_submission_connections_per_ip", "100")
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

#[test]
fn an_mx_flood_never_takes_a_submission_slot() {
    let s = Server::start(|t| {
        let t = set(t, "max_connections", "20");
        set(t, "max_connections_per_ip", "20")
    });
    // Twenty idle connections fill the MX pool (from one address here; the issue saw
    // 500 from 25 addresses) ...
    let mut idle = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while idle.len() < 20 {
        let (c, greeting) = Client::connect(s.mx);
        // (The harness's own readiness probes may hold a slot for a moment.)
        if greeting.code.get() == 220 {
            idle.push(c);
        } else {
            assert!(Instant::now() < deadline, "{greeting}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let (_, refused) = Client::connect(s.mx);
    assert_eq!(refused.code.get(), 421, "{refused}");
    // ... and a user still submits, on both submission ports.
    {
        let (mut c, greeting) = Client::connect_tls(s.submissions);
        assert_eq!(greeting.code.get(), 220, "{greeting}");
        c.ehlo();
        assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 235);
        let r = c.send_mail(
            "alice@example.test",
            &["bob@elsewhere.test"],
            "From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n",
        );
        assert_eq!(r.code.get(), 250, "{r}");
    }
    // (`alice` asserts the greeting and the login.)
    let _ = s.alice();
}

#[test]
fn a_data_dripper_is_disconnected_at_the_minimum_rate() {
    use std::io::{BufRead, BufReader, Write};
    let s = Server::start(|t| {
        let t = set(t, "min_data_rate", "1000");
        set(t, "data_rate_grace_secs", "2")
    });
    // A message sent at once is not affected.
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    let r = c.send_mail(
        "someone@elsewhere.test",
        &["postmaster@example.test"],
        "From: someone@elsewhere.test\r\nSubject: quick\r\n\r\nhello\r\n",
    );
    assert_eq!(r.code.get(), 250, "{r}");

    let stream = std::net::TcpStream::connect(s.mx).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut expect = |reader: &mut BufReader<std::net::TcpStream>, code: &str| loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "{line}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect(&mut reader, "220");
    for (cmd, code) in [
        ("EHLO drip.test\r\n", "250"),
        ("MAIL FROM:<someone@elsewhere.test>\r\n", "250"),
        ("RCPT TO:<postmaster@example.test>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        writer.write_all(cmd.as_bytes()).unwrap();
        expect(&mut reader, code);
    }
    let start = Instant::now();
    // Four octets a second, far below 1000: cut off once the grace period is over,
    // long before the data timeout (600 s) or the session's (1800 s).
    let dripper = std::thread::spawn(move || {
        for b in b"Subject: drip\r\n\r\n".iter().cycle().take(400) {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let mut last = String::new();
    reader.read_line(&mut last).unwrap();
    assert!(
        last.starts_with("421 4.4.2") && last.contains("too slow"),
        "{last:?} after {:?}",
        start.elapsed()
    );
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).unwrap_or(0), 0, "closed");
    dripper.join().unwrap();
    assert!(s.log().contains("too slow"), "{}", s.log());
}
