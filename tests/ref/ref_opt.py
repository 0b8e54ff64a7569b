"""ref_opt.py - an independent numpy forward pass of OPT, in float64.

Written from "OPT: Open Pre-trained Transformer Language Models" as
transformers' OPTForCausalLM computes it (E = word_embed_proj_dim):

    e     = embed_tokens[ids]                      (T, E)
    e     = e @ project_in^T   if E != C           (T, C)   nn.Linear: W is (out, in)
    x     = e + embed_positions[2 + (0..T)]        learned positions, offset 2
    block (do_layer_norm_before = true, "pre-LN"):
        x = x + out_proj(attn(self_attn_layer_norm(x)))
        x = x + fc2(relu(fc1(final_layer_norm(x))))
    block (do_layer_norm_before = false, "post-LN", opt-350m):
        x = self_attn_layer_norm(x + out_proj(attn(x)))
        x = final_layer_norm(x + fc2(relu(fc1(x))))
    x     = decoder.final_layer_norm(x)   (pre-LN models only)
    x     = x @ project_out^T  if E != C           (T, E)
    logits = x @ embed_tokens^T  (tied) or lm_head^T

attn is causal softmax attention with scores q.k / sqrt(hd) (OPT scales
q by hd^-0.5 before the product: the same number). Biases are present
unless enable_bias is false. Nothing here is shared with the C engine.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import activation, causal_attention, layer_norm, load_config, load_weights  # noqa: E402

POS_OFFSET = 2


class OPT:
    def __init__(self, model_dir):
        self.cfg = c = load_config(model_dir)
        if c.get("model_type") != "opt":
            raise ValueError("not an opt model: %r" % c.get("model_type"))
        w = load_weights(model_dir)
        # "model.decoder.x" (OPTForCausalLM) or "decoder.x" (the original
        # facebook checkpoints, saved from OPTModel).
        self.w = {}
        for k, v in w.items():
            for pre in ("model.decoder.", "decoder."):
                if k.startswith(pre):
                    k = k[len(pre):]
                    break
            self.w[k] = v
        self.n_layer, self.n_head, self.n_embd = c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"]
        self.pre_ln = c.get("do_layer_norm_before", True)
        self.bias = c.get("enable_bias", True)
        self.eps = 1e-5  # nn.LayerNorm's default; OPT's config has no epsilon
        self.act = activation(c.get("activation_function", "relu"))
        self.n_ctx = c["max_position_embeddings"]
        tied = c.get("tie_word_embeddings", True)
        self.head = self.w["embed_tokens.weight"] if tied or "lm_head.weight" not in self.w \
            else self.w["lm_head.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def linear(self, x, name):
        y = x @ self.t(name + ".weight").T
        if self.bias and name + ".bias" in self.w:
            y = y + self.t(name + ".bias")
        return y

    def ln(self, x, name):
        return layer_norm(x, self.t(name + ".weight"), self.t(name + ".bias"), self.eps)

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """As GPT2.forward: logits (T, V), attn (L, H, T, T), hidden
        (L + 1, T, C) residual stream, hidden_hf as output_hidden_states."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        C, H, L = self.n_embd, self.n_head, self.n_layer
        hd = C // H
        if T > self.n_ctx:
            raise ValueError("%d tokens > max_position_embeddings %d" % (T, self.n_ctx))
        e = self.t("embed_tokens.weight")[ids]
        if "project_in.weight" in self.w:
            e = e @ self.t("project_in.weight").T
        x = e + self.t("embed_positions.weight")[POS_OFFSET:POS_OFFSET + T]
        attn, hidden = [], [x.copy()]
        for l in range(L):
            p = "layers.%d." % l
            a = self.ln(x, p + "self_attn_layer_norm") if self.pre_ln else x
            q, k, v = (self.linear(a, p + "self_attn." + n).reshape(T, H, hd).transpose(1, 0, 2)
                       for n in ("q_proj", "k_proj", "v_proj"))
            o, probs = causal_attention(q, k, v, 1.0 / np.sqrt(hd))
            if want_attn:
                attn.append(probs)
            x = x + self.linear(o.transpose(1, 0, 2).reshape(T, C), p + "self_attn.out_proj")
            if not self.pre_ln:
                x = self.ln(x, p + "self_attn_layer_norm")
            m = self.ln(x, p + "final_layer_norm") if self.pre_ln else x
            x = x + self.linear(self.act(self.linear(m, p + "fc1")), p + "fc2")
            if not self.pre_ln:
                x = self.ln(x, p + "final_layer_norm")
            hidden.append(x.copy())
        xf = x
        if self.pre_ln and "final_layer_norm.weight" in self.w:
            xf = self.ln(xf, "final_layer_norm")
        if "project_out.weight" in self.w:
            xf = xf @ self.t("project_out.weight").T
        rows = xf if out_rows is None else xf[np.asarray(out_rows)]
        out = {"logits": rows @ np.asarray(self.head, dtype=np.float64).T}
        if want_attn:
            out["attn"] = np.stack(attn)
        if want_hidden:
            out["hidden"] = np.stack(hidden)
            out["hidden_hf"] = hidden[:-1] + [xf]  # the last may be (T, E): a list
        return out
