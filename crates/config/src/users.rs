//! `DIR/users.toml`: the accounts that may submit mail, with argon2 password hashes.
//!
//! Kept apart from `sendwell.toml` because `sendwell user add|passwd|del` rewrites it
//! and the server reads it again whenever it changes (no restart for a new user).

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ConfigError, USERS_FILE};

/// The accounts, `DIR/users.toml`. Written by `sendwell user`; read again by the
/// server when it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// One `[[user]]` table per account.
    #[serde(rename = "user", default)]
    pub users: Vec<User>,
}

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The login name: the user's own mail address.
    pub address: String,
    /// The password as an argon2id hash in PHC string format ($argon2id$v=19$...). Set
    /// it with `sendwell user add` or `sendwell user passwd`; never the password itself.
    pub password_hash: String,
    /// Other addresses (alice@example.com) or whole domains (example.com) this user may
    /// send from, in MAIL FROM and in the From: header. The user's own address is
    /// always allowed.
    #[serde(default)]
    pub may_send_from: Vec<String>,
}

impl User {
    /// True when this user may use `address` as a sender. Addresses and domains are
    /// compared without regard to case.
    pub fn may_send_as(&self, address: &str) -> bool {
        if address.eq_ignore_ascii_case(&self.address) {
            return true;
        }
        let domain = address.rsplit_once('@').map(|(_, d)| d);
        self.may_send_from.iter().any(|allowed| {
            if allowed.contains('@') {
                allowed.eq_ignore_ascii_case(address)
            } else {
                domain.is_some_and(|d| d.eq_ignore_ascii_case(allowed))
            }
        })
    }
}

impl Users {
    /// Read `DIR/users.toml`; a missing file is no users.
    pub fn load(dir: &Path) -> Result<Users, ConfigError> {
        let path = dir.join(USERS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Users::default()),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
    }

    /// Write `DIR/users.toml` atomically (a temporary file, fsync, rename), mode 0600.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let path = dir.join(USERS_FILE);
        let tmp = dir.join(format!(".{USERS_FILE}.tmp"));
        let text = crate::example::render_documented(
            self,
            "Sendwell accounts. Managed with `sendwell user add|passwd|del`; the server reads\n\
             this file again whenever it changes.",
        );
        let io = |source| ConfigError::Io {
            path: path.clone(),
            source,
        };
        write_private(&tmp, text.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// The user with this login (compared without regard to case).
    pub fn find(&self, address: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.address.eq_ignore_ascii_case(address))
    }
}

/// Write a file readable only by its owner, and fsync it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn may_send_as() {
        let u = User {
            address: "alice@example.test".into(),
            password_hash: String::new(),
            may_send_from: vec!["sales@example.test".into(), "alice.example".into()],
        };
        assert!(u.may_send_as("Alice@Example.test"));
        assert!(u.may_send_as("sales@example.test"));
        assert!(u.may_send_as("anyone@ALICE.example"));
        assert!(!u.may_send_as("bob@example.test"));
        assert!(!u.may_send_as("x@sub.alice.example"));
    }
}
