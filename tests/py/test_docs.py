#!/usr/bin/python3
"""test_docs.py - the README and docs/*.md cannot go stale.

1. Every example command of README.md and docs/*.md that needs no network
   runs as written (`temper` is build/temper; `./build/temper` too), in a
   scratch folder holding the files the examples name (article.txt,
   build/models/analysis-toy-power-v1: the hand-built model of
   test_analysis.py). An example
   written `$ temper ...` with output lines under it (up to the next `$`
   or the end of the block) must print them (a line "..." stands for any
   lines; trailing spaces ignored).
   A command that needs a Hub model (gpt2, distilgpt2, facebook/opt-125m)
   is not run, but its code block must also hold one that runs (the
   bundled-model form beside it).
2. docs/cli.md holds every command's --help exactly, between the
   "<!-- help:begin -->" and "<!-- help:end -->" markers:
   `test_docs.py --write` regenerates that part.
3. The README's link line links a program against build/libtemper.a.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_docs.py [--write]
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, ROOT, TEMPER, check  # noqa: E402

HUB = re.compile(r"(^|\s)-m\s+(gpt2|distilgpt2|facebook/opt-125m|openai-community/\S+)(\s|$)"
                 r"|^temper (pull|list|rm)\b")
COMMANDS = ["info", "probs", "generate", "generate --power 2", "tokenize", "detokenize",
            "softmax", "score", "perplexity", "attention", "hidden", "trace", "pull", "list", "rm"]


def blocks(path):
    """The code blocks of a markdown file: (first line number, [lines]),
    fenced (```) or indented by 4 spaces, with the indent removed."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append((i + 2, lines[i + 1:j]))
            i = j + 1
        elif lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or
                                      (not lines[j].strip() and j + 1 < len(lines) and
                                       lines[j + 1].startswith("    "))):
                j += 1
            out.append((i + 1, [l[4:] for l in lines[i:j]]))
            i = j
        else:
            i += 1
    return out


def examples(block):
    """[(command, expected output lines or None)] of one block."""
    out, k = [], 0
    while k < len(block):
        line = block[k].strip()
        shown = line.startswith("$ ")
        cmd = line[2:] if shown else line
        if not re.match(r"(\./scripts/setup\.sh && make && )?(\./build/)?temper ", cmd):
            k += 1
            continue
        while cmd.endswith("\\") and k + 1 < len(block):
            k += 1
            cmd = cmd[:-1] + " " + block[k].strip()
        k += 1
        want = None
        if shown:
            want = []
            while k < len(block) and not block[k].startswith("$ "):
                want.append(block[k].rstrip())
                k += 1
            while want and not want[-1]:
                want.pop()
        out.append((cmd, want))
    return out


def placeholder(cmd):
    """A synopsis, not an example: MODEL, FILE, [options], ..."""
    return bool(re.search(r"\bMODEL\b|\bPROMPT\b|\bTEXT\b|\[|\bIDS\b|REPO|<command>|\bFILE\b", cmd))


def matches(got, want):
    """got lines against want lines where "..." matches any lines."""
    if not want:
        return not got
    if want[0].strip() == "...":
        return any(matches(got[i:], want[1:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == want[0] and matches(got[1:], want[1:])


def scratch():
    d = tempfile.mkdtemp(prefix="test-docs-", dir=BUILD)
    with open(os.path.join(d, "article.txt"), "w") as f:
        f.write("Once upon a time, there was a little girl named Lily. She loved to play outside. " * 8)
    import test_analysis
    if not os.path.exists(os.path.join(test_analysis.TOY, "model.safetensors")):
        test_analysis.make_toy()
    os.makedirs(os.path.join(d, "build", "models"))
    os.symlink(test_analysis.TOY, os.path.join(d, "build", "models", "analysis-toy-power-v1"))
    return d


def run_examples():
    cwd = scratch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "TEMPER_MODEL"}
    env.update(HF_HOME=os.path.join(cwd, "hf"), HF_HUB_OFFLINE="1", COLUMNS="100", NO_COLOR="1")
    files = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    n_run = 0
    for path in files:
        name = os.path.relpath(path, ROOT)
        for line_no, block in blocks(path):
            exs = [(c, w) for c, w in examples(block) if not placeholder(c)]
            hub = [c for c, _ in exs if HUB.search(c)]
            local = [(c, w) for c, w in exs if not HUB.search(c)]
            if hub:
                check("%s:%d: a Hub-model example has the bundled-model form beside it" % (name, line_no),
                      bool(local), hub[0])
            for cmd, want in local:
                cmd = cmd.replace("./scripts/setup.sh && make && ", "")
                argv = shlex.split(cmd, comments=True)
                argv[0] = TEMPER
                r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
                n_run += 1
                what = "%s:%d: %s" % (name, line_no, cmd)
                if want is None or not any(w.startswith("temper: ") for w in want):
                    check(what + ": exit 0", r.returncode == 0, r.stderr[-1500:])
                if want is not None:
                    got = [l.rstrip() for l in (r.stdout + r.stderr).rstrip("\n").split("\n")] \
                        if any(w.startswith("temper: ") for w in want) else \
                        [l.rstrip() for l in r.stdout.rstrip("\n").split("\n")]
                    check(what + ": the output shown", matches(got, want),
                          "got:\n%s\nwant:\n%s" % ("\n".join(got[:60]), "\n".join(want[:60])))
    check("examples run (%d)" % n_run, n_run >= 10, n_run)
    shutil.rmtree(cwd, ignore_errors=True)


def help_section():
    parts = []
    for cmd in COMMANDS:
        r = subprocess.run([TEMPER] + cmd.split() + ["--help"], capture_output=True, text=True)
        parts.append("### `temper %s --help`\n\n```\n%s```\n" % (cmd, r.stdout))
    return "<!-- help:begin -->\n" + "\n".join(parts) + "<!-- help:end -->"


def cli_md(write):
    path = os.path.join(ROOT, "docs", "cli.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- help:begin -->.*<!-- help:end -->", text, re.S)
    want = help_section()
    if write:
        text = text[:m.start()] + want + text[m.end():] if m else text.rstrip("\n") + "\n\n" + want + "\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    check("docs/cli.md has every command's --help (run tests/py/test_docs.py --write)",
          m is not None and m.group(0) == want,
          "stale: regenerate with `TEMPER_BUILD=build /usr/bin/python3 tests/py/test_docs.py --write`")
    for cmd in COMMANDS:
        r = subprocess.run([TEMPER] + cmd.split() + ["--help"], capture_output=True, text=True)
        flags = []
        for line in r.stdout.splitlines():
            o = re.match(r"^\s{2,6}((?:-[a-zA-Z], |--[a-z0-9-]+, )*--?[a-zA-Z][a-z0-9-]*)", line)
            if o:
                flags += re.findall(r"--?[a-zA-Z][a-z0-9-]*", o.group(1))
        dup = sorted({x for x in flags if flags.count(x) > 1})
        check("temper %s --help: each option once" % cmd, r.returncode == 0 and not dup, dup)


def link_line():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        m = re.search(r"Link with\s+`build/libtemper\.a ([^`]*)`", f.read())
    check("README: a link line", m is not None)
    if not m or harness.BUILD_NAME != "build":
        return
    d = tempfile.mkdtemp(prefix="test-link-", dir=BUILD)
    src = os.path.join(d, "v.c")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\n#include "temper.h"\n'
                'int main(void) { temper_model *m = NULL; int rc = temper_model_load("/nonexistent", NULL, &m);\n'
                '  printf("%s %d\\n", temper_version(), rc < 0); return 0; }\n')
    cmd = ["cc", "-I" + os.path.join(ROOT, "include"), src, os.path.join(ROOT, "build", "libtemper.a")] + \
        m.group(1).split() + ["-o", os.path.join(d, "v")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check("README's link line links a program", r.returncode == 0, r.stderr[-2000:])
    if r.returncode == 0:
        r = subprocess.run([os.path.join(d, "v")], capture_output=True, text=True)
        check("the linked program runs", r.returncode == 0 and r.stdout.endswith(" 1\n"), r.stdout + r.stderr)
    shutil.rmtree(d, ignore_errors=True)


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing("%s not built: run make" % TEMPER)
    if "--write" in sys.argv:
        cli_md(True)
        return 0
    cli_md(False)
    link_line()
    run_examples()
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
