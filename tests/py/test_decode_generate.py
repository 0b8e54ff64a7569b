#!/usr/bin/python3
"""test_decode_generate.py - temper_generate() (through tests/tools/
generate_runs) against an independent Python decoder over the numpy
reference model (tests/ref, float64, no KV cache):

- greedy: the argmax of each step's reference logits;
- sampling: each token is the documented draw (xoshiro256** stream
  first_stream + i of the seed, first token whose running mass exceeds u)
  from the reference's processed distribution;
- beam search: a transcription of transformers' vectorised beam search
  (2 * num_beams candidates, hypotheses scored sum / len^length_penalty,
  early_stopping true / false / never), sequences and scores;
- determinism: sequences decoded together or apart, 1 or 2 threads;
- stopping: EOS, max_new_tokens, stop strings, min_new_tokens, context.

Run: /usr/bin/python3 tests/py/test_decode_generate.py (TEMPER_BUILD)
Prints "N passed, N failed"; exits 1 on failure.
"""
import json
import math
import os
import subprocess
import tempfile
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ref_model  # noqa: E402
from test_decode import Xoshiro  # noqa: E402  (the documented streams)

TOOL = harness.tool("generate_runs")


def check(cond, what):
    harness.check(what, cond)


def model_dir():
    args = ["--arch", "gpt2", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
            "--n-ctx", "64", "--dtype", "f32", "--seed", "3"]
    return harness.cached_model("decode-gpt2", args)


def run(path, args):
    r = subprocess.run([TOOL, path] + args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), ""


class Ref:
    """Last-position log-softmax of the reference model, cached by prefix."""

    def __init__(self, path):
        self.m = ref_model.load(path)
        self.cache = {}

    def logits(self, ids):
        key = tuple(ids)
        if key not in self.cache:
            self.cache[key] = self.m.forward(list(ids), out_rows=[len(ids) - 1])["logits"][0]
        return self.cache[key]

    def logprobs(self, ids):
        x = self.logits(ids)
        m = x.max()
        return x - m - math.log(np.exp(x - m).sum())


PROMPT = [464, 3290, 373, 1336, 286]  # "The movie was full of"


def greedy_ref(ref, prompt, n):
    ids, margins = list(prompt), []
    for _ in range(n):
        x = ref.logits(ids)
        s = np.sort(x)
        margins.append(s[-1] - s[-2])
        ids.append(int(np.argmax(x)))
    return ids[len(prompt):], min(margins)


def test_greedy(path, ref):
    out, err = run(path, ["--ids", ",".join(map(str, PROMPT)), "-n", "12", "--ignore-eos",
                          "--n-top", "3"])
    if out is None:
        check(False, "greedy run: " + err)
        return
    want, margin = greedy_ref(ref, PROMPT, 12)
    seq = out["sequences"][0]
    check(seq["ids"] == want, f"greedy ids {seq['ids']} != reference {want} (margin {margin:.2e})")
    check(seq["finish"] == 2, "greedy: finish length")
    # raw log-probs of the chosen tokens, and the top-3 alternatives
    ids = list(PROMPT)
    want_lp = []
    for k, t in enumerate(want):
        lp = ref.logprobs(ids)
        want_lp.append(lp[t])
        check(seq["top"][k] == [int(i) for i in np.argsort(-lp, kind="stable")[:3]],
              f"greedy top-3 at step {k}")
        ids.append(t)
    harness.check_close("greedy logprobs vs reference (1e-4)", seq["logprob"], want_lp, atol=1e-4, n=12)
    # greedy: processed == raw (no processors active)
    harness.check_close("greedy processed == raw", seq["logprob_processed"], seq["logprob"], n=12)


def test_sampling(path, ref):
    """Every sampled token is the documented draw from the reference's
    distribution after temperature 0.8 and top-k 20 (steps near a draw
    boundary, where float32 and float64 may differ, end the comparison)."""
    n, seed = 10, 1234
    out, err = run(path, ["--ids", ",".join(map(str, PROMPT)), "-n", str(n), "--sample",
                          "--temp", "0.8", "--top-k", "20", "--seed", str(seed), "--nrs", "3",
                          "--ignore-eos"])
    if out is None:
        check(False, "sampling run: " + err)
        return
    compared = 0
    for i, seq in enumerate(out["sequences"]):
        g = Xoshiro(seed, i)
        ids = list(PROMPT)
        for k, got in enumerate(seq["ids"]):
            x = ref.logits(ids) / 0.8
            kth = np.sort(x)[::-1][19]
            x = np.where(x < kth, -np.inf, x)
            p = np.exp(x - x.max())
            p /= p.sum()
            cdf = np.cumsum(p)
            u = g.uniform()
            if np.min(np.abs(cdf - u)) < 1e-6:
                break
            want = min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
            check(got == want, f"sampling seq {i} step {k}: {got} != documented draw {want}")
            compared += 1
            ids.append(got)
    check(compared >= 20, f"sampling: only {compared} steps compared")
    # the three sequences differ (they use three streams)
    texts = {tuple(s["ids"]) for s in out["sequences"]}
    check(len(texts) > 1, "sampling: the sequences are not all the same")
    return out


def test_determinism(path, together):
    """Decoded apart (first_stream = i, one sequence) or with 2 threads:
    the same tokens as decoded together."""
    base = ["--ids", ",".join(map(str, PROMPT)), "-n", "10", "--sample", "--temp", "0.8",
            "--top-k", "20", "--seed", "1234", "--ignore-eos"]
    for i in range(3):
        out, err = run(path, base + ["--first-stream", str(i)])
        check(out is not None and out["sequences"][0]["ids"] == together["sequences"][i]["ids"],
              f"sequence {i} decoded apart differs from decoded together {err}")
    out, err = run(path, base + ["--nrs", "3", "--threads", "2"])
    check(out is not None and [s["ids"] for s in out["sequences"]] ==
          [s["ids"] for s in together["sequences"]], "2 threads differ from 1 " + err)
    out, _ = run(path, base + ["--nrs", "3"])
    check(out is not None and out == together, "a second run differs from the first")


def beam_ref(ref, prompt, B, max_new, lpen, early, eos, n_ctx):
    """transformers' vectorised beam search, transcribed (float64)."""
    K = max(2, 1 + len(eos)) * B
    cap = min(max_new, n_ctx - len(prompt))
    running = [([], 0.0 if b == 0 else -1e9) for b in range(B)]
    finished = []  # [score, ids]
    for step in range(cap):
        gen_len = step + 1
        acc = np.stack([ref.logprobs(list(prompt) + ids) + sc for ids, sc in running])
        flat = acc.ravel()
        order = np.argsort(-flat, kind="stable")[:K]
        full_early = len(finished) == B and early == "true"
        new_running, n_hits = [], 0
        for k, idx in enumerate(order):
            b, t = divmod(int(idx), acc.shape[1])
            ids = running[b][0] + [t]
            if t in eos or gen_len == max_new or gen_len == cap:
                n_hits += 1
                if k < B and not full_early:
                    score = flat[idx] / gen_len ** lpen
                    if len(finished) < B:
                        finished.append([score, ids])
                    else:
                        w = min(range(B), key=lambda j: finished[j][0])
                        if score > finished[w][0]:
                            finished[w] = [score, ids]
                continue
            if len(new_running) < B:
                new_running.append((ids, flat[idx]))
        full = len(finished) == B
        worst = min(f[0] for f in finished) if full else -1e9
        best_len = cap if early == "never" and lpen > 0 else gen_len
        best = new_running[0][1] / best_len ** lpen if new_running else -math.inf
        if not (best > worst and not (full and early == "true") and n_hits < len(order)
                and len(new_running) == B):
            break
        running = new_running
    return sorted(finished, key=lambda f: -f[0])


def test_beams(path, ref):
    # an EOS the model likes: the greedy token of step 3, so that hypotheses end early
    greedy, _ = greedy_ref(ref, PROMPT, 6)
    eos = greedy[3]
    cases = [
        (3, 8, 1.0, "false", []),
        (3, 8, 1.0, "false", [eos]),
        (4, 8, 0.5, "true", [eos]),
        (4, 8, 2.0, "never", [eos]),
        (2, 6, -1.0, "false", [eos, greedy[1]]),
    ]
    es = {"false": "0", "true": "1", "never": "2"}
    for B, n, lpen, early, eos_ids in cases:
        args = ["--ids", ",".join(map(str, PROMPT)), "-n", str(n), "--beams", str(B),
                "--nrs", str(B), "--length-penalty", str(lpen), "--early-stopping", es[early]]
        if eos_ids:
            for e in eos_ids:
                args += ["--eos", str(e)]
        else:
            args += ["--ignore-eos"]
        out, err = run(path, args)
        label = f"beams B={B} n={n} lp={lpen} early={early} eos={eos_ids}"
        if out is None:
            check(False, label + ": " + err)
            continue
        want = beam_ref(ref, PROMPT, B, n, lpen, early, eos_ids, 64)
        got = out["sequences"]
        harness.check_same(f"{label}: sequences", [s["ids"] for s in got], [w[1] for w in want])
        if len(got) == len(want):
            # logits within 1e-4 of the reference move each log-prob by at
            # most 2e-4: a score (sum over the generated tokens / len^lp) by
            # 2e-4 * generated / len^lp
            tol = [2e-4 * len(s["logprob_processed"]) / len(s["ids"]) ** lpen for s in got]
            err_s = [abs(s["score"] - w[0]) - t for s, w, t in zip(got, want, tol)]
            check(max(err_s) <= 0, f"{label}: scores differ beyond 2e-4 per token: {err_s}")
            # the score is the sum of the processed log-probs / len^lp
            harness.check_close(f"{label}: score = sum(logprob_processed) / len^lp",
                                [s["score"] for s in got],
                                [sum(s["logprob_processed"]) / len(s["ids"]) ** lpen for s in got],
                                atol=1e-5, rtol=1e-6)
    out, err = run(path, ["--ids", "1,2", "--beams", "2", "--nrs", "3"])
    check(out is None and "num_return_sequences" in err, "nrs > beams rejected: " + err)


def test_stopping(path, ref):
    greedy, _ = greedy_ref(ref, PROMPT, 8)
    p = ",".join(map(str, PROMPT))
    # EOS: the first greedy token that did not occur before it
    k = next(i for i in range(1, 8) if greedy[i] not in greedy[:i])
    out, _ = run(path, ["--ids", p, "-n", "8", "--eos", str(greedy[k])])
    s = out["sequences"][0]
    check(s["ids"] == greedy[:k + 1] and s["finish"] == 1,
          f"EOS stop: {s['ids']} {s['finish']} (greedy {greedy}, eos at {k})")
    # min_new_tokens bans that EOS for k + 2 tokens: the greedy path changes at step k
    out, _ = run(path, ["--ids", p, "-n", "8", "--eos", str(greedy[k]), "--min-new", str(k + 2)])
    s = out["sequences"][0]
    check(s["ids"][:k] == greedy[:k] and s["ids"][k] != greedy[k] and len(s["ids"]) >= k + 2,
          f"min_new_tokens: {s['ids']}")
    # context window: n_ctx 8 leaves 3 new tokens
    out, _ = run(path, ["--ids", p, "-n", "8", "--ignore-eos", "--n-ctx", "8"])
    s = out["sequences"][0]
    check(len(s["ids"]) == 3 and s["finish"] == 4, f"context stop: {len(s['ids'])} {s['finish']}")
    # a stop string: the text of the first greedy token i >= 1 that is
    # letters or digits (read from vocab.json's byte-level form, where
    # \u0120 is a space) and does not occur earlier in the text; generation
    # stops right after token i
    with open(os.path.join(path, "vocab.json")) as f:
        vocab = {v: k for k, v in json.load(f).items()}
    text = [vocab[t].replace("\u0120", " ") for t in greedy]
    usable = [i for i in range(1, 8) if text[i].strip().isalnum() and text[i].strip().isascii()
              and text[i].strip() not in "".join(text[:i]) + text[i][:-1]]
    check(bool(usable), f"a usable stop string among the greedy tokens {text}")
    if usable:
        i = usable[0]
        piece = text[i].strip()
        out, err = run(path, ["--ids", p, "-n", "8", "--ignore-eos", "--stop", piece])
        s = out["sequences"][0] if out else {"ids": [], "finish": -1}
        check(s["ids"] == greedy[:i + 1] and s["finish"] == 3, f"stop string {piece!r}: {s} {err}")
    out, err = run(path, ["--ids", p, "-n", "0"])
    check(out is not None and out["sequences"][0]["ids"] == [], "max_new_tokens 0")


def test_eos_list(path, ref):
    """Every EOS id of generation_config.json stops the library's default
    generation (Llama 3 has two), and temper_model_generate_defaults takes
    the file's values."""
    p = ",".join(map(str, PROMPT))
    out, err = run(path, ["--ids", p, "-n", "8", "--ignore-eos"])
    check(out is not None, "greedy run " + err)
    if out is None:
        return
    greedy = out["sequences"][0]["ids"]
    second = greedy[3]
    first = next(t for t in range(1000, 2000) if t not in greedy)
    with tempfile.TemporaryDirectory() as tmp:
        for name in os.listdir(path):
            if name != "generation_config.json":
                os.symlink(os.path.join(path, name), os.path.join(tmp, name))
        with open(os.path.join(tmp, "generation_config.json"), "w") as f:
            json.dump({"eos_token_id": [first, second], "max_new_tokens": 7,
                       "repetition_penalty": 1.0, "do_sample": False}, f)
        want = greedy[:greedy.index(second) + 1]
        out, err = run(tmp, ["--ids", p, "-n", "8"])
        s = out["sequences"][0] if out else {}
        check(s.get("ids") == want and s.get("finish") == 1,
              f"the second EOS id of generation_config.json stops: {s} {err}")
        out, err = run(tmp, ["--ids", p, "--defaults", "--ignore-eos"])
        s = out["sequences"][0] if out else {}
        check(s.get("ids") == greedy[:7] and s.get("finish") == 2,
              f"max_new_tokens 7 from generation_config.json: {s} {err}")
        check(out is not None and out["keys"] ==
              "do_sample,repetition_penalty,max_new_tokens,eos_token_id",
              f"keys taken from the file: {out and out['keys']}")
        with open(os.path.join(tmp, "generation_config.json"), "w") as f:
            json.dump({"top_p": "high"}, f)
        out, err = run(tmp, ["--ids", p, "--defaults"])
        check(out is None and "top_p" in err and "not a number" in err,
              f"a bad value in generation_config.json is named: {err}")


def main():
    if not os.access(TOOL, os.X_OK):
        return harness.missing(f"{TOOL} not built")
    path = model_dir()
    ref = Ref(path)
    test_greedy(path, ref)
    together = test_sampling(path, ref)
    if together:
        test_determinism(path, together)
    test_beams(path, ref)
    test_stopping(path, ref)
    test_eos_list(path, ref)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
