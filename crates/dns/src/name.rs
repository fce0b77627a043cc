//! Domain-name helpers shared by the resolver and the mock.

use std::net::IpAddr;

use crate::LookupError;

/// Longest domain name in presentation form without the trailing dot (RFC 1035 §2.3.4:
/// 255 octets on the wire, which is 253 characters of text).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Check `name` can be sent as a query and return it lowercased, without a trailing dot.
///
/// Labels may hold any octet but `.` (RFC 2181 §11): SPF macros can produce
/// underscores and other characters that are legal in DNS even where not in host names.
pub fn normalize_name(name: &str) -> Result<String, LookupError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(LookupError::InvalidName(format!("{name:?} is empty")));
    }
    if trimmed.len() > MAX_NAME_LEN {
        return Err(LookupError::InvalidName(format!(
            "{} octets is longer than {MAX_NAME_LEN}",
            trimmed.len()
        )));
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(LookupError::InvalidName(format!(
                "{name:?} has an empty label"
            )));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(LookupError::InvalidName(format!(
                "{name:?} has a label longer than {MAX_LABEL_LEN} octets"
            )));
        }
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// The reverse-lookup name of `ip` (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa),
/// without the trailing dot.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_name("Example.COM.").unwrap(), "example.com");
        assert!(normalize_name("").is_err());
        assert!(normalize_name(".").is_err());
        assert!(normalize_name("a..b").is_err());
        assert!(normalize_name(&"a".repeat(64)).is_err());
        assert!(normalize_name(&["a"; 127].join(".")).is_ok());
        assert!(normalize_name(&["a"; 128].join(".")).is_err());
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
