#!/usr/bin/env bash
# bench/tokenizer.sh - tokenizer encode throughput, temper next to Hugging Face
# tokenizers (the Rust library through npm @anush008/tokenizers), on the same
# ~10 MB English text in the same run; checks that both give the same ids.
#
# The text is made by bench/make_english.py from files of Debian packages
# temper already needs (Python's and numpy's docstrings, Python's reference
# topics, /usr/share/common-licenses), so no download is involved.
# usage: bench/tokenizer.sh [TOKENIZER]   (default: ../shared/fixtures/gpt2)
# env: BUILD (default build), TEMPER_FIXTURES, MB (text size, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FIX=${TEMPER_FIXTURES:-../shared/fixtures}
TOK=${1:-$FIX/gpt2}
MB=${MB:-10}
BENCH=$BUILD/bench/bench_tokenizer
TEXT=$BUILD/bench/english-${MB}mb.txt
[ -x "$BENCH" ] || { echo "tokenizer.sh: $BENCH missing: run make BUILD=$BUILD" >&2; exit 1; }
mkdir -p "$BUILD/bench"
[ -s "$TEXT" ] || /usr/bin/python3 bench/make_english.py "$TEXT" "$MB"
TJ=$TOK
[ -d "$TOK" ] && TJ=$TOK/tokenizer.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

temper_json=$("$BENCH" "$TOK" "$TEXT" --ids-out "$tmp/temper.ids" 2>"$tmp/temper.txt") || true
hf_json=""
if [ -f "$TJ" ] && [ -d tests/npm/node_modules/@anush008/tokenizers ]; then
    hf_json=$(node tests/npm/hf_ref.js bench "$TJ" "$TEXT" "$tmp/hf.ids")
else
    echo "tokenizer.sh: no tokenizer.json or no tests/npm/node_modules: HF side skipped" >&2
fi
cat "$tmp/temper.txt"
/usr/bin/python3 - "$temper_json" "$hf_json" "$tmp" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
h = json.loads(sys.argv[2]) if sys.argv[2] else None
same = None
if h:
    a = open(sys.argv[3] + "/temper.ids", "rb").read()
    b = open(sys.argv[3] + "/hf.ids", "rb").read()
    same = a == b
print(f"\n{'encode MB/s (one text of %.1f MB)' % (t['bytes'] / 1e6):40s} {'temper':>10s} {'HF tokenizers':>14s}")
rows = [("whole text, 1 thread", "whole_mb_s", "whole_mb_s"),
        ("4 KB chunks, 1 thread", "chunked_mb_s", "chunked_mb_s"),
        ("all cores (temper parallel / HF batch)", "parallel_mb_s", "batch_mb_s")]
for name, tk, hk in rows:
    hv = f"{h[hk]:14.2f}" if h else f"{'-':>14s}"
    print(f"{name:40s} {t[tk]:10.2f} {hv}")
print(f"{'tokens':40s} {t['tokens']:10d} {h['tokens'] if h else '-':>14}")
if h:
    print(f"same ids as HF: {'yes' if same else 'NO'}; speed-up (whole text): "
          f"{t['whole_mb_s'] / h['whole_mb_s']:.1f}x")
ok = t["parallel_same"] and t["roundtrip"] and (same is not False)
sys.exit(0 if ok else 1)
PY
