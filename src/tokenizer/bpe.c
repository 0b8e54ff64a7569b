/*
 * bpe.c - the BPE merge loop of Hugging Face tokenizers' BPE model.
 *
 * A word starts as one symbol per byte (the id of its byte-level character).
 * HF then repeatedly merges the adjacent pair with the lowest merge rank; of
 * equal ranks (the same pair at several places) the leftmost goes first. It
 * does so with a binary heap of candidate merges, whose stale entries are
 * skipped. Here short words (most of them) use a plain scan over the pair
 * ranks, which applies the merges in exactly that order; long words (a
 * megabyte of digits, use_regex = false) use the heap, O(n log n).
 * (tests/unit/test_tokenizer.c checks both against a BPE of its own.)
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/encode.h"

#define TEMPER__BPE_SMALL 64 /* words up to this many bytes use the scan */

static inline uint32_t temper__merge_hash(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

int temper__merges_init(temper_tokenizer *tok, int n_merges) {
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)n_merges + 16) slots <<= 1;
    tok->merges = calloc(slots, sizeof *tok->merges);
    if (!tok->merges) return temper__error(TEMPER_ENOMEM, "out of memory for %d merges", n_merges);
    tok->merge_mask = slots - 1;
    tok->n_merges = 0;
    return 0;
}

void temper__merges_put(temper_tokenizer *tok, temper_token left, temper_token right,
                        int32_t rank, temper_token merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint32_t h = temper__merge_hash(key, tok->merge_mask);
    while (tok->merges[h].key && tok->merges[h].key != key) h = (h + 1) & tok->merge_mask;
    if (!tok->merges[h].key) tok->n_merges++;
    tok->merges[h].key = key;
    tok->merges[h].rank = rank;
    tok->merges[h].merged = merged;
}

/* The merge of (left, right), or NULL. */
static inline const temper__merge_slot *temper__merge_get(const temper_tokenizer *tok,
                                                          temper_token left,
                                                          temper_token right) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint32_t h = temper__merge_hash(key, tok->merge_mask);
    for (;;) {
        const temper__merge_slot *s = &tok->merges[h];
        if (s->key == key) return s;
        if (!s->key) return NULL;
        h = (h + 1) & tok->merge_mask;
    }
}

/* A byte without a token (-1) loads, as in Hugging Face tokenizers: the
 * error comes when a text needs it (temper__bpe_word). */
int temper__bpe_prepare(temper_tokenizer *tok, const char *path) {
    (void)path;
    for (int b = 0; b < 256; b++) {
        uint8_t ch[4];
        int l = temper__utf8_encode(temper__byte_to_char((uint8_t)b), ch);
        tok->byte_id[b] = temper__vocab_find(tok, (const char *)ch, (size_t)l);
    }
    return 0;
}

/* The error for a byte of a word that the vocabulary has no token for. */
static int temper__missing_byte(const uint8_t *w, size_t n, const temper_token *ids) {
    size_t k = 0;
    while (k < n && ids[k] >= 0) k++;
    uint8_t ch[4];
    int l = temper__utf8_encode(temper__byte_to_char(w[k]), ch);
    return temper__error(TEMPER_EUNSUPPORTED,
                         "the text has byte 0x%02X, and this byte-level vocabulary has no token "
                         "for it (\"%.*s\"): it cannot be encoded; remove that character from "
                         "the text or use a tokenizer with all 256 byte tokens",
                         w[k], l, (const char *)ch);
}

/* ---- short words: scan for the lowest rank --------------------------- */

static int temper__bpe_scan(const temper_tokenizer *tok, temper_token *sym, int n) {
    int32_t rank[TEMPER__BPE_SMALL];       /* (n - 1) rank of pair (k, k+1) */
    temper_token merged[TEMPER__BPE_SMALL]; /* (n - 1) its merged id */
    for (int k = 0; k + 1 < n; k++) {
        const temper__merge_slot *m = temper__merge_get(tok, sym[k], sym[k + 1]);
        rank[k] = m ? m->rank : INT32_MAX;
        merged[k] = m ? m->merged : -1;
    }
    while (n > 1) {
        int best = -1;
        int32_t best_rank = INT32_MAX;
        for (int k = 0; k + 1 < n; k++)
            if (rank[k] < best_rank) best_rank = rank[k], best = k;
        if (best < 0) break;
        sym[best] = merged[best];
        /* drop symbol best + 1 and pair (best, best + 1) */
        int tail = n - best - 2;            /* symbols after best + 1 */
        int pairs = tail > 0 ? tail - 1 : 0; /* pairs after (best + 1, best + 2) */
        memmove(sym + best + 1, sym + best + 2, (size_t)tail * sizeof *sym);
        memmove(rank + best + 1, rank + best + 2, (size_t)pairs * sizeof *rank);
        memmove(merged + best + 1, merged + best + 2, (size_t)pairs * sizeof *merged);
        n--;
        for (int k = best - 1; k <= best; k++) {
            if (k < 0 || k + 1 >= n) continue;
            const temper__merge_slot *m = temper__merge_get(tok, sym[k], sym[k + 1]);
            rank[k] = m ? m->rank : INT32_MAX;
            merged[k] = m ? m->merged : -1;
        }
    }
    return n;
}

/* ---- long words: heap of candidate merges (HF's algorithm) ------------ */

typedef struct temper__cand {
    int32_t rank, pos; /* pos: original index of the left symbol */
    temper_token merged;
} temper__cand;

static inline int temper__cand_less(temper__cand a, temper__cand b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void temper__heap_push(temper__cand *h, int *n, temper__cand c) {
    int k = (*n)++;
    while (k > 0) {
        int p = (k - 1) / 2;
        if (!temper__cand_less(c, h[p])) break;
        h[k] = h[p];
        k = p;
    }
    h[k] = c;
}

static temper__cand temper__heap_pop(temper__cand *h, int *n) {
    temper__cand top = h[0], last = h[--(*n)];
    int k = 0;
    for (;;) {
        int c = 2 * k + 1;
        if (c >= *n) break;
        if (c + 1 < *n && temper__cand_less(h[c + 1], h[c])) c++;
        if (!temper__cand_less(h[c], last)) break;
        h[k] = h[c];
        k = c;
    }
    if (*n > 0) h[k] = last;
    return top;
}

static int temper__bpe_heap(temper__enc *e, temper_token *sym, int n) {
    const temper_tokenizer *tok = e->tok;
    /* scratch: prev, next (n each), heap (3n) */
    size_t need = (size_t)n * 2 * sizeof(int32_t) + (size_t)n * 3 * sizeof(temper__cand);
    if (need > e->heap_bytes) {
        void *p = realloc(e->heap_mem, need);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory encoding a word of %d bytes", n);
        e->heap_mem = p;
        e->heap_bytes = need;
    }
    int32_t *prev = e->heap_mem, *next = prev + n; /* (n), -1: none; next = -2: merged away */
    temper__cand *heap = (temper__cand *)(next + n);  /* (3n) */
    int nh = 0;
    for (int k = 0; k < n; k++) {
        prev[k] = k - 1;
        next[k] = k + 1 < n ? k + 1 : -1;
    }
    for (int k = 0; k + 1 < n; k++) {
        const temper__merge_slot *m = temper__merge_get(tok, sym[k], sym[k + 1]);
        if (m) temper__heap_push(heap, &nh, (temper__cand){m->rank, k, m->merged});
    }
    while (nh > 0) {
        temper__cand c = temper__heap_pop(heap, &nh);
        int p = c.pos, q = next[p];
        if (q < 0) continue; /* last symbol, or merged away (-2) */
        const temper__merge_slot *m = temper__merge_get(tok, sym[p], sym[q]);
        if (!m || m->merged != c.merged) continue; /* stale entry */
        sym[p] = c.merged;
        next[p] = next[q];
        next[q] = -2;
        if (next[p] >= 0) prev[next[p]] = p;
        if (prev[p] >= 0) {
            const temper__merge_slot *l = temper__merge_get(tok, sym[prev[p]], sym[p]);
            if (l) temper__heap_push(heap, &nh, (temper__cand){l->rank, prev[p], l->merged});
        }
        if (next[p] >= 0) {
            const temper__merge_slot *r = temper__merge_get(tok, sym[p], sym[next[p]]);
            if (r) temper__heap_push(heap, &nh, (temper__cand){r->rank, p, r->merged});
        }
    }
    int out = 0;
    for (int k = 0; k >= 0; k = next[k]) sym[out++] = sym[k];
    return out;
}

/* The byte-level string of w (each byte's character), into e's scratch. */
static int temper__bytelevel_string(temper__enc *e, const uint8_t *w, size_t n, size_t *len) {
    if (2 * n + 1 > e->str_cap) {
        char *p = realloc(e->str, 2 * n + 1);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory");
        e->str = p;
        e->str_cap = 2 * n + 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)temper__utf8_encode(temper__byte_to_char(w[i]), (uint8_t *)e->str + k);
    *len = k;
    return 0;
}

int temper__bpe_word(temper__enc *e, const uint8_t *w, size_t n, temper_token *ids_out) {
    const temper_tokenizer *tok = e->tok;
    if (n == 0) return 0;
    if (n > INT32_MAX / 8) return temper__error(TEMPER_ERANGE, "a word of %zu bytes is too long", n);
    if (tok->ignore_merges) {
        size_t len = 0;
        int rc = temper__bytelevel_string(e, w, n, &len);
        if (rc < 0) return rc;
        int id = temper__vocab_find(tok, e->str, len);
        if (id >= 0) {
            ids_out[0] = id;
            return 1;
        }
    }
    temper_token missing = 0; /* < 0: a byte without a token */
    for (size_t k = 0; k < n; k++) missing |= ids_out[k] = tok->byte_id[w[k]];
    if (missing < 0) return temper__missing_byte(w, n, ids_out);
    if (n <= TEMPER__BPE_SMALL) return temper__bpe_scan(tok, ids_out, (int)n);
    return temper__bpe_heap(e, ids_out, (int)n);
}

int temper__bpe_merge(temper__enc *e, temper_token *sym, int n) {
    if (n <= TEMPER__BPE_SMALL) return temper__bpe_scan(e->tok, sym, n);
    return temper__bpe_heap(e, sym, n);
}
