/*
 * spm_json.c - the SentencePiece-style parts of a tokenizer.json (Llama 2,
 * TinyLlama, Mistral, as transformers' LlamaConverter writes them):
 *
 *   "normalizer":    null
 *                    | {"type": "Prepend", "prepend": "\u2581"}
 *                    | {"type": "Replace", "pattern": {"String": " "},
 *                       "content": "\u2581"}
 *                    | {"type": "Sequence", "normalizers": [those]}
 *   "pre_tokenizer": null
 *                    | {"type": "Metaspace", "replacement": "\u2581",
 *                       "prepend_scheme": "always" | "first" | "never"
 *                       (older files: "add_prefix_space": bool),
 *                       "split": bool (default true)}
 *   "decoder":       {"type": "Sequence", "decoders": [
 *                       {"type": "Replace", "pattern": {"String": "\u2581"},
 *                        "content": " "}, {"type": "ByteFallback"},
 *                       {"type": "Fuse"},
 *                       {"type": "Strip", "content": " ", "start": 1,
 *                        "stop": 0}]}   (each optional, in this order)
 *                    | {"type": "Metaspace", ...as the pre-tokenizer}
 *   "model":         {"type": "BPE", "byte_fallback", "fuse_unk",
 *                     "unk_token", ...}
 * Anything else in these slots is refused with TEMPER_EUNSUPPORTED naming it.
 */
#include <cJSON.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

#define TEMPER__MS "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */

static const char *temper__type(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static bool temper__is_type(const cJSON *obj, const char *type) {
    return obj && !cJSON_IsNull(obj) && strcmp(temper__type(obj), type) == 0;
}

static bool temper__str_is(const cJSON *obj, const char *key, const char *want) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static bool temper__flag(const cJSON *obj, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A Replace whose pattern is the plain string from and content is to. */
static bool temper__replace_is(const cJSON *r, const char *from, const char *to) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(r, "pattern");
    return temper__str_is(pat, "String", from) && temper__str_is(r, "content", to);
}

bool temper__spm_is_json(const struct cJSON *root) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    return temper__flag(model, "byte_fallback", false) ||
           temper__is_type(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "Metaspace") ||
           temper__is_type(cJSON_GetObjectItemCaseSensitive(root, "decoder"), "Metaspace") ||
           temper__is_type(cJSON_GetObjectItemCaseSensitive(root, "decoder"), "Sequence");
}

static int temper__read_normalizer(temper__spm *sp, const char *path, const cJSON *n) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = temper__type(n);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(n, "normalizers")) {
            int rc = temper__read_normalizer(sp, path, item);
            if (rc < 0) return rc;
        }
        return 0;
    }
    if (strcmp(type, "Prepend") == 0 && temper__str_is(n, "prepend", TEMPER__MS)) {
        sp->prepend = TEMPER__SPM_PREPEND_ALWAYS;
        return 0;
    }
    if (strcmp(type, "Replace") == 0 && temper__replace_is(n, " ", TEMPER__MS)) {
        sp->replace_space = true;
        return 0;
    }
    return temper__error(TEMPER_EUNSUPPORTED,
                         "%s: normalizer \"%s\" is not supported here (SentencePiece-style "
                         "tokenizers: Prepend(\"\u2581\"), Replace(\" \", \"\u2581\") or a "
                         "Sequence of them)", path, type);
}

/* Metaspace's settings (pre-tokenizer and decoder): its prepend scheme. */
static int temper__read_metaspace(const char *path, const char *what, const cJSON *m,
                                  uint8_t *prepend) {
    if (!temper__str_is(m, "replacement", TEMPER__MS))
        return temper__error(TEMPER_EUNSUPPORTED, "%s: %s Metaspace with a replacement other "
                             "than \"\u2581\" is not supported", path, what);
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(m, "prepend_scheme");
    if (cJSON_IsString(scheme)) {
        const char *s = scheme->valuestring;
        if (strcmp(s, "always") == 0) *prepend = TEMPER__SPM_PREPEND_MISSING;
        else if (strcmp(s, "first") == 0) *prepend = TEMPER__SPM_PREPEND_FIRST;
        else if (strcmp(s, "never") == 0) *prepend = TEMPER__SPM_PREPEND_NEVER;
        else return temper__error(TEMPER_EUNSUPPORTED, "%s: %s Metaspace prepend_scheme \"%s\" "
                                  "is not supported (always, first, never)", path, what, s);
    } else {
        *prepend = temper__flag(m, "add_prefix_space", true) ? TEMPER__SPM_PREPEND_MISSING
                                                             : TEMPER__SPM_PREPEND_NEVER;
    }
    return 0;
}

static int temper__read_pre(temper__spm *sp, const char *path, const cJSON *pt) {
    if (!pt || cJSON_IsNull(pt)) return 0;
    const char *type = temper__type(pt);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (cJSON_GetArraySize(list) == 1) return temper__read_pre(sp, path, list->child);
    }
    if (strcmp(type, "Metaspace") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: pre_tokenizer \"%s\" is not supported with a SentencePiece-style "
                             "BPE (only Metaspace, or none)", path, type);
    int rc = temper__read_metaspace(path, "pre_tokenizer", pt, &sp->prepend);
    if (rc < 0) return rc;
    sp->replace_space = true;
    sp->split = temper__flag(pt, "split", true);
    return 0;
}

static int temper__read_decoder(temper__spm *sp, const char *path, const cJSON *d) {
    const char *type = d && !cJSON_IsNull(d) ? temper__type(d) : "null";
    if (strcmp(type, "Metaspace") == 0) {
        uint8_t prepend;
        int rc = temper__read_metaspace(path, "decoder", d, &prepend);
        if (rc < 0) return rc;
        sp->dec_replace = true;
        sp->dec_metaspace = prepend != TEMPER__SPM_PREPEND_NEVER;
        return 0;
    }
    if (strcmp(type, "Sequence") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: decoder \"%s\" is not supported with a SentencePiece-style BPE "
                             "(Sequence[Replace, ByteFallback, Fuse, Strip] or Metaspace)", path,
                             type);
    /* the steps must come in this order; each may be left out */
    int stage = 0; /* 1 Replace, 2 ByteFallback, 3 Fuse, 4 Strip */
    bool fused = false;
    const cJSON *step;
    cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(d, "decoders")) {
        const char *t = temper__type(step);
        int at = 0;
        if (strcmp(t, "Replace") == 0 && temper__replace_is(step, TEMPER__MS, " ")) {
            at = 1;
            sp->dec_replace = true;
        } else if (strcmp(t, "ByteFallback") == 0) {
            at = 2;
            sp->dec_byte_fallback = true;
        } else if (strcmp(t, "Fuse") == 0) {
            at = 3;
            fused = true;
        } else if (strcmp(t, "Strip") == 0) {
            const cJSON *start = cJSON_GetObjectItemCaseSensitive(step, "start");
            const cJSON *stop = cJSON_GetObjectItemCaseSensitive(step, "stop");
            if (!temper__str_is(step, "content", " ") || !cJSON_IsNumber(start) ||
                start->valuedouble > 1 || !cJSON_IsNumber(stop) || stop->valuedouble != 0 ||
                (!fused && start->valuedouble != 0))
                return temper__error(TEMPER_EUNSUPPORTED,
                                     "%s: decoder Strip is supported only as Strip(\" \", 1, 0) "
                                     "after Fuse", path);
            at = 4;
            sp->dec_strip = start->valuedouble == 1;
        } else {
            return temper__error(TEMPER_EUNSUPPORTED,
                                 "%s: decoder step \"%s\" is not supported in a Sequence "
                                 "(Replace(\"\u2581\", \" \"), ByteFallback, Fuse, Strip)", path, t);
        }
        if (at <= stage)
            return temper__error(TEMPER_EUNSUPPORTED,
                                 "%s: decoder Sequence: \"%s\" out of the order Replace, "
                                 "ByteFallback, Fuse, Strip is not supported", path, t);
        stage = at;
    }
    return 0;
}

int temper__spm_read_json(temper_tokenizer *tok, const char *path, const struct cJSON *root) {
    temper__spm *sp = &tok->spm;
    memset(sp, 0, sizeof *sp);
    sp->unk_id = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    sp->byte_fallback = temper__flag(model, "byte_fallback", false);
    sp->fuse_unk = temper__flag(model, "fuse_unk", false);
    int rc = temper__read_normalizer(sp, path, cJSON_GetObjectItemCaseSensitive(root, "normalizer"));
    if (rc < 0) return rc;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if ((sp->prepend || sp->replace_space) && pre && !cJSON_IsNull(pre))
        return temper__error(TEMPER_EUNSUPPORTED, "%s: a Prepend/Replace normalizer together with "
                             "pre_tokenizer \"%s\" is not supported", path, temper__type(pre));
    if ((rc = temper__read_pre(sp, path, pre)) < 0) return rc;
    return temper__read_decoder(sp, path, cJSON_GetObjectItemCaseSensitive(root, "decoder"));
}
