//! The one stub HTTP server of the integration tests: a std `TcpListener` on 127.0.0.1, one
//! thread per connection, HTTP/1.1 with `Connection: close` (no extra crate). It has two
//! layers so each area keeps its own answers without a second parser:
//!
//! - [`serve`]: the accept loop; it hands every connection and its 0-based index to a closure
//!   (the Developer-Agent stub resets connection 0 without reading it; the smoke service
//!   streams server-sent events);
//! - [`Server::start`]: request in, [`Resp`] out, every request recorded — the GitHub REST
//!   stand-in, the model providers and the webhook receivers use this.
//!
//! [`read_request`] and [`write_response`] are the only request parser and response writer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Request bodies above this many bytes are read and dropped (a test never needs more).
pub const MAX_BODY: usize = 256 * 1024 * 1024;

/// One recorded request.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    /// Path with query, as sent.
    pub path: String,
    /// The request line without its CRLF (`POST /api/ci/logs HTTP/1.1`).
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// An answer: status, headers (a `content-length` is added), body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(status: u16, v: serde_json::Value) -> Resp {
        Resp::typed(
            status,
            "application/json",
            serde_json::to_vec(&v).expect("json"),
        )
    }
    /// A zip archive (the GitHub log and artifact downloads).
    pub fn bytes(status: u16, body: Vec<u8>) -> Resp {
        Resp::typed(status, "application/zip", body)
    }
    pub fn typed(status: u16, content_type: &str, body: Vec<u8>) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }
    pub fn with(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
    /// GitHub's 404 body.
    pub fn not_found() -> Resp {
        Resp::json(
            404,
            serde_json::json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        )
    }
}

/// Binds 127.0.0.1:0 and runs `conn(stream, index)` on its own thread for every connection
/// (index 0-based, in accept order). Returns `http://127.0.0.1:PORT`; the listener lives until
/// the test process ends.
pub fn serve(conn: impl Fn(TcpStream, u32) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let conn = Arc::new(conn);
    let next = AtomicU32::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let n = next.fetch_add(1, Ordering::SeqCst);
            let conn = conn.clone();
            std::thread::spawn(move || conn(stream, n));
        }
    });
    url
}

/// Reads one request (request line, headers, a `Content-Length` body) with a 10 s read
/// timeout; `None` when the client closed or sent something that is not a request.
pub fn read_request(stream: &TcpStream) -> Option<Req> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let request_line = line.trim_end().to_string();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    reader
        .by_ref()
        .take(len as u64)
        .read_to_end(&mut body)
        .ok()?;
    body.truncate(MAX_BODY);
    Some(Req {
        method,
        path,
        request_line,
        headers,
        body,
    })
}

/// Writes `resp` with `content-length` and `connection: close`.
pub fn write_response(stream: &mut TcpStream, resp: &Resp) {
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&resp.body);
    let _ = stream.flush();
}

type Handler = dyn Fn(&Req, &str) -> Resp + Send + Sync;

/// A recording server: its base URL and the requests it saw.
pub struct Server {
    pub url: String,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Starts a server; `handler(request, base_url)` answers each request.
    pub fn start(handler: impl Fn(&Req, &str) -> Resp + Send + Sync + 'static) -> Server {
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let base: Arc<Mutex<String>> = Arc::default();
        let (log2, base2) = (log.clone(), base.clone());
        let url = serve(move |mut stream, _| {
            let Some(req) = read_request(&stream) else {
                return;
            };
            log2.lock().expect("lock").push(req.clone());
            let base = base2.lock().expect("lock").clone();
            let resp = handler(&req, &base);
            write_response(&mut stream, &resp);
        });
        *base.lock().expect("lock") = url.clone();
        Server { url, log }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().expect("lock").clone()
    }

    /// `METHOD path` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}
