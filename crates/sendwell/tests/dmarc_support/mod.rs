//! Shared by the dmarc_* and verify_* tests.

use std::time::{Duration, Instant};

use sendwell_testkit::Bind;

/// `Bind::start`, then wait until named has loaded every zone. (Its readiness check
/// matches the "running as: named …" line printed at start-up, before the zones are
/// loaded, so a first query could meet SERVFAIL.)
pub fn bind(zones: &[(&str, &str)]) -> Bind {
    let bind = Bind::start(zones);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(bind.dir().join("named.log")).unwrap_or_default();
        if log.contains("all zones loaded") {
            return bind;
        }
        assert!(
            Instant::now() < deadline,
            "named did not load its zones in 20 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
