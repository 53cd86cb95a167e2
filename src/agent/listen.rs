//! The `developer-agent` accept loop: HTTP/1.1 connections served with hyper directly, so that
//! every connection is bounded in time and in number (issue 15 #6).
//!
//! - **Header read timeout** ([`ConnectionLimits::header_timeout`], default 10 s): from the
//!   moment the server waits for a request head (a new connection, or the next request on a
//!   kept-alive one) until the head is complete; past it hyper closes the connection. A
//!   slowloris client that trickles a header byte by byte is gone after this time.
//! - **Idle timeout** ([`ConnectionLimits::idle_timeout`], default 5 s): a connection with no
//!   request in progress and no byte read or written for this long is closed (a silent new
//!   connection, a kept-alive one between requests).
//! - **Connection bound** ([`ConnectionLimits::max_connections`], default 512, lowered to fit
//!   the process's open-file limit by [`connection_bound`]): each open connection holds one
//!   slot. When all slots are taken, the open connection without a request in progress that
//!   has been quiet longest is closed to make room (so 2,000 idle connections cannot keep a
//!   health check out); when every connection has a request in progress, the new connection
//!   gets a fixed `503` JSON answer ([`REJECT_BODY`]) and is closed at once — no descriptor is
//!   held for it.
//!
//! Accept errors (`EMFILE` when the descriptors run out anyway, `ECONNABORTED`) never stop
//! the loop: it waits 50 ms and accepts again.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;

/// Default [`ConnectionLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ConnectionLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Descriptors kept free for everything but connections (the listener, stored files, logs
/// being read, the upstream client) when [`connection_bound`] fits the bound to the limit.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The body of the `503` a connection gets when every slot has a request in progress (the
/// documented error shape, `agent-error.schema.json`, as [`super::payload::ErrorBody`]
/// serializes it: `fields` is left out when empty).
pub const REJECT_BODY: &str = r#"{"error":"too many connections, try again later"}"#;

/// How long the accept loop waits for an evicted connection's slot before answering 503.
const EVICT_WAIT: Duration = Duration::from_millis(500);

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once (at least 1).
    pub max_connections: usize,
    /// Time allowed to send a complete request head.
    pub header_timeout: Duration,
    /// Time a connection may stay open with no request in progress and no traffic.
    pub idle_timeout: Duration,
    /// On shutdown, how long requests in progress may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The connection bound that fits an open-file soft limit of `nofile` descriptors:
/// `requested`, lowered to `nofile - RESERVED_DESCRIPTORS` (at least 1) when that is smaller.
/// `None` (no limit known, or unlimited) keeps `requested`.
pub fn connection_bound(requested: usize, nofile: Option<u64>) -> usize {
    let requested = requested.max(1);
    match nofile {
        Some(n) => {
            let fit = usize::try_from(n.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
            requested.min(fit.max(1))
        }
        None => requested,
    }
}

/// What the accept loop and a connection's task share about one connection.
struct Conn {
    /// Requests of this connection whose handler is running.
    busy: AtomicUsize,
    /// Milliseconds since [`Registry::epoch`] of the last byte read or written.
    last_activity_ms: AtomicU64,
    /// Tells the connection's task to drop the connection.
    close: Notify,
}

struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        match self.conns.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(self.now_ms()),
            close: Notify::new(),
        });
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes the connection without a request in progress that has been quiet longest;
    /// false when every connection is busy.
    fn evict_idle(&self) -> bool {
        let mut conns = self.lock();
        let victim = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.last_activity_ms.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A TCP stream that records when it last read or wrote a byte.
struct Tracked {
    inner: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Tracked {
    fn touch(&self) {
        self.conn
            .last_activity_ms
            .store(self.registry.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Marks a connection busy while one of its requests is being handled.
struct BusyGuard(Arc<Conn>);

impl BusyGuard {
    fn new(conn: Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(conn)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets requests in progress finish (at most `limits.shutdown_grace`) and returns.
/// Never returns an error for a single connection; accept errors are retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // EMFILE/ENFILE (descriptors exhausted) or a connection aborted before it
                // was accepted: keep serving.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) if registry.evict_idle() => {
                match tokio::time::timeout(EVICT_WAIT, slots.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        reject(stream);
                        continue;
                    }
                }
            }
            Err(_) => {
                reject(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, conn) = registry.add();
        let registry = registry.clone();
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(Tracked {
                inner: stream,
                conn: conn.clone(),
                registry: registry.clone(),
            });
            let busy_conn = conn.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let guard = BusyGuard::new(busy_conn.clone());
                let app = app.clone();
                async move {
                    let resp = app.oneshot(req.map(Body::new)).await;
                    drop(guard);
                    resp
                }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true)
                .serve_connection(io, svc);
            tokio::pin!(served);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = served.as_mut() => break,
                    () = conn.close.notified() => break,
                    () = idle(&conn, &registry, limits.idle_timeout) => break,
                    r = stop.changed(), if !stopping => {
                        stopping = true;
                        if r.is_ok() {
                            served.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            registry.remove(id);
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    drop(listener);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all)).await;
}

/// Completes when `conn` has had no request in progress and no traffic for `timeout`.
async fn idle(conn: &Conn, registry: &Registry, timeout: Duration) {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    loop {
        let quiet = registry
            .now_ms()
            .saturating_sub(conn.last_activity_ms.load(Ordering::Relaxed));
        if conn.busy.load(Ordering::Acquire) == 0 && quiet >= timeout_ms {
            return;
        }
        let wait = if quiet >= timeout_ms {
            timeout_ms
        } else {
            timeout_ms - quiet
        };
        tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
    }
}

/// Answers a fixed 503 without reading the request and closes the connection (the socket's
/// send buffer is empty, so one non-blocking write takes the whole answer).
fn reject(stream: TcpStream) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{REJECT_BODY}",
        REJECT_BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reject_body_is_the_documented_error_shape() {
        let body: super::super::payload::ErrorBody =
            serde_json::from_str(REJECT_BODY).expect("ErrorBody");
        assert!(body.error.contains("too many connections"));
        assert!(body.fields.is_empty());
        let again = serde_json::to_string(&body).expect("json");
        assert_eq!(again, REJECT_BODY);
    }

    #[test]
    fn the_bound_fits_the_open_file_limit() {
        assert_eq!(connection_bound(512, Some(1024)), 512);
        assert_eq!(connection_bound(2000, Some(1024)), 960);
        assert_eq!(connection_bound(512, Some(10)), 1);
        assert_eq!(connection_bound(512, None), 512);
        assert_eq!(connection_bound(0, None), 1);
    }
}
