//! The remote delivery agent end to end on loopback: the real file queue, smtp-sink
//! as the receiving server (its faults chosen by its options) or a scripted server
//! (`support`) for faults no real server offers, routes from a zone.
//! Checked: delivered once and gone from the queue; a 4xx then 2xx delivers once; a
//! 5xx bounces with an RFC 3464 notification into the sender's local mailbox; a
//! message whose sender is null never bounces; the end of the lifetime bounces once
//! with 4.4.7 quoting the last reply; a refused greeting is quoted verbatim; a stalled
//! domain holds one connection and no other domain waits for it; a domain that
//! requires TLS gets nothing in cleartext; a notification is queued before the state it
//! follows from is synced; a notification that cannot be queued leaves its recipient
//! queued; an outcome that cannot be recorded is not delivered again at every scan.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sendwell_delivery::agent::{AgentConfig, BounceRoute, RemoteDelivery};
use sendwell_delivery::client::{ClientConfig, TlsPolicy};
use sendwell_delivery::retry::RetrySchedule;
use sendwell_dns::MockLookup;
use sendwell_queue::local::LocalDelivery;
use sendwell_queue::{
    DeliveryStatus, Destination, Durability, Envelope, FileStore, QueueError, QueueId, QueueStore,
    QueuedMessage, Recipient, RecipientState,
};
use sendwell_testkit::{SmtpSink, TempDir, free_port};
use support::{FakeMx, Script};

const MESSAGE: &[u8] = b"From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: queued\r\n\
Message-ID: <q1@sender.test>\r\n\r\nHello from the queue.\r\n";

fn zone() -> MockLookup {
    MockLookup::from_zone(
        "receiver.test MX 10 mx.receiver.test\nmx.receiver.test A 127.0.0.1\n\
         other.test MX 10 mx.receiver.test\n\
         slow.test MX 10 mx.slow.test\nmx.slow.test A 127.0.0.2\n\
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
        forward_sender: None,
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

/// The notifications in `sender`'s local mailbox.
fn notices(mail_root: &std::path::Path, sender: &str) -> Vec<String> {
    let inbox = sendwell_queue::maildir::mailbox_path(mail_root, sender).join("new");
    std::fs::read_dir(&inbox)
        .map(|d| {
            d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim_end_matches('\r') == line)
}

/// RFC 5321 §4.5.4.1: when the lifetime ends, one notification (RFC 3464) with status
/// 4.4.7 (RFC 3463 §3.5), quoting the last reply a server gave, verbatim, and its host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_the_lifetime_bounces_once_with_4_4_7() {
    let dir = TempDir::new("agent-expiry");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let mail_root = dir.path().join("mail");
    let local = LocalDelivery::spawn(store.clone(), mail_root.clone(), "mail.sender.test".into());
    let mx = FakeMx::start(
        [127, 0, 0, 1].into(),
        0,
        Script {
            rcpt: "451 4.7.1 greylisted, come back later",
            ..Script::default()
        },
    )
    .await;
    let mut config = agent_config(mx.addr().port());
    config.retry.lifetime = Duration::from_secs(2);
    config.delay_notice = None;
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
    wait_until("the expiry notice", || {
        !notices(&mail_root, "alice@sender.test").is_empty()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get(id).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the message stays queued");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // More scans pass: still exactly one notice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = notices(&mail_root, "alice@sender.test");
    assert_eq!(all.len(), 1, "{all:?}");
    let notice = &all[0];
    for line in [
        "Action: failed",
        "Status: 4.4.7",
        "Final-Recipient: rfc822; bob@receiver.test",
        "Remote-MTA: dns; mx.receiver.test",
        "Diagnostic-Code: smtp; 451 4.7.1 greylisted, come back later",
    ] {
        assert!(has_line(notice, line), "missing {line:?} in\n{notice}");
    }
    assert!(notice.contains("gave up after 2 seconds"), "{notice}");
    assert!(mx.lines().iter().filter(|l| l.starts_with("RCPT")).count() >= 2);
}

/// A session refused at the greeting: the DSN quotes the reply verbatim in
/// `Diagnostic-Code: smtp;` and names the host in `Remote-MTA` (RFC 3464 §2.3.5,
/// §2.3.6); prose stays in the human-readable part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_greeting_is_quoted_verbatim() {
    let dir = TempDir::new("agent-greeting");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let mail_root = dir.path().join("mail");
    let local = LocalDelivery::spawn(store.clone(), mail_root.clone(), "mail.sender.test".into());
    let mx = FakeMx::start(
        [127, 0, 0, 1].into(),
        0,
        Script {
            greeting: Some("554 5.7.1 no mail from you"),
            ..Script::default()
        },
    )
    .await;
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(mx.addr().port()),
        bounce_route(),
        Some(local),
    );
    let env = envelope("alice@sender.test", &["bob@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    wait_until("the notice", || {
        !notices(&mail_root, "alice@sender.test").is_empty()
    })
    .await;
    let notice = &notices(&mail_root, "alice@sender.test")[0];
    for line in [
        "Action: failed",
        "Status: 5.7.1",
        "Remote-MTA: dns; mx.receiver.test",
        "Diagnostic-Code: smtp; 554 5.7.1 no mail from you",
    ] {
        assert!(has_line(notice, line), "missing {line:?} in\n{notice}");
    }
    assert!(notice.contains("refused the session"), "{notice}");
}

/// Concurrency per destination: with one slot per domain and two in all, three
/// messages for a domain whose server never greets take one connection there, and
/// mail for another domain is still delivered (the waiting ones hold no global slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_domain_does_not_starve_the_others() {
    let dir = TempDir::new("agent-starve");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let fast = FakeMx::start([127, 0, 0, 1].into(), 0, Script::default()).await;
    let port = fast.addr().port();
    let stalled = FakeMx::start(
        [127, 0, 0, 2].into(),
        port,
        Script {
            greeting: None,
            ..Script::default()
        },
    )
    .await;
    let mut config = agent_config(port);
    config.max_concurrent = 2;
    config.max_per_domain = 1;
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        config,
        bounce_route(),
        None,
    );
    for _ in 0..3 {
        let env = envelope("alice@sender.test", &["bob@slow.test"]);
        let id = env.id;
        store.enqueue(env, MESSAGE.into()).await.unwrap();
        agent.notify(id, None);
    }
    wait_until("a connection to the stalled server", || {
        stalled.connections() >= 1
    })
    .await;
    // Let the other two deliveries for slow.test queue up for their slots.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let env = envelope("alice@sender.test", &["carol@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    wait_until("delivery to the other domain", || {
        fast.messages().len() == 1
    })
    .await;
    assert_eq!(
        stalled.connections(),
        1,
        "one connection per domain at most"
    );
}

/// `tls_per_domain`: a domain that requires TLS gets nothing from a server without
/// STARTTLS (deferred, and the reason says TLS was required); another domain at the
/// same server, without the requirement, is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_for_a_domain_is_applied() {
    let dir = TempDir::new("agent-tls");
    let (store, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let mx = FakeMx::start([127, 0, 0, 1].into(), 0, Script::default()).await;
    let mut config = agent_config(mx.addr().port());
    config
        .tls_per_domain
        .insert("receiver.test".into(), TlsPolicy::Required);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        config,
        bounce_route(),
        None,
    );
    let env = envelope(
        "alice@sender.test",
        &["bob@receiver.test", "carol@other.test"],
    );
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    wait_until("delivery to other.test", || mx.messages().len() == 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let bob = loop {
        let m = store.get(id).await.unwrap().expect("bob is still queued");
        let bob = m.state.recipients[0].clone();
        if bob.attempts >= 1 && m.state.recipients[1].is_finished() {
            break bob;
        }
        assert!(Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(bob.status, DeliveryStatus::Queued);
    assert!(
        bob.last_reply
            .as_deref()
            .unwrap_or("")
            .contains("TLS required"),
        "{bob:?}"
    );
    let lines = mx.lines();
    assert!(
        !lines.iter().any(|l| l.contains("bob@receiver.test")),
        "{lines:?}"
    );
}

/// Everything the agent asks of the queue, in order.
#[derive(Clone, Debug)]
enum Event {
    Update {
        id: QueueId,
        durability: Durability,
        states: Vec<RecipientState>,
    },
    Enqueue {
        sender: String,
        to: String,
    },
}

/// A [`FileStore`] that records the agent's writes, and fails the ones it is told to
/// (a disk that is full, or out of inodes).
#[derive(Clone)]
struct Recording {
    inner: FileStore,
    events: Arc<Mutex<Vec<Event>>>,
    /// Refuse to queue notifications (messages with a null sender).
    fail_notifications: Arc<AtomicBool>,
    /// Refuse every state update.
    fail_updates: Arc<AtomicBool>,
}

impl Recording {
    fn new(inner: FileStore) -> Recording {
        Recording {
            inner,
            events: Arc::default(),
            fail_notifications: Arc::default(),
            fail_updates: Arc::default(),
        }
    }
}

fn disk_full() -> QueueError {
    QueueError::Io {
        what: "write",
        path: "queue".into(),
        source: std::io::Error::other("no space left on device (simulated)"),
    }
}

impl QueueStore for Recording {
    async fn enqueue(&self, envelope: Envelope, data: Arc<[u8]>) -> Result<(), QueueError> {
        self.events.lock().unwrap().push(Event::Enqueue {
            sender: envelope.sender.clone(),
            to: envelope.recipients[0].address.clone(),
        });
        if envelope.sender.is_empty() && self.fail_notifications.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.enqueue(envelope, data).await
    }
    async fn list(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        self.inner.list().await
    }
    async fn get(&self, id: QueueId) -> Result<Option<QueuedMessage>, QueueError> {
        self.inner.get(id).await
    }
    async fn read_data(&self, id: QueueId) -> Result<Vec<u8>, QueueError> {
        self.inner.read_data(id).await
    }
    async fn update_recipients(
        &self,
        id: QueueId,
        updates: Vec<(usize, RecipientState)>,
        durability: Durability,
    ) -> Result<bool, QueueError> {
        self.events.lock().unwrap().push(Event::Update {
            id,
            durability,
            states: updates.iter().map(|(_, s)| s.clone()).collect(),
        });
        if self.fail_updates.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.update_recipients(id, updates, durability).await
    }
    async fn delete(&self, id: QueueId) -> Result<bool, QueueError> {
        self.inner.delete(id).await
    }
    async fn retry_now(&self, id: QueueId) -> Result<bool, QueueError> {
        self.inner.retry_now(id).await
    }
}

/// RFC 5321 §6.1: a notification is queued (durably) before the state it follows from
/// (a recipient failed, a delay notice sent), and that state is then written `Synced`:
/// a crash in between can only make it be sent twice, never lost; a plain deferral is
/// written `Lazy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_queued_before_their_states_are_synced() {
    let dir = TempDir::new("agent-sync");
    let (inner, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let store = Recording::new(inner);
    let events = Arc::clone(&store.events);
    let mx = FakeMx::start(
        [127, 0, 0, 1].into(),
        0,
        Script {
            rcpt_for: vec![
                ("nobody@", "550 5.1.1 no such user"),
                ("later@", "451 4.7.1 greylisted"),
            ],
            ..Script::default()
        },
    )
    .await;
    let mut config = agent_config(mx.addr().port());
    config.delay_notice = Some(Duration::ZERO);
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        config,
        bounce_route(),
        None,
    );
    let failing = envelope("alice@sender.test", &["nobody@receiver.test"]);
    let deferred = envelope("bert@sender.test", &["later@receiver.test"]);
    let (failing_id, deferred_id) = (failing.id, deferred.id);
    for env in [failing, deferred] {
        let id = env.id;
        store.enqueue(env, MESSAGE.into()).await.unwrap();
        agent.notify(id, None);
    }
    // Two attempts at the deferred one: the first sends the delay notice.
    let updates_of = |id: QueueId| {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::Update { id: i, .. } if *i == id))
            .count()
    };
    wait_until("two attempts", || updates_of(deferred_id) >= 2).await;
    wait_until("the bounce", || updates_of(failing_id) >= 1).await;
    let events = events.lock().unwrap().clone();
    let position = |f: &dyn Fn(&Event) -> bool| events.iter().position(f);
    let notice_to = |to: &'static str| move |e: &Event| matches!(e, Event::Enqueue { sender, to: t } if sender.is_empty() && t == to);

    let failed = position(&|e| {
        matches!(e, Event::Update { id, states, .. } if *id == failing_id && states[0].status == DeliveryStatus::Failed)
    })
    .expect("the failure was recorded");
    let bounce = position(&notice_to("alice@sender.test")).expect("a bounce was queued");
    assert!(bounce < failed, "{events:#?}");
    assert!(
        matches!(
            events[failed],
            Event::Update {
                durability: Durability::Synced,
                ..
            }
        ),
        "{events:#?}"
    );

    let deferrals: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Update { id, .. } if *id == deferred_id))
        .map(|(i, _)| i)
        .collect();
    let notice = position(&notice_to("bert@sender.test")).expect("a delay notice was queued");
    let first = deferrals[0];
    assert!(
        matches!(&events[first], Event::Update { durability: Durability::Synced, states, .. } if states[0].delay_notified),
        "{events:#?}"
    );
    assert!(notice < first, "{events:#?}");
    assert!(
        matches!(
            events[deferrals[1]],
            Event::Update {
                durability: Durability::Lazy,
                ..
            }
        ),
        "{events:#?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Enqueue { sender, .. } if sender.is_empty()))
            .count(),
        2,
        "one bounce and one delay notice: {events:#?}"
    );
}

/// RFC 5321 §6.1: a failure MUST be reported. When the notification cannot be queued
/// (the disk is full), the recipient is not marked failed: it stays queued, to be
/// tried again (and reported then), instead of leaving the queue unreported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_that_cannot_be_queued_keeps_the_recipient_queued() {
    let dir = TempDir::new("agent-no-dsn");
    let (inner, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let store = Recording::new(inner);
    store.fail_notifications.store(true, Ordering::SeqCst);
    let mx = FakeMx::start(
        [127, 0, 0, 1].into(),
        0,
        Script {
            rcpt_for: vec![("nobody@", "550 5.1.1 no such user")],
            ..Script::default()
        },
    )
    .await;
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(mx.addr().port()),
        bounce_route(),
        None,
    );
    let env = envelope("alice@sender.test", &["nobody@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    let updated = || {
        store
            .events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Update { id: i, .. } if *i == id))
    };
    wait_until("the attempt was recorded", updated).await;
    let m = store.get(id).await.unwrap().expect("still in the queue");
    let st = &m.state.recipients[0];
    assert_eq!(st.status, DeliveryStatus::Queued, "{st:?}");
    let later = st.next_attempt.expect("a next attempt");
    assert!(later > now_secs() + 60, "{st:?}");
    assert_eq!(st.remote_reply.as_deref(), Some("550 5.1.1 no such user"));
}

/// An outcome that cannot be recorded holds the message back instead of delivering it
/// again at every scan (the scan runs every 300 ms here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_that_cannot_be_recorded_is_not_delivered_again_at_once() {
    let dir = TempDir::new("agent-no-update");
    let (inner, _) = FileStore::open(&dir.path().join("queue")).unwrap();
    let store = Recording::new(inner);
    store.fail_updates.store(true, Ordering::SeqCst);
    let mx = FakeMx::start([127, 0, 0, 1].into(), 0, Script::default()).await;
    let agent = RemoteDelivery::spawn(
        store.clone(),
        Arc::new(zone()),
        agent_config(mx.addr().port()),
        bounce_route(),
        None,
    );
    let env = envelope("alice@sender.test", &["bob@receiver.test"]);
    let id = env.id;
    store.enqueue(env, MESSAGE.into()).await.unwrap();
    agent.notify(id, None);
    wait_until("one delivery", || mx.messages().len() == 1).await;
    // Ten scans later: still the one copy.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mx.messages().len(), 1, "delivered again at a scan");
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
