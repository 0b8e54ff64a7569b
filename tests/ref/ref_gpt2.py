"""ref_gpt2.py - an independent numpy forward pass of GPT-2, in float64.

Written from the math of "Language Models are Unsupervised Multitask
Learners" (GPT-2) as Hugging Face's GPT2LMHeadModel computes it:

    x_0     = wte[ids] + wpe[0..T)                          (T, C)
    for each block l:                                      (pre-LN)
        a   = LN(x; ln_1)
        q,k,v = split(a @ c_attn.W + c_attn.b)              Conv1D: W is (in, out)
        per head h:  P = softmax(q_h k_h^T / sqrt(hd) + causal mask)   (T, T)
        x   = x + concat_h(P v_h) @ c_proj.W + c_proj.b
        m   = LN(x; ln_2)
        x   = x + gelu_new(m @ c_fc.W + c_fc.b) @ mlp.c_proj.W + mlp.c_proj.b
    logits  = LN(x; ln_f) @ wte^T   (tied) or lm_head^T       (T, V)

    LN(x) = (x - mean) / sqrt(var + eps) * g + b, biased variance
    gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

Weights are read from the model's safetensors file(s); f16 and bf16 values
are upcast exactly as stored, so the reference sees the same numbers as
the engine and only the engine's float32 arithmetic differs.

Nothing here is shared with the C engine.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402


def load_weights(model_dir):
    """All tensors of the folder, keyed by their name in the file:
    model.safetensors, else the shards named by model.safetensors.index.json,
    else pytorch_model.bin (read with tests/ref/pytorch_io.py). Values are
    as stored (f16 stays f16, bf16 becomes the exact f32)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(os.path.join(model_dir, "model.safetensors")):
        files = ["model.safetensors"]
    elif os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        import pytorch_io
        return pytorch_io.read(os.path.join(model_dir, "pytorch_model.bin"))
    out = {}
    for fn in files:
        tensors, _ = st.read(os.path.join(model_dir, fn))
        for k, v in tensors.items():
            out[k] = v
    return out


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def layer_norm(x, g, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * g
    return y + b if b is not None else y


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def activation(name):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return gelu_new
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    raise ValueError("reference: activation %r not implemented" % name)


def softmax_rows(s):
    """Softmax over the last axis; -inf entries get 0."""
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - m)
    return e / e.sum(axis=-1, keepdims=True)


def causal_attention(q, k, v, scale):
    """q (H, T, hd), k/v (Hkv, T, hd) with H a multiple of Hkv (grouped
    heads share a key/value head). Returns out (H, T, hd), probs (H, T, T)."""
    H, T, _ = q.shape
    rep = H // k.shape[0]
    if rep > 1:
        k = np.repeat(k, rep, axis=0)
        v = np.repeat(v, rep, axis=0)
    s = np.einsum("htd,hsd->hts", q, k) * scale
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = softmax_rows(s)
    return np.einsum("hts,hsd->htd", p, v), p


class GPT2:
    """A GPT-2 checkpoint held as float64 arrays."""

    def __init__(self, model_dir):
        self.cfg = load_config(model_dir)
        if self.cfg.get("model_type") != "gpt2":
            raise ValueError("not a gpt2 model: %r" % self.cfg.get("model_type"))
        w = load_weights(model_dir)
        # Accept the names with or without "transformer." (GPT2Model saves none).
        self.w = {}
        for k, v in w.items():
            self.w[k[len("transformer."):] if k.startswith("transformer.") else k] = v
        c = self.cfg
        self.n_layer, self.n_head, self.n_embd = c["n_layer"], c["n_head"], c["n_embd"]
        self.eps = c.get("layer_norm_epsilon", 1e-5)
        self.act = activation(c.get("activation_function", "gelu_new"))
        self.n_ctx = c.get("n_positions", c.get("n_ctx"))
        tied = c.get("tie_word_embeddings", True)
        self.head = self.w["wte.weight"] if tied or "lm_head.weight" not in self.w else self.w["lm_head.weight"]
        self.n_vocab = self.head.shape[0]

    def t(self, name):
        return np.asarray(self.w[name], dtype=np.float64)

    def forward(self, ids, want_attn=False, want_hidden=False, out_rows=None):
        """ids: token ids (T). Returns a dict:
          logits (T, V) float64, or (len(out_rows), V) for the rows out_rows;
          attn   (L, H, T, T) attention probabilities, if want_attn;
          hidden (L + 1, T, C): the residual stream before block 0 (the
                 embeddings) and after each block, if want_hidden;
          hidden_hf (L + 1, T, C): as transformers' output_hidden_states
                 (the same, except the last one is after ln_f)."""
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        C, H, L = self.n_embd, self.n_head, self.n_layer
        hd = C // H
        if T > self.n_ctx:
            raise ValueError("%d tokens > n_positions %d" % (T, self.n_ctx))
        x = self.t("wte.weight")[ids] + self.t("wpe.weight")[:T]
        attn, hidden = [], [x.copy()]
        scale = 1.0 / np.sqrt(hd) if self.cfg.get("scale_attn_weights", True) else 1.0
        for l in range(L):
            p = "h.%d." % l
            a = layer_norm(x, self.t(p + "ln_1.weight"), self.t(p + "ln_1.bias"), self.eps)
            qkv = a @ self.t(p + "attn.c_attn.weight") + self.t(p + "attn.c_attn.bias")  # (T, 3C)
            q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, hd).transpose(1, 0, 2) for i in range(3))
            s = scale / (l + 1) if self.cfg.get("scale_attn_by_inverse_layer_idx", False) else scale
            o, probs = causal_attention(q, k, v, s)
            if want_attn:
                attn.append(probs)
            o = o.transpose(1, 0, 2).reshape(T, C)
            x = x + o @ self.t(p + "attn.c_proj.weight") + self.t(p + "attn.c_proj.bias")
            m = layer_norm(x, self.t(p + "ln_2.weight"), self.t(p + "ln_2.bias"), self.eps)
            f = self.act(m @ self.t(p + "mlp.c_fc.weight") + self.t(p + "mlp.c_fc.bias"))
            x = x + f @ self.t(p + "mlp.c_proj.weight") + self.t(p + "mlp.c_proj.bias")
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


def logits(model_dir, ids, **kw):
    """Convenience: logits (T, V) float64 of ids for the model folder."""
    return GPT2(model_dir).forward(ids, **kw)["logits"]


if __name__ == "__main__":
    # ref_gpt2.py MODEL_DIR ID ID ... : print the top 5 of the last position.
    m = GPT2(sys.argv[1])
    lg = m.forward([int(x) for x in sys.argv[2:]])["logits"][-1]
    for i in np.argsort(-lg, kind="stable")[:5]:
        print(i, lg[i])
