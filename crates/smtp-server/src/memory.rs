//! The memory budget for message data: all sessions together hold at most
//! `[limits] max_data_memory` octets of messages being received.
//!
//! A session keeps its message whole in memory from DATA (or the first BDAT) until it
//! is queued, so without a shared bound `max_connections` × `max_message_size` could
//! be held at once (500 × 25 MiB), and MX needs no login to get there (mail to
//! postmaster@). Each [`MessageBuffer`] charges the [`DataBudget`] for its capacity
//! before it grows, never after. When the budget cannot cover the growth, the buffer
//! lets go of what it holds and only counts what still comes ([`MessageBuffer::overflowed`]):
//! the session reads the message to its real end and answers 452 4.3.1, and the client
//! tries again later (RFC 5321 §4.5.3.1.10 allows 452 for "insufficient system
//! storage"; RFC 3463 X.3.1 "Mail system full").
//!
//! Design decision: the charge follows the buffer's capacity, which grows by doubling
//! (amortised copying, at most twice the content), so what is charged is what is
//! allocated. The copies made at the very end (our header fields, the DKIM signature,
//! the hand-over to the queue) are short-lived and not charged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sendwell_smtp::{DataEnd, DataReader};

/// First allocation when the client declared no size.
const MIN_CAPACITY: usize = 8 * 1024;

/// The octets of message data all sessions may hold, and how many they hold now.
#[derive(Debug)]
pub struct DataBudget {
    limit: usize,
    used: AtomicUsize,
}

impl DataBudget {
    /// A budget of `limit` octets.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(DataBudget {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            used: AtomicUsize::new(0),
        })
    }

    /// Octets held now by all sessions.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Take `n` octets if they fit.
    fn try_charge(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Take `n` octets whether or not they fit (the allocator gave more than asked).
    fn force_charge(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One message being received, charged against the [`DataBudget`]; what it holds is
/// given back when it is dropped.
#[derive(Debug)]
pub struct MessageBuffer {
    budget: Arc<DataBudget>,
    data: Vec<u8>,
    /// Octets charged: always at least `data.capacity()`.
    charged: usize,
    /// The most content octets the reader keeps (`max_message_size`): no growth past it.
    max: usize,
    /// The first allocation (the SIZE the client declared, bounded by the caller).
    hint: usize,
    overflowed: bool,
    /// Where the reader writes once the budget is exceeded; emptied after every feed.
    sink: Vec<u8>,
}

impl MessageBuffer {
    /// An empty buffer (nothing allocated yet) for a message of at most `max` octets;
    /// the first allocation is `hint` octets (at least 8 KiB) if the budget allows.
    pub fn new(budget: Arc<DataBudget>, max: u64, hint: usize) -> Self {
        MessageBuffer {
            budget,
            data: Vec::new(),
            charged: 0,
            max: usize::try_from(max).unwrap_or(usize::MAX),
            hint: hint.max(MIN_CAPACITY),
            overflowed: false,
            sink: Vec::new(),
        }
    }

    /// Run `reader` over `input`, keeping the content while the budget allows; returns
    /// what [`DataReader::feed`] returns.
    pub fn feed(&mut self, reader: &mut DataReader, input: &[u8]) -> (usize, Option<DataEnd>) {
        // Each input octet adds at most two octets of content (a bare LF becomes CRLF).
        self.make_room(input.len().saturating_mul(2));
        if !self.overflowed {
            return reader.feed(input, &mut self.data);
        }
        // Only counting now: small pieces through a small scratch buffer.
        let mut used = 0;
        for piece in input.chunks(MIN_CAPACITY) {
            let (n, end) = reader.feed(piece, &mut self.sink);
            self.sink.clear();
            used += n;
            if end.is_some() {
                return (used, end);
            }
        }
        (used, None)
    }

    /// [`DataReader::finish_chunks`] (the end of a BDAT transfer, which may add a CRLF).
    pub fn finish_chunks(&mut self, reader: &mut DataReader) -> DataEnd {
        self.make_room(2);
        let end = if self.overflowed {
            reader.finish_chunks(&mut self.sink)
        } else {
            reader.finish_chunks(&mut self.data)
        };
        self.sink.clear();
        end
    }

    /// Before `extra` more octets of content: grow within the budget, or overflow.
    fn make_room(&mut self, extra: usize) {
        if self.overflowed {
            return;
        }
        // The reader keeps no more than `max` in all.
        let want = self.data.len().saturating_add(extra).min(self.max);
        if want > self.data.capacity() && !self.grow(want) {
            self.overflow();
        }
    }

    /// True when the budget could not hold this message: its content is gone.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The content received. The charge stays until the buffer is dropped, so keep
    /// the buffer until the message is queued.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }

    /// Make room for `want` octets; false if the budget cannot cover it.
    fn grow(&mut self, want: usize) -> bool {
        let cap = self.data.capacity();
        let doubled = if cap == 0 {
            self.hint
        } else {
            cap.saturating_mul(2)
        };
        // Doubling, but never past what the reader can keep (`want` is at most that).
        // Short of room to double, a quarter more, then exactly what this input needs.
        let steps = [
            doubled.min(self.max).max(want),
            cap.saturating_add(cap / 4).min(self.max).max(want),
            want,
        ];
        let Some(target) = steps
            .into_iter()
            .find(|&t| self.budget.try_charge(t.saturating_sub(self.charged)))
        else {
            return false;
        };
        self.charged = self.charged.max(target);
        self.data.reserve_exact(target - self.data.len());
        let actual = self.data.capacity();
        if actual > self.charged {
            self.budget.force_charge(actual - self.charged);
            self.charged = actual;
        }
        true
    }

    /// Let go of everything held: from now on content is only counted.
    fn overflow(&mut self) {
        self.overflowed = true;
        self.data = Vec::new();
        self.budget.release(self.charged);
        self.charged = 0;
    }
}

impl Drop for MessageBuffer {
    fn drop(&mut self) {
        self.budget.release(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_smtp::{BareLineEndings, DataVerdict};

    fn reader() -> DataReader {
        DataReader::data(BareLineEndings::Normalize, 1 << 20, 0)
    }

    #[test]
    fn charges_capacity_and_gives_it_back() {
        let budget = DataBudget::new(1 << 20);
        let mut b = MessageBuffer::new(Arc::clone(&budget), 1 << 20, 0);
        let mut r = reader();
        let line = "x".repeat(998) + "\r\n";
        for _ in 0..40 {
            let (used, end) = b.feed(&mut r, line.as_bytes());
            assert_eq!((used, end), (line.len(), None));
        }
        let (_, end) = b.feed(&mut r, b".\r\n");
        assert_eq!(end.unwrap().verdict, DataVerdict::Accept);
        assert!(!b.overflowed());
        assert!(budget.in_use() >= 40_000, "{}", budget.in_use());
        let data = b.take();
        assert_eq!(data.len(), 40_000);
        assert!(budget.in_use() >= data.capacity());
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_message_over_the_budget_is_read_to_its_end_and_not_kept() {
        let budget = DataBudget::new(64 * 1024);
        // Another session holds most of the budget.
        let mut other = MessageBuffer::new(Arc::clone(&budget), 1 << 20, 40 * 1024);
        let mut r = reader();
        other.feed(&mut r, &[b'y'; 20_000]);
        assert!(!other.overflowed());
        let mut b = MessageBuffer::new(Arc::clone(&budget), 1 << 20, 0);
        let mut r = reader();
        let chunk = "z".repeat(500) + "\r\n";
        for _ in 0..100 {
            let (_, e) = b.feed(&mut r, chunk.as_bytes());
            assert!(e.is_none());
        }
        let (_, end) = b.feed(&mut r, b".\r\n");
        assert!(b.overflowed());
        assert_eq!(end.expect("the end is still found").size, 50_200);
        assert!(b.take().is_empty());
        assert!(budget.in_use() <= budget.limit());
        drop(b);
        drop(other);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn growth_stops_at_the_message_limit() {
        let budget = DataBudget::new(1 << 30);
        let max = 100_000;
        let mut b = MessageBuffer::new(Arc::clone(&budget), max, 0);
        let mut r = DataReader::data(BareLineEndings::Normalize, max, 0);
        let line = "x".repeat(998) + "\r\n";
        for _ in 0..200 {
            b.feed(&mut r, line.as_bytes());
        }
        assert!(!b.overflowed());
        assert!(r.is_too_big());
        assert!(budget.in_use() <= max as usize, "{}", budget.in_use());
    }
}
