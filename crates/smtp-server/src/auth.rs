//! Accounts and failed-login limits.
//!
//! Passwords are stored only as argon2id hashes (the PHC string format, with a random
//! salt per password), made by [`hash_password`] for `sendwell user`. Checking one
//! costs tens of milliseconds of CPU on purpose, so it runs on a blocking thread.
//!
//! [`LoginLimiter`] counts failures per client IP and per account: each failure
//! waits longer before its 535 (the delay doubles, up to a maximum), and after
//! `max_failures` within the window every attempt from that IP or for that account
//! gets 454 4.7.0, right password or not, until the window has passed. Unknown
//! accounts are checked against a dummy hash so the answer takes as long as for a
//! real one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use sendwell_config::{User, Users};

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes) and a random
/// salt, in PHC string format.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Check a password against a PHC hash string.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A fixed hash of nothing, checked for unknown accounts so they take as long.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("sendwell-dummy").unwrap_or_default())
}

/// The accounts of `DIR/users.toml`, read again whenever the file changes.
pub struct Accounts {
    dir: PathBuf,
    cache: Mutex<(Option<SystemTime>, Arc<Users>)>,
}

impl Accounts {
    /// Accounts read from `dir/users.toml` on first use.
    pub fn new(dir: PathBuf) -> Self {
        Accounts {
            dir,
            cache: Mutex::new((None, Arc::new(Users::default()))),
        }
    }

    /// The current accounts (re-read if the file changed; kept if it became invalid).
    pub fn current(&self) -> Arc<Users> {
        let mtime = std::fs::metadata(self.dir.join(sendwell_config::USERS_FILE))
            .and_then(|m| m.modified())
            .ok();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if mtime != cache.0 {
            match Users::load(&self.dir) {
                Ok(users) => *cache = (mtime, Arc::new(users)),
                Err(e) => {
                    tracing::error!(error = %e, "users file invalid; keeping the accounts read before")
                }
            }
        }
        Arc::clone(&cache.1)
    }

    /// Check a login. Returns the account on success. Runs argon2 on a blocking thread.
    pub async fn verify(&self, login: &str, password: String) -> Option<User> {
        let user = self.current().find(login).cloned();
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        if ok { user } else { None }
    }
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
}

/// Failed-login counters per IP and per account.
pub struct LoginLimiter {
    by_ip: Mutex<HashMap<IpAddr, Failures>>,
    by_account: Mutex<HashMap<String, Failures>>,
    delay: Duration,
    max_delay: Duration,
    max_failures: u32,
    window: Duration,
}

/// What the limiter says about a login attempt before it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check the password.
    Check,
    /// Too many failures: refuse without checking (454 4.7.0).
    LockedOut,
}

/// Entries kept at most; beyond this, expired ones are swept (bounded memory).
const MAX_TRACKED: usize = 100_000;

impl LoginLimiter {
    /// A limiter with the config's settings.
    pub fn new(c: &sendwell_config::Auth) -> Self {
        LoginLimiter {
            by_ip: Mutex::new(HashMap::new()),
            by_account: Mutex::new(HashMap::new()),
            delay: Duration::from_millis(c.failure_delay_ms),
            max_delay: Duration::from_millis(c.max_failure_delay_ms),
            max_failures: c.max_failures,
            window: Duration::from_secs(c.failure_window_secs),
        }
    }

    fn current<K: std::hash::Hash + Eq>(&self, map: &Mutex<HashMap<K, Failures>>, k: &K) -> u32 {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(k) {
            Some(f) if f.first.elapsed() < self.window => f.count,
            Some(_) => {
                m.remove(k);
                0
            }
            None => 0,
        }
    }

    /// May this attempt be checked?
    pub fn admit(&self, ip: IpAddr, account: &str) -> Admission {
        let account = account.to_ascii_lowercase();
        if self.current(&self.by_ip, &ip) >= self.max_failures
            || self.current(&self.by_account, &account) >= self.max_failures
        {
            Admission::LockedOut
        } else {
            Admission::Check
        }
    }

    fn bump<K: std::hash::Hash + Eq>(&self, map: &Mutex<HashMap<K, Failures>>, k: K) -> u32 {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_TRACKED {
            let window = self.window;
            m.retain(|_, f| f.first.elapsed() < window);
        }
        let f = m.entry(k).or_insert(Failures {
            count: 0,
            first: Instant::now(),
        });
        if f.first.elapsed() >= self.window {
            *f = Failures {
                count: 0,
                first: Instant::now(),
            };
        }
        f.count += 1;
        f.count
    }

    /// Record a failure; returns how long to wait before answering.
    pub fn failed(&self, ip: IpAddr, account: &str) -> Duration {
        let n = self
            .bump(&self.by_ip, ip)
            .max(self.bump(&self.by_account, account.to_ascii_lowercase()));
        let factor = 1u32 << (n.saturating_sub(1)).min(16);
        self.delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Record a success: the account's failures are forgotten (the IP's are not, so a
    /// client cannot reset its count by logging into its own account between guesses).
    pub fn succeeded(&self, account: &str) {
        self.by_account
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn limiter_grows_and_locks_out() {
        let l = LoginLimiter::new(&sendwell_config::Auth {
            failure_delay_ms: 100,
            max_failure_delay_ms: 350,
            max_failures: 3,
            failure_window_secs: 3600,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(l.admit(ip, "a@x"), Admission::Check);
        assert_eq!(l.failed(ip, "a@x"), Duration::from_millis(100));
        assert_eq!(l.failed(ip, "a@x"), Duration::from_millis(200));
        assert_eq!(l.failed(ip, "b@x"), Duration::from_millis(350));
        assert_eq!(l.admit(ip, "c@x"), Admission::LockedOut);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(l.admit(other, "A@X"), Admission::Check);
        l.failed(other, "a@x");
        assert_eq!(l.admit(other, "a@x"), Admission::LockedOut);
        assert_eq!(l.admit(other, "z@x"), Admission::Check);
    }
}
