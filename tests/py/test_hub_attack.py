#!/usr/bin/python3
# san: yes
"""test_hub_attack.py - `temper pull` against a hostile Hub (the fake Hub of
tests/hub/fake_hub.py with its attack faults). Each attack must end in a
clear error, within a time bound, with nothing written outside the cache
and nothing half-written in it: no blob and no snapshot link for the
attacked file (a download that stalled may leave its resumable
blobs/<etag>.incomplete, as huggingface_hub does; one that was refused
for its content may not).

  shard names in an index: "../", absolute, ".." inside, a backslash
  a symlink planted in the snapshot folder (a shard "sub/x" must not be
      written through it)
  endless redirects; a 10^15-byte Content-Length; a slow-drip server;
  a wrong ETag; a response bigger than announced
  a first header line that continues nothing (folded), after other requests
      on the same connection handle (a use-after-free inside libcurl 7.88
      that fuzz_hub found: the Hub client now takes a fresh handle per request)

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_hub_attack.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD, ROOT, TEMPER, check  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
from fake_hub import FakeHub, Repo  # noqa: E402

os.makedirs(BUILD, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="test-hub-attack-", dir=BUILD)
MODEL_DIR = harness.model_folder(os.path.join(BUILD, "test-hub-attack-model"),
                                 ["--preset", "tiny", "--dtype", "f32"])
MODEL = {}
for n in os.listdir(MODEL_DIR):
    if n != "make_model.json":
        with open(os.path.join(MODEL_DIR, n), "rb") as f:
            MODEL[n] = f.read()
hub = FakeHub().start()


def pull(repo, home, timeout=120, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=home, HF_ENDPOINT=hub.url, TEMPER_HUB_BACKOFF="0.02", TEMPER_HUB_RETRIES="2",
               HOME=os.path.join(TMP, "nohome"), TERM="dumb")
    env.update(extra)
    t0 = time.time()
    r = subprocess.run([TEMPER, "pull", repo], env=env, capture_output=True, text=True, timeout=timeout)
    check(f"{repo}: no sanitizer report", not any(
        w in r.stderr for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:")), r.stderr)
    return r, time.time() - t0


def fresh(name):
    home = os.path.join(TMP, name)
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    return home


def all_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        out += [os.path.join(d, f) for f in files + dirs]
    return out


def expect_refused(tag, repo, home, needles, bound, name=None, **extra):
    """The pull fails with each of needles in its message within bound
    seconds; no file of `name` (blob or link) exists; nothing outside
    home (the attack folder TMP/outside stays empty)."""
    r, secs = pull(repo, home, **extra)
    check(f"{tag}: fails", r.returncode != 0, r.stdout + r.stderr)
    for n in needles:
        check(f"{tag}: message has {n!r}", n.lower() in r.stderr.lower(), r.stderr.strip())
    check(f"{tag}: within {bound} s", secs < bound, f"{secs:.1f} s")
    cache = os.path.join(home, "hub", "models--" + repo.replace("/", "--"))
    if name:
        links = [p for p in all_files(os.path.join(cache, "snapshots")) if p.endswith("/" + name)]
        check(f"{tag}: no snapshot link for {name}", not links, str(links))
    check(f"{tag}: nothing written outside the cache", os.listdir(OUTSIDE) == [], str(os.listdir(OUTSIDE)))
    return r, cache


OUTSIDE = os.path.join(TMP, "outside")
os.makedirs(OUTSIDE)


def test_shard_names():
    base = {"config.json": MODEL["config.json"]}
    bad = {"dotdot": "../../../../outside/escape.safetensors",
           "absolute": OUTSIDE + "/abs.safetensors",
           "inside": "sub/../../../outside/x.safetensors",
           "backslash": "..\\..\\x.safetensors",
           "empty_part": "sub//x.safetensors",
           "newline": "x\n.safetensors"}
    for tag, shard in bad.items():
        index = json.dumps({"weight_map": {"w": shard}}).encode()
        hub.repos["evil/" + tag] = Repo({**base, "model.safetensors.index.json": index, shard: b"x" * 100})
        expect_refused(f"shard {tag}", "evil/" + tag, fresh("shard-" + tag), ["bad shard name"], 60)


def test_planted_symlink():
    """A symlink in the snapshot folder (left by anything) must not carry
    a shard "sub/x" out of the cache."""
    shard = "sub/x.safetensors"
    index = json.dumps({"weight_map": {"w": shard}}).encode()
    repo = Repo({"config.json": MODEL["config.json"], "model.safetensors.index.json": index,
                 shard: b"y" * 100})
    hub.repos["evil/symlink"] = repo
    home = fresh("symlink")
    snap = os.path.join(home, "hub", "models--evil--symlink", "snapshots", repo.commit)
    os.makedirs(snap)
    os.symlink(OUTSIDE, os.path.join(snap, "sub"))
    expect_refused("planted symlink", "evil/symlink", home, ["not a plain folder"], 60)


def attack(fault, name, needles, bound, **extra):
    repo_id = "evil/" + fault
    hub.repos[repo_id] = Repo(dict(MODEL), lfs=["model.safetensors"])
    hub.faults.clear()
    hub.faults[name] = fault
    try:
        r, cache = expect_refused(fault, repo_id, fresh(fault), needles, bound, name=name, **extra)
    finally:
        hub.faults.clear()
    repo = hub.repos[repo_id]
    return r, cache, repo


def blobs(cache):
    d = os.path.join(cache, "blobs")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_attacks():
    # endless redirects: HEAD (relative Location) and GET are both bounded
    attack("loop", "config.json", ["redirects"], 30)
    # a Content-Length (LFS: X-Linked-Size) of 10^15 bytes: refused before any download
    r, cache, _ = attack("huge", "model.safetensors", ["announces 1000000000000000 bytes"], 30)
    check("huge: no partial file", not [b for b in blobs(cache) if b.endswith(".incomplete")], str(blobs(cache)))
    attack("huge", "config.json", ["announces 1000000000000000 bytes"], 30)
    # a slow drip (1 byte / 50 ms): the stall limit (1 KB/s for TEMPER_HUB_TIMEOUT s) ends it,
    # and the retries do not start again from zero although each brought a few bytes
    attack("drip", "model.safetensors", ["below 1 KB/s"], 40, TEMPER_HUB_TIMEOUT="2")
    # a wrong ETag: the checksum fails and the download is removed
    for name in ("config.json", "model.safetensors"):
        r, cache, repo = attack("wrong_etag", name, ["checksum mismatch"], 30)
        check(f"wrong_etag {name}: nothing half-written", not [b for b in blobs(cache) if b.endswith(".incomplete")],
              str(blobs(cache)))
    # more than announced: cut off, the partial file removed
    for name in ("config.json", "model.safetensors"):
        r, cache, repo = attack("oversize", name, ["more than the", "bytes announced"], 30)
        check(f"oversize {name}: nothing half-written", not [b for b in blobs(cache) if b.endswith(".incomplete")],
              str(blobs(cache)))
    # a folded first header line: a clear error, no crash (the HEAD of config.json comes after
    # the model info request; with a reused easy handle libcurl 7.88 read and freed freed memory)
    attack("folded", "config.json", ["malformed"], 30)
    # the control: the same repo without a fault pulls fine
    hub.repos["evil/none"] = Repo(dict(MODEL), lfs=["model.safetensors"])
    r, _ = pull("evil/none", fresh("none"))
    check("no fault: pulls", r.returncode == 0, r.stderr)


def main():
    if not os.path.exists(TEMPER):
        return harness.missing(f"missing {TEMPER}: run make BUILD={BUILD}")
    try:
        test_shard_names()
        test_planted_symlink()
        test_attacks()
    finally:
        hub.stop()
        shutil.rmtree(TMP, ignore_errors=True)
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
