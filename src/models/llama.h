/*
 * llama.h - the Llama-family layers and forward pass, shared by llama.c
 * (Llama, Mistral, llama2.c checkpoints) and qwen.c (Qwen2, Qwen3), which
 * differ only in biases, per-head q/k norms and sliding windows.
 */
#ifndef TEMPER_LLAMA_H
#define TEMPER_LLAMA_H

#include "models/model.h"

typedef struct {
    const float *attn_norm;        /* (C) */
    temper__mat wq, wk, wv, wo;    /* (H*hd, C), (Hkv*hd, C) x2, (C, H*hd) as NK */
    const float *bq, *bk, *bv, *bo;/* (H*hd), (Hkv*hd) x2, (C) or NULL */
    const float *q_norm, *k_norm;  /* per-head RMSNorm (hd) before RoPE (Qwen3), or NULL */
    int window;                    /* sliding window (positions), 0: full causal */
    const float *ffn_norm;         /* (C) */
    temper__mat gate, up, down;    /* (F, C), (F, C), (C, F) as NK */
} temper__llama_layer;

typedef struct {
    const temper__tensor *embed;   /* (V, C) */
    const float *norm;             /* (C) */
    temper__mat head;              /* (V, C) NK */
    double rope_theta;
    int rope_interleaved;          /* llama2.c layout */
    temper__llama_layer *layers;   /* (L) */
} temper__llama;

typedef struct {
    int qkv_bias;          /* q/k/v biases whatever attention_bias says (Qwen2) */
    int qk_norm;           /* self_attn.q_norm / k_norm (Qwen3) */
    int cap_ctx_to_window; /* Mistral: n_ctx capped at sliding_window */
} temper__llama_variant;

/* Hyperparameters and weights from config.json (model->arch_data). */
int temper__llama_init_variant(temper_model *m, const cJSON *cfg, const temper__llama_variant *var);
void temper__llama_free(temper_model *m);
int temper__llama_forward(temper_context *ctx, const temper__batch *b);

#endif
