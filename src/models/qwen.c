/*
 * qwen.c - Alibaba's Qwen2 (Qwen2, Qwen2.5) and Qwen3 dense models from
 * Hugging Face checkpoints: Llama blocks (llama.h) with
 *   qwen2: biases on q/k/v (none on o_proj);
 *   qwen3: RMSNorm of each query and key head (q_norm, k_norm, weights (hd))
 *          before RoPE, biases only with attention_bias;
 * and, when use_sliding_window is true, a sliding window of sliding_window
 * positions in the layers from max_window_layers on (or as layer_types
 * lists them), as transformers' Qwen2Config / Qwen3Config derive them.
 */
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"

static int temper__qwen_init(temper_model *m, const cJSON *cfg, const temper__llama_variant *var) {
    int rc = temper__llama_init_variant(m, cfg, var);
    if (rc < 0) return rc;
    temper__llama *g = m->arch_data;
    const int L = m->hp.n_layer;
    int window = 0, max_window_layers;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cfg, "sliding_window");
    if ((rc = temper__cfg_int(cfg, "max_window_layers", 28, &max_window_layers)) < 0 ||
        (!cJSON_IsNull(sw) && (rc = temper__cfg_int(cfg, "sliding_window", 4096, &window)) < 0))
        return temper__error_prefix(rc, "%s", m->path);
    if (!temper__cfg_bool(cfg, "use_sliding_window", 0)) window = 0; /* transformers: sliding_window = None */
    if (window < 0)
        return temper__error(TEMPER_EFORMAT, "%s/config.json: sliding_window %d should be positive", m->path, window);
    int *sliding = calloc((size_t)L, sizeof *sliding);
    if (!sliding) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (int l = 0; l < L; l++) sliding[l] = window > 0 && l >= max_window_layers;
    rc = temper__cfg_layer_types(m, cfg, sliding);
    int n_sliding = 0;
    for (int l = 0; rc == 0 && l < L; l++) {
        g->layers[l].window = sliding[l] ? window : 0;
        n_sliding += g->layers[l].window > 0;
    }
    free(sliding);
    if (rc < 0) return rc;
    temper__model_setting(m, "rope_theta %g", g->rope_theta);
    if (var->qkv_bias) temper__model_setting(m, "q/k/v biases");
    if (var->qk_norm) temper__model_setting(m, "q/k RMSNorm per head");
    if (n_sliding) temper__model_setting(m, "sliding window %d in %d of %d layers", window, n_sliding, L);
    else temper__model_setting(m, "full attention in every layer");
    temper__model_setting(m, "%s embeddings", g->head.data == g->embed->data ? "tied" : "untied");
    return 0;
}

static int temper__qwen2_init(temper_model *m, const cJSON *cfg) {
    static const temper__llama_variant qwen2 = {.qkv_bias = 1};
    return temper__qwen_init(m, cfg, &qwen2);
}

static int temper__qwen3_init(temper_model *m, const cJSON *cfg) {
    static const temper__llama_variant qwen3 = {.qk_norm = 1};
    return temper__qwen_init(m, cfg, &qwen3);
}

const temper__arch temper__arch_qwen2 = {
    .name = "qwen2",
    .init = temper__qwen2_init,
    .free = temper__llama_free,
    .forward = temper__llama_forward,
};

const temper__arch temper__arch_qwen3 = {
    .name = "qwen3",
    .init = temper__qwen3_init,
    .free = temper__llama_free,
    .forward = temper__llama_forward,
};
