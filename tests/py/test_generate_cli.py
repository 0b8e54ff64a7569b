#!/usr/bin/python3
# san: yes
"""test_generate_cli.py - `temper generate` with every decoding control
(issue 4, items 1-5 and 7), driven through subprocess on a random GPT-2
from tests/ref/make_model.py and checked against the numpy reference
(tests/ref, float64):

- greedy --json: ids, raw log-probs and the --n-probs alternatives equal
  the reference's argmax chain and log-softmax;
- sampling: every token is the documented draw (stream i of the seed) from
  the reference's processed distribution, logprob_processed is its
  log-probability there; same seed -> same ids, whatever --threads;
- beam search: equals the Python transcription of transformers' beam
  search in test_decode_generate.py (sequences and scores);
- processors reach the library (settings, stages, the first step's
  processed distribution against numpy), generation_config.json defaults,
  --stop on decoded text, EOS / --ignore-eos / --min-new-tokens;
- --n-probs table (raw and processed columns), --temps experiment,
  streaming (UTF-8 split across tokens, colour only on a terminal);
- every invalid value: exit 2, one line on stderr, nothing on stdout.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_generate_cli.py
Prints "N passed, N failed"; exits 1 on failure.
"""
import json
import math
import os
import pty
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TEMPER  # noqa: E402
import test_decode as td  # noqa: E402  (numpy warpers, the documented streams)
import test_decode_generate as tdg  # noqa: E402  (model, reference, beam search)

PROMPT = tdg.PROMPT  # "The movie was full of"
P = ",".join(map(str, PROMPT))


def check(cond, what):
    harness.check(what, cond)


def temper(*args, env=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    r = subprocess.run([TEMPER, "generate", *args], capture_output=True, env=e, timeout=300)
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode < 0 or harness.crash_report(err):
        check(False, f"generate {' '.join(args)}: crash or sanitizer report: {err[-2000:]}")
    return r.returncode, r.stdout.decode("utf-8", "replace"), err


def gen_json(model, *args):
    rc, out, err = temper("-m", model, "--json", *args)
    if rc != 0:
        check(False, f"generate {' '.join(args)}: exit {rc}: {err.strip()}")
        return None
    return json.loads(out)


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x[np.isfinite(x)].max()
    with np.errstate(divide="ignore"):
        return x - m - math.log(np.exp(x - m).sum())


class Decoder:
    """GPT-2 byte-level decode from vocab.json (independent of temper)."""

    def __init__(self, path):
        bs = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
              + list(range(0xAE, 0x100)))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte = {chr(c): b for b, c in zip(bs, cs)}
        with open(os.path.join(path, "vocab.json"), encoding="utf-8") as f:
            self.vocab = {v: k for k, v in json.load(f).items()}

    def __call__(self, ids, skip=(50256,)):
        data = bytes(self.byte[ch] for i in ids if i not in skip for ch in self.vocab[i])
        return data.decode("utf-8", "replace")


def with_config(base, tmp, name, config):
    """A copy of the model folder (files linked) with its own generation_config.json."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for f in os.listdir(base):
        if f != "generation_config.json":
            os.symlink(os.path.join(base, f), os.path.join(d, f))
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(config, f)
    return d


# ---- greedy, JSON fields, --n-probs ------------------------------------------

def test_greedy_json(model, ref, dec):
    doc = gen_json(model, "--prompt-ids", P, "-n", "10", "--ignore-eos", "--n-probs", "3")
    if not doc:
        return
    for key in ("settings", "sequences", "timings", "prompt_ids"):
        check(key in doc, f"--json has {key!r}")
    st = doc["settings"]
    check(st["mode"] == "greedy" and st["do_sample"] is False and st["top_k"] == 50
          and st["temperature"] == 1 and isinstance(st["seed"], int),
          f"greedy settings: transformers' defaults {st}")
    check(doc["prompt_ids"] == PROMPT, "prompt_ids")
    seq = doc["sequences"][0]
    want, margin = tdg.greedy_ref(ref, PROMPT, 10)
    check(seq["ids"] == want, f"greedy ids {seq['ids']} != reference {want} (margin {margin:.1e})")
    check(seq["finish_reason"] == "length" and seq["score"] is None, "greedy: length, no score")
    check(seq["text"] == dec(want), f"text {seq['text']!r} != {dec(want)!r}")
    check(len(seq["logprobs"]) == len(seq["ids"]), "one tokens entry per id")
    got_lp, want_lp = [], []
    ids = list(PROMPT)
    for k, t in enumerate(seq["logprobs"]):
        lp = ref.logprobs(ids)
        order = np.argsort(-lp, kind="stable")[:3]
        check(t["id"] == want[k] and t["text"] == dec([want[k]]), f"token {k} id/text")
        check([a["id"] for a in t["top"]] == [int(i) for i in order], f"top-3 ids at step {k}")
        got_lp += [t["logprob"]] + [a["logprob"] for a in t["top"]]
        want_lp += [lp[want[k]]] + [lp[a["id"]] for a in t["top"]]
        check(t["logprob_processed"] == t["logprob"], f"greedy, no processor: processed == raw "
              f"at step {k}")
        check(all(a["text"] == dec([a["id"]]) for a in t["top"]), f"top tokens' text {k}")
        ids.append(want[k])
    harness.check_close("greedy logprobs vs reference (1e-4)", got_lp, want_lp, atol=1e-4, n=4 * 10)
    tm = doc["timings"]
    check(all(k in tm for k in ("prompt_seconds", "decode_seconds", "n_generated")) and
          tm["n_generated"] == 10, f"timings {tm}")


def test_sampling(model, ref):
    """--temp 0.8 --top-k 20 -s 1234, 3 sequences: each token is the
    documented draw from the reference's processed distribution; the
    processed log-prob is that distribution's; threads do not matter."""
    seed, T, K = 1234, 0.8, 20
    args = ["--prompt-ids", P, "-n", "8", "--ignore-eos", "--temp", str(T), "--top-k", str(K),
            "-s", str(seed), "--num-return-sequences", "3"]
    doc = gen_json(model, *args, "-t", "1")
    if not doc:
        return
    st = doc["settings"]
    check(st["mode"] == "sampling" and st["seed"] == seed and st["stages"] == "temperature,top_k",
          f"sampling settings {st['mode']} {st['seed']} {st['stages']}")
    compared, got_lp, want_lp = 0, [], []
    for i, seq in enumerate(doc["sequences"]):
        g = td.Xoshiro(seed, i)
        ids = list(PROMPT)
        for k, got in enumerate(seq["ids"]):
            s = td.w_top_k(td.w_temperature(ref.logits(ids), T, 1), K, 1)
            p = td.softmax(s)
            got_lp.append(seq["logprobs"][k]["logprob_processed"])
            want_lp.append(math.log(p[got]) if 0 <= got < len(p) and p[got] > 0 else -math.inf)
            cdf = np.cumsum(p)
            u = g.uniform()
            if np.min(np.abs(cdf - u)) < 1e-6:
                break  # float32 and float64 may pick different sides
            want = min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
            check(got == want, f"sampled seq {i} step {k}: {got} != documented draw {want}")
            compared += 1
            ids.append(got)
    check(compared >= 15, f"sampling: only {compared} steps compared")
    harness.check_close("logprob_processed vs numpy (1e-4)", got_lp, want_lp, atol=1e-4)
    doc2 = gen_json(model, *args, "-t", "2")
    check(doc2 and [s["ids"] for s in doc2["sequences"]] == [s["ids"] for s in doc["sequences"]],
          "same seed, 2 threads: same ids")
    doc3 = gen_json(model, *args, "-t", "1")
    check(doc3 and doc3["sequences"] == doc["sequences"], "same seed, second run: same output")
    doc4 = gen_json(model, *args[:-4], "-s", str(seed + 1), "--num-return-sequences", "3")
    check(doc4 and [s["ids"] for s in doc4["sequences"]] != [s["ids"] for s in doc["sequences"]],
          "another seed: other ids")
    # sequence 0 alone is the same text as sequence 0 of the batch (stream 0)
    doc5 = gen_json(model, *args[:-2])
    check(doc5 and doc5["sequences"][0]["ids"] == doc["sequences"][0]["ids"],
          "one sequence = the first of three")
    return doc


def test_beams(model, ref, tmp):
    for B, n, lpen, early, nrs in ((3, 8, 1.0, "false", 3), (4, 7, 2.0, "never", 2)):
        doc = gen_json(model, "--prompt-ids", P, "-n", str(n), "--ignore-eos", "--num-beams",
                       str(B), "--num-return-sequences", str(nrs), "--length-penalty", str(lpen),
                       "--early-stopping", early)
        if not doc:
            continue
        want = tdg.beam_ref(ref, PROMPT, B, n, lpen, early, [], 64)[:nrs]
        got = doc["sequences"]
        label = f"beams B={B} lp={lpen} early={early}"
        harness.check_same(f"{label}: sequences", [s["ids"] for s in got], [w[1] for w in want])
        if len(got) == len(want):
            # 1e-4 on logits: 2e-4 per log-prob, summed over n tokens / len^lp
            harness.check_close(f"{label}: scores", [s["score"] for s in got], [w[0] for w in want],
                                atol=2e-4 * n / n ** lpen)
        check(doc["settings"]["mode"] == "beam_search" and doc["settings"]["num_beams"] == B,
              f"{label}: settings")
    # EOS ids from generation_config.json (a list): the second token of the
    # best beam without EOS ends hypotheses early
    eos = [tdg.beam_ref(ref, PROMPT, 3, 8, 1.0, "false", [], 64)[0][1][1], 50256]
    m = with_config(model, tmp, "beam-eos", {"eos_token_id": eos, "num_beams": 3})
    doc = gen_json(m, "--prompt-ids", P, "-n", "8", "--num-return-sequences", "3")
    if doc:
        want = tdg.beam_ref(ref, PROMPT, 3, 8, 1.0, "false", eos, 64)
        check([s["ids"] for s in doc["sequences"]] == [w[1] for w in want],
              f"beams with EOS list from generation_config: {[s['ids'] for s in doc['sequences']]}"
              f" != {[w[1] for w in want]}")
        check(doc["settings"]["eos_token_id"] == eos and "num_beams" in
              doc["settings"]["from_generation_config"], f"settings {doc['settings']}")
        check(any(s["finish_reason"] == "eos" for s in doc["sequences"]), "a beam ends at EOS")


# ---- processors and generation_config.json --------------------------------------

def first_step(model, ref, args, numpy_scores, stage, sample=True):
    """One step with args: the stage is listed, and the processed log-probs of
    the chosen token and its 5 alternatives equal numpy's."""
    extra = ["--do-sample", "-s", "7"] if sample else []
    doc = gen_json(model, "--prompt-ids", P, "-n", "1", "--ignore-eos", "--n-probs", "5",
                   *extra, *args)
    if not doc:
        return
    check(stage in doc["settings"]["stages"].split(","),
          f"{args}: stage {stage} in {doc['settings']['stages']!r}")
    lp = log_softmax(numpy_scores(ref.logits(list(PROMPT))))
    tok = doc["sequences"][0]["logprobs"][0]
    got_lp, want_lp = [], []
    for t in [tok] + tok["top"]:
        want = lp[t["id"]]
        got = t["logprob_processed"]
        if got is None or not np.isfinite(want):
            check(got is None and not np.isfinite(want), f"{args}: {t['id']} removed on both sides")
        else:
            got_lp.append(got)
            want_lp.append(want)
    harness.check_close(f"{args}: processed log-probs vs numpy (1e-4)", got_lp, want_lp, atol=1e-4)
    return doc


def rep_penalty(x, ids, r):
    x = x.copy()
    for t in set(ids):
        x[t] = x[t] * r if x[t] < 0 else x[t] / r
    return x


def test_processors(model, ref):
    lg = ref.logits(list(PROMPT))
    top = [int(i) for i in np.argsort(-lg, kind="stable")[:4]]
    cases = [
        (["--top-p", "0.3"], lambda s: td.w_top_k(td.w_top_p(td.w_top_k(s, 50, 1), 0.3, 1), 50, 1),
         "top_p"),
        (["--top-k", "0", "--min-p", "0.2"], lambda s: td.w_min_p(s, 0.2, 1), "min_p"),
        (["--top-k", "0", "--typical-p", "0.5"], lambda s: td.w_typical(s, 0.5, 1), "typical_p"),
        (["--top-k", "0", "--epsilon-cutoff", "0.01"], lambda s: td.w_epsilon(s, 0.01, 1),
         "epsilon_cutoff"),
        (["--top-k", "0", "--eta-cutoff", "0.01"], lambda s: td.w_eta(s, 0.01, 1), "eta_cutoff"),
        (["--top-k", "2", "--min-keep", "3"], lambda s: td.w_top_k(s, 3, 3), "top_k"),
        (["--temp", "0.5", "--top-k", "3", "--sampler-order", "llama.cpp"],
         lambda s: td.w_temperature(td.w_top_k(s, 3, 1), 0.5, 1), "temperature"),
        (["--top-k", "0", "--samplers", "top_p,temperature", "--temp", "2", "--top-p", "0.5"],
         lambda s: td.w_temperature(td.w_top_p(s, 0.5, 1), 2, 1), "top_p"),
        (["--top-k", "0", "--logit-bias", f"{top[0]}:-inf", "--logit-bias", f"{top[3]}:2.5"],
         lambda s: s + np.where(np.arange(s.size) == top[3], 2.5, 0)
         + np.where(np.arange(s.size) == top[0], -np.inf, 0), "logit_bias"),
        (["--top-k", "0", "--suppress-tokens", f"{top[1]},{top[2]}"],
         lambda s: np.where(np.isin(np.arange(s.size), top[1:3]), -np.inf, s), "suppress"),
        (["--top-k", "0", "--repetition-penalty", "1.3"],
         lambda s: rep_penalty(s, PROMPT, 1.3), "repetition_penalty"),
    ]
    for args, fn, stage in cases:
        first_step(model, ref, args, fn, stage)
    doc = first_step(model, ref, ["--temp", "0.5", "--top-k", "3", "--sampler-order", "llama.cpp"],
                     lambda s: td.w_temperature(td.w_top_k(s, 3, 1), 0.5, 1), "top_k")
    if doc:
        check(doc["settings"]["stages"] == "top_k,temperature" and
              doc["settings"]["sampler_order"] == "llama.cpp", "llama.cpp order: temperature last")
    # greedy with a processor: the argmax of the processed scores
    first_step(model, ref, ["--logit-bias", f"{top[0]}:-inf"],
               lambda s: np.where(np.arange(s.size) == top[0], -np.inf, s), "logit_bias",
               sample=False)
    # presence / frequency over generated tokens and no-repeat-ngram: the greedy chain
    n = 8
    doc = gen_json(model, "--prompt-ids", P, "-n", str(n), "--ignore-eos", "--presence-penalty",
                   "1.5", "--frequency-penalty", "0.5", "--no-repeat-ngram-size", "2")
    if doc:
        ids, gen = list(PROMPT), []
        for _ in range(n):
            s = ref.logits(ids).copy()
            for t in set(gen):
                s[t] -= 0.5 * gen.count(t) + 1.5
            for j in range(len(ids) - 1):  # bigrams of the whole history
                if ids[j] == ids[-1]:
                    s[ids[j + 1]] = -np.inf
            t = int(np.argmax(s))
            ids.append(t)
            gen.append(t)
        check(doc["sequences"][0]["ids"] == gen, f"penalties + no-repeat-ngram greedy chain: "
              f"{doc['sequences'][0]['ids']} != {gen}")
        check(doc["settings"]["stages"] == "presence_frequency,no_repeat_ngram",
              f"stages {doc['settings']['stages']}")


def test_generation_config(model, ref, tmp):
    greedy, _ = tdg.greedy_ref(ref, PROMPT, 8)
    cfg = {"do_sample": True, "temperature": 0.7, "top_k": 10, "top_p": None,
           "max_new_tokens": 6, "eos_token_id": 50256}
    m = with_config(model, tmp, "sample-cfg", cfg)
    doc = gen_json(m, "--prompt-ids", P, "-s", "3")
    if doc:
        st = doc["settings"]
        check(st["mode"] == "sampling" and abs(st["temperature"] - 0.7) < 1e-6 and
              st["top_k"] == 10 and st["max_new_tokens"] == 6 and st["top_p"] == 1,
              f"generation_config defaults: {st}")
        check(set(st["from_generation_config"].split(",")) ==
              {"do_sample", "temperature", "top_k", "max_new_tokens"},
              f"from_generation_config {st['from_generation_config']!r}")
    rc, out, err = temper("-m", m, "--prompt-ids", P, "--greedy", "--temp", "0.3", "-n", "3")
    check("temper: warning: --temp is used only when sampling" in err,
          f"--greedy --temp 0.3: a warning that --temp is ignored: {err}")
    line = next((l for l in err.splitlines() if l.startswith("temper: settings:")), "")
    check(rc == 0 and "mode=greedy" in line and "max_new_tokens=3" in line,
          f"flags win over generation_config: {line}")
    check(rc == 0 and "seed=" not in line and line.startswith("temper: settings:"),
          f"settings on one stderr line, no seed for greedy (none is used): {line}")
    rc, out, err = temper("-m", m, "--prompt-ids", P, "--temp", "0.3", "-n", "3", "-s", "7")
    line = err.splitlines()[0] if err else ""
    check(rc == 0 and "mode=sampling seed=7 " in line, f"sampling: the seed on the settings line: {line}")
    rc, out, err = temper("-m", m, "--prompt-ids", P, "--temp", "0.3", "-n", "3", "-q")
    check(rc == 0 and err == "" and out, f"-q: nothing on stderr: {err!r}")
    doc = gen_json(m, "--prompt-ids", P, "--temp", "0", "--ignore-eos")
    check(doc and doc["settings"]["mode"] == "greedy" and doc["sequences"][0]["ids"] ==
          greedy[:6], "--temp 0 is greedy")
    # EOS and min_new_tokens: the first greedy token not seen before ends the text
    k = next(i for i in range(1, 8) if greedy[i] not in greedy[:i])
    m = with_config(model, tmp, "eos-cfg", {"eos_token_id": [greedy[k]]})
    doc = gen_json(m, "--prompt-ids", P, "-n", "8")
    check(doc and doc["sequences"][0]["ids"] == greedy[:k + 1] and
          doc["sequences"][0]["finish_reason"] == "eos", "stops at the EOS of generation_config")
    doc = gen_json(m, "--prompt-ids", P, "-n", "8", "--ignore-eos")
    check(doc and doc["sequences"][0]["ids"] == greedy[:8] and
          doc["sequences"][0]["finish_reason"] == "length", "--ignore-eos")
    doc = gen_json(m, "--prompt-ids", P, "-n", "8", "--min-new-tokens", str(k + 2))
    ids = doc["sequences"][0]["ids"] if doc else []
    check(ids[:k] == greedy[:k] and len(ids) > k and ids[k] != greedy[k],
          f"--min-new-tokens bans the EOS: {ids}")
    # beams from generation_config and do_sample from it: beam search wins, said
    m = with_config(model, tmp, "beam-sample-cfg", {"do_sample": True, "num_beams": 2})
    rc, out, err = temper("-m", m, "--prompt-ids", P, "-n", "2")
    check(rc == 0 and "mode=beam_search" in err and "do_sample" in err, f"beam + do_sample cfg: {err}")


def test_stop(model, ref, dec):
    greedy, _ = tdg.greedy_ref(ref, PROMPT, 10)
    full = dec(greedy)
    # a stop string across a token boundary, found by text
    bounds = [len(dec(greedy[:i])) for i in range(1, 10)]
    cut = next((b for b in bounds[1:] if 2 <= b <= len(full) - 2), None)
    if cut is None:
        check(False, f"no token boundary to test --stop on in {full!r}")
        return
    stop = full[cut - 2:cut + 2]
    k = next(i for i in range(1, 11) if stop in dec(greedy[:i]))
    doc = gen_json(model, "--prompt-ids", P, "-n", "10", "--ignore-eos", "--stop", stop,
                   "--stop", "never-there")
    s = doc["sequences"][0] if doc else {}
    check(s.get("ids") == greedy[:k] and s.get("finish_reason") == "stop",
          f"--stop {stop!r}: {s.get('ids')} != {greedy[:k]}")
    rc, out, err = temper("-m", model, "--prompt-ids", P, "-n", "10", "--ignore-eos", "--stop", stop)
    check(rc == 0 and out == dec(PROMPT + greedy[:k]) + "\n", f"--stop text {out!r}")


def test_text(model, ref, dec, sampled):
    """Streamed text = decode(prompt + ids); the --n-probs table; colour only
    on a terminal; a UTF-8 character split over two tokens."""
    rc, out, err = temper("-m", model, "--prompt-ids", P, "-n", "8", "--ignore-eos", "--temp",
                          "0.8", "--top-k", "20", "-s", "1234", "--n-probs", "2")
    ids = sampled["sequences"][0]["ids"] if sampled else []
    text = dec(PROMPT + ids)
    check(rc == 0 and out.startswith(text + "\n"), f"streamed text {out[:80]!r} != {text!r}")
    check("\x1b[" not in out, "no colour when stdout is not a terminal")
    check("raw" in out and "processed" in out and "p proc" in out and "logp proc" in out,
          "--n-probs table: labelled raw and processed columns")
    rows = [l.split() for l in out.splitlines() if l[:6].strip().isdigit()]
    check(len(rows) == 8, f"--n-probs: one row per token, got {len(rows)}")
    e = 0.0
    hist = list(PROMPT)
    for k, r in enumerate(rows[:len(ids)]):
        raw = log_softmax(ref.logits(hist))
        proc = td.softmax(td.w_top_k(td.w_temperature(ref.logits(hist), 0.8, 1), 20, 1))
        p, logp, pp, lpp = map(float, r[-4:])
        e = max(e, abs(p - math.exp(raw[ids[k]])), abs(logp - raw[ids[k]]),
                abs(pp - proc[ids[k]]), abs(lpp - math.log(proc[ids[k]])))
        hist.append(ids[k])
    check(e < 2e-5, f"--n-probs table vs numpy: max error {e:.1e} (6 decimals printed)")
    alts = [l for l in out.splitlines() if l.startswith("      ") and l.split()[0] in ("1", "2", "*")]
    check(len(alts) == 16, f"--n-probs 2: two alternatives per step, got {len(alts)}")
    # greedy, no processor: no processed columns; --n-probs 1 does not repeat the chosen row
    rc, out, err = temper("-m", model, "--prompt-ids", P, "-n", "4", "--ignore-eos", "--n-probs", "1")
    lines = out.splitlines()
    head = [l for l in lines if l.startswith("step")]
    check(rc == 0 and head and head[0].split() == ["step", "token", "p", "logp"],
          f"greedy --n-probs: only the raw columns: {head}")
    check(len([l for l in lines if l.startswith("      ")]) == 0 and
          len([l for l in lines if l[:6].strip().isdigit()]) == 4,
          f"--n-probs 1, greedy: one row per step, none repeated: {out}")
    # colour on a terminal
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    r = subprocess.run([TEMPER, "generate", "-m", model, "--prompt-ids", P, "-n", "3"],
                       stdout=slave, stderr=subprocess.DEVNULL, env=env, timeout=120)
    os.close(slave)
    got = b""
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    os.close(master)
    check(r.returncode == 0 and b"\x1b[36m" in got and got.rstrip().endswith(b"\x1b[0m"),
          f"colour on a terminal: {got!r}")
    # byte tokens 127 (0xC3) then 102 (0xA9) make "é": the prompt ends inside
    # the character and a logit bias forces the second byte
    rc, out, err = temper("-m", model, "--prompt-ids", "127", "-n", "1", "--logit-bias", "102:1000")
    check(rc == 0 and out == "\u00e9\n", f"UTF-8 across prompt and generation: {out!r} {err}")
    rc, out, err = temper("-m", model, "--prompt-ids", P, "-n", "-1", "--ignore-eos", "--json")
    doc = json.loads(out) if rc == 0 else None
    check(doc and len(doc["sequences"][0]["ids"]) == 64 - len(PROMPT),
          "-n -1: until the context window is full")


def test_temps(model, ref):
    temps = [1.0, 0.7, 0.5, 0.1, 0.0]
    doc = gen_json(model, "--prompt-ids", P, "-n", "6", "--ignore-eos", "--temps",
                   ",".join(map(str, temps)), "--num-return-sequences", "3", "-s", "42")
    if not doc:
        return
    runs = doc["temperatures"]
    check([r["temperature"] for r in runs] == temps, "--temps: one run per temperature")
    for r in runs:
        n = 1 if r["temperature"] == 0 else 3
        texts = [s["text"] for s in r["sequences"]]
        check(len(texts) == n and r["distinct"] == len(set(texts)),
              f"T={r['temperature']}: {len(texts)} sequences, distinct {r['distinct']}")
    greedy, _ = tdg.greedy_ref(ref, PROMPT, 6)
    check(runs[-1]["sequences"][0]["ids"] == greedy and runs[-1]["greedy"], "T=0: the greedy text")
    one = gen_json(model, "--prompt-ids", P, "-n", "6", "--ignore-eos", "--temp", "0.5",
                   "--num-return-sequences", "3", "-s", "42")
    check(one and [s["ids"] for s in one["sequences"]] == [s["ids"] for s in runs[2]["sequences"]],
          "--temps run at 0.5 = a --temp 0.5 run with the same seed")
    rc, out, err = temper("-m", model, "--prompt-ids", P, "-n", "4", "--temps", "1,0.1",
                          "--num-return-sequences", "2", "-s", "42")
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 0 and last.startswith("distinct outputs per temperature") and "T=1 " in last and
          "T=0.1 " in last, f"--temps summary line: {last!r}")


# ---- errors -------------------------------------------------------------------

def test_errors(model):
    bad = [
        (["--temp", "-0.5"], "temperature"), (["--temperature", "nan"], "nan"),
        (["--top-p", "1.5"], "top_p"), (["--top-p", "-0.1"], "top_p"),
        (["--top-p", "nan"], "nan"), (["--top-k", "-1"], "top_k"),
        (["--min-p", "1.1"], "min_p"), (["--typical-p", "0"], "typical_p"),
        (["--epsilon-cutoff", "1"], "epsilon_cutoff"), (["--eta-cutoff", "-1"], "eta_cutoff"),
        (["--repeat-penalty", "0"], "repetition_penalty"),
        (["--presence-penalty", "2.5"], "presence_penalty"),
        (["--frequency-penalty", "nan"], "nan"), (["--no-repeat-ngram-size", "-2"], "no_repeat"),
        (["--min-keep", "0"], "min_keep"), (["--min-new-tokens", "-1"], "--min-new-tokens"),
        (["--num-beams", "2", "--num-return-sequences", "3"], "--num-beams"),
        (["--num-return-sequences", "2"], "greedy"), (["--num-beams", "0"], "--num-beams"),
        (["--num-beams", "2", "--do-sample"], "beam"), (["--num-beams", "2", "--top-p", "0.5"], "beam"),
        (["--length-penalty", "nan"], "--length-penalty"), (["--early-stopping", "yes"], "never"),
        (["--logit-bias", "12"], "ID:BIAS"), (["--logit-bias", "99999999:1"], "vocabulary"),
        (["--logit-bias", "5:nan"], "ID:BIAS"), (["--suppress-tokens", "x"], "token id"),
        (["--sampler-order", "vllm"], "llama.cpp"), (["--samplers", "top_z"], "top_z"),
        (["--stop", ""], "--stop"), (["--n-probs", "100"], "--n-probs"), (["-n", "x"], "-n"),
        (["--temps", "1,-2"], "--temps"), (["--temps", "1", "--num-beams", "2"], "beam"),
        (["--seed", "1.5"], "--seed"), (["--bogus"], "unknown option"),
    ]
    for args, word in bad:
        rc, out, err = temper("-m", model, "--prompt-ids", P, *args)
        lines = [l for l in err.splitlines() if l.strip()]
        check(rc == 2, f"{args}: exit {rc}, want 2 ({err.strip()})")
        check(len(lines) == 1 and lines[0].startswith("temper: ") and word in lines[0],
              f"{args}: one line naming {word!r}: {err!r}")
        check(out == "", f"{args}: nothing on stdout")
    rc, out, err = temper("--help")
    check(rc == 0 and "Temperature 0 means greedy" in out and "--num-beams" in out and
          "--n-probs" in out and "--top-p" in out, "--help")
    rc, out, err = temper("--power", "2", "--help")
    check(rc == 0 and "p(x)^ALPHA" in out, "--power is handed to power sampling")


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing(f"{TEMPER} not built")
    model = tdg.model_dir()
    ref = tdg.Ref(model)
    dec = Decoder(model)
    tmp = tempfile.mkdtemp(prefix="temper-gen-")
    try:
        test_errors(model)
        test_greedy_json(model, ref, dec)
        sampled = test_sampling(model, ref)
        test_beams(model, ref, tmp)
        test_processors(model, ref)
        test_generation_config(model, ref, tmp)
        test_stop(model, ref, dec)
        test_text(model, ref, dec, sampled)
        test_temps(model, ref)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
