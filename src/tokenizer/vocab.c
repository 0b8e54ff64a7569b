/* vocab.c - token tables: id -> string, id -> bytes, string -> id. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static uint64_t temper__hash_str(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t k = 0; k < len; k++) h = (h ^ (uint8_t)s[k]) * 0x100000001b3ull;
    return h;
}

int temper__vb_set(temper__vocab_builder *vb, int id, const char *text, size_t len) {
    if (id < 0 || id > TEMPER__MAX_TOKEN_ID)
        return temper__error(TEMPER_EFORMAT, "token id %d of \"%.*s\" is out of range (0 to %d)", id,
                             (int)(len < 64 ? len : 64), text, TEMPER__MAX_TOKEN_ID);
    if (id >= vb->n && id - vb->count >= vb->count + (1 << 20))
        return temper__error(TEMPER_EFORMAT, "token id %d of \"%.*s\" is far past the %d tokens read so far "
                             "(a vocabulary's ids run from 0 with few holes): a corrupt file?", id,
                             (int)(len < 64 ? len : 64), text, vb->count);
    if (id >= vb->cap) {
        int cap = vb->cap ? vb->cap : 1024;
        while (cap <= id) cap *= 2;
        uint32_t *off = realloc(vb->off, (size_t)cap * sizeof *off);
        if (off) vb->off = off;
        uint8_t *fl = realloc(vb->flags, (size_t)cap);
        if (fl) vb->flags = fl;
        if (!off || !fl) return temper__error(TEMPER_ENOMEM, "out of memory loading the vocabulary");
        memset(vb->off + vb->cap, 0, (size_t)(cap - vb->cap) * sizeof *off);
        memset(vb->flags + vb->cap, 0, (size_t)(cap - vb->cap));
        vb->cap = cap;
    }
    if (vb->pool_len + len + 1 > vb->pool_cap) {
        size_t cap = vb->pool_cap ? vb->pool_cap : 1 << 16;
        while (cap < vb->pool_len + len + 1) cap *= 2;
        char *p = realloc(vb->pool, cap);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory loading the vocabulary");
        vb->pool = p;
        vb->pool_cap = cap;
    }
    if (vb->pool_len + len + 1 > UINT32_MAX - 1)
        return temper__error(TEMPER_EFORMAT, "vocabulary text is larger than 4 GB");
    memcpy(vb->pool + vb->pool_len, text, len);
    vb->pool[vb->pool_len + len] = '\0';
    vb->off[id] = (uint32_t)vb->pool_len + 1;
    if (!(vb->flags[id] & TEMPER__TOK_PRESENT)) vb->count++;
    vb->flags[id] |= TEMPER__TOK_PRESENT;
    vb->pool_len += len + 1;
    if (id + 1 > vb->n) vb->n = id + 1;
    return 0;
}

int temper__json_token_id(const cJSON *v, const char *path, const char *what, const char *name,
                          int *out) {
    int64_t id;
    const char *q = name ? "\"" : "";
    if (!cJSON_IsNumber(v))
        return temper__error(TEMPER_EFORMAT, "%s: %s %s%s%s has no id (not a number)", path, what, q,
                             name ? name : "", q);
    if (!temper__double_to_i64(v->valuedouble, 0, TEMPER__MAX_TOKEN_ID, &id))
        return temper__error(TEMPER_EFORMAT, "%s: %s %s%s%s has id %.17g: ids are whole numbers from 0 to %d",
                             path, what, q, name ? name : "", q, v->valuedouble, TEMPER__MAX_TOKEN_ID);
    *out = (int)id;
    return 0;
}

void temper__vb_free(temper__vocab_builder *vb) {
    free(vb->pool);
    free(vb->off);
    free(vb->flags);
    memset(vb, 0, sizeof *vb);
}

/* The ByteLevel decoder's rule: a token whose characters are all byte-level
 * characters stands for those bytes; any other token (an added token such
 * as "<pad> x") for its own UTF-8 text. Writes at most len bytes to out. */
static size_t temper__token_bytes_of(const char *s, size_t len, const int16_t *char_byte,
                                     uint8_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int l = temper__utf8_decode((const uint8_t *)s + i, len - i, &c);
        if (l == 0 || c >= 0x144 || char_byte[c] < 0) {
            memcpy(out, s, len);
            return len;
        }
        out[n++] = (uint8_t)char_byte[c];
        i += (size_t)l;
    }
    return n;
}

int temper__vocab_finish(temper_tokenizer *tok, temper__vocab_builder *vb) {
    int n = vb->n;
    if (n == 0) return temper__error(TEMPER_EFORMAT, "the vocabulary is empty");
    int16_t char_byte[0x144]; /* byte-level character -> byte, -1: none */
    for (uint32_t c = 0; c < 0x144; c++) char_byte[c] = (int16_t)temper__char_to_byte(c);

    tok->n_vocab = n;
    tok->text_pool = vb->pool;
    tok->flags = vb->flags;
    tok->text_off = malloc((size_t)n * sizeof *tok->text_off);
    tok->bytes_off = malloc(((size_t)n + 1) * sizeof *tok->bytes_off);
    tok->bytes_pool = malloc(vb->pool_len + 1);
    uint32_t slots = 1;
    while (slots < 2u * (uint32_t)n) slots <<= 1;
    tok->str_slots = calloc(slots, sizeof *tok->str_slots);
    tok->str_mask = slots - 1;
    uint32_t *off = vb->off;
    vb->pool = NULL;
    vb->flags = NULL;
    vb->off = NULL;
    if (!tok->text_off || !tok->bytes_off || !tok->bytes_pool || !tok->str_slots) {
        free(off);
        return temper__error(TEMPER_ENOMEM, "out of memory loading the vocabulary");
    }
    uint32_t nb = 0;
    int max_bytes = 0;
    for (int id = 0; id < n; id++) {
        tok->bytes_off[id] = nb;
        if (!off[id]) {
            /* a hole: points at the NUL ending the first string */
            tok->text_off[id] = (uint32_t)strlen(tok->text_pool);
            continue;
        }
        tok->text_off[id] = off[id] - 1;
        const char *s = tok->text_pool + tok->text_off[id];
        size_t len = strlen(s);
        size_t b = temper__token_bytes_of(s, len, char_byte, tok->bytes_pool + nb);
        nb += (uint32_t)b;
        if ((int)b > max_bytes) max_bytes = (int)b;
    }
    tok->bytes_off[n] = nb;
    tok->max_token_bytes = max_bytes;
    free(off);
    /* string -> id; a later id with the same string wins (added tokens
     * come after the model's vocabulary in HF's lookup order). */
    for (int id = 0; id < n; id++) {
        if (!(tok->flags[id] & TEMPER__TOK_PRESENT)) continue;
        const char *s = temper__tok_text(tok, id);
        size_t len = strlen(s);
        uint32_t h = (uint32_t)temper__hash_str(s, len) & tok->str_mask;
        for (;; h = (h + 1) & tok->str_mask) {
            uint32_t v = tok->str_slots[h];
            if (v == 0) {
                tok->str_slots[h] = (uint32_t)id + 1;
                break;
            }
            if (strcmp(temper__tok_text(tok, (int)v - 1), s) == 0) {
                /* duplicate string: keep the added token, else the lowest id */
                if (tok->flags[id] & TEMPER__TOK_ADDED) tok->str_slots[h] = (uint32_t)id + 1;
                break;
            }
        }
    }
    return 0;
}

int temper__vocab_find(const temper_tokenizer *tok, const char *s, size_t len) {
    if (!tok->str_slots) return -1;
    uint32_t h = (uint32_t)temper__hash_str(s, len) & tok->str_mask;
    for (;; h = (h + 1) & tok->str_mask) {
        uint32_t v = tok->str_slots[h];
        if (v == 0) return -1;
        const char *t = temper__tok_text(tok, (int)v - 1);
        size_t k = 0; /* tokens are short: a plain loop beats strncmp's call */
        while (k < len && t[k] && t[k] == s[k]) k++;
        if (k == len && t[len] == '\0') return (int)v - 1;
    }
}
