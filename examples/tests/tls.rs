//! Real TLS handshakes over loopback TCP with the configurations of `adapters::tls`.

use std::sync::Arc;
use std::time::Duration;

use adapters::tls::{
    ClientTrust, ServerIdentity, client_config, client_config_with_ca_pem, server_name,
};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts one connection, reads one line-sized greeting over TLS and echoes it back; returns
/// what the client read back, or the first error of either side.
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(&buf).await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())
    });
    let client_side = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = server_name(name).map_err(|e| e.to_string())?;
        let mut tls = TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"hello").await.map_err(|e| e.to_string())?;
        let mut echoed = Vec::new();
        tls.read_to_end(&mut echoed)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(echoed)
    };
    let echoed = tokio::time::timeout(TIMEOUT, client_side)
        .await
        .map_err(|_| "client timed out".to_owned())?;
    match echoed {
        Ok(echoed) => {
            tokio::time::timeout(TIMEOUT, server_task)
                .await
                .map_err(|_| "server timed out".to_owned())?
                .unwrap()?;
            Ok(echoed)
        }
        Err(e) => {
            server_task.abort();
            Err(e)
        }
    }
}

#[tokio::test]
async fn self_signed_certificate_completes_a_handshake_with_its_pem_as_ca() {
    let identity = ServerIdentity::self_signed("mail.example.test").unwrap();
    let pem = identity.generated_cert_pem.clone().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let client = client_config_with_ca_pem(pem.as_bytes()).unwrap();
    for name in ["mail.example.test", "localhost", "127.0.0.1", "::1"] {
        let echoed = exchange(identity.config.clone(), client.clone(), name).await;
        assert_eq!(echoed.as_deref(), Ok(&b"hello"[..]), "name {name}");
    }
}

#[tokio::test]
async fn a_name_outside_the_certificate_is_refused() {
    let identity = ServerIdentity::self_signed("mail.example.test").unwrap();
    let pem = identity.generated_cert_pem.clone().unwrap();
    let client = client_config_with_ca_pem(pem.as_bytes()).unwrap();
    let result = exchange(identity.config, client, "other.example.test").await;
    let err = result.unwrap_err();
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test]
async fn webpki_roots_refuse_a_self_signed_server_and_insecure_accepts_it() {
    let identity = ServerIdentity::self_signed("localhost").unwrap();
    let strict = client_config(&ClientTrust::WebPkiRoots).unwrap();
    let err = exchange(identity.config.clone(), strict, "localhost")
        .await
        .unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    let insecure = client_config(&ClientTrust::InsecureAcceptAnyCertificate).unwrap();
    let echoed = exchange(identity.config, insecure, "any.name.at.all").await;
    assert_eq!(echoed.as_deref(), Ok(&b"hello"[..]));
}

#[tokio::test]
async fn identity_and_ca_from_pem_files() {
    let generated = rcgen::generate_simple_self_signed(vec!["files.test".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();

    let identity =
        ServerIdentity::from_files_or_self_signed(Some((&cert, &key)), "ignored").unwrap();
    assert!(identity.generated_cert_pem.is_none());
    let client = client_config(&ClientTrust::CaFile(cert.clone())).unwrap();
    let echoed = exchange(identity.config, client, "files.test").await;
    assert_eq!(echoed.as_deref(), Ok(&b"hello"[..]));

    // Files that hold no certificate or no key are refused with the file named.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = ServerIdentity::from_pem_files(&empty, &key).unwrap_err();
    assert!(err.to_string().contains("empty.pem"), "{err}");
    let err = ServerIdentity::from_pem_files(&cert, &empty).unwrap_err();
    assert!(err.to_string().contains("empty.pem"), "{err}");
    assert!(client_config(&ClientTrust::CaFile(empty)).is_err());
    assert!(client_config(&ClientTrust::CaFile(dir.path().join("missing.pem"))).is_err());
}

#[test]
fn server_names_are_dns_names_or_ip_addresses() {
    assert!(server_name("mail.example.com").is_ok());
    assert!(server_name("192.0.2.1").is_ok());
    assert!(server_name("::1").is_ok());
    assert!(server_name("not a name").is_err());
}
