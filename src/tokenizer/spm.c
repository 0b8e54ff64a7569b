/*
 * spm.c - SentencePiece-style BPE: Llama 2 / TinyLlama / Mistral
 * tokenizer.json files (HF's BPE model with byte_fallback) and llama2.c's
 * tokenizer.bin (run.c's encode). The same pipeline serves both:
 *
 *   segment --normalize--> characters: " " -> "\u2581", a "\u2581" put before
 *            the segment (HF Prepend / Metaspace, SentencePiece's
 *            add_dummy_prefix), each character aligned with its bytes in
 *            the input (the prepended one with the first character)
 *   characters --split--> words (only Metaspace split = true: each "\u2581"
 *            starts a word)
 *   word --symbols--> one id per character found in the vocabulary; the
 *            others become their <0xHH> byte tokens (byte fallback), else the
 *            unk token (a run of them fused into one with fuse_unk; HF's
 *            order, see temper__spm_symbols)
 *   symbols --bpe.c--> repeatedly merge the adjacent pair of lowest merge
 *            rank, the leftmost of equal ranks (HF's BPE; for tokenizer.bin
 *            the ranks come from the piece scores, llama2c_tok.c)
 *
 * Offsets, as HF computes them: each token takes the normalized bytes after
 * the previous one and spans the input bytes of their characters (a byte
 * token its whole character, the prepended "\u2581" the first character).
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/encode.h"

static const uint8_t temper__metaspace[3] = {0xE2, 0x96, 0x81}; /* U+2581 */

/* One character of the normalized segment. */
typedef struct temper__spm_char {
    uint32_t nstart;      /* its bytes: norm[nstart .. nstart + nlen) */
    uint8_t nlen;
    bool literal_ms;      /* an input "\u2581" (not a replaced space) */
    int32_t ostart, oend; /* the input bytes it stands for */
} temper__spm_char;

/* Scratch of one segment; everything is owned here. */
typedef struct temper__spm_work {
    uint8_t *norm;            /* (3 * (n + 1)) normalized text */
    uint32_t *norm_char;      /* (3 * (n + 1)) character of each normalized byte */
    temper__spm_char *chars;  /* (n + 1) */
    temper_token *sym;        /* (4 * (n + 1)) symbols of the current word */
    uint32_t *sym_len;        /* (4 * (n + 1)) normalized bytes of each initial symbol */
    temper_token *init;       /* (4 * (n + 1)) the initial symbols, kept */
    uint32_t n_norm, n_chars;
} temper__spm_work;

static void temper__spm_work_free(temper__spm_work *w) {
    free(w->norm);
    free(w->norm_char);
    free(w->chars);
    free(w->sym);
    free(w->sym_len);
    free(w->init);
}

/* Normalize text[a..b) into w (see the file comment). */
static int temper__spm_normalize(const temper_tokenizer *tok, const uint8_t *text, size_t a,
                                 size_t b, temper__spm_work *w) {
    const temper__spm *sp = &tok->spm;
    size_t n = b - a;
    if (n > INT32_MAX / 8) return temper__error(TEMPER_ERANGE, "a text of %zu bytes is too long", n);
    w->norm = malloc(3 * (n + 1));
    w->norm_char = malloc(3 * (n + 1) * sizeof *w->norm_char);
    w->chars = malloc((n + 1) * sizeof *w->chars);
    w->sym = malloc(4 * (n + 1) * sizeof *w->sym);
    w->sym_len = malloc(4 * (n + 1) * sizeof *w->sym_len);
    w->init = malloc(4 * (n + 1) * sizeof *w->init);
    if (!w->norm || !w->norm_char || !w->chars || !w->sym || !w->sym_len || !w->init)
        return temper__error(TEMPER_ENOMEM, "out of memory for a %zu-byte text", n);
    bool starts_ms = text[a] == ' ' || (n >= 3 && memcmp(text + a, temper__metaspace, 3) == 0);
    bool prepend = sp->prepend == TEMPER__SPM_PREPEND_ALWAYS ||
                   (sp->prepend == TEMPER__SPM_PREPEND_MISSING && !starts_ms) ||
                   (sp->prepend == TEMPER__SPM_PREPEND_FIRST && !starts_ms && a == 0);
    uint32_t nn = 0, nc = 0;
    for (size_t i = a; i < b;) {
        uint32_t cp;
        int l = temper__utf8_decode(text + i, b - i, &cp);
        if (l == 0) return temper__error(TEMPER_EUTF8, "invalid UTF-8 at byte %zu", i);
        if (prepend && i == a) { /* aligned with the first character */
            w->chars[nc] = (temper__spm_char){nn, 3, false, (int32_t)i, (int32_t)(i + l)};
            memcpy(w->norm + nn, temper__metaspace, 3);
            for (int k = 0; k < 3; k++) w->norm_char[nn++] = nc;
            nc++;
        }
        temper__spm_char c = {nn, (uint8_t)l, false, (int32_t)i, (int32_t)(i + l)};
        if (cp == ' ' && sp->replace_space) {
            memcpy(w->norm + nn, temper__metaspace, 3);
            c.nlen = 3;
        } else {
            memcpy(w->norm + nn, text + i, (size_t)l);
            c.literal_ms = cp == 0x2581;
        }
        for (int k = 0; k < c.nlen; k++) w->norm_char[nn++] = nc;
        w->chars[nc++] = c;
        i += (size_t)l;
    }
    w->n_norm = nn;
    w->n_chars = nc;
    return 0;
}

static inline bool temper__is_ms(const temper__spm_work *w, uint32_t c) {
    const temper__spm_char *ch = &w->chars[c];
    return ch->nlen == 3 && memcmp(w->norm + ch->nstart, temper__metaspace, 3) == 0;
}

/* Initial symbols of the word made of characters [c0, c1) into w->sym and
 * w->sym_len, in HF's order (BPE::merge_word): an unknown character waits as
 * a pending unk (fused with the next ones under fuse_unk) that is written
 * before the next character found in the vocabulary or at the end; the
 * byte tokens of a byte-fallback character are written at once, so they
 * come before a pending unk. Returns the count. */
static int temper__spm_symbols(const temper_tokenizer *tok, temper__spm_work *w, uint32_t c0,
                               uint32_t c1) {
    const temper__spm *sp = &tok->spm;
    int n = 0;
    uint32_t unk_len = 0; /* normalized bytes of the pending unk, 0: none */
    for (uint32_t c = c0; c < c1; c++) {
        const temper__spm_char *ch = &w->chars[c];
        const char *s = (const char *)w->norm + ch->nstart;
        int id = ch->literal_ms && sp->metaspace_is_byte ? -1 : temper__vocab_find(tok, s, ch->nlen);
        if (id >= 0) {
            if (unk_len) w->sym[n] = sp->unk_id, w->sym_len[n++] = unk_len, unk_len = 0;
            w->sym[n] = id;
            w->sym_len[n++] = ch->nlen;
            continue;
        }
        bool all = sp->byte_fallback;
        for (int k = 0; all && k < ch->nlen; k++) all = tok->byte_id[(uint8_t)s[k]] >= 0;
        if (all) {
            for (int k = 0; k < ch->nlen; k++)
                w->sym[n] = tok->byte_id[(uint8_t)s[k]], w->sym_len[n++] = 1;
            continue;
        }
        if (sp->unk_id < 0) continue; /* HF drops the character */
        if (unk_len && !sp->fuse_unk) w->sym[n] = sp->unk_id, w->sym_len[n++] = unk_len, unk_len = 0;
        unk_len += ch->nlen;
    }
    if (unk_len) w->sym[n] = sp->unk_id, w->sym_len[n++] = unk_len;
    return n;
}

/* Normalized bytes of token id of a merged word, its first initial symbol
 * being init[*j]: a token equal to it was not merged (a merge is longer
 * than its parts); a merged one covers the initial symbols whose texts it
 * concatenates. */
static uint32_t temper__spm_len(const temper_tokenizer *tok, const temper__spm_work *w, int n_init,
                                temper_token id, int *j) {
    if (id == w->init[*j]) return w->sym_len[(*j)++];
    size_t want = strlen(temper__tok_text(tok, id)), got = 0;
    uint32_t len = 0;
    while (*j < n_init && got < want) {
        got += strlen(temper__tok_text(tok, w->init[*j]));
        len += w->sym_len[(*j)++];
    }
    return len;
}

/* Encode the word of characters [c0, c1) and append its ids to out. As in
 * HF, a token's offsets are those of the normalized bytes it covers, each
 * symbol taking the bytes after the previous one. */
static int temper__spm_word(temper__enc *e, temper__spm_work *w, uint32_t c0, uint32_t c1,
                            temper__ids *out) {
    const temper_tokenizer *tok = e->tok;
    const temper__spm_char *ch = w->chars;
    if (c0 >= c1) return 0;
    uint32_t pos = ch[c0].nstart, end = ch[c1 - 1].nstart + ch[c1 - 1].nlen;
    if (tok->ignore_merges) {
        int id = temper__vocab_find(tok, (const char *)w->norm + pos, end - pos);
        if (id >= 0) return temper__ids_push(out, id, ch[c0].ostart, ch[c1 - 1].oend);
    }
    int n = temper__spm_symbols(tok, w, c0, c1);
    memcpy(w->init, w->sym, (size_t)n * sizeof *w->init);
    int m = n > 1 ? temper__bpe_merge(e, w->sym, n) : n;
    if (m < 0) return m;
    for (int k = 0, j = 0; k < m; k++) {
        uint32_t len = temper__spm_len(tok, w, n, w->sym[k], &j);
        uint32_t first = pos < end ? pos : end - 1, last = pos + len > pos ? pos + len - 1 : first;
        if (last >= end) last = end - 1;
        int rc = temper__ids_push(out, w->sym[k], ch[w->norm_char[first]].ostart,
                                  ch[w->norm_char[last]].oend);
        if (rc < 0) return rc;
        pos += len;
    }
    return 0;
}

int temper__spm_encode_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                               temper__ids *out) {
    const temper_tokenizer *tok = e->tok;
    if (a >= b) return 0;
    temper__spm_work w = {0};
    int rc = temper__spm_normalize(tok, text, a, b, &w);
    uint32_t c0 = 0;
    for (uint32_t c = 1; rc >= 0 && c <= w.n_chars; c++) {
        if (c < w.n_chars && !(tok->spm.split && temper__is_ms(&w, c))) continue;
        rc = temper__spm_word(e, &w, c0, c, out);
        c0 = c;
    }
    temper__spm_work_free(&w);
    return rc;
}

/* ---- loading ------------------------------------------------------------ */

/* Byte HH of a token "<0xHH>" (either case, as HF's ByteFallback reads it),
 * or -1. */
static int temper__byte_token(const char *s) {
    if (strlen(s) != 6 || strncmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

int temper__spm_prepare(temper_tokenizer *tok, const char *path, const struct cJSON *root) {
    temper__spm *sp = &tok->spm;
    bool all_bytes = sp->byte_fallback;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        tok->byte_id[b] = sp->byte_fallback ? temper__vocab_find(tok, name, 6) : -1;
        all_bytes = all_bytes && tok->byte_id[b] >= 0;
    }
    if (root) {
        const cJSON *unk = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "model"), "unk_token");
        sp->unk_id = cJSON_IsString(unk) ? temper__vocab_find(tok, unk->valuestring,
                                                              strlen(unk->valuestring)) : -1;
        /* HF fails when it needs an unk that is not in the vocabulary */
        if (cJSON_IsString(unk) && sp->unk_id < 0 && !all_bytes)
            return temper__error(TEMPER_EFORMAT, "%s: the model's unk_token \"%s\" is not in the "
                                 "vocabulary", path, unk->valuestring);
    }
    /* Normalized added tokens would be matched against the normalized text
     * ("\u2581" for spaces, a "\u2581" before each segment): not done. */
    if (sp->replace_space && !tok->spm.metaspace_is_byte) {
        for (int k = 0; k < tok->n_added; k++)
            if (tok->added[k].normalized)
                return temper__error(TEMPER_EUNSUPPORTED,
                                     "%s: added token \"%s\" has normalized = true with a "
                                     "SentencePiece-style normalizer, which is not supported",
                                     path, tok->added[k].content);
    }
    /* The bytes of every token as the decoder gives them: "\u2581" -> " ",
     * "<0xHH>" -> byte HH. They are never longer than the token's text. */
    uint32_t nb = 0;
    int max_bytes = 0;
    for (int id = 0; id < tok->n_vocab; id++) {
        tok->bytes_off[id] = nb;
        tok->flags[id] &= (uint8_t)~TEMPER__TOK_BYTE;
        if (!(tok->flags[id] & TEMPER__TOK_PRESENT)) continue;
        const char *s = temper__tok_text(tok, id);
        size_t len = strlen(s);
        uint8_t *o = tok->bytes_pool + nb;
        int byte = sp->dec_byte_fallback ? temper__byte_token(s) : -1;
        size_t m = 0;
        if (byte >= 0) {
            o[m++] = (uint8_t)byte;
            tok->flags[id] |= TEMPER__TOK_BYTE;
        } else {
            for (size_t i = 0; i < len;) {
                if (sp->dec_replace && i + 3 <= len && memcmp(s + i, temper__metaspace, 3) == 0) {
                    o[m++] = ' ';
                    i += 3;
                } else {
                    o[m++] = (uint8_t)s[i++];
                }
            }
        }
        nb += (uint32_t)m;
        if ((int)m > max_bytes) max_bytes = (int)m;
    }
    tok->bytes_off[tok->n_vocab] = nb;
    tok->max_token_bytes = max_bytes;
    tok->add_prefix_space = sp->prepend != TEMPER__SPM_PREPEND_NEVER;
    return 0;
}
