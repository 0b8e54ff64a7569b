#!/usr/bin/python3
"""test_decode_large.py - the filters on vocabulary-sized rows (V up to
50,257), where temper never sorts: top-k bounds its threshold with set
maxima, top-p and typical-p use weighted quickselects, temperature waits
until a filter has shrunk the row. Each row goes through `temper softmax
--logits-file` and is compared with the numpy transcription of
transformers' sort-based warpers in test_decode.py, with the AVX-512
passes, once per SIMD level the CPU can run (the portable one included).

Rows: language-model-like (a head of a few dozen tokens above a normal
background), flat, peaked, with banned tokens, with many exact ties; the
values are multiples of 1/64 so that distinct scores stay distinct after
the float32 division by a temperature, and ties are common. The reference
keeps tied tokens together as temper documents (a token tied with a kept
one is kept, where transformers' sort would split them), so tied rows are
compared; only a row whose outcome sits within rounding of a threshold
(fp32 against fp64) is skipped and counted. At least half the compared
top-p rows keep 100 tokens or more (flat rows: nuclei of thousands).

Run: /usr/bin/python3 tests/py/test_decode_large.py   (TEMPER_BUILD: build dir)
Prints "N passed, N failed"; exits 1 on failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TEMPER  # noqa: E402
import test_decode as ref  # noqa: E402  the numpy warpers

NEG = -np.inf


def make_row(rng, V, shape):
    if shape == "lm":
        x = rng.normal(-80.0, 2.5, V)
        head = rng.integers(0, V, 40)
        x[head] += rng.uniform(6.0, 12.0, head.size)
    elif shape == "flat":
        x = rng.normal(0.0, 1.0, V)
    elif shape == "peaked":
        x = rng.normal(0.0, 2.0, V)
        x[rng.integers(0, V)] += 25.0
    else:  # "ties": few distinct values
        x = rng.integers(-6, 3, V).astype(np.float64)
    x = np.round(x * 64.0) / 64.0
    if rng.random() < 0.3:  # banned tokens
        x[rng.integers(0, V, max(1, V // 5))] = NEG
    return x


def scaled(x, t):
    """transformers divides float32 scores by the temperature in float32."""
    with np.errstate(invalid="ignore"):
        return (x.astype(np.float32) / np.float32(t)).astype(np.float64)




def near(s, name, v, keep):
    """Is the decision of stage `name` on scores s within rounding?"""
    fin = s[np.isfinite(s)]
    if fin.size == 0:
        return False
    p = ref.softmax(s)
    if name == "top_p":
        order = np.argsort(-s, kind="stable")
        c = np.cumsum(p[order])
        return bool(np.min(np.abs(c - v)) < 1e-6)
    if name in ("min_p", "epsilon_cutoff", "eta_cutoff"):
        cut = v * p.max() if name == "min_p" else v
        if name == "eta_cutoff":
            with np.errstate(divide="ignore", invalid="ignore"):
                ent = -np.nansum(p * np.log(p))
            cut = min(v, np.sqrt(v) * np.exp(-ent))
        return bool(np.min(np.abs(p[p > 0] - cut)) < 1e-5 * cut)
    if name == "typical_p":
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.log(p)
            ent = -np.nansum(logp * p)
            sh = np.abs(-logp - ent)
        order = np.argsort(sh, kind="stable")
        c = np.cumsum(p[order])
        last = min(int((c < v).sum()), s.size - 1)
        lim = sh[order][last]
        fsh = sh[np.isfinite(sh)]
        gaps = np.abs(fsh[fsh != lim] - lim)
        return bool(np.min(np.abs(c - v)) < 1e-6 or (gaps.size and gaps.min() < 1e-5))
    return False


def reference(x, params, order, keep):
    """The processed scores, or None when a stage's decision is within
    rounding of its threshold or splits tied tokens (not comparable)."""
    s = x.copy()
    for name in order:
        if name not in params:
            continue
        if name == "temperature":
            s = scaled(s, params[name])
            continue
        if near(s, name, params[name], keep):
            return None
        after = ref.WARPERS[name](s, params[name], keep)
        # a tie split by the sort order: temper keeps tied tokens together
        # (documented), so a removed token tied with a kept one stays
        kept = np.isfinite(after)
        tied = np.isfinite(s) & ~kept & np.isin(s, s[kept])
        if name == "typical_p" and tied.any():
            # typical_p's min_keep keeps exactly min_keep tokens of its
            # order in temper (transformers too), splitting a tie, while
            # temper.h says "the best ones, ties kept": not comparable
            return None
        s = np.where(kept | tied, s, NEG)
    return s


def run_row(x, params, keep, llama, env):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join("-inf" if not np.isfinite(v) else repr(float(v)) for v in x))
        path = f.name
    args = [TEMPER, "softmax", "--json", "--bar", "0", "--logits-file", path,
            "--min-keep", str(keep)]
    for k, v in params.items():
        args += [ref.FLAGS[k], str(v)]
    if llama:
        args += ["--sampler-order", "llama.cpp"]
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    os.unlink(path)
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()}"
    return np.array([r["prob_processed"] for r in json.loads(p.stdout)["rows"]]), ""


def random_params(rng, V, shape):
    """Flat rows always get a top-p and no small top-k: nuclei of hundreds
    to thousands of tokens, found by quickselect over the whole row."""
    params = {}
    if rng.random() < 0.7:
        params["temperature"] = float(np.round(rng.uniform(0.3, 2.0), 2))
    if shape == "flat":
        if rng.random() < 0.5:
            params["top_k"] = int(rng.choice([4000, V + 1]))
        params["top_p"] = float(np.round(rng.uniform(0.3, 0.99), 2))
    else:
        if rng.random() < 0.6:
            params["top_k"] = int(rng.choice([1, 5, 50, 1000, 4000, V + 1]))
        if rng.random() < 0.6:
            params["top_p"] = float(np.round(rng.uniform(0.05, 0.99), 2))
    if rng.random() < 0.4:
        params["min_p"] = float(np.round(rng.uniform(0.001, 0.3), 3))
    if rng.random() < 0.2:
        params["typical_p"] = float(np.round(rng.uniform(0.2, 0.95), 2))
    if rng.random() < 0.15:
        params["epsilon_cutoff"] = float(rng.choice([1e-6, 1e-5, 3e-4]))
    if rng.random() < 0.15:
        params["eta_cutoff"] = float(rng.choice([1e-5, 1e-4, 1e-3]))
    return params


def compare(n_cases, env, label, seed):
    rng = np.random.default_rng(seed)
    done = skipped = nontrivial = top_p_rows = top_p_large = 0
    while done < n_cases:
        V = int(rng.choice([50257, 32000, 4097, 1025, 70]))
        shape = str(rng.choice(["lm", "lm", "flat", "flat", "peaked", "ties"]))
        x = make_row(rng, V, shape)
        if not np.isfinite(x).any():
            continue
        params = random_params(rng, V, shape)
        keep = int(rng.choice([1, 1, 1, 2, 3, 100]))
        llama = rng.random() < 0.35
        order = ref.LLAMA_ORDER if llama else ref.HF_ORDER
        want_s = reference(x, params, order, keep)
        if want_s is None:
            skipped += 1
            continue
        want = ref.softmax(want_s)
        got, err = run_row(x, params, keep, llama, env)
        what = f"{label} V={V} {shape} {params} keep={keep} llama={llama}"
        done += 1
        if got is None:
            harness.check(what, False, err)
            continue
        n_kept = int((want > 0).sum())
        nontrivial += 1 < n_kept < V
        if "top_p" in params and params.get("top_k", 0) != 1:
            top_p_rows += 1
            top_p_large += n_kept >= 100
        kept_ok = np.array_equal(got > 0, want > 0)
        harness.check(what + " kept set", kept_ok,
                      f"got {int((got > 0).sum())} kept, want {int((want > 0).sum())}; "
                      f"differ at {np.flatnonzero((got > 0) != (want > 0))[:10]}")
        harness.check_close(what + " probabilities", got, want, rtol=1e-4, atol=1e-7, n=V)
    print(f"{label}: {done} rows compared ({nontrivial} keep 2..V-1 tokens; {top_p_large} of "
          f"{top_p_rows} top-p rows keep >= 100), {skipped} skipped near a threshold")
    harness.check(f"{label}: at least 2/3 of the rows filter something and keep more than one token",
                  3 * nontrivial >= 2 * done, f"{nontrivial} of {done}")
    harness.check(f"{label}: half the top-p rows keep >= 100 tokens",
                  top_p_rows >= n_cases // 4 and 2 * top_p_large >= top_p_rows,
                  f"{top_p_large} of {top_p_rows}")


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing(f"{TEMPER} not built")
    for level, env in harness.simd_levels("vocabulary-sized rows"):
        compare(20, env, level, 7)  # the same rows at each level
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
