#!/usr/bin/python3
# san: yes
"""test_hub.py - `temper pull`, `list`, `rm` and the download on first use,
against a local fake Hub (tests/hub/fake_hub.py) on 127.0.0.1.

Every check is against values computed here independently: the sha256 and
git blob sha1 of the served files (hashlib), the cache layout huggingface_hub
writes (models--ORG--NAME/blobs/<etag>, snapshots/<commit>/<file> as
relative symlinks, refs/<branch> holding the commit without a newline),
and the server's log of requests (to see that a resumed download asked for
a Range starting where the partial file ended, that nothing touched the
network offline, that a cached file is not fetched again).

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_hub.py
"""
import hashlib
import json
import os
import pty
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, ROOT, TEMPER, check  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
from fake_hub import FakeHub, Repo, git_blob_sha1  # noqa: E402


# ---------------------------------------------------------------------------
# The served model: a tiny random GPT-2 that temper can load
# ---------------------------------------------------------------------------

os.makedirs(BUILD, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="test-hub-", dir=BUILD)  # removed at the end
MODEL_DIR = harness.model_folder(os.path.join(TMP, "model"), ["--preset", "tiny", "--dtype", "f32"])


def read(path):
    with open(path, "rb") as f:
        return f.read()


MODEL = {n: read(os.path.join(MODEL_DIR, n)) for n in os.listdir(MODEL_DIR)
         if n != "make_model.json"}
NEEDED = sorted(MODEL)  # config, generation config, tokenizer files, model.safetensors
EXTRA = {"README.md": b"# tiny\n", "flax_model.msgpack": b"\0" * 4096,
         "pytorch_model.bin": b"PK\3\4 not needed when safetensors exist",
         "onnx/model.onnx": b"onnx"}
LFS = ["model.safetensors", "pytorch_model.bin", "flax_model.msgpack"]

hub = FakeHub().start()
hub.repos["tiny-org/tiny-gpt2"] = Repo({**MODEL, **EXTRA}, lfs=LFS)
hub.repos["tiny-org/tiny-gpt2"].add_snapshot({**MODEL, "config.json": MODEL["config.json"] + b"\n"},
                                              ref="v1")
hub.repos["tinygpt"] = Repo(dict(MODEL), lfs=LFS)            # an id without an org
hub.repos["gpt2"] = Repo(dict(MODEL), lfs=LFS)               # the default model once cached
hub.renamed["old-org/tiny"] = "tiny-org/tiny-gpt2"            # a renamed repo
hub.repos["gated/tiny"] = Repo(dict(MODEL), lfs=LFS, gated_token="hf_good")
hub.repos["tiny-org/no-weights"] = Repo({"config.json": MODEL["config.json"],
                                         "model.gguf": b"GGUF"})

# sharded safetensors: the index and two shards (the shards are made-up
# bytes: only the download is tested here, not the loading)
shards = {"model-00001-of-00002.safetensors": os.urandom(300000),
          "model-00002-of-00002.safetensors": os.urandom(200000)}
index = json.dumps({"metadata": {"total_size": 500000},
                    "weight_map": {"wte.weight": "model-00001-of-00002.safetensors",
                                   "h.0.attn.c_attn.weight": "model-00001-of-00002.safetensors",
                                   "ln_f.weight": "model-00002-of-00002.safetensors"}}).encode()
hub.repos["tiny-org/sharded"] = Repo({"config.json": MODEL["config.json"],
                                      "model.safetensors.index.json": index, **shards},
                                     lfs=list(shards))
# only pytorch_model.bin (sharded too: index + one shard)
bin_index = json.dumps({"weight_map": {"a": "pytorch_model-00001-of-00001.bin"}}).encode()
hub.repos["tiny-org/torch"] = Repo({"config.json": MODEL["config.json"], "vocab.json": b"{}",
                                    "pytorch_model.bin.index.json": bin_index,
                                    "pytorch_model-00001-of-00001.bin": os.urandom(100000)},
                                   lfs=["pytorch_model-00001-of-00001.bin"])


def env_for(home, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HF_") and k not in ("HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME",
                                                      "TRANSFORMERS_OFFLINE", "HUGGING_FACE_HUB_TOKEN")}
    env.update(HF_HOME=home, HF_ENDPOINT=hub.url, TEMPER_HUB_BACKOFF="0.02", TEMPER_HUB_RETRIES="3",
               HOME=os.path.join(TMP, "nohome"), TERM="dumb")
    env.update(extra)
    return env


def temper(args, home, preexec=None, **extra):
    t0 = time.time()
    try:
        return _temper(args, home, preexec, **extra)
    finally:
        if os.environ.get("HUB_TIMES"):
            print("%.2fs %s" % (time.time() - t0, args))


def _temper(args, home, preexec=None, **extra):
    r = subprocess.run([TEMPER] + args, env=env_for(home, **extra), capture_output=True, text=True,
                       timeout=120, preexec_fn=preexec)
    check("no sanitizer report: %s" % " ".join(args), not any(
        w in r.stderr for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), r.stderr)
    return r


def fresh_home(name):
    home = os.path.join(TMP, name)
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    return home


def human(n):
    """Sizes as the Hub shows them: decimal units, one decimal."""
    units = ["B", "kB", "MB", "GB"]
    u = 0
    while n >= 1000 and u < 3:
        n /= 1000
        u += 1
    return "%.1f %s" % (n, units[u]) if u else "%d B" % n


def size_line(repo_id):
    """The line a download starts with: how many files and bytes in all."""
    total = sum(len(MODEL[n]) for n in NEEDED)
    return "%s: %d files, %s in all" % (repo_id, len(NEEDED), human(total))


def repo_dir(home, repo_id):
    return os.path.join(home, "hub", "models--" + repo_id.replace("/", "--"))


def etag_of(repo, name, commit=None):
    data = repo.snapshots[commit or repo.commit][name]
    return hashlib.sha256(data).hexdigest() if name in repo.lfs else git_blob_sha1(data)


def check_layout(tag, home, repo_id, repo, names, commit=None, ref="main"):
    """The cache as huggingface_hub lays it out, file by file."""
    commit = commit or repo.commit
    d = repo_dir(home, repo_id)
    snap = os.path.join(d, "snapshots", commit)
    if ref:
        ref_path = os.path.join(d, "refs", ref)
        check(tag + ": refs/" + ref, os.path.isfile(ref_path) and read(ref_path) == commit.encode(),
              read(ref_path) if os.path.isfile(ref_path) else "missing")
    got = sorted(os.listdir(snap)) if os.path.isdir(snap) else []
    check(tag + ": snapshot files", got == sorted(names), got)
    for n in names:
        link = os.path.join(snap, n)
        etag = etag_of(repo, n, commit)
        ok = os.path.islink(link) and os.readlink(link) == "../../blobs/" + etag
        check(tag + ": %s is a relative symlink to its blob" % n, ok,
              os.readlink(link) if os.path.islink(link) else "not a symlink")
        blob = os.path.join(d, "blobs", etag)
        check(tag + ": blob of %s has the content" % n,
              os.path.isfile(blob) and read(blob) == repo.snapshots[commit][n])
    blobs = os.listdir(os.path.join(d, "blobs")) if os.path.isdir(os.path.join(d, "blobs")) else []
    check(tag + ": no .incomplete left", not [b for b in blobs if b.endswith(".incomplete")], blobs)
    return snap


def main():
    if not os.access(TEMPER, os.X_OK):
        check("temper binary exists", False, TEMPER)
        return
    tiny = hub.repos["tiny-org/tiny-gpt2"]

    # --- 1. a pull into an empty cache --------------------------------------
    home = fresh_home("h1")
    r = temper(["pull", "tiny-org/tiny-gpt2"], home)
    check("pull: exit 0", r.returncode == 0, r.stderr)
    snap = check_layout("pull", home, "tiny-org/tiny-gpt2", tiny, NEEDED)
    check("pull: prints the snapshot folder", r.stdout.strip() == snap, r.stdout)
    check("pull: not a byte of the files temper does not need",
          not [q for q in hub.requests("GET") if any(x in q[1] for x in
               ("README", "flax", "pytorch_model", "onnx"))], hub.requests("GET"))
    lines = r.stderr.splitlines()
    check("pull: the total size is said before any file", len(lines) > 1 and
          lines[1] == size_line("tiny-org/tiny-gpt2"), "%r, expected %r" % (lines[:3], size_line("tiny-org/tiny-gpt2")))
    check("pull: plain progress lines when stderr is not a terminal", "\r" not in r.stderr
          and "model.safetensors" in r.stderr, r.stderr)
    # the API was asked for the revision, the files by commit
    check("pull: one revision lookup", len(hub.requests("GET", "/api/models/tiny-org/tiny-gpt2/revision/main")) == 1)
    check("pull: files resolved at the commit",
          len(hub.requests("HEAD", "/resolve/%s/" % tiny.commit)) == len(NEEDED), hub.requests("HEAD"))

    # --- 2. pulling again downloads nothing --------------------------------
    n_get = len(hub.requests("GET"))
    r = temper(["pull", "tiny-org/tiny-gpt2"], home)
    gets = hub.requests("GET")[n_get:]
    check("pull again: exit 0", r.returncode == 0, r.stderr)
    check("pull again: only the revision lookup is fetched",
          [q[1] for q in gets] == ["/api/models/tiny-org/tiny-gpt2/revision/main"], gets)
    check("pull again: says the files are cached", "already in the cache" in r.stderr, r.stderr)

    # --- 3. the model loads from the cache by id, offline -------------------
    r = temper(["info", "--json", "-m", "tiny-org/tiny-gpt2"], home, HF_HUB_OFFLINE="1")
    info = None
    try:
        info = json.loads(r.stdout)
    except ValueError:
        pass
    check("info by id, offline: loads the pulled model", r.returncode == 0 and info and
          info.get("path") == snap and info.get("n_layer") == 2, r.stderr or r.stdout)

    # --- 4. download on first use (-m ID with an empty cache) ---------------
    home4 = fresh_home("h4")
    r = temper(["info", "--json", "-m", "tinygpt"], home4)
    check("first use: info downloads and loads", r.returncode == 0, r.stderr)
    check("first use: the size is said first", size_line("tinygpt") in r.stderr.splitlines()[:3], r.stderr)
    check_layout("first use", home4, "tinygpt", hub.repos["tinygpt"], NEEDED)
    # a snapshot holding only config.json (what AutoConfig leaves) is completed
    home4b = fresh_home("h4b")
    d4b = repo_dir(home4b, "tinygpt")
    os.makedirs(os.path.join(d4b, "refs"))
    os.makedirs(os.path.join(d4b, "blobs"))
    os.makedirs(os.path.join(d4b, "snapshots", hub.repos["tinygpt"].commit))
    with open(os.path.join(d4b, "refs", "main"), "w") as f:
        f.write(hub.repos["tinygpt"].commit)
    etag = git_blob_sha1(MODEL["config.json"])
    with open(os.path.join(d4b, "blobs", etag), "wb") as f:
        f.write(MODEL["config.json"])
    os.symlink("../../blobs/" + etag, os.path.join(d4b, "snapshots", hub.repos["tinygpt"].commit,
                                                   "config.json"))
    n_log = len(hub.log)
    r = temper(["info", "-m", "tinygpt"], home4b)
    check("config-only snapshot: completed and loaded", r.returncode == 0, r.stderr)
    check_layout("config-only snapshot", home4b, "tinygpt", hub.repos["tinygpt"], NEEDED)
    check("config-only snapshot: config.json not fetched again",
          not [q for q in hub.log[n_log:] if q[0] == "GET" and q[1].endswith("/config.json")])
    # offline, a missing model is an error naming the cache and the fix; no request
    n_log = len(hub.log)
    r = temper(["info", "-m", "tiny-org/tiny-gpt2"], home4, HF_HUB_OFFLINE="1")
    check("offline miss: exit 1", r.returncode == 1, r.stderr)
    check("offline miss: message says where and what to do",
          repo_dir(home4, "tiny-org/tiny-gpt2") in r.stderr and "temper pull tiny-org/tiny-gpt2" in r.stderr,
          r.stderr)
    r = temper(["pull", "tiny-org/tiny-gpt2"], home4, HF_HUB_OFFLINE="1")
    check("offline pull: refused", r.returncode != 0 and "HF_HUB_OFFLINE" in r.stderr, r.stderr)
    check("offline: no request reached the server", len(hub.log) == n_log, hub.log[n_log:])
    for cmd in (["info"], ["generate", "-n", "1", "--prompt-ids", "1"], ["probs", "--prompt-ids", "1"],
                ["tokenize", "x"], ["score", "x"], ["trace", "--prompt-ids", "1"]):
        r = temper(cmd + ["-m", "tiny-org/tiny-gpt2", "--offline"], home4)
        check("--offline %s: an error naming the fix" % cmd[0], r.returncode == 1 and
              "temper pull tiny-org/tiny-gpt2" in r.stderr, r.stderr)
    check("--offline: no request reached the server", len(hub.log) == n_log, hub.log[n_log:])

    # --- 4c. the model without -m: gpt2 once cached, else the bundled one, and
    # never a download that was not asked for by name
    home4c = fresh_home("h4c")
    n_log = len(hub.log)
    r = temper(["generate", "-n", "2", "--prompt-ids", "1,2"], home4c)
    check("no -m, empty cache: the bundled stories260K, nothing downloaded",
          r.returncode == 0 and r.stderr.startswith("temper: model stories260K (bundled") and
          "temper pull gpt2" in r.stderr.splitlines()[0] and len(hub.log) == n_log, r.stderr)
    r = temper(["pull", "gpt2"], home4c)
    check("pull gpt2", r.returncode == 0, r.stderr)
    n_log = len(hub.log)
    r = temper(["generate", "-n", "2", "--prompt-ids", "1,2", "--json"], home4c)
    doc = None
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        pass
    check("no -m, gpt2 in the cache: gpt2 is used, offline", r.returncode == 0 and
          r.stderr.startswith("temper: model gpt2 (found in the Hugging Face cache") and
          doc and doc.get("model") == "gpt2" and len(hub.log) == n_log, r.stderr)
    r = temper(["generate", "-n", "2", "--prompt-ids", "1,2", "-q"], home4c, TEMPER_MODEL="stories260K")
    check("no -m, $TEMPER_MODEL wins; -q: silent", r.returncode == 0 and r.stderr == "", r.stderr)

    # --- 5. a connection dropped half-way is resumed with a Range -----------
    home5 = fresh_home("h5")
    hub.faults["model.safetensors"] = "drop"
    n_log = len(hub.log)
    r = temper(["pull", "tiny-org/tiny-gpt2"], home5)
    check("dropped: pull succeeds", r.returncode == 0, r.stderr)
    check_layout("dropped", home5, "tiny-org/tiny-gpt2", tiny, NEEDED)
    cdn = [q for q in hub.log[n_log:] if q[0] == "GET" and q[1].startswith("/cdn/")]
    half = len(MODEL["model.safetensors"]) // 2
    check("dropped: the retry asked for the rest with a Range",
          len(cdn) == 2 and cdn[0][2] is None and cdn[1][2] == "bytes=%d-" % half, cdn)

    # --- 6. a failed pull leaves a partial file the next pull resumes -------
    home6 = fresh_home("h6")
    hub.faults["model.safetensors"] = "drop_then_500"
    r = temper(["pull", "tiny-org/tiny-gpt2"], home6, TEMPER_HUB_RETRIES="1")
    check("interrupted: pull fails", r.returncode == 1, r.stderr)
    check("interrupted: the message names the HTTP error", "HTTP 500" in r.stderr, r.stderr)
    sha = hashlib.sha256(MODEL["model.safetensors"]).hexdigest()
    part = os.path.join(repo_dir(home6, "tiny-org/tiny-gpt2"), "blobs", sha + ".incomplete")
    check("interrupted: blobs/<sha256>.incomplete holds the first half",
          os.path.isfile(part) and os.path.getsize(part) == half,
          os.path.getsize(part) if os.path.isfile(part) else "missing")
    check("interrupted: no ref written", not os.path.exists(
        os.path.join(repo_dir(home6, "tiny-org/tiny-gpt2"), "refs", "main")))
    del hub.faults["model.safetensors"]
    n_log = len(hub.log)
    r = temper(["pull", "tiny-org/tiny-gpt2"], home6)
    check("resumed: pull succeeds", r.returncode == 0, r.stderr)
    check("resumed: says so", "resuming" in r.stderr, r.stderr)
    cdn = [q for q in hub.log[n_log:] if q[0] == "GET" and q[1].startswith("/cdn/")]
    check("resumed: one request, from where the partial file ended",
          len(cdn) == 1 and cdn[0][2] == "bytes=%d-" % half, cdn)
    check_layout("resumed", home6, "tiny-org/tiny-gpt2", tiny, NEEDED)

    # --- 7. a server that ignores the Range: the file starts again ----------
    os.makedirs(os.path.dirname(part), exist_ok=True)
    home7 = fresh_home("h7")
    part7 = os.path.join(repo_dir(home7, "tiny-org/tiny-gpt2"), "blobs", sha + ".incomplete")
    os.makedirs(os.path.dirname(part7))
    with open(part7, "wb") as f:
        f.write(MODEL["model.safetensors"][:1000])
    hub.faults["model.safetensors"] = "ignore_range"
    r = temper(["pull", "tiny-org/tiny-gpt2"], home7)
    del hub.faults["model.safetensors"]
    check("range ignored: pull succeeds", r.returncode == 0, r.stderr)
    check_layout("range ignored", home7, "tiny-org/tiny-gpt2", tiny, NEEDED)

    # --- 8. checksum failure --------------------------------------------------
    home8 = fresh_home("h8")
    hub.faults["model.safetensors"] = "corrupt"
    r = temper(["pull", "tiny-org/tiny-gpt2"], home8)
    del hub.faults["model.safetensors"]
    check("corrupt: pull fails", r.returncode == 1, r.stderr)
    check("corrupt: checksum mismatch named", "checksum mismatch" in r.stderr and sha in r.stderr, r.stderr)
    d8 = repo_dir(home8, "tiny-org/tiny-gpt2")
    blobs = os.listdir(os.path.join(d8, "blobs"))
    check("corrupt: neither blob nor partial file kept", sha not in blobs and sha + ".incomplete" not in blobs,
          blobs)
    check("corrupt: no symlink to it, no ref",
          not os.path.lexists(os.path.join(d8, "snapshots", tiny.commit, "model.safetensors"))
          and not os.path.exists(os.path.join(d8, "refs", "main")))

    # --- 8b. a regular (non-LFS) file is checked against its git blob id ------
    home8b = fresh_home("h8b")
    hub.faults["config.json"] = "corrupt"
    r = temper(["pull", "tiny-org/tiny-gpt2"], home8b)
    del hub.faults["config.json"]
    blob_id = git_blob_sha1(MODEL["config.json"])
    check("corrupt regular file: pull fails", r.returncode == 1, r.stderr)
    check("corrupt regular file: git blob id named",
          "checksum mismatch" in r.stderr and "git blob id" in r.stderr and blob_id in r.stderr, r.stderr)
    blobs = os.listdir(os.path.join(repo_dir(home8b, "tiny-org/tiny-gpt2"), "blobs"))
    check("corrupt regular file: not kept", blob_id not in blobs and blob_id + ".incomplete" not in blobs,
          blobs)

    # --- 9. errors: unknown repo, revision, gated, no network -----------------
    home9 = fresh_home("h9")
    r = temper(["pull", "nobody/nothing"], home9)
    check("401 unknown repo: exit 1 with the fix", r.returncode == 1 and "not found" in r.stderr
          and "HF_TOKEN" in r.stderr, r.stderr)
    r = temper(["pull", "tiny-org/tiny-gpt2@nobranch"], home9)
    check("404 revision: named", r.returncode == 1 and 'no revision "nobranch"' in r.stderr, r.stderr)
    r = temper(["pull", "gated/tiny"], home9)
    check("gated without token: says gated + HF_TOKEN", r.returncode == 1 and "gated" in r.stderr
          and "HF_TOKEN" in r.stderr, r.stderr)
    r = temper(["pull", "gated/tiny"], home9, HF_TOKEN="hf_bad")
    check("gated, wrong token (403): says gated", r.returncode == 1 and "gated" in r.stderr
          and "403" in r.stderr, r.stderr)
    n_log = len(hub.log)
    r = temper(["pull", "gated/tiny"], home9, HF_TOKEN="hf_good")
    check("gated with HF_TOKEN: pulled", r.returncode == 0, r.stderr)
    check("gated: the token was sent as a Bearer header",
          all(q[3] == "Bearer hf_good" for q in hub.log[n_log:] if not q[1].startswith("/cdn/")))
    # the token file written by `huggingface-cli login` is used too
    with open(os.path.join(home9, "token"), "w") as f:
        f.write("hf_good\n")
    shutil.rmtree(repo_dir(home9, "gated/tiny"))
    r = temper(["pull", "gated/tiny"], home9)
    check("gated with $HF_HOME/token: pulled", r.returncode == 0, r.stderr)
    r = temper(["pull", "tiny-org/no-weights"], home9)
    check("no weights temper reads: said", r.returncode == 1 and "no weights" in r.stderr, r.stderr)
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    closed = "http://127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    r = temper(["pull", "tiny-org/tiny-gpt2"], home9, HF_ENDPOINT=closed, TEMPER_HUB_RETRIES="1")
    check("no server: exit 1, says it cannot connect", r.returncode == 1 and closed in r.stderr
          and "retrying" in r.stderr, r.stderr)

    # --- 10. revisions, renamed repo, shards, pytorch fallback -----------------
    home10 = fresh_home("h10")
    commit_v1 = tiny.refs["v1"]
    r = temper(["pull", "tiny-org/tiny-gpt2@v1"], home10)
    check("@v1: pulled", r.returncode == 0, r.stderr)
    check_layout("@v1", home10, "tiny-org/tiny-gpt2", tiny, NEEDED, commit=commit_v1, ref="v1")
    r = temper(["pull", "tiny-org/tiny-gpt2@" + tiny.commit], home10)
    check("@commit: pulled", r.returncode == 0, r.stderr)
    check_layout("@commit", home10, "tiny-org/tiny-gpt2", tiny, NEEDED, ref=None)
    check("@commit: writes no ref", sorted(os.listdir(os.path.join(repo_dir(home10, "tiny-org/tiny-gpt2"),
                                                                   "refs"))) == ["v1"])
    check("@v1 and @commit share the unchanged blobs",
          len(os.listdir(os.path.join(repo_dir(home10, "tiny-org/tiny-gpt2"), "blobs"))) == len(NEEDED) + 1)
    r = temper(["pull", "old-org/tiny"], home10)
    check("renamed repo (relative redirect): pulled", r.returncode == 0, r.stderr)
    check_layout("renamed", home10, "old-org/tiny", tiny, NEEDED)
    r = temper(["pull", "tiny-org/sharded"], home10)
    check("sharded: pulled", r.returncode == 0, r.stderr)
    check_layout("sharded", home10, "tiny-org/sharded", hub.repos["tiny-org/sharded"],
                 ["config.json", "model.safetensors.index.json"] + list(shards))
    r = temper(["pull", "tiny-org/torch"], home10)
    check("pytorch_model.bin index + shard: pulled", r.returncode == 0, r.stderr)
    check_layout("torch", home10, "tiny-org/torch", hub.repos["tiny-org/torch"],
                 ["config.json", "vocab.json", "pytorch_model.bin.index.json",
                  "pytorch_model-00001-of-00001.bin"])

    # --- 11. list and rm ---------------------------------------------------------
    r = temper(["list", "--json"], home10)
    lst = None
    try:
        lst = json.loads(r.stdout)
    except ValueError:
        pass
    check("list --json: parses", r.returncode == 0 and lst is not None, r.stderr or r.stdout)
    if lst:
        rows = {(m["id"], m["commit"]): m for m in lst["models"]}
        check("list: cache folder", lst["cache"] == os.path.join(home10, "hub"), lst["cache"])
        check("list: every snapshot", sorted(rows) == sorted([
            ("tiny-org/tiny-gpt2", commit_v1), ("tiny-org/tiny-gpt2", tiny.commit),
            ("old-org/tiny", tiny.commit), ("tiny-org/sharded", hub.repos["tiny-org/sharded"].commit),
            ("tiny-org/torch", hub.repos["tiny-org/torch"].commit)]), sorted(rows))
        m = rows.get(("tiny-org/tiny-gpt2", commit_v1), {})
        want = sum(len(tiny.snapshots[commit_v1][n]) for n in NEEDED)
        check("list: size, refs, arch, files", m.get("bytes") == want and m.get("refs") == ["v1"]
              and m.get("arch") == "gpt2" and m.get("files") == len(NEEDED) and m.get("complete"), m)
    r = temper(["list"], home10)
    check("list: table", r.returncode == 0 and "tiny-org/sharded" in r.stdout and "gpt2" in r.stdout
          and "5 models" in r.stdout, r.stdout)
    d = repo_dir(home10, "tiny-org/tiny-gpt2")
    r = temper(["rm", "tiny-org/tiny-gpt2@v1"], home10)
    check("rm @v1: exit 0", r.returncode == 0, r.stderr)
    blobs = sorted(os.listdir(os.path.join(d, "blobs")))
    check("rm @v1: its snapshot and ref gone, the shared blobs kept",
          os.listdir(os.path.join(d, "snapshots")) == [tiny.commit] and
          not os.path.exists(os.path.join(d, "refs", "v1")) and
          blobs == sorted(etag_of(tiny, n) for n in NEEDED), blobs)
    check("rm @v1: reports the bytes freed (only the changed config.json)",
          "(%d B freed)" % len(tiny.snapshots[commit_v1]["config.json"]) in r.stdout, r.stdout)
    r = temper(["rm", "tiny-org/sharded"], home10)
    check("rm: exit 0 and the folder gone", r.returncode == 0 and
          not os.path.exists(repo_dir(home10, "tiny-org/sharded")), r.stderr)
    r = temper(["rm", "tiny-org/sharded"], home10)
    check("rm of a missing model: exit 1 with a message", r.returncode == 1 and "not in the cache" in r.stderr,
          r.stderr)

    # --- 12. a write failure (file size limit) is reported, then resumed ----------
    home12 = fresh_home("h12")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))

    r = temper(["pull", "tiny-org/tiny-gpt2"], home12, preexec=limit)
    part12 = os.path.join(repo_dir(home12, "tiny-org/tiny-gpt2"), "blobs", sha + ".incomplete")
    check("write failure: exit 1 naming the file", r.returncode == 1 and ".incomplete" in r.stderr
          and "too large" in r.stderr, r.stderr)
    size12 = os.path.getsize(part12) if os.path.isfile(part12) else -1
    check("write failure: partial file kept", size12 == 4 << 20, size12)
    n_log = len(hub.log)
    r = temper(["pull", "tiny-org/tiny-gpt2"], home12)
    cdn = [q for q in hub.log[n_log:] if q[0] == "GET" and q[1].startswith("/cdn/")]
    check("write failure: the next pull resumes", r.returncode == 0 and len(cdn) == 1
          and cdn[0][2] == "bytes=%d-" % (4 << 20), (r.stderr, cdn))

    # --- 13. on a terminal: one bar redrawn in place, with size, speed and ETA ---
    home13 = fresh_home("h13")
    hub.faults["model.safetensors"] = "slow"
    master, slave = pty.openpty()
    proc = subprocess.Popen([TEMPER, "pull", "tiny-org/tiny-gpt2"], env=env_for(home13, TERM="xterm"),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(master)
    del hub.faults["model.safetensors"]
    text = out.decode("utf-8", "replace")
    check("tty: exit 0", proc.returncode == 0, text)
    check("tty: the bar is redrawn with \\r and ends each file on its own line",
          "\r" in text and "model.safetensors" in text and "verified" in text, text[-2000:])
    bars = [seg for seg in text.split("\r") if seg.startswith("model.safetensors") and "ETA" in seg]
    check("tty: bar lines show size, speed and ETA", len(bars) >= 3 and all(
        "/ 13.3 MB" in b and "B/s" in b and "--:--" not in b for b in bars[1:]),
        bars[:3] if bars else text[-2000:])


try:
    main()
finally:
    hub.stop()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(harness.summary())
