/*
 * cli_json.c - a small streaming JSON writer for the --json output of the
 * commands: values are written as they come, commas and colons are placed
 * by the writer. Numbers use the shortest text that reads back to the same
 * value (a probability of 2e-8 prints as 2e-08, never as 0); strings are
 * escaped per RFC 8259 and invalid UTF-8 becomes U+FFFD.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CJ_MAX_DEPTH ((int)(sizeof(((cli_json *)0)->need_comma)))

void cj_init(cli_json *j, FILE *f) {
    memset(j, 0, sizeof *j);
    j->f = f;
}

/* Separator before a value: nothing after a key, else a comma when the
 * current array/object already holds something. */
static void cj_before_value(cli_json *j) {
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth]) fputc(',', j->f);
    j->need_comma[j->depth] = true;
}

static void cj_open(cli_json *j, char c) {
    cj_before_value(j);
    fputc(c, j->f);
    if (j->depth + 1 < CJ_MAX_DEPTH) j->depth++;
    j->need_comma[j->depth] = false;
}

static void cj_close(cli_json *j, char c) {
    fputc(c, j->f);
    if (j->depth > 0) j->depth--;
}

void cj_obj_begin(cli_json *j) { cj_open(j, '{'); }
void cj_obj_end(cli_json *j) { cj_close(j, '}'); }
void cj_arr_begin(cli_json *j) { cj_open(j, '['); }
void cj_arr_end(cli_json *j) { cj_close(j, ']'); }

/* The quoted, escaped string; invalid UTF-8 -> U+FFFD. */
static void cj_write_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': fputs("\\\"", f); break;
            case '\\': fputs("\\\\", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default:
                if (c < 0x20) fprintf(f, "\\u%04x", c);
                else fputc(c, f);
            }
            i++;
            continue;
        }
        int32_t cp;
        int used = cli_utf8_next(s + i, n - i, &cp);
        if (cp < 0) fputs("\xEF\xBF\xBD", f); /* U+FFFD */
        else fwrite(s + i, 1, (size_t)used, f);
        i += (size_t)used;
    }
    fputc('"', f);
}

void cj_key(cli_json *j, const char *key) {
    if (j->need_comma[j->depth]) fputc(',', j->f);
    j->need_comma[j->depth] = true;
    cj_write_string(j->f, key, strlen(key));
    fputc(':', j->f);
    j->after_key = true;
}

void cj_str(cli_json *j, const char *s) {
    if (!s) {
        cj_null(j);
        return;
    }
    cj_strn(j, s, strlen(s));
}

void cj_strn(cli_json *j, const char *s, size_t n) {
    cj_before_value(j);
    cj_write_string(j->f, s, n);
}

void cj_int(cli_json *j, long long v) {
    cj_before_value(j);
    fprintf(j->f, "%lld", v);
}

/* Shortest "%.{p}g" (p = 1..17) that strtod reads back as v. */
/* "%.{p}g" formats without the '*' precision (glibc's slow path). */
static const char *const g_fmt[18] = {"%g",    "%.1g",  "%.2g",  "%.3g",  "%.4g",  "%.5g",
                                      "%.6g",  "%.7g",  "%.8g",  "%.9g",  "%.10g", "%.11g",
                                      "%.12g", "%.13g", "%.14g", "%.15g", "%.16g", "%.17g"};

void cj_double(cli_json *j, double v) {
    if (!isfinite(v)) {
        cj_null(j);
        return;
    }
    cj_before_value(j);
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
    fputs(buf, j->f);
}

/* Shortest "%.{p}g" (p = 1..9) that strtof reads back as v: the float's
 * own digits, not those of its double widening (0.1f prints as 0.1). */
void cj_float(cli_json *j, float v) {
    if (!isfinite(v)) {
        cj_null(j);
        return;
    }
    cj_before_value(j);
    char buf[32];
    int lo = 1, hi = 9; /* as in cj_double; 9 digits always read back */
    while (lo < hi) {
        int p = (lo + hi) / 2;
        snprintf(buf, sizeof buf, g_fmt[p], (double)v);
        if (strtof(buf, NULL) == v) hi = p;
        else lo = p + 1;
    }
    snprintf(buf, sizeof buf, g_fmt[lo], (double)v);
    fputs(buf, j->f);
}

void cj_bool(cli_json *j, bool v) {
    cj_before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void cj_null(cli_json *j) {
    cj_before_value(j);
    fputs("null", j->f);
}

void cj_finish(cli_json *j) {
    fputc('\n', j->f);
    fflush(j->f);
}
