/*
 * load.c - temper_tokenizer_load: find the tokenizer files of a folder and
 * dispatch to the tokenizer.json or the vocab.json + merges.txt reader; read
 * the names of the special tokens from the config files.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* A special-token value of a config file: "</s>" or {"content": "</s>", ...}. */
static const char *temper__token_content(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

/* Parse folder/name as JSON; NULL (no error) when the file does not exist. */
static int temper__read_json(const char *folder, const char *name, cJSON **out) {
    *out = NULL;
    char *path = temper__strfmt("%s/%s", folder, name);
    if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = 0;
    if (temper__is_file(path)) {
        char *text;
        if ((rc = temper__read_file(path, &text, NULL)) == 0) {
            *out = cJSON_Parse(text);
            free(text);
            if (!*out) rc = temper__error(TEMPER_EFORMAT, "%s: not valid JSON", path);
        }
    }
    free(path);
    return rc;
}

int temper__load_special_names(temper_tokenizer *tok, const char *folder) {
    static const char *roles[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    temper_token *ids[4] = {&tok->bos_id, &tok->eos_id, &tok->unk_id, &tok->pad_id};
    cJSON *map, *cfg;
    int rc = temper__read_json(folder, "special_tokens_map.json", &map);
    if (rc < 0) return rc;
    if ((rc = temper__read_json(folder, "tokenizer_config.json", &cfg)) < 0) {
        cJSON_Delete(map);
        return rc;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    bool gpt2 = !cJSON_IsString(cls) || strncmp(cls->valuestring, "GPT2Tokenizer", 13) == 0;
    for (int r = 0; r < 4; r++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, roles[r]);
        if (!v) v = cJSON_GetObjectItemCaseSensitive(cfg, roles[r]);
        const char *content = temper__token_content(v);
        /* GPT2Tokenizer's defaults: bos = eos = unk = "<|endoftext|>" */
        if (!v && gpt2 && r != 3) content = "<|endoftext|>";
        *ids[r] = content ? temper__vocab_find(tok, content, strlen(content)) : -1;
    }
    cJSON_Delete(map);
    cJSON_Delete(cfg);
    return 0;
}

int temper__finish_load(temper_tokenizer *tok) {
    for (uint32_t c = 0; c < 128; c++) tok->ascii_class[c] = (uint8_t)temper__char_class(c);
    const temper__post *p = &tok->post;
    for (int k = 0; k < p->n_prefix + p->n_suffix; k++) {
        temper_token id = k < p->n_prefix ? p->prefix[k] : p->suffix[k - p->n_prefix];
        if (id < 0 || id >= tok->n_vocab || !(tok->flags[id] & TEMPER__TOK_PRESENT))
            return temper__error(TEMPER_EFORMAT, "the post-processor adds token id %d, which is "
                                 "not in the vocabulary", id);
    }
    return 0;
}

/* The folder of a file path ("." when there is no slash); owned by the caller. */
static char *temper__dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return temper__strdup(".");
    if (slash == path) return temper__strdup("/");
    return temper__strfmt("%.*s", (int)(slash - path), path);
}

static bool temper__ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int temper_tokenizer_load(const char *path, temper_tokenizer **out) {
    if (!out) return temper__error(TEMPER_EINVAL, "temper_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return temper__error(TEMPER_EINVAL, "temper_tokenizer_load: path is NULL");
    temper_tokenizer *tok = calloc(1, sizeof *tok);
    char *folder = NULL, *json = NULL, *text = NULL, *bin = NULL; /* bin: llama2.c's */
    if (!tok) return temper__error(TEMPER_ENOMEM, "out of memory");
    tok->bos_id = tok->eos_id = tok->unk_id = tok->pad_id = -1;
    int rc;
    if (temper__is_dir(path)) {
        folder = temper__strdup(path);
        json = temper__strfmt("%s/tokenizer.json", path);
        bin = temper__llama2c_tokenizer_in(path);
    } else if (temper__is_file(path)) {
        folder = temper__dirname(path);
        if (temper__ends_with(path, ".bin")) {
            bin = temper__strdup(path);
        } else if (temper__ends_with(path, ".json") && !temper__ends_with(path, "vocab.json")) {
            json = temper__strdup(path);
        } else if (!temper__ends_with(path, "vocab.json") && !temper__ends_with(path, "merges.txt")) {
            rc = temper__error(TEMPER_EUNSUPPORTED,
                               "%s: unsupported tokenizer file: give a folder with tokenizer.json "
                               "or vocab.json + merges.txt, a tokenizer.json path, or a llama2.c "
                               "tokenizer.bin (SentencePiece .model files are not supported: "
                               "use the model's tokenizer.json)",
                               path);
            goto fail;
        }
    } else {
        rc = temper__error(TEMPER_ENOENT, "%s: no such tokenizer folder or file", path);
        goto fail;
    }
    if (!folder) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto fail;
    }
    if (bin) {
        if ((rc = temper__load_llama2c_tokenizer(tok, bin)) < 0) goto fail;
    } else if (json && temper__is_file(json)) {
        if ((rc = temper__read_file(json, &text, NULL)) < 0) goto fail;
        if ((rc = temper__check_not_placeholder(json, (const uint8_t *)text, strlen(text))) < 0)
            goto fail;
        if ((rc = temper__load_tokenizer_json(tok, json, text)) < 0) goto fail;
        tok->source = "tokenizer.json";
    } else {
        char *v = temper__strfmt("%s/vocab.json", folder), *m = temper__strfmt("%s/merges.txt", folder);
        bool ok = v && m && temper__is_file(v) && temper__is_file(m);
        free(v);
        free(m);
        if (!ok) {
            rc = temper__error(TEMPER_ENOENT,
                               "%s: no tokenizer.json and no vocab.json + merges.txt: give the "
                               "folder that holds the tokenizer files (temper_model_params.tokenizer_path)", folder);
            goto fail;
        }
        if ((rc = temper__load_vocab_merges(tok, folder)) < 0) goto fail;
        tok->source = "vocab.json+merges.txt";
    }
    if (!bin && (rc = temper__load_special_names(tok, folder)) < 0) goto fail;
    if ((rc = temper__finish_load(tok)) < 0) goto fail;
    free(folder);
    free(json);
    free(text);
    free(bin);
    *out = tok; /* ownership to the caller */
    return 0;
fail:
    free(folder);
    free(json);
    free(text);
    free(bin);
    temper_tokenizer_free(tok);
    return rc;
}
