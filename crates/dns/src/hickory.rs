//! The production [`Lookup`]: hickory-resolver, with the system's resolvers or one
//! named on the command line (`--resolver IP:PORT`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};

use crate::name::{normalize_name, reverse_name};
use crate::{Lookup, LookupError, LookupResult, Mx, Txt};

/// The system resolver configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the system DNS configuration (/etc/resolv.conf): {0}; pass --resolver IP:PORT"
)]
pub struct ResolverInitError(String);

/// A [`Lookup`] backed by hickory-resolver.
#[derive(Clone)]
pub struct HickoryLookup {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryLookup").finish_non_exhaustive()
    }
}

/// Resolver options shared by both constructors: answers are taken as given (no
/// search list, no hosts file), and a query gives up after 5 s × 2 attempts, the
/// order RFC 7208 §4.6.4 suggests for a whole SPF evaluation (20 s).
fn options(mut opts: ResolverOpts) -> ResolverOpts {
    opts.ndots = 0;
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 2;
    opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
    opts.edns0 = true;
    opts
}

impl HickoryLookup {
    /// Use the resolvers of `/etc/resolv.conf`.
    pub fn system() -> Result<Self, ResolverInitError> {
        let mut builder =
            TokioResolver::builder_tokio().map_err(|e| ResolverInitError(e.to_string()))?;
        let opts = options(builder.options_mut().clone());
        *builder.options_mut() = opts;
        let resolver = builder
            .build()
            .map_err(|e| ResolverInitError(e.to_string()))?;
        Ok(HickoryLookup { resolver })
    }

    /// Send every query to one server, over UDP with TCP fallback.
    pub fn with_server(server: SocketAddr) -> Self {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let ns = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = options(builder.options_mut().clone());
        *builder.options_mut() = opts;
        // Building from an explicit configuration does not read the system and cannot fail
        // for UDP/TCP servers; should it ever, fall back to an unusable-but-safe error path.
        let resolver = builder
            .build()
            .expect("a resolver with one plain UDP/TCP server always builds");
        HickoryLookup { resolver }
    }

    /// [`HickoryLookup::with_server`] when `server` is given, else [`HickoryLookup::system`].
    pub fn new(server: Option<SocketAddr>) -> Result<Self, ResolverInitError> {
        match server {
            Some(addr) => Ok(Self::with_server(addr)),
            None => Self::system(),
        }
    }

    async fn query(&self, name: &str, rtype: RecordType) -> LookupResult<Vec<RData>> {
        let normalized = normalize_name(name)?;
        let fqdn = if normalized.is_ascii() {
            Name::from_ascii(format!("{normalized}."))
        } else {
            Name::from_utf8(format!("{normalized}."))
        }
        .map_err(|e| LookupError::InvalidName(format!("{name:?}: {e}")))?;
        let lookup = self.resolver.lookup(fqdn, rtype).await.map_err(map_error)?;
        let data: Vec<RData> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data.clone())
            .collect();
        if data.is_empty() {
            return Err(LookupError::NoData);
        }
        Ok(data)
    }
}

fn map_error(error: NetError) -> LookupError {
    match error {
        NetError::Timeout => LookupError::Timeout,
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            if no.response_code == ResponseCode::NXDomain {
                LookupError::NxDomain
            } else {
                LookupError::NoData
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            LookupError::ServerFailure(format!("the server answered {code}"))
        }
        NetError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => LookupError::Timeout,
        other => LookupError::ServerFailure(other.to_string()),
    }
}

fn host_name(name: &Name) -> String {
    let s = name.to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_string()
}

/// Split RDATA of the SPF type (same wire format as TXT) into its character-strings.
fn character_strings(mut rdata: &[u8]) -> Txt {
    let mut strings = Vec::new();
    while let Some((&len, rest)) = rdata.split_first() {
        let len = usize::from(len).min(rest.len());
        strings.push(rest[..len].to_vec());
        rdata = &rest[len..];
    }
    Txt { strings }
}

impl Lookup for HickoryLookup {
    async fn lookup_a(&self, name: &str) -> LookupResult<Vec<Ipv4Addr>> {
        let data = self.query(name, RecordType::A).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn lookup_aaaa(&self, name: &str) -> LookupResult<Vec<Ipv6Addr>> {
        let data = self.query(name, RecordType::AAAA).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn lookup_mx(&self, name: &str) -> LookupResult<Vec<Mx>> {
        let data = self.query(name, RecordType::MX).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::MX(mx) => Some(Mx {
                    preference: mx.preference,
                    exchange: host_name(&mx.exchange),
                }),
                _ => None,
            })
            .collect())
    }

    async fn lookup_txt(&self, name: &str) -> LookupResult<Vec<Txt>> {
        let data = self.query(name, RecordType::TXT).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::TXT(txt) => Some(Txt {
                    strings: txt.txt_data.iter().map(|s| s.to_vec()).collect(),
                }),
                _ => None,
            })
            .collect())
    }

    async fn lookup_ptr(&self, ip: IpAddr) -> LookupResult<Vec<String>> {
        let data = self.query(&reverse_name(ip), RecordType::PTR).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::PTR(ptr) => Some(host_name(&ptr.0)),
                _ => None,
            })
            .collect())
    }

    async fn lookup_spf_rr(&self, name: &str) -> LookupResult<Vec<Txt>> {
        let data = self.query(name, RecordType::Unknown(99)).await?;
        Ok(data
            .into_iter()
            .filter_map(|d| match d {
                RData::Unknown { rdata, .. } => Some(character_strings(&rdata.anything)),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_character_strings() {
        let txt = character_strings(b"\x03abc\x00\x02de");
        assert_eq!(txt.strings, vec![b"abc".to_vec(), vec![], b"de".to_vec()]);
        // A length running past the end is cut, never a panic.
        assert_eq!(character_strings(b"\x09ab").strings, vec![b"ab".to_vec()]);
    }
}
