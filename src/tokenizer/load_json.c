/*
 * load_json.c - read Hugging Face tokenizers' tokenizer.json.
 *
 * Layout (the parts temper reads; anything else in these slots is refused
 * with TEMPER_EUNSUPPORTED naming it):
 *   {"added_tokens": [{"id", "content", "single_word", "lstrip", "rstrip",
 *                      "normalized", "special"}],
 *    "normalizer": null,
 *    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space", "use_regex"}
 *                     (or a Sequence holding just that, or Split then
 *                     ByteLevel as Llama 3 has: split.c),
 *    "post_processor": null | ByteLevel {trim_offsets, add_prefix_space}
 *                      | TemplateProcessing {single, special_tokens}
 *                      | RobertaProcessing {sep, cls, trim_offsets,
 *                        add_prefix_space} | Sequence {processors},
 *    "decoder": {"type": "ByteLevel"},
 *    "model": {"type": "BPE" (absent in old files), "vocab": {str: id},
 *              "merges": ["a b"] or [["a", "b"]], "dropout": null,
 *              "continuing_subword_prefix": "", "end_of_word_suffix": "",
 *              "byte_fallback": false, "ignore_merges"}}
 * "truncation" and "padding" are ignored, as transformers does.
 * SentencePiece-style files (model.byte_fallback, a Metaspace pre-tokenizer
 * or decoder, a decoder Sequence) take their normalizer, pre_tokenizer and
 * decoder from spm_json.c instead.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static bool temper__json_bool(const cJSON *obj, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static const char *temper__json_type(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static int temper__read_pre_tokenizer(temper_tokenizer *tok, const char *path, const cJSON *pt) {
    const char *type = temper__json_type(pt);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (cJSON_GetArraySize(list) == 1) return temper__read_pre_tokenizer(tok, path, list->child);
        if (cJSON_GetArraySize(list) == 2 && strcmp(temper__json_type(list->child), "Split") == 0 &&
            strcmp(temper__json_type(list->child->next), "ByteLevel") == 0) {
            int rc = temper__split_read_json(tok, path, list->child); /* split.c */
            return rc < 0 ? rc : temper__read_pre_tokenizer(tok, path, list->child->next);
        }
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: pre_tokenizer Sequence of %d pre-tokenizers is not supported "
                             "(only ByteLevel, or Split then ByteLevel)", path,
                             cJSON_GetArraySize(list));
    }
    if (strcmp(type, "ByteLevel") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: pre_tokenizer type \"%s\" is not supported (only ByteLevel, "
                             "or a Sequence of Split then ByteLevel)", path, type);
    tok->add_prefix_space = temper__json_bool(pt, "add_prefix_space", true);
    tok->use_regex = temper__json_bool(pt, "use_regex", true);
    return 0;
}

/* Ids of a TemplateProcessing special token name. */
static int temper__template_ids(const char *path, const cJSON *specials, const char *name,
                                temper_token *dst, int *n) {
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(specials, name);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(sp, "ids");
    if (!cJSON_IsArray(ids))
        return temper__error(TEMPER_EFORMAT, "%s: TemplateProcessing: special token \"%s\" has no "
                             "\"ids\"", path, name);
    const cJSON *v;
    cJSON_ArrayForEach(v, ids) {
        if (*n >= 4)
            return temper__error(TEMPER_EUNSUPPORTED, "%s: TemplateProcessing adds more than 4 "
                                 "tokens on one side", path);
        int id, rc = temper__json_token_id(v, path, "TemplateProcessing special token", name, &id);
        if (rc < 0) return rc;
        dst[(*n)++] = id;
    }
    return 0;
}

static int temper__read_post(temper_tokenizer *tok, const char *path, const cJSON *pp) {
    if (!pp || cJSON_IsNull(pp)) return 0;
    const char *type = temper__json_type(pp);
    temper__post *post = &tok->post;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pp, "processors")) {
            int rc = temper__read_post(tok, path, p);
            if (rc < 0) return rc;
        }
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        post->trim_offsets = temper__json_bool(pp, "trim_offsets", true);
        post->trim_add_prefix_space = temper__json_bool(pp, "add_prefix_space", true);
        return 0;
    }
    if (strcmp(type, "RobertaProcessing") == 0) {
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls");
        int id_sep, id_cls, rc;
        if (cJSON_GetArraySize(sep) != 2 || cJSON_GetArraySize(cls) != 2)
            return temper__error(TEMPER_EFORMAT, "%s: RobertaProcessing needs \"sep\" and \"cls\" "
                                 "as [token, id]", path);
        if ((rc = temper__json_token_id(cJSON_GetArrayItem(sep, 1), path, "RobertaProcessing sep", NULL,
                                        &id_sep)) < 0 ||
            (rc = temper__json_token_id(cJSON_GetArrayItem(cls, 1), path, "RobertaProcessing cls", NULL,
                                        &id_cls)) < 0)
            return rc;
        if (post->n_prefix >= 4 || post->n_suffix >= 4)
            return temper__error(TEMPER_EUNSUPPORTED, "%s: too many post-processor tokens", path);
        post->prefix[post->n_prefix++] = id_cls;
        post->suffix[post->n_suffix++] = id_sep;
        post->trim_offsets = temper__json_bool(pp, "trim_offsets", true);
        post->trim_add_prefix_space = temper__json_bool(pp, "add_prefix_space", true);
        return 0;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
        int seen_a = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, single) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(item, "Sequence");
            if (st) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(st, "id");
                if (!cJSON_IsString(name))
                    return temper__error(TEMPER_EFORMAT, "%s: TemplateProcessing: SpecialToken "
                                         "without id", path);
                int rc = seen_a ? temper__template_ids(path, specials, name->valuestring,
                                                       post->suffix, &post->n_suffix)
                                : temper__template_ids(path, specials, name->valuestring,
                                                       post->prefix, &post->n_prefix);
                if (rc < 0) return rc;
            } else if (sq) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(sq, "id");
                if (!cJSON_IsString(name) || strcmp(name->valuestring, "A") != 0 || seen_a++)
                    return temper__error(TEMPER_EUNSUPPORTED, "%s: TemplateProcessing \"single\" "
                                         "must hold sequence A once", path);
            } else {
                return temper__error(TEMPER_EFORMAT, "%s: TemplateProcessing: unknown item in "
                                     "\"single\"", path);
            }
        }
        if (!seen_a)
            return temper__error(TEMPER_EFORMAT, "%s: TemplateProcessing \"single\" has no "
                                 "sequence A", path);
        return 0;
    }
    return temper__error(TEMPER_EUNSUPPORTED,
                         "%s: post_processor type \"%s\" is not supported (ByteLevel, "
                         "TemplateProcessing, RobertaProcessing, Sequence are)", path, type);
}

static int temper__check_model(const char *path, const cJSON *model) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "BPE") != 0)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: model type \"%s\" is not supported (only "
                             "BPE)", path, type->valuestring);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "vocab")) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(model, "merges")))
        return temper__error(TEMPER_EFORMAT, "%s: the model has no \"vocab\" object or no "
                             "\"merges\" list", path);
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(drop) && drop->valuedouble != 0)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: BPE dropout %g is not supported (it makes "
                             "encoding random)", path, drop->valuedouble);
    static const char *empty_keys[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, empty_keys[k]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return temper__error(TEMPER_EUNSUPPORTED, "%s: BPE %s \"%s\" is not supported", path,
                                 empty_keys[k], v->valuestring);
    }
    return 0;
}

/* Resolve the merges (parsed by cJSON) into the merge table. */
static int temper__read_merges(temper_tokenizer *tok, const char *path, const cJSON *merges) {
    int n = cJSON_GetArraySize(merges), rc;
    if ((rc = temper__merges_init(tok, n)) < 0) return rc;
    char *buf = NULL;
    size_t cap = 0;
    int rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(m)) {
            a = m->valuestring;
            if ((rc = temper__split_merge(path, rank, a, strlen(a), &la, &b, &lb)) < 0) break;
        } else if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring;
            b = cJSON_GetArrayItem(m, 1)->valuestring;
            la = strlen(a);
            lb = strlen(b);
        } else {
            rc = temper__error(TEMPER_EFORMAT, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]",
                               path, rank + 1);
            break;
        }
        if ((rc = temper__add_merge(tok, path, rank, a, la, b, lb, &buf, &cap)) < 0) break;
        rank++;
    }
    free(buf);
    return rc;
}

static uint32_t temper__added_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int temper__load_tokenizer_json(temper_tokenizer *tok, const char *path, char *text) {
    /* cJSON reads everything but the two large members, which it would
     * turn into one allocation per entry; json_scan.c reads those */
    const char *span[4] = {0};
    char *lite = NULL;
    if (temper__model_spans(text, span) && (lite = strdup(text))) {
        temper__blank(lite, text, span[0], span[1]);
        temper__blank(lite, text, span[2], span[3]);
    }
    const bool fast = lite != NULL;
    cJSON *root = cJSON_Parse(fast ? lite : text);
    free(lite);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return temper__error(TEMPER_EFORMAT, "%s: not a valid JSON object", path);
    }
    int *model_id = NULL;     /* (added tokens) their ids in model.vocab, fast path */
    const cJSON **seen = NULL; /* (added tokens, hashed by content) the first with each content */
    const char **added_text = NULL;
    temper__vocab_builder vb = {0};
    int rc;
    bool spm = temper__spm_is_json(root); /* SentencePiece-style: spm_json.c */
    tok->model = spm ? TEMPER__MODEL_SPM : TEMPER__MODEL_BPE;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if ((rc = temper__check_model(path, model)) < 0) goto done;
    if (spm && (rc = temper__spm_read_json(tok, path, root)) < 0) goto done;
    tok->ignore_merges = temper__json_bool(model, "ignore_merges", false);

    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!spm && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(norm, "normalizers")) &&
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(norm, "normalizers")) == 1)
        norm = cJSON_GetObjectItemCaseSensitive(norm, "normalizers")->child; /* Sequence[one] */
    if (!spm && norm && !cJSON_IsNull(norm)) {
        if (strcmp(temper__json_type(norm), "NFC") != 0) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: normalizer type \"%s\" is not supported "
                               "(temper implements none and NFC before a ByteLevel pre-tokenizer)",
                               path, temper__json_type(norm));
            goto done;
        }
        tok->nfc = true;
    }
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!spm && (!pt || cJSON_IsNull(pt))) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: a BPE model without the ByteLevel "
                           "pre-tokenizer is not supported", path);
        goto done;
    }
    if (!spm && (rc = temper__read_pre_tokenizer(tok, path, pt)) < 0) goto done;
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (!spm && (!dec || strcmp(temper__json_type(dec), "ByteLevel") != 0)) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: decoder type \"%s\" is not supported (only "
                           "ByteLevel)", path, dec && !cJSON_IsNull(dec) ? temper__json_type(dec) : "null");
        goto done;
    }
    if ((rc = temper__read_post(tok, path, cJSON_GetObjectItemCaseSensitive(root, "post_processor"))) < 0)
        goto done;

    /* vocabulary: the model's, then the added tokens (which win an id) */
    const cJSON *v;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *mvocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    int model_size = 0, n_added = cJSON_GetArraySize(added);
    if (fast) {
        model_id = malloc(sizeof(int) * (size_t)(n_added + 1));
        added_text = malloc(sizeof(char *) * (size_t)(n_added + 1));
        if (!model_id || !added_text) {
            rc = temper__error(TEMPER_ENOMEM, "out of memory");
            goto done;
        }
        int k = 0;
        cJSON_ArrayForEach(v, added) {
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(v, "content");
            added_text[k++] = cJSON_IsString(content) ? content->valuestring : "";
        }
        if ((rc = temper__scan_vocab(path, text, span[0], &vb, added_text, n_added, model_id,
                                     &model_size)) < 0)
            goto done;
    } else {
        cJSON_ArrayForEach(v, mvocab) {
            int id;
            if ((rc = temper__json_token_id(v, path, "vocab entry", v->string, &id)) < 0 ||
                (rc = temper__vb_set(&vb, id, v->string, strlen(v->string))) < 0)
                goto done;
        }
        model_size = cJSON_GetArraySize(mvocab);
    }
    /* HF re-adds the added tokens one by one, by content, whatever their
     * "id" says: a content seen before keeps its id, one in the model's
     * vocabulary takes the model's id, any other gets the next free id
     * (the model's size, or 1 + the highest added id above it). The ids
     * are written back into the parsed JSON for the loop below. */
    int max_added = -1, k = 0;
    uint32_t seen_mask = 15;
    while (seen_mask < 2u * (uint32_t)n_added) seen_mask = 2 * seen_mask + 1;
    seen = calloc((size_t)seen_mask + 1, sizeof *seen);
    if (!seen) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(v, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(content)) {
            rc = temper__error(TEMPER_EFORMAT, "%s: an added token lacks \"id\" or \"content\"", path);
            goto done;
        }
        if (temper__json_bool(v, "single_word", false)) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: added token \"%s\" has single_word = "
                               "true, which is not supported", path, content->valuestring);
            goto done;
        }
        /* seen[]: an open-addressing table of the contents so far -> their id */
        uint32_t h = temper__added_hash(content->valuestring) & seen_mask;
        int i = -1;
        for (; seen[h]; h = (h + 1) & seen_mask) {
            const cJSON *w = seen[h];
            if (strcmp(cJSON_GetObjectItemCaseSensitive(w, "content")->valuestring, content->valuestring) == 0) {
                i = (int)cJSON_GetObjectItemCaseSensitive(w, "id")->valuedouble; /* written back below */
                break;
            }
        }
        if (i < 0 && fast) {
            i = model_id[k];
        } else if (i < 0) {
            const cJSON *hit = cJSON_GetObjectItemCaseSensitive(mvocab, content->valuestring);
            if (hit && (rc = temper__json_token_id(hit, path, "vocab entry", content->valuestring, &i)) < 0)
                goto done;
        }
        if (i < 0) i = max_added >= model_size ? max_added + 1 : model_size;
        if (i > TEMPER__MAX_TOKEN_ID) {
            rc = temper__error(TEMPER_EFORMAT, "%s: too many added tokens (ids past %d)", path,
                               TEMPER__MAX_TOKEN_ID);
            goto done;
        }
        if (!seen[h]) seen[h] = v;
        if (i > max_added) max_added = i;
        cJSON_SetNumberValue((cJSON *)id, i);
        k++;
        if (i < vb.n && vb.off[i] && strcmp(vb.pool + vb.off[i] - 1, content->valuestring) == 0)
            continue; /* already there with this text */
        if ((rc = temper__vb_set(&vb, i, content->valuestring, strlen(content->valuestring))) < 0)
            goto done;
    }
    cJSON_ArrayForEach(v, added) {
        int i = (int)cJSON_GetObjectItemCaseSensitive(v, "id")->valuedouble;
        vb.flags[i] |= TEMPER__TOK_ADDED;
    }
    if ((rc = temper__vocab_finish(tok, &vb)) < 0) goto done;
    cJSON_ArrayForEach(v, added) {
        int i = (int)cJSON_GetObjectItemCaseSensitive(v, "id")->valuedouble;
        bool special = temper__json_bool(v, "special", false);
        rc = temper__added_push(tok, i, special, temper__json_bool(v, "lstrip", false),
                                temper__json_bool(v, "rstrip", false),
                                temper__json_bool(v, "normalized", !special));
        if (rc < 0) goto done;
    }
    rc = fast ? temper__scan_merges(tok, path, text, span[2])
              : temper__read_merges(tok, path, cJSON_GetObjectItemCaseSensitive(model, "merges"));
    if (rc < 0) goto done;
    rc = spm ? temper__spm_prepare(tok, path, root) : temper__bpe_prepare(tok, path);
done:
    free(seen);
    free(model_id);
    free(added_text);
    temper__vb_free(&vb);
    cJSON_Delete(root);
    return rc;
}
