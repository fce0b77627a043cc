//! The remote delivery agent end to end on loopback: the real file queue, smtp-sink
//! as the receiving server (its faults chosen by its options), routes from a zone.
//! Checked: delivered once and gone from the queue; a 4xx then 2xx delivers once; a
//! 5xx bounces with an RFC 3464 notification into the sender's local mailbox; a
//! message whose sender is null never bounces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sendwell_delivery::agent::{AgentConfig, BounceRoute, RemoteDelivery};
use sendwell_delivery::client::{ClientConfig, TlsPolicy};
use sendwell_delivery::retry::RetrySchedule;
use sendwell_dns::MockLookup;
use sendwell_queue::local::LocalDelivery;
use sendwell_queue::{
    DeliveryStatus, Destination, Envelope, FileStore, QueueId, QueueStore, Recipient,
};
use sendwell_testkit::{SmtpSink, TempDir, free_port};

const MESSAGE: &[u8] = b"From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: queued\r\n\
Message-ID: <q1@sender.test>\r\n\r\nHello from the queue.\r\n";

fn zone() -> MockLookup {
    MockLookup::from_zone(
        "receiver.test MX 10 mx.receiver.test\nmx.receiver.test A 127.0.0.1\n\
         null.test MX 0 .\n",
    )
    .unwrap()
}

fn agent_config(port: u16) -> AgentConfig {
    let mut client = ClientConfig::new("mail.sender.test");
    client.port = port;
    client.tls = TlsPolicy::Disabled;
    let mut config = AgentConfig::new(client, "mail.sender.test");
    config.retry = RetrySchedule {
        steps: vec![Duration::from_secs(1)],
        then_every: Duration::from_secs(1),
        lifetime: Duration::from_secs(3600),
    };
    config.scan_every = Duration::from_millis(300);
    config
}

fn envelope(sender: &str, rcpts: &[&str]) -> Envelope {
    Envelope {
        id: QueueId::generate(),
        sender: sender.into(),
        recipients: rcpts
            .iter()
            .map(|r| Recipient {
                address: r.to_string(),
                original: None,
                destination: Destination::Remote,
            })
            .collect(),
        received_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        client_ip: None,
        helo: "client.sender.test".into(),
        auth_user: Some("alice@sender.test".into()),
        smtputf8: false,
        eight_bit: false,
    }
}

/// Senders at sender.test have local mailboxes; anyone else is remote.
fn bounce_route() -> BounceRoute {
    Arc::new(|sender: &str| {
        if sender.ends_with("@sender.test") {
            Destination::Mailbox(sender.to_ascii_lowercase())
        } else {
            Destination::Remote
        }
    })
}

async fn wait_until<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn state_of(store: &FileStore, id: QueueId) -> Option<Vec<DeliveryStatus>> {
    store
        .get(id)
        .await
        .unwrap()
        .map(|m| m.state.recipients.iter().map(|r| r.status).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_and_leaves_the_queue() {
    let dir = TempDir::new("agent-ok");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let sink = SmtpSink::start(&[]);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(sink.addr().port()),
        bounce_route(),
        None,
    );
    let env = envelope(
        "alice@sender.test",
        &["bob@receiver.test", "carol@receiver.test"],
    );
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    wait_until("delivery", || sink.messages().len() == 1).await;
    // Both recipients in one transaction; the message leaves the queue.
    let dump = String::from_utf8_lossy(&sink.messages()[0]).into_owned();
    assert!(
        dump.contains("X-Rcpt-Args: <bob@receiver.test>")
            && dump.contains("X-Rcpt-Args: <carol@receiver.test>")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get(id).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the message stays queued");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failure_then_success_delivers_once() {
    let dir = TempDir::new("agent-retry");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let port = free_port();
    let refusing = SmtpSink::start_on([127, 0, 0, 1].into(), port, &["-r", "RCPT"]);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(port),
        bounce_route(),
        None,
    );
    let env = envelope("alice@sender.test", &["bob@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = store.get(id).await.unwrap().expect("still queued");
        let r = &m.state.recipients[0];
        if r.attempts >= 1 {
            assert_eq!(r.status, DeliveryStatus::Queued);
            assert!(
                r.last_reply.as_deref().unwrap_or("").starts_with("450"),
                "{r:?}"
            );
            assert!(r.next_attempt.is_some());
            break;
        }
        assert!(Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(refusing);
    let accepting = SmtpSink::start_on([127, 0, 0, 1].into(), port, &[]);
    wait_until("the retry to deliver", || accepting.messages().len() == 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while state_of(&store, id).await.is_some() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(accepting.messages().len(), 1, "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_bounces_to_the_sender() {
    let dir = TempDir::new("agent-bounce");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let mail_root = dir.path().join("mail");
    let local = LocalDelivery::spawn(store.clone(), mail_root.clone(), "mail.sender.test".into());
    let sink = SmtpSink::start(&["-f", "RCPT", "-B", "550 5.1.1 no such user here"]);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(sink.addr().port()),
        bounce_route(),
        Some(local),
    );
    let env = envelope(
        "alice@sender.test",
        &["nobody@receiver.test", "x@null.test"],
    );
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    let inbox = sendwell_queue::maildir::mailbox_path(&mail_root, "alice@sender.test").join("new");
    let count = || std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0);
    wait_until("the notifications", || count() >= 2).await;
    let mut texts: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    let all = texts.join("\n=====\n");
    // One notification per destination group: the refused user and the null MX.
    assert!(
        all.contains("Return-Path: <>"),
        "a notification has a null sender: {all}"
    );
    assert!(
        all.contains("Final-Recipient: rfc822; nobody@receiver.test"),
        "{all}"
    );
    assert!(
        all.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user here"),
        "{all}"
    );
    assert!(all.contains("Remote-MTA: dns; mx.receiver.test"), "{all}");
    assert!(
        all.contains("Final-Recipient: rfc822; x@null.test"),
        "{all}"
    );
    assert!(all.contains("Status: 5.1.10"), "{all}");
    assert!(
        all.contains("Subject: queued"),
        "the original header is returned: {all}"
    );
    assert!(
        !all.contains("Hello from the queue."),
        "the body is not returned"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(count(), 2, "no more notifications");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_never_bounces() {
    let dir = TempDir::new("agent-noloop");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let sink = SmtpSink::start(&["-f", "RCPT"]);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(sink.addr().port()),
        bounce_route(),
        None,
    );
    let env = envelope("", &["nobody@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.get(id).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "not finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let left = store.list().await.unwrap();
    assert!(left.is_empty(), "nothing new was queued: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_delay_notice_then_delivery() {
    let dir = TempDir::new("agent-delay");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let mail_root = dir.path().join("mail");
    let local = LocalDelivery::spawn(store.clone(), mail_root.clone(), "mail.sender.test".into());
    let port = free_port();
    let refusing = SmtpSink::start_on([127, 0, 0, 1].into(), port, &["-r", "RCPT"]);
    let mut config = agent_config(port);
    // Notify on the first deferral (the default is after 4 hours).
    config.delay_notice = Some(Duration::ZERO);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        config,
        bounce_route(),
        Some(local),
    );
    let env = envelope("alice@sender.test", &["bob@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    let inbox = sendwell_queue::maildir::mailbox_path(&mail_root, "alice@sender.test").join("new");
    let count = || std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0);
    wait_until("the delay notice", || count() == 1).await;
    // Let it be deferred a few more times: still one notice.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempts = store.get(id).await.unwrap().unwrap().state.recipients[0].attempts;
        if attempts >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no retries");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(), 1, "one delay notice per recipient");
    let notice = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .next()
        .unwrap();
    for needle in [
        "Delayed Mail (still being retried)",
        "Action: delayed",
        "Will-Retry-Until: ",
        "Status: 4.",
        "Final-Recipient: rfc822; bob@receiver.test",
    ] {
        assert!(notice.contains(needle), "missing {needle:?}: {notice}");
    }
    drop(refusing);
    let accepting = SmtpSink::start_on([127, 0, 0, 1].into(), port, &[]);
    wait_until("delivery", || accepting.messages().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count(), 1, "no failure notice after delivery");
}
