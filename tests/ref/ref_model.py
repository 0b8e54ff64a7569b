"""ref_model.py - the numpy reference model for a folder, by model_type.

    m = ref_model.load(MODEL_DIR)     # GPT2, OPT, Llama, GPTNeo ... (float64)
    out = m.forward(ids, want_attn=True, want_hidden=True)
    out["logits"]  (T, V);  out["attn"] (L, H, T, T);  out["hidden"] (L + 1, T, C)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_gpt2 import GPT2, load_config  # noqa: E402
from ref_gpt_neo import GPTNeo  # noqa: E402
from ref_gpt_neox import GPTNeoX  # noqa: E402
from ref_gemma3 import Gemma3  # noqa: E402
from ref_qwen import Qwen  # noqa: E402
from ref_llama import Llama  # noqa: E402
from ref_opt import OPT  # noqa: E402

CLASSES = {"gpt2": GPT2, "opt": OPT, "llama": Llama, "mistral": Llama, "gpt_neo": GPTNeo, "gpt_neox": GPTNeoX,
           "qwen2": Qwen, "qwen3": Qwen, "gemma3_text": Gemma3}


def load(model_dir):
    kind = load_config(model_dir).get("model_type")
    if kind not in CLASSES:
        raise ValueError("reference: model_type %r not implemented" % kind)
    return CLASSES[kind](model_dir)
