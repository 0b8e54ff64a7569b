/*
 * generate.c - the JSON of a generation: its settings (every parameter of
 * the table under its name), its sequences with each token's raw and
 * processed log-probabilities, and the whole `generate` document.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

/* The settings keys into the current object; sweep: the temperatures are
 * listed apart, so the table's temperature is left out. */
static void settings_keys(temper_json *j, const temper_generate_params *p, const temper_token *eos,
                          int n_eos, bool sweep) {
    int n;
    const temper_param *t = temper_params(&n);
    for (int k = 0; k < n; k++) {
        const temper_param *d = &t[k];
        double v = temper_param_get(p, d);
        if (sweep && !strcmp(d->name, "temperature")) continue;
        temper_json_key(j, d->name);
        if (!strcmp(d->name, "early_stopping")) { /* transformers: true, false or "never" */
            if (p->early_stopping == TEMPER_EARLY_STOPPING_NEVER) temper_json_str(j, "never");
            else temper_json_bool(j, p->early_stopping == TEMPER_EARLY_STOPPING_TRUE);
            continue;
        }
        switch (d->type) {
        case TEMPER_PARAM_FLOAT: temper_json_float(j, (float)v); break;
        case TEMPER_PARAM_BOOL: temper_json_bool(j, v != 0); break;
        case TEMPER_PARAM_SEED: temper_json_uint(j, p->seed); break;
        default: temper_json_int(j, (long long)v); break;
        }
    }
    const temper_sampling_params *s = &p->sampling;
    temper_json_key(j, "logit_bias"), temper_json_arr_begin(j);
    for (int k = 0; k < s->n_logit_bias; k++) {
        temper_json_obj_begin(j);
        temper_json_key(j, "id"), temper_json_int(j, s->logit_bias[k].id);
        temper_json_key(j, "bias"), temper_json_float(j, s->logit_bias[k].bias); /* -inf -> null */
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_key(j, "suppress_tokens"), temper__json_ids(j, s->suppress_tokens, s->n_suppress);
    temper_json_key(j, "sampler_order");
    temper_json_str(j, s->order == TEMPER_ORDER_LLAMA_CPP ? "llama.cpp" : "hf");
    temper_json_key(j, "samplers"), temper_json_str(j, s->samplers); /* NULL -> null */
    temper_json_key(j, "eos_token_id"), temper__json_ids(j, eos, n_eos);
    temper_json_key(j, "stop"), temper_json_arr_begin(j);
    for (int k = 0; k < p->n_stop; k++) temper_json_str(j, p->stop[k]);
    temper_json_arr_end(j);
}

void temper_json_generate_settings(temper_json *j, const temper_generate_params *p,
                                   const temper_token *eos, int n_eos) {
    settings_keys(j, p, eos, n_eos, false);
}

void temper_json_token_probs(temper_json *j, const temper_tokenizer *tok, const temper_token_prob *prob,
                             const temper_token_prob *top, int n_top) {
    temper_json_obj_begin(j);
    temper_json_key(j, "id"), temper_json_int(j, prob->id);
    temper_json_key(j, "token"), temper__json_token_piece(j, tok, prob->id);
    temper_json_key(j, "text"), temper__json_token_text(j, tok, prob->id);
    temper_json_key(j, "logprob"), temper_json_float(j, prob->logprob);
    temper_json_key(j, "logprob_processed"), temper_json_float(j, prob->logprob_processed);
    temper_json_key(j, "top"), temper_json_arr_begin(j);
    for (int t = 0; top && t < n_top; t++) {
        const temper_token_prob *a = &top[t];
        if (a->id < 0) break;
        temper_json_obj_begin(j);
        temper_json_key(j, "id"), temper_json_int(j, a->id);
        temper_json_key(j, "token"), temper__json_token_piece(j, tok, a->id);
        temper_json_key(j, "text"), temper__json_token_text(j, tok, a->id);
        temper_json_key(j, "logprob"), temper_json_float(j, a->logprob);
        temper_json_key(j, "logprob_processed"), temper_json_float(j, a->logprob_processed);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

void temper_json_sequence(temper_json *j, const temper_tokenizer *tok, const temper_sequence *s,
                          int n_top) {
    temper_json_obj_begin(j);
    temper_json_key(j, "text"), temper__json_decoded(j, tok, s->ids, s->n_ids);
    temper_json_ids_tokens(j, "", tok, s->ids, s->n_ids);
    temper_json_key(j, "finish_reason"), temper_json_str(j, temper__json_finish_name(s->finish_reason));
    temper_json_key(j, "score"), temper_json_double(j, s->score); /* NAN (not beam search) -> null */
    temper_json_key(j, "sum_logprob"), temper_json_double(j, s->sum_logprob);
    temper_json_key(j, "logprobs"), temper_json_arr_begin(j);
    for (int k = 0; k < s->n_ids; k++)
        temper_json_token_probs(j, tok, &s->probs[k], s->top ? s->top + (size_t)k * n_top : NULL, n_top);
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

static void sequences(temper_json *j, const temper_tokenizer *tok, const temper_generation *g) {
    temper_json_arr_begin(j);
    for (int i = 0; g && i < g->n_seqs; i++) temper_json_sequence(j, tok, &g->seqs[i], g->n_top);
    temper_json_arr_end(j);
}

void temper_json_generate(temper_json *j, const temper_json_generation *d) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "prompt"), temper__json_decoded(j, d->tok, d->prompt, d->n_prompt);
    temper_json_ids_tokens(j, "prompt_", d->tok, d->prompt, d->n_prompt);
    const temper_json_run *r0 = d->n_runs > 0 ? &d->runs[0] : NULL;
    temper_json_key(j, "settings"), temper_json_obj_begin(j);
    temper_json_key(j, "mode"), temper_json_str(j, d->mode);
    if (d->n_temperatures > 0) {
        temper_json_key(j, "temperatures"), temper_json_arr_begin(j);
        for (int k = 0; k < d->n_temperatures; k++) temper_json_double(j, d->temperatures[k]);
        temper_json_arr_end(j);
    }
    settings_keys(j, d->params, d->eos, d->n_eos, d->n_temperatures > 0);
    temper_json_key(j, "stages"), temper_json_str(j, r0 && r0->stages ? r0->stages : "");
    temper_json_key(j, "from_generation_config"), temper_json_str(j, d->from_config ? d->from_config : "");
    temper_json_key(j, "notes"), temper_json_str(j, d->notes ? d->notes : "");
    temper_json_obj_end(j);
    if (d->n_temperatures > 0) {
        temper_json_key(j, "temperatures"), temper_json_arr_begin(j);
        for (int k = 0; k < d->n_runs; k++) {
            temper_json_obj_begin(j);
            temper_json_key(j, "temperature"), temper_json_double(j, d->runs[k].temperature);
            temper_json_key(j, "greedy"), temper_json_bool(j, d->runs[k].greedy);
            temper_json_key(j, "stages"), temper_json_str(j, d->runs[k].stages);
            temper_json_key(j, "distinct"), temper_json_int(j, d->runs[k].distinct);
            temper_json_key(j, "sequences"), sequences(j, d->tok, d->runs[k].g);
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
    } else if (r0 && r0->g && r0->g->n_seqs > 0) {
        const temper_sequence *s0 = &r0->g->seqs[0];
        temper_json_key(j, "sequences"), sequences(j, d->tok, r0->g);
        /* shorthands for the first sequence */
        temper_json_key(j, "ids"), temper__json_ids(j, s0->ids, s0->n_ids);
        temper_json_key(j, "text"), temper__json_decoded(j, d->tok, s0->ids, s0->n_ids);
        temper_json_key(j, "finish_reason");
        temper_json_str(j, temper__json_finish_name(s0->finish_reason));
    }
    double prompt_s = 0, decode_s = 0;
    long long n_generated = 0, n_forward = 0, n_steps = 0;
    for (int k = 0; k < d->n_runs; k++) {
        const temper_generation *g = d->runs[k].g;
        if (!g) continue;
        prompt_s += g->prompt_seconds;
        decode_s += g->decode_seconds;
        n_forward += g->n_forward;
        n_steps += g->n_steps;
        for (int i = 0; i < g->n_seqs; i++) n_generated += g->seqs[i].n_ids;
    }
    temper_json_key(j, "timings"), temper_json_obj_begin(j);
    temper_json_key(j, "load_seconds"), temper_json_double(j, d->load_seconds);
    temper_json_key(j, "prompt_seconds"), temper_json_double(j, prompt_s);
    temper_json_key(j, "decode_seconds"), temper_json_double(j, decode_s);
    temper_json_key(j, "n_prompt"), temper_json_int(j, d->n_prompt);
    temper_json_key(j, "n_generated"), temper_json_int(j, n_generated);
    temper_json_key(j, "n_steps"), temper_json_int(j, n_steps);
    temper_json_key(j, "n_forward"), temper_json_int(j, n_forward);
    temper_json_key(j, "tokens_per_second");
    temper_json_double(j, decode_s > 0 ? (double)n_generated / decode_s : NAN);
    temper_json_obj_end(j);
    temper_json_obj_end(j);
}
