//! TLS for the HTTPS the server sends: webhook deliveries and the fetch of GitHub's public keys.
//!
//! rustls with the `ring` provider, the one provider in the build; sqlx's TLS to PostgreSQL
//! uses it too (docs/decisions/0012-ring-and-hand-written-hs256.md). reqwest is built without
//! a provider of its own, so every client takes its TLS settings from here, with certificates
//! checked against the operating system's roots (rustls-platform-verifier), as reqwest's own
//! default does.

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls_platform_verifier::Verifier;
use std::sync::Arc;

/// The provider of every TLS connection Keywarden makes.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process's default provider, for any crate that asks rustls for the default
/// instead of naming one (reqwest does, for a client built without [`http_client_builder`]).
/// Called at start; a second call changes nothing.
pub fn install_default_provider() {
    // An error means a default is installed already; the build has no other provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS settings (most likely: the system has no root certificates).
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    /// reqwest refused the rest of the settings.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// An HTTP client builder whose TLS is rustls over `ring`, verifying servers against the
/// system's roots. Fails when the system has no root certificates.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder, rustls::Error> {
    Ok(reqwest::Client::builder().use_preconfigured_tls(client_config(Vec::new())?))
}

/// The client configuration: the system's roots and `extra_roots` (tests add their own CA).
fn client_config(extra_roots: Vec<CertificateDer<'static>>) -> Result<ClientConfig, rustls::Error> {
    let provider = provider();
    let verifier = Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        // "Dangerous" only in name: the verifier is the platform's, as reqwest would set.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // The clients speak HTTP/1.1 only (reqwest is built without HTTP/2), and say so.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::ServerConfig;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    // A CA and a server certificate for 127.0.0.1 it signed, valid until 2126; made for
    // these tests with openssl, never used elsewhere.
    const CA: &[u8] = include_bytes!("../tests/data/tls/ca.pem");
    const SERVER_CERT: &[u8] = include_bytes!("../tests/data/tls/server.pem");
    const SERVER_KEY: &[u8] = include_bytes!("../tests/data/tls/server.key");

    /// A TLS server on 127.0.0.1 (rustls over `ring`) answering each connection `200 ok`.
    async fn https_server() -> u16 {
        let certs = CertificateDer::pem_slice_iter(SERVER_CERT)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A refused handshake ends here: the client reports it.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let mut request = [0u8; 1024];
                    let _ = tls.read(&mut request).await;
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn a_server_signed_by_a_trusted_root_is_reached_over_tls() {
        let port = https_server().await;
        let ca = CertificateDer::from_pem_slice(CA).unwrap();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(client_config(vec![ca]).unwrap())
            .build()
            .unwrap();
        let response = client
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn the_production_client_refuses_a_server_the_system_does_not_trust() {
        let port = https_server().await;
        let client = http_client_builder().unwrap().build().unwrap();
        let error = client
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let chain = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }

    #[test]
    fn a_client_built_without_preconfigured_tls_finds_the_default_provider() {
        // reqwest without a provider of its own panics here unless a default is installed.
        install_default_provider();
        install_default_provider();
        assert!(CryptoProvider::get_default().is_some());
        reqwest::Client::builder().build().unwrap();
    }
}
