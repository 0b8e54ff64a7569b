#!/usr/bin/python3
# san: yes
"""test_server.py - `temper serve`, started and stopped by the test on a
free loopback port, on the bundled stories260K (and a random GPT-2 for the
slow cases):

- GET /health, /v1/models; POST /v1/completions: greedy and sampled text
  and log-probs equal `temper generate --json` (same seed: same stream);
  echo's prompt log-probs equal `temper score --json` within 1e-5; prompt
  forms (text, ids, lists); n and best_of; stop strings cut the text;
  logit_bias; usage; streaming (SSE ending in [DONE], the same text as
  the reply in one piece, include_usage);
- 16 concurrent clients with different parameters and seeds get exactly
  what they get one at a time;
- a client that disconnects frees its slot within a step; a full queue
  answers 503 with Retry-After;
- every bad request is a 4xx with an OpenAI-shaped error naming its field;
  API key and CORS; SIGTERM / SIGINT exit 0.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_server.py
"""
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, ROOT, TEMPER, NPM, summary  # noqa: E402
from server import Server  # noqa: E402

STORIES = os.path.join(ROOT, "models", "stories260K")
PROMPT = "Once upon a time"
SAN = "san" in harness.BUILD_NAME  # build-san (ASan + UBSan) or build-tsan
TSAN = "tsan" in harness.BUILD_NAME


def cli_json(*args):
    r = subprocess.run([TEMPER, *args, "-q", "--json", "-m", STORIES], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout)


def f32(x):
    import numpy as np
    return float(np.float32(x))


def test_basics(s):
    st, _, body = s.get("/health")
    check("health 200", st == 200 and body == {"status": "ok"}, body)
    st, _, body = s.get("/v1/models")
    check("models", st == 200 and body["object"] == "list" and body["data"][0]["id"] == "stories260K"
          and body["data"][0]["meta"]["n_vocab"] == 512, body)


def test_greedy_and_sampled(s):
    # greedy: temperature 0
    st, _, r = s.post("/v1/completions", {"model": "stories260K", "prompt": PROMPT, "max_tokens": 12,
                                          "temperature": 0, "logprobs": 2})
    cli = cli_json("generate", "-n", "12", "--n-probs", "2", PROMPT)["sequences"][0]
    ch = r["choices"][0] if st == 200 else {}
    check("greedy text == temper generate", st == 200 and ch["text"] == cli["text"], (r, cli["text"]))
    check("greedy logprobs == temper generate (raw)",
          st == 200 and [f32(x) for x in ch["logprobs"]["token_logprobs"]] ==
          [f32(t["logprob"]) for t in cli["logprobs"]], r)
    check("top_logprobs: 2 best, best first",
          st == 200 and all(len(t) == 2 for t in ch["logprobs"]["top_logprobs"]) and
          list(ch["logprobs"]["top_logprobs"][0].values())[0] >= list(ch["logprobs"]["top_logprobs"][0].values())[1], r)
    check("usage", st == 200 and r["usage"] == {"prompt_tokens": 5, "completion_tokens": 12,
                                                "total_tokens": 17}, r.get("usage"))
    check("finish_reason length", st == 200 and ch["finish_reason"] == "length", ch)
    check("response shape", st == 200 and r["object"] == "text_completion" and r["id"].startswith("cmpl-")
          and r["system_fingerprint"].startswith("temper-") and isinstance(r["created"], int), r)
    # sampling: the seed's stream 0, as `temper generate -s`
    body = {"prompt": PROMPT, "max_tokens": 10, "temperature": 0.8, "top_p": 0.9, "seed": 5,
            "logprobs": 0}
    st, _, r = s.post("/v1/completions", body)
    cli = cli_json("generate", "--do-sample", "--temp", "0.8", "--top-p", "0.9", "--top-k", "0",
                   "-s", "5", "-n", "10", PROMPT)["sequences"][0]
    check("sampled text == temper generate -s 5", st == 200 and r["choices"][0]["text"] == cli["text"],
          (r, cli["text"]))
    check("sampled log-probs == temper generate",
          st == 200 and [f32(x) for x in r["choices"][0]["logprobs"]["token_logprobs"]] ==
          [f32(t["logprob"]) for t in cli["logprobs"]], r)
    st2, _, r2 = s.post("/v1/completions", body)
    check("same seed, same completion", st2 == 200 and r2["choices"] == r["choices"])
    texts = set()
    for seed in range(6):
        st, _, r = s.post("/v1/completions", dict(body, seed=seed, max_tokens=20))
        texts.add(r["choices"][0]["text"] if st == 200 else None)
    check("different seeds, different completions (6 seeds, >= 3 texts)", len(texts) >= 3, texts)


def test_echo(s):
    texts = [PROMPT, "Lily went to the park. She saw a big dog."]
    st, _, r = s.post("/v1/completions", {"prompt": texts, "max_tokens": 0, "echo": True,
                                          "logprobs": 1, "temperature": 0})
    score = cli_json("score", *texts)["results"]
    check("echo 200", st == 200 and len(r["choices"]) == 2, r)
    if st != 200:
        return
    for i, ch in enumerate(r["choices"]):
        lp = ch["logprobs"]["token_logprobs"]
        want = [t["logprob"] for t in score[i]["logprobs"]]
        check(f"echo {i}: text is the prompt", ch["text"] == texts[i], ch["text"])
        check(f"echo {i}: first log-prob null", lp[0] is None and ch["logprobs"]["top_logprobs"][0] is None)
        check(f"echo {i}: prompt log-probs == temper score (1e-5)",
              len(lp) == len(want) and all(abs(a - b) <= 1e-5 for a, b in zip(lp[1:], want[1:])),
              (lp, want))
        toks = ch["logprobs"]["tokens"]
        offs = ch["logprobs"]["text_offset"]
        check(f"echo {i}: text_offset counts the tokens' characters",
              offs == [sum(len(t) for t in toks[:k]) for k in range(len(toks))], (toks, offs))
    # echo and generation: the prompt's tokens, then the new ones
    st, _, r = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 4, "echo": True,
                                          "logprobs": 0, "temperature": 0})
    st2, _, g = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 4, "temperature": 0,
                                           "logprobs": 0})
    ok = st == 200 and st2 == 200
    check("echo + 4 tokens: text = prompt + completion",
          ok and r["choices"][0]["text"] == PROMPT + g["choices"][0]["text"], (r, g))
    check("echo + 4 tokens: 5 + 4 log-probs",
          ok and len(r["choices"][0]["logprobs"]["tokens"]) == 9 and
          r["choices"][0]["logprobs"]["token_logprobs"][5:] == g["choices"][0]["logprobs"]["token_logprobs"], r)


def test_prompt_forms_n_best_of(s):
    ids = cli_json("tokenize", PROMPT)["ids"]
    base = {"max_tokens": 6, "temperature": 0.9, "seed": 11}
    _, _, a = s.post("/v1/completions", dict(base, prompt=PROMPT))
    _, _, b = s.post("/v1/completions", dict(base, prompt=ids))
    _, _, c = s.post("/v1/completions", dict(base, prompt=[ids, ids]))
    _, _, d = s.post("/v1/completions", dict(base, prompt=[PROMPT, "The cat"]))
    ta = a["choices"][0]["text"]
    check("prompt as ids == as text", b["choices"][0]["text"] == ta, (a, b))
    check("list of id lists: one choice each, indexes 0 1",
          [x["text"] for x in c["choices"]] == [ta, ta] and [x["index"] for x in c["choices"]] == [0, 1], c)
    check("list of strings", len(d["choices"]) == 2 and d["choices"][0]["text"] == ta, d)
    # n: choice i draws from stream i of the seed; choice 0 is the single request's
    _, _, n3 = s.post("/v1/completions", dict(base, prompt=PROMPT, n=3, logprobs=0))
    check("n=3: 3 choices, choice 0 == n=1", len(n3["choices"]) == 3 and n3["choices"][0]["text"] == ta, n3)
    check("n=3: usage counts every choice", n3["usage"]["completion_tokens"] ==
          sum(len(c["logprobs"]["tokens"]) for c in n3["choices"]), n3["usage"])
    # best_of: the n best (mean log-prob) of best_of
    _, _, bo = s.post("/v1/completions", dict(base, prompt=PROMPT, n=1, best_of=3, logprobs=0))
    means = [sum(c["logprobs"]["token_logprobs"]) / len(c["logprobs"]["token_logprobs"])
             for c in n3["choices"]]
    best = n3["choices"][max(range(3), key=lambda i: means[i])]["text"]
    check("best_of=3: the best of the 3 streams", len(bo["choices"]) == 1 and bo["choices"][0]["text"] == best,
          (bo, n3, means))
    check("best_of: usage counts the 3 sequences",
          bo["usage"]["completion_tokens"] == n3["usage"]["completion_tokens"], bo["usage"])


def test_stop_bias_penalties(s):
    _, _, g = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 20, "temperature": 0})
    full = g["choices"][0]["text"]
    word = " little"
    cut = full.find(word)
    _, _, r = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 20, "temperature": 0,
                                         "stop": [word, "zzz"]})
    ch = r["choices"][0]
    check("stop: text ends before the stop string", cut > 0 and ch["text"] == full[:cut] and
          ch["finish_reason"] == "stop", (full, ch))
    # logit_bias -100 bans the greedy token
    _, _, lp = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 1, "temperature": 0, "logprobs": 1})
    first = lp["choices"][0]["logprobs"]["tokens"][0]
    ids = cli_json("tokenize", PROMPT + first)["ids"]
    tid = ids[-1]
    _, _, r = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 1, "temperature": 0,
                                         "logit_bias": {str(tid): -100}})
    check("logit_bias -100 bans the token", r["choices"][0]["text"] != lp["choices"][0]["text"], (r, first))
    # table parameters: repetition_penalty, top_k, presence/frequency
    st, _, r = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 30, "temperature": 0,
                                          "repetition_penalty": 1.5, "top_k": 5,
                                          "presence_penalty": 1.0, "frequency_penalty": 0.5})
    cli = cli_json("generate", "-n", "30", "--repetition-penalty", "1.5", "--presence-penalty", "1.0",
                   "--frequency-penalty", "0.5", PROMPT)["sequences"][0]
    check("penalties == temper generate", st == 200 and r["choices"][0]["text"] == cli["text"], (r, cli["text"]))


def test_stream(s):
    body = {"prompt": PROMPT, "max_tokens": 15, "temperature": 1.0, "seed": 7, "logprobs": 1}
    _, _, whole = s.post("/v1/completions", body)
    st, ev = s.stream("/v1/completions", dict(body, stream=True, stream_options={"include_usage": True}))
    check("stream ends with [DONE]", st == 200 and ev and ev[-1] == "[DONE]", ev[-3:])
    chunks = [json.loads(e) for e in ev[:-1]]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    check("stream text == whole text", text == whole["choices"][0]["text"], (text, whole))
    lps = [x for c in chunks if c["choices"] for x in c["choices"][0]["logprobs"]["token_logprobs"]]
    check("stream log-probs == whole", lps == whole["choices"][0]["logprobs"]["token_logprobs"])
    fins = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    check("finish_reason on the last chunk only", fins[-1] == "length" and all(f is None for f in fins[:-1]), fins)
    check("include_usage: a last chunk with usage and no choices",
          chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"], chunks[-1])
    # stop strings while streaming: nothing past the stop is sent
    _, _, g = s.post("/v1/completions", {"prompt": PROMPT, "max_tokens": 20, "temperature": 0})
    full = g["choices"][0]["text"]
    st, ev = s.stream("/v1/completions", {"prompt": PROMPT, "max_tokens": 20, "temperature": 0,
                                          "stop": " little", "stream": True})
    text = "".join(json.loads(e)["choices"][0]["text"] for e in ev[:-1])
    check("stream with stop: text before the stop", text == full[:full.find(" little")], (text, full))
    # n = 2 streamed: the events carry each choice's index
    st, ev = s.stream("/v1/completions", dict(body, n=2, stream=True))
    by = {0: "", 1: ""}
    for e in ev[:-1]:
        c = json.loads(e)["choices"][0]
        by[c["index"]] += c["text"]
    check("stream n=2: choice 0 == the single request", by[0] == whole["choices"][0]["text"], by)


def test_llamacpp(s):
    """llama.cpp's native endpoints, field by field as its server README
    documents them (tools/server/README.md)."""
    cli = cli_json("generate", "-n", "8", "--n-probs", "3", PROMPT)["sequences"][0]
    st, _, r = s.post("/completion", {"prompt": PROMPT, "n_predict": 8, "temperature": 0, "n_probs": 3,
                                      "return_tokens": True})
    check("/completion 200", st == 200 and isinstance(r, dict), r)
    if st != 200:
        return
    fields = {"index", "content", "tokens", "id_slot", "stop", "model", "tokens_predicted", "tokens_evaluated",
              "generation_settings", "prompt", "has_new_line", "truncated", "stop_type", "stopping_word",
              "tokens_cached", "timings", "completion_probabilities"}
    check("/completion: llama.cpp's fields", fields <= set(r), sorted(fields - set(r)))
    check("/completion greedy == temper generate", r["content"] == cli["text"] and r["tokens"] == cli["ids"],
          (r["content"], cli["text"]))
    check("/completion: stop, stop_type limit, counts", r["stop"] is True and r["stop_type"] == "limit" and
          r["tokens_predicted"] == 8 and r["tokens_evaluated"] == 5 and r["stopping_word"] == "", r)
    cp = r["completion_probabilities"]
    check("completion_probabilities: one per token, id/token/bytes/logprob/top_logprobs",
          len(cp) == 8 and all(set(c) == {"id", "token", "bytes", "logprob", "top_logprobs"} for c in cp), cp[:1])
    check("completion_probabilities: raw log-probs == temper generate",
          [f32(c["logprob"]) for c in cp] == [f32(t["logprob"]) for t in cli["logprobs"]] and
          [[a["id"] for a in c["top_logprobs"]] for c in cp] == [[a["id"] for a in t["top"]] for t in cli["logprobs"]])
    check("bytes are the token's UTF-8", all(bytes(c["bytes"]).decode() == c["token"] for c in cp), cp[:2])
    gs = r["generation_settings"]
    check("generation_settings: n_predict, n_probs, samplers, n_ctx",
          gs["n_predict"] == 8 and gs["n_probs"] == 3 and gs["n_ctx"] == 512 and gs["temperature"] == 0 and
          isinstance(gs["samplers"], list), gs)
    check("timings", {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"} <= set(r["timings"])
          and r["timings"]["predicted_n"] == 8, r["timings"])
    # sampling: llama.cpp's defaults (top_k 40, top_p 0.95, min_p 0.05, temperature last) with a seed
    body = {"prompt": PROMPT, "n_predict": 12, "seed": 4, "temperature": 1.0}
    _, _, a = s.post("/completion", body)
    cli = cli_json("generate", "--do-sample", "--temp", "1.0", "--top-k", "40", "--top-p", "0.95", "--min-p", "0.05",
                   "--sampler-order", "llama.cpp", "-s", "4", "-n", "12", PROMPT)["sequences"][0]
    check("/completion sampled (llama.cpp's defaults and order) == temper generate", a["content"] == cli["text"],
          (a["content"], cli["text"]))
    # post_sampling_probs: probabilities after the chain, best first, removed tokens left out
    _, _, p = s.post("/completion", dict(body, n_probs=5, post_sampling_probs=True))
    cp = p["completion_probabilities"]
    ok = all("prob" in c and "top_probs" in c and 0 < c["prob"] <= 1 and
             [t["prob"] for t in c["top_probs"]] == sorted((t["prob"] for t in c["top_probs"]), reverse=True) and
             all(t["prob"] > 0 for t in c["top_probs"]) and sum(t["prob"] for t in c["top_probs"]) <= 1 + 1e-6
             for c in cp)
    check("post_sampling_probs: prob and top_probs after the chain", ok and p["content"] == a["content"], cp[:2])
    # streaming: one event per token, the last with stop true, no [DONE]
    st, ev = s.stream("/completion", dict(body, stream=True))
    evs = [json.loads(e) for e in ev]
    check("/completion stream: last event stop true, the rest false",
          evs and evs[-1]["stop"] is True and all(e["stop"] is False for e in evs[:-1]) and "[DONE]" not in ev, ev[-2:])
    check("/completion stream: content == whole", "".join(e["content"] for e in evs) == a["content"])
    # stop words, several prompts, mixed prompt
    _, _, g = s.post("/completion", {"prompt": PROMPT, "n_predict": 20, "temperature": 0})
    _, _, w = s.post("/completion", {"prompt": PROMPT, "n_predict": 20, "temperature": 0, "stop": [" little"]})
    check("stop word: content before it, stop_type word, stopping_word",
          w["content"] == g["content"][:g["content"].find(" little")] and w["stop_type"] == "word" and
          w["stopping_word"] == " little", w)
    _, _, many = s.post("/completion", {"prompt": [PROMPT, "Lily went"], "n_predict": 4, "temperature": 0})
    check("a list of prompts: a list of results", isinstance(many, list) and len(many) == 2 and
          many[0]["content"] == g["content"][:len(many[0]["content"])] and [m["index"] for m in many] == [0, 1], many)
    _, _, mixed = s.post("/completion", {"prompt": [1, PROMPT], "n_predict": 20, "temperature": 0})
    check("mixed prompt [BOS id, text] == the text", mixed["content"] == g["content"], mixed)
    # /tokenize, /detokenize
    _, _, t = s.post("/tokenize", {"content": PROMPT})
    ids = cli_json("tokenize", PROMPT)["ids"]
    check("/tokenize (add_special false) == temper tokenize without BOS", t["tokens"] == ids[1:], (t, ids))
    _, _, t = s.post("/tokenize", {"content": PROMPT, "add_special": True, "with_pieces": True})
    check("/tokenize with_pieces", [x["id"] for x in t["tokens"]] == ids and t["tokens"][1]["piece"] == " Once", t)
    _, _, t = s.post("/tokenize", {"content": "\u00e1", "with_pieces": True})
    # (temper tokenizes as Hugging Face does: SentencePiece's " " prefix first)
    check("/tokenize: a piece that is not UTF-8 is its bytes (llama.cpp's stories260k example)",
          t["tokens"][-2:] == [{"id": 198, "piece": [195]}, {"id": 164, "piece": [161]}], t)
    _, _, d = s.post("/detokenize", {"tokens": ids[1:]})
    check("/detokenize", d == {"content": PROMPT}, d)
    long = cli_json("tokenize", "Lily went to the park. " * 120)["ids"]  # more than the 512 of the context
    st, _, d = s.post("/detokenize", {"tokens": long})
    _, _, want = s.post("/temper/detokenize", {"ids": long})
    check(f"/detokenize of {len(long)} tokens (more than the context: detokenizing needs none)",
          len(long) > 512 and st == 200 and d == {"content": want["text"]}, (st, str(d)[:200]))
    # /props, /slots, /metrics
    _, _, pr = s.get("/props")
    check("/props", pr["total_slots"] == 6 and pr["default_generation_settings"]["n_ctx"] == 512 and
          abs(pr["default_generation_settings"]["params"]["temperature"] - 0.8) < 1e-6 and "build_info" in pr, pr)
    _, _, sl = s.get("/slots")
    check("/slots: one per slot, idle", len(sl) == 6 and all(x["is_processing"] is False for x in sl) and
          [x["id"] for x in sl] == list(range(6)), sl)
    st, hd, m = s.get("/metrics")
    lines = [l for l in m.splitlines() if l and not l.startswith("#")]
    vals = {l.split()[0]: float(l.split()[1]) for l in lines}
    check("/metrics: Prometheus text", st == 200 and hd.get("Content-Type", "").startswith("text/plain") and
          all(len(l.split()) == 2 for l in lines), m[:500])
    check("/metrics: counters", vals.get("llamacpp:prompt_tokens_total", 0) > 0 and
          vals.get("llamacpp:tokens_predicted_total", 0) > 0 and vals.get("llamacpp:requests_deferred") == 0 and
          vals.get("temper_http_requests_total", 0) > 10, vals)
    # errors
    for name, body, param in [("mirostat", {"prompt": "x", "mirostat": 2}, "mirostat"),
                              ("grammar", {"prompt": "x", "grammar": "root ::= x"}, "grammar"),
                              ("n_predict -2", {"prompt": "x", "n_predict": -2}, "n_predict"),
                              ("unknown sampler", {"prompt": "x", "samplers": ["top_k", "bogus"]}, "samplers"),
                              ("logit_bias pair", {"prompt": "x", "logit_bias": [[1]]}, "logit_bias"),
                              ("no prompt", {"n_predict": 2}, "prompt")]:
        st, _, r = s.post("/completion", body)
        check(f"/completion error: {name} -> 400 naming {param}", st == 400 and r["error"]["param"] == param, r)
    st, _, r = s.post("/tokenize", {"text": "x"})
    check("/tokenize without content: 400", st == 400 and r["error"]["param"] == "content", r)
    st, _, r = s.post("/detokenize", {"tokens": [1, 99999]})
    check("/detokenize id outside the vocabulary: 400", st == 400 and r["error"]["param"] == "tokens", r)


def test_prefix_reuse(s):
    """cache_prompt: a second request with the same long start evaluates only
    the rest; its result equals the uncached one (up to float rounding)."""
    system = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
              "One day, she saw a big red ball. ") * 4
    base = {"n_predict": 12, "temperature": 0, "n_probs": 1}
    _, _, first = s.post("/completion", dict(base, prompt=system + "Lily said", cache_prompt=True))
    _, _, again = s.post("/completion", dict(base, prompt=system + "Tom said", cache_prompt=True))
    _, _, plain = s.post("/completion", dict(base, prompt=system + "Tom said", cache_prompt=False))
    n_sys = len(cli_json("tokenize", system)["ids"])
    check("cache_prompt: the shared start comes from the slot (tokens_cached, cache_n)",
          again["tokens_cached"] >= n_sys - 2 and again["timings"]["cache_n"] == again["tokens_cached"] and
          plain["tokens_cached"] == 0, (again["tokens_cached"], n_sys, plain["tokens_cached"]))
    check("cache_prompt: same text as without the cache", again["content"] == plain["content"],
          (again["content"], plain["content"]))
    lp_a = [c["logprob"] for c in again["completion_probabilities"]]
    lp_p = [c["logprob"] for c in plain["completion_probabilities"]]
    check("cache_prompt: log-probs within 1e-4 of the uncached ones",
          len(lp_a) == len(lp_p) and all(abs(x - y) <= 1e-4 for x, y in zip(lp_a, lp_p)), (lp_a, lp_p))
    # OpenAI's endpoint takes it too (off by default)
    _, _, o = s.post("/v1/completions", {"prompt": system + "Tom said", "max_tokens": 12, "temperature": 0,
                                         "cache_prompt": True})
    check("/v1/completions cache_prompt: same text", o["choices"][0]["text"] == plain["content"], o)


def test_maximum_of_everything(s):
    """A request at every limit at once: the server answers it and keeps
    answering /health meanwhile."""
    body = {"prompt": PROMPT, "n": 64, "max_tokens": 120, "logprobs": 20, "echo": True, "ignore_eos": True,
            "stop": ["zz%d" % i for i in range(16)], "logit_bias": {str(i): 0.5 for i in range(512)},
            "temperature": 1.0, "seed": 3}
    out = [None]
    th = threading.Thread(target=one_request, args=(s, body, out, 0))
    t0 = time.time()
    th.start()
    waits = []
    while th.is_alive() and len(waits) < 50:
        t1 = time.time()
        st, _, _ = s.get("/health", timeout=10)
        waits.append((st, time.time() - t1))
        time.sleep(0.05)
    th.join(300)
    st, r = out[0]
    check("maximum of everything: 200, 64 choices of 120 tokens with 20 alternatives (%.1fs)" % (time.time() - t0),
          st == 200 and len(r["choices"]) == 64 and r["usage"]["completion_tokens"] == 64 * 120 and
          all(len(c["logprobs"]["top_logprobs"][-1]) >= 20 for c in r["choices"]), (st, str(r)[:300]))
    check("/health answers during it (%d checks, slowest %.3fs)" % (len(waits), max(w for _, w in waits) if waits else 0),
          waits and all(st == 200 and w < 2 for st, w in waits), waits[:5])


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_limits():
    """--timeout, --rate, and connections that send slowly, too much or nothing."""
    import harness as h
    slow = h.cached_model("server-slow", ["--arch", "gpt2", "--n-layer", "4", "--n-head", "4",
                                          "--n-embd", "256", "--n-ctx", "4096"])
    s = Server("-m", slow, "--timeout", "1", "--rate", "20", "--idle-timeout", "2", "-t", "1")
    try:
        t0 = time.time()
        st, _, r = s.post("/v1/completions", {"prompt": "Hello", "max_tokens": 4000, "ignore_eos": True})
        took = time.time() - t0
        n = r["usage"]["completion_tokens"] if st == 200 else -1
        check("--timeout 1: the request ends in time, cut like max_tokens (%.1fs, %d tokens)" % (took, n),
              st == 200 and r["choices"][0]["finish_reason"] == "length" and 0 < n < 4000 and took < 10, r)
        rss0 = rss_kb(s.proc.pid)
        # idle connections, slow drippers, oversized headers
        idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(200)]
        drip = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        for d in drip:
            d.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
        big = raw_exchange(s, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
        check("oversized headers: refused with a 4xx", big[:12] in (b"HTTP/1.1 413", b"HTTP/1.1 431", b"HTTP/1.1 400")
              or big == b"", big[:100])
        t1 = time.time()
        st, _, _ = s.get("/health", timeout=5)
        check("220 idle and slow connections: /health still answers (%.2fs)" % (time.time() - t1),
              st == 200 and time.time() - t1 < 2)
        for k in range(6):  # drip slower than the idle timeout lets through
            for d in drip:
                try:
                    d.sendall(b"X")
                except OSError:
                    pass
            time.sleep(0.6)
        closed = 0
        for c in idle:
            c.settimeout(5)
            try:
                closed += c.recv(10) == b""
            except OSError:
                closed += 1
            c.close()
        for d in drip:
            d.close()
        check("idle connections are closed after --idle-timeout", closed == len(idle), closed)
        check("memory bounded under the connections (+%d kB)" % (rss_kb(s.proc.pid) - rss0),
              rss_kb(s.proc.pid) - rss0 < 64 * 1024)
        # --rate 20: a burst of 20, then 429 with Retry-After (/health is not counted)
        codes = [s.post("/tokenize", {"content": "a"})[0] for _ in range(20)]
        st, hd, r = s.post("/tokenize", {"content": "a"})
        check("--rate: 429 with Retry-After past the burst", st == 429 and "Retry-After" in hd and
              r["error"]["code"] == "rate_limit_exceeded", (codes, st, r))
        st, _, _ = s.get("/health")
        check("--rate: /health is not limited", st == 200)
    finally:
        rc = s.stop()
    check("limits server: SIGTERM exit 0", rc == 0, s.stderr()[-2000:])


def test_waiting_longer_than_idle():
    """Requests that wait longer than --idle-timeout for their first byte (a
    busy slot) are not closed as idle: a stream gets keep-alive comments."""
    import harness as h
    slow = h.cached_model("server-slow", ["--arch", "gpt2", "--n-layer", "4", "--n-head", "4",
                                          "--n-embd", "256", "--n-ctx", "4096"])
    s = Server("-m", slow, "--parallel", "1", "--idle-timeout", "1", "-t", "1")
    try:
        t0 = time.time()
        s.post("/v1/completions", {"prompt": "Hi", "max_tokens": 40, "ignore_eos": True})
        n_busy = int(min(3000, max(60, 3 / ((time.time() - t0) / 40))))  # about 3 s of work
        busy = [None]
        th = threading.Thread(target=one_request, args=(s, {"prompt": "Hi", "max_tokens": n_busy,
                                                            "ignore_eos": True}, busy, 0))
        th.start()
        time.sleep(0.3)
        t1 = time.time()
        st, events = s.stream("/v1/completions", {"prompt": "Hi", "max_tokens": 4, "stream": True,
                                                  "ignore_eos": True})
        waited = time.time() - t1
        th.join(60)
        check("a stream waiting %.1fs for the slot (--idle-timeout 1) gets its tokens and [DONE]" % waited,
              st == 200 and waited > 1.5 and events[-1] == "[DONE]" and len(events) == 5, (st, events[-2:]))
        check("the request holding the slot %.1fs (--idle-timeout 1) gets its reply" % (time.time() - t1),
              busy[0] and busy[0][0] == 200, str(busy)[:300])
    finally:
        rc = s.stop()
    check("idle-timeout server: SIGTERM exit 0", rc == 0, s.stderr()[-2000:])


def test_temper_endpoints(s):
    """temper's own endpoints answer with the documents of the commands'
    --json, written by the same library writer: equal to the CLI's."""
    def same_doc(name, path, body, cli_args, method="POST"):
        st, _, got = s.request(method, path, body)
        r = subprocess.run([TEMPER, *cli_args, "-q", "--json", "-m", STORIES], capture_output=True, text=True,
                           timeout=120)
        want = json.loads(r.stdout) if r.returncode == 0 else r.stderr
        for d in (got, want):  # timings differ from run to run
            if isinstance(d, dict):
                d.pop("load_seconds", None)
        check(f"{path} == `temper {' '.join(cli_args)} --json`: {name}", st == 200 and got == want,
              (st, str(got)[:400], str(want)[:400]))
    same_doc("info", "/temper/info", None, ["info"], method="GET")
    same_doc("text", "/temper/tokenize", {"text": "Lily went to the park. á"}, ["tokenize", "Lily went to the park. á"])
    same_doc("ids", "/temper/detokenize", {"ids": [1, 403, 407, 261, 378]},
             ["detokenize", "1", "403", "407", "261", "378"])
    same_doc("two texts", "/temper/score", {"texts": [PROMPT, "Lily went to the park"]},
             ["score", PROMPT, "Lily went to the park"])
    same_doc("pairs, bos, alpha, temperature", "/temper/score",
             {"texts": ["Lily went to the park", "Lily went to the moon"], "pairs": True, "bos": True,
              "alpha": 3, "temperature": 0.7},
             ["score", "--pairs", "--bos", "--alpha", "3", "--temp", "0.7", "Lily went to the park",
              "Lily went to the moon"])
    st, _, r = s.post("/temper/score", {"texts": [[403]]})
    check("/temper/score: one token -> 400 naming texts", st == 400 and r["error"]["param"] == "texts", r)
    st, _, r = s.post("/temper/score", {"texts": ["a", "b", "c"], "pairs": True})
    check("/temper/score: odd pairs -> 400", st == 400 and r["error"]["param"] == "texts", r)
    st, _, r = s.post("/temper/tokenize", {"txt": "a"})
    check("/temper/tokenize without text -> 400", st == 400 and r["error"]["param"] == "text", r)
    same_doc("probs", "/temper/probs", {"prompt": PROMPT, "top": 5}, ["probs", "--top", "5", PROMPT])
    same_doc("probs with controls", "/temper/probs",
             {"prompt": PROMPT, "top": 8, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.3},
             ["probs", "--top", "8", "--temp", "0.7", "--top-p", "0.9", "--repetition-penalty", "1.3", PROMPT])
    same_doc("probs of ids", "/temper/probs", {"prompt": [1, 403, 407], "top": 3},
             ["probs", "--top", "3", "--prompt-ids", "1,403,407"])
    st, _, r = s.post("/temper/probs", {"prompt": PROMPT, "top_p": 2})
    check("/temper/probs: top_p 2 -> 400 naming top_p", st == 400 and r["error"]["param"] == "top_p", r)


def test_temper_generate(s):
    """/temper/generate answers with `temper generate --json`'s document
    (greedy, sampled, beams, a temperature sweep, stop strings, ids); its
    stream has one event per token whose pieces and token objects are
    those of the final document, which is the CLI's too."""
    def cli_doc(args):
        r = subprocess.run([TEMPER, "generate", *args, "-q", "--json", "-m", STORIES], capture_output=True,
                           text=True, timeout=120)
        d = json.loads(r.stdout) if r.returncode == 0 else r.stderr
        if isinstance(d, dict):
            d.pop("timings")  # the server's own times and counts
        return d
    P = "Once upon a time"
    cases = [
        ("greedy", {"prompt": P, "seed": 5, "n_probs": 3}, ["-s", "5", "--n-probs", "3", P]),
        ("sampling x3", {"prompt": P, "temperature": 0.8, "top_k": 20, "seed": 7, "num_return_sequences": 3,
                         "n_probs": 2, "max_new_tokens": 12},
         ["--temp", "0.8", "--top-k", "20", "-s", "7", "--num-return-sequences", "3", "--n-probs", "2", "-n", "12", P]),
        ("beams", {"prompt": P, "num_beams": 3, "num_return_sequences": 2, "length_penalty": 0.8, "seed": 1,
                   "max_new_tokens": 8, "n_probs": 1},
         ["--num-beams", "3", "--num-return-sequences", "2", "--length-penalty", "0.8", "-s", "1", "-n", "8",
          "--n-probs", "1", P]),
        ("temperature sweep", {"prompt": P, "temperatures": [1.0, 0.5, 0], "num_return_sequences": 3, "seed": 11},
         ["--temps", "1.0,0.5,0", "--num-return-sequences", "3", "-s", "11", P]),
        ("ids, stop, penalties", {"prompt": [1, 403, 407], "stop": ["park"], "repetition_penalty": 1.3,
                                  "min_p": 0.05, "seed": 3, "max_new_tokens": 30},
         ["--prompt-ids", "1,403,407", "--stop", "park", "--repetition-penalty", "1.3", "--min-p", "0.05", "-s",
          "3", "-n", "30"]),
    ]
    for name, body, args in cases:
        st, _, got = s.post("/temper/generate", body)
        if isinstance(got, dict):
            got.pop("timings", None)
        want = cli_doc(args)
        check(f"/temper/generate == `temper generate --json`: {name}", st == 200 and got == want,
              (st, str(got)[:300], str(want)[:300]))
    for name, body, args in [
        ("sampling x2", {"prompt": P, "temperature": 0.9, "seed": 21, "num_return_sequences": 2, "n_probs": 3,
                         "max_new_tokens": 10, "stream": True},
         ["--temp", "0.9", "-s", "21", "--num-return-sequences", "2", "--n-probs", "3", "-n", "10", P]),
        ("sweep", {"prompt": P, "temperatures": [0.7, 0], "seed": 2, "num_return_sequences": 2, "n_probs": 1,
                   "max_new_tokens": 6, "stream": True},
         ["--temps", "0.7,0", "-s", "2", "--num-return-sequences", "2", "--n-probs", "1", "-n", "6", P])]:
        st, events = s.stream("/temper/generate", body)
        parsed = [json.loads(e) for e in events[:-1]]
        doc = parsed[-1] if parsed else {}
        doc.pop("timings", None)
        check(f"/temper/generate stream ({name}): the last event is the CLI's document, then [DONE]",
              st == 200 and events[-1] == "[DONE]" and doc == cli_doc(args), (st, events[-2:]))
        runs = doc.get("temperatures") or [{"temperature": None, "sequences": doc.get("sequences", [])}]
        ok, n_tokens = True, 0
        for run in runs:
            for i, seq in enumerate(run["sequences"]):
                mine = [e for e in parsed[:-1] if e["sequence"] == i and e.get("temperature") == run["temperature"]]
                n_tokens += len(mine)
                ok &= [e["token"] for e in mine] == seq["logprobs"]
                ok &= "".join(e["piece"] for e in mine) == seq["text"]
                ok &= [e["index"] for e in mine] == list(range(len(mine)))
                ok &= mine[-1]["finish_reason"] == seq["finish_reason"] and \
                    all(e["finish_reason"] is None for e in mine[:-1])
        check(f"/temper/generate stream ({name}): one event per token with its raw and processed "
              "alternatives, as in the document", ok and n_tokens == len(parsed) - 1 and n_tokens > 0,
              events[:3])
    for body, param in [({"prompt": P, "num_beams": 2, "stream": True}, "stream"),
                        ({"prompt": P, "temperature": -1}, "temperature"),
                        ({"prompt": P, "temperatures": [0.5], "temperature": 0.7}, "temperature"),
                        ({"prompt": P, "temperatures": [0.5, -2]}, "temperatures"),
                        ({"prompt": P, "num_beams": 2, "top_p": 0.9}, "top_p"),
                        ({"prompt": P, "n_probs": 65}, "n_probs"),
                        ({"prompt": P, "max_new_tokens": 100000}, "max_new_tokens"),
                        ({"prompt": P, "beams": 2}, "beams"),
                        ({"prompt": [1, 99999]}, "prompt"),
                        ({"max_new_tokens": 3}, "prompt")]:
        st, _, r = s.post("/temper/generate", body)
        check(f"/temper/generate {json.dumps(body)} -> 400 naming {param}",
              st == 400 and r["error"]["param"] == param, (st, r))


def test_temper_analyses(s):
    """/temper/softmax, perplexity, attention, hidden, trace and power answer with
    their commands' --json documents (times left out); bad fields are 400s
    naming the field."""
    def strip(d):
        if isinstance(d, dict):
            d.pop("load_seconds", None)
            for q in d.get("sequences", []):  # power sampling's wall times
                q.get("power", {}).pop("seconds", None)
        return d
    P = "Once upon a time"
    for path, body, args in [
            ("perplexity", {"texts": [P, "Lily went to the park"]}, [P, "Lily went to the park"]),
            ("perplexity", {"texts": ["Lily went to the park and she saw a big tree"], "max_length": 6, "stride": 3,
                            "bos": True},
             ["--max-length", "6", "--stride", "3", "--bos", "Lily went to the park and she saw a big tree"]),
            ("attention", {"prompt": P}, [P]),
            ("attention", {"prompt": P, "layer": -1, "head": 2}, ["--layer", "-1", "--head", "2", P]),
            ("hidden", {"prompt": P}, [P]),
            ("hidden", {"prompt": [1, 403, 407, 261], "layer": 2, "pca": True},
             ["--layer", "2", "--pca", "--prompt-ids", "1,403,407,261"]),
            ("hidden", {"prompt": "Lily went to the park and she saw a big tree", "project": "tsne", "perplexity": 3,
                        "n_iter": 300, "layer": 2},
             ["--project", "tsne", "--perplexity", "3", "--n-iter", "300", "--layer", "2",
              "Lily went to the park and she saw a big tree"]),
            ("hidden", {"prompt": "Lily went to the park and she saw a big tree", "project": "umap", "n_neighbors": 4,
                        "seed": 5},
             ["--project", "umap", "--n-neighbors", "4", "--seed", "5", "Lily went to the park and she saw a big tree"]),
            ("trace", {"prompt": P, "seed": 3}, ["-s", "3", P]),
            ("trace", {"prompt": P, "seed": 3, "temperature": 0.8, "top_k": 10, "max_new_tokens": 7},
             ["-s", "3", "--temp", "0.8", "--top-k", "10", "-n", "7", P]),
            ("perplexity", {"texts": ["Lily went to the park. " * 60], "max_length": 64, "stride": 48},
             ["--max-length", "64", "--stride", "48", "Lily went to the park. " * 60]),  # longer than the context
            ("power", {"prompt": P, "alpha": 4, "seed": 2, "max_new_tokens": 8}, ["--power", "4", "-s", "2", "-n", "8", P]),
            ("power", {"prompt": P, "alpha": 2, "method": "smc", "particles": 4, "seed": 2, "max_new_tokens": 6,
                       "num_return_sequences": 2},
             ["--power", "2", "--power-method", "smc", "--particles", "4", "-s", "2", "-n", "6",
              "--num-return-sequences", "2", P])]:
        st, _, got = s.post("/temper/" + path, body)
        cmd = "generate" if path == "power" else path
        r = subprocess.run([TEMPER, cmd, *args, "-q", "--json", "-m", STORIES], capture_output=True, text=True,
                           timeout=120)
        want = json.loads(r.stdout) if r.returncode == 0 else r.stderr
        check(f"/temper/{path} {json.dumps(body)[:120]} == `temper {cmd} --json`",
              st == 200 and strip(got) == strip(want),
              (st, str(got)[:300], str(want)[:300]))
    for body, args in [
            ({"logits": [1.1, 0.5, 0.85, None], "tokens": ["a", "b", "c", "d"], "temperatures": [0.5, 1, 0],
              "top_p": 0.9, "sample": 50, "seed": 3},
             ["--logits=1.1,0.5,0.85,-inf", "--tokens", "a,b,c,d", "--temps", "0.5,1,0", "--top-p", "0.9",
              "--sample", "50", "-s", "3"]),
            ({"logits": [2, 1, "-inf", 0.5], "temperature": 0.7, "min_p": 0.2, "seed": 1},
             ["--logits=2,1,-inf,0.5", "--temp", "0.7", "--min-p", "0.2", "-s", "1"])]:
        st, _, got = s.post("/temper/softmax", body)
        r = subprocess.run([TEMPER, "softmax", *args, "--json"], capture_output=True, text=True, timeout=60)
        want = json.loads(r.stdout) if r.returncode == 0 else r.stderr
        check(f"/temper/softmax {json.dumps(body)} == `temper softmax --json`", st == 200 and got == want,
              (st, str(got)[:300], str(want)[:300]))
    for path, body, param in [
            ("softmax", {"logits": []}, "logits"),
            ("softmax", {"logits": [1, "x"]}, "logits"),
            ("softmax", {"logits": [1, 2], "tokens": ["a"]}, "tokens"),
            ("softmax", {"logits": [1, 2], "temperatures": [1, -1]}, "temperatures"),
            ("softmax", {"logits": [1, 2], "top_p": 1.5}, "top_p"),
            ("softmax", {"logits": [1, 2], "max_new_tokens": 3}, "max_new_tokens"),
            ("perplexity", {"texts": [P], "max_length": 4, "stride": 5}, "stride"),
            ("perplexity", {"texts": [[403]]}, "texts"),
            ("perplexity", {"texts": [P], "max_length": 100000}, "max_length"),
            ("attention", {"prompt": P, "layer": 99}, "layer"),
            ("attention", {"prompt": P, "layers": [2, 1]}, "layers"),
            ("attention", {"prompt": P, "head": "0"}, "head"),
            ("hidden", {"prompt": [403], "pca": True}, "pca"),
            ("hidden", {"prompt": P, "project": "lda"}, "project"),
            ("hidden", {"prompt": P, "perplexity": 3}, "perplexity"),
            ("hidden", {"prompt": P, "project": "tsne", "n_neighbors": 3}, "n_neighbors"),
            ("hidden", {}, "prompt"),
            ("trace", {"prompt": P, "top_p": 2}, "top_p"),
            ("trace", {"prompt": P, "max_new_tokens": 100000}, "max_new_tokens"),
            ("power", {"prompt": P, "method": "gibbs"}, "method"),
            ("power", {"prompt": P, "particles": 4}, "particles"),
            ("power", {"prompt": P, "alpha": 0}, "alpha"),
            ("power", {"prompt": P, "powr": 2}, "powr")]:
        st, _, r = s.post("/temper/" + path, body)
        check(f"/temper/{path} {json.dumps(body)} -> 400 naming {param}",
              st == 400 and r["error"]["param"] == param, (st, r))


def one_request(s, body, out, i):
    st, _, r = s.post("/v1/completions", body)
    out[i] = (st, r)


def test_concurrency(s):
    bodies = []
    prompts = [PROMPT, "Lily went to the", "The cat sat on the mat and", "Tom had a big red ball"]
    for i in range(16):
        b = {"prompt": prompts[i % 4], "max_tokens": 8 + 3 * i, "seed": 100 + i, "logprobs": 2,
             "temperature": [0, 0.5, 0.8, 1.0, 1.3][i % 5]}
        if i % 3 == 0:
            b["top_p"] = 0.9
        if i % 4 == 1:
            b["top_k"] = 20
        if i % 5 == 2:
            b["presence_penalty"] = 0.7
        if i % 6 == 3:
            b["n"] = 2
        if i % 7 == 4:
            b["stop"] = "."
        bodies.append(b)
    alone = [None] * 16
    for i, b in enumerate(bodies):
        one_request(s, b, alone, i)
    together = [None] * 16
    threads = [threading.Thread(target=one_request, args=(s, b, together, i)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    strip = lambda r: (r[0], r[1]["choices"] if r[0] == 200 else r[1])  # noqa: E731
    diff = [i for i in range(16) if strip(alone[i]) != strip(together[i])]
    check("16 concurrent clients == 16 sequential (text, tokens, log-probs)",
          not diff and all(a[0] == 200 for a in alone), [(alone[i], together[i]) for i in diff[:2]])


def raw_exchange(s, data, timeout=20):
    """Send bytes on a fresh connection; what comes back until it closes or
    a whole reply has arrived."""
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=timeout)
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server may answer and close before reading it all
    got = b""
    try:
        while True:
            part = sock.recv(65536)
            if not part:
                break
            got += part
            head, _, rest = got.partition(b"\r\n\r\n")
            length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if length and len(rest) >= length[0]:
                break
    except OSError:
        pass
    sock.close()
    return got


def test_errors(s):
    def bad(name, body, status, param, raw=None, path="/v1/completions", words=()):
        st, _, r = s.request("POST", path, body, raw=raw)
        err = r.get("error", {}) if isinstance(r, dict) else {}
        ok = (st == status and set(err) >= {"message", "type", "param", "code"} and err.get("param") == param
              and all(w in err.get("message", "") for w in words))
        check(f"error: {name} -> {status} naming {param}", ok, (st, r))

    bad("malformed JSON", None, 400, None, raw=b'{"prompt": "x",')
    bad("not an object", None, 400, None, raw=b'[1, 2]')
    bad("empty body", None, 400, None, raw=b'')
    bad("NaN literal", None, 400, None, raw=b'{"prompt": "x", "temperature": NaN}')
    bad("trailing text", None, 400, None, raw=b'{"prompt": "x"} {}')
    bad("max_tokens as a string", {"prompt": "x", "max_tokens": "5"}, 400, "max_tokens")
    bad("max_tokens negative", {"prompt": "x", "max_tokens": -1}, 400, "max_tokens", words=(">= 0",))
    bad("max_tokens huge", {"prompt": "x", "max_tokens": 1e300}, 400, "max_tokens")
    bad("temperature inf", None, 400, "temperature", raw=b'{"prompt": "x", "temperature": 1e999}')
    bad("temperature -1", {"prompt": "x", "temperature": -1}, 400, "temperature", words=(">= 0",))
    bad("top_p 1.5", {"prompt": "x", "top_p": 1.5}, 400, "top_p", words=("[0, 1]",))
    bad("top_k 2.5", {"prompt": "x", "top_k": 2.5}, 400, "top_k")
    bad("presence_penalty 3", {"prompt": "x", "presence_penalty": 3}, 400, "presence_penalty", words=("[-2, 2]",))
    bad("logprobs 21", {"prompt": "x", "logprobs": 21}, 400, "logprobs", words=("[0, 20]",))
    bad("n 0", {"prompt": "x", "n": 0}, 400, "n")
    bad("best_of < n", {"prompt": "x", "n": 3, "best_of": 2}, 400, "best_of")
    bad("best_of streamed", {"prompt": "x", "best_of": 2, "stream": True}, 400, "best_of")
    bad("echo not a bool", {"prompt": "x", "echo": "yes"}, 400, "echo")
    bad("stop not a string", {"prompt": "x", "stop": 5}, 400, "stop")
    bad("logit_bias bad id", {"prompt": "x", "logit_bias": {"99999": 1}}, 400, "logit_bias", words=("[0, 512)",))
    bad("logit_bias bad value", {"prompt": "x", "logit_bias": {"5": 1000}}, 400, "logit_bias")
    bad("id outside the vocabulary", {"prompt": [1, 5, 512]}, 400, "prompt", words=("[0, 512)",))
    bad("negative id", {"prompt": [[1, -3]]}, 400, "prompt")
    bad("prompt missing", {"max_tokens": 3}, 400, "prompt")
    bad("prompt empty list", {"prompt": []}, 400, "prompt")
    bad("prompt of a number", {"prompt": 5}, 400, "prompt")
    bad("prompt over the context", {"prompt": [1] * 600}, 400, "prompt", words=("512",))
    bad("prompt + max_tokens over the context", {"prompt": [1] * 500, "max_tokens": 100}, 400, "max_tokens")
    bad("unknown model", {"prompt": "x", "model": "gpt-4"}, 404, "model", words=("stories260K",))
    bad("unknown field", {"prompt": "x", "tempreature": 1}, 400, "tempreature")
    bad("stream_options without stream", {"prompt": "x", "stream_options": {"include_usage": True}}, 400,
        "stream_options")
    bad("lone surrogate escape", None, 400, None, raw=b'{"prompt": "a\\udc00b"}')
    bad("invalid UTF-8", None, 400, "prompt", raw=b'{"prompt": "a\xff\xfeb"}')
    bad("chat completions", {"messages": [{"role": "user", "content": "hi"}]}, 400, "messages",
        path="/v1/chat/completions")
    st, _, r = s.request("GET", "/v1/nothing")
    check("unknown path 404", st == 404 and "error" in r, r)
    st, _, r = s.request("GET", "/v1/completions")
    check("wrong method 405", st == 405 and "error" in r, r)
    # a body over the limit: refused from its Content-Length, before it is sent
    reply = raw_exchange(s, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2097152\r\n\r\n")
    check("Content-Length over the limit: 413", reply.startswith(b"HTTP/1.1 413") and
          b"request_too_large" in reply, reply[:300])
    # the same sent in chunks (no Content-Length): 413 once past the limit
    chunk = b'{"prompt": "' + b"a" * 300000
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [chunk, b"a" * 400000, b"a" * 400000, b'"}'])
    reply = raw_exchange(s, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n")
    check("chunked body over the limit: 413", reply.startswith(b"HTTP/1.1 413"), reply[:300])
    reply = raw_exchange(s, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"zz\r\nabc\r\n0\r\n\r\n")
    check("malformed chunked encoding: 400", reply.startswith(b"HTTP/1.1 400"), reply[:300])
    st, _, r = s.get("/health")
    check("still healthy after the errors", st == 200, r)


def test_disconnect_and_queue():
    """One slot; a client that goes away frees it within a step; a full queue is 503."""
    import harness as h
    slow = h.cached_model("server-slow", ["--arch", "gpt2", "--n-layer", "4", "--n-head", "4",
                                          "--n-embd", "256", "--n-ctx", "4096"])
    s = Server("-m", slow, "--parallel", "1", "--queue", "1", "-t", "1")
    try:
        long_body = {"prompt": "Hello", "max_tokens": 4000, "ignore_eos": True, "temperature": 1.0,
                     "stream": True, "seed": 1}
        t0 = time.time()
        _, _, r = s.post("/v1/completions", {"prompt": "Hello", "max_tokens": 40, "ignore_eos": True})
        per_token = (time.time() - t0) / 40
        # a streamed request: read one event, then close the socket
        sock = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps(long_body).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        got = sock.recv(4096)
        check("stream started", b"200" in got.split(b"\r\n")[0], got[:100])
        # the queue: the slot is busy, one waits, the next is refused
        waiting = [None]
        th = threading.Thread(target=one_request, args=(s, {"prompt": "Hi", "max_tokens": 2}, waiting, 0))
        th.start()
        # wait until it is queued (a fixed sleep raced with a slow, sanitized server: the next request
        # was queued instead and waited for the 4000-token stream)
        deadline, metrics = time.time() + 30, ""
        while time.time() < deadline and "llamacpp:requests_deferred 1" not in metrics:
            time.sleep(0.05)
            metrics = s.get("/metrics")[2]
        check("one request waits for the slot", "llamacpp:requests_deferred 1" in metrics and
              "llamacpp:requests_processing 1" in metrics, metrics)
        st, hd, r = s.post("/v1/completions", {"prompt": "Hi", "max_tokens": 2}, timeout=30)
        check("queue full: 503 with Retry-After", st == 503 and hd.get("Retry-After") == "1" and
              r["error"]["code"] == "queue_full", (st, hd, r))
        t1 = time.time()
        sock.close()
        th.join(60)
        waited = time.time() - t1
        # the 4000-token request would take 4000 x per_token; the waiting one
        # gets the slot as soon as the disconnect is seen (within a step)
        check("disconnect frees the slot (%.2fs, a token takes %.4fs)" % (waited, per_token),
              waiting[0] and waiting[0][0] == 200 and waited < min(5.0, 4000 * per_token / 4),
              (waiting, waited, per_token))
        # SIGTERM drains: the running request finishes, new connections are refused
        done = [None, 0.0]
        n_long = int(min(1500, max(60, 3 / per_token)))  # about 3 s of work, well within --drain 30

        def long_one():
            one_request(s, {"prompt": "Hi", "max_tokens": n_long, "ignore_eos": True}, done, 0)
            done[1] = time.time()
        th = threading.Thread(target=long_one)
        th.start()
        time.sleep(0.3)
        t_sig = time.time()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        th.join(60)
        check("SIGTERM: the running request finishes (drain), after the signal",
              done[0] and done[0][0] == 200 and done[0][1]["usage"]["completion_tokens"] == n_long and
              done[1] > t_sig, (done, t_sig))
        check("SIGTERM: new connections refused while draining", refused)
    finally:
        rc = s.stop()
    check("slow server: SIGTERM exit 0", rc == 0, s.stderr()[-2000:])


def test_key_cors_signals():
    s = Server("-m", STORIES, "--api-key", "sekret", "--cors", "http://example.org")
    try:
        st, _, r = s.post("/v1/completions", {"prompt": "x", "max_tokens": 1})
        check("no key: 401", st == 401 and r["error"]["type"] == "authentication_error", r)
        st, _, r = s.post("/v1/completions", {"prompt": "x", "max_tokens": 1},
                          headers={"Authorization": "Bearer wrong!"})
        check("wrong key: 401", st == 401, r)
        st, hd, r = s.post("/v1/completions", {"prompt": "x", "max_tokens": 1},
                           headers={"Authorization": "Bearer sekret"})
        check("key: 200 with the CORS header", st == 200 and
              hd.get("Access-Control-Allow-Origin") == "http://example.org", (st, hd))
        st, _, _ = s.get("/health")
        check("health needs no key", st == 200)
        st, hd, _ = s.request("OPTIONS", "/v1/completions")
        check("CORS preflight", st == 204 and "POST" in hd.get("Access-Control-Allow-Methods", ""), hd)
    finally:
        rc = s.stop(signal.SIGINT)
    check("SIGINT: exit 0", rc == 0, s.stderr()[-2000:])
    s = Server("-m", STORIES)
    st, hd, _ = s.get("/health")
    check("no --cors: no CORS header", "Access-Control-Allow-Origin" not in hd, hd)
    rc = s.stop()
    check("SIGTERM: exit 0", rc == 0, s.stderr()[-2000:])
    if SAN:
        check("no sanitizer report", "ERROR: " not in s.stderr() and "runtime error" not in s.stderr(),
              s.stderr()[-3000:])


def test_loading():
    """/health is 503 until the model is loaded (a missing model: the server exits 1)."""
    s = Server("-m", "/nonexistent/model", wait_ready=False)
    rc = s.proc.wait(30)
    check("a model that does not load: exit 1 with the reason", rc == 1 and "nonexistent" in s.proc.stderr.read())


def test_node_client(s):
    script = os.path.join(NPM, "openai_client.js")
    if not os.path.isdir(os.path.join(NPM, "node_modules", "openai")):
        harness.skip("OpenAI Node client", "tests/npm has no node_modules/openai (scripts/setup.sh)")
        return
    score = cli_json("score", PROMPT)["results"][0]
    r = subprocess.run(["node", script, "http://127.0.0.1:%d/v1" % s.port, PROMPT], capture_output=True,
                       text=True, timeout=120)
    check("node client ran", r.returncode == 0, r.stderr[-2000:])
    if r.returncode != 0:
        return
    out = json.loads(r.stdout)
    lp = out["echo"]["choices"][0]["logprobs"]["token_logprobs"]
    want = [t["logprob"] for t in score["logprobs"]]
    check("node: echo log-probs == temper score (1e-5)",
          lp[0] is None and all(abs(a - b) <= 1e-5 for a, b in zip(lp[1:], want[1:])), (lp, want))
    check("node: stream text == whole text (same seed)", out["streamed"] == out["whole"]["choices"][0]["text"],
          out)
    check("node: n=2 -> two choices", len(out["n2"]["choices"]) == 2, out["n2"])
    check("node: same seed twice", out["seed_a"] == out["seed_b"], out)
    check("node: error is an APIError 400 with param",
          out["error"]["status"] == 400 and out["error"]["param"] == "temperature", out["error"])
    check("node: models.list", out["models"] == ["stories260K"], out["models"])


def main():
    if not os.path.exists(TEMPER):
        return harness.missing(f"{TEMPER} is missing: run make")
    if TSAN:
        return main_tsan()
    test_loading()
    s = Server("-m", STORIES, "--parallel", "6", "--queue", "32")
    try:
        test_basics(s)
        test_greedy_and_sampled(s)
        test_echo(s)
        test_prompt_forms_n_best_of(s)
        test_stop_bias_penalties(s)
        test_stream(s)
        test_llamacpp(s)
        test_prefix_reuse(s)
        test_temper_endpoints(s)
        test_temper_generate(s)
        test_temper_analyses(s)
        test_maximum_of_everything(s)
        test_concurrency(s)
        test_errors(s)
        test_node_client(s)
    finally:
        rc = s.stop()
    check("SIGTERM after the load: exit 0", rc == 0, s.stderr()[-3000:])
    test_key_cors_signals()
    test_disconnect_and_queue()
    test_waiting_longer_than_idle()
    test_limits()
    return summary()


def main_tsan():
    """The short run under ThreadSanitizer (tests/run): the scheduler, the
    HTTP threads and the streams with concurrent clients, a disconnect and
    a full queue; ThreadSanitizer makes the server exit 66 on a race, so
    each stop checks its exit code and the log."""
    s = Server("-m", STORIES, "--parallel", "6", "--queue", "32")
    try:
        test_basics(s)
        test_stream(s)
        test_concurrency(s)
        st, events = s.stream("/temper/generate", {"prompt": PROMPT, "temperatures": [0.7, 0], "seed": 2,
                                                   "num_return_sequences": 2, "n_probs": 2, "max_new_tokens": 6,
                                                   "stream": True})
        check("tsan: /temper/generate streams", st == 200 and events[-1] == "[DONE]", events[-2:])
        st, _, _ = s.post("/temper/attention", {"prompt": PROMPT, "layer": 0})
        check("tsan: an analysis in a slot", st == 200)
    finally:
        rc = s.stop()
    check("tsan: SIGTERM after concurrent clients: exit 0, no race reported",
          rc == 0 and "ThreadSanitizer" not in s.stderr(), s.stderr()[-3000:])
    test_disconnect_and_queue()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
