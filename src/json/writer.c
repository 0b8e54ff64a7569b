/*
 * writer.c - the JSON writer every front end prints through: values are
 * written as they come, into a FILE* or into a growing buffer, and the
 * writer places commas and colons. Numbers use the shortest text that
 * reads back to the same value (a probability of 2e-8 prints as 2e-08,
 * never as 0; a float prints its own digits: 0.1f is 0.1); non-finite
 * numbers are null. Strings are escaped per RFC 8259 and each maximal
 * invalid UTF-8 sequence becomes one U+FFFD, as Python's
 * bytes.decode(errors="replace") does.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

#define JSON_MAX_DEPTH 64

struct temper_json {
    FILE *f;                         /* NULL: into buf */
    char *buf;                       /* (len + 1, cap) NUL-terminated */
    size_t len, cap;
    int status;                      /* 0, TEMPER_ENOMEM or TEMPER_EIO */
    int depth;
    bool need_comma[JSON_MAX_DEPTH]; /* per open array/object */
    bool after_key;
};

temper_json *temper_json_new(FILE *f) {
    temper_json *j = calloc(1, sizeof *j);
    if (!j) {
        temper__error(TEMPER_ENOMEM, "out of memory for a JSON writer");
        return NULL;
    }
    j->f = f;
    return j;
}

void temper_json_free(temper_json *j) {
    if (!j) return;
    free(j->buf);
    free(j);
}

const char *temper_json_text(const temper_json *j, size_t *len) {
    if (len) *len = j && !j->f ? j->len : 0;
    if (!j || j->f) return NULL;
    return j->buf ? j->buf : "";
}

int temper_json_status(const temper_json *j) { return j ? j->status : TEMPER_EINVAL; }

static void put(temper_json *j, const char *s, size_t n) {
    if (!j || j->status) return;
    if (j->f) {
        if (fwrite(s, 1, n, j->f) != n) j->status = TEMPER_EIO;
        return;
    }
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                j->status = TEMPER_ENOMEM;
                return;
            }
            cap *= 2;
        }
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->status = TEMPER_ENOMEM;
            return;
        }
        j->buf = b, j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void putc_(temper_json *j, char c) { put(j, &c, 1); }
static void puts_(temper_json *j, const char *s) { put(j, s, strlen(s)); }

/* Separator before a value: nothing after a key, else a comma when the
 * current array/object already holds something. */
static void before_value(temper_json *j) {
    if (!j) return;
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth]) putc_(j, ',');
    j->need_comma[j->depth] = true;
}

static void open_(temper_json *j, char c) {
    if (!j) return;
    before_value(j);
    putc_(j, c);
    if (j->depth + 1 < JSON_MAX_DEPTH) j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_(temper_json *j, char c) {
    if (!j) return;
    putc_(j, c);
    if (j->depth > 0) j->depth--;
}

void temper_json_obj_begin(temper_json *j) { open_(j, '{'); }
void temper_json_obj_end(temper_json *j) { close_(j, '}'); }
void temper_json_arr_begin(temper_json *j) { open_(j, '['); }
void temper_json_arr_end(temper_json *j) { close_(j, ']'); }

int temper_utf8_next(const char *s, size_t n, int32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    *cp = -1;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    int32_t v;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else {
        return 1; /* stray continuation or bad lead */
    }
    for (int k = 1; k < len; k++) { /* the maximal prefix that could still be valid */
        if ((size_t)k >= n) return k;
        unsigned char b = u[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return k;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

/* The quoted, escaped string; invalid UTF-8 -> U+FFFD. */
static void write_string(temper_json *j, const char *s, size_t n) {
    putc_(j, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* plain ASCII is copied in runs */
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            put(j, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char esc[8];
            switch (c) {
            case '"': puts_(j, "\\\""); break;
            case '\\': puts_(j, "\\\\"); break;
            case '\b': puts_(j, "\\b"); break;
            case '\f': puts_(j, "\\f"); break;
            case '\n': puts_(j, "\\n"); break;
            case '\r': puts_(j, "\\r"); break;
            case '\t': puts_(j, "\\t"); break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", c);
                puts_(j, esc);
            }
            i++;
            continue;
        }
        int32_t cp;
        int used = temper_utf8_next(s + i, n - i, &cp);
        if (cp < 0) puts_(j, "\xEF\xBF\xBD"); /* U+FFFD */
        else put(j, s + i, (size_t)used);
        i += (size_t)used;
    }
    putc_(j, '"');
}

void temper_json_key(temper_json *j, const char *key) {
    if (!j) return;
    if (j->need_comma[j->depth]) putc_(j, ',');
    j->need_comma[j->depth] = true;
    write_string(j, key, strlen(key));
    putc_(j, ':');
    j->after_key = true;
}

void temper_json_str(temper_json *j, const char *s) {
    if (!s) {
        temper_json_null(j);
        return;
    }
    temper_json_strn(j, s, strlen(s));
}

void temper_json_strn(temper_json *j, const char *s, size_t n) {
    before_value(j);
    write_string(j, s, n);
}

void temper_json_int(temper_json *j, long long v) {
    char buf[32];
    before_value(j);
    snprintf(buf, sizeof buf, "%lld", v);
    puts_(j, buf);
}

void temper_json_uint(temper_json *j, unsigned long long v) {
    char buf[32];
    before_value(j);
    snprintf(buf, sizeof buf, "%llu", v);
    puts_(j, buf);
}

/* "%.{p}g" formats without the '*' precision (glibc's slow path). */
static const char *const g_fmt[18] = {"%g",    "%.1g",  "%.2g",  "%.3g",  "%.4g",  "%.5g",
                                      "%.6g",  "%.7g",  "%.8g",  "%.9g",  "%.10g", "%.11g",
                                      "%.12g", "%.13g", "%.14g", "%.15g", "%.16g", "%.17g"};

/* Shortest "%.{p}g" (p = 1..17) that strtod reads back as v. */
void temper_json_double(temper_json *j, double v) {
    if (!isfinite(v)) {
        temper_json_null(j);
        return;
    }
    before_value(j);
    /* if p digits read back as v, so do p + 1: binary search for the
     * fewest (17 always do) */
    char buf[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int p = (lo + hi) / 2;
        snprintf(buf, sizeof buf, g_fmt[p], v);
        if (strtod(buf, NULL) == v) hi = p;
        else lo = p + 1;
    }
    snprintf(buf, sizeof buf, g_fmt[lo], v);
    puts_(j, buf);
}

/* Shortest "%.{p}g" (p = 1..9) that strtof reads back as v: the float's
 * own digits, not those of its double widening (0.1f prints as 0.1). */
void temper_json_float(temper_json *j, float v) {
    if (!isfinite(v)) {
        temper_json_null(j);
        return;
    }
    before_value(j);
    char buf[32];
    int lo = 1, hi = 9; /* as above; 9 digits always read back */
    while (lo < hi) {
        int p = (lo + hi) / 2;
        snprintf(buf, sizeof buf, g_fmt[p], (double)v);
        if (strtof(buf, NULL) == v) hi = p;
        else lo = p + 1;
    }
    snprintf(buf, sizeof buf, g_fmt[lo], (double)v);
    puts_(j, buf);
}

void temper_json_bool(temper_json *j, int v) {
    before_value(j);
    puts_(j, v ? "true" : "false");
}

void temper_json_null(temper_json *j) {
    before_value(j);
    puts_(j, "null");
}

void temper_json_begin_document(temper_json *j) {
    temper_json_obj_begin(j);
    temper_json_key(j, "version"), temper_json_int(j, TEMPER_JSON_VERSION);
}

int temper_json_finish(temper_json *j) {
    if (!j) return temper__error(TEMPER_ENOMEM, "out of memory for a JSON writer");
    putc_(j, '\n');
    if (j->f && fflush(j->f) != 0 && !j->status) j->status = TEMPER_EIO;
    if (j->status == TEMPER_ENOMEM) return temper__error(j->status, "out of memory for JSON text");
    if (j->status) return temper__error(j->status, "the JSON text could not be written");
    return 0;
}
