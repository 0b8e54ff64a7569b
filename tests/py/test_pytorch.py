#!/usr/bin/python3
# san: yes
"""test_pytorch.py - PyTorch zip checkpoints (pytorch_model.bin) read by
temper's C reader (src/formats/pytorch.c, pickle.c, zip.c).

Checkpoints are written by tests/ref/pytorch_io.py (torch.save's layout, no
torch); the writer itself is checked against Python's own pickle and zipfile
modules. tests/tools/pytorch_dump prints what the C reader returns; every
tensor must come back bit-exact against the numpy arrays it was made from,
with its dtype and shape, pointing into the file map when it can (stored,
contiguous) and copied otherwise. Every error case must give exit status 1
with a message naming the file and the problem, never a crash.

Run: TEMPER_BUILD=build /usr/bin/python3 tests/py/test_pytorch.py
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILD_NAME as BUILD, ROOT, check  # noqa: E402
import pytorch_io as pt  # noqa: E402
import safetensors_io as st  # noqa: E402

DUMP = harness.tool("pytorch_dump")
OUT = os.path.join(ROOT, "build", "pytorch-tests-" + os.path.basename(BUILD.rstrip("/")))


def dump(path):
    """(exit status, {name: (dtype, shape, mapped, bytes)} in order, stderr)."""
    r = subprocess.run([DUMP, path], capture_output=True, timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    tensors = {}
    if r.returncode == 0:
        for line in r.stdout.decode().splitlines():
            name, dtype, shape, mapped, hexdata = line.split("\t")
            dims = tuple(int(d) for d in shape.strip("()").split(",") if d)
            tensors[name] = (dtype, dims, int(mapped), bytes.fromhex(hexdata))
    return r.returncode, tensors, err


def no_crash(name, rc, err):
    bad = harness.crash_report(err)
    check(f"{name}: no crash", rc in (0, 1) and not bad, f"rc={rc} {bad} {err[-1500:]}")


def expect_error(name, path, *needles):
    rc, _, err = dump(path)
    no_crash(name, rc, err)
    check(f"{name}: fails", rc == 1, f"rc={rc}")
    for n in needles + (os.path.basename(path),):
        check(f"{name}: message has {n!r}", n.lower() in err.lower(), err.strip())


def path(name):
    return os.path.join(OUT, name)


DTYPE_NAME = {"F32": "f32", "F16": "f16", "BF16": "bf16"}


def expect_tensors(name, file, expected, mapped=None):
    """expected: {name: (dtype, array in stored form)}; mapped: {name: 0/1}."""
    rc, got, err = dump(file)
    no_crash(name, rc, err)
    check(f"{name}: loads", rc == 0, err.strip())
    if rc != 0:
        return got
    check(f"{name}: names in order", list(got) == list(expected), f"{list(got)} vs {list(expected)}")
    for k, (dtype, arr) in expected.items():
        if k not in got:
            continue
        gdt, shape, m, data = got[k]
        check(f"{name}/{k}: dtype", gdt == DTYPE_NAME[dtype], gdt)
        check(f"{name}/{k}: shape", shape == tuple(arr.shape), f"{shape} vs {arr.shape}")
        want = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        check(f"{name}/{k}: bit-exact", data == want, f"{data[:16].hex()} vs {want[:16].hex()}")
        if mapped is not None and k in mapped:
            check(f"{name}/{k}: mapped == {mapped[k]}", m == mapped[k], str(m))
    return got


def rng_values(rs, shape):
    """Random floats plus the awkward ones (signed zero, inf, nan, tiny)."""
    a = rs.standard_normal(shape).astype(np.float32)
    flat = a.reshape(-1)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -3.4e38, 65504.0, 1e-8]
    for i, v in enumerate(specials[:flat.size]):
        flat[(i * 7) % flat.size] = v
    return a


def test_dtypes():
    """f32/f16/bf16 tensors of 0 to 4 dimensions come back bit-exact, zero-copy."""
    rs = np.random.default_rng(1)
    items, expected = [], {}
    for dtype in ("F32", "F16", "BF16"):
        for shape in ((), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (0, 4)):
            v = rng_values(rs, shape) if np.prod(shape) else np.zeros(shape, np.float32)
            with np.errstate(over="ignore"):  # -3.4e38 is -inf in f16, on purpose
                t = pt.tensor(v, dtype)
            name = f"{dtype.lower()}.{'x'.join(map(str, shape)) or 'scalar'}.weight"
            items.append((name, t))
            expected[name] = (dtype, t.array())
    f = path("dtypes.bin")
    pt.save(f, items)
    # The writer agrees with Python's pickle and zipfile (independent readers).
    back = pt.read(f)
    ok = all(np.array_equal(st.bf16_bits_to_f32(e[1]) if e[0] == "BF16" else e[1], back[k],
                            equal_nan=True) for k, e in expected.items())
    check("writer: pickle/zipfile read back the arrays", ok)
    z = zipfile.ZipFile(f)
    names = z.namelist()
    check("writer: torch.save record layout",
          names[:4] == ["archive/data.pkl", "archive/.format_version", "archive/.storage_alignment",
                        "archive/byteorder"] and names[-2:] == ["archive/version",
                                                                 "archive/.data/serialization_id"],
          str(names))
    with open(f, "rb") as fh:
        raw = fh.read()
    offs = []
    for info in z.infolist():
        n, x = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
        offs.append(info.header_offset + 30 + n + x)
    check("writer: entries 64-byte aligned", all(o % 64 == 0 for o in offs), str(offs))
    expect_tensors("dtypes", f, expected, {k: 1 for k in expected})


def test_views():
    """Transposed (strided), offset and shared storages."""
    rs = np.random.default_rng(2)
    base = pt.Storage("F32", rs.standard_normal(40).astype(np.float32))
    half = pt.Storage("F16", rs.standard_normal(24).astype(np.float16))
    bf = pt.Storage("BF16", st.f32_to_bf16_bits(rs.standard_normal(12).astype(np.float32)))
    items = [
        ("wte", pt.Tensor(base, (5, 8))),                          # whole storage
        ("lm_head", pt.Tensor(base, (5, 8))),                      # tied: same storage
        ("transposed", pt.Tensor(base, (8, 5), stride=(1, 8))),    # .t() of wte
        ("offset_row", pt.Tensor(base, (8,), offset=16)),          # wte[2]
        ("offset_block", pt.Tensor(base, (2, 3), offset=25)),      # contiguous at 25
        ("column", pt.Tensor(base, (5,), stride=(8,), offset=3)),  # wte[:, 3]
        ("every_other", pt.Tensor(base, (2, 4), stride=(16, 2), offset=1)),
        ("broadcast", pt.Tensor(base, (3, 4), stride=(0, 1), offset=4)),  # expand()
        ("unit_dims", pt.Tensor(base, (1, 4, 1), stride=(99, 1, 7), offset=30)),  # contiguous
        ("h_t", pt.Tensor(half, (4, 6), stride=(1, 4))),
        ("h_off", pt.Tensor(half, (3, 2), offset=11)),              # odd offset, 2-byte aligned
        ("b_perm", pt.Tensor(bf, (2, 3, 2), stride=(1, 4, 2))),
    ]
    expected = {}
    for k, t in items:
        expected[k] = (t.storage.dtype, t.array())
    mapped = {"wte": 1, "lm_head": 1, "transposed": 0, "offset_row": 1, "offset_block": 1,
              "column": 0, "every_other": 0, "broadcast": 0, "unit_dims": 1, "h_t": 0,
              "h_off": 1, "b_perm": 0}
    f = path("views.bin")
    names = pt.save(f, items)
    check("views: three storages written", sum(n.startswith("archive/data/") for n in names) == 3,
          str(names))
    # Independent check of the expectations themselves against numpy views.
    w = base.values.reshape(5, 8)
    check("views: numpy agrees", np.array_equal(expected["transposed"][1], w.T) and
          np.array_equal(expected["column"][1], w[:, 3]) and
          np.array_equal(expected["offset_row"][1], w[2]))
    expect_tensors("views", f, expected, mapped)


def test_variants():
    """Parameters, plain dicts, one entry (SETITEM), >1000 entries, the
    file-stem archive folder, zip64 fields, no zip64 end, no descriptor,
    compressed entries, big-endian storages, skipped integer buffers."""
    rs = np.random.default_rng(3)
    a = pt.tensor(rs.standard_normal((3, 4)), "F32", parameter=True)
    b = pt.tensor(rs.standard_normal((4,)), "BF16")
    exp = {"p.weight": ("F32", a.array()), "b.bias": ("BF16", b.array())}
    f = path("param.bin")
    pt.save(f, [("p.weight", a), ("b.bias", b)])
    expect_tensors("parameter", f, exp, {"p.weight": 1})

    f = path("plain_dict.bin")
    pt.save(f, [("p.weight", a), ("b.bias", b)], ordered=False)
    expect_tensors("plain dict", f, exp)

    f = path("one.bin")
    pt.save(f, [("p.weight", a)], metadata=False)
    expect_tensors("single entry", f, {"p.weight": exp["p.weight"]})

    many = [(f"layer.{i}.w", pt.tensor(np.array([i * 0.5 - 700], np.float32), "F32"))
            for i in range(2100)]
    f = path("many.bin")
    pt.save(f, many)
    rc, got, err = dump(f)
    no_crash("2100 entries", rc, err)
    ok = rc == 0 and len(got) == 2100 and all(
        got[f"layer.{i}.w"][3] == np.float32(i * 0.5 - 700).tobytes() for i in range(2100))
    check("2100 entries (batched SETITEMS, LONG_BINPUT/LONG_BINGET)", ok, err.strip())

    os.makedirs(path("stem"), exist_ok=True)
    f = path("stem/pytorch_model.bin")
    pt.save(f, [("p.weight", a), ("b.bias", b)], archive="pytorch_model")
    expect_tensors("archive folder named after the file", f, exp, {"p.weight": 1, "b.bias": 1})

    for label, kw in (("zip64 fields", {"zip64_fields": True}),
                      ("no zip64 end record", {"zip64_end": False}),
                      ("no data descriptor", {"descriptor": False})):
        f = path(label.replace(" ", "_") + ".bin")
        pt.save(f, [("p.weight", a), ("b.bias", b)], **kw)
        expect_tensors(label, f, exp, {"p.weight": 1, "b.bias": 1})

    f = path("deflated.bin")
    pt.save(f, [("p.weight", a), ("b.bias", b)], compress=("data.pkl", "data/0"))
    check("deflated: zipfile sees method 8",
          zipfile.ZipFile(f).getinfo("archive/data/0").compress_type == zipfile.ZIP_DEFLATED)
    expect_tensors("deflated entries", f, exp, {"p.weight": 0, "b.bias": 1})

    f = path("big_endian.bin")
    pt.save(f, [("p.weight", a), ("b.bias", b)], byteorder="big")
    expect_tensors("big-endian storages", f, exp, {"p.weight": 0, "b.bias": 0})

    ids = pt.Tensor(pt.Storage("I64", np.arange(6)), (1, 6))
    mask = pt.Tensor(pt.Storage("BOOL", np.ones(4, np.uint8)), (2, 2))
    f = path("buffers.bin")
    pt.save(f, [("position_ids", ids), ("p.weight", a), ("attn.mask", mask)])
    expect_tensors("integer/bool buffers skipped", f, {"p.weight": exp["p.weight"]})


def test_folders():
    """pytorch_model.bin in a folder, the sharded index, safetensors first."""
    rs = np.random.default_rng(4)
    arrays = {f"h.{i}.w": rs.standard_normal((2, 3)).astype(np.float32) for i in range(4)}
    d = path("folder_single")
    os.makedirs(d, exist_ok=True)
    pt.write(os.path.join(d, "pytorch_model.bin"), list(arrays.items()), dtype="F32")
    expect_tensors("folder with pytorch_model.bin", d, {k: ("F32", v) for k, v in arrays.items()})

    d = path("folder_sharded")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shards = {"pytorch_model-00001-of-00002.bin": ["h.0.w", "h.1.w"],
              "pytorch_model-00002-of-00002.bin": ["h.2.w", "h.3.w"]}
    index = {"metadata": {"total_size": 96}, "weight_map": {}}
    for fname, keys in shards.items():
        pt.write(os.path.join(d, fname), [(k, arrays[k]) for k in keys], dtype="F16")
        for k in keys:
            index["weight_map"][k] = fname
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as fh:
        json.dump(index, fh)
    expect_tensors("sharded pytorch_model.bin.index.json", d,
                   {k: ("F16", v.astype(np.float16)) for k, v in arrays.items()})
    # A missing storage in the second shard names that shard.
    pt.save(os.path.join(d, "pytorch_model-00002-of-00002.bin"),
            [(k, pt.tensor(arrays[k], "F16")) for k in shards["pytorch_model-00002-of-00002.bin"]],
            drop=("data/1",))
    expect_error("sharded: broken second shard", d, "pytorch_model-00002-of-00002.bin", "missing",
                 "data/1")

    d = path("folder_both")
    os.makedirs(d, exist_ok=True)
    pt.write(os.path.join(d, "pytorch_model.bin"), [("from_bin", arrays["h.0.w"])], dtype="F32")
    st.write(os.path.join(d, "model.safetensors"), [("from_st", arrays["h.1.w"])], dtype="F32")
    expect_tensors("safetensors preferred over pytorch_model.bin", d,
                   {"from_st": ("F32", arrays["h.1.w"])})


def test_errors():
    rs = np.random.default_rng(5)
    a = pt.tensor(rs.standard_normal((3, 4)), "F32")
    b = pt.tensor(rs.standard_normal((5,)), "F16")
    good = path("good.bin")
    pt.save(good, [("a.weight", a), ("b.weight", b)])

    f = path("missing_storage.bin")
    pt.save(f, [("a.weight", a), ("b.weight", b)], drop=("data/1",))
    expect_error("missing storage", f, "b.weight", "archive/data/1", "missing")

    with open(good, "rb") as fh:
        raw = fh.read()
    f = path("truncated.bin")
    with open(f, "wb") as fh:
        fh.write(raw[:len(raw) // 2])
    expect_error("truncated file", f, "truncated")

    # The classic payload: os.system("touch <marker>"). Refused, not run.
    marker = path("pwned")
    if os.path.exists(marker):
        os.remove(marker)
    cmd = ("touch " + marker).encode()
    evil = pt.RawPickle(b"cos\nsystem\n(X" + struct.pack("<I", len(cmd)) + cmd + b"tR")
    f = path("evil_global.bin")
    pt.save(f, [("a.weight", a), ("x", evil)])
    expect_error("non-allowed global", f, "refusing to load global os.system", "may contain code")
    check("non-allowed global: nothing ran", not os.path.exists(marker))
    # The same through STACK_GLOBAL (protocol 4 opcodes).
    evil4 = pt.RawPickle(b"\x8c\x08builtins\x8c\x04eval\x93(X\x03\x00\x00\x001+1tR")
    f = path("evil_stack_global.bin")
    pt.save(f, [("x", evil4)])
    expect_error("non-allowed STACK_GLOBAL", f, "refusing to load global builtins.eval")
    # A global that torch itself allows elsewhere but a state dict never needs.
    f = path("evil_storage_loader.bin")
    pt.save(f, [("x", pt.RawPickle(b"ctorch.storage\n_load_from_bytes\n(X\x01\x00\x00\x00xtR"))])
    expect_error("torch.storage._load_from_bytes refused", f,
                 "refusing to load global torch.storage._load_from_bytes")

    f = path("legacy.bin")
    with open(f, "wb") as fh:
        fh.write(pt.legacy_bytes() + b"\0" * 100)
    expect_error("legacy (pre-1.6) format", f, "legacy", "re-save", "safetensors")

    f = path("lfs.bin")
    with open(f, "w") as fh:
        fh.write("version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 +
                 "\nsize 548105171\n")
    expect_error("git LFS pointer", f, "git lfs")

    f = path("page.bin")
    with open(f, "w") as fh:
        fh.write("<!DOCTYPE html><html><body>Sign in</body></html>\n")
    expect_error("HTML page", f, "html")

    f = path("empty.bin")
    open(f, "wb").close()
    expect_error("empty file", f, "empty")

    f = path("noise.bin")
    with open(f, "wb") as fh:
        fh.write(bytes(range(7, 200)))
    expect_error("not a zip", f, "not a PyTorch checkpoint")

    f = path("other.zip.bin")
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("notes/readme.txt", "hello")
    expect_error("zip without data.pkl", f, "data.pkl")

    f = path("training_ckpt.bin")
    pt.save(f, [("model", {"a.weight": a}), ("epoch", 3)])
    expect_error("training checkpoint", f, "\"model\"", "state_dict")

    f = path("not_tensor.bin")
    pt.save(f, [("a.weight", a), ("step", 12)])
    expect_error("non-tensor entry", f, "\"step\"", "not a tensor")

    f = path("overrun.bin")
    small = pt.Storage("F32", np.arange(4, dtype=np.float32))
    pt.save(f, [("w", pt.Tensor(small, (3, 3)))])
    expect_error("view past its storage", f, "\"w\"", "element 8", "4 elements")

    f = path("f64.bin")
    pt.save(f, [("w", pt.Tensor(pt.Storage("F64", np.ones(3)), (3,)))])
    expect_error("float64 tensor", f, "float64")

    f = path("five_dims.bin")
    pt.save(f, [("w", pt.Tensor(small, (1, 1, 1, 2, 2)))])
    expect_error("five dimensions", f, "5 dimensions")

    f = path("top_list.bin")
    pt.save(f, [], pickle_bytes=b"\x80\x02]q\x00.")
    expect_error("not a dict at the top", f, "a list", "state dict")

    f = path("bad_opcode.bin")
    pt.save(f, [], pickle_bytes=b"\x80\x02}q\x00(X\x01\x00\x00\x00aI12\nu.")
    expect_error("text-protocol opcode", f, "opcode 0x49")

    # Corrupt compressed data: CRC or inflate failure, not garbage weights.
    f = path("bad_deflate.bin")
    pt.save(f, [("a.weight", a)], compress=("data/0",))
    info = zipfile.ZipFile(f).getinfo("archive/data/0")
    with open(f, "r+b") as fh:
        fh.seek(info.header_offset + 26)
        n, x = struct.unpack("<HH", fh.read(4))
        at = info.header_offset + 30 + n + x + info.compress_size // 2
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x55]))
    expect_error("corrupt deflated storage", f, "download")

    # Every truncation and random damage: status 0 or 1, never a crash.
    cuts = sorted(set(list(range(0, len(raw), max(1, len(raw) // 40))) + [len(raw) - 1, 22, 30]))
    worst = []
    for cut in cuts:
        f = path("cut.bin")
        with open(f, "wb") as fh:
            fh.write(raw[:cut])
        rc, _, err = dump(f)
        if rc != 1 or "cut.bin" not in err or "runtime error" in err or "Sanitizer" in err:
            worst.append((cut, rc, err.strip()[:200]))
    check(f"{len(cuts)} truncations: clean errors naming the file", not worst, str(worst[:3]))
    r = random.Random(6)
    pkl_info = zipfile.ZipFile(good).getinfo("archive/data.pkl")
    pkl_at = pkl_info.header_offset + 30 + len("archive/data.pkl") + 4
    bad = []
    for i in range(120):
        data = bytearray(raw)
        for _ in range(r.randint(1, 4)):
            # Half the damage in the pickle, half anywhere.
            pos = (pkl_at + r.randrange(pkl_info.file_size)) if i % 2 else r.randrange(len(data))
            if pos < len(data):
                data[pos] = r.randrange(256)
        f = path("flip.bin")
        with open(f, "wb") as fh:
            fh.write(data)
        rc, _, err = dump(f)
        if rc not in (0, 1) or "runtime error" in err or "Sanitizer" in err:
            bad.append((i, rc, err.strip()[:200]))
    check("120 damaged files: no crash", not bad, str(bad[:3]))


def test_empty_huge():
    """An empty tensor (a dimension of 0) whose other dimensions multiply
    past 2^63: the contiguity check must not overflow (UBSan found it)."""
    base = pt.Storage("F32", np.zeros(4, dtype=np.float32))
    f = path("empty_huge.bin")
    pt.save(f, [("empty", pt.Tensor(base, (0, 1 << 40, 1 << 40), stride=(1, 1, 1)))])
    rc, got, err = dump(f)
    no_crash("empty huge tensor", rc, err)
    check("empty huge tensor: loads with its shape", rc == 0 and got.get("empty", (0, 0))[1] ==
          (0, 1 << 40, 1 << 40), f"rc={rc} {err.strip()[:200]}")


def test_inflate_bomb():
    """A deflated entry whose directory claims 4 GB: refused before any
    allocation (deflate expands at most 1032:1); the fuzzer found it."""
    f = path("bomb.bin")
    pt.save(f, [("w", pt.tensor(np.ones(4), "F32"))], compress=("data.pkl",), zip64_end=False,
            descriptor=False)
    data = bytearray(open(f, "rb").read())
    at = data.find(b"PK\1\2")  # the first central directory entry: data.pkl
    check("bomb: data.pkl is deflated", struct.unpack_from("<H", data, at + 10)[0] == 8)
    struct.pack_into("<I", data, at + 24, 0xFFFFFFF0)
    loc = struct.unpack_from("<I", data, at + 42)[0]
    struct.pack_into("<I", data, loc + 22, 0xFFFFFFF0)
    with open(f, "wb") as fh:
        fh.write(data)
    expect_error("inflate bomb", f, "more than deflate can give")


def main():
    if not os.path.exists(DUMP):
        return harness.missing(f"missing {DUMP}: run make BUILD={BUILD}")
    os.makedirs(OUT, exist_ok=True)
    for t in (test_dtypes, test_views, test_variants, test_folders, test_errors, test_empty_huge,
              test_inflate_bomb):
        t()
    return harness.summary()


if __name__ == "__main__":
    sys.exit(main())
