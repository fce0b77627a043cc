//! The one DNS lookup abstraction every Sendwell protocol engine uses.
//!
//! SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489, RFC 9989) and iprev (RFC 8601 §3)
//! all judge a message from DNS answers, and they care about *why* an answer is missing:
//! RFC 7208 §4.6.4 counts "void lookups" (NXDOMAIN or no data) separately from failures,
//! RFC 6376 §6.1.2 turns a server failure into `temperror` but a missing key into `permerror`.
//! So [`LookupError`] keeps timeout, NXDOMAIN, no data and server failure apart.
//!
//! Design decision: protocol crates never open sockets. They take `&impl Lookup`;
//! the binary gives them [`HickoryLookup`] (a real resolver, the system's or one
//! named with `--resolver IP:PORT`), and tests give them [`MockLookup`], filled
//! from zone-file-like text.

#![warn(missing_docs)]

mod hickory;
mod mock;
mod name;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub use hickory::{HickoryLookup, ResolverInitError};
pub use mock::{MockLookup, MockParseError, MockRecord};
pub use name::{normalize_name, reverse_name};

/// One MX resource record (RFC 1035 §3.3.9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mx {
    /// Lower is preferred (RFC 5321 §5.1).
    pub preference: u16,
    /// The mail exchanger's host name, without the trailing dot. `""` is the
    /// root, which with preference 0 is a null MX (RFC 7505).
    pub exchange: String,
}

/// One TXT resource record (RFC 1035 §3.3.14): its character-strings as received.
///
/// A TXT record is a list of strings of at most 255 octets each. SPF (RFC 7208 §3.3)
/// and DKIM (RFC 6376 §3.6.2.2) join them with no separator; linting needs them apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Txt {
    /// The character-strings, in order, as raw octets (not necessarily UTF-8).
    pub strings: Vec<Vec<u8>>,
}

impl Txt {
    /// A TXT record of one string per item.
    pub fn new<I, S>(strings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Txt {
            strings: strings.into_iter().map(Into::into).collect(),
        }
    }

    /// The strings concatenated with no separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    pub fn joined(&self) -> Vec<u8> {
        self.strings.concat()
    }

    /// [`Txt::joined`], with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.joined()).into_owned()
    }
}

/// Why a lookup gave no records.
///
/// These are the distinctions the mail-authentication RFCs draw; everything else a
/// resolver can report is folded into [`LookupError::ServerFailure`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No answer arrived in time. A temporary failure.
    #[error("the DNS query timed out")]
    Timeout,
    /// The name does not exist (RCODE 3, NXDOMAIN). A "void lookup" in RFC 7208 §4.6.4.
    #[error("the domain does not exist (NXDOMAIN)")]
    NxDomain,
    /// The name exists but holds no records of the type asked for (NOERROR with an
    /// empty answer, "NODATA"). Also a "void lookup" in RFC 7208 §4.6.4.
    #[error("the domain has no records of this type")]
    NoData,
    /// The server answered SERVFAIL or REFUSED, or the answer could not be used.
    /// A temporary failure.
    #[error("DNS server failure: {0}")]
    ServerFailure(String),
    /// The name given cannot be a DNS name (an empty label, a label over 63 octets,
    /// a name over 253 octets). Nothing was sent.
    #[error("not a valid domain name: {0}")]
    InvalidName(String),
}

impl LookupError {
    /// NXDOMAIN or no data: the lookups RFC 7208 §4.6.4 calls "void".
    pub fn is_void(&self) -> bool {
        matches!(self, LookupError::NxDomain | LookupError::NoData)
    }

    /// A failure that may go away if asked again later (timeout or server failure).
    pub fn is_temporary(&self) -> bool {
        matches!(self, LookupError::Timeout | LookupError::ServerFailure(_))
    }
}

/// What a lookup returns.
pub type LookupResult<T> = Result<T, LookupError>;

/// DNS lookups as the mail-authentication protocols need them.
///
/// Duties of an implementer:
/// - Names are given without a trailing dot and are fully qualified: no search list.
/// - CNAMEs are followed; the records returned are those of the canonical name.
/// - An empty answer is never `Ok(vec![])`: it is [`LookupError::NoData`] (or
///   [`LookupError::NxDomain`] when the name does not exist).
/// - Host names in answers (MX exchange, PTR target) come without the trailing dot.
/// - TXT strings are returned as raw octets, split as on the wire.
pub trait Lookup: Send + Sync {
    /// IPv4 addresses of `name` (A records).
    fn lookup_a(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Ipv4Addr>>> + Send;
    /// IPv6 addresses of `name` (AAAA records).
    fn lookup_aaaa(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Ipv6Addr>>> + Send;
    /// Mail exchangers of `name`, in the order received (callers sort by preference).
    fn lookup_mx(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Mx>>> + Send;
    /// TXT records of `name`.
    fn lookup_txt(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Txt>>> + Send;
    /// Names of `ip` (PTR records under in-addr.arpa or ip6.arpa).
    fn lookup_ptr(&self, ip: IpAddr) -> impl Future<Output = LookupResult<Vec<String>>> + Send;
    /// Records of the obsolete SPF RR type 99 (RFC 7208 §3.1 says not to publish them;
    /// only linting asks). The default answers [`LookupError::NoData`].
    fn lookup_spf_rr(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Txt>>> + Send {
        let _ = name;
        async { Err(LookupError::NoData) }
    }
}

macro_rules! forward_lookup {
    ($($ty:ty),*) => {$(
        impl<L: Lookup + ?Sized> Lookup for $ty {
            fn lookup_a(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Ipv4Addr>>> + Send {
                (**self).lookup_a(name)
            }
            fn lookup_aaaa(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Ipv6Addr>>> + Send {
                (**self).lookup_aaaa(name)
            }
            fn lookup_mx(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Mx>>> + Send {
                (**self).lookup_mx(name)
            }
            fn lookup_txt(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Txt>>> + Send {
                (**self).lookup_txt(name)
            }
            fn lookup_ptr(&self, ip: IpAddr) -> impl Future<Output = LookupResult<Vec<String>>> + Send {
                (**self).lookup_ptr(ip)
            }
            fn lookup_spf_rr(&self, name: &str) -> impl Future<Output = LookupResult<Vec<Txt>>> + Send {
                (**self).lookup_spf_rr(name)
            }
        }
    )*};
}
forward_lookup!(&L, Arc<L>, Box<L>);

/// A boxed lookup future, for [`DynLookup`].
pub type LookupFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = LookupResult<T>> + Send + 'a>>;

/// [`Lookup`] as a trait object, for services that hold "some resolver" without
/// being generic over it (the SMTP server's inbound checks). Every [`Lookup`] is one;
/// `dyn DynLookup` (and `Arc<dyn DynLookup>`) is a [`Lookup`] again, at the cost of
/// one allocation per query.
pub trait DynLookup: Send + Sync {
    /// [`Lookup::lookup_a`].
    fn dyn_a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>>;
    /// [`Lookup::lookup_aaaa`].
    fn dyn_aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>>;
    /// [`Lookup::lookup_mx`].
    fn dyn_mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>>;
    /// [`Lookup::lookup_txt`].
    fn dyn_txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Txt>>;
    /// [`Lookup::lookup_ptr`].
    fn dyn_ptr(&self, ip: IpAddr) -> LookupFuture<'_, Vec<String>>;
    /// [`Lookup::lookup_spf_rr`].
    fn dyn_spf_rr<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Txt>>;
}

impl<L: Lookup> DynLookup for L {
    fn dyn_a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        Box::pin(self.lookup_a(name))
    }
    fn dyn_aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        Box::pin(self.lookup_aaaa(name))
    }
    fn dyn_mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        Box::pin(self.lookup_mx(name))
    }
    fn dyn_txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Txt>> {
        Box::pin(self.lookup_txt(name))
    }
    fn dyn_ptr(&self, ip: IpAddr) -> LookupFuture<'_, Vec<String>> {
        Box::pin(self.lookup_ptr(ip))
    }
    fn dyn_spf_rr<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Txt>> {
        Box::pin(self.lookup_spf_rr(name))
    }
}

// (`async fn` rather than the boxed future itself: the future borrows `self` and
// `name` for lifetimes of their own.)
impl Lookup for dyn DynLookup {
    async fn lookup_a(&self, name: &str) -> LookupResult<Vec<Ipv4Addr>> {
        self.dyn_a(name).await
    }
    async fn lookup_aaaa(&self, name: &str) -> LookupResult<Vec<Ipv6Addr>> {
        self.dyn_aaaa(name).await
    }
    async fn lookup_mx(&self, name: &str) -> LookupResult<Vec<Mx>> {
        self.dyn_mx(name).await
    }
    async fn lookup_txt(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.dyn_txt(name).await
    }
    async fn lookup_ptr(&self, ip: IpAddr) -> LookupResult<Vec<String>> {
        self.dyn_ptr(ip).await
    }
    async fn lookup_spf_rr(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.dyn_spf_rr(name).await
    }
}
