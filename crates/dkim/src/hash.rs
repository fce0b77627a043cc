//! The two hashes of RFC 6376 §3.7, shared by signing and verifying: the body hash
//! (`bh=`) and the header hash that `b=` signs.

use aws_lc_rs::digest;

use crate::canonicalize::{BodyCanonicalizer, canonicalize_header};
use crate::crypto::digest_algorithm;
use crate::message::Message;
use crate::signature::{CanonicalizationAlgorithm, HashAlgorithm};

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
    BodyHash {
        digest: ctx.finish().as_ref().to_vec(),
        hashed_length: hashed,
        canonical_length,
    }
}

/// The header fields `h=` names, selected as RFC 6376 §5.4.2 says: each name picks the
/// last instance not yet picked, working upwards; a name with no instance left adds
/// nothing (the "null string", which makes adding such a field later break the signature).
pub fn select_headers<'m>(
    message: &'m Message<'_>,
    names: &[String],
) -> Vec<&'m crate::message::HeaderField> {
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
    let mut buffer = Vec::with_capacity(1024);
    for field in select_headers(message, names) {
        canonicalize_header(
            canonicalization,
            message.name(field),
            message.raw(field),
            &mut buffer,
        );
    }
    let name_end = memchr::memchr(b':', signature_field).unwrap_or(signature_field.len());
    let mut name = &signature_field[..name_end];
    while let [rest @ .., b' ' | b'\t'] = name {
        name = rest;
    }
    canonicalize_header(canonicalization, name, signature_field, &mut buffer);
    // "...presented to the hash algorithm without the trailing CRLF".
    buffer.truncate(buffer.len() - 2);
    let mut ctx = digest::Context::new(digest_algorithm(hash));
    ctx.update(&buffer);
    ctx.finish()
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
