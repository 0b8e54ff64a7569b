#!/usr/bin/python3
"""test_models_cli.py - every command of `temper` on the architectures of
issue 22 (gpt_neo, gpt_neox, qwen2, qwen3, gemma3_text), and their
config.json errors.

Each architecture gets a small random-weight model (tests/ref/make_model.py,
GPT-2's tokenizer from the fixtures so that text prompts work, vocabulary
50257) and is driven through the command line:
  info --json     arch, and the architecture's settings line;
  probs --json    every logit within 1e-4 of the numpy reference's last row;
  generate        greedy: the numpy argmax chain; beams, sampling and power
                  sampling run (exit 0, the requested number of tokens);
  score, perplexity: log-likelihoods from the reference's log-softmax (1e-4);
  attention, hidden --json: against the reference's probabilities and
                  hidden states (1e-4), on a prompt crossing the sliding
                  window where the architecture has one;
  trace:          exit 0.
Config errors: a value temper does not implement (an attention kind, a
rope_scaling type, a soft-capping of attention scores, an activation) is one
line naming the field and the value.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_models_cli.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TEMPER, check  # noqa: E402
from harness import cached_model as model  # noqa: E402
import ref_model  # noqa: E402

TOL = 1e-4
COMMON = ["--n-ctx", "64", "--vocab-size", "50257", "--seed", "80", "--dtype", "f32"]
MODELS = {
    "gpt_neo": ["--arch", "gpt_neo", "--n-layer", "2", "--n-head", "4", "--n-embd", "32", "--window-size", "6"],
    "gpt_neox": ["--arch", "gpt_neox", "--n-layer", "2", "--n-head", "4", "--n-embd", "32"],
    "qwen2": ["--arch", "qwen2", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2", "--n-embd", "32",
              "--rope-theta", "1000000", "--use-sliding-window", "--window-size", "6", "--max-window-layers", "1"],
    "qwen3": ["--arch", "qwen3", "--n-layer", "2", "--n-head", "4", "--n-kv-head", "2", "--head-dim", "16",
              "--n-embd", "32", "--rope-theta", "1000000"],
    "gemma3_text": ["--arch", "gemma3_text", "--n-layer", "2", "--n-head", "2", "--n-kv-head", "1", "--head-dim", "16",
                    "--n-embd", "32", "--window-size", "6", "--layer-types", "sf", "--rope-theta", "1000000",
                    "--final-logit-softcapping", "30"],
}
SETTINGS = {"gpt_neo": "window_size 6", "gpt_neox": "rotary on 2 of 8", "qwen2": "sliding window 6",
            "qwen3": "q/k RMSNorm", "gemma3_text": "final_logit_softcapping 30"}
IDS = [464, 3797, 3332, 319, 262, 2603, 290, 262, 3290, 3332, 319, 262, 2604, 13]  # 14 GPT-2 ids


def temper(*args):
    r = subprocess.run([TEMPER, *args], capture_output=True, timeout=300)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def run(name, *args):
    rc, out, err = temper(*args)
    bad = harness.crash_report(err)
    check(f"{name}: exit 0, no crash", rc == 0 and not bad, f"rc={rc} {err[-1500:]}")
    return out if rc == 0 else None


def run_json(name, *args):
    out = run(name, *args, "--json")
    try:
        return json.loads(out) if out is not None else None
    except ValueError:
        check(f"{name}: JSON", False, out[:300])
        return None


def close(name, got, want, tol=TOL):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    ok = got.shape == want.shape and bool(np.all(np.abs(got - want) <= tol))
    check(name, ok, "shape %s vs %s" % (got.shape, want.shape) if got.shape != want.shape
          else "max abs %.3g" % float(np.max(np.abs(got - want))))


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def test_arch(arch, path):
    ids_arg = ",".join(map(str, IDS))
    ref = ref_model.load(path)
    out = ref.forward(IDS, want_attn=True, want_hidden=True)
    info = run_json(f"{arch} info", "info", "-m", path)
    if info:
        check(f"{arch} info: arch", info["arch"] == arch, info["arch"])
        check(f"{arch} info: settings", SETTINGS[arch] in info.get("settings", ""), info.get("settings"))
    doc = run_json(f"{arch} probs", "probs", "-m", path, "--top", "50257", "--prompt-ids", ids_arg)
    if doc:
        got = np.zeros(50257)
        for c in doc["candidates"]:
            got[c["id"]] = c["logit"]
        close(f"{arch} probs: logits vs reference", got, out["logits"][-1])
    # greedy generation = the reference's argmax chain
    chain = list(IDS[:5])
    for _ in range(6):
        chain.append(int(np.argmax(ref.forward(chain, out_rows=[len(chain) - 1])["logits"][0])))
    doc = run_json(f"{arch} generate greedy", "generate", "-m", path, "-n", "6", "--temp", "0",
                   "--prompt-ids", ",".join(map(str, IDS[:5])))
    if doc:
        got = doc["sequences"][0]["ids"]
        check(f"{arch} generate greedy: the reference's argmax chain", got == chain[5:], f"{got} vs {chain[5:]}")
    run(f"{arch} generate beams", "generate", "-m", path, "-n", "5", "--num-beams", "3",
        "--prompt-ids", ids_arg)
    run(f"{arch} generate sampling", "generate", "-m", path, "-n", "5", "--temp", "0.8", "--top-k", "20",
        "-s", "1", "--num-return-sequences", "2", "--prompt-ids", ids_arg)
    run(f"{arch} generate --power", "generate", "-m", path, "--power", "2", "-n", "4", "-s", "1",
        "--prompt-ids", ids_arg)
    lp = log_softmax(out["logits"])
    want = float(sum(lp[i, IDS[i + 1]] for i in range(len(IDS) - 1)))
    doc = run_json(f"{arch} score", "score", "-m", path, "--prompt-ids", ids_arg)
    if doc:
        got = doc["results"][0]["log_prob"] if "results" in doc else doc.get("log_prob")
        close(f"{arch} score: log p vs reference", got, want)
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "text.txt")
        open(f, "w").write("The cat sat on the mat and the dog sat on the rug. " * 3)
        run(f"{arch} perplexity", "perplexity", "-m", path, "-f", f, "--max-length", "16", "--stride", "8")
    doc = run_json(f"{arch} attention", "attention", "-m", path, "--prompt-ids", ids_arg)
    if doc:
        got = np.array([[h["weights"] for h in l["heads"]] for l in doc["layers"]])
        close(f"{arch} attention vs reference", got, out["attn"])
    doc = run_json(f"{arch} hidden", "hidden", "-m", path, "--prompt-ids", ids_arg)
    if doc:
        got = np.array([l["states"] for l in doc["layers"]])
        close(f"{arch} hidden vs reference", got, out["hidden_hf"])
    run(f"{arch} trace", "trace", "-m", path, "The cat sat on the")


def expect_config_error(name, path, tmp, change, words):
    d = os.path.join(tmp, name.replace(" ", "-").replace("/", "-"))
    shutil.copytree(path, d)
    cfg = json.load(open(os.path.join(d, "config.json")))
    change(cfg)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    rc, out, err = temper("info", "-m", d)
    lines = [l for l in err.splitlines() if l.strip()]
    check(f"config error {name}: exit non-zero, one line, no crash",
          rc > 0 and len(lines) == 1 and not harness.crash_report(err), f"rc={rc} {err[-800:]}")
    check(f"config error {name}: names {words}", all(w in err for w in words), err.strip())


def test_config_errors(paths):
    with tempfile.TemporaryDirectory() as tmp:
        def kinds(c):
            c["attention_types"] = [[["global", "sparse"], 1]]
        expect_config_error("gpt_neo attention kind", paths["gpt_neo"], tmp, kinds,
                            ["attention_types", "sparse"])

        def count(c):
            c["attention_types"] = [[["global", "local"], 2]]
        expect_config_error("gpt_neo layer count", paths["gpt_neo"], tmp, count, ["attention_types", "num_layers"])
        expect_config_error("gpt_neox rope_scaling", paths["gpt_neox"], tmp,
                            lambda c: c.update(rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
                            ["rope_scaling", "dynamic"])
        expect_config_error("gpt_neox odd rotary", paths["gpt_neox"], tmp, lambda c: c.update(rotary_pct=0.4),
                            ["rotary_pct", "0.4"])  # int(8 * 0.4) = 3 values
        expect_config_error("gpt_neox activation", paths["gpt_neox"], tmp, lambda c: c.update(hidden_act="relu"),
                            ["hidden_act", "relu"])
        expect_config_error("qwen2 layer_types", paths["qwen2"], tmp,
                            lambda c: c.update(layer_types=["full_attention", "chunked_attention"]),
                            ["layer_types", "chunked_attention"])
        expect_config_error("qwen3 rope_scaling yarn", paths["qwen3"], tmp,
                            lambda c: c.update(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
                            ["rope_scaling", "yarn"])
        expect_config_error("gemma3 attn_logit_softcapping", paths["gemma3_text"], tmp,
                            lambda c: c.update(attn_logit_softcapping=50.0), ["attn_logit_softcapping", "50"])
        expect_config_error("gemma3 rope_scaling linear", paths["gemma3_text"], tmp,
                            lambda c: c.update(rope_scaling={"rope_type": "linear", "factor": 8.0}),
                            ["rope_scaling", "linear"])
        expect_config_error("gemma3 bidirectional", paths["gemma3_text"], tmp,
                            lambda c: c.update(use_bidirectional_attention=True), ["use_bidirectional_attention"])


def main():
    paths = {}
    for arch, args in MODELS.items():
        paths[arch] = model("cli-%s" % arch.replace("_", "-"), args + COMMON)
        test_arch(arch, paths[arch])
    test_config_errors(paths)
    sys.exit(harness.summary())


if __name__ == "__main__":
    main()
