//! Fuzz the DATA reader (RFC 5321 §4.1.1.4, §4.5.2): for any input split at any point,
//! the result equals reading it whole; the message ends only right after
//! <CRLF>.<CRLF> (or .<CRLF> at the start); normalised output never holds a bare CR
//! or LF; output never exceeds the size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_smtp::{BareLineEndings, DataReader};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let policy = if data[0] & 1 == 0 {
        BareLineEndings::Reject
    } else {
        BareLineEndings::Normalize
    };
    let limit = u64::from(data[1]) * 4;
    let input = &data[2..];

    let mut whole = DataReader::data(policy, limit, 100);
    let mut out_whole = Vec::new();
    let (used, end) = whole.feed(input, &mut out_whole);
    assert!(out_whole.len() as u64 <= limit);
    match end {
        Some(_) => {
            let upto = &input[..used];
            assert!(upto == b".\r\n" || upto.ends_with(b"\r\n.\r\n"));
        }
        None => assert_eq!(used, input.len()),
    }
    if policy == BareLineEndings::Normalize {
        for (i, &b) in out_whole.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && out_whole[i - 1] == b'\r');
            }
        }
    }

    // Byte at a time gives the same answer.
    let mut step = DataReader::data(policy, limit, 100);
    let mut out_step = Vec::new();
    let mut used_step = 0;
    let mut end_step = None;
    for i in 0..input.len() {
        let (u, e) = step.feed(&input[i..i + 1], &mut out_step);
        used_step += u;
        if e.is_some() {
            end_step = e;
            break;
        }
    }
    assert_eq!(used_step, used);
    assert_eq!(end_step, end);
    assert_eq!(out_step, out_whole);

    // BDAT chunks: no terminator ever; finishing gives a verdict.
    let mut chunks = DataReader::chunks(policy, limit, 100);
    let mut out_chunks = Vec::new();
    let (u, e) = chunks.feed(input, &mut out_chunks);
    assert_eq!(u, input.len());
    assert!(e.is_none());
    let _ = chunks.finish_chunks(&mut out_chunks);
});
