//! Just enough DER (ITU-T X.690) to read the RSA key structures DKIM meets: a
//! SubjectPublicKeyInfo (RFC 5280 §4.1) or a bare RSAPublicKey (RFC 8017 §A.1.1) in
//! `p=`, and the modulus of a private key (to say how short a rejected key is).
//!
//! The key itself is handed to aws-lc-rs as modulus and exponent; this reader only finds
//! them, bounds-checked, with no allocation.

/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 §A.1), DER-encoded OID content.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;

/// Read one TLV from the front of `input`: (tag, content, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = read_tlv(input)?;
    (t == tag).then_some((content, rest))
}

/// An unsigned big-endian integer without leading zero octets.
fn unsigned(content: &[u8]) -> Option<&[u8]> {
    let mut c = content;
    while c.len() > 1 && c[0] == 0 {
        c = &c[1..];
    }
    (!c.is_empty() && c[0] != 0).then_some(c)
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, seq) = expect(seq, INTEGER)?;
    let (e, seq) = expect(seq, INTEGER)?;
    if !seq.is_empty() {
        return None;
    }
    Some((unsigned(n)?, unsigned(e)?))
}

/// The modulus and exponent (big-endian, no leading zeros) of an RSA public key given
/// as a SubjectPublicKeyInfo or as a bare RSAPublicKey.
pub fn rsa_public_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(parts) = rsa_public_key(der) {
        return Some(parts);
    }
    // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    let (spki, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (alg, spki) = expect(spki, SEQUENCE)?;
    let (oid, _params) = expect(alg, OID)?;
    if oid != RSA_ENCRYPTION {
        return None;
    }
    let (bits, spki) = expect(spki, BIT_STRING)?;
    if !spki.is_empty() {
        return None;
    }
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    rsa_public_key(key)
}

/// `der` is a bare RSAPublicKey (PKCS#1), not wrapped in a SubjectPublicKeyInfo.
pub fn is_bare_rsa_public_key(der: &[u8]) -> bool {
    rsa_public_key(der).is_some()
}

/// The modulus length in bits of an RSA private key, PKCS#1 RSAPrivateKey or PKCS#8
/// PrivateKeyInfo holding one; for error messages only.
pub fn rsa_private_modulus_bits(der: &[u8]) -> Option<usize> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (_version, after_version) = expect(seq, INTEGER)?;
    // PKCS#1: version, modulus, ...
    if let Some((n, _)) = expect(after_version, INTEGER) {
        return unsigned(n).map(bit_length);
    }
    // PKCS#8: version, AlgorithmIdentifier, OCTET STRING { RSAPrivateKey }
    let (_alg, rest) = expect(after_version, SEQUENCE)?;
    let (inner, _) = expect(rest, OCTET_STRING)?;
    rsa_private_modulus_bits(inner)
}

/// The bit length of a big-endian unsigned integer without leading zeros.
pub fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn reads_spki_and_bare_rsa_keys() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let spki = b64.decode("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB").unwrap();
        let (n, e) = rsa_public_components(&spki).unwrap();
        assert_eq!(bit_length(n), 1024);
        assert_eq!(e, [1, 0, 1]);
        let bare = b64.decode("MIGJAoGBALVI635dLK4cJJAH3Lx6upo3X/Lm1tQz3mezcWTA3BUBnyIsdnRf57aD5BtNmhPrYYDlWlzw3UgnKisIxktkk5+iMQMlFtAS10JB8L3YadXNJY+JBcbeSi5TgJe4WFzNgW95FWDAuSTRXSWZfA/8xjflbTLDx0euFZOM7C4T0GwLAgMBAAE=").unwrap();
        let (n, _) = rsa_public_components(&bare).unwrap();
        assert_eq!(bit_length(n), 1024);
        assert!(rsa_public_components(&spki[..spki.len() - 1]).is_none());
        assert!(rsa_public_components(b"").is_none());
        assert!(rsa_public_components(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
    }
}
