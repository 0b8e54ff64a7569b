/*
 * load_files.c - the "slow" GPT-2 tokenizer files: vocab.json ({token: id}),
 * merges.txt ("#version" line, then one "a b" merge per line, best first),
 * tokenizer_config.json and special_tokens_map.json. Builds what
 * transformers' GPT2Tokenizer -> GPT2TokenizerFast conversion builds: BPE,
 * ByteLevel pre-tokenizer (add_prefix_space from the config, default false)
 * and decoder, the special tokens as special added tokens (GPT2Tokenizer's
 * defaults: bos = eos = unk = "<|endoftext|>"), and with add_bos_token the
 * template "bos $A" (OPT: "</s>" first).
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static int temper__parse_file(const char *path, bool required, cJSON **out) {
    *out = NULL;
    if (!temper__is_file(path)) {
        if (!required) return 0;
        return temper__error(TEMPER_ENOENT, "%s: no such file", path);
    }
    char *text;
    int rc = temper__read_file(path, &text, NULL);
    if (rc < 0) return rc;
    if ((rc = temper__check_not_placeholder(path, (const uint8_t *)text, strlen(text))) == 0) {
        *out = cJSON_Parse(text);
        if (!*out) rc = temper__error(TEMPER_EFORMAT, "%s: not valid JSON", path);
    }
    free(text);
    return rc;
}

/* One special token to add: its text and AddedToken flags. */
typedef struct temper__special {
    const char *content; /* borrowed from the parsed JSON */
    bool lstrip, rstrip, normalized, special;
    int id;              /* resolved id, or -1 */
} temper__special;

static bool temper__flag(const cJSON *obj, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* Read "</s>" or {"content": "</s>", "lstrip": ...} into *sp. 0: nothing. */
static int temper__special_of(const char *path, const cJSON *v, bool special, temper__special *sp) {
    memset(sp, 0, sizeof *sp);
    sp->id = -1;
    sp->special = special;
    if (cJSON_IsString(v)) {
        sp->content = v->valuestring;
        return 1;
    }
    if (!cJSON_IsObject(v)) return 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(c)) return 0;
    if (temper__flag(v, "single_word", false))
        return temper__error(TEMPER_EUNSUPPORTED, "%s: token \"%s\" has single_word = true, which "
                             "is not supported", path, c->valuestring);
    sp->content = c->valuestring;
    sp->lstrip = temper__flag(v, "lstrip", false);
    sp->rstrip = temper__flag(v, "rstrip", false);
    sp->normalized = temper__flag(v, "normalized", !special);
    sp->special = temper__flag(v, "special", special);
    return 1;
}

static int temper__read_merges_txt(temper_tokenizer *tok, const char *path) {
    char *text;
    size_t size;
    int rc = temper__read_file(path, &text, &size);
    if (rc < 0) return rc;
    if ((rc = temper__check_not_placeholder(path, (const uint8_t *)text, size)) < 0) goto done;
    int lines = 1;
    for (size_t k = 0; k < size; k++) lines += text[k] == '\n';
    if ((rc = temper__merges_init(tok, lines)) < 0) goto done;
    int rank = 0, line_no = 0;
    char *buf = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        if (len && strncmp(line, "#version", 8) != 0) {
            char *sp = strchr(line, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = temper__error(TEMPER_EFORMAT, "%s:%d: \"%s\" is not two tokens separated by "
                                   "one space", path, line_no, line);
                break;
            }
            size_t la = (size_t)(sp - line), lb = len - la - 1;
            char *joined = realloc(buf, la + lb + 1);
            if (!joined) {
                rc = temper__error(TEMPER_ENOMEM, "out of memory");
                break;
            }
            buf = joined;
            memcpy(buf, line, la);
            memcpy(buf + la, sp + 1, lb);
            int ia = temper__vocab_find(tok, line, la), ib = temper__vocab_find(tok, sp + 1, lb);
            int im = temper__vocab_find(tok, buf, la + lb);
            if (ia < 0 || ib < 0 || im < 0) {
                rc = temper__error(TEMPER_EFORMAT, "%s:%d: merge \"%s\": a token of it or their "
                                   "concatenation is not in vocab.json", path, line_no, line);
                break;
            }
            temper__merges_put(tok, ia, ib, rank++, im);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
done:
    free(text);
    return rc;
}

int temper__load_vocab_merges(temper_tokenizer *tok, const char *folder) {
    char *vpath = temper__strfmt("%s/vocab.json", folder);
    char *mpath = temper__strfmt("%s/merges.txt", folder);
    char *cpath = temper__strfmt("%s/tokenizer_config.json", folder);
    char *spath = temper__strfmt("%s/special_tokens_map.json", folder);
    cJSON *vocab = NULL, *cfg = NULL, *map = NULL;
    temper__vocab_builder vb = {0};
    temper__special sp[64];
    int n_sp = 0, rc;
    tok->model = TEMPER__MODEL_BPE;
    tok->use_regex = true;
    if (!vpath || !mpath || !cpath || !spath) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = temper__parse_file(vpath, true, &vocab)) < 0) goto done;
    if ((rc = temper__parse_file(cpath, false, &cfg)) < 0) goto done;
    if ((rc = temper__parse_file(spath, false, &map)) < 0) goto done;
    if (!cJSON_IsObject(vocab)) {
        rc = temper__error(TEMPER_EFORMAT, "%s: not a JSON object {token: id}", vpath);
        goto done;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    if (cJSON_IsString(cls) && strcmp(cls->valuestring, "GPT2Tokenizer") != 0 &&
        strcmp(cls->valuestring, "GPT2TokenizerFast") != 0) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: tokenizer_class \"%s\": only GPT2Tokenizer is "
                           "supported from vocab.json + merges.txt (a tokenizer.json would say "
                           "exactly what to do)", cpath, cls->valuestring);
        goto done;
    }
    if (temper__flag(cfg, "add_eos_token", false)) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: add_eos_token = true is not supported for "
                           "GPT2Tokenizer", cpath);
        goto done;
    }
    tok->add_prefix_space = temper__flag(cfg, "add_prefix_space", false);

    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) {
        int id;
        if ((rc = temper__json_token_id(v, vpath, "entry", v->string, &id)) < 0 ||
            (rc = temper__vb_set(&vb, id, v->string, strlen(v->string))) < 0)
            goto done;
    }
    int n_model = vb.n;

    /* added_tokens_decoder {"50256": {...}} of newer configs, then the named
     * special tokens (special_tokens_map.json first, then the config), then
     * GPT2Tokenizer's defaults */
    const cJSON *atd = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    cJSON_ArrayForEach(v, atd) {
        if (n_sp == 64) break;
        if ((rc = temper__special_of(cpath, v, false, &sp[n_sp])) < 0) goto done;
        if (rc == 0) continue;
        sp[n_sp].special = temper__flag(v, "special", false);
        sp[n_sp].normalized = temper__flag(v, "normalized", !sp[n_sp].special);
        char *end;
        long id = strtol(v->string, &end, 10);
        if (end == v->string || *end || id < 0 || id > TEMPER__MAX_TOKEN_ID) {
            rc = temper__error(TEMPER_EFORMAT, "%s: added_tokens_decoder key \"%s\" is not a token id "
                               "(a whole number from 0 to %d)", cpath, v->string, TEMPER__MAX_TOKEN_ID);
            goto done;
        }
        sp[n_sp++].id = (int)id;
    }
    static const char *roles[7] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                   "pad_token", "cls_token", "mask_token"};
    for (int r = 0; r < 8 && n_sp < 60; r++) {
        const char *key = r < 7 ? roles[r] : "additional_special_tokens";
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(map, key);
        const char *from = spath;
        if (!val) val = cJSON_GetObjectItemCaseSensitive(cfg, key), from = cpath;
        if (r == 7) {
            const cJSON *e;
            cJSON_ArrayForEach(e, val) {
                if (n_sp == 60) break;
                if ((rc = temper__special_of(from, e, true, &sp[n_sp])) < 0) goto done;
                n_sp += rc;
            }
            continue;
        }
        if (!val && r < 3) { /* GPT2Tokenizer(unk_token=, bos_token=, eos_token=) defaults */
            sp[n_sp++] = (temper__special){"<|endoftext|>", false, false, false, true, -1};
            continue;
        }
        if ((rc = temper__special_of(from, val, true, &sp[n_sp])) < 0) goto done;
        n_sp += rc;
    }
    /* ids: the vocabulary's when the text is there, else new ids at the end */
    for (int k = 0; k < n_sp; k++) {
        int id = sp[k].id;
        if (id < 0) {
            const cJSON *hit = cJSON_GetObjectItemCaseSensitive(vocab, sp[k].content);
            if (hit && (rc = temper__json_token_id(hit, vpath, "entry", sp[k].content, &id)) < 0) goto done;
        }
        for (int j = 0; j < k && id < 0; j++)
            if (strcmp(sp[j].content, sp[k].content) == 0) id = sp[j].id;
        if (id < 0) id = vb.n > n_model ? vb.n : n_model;
        sp[k].id = id;
        if (id >= vb.n || !vb.off[id]) {
            if ((rc = temper__vb_set(&vb, id, sp[k].content, strlen(sp[k].content))) < 0) goto done;
        }
        vb.flags[id] |= TEMPER__TOK_ADDED;
    }
    if ((rc = temper__vocab_finish(tok, &vb)) < 0) goto done;
    for (int k = 0; k < n_sp; k++) {
        rc = temper__added_push(tok, sp[k].id, sp[k].special, sp[k].lstrip, sp[k].rstrip,
                                sp[k].normalized);
        if (rc < 0) goto done;
    }
    if ((rc = temper__read_merges_txt(tok, mpath)) < 0) goto done;
    if ((rc = temper__bpe_prepare(tok, vpath)) < 0) goto done;
    if (temper__flag(cfg, "add_bos_token", false)) {
        const cJSON *bos = cJSON_GetObjectItemCaseSensitive(map, "bos_token");
        if (!bos) bos = cJSON_GetObjectItemCaseSensitive(cfg, "bos_token");
        temper__special b;
        const char *content = "<|endoftext|>";
        if (bos && temper__special_of(cpath, bos, true, &b) > 0) content = b.content;
        int id = temper__vocab_find(tok, content, strlen(content));
        if (id < 0) {
            rc = temper__error(TEMPER_EFORMAT, "%s: add_bos_token is set but the bos token \"%s\" "
                               "is not in the vocabulary", cpath, content);
            goto done;
        }
        tok->post.prefix[tok->post.n_prefix++] = id;
    }
    rc = 0;
done:
    cJSON_Delete(vocab);
    cJSON_Delete(cfg);
    cJSON_Delete(map);
    temper__vb_free(&vb);
    free(vpath);
    free(mpath);
    free(cpath);
    free(spath);
    return rc;
}
