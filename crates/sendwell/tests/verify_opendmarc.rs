//! Sendwell's DMARC verdict beside OpenDMARC's on the same messages.
//!
//! Each message is sent with swaks from 127.0.0.2 to Postfix in the mail world
//! (sendwell_testkit::MailWorld: BIND, Postfix, policyd-spf, OpenDKIM and OpenDMARC as
//! milters). OpenDMARC's `dmarc=` result is read from the delivered message; `sendwell
//! verify` judges the same message, with the same IP, HELO and MAIL FROM, asking the same
//! DNS. OpenDMARC implements RFC 7489 with the Public Suffix List, so Sendwell runs with
//! `--dmarc-discovery psl` for the comparison, and again with the RFC 9989 tree walk.
//! Where the two differ, the case says why, with the RFC section.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sendwell_auth_results::parse_header;
use sendwell_testkit::{MailWorld, TempDir};
use serde_json::Value;

const SENDER_IP: &str = "127.0.0.2";

use sendwell_testkit::succeeded as ok;

fn run_with_input(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("wait")
}

fn sendwell() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sendwell"))
}

fn keygen(dir: &Path, domain: &str, selector: &str, algorithm: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{domain}-{selector}.pem"));
    let out = sendwell()
        .args(["dkim", "keygen", "--domain", domain, "--selector", selector])
        .args(["--algorithm", algorithm, "--json", "--out"])
        .arg(&path)
        .output()
        .expect("sendwell dkim keygen");
    let json: Value = serde_json::from_slice(&ok(out, "keygen")).unwrap();
    (path, json["zone_file"].as_str().unwrap().to_string())
}

fn sign(domain: &str, keys: &[(&Path, &str)], message: &[u8]) -> Vec<u8> {
    let mut cmd = sendwell();
    cmd.args(["dkim", "sign", "--domain", domain]);
    for (key, selector) in keys {
        cmd.arg("--key").arg(key).args(["--selector", selector]);
    }
    ok(run_with_input(cmd, message), "sendwell dkim sign")
}

fn dkimpy_sign(domain: &str, key: &Path, selector: &str, message: &[u8], dir: &Path) -> Vec<u8> {
    let file = dir.join("dkimpy.eml");
    std::fs::write(&file, message).unwrap();
    let script = r#"
import sys, dkim
key, selector, domain, path = sys.argv[1:5]
msg = open(path, 'rb').read()
sig = dkim.sign(msg, selector.encode(), domain.encode(), open(key, 'rb').read(),
                canonicalize=(b'relaxed', b'relaxed'),
                include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
sys.stdout.buffer.write(sig + msg)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(key)
        .args([selector, domain])
        .arg(&file)
        .output()
        .expect("python3 (dkimpy)");
    ok(out, "dkimpy sign")
}

fn message(from: &str, n: usize) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: Bob <bob@receiver.test>\r\nSubject: DMARC comparison {n}\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <cmp-{n}@sender.test>\r\n\
         \r\nHello Bob.\r\n"
    )
    .into_bytes()
}

/// The `dmarc=` result OpenDMARC wrote into a delivered message, and the policy from its
/// comment (`(p=reject dis=none)`), if any. (`dis=` is what OpenDMARC itself did, and
/// this world tells it not to reject, so the requested policy `p=` is what compares.)
fn opendmarc_result(delivered: &[u8]) -> (String, Option<String>) {
    let text = String::from_utf8_lossy(delivered);
    let head = text
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace("\r\n", "\n");
    // Unfold, then read every Authentication-Results field with our parser.
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let mut found = Vec::new();
    for line in unfolded.lines() {
        if line
            .to_ascii_lowercase()
            .starts_with("authentication-results:")
        {
            let h = parse_header(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if h.authserv_id == "mx.receiver.test" {
                found.extend(h.method("dmarc").map(|r| {
                    let policy = r.comment.as_deref().and_then(|c| {
                        c.split_whitespace()
                            .find_map(|w| w.strip_prefix("p="))
                            .map(str::to_ascii_lowercase)
                    });
                    (r.result.clone(), policy)
                }));
            }
        }
    }
    assert_eq!(
        found.len(),
        1,
        "one dmarc result from OpenDMARC in:\n{head}"
    );
    found.remove(0)
}

/// Sendwell's DMARC result and policy (`-` when none applies) for the same transaction,
/// run inside the world.
fn sendwell_result(
    world: &MailWorld,
    mail_from: &str,
    helo: &str,
    msg: &[u8],
    discovery: &str,
) -> (String, String) {
    let mut cmd = world.command(env!("CARGO_BIN_EXE_sendwell"));
    cmd.args([
        "verify",
        "--ip",
        SENDER_IP,
        "--helo",
        helo,
        "--mail-from",
        mail_from,
    ])
    .args([
        "--resolver",
        "127.0.0.1:53",
        "--json",
        "--dmarc-discovery",
        discovery,
    ]);
    let out = run_with_input(cmd, msg);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sendwell verify: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        json["dmarc"]["result"].as_str().unwrap().to_string(),
        json["dmarc"]["policy"].as_str().unwrap_or("-").to_string(),
    )
}

struct Case {
    what: &'static str,
    mail_from: &'static str,
    message: Vec<u8>,
    /// OpenDMARC's result and `dis=`; Sendwell's result and disposition by the Public
    /// Suffix List, then by the tree walk. The same unless the case's comment says why.
    opendmarc: (&'static str, &'static str),
    sendwell_psl: (&'static str, &'static str),
    sendwell_tree_walk: (&'static str, &'static str),
}

/// A case where all three agree.
fn same(
    what: &'static str,
    mail_from: &'static str,
    message: Vec<u8>,
    r: (&'static str, &'static str),
) -> Case {
    Case {
        what,
        mail_from,
        message,
        opendmarc: r,
        sendwell_psl: r,
        sendwell_tree_walk: r,
    }
}

/// Send with swaks from the world's sender address; a 4xx (a milter busy on a loaded
/// machine) is retried the way an MTA would.
fn send(world: &MailWorld, mail_from: &str, file: &Path) {
    let mut last = String::new();
    for _ in 0..3 {
        let out = world
            .command("swaks")
            .args(["--server", "127.0.0.3", "--local-interface", SENDER_IP])
            .args(["--helo", "mail.sender.test", "--from", mail_from])
            .args(["--to", "bob@receiver.test", "--data"])
            .arg(file)
            .output()
            .expect("run swaks");
        if out.status.success() {
            return;
        }
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if !last.contains("<** 4") {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("swaks failed:\n{last}\n{}", world.postfix_log());
}

#[test]
fn sendwell_and_opendmarc_agree() {
    let tmp = TempDir::new("dmarc-vs-opendmarc");
    let (rsa, rsa_zone) = keygen(tmp.path(), "sender.test", "rsa", "rsa-2048");
    let (ed, ed_zone) = keygen(tmp.path(), "sender.test", "ed", "ed25519");
    let (other, other_key) = keygen(tmp.path(), "other.test", "o1", "rsa-2048");
    let spf = format!("@ TXT \"v=spf1 ip4:{SENDER_IP} -all\"\n");
    let sender_zone = format!(
        "{spf}_dmarc TXT \"v=DMARC1; p=reject\"\nnews A {SENDER_IP}\n{rsa_zone}\n{ed_zone}\n"
    );
    let other_zone = format!("{spf}{other_key}\n");
    let quar_zone =
        format!("{spf}_dmarc TXT \"v=DMARC1; p=reject; sp=quarantine\"\nsub A {SENDER_IP}\n");
    let deep_zone = format!("{spf}_dmarc.mail TXT \"v=DMARC1; p=reject\"\nx.mail A {SENDER_IP}\n");
    let bank_zone = format!(
        "_dmarc TXT \"v=DMARC1; p=reject; psd=y\"\n_dmarc.giant TXT \"v=DMARC1; p=reject\"\n\
         mega TXT \"v=spf1 ip4:{SENDER_IP} -all\"\n"
    );
    let world = MailWorld::start(&[
        // The TLD itself, so the tree walk's _dmarc.test gets NXDOMAIN, not REFUSED.
        ("test", ""),
        ("sender.test", &sender_zone),
        ("other.test", &other_zone),
        ("quar.test", &quar_zone),
        ("nodmarc.test", &spf),
        ("deep.test", &deep_zone),
        ("bank.test", &bank_zone),
        (
            "broken.test",
            &format!("{spf}_dmarc TXT \"v=DMARC1; adkim=s\"\n"),
        ),
        (
            "dup.test",
            &format!("{spf}_dmarc TXT \"v=DMARC1; p=reject; p=reject\"\n"),
        ),
        (
            "np.test",
            &format!("{spf}_dmarc TXT \"v=DMARC1; p=none; np=reject\"\n"),
        ),
        (
            "testing.test",
            &format!("{spf}_dmarc TXT \"v=DMARC1; p=reject; t=y\"\n"),
        ),
        (
            "pct.test",
            &format!("{spf}_dmarc TXT \"v=DMARC1; p=reject; pct=0\"\n"),
        ),
    ]);
    let alice = "Alice <alice@sender.test>";
    let tampered = |signed: Vec<u8>| {
        String::from_utf8(signed)
            .unwrap()
            .replace("Hello Bob.", "Hello Bob!")
            .into_bytes()
    };
    let pass = ("pass", "reject");
    let cases = vec![
        same(
            "signed by Sendwell (RSA and Ed25519), SPF aligned",
            "alice@sender.test",
            sign(
                "sender.test",
                &[(&rsa, "rsa"), (&ed, "ed")],
                &message(alice, 1),
            ),
            pass,
        ),
        same(
            "signed by dkimpy, MAIL FROM at another domain: DKIM carries it",
            "bounce@other.test",
            dkimpy_sign("sender.test", &rsa, "rsa", &message(alice, 2), tmp.path()),
            pass,
        ),
        same(
            "unsigned, SPF aligned",
            "alice@sender.test",
            message(alice, 3),
            pass,
        ),
        same(
            "unsigned spoof: SPF passes for other.test only",
            "x@other.test",
            message(alice, 4),
            ("fail", "reject"),
        ),
        same(
            "a third party's valid signature (d=other.test) does not align",
            "x@other.test",
            sign("other.test", &[(&other, "o1")], &message(alice, 5)),
            ("fail", "reject"),
        ),
        same(
            "subdomain author, signed by the parent: relaxed alignment",
            "x@other.test",
            sign(
                "sender.test",
                &[(&ed, "ed")],
                &message("news@news.sender.test", 6),
            ),
            pass,
        ),
        same(
            "body changed after dkimpy signed, SPF not aligned",
            "x@other.test",
            tampered(dkimpy_sign(
                "sender.test",
                &rsa,
                "rsa",
                &message(alice, 7),
                tmp.path(),
            )),
            ("fail", "reject"),
        ),
        // OpenDMARC's p= shows the policy that applies to the subdomain (sp).
        same(
            "an existing subdomain under sp=quarantine",
            "x@other.test",
            message("a@sub.quar.test", 8),
            ("fail", "quarantine"),
        ),
        // No record: OpenDMARC writes "(p=none dis=none)"; Sendwell reports no policy at
        // all, since DMARC does not apply (RFC 9989 §5.3.2). Same result.
        Case {
            what: "no DMARC record",
            mail_from: "a@nodmarc.test",
            message: message("a@nodmarc.test", 9),
            opendmarc: ("none", "none"),
            sendwell_psl: ("none", "-"),
            sendwell_tree_walk: ("none", "-"),
        },
        // The only record is at _dmarc.mail.deep.test. RFC 7489 §6.6.3 asks the Author
        // Domain and its Organizational Domain (deep.test) only: no policy, for OpenDMARC
        // and for Sendwell with the list. The RFC 9989 §4.10.1 tree walk finds it.
        Case {
            what: "a record only at an intermediate name",
            mail_from: "x@other.test",
            message: message("a@x.mail.deep.test", 10),
            opendmarc: ("none", "none"),
            sendwell_psl: ("none", "-"),
            sendwell_tree_walk: ("fail", "reject"),
        },
        // bank.test publishes psd=y. By the list (OpenDMARC, RFC 7489 §3.2) giant.bank.test
        // and mega.bank.test share the Organizational Domain bank.test, so SPF for
        // mega.bank.test aligns; by the tree walk (RFC 9989 §4.10.2 rule 2) they are two
        // Organizational Domains, and it does not.
        Case {
            what: "psd=y: two registrations below a public suffix",
            mail_from: "x@mega.bank.test",
            message: message("a@giant.bank.test", 11),
            opendmarc: ("pass", "reject"),
            sendwell_psl: ("pass", "reject"),
            sendwell_tree_walk: ("fail", "reject"),
        },
        same(
            "a record with no p and no rua",
            "x@other.test",
            message("a@broken.test", 12),
            ("permerror", "-"),
        ),
        // "v=DMARC1; p=reject; p=reject". DMARC records use DKIM's tag-value syntax
        // (RFC 7489 §6.3, RFC 9989 §4.7), in which a repeated tag makes "the entire
        // tag-list ... invalid" (RFC 6376 §3.2); RFC 7489 §11.2 gives permerror for "a
        // syntactically incorrect DMARC record". OpenDMARC takes the tag anyway and
        // judges by p=reject (fail); Sendwell says permerror, as for a record with no p
        // and no rua above, and applies no policy.
        Case {
            what: "a record with a repeated tag",
            mail_from: "x@other.test",
            message: message("a@dup.test", 17),
            opendmarc: ("fail", "reject"),
            sendwell_psl: ("permerror", "-"),
            sendwell_tree_walk: ("permerror", "-"),
        },
        // ghost.np.test does not exist. RFC 9989 §4.7 (np, from RFC 9091) gives such
        // names np=reject; OpenDMARC does not implement np and applies p=none.
        Case {
            what: "np for a name that does not exist",
            mail_from: "x@other.test",
            message: message("a@ghost.np.test", 13),
            opendmarc: ("fail", "none"),
            sendwell_psl: ("fail", "reject"),
            sendwell_tree_walk: ("fail", "reject"),
        },
        // t=y and pct=0: the same result and published policy. (Sendwell's disposition
        // is then quarantine, one level lower, RFC 9989 §4.7 t and Appendix A.6; OpenDMARC
        // ignores t, and samples pct.)
        same(
            "t=y (test mode)",
            "x@other.test",
            message("a@testing.test", 14),
            ("fail", "reject"),
        ),
        same(
            "pct=0",
            "x@other.test",
            message("a@pct.test", 15),
            ("fail", "reject"),
        ),
        // A second From field above a validly signed message. OpenDMARC applies no DMARC
        // to it (RFC 7489 §6.6.1: out of scope) and writes dmarc=none; Sendwell says
        // permerror with the reason (RFC 9989 §5.3.1, §11.5: such mail is a known way
        // around DMARC, so it must not look like an ordinary unprotected message).
        Case {
            what: "two From fields",
            mail_from: "alice@sender.test",
            message: [
                b"From: mallory@other.test\r\n".as_slice(),
                &sign("sender.test", &[(&rsa, "rsa")], &message(alice, 16)),
            ]
            .concat(),
            opendmarc: ("none", "none"),
            sendwell_psl: ("permerror", "-"),
            sendwell_tree_walk: ("permerror", "-"),
        },
    ];

    let mut differences = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("case-{i}.eml"));
        std::fs::write(&file, &case.message).unwrap();
        send(&world, case.mail_from, &file);
        let delivered = world.wait_for_mail(i + 1, Duration::from_secs(30));
        let (theirs, their_dis) = opendmarc_result(&delivered[i]);
        let their_dis = their_dis.unwrap_or_else(|| "-".to_string());
        let psl = sendwell_result(
            &world,
            case.mail_from,
            "mail.sender.test",
            &case.message,
            "psl",
        );
        let walk = sendwell_result(
            &world,
            case.mail_from,
            "mail.sender.test",
            &case.message,
            "tree-walk",
        );
        let got = (
            (theirs.as_str(), their_dis.as_str()),
            (psl.0.as_str(), psl.1.as_str()),
            (walk.0.as_str(), walk.1.as_str()),
        );
        if got != (case.opendmarc, case.sendwell_psl, case.sendwell_tree_walk) {
            differences.push(format!(
                "{}: OpenDMARC {:?}, Sendwell psl {:?}, tree walk {:?}; want {:?}, {:?}, {:?}",
                case.what,
                got.0,
                got.1,
                got.2,
                case.opendmarc,
                case.sendwell_psl,
                case.sendwell_tree_walk
            ));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(cases.len(), 17);
}
