//! The TLS setup the `eventstore` client performs in its connection task, done once before
//! the client is made, so that what would panic there (and fail every call with
//! `ConnectionClosed` until `--store-timeout`, naming nothing) is refused at start-up with
//! its cause. The client (4.0, `grpc.rs` `NodeConnection::new`) always builds a root store,
//! even with `tls=false`: from `tlsCaFile=` if given, else from the platform's certificates
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set), panicking on any error in loading them or on
//! a certificate the store does not take; then it adds `userCertFile=` / `userKeyFile=`,
//! panicking when the key does not match the certificate.

use std::sync::Arc;

use eventstore::ClientSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::StoreError;

/// Builds the client's TLS configuration as the client will, refusing what it would panic
/// on.
pub(super) fn as_the_client_builds_it(settings: &ClientSettings) -> Result<(), StoreError> {
    let refused = |what: &str, why: String| {
        StoreError::Unavailable(format!(
            "EventStoreDB TLS: {what}: {why} (the client would fail every call)"
        ))
    };
    let mut roots = RootCertStore::empty();
    let (certs, source) = match settings.tls_ca_file() {
        Some(file) => {
            let what = format!("tlsCaFile {file}");
            let certs = certificates(file).map_err(|why| refused(&what, why))?;
            (certs, what)
        }
        None => {
            let what = "the platform's certificates (SSL_CERT_FILE, SSL_CERT_DIR when set; \
                        read even with tls=false, unless tlsCaFile= names a file)";
            let loaded = rustls_native_certs::load_native_certs();
            if let Some(e) = loaded.errors.first() {
                return Err(refused(what, format!("cannot be loaded: {e}")));
            }
            (loaded.certs, what.to_owned())
        }
    };
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| refused(&source, format!("a certificate is not usable: {e}")))?;
    }
    let Some((cert, key)) = settings.user_certificate() else {
        return Ok(());
    };
    let what = format!("userCertFile {cert} with userKeyFile {key}");
    let chain = certificates(cert).map_err(|why| refused(&what, why))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| refused(&what, format!("the key cannot be read: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| refused(&what, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| refused(&what, format!("not a usable pair: {e}")))?;
    Ok(())
}

/// The certificates of a PEM file, as the client reads them.
fn certificates(file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot be read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("holds a certificate that cannot be read: {e}"))
}
