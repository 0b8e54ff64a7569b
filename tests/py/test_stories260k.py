#!/usr/bin/python3
"""Golden tests on real weights: Karpathy's stories260K (llama2.c format).

1. Greedy generation reproduces byte for byte every published greedy output
   of ../shared/fixtures/references.md (the runs of llama2.c's run.c with
   -t 0: the default 256 steps, test_all.py's -n 200, and "Zoo" -n 60).
   The run.c command above each block is parsed and mapped to temper's:
     run.c -n STEPS counts positions, prompt tokens (BOS included) too, and
     it samples STEPS - n_prompt + 1 tokens; so temper generate gets
     -n STEPS - n_prompt + 1, with n_prompt from `temper tokenize --json`.
     run.c prints the prompt's pieces and the new ones with the leading
     space of the first piece after BOS stripped, then "\n"; temper prints
     HF's decode(prompt + new ids, skip_special_tokens=True), whose Strip
     decoder removes that same space, then "\n".
   (run.c stops when it samples BOS = 1 and temper at EOS = 2: neither
   happens in these runs, which the byte-for-byte comparison confirms.)
   With `-m FILE -z TOKENIZER`, and `-m FOLDER` (the loader finds
   tok512.bin) on the "Zoo" run.
2. The prompt encodings of tok512-encode-vectors.json (made with the
   sentencepiece library), through `temper tokenize --json`, with and
   without BOS, and the decode of each back to its text.
3. When Debian's python3-sentencepiece is installed: more texts encoded by
   the sentencepiece library with tok512.model (an independent
   implementation); only texts without runs of spaces, since tok512.model
   collapses them (remove_extra_whitespaces) while run.c and temper read
   tokenizer.bin, which has no such flag, as run.c does.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FIXTURES as FIX, check  # noqa: E402

DIR = os.path.join(FIX, "stories260K")
MODEL = os.path.join(DIR, "stories260K.bin")
TOK = os.path.join(DIR, "tok512.bin")
TEMPER = harness.TEMPER


def run(*args):
    r = subprocess.run([TEMPER, *args], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"temper {' '.join(args)}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode("utf-8")


def tokenize(text, *flags):
    return json.loads(run("tokenize", "-z", TOK, "--json", *flags, "--", text))["ids"]


def references():
    """[(run.c args, expected stdout)] for the greedy runs of references.md."""
    with open(os.path.join(FIX, "references.md"), encoding="utf-8") as f:
        md = f.read()
    out = []
    for m in re.finditer(r"```\n(.*?)```", md, re.S):
        cmds = re.findall(r"`(\./run [^`]*)`", md[:m.start()])
        if not cmds:
            continue
        args = cmds[-1].split()
        opts = {"-t": "1.0", "-n": "256", "-i": ""}
        quoted = re.search(r'-i "([^"]*)"', cmds[-1])
        for k in range(len(args) - 1):
            if args[k] in opts:
                opts[args[k]] = args[k + 1]
        if quoted:
            opts["-i"] = quoted.group(1)
        if float(opts["-t"]) != 0.0:
            continue  # sampled with run.c's own RNG: not comparable
        text = m.group(1)
        # run.c ends with one "\n"; test_all.py's string omits it
        out.append((cmds[-1], int(opts["-n"]), opts["-i"], text if text.endswith("\n") else text + "\n"))
    return out


def golden():
    refs = references()
    check("references.md has the three greedy runs", len(refs) == 3, repr([r[0] for r in refs]))
    for cmd, steps, prompt, want in refs:
        n_prompt = len(tokenize(prompt))  # BOS included, as run.c counts
        n_new = steps - n_prompt + 1
        wheres = [["-m", MODEL, "-z", TOK]] + ([["-m", DIR]] if prompt else [])
        for where in wheres:  # the folder form on the short "Zoo" run
            got = run("generate", *where, "-n", str(n_new), "--", prompt)
            check(f"{cmd} via {' '.join(where[::2])}", got == want,
                  f"\n got: {got!r}\nwant: {want!r}")


def vectors():
    with open(os.path.join(DIR, "tok512-encode-vectors.json"), encoding="utf-8") as f:
        vecs = json.load(f)
    check("tok512-encode-vectors.json has entries", len(vecs) >= 9, str(len(vecs)))
    for v in vecs:
        check(f"encode {v['text']!r}", tokenize(v["text"], "--no-special") == v["ids"],
              f"{tokenize(v['text'], '--no-special')} != {v['ids']}")
        check(f"encode {v['text']!r} with BOS", tokenize(v["text"]) == [1] + v["ids"])
        back = json.loads(run("detokenize", "-z", TOK, "--json", "--skip-special",
                              ",".join(map(str, [1] + v["ids"]))))["text"]
        check(f"decode {v['text']!r}", back == v["text"], repr(back))


def sentencepiece_library():
    try:
        import sentencepiece
    except ImportError:
        print("note: python3-sentencepiece not installed: library cross-check skipped")
        return
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(DIR, "tok512.model"))
    texts = ["Once upon a time, there was a little girl named Lily.",
             "She said, \"I'm sorry, mom. I didn't know what to do.\"",
             "Tom and Sue played in the garden.\nThen they ate cake.",
             "caf\u00e9 na\u00efve \u00fcber", "\u65e5\u672c\u8a9e \u4e2d\u6587",
             "emoji \U0001F600 and \u2122 \u20ac", "~[]|<>% symbols", "x",
             "Numbers 12345 and 3.14", "\ttab\tseparated", "UPPER lower MiXeD"]
    for t in texts:
        want = sp.encode(t)
        got = tokenize(t, "--no-special")
        check(f"sentencepiece encode {t!r}", got == want, f"{got} != {want}")
        back = json.loads(run("detokenize", "-z", TOK, "--json", ",".join(map(str, want))))["text"]
        check(f"sentencepiece decode {t!r}", back == sp.decode(want), f"{back!r} != {sp.decode(want)!r}")


def main():
    for name, fn in [("golden", golden), ("vectors", vectors), ("sentencepiece", sentencepiece_library)]:
        try:
            fn()
        except Exception as e:  # a crash is a failure, the other parts still run
            check(name, False, repr(e))
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
