/*
 * encode.c - one plain text segment to ids: GPT-2 pre-tokenization, a word
 * cache, BPE, and the byte offsets of every id (HF's alignment rules).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/encode.h"

#define TEMPER__CACHE_MAX_SLOTS (1u << 22) /* stop caching beyond ~2M words */

int temper__ids_push(temper__ids *v, temper_token id, int32_t start, int32_t end) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        temper_token *ids = realloc(v->ids, cap * sizeof *ids);
        if (ids) v->ids = ids;
        int32_t *offs = realloc(v->offs, cap * 2 * sizeof *offs);
        if (offs) v->offs = offs;
        if (!ids || !offs) return temper__error(TEMPER_ENOMEM, "out of memory for %zu tokens", cap);
        v->cap = cap;
    }
    v->ids[v->n] = id;
    v->offs[2 * v->n] = start;
    v->offs[2 * v->n + 1] = end;
    v->n++;
    return 0;
}

void temper__ids_free(temper__ids *v) {
    free(v->ids);
    free(v->offs);
    memset(v, 0, sizeof *v);
}

temper__enc *temper__enc_new(const temper_tokenizer *tok) {
    temper__enc *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->tok = tok;
    return e;
}

void temper__enc_free(temper__enc *e) {
    if (!e) return;
    free(e->slots);
    free(e->keys);
    free(e->ids);
    free(e->word_ids);
    free(e->buf);
    free(e->heap_mem);
    free(e->str);
    temper__split_work_free(e->split);
    free(e->nfc);
    free(e->nfc_map);
    free(e);
}

static inline uint64_t temper__hash_word(const uint8_t *p, size_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static int temper__cache_grow(temper__enc *e) {
    uint32_t cap = e->slots ? (e->mask + 1) * 2 : 4096;
    temper__cache_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return temper__error(TEMPER_ENOMEM, "out of memory for the word cache");
    for (uint32_t k = 0; e->slots && k <= e->mask; k++) {
        temper__cache_slot s = e->slots[k];
        if (!s.key_len) continue;
        uint32_t h = s.hash & (cap - 1);
        while (slots[h].key_len) h = (h + 1) & (cap - 1);
        slots[h] = s;
    }
    free(e->slots);
    e->slots = slots;
    e->mask = cap - 1;
    return 0;
}

/* Remember ids[0..n_ids) for word w[0..len). Failing to cache is not an
 * error: the word is simply encoded again next time. */
static void temper__cache_put(temper__enc *e, uint32_t hash, const uint8_t *w, size_t len,
                              const temper_token *ids, int n_ids) {
    if ((e->used + 1) * 2 > e->mask + 1) {
        if (e->mask + 1 >= TEMPER__CACHE_MAX_SLOTS || temper__cache_grow(e) < 0) return;
    }
    if (e->keys_len + len > e->keys_cap) {
        size_t cap = e->keys_cap ? e->keys_cap * 2 : 1 << 16;
        uint8_t *p = realloc(e->keys, cap);
        if (!p) return;
        e->keys = p;
        e->keys_cap = cap;
    }
    if (e->ids_len + (size_t)n_ids > e->ids_cap) {
        size_t cap = e->ids_cap ? e->ids_cap * 2 : 1 << 14;
        temper_token *p = realloc(e->ids, cap * sizeof *p);
        if (!p) return;
        e->ids = p;
        e->ids_cap = cap;
    }
    if (e->keys_len + len > UINT32_MAX || e->ids_len + (size_t)n_ids > UINT32_MAX) return;
    uint32_t h = hash & e->mask;
    while (e->slots[h].key_len) h = (h + 1) & e->mask;
    e->slots[h] = (temper__cache_slot){hash, (uint32_t)e->keys_len, (uint32_t)e->ids_len,
                                       (uint16_t)len, (uint16_t)n_ids};
    memcpy(e->keys + e->keys_len, w, len);
    memcpy(e->ids + e->ids_len, ids, (size_t)n_ids * sizeof *ids);
    e->keys_len += len;
    e->ids_len += (size_t)n_ids;
    e->used++;
}

/* The ids of word w[0..n): *ids is borrowed from e until the next call. */
static int temper__word_ids(temper__enc *e, const uint8_t *w, size_t n, const temper_token **ids,
                            int *n_ids) {
    uint32_t hash = 0;
    bool cacheable = n <= TEMPER__CACHE_MAX_WORD;
    if (cacheable) {
        if (!e->slots && temper__cache_grow(e) < 0) cacheable = false;
    }
    if (cacheable) {
        hash = (uint32_t)(temper__hash_word(w, n) >> 32);
        for (uint32_t h = hash & e->mask;; h = (h + 1) & e->mask) {
            const temper__cache_slot *s = &e->slots[h];
            if (!s->key_len) break;
            if (s->hash == hash && s->key_len == n && memcmp(e->keys + s->key_off, w, n) == 0) {
                *ids = e->ids + s->ids_off;
                *n_ids = s->n_ids;
                return 0;
            }
        }
    }
    if (n > e->word_cap) {
        size_t cap = n < 256 ? 256 : n;
        temper_token *p = realloc(e->word_ids, cap * sizeof *p);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory encoding a word of %zu bytes", n);
        e->word_ids = p;
        e->word_cap = cap;
    }
    int got = temper__bpe_word(e, w, n, e->word_ids);
    if (got < 0) return got;
    if (cacheable) temper__cache_put(e, hash, w, n, e->word_ids, got);
    *ids = e->word_ids;
    *n_ids = got;
    return 0;
}

/* The ByteLevel pre-tokenizer and BPE on text[a..b) (a < b). */
static int temper__encode_bytelevel(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                                    bool prefix_space, temper__ids *out) {
    const temper_tokenizer *tok = e->tok;
    const uint8_t *s = text + a; /* (n) what the pre-tokenizer sees */
    size_t n = b - a;
    /* HF's ByteLevel add_prefix_space: " " before a segment that does not
     * start with one. The added byte is aligned with the first character. */
    bool virt = prefix_space && tok->add_prefix_space && text[a] != ' ';
    size_t first_end = a + 1;
    if (virt) {
        if (n + 1 > e->buf_cap) {
            uint8_t *p = realloc(e->buf, n + 1);
            if (!p) return temper__error(TEMPER_ENOMEM, "out of memory for a %zu-byte text", n);
            e->buf = p;
            e->buf_cap = n + 1;
        }
        e->buf[0] = ' ';
        memcpy(e->buf + 1, s, n);
        s = e->buf;
        n++;
        while (first_end < b && (text[first_end] & 0xC0) == 0x80) first_end++;
    }
    for (size_t i = 0; i < n;) {
        size_t j = tok->use_regex ? temper__pretok_next(tok, s, n, i) : n;
        const temper_token *ids = NULL;
        int n_ids = 0, rc = temper__word_ids(e, s + i, j - i, &ids, &n_ids);
        if (rc < 0) return rc;
        size_t p = i; /* position of the current id in s */
        for (int k = 0; k < n_ids; k++) {
            temper_token id = ids[k];
            size_t pe = p + (tok->bytes_off[id + 1] - tok->bytes_off[id]);
            size_t st, en;
            if (virt) {
                st = p == 0 ? a : a + p - 1;
                en = pe <= 1 ? first_end : a + pe - 1;
            } else {
                st = a + p;
                en = a + pe;
            }
            /* a token with part of a character spans the whole character */
            while (st > a && (text[st] & 0xC0) == 0x80) st--;
            while (en < b && (text[en] & 0xC0) == 0x80) en++;
            if ((rc = temper__ids_push(out, id, (int32_t)st, (int32_t)en)) < 0) return rc;
            p = pe;
        }
        i = j;
    }
    return 0;
}

/* Split (when there is one) and ByteLevel + BPE on text[a..b). */
static int temper__encode_pretok(temper__enc *e, const uint8_t *text, size_t a, size_t b, bool prefix_space,
                                 temper__ids *out);

int temper__encode_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                           bool prefix_space, temper__ids *out) {
    const temper_tokenizer *tok = e->tok;
    if (a >= b) return 0;
    if (tok->model == TEMPER__MODEL_SPM) return temper__spm_encode_segment(e, text, a, b, out);
    if (!tok->nfc) return temper__encode_pretok(e, text, a, b, prefix_space, out);
    bool changed;
    int rc = temper__nfc_segment(e, text, a, b, &changed);
    if (rc < 0 || !changed) return rc < 0 ? rc : temper__encode_pretok(e, text, a, b, prefix_space, out);
    /* encode the normalized text (its own buffer: the pipeline reuses e's
     * scratch), then map the offsets back to the original */
    size_t n = e->nfc_len, first = out->n;
    uint8_t *norm = malloc(n);
    int32_t *map = malloc(n * 2 * sizeof *map);
    if (!norm || !map) rc = temper__error(TEMPER_ENOMEM, "out of memory normalizing a %zu-byte text", n);
    if (rc == 0) {
        memcpy(norm, e->nfc, n);
        memcpy(map, e->nfc_map, n * 2 * sizeof *map);
        rc = temper__encode_pretok(e, norm, 0, n, prefix_space, out);
    }
    for (size_t k = first; rc == 0 && k < out->n; k++) {
        int32_t st = out->offs[2 * k], en = out->offs[2 * k + 1];
        out->offs[2 * k] = st < (int32_t)n ? map[2 * st] : (int32_t)b;
        out->offs[2 * k + 1] = en > st ? map[2 * (en - 1) + 1] : out->offs[2 * k];
    }
    free(norm);
    free(map);
    return rc;
}

static int temper__encode_pretok(temper__enc *e, const uint8_t *text, size_t a, size_t b, bool prefix_space,
                                 temper__ids *out) {
    const temper_tokenizer *tok = e->tok;
    if (!tok->split) return temper__encode_bytelevel(e, text, a, b, prefix_space, out);
    /* HF's Sequence[Split, ByteLevel]: ByteLevel sees each piece on its own */
    const temper__piece *pc = NULL;
    size_t n_pc = 0;
    int rc = temper__split_segment(e, text, a, b, &pc, &n_pc);
    for (size_t k = 0; k < n_pc && rc >= 0; k++)
        rc = temper__encode_bytelevel(e, text, pc[k].start, pc[k].end, k > 0 || prefix_space, out);
    return rc;
}
