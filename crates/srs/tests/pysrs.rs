//! The same addresses as pysrs (PyPI `pysrs`, the Guarded scheme of Mail::SRS and
//! libsrs2), both ways: what it makes we reverse, what we make it reverses, and with
//! the same secret on the same day both make the same address. The README's test
//! command installs pysrs.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use sendwell_srs::Srs;

const SECRET: &str = "shared test secret";

/// Run a Python snippet with pysrs loaded as `srs` (pysrs 1.0.3 still calls
/// `base64.encodestring`, gone since Python 3.9: give it the new name).
fn pysrs(code: &str) -> String {
    let script = format!(
        "import base64\nif not hasattr(base64, 'encodestring'): base64.encodestring = base64.encodebytes\n\
         import SRS\nsrs = SRS.new(secret={SECRET:?}, maxage=21, hashlength=4, alwaysrewrite=True)\n{code}\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "pysrs failed (is it installed? python3 -m pip install pysrs): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn srs0_is_the_same_as_pysrs_both_ways() {
    let ours = Srs::new(SECRET.as_bytes());
    for sender in [
        "ceo@other.test",
        "John.Smith+tag@Mixed.Case.test",
        "a=b@x.test",
    ] {
        let theirs = pysrs(&format!("print(srs.forward({sender:?}, 'sender.test'))"));
        let mine = ours.forward(sender, "sender.test", now()).unwrap();
        assert_eq!(mine, theirs, "same secret, same day, same address");
        // pysrs reverses ours ...
        let back = pysrs(&format!("print(srs.reverse({mine:?}))"));
        assert_eq!(back, sender);
        // ... and we reverse theirs.
        let local = theirs.rsplit_once('@').unwrap().0;
        assert_eq!(ours.reverse(local, now()).unwrap(), sender);
    }
}

#[test]
fn srs1_is_the_same_as_pysrs_both_ways() {
    let ours = Srs::new(SECRET.as_bytes());
    let first = Srs::new(b"the first forwarder's secret")
        .forward("ceo@other.test", "fwd1.test", now())
        .unwrap();
    let theirs = pysrs(&format!("print(srs.forward({first:?}, 'sender.test'))"));
    let mine = ours.forward(&first, "sender.test", now()).unwrap();
    assert_eq!(mine, theirs);
    let back = pysrs(&format!("print(srs.reverse({mine:?}))"));
    assert_eq!(back, first);
    assert_eq!(
        ours.reverse(theirs.rsplit_once('@').unwrap().0, now())
            .unwrap(),
        first
    );
    // And an SRS1 forwarded again keeps pointing at the first forwarder.
    let again = pysrs(&format!("print(srs.forward({mine:?}, 'third.test'))"));
    assert_eq!(ours.forward(&mine, "third.test", now()).unwrap(), again);
}

#[test]
fn pysrs_refuses_what_we_refuse() {
    let ours = Srs::new(SECRET.as_bytes());
    let mine = ours
        .forward("ceo@other.test", "sender.test", now())
        .unwrap();
    let forged = mine.replace("other.test", "victim.test");
    let verdict = pysrs(&format!(
        "try:\n  srs.reverse({forged:?}); print('accepted')\nexcept Exception as e:\n  print('refused')"
    ));
    assert_eq!(verdict, "refused");
    assert!(
        ours.reverse(forged.rsplit_once('@').unwrap().0, now())
            .is_err()
    );
}
