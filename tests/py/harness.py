"""harness.py - what every tests/py/test_*.py script shares: where things
are, the pass/fail counters and the closing "N passed, N failed" line,
sanitizer reports in a child's stderr, and the models that
tests/ref/make_model.py generates (cached under build/models/).

A script does `import harness` (tests/py is on sys.path when it runs) and
`from harness import check`; importing puts tests/ref on sys.path too, so
the references (ref_gpt2, make_model, safetensors_io...) import directly.
"""
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_NAME = os.environ.get("TEMPER_BUILD", "build")  # as given: "build", "build-san"...
BUILD = os.path.join(ROOT, BUILD_NAME)  # the build folder (absolute)
TEMPER = os.path.join(BUILD, "temper")
FIXTURES = os.environ.get("TEMPER_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
MODELS = os.path.join(ROOT, "build", "models")  # generated models, whatever the build
NPM = os.path.join(ROOT, "tests", "npm")
PY = "/usr/bin/python3"

sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))


def import_temper():
    """The Python binding (bindings/python) on this build's libtemper.so. Under a sanitizer build the
    script first runs again with libasan and libubsan preloaded: they must be loaded before the library."""
    if "san" in BUILD_NAME and "libasan" not in os.environ.get("LD_PRELOAD", ""):
        libs = [subprocess.run(["cc", f"-print-file-name={n}"], capture_output=True, text=True).stdout.strip()
                for n in ("libasan.so", "libubsan.so")]
        env = dict(os.environ, LD_PRELOAD=" ".join(libs),
                   ASAN_OPTIONS="detect_leaks=0:" + os.environ.get("ASAN_OPTIONS", ""))
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    os.environ.setdefault("TEMPER_LIB", os.path.join(BUILD, "libtemper.so"))
    import temper
    return temper


def tool(name):
    """Path of a test tool built from tests/tools/NAME.c."""
    return os.path.join(BUILD, "tests", name)


# A cross build (make aarch64: build-aarch64/) runs its tools under qemu-user:
# RUN prefixes their command lines, and the SIMD levels are that CPU's.
CROSS = os.path.basename(BUILD.rstrip("/")) == "build-aarch64"
# The arm64 loader and C library of Debian's multiarch (libc6:arm64) when
# installed, else the cross toolchain's (-L): never a mix (threads hang).
RUN = (["qemu-aarch64"] + ([] if os.path.exists("/lib/ld-linux-aarch64.so.1") else
                           ["-L", "/usr/aarch64-linux-gnu"])) if CROSS else []


# ---------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------

passed = failed = skipped = 0


def check(name, ok, detail=""):
    """Count one check; a failure prints "FAIL name: detail" on stderr."""
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        sys.stdout.flush()  # keep the order of the script's own output
        line = f"FAIL {name}" if isinstance(detail, str) and not detail else f"FAIL {name}: {detail}"
        print(line[:3000], file=sys.stderr, flush=True)
    return ok


def skip(name, why):
    """A check that cannot run here: printed and counted as skipped, never
    as passed (the closing line and tests/run report the count)."""
    global skipped
    skipped += 1
    sys.stdout.flush()
    print(f"SKIP {name}: {why}", file=sys.stderr, flush=True)


def _floats(v):
    """v as a flat list of floats, or None when it is not numbers."""
    try:
        import numpy as np
        a = np.asarray(v, dtype=np.float64).ravel()
        return [float(x) for x in a]
    except (TypeError, ValueError, ImportError):
        try:
            return [float(x) for x in v]
        except (TypeError, ValueError):
            return None


def close(got, want, atol=0.0, rtol=0.0, n=None, lim=None):
    """"" when got matches want value by value (|got - want| <= atol +
    rtol |want|, or <= lim[i] when lim, one limit per value, is given),
    else what is wrong. Fails on NaN anywhere, on an infinity where want
    has not the same infinity, on empty output, on a length mismatch, and
    (n given) on a length other than n."""
    g, w = _floats(got), _floats(want)
    lims = _floats(lim) if lim is not None else None
    if g is None or w is None:
        return "not numbers: got %r, want %r" % (str(got)[:80], str(want)[:80])
    if n is not None and len(w) != n:
        return "reference has %d values, %d expected" % (len(w), n)
    if not w:
        return "nothing to compare (empty reference)"
    if len(g) != len(w):
        return "got %d values, want %d" % (len(g), len(w))
    if lims is not None and len(lims) != len(w):
        return "%d limits for %d values" % (len(lims), len(w))
    bad, worst = 0, None
    for i, (a, b) in enumerate(zip(g, w)):
        if lims is not None:
            lim = lims[i]
        else:
            lim = atol + rtol * abs(b) if math.isfinite(b) else 0.0
        if math.isnan(a) or math.isnan(b):
            e = math.inf
        elif math.isinf(a) or math.isinf(b):
            e = -math.inf if a == b else math.inf
        else:
            e = abs(a - b) - lim
        if not e <= 0:
            bad += 1
            if worst is None or e > worst[0]:
                worst = (e, i, a, b, lim)
    if bad:
        return "%d of %d values out of bounds; worst at %d: got %.9g want %.9g (limit %.3g)" % (
            bad, len(w), worst[1], worst[2], worst[3], worst[4])
    return ""


def check_close(name, got, want, atol=0.0, rtol=0.0, n=None, lim=None):
    """check() of close(): NaN-safe, fails on empty or short output."""
    why = close(got, want, atol, rtol, n, lim)
    return check(name, not why, why)


def same(got, want):
    """"" when the sequences got and want have the same length (> 0) and
    the same items, else the first difference."""
    got, want = list(got), list(want)
    if not want:
        return "nothing to compare (empty reference)"
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return "differ at %d of %d: got %r, want %r" % (i, len(want), a, b)
    if len(got) != len(want):
        return "got %d items, want %d" % (len(got), len(want))
    return ""


def check_same(name, got, want):
    """check() of same(): equal items, equal lengths, not empty."""
    why = same(got, want)
    return check(name, not why, why)


def pairs(name, *seqs):
    """zip(*seqs) after a counted check that the sequences have the same
    length, not zero (an empty or short output fails instead of pairing
    nothing)."""
    seqs = [list(x) for x in seqs]
    lens = [len(x) for x in seqs]
    check(name + ": as many outputs as inputs", lens[0] > 0 and len(set(lens)) == 1,
          "lengths %s" % lens)
    return list(zip(*seqs))


def summary():
    """Print the closing line "N passed, N failed, N skipped"; the exit
    status (1 on failure)."""
    sys.stdout.flush()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def missing(what):
    """Nothing can run: say why, count one failure; the exit status (1)."""
    print(what, file=sys.stderr)
    print("0 passed, 1 failed")
    return 1


# ---------------------------------------------------------------------------
# SIMD levels
# ---------------------------------------------------------------------------

def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo), empty when unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


LEVELS = ("avx512", "avx2", "neon", "portable")  # temper_simd_level()'s names, highest first


def cpu_levels():
    """The SIMD levels this CPU runs, from its flags (independently of
    temper's own detection: a disagreement makes TEMPER_SIMD fail loudly)."""
    if CROSS:  # qemu-aarch64's default CPU has NEON (asimd)
        return ["neon", "portable"]
    f = cpu_flags()
    have = {"portable"}
    if {"avx2", "fma", "f16c"} <= f:
        have.add("avx2")
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= f:
            have.add("avx512")
    if "asimd" in f:
        have.add("neon")
    return [lv for lv in LEVELS if lv in have]


def simd_levels(name):
    """[(level, env)]: one run per SIMD level this CPU runs, highest first,
    portable always, each forced with TEMPER_SIMD. Prints "SIMD level run:
    LEVEL" for each; a level the CPU cannot run is reported with skip()
    ("not run on this CPU", never silently dropped). tests/run's closing
    line names both."""
    have = cpu_levels()
    runs = []
    for lv in LEVELS:
        if CROSS and lv not in have:  # the host's levels run in the native parts
            continue
        if lv not in have:
            skip("SIMD level %s" % lv, "not run on this CPU (%s)" % name)
            continue
        env = dict(os.environ, TEMPER_SIMD=lv)
        env.pop("TEMPER_NO_SIMD", None)
        print("SIMD level run: %s" % lv, flush=True)
        runs.append((lv, env))
    return runs


# ---------------------------------------------------------------------------
# Crashes
# ---------------------------------------------------------------------------

def crash_report(err):
    """The signs of a sanitizer report or a crash found in a child's stderr."""
    return [w for w in ("Sanitizer", "runtime error:", "Segmentation") if w in err]


# ---------------------------------------------------------------------------
# Generated models
# ---------------------------------------------------------------------------

def model_folder(path, args):
    """Make the model of make_model.py ARGS (its command-line arguments) at
    PATH unless the one there was made by the same generator version with
    the same arguments (its make_model.json, written last, says so).
    Written to a temporary folder, then renamed. Returns PATH."""
    import make_model
    rec = make_model.generator_record(make_model.parse_args(["-"] + args))
    try:
        with open(os.path.join(path, "make_model.json")) as f:
            if json.load(f) == rec:
                return path
    except (OSError, ValueError):
        pass
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".%s-" % os.path.basename(path), dir=parent)
    r = subprocess.run([PY, os.path.join(ROOT, "tests", "ref", "make_model.py"), tmp] + args,
                       capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError("make_model failed: " + r.stderr)
    if os.path.exists(path):  # stale version, or made meanwhile by another run
        shutil.rmtree(path, ignore_errors=True)
    try:
        os.rename(tmp, path)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def cached_model(label, args):
    """build/models/LABEL-KEY, KEY a hash of the generator's version and
    ARGS: one folder per distinct model, made once."""
    import make_model
    rec = make_model.generator_record(make_model.parse_args(["-"] + args))
    key = hashlib.sha1(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:10]
    return model_folder(os.path.join(MODELS, "%s-%s" % (label, key)), args)
