//! The DATA reader: message text from the wire to the stored message, ended only by
//! `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4), with dot-unstuffing (§4.5.2) and the
//! SMTP-smuggling defence.
//!
//! RFC 5321 §4.1.1.4: "The mail data are terminated by a line containing only a
//! period, that is, the character sequence "<CRLF>.<CRLF>"". SMTP smuggling (2023)
//! works because some servers also end DATA at `<LF>.<LF>`, `<LF>.<CRLF>` or
//! `<CR>.<CR>`, so a message can hide a second one that a stricter next hop sees.
//! This reader ends a message only at the exact sequence: the terminator is matched
//! on the *raw* input and only at a line start reached through a real CRLF (or at the
//! very start of the data). RFC 5321 §2.3.8 says CR and LF "MUST only occur together
//! as CRLF"; a lone one ([`BareLineEndings`]) either makes the message rejected at
//! its end, or is turned into CRLF, by configuration. Neither choice ever ends the
//! message early: after a bare line ending the reader is *not* at a line start, so a
//! following `.` is ordinary text.
//!
//! The same machine reads BDAT chunks (RFC 3030) without dot handling: there the
//! size says where a chunk ends, but bare CR and LF are judged the same way, so what
//! Sendwell stores and later relays never holds a bare line ending.
//!
//! Memory: the reader holds no buffer of its own; it appends content to the caller's
//! vector until the size limit, then only counts.

/// What to do with a CR or LF that is not part of a CRLF (RFC 5321 §2.3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BareLineEndings {
    /// Read to the real end of the data, then refuse the message (the default).
    #[default]
    Reject,
    /// Store each bare CR or LF as CRLF.
    Normalize,
}

/// How the reader judged a message it has read to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataVerdict {
    /// Acceptable.
    Accept,
    /// Larger than the size limit (RFC 1870 §6: 552 5.3.4). Content past the limit
    /// was not kept.
    TooBig,
    /// A line longer than the line limit (RFC 5321 §4.5.3.1.6).
    LineTooLong,
    /// A bare LF, with [`BareLineEndings::Reject`].
    BareLf,
    /// A bare CR, with [`BareLineEndings::Reject`].
    BareCr,
}

/// The end of the data: the verdict and the content size in octets (after
/// unstuffing and normalising; counted past the limit too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataEnd {
    /// The judgement.
    pub verdict: DataVerdict,
    /// Octets of content.
    pub size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line reached through CRLF (or of the data).
    LineStart,
    /// Inside a line.
    Mid,
    /// After a CR inside a line: CRLF or a bare CR.
    Cr,
    /// After a `.` at a line start: stuffing or the terminator.
    Dot,
    /// After `.` CR at a line start: the terminator if LF follows.
    DotCr,
}

/// The sans-I/O reader for one message's data. Feed it input as it arrives.
#[derive(Clone, Debug)]
pub struct DataReader {
    state: State,
    dot_transparency: bool,
    policy: BareLineEndings,
    max_size: u64,
    max_line: usize,
    size: u64,
    line_len: usize,
    bare_cr: bool,
    bare_lf: bool,
    too_big: bool,
    line_too_long: bool,
    finished: bool,
}

impl DataReader {
    /// A reader for DATA (dot-stuffed, ended by `<CRLF>.<CRLF>`). `max_size` is the
    /// most content octets kept; `max_line` the longest line in octets including CRLF
    /// (0: no limit).
    pub fn data(policy: BareLineEndings, max_size: u64, max_line: usize) -> Self {
        Self::new(true, policy, max_size, max_line)
    }

    /// A reader for the chunks of one BDAT transaction (RFC 3030): no dot handling;
    /// call [`DataReader::finish_chunks`] after the LAST chunk.
    pub fn chunks(policy: BareLineEndings, max_size: u64, max_line: usize) -> Self {
        Self::new(false, policy, max_size, max_line)
    }

    fn new(
        dot_transparency: bool,
        policy: BareLineEndings,
        max_size: u64,
        max_line: usize,
    ) -> Self {
        DataReader {
            state: State::LineStart,
            dot_transparency,
            policy,
            max_size,
            max_line,
            size: 0,
            line_len: 0,
            bare_cr: false,
            bare_lf: false,
            too_big: false,
            line_too_long: false,
            finished: false,
        }
    }

    /// Octets of content so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True once the size limit is passed (the server may stop early for BDAT).
    pub fn is_too_big(&self) -> bool {
        self.too_big
    }

    /// Read `input`, appending content to `out`. Returns how many input octets were
    /// used and, when the terminator was among them, the end. Input after the
    /// terminator is not touched: it is the client's next command (RFC 2920).
    /// With BDAT readers the end only comes from [`DataReader::finish_chunks`].
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Option<DataEnd>) {
        let mut i = 0;
        if self.finished {
            return (0, Some(self.end()));
        }
        while i < input.len() {
            match self.state {
                State::Mid => {
                    let rest = &input[i..];
                    let n = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                    self.content(&rest[..n], out);
                    i += n;
                    if let Some(&b) = input.get(i) {
                        i += 1;
                        if b == b'\r' {
                            self.state = State::Cr;
                        } else {
                            self.found_bare_lf(out);
                        }
                    }
                }
                State::LineStart => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'.' if self.dot_transparency => self.state = State::Dot,
                        b'\r' => self.state = State::Cr,
                        b'\n' => self.found_bare_lf(out),
                        _ => {
                            self.content(&[b], out);
                            self.state = State::Mid;
                        }
                    }
                }
                State::Cr => {
                    if input[i] == b'\n' {
                        i += 1;
                        self.line_end(out);
                        self.state = State::LineStart;
                    } else {
                        // Leave input[i] for the Mid state.
                        self.found_bare_cr(out);
                    }
                }
                State::Dot => {
                    if input[i] == b'\r' {
                        i += 1;
                        self.state = State::DotCr;
                    } else {
                        // RFC 5321 §4.5.2: "If the first character is a period and there
                        // are other characters on the line, the first character is
                        // deleted." The next octet is read as inside a line (a LF here
                        // is bare and does not end anything).
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if input[i] == b'\n' {
                        // <CRLF>.<CRLF>: the only end of the data (RFC 5321 §4.1.1.4).
                        i += 1;
                        self.finished = true;
                        return (i, Some(self.end()));
                    }
                    // ".<CR>x": the dot is stuffing, the CR is bare.
                    self.found_bare_cr(out);
                }
            }
        }
        (i, None)
    }

    /// End a BDAT transaction after its LAST chunk: a CR left at the very end is bare.
    pub fn finish_chunks(&mut self, out: &mut Vec<u8>) -> DataEnd {
        if matches!(self.state, State::Cr) {
            self.found_bare_cr(out);
        }
        self.finished = true;
        self.end()
    }

    fn end(&self) -> DataEnd {
        let verdict = if self.too_big {
            DataVerdict::TooBig
        } else if self.line_too_long {
            DataVerdict::LineTooLong
        } else if self.bare_lf {
            DataVerdict::BareLf
        } else if self.bare_cr {
            DataVerdict::BareCr
        } else {
            DataVerdict::Accept
        };
        DataEnd {
            verdict,
            size: self.size,
        }
    }

    /// Append content; past the size limit only count it. What is kept is always
    /// the first `max_size` octets, however the input was split.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let room = self.max_size.saturating_sub(self.size);
        let keep = (bytes.len() as u64).min(room) as usize;
        out.extend_from_slice(&bytes[..keep]);
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > self.max_size {
            self.too_big = true;
        }
    }

    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.line_len = self.line_len.saturating_add(bytes.len());
        // RFC 5321 §4.5.3.1.6: at most 1000 octets including the CRLF.
        if self.max_line > 0 && self.line_len + 2 > self.max_line {
            self.line_too_long = true;
        }
        self.push(bytes, out);
    }

    fn line_end(&mut self, out: &mut Vec<u8>) {
        self.line_len = 0;
        self.push(b"\r\n", out);
    }

    fn found_bare_lf(&mut self, out: &mut Vec<u8>) {
        self.state = State::Mid;
        match self.policy {
            BareLineEndings::Reject => self.bare_lf = true,
            BareLineEndings::Normalize => self.line_end(out),
        }
    }

    fn found_bare_cr(&mut self, out: &mut Vec<u8>) {
        self.state = State::Mid;
        match self.policy {
            BareLineEndings::Reject => self.bare_cr = true,
            BareLineEndings::Normalize => self.line_end(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(policy: BareLineEndings, input: &[u8]) -> (Vec<u8>, Option<DataEnd>, usize) {
        let mut r = DataReader::data(policy, 1 << 20, 1000);
        let mut out = Vec::new();
        let (used, end) = r.feed(input, &mut out);
        (out, end, used)
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf() {
        let (out, end, used) = read_all(BareLineEndings::Reject, b"a\r\n..b\r\n.\r\nQUIT\r\n");
        assert_eq!(out, b"a\r\n.b\r\n");
        assert_eq!(end.unwrap().verdict, DataVerdict::Accept);
        assert_eq!(used, 11);
        // An empty message.
        let (out, end, _) = read_all(BareLineEndings::Reject, b".\r\n");
        assert!(out.is_empty());
        assert!(end.is_some());
    }

    #[test]
    fn smuggling_sequences_never_end_the_message() {
        for seq in [
            &b"\n.\n"[..],
            b"\r\n.\n",
            b"\n.\r\n",
            b"\r.\r",
            b"\r\n.\r",
            b"\r.\r\n",
            b"\n.\r",
        ] {
            for policy in [BareLineEndings::Reject, BareLineEndings::Normalize] {
                let mut input = b"a".to_vec();
                input.extend_from_slice(seq);
                input.extend_from_slice(b"MAIL FROM:<x@y.example>\r\n");
                let (_, end, used) = read_all(policy, &input);
                assert_eq!(end, None, "{seq:?} {policy:?}");
                assert_eq!(used, input.len());
                // Now the real end.
                let mut r = DataReader::data(policy, 1 << 20, 1000);
                let mut out = Vec::new();
                assert_eq!(r.feed(&input, &mut out).1, None);
                let end = r.feed(b"\r\n.\r\n", &mut out).1.unwrap();
                if policy == BareLineEndings::Reject {
                    assert_ne!(end.verdict, DataVerdict::Accept, "{seq:?}");
                } else {
                    assert_eq!(end.verdict, DataVerdict::Accept, "{seq:?}");
                    assert!(!has_bare(&out), "{out:?}");
                }
            }
        }
    }

    fn has_bare(out: &[u8]) -> bool {
        out.iter().enumerate().any(|(i, &b)| {
            (b == b'\n' && (i == 0 || out[i - 1] != b'\r'))
                || (b == b'\r' && out.get(i + 1) != Some(&b'\n'))
        })
    }

    #[test]
    fn split_anywhere_gives_the_same_result() {
        let input = b"Subject: x\r\n\r\n..dot\r\nline\n.\r\n.\r\nrest";
        let (whole, end, used) = read_all(BareLineEndings::Normalize, input);
        for cut in 0..input.len() {
            let mut r = DataReader::data(BareLineEndings::Normalize, 1 << 20, 1000);
            let mut out = Vec::new();
            let (a, e1) = r.feed(&input[..cut], &mut out);
            let (b, e2) = if e1.is_some() {
                (0, e1)
            } else {
                r.feed(&input[cut..], &mut out)
            };
            assert_eq!(out, whole, "cut {cut}");
            assert_eq!(e2, end);
            assert_eq!(a + b, used);
        }
    }

    #[test]
    fn limits() {
        let mut r = DataReader::data(BareLineEndings::Reject, 5, 1000);
        let mut out = Vec::new();
        let end = r.feed(b"0123456789\r\n.\r\n", &mut out).1.unwrap();
        assert_eq!(end.verdict, DataVerdict::TooBig);
        assert_eq!(out, b"01234");
        let mut r = DataReader::data(BareLineEndings::Reject, 100, 10);
        let end = r.feed(b"123456789\r\n.\r\n", &mut out).1.unwrap();
        assert_eq!(end.verdict, DataVerdict::LineTooLong);
    }

    #[test]
    fn too_big_keeps_the_same_prefix_however_split() {
        // Found by fuzz/fuzz_targets/smtp_data.rs: whole and byte-by-byte disagreed.
        let input = b"\xff\xff\xff\xff\x11\x11";
        let mut whole = DataReader::data(BareLineEndings::Normalize, 4, 100);
        let mut a = Vec::new();
        whole.feed(input, &mut a);
        let mut step = DataReader::data(BareLineEndings::Normalize, 4, 100);
        let mut b = Vec::new();
        for byte in input {
            step.feed(std::slice::from_ref(byte), &mut b);
        }
        assert_eq!(a, b"\xff\xff\xff\xff");
        assert_eq!(a, b);
    }

    #[test]
    fn chunks() {
        let mut r = DataReader::chunks(BareLineEndings::Reject, 100, 1000);
        let mut out = Vec::new();
        r.feed(b".a\r", &mut out);
        r.feed(b"\n.\r\n", &mut out);
        assert_eq!(r.finish_chunks(&mut out).verdict, DataVerdict::Accept);
        assert_eq!(out, b".a\r\n.\r\n");
        let mut r = DataReader::chunks(BareLineEndings::Reject, 100, 1000);
        r.feed(b"a\r", &mut out);
        assert_eq!(r.finish_chunks(&mut out).verdict, DataVerdict::BareCr);
    }
}
