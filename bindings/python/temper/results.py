"""results.py - what the Model's calls return: small objects holding plain
Python values and numpy arrays, with a text form (__repr__), a notebook
form (_repr_html_, display.py) and .plot() when matplotlib is installed.
"""
import math

import numpy as np

from . import display


class NextTokenTable:
    """The next-token table of a prompt: .rows is a list of dicts (rank,
    id, token, logit, prob, logprob, prob_processed, logprob_processed),
    most likely first; .entropy (nats) and .entropy_processed; .stages, the
    decoding stages that made the processed column ("" when none)."""

    def __init__(self, prompt_ids, rows, n_vocab, entropy, entropy_processed, n_kept, stages):
        self.prompt_ids = prompt_ids
        self.rows = rows
        self.n_vocab = n_vocab
        self.entropy = entropy
        self.entropy_processed = entropy_processed
        self.n_kept = n_kept
        self.stages = stages

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        lines = [f"{'rank':>4}  {'token':<16} {'id':>6} {'logit':>9} {'prob':>8}"
                 + (f" {'processed':>9}" if self.stages else "")]
        for r in self.rows:
            line = (f"{r['rank']:>4}  {r['token']!r:<16} {r['id']:>6} {r['logit']:>9.4f} "
                    f"{r['prob']:>8.4f}")
            if self.stages:
                line += f" {r['prob_processed']:>9.4f}"
            lines.append(line)
        lines.append(f"entropy {self.entropy:.4f} nats"
                     + (f", after {self.stages}: {self.entropy_processed:.4f}" if self.stages else ""))
        return "\n".join(lines)

    def _repr_html_(self):
        return display.next_token_html(self)

    def plot(self, ax=None):
        return display.plot_next_token(self, ax)


class GeneratedToken:
    """One generated token: id, text (decoded alone), logprob and
    logprob_processed (raw and after the decoding stages), top (the n_probs
    best alternatives by raw log-prob: dicts id, token, logprob,
    logprob_processed)."""
    __slots__ = ("id", "text", "logprob", "logprob_processed", "top")

    def __init__(self, id, text, logprob, logprob_processed, top):
        self.id, self.text, self.logprob = id, text, logprob
        self.logprob_processed, self.top = logprob_processed, top

    @property
    def prob(self):
        return math.exp(self.logprob)

    def __repr__(self):
        return f"GeneratedToken(id={self.id}, text={self.text!r}, prob={self.prob:.4f})"


class StreamedToken(GeneratedToken):
    """A token as stream() yields it: a GeneratedToken with .piece (the
    newly completed text) and .finish_reason (None until the last one)."""
    __slots__ = ("piece", "finish_reason")

    def __init__(self, id, text, logprob, logprob_processed, top, piece, finish_reason):
        super().__init__(id, text, logprob, logprob_processed, top)
        self.piece, self.finish_reason = piece, finish_reason


class Sequence:
    """One generated sequence: text (special tokens left out), ids,
    finish_reason ("eos", "length", "stop", "context", "canceled"),
    tokens (GeneratedToken each), score (beam search; else None),
    sum_logprob."""

    def __init__(self, text, ids, finish_reason, tokens, score, sum_logprob):
        self.text, self.ids, self.finish_reason = text, ids, finish_reason
        self.tokens, self.score, self.sum_logprob = tokens, score, sum_logprob

    @property
    def logprobs(self):
        """(n) raw log-probabilities of the generated tokens."""
        return np.array([t.logprob for t in self.tokens], dtype=np.float64)

    def __repr__(self):
        return f"Sequence(text={self.text!r}, finish_reason={self.finish_reason!r})"

    def _repr_html_(self):
        return display.sequence_html(self)

    def plot(self, ax=None):
        return display.plot_sequence(self, ax)


class Generation(list):
    """The sequences of one generate() call (a list, best first under beam
    search), with .prompt_ids, .settings (the mode and the parameters as
    the library applied them), .n_steps, .n_forward, .prompt_seconds,
    .decode_seconds. .text is the first sequence's text."""

    def __init__(self, seqs, prompt_ids, settings, n_steps, n_forward, prompt_seconds,
                 decode_seconds):
        super().__init__(seqs)
        self.prompt_ids, self.settings = prompt_ids, settings
        self.n_steps, self.n_forward = n_steps, n_forward
        self.prompt_seconds, self.decode_seconds = prompt_seconds, decode_seconds

    @property
    def text(self):
        return self[0].text if self else ""

    def __repr__(self):
        return "Generation(" + ", ".join(repr(s.text) for s in self) + ")"

    def _repr_html_(self):
        return display.generation_html(self)


class Score:
    """Sequence score of a text (as transformers' model(ids, labels=ids)):
    log_prob, power_score (alpha log p), temp_score (log-prob under
    softmax(z / T)), mean_log_prob, perplexity, n_tokens, n_scored, and per
    token ids, logprobs and temp_logprobs (NaN for the first token)."""

    def __init__(self, text, ids, tokens, alpha, temperature, s, logprobs, temp_logprobs):
        self.text, self.ids, self.tokens = text, ids, tokens
        self.alpha, self.temperature = alpha, temperature
        self.n_tokens, self.n_scored = s.n_tokens, s.n_scored
        self.log_prob, self.power_score, self.temp_score = s.log_prob, s.power_score, s.temp_score
        self.mean_log_prob, self.perplexity = s.mean_log_prob, s.perplexity
        self.logprobs, self.temp_logprobs = logprobs, temp_logprobs

    def __repr__(self):
        return (f"Score({self.text!r}: log_prob={self.log_prob:.4f}, power={self.power_score:.4f}, "
                f"temp={self.temp_score:.4f}, perplexity={self.perplexity:.4f})")

    def _repr_html_(self):
        return display.scores_html([self])


class ScorePair:
    """Two scored texts a, b and the gaps a - b of each score."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.gap_log_prob = a.log_prob - b.log_prob
        self.gap_power = a.power_score - b.power_score
        self.gap_temp = a.temp_score - b.temp_score

    def __repr__(self):
        return (f"ScorePair(gap log_prob={self.gap_log_prob:.4f}, power={self.gap_power:.4f}, "
                f"temp={self.gap_temp:.4f})")

    def _repr_html_(self):
        return display.pairs_html([self])


class ScorePairs(list):
    """A list of ScorePair, shown as seed 000's table."""

    def __repr__(self):
        return display.pairs_text(self)

    def _repr_html_(self):
        return display.pairs_html(self)


class Perplexity:
    """Sliding-window perplexity (transformers' guide): perplexity, nll,
    token_perplexity, token_nll, nll_stderr, perplexity_stderr, n_tokens,
    n_scored, max_length, stride, windows (dicts begin, end, trg_len,
    n_scored, weight, nll), token_nlls ((n) array, NaN where not scored)."""

    def __init__(self, r, windows, token_nlls):
        for k in ("n_tokens", "n_windows", "max_length", "stride", "nll", "perplexity", "n_scored",
                  "token_nll", "token_perplexity", "nll_stderr", "perplexity_stderr"):
            setattr(self, k, getattr(r, k))
        self.windows = windows
        self.token_nlls = token_nlls

    def __repr__(self):
        return (f"Perplexity({self.perplexity:.4f}: {self.n_tokens} tokens, {self.n_windows} windows "
                f"of {self.max_length} by {self.stride})")


class PowerSample:
    """A continuation sampled from p(x)^alpha: text, ids, finish_reason,
    log_p, forward_tokens, proposals / accepted (MH), acceptance_rate, ess
    (SMC: (n) array), resamples."""

    def __init__(self, text, ids, finished_eos, r, ess):
        self.text, self.ids = text, ids
        self.finish_reason = "eos" if finished_eos else "length"
        self.log_p, self.forward_tokens = r.log_p, r.forward_tokens
        self.proposals, self.accepted, self.resamples = r.n_proposals, r.n_accepted, r.n_resamples
        self.ess = ess

    @property
    def acceptance_rate(self):
        return self.accepted / self.proposals if self.proposals else None

    def __repr__(self):
        return f"PowerSample(text={self.text!r}, log_p={self.log_p:.4f})"


class Attention(np.ndarray):
    """Attention probabilities (L, H, n, n) as a numpy array, with .tokens
    (the decoded text of each position) and .layers (the layer of each
    entry of axis 0); shown as heatmaps in a notebook."""

    def __new__(cls, arr, tokens, layers):
        obj = np.asarray(arr).view(cls)
        obj.tokens, obj.layers = tokens, layers
        return obj

    def __array_finalize__(self, obj):
        self.tokens = getattr(obj, "tokens", None)
        self.layers = getattr(obj, "layers", None)

    def _repr_html_(self):
        if self.ndim != 4:
            return None
        return display.attention_html(self)

    def plot(self, layer=0, head=0, ax=None):
        return display.plot_attention(self, layer, head, ax)
