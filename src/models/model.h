/*
 * model.h - private definitions of temper_model and temper_context, and the
 * interface every architecture file (gpt2.c, ...) implements.
 *
 * Legend: T = rows in a batch, C = n_embd, V = n_vocab, L = n_layer,
 * H = n_head, Hkv = n_kv_head, hd = head size, S = n_seq, P = n_ctx.
 */
#ifndef TEMPER_MODEL_H
#define TEMPER_MODEL_H

#include <string.h>

#include <cJSON.h>

#include "core/core.h"
#include "core/pool.h"
#include "formats/weights.h"
#include "tensor/ops.h"

typedef struct temper__hparams {
    int n_layer, n_head, n_kv_head, n_embd, n_ff, n_ctx, n_vocab, head_dim;
    float norm_eps;
} temper__hparams;

/* One forward call: n rows, each a token of sequence seq[r] at position
 * pos[r]; the logits of rows out_rows[0..n_out) go to logits (n_out, V). */
typedef struct temper__batch {
    int n;
    const temper_token *tokens; /* (n) */
    const int *seq, *pos;       /* (n) */
    int n_out;
    const int *out_rows;        /* (n_out) */
    float *logits;              /* (n_out, V) or NULL */
} temper__batch;

typedef struct temper__arch {
    const char *name; /* config.json model_type */
    /* Fill m->hp and the architecture's weight views from config + m->weights. */
    int (*init)(temper_model *m, const cJSON *config);
    void (*free)(temper_model *m);
    int (*forward)(temper_context *ctx, const temper__batch *b);
} temper__arch;

extern const temper__arch temper__arch_gpt2;
extern const temper__arch temper__arch_opt;
extern const temper__arch temper__arch_llama;
extern const temper__arch temper__arch_mistral;
extern const temper__arch temper__arch_gpt_neo;
extern const temper__arch temper__arch_gpt_neox;
extern const temper__arch temper__arch_qwen2;
extern const temper__arch temper__arch_qwen3;
extern const temper__arch temper__arch_gemma3_text;

struct temper_model {
    char *path;                 /* resolved folder (owned) */
    const temper__arch *arch;
    temper__hparams hp;
    temper__weights weights;    /* the file's tensors (owned) */
    temper__dtype dtype;        /* precision of the big matrices */
    temper_tokenizer *tok;      /* owned */
    void *arch_data;            /* owned by arch->free */
    int64_t n_params;
    uint64_t matrix_bytes;      /* weight matrices read per decoded token */
    int quantize_q8;            /* temper_model_params.quantize == "q8" */
    double load_seconds;
    temper_token bos_id, eos_id;
    temper_token *eos_ids;      /* (n_eos) every EOS id (owned); eos_ids[0] == eos_id */
    int n_eos;
    temper_token *suppress_ids; /* (n_suppress) generation_config.json's suppress_tokens (owned) */
    int n_suppress;
    char *generation_config;    /* generation_config.json text or NULL (owned) */
    char settings[512];         /* the architecture's own settings, for info */
};

/* Append "; "-separated text to m->settings (printf-style). */
void temper__model_setting(temper_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* gen_config.c: the EOS ids of config.json, replaced by those of
 * generation_config.json when it names any (as transformers'
 * GenerationConfig), and its suppress_tokens. Ids that are not numbers are skipped here; strict
 * checks are temper_model_generate_defaults()'s. */
int temper__model_read_eos(temper_model *m, const cJSON *config);

/* What the forward pass may capture for analysis, for the rows of the
 * current call. Buffers are borrowed from the caller (temper_eval_capture).
 * Attention of layer l (slot s = slot[l], or l when slot is NULL; none when
 * s < 0), head h, row r: attn + s*attn_layer + h*attn_head + r*attn_len,
 * attn_len entries (keys 0..attn_len-1). Hidden state after block l (0:
 * embeddings): hidden + l*hidden_layer + r*C. */
typedef struct temper__capture {
    float *attn;
    const int *slot;            /* (L) borrowed, or NULL */
    size_t attn_layer, attn_head;
    int attn_len;
    float *hidden;
    size_t hidden_layer;
} temper__capture;

/* Point a layer's attention arguments at the capture buffer, if any. */
static inline void temper__capture_attn(const temper_context *ctx, int l, temper__attn_args *a);
/* Copy the residual stream x (T, C) after block l (0: embeddings). */
static inline void temper__capture_hidden(const temper_context *ctx, int l, const float *x, int T, int C);

struct temper_context {
    temper_model *model;        /* borrowed */
    int n_ctx, n_seq;
    int *seq_len;               /* (S) positions held per slot */
    float *k_cache, *v_cache;   /* (L, S, P, Hkv * hd) */
    temper__pool *pool;         /* owned when own_pool, else borrowed */
    int own_pool;
    temper_abort_callback abort_fn; /* may be NULL */
    void *abort_user;
    float *scratch;             /* activations, grown on demand */
    size_t scratch_floats;
    temper__capture capture;
};

static inline void temper__capture_attn(const temper_context *ctx, int l, temper__attn_args *a) {
    if (!ctx->capture.attn) return;
    int s = ctx->capture.slot ? ctx->capture.slot[l] : l;
    if (s < 0) return;
    a->probs_out = ctx->capture.attn + (size_t)s * ctx->capture.attn_layer;
    a->probs_row = (size_t)ctx->capture.attn_len;
    a->probs_head = ctx->capture.attn_head;
    a->probs_len = ctx->capture.attn_len;
}

static inline void temper__capture_hidden(const temper_context *ctx, int l, const float *x, int T, int C) {
    if (ctx->capture.hidden)
        memcpy(ctx->capture.hidden + (size_t)l * ctx->capture.hidden_layer, x, (size_t)T * C * sizeof(float));
}

/* Between layers: 0, or TEMPER_ECANCELED (error set) when the abort hook
 * asks to stop. */
static inline int temper__ctx_abort(const temper_context *ctx) {
    if (!ctx->abort_fn || !ctx->abort_fn(ctx->abort_user)) return 0;
    return temper__error(TEMPER_ECANCELED, "the evaluation was stopped by the context's abort hook");
}

/* Scratch of at least n floats (64-byte aligned), or NULL (error set). */
float *temper__ctx_scratch(temper_context *ctx, size_t n);

/* ---- forward.c: the steps the forward passes share ---------------------- */

/* Layer l's key and value caches, (S, P, KD) each, KD = Hkv * hd. */
void temper__kv_layer(const temper_context *ctx, int l, int KD, float **kc, float **vc);
/* The keys and values of b's rows into layer l's cache at each row's (seq,
 * pos): row r's key is the KD floats at k + r * stride, its value at
 * v + r * stride. *kc, *vc: the layer's caches, as temper__kv_layer. */
void temper__kv_store(const temper_context *ctx, const temper__batch *b, int l, int KD, const float *k,
                      const float *v, size_t stride, float **kc, float **vc);
/* Attention of b's rows over layer l's cache: a holds what the architecture
 * sets (out, q, kc, vc, H, Hkv, hd, scale, window, scratch); the rows, their
 * positions and the context size are set here, and the probabilities go to
 * the capture when one is asked for. */
void temper__layer_attention(temper_context *ctx, const temper__batch *b, int l, temper__attn_args *a);

/* A model's final norm: LayerNorm (g, b), RMSNorm (rms: g only), or none
 * (g NULL: the rows are copied). */
typedef struct temper__norm {
    const float *g, *b;
    float eps;
    int rms;
} temper__norm;
void temper__norm_rows(float *out, const float *x, int T, int C, const temper__norm *n);
/* The end of a forward pass before the head: the last hidden state (after
 * the final norm, as transformers reports it) to the capture when asked and
 * the model has a final norm, then the normed rows whose logits are wanted
 * into h (n_out, C). Returns n_out, or 0 when no logits are wanted. */
int temper__final_norm(temper_context *ctx, const temper__batch *b, const float *x, float *h, int C,
                       const temper__norm *n);

/* Weight lookup for architecture files: the tensor named fmt (after
 * printf-style formatting, with each prefix in `prefixes` tried in turn),
 * checked against the expected shape. Vectors are returned as f32 (a copy
 * owned by the weight table when the file is f16/bf16). Each tensor used is
 * added to m->n_params once. */
int temper__model_mat(temper_model *m, const char *const *prefixes, temper__layout layout,
                      int K, int N, temper__mat *out, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
int temper__model_vec(temper_model *m, const char *const *prefixes, int n, const float **out,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A 2-D table (rows, cols) kept in its file dtype (embeddings). */
int temper__model_table(temper_model *m, const char *const *prefixes, int rows, int cols,
                        const temper__tensor **out, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The NK matrix view of a table used as the output head (tied embeddings),
 * quantized when the model is loaded with quantize "q8". */
int temper__model_tied_head(temper_model *m, const temper__tensor *table, int K, int N, temper__mat *out);
/* Like the above but returns NULL (not an error) when absent. */
const temper__tensor *temper__model_find(const temper_model *m, const char *const *prefixes,
                                         const char *name);

/* config.json accessors: integer/number with a default when absent; error
 * when present with the wrong type. Integers are within +-TEMPER__MAX_CFG_INT,
 * so that sums and small multiples of them (4 * n_embd, n_ctx + 2) cannot
 * overflow an int; products of two need int64_t and a check. */
#define TEMPER__MAX_CFG_INT (1 << 24)
/* Layers at most (the per-layer tables are allocated before the weights are
 * looked up). */
#define TEMPER__MAX_LAYERS (1 << 14)
int temper__cfg_int(const cJSON *cfg, const char *key, int def, int *out);
int temper__cfg_num(const cJSON *cfg, const char *key, double def, double *out);
/* A number > 0 (epsilons, rope_theta): the error names the key. */
int temper__cfg_positive(const cJSON *cfg, const char *key, double def, double *out);
const char *temper__cfg_str(const cJSON *cfg, const char *key);
int temper__cfg_bool(const cJSON *cfg, const char *key, int def);
/* layer_types (transformers' per-layer attention kinds), when config.json
 * has it: sliding[l] (m->hp.n_layer entries, holding the architecture's
 * default on entry) set to 1 for "sliding_attention", 0 for
 * "full_attention"; any other kind is an error naming it. */
int temper__cfg_layer_types(temper_model *m, const cJSON *cfg, int *sliding);

#endif
