#!/usr/bin/python3
# san: yes
"""test_analysis.py - `temper score`, `perplexity`, `attention`, `hidden`
and `trace` (issue 5) against an independent numpy forward pass
(tests/ref/ref_gpt2.py, float64) on a random GPT-2 (tests/ref/make_model.py).

- score: every token's log-prob and tempered log-prob, the log-likelihood,
  power and temperature scores, mean and perplexity (1e-4);
- perplexity: transformers' guide loop written here in numpy (labels -100
  before the last trg_len tokens, the internal shift, outputs.loss as the
  mean over the valid labels, num_loss_tokens = valid - 1), with and
  without stride: windows, weighted NLL, perplexity (1e-4 relative);
- attention: the probabilities of every layer and head (1e-4), rows sum
  to 1, exact zeros above the diagonal;
- hidden: transformers' output_hidden_states (1e-4), the statistics, and
  the 2-D PCA against an SVD with scikit-learn 1.3's svd_flip;
- trace: logits statistics, softmax top 5 and the greedy continuation;
- seed 000's point on a hand-built model (the worked example of
  power-sampling.md section 4): `score --pairs --bos "a b" "b a"` shows a
  positive gap for log p and alpha log p and a negative one for the
  temperature score;
- usage errors: one line, exit 2.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_analysis.py
"""
import json
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FIXTURES, MODELS, TEMPER, check  # noqa: E402
import ref_gpt2  # noqa: E402
import safetensors_io as st  # noqa: E402

MODEL = os.path.join(MODELS, "analysis-gpt2-l2-e64-f32")
TOY = os.path.join(MODELS, "analysis-toy-power-v1")


def close(name, got, want, tol, rel=False):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        check(name, False, f"shape {got.shape} != {want.shape}")
        return
    lim = tol * np.maximum(np.abs(want), 1.0) if rel else np.full(want.shape, float(tol))
    harness.check_close(name, got.ravel(), want.ravel(), lim=lim.ravel())


def temper(*args):
    r = subprocess.run([TEMPER, *args], capture_output=True, timeout=300)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def temper_json(name, *args):
    rc, out, err = temper(*args, "--json")
    check(f"{name}: exit 0", rc == 0, err[-2000:])
    try:
        return json.loads(out)
    except ValueError:
        check(f"{name}: JSON", False, out[:300])
        return None


def make_model():
    harness.model_folder(MODEL, ["--arch", "gpt2", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
                                 "--n-ctx", "128", "--dtype", "f32", "--seed", "0"])


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def ids_arg(ids):
    return ",".join(str(int(i)) for i in ids)


# --------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------

def test_score(ref):
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 50257, 9), rng.integers(0, 50257, 17)]
    alpha, T = 3.0, 0.7
    args = ["score", "-m", MODEL, "--alpha", str(alpha), "--temp", str(T)]
    for s in seqs:
        args += ["--prompt-ids", ids_arg(s)]
    out = temper_json("score", *args)
    if not out:
        return
    check("score: two results", len(out["results"]) == 2, str(len(out["results"])))
    for k, (s, res) in enumerate(zip(seqs, out["results"])):
        z = ref.forward(s)["logits"]                       # (n, V)
        lp = log_softmax(z)[np.arange(len(s) - 1), s[1:]]
        tlp = log_softmax(z / T)[np.arange(len(s) - 1), s[1:]]
        toks = res["logprobs"]
        check(f"score {k}: ids", [t["id"] for t in toks] == [int(i) for i in s])
        check(f"score {k}: first token not scored", toks[0]["logprob"] is None)
        close(f"score {k}: token log-probs", [t["logprob"] for t in toks[1:]], lp, 1e-4)
        close(f"score {k}: tempered log-probs", [t["temp_logprob"] for t in toks[1:]], tlp, 1e-4)
        close(f"score {k}: log_prob", res["log_prob"], lp.sum(), 1e-4)
        close(f"score {k}: power_score", res["power_score"], alpha * lp.sum(), 1e-4)
        close(f"score {k}: temp_score", res["temp_score"], tlp.sum(), 1e-4)
        close(f"score {k}: mean_log_prob", res["mean_log_prob"], lp.mean(), 1e-4)
        close(f"score {k}: perplexity", res["perplexity"], math.exp(-lp.mean()), 1e-4, rel=True)
        check(f"score {k}: n_tokens", res["n_tokens"] == len(s))

    # --bos: <|endoftext|> in front, every token of the text scored.
    text = "The capital of France is Paris."
    out = temper_json("score --bos", "score", "-m", MODEL, "--bos", text)
    if out:
        res = out["results"][0]
        ids = [t["id"] for t in res["logprobs"]]
        check("score --bos: BOS first", ids[0] == 50256, str(ids[:3]))
        check("score --bos: text kept", res["text"] == text, res["text"])
        lp = log_softmax(ref.forward(ids)["logits"])[np.arange(len(ids) - 1), ids[1:]]
        close("score --bos: log_prob", res["log_prob"], lp.sum(), 1e-4)
        check("score --bos: n_scored = text tokens", res["n_scored"] == len(ids) - 1)

    # --pairs: the table and the gaps
    a, b = rng.integers(0, 50257, 6), rng.integers(0, 50257, 6)
    out = temper_json("score --pairs", "score", "-m", MODEL, "--pairs",
                      "--prompt-ids", ids_arg(a), "--prompt-ids", ids_arg(b))
    if out:
        r0, r1 = out["results"]
        p = out["pairs"][0]
        close("score --pairs: gap", [p["gap_log_prob"], p["gap_power_score"], p["gap_temp_score"]],
              [r0["log_prob"] - r1["log_prob"], r0["power_score"] - r1["power_score"],
               r0["temp_score"] - r1["temp_score"]], 1e-9)
    rc, out, err = temper("score", "-m", MODEL, "--pairs", "--prompt-ids", ids_arg(a),
                          "--prompt-ids", ids_arg(b))
    check("score --pairs table: exit 0", rc == 0, err)
    check("score --pairs table: seed 000 columns",
          all(w in out for w in ("Method", "Pair 1", "Gap (A-B)", "Raw log p", "Power (a=2)",
                                 "Temp (T=0.5)")), out)


# --------------------------------------------------------------------------
# perplexity: the guide's loop in numpy
# --------------------------------------------------------------------------

def guide_perplexity(ref, ids, max_length, stride):
    """transformers' "Perplexity of fixed-length models" loop, with the
    labels/-100/shift semantics of GPT2LMHeadModel's loss written out."""
    seq_len = len(ids)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    windows = []
    token_nll = {}
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = np.asarray(ids[begin_loc:end_loc])
        target_ids = input_ids.copy()
        if trg_len < len(target_ids):
            target_ids[:-trg_len] = -100          # target_ids[:, :-trg_len] = -100
        logits = ref.forward(input_ids)["logits"]
        shift_logits, shift_labels = logits[:-1], target_ids[1:]
        valid = shift_labels != -100
        lp = log_softmax(shift_logits)[np.arange(len(shift_labels)), np.where(valid, shift_labels, 0)]
        loss = -lp[valid].mean()                  # CrossEntropyLoss(ignore_index=-100), mean
        for j in np.nonzero(valid)[0]:
            token_nll[begin_loc + j + 1] = -lp[j]
        num_valid_tokens = int((target_ids != -100).sum())
        num_loss_tokens = num_valid_tokens - 1    # batch_size 1
        nll_sum += loss * num_loss_tokens
        n_tokens += num_loss_tokens
        windows.append((begin_loc, end_loc, trg_len, int(valid.sum()), num_loss_tokens, loss))
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    avg_nll = nll_sum / n_tokens
    return avg_nll, math.exp(avg_nll), windows, token_nll


def test_perplexity(ref):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 50257, 90)
    # 90 tokens: no last window of a single token (the guide's loss is NaN there)
    for max_length, stride in ((32, 12), (32, 32), (40, 7), (128, 128)):
        name = f"perplexity L={max_length} S={stride}"
        out = temper_json(name, "perplexity", "-m", MODEL, "--max-length", str(max_length),
                          "--stride", str(stride), "--prompt-ids", ids_arg(ids))
        if not out:
            continue
        r = out["results"][0]
        avg_nll, ppl, windows, token_nll = guide_perplexity(ref, ids, max_length, stride)
        got = [(w["begin"], w["end"], w["trg_len"], w["n_scored"], w["weight"]) for w in r["windows"]]
        check(f"{name}: windows", got == [w[:5] for w in windows], f"{got} vs {[w[:5] for w in windows]}")
        close(f"{name}: window NLLs", [w["nll"] for w in r["windows"]], [w[5] for w in windows], 1e-4)
        close(f"{name}: guide NLL", r["nll"], avg_nll, 1e-4)
        close(f"{name}: guide perplexity", r["perplexity"], ppl, 1e-4, rel=True)
        scored = sorted(token_nll)
        if stride < max_length:
            check(f"{name}: every token scored once", scored == list(range(1, len(ids))))
        else:  # disjoint windows: a window's first token has no context in it
            check(f"{name}: window starts not scored",
                  scored == [i for i in range(1, len(ids)) if i % max_length], str(scored))
        check(f"{name}: n_scored", r["n_scored"] == len(scored))
        t = np.array([token_nll[i] for i in scored])
        close(f"{name}: token NLL", r["token_nll"], t.mean(), 1e-4)
        close(f"{name}: token perplexity", r["token_perplexity"], math.exp(t.mean()), 1e-4, rel=True)
        se = t.std(ddof=1) / math.sqrt(len(t))
        close(f"{name}: standard error", r["nll_stderr"], se, 1e-4)
        if stride == max_length:  # disjoint windows: the weights are the scored counts
            close(f"{name}: guide = mean of scored tokens", r["nll"],
                  np.mean([v for w in windows for v in [w[5]] * w[3]]), 1e-4)
    # a text in one window: exp(loss) of labels=input_ids, as seed 004
    short = ids[:20]
    out = temper_json("perplexity one window", "perplexity", "-m", MODEL, "--prompt-ids", ids_arg(short))
    if out:
        lp = log_softmax(ref.forward(short)["logits"])[np.arange(19), short[1:]]
        close("perplexity one window: exp(loss)", out["results"][0]["perplexity"],
              math.exp(-lp.mean()), 1e-4, rel=True)
    # several texts: the comparison table
    rc, out, err = temper("perplexity", "-m", MODEL, "Paris est la capitale de la France.",
                          "Le le le le le le le le le le")
    check("perplexity compare: exit 0", rc == 0, err)
    check("perplexity compare: two rows", out.count("\n") == 3 and "log scale" in out, out)


# --------------------------------------------------------------------------
# attention, hidden states, trace
# --------------------------------------------------------------------------

def test_attention(ref):
    ids = np.random.default_rng(11).integers(0, 50257, 12)
    want = ref.forward(ids, want_attn=True)["attn"]        # (L, H, T, T)
    out = temper_json("attention", "attention", "-m", MODEL, "--prompt-ids", ids_arg(ids))
    if out:
        got = np.array([[h["weights"] for h in l["heads"]] for l in out["layers"]])
        close("attention: all layers and heads", got, want, 1e-4)
        close("attention: rows sum to 1", got.sum(axis=-1), np.ones(got.shape[:-1]), 1e-5)
        upper = np.triu(np.ones((12, 12), dtype=bool), 1)
        check("attention: causal zeros", np.all(got[..., upper] == 0))
        check("attention: tokens", len(out["tokens"]) == 12 and out["ids"] == [int(i) for i in ids])
    out = temper_json("attention --layer --head", "attention", "-m", MODEL, "--layer", "1",
                      "--head", "-1", "--prompt-ids", ids_arg(ids))
    if out:
        check("attention --layer 1 --head -1: one head",
              len(out["layers"]) == 1 and out["layers"][0]["layer"] == 1
              and [h["head"] for h in out["layers"][0]["heads"]] == [3])
        close("attention --layer 1 --head -1: weights", out["layers"][0]["heads"][0]["weights"],
              want[1, 3], 1e-4)
    out = temper_json("attention --layer -1", "attention", "-m", MODEL, "--layer", "-1",
                      "--prompt-ids", ids_arg(ids))
    if out:  # only the last layer is captured (temper_eval_capture_layers)
        check("attention --layer -1: the last layer", [l["layer"] for l in out["layers"]] == [1])
        close("attention --layer -1: its heads",
              np.array([h["weights"] for h in out["layers"][0]["heads"]]), want[1], 1e-4)
    rc, out, err = temper("attention", "-m", MODEL, "--csv", "--layer", "0", "--head", "0",
                          "--prompt-ids", ids_arg(ids[:4]))
    rows = out.strip().split("\n")
    check("attention --csv: header + 16 rows", rc == 0 and len(rows) == 17, out[:200])
    if rc == 0 and len(rows) == 17:
        close("attention --csv: weights", [float(r.rsplit(",", 1)[1]) for r in rows[1:]],
              ref.forward(ids[:4], want_attn=True)["attn"][0, 0].reshape(-1), 1e-4)
    for extra in ([], ["--head", "2"]):
        rc, out, err = temper("attention", "-m", MODEL, *extra, "The cat sat on the mat")
        check(f"attention heatmap {extra}: exit 0 and legend", rc == 0 and "legend" in out
              and "\u00b7" in out, err)


def sklearn_pca(x, k=2):
    """PCA(n_components=k).fit_transform(x) of scikit-learn 1.3: SVD of the
    centred data, U's columns flipped so their largest |entry| is positive."""
    xc = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), range(u.shape[1])])
    u = u * signs
    ratio = (s ** 2) / (s ** 2).sum()
    return (u * s)[:, :k], ratio[:k]


def test_hidden(ref):
    ids = np.random.default_rng(13).integers(0, 50257, 10)
    want = ref.forward(ids, want_hidden=True)["hidden_hf"]  # (L + 1, T, C)
    out = temper_json("hidden", "hidden", "-m", MODEL, "--pca", "--prompt-ids", ids_arg(ids))
    if out:
        got = np.array([l["states"] for l in out["layers"]])
        close("hidden: output_hidden_states", got, want, 1e-4)
        check("hidden: numbering 0..L", [l["layer"] for l in out["layers"]] == [0, 1, 2])
        for l in out["layers"]:
            x = want[l["layer"]]
            close(f"hidden: layer {l['layer']} stats", [l["min"], l["max"], l["mean"], l["std"]],
                  [x.min(), x.max(), x.mean(), x.std()], 1e-4)
            t0 = l["token_stats"][0]
            close(f"hidden: layer {l['layer']} first token stats",
                  [t0["min"], t0["max"], t0["mean"], t0["std"], t0["norm"]],
                  [x[0].min(), x[0].max(), x[0].mean(), x[0].std(), np.linalg.norm(x[0])], 1e-4)
        proj, ratio = sklearn_pca(want[-1])
        close("hidden --pca: explained variance ratio", out["pca"]["explained_variance_ratio"], ratio, 1e-4)
        close("hidden --pca: points", out["pca"]["points"], proj, 1e-3)
        check("hidden --pca: last layer by default", out["pca"]["layer"] == 2)
    # PCA of layer 0, more tokens than dimensions would need n > 64: the
    # covariance path is checked by the unit test; here layer 0, 10 tokens.
    out = temper_json("hidden --layer 0", "hidden", "-m", MODEL, "--layer", "0", "--project", "pca",
                      "--prompt-ids", ids_arg(ids))
    if out:
        check("hidden --layer 0: one layer", [l["layer"] for l in out["layers"]] == [0])
        proj, ratio = sklearn_pca(want[0])
        close("hidden --layer 0 --pca: points", out["pca"]["points"], proj, 1e-3)
    rc, out, err = temper("hidden", "-m", MODEL, "--pca", "The cat sat on the mat")
    check("hidden text: exit 0, table and plot", rc == 0 and "explained variance" in out
          and "PC1" in out, err)


def test_trace(ref):
    ids = [464, 3797, 3332]
    out = temper_json("trace", "trace", "-m", MODEL, "-n", "5", "--prompt-ids", ids_arg(ids))
    if not out:
        return
    z = ref.forward(ids)["logits"][-1]
    close("trace: logits min/max/mean", [out["logits"]["min"], out["logits"]["max"], out["logits"]["mean"]],
          [z.min(), z.max(), z.mean()], 1e-4)
    close("trace: softmax sum", out["softmax_sum"], 1.0, 1e-9)
    top = np.argsort(-z, kind="stable")[:5]
    check("trace: top 5 ids", [t["id"] for t in out["top"]] == [int(i) for i in top],
          f"{[t['id'] for t in out['top']]} vs {top}")
    p = np.exp(log_softmax(z))
    close("trace: top 5 probs", [t["prob"] for t in out["top"]], p[top], 1e-5)
    seq = list(ids)
    for _ in range(5):  # the greedy chain
        seq.append(int(np.argmax(ref.forward(seq)["logits"][-1])))
    check("trace: greedy continuation", out["continuation_ids"] == seq[3:],
          f"{out['continuation_ids']} vs {seq[3:]}")
    check("trace: shapes", out["embedding_shape"] == [3, 64] and out["n_layer"] == 2 and out["n_head"] == 4)
    rc, txt, err = temper("trace", "-m", MODEL, "-n", "3", "The cat sat")
    check("trace text: the 8 steps", rc == 0 and all(f"{k}. " in txt for k in range(1, 9)), err + txt)
    rc, txt, err = temper("trace", "-m", MODEL, "-n", "3", "--temp", "0.7", "-s", "1", "The cat sat")
    check("trace text: sampling settings shown", rc == 0 and "temperature 0.7" in txt and "seed 1" in txt,
          err + txt)


# --------------------------------------------------------------------------
# seed 000 on a hand-built model
# --------------------------------------------------------------------------

def make_toy():
    """GPT-2 with one block whose matrices are all 0 (it adds nothing), no
    position embeddings and an untied head: the next-token logits depend on
    the current token only, through LN(wte[token]). wte rows are one-hot
    e_0 (BOS), e_1 ("a"), e_2 ("b"), so LN gives u_d = (e_d - 1/4) /
    sqrt(3/16 + eps) and a head row c with sum(c) = 0 has logit
    c_d / sqrt(3/16 + eps) after token d. Distributions (power-sampling.md
    section 4): after BOS "a" 0.4, "b" 0.6; after "a": " b" 1; after "b":
    " a", " b" 1/2 each; every other token logit -40."""
    V, C, P = 50257, 4, 16
    BOS, A, B, SA, SB = 50256, 64, 65, 257, 275
    alpha = 1 / math.sqrt(3 / 16 + 1e-5)
    wte = np.zeros((V, C), np.float32)
    wte[BOS, 0] = wte[A, 1] = wte[B, 2] = 1

    def row(l):
        c = np.array(l, np.float64) / alpha
        return np.append(c, -c.sum())
    head = np.tile(row([-40, -40, -40]), (V, 1)).astype(np.float32)
    head[A] = row([math.log(0.4), -40, -40])
    head[B] = row([math.log(0.6), -40, -40])
    head[SA] = row([-40, -40, 0])
    head[SB] = row([-40, 0, 0])
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    o = lambda n: np.ones(n, np.float32)    # noqa: E731
    tensors = [("wte.weight", wte), ("wpe.weight", z(P, C)),
               ("h.0.ln_1.weight", o(C)), ("h.0.ln_1.bias", z(C)),
               ("h.0.attn.c_attn.weight", z(C, 3 * C)), ("h.0.attn.c_attn.bias", z(3 * C)),
               ("h.0.attn.c_proj.weight", z(C, C)), ("h.0.attn.c_proj.bias", z(C)),
               ("h.0.ln_2.weight", o(C)), ("h.0.ln_2.bias", z(C)),
               ("h.0.mlp.c_fc.weight", z(C, 4 * C)), ("h.0.mlp.c_fc.bias", z(4 * C)),
               ("h.0.mlp.c_proj.weight", z(4 * C, C)), ("h.0.mlp.c_proj.bias", z(C)),
               ("ln_f.weight", o(C)), ("ln_f.bias", z(C)), ("lm_head.weight", head)]
    os.makedirs(TOY, exist_ok=True)
    st.write(os.path.join(TOY, "model.safetensors"), tensors, dtype="F32")
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V,
              "n_embd": C, "n_head": 1, "n_layer": 1, "n_inner": 4 * C, "n_positions": P,
              "n_ctx": P, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
              "tie_word_embeddings": False, "bos_token_id": BOS, "eos_token_id": BOS}
    with open(os.path.join(TOY, "config.json"), "w") as f:
        json.dump(config, f)
    for fn in ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"):
        with open(os.path.join(FIXTURES, "gpt2", fn), "rb") as src, open(os.path.join(TOY, fn), "wb") as dst:
            dst.write(src.read())


def test_power_vs_temperature():
    make_toy()
    out = temper_json("toy score", "score", "-m", TOY, "--bos", "--pairs", "a b", "b a")
    if not out:
        return
    a, b = out["results"]
    check("toy: tokens of 'a b'", a["ids"] == [50256, 64, 275], str(a["ids"]))
    close("toy: log p(a b) = ln 0.4", a["log_prob"], math.log(0.4), 1e-5)
    close("toy: log p(b a) = ln 0.3", b["log_prob"], math.log(0.3), 1e-5)
    close("toy: temperature scores (0.3077, 0.3462)", [math.exp(a["temp_score"]), math.exp(b["temp_score"])],
          [0.4 ** 2 / 0.52, 0.6 ** 2 / 0.52 * 0.5], 1e-5)
    p = out["pairs"][0]
    check("toy: log p prefers 'a b'", p["gap_log_prob"] > 0, str(p))
    check("toy: alpha log p keeps the order", p["gap_power_score"] > 0, str(p))
    check("toy: the temperature score reverses it", p["gap_temp_score"] < 0, str(p))
    rc, txt, err = temper("score", "-m", TOY, "--bos", "--pairs", "a b", "b a")
    check("toy: the table says so", rc == 0 and txt.count("order reversed") == 1, txt + err)
    # alpha log p keeps the order for any alpha; the temperature score flips for T < 1 here
    for alpha in ("0.5", "4"):
        out = temper_json("toy alpha", "score", "-m", TOY, "--bos", "--pairs", "--alpha", alpha,
                          "--temp", "0.25", "a b", "b a")
        if out:
            check(f"toy alpha {alpha}: power order kept", out["pairs"][0]["gap_power_score"] > 0)
            check(f"toy T 0.25: reversed", out["pairs"][0]["gap_temp_score"] < 0)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def expect_usage(name, args, word):
    rc, out, err = temper(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    check(f"{name}: exit 2, one line naming {word!r}",
          rc == 2 and len(lines) == 1 and lines[0].startswith("temper: ") and word in lines[0],
          f"rc={rc} {err!r}")


def test_errors():
    expect_usage("score --pairs odd", ["score", "-m", MODEL, "--pairs", "a b", "c d", "e"], "--pairs")
    expect_usage("score --temp 0", ["score", "-m", MODEL, "--temp", "0", "x y"], "--temp")
    expect_usage("score one token", ["score", "-m", MODEL, "--prompt-ids", "464"], "--bos")
    expect_usage("perplexity stride > L", ["perplexity", "-m", MODEL, "--max-length", "8",
                                           "--stride", "9", "a b c"], "--stride")
    expect_usage("perplexity L > n_ctx", ["perplexity", "-m", MODEL, "--max-length", "4096", "a b"],
                 "--max-length")
    expect_usage("attention --layer", ["attention", "-m", MODEL, "--layer", "2", "a b"], "--layer")
    expect_usage("attention --csv --json", ["attention", "-m", MODEL, "--csv", "--json", "a"], "--csv")
    expect_usage("hidden --layer", ["hidden", "-m", MODEL, "--layer", "3", "a b"], "--layer")
    expect_usage("hidden --project", ["hidden", "-m", MODEL, "--project", "lle", "a b"], "--project")


def main():
    if not os.path.exists(TEMPER):
        return harness.missing(f"{TEMPER} not built")
    make_model()
    ref = ref_gpt2.GPT2(MODEL)
    for t in (test_score, test_perplexity, test_attention, test_hidden, test_trace):
        t(ref)
    test_power_vs_temperature()
    test_errors()
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
