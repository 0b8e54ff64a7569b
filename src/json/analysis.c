/*
 * analysis.c - the JSON of the analysis commands: sequence scores,
 * sliding-window perplexity, attention, hidden states with their
 * statistics and PCA, and the trace of one prompt through the pipeline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

void temper_json_score(temper_json *j, const temper_json_scores *d) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "alpha"), temper_json_double(j, d->alpha);
    temper_json_key(j, "temperature"), temper_json_double(j, d->temperature);
    temper_json_key(j, "bos"), temper_json_bool(j, d->bos);
    temper_json_key(j, "results"), temper_json_arr_begin(j);
    for (int k = 0; k < d->n_items; k++) {
        const temper_json_score_item *it = &d->items[k];
        const temper_sequence_score *s = it->score;
        temper_json_obj_begin(j);
        temper_json_key(j, "text");
        if (it->text) temper_json_str(j, it->text);
        else if (d->tok) temper__json_decoded(j, d->tok, it->ids, it->n);
        else temper_json_str(j, "(ids)");
        temper_json_key(j, "n_tokens"), temper_json_int(j, it->n);
        temper_json_key(j, "n_scored"), temper_json_int(j, s->n_scored);
        temper_json_key(j, "log_prob"), temper_json_double(j, s->log_prob);
        temper_json_key(j, "power_score"), temper_json_double(j, s->power_score);
        temper_json_key(j, "temp_score"), temper_json_double(j, s->temp_score);
        temper_json_key(j, "mean_log_prob"), temper_json_double(j, s->mean_log_prob);
        temper_json_key(j, "perplexity"), temper_json_double(j, s->perplexity);
        temper_json_ids_tokens(j, "", d->tok, it->ids, it->n);
        temper_json_key(j, "logprobs"), temper_json_arr_begin(j);
        for (int t = 0; t < it->n; t++) {
            temper_json_obj_begin(j);
            temper_json_key(j, "id"), temper_json_int(j, it->ids[t]);
            temper_json_key(j, "token"), temper__json_token_piece(j, d->tok, it->ids[t]);
            temper_json_key(j, "text"), temper__json_token_text(j, d->tok, it->ids[t]);
            temper_json_key(j, "logprob"), temper_json_double(j, it->logprobs[t]); /* null first */
            temper_json_key(j, "temp_logprob"), temper_json_double(j, it->temp_logprobs[t]);
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    if (d->pairs) {
        temper_json_key(j, "pairs"), temper_json_arr_begin(j);
        for (int p = 0; p + 1 < d->n_items; p += 2) {
            const temper_sequence_score *a = d->items[p].score, *b = d->items[p + 1].score;
            temper_json_obj_begin(j);
            temper_json_key(j, "a"), temper_json_int(j, p);
            temper_json_key(j, "b"), temper_json_int(j, p + 1);
            temper_json_key(j, "gap_log_prob"), temper_json_double(j, a->log_prob - b->log_prob);
            temper_json_key(j, "gap_power_score");
            temper_json_double(j, a->power_score - b->power_score);
            temper_json_key(j, "gap_temp_score"), temper_json_double(j, a->temp_score - b->temp_score);
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
    }
    temper_json_obj_end(j);
}

void temper_json_perplexity(temper_json *j, const temper_json_perplexities *d) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "max_length"), temper_json_int(j, d->max_length);
    temper_json_key(j, "stride"), temper_json_int(j, d->stride);
    temper_json_key(j, "bos"), temper_json_bool(j, d->bos);
    temper_json_key(j, "results"), temper_json_arr_begin(j);
    for (int k = 0; k < d->n_items; k++) {
        const temper_perplexity_result *r = d->items[k].r;
        temper_json_obj_begin(j);
        temper_json_key(j, "text"), temper_json_str(j, d->items[k].text); /* NULL -> null */
        temper_json_key(j, "n_tokens"), temper_json_int(j, r->n_tokens);
        temper_json_key(j, "n_windows"), temper_json_int(j, r->n_windows);
        temper_json_key(j, "windows"), temper_json_arr_begin(j);
        for (int w = 0; d->items[k].windows && w < r->n_windows; w++) {
            const temper_ppl_window *x = &d->items[k].windows[w];
            temper_json_obj_begin(j);
            temper_json_key(j, "begin"), temper_json_int(j, x->begin);
            temper_json_key(j, "end"), temper_json_int(j, x->end);
            temper_json_key(j, "trg_len"), temper_json_int(j, x->trg_len);
            temper_json_key(j, "n_scored"), temper_json_int(j, x->n_scored);
            temper_json_key(j, "weight"), temper_json_int(j, x->weight);
            temper_json_key(j, "nll"), temper_json_double(j, x->nll);
            temper_json_key(j, "perplexity"), temper_json_double(j, exp(x->nll));
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
        temper_json_key(j, "nll"), temper_json_double(j, r->nll);
        temper_json_key(j, "perplexity"), temper_json_double(j, r->perplexity);
        temper_json_key(j, "n_scored"), temper_json_int(j, r->n_scored);
        temper_json_key(j, "token_nll"), temper_json_double(j, r->token_nll);
        temper_json_key(j, "token_perplexity"), temper_json_double(j, r->token_perplexity);
        temper_json_key(j, "nll_stderr"), temper_json_double(j, r->nll_stderr);
        temper_json_key(j, "perplexity_stderr"), temper_json_double(j, r->perplexity_stderr);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

/* A (rows, cols) matrix of floats as rows of arrays. */
static void matrix(temper_json *j, const float *x, int rows, int cols) {
    temper_json_arr_begin(j);
    for (int r = 0; r < rows; r++) {
        temper_json_arr_begin(j);
        for (int c = 0; c < cols; c++) temper_json_float(j, x[(size_t)r * cols + c]);
        temper_json_arr_end(j);
    }
    temper_json_arr_end(j);
}

void temper_json_attention(temper_json *j, const temper_json_attention_doc *d) {
    int n = d->n, H = d->n_head;
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "n_layer"), temper_json_int(j, d->n_layer);
    temper_json_key(j, "n_head"), temper_json_int(j, H);
    temper_json_ids_tokens(j, "", d->tok, d->ids, n);
    temper_json_key(j, "layers"), temper_json_arr_begin(j);
    for (int l = 0; l < d->n_layers; l++) {
        temper_json_obj_begin(j);
        temper_json_key(j, "layer"), temper_json_int(j, d->layers[l]);
        temper_json_key(j, "heads"), temper_json_arr_begin(j);
        for (int h = d->head_begin; h < d->head_end; h++) {
            temper_json_obj_begin(j);
            temper_json_key(j, "head"), temper_json_int(j, h);
            temper_json_key(j, "weights");
            matrix(j, d->attn + ((size_t)l * H + h) * n * n, n, n);
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

static void stats_keys(temper_json *j, const temper_stats *s, bool norm) {
    temper_json_key(j, "min"), temper_json_double(j, s->min);
    temper_json_key(j, "max"), temper_json_double(j, s->max);
    temper_json_key(j, "mean"), temper_json_double(j, s->mean);
    temper_json_key(j, "std"), temper_json_double(j, s->std);
    if (norm) temper_json_key(j, "norm"), temper_json_double(j, s->norm);
}

void temper_json_hidden(temper_json *j, const temper_json_hidden_doc *d) {
    int n = d->n, C = d->n_embd;
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "n_layer"), temper_json_int(j, d->n_layer);
    temper_json_key(j, "n_embd"), temper_json_int(j, C);
    temper_json_ids_tokens(j, "", d->tok, d->ids, n);
    temper_json_key(j, "layers"), temper_json_arr_begin(j);
    for (int l = d->layer_begin; l < d->layer_end; l++) {
        const float *x = d->hidden + (size_t)l * n * C; /* (n, C) */
        temper_stats s = temper_vector_stats(x, (size_t)n * C);
        temper_json_obj_begin(j);
        temper_json_key(j, "layer"), temper_json_int(j, l);
        stats_keys(j, &s, false);
        temper_json_key(j, "token_stats"), temper_json_arr_begin(j);
        for (int k = 0; k < n; k++) {
            temper_stats t = temper_vector_stats(x + (size_t)k * C, (size_t)C);
            temper_json_obj_begin(j);
            stats_keys(j, &t, true);
            temper_json_obj_end(j);
        }
        temper_json_arr_end(j);
        temper_json_key(j, "states"), matrix(j, x, n, C);
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    if (d->pca_layer >= 0 && d->pca_points && d->pca_explained) {
        temper_json_key(j, "pca"), temper_json_obj_begin(j);
        temper_json_key(j, "layer"), temper_json_int(j, d->pca_layer);
        temper_json_key(j, "explained_variance_ratio"), temper_json_arr_begin(j);
        temper_json_double(j, d->pca_explained[0]), temper_json_double(j, d->pca_explained[1]);
        temper_json_arr_end(j);
        temper_json_key(j, "points"), temper_json_arr_begin(j);
        for (int k = 0; k < n; k++) {
            temper_json_arr_begin(j);
            temper_json_double(j, d->pca_points[2 * k]), temper_json_double(j, d->pca_points[2 * k + 1]);
            temper_json_arr_end(j);
        }
        temper_json_arr_end(j);
        temper_json_obj_end(j);
    }
    if (d->proj_points && d->proj_info) {
        temper__json_projection(j, d->proj_layer, d->proj_info, d->proj_points, d->proj_explained, n);
    } else if (d->pca_layer >= 0 && d->pca_points && d->pca_explained) {
        /* a caller that fills only the pca fields gets the same "projection" */
        temper_project_info pca = {.used = temper_project_default_params(), .kl_divergence = NAN,
                                   .a = NAN, .b = NAN};
        temper__json_projection(j, d->pca_layer, &pca, d->pca_points, d->pca_explained, n);
    }
    temper_json_obj_end(j);
}

void temper__json_projection(temper_json *j, int layer, const temper_project_info *info,
                             const double *points, const double *explained, int n) {
    const temper_project_params *p = &info->used;
    int k = p->n_components, method = p->method, nt;
    temper_json_key(j, "projection"), temper_json_obj_begin(j);
    temper_json_key(j, "method"), temper_json_str(j, temper_project_method_name(method));
    temper_json_key(j, "layer"), temper_json_int(j, layer);
    temper_json_key(j, "parameters"), temper_json_obj_begin(j);
    const temper_project_param *t = temper_project_params_table(&nt);
    for (int q = 0; q < nt; q++) {
        if (!(t[q].methods >> method & 1)) continue;
        temper_json_key(j, t[q].name);
        if (t[q].type == TEMPER_PARAM_FLOAT) temper_json_double(j, temper_project_param_get(p, &t[q]));
        else if (t[q].type == TEMPER_PARAM_SEED) temper_json_uint(j, p->seed);
        else temper_json_int(j, (int)temper_project_param_get(p, &t[q]));
    }
    temper_json_obj_end(j);
    if (method == TEMPER_PROJECT_PCA && explained) {
        temper_json_key(j, "explained_variance_ratio"), temper_json_arr_begin(j);
        for (int e = 0; e < k; e++) temper_json_double(j, explained[e]);
        temper_json_arr_end(j);
    }
    if (method == TEMPER_PROJECT_TSNE) {
        temper_json_key(j, "n_iter_run"), temper_json_int(j, info->n_iter);
        temper_json_key(j, "kl_divergence"), temper_json_double(j, info->kl_divergence);
    }
    if (method == TEMPER_PROJECT_UMAP) {
        temper_json_key(j, "a"), temper_json_double(j, info->a);
        temper_json_key(j, "b"), temper_json_double(j, info->b);
    }
    temper_json_key(j, "points"), temper_json_arr_begin(j);
    for (int i = 0; i < n; i++) {
        temper_json_arr_begin(j);
        for (int e = 0; e < k; e++) temper_json_double(j, points[(size_t)i * k + e]);
        temper_json_arr_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

void temper_json_trace(temper_json *j, const temper_json_trace_doc *d) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_key(j, "text"), temper_json_str(j, d->text); /* NULL -> null */
    temper_json_ids_tokens(j, "", d->tok, d->ids, d->n);
    temper_json_key(j, "embedding_shape"), temper_json_arr_begin(j);
    temper_json_int(j, d->n), temper_json_int(j, d->n_embd);
    temper_json_arr_end(j);
    temper_json_key(j, "n_layer"), temper_json_int(j, d->n_layer);
    temper_json_key(j, "n_head"), temper_json_int(j, d->n_head);
    temper_json_key(j, "n_vocab"), temper_json_int(j, d->n_vocab);
    double lmin = INFINITY, lmax = -INFINITY, lsum = 0, psum = 0;
    for (int v = 0; v < d->n_vocab; v++) {
        lmin = fmin(lmin, d->logits[v]), lmax = fmax(lmax, d->logits[v]);
        lsum += d->logits[v];
    }
    for (int v = 0; v < d->n_vocab; v++) psum += exp(d->logits[v] - lmax);
    temper_json_key(j, "logits"), temper_json_obj_begin(j);
    temper_json_key(j, "min"), temper_json_double(j, lmin);
    temper_json_key(j, "max"), temper_json_double(j, lmax);
    temper_json_key(j, "mean"), temper_json_double(j, lsum / d->n_vocab);
    temper_json_obj_end(j);
    double total = 0; /* the probabilities, each exp(logit - max) / sum, added up */
    for (int v = 0; v < d->n_vocab; v++) total += exp(d->logits[v] - lmax) / psum;
    temper_json_key(j, "softmax_sum"), temper_json_double(j, total);
    temper_json_key(j, "top"), temper_json_arr_begin(j);
    for (int k = 0; k < d->n_top; k++) {
        temper_json_obj_begin(j);
        temper_json_key(j, "id"), temper_json_int(j, d->top[k].id);
        temper_json_key(j, "token"), temper__json_token_piece(j, d->tok, d->top[k].id);
        temper_json_key(j, "text"), temper__json_token_text(j, d->tok, d->top[k].id);
        temper_json_key(j, "logit"), temper_json_float(j, d->top[k].logit);
        temper_json_key(j, "prob"), temper_json_double(j, exp(d->top[k].logprob));
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_key(j, "settings"), temper_json_obj_begin(j);
    temper_json_generate_settings(j, d->params, d->eos, d->n_eos);
    temper_json_obj_end(j);
    const temper_sequence *s = d->seq;
    temper_json_key(j, "continuation_ids"), temper__json_ids(j, s ? s->ids : NULL, s ? s->n_ids : 0);
    temper_json_key(j, "continuation");
    if (d->tok && s) temper__json_decoded(j, d->tok, s->ids, s->n_ids);
    else temper_json_null(j);
    temper_json_key(j, "finish_reason");
    temper_json_str(j, s ? temper__json_finish_name(s->finish_reason) : NULL);
    temper_json_obj_end(j);
}
