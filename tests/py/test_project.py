#!/usr/bin/env python3
# san: yes
"""test_project.py - temper_project (src/project): t-SNE and UMAP in the
library, checked against scikit-learn (Debian's python3-sklearn), not by
coordinates but by what a map is for:

- t-SNE: trustworthiness (sklearn.manifold.trustworthiness, 5 neighbours)
  within 0.015 of scikit-learn's TSNE(method="exact", init="pca") on the
  same data and perplexity, and the KL divergence of each map, computed
  here by an independent numpy t-SNE objective (its own perplexity
  bisection), within 10% of each other; the library's reported KL equals
  this one (1e-6 relative). The tolerances are scikit-learn's own spread:
  on the hidden states below, random_state 0..3 (which only moves its
  randomized PCA start; it also runs in float32) gives KL 0.342, 0.414,
  0.342, 0.347 and trustworthiness 0.9648 .. 0.9707 (temper: 0.356,
  0.9640); on the clusters, KL 0.718 .. 0.725, trustworthiness 0.9523 ..
  0.9576 (temper: 0.726, 0.9538). On the first 60 of those tokens with
  perplexity 30, scikit-learn reaches KL 0.188 .. 0.193 (temper: 0.182);
  carrying the momentum and gains over from the exaggeration stage into
  the next (a bug fixed) gave 0.360 there.
- UMAP (umap-learn is not in Debian, so no run of it): trustworthiness of
  at least 0.9 and within 0.03 of t-SNE's, and not below PCA's by more
  than 0.01; the fitted a, b equal scipy's curve_fit (1e-4).
- both: on three separated clusters, each point's 5 nearest neighbours in
  the map are of its cluster (all of them); the same seed gives the same
  map, 1 and 2 threads give the same map (bit for bit), UMAP's seed
  changes it.
- data: synthetic clusters (make_blobs) and the real hidden states of the
  bundled stories260K (last layer, 120 tokens x 64).
- errors: perplexity >= n, n_neighbors >= n, too few or too many points,
  NaN, n_components 4, an unknown method or parameter: clear messages.
- `temper hidden --project pca|tsne|umap`: the --json "projection" equals
  temper.project of the document's own states with the flags' values,
  the parameters as used, 1 and 2 threads alike; the text output (table
  and scatter with the method's axes); every table entry is a flag in
  --help; a flag the method does not use, or a bad value, is exit 2.
Under build-san the script runs itself again with the sanitizer runtimes
preloaded, on smaller data.
"""
import json
import os
import subprocess
import sys

import numpy as np

import harness
from harness import check, summary, ROOT

SAN = "san" in harness.BUILD_NAME


temper = harness.import_temper()  # under build-san: runs again with the sanitizers preloaded
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.manifold import TSNE, trustworthiness  # noqa: E402

STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
         "with her dog Max. One day, Lily saw a big red ball under a tree. She ran to get it, but the "
         "ball rolled into the pond. Max jumped into the water and brought the ball back. Lily was so "
         "happy that she gave Max a big hug. Then they went home and ate cake with mom.")


# ---- an independent t-SNE objective -------------------------------------
def joint_p(x, perplexity):
    """t-SNE's joint probabilities from the definition: for each point, the
    Gaussian bandwidth whose conditional distribution has perplexity
    2^H = perplexity (bisection on the precision, in bits), then
    symmetrised and normalised."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    cond = np.zeros((n, n))
    for i in range(n):
        d = np.delete(d2[i], i)
        lo, hi = 0.0, np.inf
        prec = 1.0 / max(np.median(d), 1e-12)
        for _ in range(200):
            w = np.exp(-(d - d.min()) * prec)
            q = w / w.sum()
            h = -(q[q > 0] * np.log2(q[q > 0])).sum()
            if abs(2 ** h - perplexity) < 1e-6 * perplexity:
                break
            if 2 ** h > perplexity:
                lo = prec
                prec = prec * 2 if hi == np.inf else (prec + hi) / 2
            else:
                hi = prec
                prec = (prec + lo) / 2
        cond[i, np.arange(n) != i] = q
    p = cond + cond.T
    return p / p.sum()


def kl_divergence(p, y):
    """KL(P || Q) with the Student-t kernel of one degree of freedom."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    w = 1.0 / (1.0 + ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    w[np.arange(n), np.arange(n)] = 0
    q = w / w.sum()
    m = p > 0
    return float((p[m] * np.log(p[m] / np.maximum(q[m], 1e-300))).sum())


def trust(x, y):
    return float(trustworthiness(x, y, n_neighbors=5))


def neighbours_same_label(y, labels, k=5):
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((labels[nn] == labels[:, None]).mean())


def compare_tsne(name, x, perplexity):
    """Ours against scikit-learn's exact t-SNE on x; returns our map."""
    y, info = temper.project(x, "tsne", perplexity=perplexity)
    sk = TSNE(n_components=2, method="exact", init="pca", perplexity=perplexity, learning_rate="auto",
              random_state=0)
    ys = sk.fit_transform(x)
    p = joint_p(x, perplexity)
    kl, kl_sk = kl_divergence(p, y), kl_divergence(p, ys)
    t, t_sk = trust(x, y), trust(x, ys)
    print(f"{name}: t-SNE trustworthiness {t:.4f} (scikit-learn {t_sk:.4f}), KL {kl:.4f} "
          f"(scikit-learn {kl_sk:.4f}), reported {info['kl_divergence']:.6f}")
    check(f"{name}: t-SNE trustworthiness within 0.015 of scikit-learn's", abs(t - t_sk) <= 0.015, (t, t_sk))
    check(f"{name}: t-SNE KL within 10% of scikit-learn's", abs(kl - kl_sk) <= 0.10 * kl_sk, (kl, kl_sk))
    check(f"{name}: the reported KL is the objective's", abs(info["kl_divergence"] - kl) <= 1e-6 + 1e-5 * kl,
          (info["kl_divergence"], kl))
    return y, t


def test_blobs():
    n = 90 if SAN else 300
    x, labels = make_blobs(n_samples=n, centers=3, n_features=20, cluster_std=1.0, random_state=0)
    x = x.astype(np.float32)
    y, _ = compare_tsne("blobs", x, 30.0)
    check("blobs: t-SNE separates the clusters", neighbours_same_label(y, labels) == 1.0)
    u, info = temper.project(x, "umap", seed=1)
    check("blobs: UMAP separates the clusters", neighbours_same_label(u, labels) == 1.0,
          neighbours_same_label(u, labels))
    check("blobs: UMAP used 15 neighbours and 500 epochs", info["n_neighbors"] == 15 and info["n_epochs"] == 500,
          info)
    pca, _ = temper.project(x, "pca")
    print(f"blobs: trustworthiness PCA {trust(x, pca):.4f}, UMAP {trust(x, u):.4f}")


def test_hidden():
    m = temper.Model(os.path.join(ROOT, "models", "stories260K", "stories260K.bin"))
    h = m.hidden_states(STORY)[-1]  # (n, 64): the last layer
    m.close()
    if SAN:
        h = h[:70]
    n = len(h)
    check("hidden: a real map needs many tokens", n >= 60, n)
    compare_tsne(f"stories260K hidden states, first 60 tokens", h[:60], 30.0)
    y, t_tsne = compare_tsne(f"stories260K hidden states ({n} x {h.shape[1]})", h, 30.0)
    u, info = temper.project(h, "umap")
    pca, ex = temper.project(h, "pca")
    t_umap, t_pca = trust(h, u), trust(h, pca)
    print(f"hidden: trustworthiness PCA {t_pca:.4f}, t-SNE {t_tsne:.4f}, UMAP {t_umap:.4f}")
    check("hidden: UMAP trustworthiness >= 0.9", t_umap >= 0.9, t_umap)
    check("hidden: UMAP within 0.03 of t-SNE's", abs(t_umap - t_tsne) <= 0.03, (t_umap, t_tsne))
    check("hidden: UMAP not below PCA by more than 0.01", t_umap >= t_pca - 0.01, (t_umap, t_pca))
    want, ratio = temper.pca(h, 2)
    check("hidden: project(pca) is temper.pca", np.array_equal(pca, want)
          and ex["explained_variance_ratio"] == list(ratio))


def test_determinism():
    x, _ = make_blobs(n_samples=70, centers=3, n_features=8, random_state=3)
    for method, kw in (("tsne", {"perplexity": 10, "n_iter": 300}), ("umap", {"seed": 7, "n_epochs": 100})):
        a, _ = temper.project(x, method, **kw)
        b, _ = temper.project(x, method, **kw)
        c, _ = temper.project(x, method, threads=2, **kw)
        d, _ = temper.project(x, method, threads=3, **kw)
        check(f"{method}: the same call gives the same map", np.array_equal(a, b))
        check(f"{method}: 1, 2 and 3 threads give the same map", np.array_equal(a, c) and np.array_equal(a, d))
    a, _ = temper.project(x, "umap", seed=7, n_epochs=100)
    b, _ = temper.project(x, "umap", seed=8, n_epochs=100)
    check("umap: another seed, another map", not np.array_equal(a, b))


def test_curve():
    from scipy.optimize import curve_fit
    for md in (0.0, 0.1, 0.5):
        xv = np.linspace(0, 3, 300)
        yv = np.where(xv < md, 1.0, np.exp(-(xv - md)))
        (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), xv, yv)
        _, info = temper.project(np.eye(5, dtype=np.float32), "umap", min_dist=md, n_epochs=5)
        check(f"umap: a, b for min_dist {md} as scipy's curve_fit",
              abs(info["a"] - a) <= 1e-4 * a and abs(info["b"] - b) <= 1e-4 * b, (info["a"], info["b"], a, b))


def expect_error(name, want, *args, **kw):
    try:
        temper.project(*args, **kw)
    except temper.InvalidArgument as e:
        return check(f"error: {name}", want in str(e), str(e))
    return check(f"error: {name}", False, "no error")


def test_errors():
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    expect_error("perplexity >= n", "perplexity is 10 for 10 points", x, "tsne", perplexity=10)
    expect_error("n_neighbors >= n", "n_neighbors is 10 for 10 points", x, "umap", n_neighbors=10)
    expect_error("too few points", "at least 3", x[:2], "tsne")
    expect_error("n_components 4", "n_components is 4", x, "umap", n_components=4)
    expect_error("n_iter < 250", "n_iter is 100", x, "tsne", n_iter=100)
    expect_error("unknown method", "give pca, tsne or umap", x, "lle")
    expect_error("unknown parameter", "unknown parameter 'perplexty'", x, "tsne", perplexty=5)
    bad = x.copy()
    bad[3, 2] = np.nan
    expect_error("NaN", "point 3", bad, "umap")
    big = np.zeros((temper_max() + 1, 2), dtype=np.float32)
    expect_error("too many points", "at most", big, "tsne")
    y, info = temper.project(x, "tsne", n_iter=250)
    check("defaults on 10 points: perplexity min(30, n - 1)", info["perplexity"] == 9, info)
    y, info = temper.project(x, "umap", n_epochs=10)
    check("defaults on 10 points: n_neighbors min(15, n - 1)", info["n_neighbors"] == 9, info)


def cli(*args):
    r = subprocess.run([harness.TEMPER, *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def test_cli():
    text = "The cat sat on the mat. The dog ran in the park with the ball."
    runs = [("tsne", ["--perplexity", "4", "--n-iter", "300"], {"perplexity": 4, "n_iter": 300}),
            ("umap", ["--n-neighbors", "5", "--seed", "9", "--min-dist", "0.2"],
             {"n_neighbors": 5, "seed": 9, "min_dist": 0.2}),
            ("pca", ["--n-components", "3"], {"n_components": 3})]
    for method, flags, kw in runs:
        docs = []
        for threads in ("1", "2"):
            rc, out, err = cli("hidden", "-q", "--json", "-t", threads, "--layer", "3", "--project", method,
                               *flags, text)
            if not check(f"hidden --project {method} --json: exit 0", rc == 0, err):
                return
            docs.append(json.loads(out))
        d = docs[0]
        pr = d["projection"]
        states = np.array(d["layers"][0]["states"], dtype=np.float32)
        want, info = temper.project(states, method, **kw)
        check(f"hidden --project {method}: layer 3", pr["layer"] == 3 and pr["method"] == method, pr["layer"])
        check(f"hidden --project {method}: the points are temper.project's with the flags' values",
              np.array_equal(np.array(pr["points"]), want))
        used = {k: v for k, v in info.items() if k in pr["parameters"]}
        check(f"hidden --project {method}: the parameters as used", pr["parameters"] == used
              and set(pr["parameters"]) == {q["name"] for q in temper.project_parameters()
                                           if method in q["methods"]}, (pr["parameters"], used))
        check(f"hidden --project {method}: -t 1 and -t 2 give the same map",
              docs[1]["projection"] == pr)
        if method == "tsne":
            check("hidden --project tsne: perplexity and KL in the document",
                  pr["parameters"]["perplexity"] == 4 and abs(pr["kl_divergence"] - info["kl_divergence"]) == 0)
        if method == "pca":
            check("hidden --project pca --n-components 3: three ratios, no 2-D 'pca' object",
                  len(pr["explained_variance_ratio"]) == 3 and "pca" not in d)
    rc, out, err = cli("hidden", "-q", "--project", "umap", "--seed", "2", text)
    check("hidden --project umap: text with the parameters, table and scatter",
          rc == 0 and "UMAP of layer" in out and "2 epochs" not in out and "UMAP1" in out
          and "UMAP2" in out and "+-----" in out, out[-800:])
    rc, out, err = cli("hidden", "-q", "--project", "tsne", text)
    check("hidden --project tsne: text with KL and the t-SNE axes",
          rc == 0 and "KL divergence" in out and "tSNE1" in out and "+-----" in out, out[-800:])
    rc, out, err = cli("hidden", "--help")
    missing = [q["flag"] for q in temper.project_parameters() if q["flag"] not in out]
    check("hidden --help: every projection parameter is a flag", rc == 0 and not missing, missing)
    for name, args, word in (
            ("a t-SNE flag with umap", ["--project", "umap", "--perplexity", "5"], "--perplexity"),
            ("a flag without --project", ["--min-dist", "0.3"], "--project"),
            ("a value out of range", ["--project", "umap", "--min-dist", "2"], "--min-dist"),
            ("not a number", ["--project", "tsne", "--n-iter", "many"], "--n-iter"),
            ("an unknown method", ["--project", "isomap"], "--project"),
            ("perplexity above the tokens", ["--project", "tsne", "--perplexity", "50"], "perplexity is 50")):
        rc, out, err = cli("hidden", "-q", *args, "a b c d")
        check(f"hidden: {name}: an error naming {word}", rc != 0 and word in err and "Traceback" not in err,
              (rc, err))


def temper_max():
    for line in open(os.path.join(ROOT, "include", "temper.h")):
        if line.startswith("#define TEMPER_PROJECT_MAX_POINTS"):
            return int(line.split()[2])
    raise RuntimeError("TEMPER_PROJECT_MAX_POINTS not found")


if __name__ == "__main__":
    test_errors()
    test_curve()
    test_determinism()
    test_blobs()
    test_hidden()
    test_cli()
    sys.exit(summary())
