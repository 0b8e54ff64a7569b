/*
 * ops.h - the tensor kernels of the forward pass. Every kernel has a plain C
 * version (ops.c: also what runs without AVX-512 or with TEMPER_NO_SIMD=1)
 * and, where it matters, an AVX-512 version chosen at run time;
 * tests/unit/test_ops.c checks both against double-precision references and
 * bench/bench_ops.c times them side by side. docs/performance.md explains
 * the design and the measurements.
 *
 * Files: ops.c (portable kernels, dispatch, threading), ops_gemv.c (few-row
 * streaming products: decode), ops_gemm.c (blocked products: prefill),
 * ops_q8.c (8-bit weights), ops_math.c (exp, GELU, softmax, layer norm,
 * attention), avx512.h and simd.h (shared SIMD helpers and declarations).
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

/* A weight matrix view; data borrowed from the model's weight table.
 * q8 matrices (TEMPER__Q8, always NK; K a multiple of 32) hold N rows of
 * temper__q8_row_bytes(K) bytes: K int8 values q, then K / 32 f16 scales d
 * (each row self-contained, so a q8 table can be read by rows too);
 * weight (n, k) = d[k / 32] * q[k] of row n. */
typedef struct temper__mat {
    temper__dtype dtype;
    temper__layout layout;
    int K, N;
    const void *data;
} temper__mat;

/* Epilogue flags of temper__matmul_ep, applied in this order. */
enum {
    TEMPER__EP_ACC = 1,  /* add the product to what out holds (residual) */
    TEMPER__EP_GELU = 2, /* then GELU (tanh form, gelu_new) */
    TEMPER__EP_RELU = 4, /* then ReLU */
};

/* out (T, N) = act(x (T, K) @ W + bias (N) [+ out]). bias may be NULL.
 * ldo: row stride of out (>= N). Threads split N (or K for small N,
 * reducing partial sums). Small T streams the weights once (decode, batched
 * decode); larger T runs a cache-blocked matrix-matrix kernel. */
void temper__matmul_ep(temper__pool *pool, float *out, int ldo, const float *x, int T,
                       const temper__mat *w, const float *bias, int ep);
/* The same with ep = accumulate ? TEMPER__EP_ACC : 0. */
void temper__matmul(temper__pool *pool, float *out, int ldo, const float *x, int T,
                    const temper__mat *w, const float *bias, int accumulate);

/* Reference single-thread version (portable C, any dtype, for tests). */
void temper__matmul_ref(float *out, int ldo, const float *x, int T, const temper__mat *w,
                        const float *bias, int ep);

/* q8 weights from a matrix of f32/f16/bf16 (any layout): *out is a
 * TEMPER__Q8 view whose data is a new 64-byte aligned buffer owned by the
 * caller (free()). Each block of 32 along K gets the scale max|w| / 127 and
 * q = round(w / scale). Returns 0, or TEMPER_EINVAL (K not a multiple of
 * 32) / TEMPER_ENOMEM without setting an error message. */
int temper__quantize_q8(const temper__mat *w, temper__mat *out);
/* Bytes of a q8 matrix of (K, N), and of one of its rows. */
size_t temper__q8_bytes(int K, int N);
static inline size_t temper__q8_row_bytes(int K) { return (size_t)K + (size_t)K / 16; }

/* 1 when a SIMD level is in use (not portable): see simd.h, level.c. */
int temper__simd_enabled(void);

/* Row n of a (rows, C) matrix of any dtype (q8 too), converted to f32: out (C). */
void temper__row_f32(float *out, const void *data, temper__dtype dtype, int C, long row);

/* out (T, C) = layernorm(x (T, C)) * g + b, in place allowed. b may be NULL. */
void temper__layernorm(float *out, const float *x, int T, int C, const float *g,
                       const float *b, float eps);
/* out (T, C) = x / rms(x) * g, in place allowed. */
void temper__rmsnorm(float *out, const float *x, int T, int C, const float *g, float eps);

/* In place over n values. gelu_tanh(v) = 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))),
 * computed as v / (1 + exp(-2 u)) (the same function, accurate to a few ulp). */
void temper__gelu_tanh(float *x, long n);
void temper__relu(float *x, long n);
/* gelu_erf(v) = 0.5 v (1 + erf(v / sqrt(2))): transformers' "gelu" (nn.GELU()). */
void temper__gelu_erf(float *x, long n);
void temper__silu_mul(float *gate, const float *up, long n); /* gate = silu(gate) * up */

/* Softmax of x (n) in place, with max subtraction; -inf entries give 0. */
void temper__softmax(float *x, int n);

/* Causal attention for a set of rows of one layer.
 * q: (T, H * hd) queries (row r belongs to sequence seq[r] at position pos[r]).
 * kc, vc: key/value caches of the layer, (n_seq, n_ctx, Hkv * hd); row r
 * attends to positions 0..pos[r] of its sequence (already written).
 * out: (T, H * hd). probs_out: if not NULL, the attention probabilities of
 * row r, head h go to probs_out + r * probs_row + h * probs_head, probs_len
 * entries (those beyond pos[r] set to 0). scale: usually 1/sqrt(hd).
 * window: 0 for full causal attention; W > 0 for a sliding window, row r
 * attends to positions pos[r] - W + 1 .. pos[r] only (W positions, itself
 * included: transformers' sliding_window, GPT-Neo's window_size). */
typedef struct temper__attn_args {
    float *out;
    const float *q;
    const float *kc, *vc;
    const int *seq, *pos;
    int T, H, Hkv, hd, n_ctx;
    float scale;
    int window;
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
/* Rotate-half RoPE on the first rot (even, <= hd) values of each head only,
 * the others passed through (GPT-NeoX's rotary_pct): angle of pair
 * (i, i + rot/2) at position p is p * theta^(-2i/rot). */
void temper__rope_partial(float *x, int T, const int *pos, int nh, int hd, int rot, double theta);

#endif
