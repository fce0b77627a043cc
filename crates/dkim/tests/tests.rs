//! The integration tests of sendwell-dkim, one binary (modules below).

/// Helpers: test data paths, a blocking runtime, mock DNS from key lists.
mod common;
/// dkimpy 1.1.8's test data: verify-only vectors and sign-then-verify cases.
mod corpus_dkimpy;
/// mail-auth's DKIM vectors (RFC 8463 Appendix A and real-world messages).
mod corpus_mail_auth;
/// The Perl Mail::DKIM verifier corpus (t/corpus), with its expected results.
mod corpus_mail_dkim;
/// Hostile and malformed messages: processing limits, linear work, lines without a colon.
mod hostile;
/// Property tests: parsers never panic, round trips, streaming equals one-shot.
mod properties;
/// Messages as the real world sends them: 8-bit, quoted-printable, folded, LF-only, …
mod real_world;
/// RFC 6376 §3.4.5 canonicalization, RFC 8463 Appendix A byte for byte.
mod rfc;
/// Tampering with signed messages and the oracle that says what may still pass
/// (shared with the fuzz target dkim_verify).
mod tamper;
