/*
 * llama2c.c - checkpoints written by llama2.c's export.py, presented as a
 * Llama model: the tensors get Hugging Face Llama names and a config object
 * is synthesised from the header, so src/models/llama.c runs them.
 *
 * Version 0 ("legacy"): 7 int32 (dim, hidden_dim, n_layers, n_heads,
 *   n_kv_heads, vocab_size, seq_len; vocab_size < 0 means the classifier is
 *   not shared), then f32 arrays: token_embedding (V, dim), rms_att (L, dim),
 *   wq (L, dim, dim), wk (L, kv_dim, dim), wv (L, kv_dim, dim), wo (L, dim, dim),
 *   rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden), w3 (L, hidden, dim),
 *   rms_final (dim), freq_cis_real and _imag (seq_len, head_size / 2) each,
 *   then wcls (V, dim) if not shared.
 * Version 1: uint32 magic 0x616b3432 ("ak42"), int32 version 1, the same 7
 *   int32, uint8 shared_classifier, zero padding to 256 bytes; then f32:
 *   rms_att (L, dim), rms_ffn (L, dim), rms_final (dim), token_embedding,
 *   wq, wk, wv, wo, w1, w2, w3 (each for all layers), then wcls if not shared.
 * Matrices are (out, in), as nn.Linear stores them. llama2.c rotates q and k
 * by interleaved pairs (2i, 2i+1), unlike transformers' rotate-half layout.
 * Version 2 (int8 groups) is not read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c.h"

#define TEMPER__L2C_MAGIC 0x616b3432u

typedef struct {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
} temper__l2c_header;

static int temper__l2c_push(temper__weights *w, const char *name, const float **cursor, int64_t rows,
                            int64_t cols) {
    temper__tensor *t = temper__weights_push(w, name, strlen(name));
    if (!t) return temper__error(TEMPER_ENOMEM, "out of memory");
    t->dtype = TEMPER__F32;
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->data = *cursor;
    t->nbytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    *cursor += rows * (cols ? cols : 1);
    return 0;
}

/* Per-layer tensors of one kind: name pattern with %d, each (rows, cols). */
static int temper__l2c_layers(temper__weights *w, const char *pattern, int L, const float **cursor,
                              int64_t rows, int64_t cols) {
    char name[128];
    for (int l = 0; l < L; l++) {
        snprintf(name, sizeof name, pattern, l);
        int rc = temper__l2c_push(w, name, cursor, rows, cols);
        if (rc < 0) return rc;
    }
    return 0;
}

int temper__llama2c_is_checkpoint(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int32_t h[7];
    size_t n = fread(h, sizeof(int32_t), 7, f);
    fclose(f);
    if (n != 7) return 0;
    if ((uint32_t)h[0] == TEMPER__L2C_MAGIC) return 1;
    return h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] > 0 && h[4] > 0 && h[5] != 0 && h[6] > 0 &&
           h[0] % h[3] == 0 && h[0] < (1 << 20) && h[2] < 1024;
}

int temper__llama2c_open(const char *path, temper__weights *w, cJSON **config) {
    memset(w, 0, sizeof *w);
    *config = NULL;
    temper__mmap m;
    int rc = temper__mmap_open(path, &m);
    if (rc < 0) return rc;
    if ((rc = temper__check_not_placeholder(path, m.data, m.size < 256 ? m.size : 256)) < 0) goto fail;
    if (m.size < 28) {
        rc = temper__error(TEMPER_EFORMAT, "%s: too small for a llama2.c checkpoint (%zu bytes)", path, m.size);
        goto fail;
    }
    temper__l2c_header h;
    int version = 0, shared;
    size_t offset;
    uint32_t magic;
    memcpy(&magic, m.data, 4);
    if (magic == TEMPER__L2C_MAGIC) {
        int32_t v;
        memcpy(&v, m.data + 4, 4);
        if (v != 1 || m.size < 256) {
            rc = temper__error(TEMPER_EUNSUPPORTED,
                               "%s: llama2.c checkpoint version %d is not supported (temper reads the "
                               "float32 versions 0 and 1): export it again as version 1 with llama2.c's "
                               "export.py",
                               path, v);
            goto fail;
        }
        version = 1;
        memcpy(&h, m.data + 8, sizeof h);
        shared = m.data[8 + sizeof h];
        offset = 256;
    } else {
        memcpy(&h, m.data, sizeof h);
        shared = h.vocab > 0;
        if (h.vocab < 0 && h.vocab > INT32_MIN) h.vocab = -h.vocab; /* INT32_MIN stays: refused below */
        offset = sizeof h;
    }
    if (h.dim <= 0 || h.hidden <= 0 || h.n_layers <= 0 || h.n_heads <= 0 || h.n_kv_heads <= 0 || h.vocab <= 0 ||
        h.seq_len <= 0 || h.dim % h.n_heads || h.n_heads % h.n_kv_heads || (h.dim / h.n_heads) % 2) {
        rc = temper__error(TEMPER_EFORMAT,
                           "%s: not a llama2.c checkpoint (header: dim %d, hidden %d, layers %d, heads %d, "
                           "kv heads %d, vocab %d, seq_len %d)",
                           path, h.dim, h.hidden, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab, h.seq_len);
        goto fail;
    }
    const int64_t C = h.dim, F = h.hidden, L = h.n_layers, V = h.vocab, hs = C / h.n_heads,
                  KD = (int64_t)h.n_kv_heads * hs;
    /* floats = V*C + 2*L*C + C + L*(2*C*C + 2*KD*C + 3*C*F) [+ V*C] [+ seq_len*hs],
     * every step checked: a hostile header can make any of them overflow. */
    int64_t floats = 0, t;
    bool ok = temper__mul_i64(V, C, &floats) && temper__mul_i64(C, C, &t) && temper__mul_i64(t, 2, &t);
    int64_t layer = t, u;
    ok = ok && temper__mul_i64(KD, C, &u) && temper__mul_i64(u, 2, &u) && temper__add_i64(layer, u, &layer) &&
         temper__mul_i64(C, F, &u) && temper__mul_i64(u, 3, &u) && temper__add_i64(layer, u, &layer) &&
         temper__add_i64(layer, 2 * C, &layer) && temper__mul_i64(layer, L, &layer) &&
         temper__add_i64(floats, layer, &floats) && temper__add_i64(floats, C, &floats);
    if (ok && !shared) ok = temper__mul_i64(V, C, &t) && temper__add_i64(floats, t, &floats);
    if (ok && version == 0) /* the two freq_cis tables */
        ok = temper__mul_i64(h.seq_len, hs, &t) && temper__add_i64(floats, t, &floats);
    uint64_t bytes = 0;
    ok = ok && temper__mul_u64((uint64_t)floats, 4, &bytes) && temper__add_u64(bytes, offset, &bytes);
    if (!ok || (uint64_t)m.size != bytes) {
        char implied[32] = "more than 2^64";
        if (ok) snprintf(implied, sizeof implied, "%llu", (unsigned long long)bytes);
        rc = temper__error(TEMPER_EFORMAT,
                           "%s: file size %zu disagrees with its header, which implies %s bytes "
                           "(truncated or not a llama2.c checkpoint): download or export it again",
                           path, m.size, implied);
        goto fail;
    }
    const float *cur = (const float *)(m.data + offset);
    if (version == 0) {
        if ((rc = temper__l2c_push(w, "model.embed_tokens.weight", &cur, V, C)) < 0 ||
            (rc = temper__l2c_layers(w, "model.layers.%d.input_layernorm.weight", (int)L, &cur, C, 0)) < 0)
            goto fail;
    } else {
        if ((rc = temper__l2c_layers(w, "model.layers.%d.input_layernorm.weight", (int)L, &cur, C, 0)) < 0 ||
            (rc = temper__l2c_layers(w, "model.layers.%d.post_attention_layernorm.weight", (int)L, &cur, C, 0)) < 0 ||
            (rc = temper__l2c_push(w, "model.norm.weight", &cur, C, 0)) < 0 ||
            (rc = temper__l2c_push(w, "model.embed_tokens.weight", &cur, V, C)) < 0)
            goto fail;
    }
    if ((rc = temper__l2c_layers(w, "model.layers.%d.self_attn.q_proj.weight", (int)L, &cur, C, C)) < 0 ||
        (rc = temper__l2c_layers(w, "model.layers.%d.self_attn.k_proj.weight", (int)L, &cur, KD, C)) < 0 ||
        (rc = temper__l2c_layers(w, "model.layers.%d.self_attn.v_proj.weight", (int)L, &cur, KD, C)) < 0 ||
        (rc = temper__l2c_layers(w, "model.layers.%d.self_attn.o_proj.weight", (int)L, &cur, C, C)) < 0)
        goto fail;
    if (version == 0 &&
        (rc = temper__l2c_layers(w, "model.layers.%d.post_attention_layernorm.weight", (int)L, &cur, C, 0)) < 0)
        goto fail;
    if ((rc = temper__l2c_layers(w, "model.layers.%d.mlp.gate_proj.weight", (int)L, &cur, F, C)) < 0 ||
        (rc = temper__l2c_layers(w, "model.layers.%d.mlp.down_proj.weight", (int)L, &cur, C, F)) < 0 ||
        (rc = temper__l2c_layers(w, "model.layers.%d.mlp.up_proj.weight", (int)L, &cur, F, C)) < 0)
        goto fail;
    if (version == 0) {
        if ((rc = temper__l2c_push(w, "model.norm.weight", &cur, C, 0)) < 0) goto fail;
        cur += (int64_t)h.seq_len * hs; /* skip freq_cis_real and freq_cis_imag */
    }
    if (!shared && (rc = temper__l2c_push(w, "lm_head.weight", &cur, V, C)) < 0) goto fail;

    cJSON *cfg = cJSON_CreateObject();
    if (!cfg) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto fail; }
    cJSON_AddStringToObject(cfg, "model_type", "llama");
    cJSON_AddNumberToObject(cfg, "hidden_size", (double)C);
    cJSON_AddNumberToObject(cfg, "intermediate_size", (double)F);
    cJSON_AddNumberToObject(cfg, "num_hidden_layers", (double)L);
    cJSON_AddNumberToObject(cfg, "num_attention_heads", h.n_heads);
    cJSON_AddNumberToObject(cfg, "num_key_value_heads", h.n_kv_heads);
    cJSON_AddNumberToObject(cfg, "vocab_size", (double)V);
    cJSON_AddNumberToObject(cfg, "max_position_embeddings", h.seq_len);
    cJSON_AddNumberToObject(cfg, "rms_norm_eps", 1e-5);
    cJSON_AddNumberToObject(cfg, "rope_theta", 10000.0);
    cJSON_AddBoolToObject(cfg, "tie_word_embeddings", shared);
    cJSON_AddBoolToObject(cfg, "temper_rope_interleaved", 1);
    cJSON_AddNumberToObject(cfg, "bos_token_id", 1);
    cJSON_AddNumberToObject(cfg, "eos_token_id", 2);
    if ((rc = temper__weights_keep_map(w, m)) < 0) {
        cJSON_Delete(cfg);
        temper__weights_close(w);
        return rc;
    }
    *config = cfg;
    return 0;
fail:
    temper__weights_close(w);
    temper__mmap_close(&m);
    return rc;
}
