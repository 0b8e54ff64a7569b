#!/usr/bin/env python3
# san: yes
"""test_svg.py - the SVG pictures the library writes (src/svg/svg.c), from
the CLI's --svg FILE and from Python (temper.svg), parsed with Python's
xml.etree (no browser): each is a well-formed SVG document whose marks
carry the exact numbers of the command's --json document:

- `attention --svg`: one panel per head shown (all heads of layer L, or
  --head H), each cell's data-value the JSON weight (1e-6), row and column
  labels the tokens;
- `probs --svg` (with controls): bar series 0 = the rows' prob, series 1
  = prob_processed (1e-12), labels the tokens;
- `softmax --svg --temps`: one series per temperature = its
  prob_processed;
- `hidden --svg`: the points' data-x/data-y = the JSON projection (PCA by
  default, t-SNE with --project tsne), one label per token;
- labels with < & " are escaped (the text reads back as given); errors:
  too many heatmap cells, bad shapes, --svg with 3 components, an
  unwritable file.
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np

import harness
from harness import check, summary, TEMPER

SAN = "san" in harness.BUILD_NAME
NS = "{http://www.w3.org/2000/svg}"


temper = harness.import_temper()  # under build-san: runs again with the sanitizers preloaded

TMP = tempfile.mkdtemp(prefix="temper-svg-")
TEXT = "The cat sat on the mat"


def run(*args):
    r = subprocess.run([TEMPER, *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def svg_and_json(*args):
    """Run the command with --svg FILE and --json: (parsed svg root, json)."""
    path = os.path.join(TMP, "out.svg")
    if os.path.exists(path):
        os.remove(path)
    extra = [] if args[0] == "softmax" else ["-q"]
    rc, out, err = run(*args, *extra, "--json", "--svg", path)
    if not check(f"{' '.join(args[:3])} --svg: exit 0", rc == 0, err):
        return None, None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        check(f"{args[0]} --svg: well-formed XML", False, str(e))
        return None, None
    check(f"{args[0]} --svg: an <svg> root with a size", root.tag == NS + "svg" and float(root.get("width")) > 0
          and float(root.get("height")) > 0, root.tag)
    return root, json.loads(out)


def texts(root, cls):
    return [t.text for t in root.iter(NS + "text") if t.get("class") == cls]


def test_attention():
    root, d = svg_and_json("attention", "--layer", "1", TEXT)
    if root is None:
        return
    heads = d["layers"][0]["heads"]
    panels = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
    check("attention --svg: one panel per head", len(panels) == len(heads) == d["n_head"], len(panels))
    worst = 0.0
    for p, g in enumerate(panels):
        w = np.array(heads[p]["weights"])
        cells = [c for c in g.iter(NS + "rect") if c.get("class") == "cell"]
        got = np.zeros_like(w)
        for c in cells:
            got[int(c.get("data-row")), int(c.get("data-col"))] = float(c.get("data-value"))
        ok = len(cells) == w.size
        worst = max(worst, float(np.max(np.abs(got - w)))) if ok else 1.0
    check("attention --svg: every cell's value is the JSON weight (1e-6)", worst <= 1e-6, worst)
    rows = texts(panels[0], "row-label")
    want = [t.replace("\u2581", "\u2423") for t in d["tokens"]]
    check("attention --svg: row and column labels are the tokens", rows == want
          and texts(panels[0], "col-label") == want, (rows, want))
    check("attention --svg: panel titles", texts(panels[1], "panel-title") == ["layer 1 head 1"],
          texts(panels[1], "panel-title"))
    root, d = svg_and_json("attention", "--layer", "0", "--head", "2", TEXT)
    if root is not None:
        panels = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
        cells = [c for c in panels[0].iter(NS + "rect") if c.get("class") == "cell"]
        w = np.array(d["layers"][0]["heads"][0]["weights"])
        got = np.array([float(c.get("data-value")) for c in cells]).reshape(w.shape)
        check("attention --head 2 --svg: one panel, head 2's weights", len(panels) == 1
              and d["layers"][0]["heads"][0]["head"] == 2 and np.max(np.abs(got - w)) <= 1e-6)


def bar_values(root, series, n):
    got = [None] * n
    for r in root.iter(NS + "rect"):
        if r.get("class") == "bar" and int(r.get("data-series")) == series:
            got[int(r.get("data-index"))] = float(r.get("data-value"))
    return got


def test_probs():
    root, d = svg_and_json("probs", "--top", "6", "--temp", "0.7", "--top-p", "0.9", "Lily went to the")
    if root is None:
        return
    c = d["candidates"]
    p0, p1 = bar_values(root, 0, len(c)), bar_values(root, 1, len(c))
    check("probs --svg: series 0 = prob", all(abs(a - r["prob"]) <= 1e-12 for a, r in zip(p0, c)), (p0, c))
    check("probs --svg: series 1 = prob_processed",
          all(abs(a - r["prob_processed"]) <= 1e-12 for a, r in zip(p1, c)), p1)
    want = [r["token"].replace("\u2581", "\u2423") for r in c]
    check("probs --svg: bar labels are the tokens", texts(root, "bar-label") == want,
          (texts(root, "bar-label"), want))
    check("probs --svg: a legend of two series", len(texts(root, "legend")) == 2)


def test_softmax():
    root, d = svg_and_json("softmax", "--logits", "1.1,0.5,0.85", "--tokens", "the,<b>,a&b", "--temps",
                           "0.2,1,1.95", "--top-k", "2")
    if root is None:
        return
    tables = d["temperatures"]
    ok = all(all(abs(a - r["prob_processed"]) <= 1e-12 for a, r in zip(bar_values(root, k, 3), t["rows"]))
             for k, t in enumerate(tables))
    check("softmax --svg: one series per temperature = prob_processed", ok and len(tables) == 3)
    check("softmax --svg: labels escaped and read back", texts(root, "bar-label") == ["the", "<b>", "a&b"],
          texts(root, "bar-label"))


def points(root):
    g = sorted((x for x in root.iter(NS + "g") if x.get("class") == "point"), key=lambda x: int(x.get("data-index")))
    return np.array([[float(x.get("data-x")), float(x.get("data-y"))] for x in g]), g


def test_hidden():
    root, d = svg_and_json("hidden", "--layer", "3", TEXT)
    if root is not None:
        pts, g = points(root)
        check("hidden --svg: PCA by default, the JSON points exactly",
              d["projection"]["method"] == "pca" and np.array_equal(pts, np.array(d["projection"]["points"])))
        labels = [x.find(NS + "text").text for x in g]
        check("hidden --svg: one label per token", labels == [t.replace("\u2581", "\u2423") for t in d["tokens"]],
              labels)
    root, d = svg_and_json("hidden", "--project", "tsne", "--perplexity", "3", "--n-iter", "300", TEXT)
    if root is not None:
        pts, _ = points(root)
        check("hidden --project tsne --svg: the JSON points", np.array_equal(pts, np.array(d["projection"]["points"])))
        check("hidden --project tsne --svg: the title names t-SNE", "t-SNE" in root.find(NS + "title").text)
    rc, out, err = run("hidden", "-q", "--project", "umap", "--n-components", "3", "--svg", os.path.join(TMP, "x.svg"),
                       TEXT)
    check("hidden --svg with 3 components: exit 2", rc == 2 and "--svg" in err, err)
    rc, out, err = run("attention", "-q", "--svg", os.path.join(TMP, "no", "such", "dir.svg"), TEXT)
    check("--svg into a missing folder: exit 1, message", rc == 1 and "cannot write" in err, err)
    rc, out, err = run("attention", "-q", "--head", "0", "--svg", "-", TEXT)
    try:
        ok = rc == 0 and ET.fromstring(out[:out.index("</svg>") + 6].encode()).tag == NS + "svg"
    except (ValueError, ET.ParseError):
        ok = False
    check("--svg -: the SVG on stdout", ok, out[:200])


def test_python():
    s = temper.svg.heatmap(np.array([[0.25, 0.75], [1.0, 0.0]]), ["<s>", 'say "hi"'], ["a&b", "z"], title="t <1>")
    root = ET.fromstring(s.encode())
    cells = [c for c in root.iter(NS + "rect") if c.get("class") == "cell"]
    check("svg.heatmap: values", [float(c.get("data-value")) for c in cells] == [0.25, 0.75, 1.0, 0.0])
    check("svg.heatmap: labels escaped and read back", texts(root, "row-label") == ["<s>", 'say "hi"']
          and texts(root, "col-label") == ["a&b", "z"] and root.find(NS + "title").text == "t <1>")
    s = temper.svg.scatter([[0.5, -1.0], [2.0, 3.0], [1.0, 1.0]], ["x", "y", "z"], colors=[3, 1, 2],
                           x_name="PC1", y_name="PC2")
    pts, _ = points(ET.fromstring(s.encode()))
    check("svg.scatter: the points", pts.tolist() == [[0.5, -1.0], [2.0, 3.0], [1.0, 1.0]])
    s = temper.svg.bars([[0.1, 0.9], [0.5, 0.5]], ["a", "b"], ["T = 1", "T = 2"])
    root = ET.fromstring(s.encode())
    check("svg.bars: two series", bar_values(root, 1, 2) == [0.5, 0.5] and texts(root, "legend") == ["T = 1", "T = 2"])
    for name, fn in (("too many cells", lambda: temper.svg.heatmap(np.zeros((2, 1024, 1024)))),
                     ("labels of the wrong count", lambda: temper.svg.bars([1, 2], ["a"])),
                     ("3 coordinates", lambda: temper.svg.scatter(np.zeros((3, 3)))),
                     ("a NaN point", lambda: temper.svg.scatter([[0, float("nan")]]))):
        try:
            fn()
            check(f"svg: {name}: an error", False, "no error")
        except temper.InvalidArgument as e:
            check(f"svg: {name}: an error", len(str(e)) > 10, str(e))


if __name__ == "__main__":
    test_python()
    test_attention()
    test_probs()
    test_softmax()
    test_hidden()
    sys.exit(summary())
