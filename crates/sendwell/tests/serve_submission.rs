//! Submission (RFC 6409, RFC 8314, RFC 4954) against the real `sendwell serve`, with
//! swaks as the client where it can do the job: STARTTLS and implicit TLS with AUTH,
//! AUTH refused before TLS, wrong passwords refused and rate limited, senders the
//! user may not use refused, Date and Message-ID added.

mod serve_support;

use serve_support::{Client, PASSWORD, Server, set, swaks};

fn port(a: std::net::SocketAddr) -> String {
    a.to_string()
}

#[test]
fn swaks_submits_over_starttls_with_auth_plain() {
    let s = Server::start(|t| t);
    let (ok, out) = swaks(&[
        "--server",
        &port(s.submission),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "alice@example.test",
        "--to",
        "bob@elsewhere.test",
        "--data",
        "From: Alice <alice@example.test>\r\nSubject: starttls test\r\n\r\nHello over STARTTLS.\r\n",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("235 2.7.0"), "{out}");
    assert!(
        out.contains("250 2.6.0 Message accepted, queued as"),
        "{out}"
    );
    let q = s.queue();
    let msgs = q.as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{q}");
    let m = &msgs[0];
    assert_eq!(m["sender"], "alice@example.test");
    assert_eq!(m["auth_user"], "alice@example.test");
    assert_eq!(m["recipients"][0]["address"], "bob@elsewhere.test");
    assert_eq!(m["recipients"][0]["destination"], "remote");
    assert_eq!(m["recipients"][0]["status"], "queued");
    // The message as stored: the DKIM signatures for her From domain, our Received,
    // then the Date and Message-ID the client left out (RFC 6409 §8.2, §8.3).
    let id = m["id"].as_str().unwrap();
    let shown = serve_support::sendwell(
        &["queue", "show", id, "--json", "--dir", &s.dir_arg()],
        None,
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let text = shown["message"].as_str().unwrap();
    assert!(text.starts_with("DKIM-Signature: "), "{text}");
    let text = &text[text.find("\r\nReceived: from ").expect("a Received field") + 2..];
    assert!(text.starts_with("Received: from "), "{text}");
    assert!(text.contains("with ESMTPSA id"), "{text}");
    assert!(text.contains("(TLSv1."), "{text}");
    assert!(text.contains("\r\nDate: "), "{text}");
    assert!(text.contains(&format!("\r\nMessage-ID: <{id}.")), "{text}");
    assert!(
        text.contains("Subject: starttls test\r\n\r\nHello over STARTTLS.\r\n"),
        "{text}"
    );
}

#[test]
fn swaks_submits_over_implicit_tls_with_auth_login() {
    let s = Server::start(|t| t);
    let (ok, out) = swaks(&[
        "--server",
        &port(s.submissions),
        "--tls-on-connect",
        "--auth",
        "LOGIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "alice@example.test",
        "--to",
        "carol@elsewhere.test",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("250 2.6.0"), "{out}");
    assert_eq!(s.queue().as_array().unwrap().len(), 1);
}

#[test]
fn auth_before_tls_is_refused_and_not_offered() {
    let s = Server::start(|t| t);
    for addr in [s.submission, s.mx] {
        let (mut c, greeting) = Client::connect(addr);
        assert_eq!(greeting.code.get(), 220);
        let ehlo = c.ehlo();
        assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo}");
        assert!(!ehlo.lines.iter().any(|l| l.starts_with("AUTH")), "{ehlo}");
        // RFC 4954 §4: 538 5.7.11 Encryption required.
        let r = c.auth_plain("alice@example.test", PASSWORD);
        assert_eq!(
            (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
            (538, "5.7.11"),
            "{r}"
        );
        if addr == s.submission {
            // Submission needs authentication before MAIL (RFC 6409 §4.3).
            let r = c.cmd("MAIL FROM:<alice@example.test>");
            assert_eq!(r.code.get(), 530, "{r}");
        }
        // After STARTTLS, AUTH is offered and works.
        c.starttls();
        let ehlo = c.ehlo();
        assert!(ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"), "{ehlo}");
        assert!(!ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo}");
        let r = c.auth_plain("alice@example.test", PASSWORD);
        assert_eq!(r.code.get(), 235, "{r}");
        // RFC 4954 §4: a second AUTH gets 503.
        assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 503);
    }
    // swaks before TLS: the server does not advertise AUTH, so swaks sends none (it
    // has no option to force one; the 538 for a forced AUTH is checked by hand above).
    // --auth-optional goes on without it, and the server refuses MAIL unauthenticated.
    let (ok, out) = swaks(&[
        "--server",
        &port(s.submission),
        "--auth-optional",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "alice@example.test",
        "--to",
        "bob@elsewhere.test",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("Host did not advertise authentication"),
        "{out}"
    );
    assert!(!out.contains("-> AUTH"), "no AUTH was sent: {out}");
    assert!(
        out.contains("530 5.7.0"),
        "MAIL refused without AUTH: {out}"
    );
    assert!(s.queue().as_array().unwrap().is_empty());
}

#[test]
fn wrong_password_is_refused_and_rate_limited() {
    let s = Server::start(|t| {
        let t = set(t, "failure_delay_ms", "10");
        let t = set(t, "max_failure_delay_ms", "40");
        set(t, "max_failures", "3")
    });
    let (ok, out) = swaks(&[
        "--server",
        &port(s.submission),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "wrong",
        "--from",
        "alice@example.test",
        "--to",
        "bob@elsewhere.test",
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("535 5.7.8"), "{out}");
    // Two more failures (LOGIN this time) reach the limit of 3 ...
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    for _ in 0..2 {
        let r = c.cmd("AUTH LOGIN");
        assert_eq!(r.code.get(), 334);
        assert_eq!(
            c.cmd(&sendwell_smtp::sasl::encode(b"alice@example.test"))
                .code
                .get(),
            334
        );
        let r = c.cmd(&sendwell_smtp::sasl::encode(b"guess"));
        assert_eq!(r.code.get(), 535, "{r}");
    }
    // ... after which even the right password is refused for a while, from this IP
    // and for this account (454 4.7.0, RFC 4954 §6).
    let r = c.auth_plain("alice@example.test", PASSWORD);
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (454, "4.7.0"),
        "{r}"
    );
    let (ok, out) = swaks(&[
        "--server",
        &port(s.submission),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "alice@example.test",
        "--to",
        "bob@elsewhere.test",
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("454 4.7.0"), "{out}");
    assert!(s.queue().as_array().unwrap().is_empty());
    assert!(s.log().contains("AUTH failed"), "{}", s.log());
}

#[test]
fn senders_the_user_may_not_use_are_refused() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 235);
    for from in ["bob@example.test", "alice@elsewhere.test", ""] {
        let r = c.cmd(&format!("MAIL FROM:<{from}>"));
        assert_eq!(
            (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
            (550, "5.7.1"),
            "{from}: {r}"
        );
        assert!(r.text().contains("Sender refused"), "{r}");
    }
    // The envelope is fine but the From: header is someone else's.
    let r = c.send_mail(
        "alice@example.test",
        &["bob@elsewhere.test"],
        "From: Bob <bob@example.test>\r\nSubject: spoof\r\n\r\nbody",
    );
    assert_eq!(
        (r.code.get(), r.enhanced.unwrap().to_string().as_str()),
        (550, "5.7.1"),
        "{r}"
    );
    // Her own address in both places works.
    let r = c.send_mail(
        "alice@example.test",
        &["bob@elsewhere.test"],
        "From: Alice <Alice@Example.test>\r\nSubject: ok\r\n\r\nbody",
    );
    assert_eq!(r.code.get(), 250, "{r}");
    assert_eq!(s.queue().as_array().unwrap().len(), 1);
}

#[test]
fn may_send_from_allows_other_addresses_and_domains() {
    let s = Server::start(|t| t);
    serve_support::sendwell(
        &[
            "user",
            "add",
            "dave@example.test",
            "--password-stdin",
            "--may-send-from",
            "sales@example.test",
            "--may-send-from",
            "dave.example",
            "--dir",
            &s.dir_arg(),
        ],
        Some("pw-of-dave\n"),
    );
    // The running server reads users.toml again: no restart.
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(
        c.auth_plain("dave@example.test", "pw-of-dave").code.get(),
        235
    );
    for from in ["sales@example.test", "anything@dave.example"] {
        let r = c.send_mail(
            from,
            &["x@elsewhere.test"],
            &format!("From: Dave <{from}>\r\nSubject: hi\r\n\r\nbody"),
        );
        assert_eq!(r.code.get(), 250, "{from}: {r}");
    }
    assert_eq!(c.cmd("MAIL FROM:<alice@example.test>").code.get(), 550);
}

/// Submit `message` as alice on an authenticated session; the final reply's code and
/// enhanced code.
fn submit(c: &mut Client, message: &str) -> (u16, String, String) {
    let r = c.send_mail("alice@example.test", &["bob@elsewhere.test"], message);
    let enhanced = r.enhanced.map(|e| e.to_string()).unwrap_or_default();
    (r.code.get(), enhanced, r.text())
}

#[test]
fn from_header_is_parsed_exactly_before_queueing() {
    let s = Server::start(|t| set(t, "max_errors", "100"));
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 235);
    // Someone else's address, however it is dressed up: 550 5.7.1.
    let not_hers = [
        // The audit's case: a quoted-pair \" inside the quoted display name, after
        // which a naive scan sees a comment "(" swallowing the address.
        r#"From: "\"(" <ceo@bank.example>"#,
        "From: Mallory <ceo@bank.example>",
        // A quoted-pair \) inside a comment: the whole "(...)" is one comment.
        r"From: Mallory <ceo@bank.example> (\) <alice@example.test>)",
        "From: (alice@example.test) ceo@bank.example",
        // Angle brackets inside a quoted group name are text, not an address.
        r#"From: "<alice@example.test>": ceo@bank.example;"#,
        "From: Team: alice@example.test, ceo@bank.example;",
        // An encoded word that decodes to her address is only a display name.
        "From: =?utf-8?b?YWxpY2VAZXhhbXBsZS50ZXN0?= <ceo@bank.example>",
        "From: alice@example.test, ceo@bank.example",
    ];
    for from in not_hers {
        let (code, enhanced, text) = submit(&mut c, &format!("{from}\r\nSubject: x\r\n\r\nbody"));
        assert_eq!((code, enhanced.as_str()), (550, "5.7.1"), "{from}: {text}");
        assert!(
            text.contains("<ceo@bank.example> is not one"),
            "{from}: {text}"
        );
    }
    // No single From that parses: 550 5.6.0, citing RFC 5322 §3.6.
    let unusable = [
        "Subject: no From at all",
        "From: alice@example.test\r\nFrom: alice@example.test",
        // The obsolete "From :" is a From field too (RFC 5322 §4.5).
        "From: alice@example.test\r\nFrom : ceo@bank.example",
        // An unterminated quoted string.
        r#"From: "\"( <ceo@bank.example>"#,
        // An "encoded word" with an @ is no encoded word: garbage.
        "From: =?utf-8?q?alice@example.test?= <ceo@bank.example>",
        "From: undisclosed-recipients:;",
        "From: ",
    ];
    for head in unusable {
        let (code, enhanced, text) = submit(&mut c, &format!("{head}\r\nSubject: x\r\n\r\nbody"));
        assert_eq!((code, enhanced.as_str()), (550, "5.6.0"), "{head}: {text}");
        assert!(text.contains("RFC 5322 §3.6"), "{head}: {text}");
    }
    assert!(s.queue().as_array().unwrap().is_empty(), "{}", s.queue());
    // Her own address in the forms RFC 5322 allows: accepted, and DKIM-signed for
    // the domain the check parsed.
    let hers = [
        "From: (work) alice@example.test (home)",
        r#"From: "Alice \"the boss\" (CEO)" <alice@example.test>"#,
        "From: =?utf-8?q?Alice_Liddell?= <alice@example.test>",
        "From: Team: alice@example.test;",
        r#"From: "alice"@Example.TEST."#,
        "From: Alice\r\n <alice@example.test>",
    ];
    for from in hers {
        let (code, _, text) = submit(&mut c, &format!("{from}\r\nSubject: ok\r\n\r\nbody"));
        assert_eq!(code, 250, "{from}: {text}");
    }
    let q = s.queue();
    let msgs = q.as_array().unwrap();
    assert_eq!(msgs.len(), hers.len(), "{q}");
    for m in msgs {
        let id = m["id"].as_str().unwrap();
        let shown = serve_support::sendwell(
            &["queue", "show", id, "--json", "--dir", &s.dir_arg()],
            None,
        );
        let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
        let text = shown["message"].as_str().unwrap();
        assert!(text.starts_with("DKIM-Signature:"), "{text}");
        assert!(text.contains("d=example.test;"), "{text}");
    }
}

/// Submitted mail is DKIM-signed before it is queued; one that cannot be signed for
/// what it is (a header line without a colon, RFC 5322 §2.2, which receivers would not
/// verify) is refused with the reason rather than sent unsigned to be junked.
#[test]
fn a_message_that_cannot_be_signed_is_refused_with_the_reason() {
    let s = Server::start(|t| t);
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code.get(), 235);
    let (code, enhanced, text) = submit(
        &mut c,
        "From: alice@example.test\r\nX-Broken header line\r\nSubject: x\r\n\r\nbody",
    );
    assert_eq!((code, enhanced.as_str()), (550, "5.6.0"), "{text}");
    assert!(
        text.contains("cannot be DKIM-signed") && text.contains("without a colon"),
        "{text}"
    );
    assert!(s.queue().as_array().unwrap().is_empty(), "{}", s.queue());
    // The session goes on: a well-formed message is signed and queued.
    let (code, _, text) = submit(
        &mut c,
        "From: alice@example.test\r\nSubject: ok\r\n\r\nbody",
    );
    assert_eq!(code, 250, "{text}");
    assert_eq!(s.queue().as_array().unwrap().len(), 1, "{}", s.queue());
}

/// `sendwell send --via` verifies the server's certificate; `--ca-file` names the
/// anchor to verify it with, here the self-signed certificate `sendwell init` wrote
/// (it names 127.0.0.1 in a --local setup). The wrong anchor is refused before AUTH.
#[test]
fn send_via_verifies_the_certificate_against_ca_file() {
    let s = Server::start(|t| t);
    let d = s.dir_arg();
    let send = |ca_file: &str| {
        serve_support::run(
            &[
                "send",
                "--from",
                "alice@example.test",
                "--to",
                "bob@elsewhere.test",
                "--subject",
                "verified",
                "--body",
                "hello",
                "--via",
                &s.submission.to_string(),
                "--user",
                "alice@example.test",
                "--password-stdin",
                "--ca-file",
                ca_file,
            ],
            Some(&format!("{PASSWORD}\n")),
        )
    };
    let cert = format!("{d}/tls/cert.pem");
    let ok = send(&cert);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("250"), "{out}");
    assert_eq!(s.queue().as_array().unwrap().len(), 1, "{}", s.queue());

    // Another server's certificate is no anchor for this one: deferred, nothing sent.
    let other = Server::start(|t| t);
    let wrong = send(&format!("{}/tls/cert.pem", other.dir_arg()));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(20), "{stderr}");
    assert!(stderr.contains("--ca-file"), "{stderr}");
    assert_eq!(s.queue().as_array().unwrap().len(), 1, "{}", s.queue());

    // A file without a certificate is an error that says so.
    let none = send(&format!("{d}/sendwell.toml"));
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("holds no certificate"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}
