//! TLS for the WebSocket listener (`wss://`), through rustls.

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::ws::config::TlsFiles;

/// A TLS acceptor from a PEM certificate chain and private key.
///
/// # Errors
/// The files cannot be read or parsed, or do not belong together.
pub fn acceptor(files: &TlsFiles) -> io::Result<tokio_rustls::TlsAcceptor> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| {
            bad(
                &format!("cannot read the certificate {}", files.cert.display()),
                &e,
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&format!("bad certificate in {}", files.cert.display()), &e))?;
    if certs.is_empty() {
        return Err(bad(
            &format!("no certificate in {}", files.cert.display()),
            &"expected a PEM \"CERTIFICATE\" block",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        bad(
            &format!("cannot read the private key {}", files.key.display()),
            &e,
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad("TLS setup", &e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad("the certificate and key do not go together", &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
