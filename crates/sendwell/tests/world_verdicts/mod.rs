//! The receiver's verdicts on a delivered message, read as a program reads them: every
//! `Authentication-Results` field that the world's MX (authserv-id `mx.receiver.test`)
//! added, parsed with `sendwell_auth_results`, and each required result looked up as one
//! result with all its properties (so `dkim=pass` of one signature and `header.a=` of
//! another never add up to a pass).
//!
//! In the world, OpenDKIM writes `dkim=`, OpenDMARC `dmarc=` and the second policyd-spf
//! instance `spf=` (see `sendwell_testkit::world`).

use sendwell_auth_results::{ResInfo, parse_header};
use sendwell_testkit::world::MX_HOSTNAME;

/// The results the MX recorded.
pub struct Verdicts {
    /// Every result of every Authentication-Results field of the MX, in header order.
    pub results: Vec<ResInfo>,
    /// The header section, for failure messages.
    pub header: String,
}

impl Verdicts {
    /// Read the header section of a delivered message (LF or CRLF line endings).
    pub fn of(message: &[u8]) -> Verdicts {
        let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
        let header = text.split("\n\n").next().unwrap_or_default().to_string();
        // RFC 5322 §2.2.3: unfold, so each field is one line.
        let mut fields: Vec<String> = Vec::new();
        for line in header.lines() {
            match (line.starts_with([' ', '\t']), fields.last_mut()) {
                (true, Some(last)) => {
                    last.push(' ');
                    last.push_str(line.trim_start());
                }
                _ => fields.push(line.to_string()),
            }
        }
        let mut results = Vec::new();
        for field in &fields {
            let is_ar = field.split_once(':').is_some_and(|(name, _)| {
                name.trim().eq_ignore_ascii_case("Authentication-Results")
            });
            if !is_ar {
                continue;
            }
            let parsed = parse_header(field)
                .unwrap_or_else(|e| panic!("unparsable Authentication-Results ({e}): {field}"));
            if parsed.authserv_id.eq_ignore_ascii_case(MX_HOSTNAME) {
                results.extend(parsed.results);
            }
        }
        Verdicts { results, header }
    }

    fn find(&self, method: &str, pred: impl Fn(&ResInfo) -> bool) -> Option<&ResInfo> {
        self.results
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method) && pred(r))
    }

    fn has(r: &ResInfo, ptype: &str, property: &str, value: &str) -> bool {
        r.get(ptype, property)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    /// `spf=pass smtp.mailfrom=<domain or address in domain>`.
    pub fn assert_spf_pass(&self, domain: &str) {
        let found = self.find("spf", |r| {
            r.result.eq_ignore_ascii_case("pass")
                && r.get("smtp", "mailfrom").is_some_and(|v| {
                    let d = v.rsplit_once('@').map_or(v, |(_, d)| d);
                    d.eq_ignore_ascii_case(domain)
                })
        });
        assert!(
            found.is_some(),
            "no spf=pass smtp.mailfrom={domain} from {MX_HOSTNAME}: {:?}\n{}",
            self.results,
            self.header
        );
    }

    /// One `dkim=pass header.d=<domain> header.a=<algorithm>` result.
    pub fn assert_dkim_pass(&self, domain: &str, algorithm: &str) {
        let found = self.find("dkim", |r| {
            r.result.eq_ignore_ascii_case("pass")
                && Self::has(r, "header", "d", domain)
                && Self::has(r, "header", "a", algorithm)
        });
        assert!(
            found.is_some(),
            "no dkim=pass header.d={domain} header.a={algorithm} from {MX_HOSTNAME}: {:?}\n{}",
            self.results,
            self.header
        );
    }

    /// `dmarc=pass header.from=<domain>`.
    pub fn assert_dmarc_pass(&self, domain: &str) {
        let found = self.find("dmarc", |r| {
            r.result.eq_ignore_ascii_case("pass") && Self::has(r, "header", "from", domain)
        });
        assert!(
            found.is_some(),
            "no dmarc=pass header.from={domain} from {MX_HOSTNAME}: {:?}\n{}",
            self.results,
            self.header
        );
    }
}
