//! Outbound mail: how a message accepted for relay reaches each recipient's server.
//!
//! - [`route`]: where to send for a domain (RFC 5321 §5.1): MX records in preference
//!   order with a random pick among equals, the implicit MX when there is none, and the
//!   null MX of RFC 7505, which means "this domain takes no mail" and bounces at once.
//! - [`client`]: one SMTP transaction with one server: EHLO, opportunistic or required
//!   STARTTLS (RFC 3207), PIPELINING (RFC 2920), SIZE, 8BITMIME and SMTPUTF8 parameters,
//!   and DATA with exact dot-stuffing and CRLF line endings, so nothing bare ever leaves
//!   (no outbound SMTP smuggling). Each recipient gets its own outcome.
//! - [`deliver`]: both together: every host of the route in turn until one completes the
//!   transaction.
//! - [`dsn`]: the RFC 3464 delivery status notification sent to the envelope sender when
//!   a recipient fails for good (or, optionally, is delayed).
//! - [`retry`]: when to try again after a temporary failure, and when to give up.
//!
//! - [`agent`]: the remote delivery agent of `sendwell serve`: due recipients from the
//!   queue, bounded concurrency per destination, outcomes recorded, bounces queued.
//!
//! Design decision: the client knows nothing of the queue's storage. It takes a message
//! and an envelope and returns a per-recipient verdict, so the same code serves
//! `sendwell send` and the agent; only the agent reads and writes the queue, through
//! the `QueueStore` trait.

pub mod agent;
pub mod client;
pub mod deliver;
pub mod dsn;
pub mod retry;
pub mod route;
mod tls;
pub mod wire;

pub use agent::{AgentConfig, BounceRoute, RemoteDelivery};
pub use client::{
    ClientConfig, Credentials, Envelope, RecipientOutcome, SessionError, Timeouts, TlsPolicy,
    TransactionReport,
};
pub use deliver::{
    DeliveryReport, HostAttempt, RemoteReply, SessionCache, deliver, deliver_cached, deliver_via,
};
pub use route::{AddressPreference, MxHost, Route, RouteError, resolve_route};
pub use tls::{TrustAnchors, opportunistic as opportunistic_tls};
