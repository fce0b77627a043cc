//! SMTP replies (RFC 5321 §4.2): a three-digit code, an optional enhanced status code
//! (RFC 2034, RFC 3463) and one or more lines of text.
//!
//! Every code is a named constant, number plus meaning (`ReplyCode::C554_TRANSACTION_FAILED`),
//! with the section that defines it, so a reader of the server never has to remember
//! what `554` means. [`Reply`]'s `Display` is the exact wire form, multi-line replies
//! included (`250-first\r\n250 last\r\n`). [`Reply::parse`] reads one back, for the
//! delivery client.

use std::fmt;

use crate::enhanced::EnhancedStatusCode;

/// A three-digit SMTP reply code (RFC 5321 §4.2).
///
/// ```text
/// Reply-code     = %x32-35 %x30-35 %x30-39
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

/// The first digit of a reply code (RFC 5321 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 2yz: "Positive Completion reply".
    PositiveCompletion,
    /// 3yz: "Positive Intermediate reply" (354 after DATA, 334 during AUTH).
    PositiveIntermediate,
    /// 4yz: "Transient Negative Completion reply": try again later.
    TransientNegative,
    /// 5yz: "Permanent Negative Completion reply": do not repeat as is.
    PermanentNegative,
}

#[allow(missing_docs)] // each constant's meaning is its name; the doc gives the source
impl ReplyCode {
    /// RFC 5321 §4.2.3: "System status, or system help reply".
    pub const C211_SYSTEM_STATUS: ReplyCode = ReplyCode(211);
    /// RFC 5321 §4.2.3: "Help message".
    pub const C214_HELP_MESSAGE: ReplyCode = ReplyCode(214);
    /// RFC 5321 §4.2.3: "<domain> Service ready".
    pub const C220_SERVICE_READY: ReplyCode = ReplyCode(220);
    /// RFC 5321 §4.2.3: "<domain> Service closing transmission channel".
    pub const C221_SERVICE_CLOSING: ReplyCode = ReplyCode(221);
    /// RFC 4954 §6: "Authentication succeeded".
    pub const C235_AUTH_SUCCEEDED: ReplyCode = ReplyCode(235);
    /// RFC 5321 §4.2.3: "Requested mail action okay, completed".
    pub const C250_OK: ReplyCode = ReplyCode(250);
    /// RFC 5321 §4.2.3: "User not local; will forward to <forward-path>".
    pub const C251_USER_NOT_LOCAL_WILL_FORWARD: ReplyCode = ReplyCode(251);
    /// RFC 5321 §4.2.3: "Cannot VRFY user, but will accept message and attempt delivery".
    pub const C252_CANNOT_VRFY: ReplyCode = ReplyCode(252);
    /// RFC 4954 §4: a server challenge during AUTH.
    pub const C334_AUTH_CHALLENGE: ReplyCode = ReplyCode(334);
    /// RFC 5321 §4.2.3: "Start mail input; end with <CRLF>.<CRLF>".
    pub const C354_START_MAIL_INPUT: ReplyCode = ReplyCode(354);
    /// RFC 5321 §4.2.3: "<domain> Service not available, closing transmission channel".
    pub const C421_SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// RFC 5321 §4.2.3: "Requested mail action not taken: mailbox unavailable".
    pub const C450_MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode(450);
    /// RFC 5321 §4.2.3: "Requested action aborted: local error in processing".
    pub const C451_LOCAL_ERROR: ReplyCode = ReplyCode(451);
    /// RFC 5321 §4.2.3: "Requested action not taken: insufficient system storage";
    /// also "too many recipients" (RFC 5321 §4.5.3.1.10).
    pub const C452_INSUFFICIENT_STORAGE: ReplyCode = ReplyCode(452);
    /// RFC 4954 §6: "Temporary authentication failure".
    pub const C454_TEMPORARY_AUTH_FAILURE: ReplyCode = ReplyCode(454);
    /// RFC 5321 §4.2.3: "Server unable to accommodate parameters".
    pub const C455_CANNOT_ACCOMMODATE_PARAMETERS: ReplyCode = ReplyCode(455);
    /// RFC 5321 §4.2.3: "Syntax error, command unrecognized (This may include errors
    /// such as command line too long)".
    pub const C500_SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// RFC 5321 §4.2.3: "Syntax error in parameters or arguments".
    pub const C501_SYNTAX_ERROR_IN_PARAMETERS: ReplyCode = ReplyCode(501);
    /// RFC 5321 §4.2.3: "Command not implemented".
    pub const C502_COMMAND_NOT_IMPLEMENTED: ReplyCode = ReplyCode(502);
    /// RFC 5321 §4.2.3: "Bad sequence of commands".
    pub const C503_BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// RFC 5321 §4.2.3: "Command parameter not implemented".
    pub const C504_PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode(504);
    /// RFC 4954 §6 / RFC 3207 §4: "Authentication required", "Must issue a STARTTLS
    /// command first".
    pub const C530_AUTH_REQUIRED: ReplyCode = ReplyCode(530);
    /// RFC 4954 §6: "Authentication mechanism is too weak".
    pub const C534_AUTH_MECHANISM_TOO_WEAK: ReplyCode = ReplyCode(534);
    /// RFC 4954 §6: "Authentication credentials invalid".
    pub const C535_AUTH_CREDENTIALS_INVALID: ReplyCode = ReplyCode(535);
    /// RFC 4954 §6: "Encryption required for requested authentication mechanism".
    pub const C538_ENCRYPTION_REQUIRED: ReplyCode = ReplyCode(538);
    /// RFC 5321 §4.2.3: "Requested action not taken: mailbox unavailable (e.g.,
    /// mailbox not found, no access, or command rejected for policy reasons)".
    pub const C550_MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode(550);
    /// RFC 5321 §4.2.3: "User not local; please try <forward-path>".
    pub const C551_USER_NOT_LOCAL: ReplyCode = ReplyCode(551);
    /// RFC 5321 §4.2.3: "Requested mail action aborted: exceeded storage allocation".
    pub const C552_STORAGE_EXCEEDED: ReplyCode = ReplyCode(552);
    /// RFC 5321 §4.2.3: "Requested action not taken: mailbox name not allowed".
    pub const C553_MAILBOX_NAME_NOT_ALLOWED: ReplyCode = ReplyCode(553);
    /// RFC 5321 §4.2.3: "Transaction failed" (or, in the greeting, "No SMTP service here").
    pub const C554_TRANSACTION_FAILED: ReplyCode = ReplyCode(554);
    /// RFC 5321 §4.2.3: "MAIL FROM/RCPT TO parameters not recognized or not implemented".
    pub const C555_PARAMETERS_NOT_RECOGNIZED: ReplyCode = ReplyCode(555);
}

/// A number that is not a reply code (RFC 5321 §4.2: first digit 2-5, second 0-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an SMTP reply code (RFC 5321 §4.2: 2-5, 0-5, 0-9)")]
pub struct InvalidReplyCode(pub u16);

impl ReplyCode {
    /// A reply code from its number, checked against the grammar of RFC 5321 §4.2.
    pub fn new(code: u16) -> Result<Self, InvalidReplyCode> {
        let (x, y) = (code / 100, (code / 10) % 10);
        if (2..=5).contains(&x) && y <= 5 {
            Ok(ReplyCode(code))
        } else {
            Err(InvalidReplyCode(code))
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first digit's meaning (RFC 5321 §4.2.1).
    pub fn severity(self) -> Severity {
        match self.0 / 100 {
            2 => Severity::PositiveCompletion,
            3 => Severity::PositiveIntermediate,
            4 => Severity::TransientNegative,
            _ => Severity::PermanentNegative,
        }
    }

    /// 4yz: the client should try again later (RFC 5321 §4.2.1). The queue retries these.
    pub fn is_transient(self) -> bool {
        self.severity() == Severity::TransientNegative
    }

    /// 5yz: the client must not repeat the same request (RFC 5321 §4.2.1). The queue bounces.
    pub fn is_permanent(self) -> bool {
        self.severity() == Severity::PermanentNegative
    }

    /// 2yz.
    pub fn is_positive(self) -> bool {
        self.severity() == Severity::PositiveCompletion
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// A whole reply: code, optional enhanced status code, and text lines.
///
/// `Display` writes the wire form (RFC 5321 §4.2): every line but the last has a
/// hyphen after the code, the last a space; with an enhanced code, every line repeats
/// it (RFC 2034 §4). Text is written as given: callers keep it to printable US-ASCII.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: ReplyCode,
    /// The RFC 3463 code, when the session announced ENHANCEDSTATUSCODES.
    pub enhanced: Option<EnhancedStatusCode>,
    /// At least one line of text, without CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code.
    pub fn new(code: ReplyCode, enhanced: EnhancedStatusCode, text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A one-line reply without an enhanced code (greeting, EHLO, AUTH challenges:
    /// RFC 2034 §3 excludes them).
    pub fn plain(code: ReplyCode, text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced: None,
            lines: vec![text.into()],
        }
    }

    /// The text lines joined by a space, without codes: for logs and the queue's
    /// "last reply".
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Read one complete reply from `input`, which holds its lines with their CRLF
    /// (the delivery client's side). Returns the reply and the number of bytes it used,
    /// or `None` when the input does not yet hold the last line.
    pub fn parse(input: &[u8]) -> Result<Option<(Reply, usize)>, ReplyParseError> {
        let mut pos = 0;
        let mut code: Option<ReplyCode> = None;
        let mut lines = Vec::new();
        let mut enhanced_all = true;
        let mut enhanced = None;
        loop {
            let Some(eol) = input[pos..].iter().position(|&b| b == b'\n') else {
                return Ok(None);
            };
            let mut line = &input[pos..pos + eol];
            pos += eol + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
                return Err(ReplyParseError::Malformed);
            }
            let number = u16::from(line[0] - b'0') * 100
                + u16::from(line[1] - b'0') * 10
                + u16::from(line[2] - b'0');
            let this = ReplyCode::new(number).map_err(|_| ReplyParseError::Malformed)?;
            if code.is_some_and(|c| c != this) {
                return Err(ReplyParseError::CodeChanged);
            }
            code = Some(this);
            let last = match line.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                Some(_) => return Err(ReplyParseError::Malformed),
            };
            let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned();
            // RFC 2034 §4: every line of the reply carries the enhanced code.
            let (this_enhanced, rest) = match text.split_once(' ') {
                Some((first, rest)) => match first.parse::<EnhancedStatusCode>() {
                    Ok(e) if e.class() == number / 100 => (Some(e), rest.to_string()),
                    _ => (None, text.clone()),
                },
                None => match text.parse::<EnhancedStatusCode>() {
                    Ok(e) if e.class() == number / 100 => (Some(e), String::new()),
                    _ => (None, text.clone()),
                },
            };
            if this_enhanced.is_none() {
                enhanced_all = false;
            }
            if enhanced.is_none() {
                enhanced = this_enhanced;
            }
            lines.push((text, rest));
            if last {
                break;
            }
            // A reply has a bounded number of lines, so a hostile server cannot grow it
            // without bound.
            if lines.len() >= MAX_REPLY_LINES {
                return Err(ReplyParseError::TooManyLines);
            }
        }
        let code = code.ok_or(ReplyParseError::Malformed)?;
        let enhanced = if enhanced_all { enhanced } else { None };
        let lines = lines
            .into_iter()
            .map(|(full, rest)| if enhanced.is_some() { rest } else { full })
            .collect();
        Ok(Some((
            Reply {
                code,
                enhanced,
                lines,
            },
            pos,
        )))
    }
}

/// The most lines [`Reply::parse`] takes in one reply.
pub const MAX_REPLY_LINES: usize = 100;

/// Why bytes are not an SMTP reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyParseError {
    /// A line does not start with a reply code followed by space, hyphen or nothing.
    #[error("malformed reply line (RFC 5321 §4.2)")]
    Malformed,
    /// The lines of one multi-line reply carry different codes (RFC 5321 §4.2.1).
    #[error("the lines of a multi-line reply carry different codes (RFC 5321 §4.2.1)")]
    CodeChanged,
    /// More than [`MAX_REPLY_LINES`] lines.
    #[error("reply has more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            match self.enhanced {
                Some(e) => write!(f, "{}{sep}{e} {line}\r\n", self.code)?,
                None => write!(f, "{}{sep}{line}\r\n", self.code)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked() {
        assert!(ReplyCode::new(250).is_ok());
        assert!(ReplyCode::new(199).is_err());
        assert!(ReplyCode::new(260).is_err());
        assert!(ReplyCode::new(600).is_err());
        assert!(ReplyCode::C451_LOCAL_ERROR.is_transient());
        assert!(ReplyCode::C554_TRANSACTION_FAILED.is_permanent());
    }

    #[test]
    fn multi_line_wire_form() {
        let r = Reply {
            code: ReplyCode::C250_OK,
            enhanced: None,
            lines: vec!["mail.example.test".into(), "PIPELINING".into()],
        };
        assert_eq!(r.to_string(), "250-mail.example.test\r\n250 PIPELINING\r\n");
        let r = Reply::new(
            ReplyCode::C550_MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::S5_1_1_BAD_DESTINATION_MAILBOX,
            "no such user",
        );
        assert_eq!(r.to_string(), "550 5.1.1 no such user\r\n");
    }

    #[test]
    fn parse_round_trip() {
        let r = Reply {
            code: ReplyCode::C250_OK,
            enhanced: Some(EnhancedStatusCode::S2_0_0_OK),
            lines: vec!["one".into(), "two".into()],
        };
        let wire = r.to_string();
        let (back, used) = Reply::parse(wire.as_bytes()).unwrap().unwrap();
        assert_eq!(back, r);
        assert_eq!(used, wire.len());
        assert_eq!(Reply::parse(b"250-partial\r\n").unwrap(), None);
        assert_eq!(
            Reply::parse(b"250-a\r\n251 b\r\n"),
            Err(ReplyParseError::CodeChanged)
        );
    }
}
