//! The SASL messages of SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN (the
//! widely deployed, never standardised mechanism of draft-murchison-sasl-login).
//!
//! Both send the password in the clear inside base64, so the server offers them only
//! under TLS (RFC 4954 §4: a server "SHOULD NOT" advertise plaintext mechanisms
//! without a strong security layer; RFC 4616 §4 repeats it).
//!
//! ```text
//! message   = [authzid] UTF8NUL authcid UTF8NUL passwd     ; RFC 4616 §2
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The LOGIN mechanism's first challenge: base64 of `Username:`.
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// The LOGIN mechanism's second challenge: base64 of `Password:`.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// A SASL mechanism Sendwell knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login.
    Login,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        })
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // RFC 4954 §4: mechanism names are case-insensitive.
        if s.eq_ignore_ascii_case("PLAIN") {
            Ok(Mechanism::Plain)
        } else if s.eq_ignore_ascii_case("LOGIN") {
            Ok(Mechanism::Login)
        } else {
            Err(SaslError::UnknownMechanism)
        }
    }
}

/// Why an AUTH exchange could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// Not a mechanism we offer (RFC 4954 §4: 504).
    #[error("unrecognized authentication mechanism")]
    UnknownMechanism,
    /// The client sent `*` (RFC 4954 §4: 501).
    #[error("authentication cancelled")]
    Cancelled,
    /// Not base64 (RFC 4954 §4: 501).
    #[error("invalid base64 in the authentication exchange")]
    BadBase64,
    /// Not `[authzid] NUL authcid NUL passwd` in UTF-8 (RFC 4616 §2).
    #[error("malformed PLAIN message (RFC 4616 §2)")]
    MalformedPlain,
    /// A LOGIN user name or password that is empty or not UTF-8.
    #[error("malformed LOGIN response")]
    MalformedLogin,
}

/// What a PLAIN message carries (RFC 4616 §2).
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The identity to act as; `None` when empty (act as `authcid`).
    pub authzid: Option<String>,
    /// The identity whose password this is.
    pub authcid: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for PlainCredentials {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Decode one base64 line of an AUTH exchange (RFC 4954 §4). `*` cancels; `=` is an
/// empty initial response.
pub fn decode_response(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim_end_matches(' ');
    if line == "*" {
        return Err(SaslError::Cancelled);
    }
    if line == "=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(line).map_err(|_| SaslError::BadBase64)
}

/// Encode for the wire (a client's side, and tests).
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Read a PLAIN message (already base64-decoded).
pub fn parse_plain(message: &[u8]) -> Result<PlainCredentials, SaslError> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::MalformedPlain);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::MalformedPlain);
    let (authzid, authcid, password) = (text(authzid)?, text(authcid)?, text(password)?);
    // RFC 4616 §2: authcid and passwd are 1*SAFE.
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::MalformedPlain);
    }
    Ok(PlainCredentials {
        authzid: (!authzid.is_empty()).then_some(authzid),
        authcid,
        password,
    })
}

/// Read a LOGIN user name or password (already base64-decoded).
pub fn parse_login_field(bytes: &[u8]) -> Result<String, SaslError> {
    match String::from_utf8(bytes.to_vec()) {
        Ok(s) if !s.is_empty() && !s.contains('\0') => Ok(s),
        _ => Err(SaslError::MalformedLogin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let msg = decode_response(&encode(b"\0alice@example.test\0secret")).unwrap();
        let c = parse_plain(&msg).unwrap();
        assert_eq!(c.authzid, None);
        assert_eq!(c.authcid, "alice@example.test");
        assert_eq!(c.password, "secret");
        assert!(!format!("{c:?}").contains("secret"));
        assert_eq!(parse_plain(b"a\0b"), Err(SaslError::MalformedPlain));
        assert_eq!(parse_plain(b"\0\0pw"), Err(SaslError::MalformedPlain));
        assert_eq!(decode_response("*"), Err(SaslError::Cancelled));
        assert_eq!(decode_response("!!"), Err(SaslError::BadBase64));
        assert_eq!(decode_response("=").unwrap(), b"");
        assert_eq!(
            decode_response(LOGIN_USERNAME_CHALLENGE).unwrap(),
            b"Username:"
        );
        assert_eq!("login".parse::<Mechanism>(), Ok(Mechanism::Login));
    }
}
