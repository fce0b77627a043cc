//! The two hashes of RFC 6376 §3.7, shared by signing and verifying: the body hash
//! (`bh=`) and the header hash that `b=` signs. Also the single hash of the pre-standard
//! draft-ietf-dkim-base-00 signatures ([`draft00_hash`]), for historic verification.
//!
//! Header selection (§5.4.2) is linear in the header section and `h=`: the instances of
//! each name are found in one pass, then taken bottom-up, so a hostile message (20,000
//! `h=` names over 20,000 fields) costs no more than reading it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use aws_lc_rs::digest;

use crate::canonicalize::{BodyCanonicalizer, canonicalize_header};
use crate::crypto::digest_algorithm;
use crate::message::{HeaderField, Message};
use crate::signature::{Canonicalization, CanonicalizationAlgorithm, HashAlgorithm};

/// The result of hashing a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyHash {
    /// The digest of the (possibly `l=`-truncated) canonical body.
    pub digest: Vec<u8>,
    /// Octets of canonical body that were hashed.
    pub hashed_length: u64,
    /// Octets of canonical body in all.
    pub canonical_length: u64,
}

/// Canonicalize and hash `body` in one pass (RFC 6376 §3.7 step 1). With `limit`
/// (`l=`), only that many canonical octets are hashed.
pub fn body_hash(
    body: &[u8],
    canonicalization: CanonicalizationAlgorithm,
    hash: HashAlgorithm,
    limit: Option<u64>,
) -> BodyHash {
    let mut ctx = digest::Context::new(digest_algorithm(hash));
    let (hashed_length, canonical_length) =
        hash_canonical_body(&mut ctx, body, canonicalization, limit);
    BodyHash {
        digest: ctx.finish().as_ref().to_vec(),
        hashed_length,
        canonical_length,
    }
}

/// Canonicalize `body` into `ctx` in one pass, at most `limit` canonical octets (`l=`).
/// Returns (octets hashed, canonical length). Shared by [`body_hash`] and the draft-00
/// hash, which puts the body between the header fields and the signature field.
fn hash_canonical_body(
    ctx: &mut digest::Context,
    body: &[u8],
    canonicalization: CanonicalizationAlgorithm,
    limit: Option<u64>,
) -> (u64, u64) {
    let mut remaining = limit.unwrap_or(u64::MAX);
    let mut hashed = 0u64;
    let mut feed = |slice: &[u8]| {
        let take = (slice.len() as u64).min(remaining) as usize;
        if take > 0 {
            ctx.update(&slice[..take]);
            remaining -= take as u64;
            hashed += take as u64;
        }
    };
    let mut canon = BodyCanonicalizer::new(canonicalization);
    canon.update(body, &mut feed);
    let canonical_length = canon.finish(&mut feed);
    (hashed, canonical_length)
}

/// Up to this many (name, field) comparisons, [`select_headers`] simply scans (no
/// allocation: the common case of a dozen names over a few dozen fields); above it, it
/// indexes the fields by name first.
const SCAN_LIMIT: usize = 4096;

/// The header fields `h=` names, selected as RFC 6376 §5.4.2 says: each name picks the
/// last instance not yet picked, working upwards; a name with no instance left adds
/// nothing (the "null string", which makes adding such a field later break the signature).
pub fn select_headers<'m>(message: &'m Message<'_>, names: &[String]) -> Vec<&'m HeaderField> {
    if names.len().saturating_mul(message.headers().len()) <= SCAN_LIMIT {
        select_by_scan(message, names)
    } else {
        select_by_index(message, names)
    }
}

/// [`select_headers`] by scanning the fields upwards for each name: O(names × fields).
fn select_by_scan<'m>(message: &'m Message<'_>, names: &[String]) -> Vec<&'m HeaderField> {
    let headers = message.headers();
    let mut used = vec![false; headers.len()];
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let found = headers
            .iter()
            .enumerate()
            .rev()
            .find(|(i, f)| !used[*i] && message.name(f).eq_ignore_ascii_case(name.as_bytes()));
        if let Some((i, field)) = found {
            used[i] = true;
            out.push(field);
        }
    }
    out
}

/// [`select_headers`] through an index built in one pass: for each name of `h=`, the
/// positions of its fields top to bottom; each use of the name takes the last one left.
/// O(names + fields).
fn select_by_index<'m>(message: &'m Message<'_>, names: &[String]) -> Vec<&'m HeaderField> {
    let headers = message.headers();
    let mut instances: HashMap<FieldName<'_>, Vec<usize>> = names
        .iter()
        .map(|n| (FieldName(n.as_bytes()), Vec::new()))
        .collect();
    for (i, field) in headers.iter().enumerate() {
        if let Some(positions) = instances.get_mut(&FieldName(message.name(field))) {
            positions.push(i);
        }
    }
    names
        .iter()
        .filter_map(|n| instances.get_mut(&FieldName(n.as_bytes()))?.pop())
        .map(|i| &headers[i])
        .collect()
}

/// A header field name, equal and hashed regardless of ASCII case (RFC 5322 §1.2.2:
/// field names are case-insensitive).
#[derive(Clone, Copy, Debug)]
struct FieldName<'a>(&'a [u8]);

impl PartialEq for FieldName<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for FieldName<'_> {}

impl Hash for FieldName<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for b in self.0 {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

/// The header hash (RFC 6376 §3.7 step 2): the selected fields canonicalized, then the
/// DKIM-Signature field itself with `b=` empty, canonicalized, without its final CRLF.
///
/// `signature_field` is that field in full (`DKIM-Signature: ...`), `b=` value deleted.
pub fn header_hash(
    message: &Message<'_>,
    names: &[String],
    canonicalization: CanonicalizationAlgorithm,
    hash: HashAlgorithm,
    signature_field: &[u8],
) -> digest::Digest {
    let (buffer, _) = header_hash_input(message, names, canonicalization, signature_field);
    let mut ctx = digest::Context::new(digest_algorithm(hash));
    ctx.update(&buffer);
    ctx.finish()
}

/// The input of the header hash, and where in it the DKIM-Signature field starts.
fn header_hash_input(
    message: &Message<'_>,
    names: &[String],
    canonicalization: CanonicalizationAlgorithm,
    signature_field: &[u8],
) -> (Vec<u8>, usize) {
    let mut buffer = Vec::with_capacity(1024);
    for field in select_headers(message, names) {
        canonicalize_header(
            canonicalization,
            message.name(field),
            message.raw(field),
            &mut buffer,
        );
    }
    let split = buffer.len();
    let name_end = memchr::memchr(b':', signature_field).unwrap_or(signature_field.len());
    let mut name = &signature_field[..name_end];
    while let [rest @ .., b' ' | b'\t'] = name {
        name = rest;
    }
    canonicalize_header(canonicalization, name, signature_field, &mut buffer);
    // "...presented to the hash algorithm without the trailing CRLF".
    buffer.truncate(buffer.len() - 2);
    (buffer, split)
}

/// The hash a draft-ietf-dkim-base-00 signature signs, with the lengths of its body part.
#[derive(Debug)]
pub struct Draft00Hash {
    /// The digest of headers, body and signature field together.
    pub digest: digest::Digest,
    /// Octets of canonical body that were hashed (with `l=`, at most `l`).
    pub hashed_length: u64,
    /// Octets of canonical body in all.
    pub canonical_length: u64,
}

/// The single hash of a draft-ietf-dkim-base-00 signature (2006: no `v=`, no `bh=`).
///
/// That draft hashed everything at once, in this order: the fields `h=` selects,
/// canonicalized as in RFC 6376 (§3.4.1/§3.4.2, §5.4.2); a CRLF (the empty line that
/// ends the header section); the canonicalized body (§3.4.3/§3.4.4, `l=` applied); a
/// CRLF; and the DKIM-Signature field with `b=` empty, canonicalized, without its final
/// CRLF. draft-ietf-dkim-base-01 split this into the body hash `bh=` and the header hash
/// (RFC 4871 §3.7, kept by RFC 6376). Checked against the five draft-00 signatures of the
/// Mail::DKIM corpus (tests/corpus_mail_dkim.rs), which verify only this way.
///
/// Unlike the header hash of a signature without `bh=` read the RFC 6376 way, this
/// covers the body, so such a signature cannot be moved onto another message.
pub fn draft00_hash(
    message: &Message<'_>,
    names: &[String],
    canonicalization: Canonicalization,
    hash: HashAlgorithm,
    limit: Option<u64>,
    signature_field: &[u8],
) -> Draft00Hash {
    let (buffer, split) =
        header_hash_input(message, names, canonicalization.header, signature_field);
    let mut ctx = digest::Context::new(digest_algorithm(hash));
    ctx.update(&buffer[..split]);
    ctx.update(b"\r\n");
    let (hashed_length, canonical_length) =
        hash_canonical_body(&mut ctx, message.body(), canonicalization.body, limit);
    ctx.update(b"\r\n");
    ctx.update(&buffer[split..]);
    Draft00Hash {
        digest: ctx.finish(),
        hashed_length,
        canonical_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_bottom_up_and_skips_missing() {
        let m = Message::parse(b"Received: a\r\nFrom: x\r\nReceived: b\r\n\r\n");
        let names: Vec<String> = ["received", "received", "received", "from", "cc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let picked: Vec<&[u8]> = select_headers(&m, &names)
            .iter()
            .map(|f| m.raw(f))
            .collect();
        assert_eq!(
            picked,
            [&b"Received: b\r\n"[..], b"Received: a\r\n", b"From: x\r\n"]
        );
    }

    #[test]
    fn scan_and_index_select_the_same() {
        // Repeated names, names in any case, names absent, more uses than instances.
        let mut text = Vec::new();
        for i in 0..40 {
            text.extend_from_slice(format!("X-{}: {i}\r\n", i % 7).as_bytes());
            if i % 5 == 0 {
                text.extend_from_slice(format!("received: {i}\r\n").as_bytes());
            }
        }
        text.extend_from_slice(b"\r\nbody\r\n");
        let m = Message::parse(&text);
        let names: Vec<String> = (0..120)
            .map(|i| match i % 4 {
                0 => format!("x-{}", i % 9),
                1 => "RECEIVED".to_string(),
                2 => format!("X-{}", i % 3),
                _ => "absent".to_string(),
            })
            .collect();
        for n in 0..names.len() {
            let scan = select_by_scan(&m, &names[..n]);
            let index = select_by_index(&m, &names[..n]);
            assert_eq!(scan, index, "{n} names");
        }
        assert!(names.len() * m.headers().len() > SCAN_LIMIT);
        assert_eq!(select_headers(&m, &names), select_by_scan(&m, &names));
    }

    #[test]
    fn selects_from_a_hostile_header_section() {
        // The reviewer's input: 20,000 h= names over 20,000 fields (0.54 s in release,
        // 17 s in debug with a scan per name). Each name takes its last instance.
        let mut text = Vec::new();
        for i in 0..20_000 {
            text.extend_from_slice(format!("X-{}: {i}\r\n", i % 100).as_bytes());
        }
        text.extend_from_slice(b"\r\n");
        let m = Message::parse(&text);
        let names: Vec<String> = (0..20_000).map(|i| format!("x-{}", i % 100)).collect();
        let picked = select_headers(&m, &names);
        assert_eq!(picked.len(), 20_000);
        // The first use of X-0 takes the bottom instance (field 19,900), the 200th use
        // the top one (field 0).
        assert_eq!(m.raw(picked[0]), b"X-0: 19900\r\n");
        assert_eq!(m.raw(picked[19_900]), b"X-0: 0\r\n");
    }

    #[test]
    fn body_hash_of_empty_bodies() {
        use base64::Engine;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        // RFC 6376 §3.4.3/§3.4.4 well-known values: sha256("\r\n") and sha256("").
        let simple = body_hash(
            b"",
            CanonicalizationAlgorithm::Simple,
            HashAlgorithm::Sha256,
            None,
        );
        assert_eq!(
            b64(&simple.digest),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
        let relaxed = body_hash(
            b"",
            CanonicalizationAlgorithm::Relaxed,
            HashAlgorithm::Sha256,
            None,
        );
        assert_eq!(
            b64(&relaxed.digest),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let limited = body_hash(
            b"abc\r\n",
            CanonicalizationAlgorithm::Simple,
            HashAlgorithm::Sha256,
            Some(0),
        );
        assert_eq!(limited.digest, relaxed.digest);
        assert_eq!((limited.hashed_length, limited.canonical_length), (0, 5));
    }
}
