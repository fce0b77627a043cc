//! The Sender Rewriting Scheme: how a forwarder keeps SPF meaningful and bounces
//! honest.
//!
//! A server that forwards mail (an alias to another domain) and keeps the envelope
//! sender unchanged sends mail "from" other people's domains out of its own IP
//! address. SPF (RFC 7208) then fails for honest senders, or, worse, passes for a
//! forged sender in the forwarder's own domain. RFC 7208 §11.2 / Appendix D name the
//! remedy: the forwarder rewrites the envelope sender into an address of its own.
//! SRS (Shevek, "Sender Rewriting Scheme", 2004; libsrs2, Mail::SRS, pysrs) is the
//! rewriting everyone uses, and this crate writes it the way they do (the "Guarded"
//! scheme), so addresses are interchangeable with theirs:
//!
//! - `SRS0=HHHH=TT=orig.domain=local@forwarder`: `TT` is the day (two base32
//!   characters, 1024-day cycle), `HHHH` the first four base64 characters of
//!   HMAC-SHA1(secret, lower-case `TT`, `orig.domain`, `local`). A bounce to it is
//!   accepted only with a valid hash and a time stamp at most [`MAX_AGE_DAYS`] old, so
//!   nobody can use the forwarder as a relay by making up SRS addresses, and an old
//!   address harvested from a log stops working.
//! - `SRS1=HHHH=first.forwarder==HHHH=TT=orig.domain=local@forwarder`: a sender that
//!   is already an SRS0 address of another forwarder is not wrapped again; its bounce
//!   goes straight back to that forwarder, which can check its own hash.
//!
//! Hashes are compared without regard to case (some MTAs lower-case local parts, as
//! RFC 5321 §2.4 forbids but the world does), as libsrs2 and pysrs do.

#![warn(missing_docs)]

use aws_lc_rs::hmac;
use base64::Engine as _;

/// Days an SRS address stays valid (libsrs2's and pysrs's default).
pub const MAX_AGE_DAYS: u32 = 21;
/// Characters of base64 HMAC kept in an address (libsrs2's and pysrs's default).
pub const HASH_LENGTH: usize = 4;
/// The time stamp counts days in a cycle of this many (two base32 characters).
const TIME_SLOTS: u32 = 1024;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECONDS_PER_DAY: u64 = 86_400;

/// Why an address is not one of our valid SRS addresses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrsError {
    /// Not of the SRS0/SRS1 form at all.
    #[error("not an SRS address")]
    NotSrs,
    /// The form is SRS but a part is missing or malformed.
    #[error("malformed SRS address")]
    Malformed,
    /// The hash does not match: not made with our secret (forged, or damaged).
    #[error("the SRS hash does not match (not an address this server made)")]
    BadHash,
    /// Made by us, but longer ago than the maximum age (or "in the future").
    #[error("the SRS address has expired (older than {MAX_AGE_DAYS} days)")]
    Expired,
}

/// An SRS rewriter with one secret.
#[derive(Clone)]
pub struct Srs {
    key: hmac::Key,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Srs { key: <secret> }")
    }
}

/// True when a local part is of the SRS form we answer for (`SRS0=` or `SRS1=`, any
/// case; libsrs2 also accepts `-` and `+` as the first separator).
pub fn is_srs_local_part(local: &str) -> bool {
    let b = local.as_bytes();
    b.len() > 5
        && b[..3].eq_ignore_ascii_case(b"SRS")
        && matches!(b[3], b'0' | b'1')
        && matches!(b[4], b'=' | b'-' | b'+')
}

impl Srs {
    /// A rewriter using `secret` (the secret's octets, as pysrs and libsrs2 use the
    /// secret string).
    pub fn new(secret: &[u8]) -> Srs {
        Srs {
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret),
        }
    }

    fn hash(&self, parts: &[&str]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p.to_ascii_lowercase().as_bytes());
        }
        let tag = ctx.sign();
        let mut b64 = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        b64.truncate(HASH_LENGTH);
        b64
    }

    fn hash_ok(&self, given: &str, parts: &[&str]) -> bool {
        // Case-insensitive, as libsrs2 and pysrs (a constant-time compare is not
        // needed: a wrong guess costs the attacker a whole SMTP transaction).
        given.len() == HASH_LENGTH && given.eq_ignore_ascii_case(&self.hash(parts))
    }

    /// The envelope sender for a copy of mail from `sender` forwarded by us as
    /// `forwarder` (our domain), at Unix time `now`. `None` for the null sender (it
    /// stays null: nothing can bounce to it) and for a sender without a domain.
    pub fn forward(&self, sender: &str, forwarder: &str, now: u64) -> Option<String> {
        let (local, domain) = sender.rsplit_once('@')?;
        if local.is_empty() || domain.is_empty() {
            return None;
        }
        // An SRS1 address of another forwarder: keep its first forwarder and payload,
        // re-hashed with our secret (the Guarded scheme).
        if let Some(rest) = strip_tag(local, b'1') {
            let mut it = rest.splitn(3, '=');
            let (_, host, payload) = (it.next()?, it.next()?, it.next()?);
            let h = self.hash(&[host, payload]);
            return Some(format!("SRS1={h}={host}={payload}@{forwarder}"));
        }
        // An SRS0 address of another forwarder: point back at it.
        if strip_tag(local, b'0').is_some() {
            // The payload keeps its leading separator ("=HHHH=TT=host=local").
            let payload = &local[4..];
            let h = self.hash(&[domain, payload]);
            return Some(format!("SRS1={h}={domain}={payload}@{forwarder}"));
        }
        let tt = timestamp(now);
        let h = self.hash(&[&tt, domain, local]);
        Some(format!("SRS0={h}={tt}={domain}={local}@{forwarder}"))
    }

    /// The address a bounce to our SRS local part `local` goes to, checked: for
    /// `SRS0`, the original sender (hash and time stamp valid); for `SRS1`, the SRS0
    /// address at the first forwarder (our hash valid; theirs is theirs to check).
    pub fn reverse(&self, local: &str, now: u64) -> Result<String, SrsError> {
        if !is_srs_local_part(local) {
            return Err(SrsError::NotSrs);
        }
        if let Some(rest) = strip_tag(local, b'1') {
            let mut it = rest.splitn(3, '=');
            let (Some(h), Some(host), Some(payload)) = (it.next(), it.next(), it.next()) else {
                return Err(SrsError::Malformed);
            };
            if host.is_empty() || payload.len() < 2 {
                return Err(SrsError::Malformed);
            }
            if !self.hash_ok(h, &[host, payload]) {
                return Err(SrsError::BadHash);
            }
            return Ok(format!("SRS0{payload}@{host}"));
        }
        let rest = strip_tag(local, b'0').ok_or(SrsError::Malformed)?;
        let mut it = rest.splitn(4, '=');
        let (Some(h), Some(tt), Some(host), Some(user)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(SrsError::Malformed);
        };
        if tt.len() != 2 || host.is_empty() || user.is_empty() {
            return Err(SrsError::Malformed);
        }
        if !self.hash_ok(h, &[tt, host, user]) {
            return Err(SrsError::BadHash);
        }
        let Some(then) = parse_timestamp(tt) else {
            return Err(SrsError::Malformed);
        };
        let today = ((now / SECONDS_PER_DAY) % u64::from(TIME_SLOTS)) as u32;
        let age = (today + TIME_SLOTS - then) % TIME_SLOTS;
        if age > MAX_AGE_DAYS {
            return Err(SrsError::Expired);
        }
        Ok(format!("{user}@{host}"))
    }
}

/// The part after `SRS0=` / `SRS1=` (any case, any of the separators `=-+`).
fn strip_tag(local: &str, digit: u8) -> Option<&str> {
    (is_srs_local_part(local) && local.as_bytes()[3] == digit).then(|| &local[5..])
}

/// Today's time stamp: days since 1970 modulo 1024, two base32 characters.
fn timestamp(now: u64) -> String {
    let days = (now / SECONDS_PER_DAY) as usize;
    let hi = BASE32[(days >> 5) & 31] as char;
    let lo = BASE32[days & 31] as char;
    format!("{hi}{lo}")
}

fn parse_timestamp(tt: &str) -> Option<u32> {
    let mut v = 0u32;
    for c in tt.bytes() {
        let d = BASE32.iter().position(|&b| b == c.to_ascii_uppercase())? as u32;
        v = v * 32 + d;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_796_000_000; // 2026-11-30

    fn srs() -> Srs {
        Srs::new(b"a test secret")
    }

    #[test]
    fn srs0_round_trip() {
        let s = srs();
        let a = s.forward("ceo@other.test", "sender.test", NOW).unwrap();
        assert!(a.starts_with("SRS0="), "{a}");
        assert!(a.ends_with("=other.test=ceo@sender.test"), "{a}");
        let local = a.rsplit_once('@').unwrap().0;
        assert_eq!(s.reverse(local, NOW).unwrap(), "ceo@other.test");
        // Case smashed by some MTA on the way: still ours.
        assert_eq!(
            s.reverse(&local.to_ascii_lowercase(), NOW).unwrap(),
            "ceo@other.test"
        );
    }

    #[test]
    fn forged_and_old_addresses_are_refused() {
        let s = srs();
        let a = s.forward("ceo@other.test", "sender.test", NOW).unwrap();
        let local = a.rsplit_once('@').unwrap().0;
        // Another secret, another hash.
        assert_eq!(
            Srs::new(b"other").reverse(local, NOW),
            Err(SrsError::BadHash)
        );
        // A changed destination breaks the hash.
        let evil = local.replace("other.test", "victim.test");
        assert_eq!(s.reverse(&evil, NOW), Err(SrsError::BadHash));
        // Valid for 21 days, not 22.
        let day = SECONDS_PER_DAY;
        assert!(s.reverse(local, NOW + 21 * day).is_ok());
        assert_eq!(s.reverse(local, NOW + 22 * day), Err(SrsError::Expired));
        // Not from the future either (a day before it was made).
        assert_eq!(s.reverse(local, NOW - day), Err(SrsError::Expired));
        for bad in ["SRS0=", "SRS0=abcd", "SRS0=abcd=AA=host", "SRS0=ab=AA=h=u"] {
            assert!(s.reverse(bad, NOW).is_err(), "{bad}");
        }
        assert_eq!(s.reverse("ceo", NOW), Err(SrsError::NotSrs));
    }

    #[test]
    fn an_srs0_sender_becomes_srs1_pointing_back() {
        let first = Srs::new(b"first forwarder");
        let a = first.forward("ceo@other.test", "fwd1.test", NOW).unwrap();
        let s = srs();
        let b = s.forward(&a, "sender.test", NOW).unwrap();
        assert!(b.starts_with("SRS1="), "{b}");
        assert!(
            b.contains("=fwd1.test==") && b.ends_with("@sender.test"),
            "{b}"
        );
        // Its bounce goes back to the first forwarder, which reverses its own.
        let back = s.reverse(b.rsplit_once('@').unwrap().0, NOW).unwrap();
        assert_eq!(back, a);
        assert_eq!(
            first
                .reverse(back.rsplit_once('@').unwrap().0, NOW)
                .unwrap(),
            "ceo@other.test"
        );
        // An SRS1 sender is re-hashed, not wrapped again.
        let third = Srs::new(b"third").forward(&b, "third.test", NOW).unwrap();
        assert!(
            third.starts_with("SRS1=") && third.contains("=fwd1.test=="),
            "{third}"
        );
        let back = Srs::new(b"third")
            .reverse(third.rsplit_once('@').unwrap().0, NOW)
            .unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn the_null_sender_stays_null() {
        assert_eq!(srs().forward("", "sender.test", NOW), None);
        assert_eq!(srs().forward("nodomain", "sender.test", NOW), None);
    }

    proptest! {
        #[test]
        fn reverse_never_panics(local in "\\PC{0,80}") {
            let _ = srs().reverse(&local, NOW);
        }

        #[test]
        fn forward_then_reverse_is_identity(
            user in "[a-zA-Z0-9._+=-]{1,30}",
            host in "[a-z0-9-]{1,20}\\.[a-z]{2,6}",
            days in 0u64..21,
        ) {
            let s = srs();
            let sender = format!("{user}@{host}");
            let a = s.forward(&sender, "sender.test", NOW).unwrap();
            let local = a.rsplit_once('@').unwrap().0;
            let expected = if is_srs_local_part(&user) { None } else { Some(sender.to_ascii_lowercase()) };
            if let Some(e) = expected {
                let back = s.reverse(local, NOW + days * SECONDS_PER_DAY).unwrap();
                prop_assert_eq!(back.to_ascii_lowercase(), e);
            }
        }
    }
}
