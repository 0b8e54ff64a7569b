"""model.py - temper.Model (a loaded model, its tokenizer and the calls of
a notebook: logits, next-token tables, generation, scores, attention,
hidden states) and temper.Context (a KV cache for incremental use).

Handles are freed by close(), by `with`, or when the object is garbage
collected. Arrays come back as numpy arrays that the library wrote into
directly (the one copy out of the engine).
"""
import ctypes
import threading
import weakref

import numpy as np

from . import _params
from ._errors import InvalidArgument, StateError, check, error
from ._lib import (Candidate, ContextParams, Generation as CGeneration, ModelInfo, NextTokenInfo,
                   PerplexityResult, PowerResult, PplWindow, ProjectInfo, SequenceScore, TOKEN_CALLBACK,
                   TokenizerInfo, lib, token_p)
from . import results

_f32p = ctypes.POINTER(ctypes.c_float)
_f64p = ctypes.POINTER(ctypes.c_double)
_ADD_SPECIAL, _SKIP_SPECIAL, _ALL_LOGITS = 1, 1, 1


def _ptr(a, t=token_p):
    return a.ctypes.data_as(t)


class Tokenizer:
    """The model's tokenizer (borrowed from the model: valid while it is
    open). Encodes as Hugging Face tokenizers does."""

    def __init__(self, model):
        self._model = model

    @property
    def _h(self):
        return lib.temper_model_tokenizer(self._model._handle())

    @property
    def info(self):
        i = TokenizerInfo()
        lib.temper_tokenizer_get_info(self._h, ctypes.byref(i))
        return {"model": i.model.decode(), "source": i.source.decode(), "n_vocab": i.n_vocab,
                "n_added": i.n_added, "bos_id": i.bos_id, "eos_id": i.eos_id, "unk_id": i.unk_id,
                "pad_id": i.pad_id, "prefix": list(i.prefix[:i.n_prefix]),
                "suffix": list(i.suffix[:i.n_suffix])}

    @property
    def vocab_size(self):
        return lib.temper_tokenizer_n_vocab(self._h)

    def encode(self, text, add_special_tokens=True, offsets=False):
        """Token ids of text (list of int); with offsets=True, also the byte
        range (start, end) of each id in the UTF-8 text."""
        if not isinstance(text, str):
            raise InvalidArgument(f"text: expected a str, got {type(text).__name__}")
        b = text.encode("utf-8", "surrogatepass")
        ids = token_p()
        offs = ctypes.POINTER(ctypes.c_int32)()
        n = check(lib.temper_tokenize_alloc(self._h, b, len(b), _ADD_SPECIAL if add_special_tokens else 0,
                                            ctypes.byref(ids), ctypes.byref(offs) if offsets else None))
        try:
            out = ids[:n]
            if offsets:
                o = offs[:2 * n]
                return out, [(o[2 * i], o[2 * i + 1]) for i in range(n)]
            return out
        finally:
            lib.temper_free(ids)
            if offsets:
                lib.temper_free(offs)

    def decode(self, ids, skip_special_tokens=False):
        a = _params.ids_array("ids", ids)
        flags = _SKIP_SPECIAL if skip_special_tokens else 0
        n = check(lib.temper_detokenize(self._h, _ptr(a), len(a), flags, None, 0))
        buf = ctypes.create_string_buffer(n + 1)
        check(lib.temper_detokenize(self._h, _ptr(a), len(a), flags, buf, n + 1))
        return buf.raw[:n].decode("utf-8", "replace")

    def piece(self, id):
        """The token's string in the vocabulary ("Ġhello"), as
        tokenizer.convert_ids_to_tokens shows it."""
        s = lib.temper_token_text(self._h, int(id))
        if s is None:
            raise InvalidArgument(f"token id {id} is outside the vocabulary [0, {self.vocab_size})")
        return s.decode("utf-8", "replace")

    def token_bytes(self, id):
        n = check(lib.temper_token_bytes(self._h, int(id), None, 0))
        buf = ctypes.create_string_buffer(n + 1)
        check(lib.temper_token_bytes(self._h, int(id), buf, n + 1))
        return buf.raw[:n]

    def is_special(self, id):
        return bool(lib.temper_token_is_special(self._h, int(id)))


class Context:
    """A KV cache of n_seq sequence slots on a model, for incremental use:
    ctx.eval(ids) appends tokens to a slot and returns the logits of the
    last one (or of every one with all_logits=True). A context belongs to
    one thread at a time; several contexts of one model may run on several
    threads at once."""

    def __init__(self, model, n_ctx=0, n_seq=1, threads=None):
        self.model = model
        cp = lib.temper_context_default_params()
        cp.n_ctx, cp.n_seq = int(n_ctx), int(n_seq)
        cp.n_threads = int(threads if threads is not None else model.threads or 0)
        h = ctypes.c_void_p()
        check(lib.temper_context_init(model._handle(), ctypes.byref(cp), ctypes.byref(h)))
        self._h = h
        self.n_seq = int(n_seq)
        self._finalizer = weakref.finalize(self, lib.temper_context_free, h)
        model._contexts.add(self)

    def _handle(self):
        if not self._h:
            raise StateError("the context is closed")
        return self._h

    def close(self):
        """Free the KV cache now (also done on garbage collection)."""
        if self._h:
            self._finalizer()
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self.seq_len(0)

    def seq_len(self, seq=0):
        return check(lib.temper_seq_len(self._handle(), int(seq)))

    def reset(self, seq=0, keep=0):
        """Drop every position >= keep of slot seq."""
        check(lib.temper_seq_truncate(self._handle(), int(seq), int(keep)))

    def eval(self, ids, seq=0, all_logits=False):
        """Append ids to slot seq; logits (V) of the last position, or
        (n, V) of every new position with all_logits."""
        a = self.model._ids(ids)
        V = self.model.n_vocab
        out = np.empty((len(a) if all_logits else 1, V), dtype=np.float32)
        if len(a) == 0:
            raise InvalidArgument("ids: no token to evaluate")
        check(lib.temper_eval(self._handle(), int(seq), _ptr(a), len(a), _ptr(out, _f32p),
                              _ALL_LOGITS if all_logits else 0))
        return out if all_logits else out[0]


class Model:
    """A model loaded by libtemper: a Hugging Face folder, a Hub id ("gpt2",
    downloaded into the Hugging Face cache when missing unless offline) or
    a llama2.c checkpoint (with tokenizer= its tokenizer.bin when it is not
    beside it). dtype: None (the file's precision) or "q8". threads: compute
    threads (None: all cores).

    Thread safety: the calls of one Model may come from several threads;
    they share one internal context and take turns (a lock). For work in
    parallel, give each thread its own model.context()."""

    def __init__(self, model, dtype=None, threads=None, tokenizer=None, offline=False,
                 progress=None):
        if not isinstance(model, str):
            model = str(model) if hasattr(model, "__fspath__") else model
        if not isinstance(model, str):
            raise InvalidArgument(f"model: expected a folder, a Hub id or a file, got {model!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 0):
            raise InvalidArgument(f"threads: expected a whole number >= 0, got {threads!r}")
        mp = lib.temper_model_default_params()
        keep = []
        if tokenizer is not None:
            keep.append(str(tokenizer).encode())
            mp.tokenizer_path = keep[-1]
        if dtype is not None:
            keep.append(str(dtype).encode())
            mp.quantize = keep[-1]
        mp.offline = 1 if offline else 0
        cb = None
        if progress is not None:
            from .hub import _pull_callback
            cb = _pull_callback(progress)
            mp.progress = ctypes.cast(cb, ctypes.c_void_p)
        h = ctypes.c_void_p()
        rc = lib.temper_model_load(model.encode(), ctypes.byref(mp), ctypes.byref(h))
        if rc < 0:
            raise error(rc)
        self._h = h
        self.name = model
        self.threads = threads
        self._contexts = weakref.WeakSet()
        self._lock = threading.RLock()
        self._ctx = None
        self._finalizer = weakref.finalize(self, lib.temper_model_free, h)
        self.tokenizer = Tokenizer(self)
        i = ModelInfo()
        lib.temper_model_get_info(h, ctypes.byref(i))
        self.info = {"arch": i.arch.decode(), "path": i.path.decode(), "dtype": i.dtype.decode(),
                     "n_layer": i.n_layer, "n_head": i.n_head, "n_kv_head": i.n_kv_head,
                     "n_embd": i.n_embd, "n_ff": i.n_ff, "n_ctx": i.n_ctx, "n_vocab": i.n_vocab,
                     "n_params": i.n_params, "file_bytes": i.file_bytes,
                     "load_seconds": i.load_seconds, "bos_id": i.bos_id, "eos_id": i.eos_id,
                     "settings": (i.settings or b"").decode()}
        self.n_vocab, self.n_ctx = i.n_vocab, i.n_ctx
        self.n_layer, self.n_head, self.n_embd = i.n_layer, i.n_head, i.n_embd

    # ---- lifetime -------------------------------------------------------
    def _handle(self):
        if not self._h:
            raise StateError("the model is closed")
        return self._h

    def close(self):
        """Free the model and every context made on it (also done on garbage
        collection)."""
        with self._lock:
            for c in list(self._contexts):
                c.close()
            self._ctx = None
            if self._h:
                self._finalizer()
                self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"temper.Model({self.name!r}: {self.info['arch']}, {self.n_layer} layers, "
                f"{self.info['n_params']:,} parameters, {self.info['dtype']})")

    def context(self, n_ctx=0, n_seq=1, threads=None):
        """A new Context (KV cache) on this model."""
        return Context(self, n_ctx, n_seq, threads)

    def _context(self, n_seq=1):
        """The internal context with at least n_seq slots (call with the lock)."""
        if self._ctx is None or self._ctx.n_seq < n_seq or not self._ctx._h:
            if self._ctx is not None:
                self._ctx.close()
            self._ctx = None
            self._ctx = Context(self, 0, n_seq)
        return self._ctx

    # ---- tokens ---------------------------------------------------------
    def tokenize(self, text, add_special_tokens=True):
        """Token ids of text, as tokenizer.encode(text) (BOS and the like
        added where the tokenizer's post-processor adds them)."""
        return self.tokenizer.encode(text, add_special_tokens)

    def detokenize(self, ids, skip_special_tokens=False):
        """Text of ids, as tokenizer.decode(ids)."""
        return self.tokenizer.decode(ids, skip_special_tokens)

    def tokens(self, text, add_special_tokens=True):
        """Each token of text: a list of dicts id, piece (the vocabulary
        string, as tokenizer.tokenize shows it), text (its bytes decoded),
        start and end (character offsets into text, as HF's
        offset_mapping), byte_start, byte_end."""
        ids, offs = self.tokenizer.encode(text, add_special_tokens, offsets=True)
        b = text.encode("utf-8", "surrogatepass")
        char_at = np.zeros(len(b) + 1, dtype=np.int64)  # byte offset -> character offset
        pos = 0
        for ci, ch in enumerate(text):
            n = len(ch.encode("utf-8", "surrogatepass"))
            char_at[pos:pos + n] = ci
            pos += n
        char_at[len(b)] = len(text)
        out = []
        for i, (s, e) in zip(ids, offs):
            out.append({"id": i, "piece": self.tokenizer.piece(i),
                        "text": self.tokenizer.token_bytes(i).decode("utf-8", "replace"),
                        "start": int(char_at[s]), "end": int(char_at[e]), "byte_start": s,
                        "byte_end": e})
        return out

    def _ids(self, text_or_ids, add_special_tokens=True):
        """text (tokenized) or ids, as a contiguous int32 array."""
        if isinstance(text_or_ids, str):
            return np.asarray(self.tokenize(text_or_ids, add_special_tokens), dtype=np.int32)
        return _params.ids_array("ids", text_or_ids)

    def _texts(self, ids):
        return [self.tokenizer.decode([i]) for i in ids]

    # ---- logits ---------------------------------------------------------
    def logits(self, text_or_ids):
        """Logits (n, V) float32 of every position of a text or ids, from an
        empty cache (as model(ids).logits[0])."""
        a = self._ids(text_or_ids)
        if len(a) == 0:
            raise InvalidArgument("the text has no token")
        with self._lock:
            ctx = self._context()
            ctx.reset(0)
            return ctx.eval(a, 0, all_logits=True)

    def next_token(self, prompt, top=10, **sampling):
        """The next-token table of prompt: the `top` tokens of largest logit,
        their probabilities raw and after the decoding stages that the
        keyword arguments ask for (temperature, top_k, top_p, min_p, ...:
        transformers' names), and the entropies (seed 004's
        get_next_token_probs)."""
        if not isinstance(top, int) or isinstance(top, bool) or top < 1:
            raise InvalidArgument(f"top: expected a whole number >= 1, got {top!r}")
        a = self._ids(prompt)
        if len(a) == 0:
            raise InvalidArgument("the prompt has no token")
        base = lib.temper_generate_default_params()
        built = _params.build(base, sampling, allow={})
        sp = built.params.sampling
        with self._lock:
            ctx = self._context()
            ctx.reset(0)
            row = ctx.eval(a, 0)
        sampler = None
        stages = ""
        if sampling:
            sp.do_sample = 1  # the warpers too: the distribution sampling draws from
            h = ctypes.c_void_p()
            check(lib.temper_sampler_init(ctypes.byref(sp), self.n_vocab, ctypes.byref(h)))
            sampler = h
        try:
            if sampler:
                check(lib.temper_sampler_apply(sampler, _ptr(row, _f32p), _ptr(a), len(a), len(a)))
                n = lib.temper_sampler_describe(sampler, None, 0)
                buf = ctypes.create_string_buffer(n + 1)
                lib.temper_sampler_describe(sampler, buf, n + 1)
                stages = buf.value.decode()
            k = min(top, self.n_vocab)
            cand = (Candidate * k)()
            info = NextTokenInfo()
            n = check(lib.temper_next_token_table(_ptr(row, _f32p), self.n_vocab, sampler, k, cand,
                                                  ctypes.byref(info)))
        finally:
            if sampler:
                lib.temper_sampler_free(sampler)
        rows = []
        for r in range(n):
            c = cand[r]
            rows.append({"rank": r + 1, "id": c.id, "token": self.tokenizer.decode([c.id]),
                         "piece": self.tokenizer.piece(c.id), "logit": c.logit,
                         "prob": float(np.exp(c.logprob)), "logprob": c.logprob,
                         "prob_processed": float(np.exp(c.logprob_processed)),
                         "logprob_processed": c.logprob_processed})
        return results.NextTokenTable(a.tolist(), rows, info.n_vocab, info.entropy,
                                      info.entropy_processed if sampler else None, info.n_kept,
                                      stages)

    # ---- generation -----------------------------------------------------
    def generation_defaults(self):
        """The parameters generate() starts from: transformers' defaults
        with the model's generation_config.json applied (every EOS id)."""
        gp = lib.temper_generate_default_params()
        check(lib.temper_model_generate_defaults(self._handle(), ctypes.byref(gp), None, 0))
        return {t["name"]: lib.temper_param_get(ctypes.byref(gp),
                                                lib.temper_param_find(t["name"].encode()))
                for t in _params.table()}

    def _gen_params(self, kwargs):
        gp = lib.temper_generate_default_params()
        check(lib.temper_model_generate_defaults(self._handle(), ctypes.byref(gp), None, 0))
        if "seed" not in kwargs or kwargs["seed"] is None:
            kwargs = dict(kwargs, seed=int(lib.temper_random_seed()))
        return _params.build(gp, kwargs)

    def _sequence(self, s, n_top):
        ids = s.ids[:s.n_ids]
        toks = []
        for i in range(s.n_ids):
            p = s.probs[i]
            top = []
            for j in range(n_top):
                t = s.top[i * n_top + j]
                top.append({"id": t.id, "token": self.tokenizer.decode([t.id]), "logprob": t.logprob,
                            "logprob_processed": t.logprob_processed})
            toks.append(results.GeneratedToken(p.id, self.tokenizer.decode([p.id]), p.logprob,
                                               p.logprob_processed, top))
        reason = lib.temper_finish_reason_name(s.finish_reason).decode()
        score = None if np.isnan(s.score) else s.score
        return results.Sequence(self.tokenizer.decode(ids, skip_special_tokens=True), ids, reason,
                                toks, score, s.sum_logprob)

    def _settings(self, gp):
        mode = check(lib.temper_generate_mode(ctypes.byref(gp)))
        st = {}
        for t in _params.table():
            v = lib.temper_param_get(ctypes.byref(gp), lib.temper_param_find(t["name"].encode()))
            st[t["name"]] = (v if t["type"] == "float" else bool(v) if t["type"] == "bool"
                             else int(v))
        st["seed"] = gp.seed  # exact: a double cannot hold every 64-bit seed
        st["mode"] = lib.temper_generate_mode_name(mode).decode()
        st["eos_token_id"] = [gp.eos_ids[i] for i in range(gp.n_eos)] if gp.eos_ids else []
        return st

    def generate(self, prompt, max_new_tokens=None, **kwargs):
        """Continue prompt (text or ids) with transformers' generate
        semantics: greedy, sampling or beam search, every decoding control
        as a keyword argument (do_sample, temperature, top_k, top_p, min_p,
        typical_p, epsilon_cutoff, eta_cutoff, repetition_penalty,
        no_repeat_ngram_size, num_beams, length_penalty, early_stopping,
        num_return_sequences, seed, n_probs, stop, eos_token_id,
        logit_bias, suppress_tokens, ...). Defaults: the model's
        generation_config.json, else transformers'. Giving a sampling
        control (temperature, top_k, ...) without do_sample turns sampling
        on. seed=None draws one (Generation.settings["seed"] says which).
        Returns a Generation (a list of Sequence)."""
        a = self._ids(prompt)
        if len(a) == 0:
            raise InvalidArgument("the prompt has no token")
        built = self._gen_params(dict(kwargs, max_new_tokens=max_new_tokens))
        gp = built.params
        settings = self._settings(gp)
        n_slots = max(gp.num_return_sequences, gp.num_beams)
        out = ctypes.POINTER(CGeneration)()
        with self._lock:
            ctx = self._context(n_slots)
            rc = lib.temper_generate(ctx._handle(), _ptr(a), len(a), ctypes.byref(gp),
                                     ctypes.byref(out))
            if rc < 0:
                raise error(rc)
        try:
            g = out.contents
            seqs = [self._sequence(g.seqs[i], g.n_top) for i in range(g.n_seqs)]
            return results.Generation(seqs, a.tolist(), settings, g.n_steps, g.n_forward,
                                      g.prompt_seconds, g.decode_seconds)
        finally:
            lib.temper_generation_free(out)

    def stream(self, prompt, max_new_tokens=None, **kwargs):
        """generate() one token at a time: yields a GeneratedToken per new
        token as it is produced, with .piece (the newly completed text:
        the pieces join into the sequence's text) and .finish_reason (None
        until the last token). Greedy or sampling, one sequence. Closing
        the generator cancels the request."""
        a = self._ids(prompt)
        if len(a) == 0:
            raise InvalidArgument("the prompt has no token")
        built = self._gen_params(dict(kwargs, max_new_tokens=max_new_tokens))
        gp = built.params
        if gp.num_beams != 1 or gp.num_return_sequences != 1:
            raise InvalidArgument("stream: one sequence without beams (num_beams = 1, "
                                  "num_return_sequences = 1); use generate() for more")
        pending = []

        def on_token(ev, user):
            e = ev.contents
            top = [{"id": e.top[j].id, "token": self.tokenizer.decode([e.top[j].id]),
                    "logprob": e.top[j].logprob, "logprob_processed": e.top[j].logprob_processed}
                   for j in range(e.n_top)]
            piece = ctypes.string_at(e.piece, e.piece_len) if e.piece_len else b""
            reason = (lib.temper_finish_reason_name(e.finish_reason).decode()
                      if e.finish_reason else None)
            pending.append(results.StreamedToken(
                e.id, self.tokenizer.decode([e.id]), e.prob.contents.logprob,
                e.prob.contents.logprob_processed, top, piece.decode("utf-8", "replace"), reason))
            return 0

        cb = TOKEN_CALLBACK(on_token)
        gp.on_token = cb
        ctx = Context(self, 0, 1)  # its own slot: the stream may be left half-way
        g = ctypes.c_void_p()
        try:
            check(lib.temper_gen_new(ctx._handle(), 0, _ptr(a), len(a), ctypes.byref(gp), 0,
                                     ctypes.byref(g)))
            arr = (ctypes.c_void_p * 1)(g)
            while True:
                left = lib.temper_gen_step(arr, 1)
                while pending:
                    yield pending.pop(0)
                if left < 0:
                    raise error(left)
                if left == 0:
                    break
        finally:
            if g:
                lib.temper_gen_free(g)
            ctx.close()

    def temperature_sweep(self, prompt, temperatures=(1.0, 0.7, 0.5, 0.1), seed=None, **kwargs):
        """One generate() per temperature with the same seed (seeds 001 and
        004): a dict temperature -> Generation."""
        if seed is None:
            seed = int(lib.temper_random_seed())
        kwargs.setdefault("do_sample", True)
        return {t: self.generate(prompt, temperature=t, seed=seed, **kwargs) for t in temperatures}

    # ---- scores ---------------------------------------------------------
    def _score_bos(self):
        b = ctypes.c_int32()
        check(lib.temper_model_score_bos(self._handle(), ctypes.byref(b)))
        return b.value

    def _scored_ids(self, text, bos):
        a = self._ids(text)
        if bos:
            b = self._score_bos()
            if len(a) == 0 or a[0] != b:  # the tokenizer may have added it (OPT)
                a = np.concatenate([np.array([b], dtype=np.int32), a])
        return a

    def score(self, text, alpha=2.0, temperature=0.5, bos=False):
        """Score a text (or ids, or a list of texts) as transformers'
        model(ids, labels=ids): log p, the power score alpha log p, the
        temperature score (seed 000). bos=True puts the model's BOS (else
        EOS) token first so that the first token is scored too."""
        if isinstance(text, (list, tuple)) and text and isinstance(text[0], str):
            return [self.score(t, alpha, temperature, bos) for t in text]
        a = self._scored_ids(text, bos)
        sp = lib.temper_score_default_params()
        sp.alpha, sp.temperature = float(_params._number("alpha", alpha)), float(
            _params._number("temperature", temperature))
        s = SequenceScore()
        lp = np.empty(len(a), dtype=np.float64)
        tlp = np.empty(len(a), dtype=np.float64)
        with self._lock:
            ctx = self._context()
            check(lib.temper_score_sequence(ctx._handle(), _ptr(a), len(a), ctypes.byref(sp),
                                            ctypes.byref(s), _ptr(lp, _f64p), _ptr(tlp, _f64p)))
        return results.Score(text if isinstance(text, str) else None, a.tolist(),
                             self._texts(a), sp.alpha, sp.temperature, s, lp, tlp)

    def score_pairs(self, pairs, alpha=2.0, temperature=0.5, bos=False):
        """Score each pair (a, b) and the gaps a - b (seed 000's table)."""
        out = results.ScorePairs()
        for p in pairs:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise InvalidArgument(f"pairs: expected pairs of texts, got {p!r}")
            out.append(results.ScorePair(self.score(p[0], alpha, temperature, bos),
                                         self.score(p[1], alpha, temperature, bos)))
        return out

    def perplexity(self, text, max_length=None, stride=None, bos=False):
        """Sliding-window perplexity as transformers' guide computes it
        (max_length: the window, default the context window; stride: how
        far it moves, default max_length)."""
        a = self._scored_ids(text, bos)
        pp = lib.temper_perplexity_default_params()
        for k, v in (("max_length", max_length), ("stride", stride)):
            if v is not None:
                if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                    raise InvalidArgument(f"{k}: expected a whole number >= 1, got {v!r}")
                setattr(pp, k, v)
        r = PerplexityResult()
        nll = np.empty(len(a), dtype=np.float64)
        with self._lock:
            ctx = self._context()
            nw = check(lib.temper_perplexity(ctx._handle(), _ptr(a), len(a), ctypes.byref(pp),
                                             ctypes.byref(r), None, 0, _ptr(nll, _f64p)))
            w = (PplWindow * max(1, nw))()
            check(lib.temper_perplexity(ctx._handle(), _ptr(a), len(a), ctypes.byref(pp),
                                        ctypes.byref(r), w, nw, _ptr(nll, _f64p)))
        windows = [{"begin": x.begin, "end": x.end, "trg_len": x.trg_len, "n_scored": x.n_scored,
                    "weight": x.weight, "nll": x.nll} for x in w[:nw]]
        return results.Perplexity(r, windows, nll)

    # ---- inside the model -----------------------------------------------
    def _capture(self, a, layers, want_attn, want_hidden):
        L, H, C, n = self.n_layer, self.n_head, self.n_embd, len(a)
        if n == 0:
            raise InvalidArgument("the text has no token")
        if layers is None:
            lay = None
            nl = L
        else:
            if isinstance(layers, int):
                layers = [layers]
            lay = np.ascontiguousarray([l + L if isinstance(l, int) and l < 0 else l for l in layers],
                                       dtype=np.int32)
            nl = len(lay)
        attn = np.empty((nl, H, n, n), dtype=np.float32) if want_attn else None
        hidden = np.empty((L + 1, n, C), dtype=np.float32) if want_hidden else None
        logits = np.empty((n, self.n_vocab), dtype=np.float32)
        with self._lock:
            ctx = self._context()
            ctx.reset(0)
            check(lib.temper_eval_capture_layers(
                ctx._handle(), 0, _ptr(a), n, _ptr(logits, _f32p), _ALL_LOGITS,
                _ptr(lay, ctypes.POINTER(ctypes.c_int)) if lay is not None else None,
                nl if lay is not None else -1,
                _ptr(attn, _f32p) if attn is not None else None,
                _ptr(hidden, _f32p) if hidden is not None else None))
        return logits, attn, hidden, (list(range(L)) if lay is None else lay.tolist())

    def attention(self, text, layers=None):
        """Attention probabilities (L, H, n, n) float32 of a text (or ids),
        as transformers' output_attentions; layers: a layer or a list of
        layers (increasing) to keep only those."""
        a = self._ids(text)
        _, attn, _, lay = self._capture(a, layers, True, False)
        return results.Attention(attn, self._texts(a), lay)

    def hidden_states(self, text):
        """Hidden states (L + 1, n, C) float32 of a text (or ids): the
        embeddings, the residual stream after each block, and at L the
        output of the final norm (transformers' output_hidden_states)."""
        a = self._ids(text)
        return self._capture(a, None, False, True)[2]

    def pca(self, text, layer=-1, k=2):
        """PCA of the tokens of one layer of hidden states (scikit-learn's
        PCA(n_components=k).fit_transform): (proj (n, k), explained (k))."""
        h = self.hidden_states(text)
        return pca(h[layer], k)

    def project(self, text, method="pca", layer=-1, **params):
        """A 2-D map of the tokens of one layer of hidden states with PCA,
        t-SNE or UMAP (temper.project): (coords (n, k), info dict)."""
        return project(self.hidden_states(text)[layer], method, **params)

    def run_with_cache(self, text):
        """Logits (n, V) and a dict of activations keyed as TransformerLens
        keys them, without the batch axis: blocks.{l}.hook_resid_pre ((n, C):
        blocks.0's is the embeddings), blocks.{l}.hook_resid_post (for every
        block but the last, whose residual transformers' hidden states do
        not hold), blocks.{l}.attn.hook_pattern ((H, n, n)) and
        ln_final.hook_normalized (the final norm's output)."""
        a = self._ids(text)
        logits, attn, hidden, _ = self._capture(a, None, True, True)
        cache = {}
        for l in range(self.n_layer):
            cache[f"blocks.{l}.hook_resid_pre"] = hidden[l]
            cache[f"blocks.{l}.attn.hook_pattern"] = attn[l]
            if l < self.n_layer - 1:
                cache[f"blocks.{l}.hook_resid_post"] = hidden[l + 1]
        cache["ln_final.hook_normalized"] = hidden[self.n_layer]
        return logits, cache

    # ---- power sampling -------------------------------------------------
    def power_sample(self, prompt, alpha=4.0, method="mh", max_new_tokens=None, seed=None,
                     block_size=None, mcmc_steps=None, particles=None, ess_threshold=None,
                     alpha_ramp_tokens=None, stream=0, ignore_eos=False):
        """A continuation sampled from p(x)^alpha over whole sequences
        (docs/power-sampling.md): method "mh" (Metropolis-Hastings), "smc"
        or "sir"."""
        methods = {"mh": 0, "smc": 1, "sir": 2}
        if method not in methods:
            raise InvalidArgument(f'method: "mh", "smc" or "sir", got {method!r}')
        a = self._ids(prompt)
        if len(a) == 0:
            raise InvalidArgument("the prompt has no token")
        p = lib.temper_power_default_params()
        p.method, p.alpha = methods[method], _params._number("alpha", alpha)
        for k, v in (("max_new_tokens", max_new_tokens), ("block_size", block_size),
                     ("mcmc_steps", mcmc_steps), ("particles", particles),
                     ("alpha_ramp_tokens", alpha_ramp_tokens), ("stream", stream)):
            if v is not None:
                if not isinstance(v, int) or isinstance(v, bool):
                    raise InvalidArgument(f"{k}: expected a whole number, got {v!r}")
                setattr(p, k, v)
        if ess_threshold is not None:
            p.ess_threshold = _params._number("ess_threshold", ess_threshold)
        p.seed = int(lib.temper_random_seed()) if seed is None else int(seed)
        eos = token_p()
        n_eos = lib.temper_model_eos_ids(self._handle(), ctypes.byref(eos))
        if not ignore_eos and n_eos > 0:
            p.eos_ids, p.n_eos = eos, n_eos
        n_slots = 2 if method == "mh" else max(1, p.particles)
        r = PowerResult()
        with self._lock:
            ctx = self._context(n_slots)
            check(lib.temper_power_sample(ctx._handle(), _ptr(a), len(a), ctypes.byref(p),
                                          ctypes.byref(r)))
        try:
            ids = r.ids[:r.n_ids]
            ess = np.array(r.ess[:r.n_ess], dtype=np.float64) if r.n_ess else np.empty(0)
            return results.PowerSample(self.tokenizer.decode(ids, skip_special_tokens=True), ids,
                                       r.finished_eos, r, ess)
        finally:
            lib.temper_power_result_free(ctypes.byref(r))


def pca(x, k=2):
    """PCA of the rows of x ((n, dim)), as scikit-learn's
    PCA(n_components=k).fit_transform(x), in double with LAPACK:
    (proj (n, k) float64, explained variance ratio (k))."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise InvalidArgument(f"pca: expected a 2-D array (points, dims), got shape {a.shape}")
    n, d = a.shape
    proj = np.empty((n, k), dtype=np.float64)
    ex = np.empty(k, dtype=np.float64)
    check(lib.temper_pca(_ptr(a, _f32p), n, d, int(k), _ptr(proj, _f64p), _ptr(ex, _f64p)))
    return proj, ex


def project_parameters():
    """The library's table of projection parameters (temper_project_params_table)
    as a list of dicts (name, flag, help, type, default, min, max, methods)."""
    n = ctypes.c_int()
    t = lib.temper_project_params_table(ctypes.byref(n))
    names = ("pca", "tsne", "umap")
    return [{"name": t[i].name.decode(), "flag": t[i].flag.decode(), "help": t[i].help.decode(),
             "type": ("float", "int", "bool", "seed")[t[i].type], "default": t[i].def_,
             "min": t[i].min, "max": t[i].max,
             "methods": [m for b, m in enumerate(names) if t[i].methods >> b & 1]} for i in range(n.value)]


def project(x, method="pca", threads=None, **params):
    """Map the rows of x ((n, dim)) to n_components (default 2) dimensions
    with method "pca", "tsne" or "umap" (temper_project): (coords (n, k)
    float64, info). Keywords are the library's projection parameters
    (temper.project_parameters(): perplexity, learning_rate, n_iter,
    early_exaggeration, n_neighbors, min_dist, n_epochs, seed,
    n_components); threads (None: one) runs t-SNE and UMAP on a thread pool
    with the same result. info: the method, its parameters as used (the
    automatic values resolved), and explained_variance_ratio (PCA),
    n_iter_run and kl_divergence (t-SNE), a and b (UMAP)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise InvalidArgument(f"project: expected a 2-D array (points, dims), got shape {a.shape}")
    m = check(lib.temper_project_method_parse(str(method).encode()))
    p = lib.temper_project_default_params()
    p.method = m
    for key, v in params.items():
        d = lib.temper_project_param_find(key.encode())
        if not d or key != d[0].name.decode():
            known = ", ".join(q["name"] for q in project_parameters())
            raise InvalidArgument(f"project: unknown parameter {key!r}: the parameters are {known}")
        check(lib.temper_project_param_set(ctypes.byref(p), d, _params._number(key, v)))
    pool = None
    if threads is not None:
        pool = ctypes.c_void_p()
        check(lib.temper_threadpool_new(int(threads), ctypes.byref(pool)))
        p.pool = pool
    n, dim = a.shape
    k = p.n_components
    out = np.empty((n, k), dtype=np.float64)
    ex = np.empty(k, dtype=np.float64)
    info = ProjectInfo()
    try:
        check(lib.temper_project(_ptr(a, _f32p), n, dim, ctypes.byref(p), _ptr(out, _f64p), _ptr(ex, _f64p),
                                 ctypes.byref(info)))
    finally:
        if pool is not None:
            lib.temper_threadpool_free(pool)
    d = {"method": lib.temper_project_method_name(m).decode()}
    for q in project_parameters():
        if m in [("pca", "tsne", "umap").index(x) for x in q["methods"]]:
            d[q["name"]] = getattr(info.used, q["name"])
    if m == 0:
        d["explained_variance_ratio"] = ex.tolist()
    elif m == 1:
        d.update(n_iter_run=info.n_iter, kl_divergence=info.kl_divergence)
    else:
        d.update(a=info.a, b=info.b)
    return out, d
