#!/usr/bin/python3
"""test_lib_messages.py - the library's messages name library concepts only.

A Python or HTTP caller cannot use the CLI's flags or commands, so no
string of src/ (its messages: temper__error and the like) may name a
`temper` command or one of the CLI's options; the CLI adds its own words
(`-z/--tokenizer`, `temper pull`). The options are read from the --help
texts of docs/cli.md. The parameter tables (src/decode/param_table.c,
src/project/param_table.c) are the one exception: their "flags" column is
the command-line data of each parameter, by design.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, check  # noqa: E402

COMMANDS = ("info", "tokenize", "detokenize", "probs", "softmax", "generate", "score", "perplexity",
            "attention", "hidden", "trace", "pull", "list", "rm", "serve")


def literals(src):
    """The string literals of C source, adjacent ones joined, comments out."""
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", " ", src)
    out = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', src):
        out.append("".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0))))
    return out


def main():
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", f.read()))
    check("the CLI's options read from docs/cli.md", len(flags) > 40, len(flags))
    command = re.compile(r"\btemper (%s)\b" % "|".join(COMMANDS))
    bad = []
    n = 0
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in sorted(files):
            if not name.endswith(".c") or name == "param_table.c":
                continue
            path = os.path.join(d, name)
            with open(path, encoding="utf-8") as f:
                for s in literals(f.read()):
                    n += 1
                    named = [x for x in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", s) if x in flags]
                    if named or command.search(s):
                        bad.append(f"{os.path.relpath(path, ROOT)}: {s[:160]!r}")
    check("strings of src/ read", n > 1000, n)
    check("no library string names a CLI option or command", not bad, "\n  " + "\n  ".join(bad))
    # the test can fail: a CLI flag in a library string is found
    probe = literals('x = temper__error(TEMPER_EINVAL, "give " "--top-k 5");')
    check("the scan sees a flag in joined literals", probe == ["give --top-k 5"] and "--top-k" in flags,
          probe)


if __name__ == "__main__":
    main()
    sys.exit(harness.summary())
