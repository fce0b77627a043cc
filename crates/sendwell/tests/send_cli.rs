//! `sendwell send` refuses what it must not send, before it sends anything.
//!
//! - An address (`--from`, `--to`) that is not an RFC 5321 §4.1.2 Mailbox, a `--helo`
//!   that is not a host name, a `--subject` with a line break: each could add an SMTP
//!   command or a header field. Each is refused with exit 1 and a message naming the
//!   option, and no DNS query is even made: the test's "resolver" is a UDP socket that
//!   must receive nothing.
//! - Straight to the MX without `--key`, a warning says the message goes unsigned; with
//!   `--key`, or a whole message already signed, there is none (against BIND on
//!   loopback, with a null-MX domain so that nothing is delivered anywhere).

use std::net::UdpSocket;
use std::process::{Command, Output};

use sendwell_testkit::{Bind, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_sendwell");

/// The text of the warning for an unsigned message.
const UNSIGNED_WARNING: &str = "the message is not DKIM-signed";

/// Run `sendwell send ARGS --resolver <a silent UDP socket>` and return the output and
/// whether any DNS query reached the socket.
fn send_with_silent_resolver(args: &[&str]) -> (Output, bool) {
    let resolver = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    let addr = resolver.local_addr().expect("local address").to_string();
    let out = Command::new(BIN)
        .arg("send")
        .args(args)
        .args(["--resolver", &addr])
        .output()
        .expect("run sendwell send");
    resolver.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 512];
    let queried = resolver.recv_from(&mut buf).is_ok();
    (out, queried)
}

/// The command was refused as a usage of bad input: exit 1, `needle` in the message,
/// nothing on standard output, no DNS query.
fn assert_refused(args: &[&str], needle: &str) {
    let (out, queried) = send_with_silent_resolver(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing reported as sent");
    assert!(!queried, "{args:?}: refused before any DNS query");
}

#[test]
fn a_from_address_with_smtp_commands_is_refused() {
    // The audit's example: this put an extra RCPT on the wire and a line in From:.
    assert_refused(
        &[
            "--from",
            "a@x.test>\r\nRCPT TO:<victim@evil.test>\r\nX: <a@x.test",
            "--to",
            "b@y.test",
        ],
        "--from",
    );
    assert_refused(
        &[
            "--from",
            "a@x.test\nBcc: victim@evil.test",
            "--to",
            "b@y.test",
        ],
        "RFC 5321",
    );
}

#[test]
fn a_to_address_with_smtp_commands_is_refused() {
    assert_refused(
        &[
            "--from",
            "a@x.test",
            "--to",
            "b@y.test>\r\nRCPT TO:<victim@evil.test",
        ],
        "--to",
    );
    // One bad recipient among good ones: the whole command is refused.
    assert_refused(
        &[
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
            "--to",
            "c@y.test>\r\nDATA",
        ],
        "--to",
    );
}

#[test]
fn only_bare_mailboxes_are_addresses() {
    for bad in [
        "Bob <b@y.test>",
        "<b@y.test>",
        "b@y.test, c@y.test",
        "b @y.test",
        "b@",
        "@y.test",
        "no-at-sign",
    ] {
        assert_refused(&["--from", "a@x.test", "--to", bad], "--to");
        assert_refused(&["--from", bad, "--to", "b@y.test"], "--from");
    }
}

#[test]
fn a_from_address_literal_is_refused() {
    assert_refused(
        &["--from", "a@[192.0.2.1]", "--to", "b@y.test"],
        "domain name",
    );
}

#[test]
fn a_subject_with_a_line_break_is_refused() {
    for subject in [
        "Hello\r\nBcc: victim@evil.test",
        "Hello\nX-Injected: yes",
        "Hello\rX-Injected: yes",
    ] {
        assert_refused(
            &[
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
                "--subject",
                subject,
            ],
            "subject",
        );
    }
}

#[test]
fn a_helo_name_with_smtp_commands_is_refused() {
    assert_refused(
        &[
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
            "--helo",
            "mail.x.test\r\nMAIL FROM:<victim@evil.test>",
        ],
        "--helo",
    );
}

#[test]
fn insecure_tls_is_only_for_via() {
    let out = Command::new(BIN)
        .args([
            "send",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
            "--insecure-tls",
        ])
        .output()
        .expect("run sendwell send");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--via"));
}

/// Run `sendwell send` to `x@nomail.test` (a null MX: refused at once, exit 21, no
/// connection anywhere) with `extra` arguments, against `dns`.
fn send_to_null_mx(dns: &Bind, extra: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(["send", "--from", "a@sender.test", "--to", "x@nomail.test"])
        .args(extra)
        .args(["--resolver", &dns.addr().to_string()])
        .output()
        .expect("run sendwell send");
    assert_eq!(
        out.status.code(),
        Some(21),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn unsigned_mail_to_the_mx_is_warned_about() {
    let dns = Bind::start(&[("nomail.test", "@ MX 0 .\n")]);
    let tmp = TempDir::new("send-cli");

    let out = send_to_null_mx(&dns, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(UNSIGNED_WARNING), "{stderr}");
    assert!(stderr.contains("--key"), "says how to sign: {stderr}");

    // With --key: signed, no warning.
    let key = tmp.path().join("dkim.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .output()
        .expect("run openssl genpkey");
    assert!(made.status.success(), "openssl genpkey");
    let key = key.to_str().expect("UTF-8 path");
    let out = send_to_null_mx(&dns, &["--key", key, "--selector", "s1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(UNSIGNED_WARNING), "{stderr}");

    // A whole message that comes signed already: no warning either.
    let signed = tmp.path().join("signed.eml");
    std::fs::write(
        &signed,
        "DKIM-Signature: v=1; a=ed25519-sha256; d=sender.test; s=s1; h=from; bh=; b=\r\n\
         From: a@sender.test\r\nSubject: signed elsewhere\r\n\r\nbody\r\n",
    )
    .expect("write the message");
    let out = send_to_null_mx(&dns, &["--file", signed.to_str().expect("UTF-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(UNSIGNED_WARNING), "{stderr}");
}
