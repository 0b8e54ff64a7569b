#!/usr/bin/env python3
"""test_hub_progress.py - temper_model_load of a Hub id missing from the
cache downloads it with progress reported to temper_model_params.progress
(tests/tools/load_progress.c, against tests/hub/fake_hub.py): one start and
one done per file, the model loaded; a second
load finds it in the cache (no event); a callback that says stop cancels
the load with TEMPER_ECANCELED; offline, a miss names temper_pull."""
import os
import shutil
import subprocess
import sys
import tempfile

import harness
from harness import check, summary, BUILD

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "hub"))
from fake_hub import FakeHub, Repo  # noqa: E402

TOOL = harness.tool("load_progress")


def run(home, hub, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=home, HF_ENDPOINT=hub.url, TEMPER_HUB_BACKOFF="0.02",
               TEMPER_HUB_RETRIES="2", HOME=os.path.join(home, "nohome"))
    r = subprocess.run([TOOL] + args, capture_output=True, text=True, env=env, timeout=300)
    return r, [line.split(" ") for line in r.stdout.splitlines()]


def main():
    if not os.access(TOOL, os.X_OK):
        return harness.missing(f"{TOOL} not built")
    tmp = tempfile.mkdtemp(prefix="test-hub-progress-", dir=BUILD)
    try:
        model = harness.model_folder(os.path.join(tmp, "model"), ["--preset", "tiny", "--dtype", "f32"])
        files = {n: open(os.path.join(model, n), "rb").read() for n in os.listdir(model)
                 if n != "make_model.json"}
        hub = FakeHub().start()
        hub.repos["tiny-org/tiny"] = Repo(files, lfs=["model.safetensors"])
        home = os.path.join(tmp, "home")
        r, lines = run(home, hub, ["tiny-org/tiny"])
        check("download on first use: loaded", r.returncode == 0 and lines and lines[-1][0] == "loaded",
              r.stdout[-500:] + r.stderr)
        events = [l for l in lines if l[0] in ("start", "progress", "done", "cached")]
        started = sorted(l[1] for l in events if l[0] == "start")
        finished = sorted(l[1] for l in events if l[0] == "done")
        check("one start and one done per file", started == finished == sorted(files),
              (started, finished, sorted(files)))
        check("progress events in between", any(l[0] == "progress" for l in events) or
              len(events) == 2 * len(files), len(events))
        r, lines = run(home, hub, ["tiny-org/tiny"])
        check("second load: from the cache, no event", r.returncode == 0 and len(lines) == 1 and
              lines[0][0] == "loaded", r.stdout)
        home2 = os.path.join(tmp, "home2")
        r, lines = run(home2, hub, ["tiny-org/tiny", "--cancel-after", "2"])
        check("the callback cancels the load", r.returncode == 1 and "TEMPER_ECANCELED" in r.stdout and
              len([l for l in lines if l[0] != "error"]) == 2, r.stdout)
        r, lines = run(os.path.join(tmp, "home3"), hub, ["tiny-org/tiny", "--offline"])
        check("offline miss names temper_pull, not a command",
              r.returncode == 1 and "TEMPER_ENOENT" in r.stdout and "(temper_pull)" in r.stdout and
              "temper pull" not in r.stdout, r.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
