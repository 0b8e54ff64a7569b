/*
 * pass.c - the dense passes over a whole row (V = 50,257 scores for
 * GPT-2): check-and-max, max, exp-and-sum, divide, collect, argmax, the
 * inverse-CDF walk. Each public function runs the variant of the current
 * SIMD level (tensor/simd.h): AVX-512 (pass_avx512.c), AVX2+FMA or
 * baseline (pass_v8.h compiled twice, below).
 *
 * glibc's expf costs ~6 ns, so exp is a polynomial evaluated in vector
 * lanes (GCC vector extensions: SSE2/AVX2 on x86-64, NEON on arm64).
 */
#include <math.h>
#include <string.h>

#include "decode/decode.h"
#include "tensor/ops.h"
#include "tensor/simd.h"

/*
 * The portable passes are written once with 8-lane vectors (pass_v8.h) and
 * compiled as explicit variants, one per SIMD level: a baseline one, where
 * each 8-lane operation becomes two SSE2 (or NEON) ones (level portable),
 * and on x86-64 an AVX2+FMA one (level avx2). Level avx512 runs
 * pass_avx512.c. Each call goes to the current level's variant
 * (temper__simd()), so dense and gathered (sparse) rows give the same bits
 * at one level; the FMA variant's exps may differ from the baseline's in the
 * last bit.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define TEMPER__PASS_X86 1
#endif

typedef float temper__v8f __attribute__((vector_size(32)));
typedef int32_t temper__v8i __attribute__((vector_size(32)));

#define V8_INLINE static inline __attribute__((always_inline))

V8_INLINE temper__v8f v8_load(const float *p) {
    temper__v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

V8_INLINE void v8_store(float *p, temper__v8f v) { memcpy(p, &v, sizeof v); }

V8_INLINE temper__v8f v8_splat(float a) {
    return (temper__v8f){a, a, a, a, a, a, a, a};
}

/* mask ? a : b, lane by lane (mask lanes are 0 or -1). */
V8_INLINE temper__v8f v8_select(temper__v8i mask, temper__v8f a,
                                temper__v8f b) {
    return (temper__v8f)(((temper__v8i)a & mask) | ((temper__v8i)b & ~mask));
}

V8_INLINE int v8_any(temper__v8i m) {
    uint64_t w[4];
    memcpy(w, &m, sizeof w);
    return (w[0] | w[1] | w[2] | w[3]) != 0;
}

/* Any of x[0..32) >= t? One reduction per 32 values. */
V8_INLINE int v8_any32_ge(const float *x, temper__v8f t) {
    temper__v8f a = v8_load(x), b = v8_load(x + 8), c = v8_load(x + 16),
                d = v8_load(x + 24);
    return v8_any((a >= t) | (b >= t) | (c >= t) | (d >= t));
}

/*
 * exp(x) for x <= 0 (every input is a score minus the max) = 2^n exp(r),
 * n = round(x / ln 2), r = x - n ln 2 in [-0.347, 0.347] (ln 2 split in
 * two parts, Cody & Waite), exp(r) by its Taylor polynomial of degree 7
 * (truncation error < 6e-9, so the result is within about 1 ulp of the
 * exact value), evaluated in Estrin's form: a shorter dependency chain
 * than Horner's. 2^n is built in the exponent bits. Inputs below -87
 * (and -inf) give 0: their probability is < 2e-38. Tails go through the
 * same vector code, padded, so an element's exp does not depend on its
 * position.
 */
#define EXP_LO (-87.0f)
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO (-2.12194440e-4f)
#define EXP_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

V8_INLINE temper__v8f v8_exp(temper__v8f x) {
    temper__v8i under = x < v8_splat(EXP_LO);
    x = v8_select(under, v8_splat(EXP_LO), x);
    temper__v8f n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
    temper__v8f r = x - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    temper__v8f r2 = r * r;
    temper__v8f r4 = r2 * r2;
    temper__v8f p01 = r + 1.0f;
    temper__v8f p23 = r * (1.0f / 6.0f) + 0.5f;
    temper__v8f p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
    temper__v8f p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    temper__v8f p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    temper__v8i bits = (__builtin_convertvector(n, temper__v8i) + 127) << 23;
    temper__v8f y = p * (temper__v8f)bits;
    return v8_select(under, v8_splat(0.0f), y);
}

/* ---- the variants -------------------------------------------------------- */

#define V8FN(name) name##_base
#define V8_ATTR __attribute__((optimize("fp-contract=fast")))
#include "decode/pass_v8.h"
#undef V8FN
#undef V8_ATTR

#ifdef TEMPER__PASS_X86
#define V8FN(name) name##_avx2
#define V8_ATTR __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#include "decode/pass_v8.h"
#undef V8FN
#undef V8_ATTR

/* The current level's variant; first_eq has no AVX-512 form (avx2's serves). */
#define PASS(name, ...)                                                                  \
    switch (temper__simd()) {                                                            \
    case TEMPER__SIMD_AVX512: return temper__##name##_avx512(__VA_ARGS__);               \
    case TEMPER__SIMD_AVX2: return name##_avx2(__VA_ARGS__);                             \
    default: return name##_base(__VA_ARGS__);                                            \
    }
#define PASS_NO512(name, ...) \
    return temper__simd() >= TEMPER__SIMD_AVX2 ? name##_avx2(__VA_ARGS__) : name##_base(__VA_ARGS__)
#else
#define PASS(name, ...) return name##_base(__VA_ARGS__)
#define PASS_NO512(name, ...) return name##_base(__VA_ARGS__)
#endif

double temper__exp_sub_sum(const float *in, float m, float *out, int n) { PASS(exp_sub_sum, in, m, out, n); }
double temper__dot_shift(const float *e, const float *x, float m, int n) { PASS(dot_shift, e, x, m, n); }
float temper__div_array(const float *in, float *out, int n, float t) { PASS(div_array, in, out, n, t); }
float temper__max_array(const float *x, int n) { PASS(max_array, x, n); }
int temper__set_max(const float *x, int n, float *out) { PASS(set_max, x, n, out); }
int temper__check_max(const float *x, int n, float *max) { PASS(check_max, x, n, max); }
int temper__collect_ge(const float *x, int n, float t, int32_t *ids) { PASS(collect_ge, x, n, t, ids); }
int temper__first_eq(const float *x, int n, float v) { PASS_NO512(first_eq, x, n, v); }
int temper__walk_cdf(const float *e, int n, double target) { PASS(walk_cdf, e, n, target); }
