#!/usr/bin/python3
# san: yes
"""test_reference.py - temper's forward pass against an independent numpy one.

Random-weight models in the Hugging Face folder format (tests/ref/make_model.py)
are evaluated by temper (tests/tools/dump_logits.c, public API only) and by
the float64 numpy references written from the math (tests/ref/ref_gpt2.py,
ref_opt.py, ref_llama.py). Checked, at every position of every prompt:

  - logits within TOL = 1e-4 max abs for
      GPT-2: head sizes 16 (4 heads, and 3 heads with n_inner 100) and 32 and
        8, with and without the "transformer." prefix, untied lm_head, the old
        attn.bias/masked_bias buffers (f32, and u8 in a .bin);
      OPT: pre-LN with biases ("model.decoder." names, vocab 50272), the
        opt-350m layout (post-LN, project_in/project_out, "decoder." names),
        enable_bias false;
      GPT-Neo: global and local layers (window 8, prompts crossing it), all
        local layers, q/k/v without bias and unscaled scores;
      GPT-NeoX/Pythia: parallel and sequential residual, rotary on 1/4 and
        1/2 of each head, erf and tanh GELU, per-head fused q/k/v;
      Qwen2: q/k/v biases, rope_theta 1e6, tied head, vocabulary 151936,
        sliding window from max_window_layers on; Qwen3: per-head q/k
        norms, head_dim != hidden/heads, untied head, explicit layer_types;
      Gemma 3: (1 + w) RMSNorms, four norms per block, sqrt(C) embedding
        scale, GeGLU, per-head q/k norms, sliding and full layers with their
        own rope bases, query_pre_attn_scalar, final logit soft-capping;
      Llama: grouped-query (4 heads / 2 kv heads), one kv head with head_dim
        != hidden/heads, attention biases, rope_theta 500000, tied and untied
        heads, names with and without "model.";
      stories260K (llama2.c file, real trained weights, interleaved RoPE):
        the numpy reference's greedy text first reproduces the text published
        by llama2.c, then temper is compared with it;
    prompt lengths 1, 7, 300 and n_ctx (128, 320, 64, 48, 256, 300, 512), a
    real sentence and paragraph (GPT-2 ids from the tokenizer fixture) and
    random ids from fixed seeds;
  - f32, f16 and bf16 weights, model.safetensors, sharded safetensors
    (model.safetensors.index.json) and pytorch_model.bin; a folder holding
    both formats is read from the safetensors;
  - KV-cached decoding (one token at a time), uneven prefill chunks (3, 5,
    rest), a sequence truncated and redone, and two interleaved sequence
    slots each compared with the reference within TOL;
  - 1 thread vs 2 threads bit for bit (TOL_THREADS = 0: docs/performance.md
    promises the same bits whatever the thread count);
  - the tolerance discriminates: the erf GELU instead of the tanh one, layer
    norm epsilon 1e-6 instead of 1e-5, rotate-half RoPE on stories260K, all
    give errors far above TOL.

Tolerances. Logits here have a standard deviation of about 2.5 and maxima
around 10 (the generator scales the weights for that; stories260K: std 8);
float32 carries ~7 significant digits, so the accumulated rounding of a few
layers is 1e-6 to 2e-5 (measured: at most ~1.6e-5), while any real mistake
(mask, position, scale, layout, activation, epsilon) gives 1e-3 or more.
16-bit weights get the same TOL: the reference reads the very same stored
values (upcast exactly: f16 and bf16 are subsets of f32) and temper computes
in f32 whatever the weight dtype, so the only error left is f32 arithmetic,
exactly as for f32 weights. (An engine rounding activations to 16 bits
would be ~1e-2 off and fail.) Threads may only change the summation order
of a few reductions, hence the tighter 1e-5.

Models are cached in build/models/ under a name keyed on every generator
argument and the generator's version. Under ASan (TEMPER_BUILD containing
"san"), for the aarch64 build under qemu-user (TEMPER_BUILD=build-aarch64:
dump_logits runs under qemu-aarch64, at levels neon and portable, the numpy
reference natively) or with TEMPER_REF_QUICK=1, only the first two prompts of
each model (when at most 64 tokens) and one of 300 tokens run, without the
thread comparisons.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_reference.py
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD_NAME as BUILD, FIXTURES, MODELS, check  # noqa: E402
from harness import cached_model as model  # noqa: E402  (build/models/LABEL-KEY)
import make_model  # noqa: E402
import ref_gpt2  # noqa: E402
import ref_gpt_neo  # noqa: E402
import ref_llama  # noqa: E402
import ref_model  # noqa: E402
import safetensors_io as st  # noqa: E402

DUMP = harness.tool("dump_logits")
QUICK = "san" in os.path.basename(BUILD.rstrip("/")) or harness.CROSS or os.environ.get("TEMPER_REF_QUICK") == "1"

TOL = 1e-4
TOL_THREADS = 0.0  # docs/performance.md: same bits whatever the thread count

# --------------------------------------------------------------------------
# Models and the two implementations
# --------------------------------------------------------------------------

_refs = {}


def reference(path):
    if path not in _refs:
        _refs[path] = ref_model.load(path) if os.path.isdir(path) else ref_llama.Llama(path)
    return _refs[path]


# Tokenizer for models whose own is not read by temper (yet): logits do
# not depend on it. {model path: tokenizer path}
TOKENIZER_FOR = {}


def temper(path, ids, mode="full", threads=None):
    """Logits (T, V) float32 from dump_logits, or (None, error text).
    mode may list several modes ("full,kv"): then the result is a dict
    {mode: (T, V)} (one process, a fresh context per mode). threads:
    2 by default, 1 under qemu."""
    if threads is None:
        threads = 1 if harness.CROSS else 2
    modes = mode.split(",")
    with tempfile.TemporaryDirectory() as d:
        idf, out = os.path.join(d, "ids.txt"), os.path.join(d, "logits.bin")
        with open(idf, "w") as f:
            f.write(" ".join(str(int(i)) for i in ids))
        cmd = harness.RUN + [DUMP, path, idf, out, "--mode", mode, "--threads", str(threads)]
        if path in TOKENIZER_FOR:
            cmd += ["--tokenizer", TOKENIZER_FOR[path]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return None, "exit %d: %s" % (r.returncode, r.stderr.strip()[-1000:])
        x = np.fromfile(out, dtype="<f4")
    if x.size % (len(ids) * len(modes)):
        return None, "output of %d floats for %d ids" % (x.size, len(ids))
    x = x.reshape(len(modes), len(ids), -1)
    if len(modes) == 1:
        return x[0], ""
    return dict(zip(modes, x)), ""


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


LEVEL = ""  # the SIMD level being run (in check names)


def compare(name, got, err, want, tol):
    """got (T, V) vs want (T, V): max abs at every position <= tol."""
    if LEVEL:
        name = "[%s] %s" % (LEVEL, name)
    if got is None:
        check(name, False, err)
        return None
    if got.shape != want.shape:
        check(name, False, "shape %s, expected %s" % (got.shape, want.shape))
        return None
    d = np.max(np.abs(got.astype(np.float64) - want), axis=1)
    worst = int(np.argmax(d))
    check(name, bool(np.all(np.isfinite(got))) and d[worst] <= tol,
          "max abs %.3g at position %d of %d (tol %g)" % (d[worst], worst, len(d), tol))
    return float(d[worst])


# --------------------------------------------------------------------------
# Token ids
# --------------------------------------------------------------------------

def sentence_ids():
    """Real GPT-2 ids of real text, from the tokenizer fixture (tiktoken's
    and HF's vectors): an English sentence and a French paragraph."""
    path = os.path.join(FIXTURES, "gpt2", "encode-vectors.json")
    with open(path) as f:
        vecs = json.load(f)
    short = next(v["ids"] for v in vecs if v["text"] == "I bought an apple for $1.00 at the store.")
    long_ = next(v["ids"] for v in vecs if v["text"].startswith("Fatouville-Grestain"))
    return short, long_


def random_ids(n, vocab, seed):
    return np.random.default_rng(seed).integers(0, vocab, size=n).tolist()


# --------------------------------------------------------------------------
# Self-checks of the reference tools (they must be right for the rest to mean anything)
# --------------------------------------------------------------------------

def test_tools():
    # bf16 rounding: nearest, ties to even, checked against a float64 search.
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(2000).astype(np.float32) * 10,
                        np.array([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -(1.0 + 2 ** -8), 0.0, -0.0,
                                  3.0e38, 1e-40], dtype=np.float32)])
    bits = st.f32_to_bf16_bits(x)
    ok = True
    for xi, b in zip(x, bits):
        lo = int(np.float32(xi).view(np.uint32)) >> 16
        cands = [lo, lo + 1]
        vals = [float(st.bf16_bits_to_f32(np.array([c], np.uint16))[0]) for c in cands]
        dist = [abs(v - float(xi)) for v in vals]
        best = cands[0] if dist[0] < dist[1] else cands[1] if dist[1] < dist[0] else \
            (cands[0] if cands[0] % 2 == 0 else cands[1])
        ok = ok and int(b) == best
    check("bf16 rounding is nearest-even", ok)
    check("bf16 tie 1+2^-8 -> 1.0", float(st.bf16_bits_to_f32(st.f32_to_bf16_bits(np.float32([1 + 2 ** -8])))[0]) == 1.0)

    # safetensors round trip, header alignment and a hand-made file.
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.safetensors")
        a = rng.standard_normal((3, 5)).astype(np.float32)
        st.write(p, [("a", a, "F32"), ("b", a, "F16"), ("c", a, "BF16"),
                     ("s", np.array(2.5, np.float32), "F32")], metadata={"format": "pt"})
        t, meta = st.read(p)
        raw = open(p, "rb").read()
        n = int.from_bytes(raw[:8], "little")
        check("safetensors header padded to 8", (8 + n) % 8 == 0 and raw[8 + n - 1:8 + n] in (b" ", b"}"))
        check("safetensors round trip f32", np.array_equal(t["a"], a))
        check("safetensors round trip f16", np.array_equal(t["b"], a.astype(np.float16)))
        check("safetensors round trip bf16", maxdiff(t["c"], a) <= np.max(np.abs(a)) * 2 ** -8)
        check("safetensors scalar", t["s"].shape == () and float(t["s"]) == 2.5)
        check("safetensors metadata", meta == {"format": "pt"})
        # A file written by hand from the spec, read back.
        hdr = b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
        with open(p, "wb") as f:
            f.write(len(hdr).to_bytes(8, "little") + hdr + np.float32([1.5, -2]).tobytes())
        t, _ = st.read(p)
        check("safetensors hand-made file", t["x"].tolist() == [1.5, -2.0])

    # Config keys as transformers writes them (distilgpt2's real config.json).
    path = os.path.join(FIXTURES, "distilgpt2", "config.json")
    with open(path) as f:
        real = json.load(f)
    a = make_model.parse_args(["-", "--preset", "distilgpt2"])
    cfg, _, _ = make_model.gpt2_model(a)
    missing = sorted(set(real) - set(cfg) - {"_num_labels", "id2label", "label2id"})
    differ = sorted(k for k in cfg if k in real and k not in ("torch_dtype",) and cfg[k] != real[k])
    check("config.json has distilgpt2's keys and values", not missing and not differ,
          "missing %s, different %s" % (missing, differ))

    # The numpy attention is causal and normalised.
    m = reference(MODEL_A)
    out = m.forward(random_ids(9, 50257, 3), want_attn=True, want_hidden=True)
    p = out["attn"]
    check("reference attention rows sum to 1", maxdiff(p.sum(-1), 1.0) < 1e-12)
    check("reference attention is causal", float(np.abs(np.triu(p, 1)).max()) == 0.0)
    check("reference hidden shapes", out["hidden"].shape == (m.n_layer + 1, 9, m.n_embd))
    lg = out["logits"]
    check("reference logits are far from uniform", float(lg.std(axis=1).min()) > 1.0,
          "logit std %s" % lg.std(axis=1))


# --------------------------------------------------------------------------
# temper vs reference
# --------------------------------------------------------------------------

def gelu_erf(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


ALL_MODES = ("kv", "chunks", "rewind", "slots")


def test_model(label, path, runs):
    """runs: list of (name, ids, modes). Each prompt is evaluated in one
    call with 2 threads and compared with the reference, then in each of
    `modes` and compared with that one-call result. A mode runs with 2
    threads for prompts of up to 16 tokens, else 1 ("MODE@N" says N): with
    2 threads, every eval call wakes the pool, which is slow when other
    jobs hold the cores. "threads" compares 1 thread with 2 on the one-call
    prefill. One dump_logits process per thread count. Under qemu
    (harness.CROSS) everything runs with 1 thread: the pool's waits are
    slow there, and test_ops checks the thread counts' bits under qemu."""
    ref = reference(path)
    two = 1 if harness.CROSS else 2
    for k, (name, ids, modes) in enumerate(runs):
        if QUICK:  # under ASan: the first two prompts if short, and one long
            if (len(ids) > 64 or k >= 2) and name != "len300":
                continue
            modes = tuple(m for m in modes if m != "threads")
        want = ref.forward(ids)["logits"]
        plan = {1: [], two: ["full"]}  # threads -> modes, in one process each
        for m in modes:
            mode, _, n = ("full@1" if m == "threads" else m).partition("@")
            plan[int(n) if n else (two if len(ids) <= 16 else 1)].append(mode)
        got = {}
        for n, ms in plan.items():
            if ms:
                r, err = temper(path, ids, ",".join(ms), threads=n)
                for mode in ms:
                    got[mode, n] = (r if len(ms) == 1 else r and r[mode]), err
        full = got["full", two][0]
        compare("%s %s full vs reference" % (label, name), full, got["full", two][1], want, TOL)
        if full is None:
            continue
        for m in modes:
            if m == "threads":
                compare("%s %s 1 vs 2 threads" % (label, name), *got["full", 1], full.astype(np.float64),
                        TOL_THREADS)
                continue
            mode, _, n = m.partition("@")
            n = int(n) if n else (two if len(ids) <= 16 else 1)
            compare("%s %s %s (%d thread%s) vs reference" % (label, name, mode, n, "s" if n > 1 else ""),
                    *got[mode, n], want, TOL)


def test_discrimination(path):
    """A subtly wrong reference must fail the comparison: TOL is tight
    enough to see the erf GELU or a wrong layer norm epsilon."""
    ids = random_ids(20, 50257, 5)
    full, err = temper(path, ids)
    if full is None:
        check("discrimination", False, err)
        return
    m = ref_gpt2.GPT2(path)
    m.act = gelu_erf
    d = maxdiff(full, m.forward(ids)["logits"])
    check("erf GELU differs by > 10 TOL", d > 10 * TOL, "%.3g" % d)
    m = ref_gpt2.GPT2(path)
    m.eps = 1e-6
    d = maxdiff(full, m.forward(ids)["logits"])
    check("layer_norm_epsilon 1e-6 differs by > 10 TOL", d > 10 * TOL, "%.3g" % d)


# --------------------------------------------------------------------------
# stories260K: real trained weights (llama2.c format)
# --------------------------------------------------------------------------

def llama2c_vocab(path):
    """Pieces (bytes) of a llama2.c tokenizer.bin: int32 max_token_length,
    then per token float32 score, int32 length, the bytes."""
    raw = open(path, "rb").read()
    pos, pieces = 4, []
    while pos < len(raw):
        n = int.from_bytes(raw[pos + 4:pos + 8], "little")
        pieces.append(raw[pos + 8:pos + 8 + n])
        pos += 8 + n
    return pieces


def llama2c_decode(pieces, ids):
    """As run.c's decode(): BOS (1) not shown, the first piece after it
    loses its leading space, "<0xHH>" pieces are that byte."""
    out = b""
    for prev, tok in zip([None] + ids[:-1], ids):
        if tok == 1:
            continue
        p = pieces[tok]
        if prev == 1 and p.startswith(b" "):
            p = p[1:]
        if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            p = bytes([int(p[3:5], 16)])
        out += p
    return out.decode("utf-8", "replace")


def published_greedy():
    """The greedy text of stories260K published in llama2.c's docs, from
    ../shared/fixtures/references.md (section 1, first code block)."""
    text = open(os.path.join(FIXTURES, "references.md"), encoding="utf-8").read()
    sec = text[text.index("## 1."):]
    return sec.split("```")[1].strip("\n")


def test_stories():
    folder = os.path.join(FIXTURES, "stories260K")
    path = os.path.join(folder, "stories260K.bin")
    if not os.path.exists(path):
        check("stories260K fixture present", False, path)
        return
    # temper may not read tok512.bin yet; the logits do not depend on it.
    TOKENIZER_FOR[path] = os.path.join(FIXTURES, "gpt2")
    ref = reference(path)
    # The reference itself on real weights: greedy decoding from BOS gives
    # the published text (checks the llama2.c reader and interleaved RoPE).
    ids = [1]
    for _ in range(64):
        ids.append(int(np.argmax(ref.forward(ids, out_rows=[len(ids) - 1])["logits"][0])))
    pieces = llama2c_vocab(os.path.join(folder, "tok512.bin"))
    got, want = llama2c_decode(pieces, ids), published_greedy()
    check("reference greedy stories260K = published text", want.startswith(got) and len(got) > 100,
          "%r vs %r" % (got, want[:len(got) + 20]))
    test_model("stories260K", path, [("greedy", ids, ("kv", "chunks", "threads")),
                                     ("len512-n_ctx", [1] + random_ids(511, 512, 512), ("kv@1",))])
    # The rotate-half layout would be far off: the test sees the layout.
    if not QUICK:
        full, err = temper(path, ids)
        half = ref_llama.Llama(path, interleaved=False).forward(ids)["logits"]
        check("stories260K: rotate-half RoPE differs by > 10 TOL",
              full is not None and maxdiff(full, half) > 10 * TOL, err)


# --------------------------------------------------------------------------
# OPT, Llama, and the other weight file layouts
# --------------------------------------------------------------------------

def test_opt():
    short, _ = sentence_ids()
    every = ALL_MODES + ("threads",)
    # opt-125m style: pre-LN, biases, tied head, "model.decoder." names,
    # the real default vocab_size 50272.
    o1 = model("opt-l2h4e64", ["--arch", "opt", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
                               "--n-ctx", "128", "--seed", "10", "--dtype", "f32"])
    test_model("OPT f32", o1, [("len1", random_ids(1, 50257, 1), every),
                               ("len7", random_ids(7, 50257, 7), every),
                               ("sentence", short, every)])
    # opt-350m style: post-LN, word_embed_proj_dim 32 (project_in/out),
    # "decoder." names (as the original facebook files), f16, n_inner set.
    o2 = model("opt-l3h4e64-350m", ["--arch", "opt", "--n-layer", "3", "--n-head", "4", "--n-embd", "64",
                                    "--n-ctx", "300", "--n-inner", "96", "--post-ln",
                                    "--word-embed-proj-dim", "32", "--prefix", "none",
                                    "--vocab-size", "1000", "--seed", "11", "--dtype", "f16"])
    test_model("OPT-350m-like f16", o2, [("len7", random_ids(7, 1000, 7), every),
                                         ("len300-n_ctx", random_ids(300, 1000, 300), ("kv@1", "chunks"))])
    # enable_bias false, bf16, pytorch_model.bin.
    o3 = model("opt-l2h2e32-nobias-bin", ["--arch", "opt", "--n-layer", "2", "--n-head", "2", "--n-embd", "32",
                                          "--n-ctx", "64", "--no-bias", "--format", "bin",
                                          "--vocab-size", "1000", "--seed", "12", "--dtype", "bf16"])
    test_model("OPT no-bias bf16 .bin", o3, [("len7", random_ids(7, 1000, 7), ("kv",)),
                                             ("len64-n_ctx", random_ids(64, 1000, 64), ("kv",))])


def test_llama():
    every = ALL_MODES + ("threads",)
    # Grouped-query attention (4 heads, 2 kv heads), untied head, rms eps 1e-5.
    l1 = model("llama-l2h4kv2e64", ["--arch", "llama", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2",
                                    "--n-embd", "64", "--n-inner", "172", "--n-ctx", "256",
                                    "--vocab-size", "1000", "--seed", "20", "--dtype", "f32"])
    test_model("Llama GQA f32", l1, [("len1", random_ids(1, 1000, 1), every),
                                     ("len7", random_ids(7, 1000, 7), every),
                                     ("len256-n_ctx", random_ids(256, 1000, 256), ("kv@1", "chunks", "threads"))])
    # One kv head, head_dim 32 != hidden / heads, attention biases,
    # rope_theta 500000, tied head, bf16, sharded safetensors.
    l2 = model("llama-l2h4kv1hd32-sharded", ["--arch", "llama", "--n-layer", "2", "--n-head", "4",
                                             "--n-kv-head", "1", "--head-dim", "32", "--n-embd", "64",
                                             "--n-ctx", "128", "--attention-bias", "--rope-theta", "500000",
                                             "--rms-norm-eps", "1e-6", "--tied-lm-head", "--format", "sharded",
                                             "--shards", "3", "--vocab-size", "1000", "--seed", "21",
                                             "--dtype", "bf16"])
    test_model("Llama MQA bf16 sharded", l2, [("len7", random_ids(7, 1000, 7), ("kv",)),
                                              ("len100", random_ids(100, 1000, 100), ("chunks", "rewind"))])
    # Plain multi-head, f16, pytorch_model.bin, names without "model.".
    l3 = model("llama-l1h2e32-bin", ["--arch", "llama", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
                                     "--n-ctx", "64", "--format", "bin", "--prefix", "none",
                                     "--vocab-size", "500", "--seed", "22", "--dtype", "f16"])
    test_model("Llama MHA f16 .bin", l3, [("len30", random_ids(30, 500, 30), ("kv",))])


# --------------------------------------------------------------------------
# More architectures (issue 22)
# --------------------------------------------------------------------------

def discriminates(label, path, ids, variants):
    """Each variant (name, function changing a fresh reference) must give
    logits more than 10 TOL away from temper's: the test sees that detail."""
    full, err = temper(path, ids)
    for name, change in variants:
        m = ref_model.load(path)
        change(m)
        d = None if full is None else maxdiff(full, m.forward(ids)["logits"])
        check("%s: %s differs by > 10 TOL" % (label, name), d is not None and d > 10 * TOL,
              err if d is None else "%.3g" % d)


def test_gpt_neo():
    every = ALL_MODES + ("threads",)
    # GPT-Neo: global and local layers (window 8), q/k/v without bias,
    # unscaled scores, learned positions; prompts inside and across the
    # window, and n_ctx.
    args = ["--arch", "gpt_neo", "--n-layer", "4", "--n-head", "4", "--n-embd", "64", "--n-ctx", "64",
            "--window-size", "8", "--vocab-size", "1000", "--seed", "40"]
    n1 = model("gpt-neo-l4h4e64w8", args + ["--dtype", "f32"])
    test_model("GPT-Neo f32", n1, [("len1", random_ids(1, 1000, 1), every),
                                   ("len7", random_ids(7, 1000, 7), every),
                                   ("len30-window", random_ids(30, 1000, 30), every),
                                   ("len64-n_ctx", random_ids(64, 1000, 64), ("kv@1", "chunks"))])
    if not QUICK:
        def no_window(m):
            m.kinds = ["global"] * m.n_layer

        def scaled(m):  # as GPT-2 would: scores / sqrt(hd)
            q = "attn.attention.q_proj.weight"
            for l in range(m.n_layer):
                m.w["h.%d.%s" % (l, q)] = m.t("h.%d.%s" % (l, q)) / np.sqrt(m.n_embd // m.n_head)
        discriminates("GPT-Neo", n1, random_ids(30, 1000, 30), [("no local window", no_window),
                                                                ("scores scaled by 1/sqrt(hd)", scaled)])
    for dt in ("f16", "bf16"):
        test_model("GPT-Neo %s" % dt, model("gpt-neo-l4h4e64w8", args + ["--dtype", dt]),
                   [("len30-window", random_ids(30, 1000, 31), ("kv", "chunks"))])
    # Three heads of 16, n_inner 100, all layers local, GPT-2's vocabulary, .bin.
    n2 = model("gpt-neo-l2h3e48-local", ["--arch", "gpt_neo", "--n-layer", "2", "--n-head", "3", "--n-embd", "48",
                                         "--n-inner", "100", "--n-ctx", "128", "--window-size", "16",
                                         "--attention-kinds", "local", "--format", "bin", "--seed", "41",
                                         "--dtype", "f32"])
    short, _ = sentence_ids()
    test_model("GPT-Neo all-local .bin", n2, [("sentence", short, ("kv", "slots")),
                                              ("len100", random_ids(100, 50257, 100), ("kv@1", "rewind"))])


def test_gpt_neox():
    every = ALL_MODES + ("threads",)
    # Pythia layout: parallel residual, rotary on 1/4 of each head (4 of
    # 16), erf GELU, fused per-head query_key_value, untied embed_out.
    args = ["--arch", "gpt_neox", "--n-layer", "3", "--n-head", "4", "--n-embd", "64", "--n-ctx", "96",
            "--vocab-size", "1000", "--seed", "50"]
    p1 = model("pythia-l3h4e64", args + ["--dtype", "f32"])
    test_model("Pythia f32", p1, [("len1", random_ids(1, 1000, 1), every),
                                  ("len7", random_ids(7, 1000, 7), every),
                                  ("len96-n_ctx", random_ids(96, 1000, 96), ("kv@1", "chunks", "threads"))])
    if not QUICK:
        import ref_gpt_neox

        def full_rotary(m):
            m.rot = m.n_embd // m.n_head

        def sequential(m):
            m.parallel = False

        def tanh_gelu(m):
            m.act = ref_gpt2.gelu_new

        def qkv_by_kind(m):  # [all q | all k | all v] instead of per head
            for l in range(m.n_layer):
                for part in ("weight", "bias"):
                    name = "layers.%d.attention.query_key_value.%s" % (l, part)
                    w = m.t(name)
                    C, H = m.n_embd, m.n_head
                    hd = C // H
                    m.w[name] = w.reshape(3, H, hd, *w.shape[1:]).transpose(1, 0, 2, *range(3, w.ndim + 2)) \
                        .reshape(w.shape)
        assert ref_gpt_neox.GPTNeoX  # the class the variants change
        discriminates("Pythia", p1, random_ids(20, 1000, 20), [("rotary on the whole head", full_rotary),
                                                               ("sequential residual", sequential),
                                                               ("tanh GELU", tanh_gelu),
                                                               ("q/k/v not laid out per head", qkv_by_kind)])
    for dt in ("f16", "bf16"):
        test_model("Pythia %s" % dt, model("pythia-l3h4e64", args + ["--dtype", dt]),
                   [("len20", random_ids(20, 1000, 21), ("kv", "slots"))])
    # use_parallel_residual false, rotary_pct 0.5, base 500, gelu_new, sharded.
    p2 = model("neox-l2h2e64-seq", ["--arch", "gpt_neox", "--n-layer", "2", "--n-head", "2", "--n-embd", "64",
                                    "--n-ctx", "64", "--sequential-residual", "--rotary-pct", "0.5",
                                    "--rope-theta", "500", "--hidden-act", "gelu_new", "--format", "sharded",
                                    "--vocab-size", "1000", "--seed", "51", "--dtype", "f32"])
    test_model("GPT-NeoX sequential f32", p2, [("len7", random_ids(7, 1000, 7), ("kv", "rewind")),
                                               ("len64-n_ctx", random_ids(64, 1000, 64), ("kv@1",))])


def test_qwen():
    every = ALL_MODES + ("threads",)
    # Qwen2.5 layout: q/k/v biases (none on o_proj), grouped-query (4 / 2),
    # rope_theta 1e6, tied embeddings, the real vocab_size 151936 (random
    # ids over all of it); then a sliding window of 8 in the layers from
    # max_window_layers 1 on (use_sliding_window true), across the window.
    q_args = ["--arch", "qwen2", "--n-layer", "3", "--n-head", "4", "--n-kv-head", "2", "--n-embd", "64",
              "--n-inner", "160", "--n-ctx", "64", "--rope-theta", "1000000", "--rms-norm-eps", "1e-6"]
    q1 = model("qwen2-l3h4kv2e64", q_args + ["--seed", "60", "--dtype", "f32"])
    test_model("Qwen2 f32", q1, [("len1", random_ids(1, 151936, 1), every),
                                 ("len7", random_ids(7, 151936, 7), every),
                                 ("len64-n_ctx", random_ids(64, 151936, 64), ("kv@1", "chunks"))])
    q2 = model("qwen2-l3h4kv2e64-sw8", q_args + ["--use-sliding-window", "--window-size", "8",
                                                 "--max-window-layers", "1", "--vocab-size", "1000",
                                                 "--seed", "61", "--dtype", "bf16"])
    test_model("Qwen2 sliding bf16", q2, [("len7", random_ids(7, 1000, 7), ("kv",)),
                                          ("len30-window", random_ids(30, 1000, 30), ("kv", "chunks", "slots",
                                                                                      "threads"))])
    if not QUICK:
        def no_bias(m):
            for k in [k for k in m.w if k.endswith("_proj.bias")]:
                del m.w[k]

        def no_window(m):
            m.windows = [0] * m.n_layer
        discriminates("Qwen2", q2, random_ids(30, 1000, 30), [("without q/k/v biases", no_bias),
                                                              ("without the sliding window", no_window)])
    # Qwen3 layout: q_norm/k_norm per head, head_dim 32 != hidden / heads,
    # no biases, untied head, f16; layer_types given explicitly (sliding
    # in the middle layer only).
    q3_args = ["--arch", "qwen3", "--n-layer", "3", "--n-head", "4", "--n-kv-head", "2", "--head-dim", "32",
               "--n-embd", "64", "--n-inner", "160", "--n-ctx", "64", "--rope-theta", "1000000",
               "--rms-norm-eps", "1e-6", "--vocab-size", "1000", "--untied-lm-head"]
    q3 = model("qwen3-l3h4kv2hd32", q3_args + ["--seed", "62", "--dtype", "f32"])
    test_model("Qwen3 f32", q3, [("len1", random_ids(1, 1000, 1), every),
                                 ("len7", random_ids(7, 1000, 7), every),
                                 ("len64-n_ctx", random_ids(64, 1000, 64), ("kv@1", "chunks"))])
    if not QUICK:
        def no_qk_norm(m):
            m.kind = "qwen2"
        discriminates("Qwen3", q3, random_ids(20, 1000, 20), [("without q/k norms", no_qk_norm)])
    test_model("Qwen3 f16", model("qwen3-l3h4kv2hd32", q3_args + ["--seed", "62", "--dtype", "f16"]),
               [("len20", random_ids(20, 1000, 20), ("kv",))])
    q4 = model("qwen3-l3-sw6-mid", q3_args + ["--use-sliding-window", "--window-size", "6", "--layer-types", "fsf",
                                              "--seed", "63", "--dtype", "bf16"])
    test_model("Qwen3 layer_types bf16", q4, [("len30-window", random_ids(30, 1000, 31), ("kv", "rewind"))])


def test_gemma3():
    every = ALL_MODES + ("threads",)
    # Gemma 3 (270m layout, shrunk): 6 layers, every 6th full (the default
    # pattern: layer_types left out), sliding window 8, one kv head,
    # head_dim 32 != hidden / heads, query_pre_attn_scalar 24 != head_dim,
    # rope 1e6 / 1e4, tied head.
    g_args = ["--arch", "gemma3_text", "--n-layer", "6", "--n-head", "4", "--n-kv-head", "1", "--head-dim", "32",
              "--n-embd", "64", "--n-inner", "128", "--n-ctx", "64", "--window-size", "8",
              "--query-pre-attn-scalar", "24", "--rope-theta", "1000000", "--rms-norm-eps", "1e-6",
              "--vocab-size", "1000", "--no-layer-types"]
    g1 = model("gemma3-l6h4kv1hd32", g_args + ["--seed", "70", "--dtype", "f32"])
    test_model("Gemma3 f32", g1, [("len1", random_ids(1, 1000, 1), every),
                                  ("len7", random_ids(7, 1000, 7), every),
                                  ("len30-window", random_ids(30, 1000, 30), every),
                                  ("len64-n_ctx", random_ids(64, 1000, 64), ("kv@1", "chunks"))])
    if not QUICK:
        def plain_norm(m):  # weight w instead of 1 + w
            for k in [k for k in m.w if k.endswith("norm.weight")]:
                m.w[k] = m.t(k) - 1.0

        def unscaled_embed(m):
            m.embed_scale = 1.0

        def one_base(m):
            m.theta_local = m.theta

        def head_dim_scale(m):
            m.scale = m.head_dim ** -0.5

        def no_window(m):
            m.sliding = [False] * m.n_layer
        discriminates("Gemma3", g1, random_ids(30, 1000, 30), [("RMSNorm weight w instead of 1 + w", plain_norm),
                                                               ("embeddings not scaled by sqrt(C)", unscaled_embed),
                                                               ("one rope base for every layer", one_base),
                                                               ("scores scaled by head_dim^-0.5", head_dim_scale),
                                                               ("without the sliding window", no_window)])
    for dt in ("f16", "bf16"):
        test_model("Gemma3 %s" % dt, model("gemma3-l6h4kv1hd32", g_args + ["--seed", "70", "--dtype", dt]),
                   [("len30-window", random_ids(30, 1000, 32), ("kv", "slots"))])
    # final_logit_softcapping 3 (logits of std 2.5 are bent), layer_types
    # written out, two kv heads, head_dim 16.
    g2 = model("gemma3-l2h2kv2-cap", ["--arch", "gemma3_text", "--n-layer", "2", "--n-head", "2", "--n-kv-head", "2",
                                      "--head-dim", "16", "--n-embd", "32", "--n-ctx", "48", "--window-size", "5",
                                      "--layer-types", "sf", "--final-logit-softcapping", "3",
                                      "--rope-theta", "1000000", "--rms-norm-eps", "1e-6", "--vocab-size", "1000",
                                      "--seed", "71", "--dtype", "f32"])
    test_model("Gemma3 soft-capped f32", g2, [("len20", random_ids(20, 1000, 20), ("kv", "rewind"))])
    if not QUICK:
        def no_cap(m):
            m.softcap = None
        discriminates("Gemma3", g2, random_ids(20, 1000, 20), [("without the final soft-capping", no_cap)])


def test_formats():
    """GPT-2 from sharded safetensors and from pytorch_model.bin; and a
    folder holding both model.safetensors and pytorch_model.bin (different
    weights) is read from the safetensors."""
    args = ["--n-layer", "2", "--n-head", "4", "--n-embd", "64", "--n-ctx", "64", "--vocab-size", "2000"]
    sh = model("gpt2-sharded", args + ["--format", "sharded", "--shards", "3", "--seed", "30", "--dtype", "f32"])
    test_model("GPT-2 sharded", sh, [("len20", random_ids(20, 2000, 20), ("kv",))])
    pb = model("gpt2-bin", args + ["--format", "bin", "--seed", "31", "--dtype", "bf16", "--attn-buffers", "u8"])
    test_model("GPT-2 .bin bf16 (u8 attn.bias)", pb, [("len20", random_ids(20, 2000, 20), ("kv",))])
    sf = model("gpt2-st", args + ["--seed", "32", "--dtype", "f32"])
    tmp = tempfile.mkdtemp(prefix=".both-formats-", dir=MODELS)
    try:
        both = os.path.join(tmp, "model")
        shutil.copytree(sf, both)
        shutil.copyfile(os.path.join(pb, "pytorch_model.bin"), os.path.join(both, "pytorch_model.bin"))
        ids = random_ids(20, 2000, 21)
        got, err = temper(both, ids)
        compare("safetensors preferred over pytorch_model.bin", got, err,
                reference(sf).forward(ids)["logits"], TOL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


MODEL_A = None
SMALL_ARGS = ["--n-layer", "2", "--n-head", "4", "--n-embd", "64", "--n-ctx", "128", "--seed", "0"]
B_ARGS = ["--n-layer", "3", "--n-head", "3", "--n-embd", "48", "--n-ctx", "320", "--n-inner", "100",
          "--vocab-size", "512", "--prefix", "none", "--seed", "1"]


def test_gpt2():
    short, para = sentence_ids()
    every = ALL_MODES + ("threads",)
    # A: head size 16, the real vocabulary, ctx 128, "transformer." names;
    # real text (a sentence; a French paragraph cut to n_ctx) and random ids.
    test_model("A f32", MODEL_A, [("len1", random_ids(1, 50257, 1), every),
                                  ("len7", random_ids(7, 50257, 7), every),
                                  ("sentence", short, every),
                                  ("paragraph-n_ctx", para[:128], ("kv@1", "threads"))])
    test_discrimination(MODEL_A)
    # A in 16-bit weights: the same tolerance (see the top of the file).
    for dt in ("f16", "bf16"):
        test_model("A %s" % dt, model("gpt2-l2h4e64", SMALL_ARGS + ["--dtype", dt]),
                   [("len7", random_ids(7, 50257, 7), ("kv",)), ("sentence", short, ("kv",))])
    # B: 3 heads of 16, n_inner 100, ctx 320, names without prefix; a
    # small vocabulary keeps the long prompts cheap.
    b = model("gpt2-l3h3e48", B_ARGS + ["--dtype", "f32"])
    test_model("B f32", b, [("len1", random_ids(1, 512, 1), every),
                            ("len7", random_ids(7, 512, 7), every),
                            ("len300", random_ids(300, 512, 300), every),
                            ("len320-n_ctx", random_ids(320, 512, 320), ("kv@1",))])
    test_model("B bf16", model("gpt2-l3h3e48", B_ARGS + ["--dtype", "bf16"]),
               [("len300", random_ids(300, 512, 300), ("chunks",))])
    test_model("B f16", model("gpt2-l3h3e48", B_ARGS + ["--dtype", "f16"]),
               [("len320-n_ctx", random_ids(320, 512, 320), ("kv@1",))])
    # C: head size 32, untied lm_head, the old attn.bias/masked_bias buffers.
    c = ["--n-layer", "2", "--n-head", "2", "--n-embd", "64", "--n-ctx", "64",
         "--vocab-size", "4096", "--untied-lm-head", "--attn-buffers", "float",
         "--seed", "2", "--dtype", "f32"]
    test_model("C f32", model("gpt2-l2h2e64-untied", c),
               [("len7", random_ids(7, 4096, 7), ("kv",)),
                ("len64-n_ctx", random_ids(64, 4096, 64), ("kv@1", "chunks"))])
    # D: one block, 8 heads of 8, f16, buffers in f16.
    d = ["--n-layer", "1", "--n-head", "8", "--n-embd", "64", "--n-ctx", "48",
         "--attn-buffers", "float", "--vocab-size", "1000", "--seed", "3", "--dtype", "f16"]
    test_model("D f16", model("gpt2-l1h8e64", d),
               [("len1", random_ids(1, 1000, 1), ("kv",)),
                ("len48-n_ctx", random_ids(48, 1000, 48), ("kv", "rewind"))])


def main():
    global MODEL_A
    t0 = time.time()
    if not os.path.exists(DUMP):
        sys.exit(harness.missing("missing %s: run make first" % DUMP))
    MODEL_A = model("gpt2-l2h4e64", SMALL_ARGS + ["--dtype", "f32"])
    test_tools()
    # every SIMD level this CPU runs: the highest with everything; the
    # others (TEMPER_SIMD) with the quick subset of GPT-2, stories260K and
    # Llama (the kernels every architecture shares); the sanitizer run at
    # the default level only
    global LEVEL, QUICK
    levels = [("", None)] if "san" in os.path.basename(BUILD.rstrip("/")) else harness.simd_levels("reference")
    for i, (LEVEL, env) in enumerate(levels):
        if env is not None:
            os.environ["TEMPER_SIMD"] = env["TEMPER_SIMD"]
            os.environ.pop("TEMPER_NO_SIMD", None)
        QUICK = QUICK or i > 0
        test_gpt2()
        if harness.CROSS and i > 0:  # (portable under qemu: the same C as natively)
            continue
        test_stories()
        test_llama()
        if i > 0:
            continue
        test_opt()
        test_gpt_neo()
        test_gpt_neox()
        test_qwen()
        test_gemma3()
        test_formats()
    print("reference test: %.1f s%s" % (time.time() - t0, " (quick subset)" if QUICK and len(levels) == 1 else ""))
    sys.exit(harness.summary())


if __name__ == "__main__":
    main()
