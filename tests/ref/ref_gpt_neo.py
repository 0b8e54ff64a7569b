"""ref_gpt_neo.py - an independent numpy forward pass of GPT-Neo, in float64.

Written from transformers' GPTNeoForCausalLM (modeling_gpt_neo.py) semantics:

    x_0 = wte[ids] + wpe[0..T)                                   (T, C)
    block l (pre-LN):
        a = LN(x; ln_1)
        q, k, v = a Wq^T, a Wk^T, a Wv^T     nn.Linear (out, in), NO bias
        per head: P = softmax(q k^T + mask)   NO 1/sqrt(hd) scaling
            mask: causal; for a "local" layer also key j > i - window_size
            (GPTNeoSelfAttention: bias ^= tril(bias, -window_size))
        x = x + concat_h(P v) Wo^T + bo
        m = LN(x; ln_2)
        x = x + gelu_new(m Wfc^T + bfc) Wproj^T + bproj
    logits = LN(x; ln_f) @ wte^T  (lm_head tied)

    layer kinds: attention_types [[kinds, n], ...] expanded as
    sum(kinds * n for kinds, n in attention_types).

Also the windowed causal attention the other references use.
Nothing here is shared with the C engine.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import gelu_new, layer_norm, load_config, load_weights, softmax_rows  # noqa: E402


def window_attention(q, k, v, scale, window=0, softcap=None):
    """q (H, T, hd), k/v (Hkv, T, hd), positions 0..T-1. Query i sees keys
    j <= i, and with window W > 0 only those with i - j < W (W keys, itself
    included). softcap: scores -> softcap * tanh(scores / softcap) before
    the mask. Returns out (H, T, hd), probs (H, T, T)."""
    H, T, _ = q.shape
    rep = H // k.shape[0]
    k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
    s = np.einsum("hid,hjd->hij", q, k) * scale
    if softcap:
        s = softcap * np.tanh(s / softcap)
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    allowed = j <= i
    if window:
        allowed &= (i - j) < window
    p = softmax_rows(np.where(allowed, s, -np.inf))
    return np.einsum("hij,hjd->hid", p, v), p


def expand_attention_types(types):
    out = []
    for kinds, n in types:
        out += list(kinds) * n
    return out


class GPTNeo:
    def __init__(self, model_dir):
        self.cfg = c = load_config(model_dir)
        if c.get("model_type") != "gpt_neo":
            raise ValueError("not a gpt_neo model: %r" % c.get("model_type"))
        w = load_weights(model_dir)
        self.w = {(k[len("transformer."):] if k.startswith("transformer.") else k): v for k, v in w.items()}
        self.n_layer, self.n_head, self.n_embd = c["num_layers"], c["num_heads"], c["hidden_size"]
        self.eps = c.get("layer_norm_epsilon", 1e-5)
        self.window = c.get("window_size", 256)
        self.kinds = expand_attention_types(c["attention_types"])
        if len(self.kinds) != self.n_layer:
            raise ValueError("attention_types gives %d layers" % len(self.kinds))
        if c.get("activation_function", "gelu_new") != "gelu_new":
            raise ValueError("reference: activation %r" % c.get("activation_function"))
        self.n_ctx = c.get("max_position_embeddings", 2048)
        self.head = self.w["wte.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As ref_gpt2.GPT2.forward."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        C, H, L = self.n_embd, self.n_head, self.n_layer
        hd = C // H
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        x = self.t("wte.weight")[ids] + self.t("wpe.weight")[:T]
        attn, hidden = [], [x.copy()]
        for l in range(L):
            p = "h.%d." % l
            a = layer_norm(x, self.t(p + "ln_1.weight"), self.t(p + "ln_1.bias"), self.eps)
            heads = [(a @ self.t(p + "attn.attention.%s_proj.weight" % n).T).reshape(T, H, hd).transpose(1, 0, 2)
                     for n in "qkv"]
            window = self.window if self.kinds[l] == "local" else 0
            o, probs = window_attention(*heads, 1.0, window)
            if want_attn:
                attn.append(probs)
            o = o.transpose(1, 0, 2).reshape(T, C)
            x = x + o @ self.t(p + "attn.attention.out_proj.weight").T + self.t(p + "attn.attention.out_proj.bias")
            m = layer_norm(x, self.t(p + "ln_2.weight"), self.t(p + "ln_2.bias"), self.eps)
            f = gelu_new(m @ self.t(p + "mlp.c_fc.weight").T + self.t(p + "mlp.c_fc.bias"))
            x = x + f @ self.t(p + "mlp.c_proj.weight").T + self.t(p + "mlp.c_proj.bias")
            hidden.append(x.copy())
        xf = layer_norm(x, self.t("ln_f.weight"), self.t("ln_f.bias"), self.eps)
        rows = xf if out_rows is None else xf[np.asarray(out_rows)]
        out = {"logits": rows @ np.asarray(self.head, dtype=np.float64).T}
        if want_attn:
            out["attn"] = np.stack(attn)
        if want_hidden:
            out["hidden"] = np.stack(hidden)
            out["hidden_hf"] = np.stack(hidden[:-1] + [xf])
        return out
