//! `developer-agent` under hostile connections (issue 15 #6–#8): idle floods, slowloris, the
//! connection bound, auth before the body, JSON error bodies, the in-flight bound. The real
//! binary on 127.0.0.1, raw TCP clients so the test controls every byte.

use crate::agent_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use agent_support::{payload, Agent};

const TOKEN: &str = "limits-token-51c9";

fn connect(agent: &Agent) -> TcpStream {
    let addr = agent.url.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s
}

/// Reads until the server closes the connection (or the read timeout).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code and the JSON body of a raw `Connection: close` answer.
fn parse(answer: &str) -> (u16, serde_json::Value) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {answer:?}"));
    (status, json)
}

/// Sends `head` (and `body`) on a new connection and returns the parsed answer.
fn exchange(agent: &Agent, head: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut s = connect(agent);
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(body).expect("body");
    parse(&read_all(&mut s))
}

fn post_head(path: &str, token: Option<&str>, len: usize) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn healthz(agent: &Agent) -> u16 {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    client
        .get(format!("{}/healthz", agent.url))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn open_fds(agent: &Agent) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", agent.child.id()))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn healthz_answers_under_2000_idle_connections_with_1024_descriptors() {
    // The test itself holds 2,000 sockets.
    let (soft, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).expect("rlimit");
    if soft < 2400 {
        nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            hard.min(4096),
            hard,
        )
        .expect("raise the test's own open-file limit");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let agent = Agent::start_with_nofile(
        1024,
        &[("AGENT_TOKEN", TOKEN)],
        &["--data-dir", data.to_str().expect("utf8")],
    );
    let addr = agent.url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for i in 0..2000 {
        match TcpStream::connect(&addr) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {i} refused: {e}"),
        }
    }
    // While all 2,000 are open on the client side: health answers, quickly, every time.
    for round in 0..5 {
        let t = Instant::now();
        assert_eq!(healthz(&agent), 200, "round {round}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "round {round}: {:?}",
            t.elapsed()
        );
    }
    let fds = open_fds(&agent);
    assert!(fds > 0 && fds < 1024, "server holds {fds} descriptors");
    // A real request still gets through.
    let body = serde_json::to_vec(&payload("42", "npm ERR! code ECONNRESET\n")).expect("json");
    let (status, answer) = exchange(
        &agent,
        &post_head("/process-logs", Some(TOKEN), body.len()),
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    drop(idle);
    let err = agent.stop();
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_slowloris_header_is_cut_off_at_the_header_timeout() {
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &["--header-timeout", "1s", "--idle-timeout", "30s"],
    );
    let mut s = connect(&agent);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("half a head");
    let start = Instant::now();
    // One byte every 100 ms: never idle, never complete.
    let mut closed_after = None;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(b"a").is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        s.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 256];
        let r = s.read(&mut buf);
        s.set_nonblocking(false).expect("blocking");
        match r {
            Ok(_) => {
                closed_after = Some(start.elapsed());
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed_after = Some(start.elapsed());
                break;
            }
        }
    }
    let after = closed_after.expect("the connection stayed open for 6 s");
    assert!(
        after >= Duration::from_millis(700) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    assert_eq!(healthz(&agent), 200);
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &["--idle-timeout", "1s", "--header-timeout", "10s"],
    );
    // A connection that never sends a byte.
    let mut silent = connect(&agent);
    let start = Instant::now();
    assert_eq!(read_all(&mut silent), "");
    let after = start.elapsed();
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(4),
        "silent connection closed after {after:?}"
    );
    // A kept-alive connection after its answer.
    let mut kept = connect(&agent);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let start = Instant::now();
    let answer = read_all(&mut kept);
    let after = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(4),
        "kept-alive connection closed after {after:?}"
    );
}

#[test]
fn beyond_the_bound_busy_connections_make_new_ones_get_a_json_503() {
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &["--max-connections", "2", "--max-in-flight", "4"],
    );
    // Two requests in progress: heads sent, bodies unfinished.
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect(&agent);
            s.write_all(post_head("/process-logs", Some(TOKEN), 1000).as_bytes())
                .expect("head");
            s.write_all(b"{\"schema\":").expect("part of the body");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = connect(&agent);
    let (status, body) = parse(&read_all(&mut third));
    assert_eq!(status, 503);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("too many connections"),
        "{body}"
    );
    // `fields` is only sent for a 400 (agent-error.schema.json).
    assert!(body.get("fields").is_none(), "{body}");
    // Once they are gone there is room again.
    busy.clear();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(healthz(&agent), 200);

    // Idle connections, on the other hand, make room for new ones.
    let _idle: Vec<TcpStream> = (0..2).map(|_| connect(&agent)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(healthz(&agent), 200);
}

#[test]
fn the_token_is_checked_before_the_body_and_every_error_is_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &[
            "--data-dir",
            data.to_str().expect("utf8"),
            "--max-body-bytes",
            "4096",
            "--request-timeout",
            "1s",
        ],
    );
    // 100 MB announced, nothing sent: 401 at once, not 413, not a wait for the body.
    for (path, token) in [("/process-logs", None), ("/api/ci/logs", Some("wrong"))] {
        let t = Instant::now();
        let (status, body) = exchange(&agent, &post_head(path, token, 100_000_000), b"");
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            body["error"].as_str().expect("error").contains("token"),
            "{body}"
        );
        assert!(t.elapsed() < Duration::from_secs(3));
    }
    // With the token: 413 as JSON, before the body is read.
    let (status, body) = exchange(
        &agent,
        &post_head("/process-logs", Some(TOKEN), 100_000_000),
        b"",
    );
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"].as_str().expect("error").contains("4096"),
        "{body}"
    );
    // Chunked, no length: cut at the cap, 413 as JSON.
    let mut s = connect(&agent);
    s.write_all(
        format!(
            "POST /process-logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("head");
    let chunk = "x".repeat(3000);
    let _ = s.write_all(format!("{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n", 3000, 3000).as_bytes());
    let (status, body) = parse(&read_all(&mut s));
    assert_eq!(status, 413, "{body}");
    // A body that never finishes: 408 as JSON.
    let mut s = connect(&agent);
    s.write_all(post_head("/process-logs", Some(TOKEN), 1000).as_bytes())
        .expect("head");
    s.write_all(b"{").expect("a byte");
    let (status, body) = parse(&read_all(&mut s));
    assert_eq!(status, 408, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("longer than"),
        "{body}"
    );
    // Unknown path, wrong method.
    let (status, body) = exchange(
        &agent,
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].is_string() && body.get("fields").is_none(),
        "{body}"
    );
    let (status, body) = exchange(
        &agent,
        "GET /process-logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].is_string());
    assert!(agent_support::files_under(&data).is_empty());
}

#[test]
fn bodies_are_read_only_within_the_in_flight_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &[
            "--data-dir",
            data.to_str().expect("utf8"),
            "--max-in-flight",
            "1",
        ],
    );
    let body = serde_json::to_vec(&payload("7", "npm ERR! code ECONNRESET\n")).expect("json");
    // The first request takes the only slot and stalls in its body.
    let mut first = connect(&agent);
    first
        .write_all(post_head("/process-logs", Some(TOKEN), body.len()).as_bytes())
        .expect("head");
    first.write_all(&body[..10]).expect("part");
    std::thread::sleep(Duration::from_millis(200));
    // The second is complete but must wait for the slot.
    let mut second = connect(&agent);
    second
        .write_all(post_head("/process-logs", Some(TOKEN), body.len()).as_bytes())
        .expect("head");
    second.write_all(&body).expect("body");
    second
        .set_read_timeout(Some(Duration::from_millis(800)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    match second.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the second request was answered while the slot was taken: {other:?}"),
    }
    // The first finishes; both are answered.
    first.write_all(&body[10..]).expect("rest");
    let (status, answer) = parse(&read_all(&mut first));
    assert_eq!(status, 200, "{answer}");
    second
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let (status, answer) = parse(&read_all(&mut second));
    assert_eq!(status, 200, "{answer}");
}
