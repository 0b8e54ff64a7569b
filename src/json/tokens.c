/*
 * tokens.c - the JSON of tokens and of the commands around them: ids with
 * their vocabulary pieces and texts, tokenize, detokenize, model info and
 * the next-token table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

void temper__json_token_text(temper_json *j, const temper_tokenizer *tok, temper_token id) {
    char buf[256];
    int n = tok ? temper_detokenize(tok, &id, 1, 0, buf, sizeof buf) : -1;
    if (n < 0) {
        snprintf(buf, sizeof buf, "<%d>", id);
        temper_json_str(j, buf);
    } else if ((size_t)n <= sizeof buf) {
        temper_json_strn(j, buf, (size_t)n);
    } else { /* a long token: its own buffer */
        char *big = malloc((size_t)n + 1);
        if (big && temper_detokenize(tok, &id, 1, 0, big, (size_t)n + 1) == n)
            temper_json_strn(j, big, (size_t)n);
        else
            temper_json_strn(j, buf, sizeof buf);
        free(big);
    }
}

void temper__json_token_piece(temper_json *j, const temper_tokenizer *tok, temper_token id) {
    temper_json_str(j, tok ? temper_token_text(tok, id) : NULL);
}

void temper__json_ids(temper_json *j, const temper_token *ids, int n) {
    temper_json_arr_begin(j);
    for (int k = 0; k < n; k++) temper_json_int(j, ids[k]);
    temper_json_arr_end(j);
}

void temper__json_decoded(temper_json *j, const temper_tokenizer *tok, const temper_token *ids,
                          int n) {
    char probe; /* cap 0: only the size is asked */
    int len = tok && n > 0 ? temper_detokenize(tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL,
                                               &probe, 0) : 0;
    char *s = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (s && temper_detokenize(tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL, s,
                               (size_t)len + 1) == len)
        temper_json_strn(j, s, (size_t)len);
    else
        temper_json_str(j, "");
    free(s);
}

const char *temper__json_finish_name(int finish_reason) {
    switch (finish_reason) {
    case TEMPER_FINISH_EOS: return "eos";
    case TEMPER_FINISH_STOP: return "stop";
    case TEMPER_FINISH_CANCELED: return "canceled";
    default: return "length"; /* max_new_tokens or the context window */
    }
}

void temper_json_ids_tokens(temper_json *j, const char *prefix, const temper_tokenizer *tok,
                            const temper_token *ids, int n) {
    char key[64];
    if (!prefix) prefix = "";
    snprintf(key, sizeof key, "%sids", prefix);
    temper_json_key(j, key), temper__json_ids(j, ids, n);
    snprintf(key, sizeof key, "%stokens", prefix);
    temper_json_key(j, key), temper_json_arr_begin(j);
    for (int k = 0; k < n; k++) temper__json_token_piece(j, tok, ids[k]);
    temper_json_arr_end(j);
    snprintf(key, sizeof key, "%stoken_texts", prefix);
    temper_json_key(j, key), temper_json_arr_begin(j);
    for (int k = 0; k < n; k++) temper__json_token_text(j, tok, ids[k]);
    temper_json_arr_end(j);
}

void temper_json_tokenize(temper_json *j, const temper_tokenizer *tok, const temper_token *ids,
                          const int32_t *offsets, int n) {
    temper_json_begin_document(j);
    temper_json_ids_tokens(j, "", tok, ids, n);
    temper_json_key(j, "offsets"), temper_json_arr_begin(j);
    for (int k = 0; offsets && k < n; k++) {
        temper_json_arr_begin(j);
        temper_json_int(j, offsets[2 * k]);
        temper_json_int(j, offsets[2 * k + 1]);
        temper_json_arr_end(j);
    }
    temper_json_arr_end(j);
    temper_json_key(j, "n_tokens"), temper_json_int(j, n);
    temper_json_obj_end(j);
}

void temper_json_detokenize(temper_json *j, const char *text, size_t len, int n_tokens) {
    temper_json_begin_document(j);
    temper_json_key(j, "text"), temper_json_strn(j, text, len);
    temper_json_key(j, "n_tokens"), temper_json_int(j, n_tokens);
    temper_json_obj_end(j);
}

static void id_or_null(temper_json *j, temper_token id) {
    if (id >= 0) temper_json_int(j, id);
    else temper_json_null(j);
}

void temper_json_model_info(temper_json *j, const char *model, const temper_model_info *mi,
                            int weights) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, model);
    temper_json_key(j, "path"), temper_json_str(j, mi->path);
    temper_json_key(j, "arch"), temper_json_str(j, mi->arch);
    temper_json_key(j, "n_params"), temper_json_int(j, mi->n_params);
    temper_json_key(j, "n_layer"), temper_json_int(j, mi->n_layer);
    temper_json_key(j, "n_head"), temper_json_int(j, mi->n_head);
    temper_json_key(j, "n_kv_head"), temper_json_int(j, mi->n_kv_head);
    temper_json_key(j, "n_embd"), temper_json_int(j, mi->n_embd);
    temper_json_key(j, "n_ff"), temper_json_int(j, mi->n_ff);
    temper_json_key(j, "n_vocab"), temper_json_int(j, mi->n_vocab);
    temper_json_key(j, "n_ctx"), temper_json_int(j, mi->n_ctx);
    temper_json_key(j, "dtype"), temper_json_str(j, mi->dtype);
    temper_json_key(j, "settings"), temper_json_str(j, mi->settings ? mi->settings : "");
    temper_json_key(j, "file_bytes"), temper_json_uint(j, mi->file_bytes);
    temper_json_key(j, "load_seconds"), temper_json_double(j, mi->load_seconds);
    const char *simd;
    temper_simd_level(&simd);
    temper_json_key(j, "simd"), temper_json_str(j, simd);
    temper_json_key(j, "weights"), temper_json_bool(j, weights);
    temper_json_key(j, "bos_id"), id_or_null(j, mi->bos_id);
    temper_json_key(j, "eos_id"), id_or_null(j, mi->eos_id);
    temper_json_obj_end(j);
}

void temper_json_probs(temper_json *j, const temper_json_next_tokens *d) {
    temper_json_begin_document(j);
    temper_json_key(j, "model"), temper_json_str(j, d->model);
    temper_json_ids_tokens(j, "prompt_", d->tok, d->prompt, d->n_prompt);
    temper_json_key(j, "n_vocab"), temper_json_int(j, d->info ? d->info->n_vocab : 0);
    temper_json_key(j, "entropy"), temper_json_double(j, d->info ? d->info->entropy : NAN);
    if (d->stages) {
        temper_json_key(j, "stages"), temper_json_str(j, d->stages);
        temper_json_key(j, "entropy_processed");
        temper_json_double(j, d->info ? d->info->entropy_processed : NAN);
        temper_json_key(j, "n_kept"), temper_json_int(j, d->info ? d->info->n_kept : 0);
    }
    temper_json_key(j, "candidates"), temper_json_arr_begin(j);
    for (int r = 0; r < d->n; r++) {
        const temper_candidate *c = &d->cands[r];
        temper_json_obj_begin(j);
        temper_json_key(j, "rank"), temper_json_int(j, r + 1);
        temper_json_key(j, "id"), temper_json_int(j, c->id);
        temper_json_key(j, "token"), temper__json_token_piece(j, d->tok, c->id);
        temper_json_key(j, "text"), temper__json_token_text(j, d->tok, c->id);
        temper_json_key(j, "logit"), temper_json_float(j, c->logit);
        temper_json_key(j, "prob"), temper_json_double(j, exp(c->logprob));
        temper_json_key(j, "logprob"), temper_json_double(j, c->logprob);
        if (d->stages) {
            temper_json_key(j, "prob_processed"), temper_json_double(j, exp(c->logprob_processed));
            temper_json_key(j, "logprob_processed"), temper_json_double(j, c->logprob_processed);
        }
        temper_json_obj_end(j);
    }
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}
