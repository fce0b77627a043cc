//! When to try again after a temporary failure, and when to give up (RFC 5321 §4.5.4.1).
//!
//! ```text
//! RFC 5321 §4.5.4.1: [...] the retry interval SHOULD be at least 30 minutes; however,
//! more sophisticated and variable strategies will be beneficial when the SMTP client
//! can determine the reason for non-delivery. Retries continue until the message is
//! transmitted or the sender gives up; the give-up time generally needs to be at least
//! 4-5 days.
//! ```
//!
//! The default schedule starts quicker than 30 minutes (greylisting receivers want a
//! retry after a few minutes) and settles at every 4 hours, for 5 days.

use std::time::{Duration, SystemTime};

/// A retry schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The delay after the 1st, 2nd, ... failed attempt.
    pub steps: Vec<Duration>,
    /// The delay after every later failed attempt.
    pub then_every: Duration,
    /// How long after arrival to keep trying; then the message bounces.
    pub lifetime: Duration,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            steps: [
                5 * MINUTE,
                10 * MINUTE,
                30 * MINUTE,
                HOUR,
                2 * HOUR,
                4 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
            then_every: Duration::from_secs(4 * HOUR),
            lifetime: Duration::from_secs(5 * 24 * HOUR),
        }
    }
}

/// What to do after a temporary failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Try again at this time.
    RetryAt(SystemTime),
    /// The lifetime is over: bounce (RFC 3464 `Action: failed`, status 4.4.7).
    GiveUp,
}

impl RetrySchedule {
    /// The delay after `failures` failed attempts (1 = the first failure).
    pub fn delay(&self, failures: u32) -> Duration {
        let index = failures.saturating_sub(1) as usize;
        self.steps.get(index).copied().unwrap_or(self.then_every)
    }

    /// After the `failures`-th failed attempt at `now`, for a message that arrived at
    /// `arrival`. The last retry is placed at the end of the lifetime, not after it.
    pub fn next(&self, failures: u32, arrival: SystemTime, now: SystemTime) -> NextStep {
        let expiry = arrival + self.lifetime;
        if now >= expiry {
            return NextStep::GiveUp;
        }
        NextStep::RetryAt((now + self.delay(failures)).min(expiry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let s = RetrySchedule::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(s.delay(1), Duration::from_secs(300));
        assert_eq!(s.delay(6), Duration::from_secs(4 * 3600));
        assert_eq!(s.delay(60), Duration::from_secs(4 * 3600));
        assert_eq!(s.delay(0), Duration::from_secs(300));
        assert_eq!(
            s.next(1, t0, t0),
            NextStep::RetryAt(t0 + Duration::from_secs(300))
        );
        let near_end = t0 + s.lifetime - Duration::from_secs(60);
        assert_eq!(s.next(30, t0, near_end), NextStep::RetryAt(t0 + s.lifetime));
        assert_eq!(s.next(31, t0, t0 + s.lifetime), NextStep::GiveUp);
    }

    #[test]
    fn total_attempts_over_five_days() {
        let s = RetrySchedule::default();
        let t0 = SystemTime::UNIX_EPOCH;
        let mut now = t0;
        let mut attempts = 1;
        while let NextStep::RetryAt(t) = s.next(attempts, t0, now) {
            now = t;
            attempts += 1;
            assert!(attempts < 100);
        }
        // 6 stepped retries reach ~7h45m; then every 4 h to 120 h: 29 more, plus the first.
        assert_eq!(attempts, 36);
    }
}
