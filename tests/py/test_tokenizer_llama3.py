#!/usr/bin/python3
# san: yes
"""Llama-3-style tokenizer.json (Split pre-tokenizer + ByteLevel) vs HF.

No real Llama 3 files exist offline, so the tokenizer is built from GPT-2's
byte-level vocabulary and merges (../shared/fixtures/gpt2/tokenizer.json)
with Llama 3's pipeline:
  pre_tokenizer  Sequence[Split(Regex <Llama 3 pattern>, Isolated, invert false),
                          ByteLevel(add_prefix_space false, use_regex false)]
  model          BPE with ignore_merges true (plus a few whole-word tokens
                 that no merge reaches, so ignore_merges changes ids)
  post_processor Sequence[ByteLevel(trim_offsets false), TemplateProcessing(BOS)]
  added tokens   <|begin_of_text|>, <|end_of_text|>, <|eot_id|> (special)
The reference is HF tokenizers itself (the Rust library through the npm
package, tests/npm/hf_ref.js); temper runs through $TEMPER_BUILD/tests/tok_tool.
Checked: identical ids, offsets (HF's character offsets) and decode, with
and without the BOS, on a corpus of English, contractions in both cases,
digit runs, CJK, emoji, runs of spaces/newlines/tabs, French accents, U+0085
and U+180E (where PCRE2's \\s and Oniguruma's differ), the long s of 'ſ
(case folding); ignore_merges false; the other Split behaviours (Removed,
MergedWithPrevious, MergedWithNext, Contiguous, invert, String patterns,
ByteLevel add_prefix_space/use_regex after Split); the multithreaded encoder
on a long text; and clear errors for what is not supported.
"""
import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, NPM, check  # noqa: E402

FIX = harness.FIXTURES
TOOL = harness.tool("tok_tool")
WORK = os.path.join(BUILD, "tok-llama3")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

def temper(tok_path, texts, *flags):
    out = subprocess.run([TOOL, tok_path, *flags], input=json.dumps(texts).encode(),
                         capture_output=True, check=True).stdout.decode()
    return [json.loads(line) for line in out.split("\n") if line]


def hf(tok_json, texts, add_special=False):
    req = {"tokenizer": tok_json, "texts": texts, "add_special": add_special,
           "skip_special": False}
    out = subprocess.run(["node", os.path.join(NPM, "hf_ref.js"), "encode"],
                         input=json.dumps(req).encode(), capture_output=True, check=True).stdout
    return json.loads(out)


def byte_to_char_offsets(text, offsets):
    pos = []
    for i, ch in enumerate(text):
        pos += [i] * len(ch.encode("utf-8"))
    pos.append(len(text))
    return [[pos[s] if 0 <= s < len(pos) else -1, pos[e] if 0 <= e < len(pos) else -1]
            for s, e in offsets]


def compare(name, texts, mine, theirs):
    bad, first = 0, ""
    for text, m, h in harness.pairs(name, texts, mine, theirs):
        problems = []
        if "error" in m:
            problems.append(f"temper error {m}")
        else:
            if m["ids"] != h["ids"]:
                problems.append(f"ids {m['ids'][:30]} != HF {h['ids'][:30]}")
            conv = byte_to_char_offsets(text, m["offsets"])
            if conv != h["offsets"]:
                diff = [(i, a, b) for i, (a, b) in enumerate(zip(conv, h["offsets"])) if a != b]
                problems.append(f"offsets differ at {diff[:4]}")
            if m["decoded"] != h["decoded"]:
                problems.append(f"decoded {m['decoded'][:60]!r} != HF {h['decoded'][:60]!r}")
        if problems:
            bad += 1
            first = first or f"text {text[:50]!r}: " + "; ".join(problems)
    check(f"{name}: {len(texts)} texts identical to HF", bad == 0 and len(mine) == len(theirs),
          f"{bad} differ; {first}")


CORPUS = [
    "Hello world", "The capital of France is Paris.",
    "I'm sure they're here, we've seen it; I'll go. He'd say don't. It's John's.",
    "IT'S JOHN'S. It'S 'S 's 'sam ''s x's' ’s 'll've 're're WE'VE THEY'RE I'M YOU'LL HE'D DON'T",
    "'\u017f long s, 'K 'k 'Ll 'lL 'Re 'VE 'M 'D",
    "0 00 000 0000 12345678 123456789012 3.14159 1,000,000 -42 +7 1e10 0x1F 2024年",
    "٣٤٥٦ ①②③④ Ⅻ ² ³ ½ 𝟘𝟙𝟚𝟛",
    "Bonjour, comment allez-vous ? L'intelligence artificielle révolutionne le monde.",
    "Où est la bibliothèque ? Ça coûte 12,50 € — très cher ! « citation » À bientôt, Élodie.",
    "日本語のテキストを正しく分割できますか？東京は日本の首都です。",
    "中文文本：机器学习正在改变世界。한국어 텍스트도 있습니다. Русский текст. العربية.",
    "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🇫🇷🇮🇹, ❤️‍🔥, 😀😃😄 ok!",
    "a  b   c    d\t\te \t f\n\ng \n h\r\ni\r\n\r\n  \n\n  x",
    " leading space", "  two leading", "trailing space ", "trailing two  ", " ", "  ", "\n",
    "\t", "\n\n\n", " \n", "\n ", "x\n", "x \n\n y", "end.\n\n\n   ", "   \r\n\t  z",
    "\u00a0nbsp\u00a0 \u3000ideographic\u2028line\u2029para",
    "\u0085next line\u0085 x\u0085\u0085y  \u0085",
    "a\u180eb \u180e c\u180e\u180e d \u200bzero\u200c\u200d \ufeffbom",
    "e\u0301 a\u0308\u0301 n\u0303o\u0302 café naïve",
    "def f(x):\n    return x ** 2  # comment\n\n\tif x: pass", "{\"json\": [1, 2, {\"k\": null}]}",
    "URLs: https://example.com/a?b=c&d=e#f, emails: a.b@c.de...!!!???",
    "Supercalifragilisticexpialidocious tokenization bibliothèque Supercalifragilisticexpialidocious",
    "<|begin_of_text|>Hello<|eot_id|>", "<|begin_of_text|><|begin_of_text|> x <|end_of_text|>",
    "a<|eot_id|>b", "<|begin_of_text", "\x01\x02 control \x7f \x1b[31m",
    "a" * 200, "1" * 100, "!" * 80, " " * 90 + "x", "\n" * 50, "😀" * 30,
    "mixed123numbers4567and89letters", "CamelCaseWordsHere snake_case_words_here",
]


def llama3_json(base):
    t = copy.deepcopy(base)
    vocab = t["model"]["vocab"]
    del vocab["<|endoftext|>"]  # Llama 3 has its own specials
    n = len(vocab)
    # whole-word tokens no merge reaches: only ignore_merges gives them
    for w in ("ĠSupercalifragilisticexpialidocious", "Ġtokenization", "ĠbibliothÃ¨que", "'S"):
        if w not in vocab:
            vocab[w] = n
            n += 1
    t["model"]["ignore_merges"] = True
    t["model"]["byte_fallback"] = False

    def added(i, content):
        return {"id": i, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}
    t["added_tokens"] = [added(n, "<|begin_of_text|>"), added(n + 1, "<|end_of_text|>"),
                         added(n + 2, "<|eot_id|>")]
    t["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]}
    bos = {"id": "<|begin_of_text|>", "type_id": 0}
    t["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [n],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    t["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True}
    return t


def write(name, obj):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return path


def with_split(base, split, bytelevel=None):
    t = copy.deepcopy(base)
    t["pre_tokenizer"]["pretokenizers"][0] = split
    if bytelevel:
        t["pre_tokenizer"]["pretokenizers"][1].update(bytelevel)
    return t


def main():
    with open(os.path.join(FIX, "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        base = llama3_json(json.load(f))
    with_hf = "san" not in os.path.basename(BUILD)  # the ASan run checks memory only
    main_path = write("llama3", base)

    # 1. the Llama 3 pipeline, with and without the BOS
    mine = temper(main_path, CORPUS)
    check("temper encodes every text", all("error" not in m for m in mine),
          [m for m in mine if "error" in m][:2])
    if with_hf:
        ref = hf(main_path, CORPUS)
        compare("llama3 split + ignore_merges", CORPUS, mine, ref)
        compare("llama3 with BOS", CORPUS, temper(main_path, CORPUS, "--add-special"),
                hf(main_path, CORPUS, add_special=True))
        # the whole-word tokens came from ignore_merges
        i = CORPUS.index("Supercalifragilisticexpialidocious tokenization bibliothèque "
                         "Supercalifragilisticexpialidocious")
        whole = [base["model"]["vocab"][w] for w in ("Ġtokenization", "ĠbibliothÃ¨que",
                                                      "ĠSupercalifragilisticexpialidocious")]
        check("ignore_merges gives whole-word ids", ref[i]["ids"][-3:] == whole, ref[i]["ids"])
        j = CORPUS.index("0 00 000 0000 12345678 123456789012 3.14159 1,000,000 -42 +7 1e10 "
                         "0x1F 2024年")
        check("digits split in runs of 3 (12345678 -> 123 456 78)",
              "Ġ,123,456,78,Ġ".split(",") in [ref[j]["tokens"][x:x + 5] for x in range(20)],
              ref[j]["tokens"][:14])
        k = CORPUS.index("IT'S JOHN'S. It'S 'S 's 'sam ''s x's' ’s 'll've 're're WE'VE THEY'RE "
                         "I'M YOU'LL HE'D DON'T")
        check("upper-case contractions are split off", ref[k]["tokens"][:3] == ["IT", "'S", "ĠJOHN"],
              ref[k]["tokens"][:3])

        # 2. ignore_merges false: the same words take several ids
        t = copy.deepcopy(base)
        t["model"]["ignore_merges"] = False
        p = write("llama3-merges", t)
        r2 = hf(p, CORPUS)
        compare("llama3 ignore_merges false", CORPUS, temper(p, CORPUS), r2)
        check("ignore_merges changes the ids", r2[i]["ids"] != ref[i]["ids"])

    # 3. the other behaviours, invert, String patterns, ByteLevel options
    variants = {
        "removed": ({"type": "Split", "pattern": {"Regex": r"\s+"}, "behavior": "Removed",
                     "invert": False}, None),
        "merged-prev": ({"type": "Split", "pattern": {"Regex": r"[,.!?\s]"},
                         "behavior": "MergedWithPrevious", "invert": False}, None),
        "merged-next": ({"type": "Split", "pattern": {"Regex": r"[,.!?\s]"},
                         "behavior": "MergedWithNext", "invert": False}, None),
        "contiguous": ({"type": "Split", "pattern": {"Regex": r"\p{N}|\s"},
                        "behavior": "Contiguous", "invert": False}, None),
        "invert": ({"type": "Split", "pattern": {"Regex": r"\p{L}+"}, "behavior": "Isolated",
                    "invert": True}, None),
        "invert-removed": ({"type": "Split", "pattern": {"Regex": r"\p{L}+|\p{N}"},
                            "behavior": "Removed", "invert": True}, None),
        "string": ({"type": "Split", "pattern": {"String": ". "}, "behavior": "MergedWithPrevious",
                    "invert": False}, None),
        "empty-matches": ({"type": "Split", "pattern": {"Regex": r"x*"}, "behavior": "Contiguous",
                           "invert": False}, None),
        "prefix-regex": ({"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN},
                          "behavior": "Isolated", "invert": False},
                         {"add_prefix_space": True, "use_regex": True}),
        "anchors": ({"type": "Split", "pattern": {"Regex": r"^\s*\p{L}|\p{N}$"},
                     "behavior": "Isolated", "invert": False}, None),
    }
    for name, (split, bl) in variants.items():
        p = write(name, with_split(base, split, bl))
        m = temper(p, CORPUS)
        if with_hf:
            compare(f"Split {name}", CORPUS, m, hf(p, CORPUS))
        else:
            check(f"Split {name} encodes", all("error" not in x for x in m))

    # 4. multithreaded: long text, cut between words, same ids as one thread
    long = ("The quick brown fox jumps over the lazy dog. L'été dernier, 12345 élèves "
            "ont lu 2024 livres!\n\n  Nouvelle ligne \u4e2d\u6587 😀 it'S DON'T stop.\n") * 3000
    one = temper(main_path, [long])[0]
    par = temper(main_path, [long], "--threads", "4")[0]
    check("4 threads give the ids of 1 thread", one["ids"] == par["ids"] and
          one["offsets"] == par["offsets"], (len(one["ids"]), len(par["ids"])))
    if with_hf:
        h = hf(main_path, [long])[0]
        check("long text ids == HF", par["ids"] == h["ids"], (len(par["ids"]), len(h["ids"])))

    # 5. what is not supported is a clear error
    def load_error(name, obj, want):
        p = write(name, obj)
        r = subprocess.run([TOOL, p], input=b"[]", capture_output=True)
        msg = r.stderr.decode()
        check(f"error: {name}", r.returncode == 1 and want in msg, msg[:300])
    load_error("bad-behavior", with_split(base, {"type": "Split", "pattern": {"Regex": " "},
                                                 "behavior": "Sideways", "invert": False}),
               'Split behavior "Sideways" is not supported')
    load_error("bad-escape", with_split(base, {"type": "Split", "pattern": {"Regex": r"\w+"},
                                               "behavior": "Isolated", "invert": False}),
               "uses \\w")
    load_error("bad-option", with_split(base, {"type": "Split", "pattern": {"Regex": "(?m:a.)"},
                                               "behavior": "Isolated", "invert": False}),
               "inline option other than i")
    load_error("bad-regex", with_split(base, {"type": "Split", "pattern": {"Regex": "(a"},
                                              "behavior": "Isolated", "invert": False}),
               "does not compile")
    t = copy.deepcopy(base)
    t["pre_tokenizer"]["pretokenizers"].reverse()
    load_error("bytelevel-then-split", t, "Sequence of 2 pre-tokenizers is not supported")
    t = copy.deepcopy(base)
    t["pre_tokenizer"] = t["pre_tokenizer"]["pretokenizers"][0]
    load_error("split-alone", t, 'pre_tokenizer type "Split" is not supported')
    t = copy.deepcopy(base)
    t["pre_tokenizer"]["pretokenizers"][1] = {"type": "Digits", "individual_digits": True}
    load_error("split-digits", t, "Sequence of 2 pre-tokenizers is not supported")

    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
