//! Issue 9, "Spoofing our own domains", on loopback with a real BIND serving
//! example.test's records (from `sendwell records --zone-file`, SPF allowing only
//! 127.0.0.2):
//! - mail from outside (port 25, no AUTH) claiming example.test in MAIL FROM or From,
//!   neither from an address our SPF allows nor signed by our DKIM key, is refused at
//!   the end of DATA with 550 5.7.1 (our own p=reject applied to ourselves);
//! - the same mail signed by our key (a copy of what alice submitted) is taken;
//! - mail from outside to an alias that forwards elsewhere is queued with an SRS
//!   envelope sender for the forwarded copy; a bounce to that SRS address is taken and
//!   routed back to the original sender; a made-up or altered SRS address is 550.
//!
//! What leaves (the SRS sender on the wire, no backscatter) is proven against Postfix
//! in serve_world.rs.

mod serve_support;

use sendwell_testkit::Bind;
use serve_support::{Client, Server, sendwell, set};

const ALIAS: &str = "\n[[alias]]\naddress = \"fwd@example.test\"\nto = [\"bob@elsewhere.test\"]\n";

/// A server for example.test (an alias fwd@ forwarding to bob@elsewhere.test) whose
/// resolver is a BIND serving its own records, with SPF `ip4:127.0.0.2 -all`.
fn start() -> (Server, Bind) {
    let mut s = Server::start(|t| format!("{t}{ALIAS}"));
    let zone = sendwell(&["records", "--dir", &s.dir_arg(), "--zone-file"], None);
    let zone: String = zone
        .lines()
        .map(|l| {
            if l.contains("v=spf1") {
                "example.test. 3600 IN TXT \"v=spf1 ip4:127.0.0.2 -all\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bind = Bind::start(&[("example.test", &zone)]);
    s.kill();
    let path = s.dir.path().join("sendwell.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        set(text, "resolver", &format!("\"{}\"", bind.addr())),
    )
    .unwrap();
    s.spawn();
    (s, bind)
}

fn mx(s: &Server) -> Client {
    let (mut c, g) = Client::connect(s.mx);
    assert_eq!(g.code.get(), 220, "{g}");
    c.ehlo();
    c
}

#[test]
fn mail_claiming_our_domain_from_outside_is_refused_unless_authenticated() {
    let (s, _bind) = start();
    let forged = "From: CEO <ceo@example.test>\r\nSubject: urgent wire\r\n\r\npay now\r\n";
    // 1. MAIL FROM and From ours, from 127.0.0.1 (SPF allows 127.0.0.2 only), to a
    //    local mailbox and to the forwarding alias: refused at the end of DATA.
    for to in ["postmaster@example.test", "fwd@example.test"] {
        let r = mx(&s).send_mail("ceo@example.test", &[to], forged);
        assert_eq!(
            (r.code.get(), r.enhanced.map(|e| e.to_string())),
            (550, Some("5.7.1".into())),
            "{r}"
        );
        assert!(r.text().contains("example.test"), "{r}");
    }
    // 2. The envelope elsewhere, From ours: refused too (DMARC looks at From).
    let r = mx(&s).send_mail("bounce@outside.test", &["fwd@example.test"], forged);
    assert_eq!(r.code.get(), 550, "{r}");
    // ... and a subdomain of ours in MAIL FROM.
    let r = mx(&s).send_mail(
        "x@news.example.test",
        &["postmaster@example.test"],
        "From: x@outside.test\r\nSubject: s\r\n\r\nb\r\n",
    );
    assert_eq!(r.code.get(), 550, "{r}");
    // 3. Mail that claims nothing of ours is taken as before.
    let r = mx(&s).send_mail(
        "someone@outside.test",
        &["postmaster@example.test"],
        "From: someone@outside.test\r\nSubject: hello\r\n\r\nhi\r\n",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    assert!(s.queue().as_array().unwrap().len() <= 1, "only that one");

    // 4. A message really signed by our key passes from anywhere: alice submits one
    //    to postmaster@ (signed on submission), and the signed copy is sent in again
    //    from outside.
    let mut c = s.alice();
    let r = c.send_mail(
        "alice@example.test",
        &["abuse@example.test"],
        "From: alice@example.test\r\nSubject: signed\r\n\r\nreally me\r\n",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    let stored = s.wait_mailbox("abuse@example.test", 1);
    let signed = std::fs::read(&stored[0]).unwrap();
    let signed = String::from_utf8(signed).unwrap();
    assert!(signed.contains("DKIM-Signature:"), "{signed}");
    let r = mx(&s).send_mail("alice@example.test", &["postmaster@example.test"], &signed);
    assert_eq!(r.code.get(), 250, "a valid signature of ours: {r}");
    // The same message altered after signing no longer passes.
    let altered = signed.replace("really me", "really not me");
    let r = mx(&s).send_mail("alice@example.test", &["postmaster@example.test"], &altered);
    assert_eq!(r.code.get(), 550, "{r}");
    assert!(
        s.log()
            .contains("is our own domain, but this message is neither"),
        "refusals are logged: {}",
        s.log()
    );
}

#[test]
fn forwarded_mail_gets_an_srs_sender_and_only_genuine_bounces_come_back() {
    let (s, _bind) = start();
    let r = mx(&s).send_mail(
        "carol@outside.test",
        &["fwd@example.test"],
        "From: carol@outside.test\r\nSubject: for bob\r\n\r\nhi bob\r\n",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    let queue = s.queue();
    let m = &queue.as_array().unwrap()[0];
    let srs = m["forward_sender"]
        .as_str()
        .unwrap_or_else(|| panic!("a forward sender: {m}"))
        .to_string();
    assert!(srs.starts_with("SRS0="), "{srs}");
    assert!(srs.ends_with("=outside.test=carol@example.test"), "{srs}");
    assert_eq!(m["sender"], "carol@outside.test");

    // A bounce to the SRS address is taken, for the original sender.
    let mut c = mx(&s);
    assert_eq!(c.cmd("MAIL FROM:<>").code.get(), 250);
    let r = c.cmd(&format!("RCPT TO:<{srs}>"));
    assert_eq!(r.code.get(), 250, "{r}");
    // Altered (another destination) or made up: no such user.
    let altered = srs.replace("=outside.test=carol", "=victim.test=carol");
    let r = c.cmd(&format!("RCPT TO:<{altered}>"));
    assert_eq!(r.code.get(), 550, "{r}");
    let r = c.cmd("RCPT TO:<SRS0=abcd=AA=victim.test=x@example.test>");
    assert_eq!(r.code.get(), 550, "{r}");
    c.send(b"DATA\r\n");
    assert_eq!(c.reply().code.get(), 354);
    c.send(
        b"From: MAILER-DAEMON@elsewhere.test\r\nSubject: Undelivered\r\n\r\nbob is gone\r\n.\r\n",
    );
    assert_eq!(c.reply().code.get(), 250);
    let queue = s.queue();
    let bounce = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sender"] == "")
        .unwrap_or_else(|| panic!("the bounce is queued: {queue}"));
    assert_eq!(bounce["recipients"][0]["address"], "carol@outside.test");
    assert_eq!(bounce["recipients"][0]["destination"], "remote");
    // A bounce has a null sender: nothing to rewrite.
    assert!(bounce["forward_sender"].is_null(), "{bounce}");

    // Submitted mail to the alias keeps alice's own sender (it is authenticated).
    let mut c = s.alice();
    let r = c.send_mail(
        "alice@example.test",
        &["fwd@example.test"],
        "From: alice@example.test\r\nSubject: from alice\r\n\r\nhi\r\n",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    let queue = s.queue();
    let mine = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sender"] == "alice@example.test")
        .unwrap();
    assert!(mine["forward_sender"].is_null(), "{mine}");
}
