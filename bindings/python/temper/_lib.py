"""_lib.py - libtemper.so through ctypes: finding the library, the C
structs of include/temper.h mirrored field by field, and the prototypes.

Every struct here has the layout of its C twin; tests/py/test_python.py
compares each size and offset with a C program's offsetof().
ctypes releases the GIL during every call into the library.
"""
import ctypes
import ctypes.util
import glob
import os

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int,
                    c_int32, c_int64, c_size_t, c_uint64, c_void_p)

SONAME = "libtemper.so.0.1"  # include/temper.h: TEMPER_VERSION_MAJOR.MINOR


def _candidates():
    """Where the library may be, in the order tried."""
    env = os.environ.get("TEMPER_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield from sorted(glob.glob(os.path.join(here, "libtemper.so*")))  # installed copy
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))     # the checkout
    yield os.path.join(root, os.environ.get("TEMPER_BUILD", "build"), "libtemper.so")
    yield SONAME                                                       # make install
    found = ctypes.util.find_library("temper")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("temper: libtemper.so not found; build it with `make` in the checkout, "
                      "or set TEMPER_LIB to its path. Tried: " + "; ".join(tried))


lib, path = _load()

token_p = POINTER(c_int32)


class ModelParams(Structure):
    _fields_ = [("tokenizer_path", c_char_p), ("offline", c_int), ("quantize", c_char_p),
                ("progress", c_void_p), ("progress_user", c_void_p)]


class ModelInfo(Structure):
    _fields_ = [("arch", c_char_p), ("path", c_char_p), ("dtype", c_char_p),
                ("n_layer", c_int), ("n_head", c_int), ("n_kv_head", c_int), ("n_embd", c_int),
                ("n_ff", c_int), ("n_ctx", c_int), ("n_vocab", c_int), ("n_params", c_int64),
                ("file_bytes", c_uint64), ("matrix_bytes", c_uint64), ("load_seconds", c_double),
                ("bos_id", c_int32), ("eos_id", c_int32), ("settings", c_char_p)]


class TokenizerInfo(Structure):
    _fields_ = [("model", c_char_p), ("source", c_char_p), ("n_vocab", c_int), ("n_added", c_int),
                ("bos_id", c_int32), ("eos_id", c_int32), ("unk_id", c_int32), ("pad_id", c_int32),
                ("n_prefix", c_int), ("n_suffix", c_int), ("prefix", c_int32 * 4),
                ("suffix", c_int32 * 4), ("add_prefix_space", c_int)]


class ContextParams(Structure):
    _fields_ = [("n_ctx", c_int), ("n_seq", c_int), ("n_threads", c_int), ("pool", c_void_p)]


class LogitBias(Structure):
    _fields_ = [("id", c_int32), ("bias", c_float)]


class SamplingParams(Structure):
    _fields_ = [("do_sample", c_int), ("temperature", c_float), ("top_k", c_int),
                ("top_p", c_float), ("min_p", c_float), ("typical_p", c_float),
                ("epsilon_cutoff", c_float), ("eta_cutoff", c_float), ("min_keep", c_int),
                ("repetition_penalty", c_float), ("presence_penalty", c_float),
                ("frequency_penalty", c_float), ("no_repeat_ngram_size", c_int),
                ("min_new_tokens", c_int), ("eos_ids", token_p), ("n_eos", c_int),
                ("suppress_tokens", token_p), ("n_suppress", c_int),
                ("logit_bias", POINTER(LogitBias)), ("n_logit_bias", c_int), ("order", c_int),
                ("samplers", c_char_p)]


class TokenProb(Structure):
    _fields_ = [("id", c_int32), ("logprob", c_float), ("logprob_processed", c_float)]


class TokenEvent(Structure):
    _fields_ = [("seq", c_int), ("index", c_int), ("id", c_int32), ("prob", POINTER(TokenProb)),
                ("top", POINTER(TokenProb)), ("n_top", c_int), ("piece", c_void_p),
                ("piece_len", c_size_t), ("finish_reason", c_int)]


TOKEN_CALLBACK = CFUNCTYPE(c_int, POINTER(TokenEvent), c_void_p)


class GenerateParams(Structure):
    _fields_ = [("sampling", SamplingParams), ("max_new_tokens", c_int),
                ("num_return_sequences", c_int), ("num_beams", c_int), ("length_penalty", c_float),
                ("early_stopping", c_int), ("seed", c_uint64), ("first_stream", c_int),
                ("eos_ids", token_p), ("n_eos", c_int), ("ignore_eos", c_int),
                ("stop", POINTER(c_char_p)), ("n_stop", c_int), ("n_top", c_int),
                ("on_token", TOKEN_CALLBACK), ("user", c_void_p)]


class Sequence(Structure):
    _fields_ = [("ids", token_p), ("n_ids", c_int), ("probs", POINTER(TokenProb)),
                ("top", POINTER(TokenProb)), ("finish_reason", c_int), ("sum_logprob", c_double),
                ("score", c_double)]


class Generation(Structure):
    _fields_ = [("seqs", POINTER(Sequence)), ("n_seqs", c_int), ("n_top", c_int),
                ("n_prompt", c_int), ("n_steps", c_int), ("n_forward", c_int64),
                ("prompt_seconds", c_double), ("decode_seconds", c_double)]


class Candidate(Structure):
    _fields_ = [("id", c_int32), ("logit", c_float), ("logprob", c_double),
                ("logprob_processed", c_double)]


class NextTokenInfo(Structure):
    _fields_ = [("n_vocab", c_int), ("entropy", c_double), ("entropy_processed", c_double),
                ("n_kept", c_int)]


class Param(Structure):
    _fields_ = [("name", c_char_p), ("aliases", c_char_p), ("flags", c_char_p), ("help", c_char_p),
                ("type", c_int), ("def_", c_double), ("min", c_double), ("max", c_double),
                ("min_open", c_int), ("max_open", c_int), ("off", c_double), ("warper", c_int),
                ("from_config", c_int), ("offset", c_size_t)]


class PowerParams(Structure):
    _fields_ = [("method", c_int), ("alpha", c_float), ("max_new_tokens", c_int),
                ("block_size", c_int), ("mcmc_steps", c_int), ("particles", c_int),
                ("ess_threshold", c_float), ("alpha_ramp_tokens", c_int), ("seed", c_uint64),
                ("eos_ids", token_p), ("n_eos", c_int), ("proposal", POINTER(SamplingParams)),
                ("stream", c_int)]


class PowerResult(Structure):
    _fields_ = [("ids", token_p), ("n_ids", c_int), ("finished_eos", c_int), ("log_p", c_double),
                ("forward_tokens", c_int64), ("n_proposals", c_int), ("n_accepted", c_int),
                ("ess", POINTER(c_double)), ("n_ess", c_int), ("n_resamples", c_int)]


class ScoreParams(Structure):
    _fields_ = [("alpha", c_double), ("temperature", c_double), ("seq", c_int)]


class SequenceScore(Structure):
    _fields_ = [("n_tokens", c_int), ("n_scored", c_int), ("log_prob", c_double),
                ("power_score", c_double), ("temp_score", c_double), ("mean_log_prob", c_double),
                ("perplexity", c_double)]


class PplWindow(Structure):
    _fields_ = [("begin", c_int), ("end", c_int), ("trg_len", c_int), ("n_scored", c_int),
                ("weight", c_int), ("nll", c_double)]


PPL_CALLBACK = CFUNCTYPE(c_int, POINTER(PplWindow), c_int, c_int, c_void_p)


class PerplexityParams(Structure):
    _fields_ = [("max_length", c_int), ("stride", c_int), ("seq", c_int),
                ("progress", PPL_CALLBACK), ("user", c_void_p)]


class PerplexityResult(Structure):
    _fields_ = [("n_tokens", c_int), ("n_windows", c_int), ("max_length", c_int),
                ("stride", c_int), ("nll", c_double), ("perplexity", c_double),
                ("n_scored", c_int), ("token_nll", c_double), ("token_perplexity", c_double),
                ("nll_stderr", c_double), ("perplexity_stderr", c_double)]


class ProjectParams(Structure):
    _fields_ = [("method", c_int), ("n_components", c_int), ("perplexity", c_double),
                ("learning_rate", c_double), ("n_iter", c_int), ("early_exaggeration", c_double),
                ("n_neighbors", c_int), ("min_dist", c_double), ("n_epochs", c_int),
                ("seed", c_uint64), ("pool", c_void_p)]


class ProjectInfo(Structure):
    _fields_ = [("used", ProjectParams), ("n_iter", c_int), ("kl_divergence", c_double),
                ("a", c_double), ("b", c_double)]


class ProjectParam(Structure):
    _fields_ = [("name", c_char_p), ("flag", c_char_p), ("help", c_char_p), ("type", c_int),
                ("def_", c_double), ("min", c_double), ("max", c_double), ("methods", c_int),
                ("offset", c_size_t)]


class SvgHeatmapSpec(Structure):
    _fields_ = [("values", POINTER(c_float)), ("n_panels", c_int), ("rows", c_int), ("cols", c_int),
                ("vmax", c_double), ("panel_titles", POINTER(c_char_p)), ("row_labels", POINTER(c_char_p)),
                ("col_labels", POINTER(c_char_p)), ("title", c_char_p), ("value_name", c_char_p)]


class SvgBarsSpec(Structure):
    _fields_ = [("values", POINTER(c_double)), ("n_series", c_int), ("n", c_int),
                ("labels", POINTER(c_char_p)), ("series_names", POINTER(c_char_p)), ("title", c_char_p),
                ("value_name", c_char_p)]


class SvgScatterSpec(Structure):
    _fields_ = [("points", POINTER(c_double)), ("n", c_int), ("labels", POINTER(c_char_p)),
                ("colors", POINTER(c_double)), ("title", c_char_p), ("x_name", c_char_p), ("y_name", c_char_p),
                ("color_name", c_char_p)]


class PullProgress(Structure):
    _fields_ = [("event", c_int), ("repo", c_char_p), ("file", c_char_p), ("file_index", c_int),
                ("n_files", c_int), ("file_done", c_uint64), ("file_total", c_uint64),
                ("resumed", c_uint64), ("done", c_uint64), ("total", c_uint64),
                ("seconds", c_double), ("message", c_char_p)]


PULL_CALLBACK = CFUNCTYPE(c_int, POINTER(PullProgress), c_void_p)


class PullParams(Structure):
    _fields_ = [("endpoint", c_char_p), ("token", c_char_p), ("force", c_int),
                ("progress", PULL_CALLBACK), ("user", c_void_p)]


# The structs and their C names, for the layout test.
STRUCTS = {
    "temper_model_params": ModelParams, "temper_model_info": ModelInfo,
    "temper_tokenizer_info": TokenizerInfo, "temper_context_params": ContextParams,
    "temper_logit_bias": LogitBias, "temper_sampling_params": SamplingParams,
    "temper_token_prob": TokenProb, "temper_token_event": TokenEvent,
    "temper_generate_params": GenerateParams, "temper_sequence": Sequence,
    "temper_generation": Generation, "temper_candidate": Candidate,
    "temper_next_token_info": NextTokenInfo, "temper_param": Param,
    "temper_power_params": PowerParams, "temper_power_result": PowerResult,
    "temper_score_params": ScoreParams, "temper_sequence_score": SequenceScore,
    "temper_ppl_window": PplWindow, "temper_perplexity_params": PerplexityParams,
    "temper_perplexity_result": PerplexityResult, "temper_pull_progress": PullProgress,
    "temper_pull_params": PullParams, "temper_project_params": ProjectParams,
    "temper_project_info": ProjectInfo, "temper_project_param": ProjectParam,
    "temper_svg_heatmap_spec": SvgHeatmapSpec, "temper_svg_bars_spec": SvgBarsSpec,
    "temper_svg_scatter_spec": SvgScatterSpec,
}

P = POINTER
vp = c_void_p
PROTOS = {
    # name: (restype, argtypes)
    "temper_version": (c_char_p, []),
    "temper_last_error": (c_char_p, []),
    "temper_err_name": (c_char_p, [c_int]),
    "temper_strerror": (c_char_p, [c_int]),
    "temper_free": (None, [vp]),
    "temper_tokenize_alloc": (c_int, [vp, c_char_p, c_size_t, c_int, P(token_p), P(P(c_int32))]),
    "temper_detokenize": (c_int, [vp, token_p, c_int, c_int, c_char_p, c_size_t]),
    "temper_token_bytes": (c_int, [vp, c_int32, c_char_p, c_size_t]),
    "temper_token_text": (c_char_p, [vp, c_int32]),
    "temper_tokenizer_n_vocab": (c_int, [vp]),
    "temper_tokenizer_get_info": (None, [vp, P(TokenizerInfo)]),
    "temper_token_is_special": (c_int, [vp, c_int32]),
    "temper_model_default_params": (ModelParams, []),
    "temper_model_load": (c_int, [c_char_p, P(ModelParams), P(vp)]),
    "temper_model_free": (None, [vp]),
    "temper_model_tokenizer": (vp, [vp]),
    "temper_model_get_info": (None, [vp, P(ModelInfo)]),
    "temper_model_n_vocab": (c_int, [vp]),
    "temper_model_eos_ids": (c_int, [vp, P(token_p)]),
    "temper_model_generation_config": (c_char_p, [vp]),
    "temper_model_score_bos": (c_int, [vp, token_p]),
    "temper_context_default_params": (ContextParams, []),
    "temper_context_init": (c_int, [vp, P(ContextParams), P(vp)]),
    "temper_context_free": (None, [vp]),
    "temper_eval": (c_int, [vp, c_int, token_p, c_int, P(c_float), c_int]),
    "temper_eval_capture_layers": (c_int, [vp, c_int, token_p, c_int, P(c_float), c_int,
                                           P(c_int), c_int, P(c_float), P(c_float)]),
    "temper_seq_len": (c_int, [vp, c_int]),
    "temper_seq_truncate": (c_int, [vp, c_int, c_int]),
    "temper_sampling_default_params": (SamplingParams, []),
    "temper_sampler_init": (c_int, [P(SamplingParams), c_int, P(vp)]),
    "temper_sampler_free": (None, [vp]),
    "temper_sampler_describe": (c_int, [vp, c_char_p, c_size_t]),
    "temper_sampler_apply": (c_int, [vp, P(c_float), token_p, c_int, c_int]),
    "temper_sampler_scores": (c_int, [vp, P(c_float)]),
    "temper_next_token_table": (c_int, [P(c_float), c_int, vp, c_int, P(Candidate),
                                        P(NextTokenInfo)]),
    "temper_generate_default_params": (GenerateParams, []),
    "temper_model_generate_defaults": (c_int, [vp, P(GenerateParams), c_char_p, c_size_t]),
    "temper_generate": (c_int, [vp, token_p, c_int, P(GenerateParams), P(P(Generation))]),
    "temper_generation_free": (None, [P(Generation)]),
    "temper_generate_mode": (c_int, [P(GenerateParams)]),
    "temper_generate_mode_name": (c_char_p, [c_int]),
    "temper_finish_reason_name": (c_char_p, [c_int]),
    "temper_random_seed": (c_uint64, []),
    "temper_params": (P(Param), [P(c_int)]),
    "temper_param_find": (P(Param), [c_char_p]),
    "temper_param_get": (c_double, [P(GenerateParams), P(Param)]),
    "temper_param_set": (c_int, [P(GenerateParams), P(Param), c_double]),
    "temper_gen_new": (c_int, [vp, c_int, token_p, c_int, P(GenerateParams), c_uint64, P(vp)]),
    "temper_gen_step": (c_int, [P(vp), c_int]),
    "temper_gen_free": (None, [vp]),
    "temper_gen_cancel": (None, [vp]),
    "temper_power_default_params": (PowerParams, []),
    "temper_power_sample": (c_int, [vp, token_p, c_int, P(PowerParams), P(PowerResult)]),
    "temper_power_result_free": (None, [P(PowerResult)]),
    "temper_score_default_params": (ScoreParams, []),
    "temper_score_sequence": (c_int, [vp, token_p, c_int, P(ScoreParams), P(SequenceScore),
                                      P(c_double), P(c_double)]),
    "temper_perplexity_default_params": (PerplexityParams, []),
    "temper_perplexity": (c_int, [vp, token_p, c_int, P(PerplexityParams),
                                  P(PerplexityResult), P(PplWindow), c_int, P(c_double)]),
    "temper_pca": (c_int, [P(c_float), c_int, c_int, c_int, P(c_double), P(c_double)]),
    "temper_threadpool_new": (c_int, [c_int, P(c_void_p)]),
    "temper_threadpool_free": (None, [c_void_p]),
    "temper_svg_heatmap": (c_int, [P(SvgHeatmapSpec), P(c_void_p)]),
    "temper_svg_bars": (c_int, [P(SvgBarsSpec), P(c_void_p)]),
    "temper_svg_scatter": (c_int, [P(SvgScatterSpec), P(c_void_p)]),
    "temper_project_default_params": (ProjectParams, []),
    "temper_project": (c_int, [P(c_float), c_int, c_int, P(ProjectParams), P(c_double), P(c_double),
                               P(ProjectInfo)]),
    "temper_project_method_parse": (c_int, [c_char_p]),
    "temper_project_method_name": (c_char_p, [c_int]),
    "temper_project_params_table": (P(ProjectParam), [P(c_int)]),
    "temper_project_param_find": (P(ProjectParam), [c_char_p]),
    "temper_project_param_set": (c_int, [P(ProjectParams), P(ProjectParam), c_double]),
    "temper_pull_default_params": (PullParams, []),
    "temper_pull": (c_int, [c_char_p, P(PullParams), c_char_p, c_size_t]),
    "temper_hub_find": (c_int, [c_char_p, c_char_p, c_size_t]),
}

for _name, (_res, _args) in PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
