//! DKIM, DomainKeys Identified Mail (RFC 6376), with Ed25519 (RFC 8463) and the
//! cryptographic updates of RFC 8301.
//!
//! DKIM is how a receiver learns that a domain vouches for a message: the sender signs
//! chosen header fields and the body with a private key, and publishes the public key in
//! DNS at `selector._domainkey.domain`. A receiver recomputes the hashes, fetches the key
//! and checks the signature. Without a DKIM signature that passes (and aligns with the
//! From domain, which is DMARC's job) a self-hosted sender does not get delivered.
//!
//! What is here, by file:
//! - `tag_list`: the tag=value syntax of §3.2; `signature`: the DKIM-Signature field
//!   (§3.5) as [`Signature`]; `key_record`: the DNS key record (§3.6.1) as [`KeyRecord`].
//! - `message`: an exact header/body splitter; `canonicalize`: §3.4, streaming;
//!   `hash`: the body and header hashes of §3.7.
//! - `crypto`: [`SigningKey`] (parsed once, reused) and [`PublicKey`], on aws-lc-rs.
//! - `sign`: [`Signer`] and [`sign_all`] (dual signing, one pass over the body).
//! - `verify`: [`verify`], every signature with a [`DkimResult`] and a [`Reason`];
//!   [`Verifier`] keeps parsed keys across messages.
//! - `keygen`: new keys and the TXT record; `record_check`: the DNS record checker.
//!
//! Why our own and not mail-auth: exact control of the bytes hashed (no MIME parser in
//! the way), one pass over the body for several signatures, results with reasons a
//! person can act on, RFC 8301 by default, and speed (see BENCHMARKS.md).
//!
//! ```
//! # async fn demo() {
//! use sendwell_dkim::{KeyAlgorithm, Signer, keygen, verify};
//! use sendwell_dns::MockLookup;
//!
//! let generated = keygen("example.com", "s1", KeyAlgorithm::Ed25519).unwrap();
//! let signer = Signer::new(generated.key, "example.com", "s1").unwrap();
//! let message = b"From: a@example.com\r\nSubject: hi\r\n\r\nHello.\r\n";
//! let field = signer.sign(message, 1_700_000_000).unwrap();
//! let signed = [field.as_bytes(), message].concat();
//!
//! let dns = MockLookup::from_zone(&format!(
//!     "{} TXT \"{}\"",
//!     generated.record_name, generated.record_value
//! ))
//! .unwrap();
//! let results = verify(&dns, &signed, 1_700_000_000).await;
//! assert_eq!(results[0].result.to_string(), "pass");
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod canonicalize;
mod crypto;
mod der;
pub mod hash;
mod key_record;
mod keygen;
pub mod message;
mod record_check;
mod result;
mod sign;
mod signature;
pub mod tag_list;
mod verify;

pub use crypto::{HISTORIC_MIN_RSA_BITS, KeyError, PublicKey, PublicKeyError, SigningKey};
pub use key_record::{KeyRecord, KeyRecordError};
pub use keygen::{
    GeneratedKey, KeyAlgorithm, KeygenError, MAX_TXT_STRING, keygen, txt_strings,
    write_private_key, zone_file_record,
};
pub use record_check::{Finding, RecordCheck, Severity, check_record, check_record_text};
pub use result::{DkimResult, DkimVerification, Reason, Warning};
pub use sign::{
    DEFAULT_HEADERS, HeaderSelection, OVERSIGNED_HEADERS, SignError, Signer, sign_all,
    sign_with_field,
};
pub use signature::{
    Canonicalization, CanonicalizationAlgorithm, HEADER_NAME, HashAlgorithm, KeyType,
    MAX_HEADER_NAMES, ParseOptions, Signature, SignatureError, SigningAlgorithm,
    decode_quoted_printable, encode_quoted_printable,
};
pub use verify::{KEY_CACHE_SIZE, MAX_SIGNATURES, Verifier, VerifyPolicy, verify, verify_with};
