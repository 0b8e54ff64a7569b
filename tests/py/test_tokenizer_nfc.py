#!/usr/bin/python3
# san: yes
"""Qwen2/Qwen3 and GPT-NeoX/Pythia tokenizer.json pipelines (NFC normalizer
+ byte-level BPE) vs Hugging Face tokenizers.

The real files (Qwen/Qwen2.5-0.5B, Qwen/Qwen3-0.6B, EleutherAI/pythia-70m)
are not in ../shared/fixtures and there is no network, so the tokenizers
are built from GPT-2's byte-level vocabulary and merges
(../shared/fixtures/gpt2/tokenizer.json) with each family's published
pipeline:
  qwen2   normalizer NFC; pre_tokenizer Sequence[Split(Regex <Qwen2 pattern:
          single digits>, Isolated), ByteLevel(add_prefix_space false,
          use_regex false)]; decoder ByteLevel; BPE; added tokens
          <|endoftext|>, <|im_start|>, <|im_end|> (special) and, as Qwen3
          has them, <think> and </think> (not special)
  pythia  normalizer NFC; pre_tokenizer ByteLevel(add_prefix_space false,
          trim_offsets true); decoder ByteLevel; BPE; added tokens
          <|endoftext|>, <|padding|> (special) and runs of spaces (not
          special, normalized), as GPT-NeoX-20B's file lists them
The reference is HF tokenizers itself (tests/npm/hf_ref.js). Checked:
identical ids, offsets (HF's character offsets, through the NFC alignment)
and decode on the parity corpus of test_tokenizer_llama3.py plus text in
decomposed forms (e + U+0301, Hangul jamo, Angstrom sign, stacked marks,
marks after spaces and digits), which NFC changes.
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, check  # noqa: E402
import test_tokenizer_llama3 as l3  # noqa: E402  (corpus, drivers, comparison)

WORK = os.path.join(BUILD, "tok-nfc")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
DECOMPOSED = [
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301", "e\u0301\u0301 a\u0323\u0302 o\u0308\u0304 q\u0307\u0323",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af jamo", "\u212b ngstrom \u2126 ohm K\u212a",
    " \u0301 leading mark", "1\u0301 2\u0308 x \u0308", "Zo\u0308e\u0308 -- \u00e9 e\u0301 \u00e9",
    "\u0915\u093c \u0928\u093c Devanagari nukta", "\u0b47\u0b3e Oriya, \u0d46\u0d3e Malayalam",
    "\u1e9b\u0323 long s dot", "a\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307 many marks",
    "<|im_start|>user\nCafe\u0301?<|im_end|>\n", "<think>e\u0301</think> ok",
    "  \u0301", "\u0301", "e\u0301" * 40,
]


def qwen_json(base):
    t = copy.deepcopy(base)
    vocab = t["model"]["vocab"]
    del vocab["<|endoftext|>"]
    n = len(vocab)

    def added(i, content, special=True):
        return {"id": i, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": special}
    t["added_tokens"] = [added(n, "<|endoftext|>"), added(n + 1, "<|im_start|>"), added(n + 2, "<|im_end|>"),
                         added(n + 3, "<think>", False), added(n + 4, "</think>", False)]
    t["normalizer"] = {"type": "NFC"}
    t["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    t["post_processor"] = dict(bl)
    t["decoder"] = dict(bl)
    t["model"]["byte_fallback"] = False
    t["model"]["ignore_merges"] = False
    return t


def pythia_json(base):
    t = copy.deepcopy(base)
    n = len(t["model"]["vocab"])  # <|endoftext|> keeps GPT-2's id (Pythia has it at 0)

    def added(i, content, special, normalized):
        return {"id": i, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": normalized, "special": special}
    t["added_tokens"] = [added(n - 1, "<|endoftext|>", True, False), added(n, "<|padding|>", True, False)] + \
        [added(n + 1 + k, " " * (24 - k), False, True) for k in range(0, 23, 4)]
    t["normalizer"] = {"type": "NFC"}
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True}
    t["pre_tokenizer"] = dict(bl)
    t["post_processor"] = dict(bl)
    t["decoder"] = dict(bl)
    return t


def main():
    with open(os.path.join(l3.FIX, "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        base = json.load(f)
    l3.WORK = WORK
    with_hf = "san" not in os.path.basename(BUILD)  # the ASan run checks memory only
    corpus = l3.CORPUS + DECOMPOSED + ["<|endoftext|><|padding|> x", "a" + " " * 30 + "b", " " * 24 + "x"]
    for name, obj in (("qwen2", qwen_json(base)), ("pythia", pythia_json(base))):
        path = l3.write(name, obj)
        mine = l3.temper(path, corpus)
        check(f"{name}: temper encodes every text", all("error" not in m for m in mine),
              [m for m in mine if "error" in m][:2])
        if with_hf:
            ref = l3.hf(path, corpus)
            l3.compare(f"{name} NFC + byte-level", corpus, mine, ref)
            i = corpus.index(DECOMPOSED[0])
            check(f"{name}: NFC composed e + U+0301 (the ids of the precomposed text)",
                  ref[i]["ids"] == l3.hf(path, ["caf\u00e9 na\u00efve r\u00e9sum\u00e9"])[0]["ids"])
        # the normalizer matters: without it, decomposed text gives other ids
        plain = copy.deepcopy(obj)
        plain["normalizer"] = None
        other = l3.temper(l3.write(name + "-plain", plain), DECOMPOSED[:1])
        check(f"{name}: without NFC the ids differ", other[0]["ids"] != mine[corpus.index(DECOMPOSED[0])]["ids"])
    # a normalizer other than NFC is refused, naming it
    t = qwen_json(base)
    t["normalizer"] = {"type": "NFKC"}
    p = l3.write("nfkc", t)
    import subprocess
    r = subprocess.run([l3.TOOL, p], input=b"[]", capture_output=True)
    msg = r.stderr.decode()
    check("NFKC normalizer refused by name", r.returncode == 1 and "NFKC" in msg, msg[:300])
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
