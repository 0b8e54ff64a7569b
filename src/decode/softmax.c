/*
 * softmax.c - the columns of `temper softmax` (seeds 002/003) for a row of
 * toy logits at one temperature, from the sampler, the same code as
 * generation: "scaled" and "prob" from a sampler with the temperature
 * alone, "processed" from one with every stage given, and draws from it.
 */
#include <math.h>
#include <stdlib.h>

#include "decode/decode.h"

int temper_softmax_table(const float *logits, int n, const temper_sampling_params *stages,
                         double temperature, uint64_t seed, long n_samples, double *scaled,
                         double *prob, double *prob_processed, temper_token *samples,
                         char *described, size_t cap) {
    if (!logits || n < 1 || !stages || !(temperature >= 0) || n_samples < 0 || !scaled || !prob ||
        !prob_processed || (n_samples > 0 && !samples))
        return temper__error(TEMPER_EINVAL, "softmax table: give n >= 1 logits, a temperature >= 0 "
                             "and the output columns");
    temper_sampler *plain = NULL, *full = NULL;
    float *scores = malloc(sizeof(float) * (size_t)n); /* (n) */
    if (!scores) return temper__error(TEMPER_ENOMEM, "out of memory for %d logits", n);

    /* "scaled" and "prob": the temperature alone */
    temper_sampling_params pp = temper_sampling_default_params();
    pp.do_sample = 1;
    pp.top_k = 0;
    pp.temperature = (float)temperature;
    int rc = temper_sampler_init(&pp, n, &plain);
    if (rc == 0) rc = temper_sampler_apply(plain, logits, NULL, 0, 0);
    if (rc == 0 && temperature == 0) {
        /* the limit of softmax(x / T) as T -> 0: the largest logit(s) */
        float m = -INFINITY;
        int ties = 0;
        for (int i = 0; i < n; i++) m = logits[i] > m ? logits[i] : m;
        for (int i = 0; i < n; i++) ties += logits[i] == m;
        for (int i = 0; i < n; i++) {
            scaled[i] = NAN;
            prob[i] = logits[i] == m ? 1.0 / ties : 0.0;
        }
    } else if (rc == 0) {
        temper_sampler_scores(plain, scores);
        for (int i = 0; i < n; i++) {
            scaled[i] = scores[i];
            prob[i] = exp((double)temper_sampler_logprob(plain, i, TEMPER_LOGPROB_PROCESSED));
        }
    }

    /* "processed": every stage, sampling at this temperature */
    temper_sampling_params fp = *stages;
    fp.do_sample = 1;
    fp.temperature = (float)temperature;
    if (rc == 0) rc = temper_sampler_init(&fp, n, &full);
    if (rc == 0) rc = temper_sampler_apply(full, logits, NULL, 0, 0);
    if (rc == 0 && described) temper_sampler_describe(full, described, cap);
    if (rc == 0 && temper_sampler_is_greedy(full)) {
        temper_token g = 0;
        temper_sampler_sample(full, NULL, &g);
        for (int i = 0; i < n; i++) prob_processed[i] = i == g ? 1.0 : 0.0;
    } else if (rc == 0) {
        for (int i = 0; i < n; i++)
            prob_processed[i] = exp((double)temper_sampler_logprob(full, i, TEMPER_LOGPROB_PROCESSED));
    }
    if (rc == 0 && n_samples > 0) { /* stream 0 of seed, as the first sequence of a generation */
        temper_rng rng;
        temper_rng_seed(&rng, seed, 0);
        for (long k = 0; rc == 0 && k < n_samples; k++) rc = temper_sampler_sample(full, &rng, &samples[k]);
    }
    temper_sampler_free(plain);
    temper_sampler_free(full);
    free(scores);
    return rc < 0 ? rc : 0;
}
