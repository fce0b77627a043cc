//! Canonicalization (RFC 6376 §3.4): the exact octets that are hashed, for header
//! fields and for the body, with the "simple" and "relaxed" algorithms.
//!
//! Design decision: body canonicalization is a streaming state machine that hands the
//! hasher *slices of the input* whenever the input is already canonical (which for
//! well-formed mail is nearly always: single spaces, CRLF, no trailing whitespace), and
//! short literals only where something changes. So a body is read once, copied never,
//! and hashed in long runs: near memory speed. Relaxed canonicalization looks for the
//! octets that need attention 64 at a time with a branch-free loop the compiler turns
//! into SIMD compares, then eight at a time, so a line end inside text costs nothing
//! extra. Chunks may be split anywhere (a CRLF or a run of whitespace across two chunks
//! gives the same result); the property tests check that against a plain reference
//! implementation.

use crate::signature::CanonicalizationAlgorithm;

/// Canonicalize one header field, appending the result to `out` (RFC 6376 §3.4.1, §3.4.2).
///
/// `raw` is the whole field (name, colon, value, folding and the final CRLF) and `name`
/// its name; the result ends with CRLF.
pub fn canonicalize_header(
    algorithm: CanonicalizationAlgorithm,
    name: &[u8],
    raw: &[u8],
    out: &mut Vec<u8>,
) {
    match algorithm {
        // RFC 6376 §3.4.1: "The "simple" header canonicalization algorithm does not
        // change header fields in any way."
        CanonicalizationAlgorithm::Simple => {
            out.extend_from_slice(raw);
            if !raw.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        CanonicalizationAlgorithm::Relaxed => {
            let value = match memchr::memchr(b':', raw) {
                Some(colon) => &raw[colon + 1..],
                None => &raw[raw.len().min(name.len())..],
            };
            relaxed_header(name, value, out);
        }
    }
}

/// RFC 6376 §3.4.2, in its order: lowercase the name; unfold (delete CRLF); reduce each
/// WSP run to one SP; delete WSP at the end of the value; delete WSP around the colon.
fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    // The name range excludes WSP before the colon already; trim it again for raw input.
    while out.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
        out.pop();
    }
    out.push(b':');
    let mut pending_space = false;
    let mut started = false;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        match b {
            b'\r' if value.get(i + 1) == Some(&b'\n') => {
                i += 2;
                continue;
            }
            b' ' | b'\t' => pending_space = true,
            _ => {
                if pending_space && started {
                    out.push(b' ');
                }
                pending_space = false;
                started = true;
                out.push(b);
            }
        }
        i += 1;
    }
    out.extend_from_slice(b"\r\n");
}

/// Which octets are special to relaxed body canonicalization: SP, HTAB, CR.
const fn relaxed_special() -> [bool; 256] {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\r' as usize] = true;
    t
}
static RELAXED_SPECIAL: [bool; 256] = relaxed_special();

/// Octets checked at a time by [`block_is_canonical`].
const BLOCK: usize = 64;

/// Whether relaxed canonicalization leaves all of `window[..BLOCK]` alone, judged with
/// the two octets after it: no HTAB, no SP followed by an octet of 0x20 or below (two
/// spaces, or whitespace at a line end), and every CR the start of a CRLF followed by an
/// ordinary octet (a line end in the middle of text). It may say no where the octet loop
/// would go on (a space before a control octet); it never says yes wrongly.
///
/// Written as a fixed-length loop without branches so that the compiler turns it into
/// SIMD compares (no `unsafe`, no `std::arch`): most blocks of real text pass at once.
#[inline]
fn block_is_canonical(window: &[u8; BLOCK + 2]) -> bool {
    let mut attention = 0u8;
    for k in 0..BLOCK {
        let (c, d, e) = (window[k], window[k + 1], window[k + 2]);
        let tab = c == b'\t';
        let space = (c == b' ') & (d <= b' ');
        let cr = (c == b'\r') & !((d == b'\n') & (e > b' '));
        attention |= u8::from(tab | space | cr);
    }
    attention == 0
}

/// Skip, from `from`, every octet that relaxed canonicalization leaves alone: ordinary
/// octets, single spaces between ordinary octets, and CRLFs followed by an ordinary
/// octet. Returns the index of the first octet of 0x20 or below that is not such a space
/// or line end (or `chunk.len()`).
///
/// [`BLOCK`] octets at a time while whole blocks need nothing, then eight at a time
/// (SWAR) up to the octet that stops it. Text is mostly such blocks and words.
#[inline]
fn skip_canonical(chunk: &[u8], from: usize) -> usize {
    let n = chunk.len();
    let mut i = from;
    loop {
        while let Some(window) = chunk.get(i..i + BLOCK + 2) {
            let Ok(window) = <&[u8; BLOCK + 2]>::try_from(window) else {
                break;
            };
            if !block_is_canonical(window) {
                break;
            }
            i += BLOCK;
        }
        match skip_words(chunk, i, (i + BLOCK).min(n)) {
            Ok(stop) => return stop,
            Err(reached) if reached >= n => return n,
            Err(reached) => i = reached,
        }
    }
}

/// The word-at-a-time part of [`skip_canonical`], from `from` until it stops
/// (`Ok(index)`) or reaches `limit` (`Err(index)`, perhaps a few octets past it).
///
/// Eight octets at a time (SWAR): a word whose only low octets are single spaces, not
/// at its end, is skipped in one step.
#[inline]
fn skip_words(chunk: &[u8], from: usize, limit: usize) -> Result<usize, usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = chunk.len();
    // The octet at `k` (of 0x20 or below) and what follows it can be skipped: a single
    // space before an ordinary octet, or a CRLF before one. Returns the next index.
    let skippable = |k: usize| -> Option<usize> {
        match chunk[k] {
            b' ' if chunk.get(k + 1).is_some_and(|&b| b > b' ') => Some(k + 2),
            b'\r'
                if chunk.get(k + 1) == Some(&b'\n')
                    && chunk.get(k + 2).is_some_and(|&b| b > b' ') =>
            {
                Some(k + 3)
            }
            _ => None,
        }
    };
    let mut i = from;
    while i < limit {
        let Some(word) = chunk.get(i..i + 8) else {
            break;
        };
        let x = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        // High bit of each octet below 0x21, exactly (no borrow between octets).
        let low = !((x & LOW7).wrapping_add(ONES * 0x5f) | x) & HIGH;
        if low == 0 {
            i += 8;
            continue;
        }
        // High bit of each octet equal to 0x20, exactly.
        let v = x ^ (ONES * 0x20);
        let spaces = !((v & LOW7).wrapping_add(LOW7) | v) & HIGH;
        // Only spaces, never two in a row, none last (its successor is in the next word).
        if low == spaces && spaces & (spaces >> 8) == 0 && spaces >> 63 == 0 {
            i += 8;
            continue;
        }
        let k = i + (low.trailing_zeros() / 8) as usize;
        match skippable(k) {
            Some(next) => i = next,
            None => return Ok(k),
        }
    }
    while i < limit.min(n) {
        if chunk[i] > b' ' {
            i += 1;
            continue;
        }
        match skippable(i) {
            Some(next) => i = next,
            None => return Ok(i),
        }
    }
    Err(i)
}

/// Streaming body canonicalization (RFC 6376 §3.4.3, §3.4.4).
///
/// Feed the body in chunks with [`BodyCanonicalizer::update`], then call
/// [`BodyCanonicalizer::finish`]; the canonical octets go to the sink as slices.
#[derive(Clone, Debug)]
pub struct BodyCanonicalizer {
    algorithm: CanonicalizationAlgorithm,
    /// Empty lines not yet output: they are, only if something other than empty lines
    /// follows ("ignores all empty lines at the end of the message body").
    pending_crlf: usize,
    /// Relaxed: whitespace seen in the current line and not yet output.
    pending_wsp: bool,
    /// The previous chunk ended in CR: is it a line break or a bare CR?
    pending_cr: bool,
    /// The current line has output something.
    line_has_content: bool,
    /// Octets output so far.
    length: u64,
}

/// Hands canonical output to the sink, merging contiguous input slices into one call.
struct Emitter<'c, S: FnMut(&[u8])> {
    chunk: &'c [u8],
    run_start: usize,
    run_end: usize,
    sink: S,
    length: u64,
}

impl<S: FnMut(&[u8])> Emitter<'_, S> {
    #[inline]
    fn input(&mut self, start: usize, end: usize) {
        if start != self.run_end {
            self.flush();
            self.run_start = start;
        }
        self.run_end = end;
    }

    #[inline]
    fn literal(&mut self, bytes: &[u8]) {
        self.flush();
        self.length += bytes.len() as u64;
        (self.sink)(bytes);
    }

    #[inline]
    fn flush(&mut self) {
        if self.run_end > self.run_start {
            self.length += (self.run_end - self.run_start) as u64;
            (self.sink)(&self.chunk[self.run_start..self.run_end]);
        }
        self.run_start = self.run_end;
    }
}

impl BodyCanonicalizer {
    /// A canonicalizer for `algorithm`.
    pub fn new(algorithm: CanonicalizationAlgorithm) -> Self {
        BodyCanonicalizer {
            algorithm,
            pending_crlf: 0,
            pending_wsp: false,
            pending_cr: false,
            line_has_content: false,
            length: 0,
        }
    }

    /// Octets of canonical output so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Canonicalize the next `chunk` of the body.
    pub fn update(&mut self, chunk: &[u8], sink: impl FnMut(&[u8])) {
        let mut em = Emitter {
            chunk,
            run_start: 0,
            run_end: 0,
            sink,
            length: 0,
        };
        let n = chunk.len();
        let mut i = 0;
        if self.pending_cr && n > 0 {
            self.pending_cr = false;
            if chunk[0] == b'\n' {
                self.line_end_literal(&mut em);
                i = 1;
            } else {
                self.content_literal(&mut em, b"\r");
            }
        }
        // Where, in this chunk, the last WSP of a pending run is a SP (to output it
        // as an input slice rather than a literal).
        let mut space_at: Option<usize> = None;
        match self.algorithm {
            CanonicalizationAlgorithm::Relaxed => {
                while i < n {
                    let b = chunk[i];
                    if b == b' ' || b == b'\t' {
                        i += 1;
                        while i < n && (chunk[i] == b' ' || chunk[i] == b'\t') {
                            i += 1;
                        }
                        self.pending_wsp = true;
                        space_at = (chunk[i - 1] == b' ').then_some(i - 1);
                        continue;
                    }
                    if b == b'\r' {
                        if i + 1 == n {
                            self.pending_cr = true;
                            i += 1;
                            continue;
                        }
                        if chunk[i + 1] == b'\n' {
                            self.line_end(&mut em, i);
                            i += 2;
                            continue;
                        }
                        // A bare CR is an ordinary octet.
                    }
                    let start = i;
                    i += 1;
                    loop {
                        i = skip_canonical(chunk, i);
                        if i < n && !RELAXED_SPECIAL[chunk[i] as usize] {
                            // LF, NUL and other controls are ordinary octets here.
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    if self.pending_wsp {
                        self.pending_wsp = false;
                        self.flush_pending_crlf(&mut em);
                        match space_at {
                            Some(k) if k + 1 == start => em.input(k, k + 1),
                            _ => em.literal(b" "),
                        }
                    } else {
                        self.flush_pending_crlf(&mut em);
                    }
                    em.input(start, i);
                    self.line_has_content = true;
                }
            }
            CanonicalizationAlgorithm::Simple => {
                while i < n {
                    if chunk[i] == b'\r' {
                        if i + 1 == n {
                            self.pending_cr = true;
                            i += 1;
                            continue;
                        }
                        if chunk[i + 1] == b'\n' {
                            self.line_end(&mut em, i);
                            i += 2;
                            continue;
                        }
                    }
                    let start = i;
                    i = memchr::memchr(b'\r', &chunk[i + 1..]).map_or(n, |k| i + 1 + k);
                    self.flush_pending_crlf(&mut em);
                    em.input(start, i);
                    self.line_has_content = true;
                }
            }
        }
        em.flush();
        self.length += em.length;
    }

    /// End the body: drop trailing empty lines, end the last line with CRLF, and for
    /// "simple" turn an empty body into a single CRLF (RFC 6376 §3.4.3).
    pub fn finish(mut self, sink: impl FnMut(&[u8])) -> u64 {
        let mut em = Emitter {
            chunk: &[],
            run_start: 0,
            run_end: 0,
            sink,
            length: 0,
        };
        if self.pending_cr {
            self.pending_cr = false;
            self.content_literal(&mut em, b"\r");
        }
        // RFC 6376 §3.4.4: trailing WSP of the last line is deleted like any other.
        self.pending_wsp = false;
        if self.line_has_content {
            // "If the body is non-empty but does not end with a CRLF, a CRLF is added."
            em.literal(b"\r\n");
        } else if self.algorithm == CanonicalizationAlgorithm::Simple
            && self.length + em.length == 0
        {
            // RFC 6376 §3.4.3: "If there is no body or no trailing CRLF on the message
            // body, a CRLF is added." (relaxed: an empty body stays empty, erratum 1384.)
            em.literal(b"\r\n");
        }
        em.flush();
        self.length += em.length;
        self.length
    }

    #[inline]
    fn flush_pending_crlf<S: FnMut(&[u8])>(&mut self, em: &mut Emitter<'_, S>) {
        while self.pending_crlf > 0 {
            em.literal(b"\r\n");
            self.pending_crlf -= 1;
        }
    }

    /// A CRLF at `chunk[at..at + 2]`.
    #[inline]
    fn line_end<S: FnMut(&[u8])>(&mut self, em: &mut Emitter<'_, S>, at: usize) {
        // Relaxed: "Ignore all whitespace at the end of lines."
        self.pending_wsp = false;
        if self.line_has_content {
            em.input(at, at + 2);
            self.line_has_content = false;
        } else {
            self.pending_crlf += 1;
        }
    }

    fn line_end_literal<S: FnMut(&[u8])>(&mut self, em: &mut Emitter<'_, S>) {
        self.pending_wsp = false;
        if self.line_has_content {
            em.literal(b"\r\n");
            self.line_has_content = false;
        } else {
            self.pending_crlf += 1;
        }
    }

    fn content_literal<S: FnMut(&[u8])>(&mut self, em: &mut Emitter<'_, S>, bytes: &[u8]) {
        self.flush_pending_crlf(em);
        if self.pending_wsp {
            self.pending_wsp = false;
            em.literal(b" ");
        }
        em.literal(bytes);
        self.line_has_content = true;
    }
}

/// Canonicalize a whole body into a vector (tests, diagnostics).
pub fn canonicalize_body(algorithm: CanonicalizationAlgorithm, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut c = BodyCanonicalizer::new(algorithm);
    c.update(body, |s| out.extend_from_slice(s));
    c.finish(|s| out.extend_from_slice(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use CanonicalizationAlgorithm::{Relaxed, Simple};

    /// RFC 6376 §3.4.5, "Canonicalization Examples (INFORMATIVE)".
    const EXAMPLE: &[u8] = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

    #[test]
    fn rfc6376_section_3_4_5_relaxed() {
        let m = crate::message::Message::parse(EXAMPLE);
        let mut headers = Vec::new();
        for f in m.headers() {
            canonicalize_header(Relaxed, m.name(f), m.raw(f), &mut headers);
        }
        assert_eq!(headers, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(canonicalize_body(Relaxed, m.body()), b" C\r\nD E\r\n");
    }

    #[test]
    fn rfc6376_section_3_4_5_simple() {
        let m = crate::message::Message::parse(EXAMPLE);
        let mut headers = Vec::new();
        for f in m.headers() {
            canonicalize_header(Simple, m.name(f), m.raw(f), &mut headers);
        }
        assert_eq!(headers, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
        assert_eq!(canonicalize_body(Simple, m.body()), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn empty_bodies() {
        // RFC 6376 §3.4.3 and erratum 1384 (§3.4.4).
        assert_eq!(canonicalize_body(Simple, b""), b"\r\n");
        assert_eq!(canonicalize_body(Simple, b"\r\n\r\n"), b"\r\n");
        assert_eq!(canonicalize_body(Relaxed, b""), b"");
        assert_eq!(canonicalize_body(Relaxed, b" \r\n\t\r\n"), b"");
    }

    #[test]
    fn missing_final_crlf_and_bare_cr() {
        assert_eq!(canonicalize_body(Simple, b"abc"), b"abc\r\n");
        assert_eq!(canonicalize_body(Relaxed, b"abc  "), b"abc\r\n");
        assert_eq!(canonicalize_body(Relaxed, b"a\rb"), b"a\rb\r\n");
        assert_eq!(canonicalize_body(Relaxed, b"a \r"), b"a \r\r\n");
        assert_eq!(canonicalize_body(Simple, b"a\r"), b"a\r\r\n");
    }

    #[test]
    fn relaxed_whitespace() {
        assert_eq!(
            canonicalize_body(Relaxed, b"  lead\t\ttab  x \r\n\r\nend\r\n\r\n \r\n"),
            b" lead tab x\r\n\r\nend\r\n"
        );
    }

    #[test]
    fn word_at_a_time_skipping_agrees_with_octet_at_a_time() {
        // Spaces, double spaces, tabs, controls and 8-bit octets at every offset of the
        // eight-octet words, against a plain octet loop.
        for offset in 0..17 {
            for filler in [&b" "[..], b"  ", b"\t", b" \t", b"\x01", b"\xe9 ", b"\n"] {
                let mut body = vec![b'x'; offset];
                body.extend_from_slice(filler);
                body.extend_from_slice(b"yyyyyyyyyyyyyyyy z\r\n");
                let mut expected = Vec::new();
                let mut wsp = false;
                for &b in &body[..body.len() - 2] {
                    if b == b' ' || b == b'\t' {
                        wsp = true;
                    } else {
                        if wsp {
                            expected.push(b' ');
                        }
                        wsp = false;
                        expected.push(b);
                    }
                }
                expected.extend_from_slice(b"\r\n");
                assert_eq!(
                    canonicalize_body(Relaxed, &body),
                    expected,
                    "{offset} {filler:?}"
                );
            }
        }
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let body = b"a  b\r\n\r\n \t\r\nc\r\r\nd \r\n\r\n";
        for alg in [Simple, Relaxed] {
            let whole = canonicalize_body(alg, body);
            for split in 0..=body.len() {
                let mut out = Vec::new();
                let mut c = BodyCanonicalizer::new(alg);
                c.update(&body[..split], |s| out.extend_from_slice(s));
                c.update(&body[split..], |s| out.extend_from_slice(s));
                let len = c.finish(|s| out.extend_from_slice(s));
                assert_eq!(out, whole, "{alg:?} split at {split}");
                assert_eq!(len as usize, out.len());
            }
        }
    }
}
