//! The protocol against the real server: SMTP smuggling (every bare CR/LF variant of
//! the end of data neither ends the message early nor makes a second one), STARTTLS
//! command injection (CVE-2011-0411), PIPELINING, CHUNKING, and each limit answered
//! with its code.

mod serve_support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serve_support::{Client, Server, set};

/// The end-of-data look-alikes of the 2023 SMTP smuggling research.
const FAKE_ENDS: &[(&str, &[u8])] = &[
    ("LF.LF", b"\n.\n"),
    ("CRLF.LF", b"\r\n.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CR.CR", b"\r.\r"),
    ("CRLF.CR", b"\r\n.\r"),
    ("CR.CRLF", b"\r.\r\n"),
    ("bare LF", b"\n"),
    ("bare CR", b"\r"),
];

/// Send a message hiding a second one behind `fake`, then the real end and QUIT, all
/// in one write. Returns every reply after DATA's 354.
fn smuggle(addr: SocketAddr, fake: &[u8]) -> Vec<u16> {
    let (mut c, _) = Client::connect(addr);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<sender@outside.test>").code.get(), 250);
    assert_eq!(c.cmd("RCPT TO:<postmaster@example.test>").code.get(), 250);
    assert_eq!(c.cmd("DATA").code.get(), 354);
    let mut data = b"Subject: first\r\n\r\nfirst message".to_vec();
    data.extend_from_slice(fake);
    data.extend_from_slice(
        b"MAIL FROM:<evil@outside.test>\r\nRCPT TO:<abuse@example.test>\r\nDATA\r\n\
          Subject: smuggled\r\n\r\nsmuggled message\r\n.\r\nQUIT\r\n",
    );
    c.send(&data);
    let mut codes = Vec::new();
    while let Some(r) = c.try_reply() {
        codes.push(r.code.get());
    }
    codes
}

#[test]
fn smuggling_is_refused_when_bare_line_endings_are_rejected() {
    let s = Server::start(|t| t);
    for (name, fake) in FAKE_ENDS {
        let codes = smuggle(s.mx, fake);
        // One reply for the one message (refused: bare CR/LF), then QUIT's 221.
        // Never a 250 for the smuggled MAIL, RCPT or DATA.
        assert_eq!(codes, vec![554, 221], "{name}");
    }
    assert!(s.queue().as_array().unwrap().is_empty());
    assert!(s.mailbox("abuse@example.test").is_empty());
}

#[test]
fn smuggling_stays_inside_one_message_when_normalized() {
    let s = Server::start(|t| set(t, "bare_line_endings", "\"normalize\""));
    for (name, fake) in FAKE_ENDS {
        let codes = smuggle(s.mx, fake);
        assert_eq!(codes, vec![250, 221], "{name}");
    }
    // Exactly one message per attempt, all to postmaster, none to abuse@.
    let pm = s.wait_mailbox("postmaster@example.test", FAKE_ENDS.len());
    assert_eq!(pm.len(), FAKE_ENDS.len());
    assert!(s.mailbox("abuse@example.test").is_empty());
    for f in pm {
        let text = serve_support::read(&f);
        // The would-be second message is text of the first, with every line
        // ending a CRLF.
        assert!(text.contains("RCPT TO:<abuse@example.test>"), "{text}");
        assert!(text.contains("smuggled message\r\n"), "{text}");
        let b = text.as_bytes();
        for (i, &ch) in b.iter().enumerate() {
            if ch == b'\n' {
                assert_eq!(b[i - 1], b'\r', "bare LF stored at {i}: {text:?}");
            }
            if ch == b'\r' {
                assert_eq!(
                    b.get(i + 1),
                    Some(&b'\n'),
                    "bare CR stored at {i}: {text:?}"
                );
            }
        }
    }
}

#[test]
fn starttls_discards_pipelined_commands() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    // In one write: the NOOP must not run (CVE-2011-0411). Had it run, its plaintext
    // 250 would break the handshake or be read as the first reply under TLS.
    c.send(b"STARTTLS\r\nNOOP\r\nMAIL FROM:<evil@outside.test>\r\n");
    let r = c.reply();
    assert_eq!(r.code.get(), 220, "{r}");
    c.handshake();
    // The session starts over: MAIL before EHLO is out of sequence ...
    let r = c.cmd("MAIL FROM:<x@outside.test>");
    assert_eq!(r.code.get(), 503, "{r}");
    // ... and the first reply to EHLO is the EHLO reply, not a leftover.
    let r = c.ehlo();
    assert!(r.lines[0].starts_with("mail.example.test Hello"), "{r}");
    assert!(
        s.log().contains("discarded input pipelined after STARTTLS"),
        "{}",
        s.log()
    );
}

#[test]
fn pipelined_commands_get_their_replies_in_order() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect(s.mx);
    c.send(
        b"EHLO client.example\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<abuse@example.test>\r\n\
          RCPT TO:<nobody@example.test>\r\nRCPT TO:<no-reply@example.test>\r\nDATA\r\n",
    );
    let codes: Vec<u16> = (0..6).map(|_| c.reply().code.get()).collect();
    assert_eq!(codes, vec![250, 250, 250, 550, 250, 354]);
    c.send(b"Subject: piped\r\n\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n");
    let codes: Vec<u16> = (0..3).map(|_| c.reply().code.get()).collect();
    assert_eq!(codes, vec![250, 250, 221]);
    let f = s.wait_mailbox("abuse@example.test", 1);
    assert!(serve_support::read(&f[0]).ends_with("Subject: piped\r\n\r\n.dot\r\n"));
}

#[test]
fn chunking_with_bdat() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect(s.mx);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.iter().any(|l| l == "CHUNKING"), "{ehlo}");
    assert_eq!(c.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    assert_eq!(c.cmd("RCPT TO:<abuse@example.test>").code.get(), 250);
    // RFC 3030: chunks are counted, not dot-stuffed; ".\r\n" inside is just text.
    c.send(b"BDAT 21\r\nSubject: chunks\r\n\r\n.\r");
    assert_eq!(c.reply().code.get(), 250);
    c.send(b"BDAT 7 LAST\r\n\nbody\r\n");
    let r = c.reply();
    assert_eq!(r.code.get(), 250, "{r}");
    let f = s.wait_mailbox("abuse@example.test", 1);
    assert!(serve_support::read(&f[0]).ends_with("Subject: chunks\r\n\r\n.\r\nbody\r\n"));
    // A bare LF inside chunks is refused like in DATA.
    assert_eq!(c.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    assert_eq!(c.cmd("RCPT TO:<abuse@example.test>").code.get(), 250);
    c.send(b"BDAT 5 LAST\r\na\nb\r\n");
    assert_eq!(c.reply().code.get(), 554);
    // DATA in the middle of a BDAT transfer is out of sequence.
    assert_eq!(c.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    assert_eq!(c.cmd("RCPT TO:<abuse@example.test>").code.get(), 250);
    c.send(b"BDAT 3\r\nabc");
    assert_eq!(c.reply().code.get(), 250);
    assert_eq!(c.cmd("DATA").code.get(), 503);
    assert_eq!(c.cmd("RSET").code.get(), 250);
}

#[test]
fn limits_are_answered_with_their_codes() {
    let s = Server::start(|t| {
        let t = set(t, "max_message_size", "2000");
        let t = set(t, "max_errors", "5");
        set(t, "max_commands_without_mail", "5")
    });
    let (mut c, _) = Client::connect(s.mx);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.iter().any(|l| l == "SIZE 2000"), "{ehlo}");
    // A command line over the limit: 500 5.5.2, and the session goes on.
    let r = c.cmd(&format!("NOOP {}", "x".repeat(5000)));
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (500, "5.5.2"),
        "{r}"
    );
    // A declared size over the limit (RFC 1870): 552 5.3.4.
    let r = c.cmd("MAIL FROM:<a@outside.test> SIZE=5000");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (552, "5.3.4"),
        "{r}"
    );
    // An actual size over the limit.
    let lines: Vec<String> = (0..30).map(|_| "y".repeat(80)).collect();
    let big = format!("Subject: big\r\n\r\n{}", lines.join("\r\n"));
    let r = c.send_mail("a@outside.test", &["abuse@example.test"], &big);
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (552, "5.3.4"),
        "{r}"
    );
    // A text line over 1000 octets (RFC 5321 §4.5.3.1.6).
    let long = format!("Subject: long\r\n\r\n{}", "z".repeat(1200));
    let r = c.send_mail("a@outside.test", &["abuse@example.test"], &long);
    assert_eq!(r.code.get(), 500, "{r}");
    // The fifth error is answered, then the session is closed with 421 4.7.0.
    assert_eq!(c.cmd("EXPN staff").code.get(), 502);
    let r = c.reply();
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (421, "4.7.0"),
        "{r}"
    );
    assert!(c.closed());

    // Commands without a transaction are limited too: the sixth is not run.
    let (mut c, _) = Client::connect(s.mx);
    for _ in 0..5 {
        assert_eq!(c.cmd("NOOP").code.get(), 250);
    }
    let r = c.cmd("NOOP");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (421, "4.7.0"),
        "{r}"
    );
    assert!(c.closed());
}

#[test]
fn too_many_recipients_get_452() {
    let s = Server::start(|t| set(t, "max_errors", "200"));
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    // 100 recipients are accepted (RFC 5321 §4.5.3.1.8), the 101st gets 452 4.5.3.
    for _ in 0..100 {
        assert_eq!(c.cmd("RCPT TO:<abuse@example.test>").code.get(), 250);
    }
    let r = c.cmd("RCPT TO:<abuse@example.test>");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (452, "4.5.3"),
        "{r}"
    );
}

#[test]
fn connections_per_ip_and_timeouts() {
    let s = Server::start(|t| {
        let t = set(t, "max_connections_per_ip", "2");
        set(t, "command_timeout_secs", "1")
    });
    // A timeout below RFC 5321 §4.5.3.2.7's 5 minutes works, with a warning.
    assert!(
        s.log()
            .contains("warning: limits.command_timeout_secs: 1 s is less than the 300 s"),
        "{}",
        s.log()
    );
    // The harness's own readiness probes (a connect to each port) may still count for
    // a few milliseconds after start: the first two connections get their 220 once
    // those are gone.
    let greeted = |addr| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (c, g) = Client::connect(addr);
            if g.code.get() == 220 || std::time::Instant::now() > deadline {
                return (c, g);
            }
            drop(c);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let (_a, ga) = greeted(s.mx);
    let (_b, gb) = greeted(s.mx);
    assert_eq!((ga.code.get(), gb.code.get()), (220, 220));
    // The third connection from 127.0.0.1 to port 25 is turned away ...
    let mut third = Client::connect_raw(s.mx);
    let r = third.reply();
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (421, "4.7.0"),
        "{r}"
    );
    // ... while submission counts its own connections (max_submission_connections_per_ip).
    let (_c, gc) = greeted(s.submission);
    assert_eq!(gc.code.get(), 220, "{gc}");
    drop((_a, _b, _c));
    // An idle client is told 421 4.4.2 after the command timeout, then closed.
    let (mut idle, _) = loop {
        let mut c = Client::connect_raw(s.mx);
        let r = c.reply();
        if r.code.get() == 220 {
            break (c, r);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let r = idle.reply();
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (421, "4.4.2"),
        "{r}"
    );
    assert!(idle.closed());
}

#[test]
fn smtputf8_addresses() {
    let s = Server::start(|t| t + "\n[[mailbox]]\naddress = \"jörg@example.test\"\n");
    let (mut c, _) = Client::connect(s.mx);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.iter().any(|l| l == "SMTPUTF8"), "{ehlo}");
    // Without SMTPUTF8, a non-ASCII address is 553 5.6.7 (RFC 6531 §3.4).
    let r = c.cmd("MAIL FROM:<josé@outside.test>");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (553, "5.6.7"),
        "{r}"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<josé@outside.test> SMTPUTF8").code.get(),
        250
    );
    assert_eq!(c.cmd("RCPT TO:<JÖRG@example.test>").code.get(), 550);
    assert_eq!(c.cmd("RCPT TO:<jörg@example.test>").code.get(), 250);
    assert_eq!(c.cmd("DATA").code.get(), 354);
    c.send("Subject: ünïcödé\r\n\r\nhej\r\n.\r\n".as_bytes());
    assert_eq!(c.reply().code.get(), 250);
    assert_eq!(s.wait_mailbox("j%C3%B6rg@example.test", 1).len(), 1);
}

/// A message of about `size` octets: a subject and lines of 78 characters.
fn message_of(subject: &str, size: usize) -> String {
    let line = "m".repeat(78);
    let lines: Vec<&str> = std::iter::repeat_n(line.as_str(), size / 80).collect();
    format!("Subject: {subject}\r\n\r\n{}", lines.join("\r\n"))
}

#[test]
fn message_data_in_memory_is_one_budget_for_all_sessions() {
    // 64 KiB for all sessions together, messages of up to 48 KiB.
    let s = Server::start(|t| {
        let t = set(t, "max_message_size", "49152");
        set(t, "max_data_memory", "65536")
    });
    // Session A, without AUTH (mail to postmaster@ is open to anyone), holds 40 KB:
    // a BDAT chunk is kept in memory until the transfer ends, and its 250 says the
    // server has it.
    let (mut a, _) = Client::connect(s.mx);
    a.ehlo();
    assert_eq!(a.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    assert_eq!(a.cmd("RCPT TO:<postmaster@example.test>").code.get(), 250);
    let first = message_of("a", 40_000) + "\r\n";
    a.send(format!("BDAT {}\r\n{first}", first.len()).as_bytes());
    assert_eq!(a.reply().code.get(), 250);
    // Session B's 40 KB do not fit in what is left: read to the end, not kept,
    // 452 4.3.1 (RFC 3463 "mail system full"), and the session goes on.
    let (mut b, _) = Client::connect(s.mx);
    b.ehlo();
    let r = b.send_mail(
        "b@outside.test",
        &["postmaster@example.test"],
        &message_of("b refused", 40_000),
    );
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (452, "4.3.1"),
        "{r}"
    );
    assert_eq!(b.cmd("NOOP").code.get(), 250);
    // A's transfer ends; its memory is given back, and B's retry fits.
    let r = a.cmd("BDAT 0 LAST");
    assert_eq!(r.code.get(), 250, "{r}");
    let r = b.send_mail(
        "b@outside.test",
        &["postmaster@example.test"],
        &message_of("b retried", 40_000),
    );
    assert_eq!(r.code.get(), 250, "{r}");
    let files = s.wait_mailbox("postmaster@example.test", 2);
    assert_eq!(files.len(), 2, "{}", s.log());
    let texts: Vec<String> = files.iter().map(|f| serve_support::read(f)).collect();
    assert!(texts.iter().any(|t| t.contains("Subject: a\r\n")));
    assert!(texts.iter().any(|t| t.contains("Subject: b retried\r\n")));
    assert!(!texts.iter().any(|t| t.contains("Subject: b refused")));
    assert!(s.log().contains("memory budget"), "{}", s.log());
}

/// Connect with a 4 KiB receive buffer (set before the handshake, so the window
/// stays small) and read the greeting; `None` when it is not 220.
fn connect_small_window(addr: SocketAddr) -> Option<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let mut tcp = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        stream.into_std().unwrap()
    });
    tcp.set_nonblocking(false).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut greeting = Vec::new();
    let mut byte = [0u8; 1];
    while !greeting.ends_with(b"\r\n") && tcp.read(&mut byte).unwrap() == 1 {
        greeting.push(byte[0]);
    }
    greeting.starts_with(b"220 ").then_some(tcp)
}

#[test]
fn a_client_that_stops_reading_loses_its_connection_and_its_slot() {
    // One connection per client: while the stuck one holds its slot, no other gets in.
    let s = Server::start(|t| {
        let t = set(t, "max_connections_per_ip", "1");
        set(t, "command_timeout_secs", "1")
    });
    let mut stuck = loop {
        // (The harness's own probes may still hold the slot for a moment.)
        if let Some(c) = connect_small_window(s.mx) {
            break c;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Pipeline commands and never read a reply, until the server's replies fill
    // both socket buffers, it stops reading, and our writes stall (or it hangs up).
    stuck.write_all(b"EHLO client.example\r\n").unwrap();
    stuck
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let chunk = b"MAIL FROM:<a@b.example>\r\nRSET\r\n".repeat(2048);
    let mut sent = 0usize;
    while stuck.write(&chunk).map(|n| sent += n).is_ok() {
        assert!(
            sent < 1 << 30,
            "the server read 1 GiB of commands without ever stalling on its replies"
        );
    }
    // The stuck client still holds its socket open and reads nothing; the server
    // must give up on it (RFC 5321 §4.5.3.2) and free the slot for a new client.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut c = Client::connect_raw(s.mx);
        let r = c.reply();
        if r.code.get() == 220 {
            break;
        }
        assert_eq!(r.code.get(), 421, "{r}");
        assert!(
            Instant::now() < deadline,
            "a client that stops reading kept its connection slot:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        s.log().contains("Client not reading replies; closing"),
        "{}",
        s.log()
    );
    drop(stuck);
}

#[test]
fn rcpt_before_mail_is_out_of_sequence_whatever_its_path() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    // RFC 5321 §4.1.4: the sequence is judged before the path.
    for line in [
        "RCPT TO:<user>",
        "RCPT TO:<elsewhere.test!user>",
        "RCPT TO:<abuse@example.test>",
        "RCPT TO:<abuse@example.test> BOGUS=1",
    ] {
        let r = c.cmd(line);
        assert_eq!(
            (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
            (503, "5.5.1"),
            "{line}: {r}"
        );
    }
    // Inside a transaction the unqualified name is relaying, refused as such.
    assert_eq!(c.cmd("MAIL FROM:<a@outside.test>").code.get(), 250);
    let r = c.cmd("RCPT TO:<user>");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (554, "5.7.1"),
        "{r}"
    );
}

#[test]
fn over_the_limit_on_the_implicit_tls_port_hears_421_inside_tls() {
    let s = Server::start(|t| {
        let t = set(t, "max_connections_per_ip", "1");
        set(t, "max_submission_connections_per_ip", "1")
    });
    let _held = loop {
        // (The harness's own probes may still hold the slot for a moment.)
        let (c, g) = Client::connect_tls(s.submissions);
        if g.code.get() == 220 {
            break c;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The MX pool is another one: its slot is taken by a connection of its own.
    let _held_mx = loop {
        let (c, g) = Client::connect(s.mx);
        if g.code.get() == 220 {
            break c;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // RFC 8314 §3.3: TLS from the first byte, the refusal included.
    let (mut refused, r) = Client::connect_tls(s.submissions);
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (421, "4.7.0"),
        "{r}"
    );
    assert!(refused.closed());
    // The plaintext ports still say it in plaintext.
    let (mut refused, r) = Client::connect(s.mx);
    assert_eq!(r.code.get(), 421, "{r}");
    assert!(refused.closed());
}
