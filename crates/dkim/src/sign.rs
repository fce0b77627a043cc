//! Signing (RFC 6376 §5): a [`Signer`] built once per key and selector, then cheap
//! signatures, one DKIM-Signature header field per call.
//!
//! What Sendwell signs by default:
//! - relaxed/relaxed canonicalization (survives the whitespace rewriting of relays);
//! - the header fields RFC 6376 §5.4.1 recommends that are present ([`DEFAULT_HEADERS`],
//!   and every `List-*` field), each instance of them;
//! - "oversigned" From, Subject, Date, To and Cc ([`OVERSIGNED_HEADERS`]): their names
//!   appear once more in `h=` than the message has instances, so a field of that name
//!   added later breaks the signature (RFC 6376 §5.4.2, §8.15);
//! - `t=` (the time of signing), never `l=` (it lets content be appended, §8.2).
//!
//! Dual signing ([`sign_all`]) canonicalizes and hashes the body once for every signer
//! that shares a body canonicalization, so an RSA + Ed25519 pair (RFC 8463 §6
//! recommends both during the transition) costs one pass over the body.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::crypto::{KeyError, SigningKey};
use crate::hash::{body_hash, header_hash};
use crate::message::Message;
use crate::signature::{
    Canonicalization, HEADER_NAME, HashAlgorithm, MAX_HEADER_NAMES, Signature, SignatureError,
    is_domain_name, is_field_name, is_same_or_subdomain, is_selector,
};

/// Header fields signed when present (RFC 6376 §5.4.1, plus MIME fields whose change
/// alters how the body reads).
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Header fields signed once more than they occur, so none can be added (RFC 6376 §8.15).
pub const OVERSIGNED_HEADERS: &[&str] = &["From", "Subject", "Date", "To", "Cc"];

/// Folded lines of the DKIM-Signature field stay within this many characters
/// (RFC 5322 §2.1.1 recommends 78).
const LINE_WIDTH: usize = 76;

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// RFC 6376 §5.4: From MUST be signed, so a message without one cannot be.
    #[error("the message has no From header field (RFC 6376 §5.4: From must be signed)")]
    NoFrom,
    /// RFC 5322 §3.6 allows exactly one From; receivers will not pass such a message.
    #[error("the message has {0} From header fields; RFC 5322 §3.6 allows exactly one")]
    SeveralFrom(usize),
    /// An explicit header list without From.
    #[error("the header list must include From (RFC 6376 §5.4)")]
    FromNotInHeaders,
    /// A name in an explicit header list is not a header field name.
    #[error(
        "{0:?} is not a header field name: RFC 5322 §3.6.8 allows printable US-ASCII \
         but \":\", with no spaces, and DKIM's h= cannot hold \";\" (RFC 6376 §3.2)"
    )]
    InvalidHeaderName(String),
    /// More header names than verifiers process (Sendwell's own refuses the signature).
    #[error("{count} header field names to sign, more than the {max} verifiers process")]
    TooManyHeaderNames {
        /// How many.
        count: usize,
        /// The limit, [`MAX_HEADER_NAMES`].
        max: usize,
    },
    /// The header section has a line without a colon: not a message receivers verify.
    #[error(
        "the message has a header line without a colon: {0:?} (RFC 5322 §2.2); \
         fix the message, receivers would not verify its signature"
    )]
    HeaderWithoutColon(String),
    /// The input starts with an mbox file's `From ` line (RFC 4155), which is not part
    /// of the message: signed as it is, it would end up inside the header.
    #[error(
        "the message starts with an mbox separator line {0:?} (RFC 4155), which is not \
         part of the message; remove it before signing"
    )]
    MboxSeparator(String),
    /// The signing domain is not a domain name.
    #[error("{0:?} is not a valid signing domain")]
    InvalidDomain(String),
    /// The selector is not valid.
    #[error("{0:?} is not a valid selector")]
    InvalidSelector(String),
    /// `i=` must be within `d=` (RFC 6376 §3.5).
    #[error("identity {identity:?} is not within the signing domain {domain}")]
    IdentityOutsideDomain {
        /// The identity asked for.
        identity: String,
        /// The signing domain.
        domain: String,
    },
    /// The key could not sign.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A caller-written DKIM-Signature field ([`sign_with_field`]) is not valid.
    #[error("the DKIM-Signature field to sign is not valid: {0}")]
    Field(#[from] SignatureError),
    /// A caller-written field's `a=` does not match the key.
    #[error("the field says a={field} but the key signs {key}")]
    AlgorithmMismatch {
        /// `a=` in the field.
        field: String,
        /// What the key signs.
        key: String,
    },
    /// A caller-written field's `bh=` is not the hash of this message's body.
    #[error("the field's bh= is not this body's hash (computed {computed})")]
    BodyHashMismatch {
        /// The correct value, base64.
        computed: String,
    },
}

/// Which header fields to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderSelection {
    /// [`DEFAULT_HEADERS`] and `List-*` as present, [`OVERSIGNED_HEADERS`] oversigned.
    Default,
    /// Exactly these names, in this order, as `h=` (repeat a name to oversign it).
    Exact(Vec<String>),
}

/// Signs messages for one domain, selector and key. Build once, sign many.
#[derive(Clone, Debug)]
pub struct Signer {
    key: Arc<SigningKey>,
    domain: String,
    selector: String,
    canonicalization: Canonicalization,
    headers: HeaderSelection,
    identity: Option<String>,
    timestamp: bool,
    expiration: Option<u64>,
}

impl Signer {
    /// A signer for `domain` (`d=`) and `selector` (`s=`), with Sendwell's defaults:
    /// relaxed/relaxed, the default header list, `t=` set, no `x=`.
    pub fn new(
        key: impl Into<Arc<SigningKey>>,
        domain: &str,
        selector: &str,
    ) -> Result<Signer, SignError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if !is_domain_name(&domain) {
            return Err(SignError::InvalidDomain(domain));
        }
        if !is_selector(selector) {
            return Err(SignError::InvalidSelector(selector.to_string()));
        }
        Ok(Signer {
            key: key.into(),
            domain,
            selector: selector.to_string(),
            canonicalization: Canonicalization::RELAXED,
            headers: HeaderSelection::Default,
            identity: None,
            timestamp: true,
            expiration: None,
        })
    }

    /// Use another canonicalization (`c=`).
    pub fn canonicalization(mut self, canonicalization: Canonicalization) -> Self {
        self.canonicalization = canonicalization;
        self
    }

    /// Choose the header fields to sign. Each name of an exact list must be a header
    /// field name (RFC 5322 §3.6.8) that fits in `h=`, and From must be among them.
    pub fn headers(mut self, headers: HeaderSelection) -> Result<Self, SignError> {
        if let HeaderSelection::Exact(names) = &headers {
            // RFC 5322 §3.6.8: field-name = 1*ftext (printable US-ASCII but ":"); and
            // RFC 6376 §3.2: a tag value cannot hold ";" (it would end h=).
            if let Some(bad) = names.iter().find(|n| !is_field_name(n) || n.contains(';')) {
                return Err(SignError::InvalidHeaderName(bad.clone()));
            }
            if names.len() > MAX_HEADER_NAMES {
                return Err(SignError::TooManyHeaderNames {
                    count: names.len(),
                    max: MAX_HEADER_NAMES,
                });
            }
            // RFC 6376 §5.4: "The From header field MUST be signed".
            if !names.iter().any(|n| n.eq_ignore_ascii_case("from")) {
                return Err(SignError::FromNotInHeaders);
            }
        }
        self.headers = headers;
        Ok(self)
    }

    /// Set `i=`, the agent or user identifier; it must be within the domain.
    pub fn identity(mut self, identity: Option<String>) -> Result<Self, SignError> {
        if let Some(i) = &identity {
            let domain = i.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            if !is_same_or_subdomain(domain, &self.domain) {
                return Err(SignError::IdentityOutsideDomain {
                    identity: i.clone(),
                    domain: self.domain.clone(),
                });
            }
        }
        self.identity = identity;
        Ok(self)
    }

    /// Write `t=` (default on).
    pub fn timestamp(mut self, on: bool) -> Self {
        self.timestamp = on;
        self
    }

    /// Write `x=`: the signature expires this many seconds after signing.
    pub fn expiration(mut self, seconds: Option<u64>) -> Self {
        self.expiration = seconds;
        self
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Sign `message` at time `now` (seconds since 1970). Returns the whole header field,
    /// `DKIM-Signature: ...` folded with CRLF and ending in CRLF, to put above the message.
    pub fn sign(&self, message: &[u8], now: u64) -> Result<String, SignError> {
        let mut fields = sign_all(std::slice::from_ref(self), message, now)?;
        Ok(fields.remove(0))
    }

    fn h_tag(&self, message: &Message<'_>) -> Result<Vec<String>, SignError> {
        let names = match &self.headers {
            HeaderSelection::Exact(names) => {
                return Ok(names.iter().map(|n| n.to_ascii_lowercase()).collect());
            }
            HeaderSelection::Default => default_h_tag(message),
        };
        if names.len() > MAX_HEADER_NAMES {
            return Err(SignError::TooManyHeaderNames {
                count: names.len(),
                max: MAX_HEADER_NAMES,
            });
        }
        Ok(names)
    }
}

/// The default `h=`: each [`DEFAULT_HEADERS`] name and each `List-*` name (in the order
/// they first appear) once per instance, plus once more for [`OVERSIGNED_HEADERS`].
/// One pass over the header section, counting, so linear in the message (and without
/// allocating for a message with no `List-*` field).
fn default_h_tag(message: &Message<'_>) -> Vec<String> {
    let mut defaults = [0usize; DEFAULT_HEADERS.len()];
    // List-* names, lowercase, in order of first appearance, with their counts.
    let mut lists: Vec<(String, usize)> = Vec::new();
    let mut list_index: HashMap<String, usize> = HashMap::new();
    for field in message.headers() {
        let raw = message.name(field);
        if let Some(k) = DEFAULT_HEADERS
            .iter()
            .position(|d| d.as_bytes().eq_ignore_ascii_case(raw))
        {
            defaults[k] += 1;
            continue;
        }
        // A List-* name that h= cannot carry (spaces, 8-bit) is left unsigned.
        let is_list = raw.len() >= 5 && raw[..5].eq_ignore_ascii_case(b"list-");
        let Ok(text) = std::str::from_utf8(raw) else {
            continue;
        };
        if !is_list || !is_field_name(text) {
            continue;
        }
        let name = text.to_ascii_lowercase();
        match list_index.get(&name) {
            Some(&i) => lists[i].1 += 1,
            None => {
                list_index.insert(name.clone(), lists.len());
                lists.push((name, 1));
            }
        }
    }
    let all = DEFAULT_HEADERS
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .zip(defaults)
        .chain(lists);
    let mut names = Vec::new();
    for (name, count) in all {
        let oversign = OVERSIGNED_HEADERS
            .iter()
            .any(|o| o.eq_ignore_ascii_case(&name));
        for _ in 0..count + usize::from(oversign) {
            names.push(name.clone());
        }
    }
    names
}

/// RFC 5322 §2.2: a header line without a colon makes the message malformed; verifiers
/// (Sendwell's, dkimpy) would refuse any signature on it, so none is made.
fn refuse_malformed(message: &Message<'_>) -> Result<(), SignError> {
    if let Some(line) = message.mbox_separator() {
        let first = line.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(SignError::MboxSeparator(
            String::from_utf8_lossy(first).into_owned(),
        ));
    }
    match message.malformed().next() {
        Some(line) => {
            let first = line.split(|&b| b == b'\r').next().unwrap_or_default();
            Err(SignError::HeaderWithoutColon(
                String::from_utf8_lossy(first).into_owned(),
            ))
        }
        None => Ok(()),
    }
}

/// Sign `message` with every signer, hashing the body once per body canonicalization.
/// Returns one header field per signer, in order; put them above the message.
pub fn sign_all(signers: &[Signer], message: &[u8], now: u64) -> Result<Vec<String>, SignError> {
    let message = Message::parse(message);
    refuse_malformed(&message)?;
    match message.fields_named("from").count() {
        0 => return Err(SignError::NoFrom),
        1 => {}
        n => return Err(SignError::SeveralFrom(n)),
    }
    let mut body_hashes: Vec<(Canonicalization, Vec<u8>)> = Vec::new();
    let mut fields = Vec::with_capacity(signers.len());
    for signer in signers {
        let c = signer.canonicalization;
        let bh = match body_hashes.iter().find(|(k, _)| k.body == c.body) {
            Some((_, bh)) => bh.clone(),
            None => {
                let bh = body_hash(message.body(), c.body, HashAlgorithm::Sha256, None).digest;
                body_hashes.push((c, bh.clone()));
                bh
            }
        };
        let signature = Signature {
            v: "1".into(),
            a: signer.key.algorithm(),
            b: Vec::new(),
            bh: Some(bh),
            c,
            d: signer.domain.clone(),
            h: signer.h_tag(&message)?,
            i: signer.identity.clone(),
            l: None,
            q: vec!["dns/txt".into()],
            s: signer.selector.clone(),
            t: signer.timestamp.then_some(now),
            x: signer.expiration.map(|e| now.saturating_add(e)),
            z: None,
        };
        let unsigned = format_unsigned(&signature);
        let b = sign_field(&signer.key, &message, &signature, &unsigned)?;
        fields.push(append_b(unsigned, &b));
    }
    Ok(fields)
}

/// Sign `message` with a DKIM-Signature field the caller wrote (tags, order and folding
/// kept exactly), whose `b=` is empty. Returns the `b=` value in base64.
///
/// This reproduces published examples (RFC 8463 Appendix A) byte for byte, and lets a
/// caller choose every tag. `bh=` must already be the body's hash.
pub fn sign_with_field(
    key: &SigningKey,
    message: &[u8],
    unsigned_field: &str,
) -> Result<String, SignError> {
    let message = Message::parse(message);
    refuse_malformed(&message)?;
    let value = unsigned_field
        .split_once(':')
        .map(|(_, v)| v)
        .unwrap_or(unsigned_field);
    let signature = Signature::parse(value.as_bytes())?;
    if signature.a != key.algorithm() {
        return Err(SignError::AlgorithmMismatch {
            field: signature.a.to_string(),
            key: key.algorithm().to_string(),
        });
    }
    let computed = body_hash(
        message.body(),
        signature.c.body,
        signature.a.hash(),
        signature.l,
    )
    .digest;
    if signature.bh.as_deref() != Some(&computed[..]) {
        return Err(SignError::BodyHashMismatch {
            computed: BASE64.encode(computed),
        });
    }
    let b = sign_field(
        key,
        &message,
        &signature,
        unsigned_field.trim_end_matches(['\r', '\n']),
    )?;
    Ok(BASE64.encode(b))
}

/// The header hash over `unsigned` (the field with `b=` empty), signed.
fn sign_field(
    key: &SigningKey,
    message: &Message<'_>,
    signature: &Signature,
    unsigned: &str,
) -> Result<Vec<u8>, SignError> {
    let digest = header_hash(
        message,
        &signature.h,
        signature.c.header,
        signature.a.hash(),
        unsigned.as_bytes(),
    );
    Ok(key.sign_digest(&digest)?)
}

/// `DKIM-Signature: v=1; ...; b=`, folded at [`LINE_WIDTH`], ending right after `b=`.
fn format_unsigned(signature: &Signature) -> String {
    let mut out = format!("{HEADER_NAME}:");
    let mut line = out.len();
    let mut push = |out: &mut String, token: &str, glue: &str| {
        if line + glue.len() + token.len() > LINE_WIDTH {
            out.push_str("\r\n ");
            line = 1;
        } else {
            out.push_str(glue);
            line += glue.len();
        }
        out.push_str(token);
        line += token.len();
    };
    for (name, value) in signature.tags() {
        if name == "h" {
            // h= may fold at its colons (RFC 6376 §3.5: FWS around ":").
            let count = signature.h.len();
            for (k, header) in signature.h.iter().enumerate() {
                let token = match (k == 0, k + 1 == count) {
                    (true, true) => format!("h={header};"),
                    (true, false) => format!("h={header}:"),
                    (false, true) => format!("{header};"),
                    (false, false) => format!("{header}:"),
                };
                push(&mut out, &token, if k == 0 { " " } else { "" });
            }
        } else {
            push(&mut out, &format!("{name}={value};"), " ");
        }
    }
    push(&mut out, "b=", " ");
    out
}

/// Append the base64 `b=` value to `unsigned`, folded (FWS inside base64 is allowed,
/// RFC 6376 §3.5), and end the field with CRLF.
fn append_b(mut unsigned: String, b: &[u8]) -> String {
    let b64 = BASE64.encode(b);
    let line = unsigned.len() - unsigned.rfind('\n').map_or(0, |i| i + 1);
    let first = LINE_WIDTH.saturating_sub(line).min(b64.len());
    unsigned.push_str(&b64[..first]);
    for chunk in b64.as_bytes()[first..].chunks(LINE_WIDTH - 1) {
        unsigned.push_str("\r\n ");
        unsigned.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    unsigned.push_str("\r\n");
    unsigned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed_key() -> SigningKey {
        SigningKey::from_file_contents(b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=").unwrap()
    }

    #[test]
    fn default_headers_are_oversigned() {
        let signer = Signer::new(ed_key(), "example.com", "sel").unwrap();
        let m = Message::parse(
            b"From: a@example.com\r\nTo: b@x\r\nList-Id: <l.x>\r\nReceived: r\r\n\r\nhi\r\n",
        );
        assert_eq!(
            signer.h_tag(&m).unwrap(),
            [
                "from", "from", "subject", "date", "to", "to", "cc", "list-id"
            ]
        );
    }

    #[test]
    fn default_headers_count_every_instance_once_in_order() {
        let signer = Signer::new(ed_key(), "example.com", "sel").unwrap();
        let m = Message::parse(
            b"List-Post: <a>\r\nSUBJECT: s\r\nlist-id: x\r\nList-Post: <b>\r\n\
              List-Bad Name: y\r\nList-ID: z\r\nFrom: a@example.com\r\n\r\n",
        );
        assert_eq!(
            signer.h_tag(&m).unwrap(),
            [
                "from",
                "from",
                "subject",
                "subject",
                "date",
                "to",
                "cc",
                "list-post",
                "list-post",
                "list-id",
                "list-id"
            ]
        );
    }

    #[test]
    fn field_is_folded_and_parses_back() {
        let signer = Signer::new(ed_key(), "example.com", "sel")
            .unwrap()
            .expiration(Some(86400));
        let field = signer
            .sign(
                b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
                1_700_000_000,
            )
            .unwrap();
        assert!(field.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"));
        assert!(field.ends_with("\r\n"));
        for line in field.split("\r\n") {
            assert!(line.len() <= LINE_WIDTH, "{line:?}");
        }
        let sig = Signature::parse(field.split_once(':').unwrap().1.as_bytes()).unwrap();
        assert_eq!(sig.t, Some(1_700_000_000));
        assert_eq!(sig.x, Some(1_700_086_400));
        assert_eq!(sig.b.len(), 64);
        assert_eq!(sig.l, None);
    }

    #[test]
    fn refuses_what_cannot_be_signed() {
        let signer = Signer::new(ed_key(), "example.com", "sel").unwrap();
        assert!(matches!(
            signer.sign(b"To: x\r\n\r\n", 0),
            Err(SignError::NoFrom)
        ));
        assert!(matches!(
            signer.sign(b"From: a\r\nFrom: b\r\n\r\n", 0),
            Err(SignError::SeveralFrom(2))
        ));
        assert!(Signer::new(ed_key(), "bad domain", "s").is_err());
        assert!(Signer::new(ed_key(), "example.com", "").is_err());
        assert!(
            Signer::new(ed_key(), "example.com", "s")
                .unwrap()
                .headers(HeaderSelection::Exact(vec!["to".into()]))
                .is_err()
        );
        assert!(
            Signer::new(ed_key(), "example.com", "s")
                .unwrap()
                .identity(Some("x@example.org".into()))
                .is_err()
        );
    }
}
