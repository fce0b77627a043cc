//! Every example in README.md's "DMARC and verify" section is true.
//!
//! The zones (`<!-- zone: ORIGIN -->` blocks) and files (`<!-- file: NAME -->` blocks)
//! come from the README; BIND serves the zones (plus empty `com`, `org` and `net` zones,
//! as the README says, so the tree walk's last query is answered); each `$ sendwell …`
//! line runs with the README's resolver address replaced by BIND's, and its standard
//! output and exit code must be exactly what the README shows.

use std::io::Write;
use std::process::{Command, Stdio};

use sendwell_testkit::TempDir;

mod dmarc_support;

const README: &str = include_str!("../../../README.md");
const README_RESOLVER: &str = "127.0.0.1:5300";

fn section() -> &'static str {
    let start = README
        .find("\n## DMARC and verify\n")
        .expect("README.md has a \"## DMARC and verify\" section");
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The fenced block after each `<!-- KIND: NAME -->` marker.
fn blocks(kind: &str) -> Vec<(String, String)> {
    let s = section();
    let marker = format!("<!-- {kind}: ");
    let mut out = Vec::new();
    for (i, _) in s.match_indices(&marker) {
        let rest = &s[i + marker.len()..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let body_start = rest.find("```text\n").unwrap() + "```text\n".len();
        let body = &rest[body_start..];
        let body = &body[..body.find("```").unwrap()];
        out.push((name, body.to_string()));
    }
    out
}

/// (command line, expected stdout, expected exit code) for each console example.
fn examples() -> Vec<(String, String, i32)> {
    let mut out = Vec::new();
    for block in section().split("```console\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        let mut lines = block.lines();
        let cmd = lines
            .next()
            .and_then(|l| l.strip_prefix("$ sendwell "))
            .expect("an example starts with `$ sendwell`")
            .to_string();
        let mut stdout = String::new();
        let mut code = None;
        while let Some(line) = lines.next() {
            if line == "$ echo $?" {
                code = lines.next().map(|c| c.parse::<i32>().unwrap());
                break;
            }
            stdout.push_str(line);
            stdout.push('\n');
        }
        out.push((
            cmd.clone(),
            stdout,
            code.unwrap_or_else(|| panic!("README example `{cmd}` is followed by `$ echo $?`")),
        ));
    }
    out
}

#[test]
fn every_dmarc_and_verify_example_is_true() {
    let zones = blocks("zone");
    assert_eq!(zones.len(), 4, "the README shows four zones");
    let mut all: Vec<(&str, &str)> = zones
        .iter()
        .map(|(o, b)| (o.as_str(), b.as_str()))
        .collect();
    for tld in ["com", "org", "net"] {
        all.push((tld, ""));
    }
    let bind = dmarc_support::bind(&all);
    let dir = TempDir::new("dmarc-readme");
    for (name, body) in blocks("file") {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let examples = examples();
    assert_eq!(examples.len(), 7, "check ×3, build, verify ×3");
    let mut kinds = std::collections::BTreeSet::new();
    for (cmd, want, want_code) in &examples {
        let cmd_line = cmd.replace(README_RESOLVER, &bind.addr().to_string());
        let mut words: Vec<&str> = cmd_line.split_whitespace().collect();
        let mut stdin = Vec::new();
        if let Some(i) = words.iter().position(|w| *w == "<") {
            stdin = std::fs::read(dir.path().join(words[i + 1])).unwrap();
            words.truncate(i);
        }
        kinds.insert(format!("{} {}", words[0], words.get(1).unwrap_or(&"")));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sendwell"))
            .args(&words)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            &got,
            want,
            "`sendwell {cmd}` printed something else than the README shows (stderr: {})",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(*want_code),
            "exit code of `sendwell {cmd}`"
        );
    }
    // Every subcommand is shown.
    for kind in ["dmarc check", "dmarc build", "verify --ip"] {
        assert!(
            kinds.contains(kind),
            "no README example of `sendwell {kind}`: {kinds:?}"
        );
    }
}
