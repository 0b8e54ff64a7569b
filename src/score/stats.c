/*
 * stats.c - summary statistics of a vector (the hidden states' tables and
 * JSON): min, max, mean, population std and Euclidean norm, in double.
 */
#include <math.h>

#include "core/core.h"

temper_stats temper_vector_stats(const float *x, size_t n) {
    temper_stats s = {.min = INFINITY, .max = -INFINITY};
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        s.min = fmin(s.min, x[i]), s.max = fmax(s.max, x[i]);
        sum += x[i];
    }
    s.mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) {
        sq += ((double)x[i] - s.mean) * ((double)x[i] - s.mean);
        s.norm += (double)x[i] * x[i];
    }
    s.std = sqrt(sq / (double)n);
    s.norm = sqrt(s.norm);
    return s;
}
