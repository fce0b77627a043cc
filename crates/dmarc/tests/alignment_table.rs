//! Identifier Alignment, case by case, in both discovery methods (RFC 9989 §3.2.10 and
//! §4.10.2 with the tree walk; RFC 7489 §3.1 and §3.2 with the Public Suffix List).
//!
//! Each row: the DNS, the Author Domain, one passing DKIM `d=`, the alignment mode, and
//! whether it aligns by the tree walk and by the list. Rows where the two methods
//! disagree say why.

use sendwell_dmarc::{Discovery, DmarcResult};

use crate::support::{passing, run};

struct Row {
    what: &'static str,
    /// Extra zone lines; `policy` (the record) is added at `_dmarc.<at>`.
    zone: &'static str,
    at: &'static str,
    author: &'static str,
    d: &'static str,
    strict: bool,
    tree_walk: Want,
    psl: Want,
}

/// What a row expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Aligned: DMARC passes.
    A,
    /// Not aligned: DMARC fails.
    N,
    /// The method finds no policy for the Author Domain (RFC 7489 asks only the Author
    /// Domain and its Organizational Domain), so DMARC does not apply.
    NoPolicy,
}

use Want::{A, N, NoPolicy};

const ROWS: &[Row] = &[
    Row {
        what: "same domain, relaxed",
        zone: "",
        at: "example.com",
        author: "example.com",
        d: "example.com",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "same domain, strict",
        zone: "",
        at: "example.com",
        author: "example.com",
        d: "example.com",
        strict: true,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "case differs (RFC 4343)",
        zone: "",
        at: "example.com",
        author: "Example.COM",
        d: "EXAMPLE.com",
        strict: true,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "author is a subdomain, relaxed",
        zone: "",
        at: "example.com",
        author: "mail.example.com",
        d: "example.com",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "author is a subdomain, strict",
        zone: "",
        at: "example.com",
        author: "mail.example.com",
        d: "example.com",
        strict: true,
        tree_walk: N,
        psl: N,
    },
    Row {
        what: "identifier is a subdomain, relaxed",
        zone: "",
        at: "example.com",
        author: "example.com",
        d: "bounce.example.com",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "sibling subdomains, relaxed",
        zone: "",
        at: "example.com",
        author: "news.example.com",
        d: "foo.example.com",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "different Organizational Domain",
        zone: "",
        at: "example.com",
        author: "example.com",
        d: "example.net",
        strict: false,
        tree_walk: N,
        psl: N,
    },
    Row {
        what: "look-alike suffix match",
        zone: "",
        at: "example.com",
        author: "example.com",
        d: "badexample.com",
        strict: false,
        tree_walk: N,
        psl: N,
    },
    Row {
        what: "co.uk: same registration",
        zone: "",
        at: "example.co.uk",
        author: "mail.example.co.uk",
        d: "example.co.uk",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "co.uk: two registrations",
        zone: "_dmarc.other.co.uk TXT \"v=DMARC1; p=none\"",
        at: "example.co.uk",
        author: "example.co.uk",
        d: "other.co.uk",
        strict: false,
        tree_walk: N,
        psl: N,
    },
    Row {
        what: "private suffix github.io: two users",
        zone: "",
        at: "alice.github.io",
        author: "alice.github.io",
        d: "bob.github.io",
        strict: false,
        tree_walk: N,
        psl: N,
    },
    Row {
        what: "private suffix github.io: one user",
        zone: "",
        at: "alice.github.io",
        author: "www.alice.github.io",
        d: "alice.github.io",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "PSL exception rule city.kobe.jp",
        zone: "",
        at: "city.kobe.jp",
        author: "www.city.kobe.jp",
        d: "mail.city.kobe.jp",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    // The list has no rule for .example, so for it bank.example is the registrable name;
    // a psd=y record tells the tree walk that bank.example is a public suffix.
    Row {
        what: "psd=y: one registrant below a PSD",
        zone: "_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"",
        at: "giant.bank.example",
        author: "giant.bank.example",
        d: "mail.giant.bank.example",
        strict: false,
        tree_walk: A,
        psl: A,
    },
    Row {
        what: "psd=y: two registrants below a PSD (the list cannot know)",
        zone: "_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"",
        at: "giant.bank.example",
        author: "giant.bank.example",
        d: "mega.bank.example",
        strict: false,
        tree_walk: N,
        psl: A,
    },
    // psd=n makes b.example.com an Organizational Domain of its own.
    Row {
        what: "psd=n: inside the delegated organization",
        zone: "",
        at: "b.example.com",
        author: "a.b.example.com",
        d: "c.b.example.com",
        strict: false,
        tree_walk: A,
        psl: NoPolicy,
    },
    Row {
        what: "psd=n: the parent is another organization",
        zone: "",
        at: "b.example.com",
        author: "a.b.example.com",
        d: "example.com",
        strict: false,
        tree_walk: N,
        psl: NoPolicy,
    },
    // A record only at mail.example.com: by the walk it is the Organizational Domain.
    Row {
        what: "tree walk: record only at a subdomain",
        zone: "",
        at: "mail.example.com",
        author: "x.mail.example.com",
        d: "example.com",
        strict: false,
        tree_walk: N,
        psl: NoPolicy,
    },
    Row {
        what: "IDN: U-label and A-label",
        zone: "",
        at: "xn--exmple-cua.com",
        author: "exämple.com",
        d: "xn--exmple-cua.com",
        strict: true,
        tree_walk: A,
        psl: A,
    },
];

fn policy(row: &Row) -> String {
    let psd = if row.what.starts_with("psd=n") {
        "; psd=n"
    } else {
        ""
    };
    let mode = if row.strict { "s" } else { "r" };
    format!(
        "_dmarc.{} TXT \"v=DMARC1; p=reject; adkim={mode}{psd}\"\n{}",
        row.at, row.zone
    )
}

#[test]
fn alignment_table() {
    let mut failures = Vec::new();
    for row in ROWS {
        for (method, want) in [
            (Discovery::TreeWalk, row.tree_walk),
            (Discovery::PublicSuffixList, row.psl),
        ] {
            let (out, _) = run(&policy(row), row.author, &passing(None, &[row.d]), method);
            let got = match out.result {
                DmarcResult::Pass if out.dkim_aligned() => A,
                DmarcResult::Fail if !out.dkim_aligned() => N,
                DmarcResult::None => NoPolicy,
                other => panic!("{}: unexpected {other}: {}", row.what, out.reason),
            };
            if got != want {
                failures.push(format!(
                    "{} ({method:?}): {got:?}, want {want:?} ({})",
                    row.what, out.reason
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(ROWS.len(), 20);
}

/// RFC 9989 §4.4 Table 1 and RFC 7489 Appendix B.1: SPF and DKIM alike.
#[test]
fn rfc9989_table_1() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    for method in [Discovery::TreeWalk, Discovery::PublicSuffixList] {
        let (out, _) = run(
            zone,
            "news.example.com",
            &passing(Some("foo.example.com"), &[]),
            method,
        );
        assert!(out.spf_aligned(), "relaxed: the same Organizational Domain");
        let (out, _) = run(
            zone,
            "news.example.com",
            &passing(Some("news.example.com"), &[]),
            method,
        );
        assert_eq!(
            out.spf.unwrap().outcome,
            sendwell_dmarc::AlignmentOutcome::Strict
        );
        let (out, _) = run(
            zone,
            "news.example.com",
            &passing(Some("foo.example.net"), &[]),
            method,
        );
        assert!(!out.spf_aligned(), "none: no common Organizational Domain");
    }
}
