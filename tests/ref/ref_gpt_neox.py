"""ref_gpt_neox.py - an independent numpy forward pass of GPT-NeoX (Pythia),
in float64.

Written from transformers' GPTNeoXForCausalLM (modeling_gpt_neox.py)
semantics:

    x = embed_in[ids]                                            (T, C)
    block l:
        a = LN(x; input_layernorm)
        qkv = a Wqkv^T + bqkv, viewed (T, H, 3 hd): per head [q | k | v]
        rotary on the first r = int(hd * rotary_pct) values of q and k:
            inv_freq_i = base^(-2i / r), i < r/2; angle = p * inv_freq_i,
            pairs (i, i + r/2) rotated (rotate_half), the rest passed through
        o = softmax(q k^T / sqrt(hd) + causal mask) v, heads concatenated
        attn = o Wdense^T + bdense
        use_parallel_residual:
            x = x + attn + mlp(LN(x; post_attention_layernorm))
        else:
            x = x + attn;  x = x + mlp(LN(x; post_attention_layernorm))
        mlp(m) = act(m Wup^T + bup) Wdown^T + bdown, act "gelu" = exact erf GELU
    logits = LN(x; final_layer_norm) @ embed_out^T (untied)

Nothing here is shared with the C engine.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import gelu_new, layer_norm, load_config, load_weights  # noqa: E402
from ref_gpt_neo import window_attention  # noqa: E402

_erf = np.vectorize(math.erf)


def gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def partial_rotary(x, r, base):
    """x (H, T, hd) at positions 0..T-1: rotate-half RoPE on x[..., :r]."""
    T = x.shape[1]
    inv = 1.0 / base ** (np.arange(0, r, 2, dtype=np.float64) / r)
    ang = np.outer(np.arange(T, dtype=np.float64), inv)
    cos, sin = np.cos(ang), np.sin(ang)
    a, b, rest = x[..., :r // 2], x[..., r // 2:r], x[..., r:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin, rest], axis=-1)


class GPTNeoX:
    def __init__(self, model_dir):
        self.cfg = c = load_config(model_dir)
        if c.get("model_type") != "gpt_neox":
            raise ValueError("not a gpt_neox model: %r" % c.get("model_type"))
        w = load_weights(model_dir)
        self.w = {(k[len("gpt_neox."):] if k.startswith("gpt_neox.") else k): v for k, v in w.items()}
        self.n_layer, self.n_head, self.n_embd = c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"]
        self.eps = c.get("layer_norm_eps", 1e-5)
        self.rot = int(self.n_embd // self.n_head * c.get("rotary_pct", 0.25))
        self.base = c.get("rotary_emb_base", 10000)
        self.parallel = c.get("use_parallel_residual", True)
        act = c.get("hidden_act", "gelu")
        self.act = gelu_erf if act == "gelu" else gelu_new if act in ("gelu_new", "gelu_fast") else None
        if self.act is None:
            raise ValueError("reference: hidden_act %r" % act)
        self.n_ctx = c.get("max_position_embeddings", 2048)
        self.head = self.w["embed_out.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def lin(self, x, name):
        y = x @ self.t(name + ".weight").T
        return y + self.t(name + ".bias") if name + ".bias" in self.w else y

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As ref_gpt2.GPT2.forward."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        C, H, L = self.n_embd, self.n_head, self.n_layer
        hd = C // H
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        x = self.t("embed_in.weight")[ids]
        attn, hidden = [], [x.copy()]
        for l in range(L):
            p = "layers.%d." % l
            a = layer_norm(x, self.t(p + "input_layernorm.weight"), self.t(p + "input_layernorm.bias"), self.eps)
            qkv = self.lin(a, p + "attention.query_key_value").reshape(T, H, 3 * hd).transpose(1, 0, 2)
            q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
            q, k = partial_rotary(q, self.rot, self.base), partial_rotary(k, self.rot, self.base)
            o, probs = window_attention(q, k, v, 1.0 / math.sqrt(hd))
            if want_attn:
                attn.append(probs)
            att = self.lin(o.transpose(1, 0, 2).reshape(T, C), p + "attention.dense")

            def mlp(inp):
                m = layer_norm(inp, self.t(p + "post_attention_layernorm.weight"),
                               self.t(p + "post_attention_layernorm.bias"), self.eps)
                return self.lin(self.act(self.lin(m, p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
            if self.parallel:
                x = x + att + mlp(x)
            else:
                x = x + att
                x = x + mlp(x)
            hidden.append(x.copy())
        xf = layer_norm(x, self.t("final_layer_norm.weight"), self.t("final_layer_norm.bias"), self.eps)
        rows = xf if out_rows is None else xf[np.asarray(out_rows)]
        out = {"logits": rows @ np.asarray(self.head, dtype=np.float64).T}
        if want_attn:
            out["attn"] = np.stack(attn)
        if want_hidden:
            out["hidden"] = np.stack(hidden)
            out["hidden_hf"] = np.stack(hidden[:-1] + [xf])
        return out
