/*
 * ops.h - the tensor kernels of the forward pass. Every kernel has a plain C
 * reference version (ops_ref.c) and, where it matters, SIMD versions chosen
 * at run time (ops_avx512.c); tests/unit/test_ops.c checks them against
 * each other and bench/bench_ops.c times them.
 *
 * Shapes: T = rows (tokens), K = input features, N = output features.
 * Matrices are row-major. Computation is in f32 whatever the weight dtype.
 */
#ifndef TEMPER_OPS_H
#define TEMPER_OPS_H

#include "core/pool.h"
#include "formats/weights.h"

typedef enum temper__layout {
    TEMPER__KN, /* W is (K, N): Conv1D as in HF GPT-2 (x @ W) */
    TEMPER__NK, /* W is (N, K): nn.Linear, embeddings used as a head (x @ W^T) */
} temper__layout;

/* A weight matrix view; data borrowed from the model's weight table. */
typedef struct temper__mat {
    temper__dtype dtype;
    temper__layout layout;
    int K, N;
    const void *data;
} temper__mat;

/* out (T, N) = x (T, K) @ W + bias (N) [+ out if accumulate]. bias may be
 * NULL. Threads split N. ldo: row stride of out (>= N). */
void temper__matmul(temper__pool *pool, float *out, int ldo, const float *x, int T,
                    const temper__mat *w, const float *bias, int accumulate);

/* Reference single-thread version of the same (for tests). */
void temper__matmul_ref(float *out, int ldo, const float *x, int T, const temper__mat *w,
                        const float *bias, int accumulate);

/* Row n of a (rows, C) matrix of any dtype, converted to f32: out (C). */
void temper__row_f32(float *out, const void *data, temper__dtype dtype, int C, long row);

/* out (T, C) = layernorm(x (T, C)) * g + b, in place allowed. b may be NULL. */
void temper__layernorm(float *out, const float *x, int T, int C, const float *g,
                       const float *b, float eps);
/* out (T, C) = x / rms(x) * g, in place allowed. */
void temper__rmsnorm(float *out, const float *x, int T, int C, const float *g, float eps);

/* In place over n values. */
void temper__gelu_tanh(float *x, long n);
void temper__relu(float *x, long n);
void temper__silu_mul(float *gate, const float *up, long n); /* gate = silu(gate) * up */

/* Softmax of x (n) in place, with max subtraction; -inf entries give 0. */
void temper__softmax(float *x, int n);

/* Causal attention for a set of rows of one layer.
 * q: (T, H * hd) queries (row r belongs to sequence seq[r] at position pos[r]).
 * kc, vc: key/value caches of the layer, (n_seq, n_ctx, Hkv * hd); row r
 * attends to positions 0..pos[r] of its sequence (already written).
 * out: (T, H * hd). probs_out: if not NULL, the attention probabilities of
 * row r, head h go to probs_out + r * probs_row + h * probs_head, probs_len
 * entries (those beyond pos[r] set to 0). scale: usually 1/sqrt(hd). */
typedef struct temper__attn_args {
    float *out;
    const float *q;
    const float *kc, *vc;
    const int *seq, *pos;
    int T, H, Hkv, hd, n_ctx;
    float scale;
    float *probs_out;
    size_t probs_row, probs_head;
    int probs_len;
    float *scratch; /* (nth, n_ctx) */
} temper__attn_args;
void temper__attention(temper__pool *pool, const temper__attn_args *a);

/* Rotary position embedding in place on x (T, nh * hd) for positions pos (T).
 * Angle of pair i at position p: p * theta^(-2i/hd).
 * interleaved = 0: pairs (i, i + hd/2), the rotate-half layout of HF Llama;
 * interleaved = 1: pairs (2i, 2i + 1), the layout of llama2.c checkpoints. */
void temper__rope(float *x, int T, const int *pos, int nh, int hd, double theta, int interleaved);

#endif
