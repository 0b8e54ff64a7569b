"""ref_qwen.py - an independent numpy forward pass of Qwen2 and Qwen3, in
float64.

Written from transformers' Qwen2ForCausalLM / Qwen3ForCausalLM
(modeling_qwen2.py, modeling_qwen3.py, configuration_*.py) semantics:

    x = embed_tokens[ids]
    block l:
        a = rmsnorm(x; input_layernorm)
        q = a Wq^T + bq, k = a Wk^T + bk, v = a Wv^T + bv   (qwen2: q/k/v biases
            always, o_proj none; qwen3: biases only with attention_bias)
        qwen3: q, k = rmsnorm(q_head; q_norm), rmsnorm(k_head; k_norm) per head (hd)
        q, k = rope(q), rope(k)   (rotate-half, base rope_theta)
        o = softmax(q k^T / sqrt(hd) + mask) v per head, kv head h // (H / Hkv);
            mask: causal, and on "sliding_attention" layers i - j < sliding_window
        x = x + o Wo^T
        m = rmsnorm(x; post_attention_layernorm)
        x = x + (silu(m Wgate^T) * m Wup^T) Wdown^T
    logits = rmsnorm(x; norm) @ (lm_head or embed_tokens)^T

    sliding_window counts only when use_sliding_window; layer_types, when
    absent, is "sliding_attention" for layers i >= max_window_layers if a
    window is in use, else "full_attention".

Nothing here is shared with the C engine.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import load_config, load_weights  # noqa: E402
from ref_gpt_neo import window_attention  # noqa: E402
from ref_llama import rms_norm, rope, silu  # noqa: E402


class Qwen:
    def __init__(self, model_dir):
        self.cfg = c = load_config(model_dir)
        self.kind = c.get("model_type")
        if self.kind not in ("qwen2", "qwen3"):
            raise ValueError("not a qwen2/qwen3 model: %r" % self.kind)
        w = load_weights(model_dir)
        self.w = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in w.items()}
        self.n_layer, self.n_head, self.n_embd = c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"]
        self.n_kv_head = c.get("num_key_value_heads") or self.n_head
        self.head_dim = c.get("head_dim") or self.n_embd // self.n_head
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        if c.get("rope_scaling") not in (None, {}):
            raise ValueError("reference: rope_scaling not implemented")
        window = c.get("sliding_window") if c.get("use_sliding_window", False) else None
        types = c.get("layer_types") or [
            "sliding_attention" if window is not None and i >= c.get("max_window_layers", 28) else "full_attention"
            for i in range(self.n_layer)]
        self.windows = [window if t == "sliding_attention" and window else 0 for t in types]
        self.n_ctx = c.get("max_position_embeddings", 32768)
        tied = c.get("tie_word_embeddings", False) or "lm_head.weight" not in self.w
        self.head = self.w["embed_tokens.weight"] if tied else self.w["lm_head.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def linear(self, x, name):
        y = x @ self.t(name + ".weight").T
        return y + self.t(name + ".bias") if name + ".bias" in self.w else y

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As ref_gpt2.GPT2.forward."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        H, Hkv, hd = self.n_head, self.n_kv_head, self.head_dim
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        x = self.t("embed_tokens.weight")[ids]
        attn, hidden = [], [x.copy()]
        for l in range(self.n_layer):
            p = "layers.%d." % l
            a = rms_norm(x, self.t(p + "input_layernorm.weight"), self.eps)
            q = self.linear(a, p + "self_attn.q_proj").reshape(T, H, hd).transpose(1, 0, 2)
            k = self.linear(a, p + "self_attn.k_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            v = self.linear(a, p + "self_attn.v_proj").reshape(T, Hkv, hd).transpose(1, 0, 2)
            if self.kind == "qwen3":
                q = rms_norm(q, self.t(p + "self_attn.q_norm.weight"), self.eps)
                k = rms_norm(k, self.t(p + "self_attn.k_norm.weight"), self.eps)
            q, k = rope(q, self.theta), rope(k, self.theta)
            o, probs = window_attention(q, k, v, 1.0 / math.sqrt(hd), self.windows[l])
            if want_attn:
                attn.append(probs)
            x = x + self.linear(o.transpose(1, 0, 2).reshape(T, H * hd), p + "self_attn.o_proj")
            m = rms_norm(x, self.t(p + "post_attention_layernorm.weight"), self.eps)
            x = x + self.linear(silu(self.linear(m, p + "mlp.gate_proj")) * self.linear(m, p + "mlp.up_proj"),
                                p + "mlp.down_proj")
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
