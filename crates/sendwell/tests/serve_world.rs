//! `sendwell serve` in the world in a box (issue 6): a client submits to Sendwell with
//! swaks (STARTTLS + AUTH), Sendwell signs, queues and delivers to each recipient's MX
//! found through BIND, and Postfix with OpenDKIM, OpenDMARC and policyd-spf judges it.
//! Every verdict is read from a delivered file: the MX's Authentication-Results fields,
//! parsed (see `world_verdicts`). `sendwell send --via` submits too, and refuses to log
//! in to a server whose certificate does not verify unless told `--insecure-tls`.
//!
//! Hosts, all inside one network namespace: BIND 127.0.0.1:53 (also the resolver of
//! everything in the namespace), Sendwell 127.0.0.2 (ports 25, 587, 465; the sender
//! domain's SPF record, A record and PTR name this address), Postfix 127.0.0.3:25 (the
//! receiver), smtp-sink 127.0.0.4:25 (a second receiver, for MX preference). Sendwell
//! is told the DNS server with `--resolver` rather than relying on resolv.conf.

mod world_verdicts;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sendwell_testkit::world::SPF_POLICY_SERVICES;
use sendwell_testkit::{MailWorld, TempDir};
use world_verdicts::Verdicts;

const BIN: &str = env!("CARGO_BIN_EXE_sendwell");
const PASSWORD: &str = "a long test password";

/// A Sendwell directory made by `sendwell init` for sender.test at 127.0.0.2, with its
/// DNS records (from `sendwell records --zone-file`) ready for the world's BIND.
struct Setup {
    dir: TempDir,
    zone: String,
}

fn sendwell(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendwell");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("wait for sendwell");
    assert!(
        out.status.success(),
        "sendwell {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn init(config_extra: &str) -> Setup {
    let dir = TempDir::new("serve-world");
    let d = dir.path().to_str().expect("UTF-8 path").to_string();
    sendwell(
        &[
            "init",
            "--domain",
            "sender.test",
            "--hostname",
            "mail.sender.test",
            "--ip",
            "127.0.0.2",
            "--dir",
            &d,
        ],
        None,
    );
    let path = dir.path().join("sendwell.toml");
    let mut config = std::fs::read_to_string(&path).expect("read sendwell.toml");
    // Inside the namespace Sendwell is the host 127.0.0.2, on the real ports.
    config = config
        .replace("\"0.0.0.0:25\"", "\"127.0.0.2:25\"")
        .replace("\"0.0.0.0:587\"", "\"127.0.0.2:587\"")
        .replace("\"0.0.0.0:465\"", "\"127.0.0.2:465\"");
    assert!(config.contains("127.0.0.2:587"), "{config}");
    assert!(
        config.contains("source_ipv4 = \"127.0.0.2\""),
        "init sets the source address: {config}"
    );
    // alice is only an account (no [[mailbox]]): her notifications must still reach
    // her, in DIR/mail/alice@sender.test/.
    if !config_extra.is_empty() {
        let (key, _) = config_extra.split_once(" = ").expect("key = value");
        let start = config
            .find(&format!("\n{key} = "))
            .expect("the key is in the config")
            + 1;
        let end = start + config[start..].find('\n').expect("line end");
        config.replace_range(start..end, config_extra.trim_end());
    }
    std::fs::write(&path, config).expect("write sendwell.toml");
    sendwell(
        &[
            "user",
            "add",
            "alice@sender.test",
            "--dir",
            &d,
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    let zone = sendwell(&["records", "--dir", &d, "--zone-file"], None);
    Setup { dir, zone }
}

/// `sendwell serve` inside the world, killed on drop.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    fn start(world: &MailWorld, dir: &Path) -> Serve {
        let log = dir.join("serve.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = world
            .command(BIN)
            .args(["serve", "--dir"])
            .arg(dir)
            .arg("--resolver")
            .arg(world.dns_addr().to_string())
            .env("SENDWELL_LOG", "info,sendwell_delivery=debug")
            .stdout(Stdio::from(file.try_clone().expect("dup")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start sendwell serve");
        let serve = Serve { child, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = world.command("ss").arg("-ltnH").output().expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains("127.0.0.2:587 ") {
                return serve;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen: {}",
                serve.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed and reaped when the test ends, passed or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Submit one message with swaks: STARTTLS on 587, AUTH PLAIN as alice.
fn submit(world: &MailWorld, to: &str, subject: &str) {
    let out = world
        .command("swaks")
        .args(["--server", "127.0.0.2", "--port", "587", "--tls"])
        .args([
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice@sender.test",
            "--auth-password",
            PASSWORD,
        ])
        .args(["--from", "alice@sender.test", "--to", to])
        .args([
            "--h-From",
            "Alice <alice@sender.test>",
            "--h-Subject",
            subject,
        ])
        .args(["--body", "Hello from Sendwell.\n.a dot line\n"])
        .output()
        .expect("run swaks");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("250 2.6.0"),
        "swaks: {text}"
    );
}

/// `sendwell send --via` Sendwell's submission port, logging in as alice; with
/// `--insecure-tls` when `insecure` (Sendwell's certificate from `init` is self-signed).
fn send_via(world: &MailWorld, subject: &str, insecure: bool) -> Output {
    let mut cmd = world.command(BIN);
    cmd.args([
        "send",
        "--from",
        "alice@sender.test",
        "--to",
        "bob@receiver.test",
        "--subject",
        subject,
        "--body",
        "Submitted with sendwell send.\n",
        "--via",
        "127.0.0.2:587",
        "--user",
        "alice@sender.test",
        "--password-stdin",
        "--json",
        "--resolver",
    ])
    .arg(world.dns_addr().to_string());
    if insecure {
        cmd.arg("--insecure-tls");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sendwell send");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .expect("write the password");
    }
    child.wait_with_output().expect("wait for sendwell send")
}

fn header_block(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message).into_owned();
    text.split("\n\n").next().unwrap_or_default().to_string()
}

fn messages_with(world: &MailWorld, subject: &str) -> Vec<String> {
    world
        .mailbox()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .filter(|m| m.contains(&format!("Subject: {subject}")))
        .collect()
}

fn wait_for(world: &MailWorld, serve: &Serve, subject: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(m) = messages_with(world, subject).into_iter().next() {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{subject:?} did not arrive within {timeout:?}\nsendwell:\n{}\npostfix:\n{}",
            serve.log(),
            world.postfix_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The notifications (DSNs) in alice's Sendwell mailbox.
fn alice_notifications(setup: &Setup) -> Vec<String> {
    let new = setup
        .dir
        .path()
        .join("mail")
        .join("alice@sender.test")
        .join("new");
    let mut out: Vec<String> = std::fs::read_dir(&new)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn wait_notification(setup: &Setup, serve: &Serve, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(n) = alice_notifications(setup)
            .into_iter()
            .find(|n| n.contains(needle))
        {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "no notification containing {needle:?}; sendwell:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Postfix's `smtpd_recipient_restrictions`: the `access` check (if any), then both
/// policyd-spf instances (Received-SPF and Authentication-Results).
fn restrictions(access: &str) -> String {
    let access = if access.is_empty() {
        String::new()
    } else {
        format!("{access}, ")
    };
    format!(
        "smtpd_recipient_restrictions = reject_unauth_destination, {access}{SPF_POLICY_SERVICES}"
    )
}

fn reverse_zone() -> (&'static str, &'static str) {
    (
        "0.0.127.in-addr.arpa",
        "2 PTR mail.sender.test.\n3 PTR mx.receiver.test.\n",
    )
}

#[test]
fn relayed_mail_arrives_authenticated_and_failures_bounce() {
    let setup = init("");
    let world = MailWorld::start(&[
        ("sender.test", &setup.zone),
        reverse_zone(),
        ("nomail.test", "@ MX 0 .\n"),
    ]);
    world.postconf(&[&restrictions(
        "check_recipient_access inline:{ { nobody@receiver.test = 550 5.1.1 no such user here } }",
    )]);
    let serve = Serve::start(&world, setup.dir.path());

    // 1. The whole point: spf=pass, dkim=pass (RSA and Ed25519), dmarc=pass, once.
    submit(&world, "bob@receiver.test", "authenticated");
    let message = wait_for(&world, &serve, "authenticated", Duration::from_secs(60));
    let h = header_block(message.as_bytes());
    let verdicts = Verdicts::of(message.as_bytes());
    verdicts.assert_spf_pass("sender.test");
    // Dual signing: each signature passes on its own.
    verdicts.assert_dkim_pass("sender.test", "rsa-sha256");
    verdicts.assert_dkim_pass("sender.test", "ed25519-sha256");
    verdicts.assert_dmarc_pass("sender.test");
    assert!(h.contains("Received-SPF: Pass"), "{h}");
    assert!(
        h.contains("client-ip=127.0.0.2"),
        "sent from the configured source: {h}"
    );
    assert!(h.contains("helo=mail.sender.test"), "{h}");
    assert!(h.contains("header.s=sw-rsa"), "{h}");
    assert!(
        h.contains("using TLSv1.3"),
        "opportunistic STARTTLS was used: {h}"
    );
    assert!(message.contains("\n.a dot line\n"), "{message}");
    assert_eq!(h.matches("DKIM-Signature:").count(), 2, "{h}");

    // `sendwell send --via` logs in only to a server whose certificate verifies:
    // Sendwell's own from `init` is self-signed, so without --insecure-tls nothing is
    // submitted (and the password never leaves: the handshake fails before AUTH).
    let refused = send_via(&world, "via unverified", false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(20), "deferred: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&refused.stdout).expect("JSON");
    assert_eq!(report["recipients"][0]["outcome"], "deferred", "{report}");
    assert!(
        report["recipients"][0]["reply"]
            .as_str()
            .is_some_and(|r| r.contains("certificate")),
        "{report}"
    );
    assert!(stderr.contains("--insecure-tls"), "a hint: {stderr}");
    // With the flag (a test server), it submits; Sendwell signs and delivers.
    let sent = send_via(&world, "via insecure", true);
    assert!(
        sent.status.success(),
        "{}{}",
        String::from_utf8_lossy(&sent.stdout),
        String::from_utf8_lossy(&sent.stderr)
    );
    let via = wait_for(&world, &serve, "via insecure", Duration::from_secs(60));
    let verdicts = Verdicts::of(via.as_bytes());
    verdicts.assert_spf_pass("sender.test");
    verdicts.assert_dkim_pass("sender.test", "rsa-sha256");
    verdicts.assert_dkim_pass("sender.test", "ed25519-sha256");
    verdicts.assert_dmarc_pass("sender.test");

    // 2. A 5xx: one notification in the sender's mailbox quoting the reply.
    submit(&world, "nobody@receiver.test", "refused");
    let dsn = wait_notification(&setup, &serve, "nobody@receiver.test");
    assert!(dsn.contains("Return-Path: <>"), "{dsn}");
    assert!(dsn.contains("Action: failed"), "{dsn}");
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(dsn.contains("Diagnostic-Code: smtp; 550 5.1.1"), "{dsn}");
    assert!(dsn.contains("no such user here"), "{dsn}");
    assert!(dsn.contains("Remote-MTA: dns; mx.receiver.test"), "{dsn}");
    assert!(
        dsn.contains("Subject: refused"),
        "the original header comes back: {dsn}"
    );

    // 3. A null MX (RFC 7505) bounces at once, without any connection.
    submit(&world, "anyone@nomail.test", "null mx");
    let dsn = wait_notification(&setup, &serve, "anyone@nomail.test");
    assert!(dsn.contains("Status: 5.1.10"), "{dsn}");
    assert!(
        !dsn.contains("Remote-MTA"),
        "no server was contacted: {dsn}"
    );

    // Nothing else arrived: exactly one copy of the first message, none of the others.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(messages_with(&world, "authenticated").len(), 1);
    assert_eq!(messages_with(&world, "via insecure").len(), 1);
    assert!(messages_with(&world, "via unverified").is_empty());
    assert!(messages_with(&world, "refused").is_empty());
    assert_eq!(
        alice_notifications(&setup).len(),
        2,
        "one notification each, no loops"
    );
}

#[test]
fn retries_after_4xx_and_while_the_receiver_is_down() {
    // Retry after every temporary failure at once (the agent's next wake-up, about a
    // second), 120 times: the test flips the receiver's behaviour and waits.
    let zeros = vec!["0"; 120].join(", ");
    let setup = init(&format!("retry_minutes = [{zeros}]\n"));
    let mut world = MailWorld::start(&[("sender.test", &setup.zone), reverse_zone()]);
    world.postconf(&[&restrictions(
        "check_recipient_access inline:{ { bob@receiver.test = 451 4.7.1 greylisted, try again later } }",
    )]);
    let serve = Serve::start(&world, setup.dir.path());
    let d = setup.dir.path().to_str().unwrap().to_string();

    // 4xx, then 2xx: delivered once.
    submit(&world, "bob@receiver.test", "greylisted");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !world.postfix_log().contains("451 4.7.1") {
        assert!(
            Instant::now() < deadline,
            "no 4xx seen: {}",
            world.postfix_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let queue = sendwell(&["queue", "list", "--dir", &d, "--json"], None);
    assert!(
        queue.contains("451 4.7.1"),
        "the queue shows the last reply: {queue}"
    );
    let table = sendwell(&["queue", "list", "--dir", &d], None);
    assert!(
        table.contains("LAST REPLY") && table.contains("451 4.7.1"),
        "the table shows the last reply too: {table}"
    );
    world.postconf(&[&restrictions("")]);
    wait_for(&world, &serve, "greylisted", Duration::from_secs(30));

    // The receiver down: connection refused, retried, delivered when it is back.
    world.stop_postfix();
    submit(&world, "bob@receiver.test", "while down");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queue = sendwell(&["queue", "list", "--dir", &d, "--json"], None);
        if queue.contains("while down") || queue.contains("refused") || queue.contains("connect") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempt recorded: {queue}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    world.start_postfix();
    wait_for(&world, &serve, "while down", Duration::from_secs(30));

    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(messages_with(&world, "greylisted").len(), 1, "exactly once");
    assert_eq!(messages_with(&world, "while down").len(), 1, "exactly once");
    assert!(
        alice_notifications(&setup).is_empty(),
        "no bounce for a delivered message"
    );
}

#[test]
fn lower_mx_preference_first_then_the_next() {
    let setup = init("");
    // multi.test: MX 10 at 127.0.0.4 (smtp-sink, when running), MX 20 the Postfix.
    let world = MailWorld::start(&[
        ("sender.test", &setup.zone),
        reverse_zone(),
        (
            "multi.test",
            "@ MX 10 first\n@ MX 20 second\nfirst A 127.0.0.4\nsecond A 127.0.0.3\n",
        ),
    ]);
    world.postconf(&["virtual_mailbox_domains = receiver.test, multi.test"]);
    let serve = Serve::start(&world, setup.dir.path());

    // The most preferred MX is down: the next one gets the message.
    submit(&world, "carol@multi.test", "second choice");
    let message = wait_for(&world, &serve, "second choice", Duration::from_secs(60));
    Verdicts::of(message.as_bytes()).assert_dkim_pass("sender.test", "rsa-sha256");
    assert!(
        serve.log().contains("127.0.0.4:25") || serve.log().contains("first.multi.test"),
        "the preferred MX was tried first: {}",
        serve.log()
    );

    // With the preferred MX up, it gets the mail and the second does not.
    let sink_dir = TempDir::new("mx-first");
    Command::new("chown")
        .arg("postfix")
        .arg(sink_dir.path())
        .status()
        .expect("chown");
    let template = format!("{}/msg.", sink_dir.path().display());
    let _sink = KillOnDrop(
        world
            .command("smtp-sink")
            .args(["-4", "-u", "postfix", "-d", &template, "127.0.0.4:25", "64"])
            .spawn()
            .expect("start smtp-sink"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = world.command("ss").arg("-ltnH").output().expect("ss");
        if String::from_utf8_lossy(&out.stdout).contains("127.0.0.4:25 ") {
            break;
        }
        assert!(Instant::now() < deadline, "smtp-sink did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    submit(&world, "carol@multi.test", "first choice");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = std::fs::read_dir(sink_dir.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with("msg."))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .any(|m| m.contains("Subject: first choice"))
            })
            .unwrap_or(false);
        if got {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the preferred MX got nothing: {}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        messages_with(&world, "first choice").is_empty(),
        "only the preferred MX got it"
    );
}

/// swaks from an outside host (127.0.0.5: not in sender.test's SPF) to Sendwell's
/// port 25; the transcript.
fn from_outside(
    world: &MailWorld,
    from: &str,
    header_from: &str,
    to: &str,
    subject: &str,
) -> String {
    let out = world
        .command("swaks")
        .args([
            "--server",
            "127.0.0.2",
            "--port",
            "25",
            "--local-interface",
            "127.0.0.5",
        ])
        .args(["--helo", "mta.outside.test", "--from", from, "--to", to])
        .args(["--h-From", header_from, "--h-Subject", subject])
        .args(["--body", "Hello through the alias.\n"])
        .output()
        .expect("run swaks");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn forwarded_mail_leaves_with_srs_spoofs_are_refused_and_failures_not_bounced_outside() {
    let setup = init("");
    let path = setup.dir.path().join("sendwell.toml");
    let mut config = std::fs::read_to_string(&path).expect("read sendwell.toml");
    config.push_str(
        "\n[[alias]]\naddress = \"fwd@sender.test\"\nto = [\"bob@receiver.test\"]\n\
         \n[[alias]]\naddress = \"gone@sender.test\"\nto = [\"nobody@receiver.test\"]\n",
    );
    std::fs::write(&path, config).expect("write sendwell.toml");
    let world = MailWorld::start(&[
        ("sender.test", &setup.zone),
        reverse_zone(),
        // The outside sender's domain: SPF allows its host, and it has an MX (Postfix)
        // so a bounce to it could be delivered if Sendwell sent one.
        (
            "outside.test",
            "@ TXT \"v=spf1 ip4:127.0.0.5 -all\"\n@ MX 10 mx.receiver.test.\n",
        ),
    ]);
    world.postconf(&[
        &restrictions(
            "check_recipient_access inline:{ { nobody@receiver.test = 550 5.1.1 no such user here } }",
        ),
        "virtual_mailbox_domains = receiver.test, outside.test",
    ]);
    let serve = Serve::start(&world, setup.dir.path());

    // 1. A forgery of our own domain through the alias: refused, nothing forwarded.
    let t = from_outside(
        &world,
        "ceo@sender.test",
        "CEO <ceo@sender.test>",
        "fwd@sender.test",
        "forged ceo",
    );
    assert!(t.contains("550 5.7.1"), "{t}");

    // 2. Honest mail from outside through the alias arrives from our IP with an SRS
    //    envelope sender of ours: SPF passes for sender.test, never for outside.test's
    //    address from our IP, and the original sender is not claimed.
    let t = from_outside(
        &world,
        "carol@outside.test",
        "carol@outside.test",
        "fwd@sender.test",
        "through the alias",
    );
    assert!(t.contains("250 2.6.0"), "{t}");
    let message = wait_for(&world, &serve, "through the alias", Duration::from_secs(60));
    let h = header_block(message.as_bytes());
    let return_path = h
        .lines()
        .find(|l| l.starts_with("Return-Path:"))
        .unwrap_or_else(|| panic!("no Return-Path: {h}"));
    assert!(
        return_path.contains("<SRS0=") && return_path.contains("=outside.test=carol@sender.test>"),
        "{return_path}"
    );
    assert!(h.contains("Received-SPF: Pass"), "{h}");
    assert!(
        !h.contains("DKIM-Signature:"),
        "forwarded mail is not signed: {h}"
    );
    assert!(messages_with(&world, "forged ceo").is_empty());

    // 3. The alias's target refuses (5.1.1): no notification to the unauthenticated
    //    outside sender (backscatter), a report to postmaster@ instead.
    let t = from_outside(
        &world,
        "carol@outside.test",
        "carol@outside.test",
        "gone@sender.test",
        "to a dead end",
    );
    assert!(t.contains("250 2.6.0"), "{t}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let new = setup
            .dir
            .path()
            .join("mail")
            .join("postmaster@sender.test")
            .join("new");
        let found = std::fs::read_dir(&new)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .find(|m| m.contains("nobody@receiver.test"))
            })
            .unwrap_or_default();
        if let Some(r) = found {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no report to postmaster: {}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(report.contains("Status: 5.1.1"), "{report}");
    assert!(serve.log().contains("backscatter"), "{}", serve.log());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        world
            .mailbox()
            .iter()
            .all(|m| !String::from_utf8_lossy(m).contains("nobody@receiver.test")),
        "nothing was bounced to carol@outside.test"
    );
}
