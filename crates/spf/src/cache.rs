//! Parsed records, remembered by their text.
//!
//! A receiver checks the same popular records (a mail provider's `include:` target)
//! over and over. [`RecordCache`] lets `check_host()` skip re-parsing a record it has
//! seen: it is keyed by the record's exact text, so it never serves a stale record —
//! every evaluation still asks DNS, and only identical text reuses the parse. Set it in
//! [`crate::Config::record_cache`]; one cache can be shared by all evaluations.
//!
//! Bounded by the octets of record text it holds (a parsed record takes a small multiple
//! of its text): when the next text would pass the bound, the cache is emptied first.
//! Records are small and re-parsed cheaply, so a simple bound beats bookkeeping, and an
//! attacker publishing huge records cannot make it grow past the bound.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::parse::ParseError;
use crate::record::SpfRecord;

/// The parse of one record text: the record, or why it is not one.
pub type Parsed = Arc<Result<SpfRecord, ParseError>>;

/// The default bound of [`RecordCache`]: 1 MiB of record text.
pub const DEFAULT_CACHE_OCTETS: usize = 1 << 20;

/// A bounded map from record text to its parse: keyed by the exact text, bounded by
/// the octets held (see [`DEFAULT_CACHE_OCTETS`]).
pub struct RecordCache {
    max_octets: usize,
    map: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    octets: usize,
    parsed: HashMap<Box<[u8]>, Parsed>,
}

impl Default for RecordCache {
    fn default() -> Self {
        RecordCache::new(DEFAULT_CACHE_OCTETS)
    }
}

impl RecordCache {
    /// A cache holding at most `max_octets` octets of record text.
    pub fn new(max_octets: usize) -> Self {
        RecordCache {
            max_octets,
            map: Mutex::new(Entries::default()),
        }
    }

    /// The parse of `text`, from the cache or parsed now (and remembered).
    pub fn parse(&self, text: &[u8]) -> Parsed {
        if let Ok(map) = self.map.lock()
            && let Some(hit) = map.parsed.get(text)
        {
            return hit.clone();
        }
        let parsed: Parsed = Arc::new(SpfRecord::parse_bytes(text));
        if text.len() <= self.max_octets
            && let Ok(mut map) = self.map.lock()
        {
            if map.octets + text.len() > self.max_octets {
                map.parsed.clear();
                map.octets = 0;
            }
            if map.parsed.insert(text.into(), parsed.clone()).is_none() {
                map.octets += text.len();
            }
        }
        parsed
    }

    /// How many record texts are held.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.parsed.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordCache")
            .field("max_octets", &self.max_octets)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_text_and_stays_bounded() {
        let cache = RecordCache::new(25);
        let a = cache.parse(b"v=spf1 -all");
        let b = cache.parse(b"v=spf1 -all");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(cache.parse(b"v=spf1 a:").is_err());
        assert_eq!(cache.len(), 2, "11 + 9 octets fit in 25");
        let _ = cache.parse(b"v=spf1 mx -all");
        assert_eq!(cache.len(), 1, "full: emptied, then the new text added");
        let huge = format!("v=spf1 {}", "a ".repeat(20));
        assert!(cache.parse(huge.as_bytes()).is_ok());
        assert_eq!(cache.len(), 1, "a text over the bound is parsed, not kept");
    }
}
