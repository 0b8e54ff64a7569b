#!/usr/bin/python3
"""test_power.py - the power samplers against exact laws computed here.

On a tiny random GPT-2 (vocabulary of 3 tokens, a few positions; seed and
scale chosen so that temperature-1/alpha sampling is far from p^alpha:
total variation about 0.3 to 0.4, with alpha = 2) whose next-token
distributions come from the independent numpy forward
(tests/ref/ref_gpt2.py), this script enumerates every continuation and
computes, in float64:
  - pi(x) ∝ p(x)^alpha over the complete continuations (EOS or length cap),
    by enumeration and by the Z_alpha recursion (they must agree);
  - the exact Metropolis-Hastings kernel of each stage (cut uniform over
    the current length, suffix from the temperature-1/alpha proposal until
    EOS or the stage length, acceptance with the n_x / n_x' factor), and
    the exact law of the whole block schedule after N steps per block.
Then it runs temper's sampler R times with independent seeds
(tests/tools/power_runs.c) and compares the empirical law with the exact
one: total variation within 2x its noise floor and a Pearson chi-square
with p > 0.001. Negative controls (temperature-1/alpha sampling and plain
sampling, compared with pi) must fail the same test, and their chance to
pass it is bounded (<= 0.01, McDiarmid: power_bound). SMC and SIR with 16
particles are compared the same way with their own law, simulated here from
the algorithm's description (particle_law).
"""
import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ref_gpt2  # noqa: E402

TOOL = harness.tool("power_runs")
MODEL = os.path.join(harness.MODELS, "power-v2")
ALPHA = 2.0
PROMPT = (0,)
V, EOS = 3, 2
RUNS = 4000

def check(name, ok, detail=""):
    if ok:
        print("ok   %s %s" % (name, detail))
    harness.check(name, ok, detail)


# ---------------------------------------------------------------------------
# chi-square survival function (regularised upper incomplete gamma), numpy-free
# ---------------------------------------------------------------------------

def gamma_q(a, x):
    """Q(a, x) = Gamma(a, x) / Gamma(a): series for x < a + 1, else a continued fraction."""
    if x <= 0:
        return 1.0
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    b, c, d = x + 1 - a, 1e300, 1.0 / (x + 1 - a)
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(x, dof):
    return gamma_q(dof / 2.0, x / 2.0)


def compare(law, counts, runs):
    """TV, its noise floor, and the chi-square p-value of counts against law."""
    keys = set(law) | set(counts)
    tv = 0.5 * sum(abs(counts.get(k, 0) / runs - law.get(k, 0.0)) for k in keys)
    floor = sum(math.sqrt(p * (1 - p)) for p in law.values()) / math.sqrt(2 * math.pi * runs)
    # Pool the cells with an expected count below 5 (and unexpected outcomes) into one.
    stat, cells, pool_o, pool_e = 0.0, 0, 0.0, 0.0
    for k in keys:
        e = runs * law.get(k, 0.0)
        o = counts.get(k, 0)
        if e >= 5:
            stat += (o - e) ** 2 / e
            cells += 1
        else:
            pool_o += o
            pool_e += e
    if pool_e > 0:
        stat += (pool_o - pool_e) ** 2 / pool_e
        cells += 1
    elif pool_o > 0:
        stat = float("inf")  # outcomes the law gives probability 0
    p = chi2_sf(stat, max(cells - 1, 1)) if math.isfinite(stat) else 0.0
    return tv, floor, p


def tv(a, b):
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


# ---------------------------------------------------------------------------
# exact laws
# ---------------------------------------------------------------------------

class Exact:
    def __init__(self, model_dir, alpha, eos, length_factor=True):
        self.length_factor = length_factor
        self.m = ref_gpt2.GPT2(model_dir)
        self.alpha, self.eos = alpha, eos
        self.cache = {}
        self.kernels = {}

    def logp_next(self, h):
        """log p(. | prompt + h), shape (V)."""
        if h not in self.cache:
            lg = self.m.forward(list(PROMPT + h))["logits"][-1]
            lg = lg - lg.max()
            self.cache[h] = lg - math.log(np.exp(lg).sum())
        return self.cache[h]

    def logq_next(self, h):
        z = self.alpha * self.logp_next(h)
        z = z - z.max()
        return z - math.log(np.exp(z).sum())

    def done(self, x):
        return self.eos is not None and len(x) > 0 and x[-1] == self.eos

    def logp(self, x, start=0):
        return sum(self.logp_next(x[:t])[x[t]] for t in range(start, len(x)))

    def logq(self, x, start=0):
        return sum(self.logq_next(x[:t])[x[t]] for t in range(start, len(x)))

    def completions(self, prefix, cap):
        """Every continuation of prefix until EOS or length cap: (x, log q of the new part)."""
        out = []

        def walk(x, lq):
            if self.done(x) or len(x) >= cap:
                out.append((x, lq))
                return
            lqn = self.logq_next(x)
            for v in range(V):
                walk(x + (v,), lq + lqn[v])
        walk(prefix, 0.0)
        return out

    def states(self, cap):
        return [x for x, _ in self.completions((), cap)]

    def pi(self, cap):
        xs = self.states(cap)
        lw = np.array([self.alpha * self.logp(x) for x in xs])
        w = np.exp(lw - lw.max())
        return dict(zip(xs, w / w.sum()))

    def pi_recursion(self, cap):
        """pi via Z_alpha(h) = sum_v p(v|h)^alpha Z_alpha(hv), Z = 1 at terminal h."""
        z = {}

        def Z(h):
            if self.done(h) or len(h) >= cap:
                return 1.0
            if h not in z:
                lp = self.logp_next(h)
                z[h] = sum(math.exp(self.alpha * lp[v]) * Z(h + (v,)) for v in range(V))
            return z[h]
        law = {}
        for x in self.states(cap):
            pr = 1.0
            for t in range(len(x)):
                h = x[:t]
                pr *= math.exp(self.alpha * self.logp_next(h)[x[t]]) * Z(h + (x[t],)) / Z(h)
            law[x] = pr
        return law

    def kernel(self, cap):
        if cap not in self.kernels:
            self.kernels[cap] = self._kernel(cap)
        return self.kernels[cap]

    def _kernel(self, cap):
        xs = self.states(cap)
        idx = {x: i for i, x in enumerate(xs)}
        K = np.zeros((len(xs), len(xs)))
        for x in xs:
            n = len(x)
            lpx = self.logp(x)
            for m in range(n):
                lq_old = self.logq(x, m)
                for y, lq_new in self.completions(x[:m], cap):
                    w = math.exp(lq_new) / n
                    log_r = self.alpha * (self.logp(y) - lpx) + (lq_old - lq_new)
                    if self.length_factor:
                        log_r += math.log(n) - math.log(len(y))
                    a = 1.0 if log_r >= 0 else math.exp(log_r)
                    K[idx[x], idx[y]] += w * a
                    K[idx[x], idx[x]] += w * (1 - a)
        return xs, K

    def schedule(self, block, T, steps):
        """Exact law of the output of the block schedule with `steps` MH moves per block."""
        law, final, cap = {(): 1.0}, {}, min(block, T)
        while True:
            ext = Counter()
            for x, w in law.items():
                for y, lq in self.completions(x, cap):
                    ext[y] += w * math.exp(lq)
            xs, K = self.kernel(cap)
            mu = np.array([ext.get(x, 0.0) for x in xs])
            for _ in range(steps):
                mu = mu @ K
            law = {}
            for x, w in zip(xs, mu):
                if cap >= T or self.done(x):
                    final[x] = final.get(x, 0.0) + w
                elif w > 0:
                    law[x] = w
            if cap >= T or not law:
                return final
            cap = min(cap + block, T)


# ---------------------------------------------------------------------------
# SMC and SIR with P particles: their law, by simulation here
# ---------------------------------------------------------------------------

def particle_law(ex, T, P, sir, ess_threshold=0.5, sims=200000, seed=5):
    """The law of the sequence that Power-SMC (sir False) or SIR (sir True)
    returns with P particles, estimated by simulating the algorithm as
    temper.h documents it over `sims` independent runs in numpy (batched,
    float64): each particle extends from the proposal (temperature 1/alpha
    for SMC, the model for SIR) until EOS or T tokens; the log weight gains
    alpha log p - log q per token (SMC) or (alpha - 1) log p (SIR); SMC
    resamples multinomially when the ESS falls below ess_threshold * P
    (except after the last token), weights then reset; the output is drawn
    by the final weights. Returns {sequence: probability}; its Monte Carlo
    error is ~sqrt(p / sims)."""
    prefixes, index = [()], {(): 0}
    for x in prefixes:  # every prefix, breadth first
        if len(x) < T and not ex.done(x):
            for v in range(V):
                index[x + (v,)] = len(prefixes)
                prefixes.append(x + (v,))
    n = len(prefixes)
    nxt = np.zeros((n, V), dtype=np.int64)
    lp = np.zeros((n, V))
    lq = np.zeros((n, V))
    live = np.zeros(n, dtype=bool)  # can still extend
    for i, x in enumerate(prefixes):
        if len(x) < T and not ex.done(x):
            live[i] = True
            lp[i] = ex.logp_next(x)
            lq[i] = lp[i] if sir else ex.logq_next(x)
            nxt[i] = [index[x + (v,)] for v in range(V)]
    cq = np.cumsum(np.exp(lq), axis=1)
    rng = np.random.default_rng(seed)
    state = np.zeros((sims, P), dtype=np.int64)
    logw = np.zeros((sims, P))
    rows = np.arange(sims)[:, None]
    for t in range(T):
        act = live[state]
        u = rng.random((sims, P))
        tok = np.minimum((u[..., None] >= cq[state]).sum(-1), V - 1)
        inc = (ex.alpha - 1.0) * lp[state, tok] if sir else ex.alpha * lp[state, tok] - lq[state, tok]
        logw = np.where(act, logw + inc, logw)
        state = np.where(act, nxt[state, tok], state)
        if sir or t + 1 >= T or not live[state].any():
            continue
        w = np.exp(logw - logw.max(1, keepdims=True))
        ess = w.sum(1) ** 2 / (w * w).sum(1)
        res = (ess < ess_threshold * P) & live[state].any(1)
        if res.any():
            c = np.cumsum(w[res], 1)
            c /= c[:, -1:]
            u = rng.random((int(res.sum()), P))
            anc = np.minimum((u[..., None] >= c[:, None, :]).sum(-1), P - 1)
            state[res] = state[res][np.arange(anc.shape[0])[:, None], anc]
            logw[res] = 0.0
    w = np.exp(logw - logw.max(1, keepdims=True))
    c = np.cumsum(w, 1)
    pick = np.minimum((rng.random(sims)[:, None] * c[:, -1:] >= c).sum(1), P - 1)
    final = state[rows[:, 0], pick]
    counts = np.bincount(final, minlength=n)
    return {prefixes[i]: counts[i] / sims for i in range(n) if counts[i]}


def power_bound(law_wrong, law, runs, floor):
    """Probability bound that a sampler with law_wrong passes "TV <= 2
    floor" against law over `runs` draws: the empirical TV has bounded
    differences 1/runs and a mean >= the exact TV (convexity), so by
    McDiarmid it falls to 2 floor with probability <= exp(-2 runs (TV -
    2 floor)^2)."""
    d = tv(law_wrong, law) - 2 * floor
    return math.exp(-2 * runs * d * d) if d > 0 else 1.0


# ---------------------------------------------------------------------------

def ensure_model():
    harness.model_folder(MODEL, ["--arch", "gpt2", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
                                 "--n-ctx", "16", "--vocab-size", str(V), "--dtype", "f32", "--seed", "1",
                                 "--scale", "0.3"])


def run(method, alpha, T, eos, runs=RUNS, seed=1, **kw):
    args = [TOOL, MODEL, "--prompt", ",".join(map(str, PROMPT)), "--method", method, "--alpha", str(alpha),
            "--max-new", str(T), "--runs", str(runs), "--seed", str(seed)]
    if eos is not None:
        args += ["--eos", str(eos)]
    for k, v in kw.items():
        args += ["--" + k, str(v)]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("power_runs failed: %s" % r.stderr.strip())
    counts = Counter(tuple(int(t) for t in line.split()) for line in r.stdout.split("\n")[:-1])
    stats = dict(zip(r.stderr.split()[0::2], map(int, r.stderr.split()[1::2])))
    return counts, stats


def main():
    ensure_model()
    alpha = ALPHA
    for eos, T, block in ((None, 4, 4), (None, 4, 2), (EOS, 4, 2)):
        ex = Exact(MODEL, alpha, eos)
        mode = "fixed-length" if eos is None else "eos"
        pi = ex.pi(T)
        pi_r = ex.pi_recursion(T)
        check("pi by enumeration = by Z recursion (%s, T=%d)" % (mode, T),
              max(abs(pi[x] - pi_r[x]) for x in pi) < 1e-12)
        xs, K = ex.kernel(T)
        piv = np.array([pi[x] for x in xs])
        flow = piv[:, None] * K
        check("exact kernel: rows sum to 1, detailed balance, pi K = pi (%s)" % mode,
              np.abs(K.sum(1) - 1).max() < 1e-12 and np.abs(flow - flow.T).max() < 1e-12
              and np.abs(piv @ K - piv).max() < 1e-12)
        mu0 = ex.schedule(block, T, 0)
        gap = tv(mu0, pi)
        check("test model separates temperature sampling from p^alpha (%s)" % mode, gap > 0.1,
              "TV(temperature, pi) = %.3f" % gap)
        for steps in (0, 2, 10):
            law = ex.schedule(block, T, steps)
            counts, st = run("mh", alpha, T, eos, steps=steps, block=block)
            d, floor, p = compare(law, counts, RUNS)
            check("MH %s T=%d B=%d N=%d matches the exact law after N steps" % (mode, T, block, steps),
                  d <= 2 * floor and p > 0.001,
                  "TV %.4f (floor %.4f, to pi %.4f) chi2 p=%.3g accept %.2f fwd/run %.1f"
                  % (d, floor, tv(law, pi), p, st["accepted"] / max(st["proposals"], 1),
                     st["forward_tokens"] / RUNS))
            if steps == 10:
                # Cost: forward tokens per sample stay within the paper's estimate
                # N*T^2/(4B) plus one extension pass, the prompt and one token
                # re-evaluated at each cut.
                bound = steps * T * T / (4.0 * block) * 2 + T + len(PROMPT) + steps * (T // block + 1)
                check("MH %s forward tokens per sample within N*T^2/(4B) estimate" % mode,
                      st["forward_tokens"] / RUNS <= bound,
                      "%.1f <= %.1f" % (st["forward_tokens"] / RUNS, bound))
        # Many steps: the law after N = 40 is close to pi itself, and the runs match it.
        law = ex.schedule(block, T, 40)
        counts, _ = run("mh", alpha, T, eos, steps=40, block=block, seed=100000)
        d, floor, p = compare(law, counts, RUNS)
        check("MH %s N=40 matches the exact law, itself close to pi" % mode,
              d <= 2 * floor and p > 0.001 and tv(law, pi) < 0.25 * tv(mu0, pi),
              "TV %.4f (floor %.4f) p=%.3g; exact TV to pi %.4f vs %.4f at N=0"
              % (d, floor, p, tv(law, pi), tv(mu0, pi)))
        if eos is not None:
            # The test can see a sampler without the n_x/n_x' factor (the official code's bias).
            biased = Exact(MODEL, alpha, eos, length_factor=False).schedule(block, T, 10)
            check("EOS test model detects a missing length factor",
                  tv(biased, ex.schedule(block, T, 10)) > 4 * floor,
                  "TV(without factor, with factor) = %.4f after 10 steps" % tv(biased, ex.schedule(block, T, 10)))
        # Negative controls: the same test must reject temperature and plain sampling.
        # (power_bound: their chance to pass, required <= 0.01)
        counts, _ = run("mh", alpha, T, eos, steps=0, block=block, seed=200000)
        d, floor, p = compare(pi, counts, RUNS)
        bound = power_bound(mu0, pi, RUNS, floor)
        check("negative control: temperature-1/alpha sampling fails against pi (%s; passes with probability "
              "<= %.1g)" % (mode, bound), bound <= 0.01 and d > 2 * floor and p < 0.001,
              "TV %.4f floor %.4f p=%.3g" % (d, floor, p))
        counts, _ = run("mh", 1.0, T, eos, steps=0, block=block, seed=300000)
        d, floor, p = compare(pi, counts, RUNS)
        bound = power_bound(Exact(MODEL, 1.0, eos).pi(T), pi, RUNS, floor)
        check("negative control: plain sampling fails against pi (%s; passes with probability <= %.1g)"
              % (mode, bound), bound <= 0.01 and d > 2 * floor and p < 0.001,
              "TV %.4f floor %.4f p=%.3g" % (d, floor, p))

    # SMC and SIR with P = 16 particles against their own law (simulated
    # here, particle_law), with the bound of the MH tests (TV within 2x its
    # noise floor, chi-square p > 0.001); the wrong samplers (the proposal
    # alone: temperature sampling for SMC, plain sampling for both) must
    # fail the same test, with a stated bound on their chance to pass.
    ex = Exact(MODEL, alpha, EOS)
    T, P, runs, sims = 4, 16, 4000, 100000
    pi = ex.pi(T)
    wrong = {"temperature sampling": ex.schedule(T, T, 0),
             "plain sampling": Exact(MODEL, 1.0, EOS).pi(T)}
    for method in ("smc", "sir"):
        law = particle_law(ex, T, P, method == "sir", sims=sims)
        check("%s P=%d: its law is close to pi (far closer than temperature sampling)" % (method, P),
              tv(law, pi) < 0.5 * tv(wrong["temperature sampling"], pi),
              "TV(law, pi) %.4f, TV(temperature, pi) %.4f" % (tv(law, pi), tv(wrong["temperature sampling"], pi)))
        counts, _ = run(method, alpha, T, EOS, runs=runs, particles=P, seed=400000 + P)
        d, floor, p = compare(law, counts, runs)
        floor *= math.sqrt(1 + runs / sims)  # the simulated law's own noise
        check("%s P=%d matches its law" % (method, P), d <= 2 * floor and p > 0.001,
              "TV %.4f (floor %.4f) chi2 p=%.3g" % (d, floor, p))
        for name, seed, a in (("temperature sampling", 500000, alpha), ("plain sampling", 600000, 1.0)):
            if method == "sir" and name == "temperature sampling":
                continue  # SIR's proposal is the model itself
            bound = power_bound(wrong[name], law, runs, floor)
            counts, _ = run("mh", a, T, EOS, steps=0, block=T, runs=runs, seed=seed)
            d, _, p = compare(law, counts, runs)
            check("negative control: %s fails against the %s law (passes with probability <= %.1g)"
                  % (name, method, bound), bound <= 0.01 and (d > 2 * floor or p < 0.001),
                  "TV %.4f floor %.4f p=%.3g" % (d, floor, p))

    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
