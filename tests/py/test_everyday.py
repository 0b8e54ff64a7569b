#!/usr/bin/python3
# san: yes
"""test_everyday.py - a new user's first run: the bundled model, model
resolution without -m, `make install`, and the everyday CLI frictions.

1. models/stories260K/ holds the very files of ../shared/fixtures/stories260K
   (whose greedy outputs test_stories260k.py checks against llama2.c's
   published ones), with its licence and provenance.
2. With no -m, an empty Hugging Face cache and no network, `generate` runs
   on the bundled model (one stderr line names it and `temper pull gpt2`)
   and prints the same text as `-m FIXTURE.bin -z tok512.bin`; `-m
   stories260K` works from any folder; a local folder of that name wins.
4. Frictions of issue 13, each fixed with a check here: the space between
   prompt and continuation in `trace` and power sampling (SentencePiece
   and byte-level), the context-limit suggestion, Python-style escaping of
   trace's token list, "did you mean" for commands and options.
3. `make install DESTDIR=... PREFIX=...` puts the CLI, library, header and
   model in place, and the installed `temper` finds the model from any
   folder (not for the sanitizer build: it installs the plain build).

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_everyday.py
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, BUILD_NAME, FIXTURES, ROOT, TEMPER, check  # noqa: E402

FIX = os.path.join(FIXTURES, "stories260K")
BUNDLED = os.path.join(ROOT, "models", "stories260K")
TMP = tempfile.mkdtemp(prefix="test-everyday-", dir=BUILD)


def clean_env(**extra):
    """No model set, an empty Hugging Face cache, a Hub that cannot be reached."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HF_") and k not in ("TEMPER_MODEL", "XDG_CACHE_HOME")}
    env.update(HF_HOME=os.path.join(TMP, "hf"), HOME=os.path.join(TMP, "home"),
               HF_ENDPOINT="http://127.0.0.1:9")
    env.update(extra)
    return env


def temper(*args, exe=TEMPER, cwd=TMP, **extra):
    r = subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, env=clean_env(**extra),
                       timeout=120)
    check("no crash: %s" % " ".join(args), r.returncode >= 0 and not harness.crash_report(r.stderr),
          r.stderr[-2000:])
    return r


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bundled_files():
    for name in ("stories260K.bin", "tok512.bin"):
        check("bundled %s is the fixture's file" % name,
              sha256(os.path.join(BUNDLED, name)) == sha256(os.path.join(FIX, name)))
    for name in ("LICENSE", "PROVENANCE.md"):
        with open(os.path.join(BUNDLED, name)) as f:
            text = f.read()
        check("bundled %s" % name, ("MIT" in text) and len(text) > 200, text[:200])


def resolution():
    prompt = "Lily went to the"
    ref = temper("generate", "-n", "30", "-m", os.path.join(FIX, "stories260K.bin"), "-z",
                 os.path.join(FIX, "tok512.bin"), prompt)
    check("reference run", ref.returncode == 0 and ref.stdout.startswith(prompt + " "), ref.stderr)
    r = temper("generate", "-n", "30", prompt, cwd="/")
    first = r.stderr.splitlines()[0] if r.stderr else ""
    check("no -m: the bundled model, offline", r.returncode == 0 and r.stdout == ref.stdout,
          "%r vs %r %s" % (r.stdout, ref.stdout, r.stderr))
    check("no -m: one line names the model and how to get gpt2",
          first.startswith("temper: model stories260K (bundled") and "temper pull gpt2" in first, first)
    r = temper("generate", "-n", "30", "-m", "stories260K", "-q", prompt, cwd="/")
    check("-m stories260K from any folder; -q: nothing on stderr",
          r.returncode == 0 and r.stdout == ref.stdout and r.stderr == "", r.stderr)
    # the README's first command: the continuation and each token's probability
    r = temper("generate", "--n-probs", "3", prompt)
    check("first command: text and a probability table", r.returncode == 0 and
          r.stdout.startswith(ref.stdout.split(" with")[0]) and "0.684794" in r.stdout, r.stdout[:500])
    # a folder called stories260K in the working directory wins over the bundled one
    local = os.path.join(TMP, "stories260K")
    os.makedirs(local, exist_ok=True)
    r = temper("info", "-m", "stories260K", cwd=TMP)
    check("a local folder named stories260K wins (an empty one fails to load)",
          r.returncode == 1 and "stories260K" in r.stderr, r.stderr)
    shutil.rmtree(local)
    for cmd in (["info"], ["tokenize", "Lily"], ["probs", "Lily"], ["trace", "-n", "2", "Lily"],
                ["score", "Lily went"], ["attention", "Lily"], ["hidden", "Lily"]):
        r = temper(*cmd)
        check("no -m: %s runs on the bundled model" % cmd[0], r.returncode == 0 and
              "model stories260K" in r.stderr, r.stderr)


def gpt2_model():
    """A random-weight GPT-2 with the real byte-level tokenizer."""
    return harness.cached_model("everyday-gpt2", ["--preset", "tiny", "--dtype", "f32"])


def ids_of(model, text):
    return json.loads(temper("tokenize", "-m", model, "--json", "--", text).stdout)["ids"]


def decode(model, ids):
    return temper("detokenize", "-m", model, "--skip-special", *map(str, ids)).stdout.rstrip("\n")


def seams():
    """prompt + continuation decoded together: `trace` and power sampling."""
    # (stories260K continues with " park" and " a": a space that SentencePiece
    # puts in the next token, lost when prompt and continuation are decoded
    # apart; the random GPT-2 checks the same on byte-level BPE)
    for label, model, prompt, space in (("SentencePiece", "stories260K", "Lily went to the", " "),
                                        ("byte-level", gpt2_model(), "The answer is", "")):
        r = temper("trace", "-m", model, "-n", "6", "--json", prompt)
        doc = json.loads(r.stdout) if r.returncode == 0 else {}
        want = decode(model, doc.get("ids", []) + doc.get("continuation_ids", []))
        r = temper("trace", "-m", model, "-n", "6", prompt)
        line = [l for l in r.stdout.splitlines() if l.startswith('   "')]
        check("trace %s: prompt and continuation with the space between them" % label,
              r.returncode == 0 and line and line[-1] == '   "%s"' % want and want.startswith(prompt + space),
              "%r vs %r" % (line, want))
        for method in ("smc", "mh"):
            r = temper("generate", "-m", model, "--power", "4", "--power-method", method, "-n", "6",
                       "-s", "1", "--json", prompt)
            doc = json.loads(r.stdout) if r.returncode == 0 else {"sequences": [{"ids": []}]}
            want = decode(model, ids_of(model, prompt) + doc["sequences"][0]["ids"])
            r = temper("generate", "-m", model, "--power", "4", "--power-method", method, "-n", "6",
                       "-s", "1", prompt)
            check("power %s, %s: prompt and continuation with the space between them" % (method, label),
                  r.returncode == 0 and r.stdout == want + "\n" and want.startswith(prompt + space),
                  "%r vs %r" % (r.stdout, want))


def trace_escaping():
    """trace's token list reads as Python's repr of the tokens."""
    model = gpt2_model()
    text = 'It\'s "x"\n\tback\\slash'
    doc = json.loads(temper("trace", "-m", model, "-n", "1", "--json", "--", text).stdout)
    r = temper("trace", "-m", model, "-n", "1", "--", text)
    line = [l for l in r.stdout.splitlines() if l.startswith("   tokens  ")]
    want = "   tokens  " + repr(doc["tokens"])
    check("trace: the token list is Python's repr", line == [want], "%r vs %r" % (line, want))


def context_limit():
    r = temper("generate", "-n", "600", "Lily")
    check("context limit: the suggestion counts the prompt",
          r.returncode != 0 and "at most 510 new tokens" in r.stderr, r.stderr)
    r = temper("generate", "-n", "510", "-q", "Lily")
    check("context limit: the suggested 510 runs", r.returncode == 0, r.stderr)
    r = temper("generate", "-n", "511", "-q", "Lily")
    check("context limit: 511 does not", r.returncode != 0 and "at most 510" in r.stderr, r.stderr)


def did_you_mean():
    for args, want in ((["genrate", "x"], "did you mean 'generate'?"),
                       (["generate", "--tmp", "0.5", "x"], "did you mean --temp?"),
                       (["generate", "--temprature", "0.5", "x"], "did you mean --temperature?"),
                       (["probs", "--topp", "3", "x"], "did you mean --top?"),
                       (["detokenize", "--skip-specal", "1"], "did you mean --skip-special?")):
        r = temper(*args)
        check("did you mean: %s" % " ".join(args), r.returncode == 2 and want in r.stderr, r.stderr)
    r = temper("generate", "--zzzzzz", "x")
    check("no suggestion when nothing is close", r.returncode == 2 and "did you mean" not in r.stderr,
          r.stderr)


def probs_controls():
    """probs with decoding controls: the processed probability of every
    token against transformers' processors and warpers in numpy
    (tests/py/test_decode.py), from the raw logits probs prints."""
    import numpy as np
    import test_decode as td
    prompt = "Lily went to the park. Lily"
    flags = ["--temp", "0.7", "--top-k", "20", "--top-p", "0.9", "--min-p", "0.02",
             "--repeat-penalty", "1.3"]
    r = temper("probs", "--json", "--top", "512", *flags, prompt)
    doc = json.loads(r.stdout) if r.returncode == 0 else {"candidates": [], "prompt_ids": []}
    cands = doc["candidates"]
    logits = np.zeros(512)
    for c in cands:
        logits[c["id"]] = c["logit"]
    for t in set(doc["prompt_ids"]):  # transformers' RepetitionPenaltyLogitsProcessor
        logits[t] = logits[t] / 1.3 if logits[t] > 0 else logits[t] * 1.3
    want = td.reference(logits, {"temperature": 0.7, "top_k": 20, "top_p": 0.9, "min_p": 0.02},
                        td.HF_ORDER, 1)
    err = max((abs(c["prob_processed"] - want[c["id"]]) for c in cands), default=1)
    check("probs --json with every control: processed p vs numpy (%d tokens, max error %.1e)"
          % (len(cands), err), len(cands) == 512 and err < 1e-5, r.stderr)
    kept = sum(1 for c in cands if c["prob_processed"] > 0)
    check("probs: the controls remove tokens", 1 < kept <= 20, kept)
    r = temper("probs", "--top", "5", *flags, prompt)
    rows = [l.split() for l in r.stdout.splitlines() if l[:4].strip().isdigit()]
    head = [l for l in r.stdout.splitlines() if l.startswith("rank")]
    check("probs table: raw and processed columns", head and head[0].split() ==
          ["rank", "token", "id", "logit", "prob", "prob", "%", "p", "proc", "proc", "%"] and
          len(rows) == 5, r.stdout)
    for k, row in enumerate(rows):
        c = cands[k]
        check("probs table row %d: one format per column (6 decimals)" % (k + 1),
              row[4] == "%.6f" % c["prob"] and row[6] == "%.6f" % c["prob_processed"], row)
    r = temper("probs", "--top", "5", prompt)
    head = [l for l in r.stdout.splitlines() if l.startswith("rank")]
    check("probs without controls: no processed columns", head and "proc" not in head[0], r.stdout)


def defaults():
    """One set of defaults: -n 20 and a fresh seed (shown when sampling) in
    generate, trace and power sampling; warnings for ignored flags."""
    gen = json.loads(temper("generate", "--json", "--ignore-eos", "Lily").stdout)
    n_gen = len(gen["sequences"][0]["ids"])
    tr = json.loads(temper("trace", "--json", "Lily").stdout)
    pw = json.loads(temper("generate", "--power", "2", "--power-method", "smc", "--ignore-eos",
                           "--json", "Lily").stdout)
    check("-n defaults to 20 in generate, trace and power sampling",
          (n_gen, len(tr["continuation_ids"]), pw["settings"]["max_new_tokens"],
           len(pw["sequences"][0]["ids"])) == (20, 20, 20, 20),
          (n_gen, len(tr["continuation_ids"]), pw["settings"]["max_new_tokens"]))
    seeds = []
    for _ in range(2):
        r = temper("generate", "--temp", "1", "-n", "8", "Lily")
        m = __import__("re").search(r"seed=(\d+)", r.stderr)
        seeds.append((m.group(1) if m else None, r.stdout))
    check("generate: a fresh seed per run when sampling, shown", seeds[0][0] and seeds[1][0] and
          seeds[0][0] != seeds[1][0], seeds)
    r = temper("generate", "--temp", "1", "-n", "8", "-s", seeds[0][0], "Lily")
    check("the shown seed reproduces the run", r.stdout == seeds[0][1], (r.stdout, seeds[0][1]))
    t1 = json.loads(temper("trace", "--json", "--temp", "1", "Lily").stdout)["settings"]["seed"]
    t2 = json.loads(temper("trace", "--json", "--temp", "1", "Lily").stdout)["settings"]["seed"]
    p2 = json.loads(temper("generate", "--power", "2", "--json", "-n", "4", "Lily").stdout)["settings"]["seed"]
    check("trace and power sampling: the same default seed rule (fresh, shown)",
          t1 != t2 and t1 != 42 and p2 != 0, (t1, t2, p2))
    r = temper("generate", "--temp", "0.7", "-n", "3", "-s", "1", "Lily")
    line = [l for l in r.stderr.splitlines() if l.startswith("temper: settings:")]
    check("the settings line says which values came from flags",
          line and "(flags: temperature,max_new_tokens,seed)" in line[0] and
          "(the rest: transformers' defaults)" in line[0], line)
    for args, want in ((["--do-sample", "--temp", "0"], "temperature 0 means greedy"),
                       (["--greedy", "--top-p", "0.9"], "--top-p is ignored")):
        r = temper("generate", "-n", "2", *args, "Lily")
        check("conflicting flags warn: %s" % " ".join(args),
              r.returncode == 0 and ("temper: warning: " in r.stderr) and want in r.stderr, r.stderr)


def many_sequences():
    """More return sequences than a batch (512): run in batches, sequence k
    still drawn from stream k; power sampling takes --num-return-sequences."""
    def seqs(n):
        r = temper("generate", "--json", "--temp", "1", "-n", "4", "-s", "5", "--ignore-eos",
                   "--num-return-sequences", str(n), "Lily")
        return [tuple(q["ids"]) for q in json.loads(r.stdout)["sequences"]] if r.returncode == 0 else []
    s100, s600, s1000 = seqs(100), seqs(600), seqs(1000)
    check("600 sequences in batches of 512: all returned", len(s600) == 600 and len(s1000) == 1000,
          (len(s600), len(s1000)))
    check("batched: sequence k is the same as in a single batch", s600[:100] == s100)
    check("batched: the second batch's sequences depend only on k", s600[512:] == s1000[512:600])
    check("batched: the sequences are not copies", len(set(s600)) > 100, len(set(s600)))
    base = ["generate", "--power", "1", "--power-method", "sir", "-n", "8", "-s", "3", "--json"]
    one = json.loads(temper(*base, "Lily went to the").stdout)["sequences"]
    many = json.loads(temper(*base, "--num-return-sequences", "4", "Lily went to the").stdout)["sequences"]
    check("power sampling --num-return-sequences 4: four samples, the first as a single run",
          len(many) == 4 and many[0]["ids"] == one[0]["ids"], (len(many), one))
    check("power sampling: independent samples differ", len({tuple(q["ids"]) for q in many}) > 1, many)


def lenient_vocab():
    """A byte-level tokenizer.json whose vocabulary lacks a byte's token
    ("!") loads, as Hugging Face tokenizers does; a text that needs the
    byte gets a clear error at encode time, the others encode as before."""
    with open(os.path.join(FIXTURES, "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        t = json.load(f)
    del t["model"]["vocab"]["!"]
    t["model"]["merges"] = [m for m in t["model"]["merges"]
                            if "!" not in (m.split(" ") if isinstance(m, str) else m)]
    d = os.path.join(TMP, "no-bang")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(t, f)
    r = temper("tokenize", "-z", d, "--json", "Hello world")
    ids = json.loads(r.stdout)["ids"] if r.returncode == 0 else None
    check("a vocabulary without the token of byte 0x21 loads and encodes other text",
          ids == [15496, 995], r.stderr)
    r = temper("tokenize", "-z", d, "Hello world!")
    check("a text with that byte: a clear error at encode time", r.returncode == 1 and
          "byte 0x21" in r.stderr and "no token for it" in r.stderr and
          len(r.stderr.strip().splitlines()) == 1, r.stderr)


def info_from_config():
    """info on a folder with config.json and no weights: config.json's
    facts; the parameter count from its sizes equals the one counted from
    the weights of the same model (GPT-2, OPT with a projection and post-LN,
    Llama with grouped heads, tied and untied), and the published counts of
    gpt2 and distilgpt2."""
    shapes = {"gpt2": ["--preset", "tiny"],
              "opt": ["--arch", "opt", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
                      "--n-ctx", "64", "--post-ln", "--word-embed-proj-dim", "32"],
              "llama": ["--arch", "llama", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2",
                        "--n-embd", "64", "--n-inner", "96", "--n-ctx", "64"],
              "llama-tied": ["--arch", "llama", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2",
                             "--n-embd", "64", "--n-inner", "96", "--n-ctx", "64", "--tied-lm-head"]}
    for label, args in shapes.items():
        model = harness.cached_model("everyday-" + label, args + ["--dtype", "f32"])
        r = temper("info", "--json", "-m", model)
        full = json.loads(r.stdout) if r.returncode == 0 else {}
        d = os.path.join(TMP, "config-only-" + label)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(model, "config.json"), d)
        r = temper("info", "--json", "-m", d)
        got = json.loads(r.stdout) if r.returncode == 0 else {}
        keys = ("arch", "n_params", "n_layer", "n_head", "n_kv_head", "n_embd", "n_ff", "n_vocab", "n_ctx")
        check("info from config.json alone, %s: the facts of the loaded model" % label,
              got.get("weights") is False and full.get("n_params") and
              all(got.get(k) == full.get(k) for k in keys),
              {k: (got.get(k), full.get(k)) for k in keys})
    for name, n_params in (("gpt2", 124439808), ("distilgpt2", 81912576)):
        d = os.path.join(TMP, "config-only-" + name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(FIXTURES, name, "config.json"), d)
        r = temper("info", "-m", d)
        check("info from %s's config.json: %d parameters" % (name, n_params), r.returncode == 0 and
              "{:,}".format(n_params) in r.stdout and "none in the folder" in r.stdout, r.stdout + r.stderr)


def version():
    """--version is made from temper.h's TEMPER_VERSION_* macros."""
    import re
    with open(os.path.join(ROOT, "include", "temper.h")) as f:
        h = f.read()
    parts = [re.search(r"#define TEMPER_VERSION_%s (\d+)" % k, h).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
    r = temper("--version")
    check("--version from temper.h", r.stdout == "temper %s\n" % ".".join(parts), r.stdout)


def install():
    if BUILD_NAME != "build":
        return  # make install copies the plain build
    dest = os.path.join(TMP, "dest")
    r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "install", "DESTDIR=" + dest,
                        "PREFIX=/opt/tp"], capture_output=True, text=True, timeout=600)
    check("make install", r.returncode == 0, r.stderr[-2000:])
    root = dest + "/opt/tp"
    for path in ("bin/temper", "lib/libtemper.a", "include/temper.h",
                 "share/temper/models/stories260K/stories260K.bin",
                 "share/temper/models/stories260K/tok512.bin",
                 "share/temper/models/stories260K/LICENSE"):
        check("installed %s" % path, os.path.isfile(os.path.join(root, path)))
    r = temper("generate", "-n", "5", "-m", "stories260K", "Lily", exe=root + "/bin/temper", cwd="/")
    check("the installed temper finds the bundled model", r.returncode == 0 and
          r.stdout.startswith("Lily "), r.stderr)
    r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "uninstall", "DESTDIR=" + dest,
                        "PREFIX=/opt/tp"], capture_output=True, text=True, timeout=60)
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    check("make uninstall removes it all", r.returncode == 0 and not left, left)


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing("%s not built: run make" % TEMPER)
    try:
        bundled_files()
        resolution()
        version()
        seams()
        trace_escaping()
        context_limit()
        did_you_mean()
        probs_controls()
        defaults()
        many_sequences()
        lenient_vocab()
        info_from_config()
        install()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
