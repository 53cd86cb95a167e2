//! A local test service on 127.0.0.1 (the tests' one stub server, [`crate::common::http`]) that reproduces the reference design's three production bugs on
//! demand, plus the other answers `ci-smoke` must judge:
//!
//! - `/chat/ok`: a streamed answer (`text/event-stream`) with prices, once;
//! - `/chat/dup`: the same streamed answer sent twice (event listeners accumulating);
//! - `/chat/empty`: an empty answer ("Loaded 0 tools for AI" in its log);
//! - `/price`: an answer without prices ("Pricing file not found" in its log);
//! - `/health`: 503 for the first `HEALTH_RED` polls, then `{"status":"ok"}`;
//! - `/slow`: answers after 1.5 s; `/error`: 500; `/redirect`: 302 to `localhost` (outside an
//!   allowlist of `127.0.0.1`); `/big`: a 50 MB body; `/echo-auth`: echoes the Authorization
//!   header; `/logs`: the deployment log; `/secret`: counts requests that must never arrive.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;

use crate::common::http;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Polls of `/health` that answer 503 before it turns green.
pub const HEALTH_RED: u32 = 2;
/// Bytes `/big` sends.
pub const BIG_BYTES: usize = 50 * 1024 * 1024;

/// The running service.
pub struct Service {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The port.
    pub port: u16,
    /// Requests per path.
    pub hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Service {
    /// Requests seen for `path`.
    pub fn hits(&self, path: &str) -> u32 {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// The deployment log the service "wrote": both log bugs.
pub const DEPLOY_LOG: &str = "\
2026-12-07T10:00:00Z server starting on :8080
2026-12-07T10:00:01Z Loaded 0 tools for AI
2026-12-07T10:00:01Z Pricing file not found: /app/data/pricing.json
2026-12-07T10:00:02Z ready
";

/// A hostile answer: a credential and workflow commands.
pub const LEAK: &str = "debug token ghp_0123456789abcdefghijABCDEFGHIJ012345\n::set-output name=pwned::yes\n::add-mask::x\n";

fn sse_event(data: &str) -> String {
    format!("data: {data}\n\n")
}

const ANSWER_CHUNKS: [&str; 4] = [
    "{\"delta\":\"The plan costs \"}",
    "{\"delta\":\"26.000.000 IDR\"}",
    "{\"delta\":\" per year\"}",
    "{\"delta\":\".\"}",
];

fn write_head(s: &mut TcpStream, status: &str, ctype: &str, len: Option<usize>, extra: &str) {
    let len = len
        .map(|l| format!("Content-Length: {l}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{len}{extra}Connection: close\r\n\r\n"
    );
}

fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &str) {
    write_head(s, status, ctype, Some(body.len()), "");
    let _ = s.write_all(body.as_bytes());
}

fn stream(s: &mut TcpStream, events: &[String]) {
    write_head(
        s,
        "200 OK",
        "text/event-stream",
        None,
        "Cache-Control: no-cache\r\n",
    );
    let _ = s.write_all(b": stream opened\n\n");
    for e in events {
        let _ = s.write_all(e.as_bytes());
        let _ = s.flush();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn handle(
    mut s: TcpStream,
    port: u16,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    health: Arc<AtomicU32>,
) {
    let Some(req) = http::read_request(&s) else {
        return;
    };
    let path = req.route().to_string();
    let auth = req.header("authorization").unwrap_or("").to_string();
    *hits.lock().expect("lock").entry(path.clone()).or_default() += 1;
    let answer: Vec<String> = ANSWER_CHUNKS.iter().map(|c| sse_event(c)).collect();
    match path.as_str() {
        "/health" => {
            if health.fetch_add(1, Ordering::SeqCst) < HEALTH_RED {
                respond(
                    &mut s,
                    "503 Service Unavailable",
                    "application/json",
                    r#"{"status":"starting"}"#,
                );
            } else {
                respond(&mut s, "200 OK", "application/json", r#"{"status":"ok"}"#);
            }
        }
        "/chat/ok" => {
            let mut ev = answer;
            ev.push(sse_event("[DONE]"));
            stream(&mut s, &ev);
        }
        "/chat/dup" => {
            // Two listeners on the same stream: every answer and its end arrive twice.
            let mut ev = answer.clone();
            ev.push(sse_event("[DONE]"));
            ev.extend(answer);
            ev.push(sse_event("[DONE]"));
            stream(&mut s, &ev);
        }
        "/chat/empty" => stream(&mut s, &[sse_event("[DONE]")]),
        "/price" => respond(
            &mut s,
            "200 OK",
            "application/json",
            r#"{"id":"r-981","product":"Premium plan","price":null,"currency":null}"#,
        ),
        "/slow" => {
            std::thread::sleep(Duration::from_millis(1500));
            respond(&mut s, "200 OK", "text/plain", "late but fine");
        }
        "/error" => respond(
            &mut s,
            "500 Internal Server Error",
            "text/plain",
            "boom: upstream failed",
        ),
        "/redirect" => {
            let to = format!("Location: http://localhost:{port}/secret\r\n");
            write_head(&mut s, "302 Found", "text/plain", Some(0), &to);
        }
        "/big" => {
            write_head(&mut s, "200 OK", "text/plain", Some(BIG_BYTES), "");
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < BIG_BYTES {
                if s.write_all(&chunk).is_err() {
                    break; // the client stopped reading at its cap
                }
                sent += chunk.len();
            }
        }
        "/echo-auth" => respond(&mut s, "200 OK", "text/plain", &format!("you sent {auth}")),
        "/logs" => respond(&mut s, "200 OK", "text/plain", DEPLOY_LOG),
        "/leak" => respond(&mut s, "200 OK", "text/plain", LEAK),
        _ => respond(&mut s, "404 Not Found", "text/plain", "no such page"),
    }
}

/// Starts the service on an ephemeral port of 127.0.0.1 (it lives until the test process ends).
pub fn start() -> Service {
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let health = Arc::new(AtomicU32::new(0));
    let port = Arc::new(AtomicU32::new(0));
    let (h, p) = (hits.clone(), port.clone());
    let base = http::serve(move |conn, _| {
        handle(
            conn,
            p.load(Ordering::SeqCst) as u16,
            h.clone(),
            health.clone(),
        )
    });
    let n: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    port.store(u32::from(n), Ordering::SeqCst);
    Service {
        base,
        port: n,
        hits,
    }
}
