#!/usr/bin/python3
# san: yes
"""test_cli.py - the `temper` command line, driven through subprocess.

Error cases (issue 2, item 9): each broken model folder must give one line
on stderr naming the file and the fix, a non-zero exit and no crash and no
sanitizer report. Happy paths: `info --json` against the model's own
config.json and safetensors header, `probs --json` against a numpy forward
pass (tests/ref/ref_gpt2.py), `generate` against the numpy argmax chain,
and the streamed text against a byte-level decode written here from
vocab.json.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_cli.py
"""
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODELS, TEMPER, check  # noqa: E402

MODEL = os.path.join(MODELS, "cli-gpt2-l2-e64-f32")


def temper(*args, stdin=None):
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    r = subprocess.run([TEMPER, *args], capture_output=True, input=stdin, env=env, timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def no_crash(name, rc, err):
    """Exit code not from a signal, no sanitizer report."""
    bad = harness.crash_report(err)
    check(f"{name}: no crash", rc >= 0 and not bad, f"rc={rc} {bad} {err[-2000:]}")


def expect_error(name, args, must_contain, rc_expected=None, file_error=False):
    """A failing command: one line 'temper: ...' on stderr, non-zero exit.
    A file error reads "temper: <file>: <what is wrong>: <what to do>", a
    usage error "temper: <what is wrong>: <what to do>"."""
    rc, out, err = temper(*args)
    no_crash(name, rc, err)
    lines = [l for l in err.splitlines() if l.strip()]
    check(f"{name}: non-zero exit", rc > 0, f"rc={rc}")
    if rc_expected is not None:
        check(f"{name}: exit {rc_expected}", rc == rc_expected, f"rc={rc}")
    check(f"{name}: one line", len(lines) == 1, repr(err))
    line = lines[0] if lines else ""
    check(f"{name}: 'temper: ' prefix", line.startswith("temper: "), repr(line))
    for word in must_contain:
        check(f"{name}: mentions {word!r}", word in line, repr(line))
    # "<file>: <what is wrong>: <what to do>": the fix after the last ": ".
    parts = line.split(": ")
    check(f"{name}: says what to do", len(parts) >= (4 if file_error else 3)
          and len(parts[-1]) > 8, repr(line))
    return line


# ---- the test model ---------------------------------------------------------

def make_model():
    """Generate the test model unless an up-to-date one is there."""
    harness.model_folder(MODEL, ["--arch", "gpt2", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
                                 "--n-ctx", "128", "--dtype", "f32", "--seed", "0"])


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def copy_model(tmp, name):
    d = os.path.join(tmp, name)
    shutil.copytree(MODEL, d)
    return d


# ---- an independent GPT-2 byte-level decode (vocab.json + the byte map) ------

def byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def make_decode():
    with open(os.path.join(MODEL, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    inv = {i: s for s, i in vocab.items()}
    bd = byte_decoder()

    def decode(ids, skip_special=True):
        out = bytearray()
        for i in ids:
            if i == 50256 and skip_special:
                continue
            out += bytes(bd[ch] for ch in inv[i])
        return out.decode("utf-8", "replace")
    return decode


# ---- numpy reference ---------------------------------------------------------

_ref = []


def ref_logits(ids):
    """(T, V) float64 logits of the numpy reference forward for the test model."""
    if not _ref:
        import ref_gpt2
        _ref.append(ref_gpt2.GPT2(MODEL))
    return np.asarray(_ref[0].forward(list(ids))["logits"], dtype=np.float64)


def ref_greedy(ids, n):
    ids = list(ids)
    out = []
    for _ in range(n):
        nxt = int(np.argmax(ref_logits(ids)[-1]))  # first maximum: lowest id
        if nxt == 50256:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


# ---- shortest round-trip number check -------------------------------------------

def sig_digits(text):
    mant = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mant.rstrip("0")) if mant else 1


def shortest_float32(text):
    """No %.{p}g with fewer digits reads back to the same float32."""
    v = np.float32(float(text))
    if np.float32(float(text)) != v:
        return False
    d = sig_digits(text)
    return all(np.float32(float("%.*g" % (p, v))) != v for p in range(1, d))


def raw_numbers(raw, key):
    """The literal texts of "key": <number> in a JSON document."""
    out, pat = [], f'"{key}":'
    pos = raw.find(pat)
    while pos >= 0:
        start = pos + len(pat)
        end = start
        while end < len(raw) and raw[end] not in ",}]":
            end += 1
        out.append(raw[start:end])
        pos = raw.find(pat, end)
    return out


# ---- tests ---------------------------------------------------------------------

def test_usage():
    rc, out, err = temper("--help")
    check("--help exit 0", rc == 0 and "probs" in out and "generate" in out, out + err)
    rc, out, err = temper("--version")
    check("--version", rc == 0 and out.startswith("temper "), out)
    for cmd in ("info", "probs", "generate"):
        rc, out, err = temper(cmd, "--help")
        check(f"{cmd} --help", rc == 0 and out.startswith("usage: temper " + cmd), out + err)
    rc, out, err = temper()
    check("no command: exit 2", rc == 2, f"rc={rc}")
    expect_error("unknown command", ["frobnicate"], ["frobnicate", "--help"], 2)
    expect_error("unknown option", ["probs", "-m", MODEL, "--bogus", "hi"], ["--bogus"], 2)
    expect_error("-t abc", ["probs", "-m", MODEL, "-t", "abc", "hi"], ["--threads", "abc"], 2)
    expect_error("--top -1", ["probs", "-m", MODEL, "--top", "-1", "hi"], ["--top", "-1"], 2)
    expect_error("--top 1x", ["probs", "-m", MODEL, "--top", "1x", "hi"], ["--top"], 2)
    expect_error("-n 1.5", ["generate", "-m", MODEL, "-n", "1.5", "hi"], ["-n"], 2)
    expect_error("-t missing value", ["probs", "hi", "-m", MODEL, "-t"], ["-t"], 2)
    expect_error("bad --prompt-ids", ["probs", "-m", MODEL, "--prompt-ids", "1,x,3"], ['"x"'], 2)
    expect_error("id outside vocab", ["probs", "-m", MODEL, "--prompt-ids", "1,50257"],
                 ["50257"], 2)
    expect_error("no prompt", ["probs", "-m", MODEL], ["prompt"], 2)
    # without -m the default model runs (tests/py/test_everyday.py); a -m
    # that is neither a folder nor a bundled model nor reachable is an error
    expect_error("no such model", ["probs", "-m", "/nonexistent/model", "hi"], ["/nonexistent/model"], 1)
    expect_error("missing prompt file", ["probs", "-m", MODEL, "-f", "/nonexistent/p.txt"],
                 ["/nonexistent/p.txt"], 1)


def test_model_errors(tmp):
    missing = os.path.join(tmp, "no-such-model")
    expect_error("missing folder", ["info", "-m", missing], [missing], file_error=True)

    d = copy_model(tmp, "no-weights")
    os.remove(os.path.join(d, "model.safetensors"))
    # (info shows what config.json holds: tests/py/test_everyday.py; a
    # command that runs the model needs the weights)
    expect_error("missing weights", ["probs", "-m", d, "hi"], [d, "model.safetensors"],
                 file_error=True)

    d = copy_model(tmp, "no-config")
    os.remove(os.path.join(d, "config.json"))
    expect_error("missing config.json", ["info", "-m", d], [d, "config.json"], file_error=True)

    d = copy_model(tmp, "bert")
    cfg_path = os.path.join(d, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["model_type"] = "bert"
    json.dump(cfg, open(cfg_path, "w"))
    expect_error("unsupported model_type", ["info", "-m", d], ["config.json", "bert"],
                 file_error=True)

    st = os.path.join(MODEL, "model.safetensors")
    blob = open(st, "rb").read()
    corrupt = {
        "truncated file": blob[:100],
        "huge header length": b"\xff" * 8 + blob[8:200],
        "header not JSON": struct.pack("<Q", 16) + b"{\"a\": [1, 2, 3" + b"\0" * 64,
        "cut in the data": blob[: len(blob) // 2],
        "empty file": b"",
    }
    for name, data in corrupt.items():
        d = os.path.join(tmp, name.replace(" ", "-"))
        shutil.copytree(MODEL, d)
        open(os.path.join(d, "model.safetensors"), "wb").write(data)
        expect_error(f"corrupt safetensors ({name})", ["info", "-m", d],
                     [os.path.join(d, "model.safetensors")], file_error=True)

    d = copy_model(tmp, "shape")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["n_positions"] = 64  # wpe.weight is (128, 64) in the file
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error("shape disagrees with config.json", ["info", "-m", d], [d, "wpe.weight"],
                 file_error=True)

    d = copy_model(tmp, "lfs")
    open(os.path.join(d, "model.safetensors"), "w").write(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707\n"
        "size 548105171\n")
    expect_error("Git LFS pointer", ["info", "-m", d],
                 [os.path.join(d, "model.safetensors"), "Git LFS pointer", "git lfs pull"],
                 file_error=True)

    d = copy_model(tmp, "html")
    open(os.path.join(d, "model.safetensors"), "w").write(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Hugging Face - 404</title></head>"
        "<body>Not found</body></html>\n")
    expect_error("HTML page as weights", ["info", "-m", d],
                 [os.path.join(d, "model.safetensors"), "HTML"], file_error=True)


def test_info():
    rc, out, err = temper("info", "-m", MODEL, "--json")
    no_crash("info --json", rc, err)
    check("info --json exit 0", rc == 0, err)
    try:
        info = json.loads(out)
    except ValueError:
        check("info --json parses", False, out)
        return
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    hdr = safetensors_header(os.path.join(MODEL, "model.safetensors"))
    shapes = {k.replace("transformer.", ""): v["shape"] for k, v in hdr.items() if k != "__metadata__"}
    shapes.pop("lm_head.weight", None)  # tied to wte: counted once
    n_params = sum(math.prod(s) for s in shapes.values())
    want = {"arch": "gpt2", "n_layer": cfg["n_layer"], "n_head": cfg["n_head"],
            "n_embd": cfg["n_embd"], "n_ctx": cfg["n_positions"], "n_vocab": cfg["vocab_size"],
            "dtype": "f32", "n_params": n_params, "n_ff": 4 * cfg["n_embd"],
            "file_bytes": os.path.getsize(os.path.join(MODEL, "model.safetensors")),
            "eos_id": 50256, "model": MODEL}
    for k, v in want.items():
        check(f"info --json {k}", info.get(k) == v, f"{info.get(k)!r} != {v!r}")
    check("info --json load_seconds", isinstance(info.get("load_seconds"), float)
          and 0 < info["load_seconds"] < 60, repr(info.get("load_seconds")))
    rc, out, err = temper("info", "-m", MODEL)
    check("info text", rc == 0 and "parameters" in out and f"{n_params:,}" in out, out + err)


def test_probs(tmp):
    ids = [15496, 995, 11, 314, 716, 257]  # "Hello world, I am a"
    rc, out, err = temper("probs", "-m", MODEL, "--json", "--top", "100000", "-t", "2",
                          "--prompt-ids", ",".join(map(str, ids)))
    no_crash("probs --json", rc, err)
    check("probs --json exit 0", rc == 0, err)
    try:
        doc = json.loads(out)
    except ValueError:
        check("probs --json parses", False, out[:500])
        return
    cands = doc["candidates"]
    V = 50257
    check("probs: model, prompt_ids", doc["model"] == MODEL and doc["prompt_ids"] == ids,
          repr({k: doc[k] for k in ("model", "prompt_ids")}))
    check("probs: --top above the vocabulary gives all of it", len(cands) == V, len(cands))
    check("probs: ranks 1..V", [c["rank"] for c in cands] == list(range(1, V + 1)))
    check("probs: every id once", sorted(c["id"] for c in cands) == list(range(V)))
    probs = np.array([c["prob"] for c in cands])
    check("probs: sum to 1", abs(math.fsum(probs) - 1) < 1e-9, math.fsum(probs))
    check("probs: decreasing", bool(np.all(np.diff(probs) <= 0)))
    check("probs: none printed as 0", bool(np.all(probs > 0)), probs.min())
    lp = np.array([c["logprob"] for c in cands])
    bad = [c["id"] for c in cands if abs(c["prob"] - math.exp(c["logprob"])) > 2 * math.ulp(c["prob"])]
    check("probs: prob = exp(logprob) to the last bit", not bad, bad[:5])
    # logprob = logit - logsumexp in double: differences of the printed float32
    # logits equal differences of the logprobs only if no digit was lost.
    logit32 = [float(np.float32(t)) for t in raw_numbers(out, "logit")]  # text -> float32
    l0, p0 = logit32[0], cands[0]["logprob"]
    err = max(abs((l - l0) - (c["logprob"] - p0))
              for l, c in harness.pairs("probs: printed logits", logit32, cands))
    check("probs: logits printed at full float32 precision", err < 1e-9, err)
    for key in ("logit",):
        texts = raw_numbers(out, key)
        bad = [t for t in texts if not shortest_float32(t)]
        check(f"probs: {key} in shortest float32 form", len(texts) == V and not bad, bad[:5])
    decode = make_decode()
    cleanup = (" .", " ?", " !", " ,", " '", " n't")  # HF's clean_up_tokenization_spaces
    bad = [c["id"] for c in cands if c["text"] != decode([c["id"]], skip_special=False)
           and not any(p in decode([c["id"]], False) for p in cleanup)]
    check("probs: text = decode([id]) for the whole vocabulary", not bad, bad[:10])
    vocab = json.load(open(os.path.join(MODEL, "vocab.json"), encoding="utf-8"))
    inv = {i: t for t, i in vocab.items()}
    bad = [c["id"] for c in cands if c["token"] != inv.get(c["id"])]
    check("probs: token = vocab.json entry", not bad, bad[:10])
    texts = raw_numbers(out, "prob")
    bad = [t for t in texts if sig_digits(t) != sig_digits(repr(float(t)))]
    check("probs: prob in shortest double form", len(texts) == V and not bad, bad[:5])

    try:
        ref = ref_logits(ids)[-1]
    except (ImportError, AttributeError) as e:
        check("numpy reference available (tests/ref/ref_gpt2.py)", False, repr(e))
        return
    got = np.zeros(V)
    for c in cands:
        got[c["id"]] = c["logit"]
    harness.check_close("probs: logits = numpy reference (1e-4)", got, ref, atol=1e-4, n=V)
    p_ref = np.exp(ref - ref.max())
    p_ref /= p_ref.sum()
    p_got = np.zeros(V)
    for c in cands:
        p_got[c["id"]] = c["prob"]
    # logits within 1e-4 move each log-probability by at most 2e-4
    harness.check_close("probs: probabilities = numpy softmax (2e-4 rel, from 1e-4 on logits)",
                        p_got, p_ref, rtol=2e-4, n=V)
    ent = -np.sum(p_ref * np.log(p_ref))
    check("probs: entropy", abs(doc["entropy"] - ent) < 1e-4, (doc["entropy"], ent))


def test_probs_text_prompt(tmp):
    # "Hello world" is [15496, 995] in GPT-2 (no special tokens added).
    rc, out, err = temper("probs", "-m", MODEL, "--json", "--top", "3", "Hello world")
    ok = rc == 0
    doc = json.loads(out) if ok else {}
    check("probs text prompt ids", ok and doc["prompt_ids"] == [15496, 995], out + err)
    check("probs --top 3", ok and len(doc["candidates"]) == 3, out)
    check("probs tokens", ok and doc["prompt_token_texts"] == ["Hello", " world"]
          and doc["prompt_tokens"] == ["Hello", "\u0120world"], out)
    p = os.path.join(tmp, "prompt.txt")
    open(p, "w").write("Hello world\n")
    rc, out, err = temper("probs", "-m", MODEL, "--json", "--top", "3", "-f", p)
    check("probs -f keeps the newline", rc == 0 and json.loads(out)["prompt_ids"] == [15496, 995, 198],
          out + err)
    rc, out, err = temper("probs", "-m", MODEL, "--json", "--top", "3", "-f", "-",
                          stdin=b"Hello world")
    check("probs -f - (stdin)", rc == 0 and json.loads(out)["prompt_ids"] == [15496, 995], out + err)
    rc, out, err = temper("probs", "-m", MODEL, "--json", "--top=2", "--", "-5 degrees")
    check("probs --top=2 -- '-5 degrees'", rc == 0 and len(json.loads(out)["candidates"]) == 2
          and json.loads(out)["prompt_token_texts"][0] == "-", out + err)
    rc, out, err = temper("probs", "-m", MODEL, "--top", "5", "Hello world")
    lines = out.splitlines()
    check("probs table: title, header, 5 rows, entropy", rc == 0 and len(lines) == 8, out + err)
    check("probs table: columns", rc == 0 and "prob %" in lines[1] and "logit" in lines[1], out)


def test_probs_visible():
    """The table shows whitespace and stray bytes visibly (ids of GPT-2 byte tokens)."""
    rc, out, err = temper("probs", "-m", MODEL, "--top", "60000", "x")
    check("probs full table exit 0", rc == 0, err)
    check("probs table: no colour in a pipe", "\x1b" not in out)
    rows = {}
    for line in out.splitlines()[2:-1]:
        # rank, token, id, logit, prob, prob %, bar: split on ASCII spaces only
        # (a visible token has none: its spaces are shown as U+2423).
        fields = re.split(" +", line.strip(" "))
        rows[int(fields[2])] = fields[1]
    check("probs table: every id", len(rows) == 50257, len(rows))
    want = {220: "\u2423", 198: "\\n", 197: "\\t", 201: "\\r", 188: "\\x00", 221: "\\x7F",
            127: "\\xC3", 262: "\u2423the", 50256: "<|endoftext|>", 15496: "Hello"}
    for i, v in want.items():
        check(f"probs table: id {i} shown as {v!r}", rows.get(i) == v, repr(rows.get(i)))


def test_context(tmp):
    long_ids = ",".join(["262"] * 120)  # 120 tokens, n_ctx 128
    expect_error("prompt + new tokens too long", ["generate", "-m", MODEL, "-n", "20",
                                                  "--prompt-ids", long_ids], ["--truncate"])
    too_long = ",".join(["262"] * 130)
    expect_error("prompt too long for probs", ["probs", "-m", MODEL, "--prompt-ids", too_long],
                 ["--truncate"])
    ids = [(i * 37) % 50000 for i in range(120)]
    rc, out, err = temper("generate", "-m", MODEL, "-n", "10", "--json", "--truncate",
                          "--prompt-ids", ",".join(map(str, ids)))
    no_crash("generate --truncate", rc, err)
    check("generate --truncate: exit 0", rc == 0, err)
    check("generate --truncate: said on stderr", "--truncate" in err and "dropped" in err, err)
    if rc == 0:
        doc = json.loads(out)
        check("generate --truncate: kept the last 118 tokens", doc["prompt_ids"] == ids[2:],
              doc["prompt_ids"][:5])


def test_generate():
    decode = make_decode()
    prompt = [15496, 995, 11, 314]
    n = 8
    rc, out, err = temper("generate", "-m", MODEL, "-n", str(n), "--json",
                          "--prompt-ids", ",".join(map(str, prompt)))
    no_crash("generate --json", rc, err)
    if rc != 0:
        check("generate --json exit 0", False, err)
        return
    doc = json.loads(out)
    try:
        want = ref_greedy(prompt, n)
    except (ImportError, AttributeError) as e:
        check("numpy reference available (tests/ref/ref_gpt2.py)", False, repr(e))
        want = None
    if want is not None:
        check("generate greedy = numpy argmax chain", doc["ids"] == want, f"{doc['ids']} != {want}")
    check("generate finish reason", doc["finish_reason"] == ("length" if len(doc["ids"]) == n else "eos"),
          doc["finish_reason"])
    rc, out, err = temper("generate", "-m", MODEL, "-n", str(n), "-t", "1",
                          "--prompt-ids", ",".join(map(str, prompt)))
    check("generate text exit 0", rc == 0, err)
    check("generate text = decode(prompt + new ids)", out == decode(prompt + doc["ids"]) + "\n",
          f"{out!r} != {decode(prompt + doc['ids'])!r}")
    rc, out, err = temper("generate", "-m", MODEL, "-n", "3", "Hello world")
    check("generate text prompt", rc == 0 and out.startswith("Hello world"), out + err)
    # Byte tokens 127 (0xC3) and 102 (0xA9) make "é" only together; a lone
    # lead byte at the end becomes U+FFFD, as bytes.decode(errors="replace").
    for ids, want in (("127,102", "\u00e9"), ("127", "\ufffd"), ("102,127,102", "\ufffd\u00e9")):
        rc, out, err = temper("generate", "-m", MODEL, "-n", "0", "--prompt-ids", ids)
        check(f"generate streams UTF-8 safely ({ids})", rc == 0 and out == want + "\n",
              f"{out!r} {err}")


def cpu_levels():
    """SIMD levels this CPU runs, from /proc/cpuinfo (highest first)."""
    import platform
    if platform.machine() == "aarch64":
        return ["neon", "portable"]
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    levels = ["portable"]
    if {"avx2", "fma", "f16c"} <= flags:
        levels.insert(0, "avx2")
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            levels.insert(0, "avx512")
    return levels


def test_simd_env():
    """TEMPER_SIMD forces a level; an unknown one or one the CPU lacks is an
    error at model load (never a silent fallback)."""
    levels = cpu_levels()

    def info(env, args=("info", "-m", MODEL, "--json")):
        full = dict(os.environ)
        full.pop("TEMPER_SIMD", None)
        full.pop("TEMPER_NO_SIMD", None)
        full.update(env)
        r = subprocess.run([TEMPER, *args], capture_output=True, env=full, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    rc, out, err = info({})
    check("info --json simd: the highest level by default", rc == 0 and json.loads(out).get("simd") == levels[0],
          f"{out} {err} (expected {levels[0]})")
    for lv in levels:
        rc, out, err = info({"TEMPER_SIMD": lv})
        check(f"TEMPER_SIMD={lv} runs at {lv}", rc == 0 and json.loads(out).get("simd") == lv, out + err)
    rc, out, err = info({"TEMPER_NO_SIMD": "1"})
    check("TEMPER_NO_SIMD=1 runs portable", rc == 0 and json.loads(out).get("simd") == "portable", out + err)
    lacking = "avx2" if "neon" in levels else "neon"
    for value, words in (("bogus", ["TEMPER_SIMD", "bogus", "not a SIMD level"]),
                         (lacking, ["TEMPER_SIMD", lacking, "does not support", levels[0]])):
        rc, out, err = info({"TEMPER_SIMD": value})
        no_crash(f"TEMPER_SIMD={value}", rc, err)
        lines = [l for l in err.splitlines() if l.strip()]
        check(f"TEMPER_SIMD={value}: fails, one line", rc > 0 and out == "" and len(lines) == 1, f"{rc} {out} {err}")
        for w in words:
            check(f"TEMPER_SIMD={value}: mentions {w!r}", w in err, err)
    # commands that load no model but run kernels (the sampler's) refuse too
    rc, out, err = info({}, ("softmax", "--logits", "1,2", "--json"))
    check("softmax runs by default", rc == 0 and out.startswith("{"), out + err)
    rc, out, err = info({"TEMPER_SIMD": "bogus"}, ("softmax", "--logits", "1,2"))
    no_crash("softmax with TEMPER_SIMD=bogus", rc, err)
    check("softmax with TEMPER_SIMD=bogus: fails, one line naming it",
          rc > 0 and out == "" and len(err.strip().splitlines()) == 1 and "TEMPER_SIMD" in err
          and "bogus" in err, f"{rc} {out} {err}")


def main():
    if not os.access(TEMPER, os.X_OK):
        return harness.missing(f"{TEMPER} not built")
    make_model()
    tmp = tempfile.mkdtemp(prefix="temper-cli-")
    try:
        test_usage()
        test_model_errors(tmp)
        test_info()
        test_simd_env()
        test_probs(tmp)
        test_probs_text_prompt(tmp)
        test_probs_visible()
        test_context(tmp)
        test_generate()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
