/* simd.h - run-time choice between the portable and the SIMD kernels. */
#ifndef TEMPER_SIMD_H
#define TEMPER_SIMD_H

#include "tensor/ops.h"

/* Compute columns [n0, n1) of out (T, N) = x @ W + bias. */
typedef void (*temper__matmul_kernel)(float *out, int ldo, const float *x, int T,
                                      const temper__mat *w, const float *bias,
                                      int accumulate, int n0, int n1);

void temper__matmul_generic(float *out, int ldo, const float *x, int T, const temper__mat *w,
                            const float *bias, int accumulate, int n0, int n1);
void temper__matmul_avx512(float *out, int ldo, const float *x, int T, const temper__mat *w,
                           const float *bias, int accumulate, int n0, int n1);

/* The best kernel for w on this CPU (TEMPER_NO_SIMD=1 forces the portable one). */
temper__matmul_kernel temper__matmul_select(const temper__mat *w);

#endif
