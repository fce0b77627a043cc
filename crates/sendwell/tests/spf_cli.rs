//! `sendwell spf` as a user runs it: the binary, against BIND on loopback.
//!
//! The zones and the examples come from README.md's "SPF" section: every `$ sendwell spf
//! …` line there is run (with `--resolver` pointed at this test's BIND), and its standard
//! output and exit code must be exactly what the README shows. Further cases check each
//! result's exit code and the JSON shapes.

use std::process::Command;

use sendwell_testkit::Bind;

const README: &str = include_str!("../../../README.md");

/// The README's address for the test DNS server, replaced by BIND's.
const README_RESOLVER: &str = "127.0.0.1:5300";

fn spf_section() -> &'static str {
    let start = README
        .find("\n## SPF")
        .expect("README.md has an \"## SPF\" section");
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The fenced block after `<!-- zone: ORIGIN -->`, for each origin.
fn zones() -> Vec<(String, String)> {
    let section = spf_section();
    let mut zones = Vec::new();
    for (i, _) in section.match_indices("<!-- zone: ") {
        let origin = section[i + 11..]
            .split(" -->")
            .next()
            .unwrap()
            .trim()
            .to_string();
        let after = &section[i..];
        let open = after.find("```").unwrap();
        let body_start = open + after[open..].find('\n').unwrap() + 1;
        let body_end = body_start + after[body_start..].find("```").unwrap();
        zones.push((origin, after[body_start..body_end].to_string()));
    }
    assert!(!zones.is_empty(), "the SPF section declares its zones");
    zones
}

/// (command line, expected stdout, expected exit code) for each README example.
fn examples() -> Vec<(String, String, i32)> {
    let mut out = Vec::new();
    for block in spf_section().split("```console\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let mut lines = block.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(cmd) = line.strip_prefix("$ sendwell ") else {
                continue;
            };
            let mut stdout = String::new();
            while let Some(next) = lines.peek() {
                if next.starts_with("$ ") {
                    break;
                }
                stdout.push_str(lines.next().unwrap());
                stdout.push('\n');
            }
            assert_eq!(
                lines.next(),
                Some("$ echo $?"),
                "README example `{cmd}` is followed by `$ echo $?`"
            );
            let code = lines.next().unwrap().trim().parse().unwrap();
            out.push((cmd.to_string(), stdout, code));
        }
    }
    assert!(out.len() >= 5, "the README shows check, lint and build");
    out
}

fn bind() -> Bind {
    let zones = zones();
    let refs: Vec<(&str, &str)> = zones
        .iter()
        .map(|(o, b)| (o.as_str(), b.as_str()))
        .collect();
    let bind = Bind::start(&refs);
    // Bind::start returns when named logs "running as: …", before the zones are loaded:
    // wait (up to 10 s) until the first zone answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let dig = Command::new("dig")
            .args([
                "+short",
                "-p",
                &bind.addr().port().to_string(),
                "@127.0.0.1",
                &zones[0].0,
                "TXT",
            ])
            .output()
            .expect("dig runs (bind9-dnsutils)");
        if !dig.stdout.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "BIND did not serve {}",
            zones[0].0
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bind
}

fn sendwell(args: &str, bind: &Bind) -> (String, String, i32) {
    let args = args.replace(README_RESOLVER, &bind.addr().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_sendwell"))
        .args(shell_words(&args))
        .env("NO_COLOR", "1")
        .output()
        .expect("run sendwell");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// Split a command line on spaces, keeping 'single' and "double" quoted words whole.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in s.chars() {
        match (quote, c) {
            (None, ' ') => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn every_readme_example_is_true() {
    let bind = bind();
    for (cmd, want_stdout, want_code) in examples() {
        let (stdout, stderr, code) = sendwell(&cmd, &bind);
        assert_eq!(
            stdout, want_stdout,
            "`sendwell {cmd}` printed something else than the README shows (stderr: {stderr})"
        );
        assert_eq!(
            code, want_code,
            "`sendwell {cmd}` exit code (stderr: {stderr})"
        );
    }
}

#[test]
fn each_result_has_its_exit_code() {
    let bind = bind();
    for (ip, sender, result, code) in [
        ("192.0.2.10", "a@example.com", "pass", 0),
        ("198.51.100.7", "a@example.com", "fail", 10),
        ("198.51.100.7", "a@soft.example.com", "softfail", 11),
        ("198.51.100.7", "a@neutral.example.com", "neutral", 12),
        ("198.51.100.7", "a@nospf.example.com", "none", 13),
        // BIND answers REFUSED for names outside its zones: a server error.
        ("198.51.100.7", "a@elsewhere.test", "temperror", 14),
        ("198.51.100.7", "a@broken.example.com", "permerror", 15),
    ] {
        let (stdout, stderr, got) = sendwell(
            &format!(
                "spf check --ip {ip} --sender {sender} --helo client.example.org --receiver mx.example.org --resolver {README_RESOLVER} --json"
            ),
            &bind,
        );
        assert_eq!(got, code, "{sender}: {stdout}{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["result"], result, "{sender}");
        for field in ["result", "explanation", "domain", "lookups", "trace"] {
            assert!(json.get(field).is_some(), "{field} missing: {json}");
        }
        assert!(!json["trace"].as_array().unwrap().is_empty());
        let received = json["received_spf"].as_str().unwrap();
        assert!(
            received.starts_with(&format!("Received-SPF: {result} (")),
            "{received}"
        );
    }
}

#[test]
fn json_shapes_of_lint_and_build() {
    let bind = bind();
    let (stdout, _, code) = sendwell(
        &format!("spf lint heavy.example.com --json --resolver {README_RESOLVER}"),
        &bind,
    );
    assert_eq!(code, 10);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let limit = findings
        .iter()
        .find(|f| f["code"] == "lookup-limit")
        .expect("lookup-limit");
    assert_eq!(limit["severity"], "error");
    assert_eq!(limit["paths"].as_array().unwrap().len(), 11);
    for f in &findings {
        assert!(["error", "warning", "info"].contains(&f["severity"].as_str().unwrap()));
        assert!(f["code"].is_string() && f["message"].is_string());
    }
    let (stdout, _, code) = sendwell(
        &format!("spf lint example.com --json --resolver {README_RESOLVER}"),
        &bind,
    );
    assert_eq!(code, 0, "{stdout}");
    let (stdout, _, code) = sendwell(
        &format!(
            "spf lint --record 'v=spf1 include:nothere.example.com -all' --json --resolver {README_RESOLVER}"
        ),
        &bind,
    );
    assert_eq!(code, 10);
    assert!(stdout.contains("\"include-none\""), "{stdout}");
    let (stdout, _, code) = sendwell(
        &format!(
            "spf build --ip4 192.0.2.0/24 --include _spf.example.net --json --resolver {README_RESOLVER}"
        ),
        &bind,
    );
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["record"],
        "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"
    );
    assert_eq!(json["lookups"], 1);
    assert_eq!(json["refused"], false);
    let (_, stderr, code) = sendwell(
        &format!("spf build --ip4 192.0.2.0/33 --resolver {README_RESOLVER}"),
        &bind,
    );
    assert_eq!(code, 1, "a bad network is an input error: {stderr}");
    // The reason is printed once, not once by the error and again by its source.
    let (_, stderr, code) = sendwell(
        &format!("spf build --ip4 300.1.1.1 --resolver {README_RESOLVER}"),
        &bind,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("error: \"300.1.1.1\" is not valid for ip4: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("(RFC 7208 §5.6)").count(), 1, "{stderr}");
    let (_, stderr, code) = sendwell("spf check --ip 192.0.2.1", &bind);
    assert_eq!(code, 2, "a null reverse-path needs --helo: {stderr}");
}

#[test]
fn build_refuses_a_record_dns_failures_left_unchecked() {
    let bind = bind();
    // BIND answers REFUSED for names outside its zones (recursion is off): the records
    // of these includes cannot be fetched. With them answering, the same shape of record
    // (README: a, b, c.example.net) is 12 lookups, over the budget.
    let cmd = format!(
        "spf build --mx --include a.elsewhere.test --include b.elsewhere.test --include c.elsewhere.test --include _spf.example.net --domain example.com --resolver {README_RESOLVER}"
    );
    let (stdout, stderr, code) = sendwell(&cmd, &bind);
    assert_eq!(code, 10, "refused: {stdout}{stderr}");
    assert!(
        stdout.starts_with("refused: v=spf1 mx include:a.elsewhere.test "),
        "{stdout}"
    );
    for name in ["a", "b", "c"] {
        assert!(
            stdout.contains(&format!(
                "dns-error: example.com › include:{name}.elsewhere.test: the TXT lookup for {name}.elsewhere.test failed"
            )),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches("so the budget of 10 (RFC 7208 §4.6.4) cannot be checked")
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        !stdout.contains("DNS lookups"),
        "no count is vouched for: {stdout}"
    );

    let (stdout, stderr, code) = sendwell(&format!("{cmd} --json"), &bind);
    assert_eq!(code, 10, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["refused"], true);
    assert_eq!(json["lookups_complete"], false);
    assert_eq!(json["lookups"], 5);
    let unchecked: Vec<&str> = json["unchecked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        unchecked,
        vec!["a.elsewhere.test", "b.elsewhere.test", "c.elsewhere.test"]
    );

    // The explicit override prints it, saying the count is only a lower bound.
    let (stdout, stderr, code) = sendwell(&format!("{cmd} --allow-unchecked"), &bind);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "v=spf1 mx include:a.elsewhere.test include:b.elsewhere.test include:c.elsewhere.test include:_spf.example.net -all"
        )
    );
    assert!(
        stdout.contains(
            "at least 5/10 DNS lookups: not checked against the budget (--allow-unchecked)"
        ),
        "{stdout}"
    );
}

#[test]
fn lint_sees_records_in_quotes_and_endings_through_redirect() {
    let bind = bind();
    let lint = |args: &str| {
        let (stdout, stderr, code) = sendwell(
            &format!("spf lint {args} --json --resolver {README_RESOLVER}"),
            &bind,
        );
        let findings: Vec<serde_json::Value> =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        (findings, code)
    };
    let find = |findings: &[serde_json::Value], code: &str| -> Option<serde_json::Value> {
        findings.iter().find(|f| f["code"] == code).cloned()
    };
    // Published with the quote characters as part of the TXT text.
    let (findings, code) = lint("quoted.example.com");
    assert_eq!(code, 10);
    let quotes = find(&findings, "quotes").expect("quotes");
    assert_eq!(quotes["severity"], "error");
    let message = quotes["message"].as_str().unwrap();
    assert!(
        message.contains("receivers see no SPF record at all")
            && message
                .ends_with("publish it without the quote characters: v=spf1 ip4:192.0.2.0/24 -all"),
        "{message}"
    );
    assert!(find(&findings, "no-record").is_none(), "{findings:?}");
    // Given with --record.
    let (findings, code) = lint("--record '\"v=spf1 ip4:192.0.2.1 -all\"'");
    assert_eq!(code, 10);
    assert_eq!(find(&findings, "quotes").unwrap()["severity"], "error");
    assert!(find(&findings, "not-spf").is_none(), "{findings:?}");
    // No "all" of its own: judged by the redirect target's "~all".
    let (findings, code) = lint("redir.example.com");
    assert_eq!(code, 0);
    let soft = find(&findings, "softfail-all").expect("softfail-all through the redirect");
    assert!(
        soft["message"]
            .as_str()
            .unwrap()
            .starts_with("redir.example.com → redirect=soft.example.com ends in \"~all\""),
        "{soft}"
    );
}

#[test]
fn a_sender_without_local_part_is_reported_as_checked() {
    let bind = bind();
    let (stdout, stderr, code) = sendwell(
        &format!(
            "spf check --ip 198.51.100.7 --sender example.com --helo client.example.org --receiver mx.example.org --resolver {README_RESOLVER} --json"
        ),
        &bind,
    );
    assert_eq!(code, 10, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // RFC 7208 §4.3: check_host() used postmaster@example.com.
    assert_eq!(json["sender"], "postmaster@example.com");
    assert_eq!(json["domain"], "example.com");
}
