/*
 * table.c - the next-token table (the n most likely tokens of one row with
 * their raw and processed log-probabilities, and the entropies), the
 * decoding mode a parameter set asks for, and a seed from the system.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "decode/decode.h"
#include "models/model.h"

/* Larger logit first; equal logits: lower id first. */
static int before(const float *logits, int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

/* log_softmax of x (V), in double: *max and *log_sum, and the entropy. */
static double softmax_stats(const float *x, int V, double *max, double *log_sum) {
    double m = -INFINITY, s = 0, e = 0;
    for (int i = 0; i < V; i++) m = fmax(m, x[i]);
    for (int i = 0; i < V; i++) s += exp(x[i] - m);
    double ls = log(s);
    for (int i = 0; i < V; i++) {
        double lp = x[i] - m - ls;
        if (lp > -INFINITY) e -= exp(lp) * lp;
    }
    *max = m;
    *log_sum = ls;
    return e;
}

int temper_next_token_table(const float *logits, int V, temper_sampler *s, int n,
                            temper_candidate *out, temper_next_token_info *info) {
    if (!logits || V < 1 || n < 0 || (n > 0 && !out))
        return temper__error(TEMPER_EINVAL, "temper_next_token_table: bad arguments (n_vocab %d, n %d)", V, n);
    for (int i = 0; i < V; i++)
        if (isnan(logits[i]) || logits[i] == INFINITY)
            return temper__error(TEMPER_EINVAL, "logit %d is %g: the row must hold finite values "
                                 "or -inf", i, (double)logits[i]);
    if (n > V) n = V;
    float *proc = NULL; /* (V) the sampler's processed scores */
    if (s) {
        proc = malloc(sizeof(float) * (size_t)V);
        if (!proc) return temper__error(TEMPER_ENOMEM, "out of memory");
        int rc = temper_sampler_scores(s, proc);
        if (rc < 0) {
            free(proc);
            return rc;
        }
    }
    /* the n best, kept sorted by insertion (n is small next to V) */
    int *best = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!best) {
        free(proc);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < V && n > 0; i++) {
        if (k == n && !before(logits, i, best[n - 1])) continue;
        int j = k < n ? k++ : n - 1;
        while (j > 0 && before(logits, i, best[j - 1])) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
    double m, ls, pm = 0, pls = 0;
    double entropy = softmax_stats(logits, V, &m, &ls);
    double entropy_p = proc ? softmax_stats(proc, V, &pm, &pls) : NAN;
    for (int r = 0; r < k; r++) {
        int id = best[r];
        out[r].id = id;
        out[r].logit = logits[id];
        out[r].logprob = logits[id] - m - ls;
        out[r].logprob_processed = proc ? proc[id] - pm - pls : NAN;
    }
    if (info) {
        info->n_vocab = V;
        info->entropy = entropy;
        info->entropy_processed = entropy_p;
        info->n_kept = V;
        if (proc) {
            info->n_kept = 0;
            for (int i = 0; i < V; i++) info->n_kept += proc[i] > -INFINITY;
        }
    }
    free(best);
    free(proc);
    return k;
}

int temper_generate_mode(const temper_generate_params *p) {
    if (!p) return temper__error(TEMPER_EINVAL, "temper_generate_mode: params is NULL");
    int rc = temper_sampling_params_check(&p->sampling);
    if (rc < 0) return rc;
    int greedy = !p->sampling.do_sample || p->sampling.temperature == 0.0f;
    if ((rc = temper__check_generate(NULL, NULL, p, 1)) < 0) return rc; /* temper_generate's */
    return p->num_beams > 1 ? TEMPER_MODE_BEAM : greedy ? TEMPER_MODE_GREEDY : TEMPER_MODE_SAMPLE;
}

const char *temper_generate_mode_name(int mode) {
    static const char *const names[] = {"greedy", "sample", "beam"};
    return mode >= 0 && mode < 3 ? names[mode] : NULL;
}

uint64_t temper_random_seed(void) {
    uint32_t s;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint32_t)time(NULL);
    return s;
}

int temper_model_score_bos(const temper_model *m, temper_token *bos) {
    if (!m || !bos) return temper__error(TEMPER_EINVAL, "temper_model_score_bos: model or bos is NULL");
    *bos = m->bos_id >= 0 ? m->bos_id : m->eos_id;
    if (*bos < 0)
        return temper__error(TEMPER_ENOENT, "the model has neither a BOS nor an EOS token to put "
                             "before the text: give the token ids yourself");
    return 0;
}
