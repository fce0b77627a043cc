//! The authres (Python) test file, read as data.
//!
//! The file is a doctest: `>>> arobj = ….parse('Authentication-Results: …')` parses a
//! header, and each following `>>> str(arobj.results[0].method)` line is followed by the
//! expected value. This harness runs every parse line through [`parse_header`] and
//! evaluates the `str(…)` expressions it understands against the result:
//! `authserv_id`, `results[i]` (the result without comments, as authres prints it),
//! `.method`, `.result`, `.reason`, `.properties[j].type|name|value`, and the attribute
//! shortcuts (`smtp_mailfrom`, `header_d`, `policy_iprev`, …).
//!
//! Not evaluated, by design: lines inside `try: … except AttributeError`, which test that
//! authres's Python classes lack an attribute (a fact about authres, not about parsing),
//! and authres's generation and `match_signature` helpers. The generation vectors for the
//! methods Sendwell writes are checked separately below.

use sendwell_auth_results::{AuthenticationResults, ResInfo, parse_header};

const FILE: &str = include_str!("data/authres_tests.txt");

struct Case {
    line: usize,
    var: String,
    header: String,
    parsed: Result<AuthenticationResults, String>,
    expect_reject: bool,
}

/// The text between `parse('` and the matching `')`.
fn parse_argument(line: &str) -> Option<&str> {
    let start = line.find(".parse('")? + ".parse('".len();
    let end = line[start..].find("')")? + start;
    Some(&line[start..end])
}

/// `x` without its Python quotes.
fn unrepr(s: &str) -> String {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    s.to_string()
}

/// A result as authres prints it: without comments.
fn authres_str(r: &ResInfo) -> String {
    let mut r = r.clone();
    r.comment = None;
    for p in &mut r.properties {
        p.comment = None;
    }
    r.to_string()
}

/// Evaluate `path` (what follows the variable, e.g. `.results[0].method`).
fn eval(h: &AuthenticationResults, path: &str) -> Result<String, String> {
    if path == ".authserv_id" {
        return Ok(h.authserv_id.to_ascii_lowercase());
    }
    let rest = path
        .strip_prefix(".results[")
        .ok_or_else(|| format!("unknown path {path}"))?;
    let (index, rest) = rest.split_once(']').ok_or("bad index")?;
    let i: usize = index.parse().map_err(|_| "bad index")?;
    let r = h
        .results
        .get(i)
        .ok_or_else(|| format!("no result {i} (have {})", h.results.len()))?;
    let none = |v: Option<&str>| v.map_or_else(|| "None".to_string(), str::to_string);
    Ok(match rest {
        "" => authres_str(r),
        ".method" => r.method.clone(),
        ".result" => r.result.clone(),
        ".reason" => none(r.reason.as_deref()),
        _ if rest.starts_with(".properties[") => {
            let rest = &rest[".properties[".len()..];
            let (index, field) = rest.split_once(']').ok_or("bad index")?;
            let j: usize = index.parse().map_err(|_| "bad index")?;
            let p = r
                .properties
                .get(j)
                .ok_or_else(|| format!("no property {j}"))?;
            match field {
                ".type" => p.ptype.clone(),
                ".name" => p.property.clone(),
                ".value" => p.value.clone(),
                other => return Err(format!("unknown field {other}")),
            }
        }
        // Attribute shortcuts: `.smtp_mailfrom` is the smtp.mailfrom property.
        _ => {
            let attr = rest.strip_prefix('.').ok_or("bad path")?;
            let (ptype, property) = attr.split_once('_').ok_or("bad attribute")?;
            none(r.get(ptype, property))
        }
    })
}

#[test]
fn the_23_parse_cases() {
    let lines: Vec<&str> = FILE.lines().collect();
    let mut cases: Vec<Case> = Vec::new();
    let mut checks = 0usize;
    let mut failures = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let code = line
            .trim_start()
            .trim_start_matches(">>>")
            .trim_start_matches("...")
            .trim();
        if let Some(header) = parse_argument(line) {
            // `var = something.parse('…')`, maybe after `try:`.
            let assignment = code.trim_start_matches("try:").trim();
            let var = assignment
                .split_once('=')
                .map(|(v, _)| v.trim().to_string())
                .unwrap_or_default();
            // Inside try/except SyntaxError, the output after the block tells whether
            // authres rejected it: a "Syntax error: …" line, or nothing.
            let mut expect_reject = false;
            let in_try = line.contains("try:") || (i > 0 && lines[i - 1].trim() == ">>> try:");
            if in_try {
                let mut k = i + 1;
                while k < lines.len() && lines[k].trim_start().starts_with("...") {
                    k += 1;
                }
                expect_reject = lines.get(k).is_some_and(|l| l.starts_with("Syntax error"));
            }
            let parsed = parse_header(header).map_err(|e| e.to_string());
            cases.push(Case {
                line: i + 1,
                var,
                header: header.to_string(),
                parsed,
                expect_reject,
            });
            i += 1;
            continue;
        }
        // `for result in arobj.results:` then `result.method` / `result.result` pairs.
        if code.starts_with("for result in ") {
            let case = cases.last().expect("a parse before the loop");
            let h = case.parsed.as_ref().expect("the loop's header parses");
            let mut k = i + 1;
            while lines[k].trim_start().starts_with("...") {
                k += 1;
            }
            let mut expected = Vec::new();
            while k < lines.len() && !lines[k].trim().is_empty() {
                expected.push(unrepr(lines[k]));
                k += 1;
            }
            let got: Vec<String> = h
                .results
                .iter()
                .flat_map(|r| [r.method.clone(), r.result.clone()])
                .collect();
            checks += 1;
            if got != expected {
                failures.push(format!(
                    "line {}: loop got {got:?}, want {expected:?}",
                    i + 1
                ));
            }
            i = k;
            continue;
        }
        // `str(var.path)` or a bare `var.path`, followed by the expected value.
        if line.trim_start().starts_with(">>>") && !code.starts_with("try:") {
            let expr = code
                .strip_prefix("str(")
                .and_then(|e| e.strip_suffix(')'))
                .unwrap_or(code);
            if let Some(case) = cases
                .iter()
                .rev()
                .find(|c| !c.var.is_empty() && expr.starts_with(&format!("{}.", c.var)))
            {
                let path = &expr[case.var.len()..];
                if path.starts_with(".results") || path == ".authserv_id" {
                    let want = unrepr(lines[i + 1]);
                    checks += 1;
                    match &case.parsed {
                        Ok(h) => match eval(h, path) {
                            Ok(got) if got == want => {}
                            Ok(got) => failures
                                .push(format!("line {}: {expr} = {got:?}, want {want:?}", i + 1)),
                            Err(e) => failures.push(format!("line {}: {expr}: {e}", i + 1)),
                        },
                        Err(e) => failures.push(format!(
                            "line {}: {} did not parse: {e}",
                            case.line, case.header
                        )),
                    }
                    i += 2;
                    continue;
                }
            }
        }
        i += 1;
    }
    for case in &cases {
        match (&case.parsed, case.expect_reject) {
            (Ok(_), true) => failures.push(format!(
                "line {}: accepted {:?}, authres rejects it",
                case.line, case.header
            )),
            (Err(e), false) => failures.push(format!(
                "line {}: rejected {:?}: {e}",
                case.line, case.header
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(cases.len(), 23, "the file holds 23 parse cases");
    assert_eq!(
        cases.iter().filter(|c| c.expect_reject).count(),
        2,
        "2 must be rejected"
    );
    assert_eq!(checks, CHECKS, "expected-value checks evaluated");
}

/// How many `str(…)` expectations the harness evaluates (a guard against the harness
/// silently skipping lines).
const CHECKS: usize = 205;

/// The generation vectors of the file for the methods Sendwell writes (spf, dkim with
/// header.b, dmarc, iprev), rebuilt with this crate's API.
#[test]
fn generation_vectors() {
    let field = |results: Vec<ResInfo>| {
        let mut h = AuthenticationResults::new("example.com");
        for r in results {
            h.push(r);
        }
        format!("Authentication-Results: {h}")
    };
    // "Create header field with multiple SPF results"
    assert_eq!(
        field(vec![
            ResInfo::spf_mailfrom("pass", "authenticated@example.net").unwrap(),
            ResInfo::spf_helo("none", "mailserver.example.net")
                .unwrap()
                .with_reason("No SPF record for HELO"),
        ]),
        "Authentication-Results: example.com; spf=pass smtp.mailfrom=authenticated@example.net; spf=none reason=\"No SPF record for HELO\" smtp.helo=mailserver.example.net"
    );
    // "Generating iprev with IP6 address."
    assert_eq!(
        field(vec![
            ResInfo::iprev(
                "pass",
                "2001:db8:ea1::dead:beef".parse().unwrap(),
                Some("yummy.example.net")
            )
            .unwrap()
        ]),
        "Authentication-Results: example.com; iprev=pass policy.iprev=\"2001:db8:ea1::dead:beef\" (yummy.example.net)"
    );
    // "Non-RFC DMARC example with policy included"
    let mut h = AuthenticationResults::new("mail-router.example.net");
    h.push(ResInfo::dmarc("pass", "example.com", None, Some("none")).unwrap());
    assert_eq!(
        format!("Authentication-Results: {h}"),
        "Authentication-Results: mail-router.example.net; dmarc=pass header.from=example.com policy.dmarc=none"
    );
    // "RFC 6008 A.1"
    let mut h = AuthenticationResults::new("mail-router.example.net");
    for (result, b, comment) in [
        ("pass", "oINEO8hg", "good signature"),
        ("fail", "EToRSuvU", "bad signature"),
    ] {
        h.push(
            ResInfo::new("dkim", result)
                .unwrap()
                .with_comment(comment)
                .with_property("header", "d", "newyork.example.com")
                .unwrap()
                .with_property("header", "b", b)
                .unwrap(),
        );
    }
    assert_eq!(
        format!("Authentication-Results: {h}"),
        "Authentication-Results: mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg; dkim=fail (bad signature) header.d=newyork.example.com header.b=EToRSuvU"
    );
    // "test.example.org 1; none"
    let mut h = AuthenticationResults::new("test.example.org");
    h.version = Some(1);
    assert_eq!(
        format!("Authentication-Results: {h}"),
        "Authentication-Results: test.example.org 1; none"
    );
}
