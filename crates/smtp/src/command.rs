//! SMTP commands (RFC 5321 §4.1.1, plus STARTTLS RFC 3207, AUTH RFC 4954, BDAT
//! RFC 3030). [`Command::parse`] reads one command line (without its CRLF);
//! `Display` writes the exact wire bytes, CRLF included, so the delivery client can
//! send what the server parses.
//!
//! Verbs are case-insensitive (RFC 5321 §2.4). Two leniencies, both common practice
//! and harmless: spaces between `FROM:`/`TO:` and the path, and trailing spaces on
//! commands without arguments. Everything else is strict; in particular a path must
//! be in angle brackets.

use std::fmt;

use crate::enhanced::EnhancedStatusCode as E;
use crate::params::{MailParameters, ParamError, RcptParameters};
use crate::path::{ForwardPath, PathError, ReversePath};
use crate::reply::{Reply, ReplyCode as C};

/// One SMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain-or-address-literal` (RFC 5321 §4.1.1.1).
    Ehlo(String),
    /// `HELO domain` (RFC 5321 §4.1.1.1).
    Helo(String),
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The sender.
        from: ReversePath,
        /// SIZE, BODY, SMTPUTF8, AUTH.
        params: MailParameters,
    },
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// None understood yet.
        params: RcptParameters,
    },
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// Octets of message data that follow the command line.
        size: u64,
        /// True for the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `VRFY string` (RFC 5321 §4.1.1.6).
    Vrfy(String),
    /// `EXPN string` (RFC 5321 §4.1.1.7).
    Expn(String),
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    Help(Option<String>),
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    Noop(Option<String>),
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The SASL mechanism name, as sent (compare case-insensitively).
        mechanism: String,
        /// The base64 initial response, or `=` for an empty one.
        initial_response: Option<String>,
    },
}

/// Why a command line is not a command we can run. [`CommandError::reply`] gives the
/// answer RFC 5321 prescribes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Not a verb we know (RFC 5321 §4.2.4: 500).
    #[error("command unrecognized")]
    Unrecognized,
    /// The line is not UTF-8 (RFC 5321 commands are ASCII; RFC 6531 allows UTF-8).
    #[error("command line is not valid UTF-8")]
    NotUtf8,
    /// A known verb with bad arguments (501).
    #[error("syntax error in {verb} arguments: {reason}")]
    Syntax {
        /// The verb.
        verb: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The path of MAIL or RCPT is malformed (501 with 5.1.7 or 5.1.3).
    #[error("{verb}: {error}")]
    Path {
        /// "MAIL" or "RCPT".
        verb: &'static str,
        /// What is wrong with the path.
        error: PathError,
    },
    /// A MAIL or RCPT parameter is malformed or unknown (501 or 555).
    #[error("{verb}: {error}")]
    Param {
        /// "MAIL" or "RCPT".
        verb: &'static str,
        /// What is wrong.
        error: ParamError,
    },
}

impl CommandError {
    /// The verb of a line whose verb was recognized ("MAIL", "RCPT", ...): the server
    /// checks the command's sequence before its arguments (RFC 5321 §4.1.4).
    pub fn verb(&self) -> Option<&'static str> {
        match self {
            CommandError::Syntax { verb, .. }
            | CommandError::Path { verb, .. }
            | CommandError::Param { verb, .. } => Some(verb),
            CommandError::Unrecognized | CommandError::NotUtf8 => None,
        }
    }

    /// The reply RFC 5321 prescribes for this error.
    pub fn reply(&self) -> Reply {
        match self {
            // RFC 5321 §4.2.4: "500 ... command unrecognized".
            CommandError::Unrecognized => Reply::new(
                C::C500_SYNTAX_ERROR,
                E::S5_5_1_INVALID_COMMAND,
                "Command unrecognized",
            ),
            CommandError::NotUtf8 => Reply::new(
                C::C500_SYNTAX_ERROR,
                E::S5_5_2_SYNTAX_ERROR,
                "Command line is not valid UTF-8",
            ),
            CommandError::Syntax { .. } => Reply::new(
                C::C501_SYNTAX_ERROR_IN_PARAMETERS,
                E::S5_5_4_INVALID_ARGUMENTS,
                self.to_string(),
            ),
            CommandError::Path { verb, .. } => Reply::new(
                C::C501_SYNTAX_ERROR_IN_PARAMETERS,
                if *verb == "MAIL" {
                    E::S5_1_7_BAD_SENDER_SYNTAX
                } else {
                    E::S5_1_3_BAD_DESTINATION_SYNTAX
                },
                self.to_string(),
            ),
            // RFC 5321 §4.1.1.11: unknown parameters get 555.
            CommandError::Param {
                error: ParamError::Unrecognized(_),
                ..
            } => Reply::new(
                C::C555_PARAMETERS_NOT_RECOGNIZED,
                E::S5_5_4_INVALID_ARGUMENTS,
                self.to_string(),
            ),
            CommandError::Param { .. } => Reply::new(
                C::C501_SYNTAX_ERROR_IN_PARAMETERS,
                E::S5_5_4_INVALID_ARGUMENTS,
                self.to_string(),
            ),
        }
    }
}

/// Split "VERB rest" at the first space; the verb is compared case-insensitively.
fn split_verb(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((v, rest)) => (v, rest),
        None => (line, ""),
    }
}

/// Strip a case-insensitive prefix.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn no_argument(verb: &'static str, rest: &str, cmd: Command) -> Result<Command, CommandError> {
    if rest.trim_end_matches(' ').is_empty() {
        Ok(cmd)
    } else {
        Err(CommandError::Syntax {
            verb,
            reason: "no argument expected",
        })
    }
}

fn optional(rest: &str) -> Option<String> {
    let r = rest.trim_matches(' ');
    (!r.is_empty()).then(|| r.to_string())
}

/// The optional String argument of NOOP, HELP, VRFY and EXPN. RFC 5321 §4.1.2:
/// String = Atom / Quoted-string, neither of which holds a control character (CR and
/// LF included: a command line ends at its CRLF).
fn string_argument(verb: &'static str, rest: &str) -> Result<Option<String>, CommandError> {
    if rest.chars().any(char::is_control) {
        return Err(CommandError::Syntax {
            verb,
            reason: "the argument holds a control character",
        });
    }
    Ok(optional(rest))
}

impl Command {
    /// Parse one command line, without its CRLF.
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
        let (verb, rest) = split_verb(line);
        let is = |v: &str| verb.eq_ignore_ascii_case(v);
        if is("EHLO") || is("HELO") {
            let v = if is("EHLO") { "EHLO" } else { "HELO" };
            let arg = rest.trim_matches(' ');
            // RFC 5321 §4.1.1.1: a domain or address literal, one word.
            if arg.is_empty() || arg.contains(' ') || arg.bytes().any(|b| b < 0x21 || b == 0x7f) {
                return Err(CommandError::Syntax {
                    verb: v,
                    reason: "expected one domain or address literal",
                });
            }
            return Ok(if v == "EHLO" {
                Command::Ehlo(arg.to_string())
            } else {
                Command::Helo(arg.to_string())
            });
        }
        if is("MAIL") {
            let arg = strip_prefix_ci(rest, "FROM:").ok_or(CommandError::Syntax {
                verb: "MAIL",
                reason: "expected FROM:<reverse-path>",
            })?;
            let (from, params) =
                ReversePath::parse_prefix(arg.trim_start_matches(' ')).map_err(|error| {
                    CommandError::Path {
                        verb: "MAIL",
                        error,
                    }
                })?;
            if !params.is_empty() && !params.starts_with(' ') {
                return Err(CommandError::Path {
                    verb: "MAIL",
                    error: PathError::TrailingText,
                });
            }
            let params = MailParameters::parse(params).map_err(|error| CommandError::Param {
                verb: "MAIL",
                error,
            })?;
            return Ok(Command::Mail { from, params });
        }
        if is("RCPT") {
            let arg = strip_prefix_ci(rest, "TO:").ok_or(CommandError::Syntax {
                verb: "RCPT",
                reason: "expected TO:<forward-path>",
            })?;
            let (to, params) =
                ForwardPath::parse_prefix(arg.trim_start_matches(' ')).map_err(|error| {
                    CommandError::Path {
                        verb: "RCPT",
                        error,
                    }
                })?;
            if !params.is_empty() && !params.starts_with(' ') {
                return Err(CommandError::Path {
                    verb: "RCPT",
                    error: PathError::TrailingText,
                });
            }
            let params = RcptParameters::parse(params).map_err(|error| CommandError::Param {
                verb: "RCPT",
                error,
            })?;
            return Ok(Command::Rcpt { to, params });
        }
        if is("DATA") {
            return no_argument("DATA", rest, Command::Data);
        }
        if is("BDAT") {
            // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let size = words
                .next()
                .filter(|w| w.len() <= 20 && w.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|w| w.parse::<u64>().ok())
                .ok_or(CommandError::Syntax {
                    verb: "BDAT",
                    reason: "expected a chunk size",
                })?;
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => {
                    return Err(CommandError::Syntax {
                        verb: "BDAT",
                        reason: "expected LAST or nothing after the size",
                    });
                }
            };
            if words.next().is_some() {
                return Err(CommandError::Syntax {
                    verb: "BDAT",
                    reason: "too many arguments",
                });
            }
            return Ok(Command::Bdat { size, last });
        }
        if is("RSET") {
            return no_argument("RSET", rest, Command::Rset);
        }
        if is("QUIT") {
            return no_argument("QUIT", rest, Command::Quit);
        }
        if is("STARTTLS") {
            return no_argument("STARTTLS", rest, Command::StartTls);
        }
        if is("NOOP") {
            return Ok(Command::Noop(string_argument("NOOP", rest)?));
        }
        if is("HELP") {
            return Ok(Command::Help(string_argument("HELP", rest)?));
        }
        if is("VRFY") || is("EXPN") {
            let v = if is("VRFY") { "VRFY" } else { "EXPN" };
            let arg = string_argument(v, rest)?.ok_or(CommandError::Syntax {
                verb: v,
                reason: "expected an argument",
            })?;
            return Ok(if v == "VRFY" {
                Command::Vrfy(arg)
            } else {
                Command::Expn(arg)
            });
        }
        if is("AUTH") {
            // RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let mechanism = words
                .next()
                .filter(|m| {
                    m.len() <= 20
                        && m.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
                .ok_or(CommandError::Syntax {
                    verb: "AUTH",
                    reason: "expected a SASL mechanism",
                })?
                .to_string();
            let initial_response = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(CommandError::Syntax {
                    verb: "AUTH",
                    reason: "too many arguments",
                });
            }
            return Ok(Command::Auth {
                mechanism,
                initial_response,
            });
        }
        Err(CommandError::Unrecognized)
    }

    /// The verb, upper case, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Noop(_) => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }
}

impl fmt::Display for Command {
    /// The wire form, CRLF included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(d) => write!(f, "EHLO {d}\r\n"),
            Command::Helo(d) => write!(f, "HELO {d}\r\n"),
            Command::Mail { from, params } => write!(f, "MAIL FROM:{from}{params}\r\n"),
            Command::Rcpt { to, params } => write!(f, "RCPT TO:{to}{params}\r\n"),
            Command::Data => f.write_str("DATA\r\n"),
            Command::Bdat { size, last: true } => write!(f, "BDAT {size} LAST\r\n"),
            Command::Bdat { size, last: false } => write!(f, "BDAT {size}\r\n"),
            Command::Rset => f.write_str("RSET\r\n"),
            Command::Vrfy(s) => write!(f, "VRFY {s}\r\n"),
            Command::Expn(s) => write!(f, "EXPN {s}\r\n"),
            Command::Help(None) => f.write_str("HELP\r\n"),
            Command::Help(Some(s)) => write!(f, "HELP {s}\r\n"),
            Command::Noop(None) => f.write_str("NOOP\r\n"),
            Command::Noop(Some(s)) => write!(f, "NOOP {s}\r\n"),
            Command::Quit => f.write_str("QUIT\r\n"),
            Command::StartTls => f.write_str("STARTTLS\r\n"),
            Command::Auth {
                mechanism,
                initial_response: None,
            } => write!(f, "AUTH {mechanism}\r\n"),
            Command::Auth {
                mechanism,
                initial_response: Some(r),
            } => write!(f, "AUTH {mechanism} {r}\r\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(line: &str) {
        let cmd = Command::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(cmd.to_string(), format!("{line}\r\n"));
    }

    #[test]
    fn round_trips() {
        for line in [
            "EHLO client.example",
            "HELO [192.0.2.1]",
            "MAIL FROM:<a@example.com>",
            "MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8",
            "RCPT TO:<Postmaster>",
            "RCPT TO:<@a.example:b@c.example>",
            "DATA",
            "BDAT 100",
            "BDAT 0 LAST",
            "RSET",
            "VRFY alice",
            "EXPN list",
            "HELP",
            "HELP MAIL",
            "NOOP",
            "QUIT",
            "STARTTLS",
            "AUTH PLAIN AHVzZXIAcGFzcw==",
            "AUTH LOGIN",
        ] {
            rt(line);
        }
    }

    #[test]
    fn string_arguments_hold_no_control_characters() {
        // Found by the smtp_command fuzz target: "VRFY \0\r\n" parsed with the CRLF in
        // its argument, and its wire form did not parse back to the same command.
        for line in [
            &b"vRfy \0\r\n"[..],
            b"VRFY a\rb",
            b"EXPN list\n",
            b"NOOP \x07",
            b"HELP \x7f",
            b"VRFY a\tb",
        ] {
            assert!(
                matches!(Command::parse(line), Err(CommandError::Syntax { .. })),
                "{line:?}"
            );
        }
        assert_eq!(
            Command::parse(b"VRFY \"Smith, John\"").unwrap(),
            Command::Vrfy("\"Smith, John\"".into())
        );
        assert_eq!(
            Command::parse(b"NOOP hello").unwrap(),
            Command::Noop(Some("hello".into()))
        );
    }

    #[test]
    fn errors_name_their_verb() {
        let verb = |line: &[u8]| Command::parse(line).unwrap_err().verb();
        assert_eq!(verb(b"RCPT TO:<user>"), Some("RCPT"));
        assert_eq!(verb(b"RCPT TO:<a@b.example> FOO=1"), Some("RCPT"));
        assert_eq!(verb(b"rcpt from:<a@b.example>"), Some("RCPT"));
        assert_eq!(verb(b"MAIL FROM:a@b.example"), Some("MAIL"));
        assert_eq!(verb(b"DATA now"), Some("DATA"));
        assert_eq!(verb(b"XYZZY"), None);
        assert_eq!(verb(b"\xff"), None);
    }

    #[test]
    fn leniencies_and_errors() {
        assert!(matches!(
            Command::parse(b"mail from: <a@b.example>"),
            Ok(Command::Mail { .. })
        ));
        assert_eq!(Command::parse(b"quit  "), Ok(Command::Quit));
        assert_eq!(Command::parse(b"XYZZY"), Err(CommandError::Unrecognized));
        assert_eq!(Command::parse(b"\xff"), Err(CommandError::NotUtf8));
        assert!(matches!(
            Command::parse(b"MAIL FROM:a@b.example"),
            Err(CommandError::Path { .. })
        ));
        assert!(matches!(
            Command::parse(b"RCPT TO:<a@b.example>x"),
            Err(CommandError::Path { .. })
        ));
        assert!(matches!(
            Command::parse(b"DATA now"),
            Err(CommandError::Syntax { .. })
        ));
        assert_eq!(
            Command::parse(b"MAIL FROM:<a@b.example> FOO=1")
                .unwrap_err()
                .reply()
                .code,
            C::C555_PARAMETERS_NOT_RECOGNIZED
        );
    }
}
