/*
 * spm_decode.c - ids back to text for SentencePiece-style tokenizers, as
 * HF's decoders give it (Llama 2's Sequence[Replace("\u2581", " "),
 * ByteFallback, Fuse, Strip(" ", 1, 0)], or Metaspace):
 *
 *   - each token's text with "\u2581" -> " " (bytes_pool, spm.c);
 *   - ByteFallback: a run of consecutive <0xHH> tokens becomes its bytes if
 *     they are valid UTF-8, else one U+FFFD per token of the run;
 *   - Strip after Fuse: one leading " " of the whole text is removed (the
 *     dummy prefix; run.c and SentencePiece do the same after BOS);
 *   - Metaspace decoder: the first token loses every "\u2581".
 *
 * The streaming decoder writes a character as soon as it is whole. It
 * equals temper_detokenize except for one case it cannot see coming: a run
 * of byte tokens holding whole characters before an invalid byte, where HF
 * turns the whole run into U+FFFD while the stream has already written the
 * characters.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const uint8_t temper__fffd[3] = {0xEF, 0xBF, 0xBD};

/* temper_utf8_stream.state bits (TEMPER__STREAM_SPM is bit 0). */
enum {
    TEMPER__ST_STARTED = 1u << 1, /* text has begun: Strip no longer applies */
    TEMPER__ST_POISON = 1u << 2,  /* the current byte run is invalid UTF-8 */
    TEMPER__ST_FED = 1u << 3,     /* a token was fed: Metaspace's first is past */
};

/* A growable byte buffer. */
typedef struct temper__buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} temper__buf;

static void temper__buf_put(temper__buf *b, const void *s, size_t len) {
    if (b->oom || len == 0) return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

/* Copy b to the caller's buffer (the buffer rule) and free it. */
static int temper__buf_deliver(temper__buf *b, size_t skip, char *buf, size_t cap) {
    int rc;
    if (b->oom) rc = temper__error(TEMPER_ENOMEM, "out of memory decoding");
    else if (b->n - skip > INT32_MAX) rc = temper__error(TEMPER_ERANGE, "the text is larger than 2 GB");
    else {
        size_t len = b->n - skip;
        if (buf && cap && len) memcpy(buf, b->p + skip, len < cap ? len : cap);
        if (buf && len < cap) buf[len] = '\0';
        rc = (int)len;
    }
    free(b->p);
    return rc;
}

/* UTF-8 check of a whole byte run. */
static bool temper__valid(const uint8_t *s, size_t n) { return n == 0 || temper__utf8_check(s, n) == n; }

/* 1 if s[0..n) is the valid start of a UTF-8 character that needs more
 * bytes (the same limits as temper__utf8_decode: no overlong form, no
 * surrogate, nothing above U+10FFFF). */
static bool temper__utf8_prefix(const uint8_t *s, size_t n) {
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return false;
    if (n >= len) return false;
    for (size_t k = 1; k < n; k++)
        if (k == 1 ? (s[k] < lo || s[k] > hi) : (s[k] & 0xC0) != 0x80) return false;
    return true;
}

/* Append token id's text; first: it is the first token the decoder sees. */
static void temper__put_token(const temper_tokenizer *tok, temper_token id, bool first,
                              temper__buf *out) {
    if (first && tok->spm.dec_metaspace) { /* every "\u2581" of it goes */
        const char *s = temper__tok_text(tok, id);
        for (size_t i = 0; s[i];) {
            if ((uint8_t)s[i] == 0xE2 && (uint8_t)s[i + 1] == 0x96 && (uint8_t)s[i + 2] == 0x81) {
                i += 3;
                continue;
            }
            temper__buf_put(out, s + i, 1);
            i++;
        }
        return;
    }
    temper__buf_put(out, tok->bytes_pool + tok->bytes_off[id],
                    tok->bytes_off[id + 1] - tok->bytes_off[id]);
}

/* End of a byte run run[0..n): its bytes, or U+FFFD per byte token. */
static void temper__put_run(const uint8_t *run, size_t n, temper__buf *out) {
    if (temper__valid(run, n)) {
        temper__buf_put(out, run, n);
        return;
    }
    for (size_t k = 0; k < n; k++) temper__buf_put(out, temper__fffd, 3);
}

static int temper__spm_check_id(const temper_tokenizer *tok, temper_token id) {
    if (id < 0 || id >= tok->n_vocab || !(tok->flags[id] & TEMPER__TOK_PRESENT))
        return temper__error(TEMPER_EINVAL, "token id %d is not in the vocabulary (0 .. %d)", id,
                             tok->n_vocab - 1);
    return 0;
}

int temper__spm_detokenize(const temper_tokenizer *tok, const temper_token *ids, int n,
                           int flags, char *buf, size_t cap) {
    for (int k = 0; k < n; k++) {
        int rc = temper__spm_check_id(tok, ids[k]);
        if (rc < 0) return rc;
    }
    temper__buf out = {0}, run = {0}; /* run: bytes of the current byte-token run */
    int seen = 0;                     /* tokens given to the decoder so far */
    for (int k = 0; k < n; k++) {
        temper_token id = ids[k];
        if ((flags & TEMPER_DETOKENIZE_SKIP_SPECIAL) && (tok->flags[id] & TEMPER__TOK_SPECIAL))
            continue;
        if (tok->flags[id] & TEMPER__TOK_BYTE) {
            temper__buf_put(&run, tok->bytes_pool + tok->bytes_off[id], 1);
        } else {
            temper__put_run(run.p, run.n, &out);
            run.n = 0;
            temper__put_token(tok, id, seen == 0, &out);
        }
        seen++;
    }
    temper__put_run(run.p, run.n, &out);
    out.oom = out.oom || run.oom;
    free(run.p);
    size_t skip = tok->spm.dec_strip && out.n > 0 && out.p[0] == ' ';
    return temper__buf_deliver(&out, skip, buf, cap);
}

/* The stream's step for one token: its text into out, s updated (the
 * caller passes a copy and keeps it only when the text fits). */
static void temper__stream_step(const temper_tokenizer *tok, temper_utf8_stream *s,
                                temper_token id, temper__buf *out) {
    const temper__spm *sp = &tok->spm;
    size_t mark = out->n;
    bool first_text = !(s->state & TEMPER__ST_STARTED);
    if (tok->flags[id] & TEMPER__TOK_BYTE) {
        uint8_t b = tok->bytes_pool[tok->bytes_off[id]];
        if (s->state & TEMPER__ST_POISON) {
            temper__buf_put(out, temper__fffd, 3);
        } else {
            s->pending[s->n_pending++] = b;
            uint32_t cp;
            int l = temper__utf8_decode(s->pending, (size_t)s->n_pending, &cp);
            if (l == s->n_pending) { /* a whole character */
                temper__buf_put(out, s->pending, (size_t)l);
                s->n_pending = 0;
            } else if (temper__utf8_prefix(s->pending, (size_t)s->n_pending)) {
                s->state |= TEMPER__STREAM_SPM | TEMPER__ST_FED;
                return; /* wait for the rest of the character */
            } else {
                for (int k = 0; k < s->n_pending; k++) temper__buf_put(out, temper__fffd, 3);
                s->n_pending = 0;
                s->state |= TEMPER__ST_POISON;
            }
        }
    } else {
        for (int k = 0; k < s->n_pending; k++) temper__buf_put(out, temper__fffd, 3);
        s->n_pending = 0;
        s->state &= ~(unsigned)TEMPER__ST_POISON;
        temper__put_token(tok, id, !(s->state & TEMPER__ST_FED), out);
    }
    if (sp->dec_strip && first_text && out->n > mark && out->p[mark] == ' ') {
        memmove(out->p + mark, out->p + mark + 1, out->n - mark - 1);
        out->n--;
    }
    s->state |= TEMPER__STREAM_SPM | TEMPER__ST_FED | TEMPER__ST_STARTED;
}

int temper__spm_detokenize_stream(const temper_tokenizer *tok, temper_utf8_stream *s,
                                  temper_token id, char *buf, size_t cap) {
    int rc = temper__spm_check_id(tok, id);
    if (rc < 0) return rc;
    if (s->n_pending < 0 || s->n_pending > 3)
        return temper__error(TEMPER_EINVAL, "temper_detokenize_stream: s was not reset before use");
    temper_utf8_stream next = *s;
    temper__buf out = {0};
    temper__stream_step(tok, &next, id, &out);
    bool fits = !out.oom && out.n <= (buf ? cap : 0);
    rc = temper__buf_deliver(&out, 0, buf, cap);
    if (rc >= 0 && (fits || rc == 0)) *s = next;
    return rc;
}

int temper__spm_stream_flush(temper_utf8_stream *s, char *buf, size_t cap) {
    size_t need = 3 * (size_t)s->n_pending;
    if (buf && need <= cap) {
        for (int k = 0; k < s->n_pending; k++) memcpy(buf + 3 * k, temper__fffd, 3);
        if (need < cap) buf[need] = '\0';
        s->n_pending = 0;
        s->state &= ~(unsigned)TEMPER__ST_POISON;
        if (need) s->state |= TEMPER__ST_STARTED;
    } else if (buf && cap) {
        size_t k;
        for (k = 0; k + 3 <= cap; k += 3) memcpy(buf + k, temper__fffd, 3);
    }
    return (int)need;
}
