//! The integration tests of sendwell-dmarc, one binary.

/// Shared helpers: a runtime, a mock DNS, one evaluation.
mod support;

/// Policy discovery and the verdict through a real DNS server (BIND on loopback).
mod against_bind;
/// A table of alignment cases, in both discovery methods.
mod alignment_table;
/// Property tests: round trips, no panics, bounded DNS work.
mod proptests;
/// The Public Suffix List's own vectors (tests.txt and test_psl.txt).
mod psl;
/// RFC 9989 tree-walk, np, psd, t and invalid-record scenarios (ported from the RFC 9989
/// Appendix B.4 compliance cases of postalsys/mailauth, expectations from the RFC).
mod rfc9989_scenarios;
/// Examples from RFC 7489 and RFC 9989 (Appendix B).
mod rfc_examples;
