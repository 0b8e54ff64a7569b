/*
 * nfc.c - the NFC normalizer of byte-level BPE tokenizers (HF
 * normalizers.NFC: Qwen2/Qwen3, GPT-NeoX/Pythia), with the alignment of the
 * normalized text to the original.
 *
 * A segment that is already in NFC (always the case for ASCII, and for most
 * text) is encoded as it is. Otherwise it is cut into clusters, each a
 * starter (canonical combining class 0) with the marks that follow it
 * (and the Hangul vowel/trailing jamo and the few class-0 characters that
 * compose with a preceding starter); NFC never crosses a cluster boundary,
 * so each cluster is normalized on its own (utf8proc). Alignment as HF's
 * (unicode-normalization-alignments): a composed character is aligned with
 * the original character of its starter, a mark left over with the
 * position it holds after the canonical reordering (each original
 * character decomposed on its own; reordering moves the characters, not
 * the alignments; leftover marks are matched from the end), and the marks
 * absorbed by a composition with nothing. Offsets of
 * the tokens are mapped back through that alignment. (Should the clusters'
 * forms not add up to the NFC of the whole segment, the segment is one
 * cluster aligned with the whole segment: the ids stay right.)
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenizer/encode.h"

/* Class-0 characters that are the second of a canonical composition pair. */
static bool temper__nfc_joins(utf8proc_int32_t c) {
    static const utf8proc_int32_t second[] = {0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7,
                                              0x0C56, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57, 0x0DCF,
                                              0x0DDF, 0x102E, 0x1B35, 0x1133E, 0x11357, 0x114B0, 0x114BA,
                                              0x114BD, 0x115AF, 0x11930};
    if ((c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2)) return true; /* Hangul V, T */
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++)
        if (c == second[i]) return true;
    return utf8proc_get_property(c)->combining_class != 0;
}

/* NFC of s[0..n) into a new malloc'd buffer (*out, *out_n), or -1. */
static int temper__nfc_map(const uint8_t *s, size_t n, uint8_t **out, size_t *out_n) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t len = utf8proc_map(s, (utf8proc_ssize_t)n, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (len < 0) return -1;
    *out = dst;
    *out_n = (size_t)len;
    return 0;
}

/* Append b[0..n) to the normalized buffer with alignment [os, oe). */
static int temper__nfc_push(temper__enc *e, const uint8_t *b, size_t n, int32_t os, int32_t oe) {
    if (e->nfc_len + n > e->nfc_cap) {
        size_t cap = (e->nfc_len + n) * 2;
        uint8_t *t = realloc(e->nfc, cap);
        if (t) e->nfc = t;
        int32_t *m = realloc(e->nfc_map, cap * 2 * sizeof *m);
        if (m) e->nfc_map = m;
        if (!t || !m) return temper__error(TEMPER_ENOMEM, "out of memory normalizing a %zu-byte text", n);
        e->nfc_cap = cap;
    }
    memcpy(e->nfc + e->nfc_len, b, n);
    for (size_t i = 0; i < n; i++) {
        e->nfc_map[2 * (e->nfc_len + i)] = os;
        e->nfc_map[2 * (e->nfc_len + i) + 1] = oe;
    }
    e->nfc_len += n;
    return 0;
}

/* The decomposed codepoints of a cluster with the original character each
 * came from (byte range), canonically reordered. */
typedef struct {
    utf8proc_int32_t cp;
    int32_t os, oe;
    int ccc, used;
} temper__nfc_cp;

/* NFC of the cluster text[c0..c1), aligned character by character. */
static int temper__nfc_cluster(temper__enc *e, const uint8_t *text, size_t c0, size_t c1) {
    enum { MAXCP = 64 };
    temper__nfc_cp d[MAXCP];
    int nd = 0;
    uint8_t *part;
    size_t part_n;
    if (temper__nfc_map(text + c0, c1 - c0, &part, &part_n) < 0) return 0;
    for (size_t s = c0; s < c1;) { /* decompose each original character on its own */
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(text + s, (utf8proc_ssize_t)(c1 - s), &cp);
        size_t t = s + (size_t)(k > 0 ? k : 1);
        utf8proc_int32_t buf[16];
        int options = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, last = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(cp, buf, 16, (utf8proc_option_t)options, &last);
        for (utf8proc_ssize_t i = 0; i < n && i < 16 && nd < MAXCP; i++)
            d[nd++] = (temper__nfc_cp){buf[i], (int32_t)s, (int32_t)t, utf8proc_get_property(buf[i])->combining_class, 0};
        s = t;
    }
    /* canonical ordering: a stable sort of the marks by class that moves the
     * characters but not the alignments (HF keeps them by position) */
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && d[j].ccc != 0 && d[j - 1].ccc > d[j].ccc; j--) {
            utf8proc_int32_t cp = d[j].cp;
            int ccc = d[j].ccc;
            d[j].cp = d[j - 1].cp, d[j].ccc = d[j - 1].ccc;
            d[j - 1].cp = cp, d[j - 1].ccc = ccc;
        }
    /* the NFC characters, each with its origin: the first is the starter's,
     * the others found among the decomposed ones from the end */
    int32_t start[MAXCP], len[MAXCP], os[MAXCP], oe[MAXCP];
    utf8proc_int32_t cps[MAXCP];
    int no = 0;
    for (size_t s = 0; s < part_n && no < MAXCP;) {
        utf8proc_ssize_t k = utf8proc_iterate(part + s, (utf8proc_ssize_t)(part_n - s), &cps[no]);
        start[no] = (int32_t)s;
        len[no] = (int32_t)(k > 0 ? k : 1);
        os[no] = nd ? d[0].os : (int32_t)c0;
        oe[no] = nd ? d[0].oe : (int32_t)c1;
        s += (size_t)len[no];
        no++;
    }
    if (nd) d[0].used = 1;
    for (int j = no - 1; j >= 1; j--)
        for (int i = nd - 1; i >= 1; i--)
            if (!d[i].used && d[i].cp == cps[j]) {
                d[i].used = 1;
                os[j] = d[i].os;
                oe[j] = d[i].oe;
                break;
            }
    int rc = 0;
    if (no == MAXCP || nd == MAXCP) /* a very long cluster: aligned as a whole */
        rc = temper__nfc_push(e, part, part_n, (int32_t)c0, (int32_t)c1);
    else
        for (int j = 0; j < no && rc == 0; j++) rc = temper__nfc_push(e, part + start[j], (size_t)len[j], os[j], oe[j]);
    free(part);
    return rc;
}

int temper__nfc_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b, bool *changed) {
    *changed = false;
    size_t i = a;
    while (i < b && text[i] < 0x80) i++;
    if (i == b) return 0; /* ASCII */
    uint8_t *whole;
    size_t whole_n;
    if (temper__nfc_map(text + a, b - a, &whole, &whole_n) < 0) return 0; /* not UTF-8: left as it is */
    if (whole_n == b - a && memcmp(whole, text + a, whole_n) == 0) {
        free(whole);
        return 0;
    }
    *changed = true;
    e->nfc_len = 0;
    int rc = 0;
    for (size_t c0 = a; c0 < b && rc == 0;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(text + c0, (utf8proc_ssize_t)(b - c0), &cp);
        size_t c1 = c0 + (size_t)(k > 0 ? k : 1);
        while (c1 < b) { /* the marks (and joining characters) after the starter */
            k = utf8proc_iterate(text + c1, (utf8proc_ssize_t)(b - c1), &cp);
            if (k <= 0 || !temper__nfc_joins(cp)) break;
            c1 += (size_t)k;
        }
        rc = temper__nfc_cluster(e, text, c0, c1);
        c0 = c1;
    }
    if (rc == 0 && (e->nfc_len != whole_n || memcmp(e->nfc, whole, whole_n) != 0)) {
        e->nfc_len = 0; /* the clusters did not add up: one cluster */
        rc = temper__nfc_push(e, whole, whole_n, (int32_t)a, (int32_t)b);
    }
    free(whole);
    return rc;
}
