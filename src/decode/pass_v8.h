/*
 * pass_v8.h - the portable passes of pass.c, written once with 8-lane
 * vectors. pass.c includes this file once per variant, with V8FN(name)
 * naming the variant's functions and V8_ATTR its target: the baseline
 * (SSE2 on x86-64, NEON on arm64) and, on x86-64, AVX2+FMA.
 */

/* out = exp(in - m), returns the sum: 16 float lanes, then the lanes and
 * the tail in double (each lane sums ~3,100 values in [0, 1] for V =
 * 50,257). out may be NULL. */
V8_ATTR static double V8FN(exp_sub_sum)(const float *in, float m, float *out, int n) {
    int i = 0;
    temper__v8f mv = v8_splat(m), acc = v8_splat(0.0f), acc2 = acc;
    for (; i + 16 <= n; i += 16) {
        temper__v8f y = v8_exp(v8_load(in + i) - mv);
        temper__v8f y2 = v8_exp(v8_load(in + i + 8) - mv);
        if (out) {
            v8_store(out + i, y);
            v8_store(out + i + 8, y2);
        }
        acc += y;
        acc2 += y2;
    }
    for (; i < n; i += 8) { /* the tail, padded with -inf (exp 0) */
        float pad[8];
        int k = n - i < 8 ? n - i : 8;
        for (int l = 0; l < 8; l++) pad[l] = l < k ? in[i + l] : -INFINITY;
        temper__v8f y = v8_exp(v8_load(pad) - mv);
        v8_store(pad, y);
        if (out) memcpy(out + i, pad, sizeof(float) * (size_t)k);
        acc += y;
    }
    double z = 0.0;
    for (int l = 0; l < 8; l++) z += (double)acc[l] + (double)acc2[l];
    return z;
}

/* Sums in 8 float lanes per block of 1,024, then in double. */
V8_ATTR static double V8FN(dot_shift)(const float *e, const float *x, float m, int n) {
    double s = 0.0;
    temper__v8f mv = v8_splat(m), zero = v8_splat(0.0f);
    for (int b0 = 0; b0 < n; b0 += 1024) {
        int b1 = b0 + 1024 < n ? b0 + 1024 : n, i = b0;
        temper__v8f acc = zero;
        for (; i + 8 <= b1; i += 8) {
            temper__v8f ev = v8_load(e + i);
            acc += v8_select(ev != zero, ev * (v8_load(x + i) - mv), zero);
        }
        for (int l = 0; l < 8; l++) s += (double)acc[l];
        for (; i < b1; i++)
            if (e[i] != 0.0f) s += (double)(e[i] * (x[i] - m));
    }
    return s;
}

V8_ATTR static float V8FN(div_array)(const float *in, float *out, int n, float t) {
    int i = 0;
    temper__v8f tv = v8_splat(t), a = v8_splat(-INFINITY);
    for (; i + 8 <= n; i += 8) {
        temper__v8f y = v8_load(in + i) / tv;
        v8_store(out + i, y);
        a = v8_select(y > a, y, a);
    }
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    for (; i < n; i++) {
        out[i] = in[i] / t;
        if (out[i] > m) m = out[i];
    }
    return m;
}

V8_ATTR static float V8FN(max_array)(const float *x, int n) {
    int i = 0;
    temper__v8f a = v8_splat(-INFINITY), b = a, c = a, d = a;
    for (; i + 32 <= n; i += 32) {
        temper__v8f u = v8_load(x + i), v = v8_load(x + i + 8),
                    w = v8_load(x + i + 16), y = v8_load(x + i + 24);
        a = v8_select(u > a, u, a);
        b = v8_select(v > b, v, b);
        c = v8_select(w > c, w, c);
        d = v8_select(y > d, y, d);
    }
    a = v8_select(b > a, b, a);
    c = v8_select(d > c, d, c);
    a = v8_select(c > a, c, a);
    for (; i + 8 <= n; i += 8) {
        temper__v8f u = v8_load(x + i);
        a = v8_select(u > a, u, a);
    }
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

/* Groups of 1,024 values as 32 rows of 32: four 8-lane chains of vertical
 * maxes, then lanes of chains 0 and 2 (1 and 3) merged, so each of the 16
 * outputs is the max of a set of 64 values; the tail is one more set. */
V8_ATTR static int V8FN(set_max)(const float *x, int n, float *out) {
    int i = 0, k = 0;
    for (; i + 1024 <= n; i += 1024, k += 16) {
        temper__v8f a = v8_load(x + i), b = v8_load(x + i + 8), c = v8_load(x + i + 16),
                    d = v8_load(x + i + 24);
        for (int r = 32; r < 1024; r += 32) {
            temper__v8f u = v8_load(x + i + r), v = v8_load(x + i + r + 8),
                        w = v8_load(x + i + r + 16), y = v8_load(x + i + r + 24);
            a = v8_select(u > a, u, a);
            b = v8_select(v > b, v, b);
            c = v8_select(w > c, w, c);
            d = v8_select(y > d, y, d);
        }
        v8_store(out + k, v8_select(c > a, c, a));
        v8_store(out + k + 8, v8_select(d > b, d, b));
    }
    if (i < n) {
        float m = -INFINITY;
        for (; i < n; i++)
            if (x[i] > m) m = x[i];
        out[k++] = m;
    }
    return k;
}

V8_ATTR static int V8FN(check_max)(const float *x, int n, float *max) {
    int i = 0;
    temper__v8f a = v8_splat(-INFINITY), inf = v8_splat(INFINITY);
    temper__v8f b = a;
    temper__v8i bad = {0};
    for (; i + 16 <= n; i += 16) {
        temper__v8f u = v8_load(x + i), v = v8_load(x + i + 8);
        bad |= (u != u) | (u == inf) | (v != v) | (v == inf);
        a = v8_select(u > a, u, a);
        b = v8_select(v > b, v, b);
    }
    a = v8_select(b > a, b, a);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    int tail_bad = 0;
    for (; i < n; i++) {
        tail_bad |= isnan(x[i]) || x[i] == INFINITY;
        if (x[i] > m) m = x[i];
    }
    *max = m;
    if (v8_any(bad) || tail_bad)
        for (i = 0; i < n; i++)
            if (isnan(x[i]) || x[i] == INFINITY) return i;
    return -1;
}

V8_ATTR static int V8FN(collect_ge)(const float *x, int n, float t, int32_t *ids) {
    int i = 0, k = 0;
    temper__v8f tv = v8_splat(t);
    for (; i + 32 <= n; i += 32) {
        if (!v8_any32_ge(x + i, tv)) continue; /* the common case */
        for (int j = i; j < i + 32; j++) {
            ids[k] = j;
            k += x[j] >= t;
        }
    }
    for (; i < n; i++) {
        ids[k] = i;
        k += x[i] >= t;
    }
    return k;
}

V8_ATTR static int V8FN(first_eq)(const float *x, int n, float v) {
    int i = 0;
    temper__v8f vv = v8_splat(v);
    for (; i + 8 <= n; i += 8)
        if (v8_any(v8_load(x + i) == vv)) break;
    for (; i < n; i++)
        if (x[i] == v) return i;
    return -1;
}

/* Blocks of 8 are skipped whole by their sum. */
V8_ATTR static int V8FN(walk_cdf)(const float *e, int n, double target) {
    double cum = 0.0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        temper__v8f v = v8_load(e + i);
        double b = (double)((v[0] + v[1]) + (v[2] + v[3])) +
                   (double)((v[4] + v[5]) + (v[6] + v[7]));
        if (cum + b > target) break;
        cum += b;
    }
    return temper__walk_rest(e, n, i, cum, target);
}
