#!/usr/bin/python3
# san: yes
"""SentencePiece-style BPE from tokenizer.json, against Hugging Face tokenizers.

No Llama tokenizer.json is available offline, so this test writes its own
from ../shared/fixtures/stories260K/tok512.bin the way transformers'
LlamaConverter does (pieces with "\u2581", <0xHH> byte pieces, merges = every
split of a piece into two pieces, ordered by the piece's score), in the
layouts the Llama family has used:
  legacy     normalizer Sequence[Prepend("\u2581"), Replace(" ", "\u2581")],
             decoder Sequence[Replace, ByteFallback, Fuse, Strip(" ", 1, 0)]
             (Llama 2, TinyLlama as published)
  first      pre_tokenizer Metaspace(prepend_scheme "first", split false)
             (transformers >= 4.41, legacy = false)
  split      pre_tokenizer Metaspace(add_prefix_space, split true), decoder
             Metaspace (older files)
  never      Metaspace(prepend_scheme "never"), decoder without Strip
  ignore     legacy + ignore_merges = true
  nofuse     legacy without the byte pieces for 0x80..0xFF (unknown
  fuse       characters fall back to <unk>), fuse_unk false / true
  gemma      Gemma 3's layout: Replace(" ", "\u2581") with no dummy prefix,
             decoder without Strip, <start_of_turn>/<end_of_turn> added
The reference is HF tokenizers itself (Rust, through the npm package
@anush008/tokenizers, tests/npm/hf_ref.js). For each layout and each text:
same ids, same offsets, same decode (with and without special tokens), and
the streaming decoder gives the decoded text. Then decode of random id
sequences (byte tokens forming invalid UTF-8, special tokens) against HF,
the streaming decoder on them too, except id lists with a byte run that
starts with a whole character and then turns invalid (HF writes U+FFFD for
the whole run, the stream has already written the character). Then the
errors for components that are not supported. temper is driven through
$TEMPER_BUILD/tests/tok_tool, tests/detok_tool and $TEMPER_BUILD/temper.
"""
import copy
import json
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, FIXTURES as FIX, check  # noqa: E402

TOK512 = os.path.join(FIX, "stories260K", "tok512.bin")
TOOL = harness.tool("tok_tool")
TEMPER = harness.TEMPER
DETOK = harness.tool("detok_tool")
NPM = harness.NPM
WORK = os.path.join(BUILD, "spm-parity")
MS = "\u2581"


def read_tok512():
    """[(score, piece)] of tokenizer.bin, pieces in SentencePiece form."""
    data = open(TOK512, "rb").read()
    out, off = [], 4
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        piece = data[off + 8:off + 8 + n].decode("utf-8")
        out.append((score, piece.replace(" ", MS)))
        off += 8 + n
    out[1] = (0.0, "<s>")
    out[2] = (0.0, "</s>")
    return out


def llama_json(pieces):
    """A Llama-2-style tokenizer.json (the legacy layout)."""
    vocab = {p: i for i, (_, p) in enumerate(pieces)}
    merges = []
    for i, (score, p) in enumerate(pieces):
        if i < 259:
            continue
        for k in range(1, len(p)):
            a, b = p[:k], p[k:]
            if a in vocab and b in vocab:
                merges.append((-score, i, vocab[a], vocab[b]))
    merges.sort()
    special = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}
               for i, c in [(0, "<unk>"), (1, "<s>"), (2, "</s>")]]
    bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": MS},
            {"type": "Replace", "pattern": {"String": " "}, "content": MS}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                                    bos, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1],
                                                      "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": MS}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
                  "merges": [f"{pieces[a][1]} {pieces[b][1]}" for _, _, a, b in merges]},
    }


def variants(base, pieces):
    v = {"legacy": base}
    j = copy.deepcopy(base)
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": MS, "prepend_scheme": "first",
                          "split": False}
    v["first"] = j
    j = copy.deepcopy(base)
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": MS, "add_prefix_space": True}
    j["decoder"] = {"type": "Metaspace", "replacement": MS, "add_prefix_space": True}
    v["split"] = j
    j = copy.deepcopy(base)
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": MS, "prepend_scheme": "never",
                          "split": False}
    j["decoder"]["decoders"] = j["decoder"]["decoders"][:3]
    v["never"] = j
    j = copy.deepcopy(base)
    j["model"]["ignore_merges"] = True
    v["ignore"] = j
    j = copy.deepcopy(base)
    j["model"]["fuse_unk"] = False
    for b in range(0x80, 0x100):  # no byte pieces for the high bytes (holes in the ids)
        del j["model"]["vocab"][f"<0x{b:02X}>"]
    v["nofuse"] = j
    j = copy.deepcopy(v["nofuse"])
    j["model"]["fuse_unk"] = True
    v["fuse"] = j
    # Gemma 3 (google/gemma-3-270m's tokenizer.json layout, no real file at
    # hand): normalizer Replace(" ", "\u2581") alone (no dummy prefix),
    # no pre-tokenizer, byte_fallback BPE, decoder Sequence[Replace,
    # ByteFallback, Fuse] (no Strip), BOS by the template, and the chat
    # turn markers as special added tokens.
    j = copy.deepcopy(base)
    j["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": MS}
    j["decoder"]["decoders"] = j["decoder"]["decoders"][:3]
    n = len(j["model"]["vocab"])
    j["added_tokens"] += [{"id": n + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                           "normalized": False, "special": True}
                          for i, c in enumerate(["<start_of_turn>", "<end_of_turn>"])]
    v["gemma"] = j
    return v


def texts():
    t = ["Once upon a time", "Zoo", "Hello world", "Lily and Ben went to the park.",
         "The cat sat on the mat. It was happy!", "café", "I'm 3 years old.",
         "\"Let's play!\" said Tom.", "", " ", "  ", "   x", " leading", "trailing ",
         "two  spaces  inside", "a\nb\n\nc", "\n", "\t tab", "line\r\nbreak",
         "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
         "日本語のテキスト。東京", "中文 한국어 ภาษาไทย", "😀 emoji 👍🏽 family 👨‍👩‍👧",
         "e\u0301 combining", "\u00a0nbsp \u3000ideographic", "zero\u200bwidth",
         MS + " literal metaspace " + MS + MS, "a" + MS + "b",
         "<s>", "<s>Hello", "Hello <s> world", "</s> end", "<unk>", "a<s>b</s>c",
         "x" * 200, "ab " * 70, "The end." * 20,
         "Once upon a time, there was a little girl named Lily. She loved to play outside "
         "in the park. One day, she saw a big, red ball.",
         "\x01\x02 controls \x7f", "0123456789 3.14 1,000", "~[]|<>%€™ symbols",
         "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n", "<end_of_turn> x"]
    rng = random.Random(6)
    pool = "abcdefghijklmnopqrstuvwxyz ABCXYZ  .,!?'\"\n\u00e9\u00fc\u00df\u4e2d\u6587\U0001F600\u2581"
    for _ in range(60):
        t.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    return t


def hf_encode(path, items, add_special, skip_special):
    req = {"tokenizer": path, "texts": items, "add_special": add_special,
           "skip_special": skip_special}
    out = subprocess.run(["node", os.path.join(NPM, "hf_ref.js"), "encode"],
                         input=json.dumps(req).encode(), capture_output=True, check=True).stdout
    return json.loads(out)


HF_DECODE = r"""
const hf = require(process.argv[1]);
const req = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const tok = hf.Tokenizer.fromFile(req.tokenizer);
  const out = [];
  for (const ids of req.seqs) out.push(await tok.decode(ids, req.skip_special));
  process.stdout.write(JSON.stringify(out));
})();
"""


def hf_decode(path, seqs, skip_special):
    req = {"tokenizer": path, "seqs": seqs, "skip_special": skip_special}
    mod = os.path.join(NPM, "node_modules", "@anush008", "tokenizers")
    out = subprocess.run(["node", "-e", HF_DECODE, mod], input=json.dumps(req).encode(),
                         capture_output=True, check=True).stdout
    return json.loads(out)


def ours(path, items, *flags):
    out = subprocess.run([TOOL, path, *flags], input=json.dumps(items).encode(),
                         capture_output=True, check=True).stdout.decode()
    return [json.loads(line) for line in out.split("\n") if line]


def byte_to_char_offsets(text, offsets):
    pos = []
    for i, ch in enumerate(text):
        pos += [i] * len(ch.encode("utf-8"))
    pos.append(len(text))
    return [[pos[s], pos[e]] for s, e in offsets]


def parity(name, path, items):
    for add, skip in [(True, True), (False, False)]:
        flags = (["--add-special"] if add else []) + (["--skip-special"] if skip else [])
        theirs = hf_encode(path, items, add, skip)
        mine = ours(path, items, *flags)
        bad = []
        for text, t, m in harness.pairs(f"{name} add={add}", items, theirs, mine):
            if "error" in m:
                bad.append((text, m))
                continue
            got_off = byte_to_char_offsets(text, m["offsets"])
            if m["ids"] != t["ids"]:
                bad.append((text, "ids", m["ids"], t["ids"], t["tokens"]))
            elif got_off != t["offsets"]:
                bad.append((text, "offsets", got_off, t["offsets"], t["tokens"]))
            elif m["decoded"] != t["decoded"]:
                bad.append((text, "decoded", m["decoded"], t["decoded"]))
            elif m["stream"] != t["decoded"]:
                bad.append((text, "stream", m["stream"], t["decoded"]))
        check(f"{name} add={add} skip={skip}: {len(items)} texts", not bad, repr(bad[:3]))


def run_starts_whole(seq, skip):
    """1 if some run of byte tokens (ids 3..258) of seq is invalid UTF-8 yet
    starts with a whole character: the one case where the streaming
    decoder cannot give HF's text (spm_decode.c)."""
    runs, cur = [], b""
    for i in seq:
        if skip and i < 3:
            continue
        if 3 <= i < 259:
            cur += bytes([i - 3])
        else:
            runs.append(cur)
            cur = b""
    runs.append(cur)
    for r in runs:
        try:
            r.decode("utf-8")
            continue
        except UnicodeDecodeError:
            pass
        for n in range(1, 5):
            try:
                r[:n].decode("utf-8")
                return True
            except UnicodeDecodeError:
                pass
    return False


def decode_parity(name, path, n_vocab):
    rng = random.Random(11)
    seqs = []
    for _ in range(300):
        seq = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.45:
                seq.append(rng.randrange(3, 259))          # a byte token
            elif r < 0.55:
                seq.append(rng.randrange(0, 3))            # <unk> <s> </s>
            else:
                seq.append(rng.randrange(259, n_vocab))
        seqs.append(seq)
    # whole characters from byte tokens, cut ones, and a valid run before a bad byte
    seqs += [[3 + b for b in "é".encode()], [3 + b for b in "中".encode()][:2] + [300],
             [1] + [3 + b for b in " x".encode()] + [400], [3 + 0x20, 400], [410, 3 + 0x20],
             [3 + 0xC3, 3 + 0xA9, 3 + 0xFF], [3 + 0xE6, 3 + 0x41, 3 + 0x42, 410]]
    for skip in (False, True):
        theirs = hf_decode(path, seqs, skip)
        r = subprocess.run([DETOK, path] + (["--skip-special"] if skip else []),
                           input=json.dumps(seqs).encode(), capture_output=True, check=True)
        mine = [json.loads(line) for line in r.stdout.decode().split("\n") if line]
        both = harness.pairs(f"{name} decode skip={skip}", seqs, mine, theirs)
        bad = [(seq, m, t) for seq, m, t in both if m.get("text") != t]
        check(f"{name} decode of {len(seqs)} random id lists, skip={skip}",
              not bad and len(mine) == len(seqs), repr(bad[:3]))
        streamed = [(seq, m, t) for seq, m, t in both if not run_starts_whole(seq, skip)]
        bad = [x for x in streamed if x[1].get("stream") != x[2]]
        check(f"{name} stream of {len(streamed)} of them, skip={skip}", not bad, repr(bad[:3]))


def errors(base):
    cases = [
        ("normalizer", {"type": "NFKC"}, "NFKC"),
        ("pre_tokenizer", {"type": "Whitespace"}, "Whitespace"),
        ("decoder", {"type": "WordPiece", "prefix": "##"}, "WordPiece"),
        ("decoder", {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "ByteFallback"}]},
         "ByteFallback"),
        ("decoder", {"type": "Sequence", "decoders": [{"type": "CTC"}]}, "CTC"),
    ]
    for slot, value, word in cases:
        j = copy.deepcopy(base)
        j[slot] = value
        if slot == "pre_tokenizer":
            j["normalizer"] = None
        path = os.path.join(WORK, f"bad-{slot}-{word}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        r = subprocess.run([TEMPER, "tokenize", "-z", path, "x"], capture_output=True)
        err = r.stderr.decode()
        check(f"{slot} {word} refused", r.returncode != 0 and word in err and slot.split("_")[0] in err,
              f"rc={r.returncode} {err!r}")


def main():
    if not os.path.isdir(os.path.join(NPM, "node_modules", "@anush008", "tokenizers")):
        return harness.missing("tests/npm/node_modules missing: run scripts/setup.sh")
    os.makedirs(WORK, exist_ok=True)
    pieces = read_tok512()
    base = llama_json(pieces)
    items = texts()
    for name, j in variants(base, pieces).items():
        path = os.path.join(WORK, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        parity(name, path, items)
        if name in ("legacy", "split", "never", "gemma"):
            decode_parity(name, path, len(pieces))
    errors(base)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
