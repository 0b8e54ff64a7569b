"""server.py - what the tests of `temper serve` share: start a server on a
free loopback port (the test owns the process and stops it), and small
HTTP helpers on the standard library (JSON requests, Server-Sent Events,
raw sockets)."""
import http.client
import json
import os
import signal
import subprocess
import time

from harness import TEMPER


class Server:
    """`temper serve ARGS --port 0`, started and ready (GET /health 200)."""

    def __init__(self, *args, wait_ready=True, env=None):
        self.proc = subprocess.Popen([TEMPER, "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.port = None
        self.log = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            if "listening on http://" in line:
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("temper serve did not start: " + "".join(self.log))
        if wait_ready:
            while time.time() < deadline:
                line = self.proc.stderr.readline()
                self.log.append(line)
                if "ready" in line or not line:
                    break

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None, timeout=60):
        """(status, headers, parsed JSON or text). body: an object sent as JSON;
        raw: bytes sent as they are."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        c.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return r.status, dict(r.getheaders()), parsed

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def stream(self, path, body, headers=None):
        """The events of a streamed reply: (status, [data strings])."""
        c = self.conn()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        events = []
        if r.status != 200:
            events.append(r.read().decode())
        else:
            buf = b""
            while True:
                chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    ev, buf = buf.split(b"\n\n", 1)
                    for line in ev.decode().splitlines():
                        if line.startswith("data: "):
                            events.append(line[6:])
        c.close()
        return r.status, events

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.log.append(self.proc.stderr.read())
        return rc

    def stderr(self):
        return "".join(self.log)
