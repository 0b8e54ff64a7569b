#!/usr/bin/env python3
# san: yes
"""test_examples.py - the Python examples (examples/python/seed00*.py, the
seed notebooks rewritten on the binding) run on the bundled model
(TEMPER_MODEL) and print what the CLI's --json gives for the same inputs,
or what the seed notebook itself printed (seeds 002 and 003, which need
no model). Against build-san the examples run with the sanitizer
runtimes preloaded."""
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np

import harness
from harness import check, check_close, check_same, summary, BUILD, ROOT, TEMPER, PY

EXAMPLES = os.path.join(ROOT, "examples", "python")
STORIES = os.path.join(ROOT, "models", "stories260K")
SEEDS = os.path.join(ROOT, "..", "shared", "seeds")


def run(name):
    env = dict(os.environ, TEMPER_MODEL=STORIES, TEMPER_PLOT="0",
               TEMPER_LIB=os.path.join(BUILD, "libtemper.so"))
    if "san" in harness.BUILD_NAME:
        env["LD_PRELOAD"] = " ".join(
            subprocess.run(["cc", f"-print-file-name={n}"], capture_output=True, text=True).stdout.strip()
            for n in ("libasan.so", "libubsan.so"))
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    r = subprocess.run([PY, os.path.join(EXAMPLES, name)], capture_output=True, text=True, env=env,
                       cwd=EXAMPLES, timeout=300)
    check(f"{name} runs", r.returncode == 0, r.stderr[-2000:])
    return r.stdout


def cli(*args):
    r = subprocess.run([TEMPER, *args, "--json", "-q"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"temper {' '.join(args)}: {r.stderr}")
    return json.loads(r.stdout)


def seed_lines(prefix, pattern):
    """The lines of the seed notebook prefix_*.txt matching pattern."""
    path = glob.glob(os.path.join(SEEDS, prefix + "_*.txt"))
    if not path:
        return None
    return [l.rstrip("\n") for l in open(path[0], encoding="utf-8") if re.match(pattern, l)]


def test_000():
    out = run("seed000_power_vs_temperature.py")
    seqs = ["7 is a prime number because it only has two divisors.",
            "7 is prime number as it is only divisible by 1 and 7."]
    j = cli("score", "-m", STORIES, "--alpha", "2", "--temperature", "0.5", *seqs)
    want = [f"Seq: {r['text'][:30]}... | Raw: {r['log_prob']:.2f} | Power: {r['power_score']:.2f} | "
            f"Temp: {r['temp_score']:.2f}" for r in j["results"]]
    check_same("seed 000: sequence lines == CLI score", [l for l in out.splitlines()
                                                         if l.startswith("Seq:")], want)
    j = cli("score", "-m", STORIES, "--pairs", "2 + 2 is 4", "2 + 2 is 5")
    a, b = j["results"]
    raw = [l for l in out.splitlines() if l.startswith("Raw ")]
    check("seed 000: pair 1 == CLI score --pairs", bool(raw) and
          raw[0].split("|")[2].strip() == f"{a['log_prob']:.2f}" and
          raw[0].split("|")[3].strip() == f"{a['log_prob'] - b['log_prob']:.2f}", (raw[:1], a, b))
    check("seed 000: three pairs, three methods each", len(raw) == 3 and
          out.count("Power (a=2)") == 3 and out.count("Temp (T=0.5)") == 3, out)


def table_lines(out, header):
    lines = out.splitlines()
    i = lines.index(header) if header in lines else -1
    rows = []
    for l in lines[i + 1:] if i >= 0 else []:
        if not re.match(r"\d\d token=", l):
            break
        rows.append(l)
    return rows


def gen_table(j):
    s = j["sequences"][0]
    return [f"{i+1:02d} token={t['text'].replace(chr(10), chr(92) + 'n')!r:12s}".rstrip()
            for i, t in enumerate(s["logprobs"])], [t["logprob_processed"] for t in s["logprobs"]]


def check_table(name, rows, j):
    """rows (the example's lines) against the CLI's tokens: the same token
    on each line, p and logp within the 6 printed decimals (the CLI's
    float32 log-probs are printed in their shortest form, which may round
    the other way at the 6th decimal)."""
    want_tokens, want_logp = gen_table(j)
    check_same(name + ": tokens", [r.split(" p=")[0].rstrip() for r in rows], want_tokens)
    logp = [float(r.split("logp=")[1]) for r in rows]
    p = [float(r.split(" p=")[1].split()[0]) for r in rows]
    check_close(name + ": logp", logp, want_logp, atol=1.5e-6)
    check_close(name + ": p", p, np.exp(want_logp), atol=1.5e-6)


def test_001():
    out = run("seed001_generation_table.py")
    j = cli("generate", "-m", STORIES, "-n", "50", "The movie was full of")
    check_table("seed 001: greedy table == CLI generate", table_lines(out, "Greedy method"), j)
    j = cli("generate", "-m", STORIES, "-n", "50", "-s", "42", "--temp", "0.7", "The movie was full of")
    check_table("seed 001: T=0.7 table == CLI generate -s 42 --temp 0.7",
                table_lines(out, "Sampling, temperature=0.7 (seed 42)"), j)
    check("seed 001: five tables", len(re.findall(r"^01 token=", out, re.M)) == 5, out[:500])


def test_002():
    out = run("seed002_softmax_temperature.py")
    want = seed_lines("002", r"^\w+ +\d\.\d\d -> ")
    got = [l for l in out.splitlines() if " -> " in l and not l.startswith("token")]
    if want is None:
        harness.skip("seed 002 against the notebook", "../shared/seeds is absent")
    else:
        check_same("seed 002: tables == the notebook's printed tables", got, want)


def test_003():
    out = run("seed003_softmax_table.py")
    want = seed_lines("003", r"^\| \d \|")
    got = [l for l in out.splitlines() if re.match(r"^\| \d \|", l)]
    if want is None:
        harness.skip("seed 003 against the notebook", "../shared/seeds is absent")
    else:
        check_same("seed 003: table == the notebook's printed table", got, want)
    logits = np.array([5, 2.2, 2.0, 4.5, 3.0, 2.7])
    for t in (0.5, 2.0):
        line = next((l for l in out.splitlines() if l.startswith(f"T = {t:.2f}:")), "")
        got = [float(x) for x in re.findall(r" (\d\.\d\d)", line.partition(":")[2])]
        z = np.exp(logits / t - (logits / t).max())
        check_close(f"seed 003: T={t} == numpy softmax", got, z / z.sum(), atol=0.005 + 1e-9)


def test_004():
    out = run("seed004_llm_exploration.py")
    j = cli("tokenize", "-m", STORIES, "--no-special", "Machine Learning & Deep Learning")
    m = re.search(r"Texte: Machine Learning & Deep Learning\n   Tokens: .*\n   IDs: \[([\d, ]+)\]", out)
    check_same("seed 004: token ids == CLI tokenize", [int(x) for x in m.group(1).split(",")] if m else [],
               j["ids"])
    j = cli("probs", "-m", STORIES, "--top", "10", "Paris est la capitale de la")
    block = out.split("Top 10 tokens pour")[1].splitlines()[3:13] if "Top 10 tokens pour" in out else []
    check_same("seed 004: next-token ids == CLI probs", [int(l.split()[-3]) for l in block],
               [c["id"] for c in j["candidates"]])
    check_close("seed 004: next-token probabilities == CLI probs",
                [float(l.split()[-2]) for l in block], [c["prob"] for c in j["candidates"]], atol=5e-7)
    for text, label in (("Paris est la capitale de la France.", "Texte factuel simple"),
                        ("Le le le le le le le le le le", "Répétitions")):
        j = cli("perplexity", "-m", STORIES, text)
        m = re.search(rf"   {label} +([\d.]+)", out)
        check("seed 004: perplexity of '%s' == CLI" % label,
              m is not None and m.group(1) == f"{j['results'][0]['perplexity']:.2f}",
              (m and m.group(1), j["results"][0]["perplexity"]))
    j = cli("generate", "-m", STORIES, "-n", "30", "-s", "42", "--temp", "0.7", "--top-k", "50",
            "--top-p", "0.9", "--num-return-sequences", "3", "L'avenir de l'intelligence artificielle sera")
    block = out.split("Temperature = 0.7\n")[1].splitlines()[:3] if "Temperature = 0.7\n" in out else []
    check_same("seed 004: T=0.7 generations == CLI generate", block,
               [f"   {i}. {s['text']!r}" for i, s in enumerate(j["sequences"], 1)])
    check("seed 004: attention rows sum to 1", all(
        abs(sum(float(x) for x in l.split()[1:]) - 1) < 0.05
        for l in out.split("Couche 0, tête 0")[1].splitlines()[1:4]), "")


if __name__ == "__main__":
    if not os.path.exists(TEMPER):
        sys.exit(harness.missing(f"{TEMPER} missing: run make"))
    test_000()
    test_001()
    test_002()
    test_003()
    test_004()
    sys.exit(summary())
