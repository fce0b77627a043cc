//! Tampering with a signed message, and an oracle that says whether the tampered message
//! may still pass. Shared by the property tests in tests/properties.rs and by the fuzz
//! target fuzz/fuzz_targets/dkim_verify.rs (which includes this file with `#[path]`), so
//! both hold the verifier to the same rule; it uses only std, sendwell-dkim and
//! sendwell-dns.
//!
//! The rule (RFC 6376 §3.7, §6.1.3): a signature passes exactly when what it signs is
//! still what was signed: the header hash input (the fields `h=` selects, canonicalized,
//! then the DKIM-Signature field itself with the value of `b=` deleted) and the
//! canonical body, with the same `b=`. The oracle computes these from the tampered message
//! with its own plain implementation of RFC 6376 §3.4 and §5.4.2, written line by line
//! and independently of the crate's streaming code, and compares them with the original's.
//! Where the RFC is silent it follows Sendwell's documented choices: a bare LF is a line
//! end (converted to CRLF, as dkimpy, OpenDKIM and Mail::DKIM do), a message with a
//! header line without a colon never passes (RFC 5322 §2.2: every field has one; dkimpy
//! refuses such a message too), and a message with more than one From field never
//! passes (RFC 5322 §3.6 allows one).
//!
//! The fixtures are one message signed with Ed25519 (fast) under each of the four
//! canonicalization pairs, the key served by a `MockLookup`. Time is never asserted
//! (house rule); the work per input is bounded by its size (at most 16 mutations, each
//! adding at most a copied header field), and the fuzz run bounds each input's time with
//! libFuzzer's `-timeout`.

use std::sync::OnceLock;

use sendwell_dkim::{
    Canonicalization, CanonicalizationAlgorithm, DkimResult, MAX_SIGNATURES, Signer, SigningKey,
};
use sendwell_dns::MockLookup;

/// The time of signing and of verifying.
pub const NOW: u64 = 1_700_000_000;

/// The RFC 8463 Appendix A private key (a base64 Ed25519 seed).
const SEED: &[u8] = b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

/// The message signed: folded fields, runs of whitespace, an unsigned field, a body with
/// trailing whitespace, a tab-led line, an empty line and trailing empty lines.
pub const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\n\
    To: Bob <bob@example.org>,\r\n\tCarol <carol@example.org>\r\n\
    Subject: A  message   with  spaces \r\n\
    Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\
    Message-ID: <tamper@example.com>\r\n\
    Received: from a.example.com by b.example.org; Fri, 27 Nov 2026 10:00:01 +0000\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: text/plain;\r\n charset=utf-8\r\n\
    \r\n\
    Hello Bob,  \r\n\
    \tthis line starts with a tab.\r\n\
    \r\n\
    Two  spaces, then\ttab.\r\n\
    \r\n\
    \r\n";

/// A signed message and what its one signature signs.
#[derive(Debug)]
pub struct Fixture {
    /// The canonicalization it was signed with.
    pub canonicalization: Canonicalization,
    /// The signed message (DKIM-Signature field on top).
    pub signed: Vec<u8>,
    /// The `h=` names, lowercase, in order.
    pub h: Vec<String>,
    /// What the signature signs, by the oracle.
    pub content: SignedContent,
    /// DNS holding the key record.
    pub dns: MockLookup,
}

/// The four fixtures: relaxed/relaxed, relaxed/simple, simple/relaxed, simple/simple.
pub fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        use CanonicalizationAlgorithm::{Relaxed, Simple};
        let key = std::sync::Arc::new(SigningKey::from_file_contents(SEED).expect("the seed"));
        let dns = || {
            MockLookup::from_zone(&format!(
                "sel._domainkey.example.com TXT \"{}\"",
                key.key_record()
            ))
            .expect("the mock zone")
        };
        [
            (Relaxed, Relaxed),
            (Relaxed, Simple),
            (Simple, Relaxed),
            (Simple, Simple),
        ]
        .into_iter()
        .map(|(header, body)| {
            let canonicalization = Canonicalization { header, body };
            let signer = Signer::new(key.clone(), "example.com", "sel")
                .expect("the signer")
                .canonicalization(canonicalization);
            let field = signer.sign(MESSAGE, NOW).expect("signing");
            let signed = [field.as_bytes(), MESSAGE].concat();
            let parsed = ReferenceMessage::parse(&signed);
            let dkim = &parsed.fields[0];
            let h = h_names(&parsed.data[dkim.clone()]).expect("h= in the signature");
            let content = parsed
                .signed_content(0, canonicalization, &h)
                .expect("the signature's content");
            Fixture {
                canonicalization,
                signed,
                h,
                content,
                dns: dns(),
            }
        })
        .collect()
    })
}

/// One change to a message. Positions are taken modulo what they index, so any values
/// make a valid mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Flip bit `bit % 8` of the octet at `at`.
    FlipBit {
        /// Position.
        at: usize,
        /// Which bit.
        bit: u8,
    },
    /// Flip the case of the first ASCII letter at or after `at` (header field names are
    /// case-insensitive, everything else is not).
    FlipCase {
        /// Position.
        at: usize,
    },
    /// Insert `bytes` before `at`.
    Insert {
        /// Position.
        at: usize,
        /// What to insert.
        bytes: Vec<u8>,
    },
    /// Delete `len % 16 + 1` octets from `at`.
    Delete {
        /// Position.
        at: usize,
        /// Length.
        len: usize,
    },
    /// Make the `nth` run of SP/HTAB one octet longer (SP or HTAB).
    Widen {
        /// Which whitespace octet.
        nth: usize,
        /// Insert HTAB rather than SP.
        tab: bool,
    },
    /// Fold a header field: CRLF before the `nth` SP/HTAB of the header section.
    Fold {
        /// Which whitespace octet.
        nth: usize,
    },
    /// Unfold: delete the `nth` CRLF of the header section that a SP/HTAB follows.
    Unfold {
        /// Which folding.
        nth: usize,
    },
    /// Copy the `nth` header field (with its folding) to above the `to`th.
    DuplicateField {
        /// Which field.
        nth: usize,
        /// Where to.
        to: usize,
    },
    /// Insert SP/HTAB before the `nth` CRLF of the body (trailing whitespace).
    TrailingWhitespace {
        /// Which line end.
        nth: usize,
        /// Insert HTAB rather than SP.
        tab: bool,
    },
    /// Append octets to the end of the message (empty lines, a whitespace line, text).
    Append {
        /// What to append.
        bytes: Vec<u8>,
    },
    /// Keep only the first `at` octets.
    Truncate {
        /// Length kept.
        at: usize,
    },
}

/// Octets that matter to the parser and the canonicalization, for insertions.
pub const ALPHABET: &[u8] = b" \t\r\n:;=ab\x00\xff";

/// Apply `mutations` in order.
pub fn apply(message: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut m = message.to_vec();
    for mutation in mutations {
        apply_one(&mut m, mutation);
    }
    m
}

fn apply_one(m: &mut Vec<u8>, mutation: &Mutation) {
    let len = m.len();
    let header_end = memfind(m, b"\r\n\r\n").map_or(len, |i| i + 2);
    let wsp = |range: std::ops::Range<usize>, m: &[u8]| -> Vec<usize> {
        range.filter(|&i| m[i] == b' ' || m[i] == b'\t').collect()
    };
    match mutation {
        Mutation::FlipBit { at, bit } if len > 0 => m[at % len] ^= 1 << (bit % 8),
        Mutation::FlipCase { at } if len > 0 => {
            if let Some(i) = (at % len..len).find(|&i| m[i].is_ascii_alphabetic()) {
                m[i] ^= 0x20;
            }
        }
        Mutation::Insert { at, bytes } => {
            let at = at % (len + 1);
            m.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete { at, len: n } if len > 0 => {
            let at = at % len;
            let end = (at + n % 16 + 1).min(len);
            m.drain(at..end);
        }
        Mutation::Widen { nth, tab } => {
            let all = wsp(0..len, m);
            if !all.is_empty() {
                let i = all[nth % all.len()];
                m.insert(i + 1, if *tab { b'\t' } else { b' ' });
            }
        }
        Mutation::Fold { nth } => {
            let all = wsp(0..header_end, m);
            if !all.is_empty() {
                let i = all[nth % all.len()];
                m.splice(i..i, *b"\r\n");
            }
        }
        Mutation::Unfold { nth } => {
            let folds: Vec<usize> = (0..header_end.saturating_sub(2))
                .filter(|&i| &m[i..i + 2] == b"\r\n" && matches!(m[i + 2], b' ' | b'\t'))
                .collect();
            if !folds.is_empty() {
                let i = folds[nth % folds.len()];
                m.drain(i..i + 2);
            }
        }
        Mutation::DuplicateField { nth, to } => {
            let fields = ReferenceMessage::parse(m).fields;
            // Positions in the CRLF-converted copy equal those in `m` only without bare
            // LF; otherwise skip (other mutations cover such messages).
            if !fields.is_empty() && !has_bare_lf(m) {
                let field = fields[nth % fields.len()].clone();
                // The copy of a last line that had no CRLF gets one.
                let mut copy = m[field.start..field.end.min(len)].to_vec();
                if !copy.ends_with(b"\r\n") {
                    copy.extend_from_slice(b"\r\n");
                }
                let at = fields[to % fields.len()].start;
                m.splice(at..at, copy);
            }
        }
        Mutation::TrailingWhitespace { nth, tab } => {
            let ends: Vec<usize> = (header_end + 2..len.saturating_sub(1))
                .filter(|&i| &m[i..i + 2] == b"\r\n")
                .collect();
            if !ends.is_empty() {
                let i = ends[nth % ends.len()];
                m.insert(i, if *tab { b'\t' } else { b' ' });
            }
        }
        Mutation::Append { bytes } => m.extend_from_slice(bytes),
        Mutation::Truncate { at } => m.truncate(at % (len + 1)),
        _ => {}
    }
}

/// Mutations read from arbitrary octets (for the fuzzer): each mutation is an opcode
/// octet and the octets after it.
pub fn mutations_from_bytes(data: &[u8]) -> Vec<Mutation> {
    let mut out = Vec::new();
    let mut rest = data;
    let take = |rest: &mut &[u8]| -> usize {
        let (word, tail) = rest.split_at(rest.len().min(2));
        *rest = tail;
        word.iter().fold(0usize, |a, &b| a << 8 | usize::from(b))
    };
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let a = take(&mut rest);
        let b = take(&mut rest);
        let bytes = |n: usize| -> Vec<u8> {
            (0..n % 4 + 1)
                .map(|k| ALPHABET[(b >> (k * 4)) % ALPHABET.len()])
                .collect()
        };
        out.push(match op % 11 {
            0 => Mutation::FlipBit {
                at: a,
                bit: b as u8,
            },
            1 => Mutation::FlipCase { at: a },
            2 => Mutation::Insert {
                at: a,
                bytes: bytes(b),
            },
            3 => Mutation::Delete { at: a, len: b },
            4 => Mutation::Widen {
                nth: a,
                tab: b % 2 == 1,
            },
            5 => Mutation::Fold { nth: a },
            6 => Mutation::Unfold { nth: a },
            7 => Mutation::DuplicateField { nth: a, to: b },
            8 => Mutation::TrailingWhitespace {
                nth: a,
                tab: b % 2 == 1,
            },
            9 => Mutation::Append { bytes: bytes(a) },
            _ => Mutation::Truncate { at: a },
        });
        if out.len() == 16 {
            break;
        }
    }
    out
}

/// What one DKIM-Signature field signs, computed by the oracle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedContent {
    /// The header hash input (RFC 6376 §3.7 step 2), without its final CRLF.
    pub headers: Vec<u8>,
    /// The canonical body (§3.4.3, §3.4.4).
    pub body: Vec<u8>,
    /// The `b=` value without whitespace (base64 decoding is strict, so equal text is
    /// equal signature and different text is a different or invalid one).
    pub b: Vec<u8>,
}

/// For each DKIM-Signature field of `tampered`, top to bottom: may it pass? Yes exactly
/// when it signs what `fixture`'s signature signed, the message has one From field and
/// no header line without a colon, and the field is within the verifier's
/// [`MAX_SIGNATURES`].
pub fn expected_passes(fixture: &Fixture, tampered: &[u8]) -> Vec<bool> {
    let message = ReferenceMessage::parse(tampered);
    let froms = message.fields_named("from").count();
    let malformed = message.has_line_without_colon();
    let signatures: Vec<usize> = message.fields_named("dkim-signature").collect();
    signatures
        .iter()
        .enumerate()
        .map(|(index, &field)| {
            froms == 1
                && !malformed
                && index < MAX_SIGNATURES
                && message
                    .signed_content(field, fixture.canonicalization, &fixture.h)
                    .is_some_and(|c| c == fixture.content)
        })
        .collect()
}

/// Verify `tampered` with Sendwell and compare with the oracle; `Err` says how they
/// disagree.
pub async fn check(fixture: &Fixture, tampered: &[u8]) -> Result<bool, String> {
    let expected = expected_passes(fixture, tampered);
    let results = sendwell_dkim::verify(&fixture.dns, tampered, NOW).await;
    let got: Vec<bool> = results
        .iter()
        .map(|r| r.result == DkimResult::Pass)
        .collect();
    if got != expected {
        let reasons: Vec<String> = results
            .iter()
            .map(|r| format!("{} ({})", r.result, r.reason))
            .collect();
        return Err(format!(
            "oracle {expected:?}, Sendwell {reasons:?} for {:?}",
            String::from_utf8_lossy(tampered)
        ));
    }
    Ok(expected.iter().any(|&p| p))
}

/// A message as the oracle sees it: CRLF data, header field ranges, the body range.
pub struct ReferenceMessage {
    /// The message, bare LF converted to CRLF, the header section ending in CRLF.
    pub data: Vec<u8>,
    /// Each field, name through its final CRLF.
    pub fields: Vec<std::ops::Range<usize>>,
    /// Where the body starts.
    pub body_start: usize,
}

impl ReferenceMessage {
    /// Split `input` (RFC 5322 §2.1, §2.2.3): the header section ends at the first empty
    /// line; a line starting with SP or HTAB continues the field above it.
    pub fn parse(input: &[u8]) -> ReferenceMessage {
        let mut data = Vec::with_capacity(input.len() + 8);
        for (i, &b) in input.iter().enumerate() {
            if b == b'\n' && (i == 0 || input[i - 1] != b'\r') {
                data.push(b'\r');
            }
            data.push(b);
        }
        let body_start = if data.starts_with(b"\r\n") {
            Some(2)
        } else {
            memfind(&data, b"\r\n\r\n").map(|i| i + 4)
        };
        if body_start.is_none() && !data.is_empty() && !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        let header_end = body_start.map_or(data.len(), |b| b - 2);
        let mut fields: Vec<std::ops::Range<usize>> = Vec::new();
        let mut pos = 0;
        while pos < header_end {
            let end = memfind(&data[pos..header_end], b"\r\n").map_or(header_end, |i| pos + i + 2);
            match fields.last_mut() {
                Some(last) if data[pos] == b' ' || data[pos] == b'\t' => last.end = end,
                _ => fields.push(pos..end),
            }
            pos = end;
        }
        ReferenceMessage {
            body_start: body_start.unwrap_or(data.len()),
            data,
            fields,
        }
    }

    /// A field's name: up to the colon (or, without one, the line), trailing WSP removed.
    fn name(&self, field: usize) -> &[u8] {
        let raw = &self.data[self.fields[field].clone()];
        let line = &raw[..memfind(raw, b"\r\n").unwrap_or(raw.len())];
        let name = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
        trim_end_wsp(name)
    }

    /// Whether the first line of `field` has no colon (RFC 5322 §2.2: then it is no
    /// field at all, whatever it says).
    fn lacks_colon(&self, field: usize) -> bool {
        let raw = &self.data[self.fields[field].clone()];
        let line = &raw[..memfind(raw, b"\r\n").unwrap_or(raw.len())];
        !line.contains(&b':')
    }

    /// Whether some line of the header section has no colon.
    pub fn has_line_without_colon(&self) -> bool {
        (0..self.fields.len()).any(|f| self.lacks_colon(f))
    }

    /// The indices of the fields named `name` (case-insensitive); a line without a colon
    /// is named by nothing.
    pub fn fields_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = usize> + 's {
        (0..self.fields.len()).filter(move |&f| {
            !self.lacks_colon(f) && self.name(f).eq_ignore_ascii_case(name.as_bytes())
        })
    }

    /// What the DKIM-Signature field `field` signs, with the original's `h=` names (if
    /// the field differs from the original anywhere but in `b=`, so does the result).
    pub fn signed_content(
        &self,
        field: usize,
        c: Canonicalization,
        h: &[String],
    ) -> Option<SignedContent> {
        let raw = &self.data[self.fields[field].clone()];
        let colon = raw.iter().position(|&b| b == b':')?;
        let value_end = raw.len() - if raw.ends_with(b"\r\n") { 2 } else { 0 };
        // RFC 6376 §3.5: "b=" ... the value "including all surrounding whitespace"
        // deleted (§3.7): from after "=" to the ";" that ends the tag-spec.
        let (b_start, b_end) = tag_spec_value(raw, colon + 1, value_end, "b")?;
        let b: Vec<u8> = raw[b_start..b_end]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let unsigned = [&raw[..b_start], &raw[b_end..]].concat();

        // RFC 6376 §5.4.2: each name takes the last instance not yet taken, upwards.
        let mut taken = vec![false; self.fields.len()];
        let mut headers = Vec::new();
        for name in h {
            let pick = (0..self.fields.len()).rev().find(|&f| {
                !taken[f]
                    && !self.lacks_colon(f)
                    && self.name(f).eq_ignore_ascii_case(name.as_bytes())
            });
            if let Some(f) = pick {
                taken[f] = true;
                headers.extend(reference_header(
                    c.header,
                    self.name(f),
                    &self.data[self.fields[f].clone()],
                ));
            }
        }
        let signature_name = self.name(field).to_vec();
        let mut own = reference_header(c.header, &signature_name, &unsigned);
        own.truncate(own.len() - 2);
        headers.extend(own);
        Some(SignedContent {
            headers,
            body: reference_body(c.body, &self.data[self.body_start..]),
            b,
        })
    }
}

/// The range of the value of tag `name` in `raw[start..end]` (a tag-list): from after
/// the `=` to the `;` ending the tag-spec (or `end`). The first such tag.
fn tag_spec_value(raw: &[u8], start: usize, end: usize, name: &str) -> Option<(usize, usize)> {
    let mut spec_start = start;
    while spec_start <= end {
        let spec_end = raw[spec_start..end]
            .iter()
            .position(|&b| b == b';')
            .map_or(end, |i| spec_start + i);
        let spec = &raw[spec_start..spec_end];
        if let Some(eq) = spec.iter().position(|&b| b == b'=') {
            let tag = trim_fws(&spec[..eq]);
            if tag == name.as_bytes() {
                return Some((spec_start + eq + 1, spec_end));
            }
        }
        spec_start = spec_end + 1;
    }
    None
}

/// The `h=` names of a DKIM-Signature field, lowercase.
pub fn h_names(raw: &[u8]) -> Option<Vec<String>> {
    let colon = raw.iter().position(|&b| b == b':')?;
    let end = raw.len() - if raw.ends_with(b"\r\n") { 2 } else { 0 };
    let (start, end) = tag_spec_value(raw, colon + 1, end, "h")?;
    Some(
        raw[start..end]
            .split(|&b| b == b':')
            .map(|n| String::from_utf8_lossy(trim_fws(n)).to_ascii_lowercase())
            .collect(),
    )
}

/// RFC 6376 §3.4.1 (simple) and §3.4.2 (relaxed) for one field, ending in CRLF.
pub fn reference_header(algorithm: CanonicalizationAlgorithm, name: &[u8], raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match algorithm {
        CanonicalizationAlgorithm::Simple => {
            out.extend_from_slice(raw);
            if !raw.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        CanonicalizationAlgorithm::Relaxed => {
            // The value: after the colon, or after the name in a line without one.
            let value = match raw.iter().position(|&b| b == b':') {
                Some(colon) => &raw[colon + 1..],
                None => &raw[name.len()..],
            };
            // Lowercase the name; unfold (delete every CRLF); each WSP run becomes one
            // SP; delete WSP at the end of the value and around the colon.
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let mut unfolded = Vec::new();
            let mut i = 0;
            while i < value.len() {
                if value[i..].starts_with(b"\r\n") {
                    i += 2;
                    continue;
                }
                unfolded.push(value[i]);
                i += 1;
            }
            let words: Vec<&[u8]> = unfolded
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|w| !w.is_empty())
                .collect();
            out.extend_from_slice(&words.join(&b' '));
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed) written the obvious way, line by line.
pub fn reference_body(algorithm: CanonicalizationAlgorithm, body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = body;
    loop {
        match memfind(rest, b"\r\n") {
            Some(i) => {
                lines.push(rest[..i].to_vec());
                rest = &rest[i + 2..];
            }
            None => {
                if !rest.is_empty() {
                    lines.push(rest.to_vec());
                }
                break;
            }
        }
    }
    if algorithm == CanonicalizationAlgorithm::Relaxed {
        for line in &mut lines {
            let mut out = Vec::new();
            let mut in_wsp = false;
            for &b in line.iter() {
                if b == b' ' || b == b'\t' {
                    in_wsp = true;
                } else {
                    if in_wsp {
                        out.push(b' ');
                    }
                    in_wsp = false;
                    out.push(b);
                }
            }
            *line = out;
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in &lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if out.is_empty() && algorithm == CanonicalizationAlgorithm::Simple {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn memfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn has_bare_lf(m: &[u8]) -> bool {
    m.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || m[i - 1] != b'\r'))
}

fn trim_end_wsp(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn trim_fws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}
