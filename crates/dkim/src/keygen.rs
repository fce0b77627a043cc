//! Key generation and the DNS record to publish (RFC 6376 §3.6.1, §3.6.2; RFC 8463 §4).
//!
//! The record value is written the way every receiver accepts it: `v=DKIM1; k=rsa; p=...`,
//! one space after each semicolon, no quotes, tabs or line breaks inside. A zone file
//! cannot hold a TXT string over 255 octets (RFC 1035 §3.3.14), and an RSA-2048 record is
//! about 410, so [`zone_file_record`] splits it into several strings, which receivers
//! join with nothing between them (RFC 6376 §3.6.2.2).
//!
//! The private key is written as PKCS#8 PEM with mode 0600, and never over an existing
//! file unless asked ([`write_private_key`]): overwriting a published key's private half
//! breaks every message in flight.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, RsaKeyPair};

use crate::crypto::{KeyError, SigningKey};
use crate::signature::{is_domain_name, is_selector};

/// The longest character-string of a TXT record (RFC 1035 §3.3).
pub const MAX_TXT_STRING: usize = 255;

/// What kind of key to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum KeyAlgorithm {
    /// RSA, 2048 bits: the default, verified by every receiver (RFC 8301 §3.2).
    #[default]
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits (its record needs several TXT strings; some DNS panels balk).
    Rsa4096,
    /// Ed25519 (RFC 8463): small and fast, but not verified everywhere yet; publish it
    /// next to an RSA key.
    Ed25519,
}

impl KeyAlgorithm {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rsa-2048" | "rsa" => Ok(KeyAlgorithm::Rsa2048),
            "rsa-3072" => Ok(KeyAlgorithm::Rsa3072),
            "rsa-4096" => Ok(KeyAlgorithm::Rsa4096),
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            _ => Err(format!(
                "unknown key algorithm {s:?}: use rsa-2048, rsa-3072, rsa-4096 or ed25519"
            )),
        }
    }
}

/// Why keys could not be generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    /// The domain is not a domain name.
    #[error("{0:?} is not a valid domain")]
    InvalidDomain(String),
    /// The selector is not valid.
    #[error("{0:?} is not a valid selector (letters, digits, hyphens, dots)")]
    InvalidSelector(String),
    /// The crypto library failed.
    #[error("key generation failed: {0}")]
    Crypto(String),
    /// The key could not be encoded.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A new key and what to publish for it.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The key, ready to sign with.
    pub key: SigningKey,
    /// The private key as PKCS#8 PEM.
    pub private_key_pem: String,
    /// Where the record goes: `selector._domainkey.domain`.
    pub record_name: String,
    /// The TXT record value: `v=DKIM1; k=...; p=...`.
    pub record_value: String,
    /// What was generated.
    pub algorithm: KeyAlgorithm,
}

impl GeneratedKey {
    /// The record in zone-file syntax, strings of at most 255 octets.
    pub fn zone_file_record(&self) -> String {
        zone_file_record(&self.record_name, &self.record_value)
    }
}

/// Generate a key for `selector._domainkey.domain`.
pub fn keygen(
    domain: &str,
    selector: &str,
    algorithm: KeyAlgorithm,
) -> Result<GeneratedKey, KeygenError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if !is_domain_name(&domain) {
        return Err(KeygenError::InvalidDomain(domain));
    }
    if !is_selector(selector) {
        return Err(KeygenError::InvalidSelector(selector.to_string()));
    }
    let key = match algorithm {
        KeyAlgorithm::Ed25519 => SigningKey::from_ed25519(
            Ed25519KeyPair::generate().map_err(|e| KeygenError::Crypto(e.to_string()))?,
        ),
        rsa => {
            let size = match rsa {
                KeyAlgorithm::Rsa3072 => KeySize::Rsa3072,
                KeyAlgorithm::Rsa4096 => KeySize::Rsa4096,
                _ => KeySize::Rsa2048,
            };
            SigningKey::from_rsa(
                RsaKeyPair::generate(size).map_err(|e| KeygenError::Crypto(e.to_string()))?,
            )
        }
    };
    let private_key_pem = key.to_pkcs8_pem()?;
    let record_value = key.key_record().to_string();
    Ok(GeneratedKey {
        key,
        private_key_pem,
        record_name: format!("{selector}._domainkey.{domain}"),
        record_value,
        algorithm,
    })
}

/// Split `value` into TXT character-strings of at most [`MAX_TXT_STRING`] octets.
/// (The value is ASCII: it never splits a character.)
pub fn txt_strings(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while rest.len() > MAX_TXT_STRING {
        let mut cut = MAX_TXT_STRING;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// `name. IN TXT ( "..." "..." )` for a zone file (RFC 1035 §5.1): each string at most
/// 255 octets, quotes and backslashes escaped.
pub fn zone_file_record(name: &str, value: &str) -> String {
    let strings: Vec<String> = txt_strings(value)
        .into_iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if strings.len() == 1 {
        format!("{name}. IN TXT {}", strings[0])
    } else {
        format!("{name}. IN TXT ( {} )", strings.join("\n\t"))
    }
}

/// Write a private key to `path` with mode 0600. Without `force`, an existing file is
/// never touched (the error is `AlreadyExists`); with it, the file is replaced atomically.
pub fn write_private_key(path: &Path, pem: &str, force: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if !force {
        let mut file = options.open(path)?;
        file.write_all(pem.as_bytes())?;
        return file.sync_all();
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key".into());
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_publishable_records() {
        let ed = keygen("Example.COM.", "s2026", KeyAlgorithm::Ed25519).unwrap();
        assert_eq!(ed.record_name, "s2026._domainkey.example.com");
        assert!(ed.record_value.starts_with("v=DKIM1; k=ed25519; p="));
        assert_eq!(
            ed.zone_file_record(),
            format!(
                "s2026._domainkey.example.com. IN TXT \"{}\"",
                ed.record_value
            )
        );
        let again = SigningKey::from_pem(&ed.private_key_pem).unwrap();
        assert_eq!(again.public_key_data(), ed.key.public_key_data());

        let rsa = keygen("example.com", "s1", KeyAlgorithm::Rsa2048).unwrap();
        assert_eq!(rsa.key.bits(), 2048);
        assert!(rsa.record_value.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
        assert!(!rsa.record_value.contains(['"', '\t', '\n']));
        let strings = txt_strings(&rsa.record_value);
        assert!(strings.len() >= 2);
        assert!(strings.iter().all(|s| s.len() <= MAX_TXT_STRING));
        assert_eq!(strings.concat(), rsa.record_value);
        assert!(keygen("bad domain", "s", KeyAlgorithm::Ed25519).is_err());
        assert!(keygen("example.com", "", KeyAlgorithm::Ed25519).is_err());
    }

    #[test]
    fn key_files_are_private_and_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("sendwell-dkim-keygen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.pem");
        let _ = std::fs::remove_file(&path);
        write_private_key(&path, "one", false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_private_key(&path, "two", false).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        write_private_key(&path, "three", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
