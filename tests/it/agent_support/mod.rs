//! Test helpers for the agent and notify tests: a scripted loopback HTTP server (fault
//! injection, webhook receiver) and a handle on the real `developer-agent` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

use crate::common::http::{self, Req, Resp};
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

/// One received request (the shared stub server's [`Req`]).
pub type Captured = Req;

/// A scripted server on 127.0.0.1: connection n gets `script[min(n, len - 1)]`.
pub struct Stub {
    pub url: String,
    pub captured: Arc<Mutex<Vec<Captured>>>,
    pub connections: Arc<Mutex<u32>>,
}

impl Stub {
    pub fn start(script: Vec<Reply>) -> Stub {
        assert!(!script.is_empty());
        let captured = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0u32));
        let (cap, conns) = (captured.clone(), connections.clone());
        let url = http::serve(move |stream, n| {
            *conns.lock().expect("lock") += 1;
            let reply = script[(n as usize).min(script.len() - 1)].clone();
            answer(stream, reply, &cap);
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

fn answer(mut stream: TcpStream, reply: Reply, cap: &Mutex<Vec<Captured>>) {
    match reply {
        Reply::Reset => {
            // The request stays unread in the socket buffer, so closing sends a TCP reset.
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
            let Some(req) = http::read_request(&stream) else {
                return;
            };
            cap.lock().expect("lock").push(req);
            std::thread::sleep(delay);
            let mut resp = Resp::typed(status, content_type, body);
            for (k, v) in extra_headers {
                resp = resp.with(k, &v);
            }
            http::write_response(&mut stream, &resp);
        }
    }
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
