//! Verification with a real key, past the signature check: a message signed with
//! Ed25519 (under each of the four canonicalizations, the key served by a MockLookup)
//! is changed by fuzzer-chosen mutations (bit flips, insertions, deletions, folding and
//! unfolding, duplicated header fields, trailing whitespace, truncation), then verified.
//! No panic, and `pass` exactly when the oracle of crates/dkim/tests/tamper.rs (the same
//! file the property tests use) says the signed header fields and the canonical body are
//! unchanged. So the b= removal and the header hash of verify.rs are reached on every
//! input, which the canonicalization target, with no key, never does.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/dkim/tests/tamper.rs"]
#[allow(dead_code)]
mod tamper;

fuzz_target!(|data: &[u8]| {
    let Some((&which, ops)) = data.split_first() else {
        return;
    };
    let fixtures = tamper::fixtures();
    let fixture = &fixtures[usize::from(which) % fixtures.len()];
    let tampered = tamper::apply(&fixture.signed, &tamper::mutations_from_bytes(ops));
    if let Err(disagreement) = block_on(tamper::check(fixture, &tampered)) {
        panic!("{:?}: {disagreement}", fixture.canonicalization);
    }
});

/// The verifier's only await is the mock lookup, which is ready at once: poll it with a
/// no-op waker.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
