#!/usr/bin/python3
"""make_model.py - small random-weight models in the Hugging Face folder format.

    /usr/bin/python3 tests/ref/make_model.py OUTDIR --arch gpt2 --n-layer 2 \\
        --n-head 4 --n-embd 64 --n-ctx 128 --dtype f32 --seed 0
    /usr/bin/python3 tests/ref/make_model.py OUTDIR --preset gpt2-124m --dtype f16
    /usr/bin/python3 tests/ref/make_model.py OUTDIR --arch llama --n-layer 2 \
        --n-head 4 --n-kv-head 2 --n-embd 64 --n-ctx 256 --format sharded

Architectures: gpt2 (GPT2LMHeadModel), opt (OPTForCausalLM: --post-ln,
--word-embed-proj-dim, --no-bias), llama (LlamaForCausalLM: --n-kv-head,
--head-dim, --rms-norm-eps, --rope-theta, --attention-bias, --tied-lm-head),
gpt_neo (GPTNeoForCausalLM: --window-size, --attention-kinds), gpt_neox
(GPTNeoXForCausalLM: --rotary-pct, --rope-theta, --sequential-residual,
--hidden-act), qwen2 / qwen3 (Qwen2ForCausalLM, Qwen3ForCausalLM: llama's
options, --untied-lm-head, --use-sliding-window, --window-size,
--max-window-layers, --layer-types), gemma3_text (Gemma3ForCausalLM:
--window-size, --layer-types, --query-pre-attn-scalar,
--final-logit-softcapping).
Weight files (--format): model.safetensors, sharded safetensors with
model.safetensors.index.json, or pytorch_model.bin (torch.save's zip
format, written by tests/ref/pytorch_io.py without torch).

Writes OUTDIR/config.json (as transformers' config class saves it),
generation_config.json, model.safetensors (HF tensor names and layouts) and
the real tokenizer files copied from --tokenizer-from, so token ids are real.
The last file written is make_model.json (the generator's arguments and
version): a folder without it is incomplete.

Weights are random normal, scaled by fan-in so that activations stay O(1)
at any width and the model is far from trivial: attention scores have a
standard deviation around 2 (peaked attention, so a wrong mask or position
shows), and the logits one around 2.5 (a peaked next-token distribution,
so a wrong logit shows in the top ranks). --scale multiplies every matrix.
Each tensor has its own random stream seeded by (seed, its role), so the
same --seed gives the same values whatever the name prefix or file order.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402

# Bump when the produced files change, so cached test models are remade.
GENERATOR_VERSION = 2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER_FILES = ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                   "special_tokens_map.json", "tokenizer.model"]

PRESETS = {
    # name: real checkpoint shapes (random weights): make_model arguments
    "gpt2-124m": "--arch gpt2 --n-layer 12 --n-head 12 --n-embd 768 --n-ctx 1024",
    "distilgpt2": "--arch gpt2 --n-layer 6 --n-head 12 --n-embd 768 --n-ctx 1024",
    "gpt2-medium": "--arch gpt2 --n-layer 24 --n-head 16 --n-embd 1024 --n-ctx 1024",
    "opt-125m": "--arch opt --n-layer 12 --n-head 12 --n-embd 768 --n-ctx 2048",
    "opt-350m": "--arch opt --n-layer 24 --n-head 16 --n-embd 1024 --n-ctx 2048 --post-ln "
                "--word-embed-proj-dim 512",
    "smollm-135m": "--arch llama --n-layer 30 --n-head 9 --n-kv-head 3 --n-embd 576 --n-inner 1536 "
                   "--n-ctx 2048 --vocab-size 49152 --tied-lm-head",
    "tiny": "--arch gpt2 --n-layer 2 --n-head 4 --n-embd 64 --n-ctx 128",
    "pythia-70m": "--arch gpt_neox --n-layer 6 --n-head 8 --n-embd 512 --n-ctx 2048 --vocab-size 50304",
    "gpt-neo-125m": "--arch gpt_neo --n-layer 12 --n-head 12 --n-embd 768 --n-ctx 2048 --window-size 256",
}

TORCH_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


def default_fixtures():
    return os.environ.get("TEMPER_FIXTURES") or os.path.join(REPO, "..", "shared", "fixtures")


# --------------------------------------------------------------------------
# Random values
# --------------------------------------------------------------------------

class Init:
    """How a tensor is filled: 'normal' (mean, std) or a fixed function."""

    def __init__(self, shape, std=0.0, mean=0.0, fn=None):
        self.shape = tuple(int(d) for d in shape)
        self.std, self.mean, self.fn = std, mean, fn

    def make(self, seed, role):
        if self.fn is not None:
            return self.fn()
        # One stream per tensor role: independent of order and prefix.
        key = [seed] + [ord(c) for c in role]
        rng = np.random.default_rng(key)
        x = rng.standard_normal(self.shape, dtype=np.float32)
        x *= np.float32(self.std)
        if self.mean:
            x += np.float32(self.mean)
        return x


def norm_weight(n):
    return Init((n,), std=0.2, mean=1.0)


def bias(n):
    return Init((n,), std=0.1)


def mat(rows, cols, fan_in, gain, scale):
    return Init((rows, cols), std=gain * scale / np.sqrt(fan_in))


# --------------------------------------------------------------------------
# GPT-2
# --------------------------------------------------------------------------

def gpt2_model(a):
    """HF GPT2LMHeadModel: Conv1D weights (in, out), learned positions,
    gelu_new MLP, tied head unless --untied-lm-head. Returns (config.json
    dict, generation_config.json dict, [(role, file name, Init, dtype)])."""
    C, V, P, L = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer
    F = a.n_inner or 4 * C
    if C % a.n_head:
        sys.exit("make_model: n_embd %d is not a multiple of n_head %d" % (C, a.n_head))
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, shape_init, name=None, dtype=None):
        t.append((role, name or pre + role, shape_init, dtype or dt))

    add("wte.weight", mat(V, C, C, 2.5, s))
    add("wpe.weight", mat(P, C, C, 1.0, s))
    for i in range(L):
        h = "h.%d." % i
        add(h + "ln_1.weight", norm_weight(C))
        add(h + "ln_1.bias", bias(C))
        if a.attn_buffers != "none":
            mask = lambda: np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
            if a.attn_buffers in ("u8", "bool"):  # transformers 4.x: uint8, later bool
                kind = {"u8": ("U8", np.uint8), "bool": ("BOOL", bool)}[a.attn_buffers]
                add(h + "attn.bias", Init((1, 1, P, P), fn=lambda k=kind: mask().astype(k[1])),
                    dtype=kind[0])
            else:
                add(h + "attn.bias", Init((1, 1, P, P), fn=mask))
            add(h + "attn.masked_bias", Init((), fn=lambda: np.array(-1e4, dtype=np.float32)))
        add(h + "attn.c_attn.weight", mat(C, 3 * C, C, 1.5, s))   # Conv1D (in, out)
        add(h + "attn.c_attn.bias", bias(3 * C))
        add(h + "attn.c_proj.weight", mat(C, C, C, 1.0, s))
        add(h + "attn.c_proj.bias", bias(C))
        add(h + "ln_2.weight", norm_weight(C))
        add(h + "ln_2.bias", bias(C))
        add(h + "mlp.c_fc.weight", mat(C, F, C, 1.0, s))
        add(h + "mlp.c_fc.bias", bias(F))
        add(h + "mlp.c_proj.weight", mat(F, C, F, 1.0, s))
        add(h + "mlp.c_proj.bias", bias(C))
    add("ln_f.weight", norm_weight(C))
    add("ln_f.bias", bias(C))
    if a.untied_lm_head:
        add("lm_head.weight", mat(V, C, C, 2.5, s), name="lm_head.weight")

    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": P,
        "n_embd": C,
        "n_head": a.n_head,
        "n_inner": a.n_inner,
        "n_layer": L,
        "n_positions": P,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.51.1",
        "use_cache": True,
        "vocab_size": V,
    }
    if a.untied_lm_head:
        config["tie_word_embeddings"] = False
    gen = {"bos_token_id": 50256, "eos_token_id": 50256,
           "transformers_version": "4.51.1", "_from_model_config": True}
    return config, gen, t


# --------------------------------------------------------------------------
# OPT (OPTForCausalLM)
# --------------------------------------------------------------------------

def opt_model(a):
    """facebook/opt-* layout: nn.Linear weights (out, in), learned positions
    with 2 extra rows (row p + 2 is position p), ReLU MLP, pre-LN
    (do_layer_norm_before) or post-LN (--post-ln, as opt-350m), optional
    project_in/project_out when word_embed_proj_dim differs from
    hidden_size, optional biases (enable_bias)."""
    C, V, P, L = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer
    F = a.n_inner or 4 * C
    E = a.word_embed_proj_dim or C
    if C % a.n_head:
        sys.exit("make_model: n_embd %d is not a multiple of n_head %d" % (C, a.n_head))
    pre = ("" if a.prefix == "none" else a.prefix) + "decoder."
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    add("embed_tokens.weight", mat(V, E, E, 2.5, s))
    add("embed_positions.weight", mat(P + 2, C, C, 1.0, s))
    if E != C:
        add("project_in.weight", mat(C, E, E, 1.0, s))      # (out, in), no bias
        add("project_out.weight", mat(E, C, C, 1.0, s))
    for i in range(L):
        h = "layers.%d." % i
        for proj, gain in (("q_proj", 1.5), ("k_proj", 1.5), ("v_proj", 1.0), ("out_proj", 1.0)):
            add(h + "self_attn.%s.weight" % proj, mat(C, C, C, gain, s))
            if not a.no_bias:
                add(h + "self_attn.%s.bias" % proj, bias(C))
        add(h + "self_attn_layer_norm.weight", norm_weight(C))
        add(h + "self_attn_layer_norm.bias", bias(C))
        add(h + "fc1.weight", mat(F, C, C, 1.0, s))
        add(h + "fc2.weight", mat(C, F, F, 1.0, s))
        if not a.no_bias:
            add(h + "fc1.bias", bias(F))
            add(h + "fc2.bias", bias(C))
        add(h + "final_layer_norm.weight", norm_weight(C))
        add(h + "final_layer_norm.bias", bias(C))
    if not a.post_ln:  # the decoder's final norm exists only in pre-LN models
        add("final_layer_norm.weight", norm_weight(C))
        add("final_layer_norm.bias", bias(C))
    if a.untied_lm_head:
        add("lm_head.weight", mat(V, E, E, 2.5, s), name="lm_head.weight")
    config = {
        "_remove_final_layer_norm": False,
        "activation_dropout": 0.0,
        "activation_function": "relu",
        "architectures": ["OPTForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "do_layer_norm_before": not a.post_ln,
        "dropout": 0.1,
        "enable_bias": not a.no_bias,
        "eos_token_id": 2,
        "ffn_dim": F,
        "hidden_size": C,
        "init_std": 0.02,
        "layer_norm_elementwise_affine": True,
        "layerdrop": 0.0,
        "max_position_embeddings": P,
        "model_type": "opt",
        "num_attention_heads": a.n_head,
        "num_hidden_layers": L,
        "pad_token_id": 1,
        "prefix": "</s>",
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.51.1",
        "use_cache": True,
        "vocab_size": V,
        "word_embed_proj_dim": E,
    }
    if a.untied_lm_head:
        config["tie_word_embeddings"] = False
    gen = {"bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1,
           "transformers_version": "4.51.1", "_from_model_config": True}
    return config, gen, t


# --------------------------------------------------------------------------
# Llama (LlamaForCausalLM)
# --------------------------------------------------------------------------

def llama_model(a):
    """transformers' Llama layout: RMSNorm (weight only), RoPE in the
    rotate-half layout, grouped-query attention (num_key_value_heads), SwiGLU
    MLP, no biases (unless --attention-bias), untied lm_head unless
    --tied-lm-head."""
    C, V, P, L, H = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer, a.n_head
    Hkv = a.n_kv_head or H
    hd = a.head_dim or C // H
    F = a.n_inner or 4 * C
    if H % Hkv or (not a.head_dim and C % H) or hd % 2:
        sys.exit("make_model: bad heads: n_head %d, n_kv_head %d, head_dim %d" % (H, Hkv, hd))
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    add("embed_tokens.weight", mat(V, C, C, 2.5, s))
    for i in range(L):
        h = "layers.%d." % i
        add(h + "input_layernorm.weight", norm_weight(C))
        add(h + "self_attn.q_proj.weight", mat(H * hd, C, C, 1.5, s))
        add(h + "self_attn.k_proj.weight", mat(Hkv * hd, C, C, 1.5, s))
        add(h + "self_attn.v_proj.weight", mat(Hkv * hd, C, C, 1.0, s))
        add(h + "self_attn.o_proj.weight", mat(C, H * hd, H * hd, 1.0, s))
        if a.attention_bias:
            add(h + "self_attn.q_proj.bias", bias(H * hd))
            add(h + "self_attn.k_proj.bias", bias(Hkv * hd))
            add(h + "self_attn.v_proj.bias", bias(Hkv * hd))
            add(h + "self_attn.o_proj.bias", bias(C))
        add(h + "post_attention_layernorm.weight", norm_weight(C))
        add(h + "mlp.gate_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.up_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.down_proj.weight", mat(C, F, F, 1.0, s))
    add("norm.weight", norm_weight(C))
    if not a.tied_lm_head:
        add("lm_head.weight", mat(V, C, C, 2.5, s), name="lm_head.weight")
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": bool(a.attention_bias),
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": hd,
        "hidden_act": "silu",
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": F,
        "max_position_embeddings": P,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pretraining_tp": 1,
        "rms_norm_eps": a.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": a.rope_theta,
        "tie_word_embeddings": bool(a.tied_lm_head),
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.51.1",
        "use_cache": True,
        "vocab_size": V,
    }
    gen = {"bos_token_id": 1, "eos_token_id": 2, "transformers_version": "4.51.1",
           "_from_model_config": True}
    return config, gen, t


# --------------------------------------------------------------------------
# GPT-Neo (GPTNeoForCausalLM)
# --------------------------------------------------------------------------

def gpt_neo_model(a):
    """EleutherAI/gpt-neo-* layout: nn.Linear weights (out, in), q/k/v
    without bias, learned positions, gelu_new MLP, tied head, layers
    alternating global and local attention (--window-size; --attention-kinds
    the repeated pattern, default "global,local")."""
    C, V, P, L, H = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer, a.n_head
    F = a.n_inner or 4 * C
    if C % H:
        sys.exit("make_model: n_embd %d is not a multiple of n_head %d" % (C, H))
    kinds = a.attention_kinds.split(",")
    if L % len(kinds):
        sys.exit("make_model: n_layer %d is not a multiple of the pattern %s" % (L, kinds))
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    qk = 1.5 / (C // H) ** 0.25  # scores are not scaled by 1/sqrt(hd): keep them O(2)
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    add("wte.weight", mat(V, C, C, 2.5, s))
    add("wpe.weight", mat(P, C, C, 1.0, s))
    for i in range(L):
        h = "h.%d." % i
        add(h + "ln_1.weight", norm_weight(C))
        add(h + "ln_1.bias", bias(C))
        add(h + "attn.attention.q_proj.weight", mat(C, C, C, qk, s))
        add(h + "attn.attention.k_proj.weight", mat(C, C, C, qk, s))
        add(h + "attn.attention.v_proj.weight", mat(C, C, C, 1.0, s))
        add(h + "attn.attention.out_proj.weight", mat(C, C, C, 1.0, s))
        add(h + "attn.attention.out_proj.bias", bias(C))
        add(h + "ln_2.weight", norm_weight(C))
        add(h + "ln_2.bias", bias(C))
        add(h + "mlp.c_fc.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.c_fc.bias", bias(F))
        add(h + "mlp.c_proj.weight", mat(C, F, F, 1.0, s))
        add(h + "mlp.c_proj.bias", bias(C))
    add("ln_f.weight", norm_weight(C))
    add("ln_f.bias", bias(C))
    types = [[kinds, L // len(kinds)]]
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPTNeoForCausalLM"],
        "attention_dropout": 0,
        "attention_layers": kinds * (L // len(kinds)),
        "attention_types": types,
        "bos_token_id": 50256,
        "embed_dropout": 0,
        "eos_token_id": 50256,
        "gradient_checkpointing": False,
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": a.n_inner,
        "layer_norm_epsilon": 1e-05,
        "max_position_embeddings": P,
        "model_type": "gpt_neo",
        "num_heads": H,
        "num_layers": L,
        "resid_dropout": 0,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.51.1",
        "use_cache": True,
        "vocab_size": V,
        "window_size": a.window_size,
    }
    gen = {"bos_token_id": 50256, "eos_token_id": 50256, "transformers_version": "4.51.1",
           "_from_model_config": True}
    return config, gen, t


# --------------------------------------------------------------------------
# GPT-NeoX / Pythia (GPTNeoXForCausalLM)
# --------------------------------------------------------------------------

def gpt_neox_model(a):
    """EleutherAI/pythia-* layout: fused query_key_value laid out per head
    ([q | k | v] of each head), partial rotary (--rotary-pct), parallel
    residual (--sequential-residual for use_parallel_residual false),
    "gelu" (erf) MLP (--hidden-act), biases everywhere, untied embed_out."""
    C, V, P, L, H = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer, a.n_head
    F = a.n_inner or 4 * C
    if C % H:
        sys.exit("make_model: n_embd %d is not a multiple of n_head %d" % (C, H))
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    add("embed_in.weight", mat(V, C, C, 2.5, s))
    for i in range(L):
        h = "layers.%d." % i
        add(h + "input_layernorm.weight", norm_weight(C))
        add(h + "input_layernorm.bias", bias(C))
        add(h + "post_attention_layernorm.weight", norm_weight(C))
        add(h + "post_attention_layernorm.bias", bias(C))
        add(h + "attention.query_key_value.weight", mat(3 * C, C, C, 1.5, s))
        add(h + "attention.query_key_value.bias", bias(3 * C))
        add(h + "attention.dense.weight", mat(C, C, C, 1.0, s))
        add(h + "attention.dense.bias", bias(C))
        add(h + "mlp.dense_h_to_4h.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.dense_h_to_4h.bias", bias(F))
        add(h + "mlp.dense_4h_to_h.weight", mat(C, F, F, 1.0, s))
        add(h + "mlp.dense_4h_to_h.bias", bias(C))
    add("final_layer_norm.weight", norm_weight(C))
    add("final_layer_norm.bias", bias(C))
    add("embed_out.weight", mat(V, C, C, 2.5, s), name="embed_out.weight")
    config = {
        "architectures": ["GPTNeoXForCausalLM"],
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": a.hidden_act or "gelu",
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": F,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": P,
        "model_type": "gpt_neox",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "rotary_emb_base": a.rope_theta,
        "rotary_pct": a.rotary_pct,
        "tie_word_embeddings": False,
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.24.0",
        "use_cache": True,
        "use_parallel_residual": not a.sequential_residual,
        "vocab_size": V,
    }
    gen = {"bos_token_id": 0, "eos_token_id": 0, "transformers_version": "4.24.0",
           "_from_model_config": True}
    return config, gen, t


# --------------------------------------------------------------------------
# Qwen2 / Qwen3 (Qwen2ForCausalLM, Qwen3ForCausalLM)
# --------------------------------------------------------------------------

def layer_types_of(a, L, default):
    """--layer-types as a list ("f"/"s" letters, repeated to L layers), or default."""
    if not a.layer_types:
        return default
    kinds = {"f": "full_attention", "s": "sliding_attention"}
    pat = a.layer_types
    return [kinds[pat[i % len(pat)]] for i in range(L)]


def qwen_model(a):
    """Qwen/Qwen2.5-* (--arch qwen2: q/k/v biases, no o_proj bias) and
    Qwen/Qwen3-* (--arch qwen3: q_norm/k_norm per head, no biases) layouts:
    Llama blocks, rope_theta (--rope-theta), tied
    embeddings unless --untied-lm-head, sliding window when --window-size
    is given with --use-sliding-window (layers from --max-window-layers on,
    or as --layer-types says)."""
    C, V, P, L, H = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer, a.n_head
    Hkv = a.n_kv_head or H
    hd = a.head_dim or C // H
    F = a.n_inner or 4 * C
    if H % Hkv or hd % 2:
        sys.exit("make_model: bad heads: n_head %d, n_kv_head %d, head_dim %d" % (H, Hkv, hd))
    qwen3 = a.arch == "qwen3"
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    add("embed_tokens.weight", mat(V, C, C, 2.5, s))
    for i in range(L):
        h = "layers.%d." % i
        add(h + "input_layernorm.weight", norm_weight(C))
        add(h + "self_attn.q_proj.weight", mat(H * hd, C, C, 1.5, s))
        add(h + "self_attn.k_proj.weight", mat(Hkv * hd, C, C, 1.5, s))
        add(h + "self_attn.v_proj.weight", mat(Hkv * hd, C, C, 1.0, s))
        add(h + "self_attn.o_proj.weight", mat(C, H * hd, H * hd, 1.0, s))
        if qwen3:  # normed heads: scores of std ~2 need |q|,|k| ~ sqrt(2 sqrt(hd))
            add(h + "self_attn.q_norm.weight", Init((hd,), std=0.2, mean=1.2))
            add(h + "self_attn.k_norm.weight", Init((hd,), std=0.2, mean=1.2))
        else:
            add(h + "self_attn.q_proj.bias", bias(H * hd))
            add(h + "self_attn.k_proj.bias", bias(Hkv * hd))
            add(h + "self_attn.v_proj.bias", bias(Hkv * hd))
        add(h + "post_attention_layernorm.weight", norm_weight(C))
        add(h + "mlp.gate_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.up_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.down_proj.weight", mat(C, F, F, 1.0, s))
    add("norm.weight", norm_weight(C))
    if a.untied_lm_head:
        add("lm_head.weight", mat(V, C, C, 2.5, s), name="lm_head.weight")
    use_sw = bool(a.use_sliding_window)
    mwl = a.max_window_layers if a.max_window_layers is not None else L
    window = a.window_size if use_sw else None
    default_types = ["sliding_attention" if window is not None and i >= mwl else "full_attention"
                     for i in range(L)]
    # <|endoftext|> / <|im_end|>; the last id when the vocabulary is shrunk
    bos, eos = (151643, 151645 if qwen3 else 151643) if V > 151645 else (V - 1, V - 1)
    config = {
        "architectures": ["Qwen3ForCausalLM" if qwen3 else "Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "hidden_act": "silu",
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": F,
        "layer_types": layer_types_of(a, L, default_types),
        "max_position_embeddings": P,
        "max_window_layers": mwl,
        "model_type": a.arch,
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "rms_norm_eps": a.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": a.rope_theta,
        "sliding_window": window,
        "tie_word_embeddings": not a.untied_lm_head,
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.51.1",
        "use_cache": True,
        "use_sliding_window": use_sw,
        "vocab_size": V,
    }
    if qwen3:
        config["head_dim"] = hd
        config["attention_bias"] = False
    if a.no_layer_types:
        del config["layer_types"]
    gen = {"bos_token_id": bos, "eos_token_id": eos, "transformers_version": "4.51.1"}
    return config, gen, t


# --------------------------------------------------------------------------
# Gemma 3 text (Gemma3ForCausalLM, model_type gemma3_text)
# --------------------------------------------------------------------------

def gemma3_model(a):
    """google/gemma-3-270m layout: RMSNorm weights stored as w (the model
    uses 1 + w), four norms per block, q_norm/k_norm per head, GeGLU MLP,
    tied head, sliding (--window-size) and full layers (every 6th full
    unless --layer-types), query_pre_attn_scalar (--query-pre-attn-scalar),
    rope_local_base_freq 10000 / rope_theta (--rope-theta),
    --final-logit-softcapping."""
    C, V, P, L, H = a.n_embd, a.vocab_size, a.n_ctx, a.n_layer, a.n_head
    Hkv = a.n_kv_head or H
    hd = a.head_dim or C // H
    F = a.n_inner or 4 * C
    if H % Hkv or hd % 2:
        sys.exit("make_model: bad heads: n_head %d, n_kv_head %d, head_dim %d" % (H, Hkv, hd))
    pre = "" if a.prefix == "none" else a.prefix
    dt = ST_DTYPE[a.dtype]
    s = a.scale
    t = []

    def add(role, init, name=None):
        t.append((role, name or pre + role, init, dt))

    def gnorm(n, mean=0.0):  # the stored w of a (1 + w) norm
        return Init((n,), std=0.2, mean=mean)

    qs = a.query_pre_attn_scalar or hd
    # normed heads have |q|, |k| ~ sqrt(hd) (1 + w): scale w so that the
    # scores (q.k / sqrt(qs)) have a standard deviation of ~2
    g = (2.0 * (qs ** 0.5) / (hd ** 0.5)) ** 0.5 - 1.0
    add("embed_tokens.weight", mat(V, C, C, 1.0, s))
    for i in range(L):
        h = "layers.%d." % i
        add(h + "input_layernorm.weight", gnorm(C))
        add(h + "self_attn.q_proj.weight", mat(H * hd, C, C, 1.0, s))
        add(h + "self_attn.k_proj.weight", mat(Hkv * hd, C, C, 1.0, s))
        add(h + "self_attn.v_proj.weight", mat(Hkv * hd, C, C, 1.0, s))
        add(h + "self_attn.o_proj.weight", mat(C, H * hd, H * hd, 1.0, s))
        add(h + "self_attn.q_norm.weight", gnorm(hd, g))
        add(h + "self_attn.k_norm.weight", gnorm(hd, g))
        add(h + "post_attention_layernorm.weight", gnorm(C))
        add(h + "pre_feedforward_layernorm.weight", gnorm(C))
        add(h + "post_feedforward_layernorm.weight", gnorm(C))
        add(h + "mlp.gate_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.up_proj.weight", mat(F, C, C, 1.0, s))
        add(h + "mlp.down_proj.weight", mat(C, F, F, 1.0, s))
    add("norm.weight", gnorm(C, 1.5))  # logits of std ~2.5 from the tied head
    default_types = ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(L)]
    config = {
        "_sliding_window_pattern": 6,
        "architectures": ["Gemma3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "final_logit_softcapping": a.final_logit_softcapping,
        "head_dim": hd,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": F,
        "layer_types": layer_types_of(a, L, default_types),
        "max_position_embeddings": P,
        "model_type": "gemma3_text",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pad_token_id": 0,
        "query_pre_attn_scalar": qs,
        "rms_norm_eps": a.rms_norm_eps,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": None,
        "rope_theta": a.rope_theta,
        "sliding_window": a.window_size,
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "transformers_version": "4.55.0",
        "use_bidirectional_attention": False,
        "use_cache": True,
        "vocab_size": V,
    }
    if a.no_layer_types:
        del config["layer_types"]
        config["sliding_window_pattern"] = 6
    gen = {"bos_token_id": 2, "eos_token_id": [1, 106], "pad_token_id": 0, "transformers_version": "4.55.0"}
    return config, gen, t


ARCHS = {"gpt2": gpt2_model, "opt": opt_model, "llama": llama_model, "gpt_neo": gpt_neo_model,
         "gpt_neox": gpt_neox_model, "qwen2": qwen_model, "qwen3": qwen_model, "gemma3_text": gemma3_model}
DEFAULT_VOCAB = {"gpt2": 50257, "opt": 50272, "llama": 32000, "gpt_neo": 50257, "gpt_neox": 50304,
                 "qwen2": 151936, "qwen3": 151936, "gemma3_text": 262144}
DEFAULT_PREFIX = {"gpt2": "transformer.", "opt": "model.", "llama": "model.", "gpt_neo": "transformer.",
                  "gpt_neox": "gpt_neox.", "qwen2": "model.", "qwen3": "model.", "gemma3_text": "model."}
# No OPT or Llama tokenizer among the fixtures: those models get GPT-2's
# (a model may use any tokenizer; ids stay real GPT-2 ids below 50257).
DEFAULT_TOKENIZER = {"gpt2": "gpt2", "opt": "gpt2", "llama": "gpt2", "gpt_neo": "gpt2", "gpt_neox": "gpt2",
                     "qwen2": "gpt2", "qwen3": "gpt2", "gemma3_text": "gpt2"}


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir")
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--arch", default=None, choices=sorted(ARCHS))
    p.add_argument("--n-layer", type=int)
    p.add_argument("--n-head", type=int)
    p.add_argument("--n-embd", type=int)
    p.add_argument("--n-ctx", type=int)
    p.add_argument("--n-inner", type=int, default=None, help="MLP width (default 4 * n_embd)")
    p.add_argument("--dtype", default="f32", choices=sorted(ST_DTYPE))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=None)
    p.add_argument("--tokenizer-from", default=None,
                   help="folder with the tokenizer files (default: the fixtures of the arch)")
    p.add_argument("--prefix", default=None,
                   help="name prefix of the base model's tensors, or 'none' (default: "
                        "transformer. for gpt2, model. for opt and llama)")
    p.add_argument("--untied-lm-head", action="store_true", help="gpt2, opt, qwen: write lm_head.weight")
    p.add_argument("--tied-lm-head", action="store_true", help="llama: no lm_head.weight")
    p.add_argument("--format", default="safetensors", choices=["safetensors", "sharded", "bin"],
                   help="model.safetensors, model-0000i-of-0000n.safetensors + index, "
                        "or pytorch_model.bin (torch.save zip format)")
    p.add_argument("--shards", type=int, default=2, help="with --format sharded")
    # OPT
    p.add_argument("--word-embed-proj-dim", type=int, default=None, help="opt: embedding width")
    p.add_argument("--post-ln", action="store_true", help="opt: do_layer_norm_before false")
    p.add_argument("--no-bias", action="store_true", help="opt: enable_bias false")
    # Llama
    p.add_argument("--n-kv-head", type=int, default=None, help="llama: num_key_value_heads")
    p.add_argument("--head-dim", type=int, default=None, help="llama: head_dim")
    p.add_argument("--rms-norm-eps", type=float, default=1e-5)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--attention-bias", action="store_true", help="llama: q/k/v/o biases")
    p.add_argument("--attn-buffers", default="none", choices=["none", "float", "u8", "bool"],
                   help="also write the old attn.bias / attn.masked_bias buffers")
    # GPT-Neo
    p.add_argument("--window-size", type=int, default=256, help="gpt_neo: local attention window")
    p.add_argument("--attention-kinds", default="global,local", help="gpt_neo: repeated layer kinds")
    # GPT-NeoX
    p.add_argument("--rotary-pct", type=float, default=0.25, help="gpt_neox: rotary_pct")
    p.add_argument("--sequential-residual", action="store_true", help="gpt_neox: use_parallel_residual false")
    p.add_argument("--hidden-act", default=None, help="gpt_neox: hidden_act (default gelu)")
    # Qwen2/Qwen3, Gemma 3 (--window-size is sliding_window)
    p.add_argument("--use-sliding-window", action="store_true", help="qwen: use_sliding_window true")
    p.add_argument("--max-window-layers", type=int, default=None, help="qwen: max_window_layers")
    p.add_argument("--layer-types", default=None, help="qwen, gemma3_text: pattern of f(ull)/s(liding) layers")
    p.add_argument("--no-layer-types", action="store_true", help="qwen, gemma3_text: leave layer_types out")
    p.add_argument("--query-pre-attn-scalar", type=float, default=None, help="gemma3_text (default head_dim)")
    p.add_argument("--final-logit-softcapping", type=float, default=None, help="gemma3_text")
    p.add_argument("--scale", type=float, default=1.0)
    argv = list(sys.argv[1:] if argv is None else argv)
    a = p.parse_args(argv)
    if a.preset:  # the preset's arguments, then the given ones (which win)
        a = p.parse_args(PRESETS[a.preset].split() + argv)
    a.arch = a.arch or "gpt2"
    for k in ("n_layer", "n_head", "n_embd", "n_ctx"):
        if getattr(a, k) is None:
            p.error("--%s is required (or --preset)" % k.replace("_", "-"))
    a.vocab_size = a.vocab_size or DEFAULT_VOCAB[a.arch]
    if a.prefix is None:
        a.prefix = DEFAULT_PREFIX[a.arch]
    if a.tokenizer_from is None:
        a.tokenizer_from = os.path.join(default_fixtures(), DEFAULT_TOKENIZER[a.arch])
    return a


def generator_record(a):
    rec = {k: v for k, v in sorted(vars(a).items()) if k not in ("outdir", "tokenizer_from", "preset")}
    rec["generator_version"] = GENERATOR_VERSION
    return rec


def _lazy(a, init, role):
    return st.Lazy(init.shape, lambda: init.make(a.seed, role))


def write_weights(a, entries):
    """entries: [(role, name, Init, dtype)] in file order."""
    out = a.outdir
    for old in os.listdir(out):  # weights of an earlier run in another format
        if old in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin") or \
                (old.startswith("model-") and old.endswith(".safetensors")):
            os.remove(os.path.join(out, old))
    if a.format == "safetensors":
        st.write(os.path.join(out, "model.safetensors"),
                 [(name, _lazy(a, init, role), dt) for role, name, init, dt in entries],
                 metadata={"format": "pt"})
    elif a.format == "sharded":
        # As transformers' save_pretrained(max_shard_size=total / shards):
        # a new shard starts when the next tensor would overflow this one.
        sizes = [st.DTYPE_SIZE[dt] * int(np.prod(init.shape)) for _, _, init, dt in entries]
        total = sum(sizes)
        limit = -(-total // max(1, a.shards))
        groups, cur = [[]], 0
        for e, size in zip(entries, sizes):
            if groups[-1] and cur + size > limit:
                groups.append([])
                cur = 0
            groups[-1].append(e)
            cur += size
        weight_map = {}
        for i, g in enumerate(groups):
            fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(groups))
            st.write(os.path.join(out, fn), [(name, _lazy(a, init, role), dt) for role, name, init, dt in g],
                     metadata={"format": "pt"})
            for _, name, _, _ in g:
                weight_map[name] = fn
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
            f.write("\n")
    else:
        import pytorch_io as pt  # torch.save's zip layout, written without torch
        items = [(name, pt.tensor(init.make(a.seed, role), dt)) for role, name, init, dt in entries]
        pt.save(os.path.join(out, "pytorch_model.bin"), items)


def make(a):
    os.makedirs(a.outdir, exist_ok=True)
    done = os.path.join(a.outdir, "make_model.json")
    if os.path.exists(done):
        os.remove(done)
    config, gen, tensors = ARCHS[a.arch](a)
    with open(os.path.join(a.outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.outdir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")
    # File order as the HF writer sorts: by name.
    entries = sorted(tensors, key=lambda e: e[1])
    write_weights(a, entries)
    copied = 0
    for fn in TOKENIZER_FILES:
        src = os.path.join(a.tokenizer_from, fn)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(a.outdir, fn))
            copied += 1
    if not copied:
        print("make_model: warning: no tokenizer files in %s" % a.tokenizer_from, file=sys.stderr)
    with open(done, "w") as f:
        json.dump(generator_record(a), f, indent=2, sort_keys=True)
        f.write("\n")


def main(argv=None):
    make(parse_args(argv))


if __name__ == "__main__":
    main()
