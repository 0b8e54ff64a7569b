/*
 * json.h - private pieces of the JSON layer (src/json): the writer is
 * public (include/temper.h, temper_json_*); these are the helpers the
 * document builders share.
 */
#ifndef TEMPER_JSON_H
#define TEMPER_JSON_H

#include <stdbool.h>

#include "core/core.h"

/* tokenizer.decode([id]) as a string value; "<id>" when it cannot be
 * decoded (no tokenizer, bad id). */
void temper__json_token_text(temper_json *j, const temper_tokenizer *tok, temper_token id);
/* The vocabulary piece of id as a string value; null when there is none. */
void temper__json_token_piece(temper_json *j, const temper_tokenizer *tok, temper_token id);
/* An array of n ids. */
void temper__json_ids(temper_json *j, const temper_token *ids, int n);
/* The decoded text of ids (special tokens left out, as
 * tokenizer.decode(ids, skip_special_tokens=True)); "" without tokenizer. */
void temper__json_decoded(temper_json *j, const temper_tokenizer *tok, const temper_token *ids,
                          int n);
/* "eos", "length" (max_new_tokens or a full context), "stop", "canceled". */
const char *temper__json_finish_name(int finish_reason);
/* "projection": {"method", "layer", "parameters" (as used), PCA's
 * "explained_variance_ratio", t-SNE's "n_iter_run" and "kl_divergence",
 * UMAP's "a" and "b", "points" (n, k)}. */
void temper__json_projection(temper_json *j, int layer, const temper_project_info *info,
                             const double *points, const double *explained, int n);

#endif
