//! Durability: under a load of messages, `kill -9` of the server and a restart lose
//! none that got a 250 (RFC 5321 §6.1), and never bring back half of one.
//!
//! Several client threads send messages as fast as they can to an alias that forwards
//! outside (so the messages stay queued); each remembers the queue id of every 250 and
//! the subject it sent. The server is killed with SIGKILL in the middle of it, so
//! sessions are cut inside DATA and inside the queue's group commit. After a restart,
//! every acknowledged message is in the queue, with its own data, intact.

mod serve_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serve_support::{Client, Server};

const THREADS: usize = 6;
/// Kill the server once this many messages have been acknowledged.
const KILL_AFTER: usize = 300;

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let mut s = Server::start(|t| {
        t + "\n[[alias]]\naddress = \"load@example.test\"\nto = [\"sink@elsewhere.test\"]\n"
    });
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..THREADS {
        let (acked, count, stop, addr) = (acked.clone(), count.clone(), stop.clone(), s.mx);
        threads.push(std::thread::spawn(move || {
            let (mut c, _) = Client::connect(addr);
            if c.cmd("EHLO load.example").code.get() != 250 {
                return;
            }
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let subject = format!("load {t}-{n}");
                // Pipelined like a real client; a dead server ends the thread.
                let body = format!(
                    "MAIL FROM:<sender@outside.test>\r\nRCPT TO:<load@example.test>\r\nDATA\r\n\
                     Subject: {subject}\r\n\r\n{}\r\n.\r\n",
                    "payload line\r\n".repeat(20 + n % 50)
                );
                if !c.try_send(body.as_bytes()) {
                    return;
                }
                let mut codes = Vec::new();
                let mut last = None;
                for _ in 0..4 {
                    match c.try_reply() {
                        Some(r) => {
                            codes.push(r.code.get());
                            last = Some(r);
                        }
                        None => return,
                    }
                }
                if codes == [250, 250, 354, 250] {
                    let id = serve_support::queue_id(last.as_ref().unwrap());
                    acked.lock().unwrap().insert(id, subject);
                    count.fetch_add(1, Ordering::Relaxed);
                } else {
                    return;
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::Relaxed) < KILL_AFTER && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL while the clients are still sending.
    s.kill();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= KILL_AFTER,
        "only {} messages acknowledged before the deadline",
        acked.len()
    );

    s.spawn();
    let queue = s.queue();
    let listed: HashMap<String, &serde_json::Value> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect();
    let missing: Vec<&String> = acked
        .keys()
        .filter(|id| !listed.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged message(s) lost: {missing:?}",
        missing.len()
    );
    // Every acknowledged message has its own data, whole (a sample: `show` is one
    // process each).
    for (id, subject) in acked.iter().take(40) {
        let shown = serve_support::sendwell(
            &["queue", "show", id, "--json", "--dir", &s.dir_arg()],
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        let text = v["message"].as_str().unwrap();
        assert!(
            text.contains(&format!("\r\nSubject: {subject}\r\n")),
            "{id}: {text}"
        );
        // The whole body: exactly the lines sent, then the empty last line.
        let n: usize = subject.rsplit('-').next().unwrap().parse().unwrap();
        let body = format!("\r\n\r\n{}\r\n", "payload line\r\n".repeat(20 + n % 50));
        assert!(text.ends_with(&body), "{id}: not the data that was sent");
        assert_eq!(v["recipients"][0]["address"], "sink@elsewhere.test");
    }
    // The restarted server says what it recovered; nothing unacknowledged came back as
    // a message with a wrong subject.
    assert!(s.log().contains("queue recovered"), "{}", s.log());
    assert!(listed.len() >= acked.len());
}
