#!/usr/bin/python3
"""fake_hub.py - a local stand-in for the Hugging Face Hub, for tests.

It answers the requests huggingface_hub (and temper) make, with the Hub's
headers, on 127.0.0.1:

  GET  /api/models/{repo}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD /{repo}/resolve/{rev}/{file}        regular file: 200, ETag = git blob sha1,
  GET  /{repo}/resolve/{rev}/{file}          Content-Length, X-Repo-Commit
                                           LFS file: 302 to /cdn/{sha256}, with
                                           X-Linked-Etag = sha256, X-Linked-Size,
                                           ETag (of the pointer), X-Repo-Commit
  GET  /cdn/{sha256}                       the LFS content, with Range support

Errors as the Hub sends them (X-Error-Code): an unknown repo is 401
RepoNotFound, an unknown revision 404 RevisionNotFound, a missing file 404
EntryNotFound, a gated repo 401 GatedRepo without a token and 403 with a
wrong one. A repo in `renamed` answers with a relative 307 redirect to its
new name. Faults (hub.faults, by file name): "drop" sends the headers and
half of the body then closes the connection (once: the entry is removed),
"drop_then_500" does the same then answers 500 to every later request,
"corrupt" flips the bytes of the content (same length), "ignore_range"
answers 200 with the whole file to a Range request, "slow" sends it in
64 kB pieces 10 ms apart. Attacks: "drip" sends one byte every 50 ms,
"oversize" sends 1 MB more than the HEAD announced, "huge" announces
10^15 bytes, "loop" redirects the file to itself forever, "wrong_etag"
gives an ETag (or X-Linked-Etag) that is not the content's, "folded"
answers with a first header line that continues nothing (" X: y", an
obsolete line folding; libcurl 7.88 read freed memory on it when its
handle had served a request before: curl issue 11101).

Every request is logged in hub.log as (method, path, Range header or None,
Authorization header or None).

Standalone: /usr/bin/python3 tests/hub/fake_hub.py DIR serves the
files of DIR as the repo "local/model" (files over 1 MB as LFS files).
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files, lfs=(), refs=None, commit=None, gated_token=None):
        """files: {name: bytes}; lfs: names stored in LFS; refs: {branch: commit}
        (default {"main": commit}); other commits may be added to `snapshots`."""
        self.commit = commit or hashlib.sha1(repr(sorted(files)).encode() + os.urandom(8)).hexdigest()
        self.snapshots = {self.commit: dict(files)}
        self.lfs = set(lfs)
        self.refs = dict(refs or {"main": self.commit})
        self.gated_token = gated_token

    def add_snapshot(self, files, ref=None):
        commit = hashlib.sha1(os.urandom(16)).hexdigest()
        self.snapshots[commit] = dict(files)
        if ref:
            self.refs[ref] = commit
        return commit

    def resolve(self, rev):
        if rev in self.snapshots:
            return rev
        return self.refs.get(rev)


class FakeHub:
    def __init__(self):
        self.repos = {}
        self.renamed = {}   # old id -> new id
        self.faults = {}    # file name -> fault
        self.log = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        base_error = self.server.handle_error

        def handle_error(request, client_address):  # a client that hung up is no error
            if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                base_error(request, client_address)
        self.server.handle_error = handle_error
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def requests(self, method=None, contains=""):
        with self.lock:
            return [r for r in self.log if (method is None or r[0] == method) and contains in r[1]]

    # ---- responses ------------------------------------------------------
    def _send(self, h, status, headers=(), body=b"", head=False):
        h.send_response(status)
        has_len = False
        for k, v in headers:
            h.send_header(k, v)
            has_len |= k.lower() == "content-length"
        if not has_len:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def _error(self, h, status, code, message, head):
        body = json.dumps({"error": message}).encode()
        self._send(h, status, [("Content-Type", "application/json"), ("X-Error-Code", code),
                               ("X-Error-Message", message)], body, head)

    def _auth_ok(self, h, repo, head):
        """False (and the error sent) if the repo is gated and the token wrong."""
        if not repo.gated_token:
            return True
        auth = h.headers.get("Authorization")
        if auth is None:
            self._error(h, 401, "GatedRepo", "Access to this model is restricted: you must be "
                        "authenticated", head)
            return False
        if auth != "Bearer " + repo.gated_token:
            self._error(h, 403, "GatedRepo", "Access to this model is restricted and you are not "
                        "in the authorized list", head)
            return False
        return True

    def _handle(self, h, head):
        parsed = urllib.parse.urlsplit(h.path)
        path = parsed.path
        with self.lock:
            self.log.append(("HEAD" if head else "GET", path, h.headers.get("Range"),
                             h.headers.get("Authorization")))
        try:
            if path.startswith("/api/models/"):
                return self._api(h, path[len("/api/models/"):], head)
            if path.startswith("/cdn/"):
                return self._cdn(h, path[len("/cdn/"):], head)
            if "/resolve/" in path:
                return self._resolve(h, path, head)
            self._error(h, 404, "NotFound", "no such endpoint", head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _find_repo(self, h, repo_id, head):
        repo = self.repos.get(repo_id)
        if repo is None:
            # the Hub answers 401 for a repo it does not show to this user
            self._error(h, 401, "RepoNotFound", "Repository Not Found for url: %s" % h.path, head)
        return repo

    def _api(self, h, rest, head):
        repo_id, sep, rev = rest.partition("/revision/")
        if not sep:
            repo_id, rev = rest, "main"
        rev = urllib.parse.unquote(rev)
        if repo_id in self.renamed:
            new = "/api/models/%s/revision/%s" % (self.renamed[repo_id], urllib.parse.quote(rev, safe=""))
            return self._send(h, 307, [("Location", new)], b"", head)
        repo = self._find_repo(h, repo_id, head)
        if repo is None or not self._auth_ok(h, repo, head):
            return
        commit = repo.resolve(rev)
        if commit is None:
            return self._error(h, 404, "RevisionNotFound", "Invalid rev id: %s" % rev, head)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": commit,
                           "siblings": [{"rfilename": n} for n in sorted(repo.snapshots[commit])]})
        self._send(h, 200, [("Content-Type", "application/json")], body.encode(), head)

    def _resolve(self, h, path, head):
        repo_id, _, rest = path[1:].partition("/resolve/")
        rev, _, name = rest.partition("/")
        rev, name = urllib.parse.unquote(rev), urllib.parse.unquote(name)
        if repo_id in self.renamed:  # a relative redirect, as for a renamed repo
            new = "/%s/resolve/%s/%s" % (self.renamed[repo_id], urllib.parse.quote(rev, safe=""),
                                         urllib.parse.quote(name))
            return self._send(h, 307, [("Location", new)], b"", head)
        repo = self._find_repo(h, repo_id, head)
        if repo is None or not self._auth_ok(h, repo, head):
            return
        commit = repo.resolve(rev)
        if commit is None:
            return self._error(h, 404, "RevisionNotFound", "Invalid rev id: %s" % rev, head)
        files = repo.snapshots[commit]
        if name not in files:
            return self._error(h, 404, "EntryNotFound", "%s does not exist" % name, head)
        data = files[name]
        fault = self.faults.get(name)
        if fault == "folded":  # raw: send_response would add Server and Date first
            h.wfile.write(b"HTTP/1.1 200 OK\r\n X-Folded: y\r\nContent-Length: 0\r\n\r\n")
            return
        if fault == "loop":  # to itself, forever (relative: followed by HEAD too)
            return self._send(h, 302, [("Location", path)], b"", head)
        if name in repo.lfs:
            sha = hashlib.sha256(data).hexdigest()
            pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                       % (sha, len(data))).encode()
            etag = hashlib.sha256(b"other").hexdigest() if fault == "wrong_etag" else sha
            size = 10 ** 15 if fault == "huge" else len(data)
            hdrs = [("X-Repo-Commit", commit), ("X-Linked-Etag", '"%s"' % etag),
                    ("X-Linked-Size", str(size)), ("ETag", '"%s"' % git_blob_sha1(pointer)),
                    ("Location", "%s/cdn/%s?name=%s" % (self.url, sha, urllib.parse.quote(name)))]
            return self._send(h, 302, hdrs, b"", head)
        etag = git_blob_sha1(b"other" if fault == "wrong_etag" else data)
        hdrs = [("X-Repo-Commit", commit), ("ETag", '"%s"' % etag)]
        self._body(h, name, data, hdrs, head)

    def _cdn(self, h, sha, head):
        for repo in self.repos.values():
            for files in repo.snapshots.values():
                for name, data in files.items():
                    if name in repo.lfs and hashlib.sha256(data).hexdigest() == sha:
                        return self._body(h, name, data, [("ETag", '"%s"' % sha)], head)
        self._error(h, 404, "NotFound", "no such object", head)

    def _body(self, h, name, data, hdrs, head):
        """The content, honouring Range, with the faults of `name`."""
        fault = self.faults.get(name)
        if fault == "500":
            return self._error(h, 500, "Internal", "server error", head)
        if fault == "corrupt":
            data = data.translate(bytes(b ^ 0x5A for b in range(256)))
        start = 0
        rng = h.headers.get("Range")
        if rng and fault != "ignore_range" and rng.startswith("bytes="):
            first = rng[6:].split("-")[0]
            start = int(first) if first else 0
            if start >= len(data):
                return self._send(h, 416, [("Content-Range", "bytes */%d" % len(data))], b"", head)
        part = data[start:]
        if fault == "oversize" and not head:
            part += b"\0" * (1 << 20)
        if start:
            h.send_response(206)
            h.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            h.send_response(200)
        for k, v in hdrs:
            h.send_header(k, v)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(10 ** 15 if fault == "huge" else len(part)))
        h.end_headers()
        if head:
            return
        if fault == "drip":
            try:
                for k in range(len(part)):
                    h.wfile.write(part[k:k + 1])
                    h.wfile.flush()
                    time.sleep(0.05)
            except OSError:  # the client gave up
                pass
            return
        if fault in ("drop", "drop_then_500") and len(part) > 1:
            with self.lock:
                if fault == "drop":
                    del self.faults[name]
                else:
                    self.faults[name] = "500"
            h.wfile.write(part[:len(part) // 2])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "slow":  # about 6 MB/s, so that progress reports happen
            for k in range(0, len(part), 65536):
                h.wfile.write(part[k:k + 65536])
                time.sleep(0.01)
            return
        h.wfile.write(part)


def main():
    folder = sys.argv[1]
    files = {}
    for n in sorted(os.listdir(folder)):
        p = os.path.join(folder, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                files[n] = f.read()
    hub = FakeHub()
    hub.repos["local/model"] = Repo(files, lfs=[n for n, d in files.items() if len(d) > 1 << 20])
    print("serving %s as local/model: HF_ENDPOINT=%s" % (folder, hub.url), flush=True)
    hub.start()
    try:
        hub.thread.join()
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
