/*
 * llama2c_tok.c - llama2.c's tokenizer.bin (as karpathy/llama2.c's
 * tokenizer.py exports a SentencePiece model and run.c reads it).
 *
 * Layout (little-endian):
 *   int32 max_token_length
 *   then, for each id 0 .. vocab_size - 1 (vocab_size is the model's; here:
 *   entries up to the end of the file):
 *     float32 score      the piece's SentencePiece score: higher merges first
 *     int32   len
 *     len bytes          the piece, with "\u2581" written as " "; BOS and EOS
 *                        as "\n<s>\n" and "\n</s>\n"; bytes as "<0xHH>"
 *
 * run.c's encode: BOS (1), then " " (the dummy prefix) and one id per UTF-8
 * character of the text, a character missing from the vocabulary giving
 * byte + 3 per byte; then, while possible, merge the adjacent pair whose
 * concatenation is a piece of the highest score (the leftmost of equal
 * scores). Here that is the SentencePiece-style BPE of spm.c with merge
 * ranks made from the scores: every split of a piece into two pieces is a
 * merge, and pieces of equal score share a rank, so the leftmost pair wins
 * as in run.c. Pieces are kept in SentencePiece's form ("\u2581Once"), BOS
 * and EOS as "<s>" and "</s>" (special, as in HF's Llama tokenizers).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static int32_t temper__i32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

static float temper__f32(const uint8_t *p) {
    int32_t v = temper__i32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static int temper__desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* Add the merges: every split of a piece into two pieces, ranked by the
 * piece's score (equal scores: equal ranks). scores: (n_vocab), NaN for
 * pieces that never result from a merge. */
static int temper__merges_from_scores(temper_tokenizer *tok, const float *scores) {
    int n = tok->n_vocab, n_merges = 0, rc = 0;
    float *sorted = malloc((size_t)n * sizeof *sorted); /* (n_distinct) scores, descending */
    if (!sorted) return temper__error(TEMPER_ENOMEM, "out of memory");
    int n_sorted = 0;
    for (int id = 0; id < n; id++)
        if (!isnan(scores[id])) sorted[n_sorted++] = scores[id];
    qsort(sorted, (size_t)n_sorted, sizeof *sorted, temper__desc);
    int n_distinct = 0;
    for (int k = 0; k < n_sorted; k++)
        if (n_distinct == 0 || sorted[k] != sorted[n_distinct - 1]) sorted[n_distinct++] = sorted[k];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && (rc = temper__merges_init(tok, n_merges)) < 0) break;
        for (int id = 0; id < n; id++) {
            if (isnan(scores[id])) continue;
            const char *s = temper__tok_text(tok, id);
            size_t len = strlen(s);
            if (temper__vocab_find(tok, s, len) != id) continue; /* a duplicate piece */
            int32_t rank = 0;
            if (pass == 1) { /* position of the score among the distinct ones */
                int lo = 0, hi = n_distinct - 1;
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (sorted[mid] > scores[id]) lo = mid + 1;
                    else hi = mid;
                }
                rank = lo;
            }
            for (size_t k = 1; k < len; k++) {
                if (((uint8_t)s[k] & 0xC0) == 0x80) continue; /* inside a character */
                int a = temper__vocab_find(tok, s, k), b = temper__vocab_find(tok, s + k, len - k);
                if (a < 0 || b < 0) continue;
                if (pass == 0) n_merges++;
                else temper__merges_put(tok, a, b, rank, id);
            }
        }
    }
    free(sorted);
    return rc;
}

int temper__load_llama2c_tokenizer(temper_tokenizer *tok, const char *path) {
    temper__mmap m;
    int rc = temper__mmap_open(path, &m);
    if (rc < 0) return rc;
    temper__vocab_builder vb = {0};
    float *scores = NULL; /* (cap) */
    char *piece = NULL;   /* (piece_cap) one piece in SentencePiece form */
    size_t cap = 0, piece_cap = 0;
    int n = 0;
    const uint8_t *p = m.data;
    if ((rc = temper__check_not_placeholder(path, p, m.size < 256 ? m.size : 256)) < 0) goto done;
    int32_t max_len = m.size >= 4 ? temper__i32(p) : -1;
    if (max_len <= 0 || max_len > (1 << 20)) {
        rc = temper__error(TEMPER_EFORMAT, "%s: not a llama2.c tokenizer.bin (max_token_length %d)",
                           path, max_len);
        goto done;
    }
    for (size_t off = 4; off < m.size; n++) {
        int32_t len = m.size - off >= 8 ? temper__i32(p + off + 4) : -1;
        if (len < 0 || (size_t)len > m.size - off - 8 || len > max_len) {
            rc = temper__error(TEMPER_EFORMAT,
                               "%s: not a llama2.c tokenizer.bin: entry %d at byte %zu is cut short "
                               "or claims %d bytes (a checkpoint? give the tokenizer.bin that goes "
                               "with it, -z)", path, n, off, len);
            goto done;
        }
        const char *raw = (const char *)p + off + 8;
        if (temper__utf8_check((const uint8_t *)raw, (size_t)len) != (size_t)len) {
            rc = temper__error(TEMPER_EFORMAT, "%s: piece %d is not valid UTF-8", path, n);
            goto done;
        }
        if ((size_t)n == cap) {
            cap = cap ? 2 * cap : 1024;
            float *sc = realloc(scores, cap * sizeof *sc);
            if (!sc) {
                rc = temper__error(TEMPER_ENOMEM, "out of memory");
                goto done;
            }
            scores = sc;
        }
        if (3 * (size_t)len + 1 > piece_cap) {
            piece_cap = 3 * (size_t)len + 1;
            char *q = realloc(piece, piece_cap);
            if (!q) {
                rc = temper__error(TEMPER_ENOMEM, "out of memory");
                goto done;
            }
            piece = q;
        }
        size_t pl = 0;
        for (int32_t k = 0; k < len; k++) {
            if (raw[k] == ' ') memcpy(piece + pl, "\xE2\x96\x81", 3), pl += 3;
            else piece[pl++] = raw[k];
        }
        scores[n] = temper__f32(p + off);
        /* BOS and EOS: run.c's "\n<s>\n" is SentencePiece's "<s>" */
        if ((n == 1 || n == 2) && pl >= 2 && piece[0] == '\n' && piece[pl - 1] == '\n') {
            memmove(piece, piece + 1, pl - 2);
            pl -= 2;
            scores[n] = NAN;
        }
        if ((rc = temper__vb_set(&vb, n, piece, pl)) < 0) goto done;
        if (n <= 2) vb.flags[n] |= TEMPER__TOK_SPECIAL; /* <unk>, <s>, </s> */
        off += 8 + (size_t)len;
    }
    if (n < 259) {
        rc = temper__error(TEMPER_EFORMAT, "%s: %d pieces: a llama2.c tokenizer has at least 259 "
                           "(<unk>, <s>, </s>, then the 256 bytes)", path, n);
        goto done;
    }
    if ((rc = temper__vocab_finish(tok, &vb)) < 0) goto done;
    for (int b = 0; b < 256; b++) { /* run.c's byte fallback is byte + 3 */
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        if (strcmp(temper__tok_text(tok, b + 3), name) != 0) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: piece %d is \"%s\", not %s: run.c's byte "
                               "fallback needs the 256 byte pieces at ids 3 .. 258", path, b + 3,
                               temper__tok_text(tok, b + 3), name);
            goto done;
        }
    }
    if ((rc = temper__merges_from_scores(tok, scores)) < 0) goto done;
    tok->model = TEMPER__MODEL_SPM;
    tok->source = "tokenizer.bin";
    tok->spm = (temper__spm){.prepend = TEMPER__SPM_PREPEND_ALWAYS, .replace_space = true,
                             .byte_fallback = true, .unk_id = -1, .metaspace_is_byte = true,
                             .dec_replace = true, .dec_byte_fallback = true, .dec_strip = true};
    tok->unk_id = 0;
    tok->bos_id = 1;
    tok->eos_id = 2;
    tok->post.n_prefix = 1; /* run.c's encode(..., bos = 1, eos = 0) */
    tok->post.prefix[0] = 1;
    rc = temper__spm_prepare(tok, path, NULL);
done:
    temper__vb_free(&vb);
    free(scores);
    free(piece);
    temper__mmap_close(&m);
    return rc;
}

/* The first (in name order) tok*.bin of folder, or NULL. */
static char *temper__find_tok_bin(const char *folder) {
    DIR *d = opendir(folder);
    if (!d) return NULL;
    char *best = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 8 || strncmp(e->d_name, "tok", 3) != 0 || strcmp(e->d_name + n - 4, ".bin") != 0)
            continue;
        if (best && strcmp(e->d_name, best) >= 0) continue;
        free(best);
        best = temper__strdup(e->d_name);
    }
    closedir(d);
    char *path = best ? temper__strfmt("%s/%s", folder, best) : NULL;
    free(best);
    if (path && !temper__is_file(path)) {
        free(path);
        path = NULL;
    }
    return path;
}

char *temper__llama2c_tokenizer_in(const char *folder) {
    static const char *hf[2] = {"tokenizer.json", "vocab.json"};
    for (int k = 0; k < 2; k++) {
        char *p = temper__strfmt("%s/%s", folder, hf[k]);
        bool there = p && temper__is_file(p);
        free(p);
        if (there) return NULL;
    }
    char *p = temper__strfmt("%s/tokenizer.bin", folder);
    if (p && temper__is_file(p)) return p;
    free(p);
    return temper__find_tok_bin(folder);
}
