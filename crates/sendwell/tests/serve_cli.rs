//! The set-up commands: `init` writes a documented config, keys and a certificate and
//! prints the records; `records --zone-file` is a zone BIND's named-checkzone
//! accepts; `user` manages argon2-hashed accounts; `queue` lists, shows, retries and
//! deletes; `serve` on an empty directory makes a --local config and serves it.

mod serve_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use sendwell_testkit::TempDir;
use serve_support::{Client, Server, run, sendwell};

fn init(dir: &TempDir, extra: &[&str]) -> std::process::Output {
    let d = dir.path().to_str().unwrap();
    let mut args = vec!["init", "--domain", "example.com", "--dir", d];
    args.extend_from_slice(extra);
    run(&args, None)
}

#[test]
fn init_writes_everything_and_prints_the_records() {
    let dir = TempDir::new("init");
    let out = init(
        &dir,
        &[
            "--hostname",
            "mail.example.com",
            "--ip",
            "192.0.2.25",
            "--ip6",
            "2001:db8::25",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |t: &str, name: &str| -> String {
        records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == t && r["name"] == name)
            .unwrap_or_else(|| panic!("no {t} {name} in {records}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(find("A", "mail.example.com"), "192.0.2.25");
    assert_eq!(find("AAAA", "mail.example.com"), "2001:db8::25");
    assert_eq!(find("MX", "example.com"), "10 mail.example.com");
    assert_eq!(
        find("TXT", "example.com"),
        "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all"
    );
    assert_eq!(
        find("TXT", "_dmarc.example.com"),
        "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"
    );
    assert_eq!(find("PTR", "25.2.0.192.in-addr.arpa"), "mail.example.com");
    // Both DKIM keys, parsed by the DKIM crate as receivers would.
    let rsa = find("TXT", "sw-rsa._domainkey.example.com");
    let ed = find("TXT", "sw-ed._domainkey.example.com");
    assert!(
        sendwell_dkim::KeyRecord::parse(rsa.as_bytes()).is_ok(),
        "{rsa}"
    );
    assert!(ed.contains("k=ed25519"), "{ed}");
    // Private keys and the TLS key are readable by the owner only.
    for f in [
        "dkim/example.com.sw-rsa.pem",
        "dkim/example.com.sw-ed.pem",
        "tls/key.pem",
    ] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} is {mode:o}");
    }
    // The config is the documented one, and it loads.
    let text = std::fs::read_to_string(dir.path().join("sendwell.toml")).unwrap();
    assert!(
        text.contains("# The host name of this mail server"),
        "{text}"
    );
    assert!(
        text.contains("mx = [\"0.0.0.0:25\", \"[::]:25\"]"),
        "{text}"
    );
    // A second init into the same directory refuses.
    let again = init(
        &dir,
        &["--hostname", "mail.example.com", "--ip", "192.0.2.25"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn init_notes_a_generic_host_name_and_needs_an_address() {
    let dir = TempDir::new("init-host");
    let out = init(
        &dir,
        &["--hostname", "server7.example.com", "--ip", "192.0.2.7"],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not start with mail, smtp or mx"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Ask the provider of your IP address"),
        "{stdout}"
    );
    let dir2 = TempDir::new("init-noip");
    let out = init(&dir2, &["--hostname", "mail.example.com"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--ip is required without --local"
    );
}

#[test]
fn zone_file_passes_named_checkzone() {
    let dir = TempDir::new("zone");
    assert!(
        init(
            &dir,
            &[
                "--hostname",
                "mail.example.com",
                "--ip",
                "192.0.2.25",
                "--ip6",
                "2001:db8::25"
            ]
        )
        .status
        .success()
    );
    let zone = sendwell(
        &[
            "records",
            "--zone-file",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(
        zone.contains("; 25.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com."),
        "{zone}"
    );
    let full = format!(
        "$TTL 3600\nexample.com. IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 3600\n\
         example.com. IN NS ns.example.com.\nns.example.com. IN A 192.0.2.53\n{zone}"
    );
    let file = dir.path().join("example.com.zone");
    std::fs::write(&file, full).unwrap();
    let checkzone = sendwell_testkit::require_program("named-checkzone", "bind9-utils");
    let out = Command::new(checkzone)
        .args(["example.com"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{zone}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn users_are_added_changed_listed_and_removed() {
    let dir = TempDir::new("users");
    let d = dir.path().to_str().unwrap();
    assert!(
        init(&dir, &["--hostname", "mail.example.com", "--local"])
            .status
            .success()
    );
    sendwell(
        &[
            "user",
            "add",
            "bob@example.com",
            "--password-stdin",
            "--dir",
            d,
        ],
        Some("pw1\n"),
    );
    // Without --password-stdin a password is generated and printed once.
    let generated = sendwell(
        &[
            "user",
            "add",
            "carol@example.com",
            "--may-send-from",
            "example.com",
            "--dir",
            d,
        ],
        None,
    );
    assert!(generated.trim().len() >= 20, "{generated}");
    let text = std::fs::read_to_string(dir.path().join("users.toml")).unwrap();
    assert!(!text.contains("pw1"), "{text}");
    assert_eq!(
        text.matches("password_hash = \"$argon2id$").count(),
        2,
        "{text}"
    );
    let mode = std::fs::metadata(dir.path().join("users.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0);
    let list: serde_json::Value =
        serde_json::from_str(&sendwell(&["user", "list", "--json", "--dir", d], None)).unwrap();
    assert_eq!(list[1]["address"], "carol@example.com");
    assert_eq!(list[1]["may_send_from"][0], "example.com");
    assert!(
        !run(
            &[
                "user",
                "add",
                "bob@example.com",
                "--password-stdin",
                "--dir",
                d
            ],
            Some("x\n")
        )
        .status
        .success()
    );
    let before = text;
    sendwell(
        &[
            "user",
            "passwd",
            "bob@example.com",
            "--password-stdin",
            "--dir",
            d,
        ],
        Some("pw2\n"),
    );
    assert_ne!(
        std::fs::read_to_string(dir.path().join("users.toml")).unwrap(),
        before
    );
    sendwell(&["user", "del", "bob@example.com", "--dir", d], None);
    assert!(
        !run(&["user", "del", "bob@example.com", "--dir", d], None)
            .status
            .success()
    );
    let list: serde_json::Value =
        serde_json::from_str(&sendwell(&["user", "list", "--json", "--dir", d], None)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn queue_list_show_retry_delete_while_serving() {
    let s = Server::start(|t| {
        t + "\n[[alias]]\naddress = \"out@example.test\"\nto = [\"x@elsewhere.test\"]\n"
    });
    let d = s.dir_arg();
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = c.send_mail(
            "a@outside.test",
            &["out@example.test"],
            &format!("Subject: q{i}\r\n\r\nbody {i}"),
        );
        ids.push(serve_support::queue_id(&r));
    }
    let table = sendwell(&["queue", "list", "--dir", &d], None);
    for id in &ids {
        assert!(table.contains(id.as_str()), "{table}");
    }
    let shown = sendwell(&["queue", "show", &ids[1], "--dir", &d], None);
    assert!(
        shown.contains("x@elsewhere.test") && shown.contains("Subject: q1"),
        "{shown}"
    );
    let r: serde_json::Value = serde_json::from_str(&sendwell(
        &["queue", "retry", &ids[0], "--json", "--dir", &d],
        None,
    ))
    .unwrap();
    assert_eq!(r["done"][0], ids[0].as_str());
    sendwell(&["queue", "delete", &ids[2], "--dir", &d], None);
    let out = run(&["queue", "delete", &ids[2], "--dir", &d], None);
    assert!(
        !out.status.success(),
        "deleting twice reports the id as not found"
    );
    let q = s.queue();
    let left: Vec<&str> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![ids[0].as_str(), ids[1].as_str()]);
    assert!(
        !run(&["queue", "show", "0000000000000000", "--dir", &d], None)
            .status
            .success()
    );
}

/// Run the binary with its standard output on a pipe whose reading end is already
/// closed (`sendwell ... | head` once head has quit): every write gets EPIPE.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(serve_support::BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // Mail for an outside address stays queued (the harness holds remote delivery).
    let s = Server::start(|t| {
        t + "\n[[alias]]\naddress = \"out@example.test\"\nto = [\"x@elsewhere.test\"]\n"
    });
    let d = s.dir_arg();
    let (mut c, _) = Client::connect(s.mx);
    c.ehlo();
    let r = c.send_mail(
        "a@outside.test",
        &["out@example.test"],
        "Subject: q\r\n\r\nx",
    );
    let id = serve_support::queue_id(&r);
    for args in [
        vec!["queue", "list"],
        vec!["queue", "list", "--json"],
        vec!["queue", "show", &id],
        vec!["queue", "show", &id, "--json"],
        vec!["user", "list"],
        vec!["user", "list", "--json"],
        vec!["records"],
        vec!["records", "--json"],
        vec!["records", "--zone-file"],
    ] {
        let mut args = args;
        args.extend(["--dir", &d]);
        let out = run_into_closed_pipe(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "sendwell {args:?}: {:?} {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("error") && !stderr.contains("panicked"),
            "sendwell {args:?}: {stderr}"
        );
    }
}

#[test]
fn serve_on_an_empty_directory_makes_a_local_config() {
    // This is the README's main command; it uses the fixed --local ports.
    let dir = TempDir::new("serve-empty");
    let d = dir.path().join("data");
    let mut child = Command::new(serve_support::BIN)
        .args(["serve", "--dir", d.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut client = None;
    while std::time::Instant::now() < deadline {
        if let Ok(s) = std::net::TcpStream::connect("127.0.0.1:2525") {
            drop(s);
            client = Some(Client::connect("127.0.0.1:2525".parse().unwrap()));
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let result = client.map(|(mut c, greeting)| {
        let ehlo = c.ehlo();
        (greeting, ehlo)
    });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (greeting, ehlo) =
        result.unwrap_or_else(|| panic!("no server on 127.0.0.1:2525: {stderr}"));
    assert_eq!(greeting.text(), "mail.example.test ESMTP Sendwell");
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"));
    assert!(
        stderr.contains("made a --local one for example.test"),
        "{stderr}"
    );
    assert!(d.join("sendwell.toml").exists() && d.join("tls/cert.pem").exists());
}
