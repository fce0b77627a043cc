//! Accounts and failed-login limits.
//!
//! Passwords are stored only as argon2id hashes (the PHC string format, with a random
//! salt per password), made by [`hash_password`] for `sendwell user`. Checking one
//! costs about 19 MiB and tens of milliseconds of CPU on purpose, so it runs on a
//! blocking thread, and only a few at once ([`Accounts::with_check_limit`]): the other
//! logins wait for their turn, and one that waits longer than [`CHECK_WAIT`] is told
//! to try again later ([`Verification::Busy`], 454 4.7.0). Without the bound, every
//! connection could hold its 19 MiB at the same time.
//!
//! [`LoginLimiter`] counts failures per client (an IPv4 address, an IPv6 /64: see
//! [`crate::listener::client_network`]), per client and account name, and per existing
//! account. Each failure waits longer before its 535 (the delay doubles with the
//! failures from that client or for that account, up to a maximum). The hard lockout
//! (454 4.7.0 for every attempt, right password or not, until the window has passed)
//! applies to a client after `max_failures_per_ip` failures and to a client and
//! account name after `max_failures`: a stranger who knows a user's address can lock
//! only themselves out, never the user. Failures per account are counted only for
//! accounts that exist, and every counter table has a hard size, the oldest entries
//! giving way, so guessed names cannot grow memory. Unknown accounts are checked
//! against a dummy hash so the answer takes as long as for a real one.
//!
//! Parallel guesses count like sequential ones: the logins of one client run one at
//! a time ([`LoginLimiter::gate`]), from the lockout check through the password check
//! to the end of a failure's delay. A failure is therefore counted, and its delay
//! served, before the next check from that client starts, so twenty connections
//! guessing at once get exactly as many checks as one connection guessing twenty
//! times. A right password costs the queue behind it only its argon2 time.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use sendwell_config::{User, Users};

use crate::listener::client_network;

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

/// Longest a login waits for its turn at the password check before it gets 454 4.7.0.
pub const CHECK_WAIT: Duration = Duration::from_secs(5);

/// Most password checks at once, by default: one per CPU, at most 4 (4 × 19 MiB).
pub fn default_concurrent_checks() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// The outcome of a login check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right: the account.
    Valid(User),
    /// Wrong password or no such account. `account` is the account's address (lower
    /// case) when it exists, for the per-account failure count.
    Invalid {
        /// The existing account the login named, if any.
        account: Option<String>,
    },
    /// Too many checks were running for [`CHECK_WAIT`]: not checked, try again later.
    Busy,
}

/// The accounts of `DIR/users.toml`, read again whenever the file changes.
pub struct Accounts {
    dir: PathBuf,
    cache: Mutex<(Option<SystemTime>, Arc<Users>)>,
    /// One permit per password check that may run at once.
    checks: Arc<Semaphore>,
    /// How long a login waits for a permit.
    check_wait: Duration,
}

impl Accounts {
    /// Accounts read from `dir/users.toml` on first use, with
    /// [`default_concurrent_checks`] and [`CHECK_WAIT`].
    pub fn new(dir: PathBuf) -> Self {
        Self::with_check_limit(dir, default_concurrent_checks(), CHECK_WAIT)
    }

    /// Accounts whose password checks run at most `concurrent` at once (at least 1); a
    /// login waits at most `wait` for its turn.
    pub fn with_check_limit(dir: PathBuf, concurrent: usize, wait: Duration) -> Self {
        Accounts {
            dir,
            cache: Mutex::new((None, Arc::new(Users::default()))),
            checks: Arc::new(Semaphore::new(concurrent.max(1))),
            check_wait: wait,
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

    /// Check a login: wait for a free check (at most the configured wait), then run
    /// argon2 on a blocking thread. The permit travels with the check, so a session
    /// that goes away mid-check cannot let more checks run than allowed.
    pub async fn verify(&self, login: &str, password: String) -> Verification {
        let user = self.current().find(login).cloned();
        let permit =
            match tokio::time::timeout(self.check_wait, Arc::clone(&self.checks).acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) | Err(_) => return Verification::Busy,
            };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let ok = tokio::task::spawn_blocking(move || {
            let ok = match &hash {
                Some(h) => verify_password(&password, h),
                None => verify_password(&password, dummy_hash()),
            };
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false);
        match user {
            Some(u) if ok => Verification::Valid(u),
            Some(u) => Verification::Invalid {
                account: Some(u.address.to_ascii_lowercase()),
            },
            None => Verification::Invalid { account: None },
        }
    }
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
}

/// Entries kept at most in each counter table: beyond it, expired entries go first,
/// then the oldest eighth (bounded memory, amortised constant work per failure).
const MAX_TRACKED: usize = 100_000;

/// Failure counters by key, within a window, in a table of bounded size.
struct Tracker<K> {
    map: Mutex<HashMap<K, Failures>>,
    cap: usize,
}

impl<K: Hash + Eq> Tracker<K> {
    fn new(cap: usize) -> Self {
        Tracker {
            map: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The failures for `k` within the window.
    fn count(&self, k: &K, window: Duration) -> u32 {
        let mut m = self.lock();
        match m.get(k) {
            Some(f) if f.first.elapsed() < window => f.count,
            Some(_) => {
                m.remove(k);
                0
            }
            None => 0,
        }
    }

    /// Count one more failure for `k`; returns the count within the window.
    fn bump(&self, k: K, window: Duration) -> u32 {
        let mut m = self.lock();
        if !m.contains_key(&k) && m.len() >= self.cap {
            m.retain(|_, f| f.first.elapsed() < window);
            if m.len() >= self.cap {
                // Still full of live entries: the oldest eighth gives way.
                let mut firsts: Vec<Instant> = m.values().map(|f| f.first).collect();
                let nth = firsts.len() / 8;
                let (_, &mut oldest, _) = firsts.select_nth_unstable(nth);
                m.retain(|_, f| f.first > oldest);
            }
        }
        let now = Instant::now();
        let f = m.entry(k).or_insert(Failures {
            count: 0,
            first: now,
        });
        if f.first.elapsed() >= window {
            *f = Failures {
                count: 0,
                first: now,
            };
        }
        f.count += 1;
        f.count
    }

    fn forget(&self, k: &K) {
        self.lock().remove(k);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Failed-login counters (see the module documentation).
pub struct LoginLimiter {
    /// Per client network: the hard lockout at `max_failures_per_ip`, and the delay.
    by_client: Tracker<IpAddr>,
    /// Per client network and account name as typed (lower case, hashed with a
    /// per-process key: fixed size whatever the client sends, and no way to aim
    /// collisions): the hard lockout at `max_failures`.
    by_pair: Tracker<(IpAddr, u64)>,
    /// Per existing account, from anywhere: only the delay.
    by_account: Tracker<String>,
    names: RandomState,
    delay: Duration,
    max_delay: Duration,
    max_failures: u32,
    max_failures_per_ip: u32,
    window: Duration,
    /// One gate per client network with a login in progress or waiting: entries
    /// leave when the last holder or waiter does, so there are never more than there
    /// are connections.
    gates: Mutex<HashMap<IpAddr, Arc<tokio::sync::Mutex<()>>>>,
}

/// A client's turn at logging in (see [`LoginLimiter::gate`]); dropping it lets the
/// client's next login go ahead.
pub struct LoginTurn<'a> {
    limiter: &'a LoginLimiter,
    client: IpAddr,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LoginTurn<'_> {
    fn drop(&mut self) {
        // Release first, then forget the gate if nobody else holds or waits for it
        // (the map's own reference is the only one left).
        drop(self.guard.take());
        let mut gates = self.limiter.gates.lock().unwrap_or_else(|p| p.into_inner());
        if gates
            .get(&self.client)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            gates.remove(&self.client);
        }
    }
}

/// What the limiter says about a login attempt before it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check the password.
    Check,
    /// Too many failures: refuse without checking (454 4.7.0).
    LockedOut,
}

impl LoginLimiter {
    /// A limiter with the config's settings.
    pub fn new(c: &sendwell_config::Auth) -> Self {
        Self::with_capacity(c, MAX_TRACKED)
    }

    fn with_capacity(c: &sendwell_config::Auth, cap: usize) -> Self {
        LoginLimiter {
            by_client: Tracker::new(cap),
            by_pair: Tracker::new(cap),
            by_account: Tracker::new(cap),
            names: RandomState::new(),
            delay: Duration::from_millis(c.failure_delay_ms),
            max_delay: Duration::from_millis(c.max_failure_delay_ms),
            max_failures: c.max_failures,
            max_failures_per_ip: c.max_failures_per_ip,
            window: Duration::from_secs(c.failure_window_secs),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Wait for this client's turn to log in: one login per client network at a
    /// time, held from [`LoginLimiter::admit`] through the password check and, for a
    /// failure, through its delay. `None` when the turn did not come within `wait`
    /// (the caller answers 454 4.7.0; nothing was checked or counted).
    pub async fn gate(&self, ip: IpAddr, wait: Duration) -> Option<LoginTurn<'_>> {
        let client = client_network(ip);
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(gates.entry(client).or_default())
        };
        // The turn holds a clone of the gate; the waiting future holds another, so a
        // waiter keeps the entry alive and a timed-out one gives its reference back.
        let mut turn = LoginTurn {
            limiter: self,
            client,
            guard: None,
        };
        match tokio::time::timeout(wait, gate.lock_owned()).await {
            Ok(guard) => {
                turn.guard = Some(guard);
                Some(turn)
            }
            // `turn` drops here and removes the entry when it was the last one.
            Err(_) => None,
        }
    }

    #[cfg(test)]
    fn gates_len(&self) -> usize {
        self.gates.lock().unwrap().len()
    }

    fn pair(&self, ip: IpAddr, login: &str) -> (IpAddr, u64) {
        (
            client_network(ip),
            self.names.hash_one(login.to_ascii_lowercase()),
        )
    }

    /// May this attempt (from `ip`, naming `login`) be checked?
    pub fn admit(&self, ip: IpAddr, login: &str) -> Admission {
        if self.by_client.count(&client_network(ip), self.window) >= self.max_failures_per_ip
            || self.by_pair.count(&self.pair(ip, login), self.window) >= self.max_failures
        {
            Admission::LockedOut
        } else {
            Admission::Check
        }
    }

    /// Record a failure from `ip` naming `login`; `account` is the existing account it
    /// named, if any ([`Verification::Invalid`]). Returns how long to wait before
    /// answering.
    pub fn failed(&self, ip: IpAddr, login: &str, account: Option<&str>) -> Duration {
        let client = self.by_client.bump(client_network(ip), self.window);
        self.by_pair.bump(self.pair(ip, login), self.window);
        let account = account.map_or(0, |a| {
            self.by_account.bump(a.to_ascii_lowercase(), self.window)
        });
        let n = client.max(account);
        let factor = 1u32 << (n.saturating_sub(1)).min(16);
        self.delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Record a success: the failures for this client and account name and for the
    /// account are forgotten (the client's are not, so a client cannot reset its count
    /// by logging into its own account between guesses).
    pub fn succeeded(&self, ip: IpAddr, login: &str, account: &str) {
        self.by_pair.forget(&self.pair(ip, login));
        self.by_account.forget(&account.to_ascii_lowercase());
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

    fn limits(max_failures: u32, max_failures_per_ip: u32) -> sendwell_config::Auth {
        sendwell_config::Auth {
            failure_delay_ms: 100,
            max_failure_delay_ms: 350,
            max_failures,
            max_failures_per_ip,
            failure_window_secs: 3600,
        }
    }

    #[test]
    fn limiter_grows_and_locks_out() {
        let l = LoginLimiter::new(&limits(3, 5));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let alice = Some("alice@x");
        assert_eq!(l.admit(ip, "alice@x"), Admission::Check);
        assert_eq!(l.failed(ip, "alice@x", alice), Duration::from_millis(100));
        assert_eq!(l.failed(ip, "Alice@X", alice), Duration::from_millis(200));
        assert_eq!(l.failed(ip, "b@x", None), Duration::from_millis(350));
        // Two failures for alice from this client: still allowed; a third locks out
        // this client for alice (any spelling), not for other names.
        assert_eq!(l.admit(ip, "alice@x"), Admission::Check);
        l.failed(ip, "alice@x", alice);
        assert_eq!(l.admit(ip, "ALICE@x"), Admission::LockedOut);
        assert_eq!(l.admit(ip, "c@x"), Admission::Check);
        // Five failures in all lock the client out for every name.
        l.failed(ip, "c@x", None);
        assert_eq!(l.admit(ip, "d@x"), Admission::LockedOut);
    }

    #[test]
    fn a_stranger_cannot_lock_a_user_out() {
        let l = LoginLimiter::new(&limits(3, 10));
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        let alice_ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            l.failed(attacker, "alice@x", Some("alice@x"));
        }
        assert_eq!(l.admit(attacker, "alice@x"), Admission::LockedOut);
        // Alice, from her own address, is still checked ...
        assert_eq!(l.admit(alice_ip, "alice@x"), Admission::Check);
        // ... though a failure of hers now waits as long as the account's count says
        // (the per-account delay still grows).
        assert_eq!(
            l.failed(alice_ip, "alice@x", Some("alice@x")),
            Duration::from_millis(350)
        );
        // The attacker's other addresses in the same IPv6 /64 are the same client.
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        for _ in 0..3 {
            l.failed(v6a, "alice@x", Some("alice@x"));
        }
        assert_eq!(l.admit(v6b, "alice@x"), Admission::LockedOut);
        // Success forgets the client's failures for that name and the account's.
        l.succeeded(alice_ip, "alice@x", "alice@x");
        assert_eq!(
            l.failed(alice_ip, "alice@x", Some("alice@x")),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn tracked_entries_are_bounded() {
        let l = LoginLimiter::with_capacity(&limits(3, 1000), 64);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..1000u32 {
            // Long guessed names, never an account: nothing per account.
            let name = format!("{}{i}@x", "n".repeat(9000));
            l.failed(ip, &name, None);
            let client: IpAddr = std::net::Ipv4Addr::from(i).into();
            l.failed(client, "a@x", Some("a@x"));
        }
        assert!(l.by_pair.len() <= 64, "{}", l.by_pair.len());
        assert!(l.by_client.len() <= 64, "{}", l.by_client.len());
        assert_eq!(l.by_account.len(), 1);
        // The newest entries were kept: the last client is still counted.
        let last: IpAddr = std::net::Ipv4Addr::from(999u32).into();
        assert_eq!(l.by_client.count(&client_network(last), l.window), 1);
    }

    #[tokio::test]
    async fn one_login_per_client_at_a_time_and_gates_are_freed() {
        let l = Arc::new(LoginLimiter::new(&limits(3, 5)));
        let ip: IpAddr = "2001:db8:7::1".parse().unwrap();
        let same_client: IpAddr = "2001:db8:7::2".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let first = l.gate(ip, Duration::from_secs(1)).await.unwrap();
        // The same /64 waits; another client does not.
        assert!(
            l.gate(same_client, Duration::from_millis(50))
                .await
                .is_none()
        );
        let o = l.gate(other, Duration::from_millis(50)).await;
        assert!(o.is_some());
        drop(o);
        let waiting = {
            let l = Arc::clone(&l);
            tokio::spawn(
                async move { l.gate(same_client, Duration::from_secs(10)).await.is_some() },
            )
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        assert!(waiting.await.unwrap());
        // Nobody holds or waits: nothing is kept (a timed-out waiter left nothing either).
        assert_eq!(l.gates_len(), 0);
    }

    fn accounts_with_alice(
        concurrent: usize,
        wait: Duration,
    ) -> (sendwell_testkit::TempDir, Accounts) {
        let tmp = sendwell_testkit::TempDir::new("accounts");
        let users = Users {
            users: vec![User {
                address: "alice@example.test".into(),
                password_hash: hash_password("pw").unwrap(),
                may_send_from: vec![],
            }],
        };
        users.save(tmp.path()).unwrap();
        let accounts = Accounts::with_check_limit(tmp.path().to_path_buf(), concurrent, wait);
        (tmp, accounts)
    }

    #[tokio::test]
    async fn password_checks_wait_for_a_free_slot() {
        let (_tmp, accounts) = accounts_with_alice(1, Duration::from_millis(50));
        // Every slot taken (as by a running check): the login is not checked.
        let held = Arc::clone(&accounts.checks).acquire_owned().await.unwrap();
        assert_eq!(
            accounts.verify("alice@example.test", "pw".into()).await,
            Verification::Busy
        );
        drop(held);
        assert!(matches!(
            accounts.verify("alice@example.test", "pw".into()).await,
            Verification::Valid(_)
        ));
        assert_eq!(
            accounts.verify("Alice@example.test", "no".into()).await,
            Verification::Invalid {
                account: Some("alice@example.test".into())
            }
        );
        assert_eq!(
            accounts.verify("bob@example.test", "pw".into()).await,
            Verification::Invalid { account: None }
        );
    }

    #[tokio::test]
    async fn a_waiting_check_runs_when_a_slot_frees() {
        let (_tmp, accounts) = accounts_with_alice(1, Duration::from_secs(600));
        let accounts = Arc::new(accounts);
        let held = Arc::clone(&accounts.checks).acquire_owned().await.unwrap();
        let waiting = {
            let accounts = Arc::clone(&accounts);
            tokio::spawn(async move { accounts.verify("alice@example.test", "pw".into()).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        assert!(matches!(waiting.await.unwrap(), Verification::Valid(_)));
        assert_eq!(accounts.checks.available_permits(), 1);
    }
}
