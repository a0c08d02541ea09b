//! Stand-ins for the outside world: a private CA, and a merchant's HTTPS
//! notification endpoint that records what it gets and answers as told.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mpp_registrar::simulate::gateway::{Behaviour, Gateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;

use crate::helpers::{fixture_path, keys};

pub struct TestCa {
    pub ca_file: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// A private CA (written where SSL_CERT_FILE can point) and a certificate it
/// signed for `localhost` and `127.0.0.1`.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mpp-registrar test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join(format!("test-ca-{}.pem", std::process::id()));
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        TestCa {
            ca_file,
            server_config: Arc::new(server_config),
        }
    })
}

/// How the merchant endpoint answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The fixed acknowledgement.
    Ack,
    Status(u16),
    Redirect(String),
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A merchant's HTTPS endpoint on 127.0.0.1.
pub struct MerchantEndpoint {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl MerchantEndpoint {
    pub async fn start(script: Vec<Reply>) -> MerchantEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let acceptor = tokio_rustls::TlsAcceptor::from(test_ca().server_config.clone());
        let (seen2, script2) = (seen.clone(), script.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, script) = (acceptor.clone(), seen2.clone(), script2.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Some(request) = read_request(&mut tls).await else {
                        return;
                    };
                    seen.lock().unwrap().push(request);
                    let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Ack);
                    let response = match reply {
                        Reply::Ack => {
                            let body = r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                        Reply::Status(code) => format!(
                            "HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        Reply::Redirect(to) => format!(
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                    };
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        MerchantEndpoint { addr, seen, script }
    }

    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/merchant/notify?shop=1", self.addr.port())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    #[allow(dead_code)]
    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        path,
        headers,
        body,
    })
}

/// The Alipay+ stand-in as the tests use it: when it goes, the test fails if
/// any notification it received did not conform to the protocol reference.
pub struct CheckedGateway(Gateway);

impl std::ops::Deref for CheckedGateway {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.0
    }
}

impl Drop for CheckedGateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let refused: Vec<String> = self
            .0
            .received()
            .into_iter()
            .filter_map(|r| r.problem.map(|p| format!("{}: {p}", r.body)))
            .collect();
        assert!(
            refused.is_empty(),
            "the Alipay+ stand-in refused notifications that do not conform: {refused:#?}"
        );
    }
}

/// The Alipay+ stand-in, checked when it goes (see `CheckedGateway`).
pub fn gateway(behaviour: Behaviour) -> CheckedGateway {
    CheckedGateway(unchecked_gateway(behaviour))
}

/// The Alipay+ stand-in, verifying with our public key and signing with the test-vector key.
pub fn unchecked_gateway(behaviour: Behaviour) -> Gateway {
    let mpp_key =
        mpp_registrar::protocol::keys::read_verifier(&fixture_path("keys/mpp_public_key.pem"))
            .unwrap();
    let signer = mpp_registrar::protocol::keys::read_signer(
        &fixture_path("test-vectors/private_key_pkcs8.pem"),
        "1",
    )
    .unwrap();
    let _ = keys();
    Gateway::start("127.0.0.1:0", mpp_key, signer, behaviour, false).unwrap()
}
