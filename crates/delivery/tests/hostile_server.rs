//! The delivery client against a scripted server that breaks the rules (see
//! `support`): replies RFC 5321 §4.3.2 does not allow, a final reply that never comes,
//! and envelope addresses a caller crafted to inject commands. Checked on the wire
//! (what the server received) and in the per-recipient outcomes.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sendwell_delivery::client::{ClientConfig, Envelope, RecipientOutcome, TlsPolicy};
use sendwell_delivery::route::{MxHost, Route};
use sendwell_delivery::{DeliveryReport, RemoteReply, SessionCache, deliver_cached, deliver_via};
use sendwell_dns::MockLookup;
use support::{EndOfData, FakeMx, Script};

const MESSAGE: &[u8] =
    b"From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: hostile\r\n\r\nbody\r\n";

fn config(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new("mail.sender.test");
    c.port = port;
    c.tls = TlsPolicy::Disabled;
    c
}

/// MX hosts `mx0.receiver.test`, `mx1...` in preference order at these addresses.
fn route(addrs: &[Ipv4Addr]) -> Route {
    Route {
        domain: "receiver.test".into(),
        hosts: addrs
            .iter()
            .enumerate()
            .map(|(i, a)| MxHost {
                preference: 10 * (i as u16 + 1),
                name: format!("mx{i}.receiver.test"),
                addrs: vec![IpAddr::V4(*a)],
            })
            .collect(),
        implicit: false,
    }
}

async fn send_with(
    config: &ClientConfig,
    addrs: &[Ipv4Addr],
    mail_from: &str,
    rcpts: &[&str],
) -> DeliveryReport {
    let rcpts: Vec<String> = rcpts.iter().map(|r| r.to_string()).collect();
    deliver_via(
        &route(addrs),
        config,
        Envelope {
            mail_from,
            recipients: &rcpts,
        },
        MESSAGE,
    )
    .await
}

async fn send(mx: &FakeMx, rcpts: &[&str]) -> DeliveryReport {
    send_with(
        &config(mx.addr().port()),
        &[Ipv4Addr::LOCALHOST],
        "alice@sender.test",
        rcpts,
    )
    .await
}

fn assert_no_data_sent(mx: &FakeMx) {
    assert!(mx.messages().is_empty(), "a message was sent");
    let lines = mx.lines();
    assert!(
        !lines.iter().any(|l| l.contains("Subject") || l == "."),
        "message text went out as commands: {lines:?}"
    );
}

fn assert_deferred_as_protocol_error(report: &DeliveryReport, mx: &FakeMx) {
    for r in &report.recipients {
        assert!(
            matches!(r, RecipientOutcome::Deferred { status, .. } if status == "4.5.0"),
            "{r:?}"
        );
    }
    let error = report.attempts.last().and_then(|a| a.error.clone());
    assert!(
        error.as_deref().unwrap_or("").contains("unexpected reply"),
        "{error:?}"
    );
    assert_no_data_sent(mx);
}

/// RFC 5321 §4.1.1.4: only 354 opens the message. A 250 to DATA used to count as
/// the recipients' outcome, so they were "delivered" with no data sent.
#[tokio::test]
async fn a_250_to_data_is_never_delivered() {
    for pipelining in [true, false] {
        let mx = FakeMx::start(
            Ipv4Addr::LOCALHOST,
            0,
            Script {
                pipelining,
                data: "250 2.0.0 ok",
                ..Script::default()
            },
        )
        .await;
        let report = send(&mx, &["bob@receiver.test", "carol@receiver.test"]).await;
        assert_deferred_as_protocol_error(&report, &mx);
        assert!(
            mx.lines().iter().any(|l| l == "DATA"),
            "pipelining={pipelining}"
        );
    }
}

/// A 3yz other than 354 to DATA, or a 3yz to MAIL or RCPT: protocol errors.
#[tokio::test]
async fn intermediate_replies_out_of_place_are_protocol_errors() {
    let cases = [
        Script {
            data: "334 what now",
            ..Script::default()
        },
        Script {
            mail: "354 go ahead",
            ..Script::default()
        },
        Script {
            rcpt: "354 go ahead",
            ..Script::default()
        },
    ];
    for script in cases {
        for pipelining in [true, false] {
            let script = Script {
                pipelining,
                ..script.clone()
            };
            let mx = FakeMx::start(Ipv4Addr::LOCALHOST, 0, script.clone()).await;
            let report = send(&mx, &["bob@receiver.test"]).await;
            assert_deferred_as_protocol_error(&report, &mx);
        }
    }
}

/// 4yz and 5yz to DATA are the accepted recipients' outcome, quoted verbatim.
#[tokio::test]
async fn refusals_of_data_are_the_recipients_outcome() {
    let mx = FakeMx::start(
        Ipv4Addr::LOCALHOST,
        0,
        Script {
            data: "451 4.3.0 try again later",
            ..Script::default()
        },
    )
    .await;
    let report = send(&mx, &["bob@receiver.test"]).await;
    assert!(
        matches!(&report.recipients[0], RecipientOutcome::Deferred { status, reason } if status == "4.3.0" && reason == "451 4.3.0 try again later"),
        "{report:?}"
    );
    assert_eq!(
        report.replies[0],
        Some(RemoteReply {
            host: "mx0.receiver.test".into(),
            reply: "451 4.3.0 try again later".into()
        })
    );

    let mx = FakeMx::start(
        Ipv4Addr::LOCALHOST,
        0,
        Script {
            data: "554 5.7.1 not from you",
            rcpt_for: vec![("nobody@", "550 5.1.1 no such user")],
            ..Script::default()
        },
    )
    .await;
    let report = send(&mx, &["bob@receiver.test", "nobody@receiver.test"]).await;
    assert!(
        matches!(&report.recipients[0], RecipientOutcome::Failed { status, remote: true, .. } if status == "5.7.1"),
        "{report:?}"
    );
    assert!(
        matches!(&report.recipients[1], RecipientOutcome::Failed { status, .. } if status == "5.1.1"),
        "{report:?}"
    );
    assert_eq!(
        report.replies[1].as_ref().map(|r| r.reply.as_str()),
        Some("550 5.1.1 no such user")
    );
    assert_no_data_sent(&mx);
}

/// A 3yz to the end of data: the server has the message or not; not delivered,
/// retried later.
#[tokio::test]
async fn a_3xx_to_the_end_of_data_defers() {
    let mx = FakeMx::start(
        Ipv4Addr::LOCALHOST,
        0,
        Script {
            end_of_data: vec![EndOfData::Reply("354 more please")],
            ..Script::default()
        },
    )
    .await;
    let report = send(&mx, &["bob@receiver.test"]).await;
    assert!(
        matches!(&report.recipients[0], RecipientOutcome::Deferred { status, .. } if status == "4.5.0"),
        "{report:?}"
    );
    assert_eq!(mx.messages().len(), 1);
}

/// RFC 5321 §4.5.3.2.6, §6.1: once the whole message is sent, a reply that never
/// comes means the server may have it. The recipients wait for the next scheduled
/// retry; the next MX is not tried in the same run (that risked a duplicate).
#[tokio::test]
async fn no_final_reply_is_not_followed_by_the_next_mx() {
    for end in [EndOfData::Close, EndOfData::Stall] {
        let first = FakeMx::start(
            Ipv4Addr::LOCALHOST,
            0,
            Script {
                end_of_data: vec![end.clone()],
                ..Script::default()
            },
        )
        .await;
        let port = first.addr().port();
        let second = FakeMx::start(Ipv4Addr::new(127, 0, 0, 2), port, Script::default()).await;
        let mut config = config(port);
        // The stalled case waits this long for the final reply.
        config.timeouts.data_end = Duration::from_secs(1);
        let report = send_with(
            &config,
            &[Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2)],
            "alice@sender.test",
            &["bob@receiver.test"],
        )
        .await;
        assert!(
            matches!(&report.recipients[0], RecipientOutcome::Deferred { status, reason } if status == "4.4.2" && reason.contains("may have the message")),
            "{end:?}: {report:?}"
        );
        assert_eq!(first.messages().len(), 1);
        assert_eq!(second.connections(), 0, "{end:?}: the next MX was tried");
        assert_eq!(report.attempts.len(), 1, "{:?}", report.attempts);
    }
}

/// The same through the connection cache: a cached session that loses the final
/// reply is not followed by a fresh session in the same run, and is not kept.
#[tokio::test]
async fn a_cached_session_losing_the_final_reply_is_not_retried_at_once() {
    let mx = FakeMx::start(
        Ipv4Addr::LOCALHOST,
        0,
        Script {
            end_of_data: vec![
                EndOfData::Reply("250 2.0.0 first"),
                EndOfData::Close,
                EndOfData::Reply("250 2.0.0 third"),
            ],
            ..Script::default()
        },
    )
    .await;
    let lookup = MockLookup::from_zone(
        "receiver.test MX 10 mx0.receiver.test\nmx0.receiver.test A 127.0.0.1\n",
    )
    .unwrap();
    let config = config(mx.addr().port());
    let cache = SessionCache::new(Duration::from_secs(60), 1);
    let rcpts = vec!["bob@receiver.test".to_string()];
    let envelope = Envelope {
        mail_from: "alice@sender.test",
        recipients: &rcpts,
    };
    let first = deliver_cached(
        &lookup,
        &config,
        "receiver.test",
        envelope,
        MESSAGE,
        Some(&cache),
    )
    .await;
    assert!(first.recipients[0].is_delivered(), "{first:?}");
    let second = deliver_cached(
        &lookup,
        &config,
        "receiver.test",
        envelope,
        MESSAGE,
        Some(&cache),
    )
    .await;
    assert!(
        matches!(&second.recipients[0], RecipientOutcome::Deferred { status, .. } if status == "4.4.2"),
        "{second:?}"
    );
    assert_eq!(mx.connections(), 1, "a fresh session was opened at once");
    assert_eq!(mx.messages().len(), 2);
    // The broken session was not kept: the next delivery opens a new one.
    let third = deliver_cached(
        &lookup,
        &config,
        "receiver.test",
        envelope,
        MESSAGE,
        Some(&cache),
    )
    .await;
    assert!(third.recipients[0].is_delivered(), "{third:?}");
    assert_eq!(mx.connections(), 2);
}

/// RFC 5321 §4.1.2: an address that is not a mailbox is never written. A recipient
/// crafted to add `RCPT TO:<victim@evil>` fails alone; the others are delivered.
#[tokio::test]
async fn addresses_that_would_inject_commands_are_never_written() {
    for pipelining in [true, false] {
        let mx = FakeMx::start(
            Ipv4Addr::LOCALHOST,
            0,
            Script {
                pipelining,
                ..Script::default()
            },
        )
        .await;
        let report = send(
            &mx,
            &[
                "bob@receiver.test",
                "a@x>\r\nRCPT TO:<victim@evil>",
                "carol\u{85}@receiver.test",
                "dave@receiver.test> NOTIFY=NEVER",
            ],
        )
        .await;
        assert!(report.recipients[0].is_delivered(), "{report:?}");
        for r in &report.recipients[1..] {
            assert!(
                matches!(r, RecipientOutcome::Failed { status, remote: false, .. } if status == "5.1.3"),
                "{r:?}"
            );
        }
        let lines = mx.lines();
        assert!(!lines.iter().any(|l| l.contains("victim")), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("NOTIFY")), "{lines:?}");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("RCPT")).count(),
            1,
            "{lines:?}"
        );
    }

    // A crafted reverse-path fails the whole message before any connection.
    let quiet = FakeMx::start(Ipv4Addr::LOCALHOST, 0, Script::default()).await;
    let report = send_with(
        &config(quiet.addr().port()),
        &[Ipv4Addr::LOCALHOST],
        "a@x>\r\nRCPT TO:<victim@evil>",
        &["bob@receiver.test", "carol@receiver.test"],
    )
    .await;
    for r in &report.recipients {
        assert!(
            matches!(r, RecipientOutcome::Failed { status, remote: false, .. } if status == "5.1.7"),
            "{r:?}"
        );
    }
    assert_eq!(quiet.connections(), 0);
    assert!(report.attempts.is_empty());
}

/// With PIPELINING, a refused MAIL decides every recipient, even when the server then
/// answers DATA with a reply it should not give: the session is broken, so no RSET is
/// sent into it (a server reading message data would never answer it).
#[tokio::test]
async fn a_refused_mail_decides_even_when_data_gets_a_wrong_reply() {
    let mx = FakeMx::start(
        Ipv4Addr::LOCALHOST,
        0,
        Script {
            mail: "550 5.7.1 sender refused",
            data: "250 2.0.0 ok",
            ..Script::default()
        },
    )
    .await;
    let report = send(&mx, &["bob@receiver.test"]).await;
    assert!(
        matches!(&report.recipients[0], RecipientOutcome::Failed { reason, .. } if reason.contains("550 5.7.1 sender refused")),
        "{:?}",
        report.recipients
    );
    let lines = mx.lines();
    assert!(!lines.iter().any(|l| l == "RSET"), "{lines:?}");
    assert_no_data_sent(&mx);
}
