//! Exit codes, documented in the README ("Exit codes").
//!
//! 0 is success (for checks: the result a sender wants, such as SPF `pass`).
//! 1 is "sendwell could not do what was asked" (bad input file, I/O, config).
//! 2 is a usage error (clap's own code).
//! 10 and up are protocol outcomes: a check ran to the end and the answer is not a pass.

/// Sendwell could not run the command (I/O, configuration, bad input).
pub const ERROR: u8 = 1;
