//! An in-memory [`Lookup`] filled from zone-file-like text, for tests and benchmarks.
//!
//! ```text
//! ; comments start with ';' or '#'
//! example.com.        TXT   "v=spf1 ip4:192.0.2.0/24 " "-all"   ; several strings
//! example.com         A     192.0.2.1
//! example.com         AAAA  2001:db8::1
//! example.com         MX    10 mx.example.com
//! 192.0.2.1           PTR   mail.example.com     ; an IP is turned into its in-addr.arpa name
//! alias.example.com   CNAME example.com
//! old.example.com     SPF   "v=spf1 -all"        ; the obsolete type 99
//! slow.example.com    TIMEOUT                    ; every query for this name times out
//! broken.example.com  SERVFAIL                   ; every query for this name fails
//! ```
//!
//! A name with records of other types answers [`LookupError::NoData`]; so does an
//! empty non-terminal (a name that exists only because names below it do). Any other
//! name answers [`LookupError::NxDomain`]. CNAMEs are followed, up to 8 links.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use crate::name::{normalize_name, reverse_name};
use crate::{Lookup, LookupError, LookupResult, Mx, Txt};

/// How many CNAME links a lookup follows before it reports a server failure.
const MAX_CNAME_CHAIN: usize = 8;

/// One record (or simulated failure) held by a [`MockLookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MockRecord {
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// An MX record.
    Mx(Mx),
    /// A TXT record.
    Txt(Txt),
    /// A record of the obsolete SPF type 99.
    Spf(Txt),
    /// A PTR record (the target name).
    Ptr(String),
    /// A CNAME record (the canonical name).
    Cname(String),
    /// Every query for this name times out.
    Timeout,
    /// Every query for this name answers SERVFAIL.
    ServFail,
}

/// A line of mock zone text that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mock zone line {line}: {reason}")]
pub struct MockParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// An in-memory DNS, see the [module documentation](self).
#[derive(Debug, Default)]
pub struct MockLookup {
    records: HashMap<String, Vec<MockRecord>>,
    /// Every name that exists, including empty non-terminals.
    existing: HashSet<String>,
    log: Option<Mutex<Vec<String>>>,
}

impl MockLookup {
    /// An empty DNS: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read zone-file-like text (see the [module documentation](self)).
    pub fn from_zone(text: &str) -> Result<Self, MockParseError> {
        let mut mock = Self::new();
        mock.add_zone(text)?;
        Ok(mock)
    }

    /// Add the records of zone-file-like text.
    pub fn add_zone(&mut self, text: &str) -> Result<(), MockParseError> {
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let err = |reason: String| MockParseError { line, reason };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
                continue;
            }
            let (name, rest) = split_word(trimmed);
            let (rtype, data) = split_word(rest);
            let data = strip_comment(data).trim();
            let name = match name.parse::<IpAddr>() {
                Ok(ip) if rtype.eq_ignore_ascii_case("PTR") => reverse_name(ip),
                _ => name.to_string(),
            };
            let record = match rtype.to_ascii_uppercase().as_str() {
                "A" => MockRecord::A(data.parse().map_err(|e| err(format!("A {data:?}: {e}")))?),
                "AAAA" => MockRecord::Aaaa(
                    data.parse()
                        .map_err(|e| err(format!("AAAA {data:?}: {e}")))?,
                ),
                "MX" => {
                    let (pref, exchange) = split_word(data);
                    let preference = pref
                        .parse()
                        .map_err(|e| err(format!("MX preference {pref:?}: {e}")))?;
                    MockRecord::Mx(Mx {
                        preference,
                        exchange: trim_dot(exchange.trim()).to_string(),
                    })
                }
                "TXT" => MockRecord::Txt(parse_character_strings(data).map_err(err)?),
                "SPF" => MockRecord::Spf(parse_character_strings(data).map_err(err)?),
                "PTR" => MockRecord::Ptr(trim_dot(data).to_string()),
                "CNAME" => MockRecord::Cname(trim_dot(data).to_string()),
                "TIMEOUT" => MockRecord::Timeout,
                "SERVFAIL" => MockRecord::ServFail,
                "" => return Err(err("a record type is missing".into())),
                other => return Err(err(format!("unknown record type {other:?}"))),
            };
            self.try_add(&name, record)
                .map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }

    /// Add one record. Panics if `name` is not a valid DNS name (a test-writing error);
    /// see [`MockLookup::try_add`].
    pub fn add(&mut self, name: &str, record: MockRecord) -> &mut Self {
        if let Err(e) = self.try_add(name, record) {
            panic!("MockLookup::add({name:?}): {e}");
        }
        self
    }

    /// Add one record, refusing a name that is not a valid DNS name.
    pub fn try_add(&mut self, name: &str, record: MockRecord) -> Result<(), LookupError> {
        let name = normalize_name(name)?;
        let mut parent = name.as_str();
        loop {
            self.existing.insert(parent.to_string());
            match parent.find('.') {
                Some(dot) => parent = &parent[dot + 1..],
                None => break,
            }
        }
        self.records.entry(name).or_default().push(record);
        Ok(())
    }

    /// Record every query from now on; see [`MockLookup::queries`].
    pub fn with_query_log(mut self) -> Self {
        self.log = Some(Mutex::new(Vec::new()));
        self
    }

    /// The queries asked since [`MockLookup::with_query_log`], as `"TYPE name"`.
    pub fn queries(&self) -> Vec<String> {
        self.log
            .as_ref()
            .map(|log| log.lock().map(|l| l.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    fn answer<T>(
        &self,
        rtype: &str,
        name: &str,
        pick: impl Fn(&MockRecord) -> Option<T>,
    ) -> LookupResult<Vec<T>> {
        let mut name = normalize_name(name)?;
        if let Some(log) = &self.log
            && let Ok(mut log) = log.lock()
        {
            log.push(format!("{rtype} {name}"));
        }
        for _ in 0..=MAX_CNAME_CHAIN {
            let Some(records) = self.records.get(&name) else {
                return Err(if self.existing.contains(&name) {
                    LookupError::NoData
                } else {
                    LookupError::NxDomain
                });
            };
            if records.contains(&MockRecord::Timeout) {
                return Err(LookupError::Timeout);
            }
            if records.contains(&MockRecord::ServFail) {
                return Err(LookupError::ServerFailure(format!("SERVFAIL for {name}")));
            }
            let found: Vec<T> = records.iter().filter_map(&pick).collect();
            if !found.is_empty() {
                return Ok(found);
            }
            let cname = records.iter().find_map(|r| match r {
                MockRecord::Cname(target) => Some(target.clone()),
                _ => None,
            });
            match cname {
                Some(target) => name = normalize_name(&target)?,
                None => return Err(LookupError::NoData),
            }
        }
        Err(LookupError::ServerFailure(format!(
            "CNAME chain longer than {MAX_CNAME_CHAIN} links"
        )))
    }
}

impl Lookup for MockLookup {
    async fn lookup_a(&self, name: &str) -> LookupResult<Vec<Ipv4Addr>> {
        self.answer("A", name, |r| match r {
            MockRecord::A(ip) => Some(*ip),
            _ => None,
        })
    }

    async fn lookup_aaaa(&self, name: &str) -> LookupResult<Vec<Ipv6Addr>> {
        self.answer("AAAA", name, |r| match r {
            MockRecord::Aaaa(ip) => Some(*ip),
            _ => None,
        })
    }

    async fn lookup_mx(&self, name: &str) -> LookupResult<Vec<Mx>> {
        self.answer("MX", name, |r| match r {
            MockRecord::Mx(mx) => Some(mx.clone()),
            _ => None,
        })
    }

    async fn lookup_txt(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.answer("TXT", name, |r| match r {
            MockRecord::Txt(txt) => Some(txt.clone()),
            _ => None,
        })
    }

    async fn lookup_ptr(&self, ip: IpAddr) -> LookupResult<Vec<String>> {
        self.answer("PTR", &reverse_name(ip), |r| match r {
            MockRecord::Ptr(target) => Some(target.clone()),
            _ => None,
        })
    }

    async fn lookup_spf_rr(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.answer("SPF", name, |r| match r {
            MockRecord::Spf(txt) => Some(txt.clone()),
            _ => None,
        })
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

fn trim_dot(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

/// Drop a `;` comment that is outside quotes.
fn strip_comment(s: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => return &s[..i],
            _ => {}
        }
    }
    s
}

/// Zone-file character-strings (RFC 1035 §5.1): quoted strings with `\"`, `\\` and
/// `\DDD` escapes, or one unquoted word-run taken whole.
fn parse_character_strings(data: &str) -> Result<Txt, String> {
    if !data.starts_with('"') {
        return Ok(Txt::new([data.as_bytes().to_vec()]));
    }
    let bytes = data.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                let mut current = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes
                                .get(i + 1..i + 4)
                                .filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(d) = digits {
                                let value = u32::from(d[0] - b'0') * 100
                                    + u32::from(d[1] - b'0') * 10
                                    + u32::from(d[2] - b'0');
                                let octet = u8::try_from(value)
                                    .map_err(|_| format!("escape \\{value} is over 255"))?;
                                current.push(octet);
                                i += 4;
                            } else if let Some(&c) = bytes.get(i + 1) {
                                current.push(c);
                                i += 2;
                            } else {
                                return Err("a backslash ends the line".into());
                            }
                        }
                        Some(&c) => {
                            current.push(c);
                            i += 1;
                        }
                    }
                }
                strings.push(current);
            }
            other => {
                return Err(format!(
                    "expected a quoted string, found {:?}",
                    char::from(other)
                ));
            }
        }
    }
    Ok(Txt { strings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const ZONE: &str = r#"
        ; a test zone
        example.com.  TXT  "v=spf1 " "-all"  ; two strings
        example.com   A    192.0.2.1
        example.com   MX   10 mx.example.com.
        192.0.2.1     PTR  mail.example.com
        alias.example.com CNAME example.com
        loop1.example.com CNAME loop2.example.com
        loop2.example.com CNAME loop1.example.com
        a.b.deep.example.com A 192.0.2.2
        slow.example.com TIMEOUT
        bad.example.com SERVFAIL
        esc.example.com TXT "semi;colon \"q\" \065"
    "#;

    #[test]
    fn answers_like_a_zone() {
        let dns = MockLookup::from_zone(ZONE).unwrap();
        block(async {
            let txt = dns.lookup_txt("EXAMPLE.com.").await.unwrap();
            assert_eq!(txt[0].strings.len(), 2);
            assert_eq!(txt[0].to_string_lossy(), "v=spf1 -all");
            assert_eq!(
                dns.lookup_a("alias.example.com").await.unwrap(),
                vec![Ipv4Addr::new(192, 0, 2, 1)]
            );
            assert_eq!(
                dns.lookup_mx("example.com").await.unwrap()[0].exchange,
                "mx.example.com"
            );
            assert_eq!(
                dns.lookup_ptr("192.0.2.1".parse().unwrap()).await.unwrap(),
                vec!["mail.example.com".to_string()]
            );
            assert_eq!(
                dns.lookup_aaaa("example.com").await,
                Err(LookupError::NoData)
            );
            assert_eq!(
                dns.lookup_a("deep.example.com").await,
                Err(LookupError::NoData)
            );
            assert_eq!(
                dns.lookup_a("nope.example.com").await,
                Err(LookupError::NxDomain)
            );
            assert_eq!(
                dns.lookup_a("slow.example.com").await,
                Err(LookupError::Timeout)
            );
            assert!(matches!(
                dns.lookup_a("bad.example.com").await,
                Err(LookupError::ServerFailure(_))
            ));
            assert!(matches!(
                dns.lookup_a("loop1.example.com").await,
                Err(LookupError::ServerFailure(_))
            ));
            assert_eq!(
                dns.lookup_txt("esc.example.com").await.unwrap()[0].to_string_lossy(),
                "semi;colon \"q\" A"
            );
            assert!(matches!(
                dns.lookup_a("a..b").await,
                Err(LookupError::InvalidName(_))
            ));
        });
    }

    #[test]
    fn rejects_bad_lines() {
        assert_eq!(MockLookup::from_zone("x.com BOGUS 1").unwrap_err().line, 1);
        assert!(MockLookup::from_zone("\nx.com A 1.2.3").is_err());
        assert!(MockLookup::from_zone("x.com TXT \"open").is_err());
        assert!(MockLookup::from_zone("x.com").is_err());
    }

    #[test]
    fn logs_queries() {
        let dns = MockLookup::from_zone(ZONE).unwrap().with_query_log();
        block(async {
            let _ = dns.lookup_a("example.com").await;
            let _ = dns.lookup_txt("Example.com").await;
        });
        assert_eq!(dns.queries(), vec!["A example.com", "TXT example.com"]);
    }
}
