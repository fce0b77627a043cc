//! SMTP vocabulary: the words both ends of an SMTP conversation use, with no I/O.
//!
//! SMTP (RFC 5321) moves mail from one server to the next: the client names the
//! sender (`MAIL FROM`), each recipient (`RCPT TO`), then sends the message (`DATA`),
//! and the server answers every step with a three-digit reply code. This crate holds
//! the types for those words, named after the RFC's nouns, so that the server
//! (`sendwell-smtp-server`) and the delivery client (the queue) share one spelling:
//!
//! - [`reply`]: [`ReplyCode`] (RFC 5321 §4.2), named number plus meaning, and [`Reply`].
//! - [`enhanced`]: [`EnhancedStatusCode`] (RFC 3463, registry RFC 5248).
//! - [`path`]: [`Mailbox`], [`ReversePath`], [`ForwardPath`] (RFC 5321 §4.1.2,
//!   internationalised by RFC 6531 §3.3).
//! - [`params`]: `MAIL`/`RCPT` parameters (SIZE RFC 1870, BODY RFC 6152, SMTPUTF8
//!   RFC 6531, AUTH RFC 4954).
//! - [`command`]: [`Command`], parsed from a line and written back with `Display`.
//! - [`data`]: [`DataReader`], the sans-I/O DATA reader that ends a message only at
//!   `<CRLF>.<CRLF>` and finds bare CR and LF (the SMTP-smuggling defence).
//! - [`sasl`]: the PLAIN (RFC 4616) and LOGIN messages of `AUTH` (RFC 4954).
//! - [`extension`]: the EHLO keywords we announce.
//!
//! Design decision: everything here is a pure function of bytes, so it is cheap to
//! property-test and fuzz (`fuzz/fuzz_targets/smtp_*.rs`); sockets, TLS and time live
//! in the server crate.

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod command;
pub mod data;
pub mod enhanced;
pub mod extension;
pub mod params;
pub mod path;
pub mod reply;
pub mod sasl;

pub use command::{Command, CommandError};
pub use data::{BareLineEndings, DataEnd, DataReader, DataVerdict};
pub use enhanced::EnhancedStatusCode;
pub use extension::Extension;
pub use params::{Body, MailParameters, ParamError, RcptParameters};
pub use path::{Domain, ForwardPath, LocalPart, MailDomain, Mailbox, PathError, ReversePath};
pub use reply::{Reply, ReplyCode};

/// Limits on sizes the RFC sets (RFC 5321 §4.5.3.1).
pub mod limits {
    /// "The maximum total length of a user name or other local-part is 64 octets"
    /// (RFC 5321 §4.5.3.1.1).
    pub const MAX_LOCAL_PART: usize = 64;
    /// "The maximum total length of a domain name or number is 255 octets"
    /// (RFC 5321 §4.5.3.1.2).
    pub const MAX_DOMAIN: usize = 255;
    /// "The maximum total length of a reverse-path or forward-path is 256 octets
    /// (including the punctuation and element separators)" (RFC 5321 §4.5.3.1.3).
    pub const MAX_PATH: usize = 256;
    /// "The maximum total length of a command line including the command word and the
    /// <CRLF> is 512 octets" (RFC 5321 §4.5.3.1.4). SMTP extensions may raise it
    /// (RFC 1870 adds 26 octets to MAIL; RFC 4954 §4 allows 12288 for AUTH).
    pub const MAX_COMMAND_LINE: usize = 512;
    /// "The maximum total length of a text line including the <CRLF> is 1000 octets
    /// (not counting the leading dot duplicated for transparency)" (RFC 5321 §4.5.3.1.6).
    pub const MAX_TEXT_LINE: usize = 1000;
    /// "The minimum total number of recipients that MUST be buffered is 100
    /// recipients" (RFC 5321 §4.5.3.1.8).
    pub const MIN_RECIPIENTS: usize = 100;
    /// "An SMTP server SHOULD have a timeout of at least 5 minutes while it is awaiting
    /// the next command from the sender" (RFC 5321 §4.5.3.2.7), in seconds.
    pub const MIN_SERVER_COMMAND_TIMEOUT_SECS: u64 = 5 * 60;
    /// The client's timeout for sending one block of message data, "3 minutes" (RFC
    /// 5321 §4.5.3.2.5), in seconds: a server waiting less for data can cut off a
    /// client that is within its rights.
    pub const DATA_BLOCK_TIMEOUT_SECS: u64 = 3 * 60;
}
