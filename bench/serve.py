#!/usr/bin/python3
"""bench/serve.py - `temper serve` under load: requests/s and tokens/s at
1, 4, 8 and 16 concurrent streams, p50/p99 time to first token and per-token
latency, and one stream against `temper generate` on the same model.

Each client sends streamed /v1/completions requests (the same prompt,
max_tokens fixed, ignore_eos, different seeds) one after the other; the
run at C streams has C clients and 2 x C requests. Time to first token is
from sending the request to its first SSE event; per-token latency is the
time between two events of one stream. A model of the real GPT-2 124M
shape (random weights, tests/ref/make_model.py) unless MODEL is given.

When llama.cpp's server is built (`bench/llama_cpp.py setup-server`, or
LLAMA_SERVER names a binary), `llama-server --parallel N` runs beside
`temper serve` on the same weights (the GGUF that bench/llama_cpp.py writes
from the same random-weight folder), both started once with as many slots
as the largest stream count, the same client against each, alternating at
every stream count, and the aggregate tokens/s ratio is printed. Numbers,
not assertions.

env: BUILD (build), MODEL, STREAMS ("1 4 8 16"), TOKENS (64), THREADS (2),
     LLAMA_SERVER
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_cpp  # noqa: E402  (the GGUF of the same weights, llama-server's path)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
TEMPER = os.path.join(REPO, BUILD, "temper")
STREAMS = [int(x) for x in os.environ.get("STREAMS", "1 4 8 16").split()]
TOKENS = int(os.environ.get("TOKENS", "64"))
THREADS = os.environ.get("THREADS", "2")
PROMPT = "Once upon a time, in a small village by the sea, there lived"


def llama_server():
    """llama-server's binary when it is built and no MODEL is given (the GGUF needs the same weights)."""
    b = llama_cpp.server_tool()
    return b if os.access(b, os.X_OK) and not os.environ.get("MODEL") else None


def model():
    if os.environ.get("MODEL"):
        return os.environ["MODEL"]
    if llama_server():
        return llama_cpp.gguf_path("f32")[0]
    sys.path.insert(0, os.path.join(REPO, "tests", "py"))
    os.environ.setdefault("TEMPER_BUILD", BUILD)
    import harness
    import make_model
    return harness.cached_model("bench-gpt2-124m", make_model.PRESETS["gpt2-124m"].split())


def start(m, parallel):
    p = subprocess.Popen([TEMPER, "serve", "-m", m, "--port", "0", "--parallel", str(parallel), "-t", THREADS,
                          "-q"], stderr=subprocess.PIPE, text=True)
    port = None
    for line in p.stderr:
        if "listening on http://" in line:
            port = int(line.strip().rsplit(":", 1)[1])
        if "ready" in line:
            break
    return p, port


def start_llama(gguf, parallel):
    """llama-server on a free port, its context split between the slots (prompt + TOKENS each)."""
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    p = subprocess.Popen([llama_server(), "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-t", THREADS,
                          "-np", str(parallel), "-c", str(parallel * (TOKENS + 64))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                return p, port
        except OSError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.2)
    p.kill()
    raise SystemExit("bench/serve.py: llama-server did not start (run it by hand: %s -m %s)" % (llama_server(), gguf))


def one(port, seed, out):
    body = json.dumps({"prompt": PROMPT, "max_tokens": TOKENS, "ignore_eos": True, "seed": seed,
                       "temperature": 1.0, "stream": True})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    times, buf = [], b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if ev.startswith(b"data: {"):
                times.append(time.perf_counter())
    c.close()
    out.append((t0, times))


def run(port, streams):
    results, lock = [], threading.Lock()
    n_req = 2 * streams
    nxt = [0]

    def client():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n_req:
                return
            mine = []
            one(port, i, mine)
            with lock:
                results.extend(mine)

    ts = [threading.Thread(target=client) for _ in range(streams)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    ttft = sorted(tm[0] - s for s, tm in results if tm)
    gaps = sorted(b - a for _, tm in results for a, b in zip(tm, tm[1:]))
    toks = sum(min(len(tm), TOKENS) for _, tm in results)  # a last event may carry no token

    def pct(v, q):
        return v[min(len(v) - 1, int(q * len(v)))] * 1e3 if v else float("nan")
    return dict(streams=streams, req_s=n_req / wall, tok_s=toks / wall, ttft50=pct(ttft, .5), ttft99=pct(ttft, .99),
                tpot50=pct(gaps, .5), tpot99=pct(gaps, .99))


def cli_tok_s(m):
    r = subprocess.run([TEMPER, "generate", "-m", m, "-q", "--json", "-n", str(TOKENS), "--ignore-eos",
                        "--do-sample", "-s", "1", "-t", THREADS, PROMPT], capture_output=True, text=True)
    t = json.loads(r.stdout)["timings"]
    return t["n_generated"] / (t["prompt_seconds"] + t["decode_seconds"])


def row(name, r):
    print(f"{name:<13} {r['streams']:>7} {r['req_s']:>7.2f} {r['tok_s']:>8.1f} {r['ttft50']:>9.1f} {r['ttft99']:>9.1f} "
          f"{r['tpot50']:>8.2f} {r['tpot99']:>8.2f}", flush=True)


def main():
    m = model()
    server = llama_server()
    print(f"model {m}, {TOKENS} tokens per request, {THREADS} threads")
    if not server:
        print("llama-server beside it: not built (bench/llama_cpp.py setup-server)" if not os.environ.get("MODEL")
              else "llama-server beside it: only on the bench's own model (MODEL is given)")
    print(f"{'server':<13} {'streams':>7} {'req/s':>7} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p99':>9} "
          f"{'tok p50':>8} {'tok p99':>8}  (ms)")
    p, port = start(m, max(STREAMS))
    lp = lport = None
    ratios = {}
    try:
        if server:
            lp, lport = start_llama(llama_cpp.gguf_path("f32")[1], max(STREAMS))
            run(lport, 1)  # warm up
        run(port, 1)
        for s in STREAMS:
            r = run(port, s)
            row("temper serve", r)
            if server:
                lr = run(lport, s)
                row("llama-server", lr)
                ratios[s] = r["tok_s"] / lr["tok_s"]
    finally:
        for q in (p, lp):
            if q:
                q.terminate()
                q.wait()
    if ratios:
        print("aggregate tokens/s, temper serve / llama-server: " +
              ", ".join(f"{s} streams {x:.2f}x" for s, x in ratios.items()))
    # one stream against `temper generate`, alternating, 3 rounds (the machine is shared)
    ratios = []
    for _ in range(3):
        cli = cli_tok_s(m)
        p, port = start(m, 1)
        try:
            srv = run(port, 1)["tok_s"]
        finally:
            p.terminate()
            p.wait()
        ratios.append(srv / cli)
    print(f"one stream / temper generate (prompt + decode, tokens/s): "
          f"{statistics.median(ratios):.3f} (median of {', '.join('%.3f' % r for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
