/*
 * simd.h - the SIMD levels (level.c) and the kernels behind ops.h, as the
 * threaded dispatcher in ops.c calls them: each computes one thread's share
 * of the work. The portable versions are always there; the AVX-512 ones
 * exist on x86-64 only and are used at level TEMPER__SIMD_AVX512.
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

/* ---- SIMD levels (level.c) ---------------------------------------------- */

/* Ordered: a CPU that runs a level of its architecture runs those below it. */
enum {
    TEMPER__SIMD_PORTABLE, /* plain C (SSE2 on x86-64, the compiler's choice elsewhere) */
    TEMPER__SIMD_NEON,     /* aarch64 Advanced SIMD */
    TEMPER__SIMD_AVX2,     /* x86-64 AVX2 + FMA + F16C */
    TEMPER__SIMD_AVX512,   /* x86-64 AVX-512 F/BW/VL/DQ (+ the AVX2 set) */
    TEMPER__SIMD_NLEVELS
};

/* The level the kernels run at now: TEMPER_SIMD's (TEMPER_NO_SIMD=1:
 * portable), else the highest this CPU supports. Cheap (one atomic load). */
int temper__simd(void);
/* Bit (1 << level) for each level this CPU supports (portable always). */
unsigned temper__simd_supported(void);
/* Tests and benches: run at level from now on (-1: back to the default).
 * Returns 0, or TEMPER_EINVAL with a message when the CPU lacks it. Not
 * meant to be called while kernels run on other threads. */
int temper__simd_force(int level);
/* 0, or TEMPER_EINVAL with its message when TEMPER_SIMD names an unknown
 * level or one this CPU lacks (the kernels then run at the default). */
int temper__simd_check(void);
/* "portable", "neon", "avx2", "avx512"; and back (-1 if unknown). */
const char *temper__simd_name(int level);
int temper__simd_parse(const char *name);
/* The choice behind the above, for tests: from the values of TEMPER_SIMD
 * and TEMPER_NO_SIMD (either may be NULL) and the supported mask, *level
 * and 0, or TEMPER_EINVAL and msg (msg_size bytes, NUL-terminated). */
int temper__simd_choose(const char *simd_env, const char *no_simd_env, unsigned supported, int *level,
                        char *msg, size_t msg_size);
/* The levels the CPU supports, probed (not cached). */
unsigned temper__simd_cpu(void);
/* Older tests: 0 forces portable, 1 restores the default. */
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
 * holding the probabilities. Any head size. */
void temper__attn_row_avx512(float *out, const float *q, const float *kbase, const float *vbase,
                             int npos, int hd, int kvdim, float scale, float *scores);
/* The same for R <= 4 rows of one sequence and head: q rows ldq apart, out
 * rows ldo apart, npos (R); S: (R, lds) scratch, left holding the
 * probabilities. */
void temper__attn_rows4_avx512(float *out, int ldo, const float *q, int ldq, int R, const float *kbase,
                               const float *vbase, const int *npos, int hd, int kvdim, float scale, float *S,
                               int lds);

/* The same kernels for AVX2 + FMA + F16C (the *_avx2.c files), same
 * arguments; attention one row at a time. */
void temper__gemv_kn_avx2(float *acc, int lda, const float *x, int T, const temper__mat *w, int k0, int k1, int n0,
                          int n1);
void temper__gemv_nk_avx2(float *out, int ldo, const float *x, int T, const temper__mat *w, const float *bias, int ep,
                          int n0, int n1);
void temper__gemm_avx2(float *out, int ldo, const float *x, int T, const temper__mat *w, const float *bias, int ep,
                       int n0, int n1);
void temper__act_avx2(float *x, long n, int ep);
void temper__softmax_avx2(float *x, int n);
void temper__layernorm_avx2(float *out, const float *x, int C, const float *g, const float *b, float eps);
void temper__attn_row_avx2(float *out, const float *q, const float *kbase, const float *vbase, int npos, int hd,
                           int kvdim, float scale, float *scores);
/* q8 for AVX2: x (T, K) quantized per block of 32 to xq (T, K) int8 and xd
 * (T, K / 32) scales; the kernel completes columns [n0, n1) with the
 * epilogue, with vpmaddubsw, or vpdpbusd on CPUs with AVX-VNNI. */
void temper__quantize_x_q8_avx2(int8_t *xq, float *xd, const float *x, int T, int K);
void temper__gemv_q8_avx2(float *out, int ldo, const int8_t *xq, const float *xd, int T, const temper__mat *w,
                          const float *bias, int ep, int n0, int n1);
int temper__cpu_has_avxvnni(void);
/* The load-time q8 quantization of a block of 32 (ops_q8.c), by parts:
 * max|v|, then q = round half away from zero of v id, clamped to 127. */
float temper__q8_amax_avx2(const float *v);
void temper__q8_round_avx2(const float *v, float id, int8_t *q);
/* Tests: 0 makes the AVX2 q8 kernel use vpmaddubsw even on an AVX-VNNI CPU,
 * -1 restores the CPU's choice. */
void temper__avxvnni_force(int use);
#endif

#if defined(__aarch64__) && defined(__GNUC__)
#define TEMPER__HAVE_NEON 1

/* Level neon (ops_neon.c, ops_q8_neon.c): the arguments of the x86 forms.
 * The streaming kernels serve any T (there is no blocked kernel). */
void temper__gemv_kn_neon(float *acc, int lda, const float *x, int T, const temper__mat *w, int k0, int k1, int n0,
                          int n1);
void temper__gemv_nk_neon(float *out, int ldo, const float *x, int T, const temper__mat *w, const float *bias, int ep,
                          int n0, int n1);
void temper__act_neon(float *x, long n, int ep);
void temper__softmax_neon(float *x, int n);
void temper__layernorm_neon(float *out, const float *x, int C, const float *g, const float *b, float eps);
void temper__attn_row_neon(float *out, const float *q, const float *kbase, const float *vbase, int npos, int hd,
                           int kvdim, float scale, float *scores);
/* q8: x quantized as for AVX2 (xq (T, K) int8, xd (T, K / 32)); sdot on
 * CPUs with the dot-product extension. */
void temper__quantize_x_q8_neon(int8_t *xq, float *xd, const float *x, int T, int K);
void temper__gemv_q8_neon(float *out, int ldo, const int8_t *xq, const float *xd, int T, const temper__mat *w,
                          const float *bias, int ep, int n0, int n1);
int temper__cpu_has_sdot(void);
/* Tests: 0 makes the q8 kernel use widening multiplies even with sdot, -1
 * restores the CPU's choice. */
void temper__sdot_force(int use);
#endif

#endif
