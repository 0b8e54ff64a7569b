#!/usr/bin/python3
# san: yes
"""test_hostile_cli.py - the command line given hostile files (issue 14):
endless files (/dev/zero) as -f, --logits-file or a model's config.json, a
NUL byte in a logits file, a binary file whose bytes must not reach the
terminal, and a tokenizer that does not fit the model (-z). Each gives a
clear error (or, for the tokenizer, a warning) quickly, never a hang.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_hostile_cli.py
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, TEMPER, check  # noqa: E402

os.makedirs(BUILD, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="test-hostile-cli-", dir=BUILD)
MODEL = harness.model_folder(os.path.join(BUILD, "test-hub-attack-model"), ["--preset", "tiny", "--dtype", "f32"])
TOK512 = os.path.join(harness.FIXTURES, "stories260K", "tok512.bin")


def run(args, timeout=60, stdin=None):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TERM="dumb")
    t0 = time.time()
    r = subprocess.run([TEMPER] + args, capture_output=True, timeout=timeout, env=env, stdin=stdin)
    err = r.stderr.decode("utf-8", "replace")
    check(f"{args[:2]}: no sanitizer report", not any(
        w in err for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), err)
    return r.returncode, r.stdout.decode("utf-8", "replace"), err, time.time() - t0


def expect_error(tag, args, needles, bound=20, **kw):
    rc, out, err, secs = run(args, **kw)
    check(f"{tag}: fails", rc != 0, out + err)
    for n in needles:
        check(f"{tag}: message has {n!r}", n in err, err.strip())
    check(f"{tag}: within {bound} s", secs < bound, f"{secs:.1f} s")
    check(f"{tag}: the message is printable text", all(c == "\n" or " " <= c < "\x7f" for c in err),
          repr(err[:200]))
    return err


def path(name, data):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def test_logits_file():
    # the control
    rc, out, err, _ = run(["softmax", "--logits-file", path("ok.txt", b"1,2,3")])
    check("logits file: the control works", rc == 0, err)
    # "1,2\0,3" was read as 1,2
    expect_error("NUL", ["softmax", "--logits-file", path("nul.txt", b"1,2\x00,3")],
                 ["NUL byte at offset 3"])
    # a binary file's bytes were echoed to the terminal
    expect_error("binary", ["softmax", "--logits-file", path("bin.txt", b"1\x01\x1b[31m,2\xff")],
                 ["\\x01\\x1B[31m"])
    # endless files: refused, not read forever
    expect_error("/dev/zero logits", ["softmax", "--logits-file", "/dev/zero"], ["not a regular file"])
    fifo = os.path.join(TMP, "fifo")
    os.mkfifo(fifo)
    expect_error("fifo logits", ["softmax", "--logits-file", fifo], ["not a regular file"])
    # stdin stays possible, with the NUL check
    with open(path("nul2.txt", b"1\x002"), "rb") as f:
        expect_error("NUL on stdin", ["softmax", "--logits-file", "-"], ["NUL byte at offset 1"], stdin=f)


def test_prompt_files():
    for cmd in (["tokenize"], ["perplexity"], ["score"]):
        expect_error(f"{cmd[0]} -f /dev/zero", cmd + ["-m", MODEL, "-f", "/dev/zero"], ["not a regular file"])
    rc, out, err, _ = run(["tokenize", "-m", MODEL, "-f", path("p.txt", b"Hello world")])
    check("tokenize -f: the control works", rc == 0 and "Hello" in out, err)


def test_config_dev_zero():
    folder = os.path.join(TMP, "zero-config")
    shutil.copytree(MODEL, folder)
    os.unlink(os.path.join(folder, "config.json"))
    os.symlink("/dev/zero", os.path.join(folder, "config.json"))
    expect_error("config.json -> /dev/zero", ["info", "-m", folder], ["config.json", "not a regular file"])


def test_tokenizer_mismatch():
    rc, out, err, _ = run(["probs", "-m", MODEL, "--top", "2", "Hello"])
    check("own tokenizer: no warning", rc == 0 and "warning" not in err, err)
    if not os.path.exists(TOK512):
        check(f"fixture {TOK512}", False)
        return
    rc, out, err, _ = run(["probs", "-m", MODEL, "-z", TOK512, "--top", "2", "Hello"])
    check("tok512 with a GPT-2 model: warns", "warning: the tokenizer has 512 tokens but the model 50257" in err,
          err)
    check("tok512 with a GPT-2 model: names -z", "-z" in err, err)


def main():
    if not os.path.exists(TEMPER):
        return harness.missing(f"missing {TEMPER}: run make BUILD={BUILD}")
    try:
        test_logits_file()
        test_prompt_files()
        test_config_dev_zero()
        test_tokenizer_mismatch()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
