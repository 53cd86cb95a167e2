//! Test helpers for the agent and notify tests: a scripted loopback HTTP server (fault
//! injection, webhook receiver) and a handle on the real `developer-agent` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the stub does with one connection.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Read the request, wait `delay`, answer.
    Respond {
        status: u16,
        content_type: &'static str,
        extra_headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Close without reading the request: the kernel sends a TCP reset.
    Reset,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Respond {
            status,
            content_type: "application/json",
            extra_headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }
}

/// One received request.
#[derive(Debug, Clone)]
pub struct Captured {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted server on 127.0.0.1: connection n gets `script[min(n, len - 1)]`.
pub struct Stub {
    pub url: String,
    pub captured: Arc<Mutex<Vec<Captured>>>,
    pub connections: Arc<Mutex<u32>>,
}

impl Stub {
    pub fn start(script: Vec<Reply>) -> Stub {
        assert!(!script.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let captured = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0u32));
        let (cap, conns) = (captured.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(stream) = stream else { continue };
                let n = {
                    let mut c = conns.lock().expect("lock");
                    *c += 1;
                    *c as usize - 1
                };
                let reply = script[n.min(script.len() - 1)].clone();
                let cap = cap.clone();
                std::thread::spawn(move || serve(stream, reply, cap));
            }
        });
        Stub {
            url,
            captured,
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.captured.lock().expect("lock").clone()
    }

    pub fn connection_count(&self) -> u32 {
        *self.connections.lock().expect("lock")
    }
}

fn serve(mut stream: TcpStream, reply: Reply, cap: Arc<Mutex<Vec<Captured>>>) {
    match reply {
        Reply::Reset => {
            std::thread::sleep(Duration::from_millis(100));
            drop(stream);
        }
        Reply::Respond {
            status,
            content_type,
            extra_headers,
            body,
            delay,
        } => {
            let Some(req) = read_request(&mut stream) else {
                return;
            };
            cap.lock().expect("lock").push(req);
            std::thread::sleep(delay);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in extra_headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Captured> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some(Captured {
        request_line: request_line.trim_end().to_string(),
        headers,
        body,
    })
}

/// The real `developer-agent`, killed on drop.
pub struct Agent {
    pub child: Child,
    pub url: String,
}

impl Agent {
    /// Starts the binary on 127.0.0.1:0 with `envs` and `args`; waits for its address line.
    pub fn start(envs: &[(&str, &str)], args: &[&str]) -> Agent {
        Agent::spawn(
            crate::common::bin(env!("CARGO_BIN_EXE_developer-agent")),
            envs,
            args,
        )
    }

    /// [`Agent::start`] with the server's open-file limit lowered to `nofile` descriptors
    /// (`ulimit -n` in a shell that then execs the binary: the pid is the server's).
    pub fn start_with_nofile(nofile: u64, envs: &[(&str, &str)], args: &[&str]) -> Agent {
        let mut cmd = crate::common::bin("bash");
        cmd.args([
            "-c",
            r#"ulimit -n "$0" && exec "$@""#,
            &nofile.to_string(),
            env!("CARGO_BIN_EXE_developer-agent"),
        ]);
        Agent::spawn(cmd, envs, args)
    }

    fn spawn(mut cmd: Command, envs: &[(&str, &str)], args: &[&str]) -> Agent {
        cmd.args(["--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn developer-agent");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read address line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Agent { child, url }
    }

    /// Stops the server and returns its stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid payload for `run_id` with one log.
pub fn payload(run_id: &str, log: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": "ci-remedy/ci-logs/v1",
        "tool": {"name": "test", "version": "0"},
        "run": {
            "repository": "o/r", "run_id": run_id, "run_attempt": 1, "event_name": "push",
            "sha": "abc", "ref": "refs/heads/main", "workflow": "ci", "job": "test"
        },
        "logs": [{"name": "job.log", "bytes": log.len(), "content": log}],
        "failed_tests": []
    })
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap_or(e.path())
                .display()
                .to_string()
        })
        .collect();
    out.sort();
    out
}
