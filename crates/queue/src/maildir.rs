//! Delivery into a Maildir (the format of D. J. Bernstein's qmail, read by Dovecot,
//! mutt, and most mail tools): `tmp/`, `new/`, `cur/`.
//!
//! A message is written to `tmp/` under a unique name, synced, renamed into `new/`,
//! and the `new/` directory is synced: once [`deliver`] returns, the message is in
//! the mailbox for good, and a reader never sees half of it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory name for a mailbox address under `DIR/mail/`: the address in lower
/// case, with anything but letters, digits and `@._+-` written as `%XX`, so a local
/// part can never climb out of the directory.
pub fn mailbox_dir_name(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    for b in address.to_ascii_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || b"@_+-".contains(&b) || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Maildir of `address` under `mail_root` (`DIR/mail`).
pub fn mailbox_path(mail_root: &Path, address: &str) -> PathBuf {
    mail_root.join(mailbox_dir_name(address))
}

/// Write `data` into the Maildir at `maildir` (created if needed) under the unique
/// name `unique`. Returns the path in `new/`.
pub fn deliver(maildir: &Path, unique: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    let (tmp, new) = (maildir.join("tmp"), maildir.join("new"));
    if !new.is_dir() {
        for d in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(d))?;
        }
        File::open(maildir)?.sync_all()?;
        if let Some(parent) = maildir.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    let tmp_path = tmp.join(unique);
    let new_path = new.join(unique);
    let mut f = File::create(&tmp_path)?;
    f.write_all(data)?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp_path, &new_path)?;
    File::open(&new)?.sync_all()?;
    Ok(new_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert_eq!(mailbox_dir_name("Alice@Example.test"), "alice@example.test");
        assert_eq!(mailbox_dir_name("../x@y"), "%2E.%2Fx@y");
        assert_eq!(mailbox_dir_name("a/b@c"), "a%2Fb@c");
    }

    #[test]
    fn delivers() {
        let tmp = sendwell_testkit::TempDir::new("maildir");
        let md = mailbox_path(tmp.path(), "a@b.test");
        let p = deliver(&md, "1.x.host", b"hello").unwrap();
        assert_eq!(std::fs::read(p).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0);
    }
}
