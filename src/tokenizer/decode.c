/*
 * decode.c - ids back to text: token bytes, U+FFFD for invalid UTF-8 (one
 * per maximal invalid subpart, like Rust's String::from_utf8_lossy used by
 * HF's ByteLevel decoder), and the streaming decoder that holds back an
 * incomplete character until the next token completes it.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* Writes at most cap bytes, counts all (the buffer rule). */
typedef struct temper__sink {
    char *buf;
    size_t cap, n;
} temper__sink;

static void temper__put(temper__sink *w, const void *p, size_t len) {
    if (w->n < w->cap) {
        size_t room = w->cap - w->n;
        memcpy(w->buf + w->n, p, len < room ? len : room);
    }
    w->n += len;
}

static int temper__finish(temper__sink *w) {
    if (w->n > INT32_MAX) return temper__error(TEMPER_ERANGE, "the text is larger than 2 GB");
    if (w->n < w->cap) w->buf[w->n] = '\0';
    return (int)w->n;
}

/* Copy s[0..n) to w with each maximal invalid subpart replaced by U+FFFD.
 * With hold, a sequence cut short by the end of s (valid so far) is left
 * out: returns where it starts (n when there is none). */
static size_t temper__lossy(const uint8_t *s, size_t n, bool hold, temper__sink *w) {
    static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
    size_t i = 0, run = 0; /* run: start of pending valid bytes */
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else len = 0;
        size_t k = 1; /* bytes of a valid prefix */
        while (len && k < len && i + k < n) {
            uint8_t b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
            k++;
        }
        if (len && k == len) { /* a whole character */
            i += len;
            continue;
        }
        if (len && i + k == n && hold) { /* incomplete at the end: keep it */
            temper__put(w, s + run, i - run);
            return i;
        }
        temper__put(w, s + run, i - run);
        temper__put(w, fffd, 3);
        i += len ? k : 1;
        run = i;
    }
    temper__put(w, s + run, n - run);
    return n;
}

static int temper__check_id(const temper_tokenizer *tok, temper_token id) {
    if (id < 0 || id >= tok->n_vocab || !(tok->flags[id] & TEMPER__TOK_PRESENT))
        return temper__error(TEMPER_EINVAL, "token id %d is not in the vocabulary (0 .. %d)", id,
                             tok->n_vocab - 1);
    return 0;
}

int temper_token_bytes(const temper_tokenizer *tok, temper_token id, char *buf, size_t cap) {
    if (!tok) return temper__error(TEMPER_EINVAL, "temper_token_bytes: tok is NULL");
    int rc = temper__check_id(tok, id);
    if (rc < 0) return rc;
    temper__sink w = {buf, buf ? cap : 0, 0};
    temper__put(&w, tok->bytes_pool + tok->bytes_off[id], tok->bytes_off[id + 1] - tok->bytes_off[id]);
    return temper__finish(&w);
}

int temper_detokenize(const temper_tokenizer *tok, const temper_token *ids, int n, int flags,
                      char *buf, size_t cap) {
    if (!tok || (n > 0 && !ids) || n < 0)
        return temper__error(TEMPER_EINVAL, "temper_detokenize: tok or ids is NULL, or n < 0");
    if (tok->model == TEMPER__MODEL_SPM) return temper__spm_detokenize(tok, ids, n, flags, buf, cap);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int rc = temper__check_id(tok, ids[k]);
        if (rc < 0) return rc;
        total += tok->bytes_off[ids[k] + 1] - tok->bytes_off[ids[k]];
    }
    uint8_t *raw = malloc(total ? total : 1); /* (total) the tokens' bytes */
    if (!raw) return temper__error(TEMPER_ENOMEM, "out of memory decoding %d ids", n);
    size_t len = 0;
    for (int k = 0; k < n; k++) {
        temper_token id = ids[k];
        if ((flags & TEMPER_DETOKENIZE_SKIP_SPECIAL) && (tok->flags[id] & TEMPER__TOK_SPECIAL))
            continue;
        size_t b = tok->bytes_off[id + 1] - tok->bytes_off[id];
        memcpy(raw + len, tok->bytes_pool + tok->bytes_off[id], b);
        len += b;
    }
    temper__sink w = {buf, buf ? cap : 0, 0};
    temper__lossy(raw, len, false, &w);
    free(raw);
    return temper__finish(&w);
}

void temper_utf8_stream_reset(temper_utf8_stream *s) {
    if (s) memset(s, 0, sizeof *s);
}

int temper_detokenize_stream(const temper_tokenizer *tok, temper_utf8_stream *s, temper_token id,
                             char *buf, size_t cap) {
    if (!tok || !s || s->n_pending < 0 || s->n_pending > 3)
        return temper__error(TEMPER_EINVAL, "temper_detokenize_stream: tok or s is NULL, or s "
                             "was not reset before use");
    if (tok->model == TEMPER__MODEL_SPM) return temper__spm_detokenize_stream(tok, s, id, buf, cap);
    int rc = temper__check_id(tok, id);
    if (rc < 0) return rc;
    size_t b = tok->bytes_off[id + 1] - tok->bytes_off[id];
    size_t n = (size_t)s->n_pending + b;
    uint8_t small[64], *data = n <= sizeof small ? small : malloc(n); /* (n) pending + token */
    if (!data) return temper__error(TEMPER_ENOMEM, "out of memory");
    memcpy(data, s->pending, (size_t)s->n_pending);
    memcpy(data + s->n_pending, tok->bytes_pool + tok->bytes_off[id], b);
    temper__sink w = {buf, buf ? cap : 0, 0};
    size_t kept = temper__lossy(data, n, true, &w);
    if (w.n <= w.cap || (w.n == 0)) { /* it fits: consume */
        s->n_pending = (int)(n - kept);
        memcpy(s->pending, data + kept, n - kept);
    }
    if (data != small) free(data);
    return temper__finish(&w);
}

int temper_utf8_stream_flush(temper_utf8_stream *s, char *buf, size_t cap) {
    if (!s || s->n_pending < 0 || s->n_pending > 3)
        return temper__error(TEMPER_EINVAL, "temper_utf8_stream_flush: s is NULL or corrupt");
    if (s->state & TEMPER__STREAM_SPM) return temper__spm_stream_flush(s, buf, cap);
    temper__sink w = {buf, buf ? cap : 0, 0};
    temper__lossy(s->pending, (size_t)s->n_pending, false, &w);
    if (w.n <= w.cap) s->n_pending = 0;
    return temper__finish(&w);
}
