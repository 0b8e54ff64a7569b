"""safetensors_io.py - a minimal safetensors writer and reader (numpy only).

Written from the format description of huggingface/safetensors:

    bytes 0..8      N, the header size: unsigned 64-bit little-endian
    bytes 8..8+N    the header: UTF-8 JSON object
                      {"__metadata__": {str: str}          (optional)
                       "NAME": {"dtype": "F32", "shape": [d0, d1, ...],
                                "data_offsets": [begin, end]}, ...}
                    padded with spaces (0x20) so that 8 + N is a multiple of 8,
                    as the Hugging Face writer does
    bytes 8+N..     the byte buffer; data_offsets are relative to its start,
                    tensors are row-major, little-endian, contiguous, without
                    holes or overlaps

Dtypes handled: F32, F16, BF16 (plus U8, BOOL, I64 for the buffers that
some checkpoints carry, such as GPT-2's causal mask). numpy has no bfloat16, so BF16 tensors are
handled as uint16 bit patterns; f32_to_bf16_bits() rounds to nearest even,
like torch's .to(torch.bfloat16), and bf16_bits_to_f32() is exact.

The writer streams: tensors may be given as arrays or as callables that
produce the array when its turn comes, so a 124M-parameter model is never
held twice in memory.
"""
import json
import struct

import numpy as np

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "U8": 1, "BOOL": 1, "I64": 8}
_NUMPY = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "U8": "u1", "BOOL": "?", "I64": "<i8"}


def f32_to_bf16_bits(x):
    """Round float32 values to bfloat16, nearest even; returns uint16 bits."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    # Adding 0x7FFF plus the lowest kept bit rounds half to even; the
    # carry into the exponent gives the right answer for overflow too.
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    out = rounded.astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():  # keep NaN a NaN (the rounding could carry it to inf)
        out[nan] = ((u[nan] >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
    return out


def bf16_bits_to_f32(bits):
    """bfloat16 bit patterns (uint16) to float32, exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def to_stored(x, dtype):
    """float array -> the array whose bytes are stored for dtype."""
    if dtype in ("U8", "BOOL", "I64"):
        return np.ascontiguousarray(x, dtype=_NUMPY[dtype])
    if dtype == "F32":
        return np.ascontiguousarray(x, dtype="<f4")
    if dtype == "F16":
        return np.ascontiguousarray(np.asarray(x, dtype=np.float32).astype("<f2"))
    if dtype == "BF16":
        return f32_to_bf16_bits(np.asarray(x, dtype=np.float32)).astype("<u2")
    raise ValueError("unsupported dtype %r" % dtype)


def header_bytes(entries, metadata=None):
    """entries: list of (name, dtype, shape). Returns (header bytes padded to
    a multiple of 8 together with the 8-byte length, list of offsets)."""
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    pos = 0
    offsets = []
    for name, dtype, shape in entries:
        if dtype not in DTYPE_SIZE:
            raise ValueError("unsupported dtype %r" % dtype)
        n = DTYPE_SIZE[dtype]
        for d in shape:
            n *= int(d)
        hdr[name] = {"dtype": dtype, "shape": [int(d) for d in shape], "data_offsets": [pos, pos + n]}
        offsets.append((pos, pos + n))
        pos += n
    text = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text, offsets


def write(path, tensors, dtype=None, metadata=None):
    """Write a safetensors file.

    tensors: list of (name, value) or (name, value, dtype) in file order;
    value is an array, or a Lazy (shape known, data made when written);
    float values are rounded to the entry's dtype ("F32", "F16", "BF16";
    default `dtype`), uint16 values for BF16 are taken as bf16 bits."""
    norm = []
    for t in tensors:
        name, value = t[0], t[1]
        dt = t[2] if len(t) > 2 else dtype
        if dt is None:
            raise ValueError("no dtype for %s" % name)
        norm.append((name, value, dt))
    # Shapes are needed before the data: callables must say theirs.
    entries = []
    for name, value, dt in norm:
        shape = value.shape if hasattr(value, "shape") else value.shape_hint
        entries.append((name, dt, tuple(shape)))
    head, offsets = header_bytes(entries, metadata)
    with open(path, "wb") as f:
        f.write(head)
        for (name, value, dt), (_, _, shape), (b, e) in zip(norm, entries, offsets):
            arr = value() if callable(value) else value
            if tuple(arr.shape) != shape:
                raise ValueError("%s: shape %s, announced %s" % (name, arr.shape, shape))
            if dt == "BF16" and arr.dtype == np.uint16:
                stored = arr.astype("<u2")  # already bf16 bits
            else:
                stored = to_stored(arr, dt)
            data = np.ascontiguousarray(stored).tobytes()
            if len(data) != e - b:
                raise ValueError("%s: %d bytes, expected %d" % (name, len(data), e - b))
            f.write(data)


class Lazy:
    """A tensor produced on demand by fn() with a known shape (for write())."""

    def __init__(self, shape, fn):
        self.shape_hint = tuple(shape)
        self.fn = fn

    def __call__(self):
        return self.fn()


def read_header(path):
    """Returns (header dict, start of the byte buffer). Validates the layout."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("%s: shorter than 8 bytes" % path)
        (n,) = struct.unpack("<Q", raw)
        text = f.read(n)
        if len(text) != n:
            raise ValueError("%s: truncated header" % path)
        f.seek(0, 2)
        size = f.tell()
    hdr = json.loads(text.decode("utf-8"))
    base = 8 + n
    spans = []
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        count = DTYPE_SIZE[info["dtype"]]
        for d in info["shape"]:
            count *= d
        if e - b != count or base + e > size:
            raise ValueError("%s: tensor %s: bad data_offsets" % (path, name))
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("%s: hole or overlap in the byte buffer at %d" % (path, b))
        pos = e
    return hdr, base


def read(path, raw=False):
    """All tensors of a file: dict name -> array (memory-mapped, read-only).

    raw=False: F32 and F16 keep their numpy dtype, BF16 becomes float32
    (exact). raw=True: BF16 stays uint16 bits. Also returns the metadata:
    (tensors, metadata dict or None)."""
    hdr, base = read_header(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = mm[base + b:base + e].view(_NUMPY[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16" and not raw:
            arr = bf16_bits_to_f32(arr)
        out[name] = arr
    return out, hdr.get("__metadata__")


def dtypes(path):
    """dict name -> dtype string, from the header only."""
    hdr, _ = read_header(path)
    return {k: v["dtype"] for k, v in hdr.items() if k != "__metadata__"}
