"""ref_llama.py - an independent numpy forward pass of Llama, in float64.

Written from "LLaMA: Open and Efficient Foundation Language Models" and
RoFormer as transformers' LlamaForCausalLM computes it:

    x = embed_tokens[ids]                                   (T, C)
    block:
        a = rmsnorm(x; input_layernorm)
        q = a Wq^T (T, H, hd); k = a Wk^T, v = a Wv^T (T, Hkv, hd)   nn.Linear (out, in)
        q, k = rope(q), rope(k)
        per head h (kv head h // (H / Hkv)): softmax(q k^T / sqrt(hd) + causal mask) v
        x = x + o Wo^T
        m = rmsnorm(x; post_attention_layernorm)
        x = x + (silu(m Wgate^T) * (m Wup^T)) Wdown^T
    logits = rmsnorm(x; norm) @ lm_head^T  (or embed_tokens^T when tied)

    rmsnorm(x; g) = x / sqrt(mean(x^2) + rms_norm_eps) * g
    rope, rotate-half layout: inv_freq_i = theta^(-2i / hd), i < hd/2;
        angle(p, i) = p * inv_freq_i, cos/sin repeated twice along hd;
        rope(x) = x * cos + rotate_half(x) * sin,
        rotate_half([x1, x2]) = [-x2, x1] (halves of hd)
    (interleaved=True: the llama2.c layout, pairs (2i, 2i+1) instead.)
    silu(x) = x / (1 + exp(-x))

Nothing here is shared with the C engine.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import causal_attention, load_config, load_weights  # noqa: E402


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * g


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope(x, theta, interleaved=False):
    """x (heads, T, hd) at positions 0..T-1, rotated."""
    _, T, hd = x.shape
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)      # (hd/2)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]       # (T, hd/2)
    cos, sin = np.cos(ang), np.sin(ang)
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    h = hd // 2
    a, b = x[..., :h], x[..., h:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def read_llama2c(path):
    """A llama2.c checkpoint (karpathy/llama2.c run.c and export.py) as
    (config dict, {HF Llama name: array}). Layout, all little-endian:

      version 0: 7 int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
        vocab_size (negative: unshared classifier), seq_len; then float32
        token_embedding (V, dim), rms_att (L, dim), wq (L, dim, dim),
        wk (L, kv_dim, dim), wv (L, kv_dim, dim), wo (L, dim, dim),
        rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
        w3 (L, hidden, dim), rms_final (dim), freq_cis_real and freq_cis_imag
        (seq_len, head_size / 2) each (unused), then wcls (V, dim) if unshared
      version 1: uint32 magic 0x616b3432, int32 1, the same 7 int32, uint8
        shared_classifier, zeros up to byte 256; then float32 rms_att,
        rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3,
        then wcls if unshared
    Matrices are (out, in); RoPE rotates interleaved pairs (2i, 2i + 1)."""
    raw = np.fromfile(path, dtype=np.uint8)
    magic = int(raw[:4].view("<u4")[0])
    if magic == 0x616B3432:
        if int(raw[4:8].view("<i4")[0]) != 1:
            raise ValueError("%s: llama2.c version not implemented" % path)
        hdr = raw[8:36].view("<i4")
        shared = bool(raw[36])
        body = raw[256:].view("<f4")
    else:
        hdr = raw[:28].view("<i4")
        shared = int(hdr[5]) > 0
        body = raw[28:].view("<f4")
    dim, hidden, L, H, Hkv, V, P = (int(v) for v in hdr)
    V = abs(V)
    hd = dim // H
    kv = Hkv * hd
    pos = [0]

    def take(*shape):
        n = int(np.prod(shape))
        a = body[pos[0]:pos[0] + n].reshape(shape)
        pos[0] += n
        return a

    w = {}
    if magic == 0x616B3432:
        rms_att, rms_ffn, rms_final = take(L, dim), take(L, dim), take(dim)
        emb = take(V, dim)
    else:
        emb, rms_att = take(V, dim), take(L, dim)
    wq, wk, wv, wo = take(L, dim, dim), take(L, kv, dim), take(L, kv, dim), take(L, dim, dim)
    if magic != 0x616B3432:
        rms_ffn = take(L, dim)
    w1, w2, w3 = take(L, hidden, dim), take(L, dim, hidden), take(L, hidden, dim)
    if magic != 0x616B3432:
        rms_final = take(dim)
        take(P, hd // 2), take(P, hd // 2)  # freq_cis tables
    w["embed_tokens.weight"] = emb
    w["lm_head.weight"] = emb if shared else take(V, dim)
    if pos[0] != body.size:
        raise ValueError("%s: %d floats left over" % (path, body.size - pos[0]))
    for l in range(L):
        p = "layers.%d." % l
        w[p + "input_layernorm.weight"] = rms_att[l]
        w[p + "post_attention_layernorm.weight"] = rms_ffn[l]
        w[p + "self_attn.q_proj.weight"] = wq[l]
        w[p + "self_attn.k_proj.weight"] = wk[l]
        w[p + "self_attn.v_proj.weight"] = wv[l]
        w[p + "self_attn.o_proj.weight"] = wo[l]
        w[p + "mlp.gate_proj.weight"] = w1[l]
        w[p + "mlp.down_proj.weight"] = w2[l]
        w[p + "mlp.up_proj.weight"] = w3[l]
    w["norm.weight"] = rms_final
    cfg = {"model_type": "llama", "num_hidden_layers": L, "num_attention_heads": H,
           "num_key_value_heads": Hkv, "hidden_size": dim, "intermediate_size": hidden,
           "vocab_size": V, "max_position_embeddings": P, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": shared, "hidden_act": "silu"}
    return cfg, w


class Llama:
    def __init__(self, model_dir, interleaved=None):
        """model_dir: an HF folder, or a llama2.c checkpoint file (then
        the RoPE layout is llama2.c's interleaved one)."""
        if os.path.isfile(model_dir):
            c, w = read_llama2c(model_dir)
            if interleaved is None:
                interleaved = True
        else:
            c, w = load_config(model_dir), load_weights(model_dir)
        self.cfg = c
        if c.get("model_type") not in ("llama", "mistral"):
            raise ValueError("not a llama model: %r" % c.get("model_type"))
        self.w = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in w.items()}
        self.n_layer, self.n_head, self.n_embd = c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"]
        self.n_kv_head = c.get("num_key_value_heads") or self.n_head
        self.head_dim = c.get("head_dim") or self.n_embd // self.n_head
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        if c.get("rope_scaling") not in (None, {}):
            raise ValueError("reference: rope_scaling not implemented")
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError("reference: hidden_act %r not implemented" % c.get("hidden_act"))
        self.interleaved = bool(c.get("temper_rope_interleaved", False)) if interleaved is None else interleaved
        self.n_ctx = c.get("max_position_embeddings", 2048)
        tied = c.get("tie_word_embeddings", False)
        self.head = self.w["embed_tokens.weight"] if tied or "lm_head.weight" not in self.w \
            else self.w["lm_head.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def linear(self, x, name):
        y = x @ self.t(name + ".weight").T
        return y + self.t(name + ".bias") if name + ".bias" in self.w else y

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As GPT2.forward: logits (T, V), attn (L, H, T, T), hidden
        (L + 1, T, C) residual stream, hidden_hf as output_hidden_states."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        H, Hkv, hd, L = self.n_head, self.n_kv_head, self.head_dim, self.n_layer
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        x = self.t("embed_tokens.weight")[ids]
        attn, hidden = [], [x.copy()]
        for l in range(L):
            p = "layers.%d." % l
            a = rms_norm(x, self.t(p + "input_layernorm.weight"), self.eps)
            q = self.linear(a, p + "self_attn.q_proj").reshape(T, H, hd).transpose(1, 0, 2)
            k = self.linear(a, p + "self_attn.k_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            v = self.linear(a, p + "self_attn.v_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            q, k = rope(q, self.theta, self.interleaved), rope(k, self.theta, self.interleaved)
            o, probs = causal_attention(q, k, v, 1.0 / np.sqrt(hd))
            if want_attn:
                attn.append(probs)
            x = x + self.linear(o.transpose(1, 0, 2).reshape(T, H * hd), p + "self_attn.o_proj")
            m = rms_norm(x, self.t(p + "post_attention_layernorm.weight"), self.eps)
            f = silu(self.linear(m, p + "mlp.gate_proj")) * self.linear(m, p + "mlp.up_proj")
            x = x + self.linear(f, p + "mlp.down_proj")
            hidden.append(x.copy())
        xf = rms_norm(x, self.t("norm.weight"), self.eps)
        rows = xf if out_rows is None else xf[np.asarray(out_rows)]
        out = {"logits": rows @ np.asarray(self.head, dtype=np.float64).T}
        if want_attn:
            out["attn"] = np.stack(attn)
        if want_hidden:
            out["hidden"] = np.stack(hidden)
            out["hidden_hf"] = np.stack(hidden[:-1] + [xf])
        return out
