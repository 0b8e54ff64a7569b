#!/usr/bin/python3
"""test_json_schema.py - every command's --json against docs/temper.schema.json.

1. The schema is a valid JSON Schema (draft 2020-12).
2. Each command's --json output, in the variants that change its shape
   (controls or none, sweeps, beams, pairs, PCA, one or several
   temperatures...), on the bundled-size stories260K model, validates
   against its document ($defs/doc_<command>): objects are closed, so a
   key that the schema does not know fails, and so does a missing one.
3. Every key of the schema is named in docs/json.md (the page documents
   every field).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FIXTURES, ROOT, TEMPER, check  # noqa: E402

try:
    import jsonschema
except ImportError:  # Debian's python3-jsonschema (scripts/setup.sh)
    jsonschema = None

MODEL = os.path.join(FIXTURES, "stories260K", "stories260K.bin")
TOK = os.path.join(FIXTURES, "stories260K", "tok512.bin")
GPT2 = os.path.join(FIXTURES, "gpt2")
SCHEMA = os.path.join(ROOT, "docs", "temper.schema.json")
TMP = tempfile.mkdtemp(prefix="test-json-schema-", dir=harness.BUILD)
ENV = dict(os.environ, HF_HOME=os.path.join(TMP, "hf"), HF_HUB_OFFLINE="1")


def temper_json(*args):
    r = subprocess.run([TEMPER, *args, "--json"], capture_output=True, env=ENV, timeout=120)
    if not check(f"temper {' '.join(args)} --json: exit 0", r.returncode == 0, r.stderr.decode()[-800:]):
        return None
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        check(f"temper {' '.join(args)} --json: one JSON document", False, repr(e))
        return None


# (document, arguments): each command and the variants of its shape
RUNS = [
    ("tokenize", ["tokenize", "-z", TOK, "Lily went to the park"]),
    ("tokenize", ["tokenize", "-m", GPT2, "Hello world, les modèles"]),
    ("detokenize", ["detokenize", "-z", TOK, "1", "317", "263", "377"]),
    ("info", ["info", "-m", MODEL]),
    ("probs", ["probs", "-m", MODEL, "--top", "3", "Lily went"]),
    ("probs", ["probs", "-m", MODEL, "--top", "3", "--temp", "0.7", "--top-p", "0.9", "Lily went"]),
    ("generate", ["generate", "-m", MODEL, "-n", "4", "--n-probs", "2", "Lily went"]),
    ("generate", ["generate", "-m", MODEL, "-n", "4", "--temp", "0.8", "-s", "1", "--stop", "park",
                  "--num-return-sequences", "2", "--logit-bias", "13:-inf", "Lily went"]),
    ("generate", ["generate", "-m", MODEL, "-n", "4", "--num-beams", "3", "--early-stopping", "never",
                  "Lily went"]),
    ("generate", ["generate", "-m", MODEL, "-n", "3", "--temps", "1,0.5", "-s", "2", "Lily"]),
    ("power", ["generate", "-m", MODEL, "--power", "2", "-n", "4", "-s", "3", "Lily"]),
    ("power", ["generate", "-m", MODEL, "--power", "2", "--power-method", "smc", "--particles", "3",
               "-n", "3", "-s", "3", "Lily"]),
    ("score", ["score", "-m", MODEL, "Lily went to the park"]),
    ("score", ["score", "-m", MODEL, "--bos", "--pairs", "Lily went", "Lily ran"]),
    ("perplexity", ["perplexity", "-m", MODEL, "--max-length", "8", "--stride", "4",
                    "Lily went to the park. She saw a big dog."]),
    ("attention", ["attention", "-m", MODEL, "--layer", "1", "The cat sat"]),
    ("hidden", ["hidden", "-m", MODEL, "The cat"]),
    ("hidden", ["hidden", "-m", MODEL, "--layer", "2", "--pca", "king queen man"]),
    ("hidden", ["hidden", "-m", MODEL, "--project", "tsne", "--n-iter", "250", "king queen man woman"]),
    ("hidden", ["hidden", "-m", MODEL, "--project", "umap", "--n-epochs", "20", "--seed", "3",
                "king queen man woman"]),
    ("trace", ["trace", "-m", MODEL, "-n", "3", "Lily"]),
    ("trace", ["trace", "-m", MODEL, "-n", "2", "--temp", "0.7", "-s", "5", "Lily"]),
    ("softmax", ["softmax", "--logits", "1.1,0.5,0.85", "--temps", "0.5"]),
    ("softmax", ["softmax", "--logits", "1.1,0.5,0.85", "--tokens", "the,quick,brown", "--temps",
                 "0.2,1,1.95", "--top-k", "2", "--sample", "5", "-s", "1"]),
    ("list", ["list"]),
]


def fake_cache():
    """One snapshot in the Hugging Face cache of HF_HOME, for `list`."""
    repo = os.path.join(TMP, "hf", "hub", "models--test--toy")
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = os.path.join(repo, "snapshots", commit)
    os.makedirs(snap)
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)
    with open(os.path.join(snap, "config.json"), "w") as f:
        f.write('{"model_type": "gpt2"}')


def keys(node, out):
    """Every property name of the schema."""
    if isinstance(node, dict):
        for k, v in node.get("properties", {}).items():
            out.add(k)
            keys(v, out)
        for k, v in node.items():
            if k != "properties":
                keys(v, out)
    elif isinstance(node, list):
        for v in node:
            keys(v, out)


def main():
    if jsonschema is None:
        harness.skip("JSON Schema validation", "python3-jsonschema is not installed (scripts/setup.sh)")
        return harness.summary()
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        check("docs/temper.schema.json is a valid draft 2020-12 schema", True)
    except jsonschema.SchemaError as e:
        check("docs/temper.schema.json is a valid draft 2020-12 schema", False, str(e)[:500])
        return harness.summary()
    fake_cache()
    seen = set()
    for doc, args in RUNS:
        out = temper_json(*args)
        if out is None:
            continue
        seen.add(doc)
        sub = {"$ref": f"#/$defs/doc_{doc}", "$defs": schema["$defs"]}
        errors = sorted(jsonschema.Draft202012Validator(sub).iter_errors(out), key=str)
        check(f"{' '.join(args[:1] + args[3:])}: valid {doc} document", not errors,
              "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:3])[:1500])
        check(f"{args[0]}: whole schema (one of the documents)",
              jsonschema.Draft202012Validator(schema).is_valid(out))
    if seen and "list" in seen:
        out = temper_json("list")
        check("list: the fake snapshot listed", out and [m["id"] for m in out["models"]] == ["test/toy"],
              out)
    docs_names = {k[4:] for k in schema["$defs"] if k.startswith("doc_")}
    check("every document of the schema has a run", docs_names <= {d for d, _ in RUNS},
          docs_names - {d for d, _ in RUNS})
    # a document of another kind is not valid: the schema discriminates
    tok = temper_json("tokenize", "-z", TOK, "Lily")
    if tok:
        sub = {"$ref": "#/$defs/doc_detokenize", "$defs": schema["$defs"]}
        check("a tokenize document is not a detokenize one", not jsonschema.Draft202012Validator(sub).is_valid(tok))
        tok["extra"] = 1
        sub = {"$ref": "#/$defs/doc_tokenize", "$defs": schema["$defs"]}
        check("an unknown key fails", not jsonschema.Draft202012Validator(sub).is_valid(tok))

    with open(os.path.join(ROOT, "docs", "json.md"), encoding="utf-8") as f:
        page = f.read()
    names = set()
    keys(schema, names)
    missing = sorted(k for k in names if not re.search(r"`[^`]*\b" + re.escape(k) + r"\b[^`]*`", page))
    check("docs/json.md names every key of the schema", not missing, missing)


if __name__ == "__main__":
    main()
    sys.exit(harness.summary())
