#!/usr/bin/python3
"""test_decode.py - the decoding filters of `temper softmax` against an
independent numpy transcription of transformers' warpers (sort-based, the
way logits_process.py writes them), on random rows, in both orders; the
documented random streams (xoshiro256** seeded by splitmix64) and the
inverse-CDF draw, re-implemented here; the CLI's errors and seed 002's
table.

Run: /usr/bin/python3 tests/py/test_decode.py   (TEMPER_BUILD: build dir)
Prints "N passed, N failed"; exits 1 on failure.
"""
# san: yes
import json
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TEMPER  # noqa: E402

NEG = -np.inf


def check(cond, what):
    harness.check(what, cond)


def run(args):
    p = subprocess.run([TEMPER, "softmax"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


# ---- transformers' warpers, transcribed (float64, one row) ----

def softmax(s):
    m = np.max(s)
    e = np.exp(s - m)
    return e / e.sum()


def w_temperature(s, t, keep):
    return s / t


def w_top_k(s, k, keep):
    k = min(max(k, keep), s.size)
    kth = np.sort(s)[::-1][k - 1]
    return np.where(s < kth, NEG, s)


def w_top_p(s, p, keep):
    order = np.argsort(s, kind="stable")  # ascending
    cum = np.cumsum(softmax(s[order]))
    remove = cum <= 1 - p
    remove[-keep:] = False
    out = s.copy()
    out[order[remove]] = NEG
    return out


def w_min_p(s, mp, keep):
    probs = softmax(s)
    remove = probs < mp * probs.max()
    order = np.argsort(-s, kind="stable")
    remove[order[:keep]] = False
    return np.where(remove, NEG, s)


def w_typical(s, mass, keep):
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = s - np.max(s) - np.log(np.exp(s - np.max(s)).sum())
        p = np.exp(logp)
        ent = -np.nansum(logp * p)
        shifted = np.abs(-logp - ent)
    order = np.argsort(shifted, kind="stable")
    cum = np.cumsum(softmax(s[order]))
    last = min(int((cum < mass).sum()), s.size - 1)
    remove_sorted = shifted[order] > shifted[order][last]
    remove_sorted[:keep] = False
    out = s.copy()
    out[order[remove_sorted]] = NEG
    return out


def w_epsilon(s, eps, keep):
    probs = softmax(s)
    kth = np.sort(s)[::-1][min(keep, s.size) - 1]
    return np.where((probs < eps) & (s < kth), NEG, s)


def w_eta(s, eps, keep):
    probs = softmax(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(probs * np.log(probs))
    eta = min(eps, math.sqrt(eps) * math.exp(-ent))
    kth = np.sort(s)[::-1][min(keep, s.size) - 1]
    return np.where((probs < eta) & (s < kth), NEG, s)


HF_ORDER = ["temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff"]
LLAMA_ORDER = ["top_k", "typical_p", "top_p", "min_p", "epsilon_cutoff", "eta_cutoff", "temperature"]
WARPERS = {"temperature": w_temperature, "top_k": w_top_k, "top_p": w_top_p, "min_p": w_min_p,
           "typical_p": w_typical, "epsilon_cutoff": w_epsilon, "eta_cutoff": w_eta}
FLAGS = {"temperature": "--temp", "top_k": "--top-k", "top_p": "--top-p", "min_p": "--min-p",
         "typical_p": "--typical-p", "epsilon_cutoff": "--epsilon-cutoff",
         "eta_cutoff": "--eta-cutoff"}


def reference(logits, params, order, keep):
    s = np.array(logits, dtype=np.float64)
    for name in order:
        if name in params:
            s = WARPERS[name](s, params[name], keep)
    return softmax(s)


def near_boundary(logits, params, order, keep):
    """True when a filter decision is within rounding of its threshold:
    such rows are skipped (fp32 vs fp64 may legitimately differ there)."""
    s = np.array(logits, dtype=np.float64)
    for name in order:
        if name not in params:
            continue
        v = params[name]
        fin = s[np.isfinite(s)]
        if name == "top_p":
            c = np.cumsum(np.sort(softmax(s))[::-1])
            if np.min(np.abs(c - v)) < 1e-5:
                return True
        if name == "min_p":
            pr = softmax(s)
            if np.min(np.abs(pr[pr > 0] - v * pr.max())) < 1e-6:
                return True
        if name in ("epsilon_cutoff", "eta_cutoff"):
            pr = softmax(s)
            cut = v
            if name == "eta_cutoff":
                with np.errstate(divide="ignore", invalid="ignore"):
                    ent = -np.nansum(pr * np.log(pr))
                cut = min(v, math.sqrt(v) * math.exp(-ent))
            if np.min(np.abs(pr[pr > 0] - cut)) < 1e-6:
                return True
        if name == "typical_p":
            with np.errstate(divide="ignore", invalid="ignore"):
                logp = np.log(softmax(s))
                pr = np.exp(logp)
                ent = -np.nansum(logp * pr)
                sh = np.sort(np.abs(-logp[np.isfinite(logp)] - ent))
            order_ = np.argsort(np.abs(-logp - ent), kind="stable")
            c = np.cumsum(softmax(s[order_]))
            if np.min(np.abs(c - v)) < 1e-5 or (sh.size > 1 and np.min(np.diff(sh)) < 1e-5):
                return True
        if name == "top_k" and fin.size > 1 and np.min(np.diff(np.sort(fin))) < 1e-6:
            return True
        s = WARPERS[name](s, v, keep)
    return False


def compare_filters():
    rng = np.random.default_rng(20241122)
    cases = 0
    while cases < 120:
        V = int(rng.integers(2, 40))
        logits = np.round(rng.normal(0, 2, V), 3)
        if rng.random() < 0.2:  # some banned tokens
            logits[rng.integers(0, V)] = -np.inf
        if not np.isfinite(logits).any():
            continue
        params = {}
        if rng.random() < 0.7:
            params["temperature"] = float(np.round(rng.uniform(0.3, 2.0), 2))
        if rng.random() < 0.5:
            params["top_k"] = int(rng.integers(1, V + 2))
        if rng.random() < 0.5:
            params["top_p"] = float(np.round(rng.uniform(0.05, 0.99), 2))
        if rng.random() < 0.4:
            params["min_p"] = float(np.round(rng.uniform(0.01, 0.6), 2))
        if rng.random() < 0.25:
            params["typical_p"] = float(np.round(rng.uniform(0.2, 0.95), 2))
        if rng.random() < 0.2:
            params["epsilon_cutoff"] = float(np.round(rng.uniform(0.01, 0.3), 3))
        if rng.random() < 0.2:
            params["eta_cutoff"] = float(np.round(rng.uniform(0.01, 0.5), 3))
        keep = int(rng.integers(1, 4)) if rng.random() < 0.3 else 1
        llama = rng.random() < 0.35
        order = LLAMA_ORDER if llama else HF_ORDER
        if near_boundary(logits, params, order, keep):
            continue
        want = reference(logits, params, order, keep)
        args = ["--json", "--logits", ",".join("-inf" if not np.isfinite(x) else repr(float(x))
                                               for x in logits),
                "--min-keep", str(keep)]
        for k, v in params.items():
            args += [FLAGS[k], str(v)]
        if llama:
            args += ["--sampler-order", "llama.cpp"]
        rc, out, err = run(args)
        if rc != 0:
            check(False, f"softmax {args}: exit {rc}: {err.strip()}")
            cases += 1
            continue
        got = np.array([r["prob_processed"] for r in json.loads(out)["rows"]])
        what = f"filters {params} keep={keep} llama={llama} logits={list(logits)}"
        # the kept set exactly, then each probability to float32 rounding
        harness.check_same(what + " kept set", list(got > 0), list(want > 0))
        harness.check_close(what + " probabilities", got, want, rtol=1e-5, atol=1e-12, n=V)
        cases += 1


def compare_explicit_order():
    """--samplers gives the same as the named order it spells out."""
    logits = "2.0,1.3,0.7,0.1,-0.4,-1.0"
    base = ["--json", "--logits", logits, "--temp", "0.6", "--top-k", "4", "--top-p", "0.8",
            "--min-p", "0.1"]
    probs = []
    for extra in (["--sampler-order", "llama.cpp"], ["--samplers", "top_k,top_p,min_p,temperature"],
                  ["--samplers", "temperature,top_k,top_p,min_p"], []):
        rc, out, err = run(base + extra)
        check(rc == 0, f"softmax {extra}: exit {rc}: {err.strip()}")
        probs.append([r["prob_processed"] for r in json.loads(out)["rows"]] if rc == 0 else [])
    pa, pb, pc, pd = probs
    harness.check_same("llama.cpp preset == explicit list", pa, pb)
    harness.check_same("hf default == explicit list", pc, pd)
    check(len(pa) == 6 and len(pd) == 6 and pa != pd, "the two orders differ on this row")


# ---- the documented random streams and the draw ----

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def splitmix_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Xoshiro:
    def __init__(self, seed, stream):
        x = splitmix_mix((seed + stream * GOLDEN) & M64)
        self.s = []
        for _ in range(4):
            x = (x + GOLDEN) & M64
            self.s.append(splitmix_mix(x))

    def next(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        out = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return out

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def compare_draws():
    logits = [1.5, 0.2, -0.3, 2.2, 0.9, -1.0, 0.0, 1.1]
    for seed, args, params in ((0, [], {}), (42, ["--top-k", "5"], {"top_k": 5}),
                               (123456789, ["--temp", "0.7", "--top-p", "0.9"],
                                {"temperature": 0.7, "top_p": 0.9})):
        n = 400
        rc, out, err = run(["--json", "--logits", ",".join(map(str, logits)), "--sample", str(n),
                            "--seed", str(seed)] + args)
        if rc != 0:
            check(False, f"draws: exit {rc}: {err.strip()}")
            continue
        doc = json.loads(out)
        # the CDF of the numpy reference (not temper's own probabilities)
        scaled = list(np.float32(logits) / np.float32(params.get("temperature", 1.0)))
        cdf = np.cumsum(reference(scaled, {k: v for k, v in params.items() if k != "temperature"},
                                  HF_ORDER, 1))
        check(len(doc["samples"]) == n, f"draws seed {seed} {args}: {len(doc['samples'])} samples, want {n}")
        g = Xoshiro(seed, 0)
        mismatches = skipped = 0
        for k, got in enumerate(doc["samples"]):
            u = g.uniform()
            # first token whose running mass exceeds u (ids in increasing order)
            j = int(np.searchsorted(cdf, u, side="right"))
            j = min(j, len(logits) - 1)
            if np.min(np.abs(cdf - u)) < 1e-6:
                skipped += 1  # within rounding of a boundary
                continue
            mismatches += got != j
        check(mismatches == 0 and skipped < 5,
              f"draws seed {seed} {args}: {mismatches} differ from the documented stream")


# ---- tables and errors ----

def seed_002_table():
    rc, out, _ = run(["--json", "--logits", "1.1,0.5,0.85,0.97,1.2,0.3",
                      "--tokens", "the,quick,brown,fox,jumped,over", "--temps", "1,1.95"])
    check(rc == 0, "seed 002 table runs")
    if rc != 0:
        return
    doc = json.loads(out)["temperatures"]
    want1 = [0.21, 0.12, 0.16, 0.18, 0.23, 0.09]       # the notebook's output
    want195 = [0.19, 0.14, 0.17, 0.18, 0.20, 0.13]
    check([round(r["prob"], 2) for r in doc[0]["rows"]] == want1, "seed 002 T=1")
    check([round(r["prob"], 2) for r in doc[1]["rows"]] == want195, "seed 002 T=1.95")
    check([round(r["scaled_logit"], 2) for r in doc[1]["rows"]] == [0.56, 0.26, 0.44, 0.50, 0.62, 0.15],
          "seed 002 scaled logits at T=1.95")
    check(doc[1]["rows"][4]["token"] == "jumped", "token names")
    # text table: a bar per row
    rc, out, _ = run(["--logits", "1.1,0.5", "--tokens", "a,b"])
    check(rc == 0 and "\u2588" in out and "0.6457" in out, "text table with bars")
    # -inf and greedy
    rc, out, _ = run(["--json", "--logits", "1,-inf,3,3", "--temp", "0"])
    rows = json.loads(out)["rows"] if rc == 0 else []
    check(rc == 0 and [r["prob_processed"] for r in rows] == [0, 0, 1, 0]
          and rows[1]["logit"] is None and rows[0]["scaled_logit"] is None,
          "temperature 0: greedy, lowest id on ties; -inf logit")


def errors():
    for args, needle in ((["--logits", "1,2", "--top-p", "1.5"], "top_p"),
                         (["--logits", "1,2", "--temp", "-1"], "temperature"),
                         (["--logits", "1,2", "--top-k", "-3"], "top_k"),
                         (["--logits", "1,2", "--min-keep", "0"], "min_keep"),
                         (["--logits", "1,nan"], "nan"),
                         (["--logits", "1,2", "--tokens", "a"], "--tokens"),
                         (["--logits", "1,2", "--samplers", "top_k,bogus", "--top-k", "1"], "bogus"),
                         (["--logits", "1,2", "--logit-bias", "x:1"], "--logit-bias"),
                         (["--top-k", "2"], "--logits")):
        rc, _, err = run(args)
        check(rc == 2 and needle in err, f"error {args}: exit {rc}, {err.strip()!r}")
    rc, _, err = run(["--logits", "-inf,-inf"])
    check(rc == 1 and "every token" in err, f"all banned: exit {rc}, {err.strip()!r}")
    rc, _, err = run(["--logits", "1,2,3", "--temp", "1e-40", "--top-k", "2"])
    check(rc == 1 and "larger temperature" in err, f"logit / T overflows: exit {rc}, {err.strip()!r}")


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing(f"{TEMPER} not built")
    compare_filters()
    compare_explicit_order()
    compare_draws()
    seed_002_table()
    errors()
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
