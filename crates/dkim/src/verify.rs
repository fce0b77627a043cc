//! Verification (RFC 6376 §6): every DKIM-Signature on a message checked, each with its
//! own result and reason.
//!
//! The steps, in the RFC's order: parse the signature (§6.1.1), fetch and check the key
//! (§6.1.2), compute and compare the body hash, then the header hash and the signature
//! (§6.1.3). RFC 8301 is applied by default: rsa-sha1 and RSA keys under 1024 bits are
//! `permerror`. [`VerifyPolicy::HISTORIC`] lifts that, for checking old archives.
//!
//! Key records are fetched once per name per message; body hashes are computed once per
//! (canonicalization, hash, `l=`) per message; a [`Verifier`] keeps parsed keys across
//! messages.
//!
//! Hostile input (RFC 6376 §8.4, §8.9): signatures past [`MAX_SIGNATURES`] are not even
//! parsed, a field of more than 64 tags or an `h=` of more than 512 names is refused
//! unread, and every step is linear in the message; a message with a header line
//! without a colon (RFC 5322 §2.2) passes no signature.
//!
//! Historic policy: [`VerifyPolicy::HISTORIC`] also verifies the signatures of
//! draft-ietf-dkim-base-00 (no `v=`, no `bh=`), whose one hash covers headers and body
//! (`hash::draft00_hash`). Under RFC 6376 they are unusable (`bh=` is required, §3.5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use sendwell_dns::{Lookup, LookupError};

use crate::crypto::{HISTORIC_MIN_RSA_BITS, PublicKey, PublicKeyError};
use crate::hash::{BodyHash, body_hash, draft00_hash, header_hash};
use crate::key_record::KeyRecord;
use crate::message::{HeaderField, Message};
use crate::result::{DkimResult, DkimVerification, Reason, Warning};
use crate::signature::{
    CanonicalizationAlgorithm, HEADER_NAME, HashAlgorithm, KeyType, ParseOptions, Signature,
    SignatureError, SigningAlgorithm,
};
use crate::tag_list::TagList;

/// How many signatures on one message are checked; the rest get `permerror`
/// (RFC 6376 §8.4: verifiers should limit the work an attacker can cause).
pub const MAX_SIGNATURES: usize = 10;

/// Which RFC 8301 and draft-era rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Accept rsa-sha1 (RFC 8301 §3.1 forbids it).
    pub allow_rsa_sha1: bool,
    /// Accept RSA keys from 512 to 1023 bits (RFC 8301 §3.2 forbids them).
    pub allow_short_rsa_keys: bool,
    /// Accept pre-RFC draft signatures (no `v=` or `v=0.5`, `q=dns`; without `v=` also
    /// without `bh=`, as draft-ietf-dkim-base-00 signed).
    pub allow_drafts: bool,
}

impl VerifyPolicy {
    /// RFC 6376 as updated by RFC 8301: what receivers apply today. The default.
    pub const RFC8301: VerifyPolicy = VerifyPolicy {
        allow_rsa_sha1: false,
        allow_short_rsa_keys: false,
        allow_drafts: false,
    };
    /// For mail signed before 2018: rsa-sha1, short keys and draft signatures accepted.
    pub const HISTORIC: VerifyPolicy = VerifyPolicy {
        allow_rsa_sha1: true,
        allow_short_rsa_keys: true,
        allow_drafts: true,
    };
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy::RFC8301
    }
}

/// Verify every DKIM signature of `message` at time `now` (seconds since 1970), with
/// keys from `lookup`, under RFC 8301. Returns one verification per DKIM-Signature
/// field, top to bottom; an empty list means the message is unsigned (`dkim=none`).
pub async fn verify<L: Lookup>(lookup: &L, message: &[u8], now: u64) -> Vec<DkimVerification> {
    verify_with(lookup, message, now, VerifyPolicy::RFC8301).await
}

/// [`verify`] with a chosen [`VerifyPolicy`].
pub async fn verify_with<L: Lookup>(
    lookup: &L,
    message: &[u8],
    now: u64,
    policy: VerifyPolicy,
) -> Vec<DkimVerification> {
    Verifier::new(policy).verify(lookup, message, now).await
}

/// Parsed keys, by key type and `p=` data.
type ParsedKeys = Mutex<HashMap<(KeyType, Vec<u8>), Arc<PublicKey>>>;

/// How many parsed keys a [`Verifier`] keeps; past that it starts afresh.
pub const KEY_CACHE_SIZE: usize = 512;

/// Verifies messages under one policy, keeping the public keys it has parsed for the next
/// messages (a receiver sees the same few keys again and again; building an RSA key costs
/// more than checking a signature with it). Keys are cached by the `p=` data itself, so a
/// changed DNS record is simply a new entry: the cache can never give a stale answer.
/// DNS answers are not cached here (the resolver does that).
#[derive(Debug)]
pub struct Verifier {
    policy: VerifyPolicy,
    keys: ParsedKeys,
}

impl Verifier {
    /// A verifier applying `policy`.
    pub fn new(policy: VerifyPolicy) -> Self {
        Verifier {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The policy applied.
    pub fn policy(&self) -> VerifyPolicy {
        self.policy
    }

    /// Verify every DKIM signature of `message` at `now`; see [`verify`].
    pub async fn verify<L: Lookup>(
        &self,
        lookup: &L,
        message: &[u8],
        now: u64,
    ) -> Vec<DkimVerification> {
        let message = Message::parse(message);
        let mut state = State {
            message: &message,
            policy: self.policy,
            now,
            keys: Vec::new(),
            bodies: Vec::new(),
            parsed: &self.keys,
        };
        let fields: Vec<&HeaderField> = message.fields_named(HEADER_NAME).collect();
        let mut out = Vec::with_capacity(fields.len());
        for (index, field) in fields.into_iter().enumerate() {
            let mut v = state
                .verify_one(lookup, field, index >= MAX_SIGNATURES)
                .await;
            if v.result == DkimResult::Pass {
                let froms = message.fields_named("from").count();
                if froms > 1 {
                    v.result = DkimResult::Policy;
                    v.reason = Reason::SeveralFrom(froms);
                }
            }
            out.push(v);
        }
        set_header_b(&mut out);
        out
    }
}

/// Key records fetched: name → the TXT records (strings joined) or the failure.
type KeyCache = Vec<(String, Result<Vec<Vec<u8>>, LookupError>)>;
/// Body hashes done: (canonicalization, hash, l) → hash.
type BodyCache = Vec<(
    (CanonicalizationAlgorithm, HashAlgorithm, Option<u64>),
    BodyHash,
)>;

struct State<'m, 'a> {
    message: &'m Message<'a>,
    policy: VerifyPolicy,
    now: u64,
    keys: KeyCache,
    bodies: BodyCache,
    /// The verifier's parsed keys.
    parsed: &'m ParsedKeys,
}

/// The tags of a field that may not parse as a whole, for the report.
fn raw_tag(list: &TagList<'_>, name: &str) -> String {
    list.get(name)
        .map(|t| t.value_str().trim().to_string())
        .unwrap_or_default()
}

impl State<'_, '_> {
    async fn verify_one<L: Lookup>(
        &mut self,
        lookup: &L,
        field: &HeaderField,
        over_limit: bool,
    ) -> DkimVerification {
        let mut v = DkimVerification {
            result: DkimResult::Neutral,
            reason: Reason::Verified,
            warnings: Vec::new(),
            domain: String::new(),
            selector: String::new(),
            algorithm: String::new(),
            identity: None,
            header_b: String::new(),
            key_bits: None,
            signature: None,
        };
        // RFC 6376 §8.4: past the limit, not even parsed (its size is the attacker's).
        if over_limit {
            v.result = DkimResult::PermError;
            v.reason = Reason::TooManySignatures;
            return v;
        }
        let list = match TagList::parse(self.message.value(field)) {
            Ok(list) => list,
            Err(e) => {
                let e = SignatureError::from(e);
                if !e.is_syntax() {
                    // A processing limit (RFC 6376 §8.9), not a syntax error.
                    v.result = DkimResult::PermError;
                    v.reason = Reason::Invalid(e);
                } else {
                    v.reason = Reason::Unusable(e);
                }
                return v;
            }
        };
        v.domain = raw_tag(&list, "d");
        v.selector = raw_tag(&list, "s");
        v.algorithm = raw_tag(&list, "a");
        v.header_b = list
            .get("b")
            .map(|t| {
                let ascii: Vec<u8> = t
                    .value_without_whitespace()
                    .into_iter()
                    .filter(u8::is_ascii)
                    .collect();
                String::from_utf8_lossy(&ascii).into_owned()
            })
            .unwrap_or_default();
        let options = ParseOptions {
            allow_drafts: self.policy.allow_drafts,
        };
        let sig = match Signature::from_tag_list(&list, options) {
            Ok(sig) => sig,
            Err(e) if e.is_syntax() => {
                v.reason = Reason::Unusable(e);
                return v;
            }
            Err(e) => {
                v.result = DkimResult::PermError;
                v.reason = Reason::Invalid(e);
                return v;
            }
        };
        v.identity = Some(sig.auid());
        // RFC 5322 §2.2: header fields are "a field name, followed by a colon". A line
        // without one makes the header section malformed: which field it was meant to be
        // (a From?) is unknowable, so no signature passes (dkimpy refuses it too).
        if let Some(line) = self.message.malformed().next() {
            v.result = DkimResult::PermError;
            v.reason = Reason::HeaderWithoutColon {
                line: first_line(line),
            };
            v.signature = Some(sig);
            return v;
        }
        // The byte range of b='s value, in the message, to delete for the header hash.
        let b_range = list.get("b").map(|t| {
            (
                field.value_start + t.value_start,
                field.value_start + t.value_end,
            )
        });
        let (result, reason) = self.check(lookup, &sig, field, b_range, &mut v).await;
        v.result = result;
        v.reason = reason;
        v.signature = Some(sig);
        v
    }

    async fn check<L: Lookup>(
        &mut self,
        lookup: &L,
        sig: &Signature,
        field: &HeaderField,
        b_range: Option<(usize, usize)>,
        v: &mut DkimVerification,
    ) -> (DkimResult, Reason) {
        use DkimResult::{Fail, Pass, PermError, TempError};
        if let Some(x) = sig.x
            && x < self.now
        {
            return (PermError, Reason::Expired { x, now: self.now });
        }
        if sig.a == SigningAlgorithm::RsaSha1 && !self.policy.allow_rsa_sha1 {
            return (PermError, Reason::Sha1);
        }
        // RFC 6376 §6.1.2: fetch the key.
        let name = sig.key_name();
        let records = match self.key_records(lookup, &name).await {
            Ok(records) => records,
            Err(LookupError::Timeout | LookupError::ServerFailure(_)) => {
                let error = self.cached_error(&name);
                return (TempError, Reason::KeyLookupFailed { name, error });
            }
            Err(_) => return (PermError, Reason::KeyNotFound { name }),
        };
        // "If the query for the public key returns multiple key records, the Verifier
        // can choose one of the key records": the first that parses.
        let mut parsed = records.iter().map(|r| KeyRecord::parse(r));
        let first = parsed.next();
        let record = match first {
            Some(Ok(record)) => record,
            Some(Err(first_error)) => match parsed.find_map(Result::ok) {
                Some(record) => record,
                None => return (PermError, Reason::KeyRecord(first_error)),
            },
            None => return (PermError, Reason::KeyNotFound { name }),
        };
        if record.is_revoked() {
            return (PermError, Reason::KeyRevoked);
        }
        if record.k != sig.a.key_type() {
            return (
                PermError,
                Reason::KeyTypeMismatch {
                    key: record.k,
                    algorithm: sig.a,
                },
            );
        }
        if !record.allows_hash(sig.a.hash()) {
            return (
                PermError,
                Reason::KeyHashNotAllowed {
                    allowed: record.h.clone().unwrap_or_default(),
                },
            );
        }
        if !record.allows_email() {
            return (
                PermError,
                Reason::KeyNotForEmail {
                    services: record.s.clone(),
                },
            );
        }
        let auid = sig.auid();
        let (local_part, auid_domain) = auid.rsplit_once('@').unwrap_or(("", ""));
        if record.is_strict_identity() && !auid_domain.eq_ignore_ascii_case(&sig.d) {
            return (PermError, Reason::KeyStrictIdentity);
        }
        if !record.granularity_matches(local_part) {
            return (
                PermError,
                Reason::KeyGranularity {
                    g: record.g.clone().unwrap_or_default(),
                    local_part: local_part.to_string(),
                },
            );
        }
        let key = match self.public_key(&record) {
            Ok(key) => key,
            Err(e) => return (PermError, Reason::KeyData(e)),
        };
        let bits = key.bits();
        v.key_bits = Some(bits);
        if record.k == KeyType::Rsa {
            // RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of
            // less than 1024 bits as valid signatures."
            let minimum = if self.policy.allow_short_rsa_keys {
                HISTORIC_MIN_RSA_BITS
            } else {
                1024
            };
            if bits < minimum {
                return (PermError, Reason::KeyTooShort { bits });
            }
            if bits < 2048 {
                v.warnings.push(Warning::WeakKey { bits });
            }
        }
        if record.is_testing() {
            v.warnings.push(Warning::Testing);
        }
        // The field with b='s value deleted, for the header hash (§3.7).
        let data = self.message.data();
        let unsigned: Vec<u8> = match b_range {
            Some((start, end)) => {
                let mut u = Vec::with_capacity(field.raw.len());
                u.extend_from_slice(&data[field.raw.start..start]);
                u.extend_from_slice(&data[end..field.raw.end]);
                u
            }
            None => data[field.raw.clone()].to_vec(),
        };
        let Some(bh) = &sig.bh else {
            // draft-ietf-dkim-base-00 (historic policy only): one hash over everything.
            let hash = draft00_hash(self.message, &sig.h, sig.c, sig.a.hash(), sig.l, &unsigned);
            if let Some(reason) = check_length(sig.l, hash.canonical_length, v) {
                return (PermError, reason);
            }
            return if key.verify(
                sig.a,
                &hash.digest,
                &sig.b,
                self.policy.allow_short_rsa_keys,
            ) {
                (Pass, Reason::Verified)
            } else {
                // Header or body: one hash cannot say which.
                (Fail, Reason::SignatureMismatch)
            };
        };
        // RFC 6376 §6.1.3: the body hash.
        let body = self.body_hash(sig);
        if let Some(reason) = check_length(sig.l, body.canonical_length, v) {
            return (PermError, reason);
        }
        if body.digest != *bh {
            return (
                Fail,
                Reason::BodyHashMismatch {
                    canonical_length: body.hashed_length,
                },
            );
        }
        // The header hash, over the field with b='s value deleted.
        let digest: digest::Digest =
            header_hash(self.message, &sig.h, sig.c.header, sig.a.hash(), &unsigned);
        if key.verify(sig.a, &digest, &sig.b, self.policy.allow_short_rsa_keys) {
            (Pass, Reason::Verified)
        } else {
            (Fail, Reason::SignatureMismatch)
        }
    }

    async fn key_records<L: Lookup>(
        &mut self,
        lookup: &L,
        name: &str,
    ) -> Result<Vec<Vec<u8>>, LookupError> {
        if let Some((_, cached)) = self.keys.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return cached.clone();
        }
        let result = lookup
            .lookup_txt(name)
            .await
            .map(|txts| txts.iter().map(|t| t.joined()).collect());
        self.keys.push((name.to_string(), result.clone()));
        result
    }

    /// The key of `record`, parsed now or taken from the verifier's cache.
    fn public_key(&self, record: &KeyRecord) -> Result<Arc<PublicKey>, PublicKeyError> {
        let cache_key = (record.k, record.p.clone());
        if let Ok(cache) = self.parsed.lock()
            && let Some(key) = cache.get(&cache_key)
        {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(PublicKey::from_record(record)?);
        if let Ok(mut cache) = self.parsed.lock() {
            if cache.len() >= KEY_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(cache_key, Arc::clone(&key));
        }
        Ok(key)
    }

    fn cached_error(&self, name: &str) -> String {
        self.keys
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, r)| r.as_ref().err())
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn body_hash(&mut self, sig: &Signature) -> BodyHash {
        let key = (sig.c.body, sig.a.hash(), sig.l);
        if let Some((_, hash)) = self.bodies.iter().find(|(k, _)| *k == key) {
            return hash.clone();
        }
        let hash = body_hash(self.message.body(), sig.c.body, sig.a.hash(), sig.l);
        self.bodies.push((key, hash.clone()));
        hash
    }
}

/// `l=` against the canonical body length: permerror when it claims more body than
/// there is, else a warning (RFC 6376 §8.2: content can be appended).
fn check_length(l: Option<u64>, canonical_length: u64, v: &mut DkimVerification) -> Option<Reason> {
    let l = l?;
    if l > canonical_length {
        return Some(Reason::BodyShorterThanLength {
            l,
            canonical_length,
        });
    }
    v.warnings.push(Warning::BodyLength {
        l,
        canonical_length,
    });
    None
}

/// The first line of a raw header line, for a reason: at most 78 characters, lossy.
fn first_line(raw: &[u8]) -> String {
    let line = &raw[..memchr::memchr2(b'\r', b'\n', raw).unwrap_or(raw.len())];
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(78) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// RFC 6008 §4: `header.b` is a prefix of `b=`, at least 8 characters, long enough to
/// tell the signatures of one message apart. Only the signatures that were read have a
/// `b=` here (at most [`MAX_SIGNATURES`]), so this stays small whatever the message.
fn set_header_b(verifications: &mut [DkimVerification]) {
    let all: Vec<String> = verifications
        .iter()
        .map(|v| v.header_b.clone())
        .filter(|b| !b.is_empty())
        .collect();
    for v in verifications.iter_mut() {
        let full = v.header_b.as_bytes();
        // One octet past the longest prefix shared with another b=: linear in the b=
        // values (growing a prefix and rescanning would be quadratic in a hostile b=).
        let shared = all
            .iter()
            .map(|other| other.as_bytes())
            .filter(|other| *other != full)
            .map(|other| full.iter().zip(other).take_while(|(x, y)| x == y).count() + 1)
            .max()
            .unwrap_or(0);
        let len = shared.max(8).min(full.len());
        v.header_b.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_b(b: &str) -> DkimVerification {
        DkimVerification {
            result: DkimResult::Neutral,
            reason: Reason::Verified,
            warnings: Vec::new(),
            domain: String::new(),
            selector: String::new(),
            algorithm: String::new(),
            identity: None,
            header_b: b.to_string(),
            key_bits: None,
            signature: None,
        }
    }

    #[test]
    fn header_b_is_the_shortest_distinguishing_prefix() {
        // Two b= sharing 300 characters, one apart, one equal to another, one unread.
        let long = "A".repeat(300);
        let mut v = vec![
            with_b(&format!("{long}xyz")),
            with_b(&format!("{long}y")),
            with_b("BBBBBBBBBBBB"),
            with_b("BBBBBBBBBBBB"),
            with_b(""),
            with_b("short"),
        ];
        set_header_b(&mut v);
        let got: Vec<&str> = v.iter().map(|v| v.header_b.as_str()).collect();
        assert_eq!(
            got,
            [
                &format!("{long}x")[..],
                &format!("{long}y"),
                "BBBBBBBB",
                "BBBBBBBB",
                "",
                "short"
            ]
        );
    }

    #[test]
    fn first_line_is_short_and_single() {
        assert_eq!(first_line(b"From\r\n a@example.com\r\n"), "From");
        let long = first_line("é".repeat(200).as_bytes());
        assert_eq!(long.chars().count(), 79);
        assert!(long.ends_with('…'));
    }
}
