//! rustls configurations for the servers (STARTTLS/STLS and implicit TLS, RFC 8314) and the
//! clients, on the `ring` crypto provider only.
//!
//! Every config is built with [`provider`] explicitly, never from a process-wide default, so
//! the examples do not depend on which provider some other crate installed first.
//!
//! - Servers: [`ServerIdentity::from_pem_files`] for `--cert`/`--key`, or
//!   [`ServerIdentity::self_signed`], which generates a certificate at start for the host name,
//!   `localhost`, `127.0.0.1` and `::1`, and keeps its PEM so a demo can print it for clients'
//!   `--ca` (curl: `--cacert`).
//! - Clients: [`client_config`] with a [`ClientTrust`]: the compiled-in Mozilla roots, a CA file,
//!   or no verification at all (testing only).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// The crypto provider of every config here: `ring`.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// A PEM file holds no certificate.
    #[error("{0}: no certificate found")]
    NoCertificate(PathBuf),
    /// rustls refused the certificate, the key or the CA.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The self-signed certificate could not be generated.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The text is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid server name")]
    InvalidServerName(String),
}

/// A server's TLS configuration, with the PEM of its certificate when it was generated here.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// The rustls configuration, ready for `tokio_rustls::TlsAcceptor::from` or
    /// `rustls::ServerConnection::new`.
    pub config: Arc<ServerConfig>,
    /// The generated self-signed certificate in PEM, `None` for one loaded from files. Clients
    /// trust the server by using it as their CA.
    pub generated_cert_pem: Option<String>,
}

impl ServerIdentity {
    /// Loads the certificate chain and the private key from PEM files (`--cert`, `--key`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let pem_error = |path: &Path| {
            let path = path.to_owned();
            move |source| TlsError::Pem { path, source }
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(pem_error(cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error(cert))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_owned()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
        Ok(Self {
            config: server_config(chain, key)?,
            generated_cert_pem: None,
        })
    }

    /// Generates a self-signed certificate for `hostname`, `localhost`, `127.0.0.1` and `::1`.
    pub fn self_signed(hostname: &str) -> Result<Self, TlsError> {
        let mut names = vec![hostname.to_owned()];
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|name| name == extra) {
                names.push(extra.to_owned());
            }
        }
        let generated = rcgen::generate_simple_self_signed(names)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            generated.signing_key.serialize_der(),
        ));
        Ok(Self {
            config: server_config(vec![generated.cert.der().clone()], key)?,
            generated_cert_pem: Some(generated.cert.pem()),
        })
    }

    /// The files when both are given, a generated certificate when neither is (the flags
    /// `--cert` and `--key` come together; the command line enforces that).
    pub fn from_files_or_self_signed(
        cert_and_key: Option<(&Path, &Path)>,
        hostname: &str,
    ) -> Result<Self, TlsError> {
        match cert_and_key {
            Some((cert, key)) => Self::from_pem_files(cert, key),
            None => Self::self_signed(hostname),
        }
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Whom a client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTrust {
    /// Mozilla's root certificates, compiled in (webpki-roots): the same on every machine,
    /// including containers without a system store. A private CA needs [`Self::CaFile`].
    WebPkiRoots,
    /// The certificates of a PEM file (`--ca`), and only those.
    CaFile(PathBuf),
    /// Any certificate, for any name (`--insecure`): the connection is encrypted but the
    /// server is not authenticated. For testing only.
    InsecureAcceptAnyCertificate,
}

/// A client configuration trusting `trust`.
pub fn client_config(trust: &ClientTrust) -> Result<Arc<ClientConfig>, TlsError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let config = match trust {
        ClientTrust::WebPkiRoots => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        ClientTrust::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| TlsError::Pem {
                path: path.clone(),
                source: rustls::pki_types::pem::Error::Io(e),
            })?;
            return client_config_with_ca_pem(&pem).map_err(|e| match e {
                TlsError::Pem { source, .. } => TlsError::Pem {
                    path: path.clone(),
                    source,
                },
                TlsError::NoCertificate(_) => TlsError::NoCertificate(path.clone()),
                other => other,
            });
        }
        ClientTrust::InsecureAcceptAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureAcceptAnyCertificate {
                algorithms: provider().signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client configuration trusting exactly the certificates in `pem` (for example the
/// [`ServerIdentity::generated_cert_pem`] of a server in the same process).
pub fn client_config_with_ca_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        path: PathBuf::from("<CA PEM>"),
        source,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.map_err(pem_error)?)?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate(PathBuf::from("<CA PEM>")));
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a client checks the server's certificate against (and sends as SNI): the host of
/// `--server HOST:PORT`, a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::InvalidServerName(host.to_owned()))
}

/// The `--insecure` verifier: accepts every certificate chain and name, and checks only that
/// the handshake signatures are made with the key of the certificate presented (so the TLS
/// exchange itself is sound). Never use it outside tests.
#[derive(Debug)]
struct InsecureAcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for InsecureAcceptAnyCertificate {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
