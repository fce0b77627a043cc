//! Never an open relay: every relay trick is refused (554 5.7.1) from an
//! unauthenticated client and after a failed AUTH, while the local role addresses
//! (postmaster@, abuse@, no-reply@) take mail from anyone and land in their Maildir.

mod serve_support;

use serve_support::{Client, PASSWORD, Server, set, swaks};

/// Recipients that try to get mail relayed to elsewhere.test.
const TRICKS: &[&str] = &[
    "<user@elsewhere.test>",                  // plain relaying
    "<user%elsewhere.test@example.test>",     // the percent hack
    "<elsewhere.test!user@example.test>",     // a bang path behind a local domain
    "<elsewhere.test!user>",                  // a bare bang path
    "<\"user@elsewhere.test\"@example.test>", // a quoted local part holding @
    "<@example.test:user@elsewhere.test>",    // a source route through us
    "<@example.test,@mail.example.test:user@elsewhere.test>",
    "<user>",             // an unqualified name
    "<user@[127.0.0.1]>", // IP-literal domains
    "<user@[IPv6:::1]>",
    "<postmaster@elsewhere.test>",
    "<user@example.test.elsewhere.test>", // a lookalike domain
];

fn roomy(t: String) -> String {
    // Each refusal counts as an error; let one session try them all.
    set(t, "max_errors", "100")
}

fn assert_all_refused(c: &mut Client, senders: &[&str]) {
    for from in senders {
        for trick in TRICKS {
            let r = c.cmd(&format!("MAIL FROM:<{from}>"));
            assert_eq!(r.code.get(), 250, "MAIL FROM:<{from}>: {r}");
            let r = c.cmd(&format!("RCPT TO:{trick}"));
            assert_eq!(
                (r.code.get(), r.enhanced.map(|e| e.to_string())),
                (554, Some("5.7.1".to_string())),
                "RCPT TO:{trick} from <{from}> was not refused as relaying: {r}"
            );
            // No recipient accepted: the data is refused too.
            let r = c.cmd("DATA");
            assert!(r.code.get() >= 500, "DATA after {trick}: {r}");
            assert_eq!(c.cmd("RSET").code.get(), 250);
        }
    }
}

#[test]
fn every_relay_trick_is_refused_unauthenticated() {
    let s = Server::start(roomy);
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    // Including the null sender (bounces) and a sender in our own domain.
    assert_all_refused(
        &mut c,
        &["someone@outside.test", "", "postmaster@example.test"],
    );
    // The same over TLS, still unauthenticated.
    c.starttls();
    c.ehlo();
    assert_all_refused(&mut c, &["someone@outside.test"]);
    assert!(s.queue().as_array().unwrap().is_empty());
}

#[test]
fn every_relay_trick_is_refused_after_a_failed_auth() {
    let s = Server::start(roomy);
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    c.starttls();
    c.ehlo();
    let r = c.auth_plain("alice@example.test", "not her password");
    assert_eq!(r.code.get(), 535, "{r}");
    assert_all_refused(&mut c, &["alice@example.test", ""]);
    // A failed LOGIN exchange, cancelled half-way, leaves nothing behind either.
    assert_eq!(c.cmd("AUTH LOGIN").code.get(), 334);
    assert_eq!(c.cmd("*").code.get(), 501);
    assert_all_refused(&mut c, &["alice@example.test"]);
    // On the submission port nothing happens without a successful AUTH.
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", "nope").code.get(), 535);
    assert_eq!(c.cmd("MAIL FROM:<alice@example.test>").code.get(), 530);
    assert_eq!(c.cmd("RCPT TO:<user@elsewhere.test>").code.get(), 503);
    // swaks, the same story: --auth-optional goes on to MAIL and RCPT after the
    // failed AUTH (with --auth it would stop at the 535 and never try to relay).
    let (ok, out) = swaks(&[
        "--server",
        &s.mx.to_string(),
        "--tls",
        "--auth-optional",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "wrong",
        "--from",
        "alice@example.test",
        "--to",
        "user%elsewhere.test@example.test",
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("535 5.7.8"), "the AUTH failed first: {out}");
    assert!(
        out.contains("RCPT TO:<user%elsewhere.test@example.test>"),
        "{out}"
    );
    assert!(out.contains("554 5.7.1"), "refused as relaying: {out}");
    assert!(s.queue().as_array().unwrap().is_empty());
    // With a successful AUTH the same client may relay: the refusals above were
    // about authentication, not a broken server.
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 235);
    let r = c.send_mail(
        "alice@example.test",
        &["user@elsewhere.test"],
        "From: alice@example.test\r\nSubject: ok\r\n\r\nx",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    // Routing characters stay refused even then.
    assert_eq!(c.cmd("MAIL FROM:<alice@example.test>").code.get(), 250);
    assert_eq!(
        c.cmd("RCPT TO:<user%elsewhere.test@example.test>")
            .code
            .get(),
        554
    );
}

#[test]
fn role_addresses_take_mail_from_outside() {
    let s = Server::start(|t| t);
    for to in [
        "postmaster@example.test",
        "PostMaster@EXAMPLE.TEST",
        "abuse@example.test",
        "no-reply@example.test",
        "dmarc-reports@example.test",
    ] {
        let (ok, out) = swaks(&[
            "--server",
            &s.mx.to_string(),
            "--from",
            "someone@outside.test",
            "--to",
            to,
            "--data",
            &format!("Subject: to {}\r\n\r\nhello\r\n", to.to_ascii_lowercase()),
        ]);
        assert!(ok, "{to}: {out}");
        assert!(out.contains("250 2.6.0"), "{out}");
    }
    // <Postmaster> without a domain (RFC 5321 §4.1.1.3), by hand.
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<>").code.get(), 250);
    assert_eq!(c.cmd("RCPT TO:<Postmaster>").code.get(), 250);
    // Unknown local users get 550 5.1.1, not a relay refusal.
    let r = c.cmd("RCPT TO:<nobody@example.test>");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (550, "5.1.1"),
        "{r}"
    );
    assert_eq!(c.cmd("RSET").code.get(), 250);
    // Every copy lands in its Maildir, with Return-Path and Delivered-To on top.
    let pm = s.wait_mailbox("postmaster@example.test", 2);
    assert_eq!(pm.len(), 2, "{}", s.log());
    for box_ in [
        "abuse@example.test",
        "no-reply@example.test",
        "dmarc-reports@example.test",
    ] {
        let files = s.wait_mailbox(box_, 1);
        assert_eq!(files.len(), 1, "{box_}: {}", s.log());
        let text = serve_support::read(&files[0]);
        assert!(
            text.starts_with("Return-Path: <someone@outside.test>\r\nDelivered-To: "),
            "{text}"
        );
        assert!(text.contains("\r\nReceived: from "), "{text}");
        assert!(text.contains(&format!("Subject: to {box_}")), "{text}");
    }
    // Delivered messages leave the queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !s.queue().as_array().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(s.queue().as_array().unwrap().is_empty(), "{}", s.queue());
}

#[test]
fn every_domain_takes_mail_for_its_role_and_dmarc_report_addresses() {
    // example.test (from init) sends its DMARC reports to reports@, which is no
    // [[mailbox]]; second.test is added by hand with no mailbox at all.
    let s = Server::start(|t| {
        let t = t.replacen(
            "name = \"example.test\"\n",
            "name = \"example.test\"\ndmarc_reports = \"reports@example.test\"\n",
            1,
        );
        assert!(t.contains("dmarc_reports = \"reports"), "{t}");
        t + "\n[[domain]]\nname = \"second.test\"\n"
    });
    // The addresses `records` publishes as rua= ...
    let records = serve_support::sendwell(&["records", "--json", "--dir", &s.dir_arg()], None);
    for rua in [
        "rua=mailto:reports@example.test",
        "rua=mailto:dmarc-reports@second.test",
    ] {
        assert!(records.contains(rua), "{records}");
    }
    // ... and every role address of both domains take mail from outside.
    let boxes = [
        "reports@example.test",
        "postmaster@second.test",
        "abuse@second.test",
        "no-reply@second.test",
        "dmarc-reports@second.test",
    ];
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    let r = c.send_mail(
        "reporter@outside.test",
        &boxes,
        "Subject: aggregate report\r\n\r\nreport",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    // Each into its own Maildir, DIR/mail/ADDRESS/.
    for b in boxes {
        assert_eq!(s.wait_mailbox(b, 1).len(), 1, "{b}: {}", s.log());
    }
    // Other names in the hand-added domain are still unknown.
    assert_eq!(c.cmd("MAIL FROM:<reporter@outside.test>").code.get(), 250);
    let r = c.cmd("RCPT TO:<nobody@second.test>");
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (550, "5.1.1"),
        "{r}"
    );
}

#[test]
fn aliases_forward_outside_through_the_queue() {
    let s = Server::start(|t| {
        t + "\n[[alias]]\naddress = \"team@example.test\"\nto = [\"abuse@example.test\", \"friend@elsewhere.test\"]\n"
    });
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    let r = c.send_mail(
        "someone@outside.test",
        &["team@example.test"],
        "Subject: team\r\n\r\nhi",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    assert_eq!(s.wait_mailbox("abuse@example.test", 1).len(), 1);
    // The outside copy waits in the queue for delivery (issue 6), the local one is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let q = s.queue();
        let rs = &q[0]["recipients"];
        if rs[0]["status"] == "delivered" || std::time::Instant::now() > deadline {
            assert_eq!(rs[0]["address"], "abuse@example.test", "{q}");
            assert_eq!(rs[0]["status"], "delivered", "{q}");
            assert_eq!(rs[1]["address"], "friend@elsewhere.test", "{q}");
            assert_eq!(rs[1]["destination"], "remote", "{q}");
            assert_eq!(rs[1]["status"], "queued", "{q}");
            assert_eq!(rs[1]["original"], "team@example.test", "{q}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
