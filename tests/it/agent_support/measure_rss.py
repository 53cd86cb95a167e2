#!/usr/bin/env python3
"""Peak RSS of developer-agent under N parallel 8 MB bodies (README: Connections and memory).

Usage: measure_rss.py BINARY N REQUEST_TIMEOUT
"""
import json, os, socket, subprocess, sys, threading, time, collections, tempfile
BIN = sys.argv[1]; N = int(sys.argv[2]); TIMEOUT = sys.argv[3]
tok = "rss-token"
data = tempfile.mkdtemp()
p = subprocess.Popen([BIN, "--bind", "127.0.0.1:0", "--data-dir", data, "--rate-limit", "100000", "--burst", "100000",
                      "--request-timeout", TIMEOUT], stdout=subprocess.PIPE, env={"AGENT_TOKEN": tok, "PATH": "/usr/bin:/bin"})
addr = p.stdout.readline().decode().split("http://")[1].strip()
host, port = addr.rsplit(":", 1)
line = "Step 12/40 : RUN make -j4 all (building target number %06d)\n"
content = "".join(line % i for i in range(7_900_000 // len(line % 0))) + "npm ERR! code ECONNRESET\n"
payload = {"schema": "ci-remedy/ci-logs/v1", "tool": {"name": "t", "version": "0"},
           "run": {"repository": "o/r", "run_id": "1", "run_attempt": 1, "event_name": "push", "sha": "abc",
                   "ref": "refs/heads/main", "workflow": "ci", "job": "test"},
           "logs": [{"name": "job.log", "bytes": len(content), "content": content}], "failed_tests": []}
body = json.dumps(payload).encode()
print("body bytes", len(body), flush=True)
head = (f"POST /process-logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {tok}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
def status():
    d = {}
    for l in open(f"/proc/{p.pid}/status"):
        k, v = l.split(":", 1); d[k] = v.strip()
    return d["VmHWM"], d["VmRSS"]
results = collections.Counter()
def one():
    try:
        s = socket.create_connection((host, int(port)), timeout=900)
        s.sendall(head); s.sendall(body)
        r = b""
        while True:
            c = s.recv(65536)
            if not c: break
            r += c
        results[r.split(b" ")[1].decode() if r else "closed"] += 1
    except Exception as e:
        results[type(e).__name__] += 1
print("idle", status(), flush=True)
t0 = time.time()
ts = [threading.Thread(target=one) for _ in range(N)]
for t in ts: t.start()
peak_rss = 0
while any(t.is_alive() for t in ts):
    time.sleep(0.2)
    peak_rss = max(peak_rss, int(status()[1].split()[0]))
print("done in %.1fs" % (time.time() - t0), dict(results), flush=True)
time.sleep(3)
print("VmHWM, VmRSS after:", status(), "max sampled VmRSS kB:", peak_rss, flush=True)
p.terminate(); p.wait()
subprocess.run(["rm", "-rf", data])
