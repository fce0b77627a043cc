//! Recording an SPF verdict in the message: the `Received-SPF` header (RFC 7208 §9.1)
//! and the `spf=` method result of `Authentication-Results` (RFC 8601 §2.7.2).
//!
//! Every value that the sender controls (the envelope sender, the HELO name, the record
//! text in `problem`, the deciding term) is made safe before it is written: a value that
//! is a valid `dot-atom` is written as is; anything else becomes a `quoted-string` with
//! `"` and `\` escaped, and every octet that is not printable ASCII (CR, LF, other
//! controls, non-ASCII) replaced by `?`. So no input can break the header apart or start
//! a new one. Comments are escaped the same way, with `(`, `)` and `\` quoted.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use crate::receiver::{Identity, SpfVerdict};
use crate::result::SpfResult;

/// A `Received-SPF` header field (RFC 7208 §9.1):
///
/// ```text
/// header-field     = "Received-SPF:" [CFWS] result FWS [comment FWS]
///                    [ key-value-list ] CRLF
/// key-value-list   = key-value-pair *( ";" [CFWS] key-value-pair ) [";"]
/// key-value-pair   = key [CFWS] "=" ( dot-atom / quoted-string )
/// key              = "client-ip" / "envelope-from" / "helo" /
///                    "problem" / "receiver" / "identity" /
///                    "mechanism" / name
/// ```
///
/// `Display` writes the whole field on one line without the CRLF; [`ReceivedSpf::folded`]
/// folds it at the `;` separators for lines of at most 78 octets (RFC 5322 §2.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSpf {
    /// The result.
    pub result: SpfResult,
    /// The comment text (unescaped; escaped when written).
    pub comment: String,
    /// The key-value pairs, values unescaped.
    pub pairs: Vec<(&'static str, String)>,
}

impl ReceivedSpf {
    /// The header for `verdict`, written by the host `receiver` (its domain name).
    pub fn new(verdict: &SpfVerdict, receiver: &str) -> ReceivedSpf {
        let sender = &verdict.sender;
        let ip = verdict.ip;
        let out = &verdict.output;
        // The comment wording follows the examples of RFC 7208 §9.1.
        let text = match verdict.result {
            SpfResult::Pass => format!("domain of {sender} designates {ip} as permitted sender"),
            SpfResult::Fail => {
                format!("domain of {sender} does not designate {ip} as permitted sender")
            }
            SpfResult::SoftFail => format!(
                "domain of transitioning {sender} does not designate {ip} as permitted sender"
            ),
            SpfResult::Neutral => {
                format!("{ip} is neither permitted nor denied by domain of {sender}")
            }
            SpfResult::None => {
                format!("domain of {sender} does not designate permitted sender hosts")
            }
            SpfResult::TempError => format!("temporary error checking {sender}"),
            SpfResult::PermError => format!("permanent error in the SPF record for {sender}"),
        };
        let comment = format!("{receiver}: {text}");
        let mut pairs = vec![
            ("client-ip", ip_text(ip)),
            ("envelope-from", verdict.mail_from.clone()),
            ("helo", verdict.helo.clone()),
            ("receiver", receiver.to_string()),
            ("identity", verdict.identity.as_str().to_string()),
        ];
        if verdict.mail_from.is_empty() {
            // A null reverse-path has no envelope sender to name.
            pairs.retain(|(k, _)| *k != "envelope-from");
        }
        if let Some(d) = &out.decided_by {
            pairs.push(("mechanism", d.term.clone()));
        }
        if let Some(p) = &out.problem
            && matches!(verdict.result, SpfResult::TempError | SpfResult::PermError)
        {
            pairs.push(("problem", p.to_string()));
        }
        ReceivedSpf {
            result: verdict.result,
            comment,
            pairs,
        }
    }

    fn parts(&self) -> (String, Vec<String>) {
        let head = format!(
            "Received-SPF: {} ({})",
            self.result,
            comment_text(&self.comment)
        );
        let pairs = self
            .pairs
            .iter()
            .map(|(k, v)| format!("{k}={};", kv_value(v)))
            .collect();
        (head, pairs)
    }

    /// The field folded for transmission: lines joined by CRLF and a space, each at
    /// most 78 octets where the values allow, ending without CRLF.
    pub fn folded(&self) -> String {
        let (head, pairs) = self.parts();
        let mut out = head;
        let mut line_len = out.len();
        for pair in pairs {
            if line_len + 1 + pair.len() > 78 {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 1;
            }
            out.push_str(&pair);
            line_len += pair.len();
        }
        out
    }
}

impl Display for ReceivedSpf {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (head, pairs) = self.parts();
        f.write_str(&head)?;
        for p in pairs {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// The `spf` method's result in an `Authentication-Results` field (RFC 8601 §2.7.2):
/// `spf=<result> smtp.mailfrom=<reverse-path>` for the MAIL FROM identity, or
/// `spf=<result> smtp.helo=<name>` for the HELO identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpfAuthResult {
    /// The result.
    pub result: SpfResult,
    /// `smtp.mailfrom` or `smtp.helo`.
    pub property: &'static str,
    /// The property's value (unescaped).
    pub value: String,
}

impl SpfAuthResult {
    /// The method result for `verdict`.
    pub fn new(verdict: &SpfVerdict) -> SpfAuthResult {
        let (property, value) = match verdict.identity {
            Identity::MailFrom => ("smtp.mailfrom", verdict.mail_from.clone()),
            Identity::Helo => ("smtp.helo", verdict.helo.clone()),
        };
        SpfAuthResult {
            result: verdict.result,
            property,
            value,
        }
    }
}

impl Display for SpfAuthResult {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spf={} {}={}",
            self.result,
            self.property,
            pvalue(&self.value)
        )
    }
}

fn ip_text(ip: IpAddr) -> String {
    ip.to_string()
}

/// RFC 5322 §3.2.3 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// RFC 5322 §3.2.3 `dot-atom-text`.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.bytes().all(is_atext))
}

/// A quoted-string with `"` and `\` escaped and non-printable octets replaced by `?`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// A `key-value-pair` value: dot-atom as is, otherwise a safe quoted-string.
fn kv_value(s: &str) -> String {
    if is_dot_atom(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// Comment text with `(`, `)` and `\` quoted and non-printable octets replaced.
fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// RFC 8601 §2.2 `pvalue`: `[ [ local-part ] "@" ] domain-name`, or a `value` (RFC 2045
/// token or quoted-string).
fn pvalue(s: &str) -> String {
    let domain_ok = |d: &str| {
        !d.is_empty()
            && d.split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let as_is = match s.rsplit_once('@') {
        Some((local, domain)) => (local.is_empty() || is_dot_atom(local)) && domain_ok(domain),
        None => {
            domain_ok(s)
                || (!s.is_empty()
                    && s.bytes()
                        .all(|b| (0x21..0x7f).contains(&b) && !b"()<>@,;:\\\"/[]?=".contains(&b)))
        }
    };
    if as_is { s.to_string() } else { quoted(s) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{CheckHostOutput, DecidingTerm};

    fn verdict(result: SpfResult, mail_from: &str, helo: &str) -> SpfVerdict {
        SpfVerdict {
            result,
            identity: if mail_from.is_empty() {
                Identity::Helo
            } else {
                Identity::MailFrom
            },
            domain: "example.com".into(),
            sender: if mail_from.is_empty() {
                format!("postmaster@{helo}")
            } else {
                mail_from.into()
            },
            mail_from: mail_from.into(),
            helo: helo.into(),
            ip: "192.0.2.1".parse().unwrap(),
            output: CheckHostOutput {
                result,
                domain: "example.com".into(),
                explanation: None,
                decided_by: Some(DecidingTerm {
                    domain: "example.com".into(),
                    term: "ip4:192.0.2.0/24".into(),
                }),
                problem: None,
                lookups: 0,
                void_lookups: 0,
                trace: vec![],
            },
        }
    }

    #[test]
    fn rfc_7208_9_1_example_shape() {
        let v = verdict(SpfResult::Pass, "myname@example.com", "foo.example.com");
        let h = ReceivedSpf::new(&v, "mybox.example.org").to_string();
        assert_eq!(
            h,
            "Received-SPF: pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; helo=foo.example.com; \
             receiver=mybox.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";"
        );
        assert_eq!(
            SpfAuthResult::new(&v).to_string(),
            "spf=pass smtp.mailfrom=myname@example.com"
        );
    }

    #[test]
    fn sender_controlled_values_cannot_break_the_header() {
        let v = verdict(
            SpfResult::Fail,
            "evil\"\r\nX-Injected: yes@example.com",
            "bad)(helo\r\nX: y",
        );
        for text in [
            ReceivedSpf::new(&v, "mx.example.org").to_string(),
            ReceivedSpf::new(&v, "mx.example.org").folded(),
            SpfAuthResult::new(&v).to_string(),
        ] {
            let unfolded = text.replace("\r\n ", " ");
            assert!(
                !unfolded.contains('\r') && !unfolded.contains('\n'),
                "{text}"
            );
            assert!(
                text.bytes()
                    .all(|b| b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b))
            );
        }
        let h = ReceivedSpf::new(&v, "mx.example.org").to_string();
        assert!(
            h.contains("envelope-from=\"evil\\\"??X-Injected: yes@example.com\";"),
            "{h}"
        );
        assert!(h.contains("helo=\"bad)(helo??X: y\";"), "{h}");
        let null = verdict(SpfResult::None, "", "mail.example.com");
        let h = ReceivedSpf::new(&null, "mx.example.org").to_string();
        assert!(
            !h.contains("envelope-from") && h.contains("identity=helo;"),
            "{h}"
        );
        assert_eq!(
            SpfAuthResult::new(&null).to_string(),
            "spf=none smtp.helo=mail.example.com"
        );
    }

    #[test]
    fn folding_keeps_lines_short() {
        let v = verdict(SpfResult::Pass, "myname@example.com", "foo.example.com");
        let folded = ReceivedSpf::new(&v, "mybox.example.org").folded();
        for line in folded.split("\r\n").skip(1) {
            assert!(line.len() <= 78, "{line}");
        }
        assert_eq!(
            folded.replace("\r\n ", " "),
            ReceivedSpf::new(&v, "mybox.example.org").to_string()
        );
    }
}
