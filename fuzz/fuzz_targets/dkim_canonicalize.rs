//! Canonicalization (RFC 6376 §3.4) and the message splitter: any message, no panic;
//! the streaming body canonicalizer gives the same bytes however the body is chunked,
//! and verification of whatever DKIM-Signature the input holds runs to a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dkim::CanonicalizationAlgorithm;
use sendwell_dkim::canonicalize::{BodyCanonicalizer, canonicalize_body, canonicalize_header};
use sendwell_dkim::message::Message;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let message = Message::parse(data);
    for alg in [
        CanonicalizationAlgorithm::Simple,
        CanonicalizationAlgorithm::Relaxed,
    ] {
        let mut out = Vec::new();
        for field in message.headers() {
            canonicalize_header(alg, message.name(field), message.raw(field), &mut out);
        }
        let whole = canonicalize_body(alg, data);
        let mut chunked = Vec::new();
        let mut c = BodyCanonicalizer::new(alg);
        c.update(&data[..split], |s| chunked.extend_from_slice(s));
        c.update(&data[split..], |s| chunked.extend_from_slice(s));
        let len = c.finish(|s| chunked.extend_from_slice(s));
        assert_eq!(whole, chunked);
        assert_eq!(len as usize, whole.len());
        // Canonical output is never much longer than the input (bounded memory).
        assert!(whole.len() <= data.len() * 2 + 2);
    }
    let dns = sendwell_dns::MockLookup::new();
    let results = futures_lite_block_on(sendwell_dkim::verify(&dns, data, 0));
    assert!(
        results
            .iter()
            .all(|r| r.result != sendwell_dkim::DkimResult::Pass)
    );
});

/// The verifier's only await is the mock lookup, which is ready at once: poll it once
/// with a no-op waker.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
