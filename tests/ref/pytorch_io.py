"""pytorch_io.py - write PyTorch checkpoints (pytorch_model.bin) as torch.save
does since PyTorch 1.6, and read them back, with numpy and the standard
library only (no torch).

Written from the format torch.save produces (torch/serialization.py _save,
caffe2/serialize/inline_container.cc PyTorchStreamWriter over miniz):

  a zip archive, every entry inside one folder <archive>/ ("archive", or the
  file's stem in older versions), entries stored uncompressed, in the order

    <archive>/data.pkl                  the object, pickle protocol 2
    <archive>/.format_version           "1"
    <archive>/.storage_alignment        "64"
    <archive>/byteorder                 "little" (or "big")
    <archive>/data/<key>                raw bytes of each storage, keys "0", "1"...
    <archive>/version                   "3\\n"
    <archive>/.data/serialization_id    40 decimal digits

  Each local header's extra field holds a padding field with id "FB" so that
  the entry's data starts on a multiple of 64 bytes. Sizes and CRC follow the
  data in a data descriptor (flag bit 3). The archive ends with a zip64 end
  record and locator, then the classic end record (miniz in zip64 mode).

  data.pkl, for a state dict {name: tensor}, is (pickle protocol 2)

    collections.OrderedDict()          GLOBAL + EMPTY_TUPLE + REDUCE
    MARK name tensor name tensor ... SETITEMS   (batches of 1000, SETITEM for 1)
    {"_metadata": OrderedDict(...)} BUILD       (module versions; optional)

  and each tensor is
    torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
                                    requires_grad, OrderedDict())
  where storage is written by persistent id (BINPERSID) as the tuple
    ("storage", torch.FloatStorage | HalfStorage | BFloat16Storage, key,
     "cpu", numel of the storage)
  A tensor that shares a storage writes the same key again. Offsets,
  strides and numel count elements of the storage's dtype.

Use write() for a plain state dict of arrays (each tensor its own
contiguous storage), save() for exact control: shared storages, views with
offsets and strides, Parameters, compressed entries, zip64 fields,
big-endian data, legacy files. read() loads a file back with Python's own
pickle module restricted to the same globals (for checking the writer).
"""
import collections
import io
import pickle
import struct
import zlib

import numpy as np

from safetensors_io import bf16_bits_to_f32, to_stored

STORAGE_TYPE = {"F32": "FloatStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage",
                "F64": "DoubleStorage", "I64": "LongStorage", "I32": "IntStorage",
                "U8": "ByteStorage", "BOOL": "BoolStorage"}
ELEMENT = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "F64": "<f8", "I64": "<i8", "I32": "<i4",
           "U8": "u1", "BOOL": "u1"}


class Storage:
    """A flat storage: dtype name (see STORAGE_TYPE) and its element array
    (already in stored form: float32/float16, uint16 bits for BF16)."""

    def __init__(self, dtype, values):
        self.dtype = dtype
        self.values = np.ascontiguousarray(values, dtype=ELEMENT[dtype]).reshape(-1)
        self.key = None  # set by save()


class Tensor:
    """A view of a Storage: element offset, shape, strides (in elements)."""

    def __init__(self, storage, shape, stride=None, offset=0, parameter=False):
        self.storage = storage
        self.shape = tuple(int(d) for d in shape)
        if stride is None:  # row-major
            stride, acc = [], 1
            for d in reversed(self.shape):
                stride.insert(0, acc)
                acc *= d
        self.stride = tuple(int(s) for s in stride)
        self.offset = int(offset)
        self.parameter = parameter

    def array(self):
        """The values this view shows, as a contiguous array (stored form)."""
        v = self.storage.values
        return np.lib.stride_tricks.as_strided(
            v[self.offset:], shape=self.shape,
            strides=[s * v.itemsize for s in self.stride]).copy()


def tensor(values, dtype="F32", parameter=False):
    """A contiguous tensor with its own storage from float values."""
    a = np.asarray(values)
    stored = to_stored(a, dtype) if dtype in ("F32", "F16", "BF16") else a.astype(ELEMENT[dtype])
    return Tensor(Storage(dtype, stored.reshape(-1)), a.shape, parameter=parameter)


class _Pickler:
    """Hand-written protocol 2 opcodes, memoized like CPython's pickler."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo = {}

    def _put(self, key):
        i = len(self.memo)
        self.memo[key] = i
        self.out += b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)

    def _get(self, key):
        i = self.memo[key]
        self.out += b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)

    def global_(self, module, name):
        key = ("global", module, name)
        if key in self.memo:
            return self._get(key)
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        self._put(key)

    def str_(self, s, memo=True):
        key = ("str", s)
        if memo and key in self.memo:
            return self._get(key)
        b = s.encode("utf-8")
        self.out += b"X" + struct.pack("<I", len(b)) + b
        self._put(key if memo else ("str-once", len(self.memo)))

    def int_(self, i):
        if 0 <= i < 256:
            self.out += b"K" + bytes([i])
        elif 0 <= i < 65536:
            self.out += b"M" + struct.pack("<H", i)
        elif -2**31 <= i < 2**31:
            self.out += b"J" + struct.pack("<i", i)
        else:  # LONG1: minimal two's complement, little-endian
            n = (i.bit_length() + 8) // 8
            self.out += b"\x8a" + bytes([n]) + i.to_bytes(n, "little", signed=True)

    def bool_(self, b):
        self.out += b"\x88" if b else b"\x89"

    def tuple_(self, items):
        if not items:
            self.out += b")"
            return
        if len(items) > 3:
            self.out += b"("
        for it in items:
            self._item(it)
        self.out += b"t" if len(items) > 3 else bytes([0x84 + len(items)])
        self._put(("tuple", len(self.memo)))

    def _item(self, it):
        if isinstance(it, bool):
            self.bool_(it)
        elif isinstance(it, int):
            self.int_(it)
        elif isinstance(it, str):
            self.str_(it)
        elif isinstance(it, tuple):
            self.tuple_(list(it))
        else:
            raise TypeError(type(it))

    def ordered_dict(self):
        self.global_("collections", "OrderedDict")
        self.out += b")R"  # EMPTY_TUPLE, REDUCE
        self._put(("obj", len(self.memo)))

    def tensor(self, t):
        if t.parameter:
            self.global_("torch._utils", "_rebuild_parameter")
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"("
        # The persistent id: a tuple saved without memo of itself, then BINPERSID.
        self.out += b"("
        self.str_("storage")
        self.global_("torch", STORAGE_TYPE[t.storage.dtype])
        self.str_(t.storage.key)
        self.str_("cpu")
        self.int_(int(t.storage.values.size))
        self.out += b"t"
        self._put(("tuple", len(self.memo)))
        self.out += b"Q"
        self.int_(t.offset)
        self.tuple_(list(t.shape))
        self.tuple_(list(t.stride))
        self.bool_(False)
        self.ordered_dict()  # backward hooks
        self.out += b"t"
        self._put(("tuple", len(self.memo)))
        self.out += b"R"
        self._put(("obj", len(self.memo)))
        if t.parameter:  # _rebuild_parameter(tensor, requires_grad, hooks)
            self.bool_(True)
            self.ordered_dict()
            self.out += b"\x87"  # TUPLE3
            self._put(("tuple", len(self.memo)))
            self.out += b"R"
            self._put(("obj", len(self.memo)))

    def state_dict(self, items, ordered=True, metadata=True):
        if ordered:
            self.ordered_dict()
        else:
            self.out += b"}"
            self._put(("obj", len(self.memo)))
        for b in range(0, len(items), 1000):
            batch = items[b:b + 1000]
            if len(batch) > 1:
                self.out += b"("
            for name, value in batch:
                self.str_(name, memo=True)
                self.value(value)
            self.out += b"u" if len(batch) > 1 else b"s"
        if ordered and metadata:  # state = {"_metadata": OrderedDict({"": {"version": 1}})}
            self.out += b"}"
            self._put(("obj", len(self.memo)))
            self.str_("_metadata")
            self.ordered_dict()
            self.str_("")
            self.out += b"}"
            self._put(("obj", len(self.memo)))
            self.str_("version")
            self.int_(1)
            self.out += b"s"
            self.out += b"s"
            self.out += b"s"
            self.out += b"b"  # BUILD

    def value(self, v):
        if isinstance(v, Tensor):
            self.tensor(v)
        elif isinstance(v, RawPickle):
            self.out += v.data
        elif v is None:
            self.out += b"N"
        elif isinstance(v, dict):
            self.out += b"}"
            self._put(("obj", len(self.memo)))
            if v:
                self.out += b"("
                for k, x in v.items():
                    self.str_(k)
                    self.value(x)
                self.out += b"u"
        else:
            self._item(v)

    def stop(self):
        self.out += b"."
        return bytes(self.out)


class RawPickle:
    """Opcodes inserted verbatim as a state-dict value (for error tests)."""

    def __init__(self, data):
        self.data = data


def pickle_state_dict(items, ordered=True, metadata=True):
    """The data.pkl bytes for [(name, Tensor | other value)]; storages must
    have their keys."""
    p = _Pickler()
    p.state_dict(list(items), ordered=ordered, metadata=metadata)
    return p.stop()


def _zip(records, compress=(), zip64_end=True, zip64_fields=False, descriptor=True, align=64):
    """A zip in miniz/PyTorchStreamWriter style. records: [(name, bytes)]."""
    out = bytearray()
    central = bytearray()
    for name, data in records:
        name_b = name.encode()
        method = 8 if name in compress else 0
        if method:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
        else:
            body = data
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        start = offset + 30 + len(name_b) + 4
        pad = (-start) % align
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = 0x08 if descriptor else 0
        lsizes = (0, 0, 0) if descriptor else (crc, len(body), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64_fields else 20, flags, method,
                           0, 0x21, *lsizes, len(name_b), len(extra))
        out += name_b + extra
        assert method or len(out) % align == 0
        out += body
        if descriptor:
            out += struct.pack("<IIII", 0x08074B50, crc, len(body), len(data))
        if zip64_fields:  # pretend every field overflowed 32 bits
            cx = struct.pack("<HHQQQ", 1, 24, len(data), len(body), offset)
            c_sizes = (0xFFFFFFFF, 0xFFFFFFFF)
            c_off = 0xFFFFFFFF
        else:
            cx = b""
            c_sizes = (len(body), len(data))
            c_off = offset
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45 if zip64_fields else 20,
                               flags, method, 0, 0x21, crc, *c_sizes, len(name_b), len(cx), 0, 0, 0,
                               0, c_off)
        central += name_b + cx
    cd_off = len(out)
    out += central
    n = len(records)
    if zip64_end or zip64_fields:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(central), cd_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    if zip64_fields:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_off, 0)
    return bytes(out)


def save(path, items, archive="archive", ordered=True, metadata=True, byteorder="little",
         compress=(), zip64_end=True, zip64_fields=False, descriptor=True, drop=(),
         pickle_bytes=None, extra_records=()):
    """Write a checkpoint. items: [(name, Tensor | value)] in order.

    archive: the top folder. byteorder "big" stores every storage
    big-endian (and says so). compress: record names (relative, e.g.
    "data/0" or "data.pkl") to deflate. drop: record names to leave out
    (a missing storage). pickle_bytes: data.pkl as given instead of the
    pickled items. Returns the list of record names written."""
    storages = []
    for _, v in items:
        if isinstance(v, Tensor) and all(v.storage is not s for s in storages):
            v.storage.key = str(len(storages))
            storages.append(v.storage)
    pkl = pickle_bytes if pickle_bytes is not None else pickle_state_dict(items, ordered, metadata)
    records = [("data.pkl", pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", byteorder.encode())]
    for s in storages:
        v = s.values
        if byteorder == "big":
            v = v.astype(v.dtype.newbyteorder(">"))
        records.append(("data/" + s.key, v.tobytes()))
    records.append(("version", b"3\n"))
    records.append((".data/serialization_id", b"0" * 40))
    records += list(extra_records)
    records = [(n, d) for n, d in records if n not in drop]
    full = [(archive + "/" + n, d) for n, d in records]
    data = _zip(full, compress={archive + "/" + c for c in compress}, zip64_end=zip64_end,
                zip64_fields=zip64_fields, descriptor=descriptor)
    with open(path, "wb") as f:
        f.write(data)
    return [n for n, _ in full]


def write(path, tensors, dtype=None, archive="archive"):
    """Like safetensors_io.write: tensors [(name, array) or (name, array,
    dtype)], each a contiguous tensor with its own storage, float values
    converted to dtype ("F32", "F16", "BF16")."""
    items = []
    for t in tensors:
        name, value = t[0], t[1]
        dt = t[2] if len(t) > 2 else dtype
        items.append((name, tensor(np.asarray(value, dtype=np.float32), dt)))
    return save(path, items, archive=archive)


def legacy_bytes():
    """The first bytes of a pre-1.6 (non-zip) torch.save file: the pickled
    magic number 0x1950a86a20f9469cfc6c, protocol 2."""
    return b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03."


# --- reading back with Python's pickle module (to check the writer) -------

class _Rebuilt:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    return _Rebuilt(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, hooks):
    return data


_TYPES = {v: k for k, v in STORAGE_TYPE.items()}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


def read(path):
    """{name: array} of a checkpoint; BF16 comes back as float32 (exact)."""
    import zipfile
    z = zipfile.ZipFile(path)
    if z.testzip() is not None:
        raise ValueError("bad CRC in %s" % path)
    names = z.namelist()
    prefix = next(n for n in names if n.endswith("/data.pkl"))[:-len("data.pkl")]
    big = z.read(prefix + "byteorder") == b"big" if prefix + "byteorder" in names else False

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return _rebuild_tensor_v2
            if (module, name) == ("torch._utils", "_rebuild_parameter"):
                return _rebuild_parameter
            if module == "torch" and name in _TYPES:
                return _StorageType(_TYPES[name])
            raise pickle.UnpicklingError("global %s.%s refused" % (module, name))

        def persistent_load(self, pid):
            kind, stype, key, _location, numel = pid
            assert kind == "storage"
            dt = np.dtype(ELEMENT[stype.dtype]).newbyteorder(">" if big else "<")
            v = np.frombuffer(z.read(prefix + "data/" + key), dtype=dt)
            assert v.size == numel, (v.size, numel)
            return stype.dtype, v.astype(dt.newbyteorder("<"))

    state = U(io.BytesIO(z.read(prefix + "data.pkl"))).load()
    out = {}
    for name, t in state.items():
        dtype, v = t.storage
        a = np.lib.stride_tricks.as_strided(v[t.offset:], shape=t.size,
                                            strides=[s * v.itemsize for s in t.stride]).copy()
        out[name] = bf16_bits_to_f32(a) if dtype == "BF16" else a
    return out
