/*
 * pretokenize.c - GPT-2's pre-tokenization regex, as a hand-written scanner.
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * Alternatives are tried in order at the current position (leftmost-first)
 * and each is greedy, so from position i:
 *   1. an ASCII apostrophe followed by s, t, re, ve, m, ll or d (lower case
 *      only: "'S" is not a contraction);
 *   2-4. an optional U+0020 then a run of letters (L), numbers (N) or
 *      "others" (neither White_Space nor L nor N): the space is taken when
 *      the character after it starts such a run;
 *   5. a run of White_Space [i, j): all of it at the end of the text, else
 *      all but its last character when that leaves at least one (the
 *      lookahead (?!\S) forbids ending right before a non-space);
 *   6. otherwise the single White_Space character (a "\n" before a word).
 * The classes come from utf8proc's general categories (Debian's utf8proc,
 * Unicode 15.0); \s is White_Space, as in Rust's regex and Oniguruma.
 */
#include "tokenizer/tokenizer.h"

/* Class of the character at s[i]; *len gets its byte length. */
static inline int temper__class_at(const temper_tokenizer *tok, const uint8_t *s, size_t n,
                                   size_t i, size_t *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return tok->ascii_class[s[i]];
    }
    uint32_t cp;
    int l = temper__utf8_decode(s + i, n - i, &cp);
    if (l == 0) { /* not reached: the input was validated */
        *len = 1;
        return TEMPER__CL_O;
    }
    *len = (size_t)l;
    return temper__char_class(cp);
}

/* End of the run of class cl that starts at i. */
static inline size_t temper__run_end(const temper_tokenizer *tok, const uint8_t *s, size_t n,
                                     size_t i, int cl) {
    while (i < n) {
        if (s[i] < 0x80) {
            if (tok->ascii_class[s[i]] != cl) break;
            i++;
            continue;
        }
        size_t len;
        if (temper__class_at(tok, s, n, i, &len) != cl) break;
        i += len;
    }
    return i;
}

size_t temper__pretok_next(const temper_tokenizer *tok, const uint8_t *s, size_t n, size_t i) {
    uint8_t c = s[i];
    if (c == '\'' && i + 1 < n) { /* 1. contractions */
        uint8_t d = s[i + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if (i + 2 < n) {
            uint8_t f = s[i + 2];
            if ((d == 'r' && f == 'e') || (d == 'v' && f == 'e') || (d == 'l' && f == 'l'))
                return i + 3;
        }
    }
    size_t len;
    if (c == ' ' && i + 1 < n) { /* 2-4 with the optional space */
        int next = temper__class_at(tok, s, n, i + 1, &len);
        if (next != TEMPER__CL_WS) return temper__run_end(tok, s, n, i + 1, next);
    }
    int cl = temper__class_at(tok, s, n, i, &len);
    if (cl != TEMPER__CL_WS) return temper__run_end(tok, s, n, i, cl); /* 2-4 */
    /* 5-6: White_Space run [i, j); last: start of its last character */
    size_t j = i, last = i;
    while (j < n) {
        if (temper__class_at(tok, s, n, j, &len) != TEMPER__CL_WS) break;
        last = j;
        j += len;
    }
    if (j == n) return n;
    if (last > i) return last;
    return j;
}
