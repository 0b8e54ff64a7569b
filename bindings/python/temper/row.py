"""row.py - softmax and the decoding stages on one row of logits (a numpy
array or a list), computed by the library's sampler: seeds 002 and 003's
softmax-with-temperature tables without a model."""
import ctypes

import numpy as np

from . import _params
from ._errors import InvalidArgument, check
from ._lib import Candidate, NextTokenInfo, lib, token_p

_f32p = ctypes.POINTER(ctypes.c_float)


class Processed:
    """A row after the decoding stages: scores ((V) float32, -inf for the
    tokens removed: transformers' output_scores), probs ((V) float64, the
    distribution sampling draws from), logprobs, stages (the stages that
    ran, in order), n_kept."""

    def __init__(self, scores, logprobs, stages, n_kept):
        self.scores, self.logprobs = scores, logprobs
        self.probs = np.exp(logprobs)
        self.stages, self.n_kept = stages, n_kept

    def __repr__(self):
        return f"Processed(stages={self.stages!r}, n_kept={self.n_kept}, probs={self.probs!r})"


def _row(logits):
    try:
        a = np.ascontiguousarray(logits, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgument(f"logits: expected numbers, got {logits!r}") from None
    if a.ndim != 1 or a.size == 0:
        raise InvalidArgument(f"logits: expected one row of numbers, got shape {a.shape}")
    return a


def process(logits, history=None, **kwargs):
    """Run the decoding stages that kwargs ask for (transformers' names:
    temperature, top_k, top_p, min_p, typical_p, repetition_penalty, ...;
    sampling is implied) over one row of logits. history: the ids before
    this step (for the penalties and no_repeat_ngram_size). Unlike
    generate(), top_k is off unless given."""
    a = _row(logits)
    base = lib.temper_generate_default_params()
    base.sampling.top_k = 0
    built = _params.build(base, kwargs, allow={"logit_bias", "suppress_tokens", "sampler_order",
                                               "samplers"})
    sp = built.params.sampling
    sp.do_sample = 1
    hist = _params.ids_array("history", [] if history is None else history)
    V = len(a)
    h = ctypes.c_void_p()
    check(lib.temper_sampler_init(ctypes.byref(sp), V, ctypes.byref(h)))
    try:
        check(lib.temper_sampler_apply(h, a.ctypes.data_as(_f32p), hist.ctypes.data_as(token_p),
                                       len(hist), len(hist)))
        n = lib.temper_sampler_describe(h, None, 0)
        buf = ctypes.create_string_buffer(n + 1)
        lib.temper_sampler_describe(h, buf, n + 1)
        scores = np.empty(V, dtype=np.float32)
        check(lib.temper_sampler_scores(h, scores.ctypes.data_as(_f32p)))
        cand = (Candidate * V)()
        info = NextTokenInfo()
        check(lib.temper_next_token_table(a.ctypes.data_as(_f32p), V, h, V, cand,
                                          ctypes.byref(info)))
    finally:
        lib.temper_sampler_free(h)
    lp = np.empty(V, dtype=np.float64)
    for c in cand:
        lp[c.id] = c.logprob_processed
    return Processed(scores, lp, buf.value.decode(), info.n_kept)


def softmax(logits, temperature=1.0):
    """softmax(logits / temperature) in double (float64 array), computed by
    the library's temperature stage; temperature 0 gives the limit T -> 0
    (the largest logits share the mass)."""
    a = _row(logits)
    t = _params._number("temperature", temperature)
    if t == 0:
        top = a == a.max()
        return top / top.sum()
    return process(a, temperature=t).probs
