//! Self-checking records: how a message sits in a segment file, so that a torn write
//! is recognised on recovery and never taken for a whole message.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SWQ\x01"
//!      4     1  kind (1 = message)
//!      5     3  zero
//!      8     4  meta_len   (little-endian): the envelope, JSON
//!     12     8  data_len   (little-endian): the message
//!     20  meta  envelope
//!      …  data  message
//!      …     4  CRC-32 (IEEE) of bytes 4..20, the envelope and the message
//! ```
//!
//! A crash can leave the last record of a segment cut anywhere (the kernel may even
//! have written its pages out of order). [`scan`] reports such a tail as
//! [`Damage`]; none of it was acknowledged, because a record is acknowledged only
//! after the `fdatasync` that covers all of it. A checksum mismatch elsewhere (media
//! damage) is reported too, and scanning resumes at the next record that checks.

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"SWQ\x01";
/// Header size in bytes.
pub const HEADER_LEN: usize = 20;
/// Trailer (checksum) size in bytes.
pub const TRAILER_LEN: usize = 4;
/// The kind of a message record.
pub const KIND_MESSAGE: u8 = 1;
/// Largest envelope accepted when reading (a sanity bound against garbage lengths).
pub const MAX_META: usize = 16 * 1024 * 1024;

/// The header and envelope of a record, ready to write before the data.
pub fn encode_head(kind: u8, meta: &[u8], data_len: u64) -> Vec<u8> {
    let mut head = Vec::with_capacity(HEADER_LEN + meta.len());
    head.extend_from_slice(&MAGIC);
    head.push(kind);
    head.extend_from_slice(&[0, 0, 0]);
    head.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    head.extend_from_slice(&data_len.to_le_bytes());
    head.extend_from_slice(meta);
    head
}

/// The trailer for a record whose head is `head` (from [`encode_head`]) and whose
/// data is `data`.
pub fn trailer(head: &[u8], data: &[u8]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new();
    h.update(&head[4..]);
    h.update(data);
    h.finalize().to_le_bytes()
}

/// A whole record: head, data and trailer in one buffer (tests, tools).
pub fn encode(kind: u8, meta: &[u8], data: &[u8]) -> Vec<u8> {
    let mut r = encode_head(kind, meta, data.len() as u64);
    let t = trailer(&r, data);
    r.extend_from_slice(data);
    r.extend_from_slice(&t);
    r
}

/// A record found in a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Where it starts in the buffer.
    pub offset: usize,
    /// Its kind.
    pub kind: u8,
    /// The envelope bytes.
    pub meta: &'a [u8],
    /// The message bytes.
    pub data: &'a [u8],
    /// Total length (header, envelope, data, trailer).
    pub len: usize,
}

/// A stretch of a buffer that holds no valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Where it starts.
    pub offset: usize,
    /// How many bytes were skipped.
    pub len: usize,
    /// True when it runs to the end of the buffer: a torn (unacknowledged) last write.
    pub at_end: bool,
}

/// What [`decode_at`] found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends inside the record.
    Truncated,
    /// No magic, impossible lengths or a wrong checksum.
    Invalid,
}

/// Read the record that starts at `offset`.
pub fn decode_at(buf: &[u8], offset: usize) -> Result<Record<'_>, DecodeError> {
    let rest = buf.get(offset..).ok_or(DecodeError::Truncated)?;
    if rest.len() < HEADER_LEN {
        // A short tail that starts like a record (or is too short to tell) is torn.
        let n = rest.len().min(4);
        return if rest[..n] == MAGIC[..n] {
            Err(DecodeError::Truncated)
        } else {
            Err(DecodeError::Invalid)
        };
    }
    if rest[..4] != MAGIC || rest[5..8] != [0, 0, 0] {
        return Err(DecodeError::Invalid);
    }
    let kind = rest[4];
    let meta_len = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
    let data_len = u64::from_le_bytes(rest[12..20].try_into().map_err(|_| DecodeError::Invalid)?);
    if meta_len > MAX_META || data_len > u64::from(u32::MAX) {
        return Err(DecodeError::Invalid);
    }
    let data_len = data_len as usize;
    let len = HEADER_LEN + meta_len + data_len + TRAILER_LEN;
    if rest.len() < len {
        return Err(DecodeError::Truncated);
    }
    let meta = &rest[HEADER_LEN..HEADER_LEN + meta_len];
    let data = &rest[HEADER_LEN + meta_len..HEADER_LEN + meta_len + data_len];
    let stored = &rest[len - TRAILER_LEN..len];
    let mut h = crc32fast::Hasher::new();
    h.update(&rest[4..HEADER_LEN]);
    h.update(meta);
    h.update(data);
    if h.finalize().to_le_bytes() != stored {
        return Err(DecodeError::Invalid);
    }
    Ok(Record {
        offset,
        kind,
        meta,
        data,
        len,
    })
}

/// Every valid record in `buf`, and every damaged stretch between or after them.
pub fn scan(buf: &[u8]) -> (Vec<Record<'_>>, Vec<Damage>) {
    let mut records = Vec::new();
    let mut damage = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        match decode_at(buf, offset) {
            Ok(r) => {
                offset += r.len;
                records.push(r);
            }
            Err(_) => {
                // Resynchronise at the next magic that starts a valid record.
                let mut from = offset + 1;
                let next = loop {
                    match memmem(&buf[from..], &MAGIC) {
                        Some(q) if decode_at(buf, from + q).is_ok() => break Some(from + q),
                        Some(q) => from += q + 1,
                        None => break None,
                    }
                };
                match next {
                    Some(p) => {
                        damage.push(Damage {
                            offset,
                            len: p - offset,
                            at_end: false,
                        });
                        offset = p;
                    }
                    None => {
                        damage.push(Damage {
                            offset,
                            len: buf.len() - offset,
                            at_end: true,
                        });
                        break;
                    }
                }
            }
        }
    }
    (records, damage)
}

fn memmem(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the records and wherever a crash cuts the file, the scan returns
        /// exactly the records that were whole, in order, and never a partial one.
        #[test]
        fn a_cut_keeps_exactly_the_whole_records(
            records in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..40), prop::collection::vec(any::<u8>(), 0..200)),
                1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut buf = Vec::new();
            let mut ends = Vec::new();
            for (meta, data) in &records {
                buf.extend_from_slice(&encode(KIND_MESSAGE, meta, data));
                ends.push(buf.len());
            }
            let at = cut.index(buf.len() + 1);
            let (found, damage) = scan(&buf[..at]);
            let whole = ends.iter().filter(|&&e| e <= at).count();
            prop_assert_eq!(found.len(), whole);
            for (r, (meta, data)) in found.iter().zip(&records) {
                prop_assert_eq!(r.meta, &meta[..]);
                prop_assert_eq!(r.data, &data[..]);
            }
            let torn = at > ends.get(whole.wrapping_sub(1)).copied().unwrap_or(0);
            prop_assert_eq!(damage.len(), usize::from(torn));
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let (records, damage) = scan(&bytes);
            let covered: usize = records.iter().map(|r| r.len).sum::<usize>()
                + damage.iter().map(|d| d.len).sum::<usize>();
            prop_assert_eq!(covered, bytes.len());
        }
    }

    #[test]
    fn round_trip_and_every_truncation_is_caught() {
        let a = encode(KIND_MESSAGE, b"{\"a\":1}", b"Subject: a\r\n\r\nbody\r\n");
        let b = encode(KIND_MESSAGE, b"{}", b"second");
        let mut buf = a.clone();
        buf.extend_from_slice(&b);
        let (records, damage) = scan(&buf);
        assert_eq!(records.len(), 2);
        assert!(damage.is_empty());
        assert_eq!(records[1].data, b"second");
        // A torn second record: the first survives, the tail is damage at the end.
        for cut in a.len() + 1..buf.len() {
            let (records, damage) = scan(&buf[..cut]);
            assert_eq!(records.len(), 1, "cut {cut}");
            assert_eq!(damage.len(), 1);
            assert!(damage[0].at_end);
        }
        // A flipped bit anywhere in the first record: the second is still found.
        for i in 0..a.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            let (records, damage) = scan(&bad);
            assert_eq!(records.len(), 1, "flip {i}");
            assert_eq!(records[0].data, b"second");
            assert_eq!(damage.len(), 1);
        }
    }
}
