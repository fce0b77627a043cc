//! A message split exactly into header fields and body (RFC 5322 §2.1), as DKIM needs it.
//!
//! DKIM signs bytes, not meaning: a header field is kept as the raw octets it arrived as,
//! folding included, and the body is not decoded. So this is a minimal, exact splitter,
//! not a MIME parser.
//!
//! Line endings: RFC 6376 §5.3 requires CRLF; messages handed over by programs often
//! have bare LF. Every LF not preceded by CR becomes CRLF (as dkimpy, OpenDKIM and
//! Mail::DKIM do). When the input has no bare LF the bytes are borrowed, not copied.
//!
//! A line of the header section that is neither a field (name, colon, value) nor the
//! continuation of one is malformed (RFC 5322 §2.2: "Header fields are lines beginning
//! with a field name, followed by a colon"). It is kept apart, in
//! [`Message::malformed`], with its continuation lines: it is no field, so no `h=` name
//! can select it and it is never a From field. Verifiers and signers refuse such a
//! message (dkimpy does the same); see `verify` and `sign`.
//!
//! One line is neither: a first line starting with `From ` is the separator of a
//! message saved in an mbox file (RFC 4155), not part of the message. It is set apart
//! ([`Message::mbox_separator`]) and ignored by verification, as dkimpy and the DMARC
//! crate's From parser ignore it; the signer refuses it (it would end up inside the
//! header, below the new DKIM-Signature).

use std::borrow::Cow;
use std::ops::Range;

/// One header field: its name and its full raw text, name through the final CRLF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name, without trailing whitespace (byte range in [`Message::data`]).
    pub name: Range<usize>,
    /// The whole field: name, colon, value with folding, and the CRLF that ends it.
    pub raw: Range<usize>,
    /// Where the value starts (just after the colon; every field has one).
    pub value_start: usize,
}

/// A message as DKIM sees it: CRLF line endings, header fields in order, the body.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    data: Cow<'a, [u8]>,
    headers: Vec<HeaderField>,
    /// Header lines without a colon, with their continuation lines (raw ranges).
    malformed: Vec<Range<usize>>,
    /// A first line `From ...`: an mbox separator (RFC 4155), not a header field.
    mbox_separator: Option<Range<usize>>,
    body_start: usize,
}

impl<'a> Message<'a> {
    /// Split `input` into header fields and body. Never fails: any octets are a message
    /// (a header line without a colon is set apart in [`Message::malformed`]; a message
    /// without an empty line has an empty body).
    pub fn parse(input: &'a [u8]) -> Message<'a> {
        let mut data = to_crlf(input);
        // The header section must end with CRLF for the last field to be complete.
        let body_start = find_body_start(&data);
        if body_start.is_none() && !data.is_empty() && !data.ends_with(b"\r\n") {
            data.to_mut().extend_from_slice(b"\r\n");
        }
        let header_end = body_start.map_or(data.len(), |b| b - 2);
        // RFC 4155: an mbox file's "From " line above the message.
        let mbox_separator = data[..header_end]
            .starts_with(b"From ")
            .then(|| memchr::memmem::find(&data, b"\r\n").map_or(header_end, |i| i + 2));
        let fields_start = mbox_separator.unwrap_or(0).min(header_end);
        let (mut headers, mut malformed) = split_fields(&data[fields_start..header_end]);
        for f in &mut headers {
            f.name = f.name.start + fields_start..f.name.end + fields_start;
            f.raw = f.raw.start + fields_start..f.raw.end + fields_start;
            f.value_start += fields_start;
        }
        for r in &mut malformed {
            *r = r.start + fields_start..r.end + fields_start;
        }
        let body_start = body_start.unwrap_or(data.len());
        Message {
            data,
            headers,
            malformed,
            mbox_separator: mbox_separator.map(|end| 0..end.min(header_end)),
            body_start,
        }
    }

    /// The whole message with CRLF line endings.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The header fields, top to bottom.
    pub fn headers(&self) -> &[HeaderField] {
        &self.headers
    }

    /// The header lines that are not fields: no colon (RFC 5322 §2.2, §3.6.8), raw text
    /// with continuation lines and CRLF, top to bottom. Not in [`Message::headers`].
    pub fn malformed(&self) -> impl Iterator<Item = &[u8]> {
        self.malformed.iter().map(|r| &self.data[r.clone()])
    }

    /// The mbox separator line (`From sender date`, RFC 4155) above the message, if the
    /// input started with one: not a header field, and not malformed.
    pub fn mbox_separator(&self) -> Option<&[u8]> {
        self.mbox_separator.clone().map(|r| &self.data[r])
    }

    /// The body (after the empty line), possibly empty.
    pub fn body(&self) -> &[u8] {
        &self.data[self.body_start..]
    }

    /// The name of `field`.
    pub fn name(&self, field: &HeaderField) -> &[u8] {
        &self.data[field.name.clone()]
    }

    /// The raw text of `field`, name through CRLF.
    pub fn raw(&self, field: &HeaderField) -> &[u8] {
        &self.data[field.raw.clone()]
    }

    /// The value of `field` (after the colon, CRLF excluded).
    pub fn value(&self, field: &HeaderField) -> &[u8] {
        let end = field.raw.end
            - if self.raw(field).ends_with(b"\r\n") {
                2
            } else {
                0
            };
        &self.data[field.value_start.min(end)..end]
    }

    /// The fields named `name` (case-insensitive), top to bottom.
    pub fn fields_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s HeaderField> {
        self.headers
            .iter()
            .filter(move |f| self.name(f).eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// Octets checked at a time by [`has_bare_lf`].
const BLOCK: usize = 64;

/// Whether `input` has an LF not preceded by CR. A fixed-length, branch-free loop per
/// block, which the compiler turns into SIMD compares: a whole message is checked at
/// several octets per cycle (looking LFs up one by one costs a call per line).
fn has_bare_lf(input: &[u8]) -> bool {
    if input.first() == Some(&b'\n') {
        return true;
    }
    // Every pair of neighbours (input[k], input[k + 1]).
    let before = &input[..input.len().saturating_sub(1)];
    let after = input.get(1..).unwrap_or_default();
    let mut blocks = before.chunks_exact(BLOCK).zip(after.chunks_exact(BLOCK));
    for (b, a) in &mut blocks {
        let mut bare = 0u8;
        for k in 0..BLOCK {
            bare |= u8::from((a[k] == b'\n') & (b[k] != b'\r'));
        }
        if bare != 0 {
            return true;
        }
    }
    let done = before.len() / BLOCK * BLOCK;
    before[done..]
        .iter()
        .zip(&after[done..])
        .any(|(&b, &a)| a == b'\n' && b != b'\r')
}

/// Convert bare LF to CRLF, borrowing when there is none.
fn to_crlf(input: &[u8]) -> Cow<'_, [u8]> {
    if !has_bare_lf(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', input) {
        if i == 0 || input[i - 1] != b'\r' {
            out.extend_from_slice(&input[last..i]);
            out.extend_from_slice(b"\r\n");
            last = i + 1;
        }
    }
    out.extend_from_slice(&input[last..]);
    Cow::Owned(out)
}

/// Offset of the body: just after the first empty line ("CRLF CRLF", or CRLF at the start).
fn find_body_start(data: &[u8]) -> Option<usize> {
    if data.starts_with(b"\r\n") {
        return Some(2);
    }
    memchr::memmem::find(data, b"\r\n\r\n").map(|i| i + 4)
}

/// Split a header section (each line ending in CRLF) into fields and malformed lines: a
/// line starting with SP or HTAB continues the field (or malformed line) above it
/// (RFC 5322 §2.2.3); any other line is a field if it has a colon, else malformed.
fn split_fields(section: &[u8]) -> (Vec<HeaderField>, Vec<Range<usize>>) {
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut malformed: Vec<Range<usize>> = Vec::new();
    // Whether the last line started was malformed (its continuations go with it).
    let mut in_malformed = false;
    let mut pos = 0;
    while pos < section.len() {
        let line_end =
            memchr::memmem::find(&section[pos..], b"\r\n").map_or(section.len(), |i| pos + i + 2);
        let first = section[pos];
        let continuation = first == b' ' || first == b'\t';
        if continuation
            && in_malformed
            && let Some(last) = malformed.last_mut()
        {
            last.end = line_end;
        } else if continuation
            && !in_malformed
            && let Some(last) = fields.last_mut()
        {
            last.raw.end = line_end;
        } else {
            let line = &section[pos..line_end];
            // RFC 5322 §2.2: a field name, then a colon. Without one, it is no field.
            let Some(colon) = memchr::memchr(b':', line) else {
                malformed.push(pos..line_end);
                in_malformed = true;
                pos = line_end;
                continue;
            };
            in_malformed = false;
            let mut trimmed = pos + colon;
            while trimmed > pos && matches!(section[trimmed - 1], b' ' | b'\t') {
                trimmed -= 1;
            }
            fields.push(HeaderField {
                name: pos..trimmed,
                raw: pos..line_end,
                value_start: pos + colon + 1,
            });
        }
        pos = line_end;
    }
    (fields, malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_folded_fields_and_body() {
        let m = Message::parse(b"From: a@b\r\nSubject: one\r\n two\r\nTo : c@d\r\n\r\nbody\r\n");
        let names: Vec<&[u8]> = m.headers().iter().map(|f| m.name(f)).collect();
        assert_eq!(names, [&b"From"[..], b"Subject", b"To"]);
        assert_eq!(m.raw(&m.headers()[1]), b"Subject: one\r\n two\r\n");
        assert_eq!(m.value(&m.headers()[1]), b" one\r\n two");
        assert_eq!(m.body(), b"body\r\n");
        assert!(matches!(m.data, Cow::Borrowed(_)));
    }

    #[test]
    fn an_mbox_separator_is_set_apart() {
        let m = Message::parse(b"From MAILER-DAEMON Fri Nov 27 10:00:00 2026\r\nFrom: a@b\r\nSubject: x\r\n\r\nbody\r\n");
        assert_eq!(
            m.mbox_separator(),
            Some(&b"From MAILER-DAEMON Fri Nov 27 10:00:00 2026\r\n"[..])
        );
        let names: Vec<&[u8]> = m.headers().iter().map(|f| m.name(f)).collect();
        assert_eq!(names, [&b"From"[..], b"Subject"]);
        assert_eq!(m.value(&m.headers()[0]), b" a@b");
        assert_eq!(m.malformed().count(), 0);
        assert_eq!(m.body(), b"body\r\n");
        // Only on the first line; "From:" is a field; a later "From " line is malformed.
        assert_eq!(Message::parse(b"From: a@b\r\n\r\n").mbox_separator(), None);
        let later = Message::parse(b"Subject: x\r\nFrom a@b\r\n\r\n");
        assert_eq!(later.mbox_separator(), None);
        assert_eq!(later.malformed().count(), 1);
        // A separator alone, with no header after it, and one without CRLF.
        assert!(Message::parse(b"From x\r\n\r\nbody").headers().is_empty());
        assert_eq!(Message::parse(b"From x").headers().len(), 0);
    }

    #[test]
    fn converts_bare_lf() {
        let m = Message::parse(b"From: a@b\nSubject: x\n\nline\n\n");
        assert_eq!(m.data(), b"From: a@b\r\nSubject: x\r\n\r\nline\r\n\r\n");
        assert_eq!(m.body(), b"line\r\n\r\n");
        assert_eq!(m.headers().len(), 2);
    }

    #[test]
    fn finds_a_bare_lf_anywhere() {
        // Every position, in and across the 64-octet blocks, against the plain rule.
        for len in [0, 1, 2, 63, 64, 65, 130, 200] {
            let base: Vec<u8> = (0..len)
                .map(|i| if i % 9 == 8 { b'\n' } else { b'x' })
                .collect();
            let crlf: Vec<u8> = base
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if base.get(i + 1) == Some(&b'\n') {
                        b'\r'
                    } else {
                        b
                    }
                })
                .collect();
            for at in 0..len {
                for input in [&base, &crlf] {
                    let mut m = input.clone();
                    m[at] = b'\n';
                    let plain = (0..len).any(|i| m[i] == b'\n' && (i == 0 || m[i - 1] != b'\r'));
                    assert_eq!(has_bare_lf(&m), plain, "{m:?}");
                }
            }
            assert!(!has_bare_lf(&crlf));
        }
    }

    #[test]
    fn handles_degenerate_messages() {
        let m = Message::parse(b"From: a@b");
        assert_eq!(m.headers().len(), 1);
        assert_eq!(m.raw(&m.headers()[0]), b"From: a@b\r\n");
        assert_eq!(m.body(), b"");
        let m = Message::parse(b"\r\nbody only");
        assert!(m.headers().is_empty());
        assert_eq!(m.body(), b"body only");
        let m = Message::parse(b"From joe Mon Jan 1\r\nFrom: a@b\r\n\r\n");
        assert_eq!(m.headers().len(), 1);
        assert_eq!(m.name(&m.headers()[0]), b"From");
        assert_eq!(m.fields_named("from").count(), 1);
        assert!(Message::parse(b"").headers().is_empty());
        // A continuation line with nothing above it: a line without a colon.
        let m = Message::parse(b" x\r\n");
        assert!(m.headers().is_empty());
        assert_eq!(m.malformed().collect::<Vec<_>>(), [b" x\r\n"]);
    }

    #[test]
    fn a_line_without_a_colon_is_no_field() {
        // The reviewer's case: "From: a@example.com" changed to "From\r\n a@example.com".
        // RFC 5322 §2.2: no colon, so no field: not a From, not selectable by h=, and
        // its continuation line stays with it (it does not extend the field above).
        let m = Message::parse(b"To: b@x\r\nFrom\r\n a@example.com\r\nSubject: s\r\n\r\nhi\r\n");
        let names: Vec<&[u8]> = m.headers().iter().map(|f| m.name(f)).collect();
        assert_eq!(names, [&b"To"[..], b"Subject"]);
        assert_eq!(m.raw(&m.headers()[0]), b"To: b@x\r\n");
        assert_eq!(m.fields_named("from").count(), 0);
        assert_eq!(
            m.malformed().collect::<Vec<_>>(),
            [b"From\r\n a@example.com\r\n"]
        );
        // A colon later in a continuation line does not make the line a field.
        let m = Message::parse(b"From\r\n a:b\r\n\r\n");
        assert!(m.headers().is_empty());
        assert_eq!(m.malformed().count(), 1);
        // A well-formed message has none.
        assert_eq!(
            Message::parse(b"From: a\r\n b\r\n\r\n").malformed().count(),
            0
        );
    }
}
