#!/usr/bin/env python3
# san: yes
"""test_python.py - the Python binding (bindings/python/temper) against the
CLI's --json for the same inputs (ids, logits, probabilities, generated
tokens with the same seed, scores, perplexity, attention, PCA, power
sampling, softmax), the layout of every mirrored C struct, numpy shapes and
dtypes, errors for bad input (with the library's message, the model usable
afterwards), memory over 10,000 calls, two threads with two contexts
against one thread, deterministic freeing, and the documented install
command (a venv with the system's numpy, pip without network).
Against build-san the script runs itself again with the sanitizer
runtimes preloaded (Python is not built with them), without the memory
and install checks (ASan keeps freed memory in quarantine; the install is
the plain build's)."""
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import threading

import numpy as np

import harness
from harness import check, check_close, check_same, summary, BUILD, ROOT, TEMPER, PY

SAN = "san" in harness.BUILD_NAME


temper = harness.import_temper()  # under build-san: runs again with the sanitizers preloaded
from temper import _lib  # noqa: E402

STORIES = os.path.join(ROOT, "models", "stories260K")


def cli(*args):
    quiet = [] if args[0] == "softmax" else ["-q"]
    r = subprocess.run([TEMPER, *args, "--json", *quiet], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"temper {' '.join(args)}: {r.stderr}")
    return json.loads(r.stdout)


def test_layout():
    """Each ctypes struct has its C twin's size and field offsets."""
    src = ["#include <stddef.h>", "#include <stdio.h>", '#include "temper.h"', "int main(void) {"]
    want = []
    for cname, st in _lib.STRUCTS.items():
        src.append(f'printf("%zu\\n", sizeof({cname}));')
        want.append((f"sizeof {cname}", ctypes_sizeof(st)))
        for f in st._fields_:
            name = f[0].rstrip("_")
            src.append(f'printf("%zu\\n", offsetof({cname}, {name}));')
            want.append((f"{cname}.{name}", getattr(st, f[0]).offset))
    src.append("return 0; }")
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "layout.c")
        open(c, "w").write("\n".join(src))
        exe = os.path.join(tmp, "layout")
        r = subprocess.run(["cc", "-std=c11", "-I" + os.path.join(ROOT, "include"), c, "-o", exe],
                           capture_output=True, text=True)
        if not check("layout program compiles (every mirrored field exists in C)", r.returncode == 0,
                     r.stderr[:2000]):
            return
        got = [int(x) for x in subprocess.run([exe], capture_output=True, text=True).stdout.split()]
    bad = [(n, g, w) for (n, w), g in zip(want, got) if g != w]
    check("every struct size and offset equals C's", len(got) == len(want) and not bad, bad[:10])


def ctypes_sizeof(t):
    import ctypes
    return ctypes.sizeof(t)


def test_tokens(m):
    j = cli("tokenize", "-m", STORIES, "Lily went to the park")
    check_same("tokenize == CLI ids", m.tokenize("Lily went to the park"), j["ids"])
    toks = m.tokens("Lily went to the park")
    check_same("tokens: byte offsets == CLI", [[t["byte_start"], t["byte_end"]] for t in toks],
               j["offsets"])
    check_same("tokens: pieces == CLI", [t["piece"] for t in toks], j["tokens"])
    check("detokenize", m.detokenize(j["ids"], skip_special_tokens=True) == "Lily went to the park",
          m.detokenize(j["ids"]))
    check("tokenize without special tokens", m.tokenize("Lily", add_special_tokens=False) == [317],
          m.tokenize("Lily", add_special_tokens=False))


def test_gpt2_tokens(m):
    """Character offsets on a byte-level BPE model with multi-byte text."""
    text = "Héllo wörld, les modèles"
    j = cli("tokenize", "-m", m.name, text)
    toks = m.tokens(text)
    check_same("gpt2 tokenize == CLI", [t["id"] for t in toks], j["ids"])
    check_same("gpt2 byte offsets == CLI", [[t["byte_start"], t["byte_end"]] for t in toks],
               j["offsets"])
    b = text.encode()
    ok = all(text[t["start"]:t["end"]] == b[t["byte_start"]:t["byte_end"]].decode("utf-8", "replace")
             for t in toks)
    check("character offsets cover the same text as the byte offsets", ok, toks)


def test_next_token(m):
    j = cli("probs", "-m", STORIES, "--top", "5", "Lily went to the")
    t = m.next_token("Lily went to the", top=5)
    check_same("next_token ids == CLI", [r["id"] for r in t], [c["id"] for c in j["candidates"]])
    check_close("next_token logits == CLI (1e-6)", [r["logit"] for r in t],
                [c["logit"] for c in j["candidates"]], atol=1e-6)
    check_close("next_token probs == CLI (1e-9)", [r["prob"] for r in t],
                [c["prob"] for c in j["candidates"]], atol=1e-9)
    check_close("next_token entropy == CLI", [t.entropy], [j["entropy"]], atol=1e-9)
    full = m.logits("Lily went to the")
    check("logits shape (n, V) float32", full.shape == (len(j["prompt_ids"]), 512) and
          full.dtype == np.float32, (full.shape, full.dtype))
    check_close("logits last row == CLI's candidates (1e-6)", full[-1][[c["id"] for c in j["candidates"]]],
                [c["logit"] for c in j["candidates"]], atol=1e-6)
    # with decoding stages: the CLI's processed column
    j2 = cli("probs", "-m", STORIES, "--top", "5", "--temp", "1.5", "--top-k", "3", "Lily went to the")
    t2 = m.next_token("Lily went to the", top=5, temperature=1.5, top_k=3)
    want = [c.get("prob_processed") for c in j2["candidates"]]
    if check("CLI prints processed probabilities", all(w is not None for w in want), j2["candidates"][0]):
        check_close("next_token processed == CLI", [r["prob_processed"] for r in t2], want, atol=1e-7)
    check("stages named", t2.stages == "temperature,top_k", t2.stages)


def test_generate(m):
    for args, kw in (
            (["-n", "12", "-s", "7", "--temp", "0.8", "--top-p", "0.9", "--n-probs", "3"],
             dict(max_new_tokens=12, seed=7, temperature=0.8, top_p=0.9, n_probs=3)),
            (["-n", "8", "--n-probs", "2"], dict(max_new_tokens=8, n_probs=2, do_sample=False)),
            (["-n", "6", "--num-beams", "3", "--num-return-sequences", "2"],
             dict(max_new_tokens=6, num_beams=3, num_return_sequences=2)),
            (["-n", "10", "-s", "3", "--temp", "1.2", "--num-return-sequences", "3",
              "--repeat-penalty", "1.3", "--no-repeat-ngram-size", "2"],
             dict(max_new_tokens=10, seed=3, temperature=1.2, num_return_sequences=3,
                  repetition_penalty=1.3, no_repeat_ngram_size=2))):
        j = cli("generate", "-m", STORIES, *args, "Lily went to the")
        g = m.generate("Lily went to the", **kw)
        name = "generate " + " ".join(args)
        check(name + ": as many sequences", len(g) == len(j["sequences"]), (len(g), len(j["sequences"])))
        for s, js in zip(g, j["sequences"]):
            check_same(name + ": ids == CLI", s.ids, js["ids"])
            check(name + ": text and finish reason == CLI",
                  (s.text, s.finish_reason) == (js["text"], js["finish_reason"]),
                  ((s.text, s.finish_reason), (js["text"], js["finish_reason"])))
            check_close(name + ": logprobs == CLI", [t.logprob for t in s.tokens],
                        [t["logprob"] for t in js["logprobs"]], atol=1e-6)
            check_close(name + ": processed logprobs == CLI", [t.logprob_processed for t in s.tokens],
                        [t["logprob_processed"] for t in js["logprobs"]], atol=1e-6)
            if kw.get("n_probs"):
                check_same(name + ": alternatives == CLI",
                           [[a["id"] for a in t.top] for t in s.tokens],
                           [[a["id"] for a in t["top"]] for t in js["logprobs"]])
            if js.get("score") is not None:
                check_close(name + ": beam score == CLI", [s.score], [js["score"]], atol=1e-6)
    # streaming gives the tokens and the text of generate()
    kw = dict(max_new_tokens=15, seed=11, temperature=0.9)
    g = m.generate("Once upon a time", **kw)
    got = list(m.stream("Once upon a time", **kw))
    check_same("stream ids == generate", [t.id for t in got], g[0].ids)
    check("stream pieces join into the text", "".join(t.piece for t in got) == g[0].text,
          ("".join(t.piece for t in got), g[0].text))
    check("stream: the last token has the finish reason", got[-1].finish_reason == g[0].finish_reason
          and all(t.finish_reason is None for t in got[:-1]), [t.finish_reason for t in got])
    # a stop string and an EOS list
    j = cli("generate", "-m", STORIES, "-n", "30", "--stop", "park", "Lily went to the")
    g = m.generate("Lily went to the", max_new_tokens=30, stop="park", do_sample=False)
    check("stop string == CLI", (g[0].ids, g[0].finish_reason) == (j["sequences"][0]["ids"],
                                                                   j["sequences"][0]["finish_reason"]),
          (g[0].ids, j["sequences"][0]["ids"]))
    j = cli("generate", "-m", STORIES, "-n", "8", "-s", "9007199254740993", "--temp", "0.9", "Lily went")
    g = m.generate("Lily went", max_new_tokens=8, seed=9007199254740993, temperature=0.9)
    check_same("a seed above 2^53 is kept exact (== CLI)", g[0].ids, j["sequences"][0]["ids"])
    check("settings carry the exact seed", g.settings["seed"] == 9007199254740993, g.settings["seed"])
    sw = m.temperature_sweep("Lily went", temperatures=(1.0, 0.5), seed=5, max_new_tokens=6)
    j = cli("generate", "-m", STORIES, "-n", "6", "-s", "5", "--temp", "0.5", "Lily went")
    check_same("temperature_sweep(0.5) == CLI --temp 0.5", sw[0.5][0].ids, j["sequences"][0]["ids"])


def test_scores(m):
    j = cli("score", "-m", STORIES, "--pairs", "Lily went to the park", "Lily went to the moon")
    p = m.score_pairs([("Lily went to the park", "Lily went to the moon")])
    ra, rb = j["results"]
    check_close("score_pairs == CLI --pairs",
                [p[0].a.log_prob, p[0].b.log_prob, p[0].a.power_score, p[0].b.temp_score],
                [ra["log_prob"], rb["log_prob"], ra["power_score"], rb["temp_score"]], rtol=1e-12)
    sa = m.score("Lily went to the park")
    j = cli("score", "-m", STORIES, "Lily went to the park")
    r = j["results"][0]
    check_close("score == CLI", [sa.log_prob, sa.power_score, sa.temp_score, sa.perplexity],
                [r["log_prob"], r["power_score"], r["temp_score"], r["perplexity"]], rtol=1e-12)
    check_close("score per token == CLI", sa.logprobs[1:], [t["logprob"] for t in r["logprobs"][1:]],
                atol=1e-12)
    check("score_pairs gaps", math.isclose(p[0].gap_log_prob, p[0].a.log_prob - p[0].b.log_prob) and
          math.isclose(p[0].a.log_prob, sa.log_prob), p)
    j = cli("score", "-m", STORIES, "--alpha", "3", "--temperature", "0.25", "--bos", "Lily went")
    s = m.score("Lily went", alpha=3, temperature=0.25, bos=True)
    r = j["results"][0]
    check_close("score alpha/T/bos == CLI", [s.power_score, s.temp_score, s.n_tokens],
                [r["power_score"], r["temp_score"], r["n_tokens"]], rtol=1e-12)
    text = "Lily went to the park and saw a dog. The dog was happy and ran to her."
    j = cli("perplexity", "-m", STORIES, "--max-length", "8", "--stride", "4", text)
    pp = m.perplexity(text, max_length=8, stride=4)
    r = j["results"][0]
    check_close("perplexity == CLI", [pp.perplexity, pp.nll, pp.token_perplexity, pp.n_windows],
                [r["perplexity"], r["nll"], r["token_perplexity"], r["n_windows"]], rtol=1e-12)
    check_same("perplexity windows == CLI", [(w["begin"], w["end"]) for w in pp.windows],
               [(w["begin"], w["end"]) for w in r["windows"]])


def test_inside(m):
    j = cli("attention", "-m", STORIES, "The cat sat")
    a = m.attention("The cat sat")
    n = len(j["ids"])
    check("attention shape (L, H, n, n) float32", a.shape == (5, 8, n, n) and a.dtype == np.float32,
          (a.shape, a.dtype))
    want = np.array([[h["weights"] for h in l["heads"]] for l in j["layers"]], dtype=np.float64)
    check_close("attention == CLI (1e-6)", a, want, atol=1e-6)
    check_same("attention tokens == CLI", a.tokens, j["token_texts"])
    a2 = m.attention("The cat sat", layers=[1, 3])
    check_close("attention layers [1, 3] == those of all", a2, a[[1, 3]], atol=0)
    h = m.hidden_states("The cat sat")
    check("hidden shape (L+1, n, C) float32", h.shape == (6, n, 64) and h.dtype == np.float32, h.shape)
    j = cli("hidden", "-m", STORIES, "The cat sat")
    check_close("hidden per-layer mean/std == CLI", [[h[l].mean(), h[l].std()] for l in range(6)],
                [[x["mean"], x["std"]] for x in j["layers"]], atol=1e-6)
    j = cli("hidden", "-m", STORIES, "--pca", "king queen man woman")
    proj, ex = m.pca("king queen man woman")
    pj = j["pca"]
    check("pca: the CLI's layer is the last", pj["layer"] == 5, pj["layer"])
    check_close("pca == CLI", proj, pj["points"], atol=1e-9)
    check_close("pca explained == CLI", ex, pj["explained_variance_ratio"], atol=1e-12)
    logits, cache = m.run_with_cache("The cat sat")
    check("run_with_cache keys", "blocks.0.attn.hook_pattern" in cache and
          "blocks.3.hook_resid_post" in cache and "ln_final.hook_normalized" in cache, sorted(cache))
    check_close("run_with_cache pattern == attention", cache["blocks.2.attn.hook_pattern"], a[2], atol=0)
    check_close("run_with_cache resid_post(l) == hidden[l+1]", cache["blocks.1.hook_resid_post"],
                h[2], atol=0)
    check_close("run_with_cache logits == logits()", logits, m.logits("The cat sat"), atol=0)


def test_power_and_rows(m):
    for method in ("mh", "smc", "sir"):
        j = cli("generate", "-m", STORIES, "--power", "4", "--power-method", method, "-n", "6", "-s", "2",
                "Lily went")
        r = m.power_sample("Lily went", alpha=4, method=method, max_new_tokens=6, seed=2)
        check_same(f"power_sample {method} ids == CLI", r.ids, j["sequences"][0]["ids"])
        check_close(f"power_sample {method} log p == CLI", [r.log_p], [j["sequences"][0]["log_prob"]],
                    atol=1e-9)
    logits = [1.1, 0.5, 0.85, 0.97, 1.2, 0.3]
    j = cli("softmax", "--logits", ",".join(map(str, logits)), "--temps", "0.2,1,1.95")
    for tj in j["temperatures"]:
        p = temper.softmax(logits, tj["temperature"])
        check_close(f"softmax T={tj['temperature']} == CLI", p, [r["prob"] for r in tj["rows"]],
                    atol=1e-7)
    j = cli("softmax", "--logits", "1.1,0.5,0.85,0.3", "--top-k", "2", "--temp", "0.7")
    pr = temper.process([1.1, 0.5, 0.85, 0.3], top_k=2, temperature=0.7)
    check_close("process top_k + T == CLI", pr.probs, [r["prob_processed"] for r in j["rows"]], atol=1e-7)
    check("process stages", pr.stages == j["samplers"] and pr.n_kept == 2, (pr.stages, pr.n_kept))
    check("process scores: -inf for removed", np.isinf(pr.scores[1]) and pr.scores[1] < 0, pr.scores)


def raises(name, fn, exc, words=()):
    try:
        fn()
    except exc as e:
        msg = str(e)
        return check(name, all(w in msg for w in words), f"message {msg!r} lacks {words}")
    except Exception as e:
        return check(name, False, f"raised {type(e).__name__}: {e}")
    return check(name, False, "did not raise")


def test_errors(m):
    before = m.generate("Lily went", max_new_tokens=5, do_sample=False)[0].ids
    raises("ids outside the vocabulary: library message", lambda: m.logits([1, 5000]),
           temper.OutOfRange, ("5000", "outside the vocabulary"))
    raises("negative id", lambda: m.logits([-3]), temper.TemperError, ("-3",))
    raises("wrong type for text", lambda: m.logits(3.5), temper.InvalidArgument, ("token ids",))
    raises("wrong type for a parameter", lambda: m.generate("a", temperature="hot"),
           temper.InvalidArgument, ("temperature", "number"))
    raises("out of range: the table's message", lambda: m.generate("a", top_p=1.5),
           temper.InvalidArgument, ("top_p",))
    raises("NaN parameter refused", lambda: m.generate("a", temperature=float("nan")),
           temper.InvalidArgument, ("temperature",))
    raises("unknown parameter", lambda: m.generate("a", temprature=0.5), temper.InvalidArgument,
           ("temprature",))
    raises("NaN in a logits row: library message", lambda: temper.softmax([1.0, float("nan")]),
           temper.InvalidArgument, ())
    raises("beams and sampling conflict: library message",
           lambda: m.generate("a", num_beams=2, do_sample=True, max_new_tokens=2), temper.TemperError, ())
    raises("missing model: library message", lambda: temper.Model("/nonexistent/model", offline=True),
           temper.NotFound, ("/nonexistent/model",))
    raises("context too long", lambda: m.logits([1] * (m.n_ctx + 1)), temper.ContextFull, ())
    raises("empty prompt", lambda: m.generate(""), temper.InvalidArgument, ()) if not m.tokenize("") \
        else None
    after = m.generate("Lily went", max_new_tokens=5, do_sample=False)[0].ids
    check_same("the model is usable after the errors, same output", after, before)
    check("TemperError carries the code name", _code_name(lambda: m.logits([1, 5000])) == "TEMPER_ERANGE",
          _code_name(lambda: m.logits([1, 5000])))


def _code_name(fn):
    try:
        fn()
    except temper.TemperError as e:
        return e.name
    return None


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_memory(m):
    """10,000 calls of each kind that allocates in the library: RSS flat."""
    def round_(k):
        for i in range(k):
            m.next_token("Lily went", top=3, temperature=0.9)
            m.tokenize("Lily went to the park")
            if i % 10 == 0:
                m.generate("Lily", max_new_tokens=2, seed=i, n_probs=2, temperature=0.8)
                m.score("Lily went")
                temper.softmax([1.0, 2.0, 3.0], 0.5)
    round_(1000)
    gc.collect()
    r0 = rss_kb()
    round_(10000)
    gc.collect()
    r1 = rss_kb()
    check("10,000 calls: RSS grows by less than 512 kB", r1 - r0 < 512, f"{r0} kB -> {r1} kB")
    print(f"memory: RSS {r0} kB after 1,000 calls, {r1} kB after 10,000 more")


def test_threads(m):
    """Two threads, each with its own context of one model, give what one
    thread gives."""
    prompts = ["Lily went to the", "Once upon a time", "The cat sat on"]
    def work(ctx, out):
        for p in prompts * 5:
            ctx.reset()
            out.append(ctx.eval(m.tokenize(p), all_logits=True).copy())
    ref = []
    with m.context() as c:
        work(c, ref)
    outs = [[], []]
    ctxs = [m.context(threads=1), m.context(threads=1)]
    ts = [threading.Thread(target=work, args=(ctxs[i], outs[i])) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for c in ctxs:
        c.close()
    same = all(len(o) == len(ref) and all(np.array_equal(a, b) for a, b in zip(o, ref)) for o in outs)
    check("two threads with two contexts == one thread (bit for bit)", same, "")
    # the model's own calls from two threads take turns and stay right
    res = [None, None]
    def gen(i):
        res[i] = [m.generate("Lily went", max_new_tokens=6, seed=9, temperature=0.8)[0].ids
                  for _ in range(5)]
    ts = [threading.Thread(target=gen, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    one = m.generate("Lily went", max_new_tokens=6, seed=9, temperature=0.8)[0].ids
    check("Model calls from two threads == one thread", res[0] == [one] * 5 and res[1] == [one] * 5,
          (res, one))


def test_lifetime():
    m = temper.Model(STORIES)
    c = m.context()
    c.eval(m.tokenize("Lily"))
    c.close()
    raises("a closed context refuses calls", lambda: c.eval([1]), temper.StateError, ("closed",))
    with temper.Model(STORIES) as m2:
        c2 = m2.context()
        m2.logits("Lily")
    check("closing the model closes its contexts", c2._h is None and m2._h is None, (c2._h, m2._h))
    raises("a closed model refuses calls", lambda: m2.logits("Lily"), temper.StateError, ("closed",))
    fin = m._finalizer
    del m, c
    gc.collect()
    check("garbage collection frees the model", not fin.alive, fin)


def test_display(m):
    t = m.next_token("Lily went to the", top=3, temperature=0.8)
    h = t._repr_html_()
    check("next-token table HTML has a row and a bar per token", h.count("<tr>") == 4 and
          h.count("background:#4a7") == 3, h[:300])
    g = m.generate("Lily went", max_new_tokens=4, seed=1, n_probs=2, temperature=0.8)
    h = g[0]._repr_html_()
    check("generation HTML: one span per token with its alternatives", h.count("<span title=") == 4
          and all(repr(a["token"]) in __import__("html").unescape(h) for a in g[0].tokens[0].top), h[:300])
    a = m.attention("The cat")
    h = a._repr_html_()
    check("attention HTML: heatmaps of 2 layers x 8 heads", h.count("<table") == 16, h.count("<table"))
    p = m.score_pairs([("Lily went", "Lily ran")])
    check("score pairs table", p._repr_html_().count("<tr>") == 4 and "Gap" in repr(p), repr(p))
    try:
        import matplotlib  # noqa: F401
        has_mpl = True
    except ImportError:
        has_mpl = False
    if has_mpl:
        import matplotlib
        matplotlib.use("Agg")
        check("plot returns axes", t.plot() is not None and a.plot(0, 1) is not None)
    else:
        raises("plot without matplotlib says how to get it", t.plot, ImportError, ("matplotlib",))


def test_pull():
    """temper.pull against tests/hub/fake_hub.py: progress events, the
    snapshot loads offline, a callback returning True cancels, a missing
    repo raises NotFound with the library's message."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
    from fake_hub import FakeHub, Repo
    import shutil
    tmp = tempfile.mkdtemp(prefix="test-python-pull-", dir=BUILD)
    saved = {k: os.environ.get(k) for k in ("HF_HOME", "HF_ENDPOINT", "HF_HUB_CACHE", "HF_HUB_OFFLINE",
                                            "HF_TOKEN", "TEMPER_HUB_RETRIES", "TEMPER_HUB_BACKOFF")}
    hub = FakeHub().start()
    try:
        model = harness.cached_model("everyday-gpt2", ["--preset", "tiny", "--dtype", "f32"])
        files = {n: open(os.path.join(model, n), "rb").read() for n in os.listdir(model)
                 if n != "make_model.json"}
        hub.repos["tiny-org/tiny"] = Repo(files, lfs=["model.safetensors"])
        for k in saved:
            os.environ.pop(k, None)
        os.environ.update(HF_HOME=os.path.join(tmp, "home"), HF_ENDPOINT=hub.url,
                          TEMPER_HUB_RETRIES="1", TEMPER_HUB_BACKOFF="0.02")
        events = []
        folder = temper.pull("tiny-org/tiny", progress=events.append)
        check("pull: the snapshot folder holds config.json",
              os.path.exists(os.path.join(folder, "config.json")), folder)
        done = sorted(e["file"] for e in events if e["event"] == "done")
        check("pull: one done event per file", done == sorted(files), (done, sorted(files)))
        check("pull: find() gives the same folder", temper.find("tiny-org/tiny") == folder)
        with temper.Model("tiny-org/tiny", offline=True) as m:
            check("pull: the model loads offline from the cache", m.n_vocab > 0 and
                  m.logits("hello").shape[1] == m.n_vocab, m.info)
        os.environ["HF_HOME"] = os.path.join(tmp, "home2")
        raises("pull: the callback cancels", lambda: temper.pull("tiny-org/tiny", progress=lambda e: True),
               temper.Canceled, ())
        raises("pull: a missing repo", lambda: temper.pull("tiny-org/none", progress=False),
               temper.NotFound, ("tiny-org/none",))
    finally:
        hub.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def test_docs():
    """The ```python blocks of docs/python.md run as written (bundled model)."""
    text = open(os.path.join(ROOT, "docs", "python.md"), encoding="utf-8").read()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    check("docs/python.md has Python examples", len(blocks) >= 1, len(blocks))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    for i, b in enumerate(blocks):
        r = subprocess.run([PY, "-c", b], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        check(f"docs/python.md block {i + 1} runs", r.returncode == 0, r.stderr[-1500:])
        if i == 0:
            check("docs tour: the commented values are printed", "5 512" in r.stdout and
                  "'piece': '▁Lily'" in r.stdout, r.stdout[:500])


def test_install():
    """The documented command: a venv with the system's site packages (its
    numpy), pip without network or build isolation."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        import shutil
        shutil.copytree(os.path.join(ROOT, "bindings", "python"), src,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        venv = os.path.join(tmp, "venv")
        env = dict(os.environ, TEMPER_LIB=os.path.realpath(os.path.join(BUILD, "libtemper.so")),
                   PIP_NO_INDEX="1")
        r = subprocess.run([PY, "-m", "venv", "--system-site-packages", venv], capture_output=True,
                           text=True)
        if not check("venv --system-site-packages", r.returncode == 0, r.stderr):
            return
        r = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--no-build-isolation",
                            "--no-index", src], capture_output=True, text=True, env=env, timeout=300)
        if not check("pip install --no-build-isolation --no-index bindings/python", r.returncode == 0,
                     r.stderr[-2000:]):
            return
        env.pop("TEMPER_LIB")
        code = ("import temper, os; m = temper.Model(%r); "
                "print(os.path.dirname(temper.library_path) == os.path.dirname(temper.__file__), "
                "m.tokenize('Lily'))" % STORIES)
        r = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], capture_output=True,
                           text=True, cwd=tmp, env=env)
        check("the installed package imports with its own library copy",
              r.returncode == 0 and r.stdout.strip() == "True [1, 317]", r.stdout + r.stderr)


if __name__ == "__main__":
    if not os.path.exists(TEMPER):
        sys.exit(harness.missing(f"{TEMPER} missing: run make"))
    test_layout()
    m = temper.Model(STORIES, threads=1)
    test_tokens(m)
    g2 = temper.Model(harness.cached_model("everyday-gpt2", ["--preset", "tiny", "--dtype", "f32"]))
    test_gpt2_tokens(g2)
    g2.close()
    test_next_token(m)
    test_generate(m)
    test_scores(m)
    test_inside(m)
    test_power_and_rows(m)
    test_errors(m)
    test_display(m)
    test_threads(m)
    if not SAN:
        test_memory(m)
    test_lifetime()
    test_pull()
    test_docs()
    if not SAN:
        test_install()
    sys.exit(summary())
