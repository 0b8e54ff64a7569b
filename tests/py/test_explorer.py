# san: yes
"""test_explorer.py - the web explorer (tools/server/web, docs/explorer.md):
how `temper serve` serves its files (types, caching, 404s, no way out of
the table, no API key needed), then the page itself in headless Chromium
(tests/npm/explorer.js drives it with playwright-core) on a random-weight
GPT-2 and on stories260K: each view renders with no console error and no
request elsewhere, and the numbers it shows equal the API's, the CLI's and
numpy's for the same inputs. Screenshots: build/artifacts/explorer/.

Without Chromium or tests/npm's playwright-core the browser part is
skipped (counted); on CI (CI set) it fails instead, as does a temper
built without the explorer. Under the ASan build (TEMPER_BUILD=build-san)
only the serving part runs: the page's numbers do not depend on the build.
"""
import json
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, ROOT, TEMPER, NPM, MODELS, summary  # noqa: E402
from server import Server  # noqa: E402

import numpy as np  # noqa: E402

STORIES = os.path.join(ROOT, "models", "stories260K")
GPT2 = os.path.join(MODELS, "explorer-gpt2-l2-e64-f32")
ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "explorer")
CHROMIUM = os.environ.get("TEMPER_CHROMIUM", "/usr/bin/chromium")
ON_CI = bool(os.environ.get("CI"))


def cli_json(model, *args):
    r = subprocess.run([TEMPER, *args, "-m", model, "--json"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"temper {' '.join(args)}: {r.stderr}")
    return json.loads(r.stdout)


def test_files(s):
    """The files: types, caching, 304, 404, traversal, HEAD, the API key."""
    st, hd, page = s.get("/")
    check("GET / is the explorer's page", st == 200 and hd.get("Content-Type") == "text/html; charset=utf-8"
          and "<title>temper explorer</title>" in page, (st, hd, page[:200]))
    if "not built" in page:
        check("temper was built with the explorer (tools/server/web/node_modules: npm ci, then make)", False)
        return None
    check("/ is revalidated (no-cache, ETag)", hd.get("Cache-Control") == "no-cache" and hd.get("ETag"), hd)
    check("/ has a CSP that allows this origin only", "default-src 'self'" in hd.get("Content-Security-Policy", ""), hd)
    st2, _, body2 = s.request("GET", "/", headers={"If-None-Match": hd.get("ETag", "")})
    check("If-None-Match with the ETag: 304, no body", st2 == 304 and body2 == "", (st2, body2[:80]))
    assets = [a for a in page.split('"') if a.startswith("/assets/")]
    check("the page names its script and style", len(assets) == 2, assets)
    for a in assets:
        st, hd, body = s.get(a)
        want = "text/javascript; charset=utf-8" if a.endswith(".js") else "text/css; charset=utf-8"
        check(f"{a}: 200 {want}, cached for good", st == 200 and hd.get("Content-Type") == want and
              "immutable" in hd.get("Cache-Control", "") and len(body) > 100, (st, hd))
    js = [a for a in assets if a.endswith(".js")]
    if js:
        _, _, body = s.get(js[0])
        check("no CDN: the script names no http(s) origin to load from",
              "cdn." not in body and "unpkg" not in body and "jsdelivr" not in body)
    for bad in ["/assets/nope.js", "/index.html", "/assets/", "/assets/../../etc/passwd", "/%2e%2e/etc/passwd",
                "/assets/..%2f..%2fMakefile", "//etc/passwd"]:
        st, hd, body = s.request("GET", bad)
        check(f"GET {bad}: 404 JSON error", st == 404 and isinstance(body, dict) and "error" in body, (st, body))
    st, hd, body = s.request("HEAD", "/")
    check("HEAD /: 200 without a body", st == 200 and body == "", (st, body[:80]))
    st, _, _ = s.request("POST", "/", body={})
    check("POST /: 404", st == 404, st)
    return page


def test_key():
    """With --api-key the page loads without the key; the API still needs it."""
    s = Server("-m", STORIES, "--api-key", "k3y")
    try:
        st, _, page = s.get("/")
        check("--api-key: / loads without the key", st == 200 and "temper explorer" in page, st)
        st, _, _ = s.get("/temper/info")
        check("--api-key: /temper/info still needs it", st == 401, st)
    finally:
        s.stop()


def browser_ready():
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (Debian's chromium: scripts/setup.sh)"
    if not os.path.isdir(os.path.join(NPM, "node_modules", "playwright-core")):
        return "tests/npm has no node_modules/playwright-core (scripts/setup.sh runs npm ci there)"
    return None


def drive(s, label):
    """Run the browser script on the server; its JSON (None on failure)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    r = subprocess.run(["node", os.path.join(NPM, "explorer.js"), "http://127.0.0.1:%d/" % s.port, ARTIFACTS, label],
                       capture_output=True, text=True, timeout=300, cwd=NPM)
    check(f"{label}: the browser script ran", r.returncode == 0, r.stderr[-3000:])
    if r.returncode != 0:
        return None
    out = json.loads(r.stdout)
    check(f"{label}: no console or page error", out["errors"] == [], out["errors"])
    check(f"{label}: no request to another origin", out["external"] == [], out["external"])
    return out


def check_tokens(label, s, model, got):
    if not got:
        check(f"{label} tokens: the view ran", False)
        return
    _, _, api = s.post("/temper/tokenize", {"text": got["text"]})
    cli = cli_json(model, "tokenize", got["text"])
    check(f"{label} tokens: chip ids == /temper/tokenize == temper tokenize", got["ids"] == api["ids"] == cli["ids"],
          (got["ids"], api["ids"], cli["ids"]))
    offs = [r["cells"][4] for r in got["table"]]
    check(f"{label} tokens: offsets == the API's", offs == ["%d–%d" % (a, b) for a, b in api["offsets"]], offs)
    raw = got["text"].encode()
    want_chips = [api["token_texts"][i] if a == b else raw[a:b].decode("utf-8", "replace")
                  for i, (a, b) in enumerate(api["offsets"])]
    vis = [w.replace(" ", "·").replace("\n", "↵") for w in want_chips]
    check(f"{label} tokens: chips show the text's bytes, spaces and newlines visible", got["chip_texts"] == vis,
          (got["chip_texts"], vis))
    n = len(api["ids"])
    words = len(got["text"].split())
    check(f"{label} tokens: count, tokens per word, characters per token",
          got["n_tokens"] == str(n) and float(got["tokens_per_word"]) == n / words and
          float(got["chars_per_token"]) == len(got["text"]) / n, got)


FLAGS = {"temperature": "--temp", "top_k": "--top-k", "top_p": "--top-p", "min_p": "--min-p",
         "typical_p": "--typical-p", "repetition_penalty": "--repeat-penalty"}


def softmax(x, keep=None):
    x = np.asarray(x, dtype=np.float64)
    keep = np.isfinite(x) if keep is None else keep & np.isfinite(x)
    e = np.where(keep, np.exp(np.where(keep, x, 0) - x[keep].max()), 0.0)
    return e / e.sum()


def ref_next(logits, prompt_ids, c):
    """transformers' processors and warpers on the full logits row, written
    from their documented semantics: (processed probabilities, {id: stage})."""
    x = np.asarray(logits, dtype=np.float64)
    rp = c.get("repetition_penalty", 1)
    if rp != 1:
        for t in set(prompt_ids):
            x[t] = x[t] * rp if x[t] < 0 else x[t] / rp
    t = c.get("temperature", 1)
    if t == 0:  # greedy: the argmax after the processors
        g = int(np.argmax(x))
        return np.eye(len(x))[g], {i: "greedy (T = 0)" for i in range(len(x)) if i != g}
    x = x / t
    keep = np.ones(len(x), bool)
    stage = {}
    k = c.get("top_k", 0)
    if 0 < k < len(x):
        kth = np.sort(x)[::-1][k - 1]
        for i in np.nonzero(keep & (x < kth))[0]:
            stage[int(i)] = "top_k"
        keep &= x >= kth
    p = c.get("top_p", 1)
    if p < 1:
        pr = softmax(x, keep)
        order = np.argsort(pr, kind="stable")  # ascending
        cum = np.cumsum(pr[order])
        drop = cum <= 1 - p
        drop[-1] = False
        for i in order[drop]:
            if keep[i]:
                stage[int(i)] = "top_p"
        keep[order[drop]] = False
    mp = c.get("min_p", 0)
    if mp > 0:
        pr = softmax(x, keep)
        d = keep & (pr < mp * pr.max())
        for i in np.nonzero(d)[0]:
            stage[int(i)] = "min_p"
        keep &= ~d
    return softmax(x, keep), stage


def check_next(label, s, model, got):
    if not got:
        check(f"{label} next: the view ran", False)
        return
    prompt = got["prompt"]
    _, _, full = s.post("/temper/probs", {"prompt": prompt, "top": 1 << 20})
    V = full["n_vocab"]
    logits = np.zeros(V, dtype=np.float32)  # the model's float32 (printed in shortest form)
    for c in full["candidates"]:
        logits[c["id"]] = c["logit"]
    logits = logits.astype(np.float64)
    raw = softmax(logits)
    worst = 0.0
    for case in got["cases"]:
        c, rows = case["controls"], case["rows"]
        name = f"{label} next {json.dumps(c)}"
        ids = [r["id"] for r in rows]
        asked = {k: v for k, v in c.items() if c.get("temperature") != 0 or k == "repetition_penalty"}
        _, _, api = s.post("/temper/probs", {"prompt": prompt, "top": len(rows), **asked})
        check(f"{name}: tokens, logits, probabilities == /temper/probs",
              ids == [x["id"] for x in api["candidates"]] and
              all(r["logit"] == x["logit"] and r["prob"] == x["prob"] for r, x in zip(rows, api["candidates"])),
              (rows[:3], api["candidates"][:3]))
        if c.get("temperature") != 0:
            want = [(None if x.get("logprob_processed", 0) is None else x.get("prob_processed", x["prob"]))
                    for x in api["candidates"]]
            check(f"{name}: after the controls == /temper/probs", [r["processed"] for r in rows] == want,
                  ([r["processed"] for r in rows], want))
        args = ["probs", prompt, "--top", str(len(rows))]
        for k, v in asked.items():
            args += [FLAGS[k], str(v)]
        cli = cli_json(model, *args)
        cli_removed = [x["id"] for x in cli["candidates"] if x.get("logprob_processed", 0) is None]
        page_removed = [r["id"] for r in rows if r["processed"] is None]
        if c.get("temperature") != 0:
            check(f"{name}: removed tokens == temper probs's", page_removed == cli_removed, (page_removed, cli_removed))
        want_p, want_stage = ref_next(logits, full["prompt_ids"], c)
        check(f"{name}: raw probabilities == numpy softmax(logits)",
              all(abs(r["prob"] - raw[r["id"]]) <= 1e-9 for r in rows))
        err = max(abs((r["processed"] or 0.0) - want_p[r["id"]]) for r in rows)
        worst = max(worst, err)
        check(f"{name}: bars after the controls == numpy (|d| <= 2e-6)", err <= 2e-6, err)
        check(f"{name}: removed tokens and their stage == numpy (transformers' semantics)",
              {r["id"]: r["stage"] for r in rows if r["processed"] is None} ==
              {i: st for i, st in want_stage.items() if i in ids},
              ({r["id"]: r["stage"] for r in rows if r["processed"] is None}, {i: want_stage[i] for i in ids if i in want_stage}))
    ms = [case["ms"] for case in got["cases"][1:]]
    print(f"{label} next: page update after a slider move: median {sorted(ms)[len(ms) // 2]:.0f} ms, "
          f"max {max(ms):.0f} ms; largest |page - numpy| {worst:.2g}")
    check(f"{label} next: a slider move updates the bars in < 1 s (median)", sorted(ms)[len(ms) // 2] < 1000, ms)


def check_toy(label, got):
    if not got:
        check(f"{label} toy: the view ran", False)
        return
    for case in got["cases"]:
        c = case["controls"]
        args = ["softmax", "--logits", got["logits"], "--tokens", got["tokens"], "--temps", str(c["temperature"])]
        if c["top_k"]:
            args += ["--top-k", str(c["top_k"])]
        if c["top_p"] != 1:
            args += ["--top-p", str(c["top_p"])]
        r = subprocess.run([TEMPER, *args, "--json"], capture_output=True, text=True, timeout=60)
        cli = json.loads(r.stdout)
        want = [(x["prob"], x["prob_processed"]) for x in cli["rows"]]
        err = max(max(abs(a - x), abs(b - y)) for (a, b), (x, y) in zip(case["rows"], want))
        check(f"{label} toy {json.dumps(c)}: bars == temper softmax (|d| <= 1e-6)",
              len(want) == len(case["rows"]) and err <= 1e-6, (case["rows"], want))


def run_command(line):
    """A `temper generate ...` line the page shows, run with --json."""
    argv = shlex.split(line)
    if argv[:2] != ["temper", "generate"]:
        return None
    r = subprocess.run([TEMPER, *argv[1:], "--json"], capture_output=True, text=True, timeout=120)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr}


def check_generate(label, s, model, got):
    if not got:
        check(f"{label} generate: the view ran", False)
        return
    for i, run in enumerate(got["runs"]):
        name = f"{label} generate run {i} ({json.dumps(run['body'])})"
        _, _, api = s.post("/temper/generate", run["body"])
        seq = api["sequences"][0]
        toks = run["tokens"]
        check(f"{name}: tokens == /temper/generate's", [t["id"] for t in toks] == seq["ids"], (toks, seq["ids"]))
        check(f"{name}: each token's raw and processed log p == the API's",
              [(t["lp"], t["lpp"]) for t in toks] == [(x["logprob"], x["logprob_processed"]) for x in seq["logprobs"]])
        cli = run_command(run["command"])
        check(f"{name}: 'copy as command' runs and gives the same tokens",
              cli is not None and "error" not in cli and cli["sequences"][0]["ids"] == seq["ids"], (run["command"], cli))
    b = got.get("branch")
    if b:
        root = got["runs"][0]
        toks = b["tokens"]
        _, _, rootdoc = s.post("/temper/generate", root["body"])
        want_prompt = rootdoc["prompt_ids"] + [t["id"] for t in root["tokens"][:b["at"]]] + [b["alt"]]
        check(f"{label} branch: the request continues from the prompt, the tokens before and the alternative",
              b["body"]["prompt"] == want_prompt, (b["body"]["prompt"], want_prompt))
        check(f"{label} branch: shows the tokens before, then the alternative (marked)",
              [t["id"] for t in toks[:b["at"]]] == [t["id"] for t in root["tokens"][:b["at"]]] and
              toks[b["at"]]["id"] == b["alt"] and toks[b["at"]]["forced"], toks[:b["at"] + 1])
        ids = ",".join(str(x) for x in want_prompt)
        cli = cli_json(model, "generate", "--prompt-ids", ids, "--greedy", "-n", str(b["body"]["max_new_tokens"]))
        check(f"{label} branch: the continuation == temper generate --prompt-ids (greedy)",
              [t["id"] for t in toks[b["at"] + 1:]] == cli["sequences"][0]["ids"],
              ([t["id"] for t in toks[b["at"] + 1:]], cli["sequences"][0]["ids"]))
        check(f"{label} branch: the history tree holds it under its parent", b["tree"] == 1, b["tree"])
    side = got.get("side")
    if side:
        for name, body, ids in zip(["greedy", "sampling", "beam"], side["bodies"], side["ids"]):
            _, _, api = s.post("/temper/generate", body)
            check(f"{label} side by side {name}: tokens == the API's", ids == api["sequences"][0]["ids"], (ids, api))


def ref_figures(seqs):
    """The experiment's figures, from their definitions (docs/explorer.md)."""
    lps = [t["logprob"] for q in seqs for t in q["logprobs"]]
    unis = [i for q in seqs for i in q["ids"]]
    bis = [tuple(q["ids"][k - 1:k + 1]) for q in seqs for k in range(1, len(q["ids"]))]
    reps = []
    for q in seqs:
        tri = [tuple(q["ids"][k - 2:k + 1]) for k in range(2, len(q["ids"]))]
        reps.append(sum(1 for k, t in enumerate(tri) if t in tri[:k]) / len(tri) if tri else 0.0)
    return {"mean_logprob": sum(lps) / len(lps) if lps else 0.0,
            "distinct_1": len(set(unis)) / len(unis) if unis else 0.0,
            "distinct_2": len(set(bis)) / len(bis) if bis else 0.0,
            "repeated_3grams": sum(reps) / len(reps) if reps else 0.0,
            "distinct_outputs": len(set(q["text"] for q in seqs))}


def same_figures(a, b):
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= 1e-9 * max(1, abs(b[k])) for k in a)


def check_experiment(label, s, model, got):
    if not got:
        check(f"{label} experiment: the view ran", False)
        return
    body = got["body"]
    _, _, api = s.post("/temper/generate", body)
    want = [ref_figures(r["sequences"]) for r in api["temperatures"]]
    check(f"{label} temperature grid: figures per temperature == those of the API's samples",
          len(want) == len(got["figures"]) and all(same_figures(a, b) for a, b in zip(got["figures"], want)),
          (got["figures"], want))
    cli = cli_json(model, "generate", "--temps", ",".join(str(t) for t in body["temperatures"]), "--num-return-sequences",
                   str(body["num_return_sequences"]), "-s", str(body["seed"]), "-n", str(body["max_new_tokens"]), body["prompt"])
    check(f"{label} temperature grid: the samples == temper generate --temps's",
          [[q["ids"] for q in r["sequences"]] for r in api["temperatures"]] ==
          [[q["ids"] for q in r["sequences"]] for r in cli["temperatures"]])
    ok = len(got["settings"]) == len(got["settings_figures"])
    for b, f in zip(got["settings"], got["settings_figures"]):
        _, _, d = s.post("/temper/generate", b)
        ok = ok and same_figures(f, ref_figures(d["sequences"]))
    check(f"{label} top-k vs top-p, repetition penalties: figures == those of the API's samples", ok,
          got["settings_figures"])


def check_settings(label, s, got):
    if not got:
        check(f"{label} settings: the view ran", False)
        return
    _, _, info = s.get("/temper/info")
    shown = dict(got["info"])
    check(f"{label} settings: the model's shapes == /temper/info",
          all(shown.get(k) == str(info[k]) for k in ["arch", "n_layer", "n_head", "n_embd", "n_vocab", "n_ctx", "dtype"]),
          (shown, info))
    _, _, d = s.post("/temper/generate", {"prompt": "a", "max_new_tokens": 1})
    src = set(filter(None, d["settings"]["from_generation_config"].split(",")))
    check(f"{label} settings: where each default comes from == the document's from_generation_config",
          got["gen"] and all((f == "generation_config.json") == (k in src) for k, f in got["gen"]), (got["gen"], src))
    tok = [r for r in got["requests"] if r["path"] == "/temper/tokenize"]
    check(f"{label} settings: every request is listed with its curl line", len(got["requests"]) >= 10 and tok,
          len(got["requests"]))
    if tok:
        line = tok[0]["curl"]
        r = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=60)
        body = json.loads(shlex.split(line)[-1])
        _, _, want = s.post("/temper/tokenize", body)
        check(f"{label} settings: a listed curl line runs and answers as the API", r.returncode == 0 and
              json.loads(r.stdout) == want, (line, r.stdout[:300]))


def check_keyboard(label, got):
    if not got:
        check(f"{label} keyboard: ran", False)
        return
    check(f"{label} keyboard: Alt+2 shows the second view, d switches the theme",
          got["view_after_alt2"] == "true" and got["theme"][0] != got["theme"][1] and "dark" in got["theme"], got)
    check(f"{label} keyboard: Enter on a focused token opens its alternatives, Enter on one continues from it",
          got["focused_alt"] and isinstance(got["prompt"], list) and got["prompt"][-1] == got["alt"], got)


def check_toy_random(label, s, got):
    """The playground's softmax, top-k and top-p on 60 random rows == the
    engine's (/temper/softmax), within 1e-6."""
    if not got:
        check(f"{label} toy random rows: ran", False)
        return
    bad = []
    for case in got:
        c = case["c"]
        body = {"logits": case["logits"], "temperature": c["temperature"]}
        if c["top_k"]:
            body["top_k"] = c["top_k"]
        if c["top_p"] != 1:
            body["top_p"] = c["top_p"]
        st, _, d = s.post("/temper/softmax", body)
        if st != 200:
            bad.append((body, d))
            continue
        want = [(r["prob"], r["prob_processed"]) for r in d["rows"]]
        got_ = list(zip(case["prob"], case["processed"]))
        if len(want) != len(got_) or any(abs(a - x) > 1e-6 or abs(b - y) > 1e-6 for (a, b), (x, y) in zip(got_, want)):
            bad.append((body, got_, want))
    check(f"{label} toy: the page's softmax/top-k/top-p == /temper/softmax on 60 random rows (ties, -inf, T = 0)",
          not bad, bad[:3])


def run_model(label, model, args):
    s = Server("-m", model, *args)
    try:
        if label == "stories260K":
            page = test_files(s)
            if page is None:
                return
        if harness.BUILD_NAME == "build-san":
            return
        why = browser_ready()
        if why:
            if ON_CI:
                check("the browser tests can run on CI", False, why)
            else:
                harness.skip(f"{label}: the explorer in Chromium", why)
            return
        out = drive(s, label)
        if out is None:
            return
        check_tokens(label, s, model, out.get("tokens"))
        check_next(label, s, model, out.get("next"))
        if label == "stories260K":
            check_toy(label, out.get("toy"))
            check_toy_random(label, s, out.get("toy_random"))
        check_generate(label, s, model, out.get("generate"))
        check_experiment(label, s, model, out.get("experiment"))
        check_settings(label, s, out.get("settings"))
        check_keyboard(label, out.get("keyboard"))
    finally:
        s.stop()


def main():
    if not os.path.exists(TEMPER):
        return harness.missing(f"{TEMPER} is missing: run make")
    run_model("stories260K", STORIES, [])
    harness.model_folder(GPT2, ["--arch", "gpt2", "--n-layer", "2", "--n-head", "4", "--n-embd", "64",
                                "--n-ctx", "128", "--dtype", "f32", "--seed", "0"])
    run_model("gpt2-random", GPT2, [])
    test_key()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
