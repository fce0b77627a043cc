//! Property tests for the SMTP vocabulary: every parser round-trips what it accepts,
//! never panics on arbitrary input, and the DATA reader never ends a message
//! anywhere but at `<CRLF>.<CRLF>`.

use proptest::prelude::*;
use sendwell_smtp::{
    BareLineEndings, Command, DataReader, DataVerdict, ForwardPath, Mailbox, Reply, ReversePath,
};

/// Dot-stuff `content` (CRLF line endings) and add the terminator, as a client does
/// (RFC 5321 §4.5.2).
fn stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line_start = true;
    for &b in content {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn atom() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4).prop_map(|l| l.join("."))
}

fn mailbox() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            prop::collection::vec(atom(), 1..3).prop_map(|a| a.join(".")),
            "[ -!#-\\[\\]-~]{0,10}".prop_map(|q| format!("\"{q}\"")),
            "[a-z]{1,5}[é中][a-z]{0,3}",
        ],
        prop_oneof![
            domain(),
            // Canonical octets: a literal is kept as its address, so "00" would be
            // written back as "0".
            any::<[u8; 4]>().prop_map(|o| format!("[{}.{}.{}.{}]", o[0], o[1], o[2], o[3])),
        ],
    )
        .prop_map(|(l, d)| format!("{l}@{d}"))
        .prop_filter("length limits", |m| {
            m.split('@').next().is_some_and(|l| l.len() <= 64) && m.len() < 250
        })
}

/// A line of text with no CR or LF, often starting with dots.
fn text_line() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(Just(b'.'), 0..3),
        prop::collection::vec(
            any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
            0..40,
        ),
    )
        .prop_map(|(mut dots, rest)| {
            dots.extend(rest);
            dots
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn command_parse_never_panics_and_round_trips(line in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(cmd) = Command::parse(&line) {
            let wire = cmd.to_string();
            prop_assert!(wire.ends_with("\r\n"));
            let again = Command::parse(wire.trim_end_matches("\r\n").as_bytes());
            prop_assert_eq!(again, Ok(cmd));
        }
    }

    #[test]
    fn generated_mailboxes_round_trip(m in mailbox()) {
        let parsed = Mailbox::parse(&m);
        prop_assert!(parsed.is_ok(), "{m}: {parsed:?}");
        prop_assert_eq!(parsed.unwrap().to_string(), m.clone());
        let line = format!("RCPT TO:<{m}>");
        let cmd = Command::parse(line.as_bytes()).unwrap();
        prop_assert_eq!(cmd.to_string(), format!("{line}\r\n"));
    }

    #[test]
    fn paths_never_panic(s in "\\PC{0,80}") {
        let _ = ReversePath::parse_prefix(&s);
        let _ = ForwardPath::parse_prefix(&s);
        let _ = Mailbox::parse(&s);
    }

    #[test]
    fn data_reader_restores_stuffed_content(
        lines in prop::collection::vec(text_line(), 0..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        trailing in "[A-Z]{0,10}\r\n",
    ) {
        let mut content = Vec::new();
        for l in &lines {
            content.extend_from_slice(l);
            content.extend_from_slice(b"\r\n");
        }
        let mut wire = stuff(&content);
        let end_at = wire.len();
        wire.extend_from_slice(trailing.as_bytes());
        // Feed in pieces cut at arbitrary places.
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        let mut reader = DataReader::data(BareLineEndings::Reject, 1 << 20, 0);
        let mut out = Vec::new();
        let (mut pos, mut end) = (0, None);
        for p in points {
            if p <= pos || end.is_some() {
                continue;
            }
            let (used, e) = reader.feed(&wire[pos..p], &mut out);
            pos += used;
            end = e;
        }
        let end = end.expect("the terminator ends the data");
        prop_assert_eq!(pos, end_at, "stopped exactly after the terminator");
        prop_assert_eq!(end.verdict, DataVerdict::Accept);
        prop_assert_eq!(out, content);
    }

    #[test]
    fn data_never_ends_without_the_exact_terminator(input in prop::collection::vec(
        prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..200)) {
        let mut reader = DataReader::data(BareLineEndings::Normalize, 1 << 20, 0);
        let mut out = Vec::new();
        let (used, end) = reader.feed(&input, &mut out);
        // Where the reader stops, the exact terminator must be what it just read:
        // CRLF.CRLF, or .CRLF at the very start of the data.
        if end.is_some() {
            let upto = &input[..used];
            prop_assert!(upto == b".\r\n" || upto.ends_with(b"\r\n.\r\n"), "{upto:?}");
            let first = (0..input.len()).find(|&i| input[..i + 1].ends_with(b"\r\n.\r\n")
                || (i == 2 && &input[..3] == b".\r\n"));
            prop_assert_eq!(Some(used - 1), first);
        } else {
            prop_assert_eq!(used, input.len());
            prop_assert!(!(input.starts_with(b".\r\n")));
        }
        // Normalised content never holds a bare CR or LF.
        for (i, &b) in out.iter().enumerate() {
            if b == b'\n' { prop_assert!(i > 0 && out[i - 1] == b'\r'); }
            if b == b'\r' { prop_assert_eq!(out.get(i + 1), Some(&b'\n')); }
        }
    }

    #[test]
    fn replies_round_trip(code in 200u16..600, lines in prop::collection::vec("[ -~]{0,30}", 1..4)) {
        if let Ok(code) = sendwell_smtp::ReplyCode::new(code) {
            let r = Reply { code, enhanced: None, lines: lines.clone() };
            let wire = r.to_string();
            let (back, used) = Reply::parse(wire.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(used, wire.len());
            prop_assert_eq!(back.code, code);
            prop_assert_eq!(back.lines.len(), lines.len());
        }
    }
}
