//! `sendwell verify` end to end through BIND on loopback: messages signed by Sendwell's
//! signer and by dkimpy (Python `dkim.sign`), unsigned, tampered, spoofed and malformed,
//! each judged for SPF, DKIM, DMARC and iprev. The Authentication-Results it prints is
//! also read back by the Python `authres` parser, an independent implementation.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sendwell_testkit::TempDir;

mod dmarc_support;
use serde_json::Value;

const SENDER_ZONE_BASE: &str = r#"
@            TXT  "v=spf1 ip4:192.0.2.10 -all"
_dmarc       TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test"
mail         A    192.0.2.10
mail         TXT  "v=spf1 a -all"
news         A    192.0.2.10
"#;

const OTHER_ZONE: &str = r#"
@            TXT  "v=spf1 ip4:192.0.2.20 -all"
"#;

const NODMARC_ZONE: &str = r#"
@            TXT  "v=spf1 ip4:192.0.2.10 -all"
"#;

/// One record with a repeated tag: invalid (RFC 9989 §4.7 via RFC 6376 §3.2).
const DUP_ZONE: &str = r#"
@            TXT  "v=spf1 ip4:192.0.2.10 -all"
_dmarc       TXT  "v=DMARC1; p=reject; p=reject"
"#;

const REVERSE_ZONE: &str = r#"
10           PTR  mail.sender.test.
20           PTR  liar.other.test.
"#;

fn sendwell() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sendwell"))
}

fn run_with_input(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("wait")
}

use sendwell_testkit::succeeded as ok;

/// `sendwell dkim keygen`: (key file, zone-file line).
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

fn message(from: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\n{extra}To: Bob <bob@receiver.test>\r\nSubject: Verify test\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <verify-1@sender.test>\r\n\
         \r\nHello Bob.\r\n"
    )
    .into_bytes()
}

fn sendwell_sign(domain: &str, keys: &[(&Path, &str)], message: &[u8]) -> Vec<u8> {
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

struct Verdict {
    json: Value,
    code: i32,
}

fn verify(resolver: &str, ip: &str, helo: &str, mail_from: &str, message: &[u8]) -> Verdict {
    let mut cmd = sendwell();
    cmd.args([
        "verify",
        "--ip",
        ip,
        "--helo",
        helo,
        "--mail-from",
        mail_from,
    ])
    .args([
        "--authserv-id",
        "mx.receiver.test",
        "--resolver",
        resolver,
        "--json",
    ]);
    let out = run_with_input(cmd, message);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sendwell verify: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Verdict {
        json,
        code: out.status.code().expect("exit code"),
    }
}

fn dkim_results(v: &Verdict) -> Vec<String> {
    v.json["dkim"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["result"].as_str().unwrap().to_string())
        .collect()
}

/// The Python authres package's reading of our header: (method, result) pairs.
fn authres_parse(value: &str) -> Vec<(String, String)> {
    let script = r#"
import sys, authres
h = authres.AuthenticationResultsHeader.parse('Authentication-Results: ' + sys.argv[1])
for r in h.results:
    print(r.method, r.result)
"#;
    let out = Command::new("python3")
        .args(["-c", script, value])
        .output()
        .expect("python3 (authres)");
    let text = String::from_utf8(ok(out, "authres parse")).unwrap();
    text.lines()
        .map(|l| {
            let (m, r) = l.split_once(' ').unwrap();
            (m.to_string(), r.to_string())
        })
        .collect()
}

#[test]
fn verify_through_bind() {
    let tmp = TempDir::new("verify");
    let (rsa, rsa_zone) = keygen(tmp.path(), "sender.test", "rsa", "rsa-2048");
    let (ed, ed_zone) = keygen(tmp.path(), "sender.test", "ed", "ed25519");
    let (other, other_zone) = keygen(tmp.path(), "other.test", "o1", "rsa-2048");
    let sender_zone = format!("{SENDER_ZONE_BASE}\n{rsa_zone}\n{ed_zone}\n");
    let other_zone = format!("{OTHER_ZONE}\n{other_zone}\n");
    // The `test` zone itself too, so the tree walk's last query (_dmarc.test) gets an
    // authoritative NXDOMAIN, as a TLD's servers would give, instead of REFUSED.
    let bind = dmarc_support::bind(&[
        ("test", ""),
        ("sender.test", &sender_zone),
        ("other.test", &other_zone),
        ("nodmarc.test", NODMARC_ZONE),
        ("dup.test", DUP_ZONE),
        ("2.0.192.in-addr.arpa", REVERSE_ZONE),
    ]);
    let resolver = bind.addr().to_string();
    let alice = "Alice <alice@sender.test>";

    // Sendwell signs (RSA and Ed25519); sent from an IP SPF does not allow: DKIM carries
    // DMARC. No PTR for the IP: iprev permerror.
    let signed = sendwell_sign(
        "sender.test",
        &[(&rsa, "rsa"), (&ed, "ed")],
        &message(alice, ""),
    );
    let v = verify(
        &resolver,
        "192.0.2.99",
        "mail.sender.test",
        "alice@sender.test",
        &signed,
    );
    assert_eq!(v.json["spf"]["result"], "fail");
    assert_eq!(v.json["spf"]["domain"], "sender.test");
    assert_eq!(dkim_results(&v), ["pass", "pass"]);
    assert_eq!(v.json["dkim"][0]["selector"], "rsa");
    assert_eq!(v.json["dmarc"]["result"], "pass");
    assert_eq!(v.json["dmarc"]["dkim_aligned"], true);
    assert_eq!(v.json["dmarc"]["spf_aligned"], false);
    assert_eq!(v.json["dmarc"]["policy"], "reject");
    assert_eq!(v.json["dmarc"]["disposition"], "none");
    assert_eq!(v.json["iprev"]["result"], "permerror");
    assert_eq!(v.code, 0);

    // dkimpy signs with the same RSA key; sent from the SPF-listed IP with a PTR that
    // resolves back: everything passes.
    let py = dkimpy_sign("sender.test", &rsa, "rsa", &message(alice, ""), tmp.path());
    let v = verify(
        &resolver,
        "192.0.2.10",
        "mail.sender.test",
        "alice@sender.test",
        &py,
    );
    assert_eq!(v.json["spf"]["result"], "pass");
    assert_eq!(dkim_results(&v), ["pass"]);
    assert_eq!(v.json["dmarc"]["result"], "pass");
    assert_eq!(v.json["dmarc"]["spf_aligned"], true);
    assert_eq!(v.json["iprev"]["result"], "pass");
    assert_eq!(v.json["iprev"]["ptr"], "mail.sender.test");
    let header = v.json["authentication_results"].as_str().unwrap();
    assert!(
        header.starts_with("mx.receiver.test; iprev=pass policy.iprev=192.0.2.10"),
        "{header}"
    );
    assert_eq!(
        authres_parse(header),
        [
            ("iprev", "pass"),
            ("spf", "pass"),
            ("spf", "pass"),
            ("dkim", "pass"),
            ("dmarc", "pass")
        ]
        .map(|(m, r)| (m.to_string(), r.to_string()))
    );

    // One changed body byte: DKIM fails; SPF fails too: DMARC fail, reject (exit 10).
    let tampered = String::from_utf8(py.clone())
        .unwrap()
        .replace("Hello Bob.", "Hello Bob!");
    let v = verify(
        &resolver,
        "192.0.2.99",
        "mail.sender.test",
        "alice@sender.test",
        tampered.as_bytes(),
    );
    assert_eq!(dkim_results(&v), ["fail"]);
    assert_eq!(v.json["dmarc"]["result"], "fail");
    assert_eq!(v.json["dmarc"]["disposition"], "reject");
    assert_eq!(v.code, 10);

    // A subdomain author signed by the parent: relaxed alignment (tree walk finds the
    // policy and the Organizational Domain at sender.test).
    let news = sendwell_sign(
        "sender.test",
        &[(&ed, "ed")],
        &message("news@news.sender.test", ""),
    );
    let v = verify(
        &resolver,
        "192.0.2.99",
        "mail.sender.test",
        "bounce@sender.test",
        &news,
    );
    assert_eq!(v.json["dmarc"]["result"], "pass");
    assert_eq!(v.json["dmarc"]["from_domain"], "news.sender.test");
    assert_eq!(v.json["dmarc"]["org_domain"], "sender.test");

    // A third party (other.test) signs and sends for alice@sender.test: SPF and DKIM
    // pass for other.test, but neither aligns: DMARC fail.
    let third = sendwell_sign("other.test", &[(&other, "o1")], &message(alice, ""));
    let v = verify(
        &resolver,
        "192.0.2.20",
        "liar.other.test",
        "bounce@other.test",
        &third,
    );
    assert_eq!(v.json["spf"]["result"], "pass");
    assert_eq!(dkim_results(&v), ["pass"]);
    assert_eq!(v.json["dmarc"]["result"], "fail");
    assert_eq!(v.json["dmarc"]["disposition"], "reject");
    // liar.other.test has no address record: the PTR does not confirm.
    assert_eq!(v.json["iprev"]["result"], "fail");

    // A second From field added above a validly signed message (the attack RFC 9989
    // §11.5 describes): permerror with the reason, never a pass (exit 13).
    let two = [
        b"From: mallory@evil.test\r\n".as_slice(),
        &sendwell_sign("sender.test", &[(&rsa, "rsa")], &message(alice, "")),
    ]
    .concat();
    let v = verify(
        &resolver,
        "192.0.2.10",
        "mail.sender.test",
        "alice@sender.test",
        &two,
    );
    assert_eq!(v.json["dmarc"]["result"], "permerror");
    assert!(
        v.json["dmarc"]["reason"]
            .as_str()
            .unwrap()
            .contains("2 From header fields")
    );
    assert_eq!(v.json["dmarc"]["from_domain"], Value::Null);
    assert_eq!(v.code, 13);
    let header = v.json["authentication_results"].as_str().unwrap();
    assert!(authres_parse(header).contains(&("dmarc".to_string(), "permerror".to_string())));
    // The reason in the header comment is ASCII: "section", not "§" turned into "?".
    assert!(
        header.contains("RFC 9989 section 5.3.1, section 11.5"),
        "{header}"
    );
    assert!(header.is_ascii() && !header.contains('?'), "{header}");

    // One DMARC record with a repeated tag: permerror with the mistake as the reason
    // (RFC 7489 §11.2), like a record with no p and no rua; not "DMARC does not apply".
    let v = verify(
        &resolver,
        "192.0.2.10",
        "mail.sender.test",
        "a@dup.test",
        &message("a@dup.test", ""),
    );
    assert_eq!(v.json["dmarc"]["result"], "permerror");
    assert_eq!(v.json["dmarc"]["policy_domain"], "dup.test");
    let reason = v.json["dmarc"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("_dmarc.dup.test is invalid: the tag \"p\" appears more than once"),
        "{reason}"
    );
    assert_eq!(v.code, 13);
    let header = v.json["authentication_results"].as_str().unwrap();
    assert!(
        header.contains("dmarc=permerror (the DMARC record at _dmarc.dup.test is invalid: ")
            && header.contains("RFC 7489 section 11.2\\)) header.from=dup.test"),
        "{header}"
    );
    assert!(header.is_ascii() && !header.contains('?'), "{header}");
    assert!(authres_parse(header).contains(&("dmarc".to_string(), "permerror".to_string())));

    // No DMARC record: none (exit 11).
    let v = verify(
        &resolver,
        "192.0.2.10",
        "mail.nodmarc.test",
        "a@nodmarc.test",
        &message("a@nodmarc.test", ""),
    );
    assert_eq!(v.json["dmarc"]["result"], "none");
    assert_eq!(v.json["dmarc"]["policy"], Value::Null);
    assert_eq!(v.code, 11);

    // A null MAIL FROM: SPF checks the HELO name, and DMARC aligns it.
    let v = verify(
        &resolver,
        "192.0.2.10",
        "mail.sender.test",
        "<>",
        &message(alice, ""),
    );
    assert_eq!(v.json["spf"]["domain"], "mail.sender.test");
    assert_eq!(v.json["spf"]["result"], "pass");
    assert_eq!(v.json["dmarc"]["result"], "pass");
}

#[test]
fn verify_summary_reads_well() {
    let bind = dmarc_support::bind(&[
        ("test", ""),
        ("sender.test", SENDER_ZONE_BASE),
        ("nodmarc.test", NODMARC_ZONE),
        ("2.0.192.in-addr.arpa", REVERSE_ZONE),
    ]);
    let mut cmd = sendwell();
    cmd.args(["verify", "--ip", "192.0.2.99", "--helo", "mail.sender.test"])
        .args([
            "--mail-from",
            "alice@sender.test",
            "--authserv-id",
            "mx.receiver.test",
        ])
        .args(["--resolver", &bind.addr().to_string()]);
    let out = run_with_input(cmd, &message("alice@sender.test", ""));
    assert_eq!(out.status.code(), Some(10));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Authentication-Results: mx.receiver.test;\n\tiprev=permerror"),
        "{text}"
    );
    for needle in [
        "Summary of Results",
        "SPF check          fail",
        "fix: add ip4:192.0.2.99 to the SPF record of sender.test",
        "DKIM check         none",
        "DMARC check        fail",
        "Reverse DNS check  permerror",
        "A receiver honouring the policy would reject this message.",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The HELO line gets its fix too, right below it.
    let lines: Vec<&str> = text.lines().collect();
    let helo = lines
        .iter()
        .position(|l| l.starts_with("  SPF check (HELO)   fail"))
        .unwrap_or_else(|| panic!("no failing HELO line in:\n{text}"));
    assert!(
        lines[helo + 1]
            .trim_start()
            .starts_with("fix: add ip4:192.0.2.99 to the SPF record of mail.sender.test"),
        "{text}"
    );

    // A HELO name without an SPF record: publish one for it (RFC 7208 §2.3). No DMARC
    // policy applies here, and the line still says how discovery looked.
    let unprotected = |discovery: &str| {
        let mut cmd = sendwell();
        cmd.args(["verify", "--ip", "192.0.2.10", "--helo", "news.sender.test"])
            .args(["--mail-from", "a@nodmarc.test"])
            .args(["--authserv-id", "mx.receiver.test"])
            .args(["--dmarc-discovery", discovery])
            .args(["--resolver", &bind.addr().to_string()]);
        let out = run_with_input(cmd, &message("a@nodmarc.test", ""));
        assert_eq!(out.status.code(), Some(11));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = unprotected("tree-walk");
    for needle in [
        "SPF check (HELO)   none",
        "fix: publish an SPF record for the HELO name: news.sender.test TXT \"v=spf1 a -all\" (with an A record for news.sender.test pointing to 192.0.2.10)",
        "DMARC does not apply [DNS tree walk (RFC 9989)]",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let text = unprotected("psl");
    assert!(
        text.contains("DMARC does not apply [Public Suffix List (RFC 7489)]"),
        "{text}"
    );
}
