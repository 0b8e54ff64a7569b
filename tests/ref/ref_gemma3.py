"""ref_gemma3.py - an independent numpy forward pass of Gemma 3 text models
(model_type gemma3_text), in float64.

Written from transformers' Gemma3ForCausalLM (modeling_gemma3.py,
configuration_gemma3.py) semantics:

    norm(x; w) = x / sqrt(mean(x^2) + eps) * (1 + w)            (Gemma3RMSNorm)
    x = embed_tokens[ids] * sqrt(hidden_size)
    block l (kind = layer_types[l]; default: "full_attention" when
             (l + 1) % sliding_window_pattern == 0, else "sliding_attention"):
        a = norm(x; input_layernorm)
        q, k, v = a Wq^T, a Wk^T, a Wv^T                          (no biases)
        q, k = norm(q_head; q_norm), norm(k_head; k_norm)         per head (hd)
        q, k = rope(q), rope(k), base rope_local_base_freq on sliding layers,
               rope_theta on full ones (rotate-half)
        o = softmax(q k^T * query_pre_attn_scalar^-0.5 + mask) v, kv head h // (H / Hkv)
            mask: causal; sliding layers also i - j < sliding_window
        x = x + norm(o Wo^T; post_attention_layernorm)
        m = norm(x; pre_feedforward_layernorm)
        x = x + norm((gelu_tanh(m Wgate^T) * m Wup^T) Wdown^T; post_feedforward_layernorm)
    logits = norm(x; norm) @ embed_tokens^T
    logits = cap * tanh(logits / cap) if final_logit_softcapping = cap is set

Nothing here is shared with the C engine.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import gelu_new, load_config, load_weights  # noqa: E402
from ref_gpt_neo import window_attention  # noqa: E402
from ref_llama import rope  # noqa: E402


def gemma_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * (1.0 + w)


class Gemma3:
    def __init__(self, model_dir):
        self.cfg = c = load_config(model_dir)
        if c.get("model_type") != "gemma3_text":
            raise ValueError("not a gemma3_text model: %r" % c.get("model_type"))
        w = load_weights(model_dir)
        self.w = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in w.items()}
        self.n_layer, self.n_head, self.n_embd = c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"]
        self.n_kv_head = c["num_key_value_heads"]
        self.head_dim = c.get("head_dim", 256)
        self.eps = c.get("rms_norm_eps", 1e-6)
        for key in ("rope_scaling", "attn_logit_softcapping"):
            if c.get(key) is not None:
                raise ValueError("reference: %s not implemented" % key)
        pattern = c.get("sliding_window_pattern", 6)
        types = c.get("layer_types") or ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                         for i in range(self.n_layer)]
        self.sliding = [t == "sliding_attention" for t in types]
        self.window = c.get("sliding_window", 4096)
        self.theta, self.theta_local = c.get("rope_theta", 1e6), c.get("rope_local_base_freq", 1e4)
        self.scale = c.get("query_pre_attn_scalar", 256) ** -0.5
        self.softcap = c.get("final_logit_softcapping")
        self.n_ctx = c.get("max_position_embeddings", 131072)
        self.embed_scale = math.sqrt(self.n_embd)
        self.head = self.w["embed_tokens.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As ref_gpt2.GPT2.forward."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        H, Hkv, hd = self.n_head, self.n_kv_head, self.head_dim
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        x = self.t("embed_tokens.weight")[ids] * self.embed_scale
        attn, hidden = [], [x.copy()]
        for l in range(self.n_layer):
            p = "layers.%d." % l

            def lin(inp, name):
                return inp @ self.t(p + name + ".weight").T
            a = gemma_norm(x, self.t(p + "input_layernorm.weight"), self.eps)
            q = lin(a, "self_attn.q_proj").reshape(T, H, hd).transpose(1, 0, 2)
            k = lin(a, "self_attn.k_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            v = lin(a, "self_attn.v_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            q = gemma_norm(q, self.t(p + "self_attn.q_norm.weight"), self.eps)
            k = gemma_norm(k, self.t(p + "self_attn.k_norm.weight"), self.eps)
            base = self.theta_local if self.sliding[l] else self.theta
            q, k = rope(q, base), rope(k, base)
            o, probs = window_attention(q, k, v, self.scale, self.window if self.sliding[l] else 0)
            if want_attn:
                attn.append(probs)
            o = lin(o.transpose(1, 0, 2).reshape(T, H * hd), "self_attn.o_proj")
            x = x + gemma_norm(o, self.t(p + "post_attention_layernorm.weight"), self.eps)
            m = gemma_norm(x, self.t(p + "pre_feedforward_layernorm.weight"), self.eps)
            f = lin(gelu_new(lin(m, "mlp.gate_proj")) * lin(m, "mlp.up_proj"), "mlp.down_proj")
            x = x + gemma_norm(f, self.t(p + "post_feedforward_layernorm.weight"), self.eps)
            hidden.append(x.copy())
        xf = gemma_norm(x, self.t("norm.weight"), self.eps)
        rows = xf if out_rows is None else xf[np.asarray(out_rows)]
        lg = rows @ np.asarray(self.head, dtype=np.float64).T
        if self.softcap:
            lg = self.softcap * np.tanh(lg / self.softcap)
        out = {"logits": lg}
        if want_attn:
            out["attn"] = np.stack(attn)
        if want_hidden:
            out["hidden"] = np.stack(hidden)
            out["hidden_hf"] = np.stack(hidden[:-1] + [xf])
        return out
