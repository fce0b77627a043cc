//! TLS for outbound SMTP (RFC 3207 STARTTLS).
//!
//! Opportunistic TLS (RFC 7435) encrypts without authenticating: a mail server's
//! certificate is usually self-signed or for another name, and refusing it would only
//! push the message to cleartext. So the default verifier accepts any certificate but
//! still checks the handshake signatures (the peer must hold the key of the certificate
//! it showed). `verify` mode checks the chain against the system's trust anchors and the
//! MX host name, for domains configured to require it.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Accepts any certificate; verifies handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct Unauthenticated {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unauthenticated {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The client configuration for opportunistic TLS (no certificate authentication,
/// RFC 7435; handshake signatures are still checked, so the server must hold the key of
/// the certificate it shows), built once: every connection shares it, and with it
/// rustls's session cache, so a second connection to the same server resumes its TLS
/// session. Also what the relay benchmark's load generator uses against its test bed.
pub fn opportunistic() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let provider = provider();
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unauthenticated { provider }))
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// The client configuration that authenticates servers against the system's trust
/// anchors, built once (reading the bundle costs milliseconds).
pub(crate) fn verified() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .with_root_certificates(system_roots())
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// Trust anchors of one's own for verified TLS, instead of the system's: the
/// certificates of a PEM file (a private CA, or a server's self-signed certificate,
/// as `sendwell init` writes). Built once per file and shared by every connection.
#[derive(Clone)]
pub struct TrustAnchors {
    config: Arc<ClientConfig>,
    /// How many certificates the file gave.
    pub certificates: usize,
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("certificates", &self.certificates)
            .finish()
    }
}

impl TrustAnchors {
    /// The certificates in the PEM file at `path`; an error says what is wrong with it.
    pub fn from_pem_file(path: &std::path::Path) -> Result<TrustAnchors, String> {
        use rustls::pki_types::pem::PemObject;
        let iter = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut roots = RootCertStore::empty();
        for cert in iter {
            let cert =
                cert.map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{} holds no certificate", path.display()));
        }
        let certificates = roots.len();
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TrustAnchors {
            config: Arc::new(config),
            certificates,
        })
    }

    pub(crate) fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }
}

/// The system's trust anchors (Debian's ca-certificates bundle).
fn system_roots() -> RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    if let Ok(iter) = CertificateDer::pem_file_iter("/etc/ssl/certs/ca-certificates.crt") {
        for cert in iter.flatten() {
            let _ = roots.add(cert);
        }
    }
    roots
}
