/*
 * simd.h - the kernels behind ops.h, as the threaded dispatcher in ops.c
 * calls them: each computes one thread's share of the work. The portable
 * versions are always there; the AVX-512 ones exist on x86-64 only and are
 * used when temper__simd_enabled().
 *
 * Shapes as in ops.h: x (T, K) row-major with row stride K, out (T, ldo).
 */
#ifndef TEMPER_SIMD_H
#define TEMPER_SIMD_H

#include "tensor/ops.h"

/* Portable: columns [n0, n1) of out = act(x @ W + bias [+ out]), any dtype. */
void temper__matmul_generic(float *out, int ldo, const float *x, int T, const temper__mat *w,
                            const float *bias, int ep, int n0, int n1);
/* Portable activation of the epilogue flags (GELU / ReLU) over n values. */
void temper__act_ref(float *x, long n, int ep);
float temper__f16_to_f32(uint16_t h);

/* Tests: 0 forces the portable kernels, 1 restores the run-time choice. */
void temper__simd_set(int enabled);

/* Rows that go to the streaming (matrix-vector) kernels; more go to GEMM. */
#define TEMPER__GEMV_MAX_T 8

#if defined(__x86_64__) && defined(__GNUC__)
#define TEMPER__HAVE_AVX512 1

/* KN streaming kernel: acc (T, lda), columns [n0, n1), += x[:, k0:k1) @
 * W[k0:k1, n0:n1). W f32/f16/bf16. T <= TEMPER__GEMV_MAX_T. */
void temper__gemv_kn_avx512(float *acc, int lda, const float *x, int T, const temper__mat *w,
                            int k0, int k1, int n0, int n1);
/* NK streaming kernel: complete columns [n0, n1) of out with the epilogue.
 * W f32/f16/bf16. T <= TEMPER__GEMV_MAX_T. */
void temper__gemv_nk_avx512(float *out, int ldo, const float *x, int T, const temper__mat *w,
                            const float *bias, int ep, int n0, int n1);
/* Cache-blocked matrix-matrix kernel: complete columns [n0, n1) of out with
 * the epilogue, any T. W f32/f16/bf16/q8 (unpacked to f32 panels). */
void temper__gemm_avx512(float *out, int ldo, const float *x, int T, const temper__mat *w,
                         const float *bias, int ep, int n0, int n1);

/* q8 streaming kernel (AVX-512 VNNI): x quantized per block of 32 (xq:
 * |x| as u8 (T, K), xneg: sign bits (T, K / 64) as 64-bit masks, xd: the
 * block scales expanded to 16 lanes per 64 values (T, K / 4)); complete
 * columns [n0, n1) with the epilogue. */
void temper__gemv_q8_avx512(float *out, int ldo, const uint8_t *xq, const uint64_t *xneg,
                            const float *xd, int T, const temper__mat *w, const float *bias, int ep,
                            int n0, int n1);
/* Quantize rows of x (T, K) for the kernel above. */
void temper__quantize_x_q8_avx512(uint8_t *xq, uint64_t *xneg, float *xd, const float *x, int T,
                                  int K);
int temper__cpu_has_vnni(void);

/* In-place activation (ep flags GELU / RELU) over n values. */
void temper__act_avx512(float *x, long n, int ep);
void temper__softmax_avx512(float *x, int n);
void temper__layernorm_avx512(float *out, const float *x, int C, const float *g, const float *b,
                              float eps);
/* Attention of one (row, head) (ops_math.c): out (hd) = softmax(scale K q) V over
 * npos cached positions (rows kvdim apart); scores: (npos) scratch, left
 * holding the probabilities. hd <= TEMPER__ATTN_MAX_HD. */
#define TEMPER__ATTN_MAX_HD 128
void temper__attn_row_avx512(float *out, const float *q, const float *kbase, const float *vbase,
                             int npos, int hd, int kvdim, float scale, float *scores);
/* The same for R <= 4 rows of one sequence and head: q rows ldq apart, out
 * rows ldo apart, npos (R); S: (R, lds) scratch, left holding the
 * probabilities. */
void temper__attn_rows4_avx512(float *out, int ldo, const float *q, int ldq, int R, const float *kbase,
                               const float *vbase, const int *npos, int hd, int kvdim, float scale, float *S,
                               int lds);
#endif

#endif
