//! Keys and the signature primitives: RSA PKCS#1 v1.5 (RFC 6376 §3.3.1-§3.3.2,
//! RFC 8017 §8.2) and Ed25519 (RFC 8463 §3), all through aws-lc-rs.
//!
//! Design decisions:
//! - aws-lc-rs: constant-time, maintained, and able to generate RSA keys; never the
//!   `rsa` crate's private-key operations (RUSTSEC-2023-0071).
//! - A [`SigningKey`] is parsed once and reused: parsing an RSA key costs more than a
//!   signature. It signs a finished digest, so the header hash is streamed.
//! - aws-lc-rs signs only with RSA keys of 2048 bits or more; a shorter key is refused
//!   with a message saying so (RFC 8301 §3.2 asks signers for 2048 bits anyway).
//! - Verification of RSA keys under 1024 bits is needed only for old archives (they are
//!   invalid per RFC 8301 §3.2, and aws-lc-rs refuses them); [`PublicKey::verify`] does
//!   it with public values only (`num-bigint`), comparing the whole EMSA-PKCS1-v1_5
//!   encoding, when the caller's policy allows it.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use std::sync::OnceLock;

use aws_lc_rs::signature::{
    self as sig, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::der;
use crate::key_record::KeyRecord;
use crate::signature::{HashAlgorithm, KeyType, SigningAlgorithm};

/// A private key could not be read or used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM, not a base64 Ed25519 seed, not DER.
    #[error(
        "not a private key: expected PEM (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\") \
         or a base64 Ed25519 seed (RFC 8463)"
    )]
    UnknownFormat,
    /// PEM armour around something that is not base64.
    #[error("the PEM block is not valid base64")]
    InvalidPem,
    /// An RSA key shorter than aws-lc-rs signs with.
    #[error(
        "the RSA key has {bits} bits; Sendwell signs with 2048 bits or more \
         (RFC 8301 §3.2): generate one with `sendwell dkim keygen`"
    )]
    RsaKeyTooShort {
        /// The key's modulus length.
        bits: usize,
    },
    /// The crypto library rejected the key.
    #[error("the key was rejected: {0}")]
    Rejected(String),
    /// An encrypted PEM key (we read unencrypted keys only).
    #[error("the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    Encrypted,
}

/// A private key, parsed once, that signs DKIM digests.
pub struct SigningKey {
    inner: Inner,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Read a key file's contents: PEM PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519),
    /// PEM PKCS#1 (`BEGIN RSA PRIVATE KEY`, as opendkim-genkey writes), or the RFC 8463
    /// Appendix A / dkimpy Ed25519 form: the 32-octet seed in base64 on one line.
    pub fn from_file_contents(contents: &[u8]) -> Result<SigningKey, KeyError> {
        let text = String::from_utf8_lossy(contents);
        if text.contains("-----BEGIN") {
            return Self::from_pem(&text);
        }
        let compact: Vec<u8> = contents
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if let Ok(seed) = BASE64.decode(&compact)
            && seed.len() == 32
        {
            return Self::from_ed25519_seed(&seed);
        }
        Self::from_pkcs8_der(contents)
            .or_else(|_| Self::from_pkcs1_der(contents))
            .map_err(|e| match e {
                KeyError::RsaKeyTooShort { .. } => e,
                _ => KeyError::UnknownFormat,
            })
    }

    /// Read a PEM private key (PKCS#8 or PKCS#1 RSA).
    pub fn from_pem(text: &str) -> Result<SigningKey, KeyError> {
        if text.contains("ENCRYPTED") {
            return Err(KeyError::Encrypted);
        }
        let (label, der) = pem_decode(text)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
            _ => Err(KeyError::UnknownFormat),
        }
    }

    /// Read a DER PKCS#8 PrivateKeyInfo (RSA or Ed25519).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Ok(SigningKey {
                inner: Inner::Ed25519(key),
            });
        }
        RsaKeyPair::from_pkcs8(der)
            .map(|key| SigningKey {
                inner: Inner::Rsa(key),
            })
            .map_err(|e| rsa_rejection(der, e))
    }

    /// Read a DER PKCS#1 RSAPrivateKey.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        RsaKeyPair::from_der(der)
            .map(|key| SigningKey {
                inner: Inner::Rsa(key),
            })
            .map_err(|e| rsa_rejection(der, e))
    }

    /// An Ed25519 key from its 32-octet seed (RFC 8032 §5.1.5).
    pub fn from_ed25519_seed(seed: &[u8]) -> Result<SigningKey, KeyError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|key| SigningKey {
                inner: Inner::Ed25519(key),
            })
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    pub(crate) fn from_rsa(key: RsaKeyPair) -> SigningKey {
        SigningKey {
            inner: Inner::Rsa(key),
        }
    }

    pub(crate) fn from_ed25519(key: Ed25519KeyPair) -> SigningKey {
        SigningKey {
            inner: Inner::Ed25519(key),
        }
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::Rsa(_) => KeyType::Rsa,
            Inner::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The algorithm this key signs with: rsa-sha256 or ed25519-sha256.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self.inner {
            Inner::Rsa(_) => SigningAlgorithm::RsaSha256,
            Inner::Ed25519(_) => SigningAlgorithm::Ed25519Sha256,
        }
    }

    /// The key size in bits (256 for Ed25519).
    pub fn bits(&self) -> usize {
        match &self.inner {
            Inner::Rsa(key) => key.public_modulus_len() * 8,
            Inner::Ed25519(_) => 256,
        }
    }

    /// The `p=` data: a SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1), the raw 32-octet
    /// public key for Ed25519 (RFC 8463 §4.2).
    pub fn public_key_data(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Rsa(key) => key
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default(),
            Inner::Ed25519(key) => key.public_key().as_ref().to_vec(),
        }
    }

    /// The key record to publish for this key: `v=DKIM1; k=...; p=...`.
    pub fn key_record(&self) -> KeyRecord {
        KeyRecord {
            v: Some("DKIM1".into()),
            h: None,
            k: self.key_type(),
            n: None,
            p: self.public_key_data(),
            s: vec!["*".into()],
            t: Vec::new(),
            g: None,
        }
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der: Vec<u8> = match &self.inner {
            Inner::Rsa(key) => key
                .as_der()
                .map_err(|e| KeyError::Rejected(e.to_string()))?
                .as_ref()
                .to_vec(),
            Inner::Ed25519(key) => key
                .to_pkcs8v1()
                .map_err(|e| KeyError::Rejected(e.to_string()))?
                .as_ref()
                .to_vec(),
        };
        Ok(pem_encode("PRIVATE KEY", &der))
    }

    /// Sign a finished header-hash digest (SHA-256) with this key.
    pub(crate) fn sign_digest(&self, digest: &digest::Digest) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Rsa(key) => {
                let mut out = vec![0u8; key.public_modulus_len()];
                key.sign_digest(&sig::RSA_PKCS1_SHA256, digest, &mut out)
                    .map_err(|e| KeyError::Rejected(e.to_string()))?;
                Ok(out)
            }
            // RFC 8463 §3: Ed25519 (PureEdDSA) signs the SHA-256 hash.
            Inner::Ed25519(key) => Ok(key.sign(digest.as_ref()).as_ref().to_vec()),
        }
    }
}

fn rsa_rejection(der: &[u8], error: aws_lc_rs::error::KeyRejected) -> KeyError {
    match der::rsa_private_modulus_bits(der) {
        Some(bits) if bits < 2048 => KeyError::RsaKeyTooShort { bits },
        _ => KeyError::Rejected(error.to_string()),
    }
}

/// A public key from a key record's `p=`, ready to verify. The aws-lc-rs form of an RSA
/// key is built on first use and kept, so a key reused across messages (see
/// [`crate::Verifier`]) is parsed once.
#[derive(Clone, Debug)]
pub struct PublicKey {
    inner: PublicInner,
}

#[derive(Clone, Debug)]
enum PublicInner {
    Rsa {
        /// Modulus, big-endian without leading zeros.
        n: Vec<u8>,
        /// Public exponent, likewise.
        e: Vec<u8>,
        sha256: OnceLock<Option<ParsedPublicKey>>,
        sha1: OnceLock<Option<ParsedPublicKey>>,
    },
    Ed25519([u8; 32]),
}

/// Why `p=` is not a usable key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublicKeyError {
    /// `p=` is not a DER RSA public key.
    #[error("p= is not an RSA public key")]
    NotRsa,
    /// RFC 8463 §4.2: the Ed25519 key is the raw 32 octets.
    #[error("p= is {0} octets; an Ed25519 key is 32 octets (RFC 8463 §4.2)")]
    Ed25519Length(usize),
}

/// Smallest RSA key verified at all, even for archives: shorter keys are factorable
/// on a laptop and prove nothing.
pub const HISTORIC_MIN_RSA_BITS: usize = 512;

impl PublicKey {
    /// Decode the key of a key record.
    pub fn from_record(record: &KeyRecord) -> Result<PublicKey, PublicKeyError> {
        let inner = match record.k {
            KeyType::Rsa => {
                let (n, e) = der::rsa_public_components(&record.p).ok_or(PublicKeyError::NotRsa)?;
                PublicInner::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                    sha256: OnceLock::new(),
                    sha1: OnceLock::new(),
                }
            }
            KeyType::Ed25519 => {
                let key: [u8; 32] = record
                    .p
                    .as_slice()
                    .try_into()
                    .map_err(|_| PublicKeyError::Ed25519Length(record.p.len()))?;
                PublicInner::Ed25519(key)
            }
        };
        Ok(PublicKey { inner })
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            PublicInner::Rsa { .. } => KeyType::Rsa,
            PublicInner::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The key size in bits (256 for Ed25519).
    pub fn bits(&self) -> usize {
        match &self.inner {
            PublicInner::Rsa { n, .. } => der::bit_length(n),
            PublicInner::Ed25519(_) => 256,
        }
    }

    /// Check `signature` over the header-hash `digest` (computed with `algorithm`'s hash).
    /// RSA keys under 1024 bits are checked only when `allow_short_rsa` (and never under
    /// [`HISTORIC_MIN_RSA_BITS`]).
    pub fn verify(
        &self,
        algorithm: SigningAlgorithm,
        digest: &digest::Digest,
        signature: &[u8],
        allow_short_rsa: bool,
    ) -> bool {
        match (&self.inner, algorithm.key_type()) {
            (PublicInner::Ed25519(key), KeyType::Ed25519) => {
                sig::UnparsedPublicKey::new(&sig::ED25519, key)
                    .verify(digest.as_ref(), signature)
                    .is_ok()
            }
            (PublicInner::Rsa { n, e, sha256, sha1 }, KeyType::Rsa) => {
                let bits = der::bit_length(n);
                if bits >= 1024 {
                    let (params, cell) = match algorithm.hash() {
                        HashAlgorithm::Sha256 => {
                            (&sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, sha256)
                        }
                        HashAlgorithm::Sha1 => {
                            (&sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, sha1)
                        }
                    };
                    let parsed = cell.get_or_init(|| {
                        RsaPublicKeyComponents {
                            n: n.as_slice(),
                            e: e.as_slice(),
                        }
                        .to_parsed_public_key(params)
                        .ok()
                    });
                    parsed
                        .as_ref()
                        .is_some_and(|key| key.verify_digest_sig(digest, signature).is_ok())
                } else if allow_short_rsa && bits >= HISTORIC_MIN_RSA_BITS {
                    legacy_rsa_verify(n, e, algorithm.hash(), digest.as_ref(), signature)
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) with public values only, for keys
/// aws-lc-rs will not take (under 1024 bits). The whole encoded message is rebuilt and
/// compared, never parsed, so no padding-parsing forgery applies.
fn legacy_rsa_verify(
    n: &[u8],
    e: &[u8],
    hash: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> bool {
    use num_bigint::BigUint;
    const SHA1_PREFIX: &[u8] = &[
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    const SHA256_PREFIX: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let k = n.len();
    // Step 1: "If the length of the signature S is not k octets, output invalid".
    if signature.len() != k {
        return false;
    }
    let modulus = BigUint::from_bytes_be(n);
    let s = BigUint::from_bytes_be(signature);
    if s >= modulus {
        return false;
    }
    let m = s.modpow(&BigUint::from_bytes_be(e), &modulus).to_bytes_be();
    let prefix = match hash {
        HashAlgorithm::Sha1 => SHA1_PREFIX,
        HashAlgorithm::Sha256 => SHA256_PREFIX,
    };
    let t_len = prefix.len() + digest.len();
    if k < t_len + 11 {
        return false;
    }
    let mut expected = Vec::with_capacity(k);
    expected.extend_from_slice(&[0x00, 0x01]);
    expected.resize(k - t_len - 1, 0xff);
    expected.push(0x00);
    expected.extend_from_slice(prefix);
    expected.extend_from_slice(digest);
    let mut em = vec![0u8; k.saturating_sub(m.len())];
    em.extend_from_slice(&m);
    em == expected
}

/// The digest algorithm for `hash`.
pub(crate) fn digest_algorithm(hash: HashAlgorithm) -> &'static digest::Algorithm {
    match hash {
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
    }
}

/// Decode the first PEM block of `text`: (label, DER).
fn pem_decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let begin = text.find("-----BEGIN ").ok_or(KeyError::UnknownFormat)?;
    let after = &text[begin + 11..];
    let label_end = after.find("-----").ok_or(KeyError::UnknownFormat)?;
    let label = after[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = after.find(&end_marker).ok_or(KeyError::UnknownFormat)?;
    if body_end < body_start {
        return Err(KeyError::UnknownFormat);
    }
    let body: Vec<u8> = after[body_start..body_end]
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = BASE64.decode(body).map_err(|_| KeyError::InvalidPem)?;
    Ok((label, der))
}

/// PEM with 64-column lines (RFC 7468 §2).
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_seed_gives_rfc8463_public_key() {
        let key = SigningKey::from_file_contents(b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n")
            .unwrap();
        assert_eq!(key.algorithm(), SigningAlgorithm::Ed25519Sha256);
        assert_eq!(
            BASE64.encode(key.public_key_data()),
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
        let pem = key.to_pkcs8_pem().unwrap();
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_key_data(), key.public_key_data());
    }

    #[test]
    fn short_rsa_keys_are_refused_with_their_size() {
        // The RFC 8463 Appendix A RSA key (1024 bits), as dkimpy ships it.
        let pem = include_str!("../tests/data/dkimpy/test.private");
        assert_eq!(
            SigningKey::from_pem(pem).unwrap_err(),
            KeyError::RsaKeyTooShort { bits: 1024 }
        );
    }

    #[test]
    fn unknown_formats() {
        assert_eq!(
            SigningKey::from_file_contents(b"hello").unwrap_err(),
            KeyError::UnknownFormat
        );
        assert_eq!(
            SigningKey::from_file_contents(
                b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n"
            )
            .unwrap_err(),
            KeyError::InvalidPem
        );
    }
}
