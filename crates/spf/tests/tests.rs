//! The integration tests of `sendwell-spf`, in one binary.

/// Shared helpers: a fault-injecting wrapper around `MockLookup`, a runtime.
mod support;

/// The open-spf RFC 7208 suite: all 203 cases.
mod openspf;

/// mail-auth's SPF cases, in their own line format.
mod mail_auth;

/// Property tests: parser round trip, no panics on any bytes or macro strings.
mod properties;

/// Trace, counts, explanations and headers of whole evaluations.
mod evaluation;

/// Sendwell against pyspf, both asking the same BIND server.
mod against_pyspf;
