/*
 * misc.c - the JSON of power sampling, of softmax on a row of named
 * logits, and of the models in the Hugging Face cache.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

void temper_json_power(temper_json *j, const temper_json_power_doc *d) {
    static const char *const methods[] = {"mh", "smc", "sir"};
    const temper_power_params *p = d->params;
    temper_json_begin_document(j);
    temper_json_key(j, "settings"), temper_json_obj_begin(j);
    temper_json_key(j, "method");
    temper_json_str(j, p->method >= 0 && p->method < 3 ? methods[p->method] : NULL);
    temper_json_key(j, "alpha"), temper_json_float(j, p->alpha);
    temper_json_key(j, "max_new_tokens"), temper_json_int(j, p->max_new_tokens);
    temper_json_key(j, "block_size"), temper_json_int(j, p->block_size);
    temper_json_key(j, "mcmc_steps"), temper_json_int(j, p->mcmc_steps);
    temper_json_key(j, "particles"), temper_json_int(j, p->particles);
    temper_json_key(j, "seed"), temper_json_uint(j, p->seed);
    temper_json_key(j, "num_return_sequences"), temper_json_int(j, d->n_samples);
    temper_json_obj_end(j);
    temper_json_key(j, "sequences"), temper_json_arr_begin(j);
    for (int k = 0; k < d->n_samples; k++) {
        const temper_power_result *r = &d->samples[k];
        temper_json_obj_begin(j);
        temper_json_key(j, "text"), temper__json_decoded(j, d->tok, r->ids, r->n_ids);
        temper_json_ids_tokens(j, "", d->tok, r->ids, r->n_ids);
        temper_json_key(j, "finish_reason"), temper_json_str(j, r->finished_eos ? "eos" : "length");
        temper_json_key(j, "log_prob"), temper_json_double(j, r->log_p);
        temper_json_key(j, "power"), temper_json_obj_begin(j);
        temper_json_key(j, "acceptance_rate");
        temper_json_double(j, r->n_proposals ? (double)r->n_accepted / r->n_proposals : NAN);
        temper_json_key(j, "proposals"), temper_json_int(j, r->n_proposals);
        temper_json_key(j, "accepted"), temper_json_int(j, r->n_accepted);
        temper_json_key(j, "resamples"), temper_json_int(j, r->n_resamples);
        temper_json_key(j, "ess"), temper_json_arr_begin(j);
        for (int q = 0; q < r->n_ess; q++) temper_json_double(j, r->ess[q]);
        temper_json_arr_end(j);
        temper_json_key(j, "forward_tokens"), temper_json_int(j, r->forward_tokens);
        temper_json_key(j, "seconds"), temper_json_double(j, d->seconds ? d->seconds[k] : NAN);
        temper_json_obj_end(j);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

/* One temperature's table: the whole document (doc) or an entry of its list. */
static void softmax_table(temper_json *j, const temper_json_softmax_doc *d,
                          const temper_json_softmax_table *t, bool doc) {
    if (doc) temper_json_begin_document(j);
    else temper_json_obj_begin(j);
    temper_json_key(j, "temperature"), temper_json_double(j, t->temperature);
    temper_json_key(j, "samplers"), temper_json_str(j, t->samplers);
    temper_json_key(j, "rows"), temper_json_arr_begin(j);
    for (int i = 0; i < d->n; i++) {
        temper_json_obj_begin(j);
        temper_json_key(j, "token"), temper_json_str(j, d->names[i]);
        temper_json_key(j, "logit"), temper_json_float(j, d->logits[i]); /* -inf -> null */
        temper_json_key(j, "scaled_logit"), temper_json_double(j, t->scaled[i]);
        temper_json_key(j, "prob"), temper_json_double(j, t->prob[i]);
        temper_json_key(j, "prob_processed"), temper_json_double(j, t->prob_processed[i]);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    if (t->samples && t->n_samples > 0) {
        temper_json_key(j, "seed"), temper_json_uint(j, d->seed);
        temper_json_key(j, "samples"), temper_json_arr_begin(j);
        for (long k = 0; k < t->n_samples; k++) temper_json_int(j, t->samples[k]);
        temper_json_arr_end(j);
    }
    temper_json_obj_end(j);
}

void temper_json_softmax(temper_json *j, const temper_json_softmax_doc *d) {
    if (d->n_tables == 1) {
        softmax_table(j, d, &d->tables[0], true);
        return;
    }
    temper_json_begin_document(j);
    temper_json_key(j, "temperatures"), temper_json_arr_begin(j);
    for (int k = 0; k < d->n_tables; k++) softmax_table(j, d, &d->tables[k], false);
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

static int hub_entry(const temper_hub_entry *e, void *user) {
    temper_json *j = user;
    temper_json_obj_begin(j);
    temper_json_key(j, "id"), temper_json_str(j, e->repo);
    temper_json_key(j, "refs"), temper_json_arr_begin(j);
    for (const char *r = e->refs; *r;) {
        size_t n = strcspn(r, ",");
        if (n) temper_json_strn(j, r, n);
        r += n + (r[n] == ',');
    }
    temper_json_arr_end(j);
    temper_json_key(j, "commit"), temper_json_str(j, e->commit);
    temper_json_key(j, "path"), temper_json_str(j, e->path);
    temper_json_key(j, "arch"), temper_json_str(j, e->arch);
    temper_json_key(j, "bytes"), temper_json_uint(j, e->bytes);
    temper_json_key(j, "files"), temper_json_int(j, e->n_files);
    temper_json_key(j, "complete"), temper_json_bool(j, e->complete);
    temper_json_obj_end(j);
    return 0;
}

int temper_json_hub_list(temper_json *j) {
    char cache[4096];
    int rc = temper_hub_cache_dir(cache, sizeof cache);
    if (rc < 0) return rc;
    temper_json_begin_document(j);
    temper_json_key(j, "cache"), temper_json_str(j, cache);
    temper_json_key(j, "models"), temper_json_arr_begin(j);
    rc = temper_hub_list(hub_entry, j);
    temper_json_arr_end(j);
    temper_json_obj_end(j);
    return rc < 0 ? rc : 0;
}
