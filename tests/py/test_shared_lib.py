#!/usr/bin/env python3
"""test_shared_lib.py - libtemper.so: its soname, that it exports every
public function of include/temper.h and nothing else, and that a small C
program (examples/generate.c) links against it and runs on stories260K."""
import os
import re
import subprocess
import sys
import tempfile

import harness
from harness import check, summary, BUILD, ROOT, FIXTURES


def header_version():
    text = open(os.path.join(ROOT, "include", "temper.h")).read()
    major = re.search(r"#define TEMPER_VERSION_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define TEMPER_VERSION_MINOR (\d+)", text).group(1)
    return f"{major}.{minor}"


def public_functions():
    """Every function declared TEMPER_API in the header."""
    text = open(os.path.join(ROOT, "include", "temper.h")).read()
    return set(re.findall(r"TEMPER_API\b[^;(]*?\b(temper_\w+)\s*\(", text))


def test_symbols(so):
    dyn = subprocess.run(["readelf", "-d", so], capture_output=True, text=True).stdout
    soname = f"libtemper.so.{header_version()}"
    check("soname", f"[{soname}]" in dyn, dyn)
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    check("symbols listed", len(names) > 50, out[:300])
    foreign = sorted(n for n in names if not n.startswith("temper_") or n.startswith("temper__"))
    check("only temper_* exported", not foreign, foreign[:20])
    want = public_functions()
    check("header parsed", len(want) > 50, len(want))
    missing = sorted(want - names)
    check("every TEMPER_API function exported", not missing, missing)


def test_link_example(so):
    model = os.path.join(FIXTURES, "stories260K", "stories260K.bin")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "generate")
        cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                             os.path.join(ROOT, "examples", "generate.c"),
                             "-I" + os.path.join(ROOT, "include"), "-L" + BUILD, "-ltemper",
                             "-lm", "-o", exe], capture_output=True, text=True)
        check("example compiles against libtemper.so", cc.returncode == 0, cc.stderr)
        if cc.returncode != 0:
            return
        dyn = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True).stdout
        check("example needs the soname", f"[libtemper.so.{header_version()}]" in dyn, dyn)
        env = dict(os.environ, LD_LIBRARY_PATH=BUILD)
        run = subprocess.run([exe, model, "Once upon a time", "The cat"], capture_output=True,
                             text=True, env=env, timeout=60)
        check("example runs", run.returncode == 0, run.stderr)
        lines = run.stdout.splitlines()
        done = [l for l in lines if l.startswith("request ")]
        check("two requests reported", len(done) == 2, run.stdout)
        for line in done:
            m = re.match(r"request \d: (\d+) tokens, (eos|length)$", line)
            check("request line " + line, m is not None and 1 <= int(m.group(1)) <= 8, line)
        streamed = [l for l in lines if l.startswith("[")]
        check("tokens streamed with probabilities", len(streamed) >= 2 and
              all(re.search(r"p=[01]\.\d{4}", l) for l in streamed), run.stdout)


if __name__ == "__main__":
    so = os.path.join(BUILD, "libtemper.so")
    if not check("libtemper.so built", os.path.exists(so), so):
        sys.exit(summary())
    test_symbols(so)
    test_link_example(so)
    sys.exit(summary())
