//! Queue ids: 16 upper-case hex digits, unique and increasing.
//!
//! The high 44 bits are the Unix time in milliseconds when the id was made, the low 20
//! bits a counter within that millisecond, so ids sort by arrival and a later process
//! never repeats an earlier one (the store also seeds the generator past the largest
//! id it finds). The server assigns the id before the message is stored, so the
//! Received header and the logs can name it.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A message's id in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct QueueId(u64);

static LAST: AtomicU64 = AtomicU64::new(0);

impl QueueId {
    /// A new id, larger than every id made before by this process.
    pub fn generate() -> QueueId {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let candidate = now_ms << 20;
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let next = candidate.max(last + 1);
            match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return QueueId(next),
                Err(actual) => last = actual,
            }
        }
    }

    /// Make sure later ids are larger than `seen` (after reading a queue from disk).
    pub fn observe(seen: QueueId) {
        LAST.fetch_max(seen.0, Ordering::Relaxed);
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id from its number.
    pub fn from_u64(n: u64) -> QueueId {
        QueueId(n)
    }

    /// When the id was made, as Unix seconds.
    pub fn unix_time(self) -> u64 {
        (self.0 >> 20) / 1000
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", self.0)
    }
}

/// Text that is not a queue id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a queue id (16 hexadecimal digits)")]
pub struct BadQueueId(pub String);

impl FromStr for QueueId {
    type Err = BadQueueId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadQueueId(s.to_string()));
        }
        u64::from_str_radix(s, 16)
            .map(QueueId)
            .map_err(|_| BadQueueId(s.to_string()))
    }
}

impl From<QueueId> for String {
    fn from(id: QueueId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for QueueId {
    type Error = BadQueueId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increasing_and_round_trip() {
        let a = QueueId::generate();
        let b = QueueId::generate();
        assert!(b > a);
        assert_eq!(a.to_string().parse::<QueueId>().unwrap(), a);
        assert!("xyz".parse::<QueueId>().is_err());
        QueueId::observe(QueueId(u64::MAX / 2));
        assert!(QueueId::generate().get() > u64::MAX / 2);
    }
}
