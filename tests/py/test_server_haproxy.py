#!/usr/bin/python3
# san: yes
"""test_server_haproxy.py - two `temper serve` replicas behind HAProxy on
loopback (the configuration of docs/api.md, "Several replicas"): a bounded
load run (fixed count of requests from 8 clients) during which one replica
is stopped with SIGTERM. Every request must succeed with the completion a
lone server gives for its seed (the replicas keep no state between
requests), both replicas must have served some, the stopped one must drain
and exit 0, and the health check must take it out.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_server_haproxy.py
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, ROOT, summary  # noqa: E402
from server import Server  # noqa: E402

STORIES = os.path.join(ROOT, "models", "stories260K")
CONFIG = os.path.join(ROOT, "docs", "haproxy.cfg")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    hap = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(hap):
        harness.skip("HAProxy replicas", "haproxy is not installed (scripts/setup.sh installs it)")
        return summary()
    reps = [Server("-m", STORIES, "--parallel", "2", "-t", "1") for _ in range(2)]
    front = free_port()
    tmp = tempfile.mkdtemp(prefix="temper-haproxy-")
    # docs/haproxy.cfg with the ports of this run
    with open(CONFIG) as f:
        cfg = f.read()
    cfg = (cfg.replace("127.0.0.1:8080", "127.0.0.1:%d" % front)
              .replace("127.0.0.1:8081", "127.0.0.1:%d" % reps[0].port)
              .replace("127.0.0.1:8082", "127.0.0.1:%d" % reps[1].port))
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    proxy = subprocess.Popen([hap, "-f", path, "-db"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        check("haproxy listens", wait_port(front), proxy.stdout.read() if proxy.poll() is not None else "")
        time.sleep(0.6)  # the first health checks (rise 2 x 200 ms)

        def post(port, body):
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, json.loads(data) if data else None

        bodies = [{"prompt": "Once upon a time", "max_tokens": 24, "seed": i, "temperature": 0.9}
                  for i in range(160)]
        want = [post(reps[1].port, b)[1]["choices"][0]["text"] for b in bodies[:8]]
        results = [None] * len(bodies)
        nxt = [0]
        lock = threading.Lock()

        def client():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(bodies):
                    return
                try:
                    results[i] = post(front, bodies[i])
                except Exception as e:  # noqa: BLE001
                    results[i] = (0, str(e))

        threads = [threading.Thread(target=client) for _ in range(8)]
        t0 = time.time()
        for t in threads:
            t.start()
        while nxt[0] < len(bodies) // 3 and time.time() - t0 < 60:
            time.sleep(0.01)
        served_before = [int(dict(l.split() for l in r.get("/metrics")[2].splitlines()
                                  if l and not l.startswith("#"))["temper_requests_completed_total"])
                         for r in reps]
        rc0 = reps[0].stop(signal.SIGTERM)  # drains its running requests, then exits
        for t in threads:
            t.join(120)
        took = time.time() - t0
        bad = [(i, r) for i, r in enumerate(results) if not r or r[0] != 200]
        check("load run: %d requests from 8 clients in %.1fs, all 200 while a replica stops" % (len(bodies), took),
              not bad, bad[:3])
        check("stateless replicas: each request's completion is its seed's",
              [results[i][1]["choices"][0]["text"] for i in range(8)] == want)
        check("both replicas served requests before the stop", all(n > 0 for n in served_before), served_before)
        check("the stopped replica drained and exited 0", rc0 == 0, reps[0].stderr()[-1500:])
        st, _, _ = Server.request(reps[1], "GET", "/health")
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        check("health through the proxy with one replica left", r.status == 200 and st == 200)
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
        for r in reps:
            r.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
