/*
 * json_scan.c - a small JSON scanner (whitespace, skip a value, unescape a
 * string, find members) for model_json.c, which reads the two large
 * members of tokenizer.json without building a cJSON tree of them.
 *
 * Strings are unescaped as JSON says (\uXXXX with surrogate pairs to
 * UTF-8); a lone surrogate is an error, as serde_json (which writes these
 * files) never produces one.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

const char *temper__json_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Skip the string at p ('"'); returns the end or NULL. strcspn jumps over
 * the plain characters (vectorised in glibc). */
static const char *skip_string(const char *p) {
    for (p++;;) {
        p += strcspn(p, "\"\\");
        if (*p == '"') return p + 1;
        if (!*p || !p[1]) return NULL;
        p += 2; /* an escape: \" does not end the string */
    }
}

const char *temper__json_skip(const char *p) {
    p = temper__json_ws(p);
    if (*p == '"') return skip_string(p);
    if (*p != '{' && *p != '[') { /* number or literal */
        const char *s = p;
        while (*p && !strchr(",}] \t\n\r", *p)) p++;
        return p > s ? p : NULL;
    }
    int depth = 0;
    for (;;) {
        p += strcspn(p, "\"{}[]");
        if (!*p) return NULL;
        if (*p == '"') {
            if (!(p = skip_string(p))) return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') depth++;
        else if (--depth == 0) return p + 1;
        p++;
    }
}

static int hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

const char *temper__json_string(const char *p, char **buf, size_t *cap, size_t *len) {
    if (*p != '"') return NULL;
    const char *end = skip_string(p);
    if (!end) return NULL;
    size_t need = (size_t)(end - p); /* unescaping never grows the text */
    if (need > *cap) {
        char *b = realloc(*buf, need);
        if (!b) return NULL;
        *buf = b;
        *cap = need;
    }
    char *o = *buf;
    for (p++; *p != '"'; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        switch (*++p) {
        case '"': case '\\': case '/': *o++ = *p; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t c, lo;
            if (hex4(p + 1, &c) < 0) return NULL;
            p += 4;
            if (c >= 0xDC00 && c <= 0xDFFF) return NULL; /* lone low surrogate */
            if (c >= 0xD800 && c <= 0xDBFF) {
                if (p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            o += temper__utf8_encode(c, (uint8_t *)o);
            break;
        }
        default: return NULL;
        }
    }
    *len = (size_t)(o - *buf);
    *o = '\0';
    return p + 1;
}

int temper__json_members(const char *p, const char *const *keys, int n, const char **val) {
    for (int i = 0; i < 2 * n; i++) val[i] = NULL;
    p = temper__json_ws(p);
    if (*p != '{') return -1;
    p = temper__json_ws(p + 1);
    char *buf = NULL;
    size_t cap = 0, len;
    int rc = *p == '}' ? 0 : -1; /* {} */
    while (*p == '"') {
        if (!(p = temper__json_string(p, &buf, &cap, &len))) break;
        p = temper__json_ws(p);
        if (*p != ':') break;
        const char *v = temper__json_ws(p + 1);
        if (!(p = temper__json_skip(v))) break;
        for (int i = 0; i < n; i++)
            if (!val[2 * i] && strlen(keys[i]) == len && memcmp(buf, keys[i], len) == 0) {
                val[2 * i] = v; /* the first one, as cJSON's lookup */
                val[2 * i + 1] = p;
            }
        p = temper__json_ws(p);
        if (*p == '}') {
            rc = 0;
            break;
        }
        if (*p != ',') break;
        p = temper__json_ws(p + 1);
    }
    free(buf);
    return rc;
}
