"""_params.py - keyword arguments to a temper_generate_params, driven by
the library's parameter table (temper_params): every scalar parameter the
table lists is a keyword (its transformers name, or an alias such as
"repeat_penalty"), range-checked by temper_param_set with the library's
message. Only the list-valued parameters, which the table leaves out, are
named here.
"""
import ctypes
import math
import numbers

import numpy as np

from ._errors import InvalidArgument, check
from ._lib import LogitBias, lib, token_p

# List-valued parameters and the binding's own words, which the table does
# not hold: name -> what it takes.
LIST_KEYS = {
    "eos_token_id": "an id or a list of ids (replaces the model's EOS ids)",
    "stop": "a string or a list of strings",
    "logit_bias": "a dict {id: bias}",
    "suppress_tokens": "a list of ids",
    "sampler_order": '"hf" or "llama.cpp"',
    "samplers": 'a comma-separated stage order, e.g. "top_k,temperature"',
    "first_stream": "sequence i draws from stream first_stream + i of the seed",
}


def table():
    """The library's parameter table as a list of dicts (name, aliases,
    help, type, default, min, max, off, warper)."""
    n = ctypes.c_int()
    p = lib.temper_params(ctypes.byref(n))
    out = []
    for i in range(n.value):
        d = p[i]
        out.append({"name": d.name.decode(), "aliases": [a for a in d.aliases.decode().split(",") if a],
                    "help": d.help.decode(), "type": ("float", "int", "bool", "seed")[d.type],
                    "default": d.def_, "min": d.min, "max": d.max,
                    "off": None if math.isnan(d.off) else d.off, "warper": bool(d.warper)})
    return out


def _number(name, v):
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, numbers.Real):
        return float(v)
    raise InvalidArgument(f"{name}: expected a number, got {type(v).__name__} {v!r}")


def ids_array(name, v):
    """v (an id or ids) as a contiguous int32 array, or InvalidArgument."""
    if isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool):
        v = [v]
    try:
        a = np.asarray(v)
    except Exception:
        a = None
    if a is None or a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise InvalidArgument(f"{name}: expected a list of token ids (integers), got {v!r}")
    if a.size and (a.min() < -2**31 or a.max() >= 2**31):
        raise InvalidArgument(f"{name}: a token id does not fit 32 bits")
    return np.ascontiguousarray(a, dtype=np.int32)


class Built:
    """A temper_generate_params and the buffers its pointers borrow."""

    def __init__(self, gp, keep):
        self.params = gp
        self.keep = keep


def build(base, kwargs, allow=None):
    """Apply kwargs to a copy of base (a temper_generate_params). allow: the
    names accepted besides the table's (None: LIST_KEYS). Returns a Built."""
    gp = type(base).from_buffer_copy(base)
    keep = []
    allow = LIST_KEYS if allow is None else allow
    given = {k: v for k, v in kwargs.items() if v is not None}
    sample_implied = False
    for key, v in given.items():
        if key in allow:
            continue
        d = lib.temper_param_find(key.encode())
        if not d:
            raise InvalidArgument(f"unknown generation parameter '{key}': the parameters are "
                                  + ", ".join(t["name"] for t in table()) + ", "
                                  + ", ".join(sorted(allow)))
        if isinstance(v, str) and d.contents.name.decode() == "early_stopping":
            continue  # "never", below
        x = _number(key, v)
        check(lib.temper_param_set(ctypes.byref(gp), d, x))
        if d.contents.type == 3 and isinstance(v, (numbers.Integral, np.integer)):
            gp.seed = int(v)  # exact: a double cannot hold every 64-bit seed
        if d.contents.warper and "do_sample" not in given:
            sample_implied = True  # the table's rule: asking for a warper is asking for sampling
    es = given.get("early_stopping")
    if isinstance(es, str):
        if es != "never":
            raise InvalidArgument(f'early_stopping: True, False or "never", got {es!r}')
        check(lib.temper_param_set(ctypes.byref(gp), lib.temper_param_find(b"early_stopping"), 2))
    if sample_implied:
        gp.sampling.do_sample = 1
    if "eos_token_id" in given and "eos_token_id" in allow:
        a = ids_array("eos_token_id", given["eos_token_id"])
        keep.append(a)
        gp.eos_ids, gp.n_eos = a.ctypes.data_as(token_p), len(a)
    if "suppress_tokens" in given and "suppress_tokens" in allow:
        a = ids_array("suppress_tokens", given["suppress_tokens"])
        keep.append(a)
        gp.sampling.suppress_tokens, gp.sampling.n_suppress = a.ctypes.data_as(token_p), len(a)
    if "logit_bias" in given and "logit_bias" in allow:
        lb = given["logit_bias"]
        if not isinstance(lb, dict):
            raise InvalidArgument(f"logit_bias: expected a dict {{id: bias}}, got {lb!r}")
        arr = (LogitBias * max(1, len(lb)))()
        for i, (k, b) in enumerate(lb.items()):
            if isinstance(k, str) and k.lstrip("-").isdigit():
                k = int(k)  # JSON-style keys
            if not isinstance(k, (numbers.Integral, np.integer)):
                raise InvalidArgument(f"logit_bias: key {k!r} is not a token id")
            arr[i].id = int(k)
            arr[i].bias = float("-inf") if b is False else _number("logit_bias", b)
        keep.append(arr)
        gp.sampling.logit_bias, gp.sampling.n_logit_bias = arr, len(lb)
    if "stop" in given and "stop" in allow:
        s = given["stop"]
        s = [s] if isinstance(s, str) else list(s)
        if not all(isinstance(x, str) for x in s):
            raise InvalidArgument(f"stop: expected a string or a list of strings, got {s!r}")
        arr = (ctypes.c_char_p * max(1, len(s)))(*[x.encode() for x in s])
        keep.append(arr)
        gp.stop, gp.n_stop = arr, len(s)
    if "sampler_order" in given and "sampler_order" in allow:
        order = {"hf": 0, "llama.cpp": 1, "llama_cpp": 1}.get(given["sampler_order"])
        if order is None:
            raise InvalidArgument(f'sampler_order: "hf" or "llama.cpp", got {given["sampler_order"]!r}')
        gp.sampling.order = order
    if "samplers" in given and "samplers" in allow:
        b = given["samplers"]
        b = ",".join(b) if isinstance(b, (list, tuple)) else b
        if not isinstance(b, str):
            raise InvalidArgument(f"samplers: expected a string, got {b!r}")
        b = b.encode()
        keep.append(b)
        gp.sampling.samplers = b
    if "first_stream" in given and "first_stream" in allow:
        v = given["first_stream"]
        if not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, bool) or v < 0:
            raise InvalidArgument(f"first_stream: expected a whole number >= 0, got {v!r}")
        gp.first_stream = int(v)
    return Built(gp, keep)
