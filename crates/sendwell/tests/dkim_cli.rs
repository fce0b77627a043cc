//! `sendwell dkim …` as a user runs it (the README's examples): key files, the record
//! checker against a real DNS server, signing options, JSON fields and exit codes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sendwell_testkit::{Bind, TempDir};

fn sendwell(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendwell"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sendwell");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n\
Subject: Hello\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHi Bob.\r\n";

#[test]
fn keygen_writes_a_private_key_once() {
    let tmp = TempDir::new("dkim-cli");
    let key = tmp.path().join("s1.pem");
    let out = sendwell(
        &[
            "dkim",
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--out",
            path(&key),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name:  s1._domainkey.example.com"), "{text}");
    assert!(text.contains("value: v=DKIM1; k=rsa; p=MIIB"), "{text}");
    assert!(
        text.contains("s1._domainkey.example.com. IN TXT ( \""),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let first = std::fs::read(&key).unwrap();
    assert!(first.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));

    // Never over an existing file without --force.
    let again = sendwell(
        &[
            "dkim",
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--out",
            path(&key),
        ],
        b"",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read(&key).unwrap(), first);

    let forced = sendwell(
        &[
            "dkim",
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "s1",
            "--algorithm",
            "ed25519",
            "--force",
            "--json",
            "--out",
            path(&key),
        ],
        b"",
    );
    assert_eq!(forced.status.code(), Some(0));
    let j = json(&forced);
    assert_eq!(j["record_name"], "s1._domainkey.example.com");
    assert_eq!(j["algorithm"], "ed25519");
    assert_eq!(j["key_file"], path(&key));
    assert!(
        j["record_value"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=ed25519; p=")
    );
    assert_ne!(std::fs::read(&key).unwrap(), first);
}

#[test]
fn record_checker_finds_what_receivers_object_to() {
    let tmp = TempDir::new("dkim-cli");
    let key = tmp.path().join("good.pem");
    let out = sendwell(
        &[
            "dkim",
            "keygen",
            "--domain",
            "example.test",
            "--selector",
            "good",
            "--json",
            "--out",
            path(&key),
        ],
        b"",
    );
    let zone_line = json(&out)["zone_file"].as_str().unwrap().to_string();
    let rsa_1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
    // RFC 8463 §3: an Ed25519 key only signs ed25519-sha256, so h=sha1 leaves it unusable.
    let ed_sha1 = "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    let zone = format!(
        "{zone_line}\nweak._domainkey TXT \"v=DKIM1; k=rsa; t=y; p={rsa_1024}\"\n\
         revoked._domainkey TXT \"v=DKIM1; k=rsa; p=\"\n\
         edsha1._domainkey TXT \"{ed_sha1}\"\n"
    );
    let dns = Bind::start(&[("example.test", &zone)]);
    let resolver = dns.addr().to_string();
    let check = |selector: &str| {
        let out = sendwell(
            &[
                "dkim",
                "record",
                "example.test",
                selector,
                "--resolver",
                &resolver,
                "--json",
            ],
            b"",
        );
        (out.status.code(), json(&out))
    };
    let (code, good) = check("good");
    assert_eq!(code, Some(0), "{good}");
    assert_eq!(good["usable"], true);
    assert_eq!(good["key_type"], "rsa");
    assert_eq!(good["key_bits"], 2048);
    let (code, weak) = check("weak");
    assert_eq!(code, Some(0));
    assert_eq!(weak["testing"], true);
    let messages: Vec<String> = weak["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["severity"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("warning: RSA key of 1024 bits")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("warning: t=y")),
        "{messages:?}"
    );
    let (code, ed_sha1) = check("edsha1");
    assert_eq!(code, Some(10), "{ed_sha1}");
    assert_eq!(ed_sha1["usable"], false);
    assert_eq!(ed_sha1["key_type"], "ed25519");
    assert!(
        ed_sha1["findings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("h=sha1 does not allow sha256"),
        "{ed_sha1}"
    );
    let (code, revoked) = check("revoked");
    assert_eq!(code, Some(10));
    assert_eq!(revoked["usable"], false);
    let (code, missing) = check("missing");
    assert_eq!(code, Some(10));
    assert!(
        missing["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no DKIM key record")
    );

    // The readable form.
    let out = sendwell(
        &[
            "dkim",
            "record",
            "example.test",
            "revoked",
            "--resolver",
            &resolver,
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error: p= is empty: the key is revoked"),
        "{text}"
    );
    assert!(text.contains("=> not usable"), "{text}");
}

#[test]
fn sign_and_verify_options_and_exit_codes() {
    let tmp = TempDir::new("dkim-cli");
    let key = tmp.path().join("ed.pem");
    let out = sendwell(
        &[
            "dkim",
            "keygen",
            "--domain",
            "example.com",
            "--selector",
            "ed",
            "--algorithm",
            "ed25519",
            "--json",
            "--out",
            path(&key),
        ],
        b"",
    );
    let record = format!(
        "ed._domainkey.example.com={}",
        json(&out)["record_value"].as_str().unwrap()
    );

    let signed = sendwell(
        &[
            "dkim",
            "sign",
            "--key",
            path(&key),
            "--selector",
            "ed",
            "--domain",
            "example.com",
            "--canonicalization",
            "simple/relaxed",
            "--headers",
            "from:to:subject:subject",
            "--expire-after",
            "3600",
        ],
        MESSAGE,
    );
    assert_eq!(
        signed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let text = String::from_utf8_lossy(&signed.stdout).replace("\r\n ", " ");
    assert!(text.contains("c=simple/relaxed;"), "{text}");
    assert!(text.contains("h=from:to:subject:subject;"), "{text}");
    assert!(text.contains(" x="), "{text}");

    let ok = sendwell(&["dkim", "verify", "--key-record", &record], &signed.stdout);
    assert_eq!(ok.status.code(), Some(0));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.starts_with("result  domain       selector  algorithm       reason\n"),
        "{out}"
    );
    assert!(
        out.contains("pass    example.com  ed        ed25519-sha256  signature verified"),
        "{out}"
    );

    let j = json(&sendwell(
        &["dkim", "verify", "--json", "--key-record", &record],
        &signed.stdout,
    ));
    let sig = &j["signatures"][0];
    for field in ["result", "domain", "selector", "algorithm", "reason"] {
        assert!(sig[field].is_string(), "{field} in {j}");
    }

    // A changed Subject: fail, exit 10.
    let changed =
        String::from_utf8_lossy(&signed.stdout).replace("Subject: Hello", "Subject: Hullo");
    let bad = sendwell(
        &["dkim", "verify", "--json", "--key-record", &record],
        changed.as_bytes(),
    );
    assert_eq!(bad.status.code(), Some(10));
    assert_eq!(json(&bad)["signatures"][0]["result"], "fail");

    // The From field's colon replaced by a line break: RFC 5322 §2.2 makes the line no
    // field, so the message is malformed, never a pass: permerror, exit 10.
    let no_colon = String::from_utf8_lossy(&signed.stdout).replace(
        "From: Alice <alice@example.com>",
        "From\r\n Alice <alice@example.com>",
    );
    let bad = sendwell(
        &["dkim", "verify", "--json", "--key-record", &record],
        no_colon.as_bytes(),
    );
    assert_eq!(bad.status.code(), Some(10));
    let sig = &json(&bad)["signatures"][0];
    assert_eq!(sig["result"], "permerror", "{sig}");
    assert!(
        sig["reason"]
            .as_str()
            .unwrap()
            .starts_with("header line without a colon: \"From\""),
        "{sig}"
    );

    // Unsigned: dkim=none, exit 10.
    let none = sendwell(&["dkim", "verify", "--key-record", &record], MESSAGE);
    assert_eq!(none.status.code(), Some(10));
    assert!(String::from_utf8_lossy(&none.stdout).contains("dkim=none"));

    // Usage problems say what to do: exit 1.
    let no_from = sendwell(
        &[
            "dkim",
            "sign",
            "--key",
            path(&key),
            "--selector",
            "ed",
            "--domain",
            "example.com",
        ],
        b"To: x@example.org\r\n\r\nhi\r\n",
    );
    assert_eq!(no_from.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_from.stderr).contains("no From header field"));
    let bad_record = sendwell(
        &["dkim", "verify", "--key-record", "no-equals-sign"],
        MESSAGE,
    );
    assert_eq!(bad_record.status.code(), Some(1));
    let pairs = sendwell(
        &[
            "dkim",
            "sign",
            "--key",
            path(&key),
            "--key",
            path(&key),
            "--selector",
            "ed",
            "--domain",
            "example.com",
        ],
        MESSAGE,
    );
    assert_eq!(pairs.status.code(), Some(1));
    // Header names are RFC 5322 §3.6.8 field names: refused, with what to do.
    let bad_names = sendwell(
        &[
            "dkim",
            "sign",
            "--key",
            path(&key),
            "--selector",
            "ed",
            "--domain",
            "example.com",
            "--headers",
            "from:bad name;x",
        ],
        MESSAGE,
    );
    assert_eq!(bad_names.status.code(), Some(1));
    assert!(bad_names.stdout.is_empty());
    let err = String::from_utf8_lossy(&bad_names.stderr);
    assert!(
        err.contains("--headers takes header field names separated by colons")
            && err.contains("\"bad name;x\" is not a header field name"),
        "{err}"
    );
}
