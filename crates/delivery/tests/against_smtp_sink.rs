//! The delivery client against a real server, Postfix's smtp-sink, on loopback: what
//! the server received is read back from the transactions it wrote to disk.

use std::net::{IpAddr, Ipv4Addr};

use sendwell_delivery::client::{ClientConfig, Envelope, RecipientOutcome, TlsPolicy};
use sendwell_delivery::route::{MxHost, Route};
use sendwell_delivery::{DeliveryReport, deliver_via};
use sendwell_testkit::{SmtpSink, free_port};

const MESSAGE: &[u8] = b"From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: dots\r\n\r\n\
.leading dot\r\n..two dots\r\nbare LF next\n.\nend\r\n";

fn config(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new("mail.sender.test");
    c.port = port;
    c.tls = TlsPolicy::Opportunistic;
    c
}

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

fn recipients() -> Vec<String> {
    vec!["bob@receiver.test".into(), "carol@receiver.test".into()]
}

async fn send(sink_port: u16, addrs: &[Ipv4Addr], message: &[u8]) -> DeliveryReport {
    let rcpts = recipients();
    deliver_via(
        &route(addrs),
        &config(sink_port),
        Envelope {
            mail_from: "alice@sender.test",
            recipients: &rcpts,
        },
        message,
    )
    .await
}

fn body_of(dump: &[u8]) -> Vec<u8> {
    // smtp-sink writes its own records and a Received line before the message.
    let text = dump;
    let start = text
        .windows(6)
        .position(|w| w == b"From: ")
        .expect("the message is in the dump");
    text[start..].to_vec()
}

#[tokio::test]
async fn pipelined_delivery_is_exact() {
    let sink = SmtpSink::start(&[]);
    let report = send(sink.addr().port(), &[Ipv4Addr::LOCALHOST], MESSAGE).await;
    assert!(
        report.recipients.iter().all(RecipientOutcome::is_delivered),
        "{report:?}"
    );
    assert_eq!(report.remote_host.as_deref(), Some("mx0.receiver.test"));
    let dumps = sink.messages();
    assert_eq!(dumps.len(), 1, "one transaction for both recipients");
    let dump = String::from_utf8_lossy(&dumps[0]).into_owned();
    assert!(dump.contains("X-Rcpt-Args: <bob@receiver.test>"), "{dump}");
    assert!(
        dump.contains("X-Rcpt-Args: <carol@receiver.test>"),
        "{dump}"
    );
    // smtp-sink announces no SIZE, so none is sent.
    assert!(
        dump.contains("X-Mail-Args: <alice@sender.test>\n"),
        "{dump}"
    );
    // Dots are unstuffed by the receiver exactly, and the bare LF inside the content
    // did not end the data early. (smtp-sink writes lines with LF endings.)
    let body = body_of(&dumps[0]);
    assert!(
        body.ends_with(b"\n\n.leading dot\n..two dots\nbare LF next\n.\nend\n\n"),
        "{dump}"
    );
}

#[tokio::test]
async fn without_pipelining_and_with_8bit() {
    let sink = SmtpSink::start(&["-p"]);
    let message = "From: alice@sender.test\r\nSubject: caf\u{e9}\r\n\r\nna\u{ef}ve\r\n".as_bytes();
    let report = send(sink.addr().port(), &[Ipv4Addr::LOCALHOST], message).await;
    assert!(
        report.recipients.iter().all(RecipientOutcome::is_delivered),
        "{report:?}"
    );
    let dump = String::from_utf8_lossy(&sink.messages()[0]).into_owned();
    assert!(dump.contains("BODY=8BITMIME"), "{dump}");

    // A server without 8BITMIME gets no 8-bit data: RFC 6152 §3.
    let no8 = SmtpSink::start(&["-8"]);
    let report = send(no8.addr().port(), &[Ipv4Addr::LOCALHOST], message).await;
    for r in &report.recipients {
        assert!(
            matches!(r, RecipientOutcome::Failed { status, .. } if status == "5.6.3"),
            "{r:?}"
        );
    }
    assert!(no8.messages().is_empty());
}

#[tokio::test]
async fn rcpt_refusals_are_per_recipient_verdicts() {
    let soft = SmtpSink::start(&["-r", "RCPT"]);
    let report = send(soft.addr().port(), &[Ipv4Addr::LOCALHOST], MESSAGE).await;
    for r in &report.recipients {
        assert!(
            matches!(r, RecipientOutcome::Deferred { status, reason } if status.starts_with('4') && reason.starts_with("450")),
            "{r:?}"
        );
    }
    let hard = SmtpSink::start(&["-f", "RCPT"]);
    let report = send(hard.addr().port(), &[Ipv4Addr::LOCALHOST], MESSAGE).await;
    for r in &report.recipients {
        assert!(
            matches!(r, RecipientOutcome::Failed { status, remote: true, .. } if status.starts_with('5')),
            "{r:?}"
        );
    }
    // No recipient was accepted, so no DATA was sent: whatever smtp-sink recorded of
    // the envelope holds no message.
    assert!(
        hard.messages()
            .iter()
            .all(|m| !m.windows(6).any(|w| w == b"From: ")),
        "no message content reached the server"
    );
    let data = SmtpSink::start(&["-f", "."]);
    let report = send(data.addr().port(), &[Ipv4Addr::LOCALHOST], MESSAGE).await;
    assert!(
        report
            .recipients
            .iter()
            .all(|r| matches!(r, RecipientOutcome::Failed { .. })),
        "{report:?}"
    );
}

#[tokio::test]
async fn next_host_when_one_is_down_or_refuses() {
    // The same port on two loopback addresses: nothing listens on 127.0.0.1, the
    // first MX; the sink listens on 127.0.0.2, the second.
    let port = free_port();
    let sink = SmtpSink::start_on(Ipv4Addr::new(127, 0, 0, 2), port, &[]);
    let report = send(
        port,
        &[Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2)],
        MESSAGE,
    )
    .await;
    assert!(
        report.recipients.iter().all(RecipientOutcome::is_delivered),
        "{report:?}"
    );
    assert_eq!(report.attempts.len(), 2);
    assert!(report.attempts[0].error.is_some());
    assert_eq!(report.remote_host.as_deref(), Some("mx1.receiver.test"));
    assert_eq!(sink.messages().len(), 1);

    // A server that answers 421 at connection: try the next.
    let port = free_port();
    let _busy = SmtpSink::start_on(Ipv4Addr::new(127, 0, 0, 3), port, &["-Q", "CONNECT"]);
    let good = SmtpSink::start_on(Ipv4Addr::new(127, 0, 0, 4), port, &[]);
    let report = send(
        port,
        &[Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4)],
        MESSAGE,
    )
    .await;
    assert!(
        report.recipients.iter().all(RecipientOutcome::is_delivered),
        "{report:?}"
    );
    assert_eq!(good.messages().len(), 1);

    // Every host down: deferred, never failed.
    let report = send(free_port(), &[Ipv4Addr::LOCALHOST], MESSAGE).await;
    assert!(
        report
            .recipients
            .iter()
            .all(|r| matches!(r, RecipientOutcome::Deferred { .. })),
        "{report:?}"
    );
}

#[tokio::test]
async fn required_tls_is_never_skipped() {
    // smtp-sink offers no STARTTLS: a domain that requires TLS gets nothing.
    let sink = SmtpSink::start(&[]);
    let mut c = config(sink.addr().port());
    c.tls = TlsPolicy::Required;
    let rcpts = recipients();
    let report = deliver_via(
        &route(&[Ipv4Addr::LOCALHOST]),
        &c,
        Envelope {
            mail_from: "alice@sender.test",
            recipients: &rcpts,
        },
        MESSAGE,
    )
    .await;
    assert!(
        report
            .recipients
            .iter()
            .all(|r| matches!(r, RecipientOutcome::Deferred { status, .. } if status == "4.7.5")),
        "{report:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_cached_session_carries_the_next_messages() {
    use sendwell_delivery::{SessionCache, deliver_cached};
    use sendwell_dns::MockLookup;
    let lookup = MockLookup::from_zone(
        "receiver.test MX 10 mx.receiver.test\nmx.receiver.test A 127.0.0.1\n",
    )
    .unwrap();
    let rcpts = recipients();
    let send = |port: u16, cache: Option<&'static SessionCache>| {
        let lookup = &lookup;
        let rcpts = &rcpts;
        async move {
            deliver_cached(
                lookup,
                &config(port),
                "receiver.test",
                Envelope {
                    mail_from: "alice@sender.test",
                    recipients: rcpts,
                },
                MESSAGE,
                cache,
            )
            .await
        }
    };
    // With a cache: three messages, one session (still open: no session has ended).
    let cache: &'static SessionCache = Box::leak(Box::new(SessionCache::new(
        std::time::Duration::from_secs(1),
        4,
    )));
    let sink = SmtpSink::start(&[]);
    for i in 0..3 {
        let report = send(sink.addr().port(), Some(cache)).await;
        assert!(
            report.recipients.iter().all(RecipientOutcome::is_delivered),
            "message {i}: {report:?}"
        );
    }
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(
        sink.counters(),
        (0, 3),
        "one open session carried all three"
    );
    // Idle past the limit: the sweep says QUIT; the one session ends.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    cache.sweep().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while sink.counters() != (1, 3) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            sink.counters()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Without: a session per message.
    let sink = SmtpSink::start(&[]);
    for _ in 0..2 {
        assert!(send(sink.addr().port(), None).await.recipients[0].is_delivered());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while sink.counters() != (2, 2) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            sink.counters()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
