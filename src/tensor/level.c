/*
 * level.c - the SIMD level the kernels run at. The CPU is probed once
 * (pthread_once); TEMPER_SIMD=avx512|avx2|neon|portable (or the older
 * TEMPER_NO_SIMD=1, meaning portable) may name a level; tests and benches
 * force one with temper__simd_force(). The current level is one atomic
 * int, read by every dispatching call.
 *
 * A TEMPER_SIMD naming an unknown level or one this CPU lacks is not
 * fatal here: the kernels run at the highest supported level, the error
 * is kept, temper_simd_level() returns it and temper_model_load() and
 * temper_sampler_init() refuse with it, so a run never silently measures
 * another level than asked.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "core/core.h"
#include "tensor/simd.h"

static const char *const temper__level_names[TEMPER__SIMD_NLEVELS] = {"portable", "neon", "avx2", "avx512"};

const char *temper__simd_name(int level) {
    return level >= 0 && level < TEMPER__SIMD_NLEVELS ? temper__level_names[level] : "?";
}

int temper__simd_parse(const char *name) {
    for (int l = 0; l < TEMPER__SIMD_NLEVELS; l++)
        if (name && strcmp(name, temper__level_names[l]) == 0) return l;
    return -1;
}

/* Levels as a readable list: "avx512, avx2, portable". */
static void temper__level_list(char *buf, size_t size, unsigned mask) {
    size_t n = 0;
    buf[0] = '\0';
    for (int l = TEMPER__SIMD_NLEVELS - 1; l >= 0 && n < size; l--)
        if (mask & (1u << l)) n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", temper__level_names[l]);
}

static int temper__highest(unsigned mask) {
    for (int l = TEMPER__SIMD_NLEVELS - 1; l > 0; l--)
        if (mask & (1u << l)) return l;
    return TEMPER__SIMD_PORTABLE;
}

int temper__simd_choose(const char *simd_env, const char *no_simd_env, unsigned supported, int *level,
                        char *msg, size_t msg_size) {
    char list[64];
    *level = temper__highest(supported);
    if (msg_size) msg[0] = '\0';
    if (simd_env && *simd_env) {
        int want = temper__simd_parse(simd_env);
        temper__level_list(list, sizeof list, supported);
        if (want < 0) {
            snprintf(msg, msg_size,
                     "TEMPER_SIMD is \"%s\", not a SIMD level: use avx512, avx2, neon or portable (this CPU runs %s)",
                     simd_env, list);
            return TEMPER_EINVAL;
        }
        if (!(supported & (1u << want))) {
            snprintf(msg, msg_size,
                     "TEMPER_SIMD is \"%s\" but this CPU does not support it: use one of %s, or unset TEMPER_SIMD",
                     simd_env, list);
            return TEMPER_EINVAL;
        }
        *level = want;
        return 0;
    }
    if (no_simd_env && *no_simd_env && strcmp(no_simd_env, "0") != 0) *level = TEMPER__SIMD_PORTABLE;
    return 0;
}

unsigned temper__simd_cpu(void) {
    unsigned m = 1u << TEMPER__SIMD_PORTABLE;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (avx2) m |= 1u << TEMPER__SIMD_AVX2;
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        m |= 1u << TEMPER__SIMD_AVX512;
#elif defined(__aarch64__)
    m |= 1u << TEMPER__SIMD_NEON; /* Advanced SIMD is part of ARMv8-A */
#endif
    return m;
}

static struct {
    pthread_once_t once;
    unsigned supported;
    int level;     /* TEMPER_SIMD's, else the highest supported */
    int status;    /* 0, or the error of a bad TEMPER_SIMD */
    char msg[200];
} temper__lv = {.once = PTHREAD_ONCE_INIT};

static atomic_int temper__level_now = -1;

static void temper__level_detect(void) {
    temper__lv.supported = temper__simd_cpu();
    temper__lv.status = temper__simd_choose(getenv("TEMPER_SIMD"), getenv("TEMPER_NO_SIMD"), temper__lv.supported,
                                            &temper__lv.level, temper__lv.msg, sizeof temper__lv.msg);
}

static void temper__level_init(void) {
    pthread_once(&temper__lv.once, temper__level_detect);
    int expected = -1; /* a level forced meanwhile stays */
    atomic_compare_exchange_strong(&temper__level_now, &expected, temper__lv.level);
}

int temper__simd(void) {
    int l = atomic_load_explicit(&temper__level_now, memory_order_relaxed);
    if (l >= 0) return l;
    temper__level_init();
    return atomic_load(&temper__level_now);
}

unsigned temper__simd_supported(void) {
    pthread_once(&temper__lv.once, temper__level_detect);
    return temper__lv.supported;
}

int temper__simd_force(int level) {
    pthread_once(&temper__lv.once, temper__level_detect);
    if (level < 0) {
        atomic_store(&temper__level_now, temper__lv.level);
        return 0;
    }
    if (level >= TEMPER__SIMD_NLEVELS || !(temper__lv.supported & (1u << level))) {
        char list[64];
        temper__level_list(list, sizeof list, temper__lv.supported);
        return temper__error(TEMPER_EINVAL, "SIMD level %s is not supported by this CPU: use one of %s",
                             temper__simd_name(level), list);
    }
    atomic_store(&temper__level_now, level);
    return 0;
}

int temper__simd_check(void) {
    pthread_once(&temper__lv.once, temper__level_detect);
    return temper__lv.status ? temper__error(temper__lv.status, "%s", temper__lv.msg) : 0;
}

void temper__simd_set(int enabled) {
    (void)temper__simd_force(enabled ? -1 : TEMPER__SIMD_PORTABLE);
}

int temper_simd_level(const char **level) {
    int rc = temper__simd_check();
    if (level) *level = temper__simd_name(temper__simd());
    return rc;
}
