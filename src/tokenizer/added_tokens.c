/*
 * added_tokens.c - split a text on its added tokens before pre-tokenization,
 * as HF's AddedVocabulary does:
 *
 *   pass 1: tokens with normalized = false are found in the whole text;
 *   pass 2: tokens with normalized = true in each remaining text piece
 *           (temper supports no normalizer, so the text is unchanged).
 *
 * Each pass scans left to right and takes, at the first position where some
 * token matches, the longest one (Aho-Corasick "leftmost longest"). A token
 * with lstrip takes the White_Space before it (not past the previous match),
 * one with rstrip the White_Space after it. Plain text between the matches
 * becomes pieces with id -1.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

typedef struct temper__pieces {
    temper__piece *v; /* (cap) */
    size_t n, cap;
} temper__pieces;

static int temper__pieces_push(temper__pieces *p, temper_token id, size_t start, size_t end) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        temper__piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return temper__error(TEMPER_ENOMEM, "out of memory splitting added tokens");
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (temper__piece){id, start, end};
    return 0;
}

/* Start of the White_Space run that ends at text[end], not before lo. */
static size_t temper__ws_run_before(const uint8_t *text, size_t lo, size_t end) {
    size_t p = end;
    while (p > lo) {
        size_t q = p - 1;
        while (q > lo && (text[q] & 0xC0) == 0x80) q--;
        uint32_t c;
        if (!temper__utf8_decode(text + q, p - q, &c) || !temper__is_white_space(c)) break;
        p = q;
    }
    return p;
}

/* End of the White_Space run that starts at text[start], not after hi. */
static size_t temper__ws_run_after(const uint8_t *text, size_t start, size_t hi) {
    size_t p = start;
    while (p < hi) {
        uint32_t c;
        int l = temper__utf8_decode(text + p, hi - p, &c);
        if (!l || !temper__is_white_space(c)) break;
        p += (size_t)l;
    }
    return p;
}

/* The longest token of the pass that matches at text[p] (p < hi), or NULL. */
static const temper__added *temper__match_at(const temper_tokenizer *tok, const uint8_t *text,
                                             size_t p, size_t hi, bool normalized,
                                             bool special_as_text) {
    const temper__added *best = NULL;
    for (int k = 0; k < tok->n_added; k++) {
        const temper__added *t = &tok->added[k];
        if (t->normalized != normalized || (special_as_text && t->special)) continue;
        if (t->len == 0 || (uint8_t)t->content[0] != text[p] || t->len > hi - p) continue;
        if (best && t->len <= best->len) continue;
        if (memcmp(t->content, text + p, t->len) == 0) best = t;
    }
    return best;
}

/* One pass over the sentence text[lo..hi). */
static int temper__split_pass(const temper_tokenizer *tok, const uint8_t *text, size_t lo,
                              size_t hi, bool normalized, bool special_as_text,
                              const bool *first_byte, temper__pieces *out) {
    size_t done = lo; /* end of the previous match */
    size_t p = lo;
    int rc;
    while (p < hi) {
        if (!first_byte[text[p]]) {
            p++;
            continue;
        }
        const temper__added *t = temper__match_at(tok, text, p, hi, normalized, special_as_text);
        if (!t) {
            p++;
            continue;
        }
        size_t start = p, stop = p + t->len;
        if (t->lstrip) {
            size_t s = temper__ws_run_before(text, lo, start);
            start = s > done ? s : done;
        }
        if (t->rstrip) stop = temper__ws_run_after(text, stop, hi);
        if (done < start && (rc = temper__pieces_push(out, -1, done, start)) < 0) return rc;
        if ((rc = temper__pieces_push(out, t->id, start, stop)) < 0) return rc;
        /* like HF, the search goes on after the match itself: a token may
         * start inside the White_Space an rstrip took (the pieces overlap) */
        p += t->len;
        done = stop;
    }
    if (done < hi && (rc = temper__pieces_push(out, -1, done, hi)) < 0) return rc;
    return 0;
}

int temper__split_added(const temper_tokenizer *tok, const uint8_t *text, size_t n,
                        bool special_as_text, temper__piece **pieces, size_t *n_pieces) {
    temper__pieces first = {0}, second = {0};
    bool byte_raw[256] = {0}, byte_norm[256] = {0}; /* first bytes of each pass's tokens */
    bool any_raw = false, any_norm = false;
    int rc = 0;
    for (int k = 0; k < tok->n_added; k++) {
        const temper__added *t = &tok->added[k];
        if (t->len == 0 || (special_as_text && t->special)) continue;
        if (t->normalized) byte_norm[(uint8_t)t->content[0]] = any_norm = true;
        else byte_raw[(uint8_t)t->content[0]] = any_raw = true;
    }
    if (any_raw) rc = temper__split_pass(tok, text, 0, n, false, special_as_text, byte_raw, &first);
    else if (n > 0) rc = temper__pieces_push(&first, -1, 0, n);
    if (rc < 0) goto fail;
    if (!any_norm) {
        *pieces = first.v;
        *n_pieces = first.n;
        return 0;
    }
    for (size_t k = 0; k < first.n; k++) {
        temper__piece pc = first.v[k];
        if (pc.id >= 0) rc = temper__pieces_push(&second, pc.id, pc.start, pc.end);
        else rc = temper__split_pass(tok, text, pc.start, pc.end, true, special_as_text,
                                     byte_norm, &second);
        if (rc < 0) goto fail;
    }
    free(first.v);
    *pieces = second.v;
    *n_pieces = second.n;
    return 0;
fail:
    free(first.v);
    free(second.v);
    return rc;
}

int temper__added_push(temper_tokenizer *tok, temper_token id, bool special, bool lstrip,
                       bool rstrip, bool normalized) {
    if (id < 0 || id >= tok->n_vocab || !(tok->flags[id] & TEMPER__TOK_PRESENT))
        return temper__error(TEMPER_EFORMAT, "added token id %d is not in the vocabulary", id);
    if (!tok->added_index && !(tok->added_index = calloc((size_t)tok->n_vocab, sizeof(int))))
        return temper__error(TEMPER_ENOMEM, "out of memory for the added tokens");
    int k = tok->added_index[id] - 1;
    if (k >= 0) { /* declared twice: the last declaration wins */
        tok->added[k].special = special;
        tok->added[k].lstrip = lstrip;
        tok->added[k].rstrip = rstrip;
        tok->added[k].normalized = normalized;
        goto flags;
    }
    if (tok->n_added == tok->added_cap) {
        int cap = tok->added_cap ? 2 * tok->added_cap : 16;
        temper__added *v = realloc(tok->added, (size_t)cap * sizeof *v);
        if (!v) return temper__error(TEMPER_ENOMEM, "out of memory for the added tokens");
        tok->added = v;
        tok->added_cap = cap;
    }
    const char *text = temper__tok_text(tok, id);
    tok->added[tok->n_added++] = (temper__added){id, text, (uint32_t)strlen(text), special, lstrip,
                                                 rstrip, normalized};
    tok->added_index[id] = tok->n_added;
flags:
    tok->flags[id] |= TEMPER__TOK_ADDED;
    if (special) tok->flags[id] |= TEMPER__TOK_SPECIAL;
    else tok->flags[id] &= (uint8_t)~TEMPER__TOK_SPECIAL;
    return 0;
}
