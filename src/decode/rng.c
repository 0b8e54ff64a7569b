/*
 * rng.c - the random streams of sampling: xoshiro256** (Blackman & Vigna,
 * "Scrambled linear pseudorandom number generators", 2018) seeded by
 * splitmix64 (Steele, Lea & Flood, 2014). Stream j of seed s starts from
 * splitmix64_mix(s + j * golden), so each returned sequence has its own
 * stream and the tokens of one do not depend on how many others are drawn.
 */
#include "decode/decode.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *x) {
    *x += GOLDEN;
    return splitmix64_mix(*x);
}

void temper_rng_seed(temper_rng *rng, uint64_t seed, uint64_t stream) {
    uint64_t x = splitmix64_mix(seed + stream * GOLDEN);
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64_next(&x);
    /* an all-zero state would stay zero; splitmix64 cannot give four zeros
     * in a row, but keep the guard explicit */
    if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3])) rng->s[0] = GOLDEN;
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t temper_rng_next(temper_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double temper_rng_uniform(temper_rng *rng) {
    return (double)(temper_rng_next(rng) >> 11) * 0x1.0p-53;
}
