//! What the registry tests share: a real registry (Debian's
//! `docker-registry`, the distribution project's server) on a free
//! loopback port, plain or with TLS and htpasswd basic auth; and a fake
//! one, a few lines of HTTP on a std TcpListener, that answers exactly
//! what a test wants, down to a wrong byte.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::image_support::{peer, run_ok};

/// A running docker-registry; Drop kills it and removes its files.
pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`: the image names' domain.
    pub host: String,
    /// With TLS: the directory holding its CA certificate (`ca.crt`).
    pub cert_dir: Option<PathBuf>,
}

pub const USER: &str = "wharfer";
pub const PASSWORD: &str = "s3cret:with-colon";

impl Registry {
    /// Plain HTTP, no authentication.
    pub fn plain() -> Registry {
        Self::start(false)
    }

    /// TLS with a self-signed certificate for 127.0.0.1, and htpasswd
    /// basic auth for [`USER`] / [`PASSWORD`].
    pub fn tls_with_auth() -> Registry {
        Self::start(true)
    }

    fn start(secure: bool) -> Registry {
        crate::common::require_root();
        let dir = tempfile::Builder::new()
            .prefix("wharf-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let mut cert_dir = None;
        if secure {
            let certs = dir.path().join("certs");
            let server = dir.path().join("server");
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::create_dir_all(&server).unwrap();
            certificates(&certs, &server);
            config += &format!(
                "  tls:\n    certificate: {c}/server.crt\n    key: {c}/server.key\nauth:\n  htpasswd:\n    realm: wharf-test\n    path: {h}\n",
                c = server.display(),
                h = dir.path().join("htpasswd").display()
            );
            let line = run_ok(peer("htpasswd").args(["-Bbn", USER, PASSWORD]));
            std::fs::write(dir.path().join("htpasswd"), line.trim()).unwrap();
            cert_dir = Some(certs);
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = peer("docker-registry")
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("start docker-registry");
        let r = Registry {
            child,
            dir,
            host,
            cert_dir,
        };
        r.wait_ready(port);
        r
    }

    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}: {}",
                std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `--cert-dir DIR` for wharf and skopeo, when the registry has TLS.
    pub fn cert_args(&self) -> Vec<String> {
        match &self.cert_dir {
            Some(d) => vec!["--cert-dir".into(), d.display().to_string()],
            None => Vec::new(),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now (the kernel picks it for a moment).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA made here (`ca.crt` in `clients`: what wharf and skopeo are told
/// to trust) and the registry's certificate for 127.0.0.1 signed by it
/// (`server.crt`, `server.key` in `server`), with the openssl CLI. The
/// server's certificate names the address in a SAN (rustls and Go ignore
/// the CN) and is no CA itself (webpki refuses a CA as an end entity).
fn certificates(clients: &Path, server: &Path) {
    let p = |dir: &Path, f: &str| dir.join(f).to_str().unwrap().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-days",
                "2",
                "-subj",
                "/CN=wharf-test-ca",
                "-keyout",
                &p(server, "ca.key"),
                "-out",
                &p(clients, "ca.crt"),
            ]),
    );
    run_ok(Command::new("openssl").args(["req"]).args(ec).args([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p(server, "server.key"),
        "-out",
        &p(server, "server.csr"),
    ]));
    std::fs::write(
        server.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run_ok(Command::new("openssl").args([
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &p(server, "server.csr"),
        "-CA",
        &p(clients, "ca.crt"),
        "-CAkey",
        &p(server, "ca.key"),
        "-CAcreateserial",
        "-extfile",
        &p(server, "ext"),
        "-out",
        &p(server, "server.crt"),
    ]));
}

/// One canned answer of the fake registry.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Announce this Content-Length instead of the body's (a truncated
    /// body when larger).
    pub length: Option<usize>,
}

impl Answer {
    pub fn ok(body: &[u8], content_type: &str) -> Answer {
        Answer {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
            length: None,
        }
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            length: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A loopback HTTP server answering `GET path` from a table (`/v2/` is
/// always 200); anything else is 404. Drop stops it.
pub struct Fake {
    pub host: String,
    /// The token requests and the Authorization headers seen, in order.
    pub seen: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    pub fn serve(answers: HashMap<String, Answer>) -> Fake {
        Self::start(answers, None)
    }

    /// Like a registry with a token server (Docker Hub's kind): every
    /// path but the token server's answers 401 with a Bearer challenge
    /// unless it carries `Authorization: Bearer <token>`; the token server
    /// (`/token?…`) gives that token to whoever shows `basic`
    /// (`user:password`).
    pub fn with_token(answers: HashMap<String, Answer>, basic: &str, token: &str) -> Fake {
        Self::start(answers, Some((basic.to_string(), token.to_string())))
    }

    fn start(mut answers: HashMap<String, Answer>, token: Option<(String, String)>) -> Fake {
        answers
            .entry("/v2/".into())
            .or_insert_with(|| Answer::ok(b"{}", "application/json"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, log, me) = (stop.clone(), seen.clone(), host.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    answer(c, &answers, token.as_ref(), &me, &log);
                }
            }
        });
        Fake {
            host,
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read one request's head; answer it and close. A TLS hello (wharf
/// tries https first) is not HTTP: the connection is just closed.
fn answer(
    mut c: TcpStream,
    answers: &HashMap<String, Answer>,
    token: Option<&(String, String)>,
    me: &str,
    seen: &std::sync::Mutex<Vec<String>>,
) {
    c.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match c.read(&mut byte) {
            // 0x16 opens a TLS handshake record: not for us.
            Ok(1) if head.is_empty() && byte[0] == 0x16 => return,
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return;
    };
    let authorization = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: ")
                .or(l.strip_prefix("Authorization: "))
        })
        .unwrap_or("")
        .to_string();
    let a = match token {
        Some((basic, t)) if path.starts_with("/token") => {
            seen.lock().unwrap().push(format!("{path} {authorization}"));
            let shown = format!("Basic {}", base64_of(basic));
            if authorization == shown {
                Answer::ok(
                    format!("{{\"token\":\"{t}\"}}").as_bytes(),
                    "application/json",
                )
            } else {
                Answer::status(401)
            }
        }
        Some((_, t)) if authorization != format!("Bearer {t}") => Answer::status(401).header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"http://{me}/token\",service=\"fake\""),
        ),
        _ => answers
            .get(path)
            .cloned()
            .unwrap_or_else(|| Answer::status(404)),
    };
    let mut out = format!(
        "HTTP/1.1 {} Canned\r\nConnection: close\r\nContent-Length: {}\r\n",
        a.status,
        a.length.unwrap_or(a.body.len())
    );
    for (k, v) in &a.headers {
        out += &format!("{k}: {v}\r\n");
    }
    out += "\r\n";
    let _ = c.write_all(out.as_bytes());
    if method != "HEAD" {
        let _ = c.write_all(&a.body);
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
