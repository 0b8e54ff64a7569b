/*
 * gen_config.c - the model's generation defaults, as transformers'
 * GenerationConfig builds them: generation_config.json when the folder has
 * one (every EOS id of its eos_token_id list), else config.json's ids.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

/* The ids under v (an id or a list of ids) into a malloc'd array (count
 * entries). Returns the count, 0 when v is absent or null, or -1 when an
 * entry is not an id. */
static int read_ids(const cJSON *v, temper_token **out) {
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
    if (count == 0) return 0;
    temper_token *ids = malloc(sizeof *ids * (size_t)count);
    if (!ids) return -2;
    for (int k = 0; k < count; k++) {
        const cJSON *e = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, k) : v;
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX ||
            e->valuedouble != floor(e->valuedouble)) {
            free(ids);
            return -1;
        }
        ids[k] = (temper_token)e->valuedouble;
    }
    *out = ids;
    return count;
}

int temper__model_read_eos(temper_model *m, const cJSON *config) {
    temper_token *ids = NULL;
    int n = 0;
    cJSON *g = m->generation_config ? cJSON_Parse(m->generation_config) : NULL;
    if (cJSON_IsObject(g)) {
        n = read_ids(cJSON_GetObjectItemCaseSensitive(g, "eos_token_id"), &ids);
        const cJSON *sup = cJSON_GetObjectItemCaseSensitive(g, "suppress_tokens");
        int ns = cJSON_IsArray(sup) ? read_ids(sup, &m->suppress_ids) : 0;
        m->n_suppress = ns > 0 ? ns : 0;
    }
    cJSON_Delete(g);
    if (n == -2) return temper__error(TEMPER_ENOMEM, "out of memory");
    if (n <= 0) n = read_ids(cJSON_GetObjectItemCaseSensitive(config, "eos_token_id"), &ids);
    if (n == -2) return temper__error(TEMPER_ENOMEM, "out of memory");
    if (n < 0) n = 0;
    free(m->eos_ids);
    m->eos_ids = ids;
    m->n_eos = n;
    m->eos_id = n > 0 ? ids[0] : -1;
    return 0;
}

int temper_model_eos_ids(const temper_model *m, const temper_token **ids) {
    if (ids) *ids = m ? m->eos_ids : NULL;
    return m ? m->n_eos : 0;
}

static void note_key(char *keys, size_t cap, size_t *len, const char *key) {
    int n = snprintf(keys && *len < cap ? keys + *len : NULL, keys && *len < cap ? cap - *len : 0,
                     "%s%s", *len ? "," : "", key);
    if (n > 0) *len += (size_t)n;
}

int temper_model_generate_defaults(const temper_model *m, temper_generate_params *out, char *keys,
                                   size_t cap) {
    if (!m || !out) return temper__error(TEMPER_EINVAL, "temper_model_generate_defaults: model or out is NULL");
    *out = temper_generate_default_params();
    size_t len = 0;
    if (keys && cap) keys[0] = '\0';
    out->eos_ids = m->n_eos ? m->eos_ids : NULL;
    out->n_eos = m->n_eos;
    if (!m->generation_config) return 0;
    cJSON *g = cJSON_Parse(m->generation_config);
    if (!cJSON_IsObject(g)) {
        cJSON_Delete(g);
        return temper__error(TEMPER_EFORMAT, "%s/generation_config.json is not a JSON object: fix or "
                             "remove the file", m->path);
    }
    temper_sampling_params *p = &out->sampling;
    int n_params, rc = 0;
    const temper_param *table = temper_params(&n_params);
    for (int k = 0; rc == 0 && k < n_params; k++) {
        const temper_param *d = &table[k];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, d->name);
        if (!d->from_config || !v || cJSON_IsNull(v)) continue;
        double x;
        if (d->type == TEMPER_PARAM_BOOL && cJSON_IsBool(v)) x = cJSON_IsTrue(v);
        else if (!strcmp(d->name, "early_stopping") && cJSON_IsBool(v)) x = cJSON_IsTrue(v);
        else if (!strcmp(d->name, "early_stopping") && cJSON_IsString(v) && !strcmp(v->valuestring, "never"))
            x = TEMPER_EARLY_STOPPING_NEVER;
        else if (d->type != TEMPER_PARAM_BOOL && cJSON_IsNumber(v)) x = v->valuedouble;
        else {
            rc = temper__error(TEMPER_EFORMAT, "generation_config.json: \"%s\" is not %s: fix the "
                               "file, or set the value in the parameters", d->name,
                               d->type == TEMPER_PARAM_BOOL ? "true or false" : "a number");
            break;
        }
        if ((rc = temper_param_set(out, d, x)) < 0)
            rc = temper__error_prefix(TEMPER_EFORMAT, "generation_config.json");
        else
            note_key(keys, cap, &len, d->name);
    }
    temper_token *ids = NULL;
    int n = rc == 0 ? read_ids(cJSON_GetObjectItemCaseSensitive(g, "eos_token_id"), &ids) : 0;
    free(ids);
    ids = NULL;
    if (n == -2) rc = temper__error(TEMPER_ENOMEM, "out of memory");
    else if (n == -1)
        rc = temper__error(TEMPER_EFORMAT, "generation_config.json: \"eos_token_id\" is not an id or a "
                           "list of ids: fix the file");
    else if (n > 0) note_key(keys, cap, &len, "eos_token_id");
    const cJSON *sup = cJSON_GetObjectItemCaseSensitive(g, "suppress_tokens");
    if (rc == 0 && sup && !cJSON_IsNull(sup)) {
        n = cJSON_IsArray(sup) ? read_ids(sup, &ids) : -1;
        free(ids);
        if (n == -2) rc = temper__error(TEMPER_ENOMEM, "out of memory");
        else if (n < 0)
            rc = temper__error(TEMPER_EFORMAT, "generation_config.json: \"suppress_tokens\" is not a "
                               "list of ids: fix the file");
        else if (n > 0) {
            p->suppress_tokens = m->suppress_ids;
            p->n_suppress = m->n_suppress;
            note_key(keys, cap, &len, "suppress_tokens");
        }
    }
    cJSON_Delete(g);
    return rc;
}
