/*
 * cli_text.c - terminal text helpers: tokens shown with
 * visible whitespace ("␣the" for " the"), display width in terminal columns
 * (wide CJK characters count 2, combining marks 0), and whether to colour.
 */
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "cli.h"

/* Characters a terminal shows as blank or not at all: C1 controls, Unicode
 * spaces other than ' ' (no-break space...), line/paragraph separators,
 * format characters (zero-width space, BOM, soft hyphen...). */
static bool cli_invisible(int32_t cp) {
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return true;
    default: return false;
    }
}

/* Appends to buf within cap, always counting the full size. */
typedef struct {
    char *buf;
    size_t cap, len;
} cli_sink;

static void sink_put(cli_sink *k, const char *s, size_t n) {
    if (k->len < k->cap) {
        size_t room = k->cap - k->len;
        memcpy(k->buf + k->len, s, n < room ? n : room);
    }
    k->len += n;
}

/* Escape pieces go through `marker` (dimmed on a colour terminal), the
 * plain text through `text`. */
static void visible_walk(const char *bytes, size_t len,
                         void (*text)(void *, const char *, size_t),
                         void (*marker)(void *, const char *, size_t),
                         void *arg) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)bytes[i];
        char esc[12];
        if (c == ' ') {
            marker(arg, "\xE2\x90\xA3", 3); /* U+2423 OPEN BOX */
            i++;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            marker(arg, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r", 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\x%02X", c);
            marker(arg, esc, 4);
            i++;
        } else {
            int32_t cp;
            int used = temper_utf8_next(bytes + i, len - i, &cp);
            if (cp < 0) {
                for (int k = 0; k < used; k++) {
                    snprintf(esc, sizeof esc, "\\x%02X", (unsigned char)bytes[i + k]);
                    marker(arg, esc, 4);
                }
            } else if (cli_invisible(cp)) {
                int n = snprintf(esc, sizeof esc, cp > 0xFFFF ? "\\U%06X" : "\\u%04X",
                                 (unsigned)cp);
                marker(arg, esc, (size_t)n);
            } else {
                text(arg, bytes + i, (size_t)used);
            }
            i += (size_t)used;
        }
    }
}

static void sink_cb(void *arg, const char *s, size_t n) { sink_put(arg, s, n); }

size_t cli_visible(char *buf, size_t cap, const char *bytes, size_t len) {
    cli_sink k = {buf, cap, 0};
    visible_walk(bytes, len, sink_cb, sink_cb, &k);
    if (k.len < cap) buf[k.len] = '\0';
    else if (cap > 0) buf[cap - 1] = '\0';
    return k.len;
}

static void file_text_cb(void *arg, const char *s, size_t n) { fwrite(s, 1, n, arg); }

static void file_marker_cb(void *arg, const char *s, size_t n) {
    fputs("\x1b[2m", arg);
    fwrite(s, 1, n, arg);
    fputs("\x1b[22m", arg);
}

void cli_print_visible(FILE *f, const char *bytes, size_t len) {
    visible_walk(bytes, len, file_text_cb,
                 cli_use_color(f) ? file_marker_cb : file_text_cb, f);
}

int cli_display_width(const char *s) {
    size_t n = strlen(s), i = 0;
    int width = 0;
    while (i < n) {
        int32_t cp;
        i += (size_t)temper_utf8_next(s + i, n - i, &cp);
        if (cp < 0) {
            width += 1; /* shown as U+FFFD by the terminal */
            continue;
        }
        int w = utf8proc_charwidth(cp);
        width += w > 0 ? w : 0;
    }
    return width;
}

void cli_print_bar(FILE *f, double p, int width, bool pad) {
    static const char *const eighths[8] = {"", "\u258F", "\u258E", "\u258D",
                                           "\u258C", "\u258B", "\u258A", "\u2589"};
    long units = lround(p * width * 8);
    int cols = 0;
    for (; units >= 8; units -= 8, cols++) fputs("\u2588", f);
    if (units > 0) {
        fputs(eighths[units], f);
        cols++;
    }
    for (; pad && cols < width; cols++) fputc(' ', f);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_parse_temps(const char *text, double *out, int max, const char *example) {
    int n = 0;
    for (const char *s = text; *s;) {
        size_t len = strcspn(s, ", \t\n");
        if (len == 0) {
            s++;
            continue;
        }
        char item[64];
        if (len >= sizeof item || n == max) {
            n = 0;
            break;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (cli_parse_double(item, &out[n], false) < 0 || out[n] < 0) {
            cli_error("--temps: \"%s\" is not a temperature: give numbers >= 0 (0: greedy), "
                      "e.g. --temps %s", item, example);
            return -1;
        }
        n++;
        s += len;
    }
    if (n > 0) return n;
    cli_error("--temps \"%s\": give 1 to %d temperatures, e.g. --temps %s", text, max, example);
    return -1;
}

bool cli_use_color(FILE *f) {
    const char *no = getenv("NO_COLOR");
    if (no && no[0]) return false;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0) return false;
    return isatty(fileno(f));
}

/* ---- prompt + continuation ------------------------------------------------ */

char *cli_detok(const temper_tokenizer *tok, const temper_token *ids, int n) {
    char probe; /* cap 0: only the size is asked */
    int len = tok && n > 0 ? temper_detokenize(tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL, &probe, 0) : 0;
    if (len < 0) len = 0;
    char *s = malloc((size_t)len + 1);
    if (!s) return NULL;
    if (len > 0) temper_detokenize(tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL, s, (size_t)len + 1);
    s[len] = '\0';
    return s;
}

char *cli_decode_continued(const temper_tokenizer *tok, const temper_token *prompt, int n_prompt,
                           const temper_token *ids, int n, size_t *cut) {
    size_t total = (size_t)n_prompt + (size_t)n;
    temper_token *all = malloc(sizeof *all * (total ? total : 1)); /* (total) prompt + new */
    char *whole = NULL, *head = NULL;
    if (all) {
        memcpy(all, prompt, sizeof *all * (size_t)n_prompt);
        memcpy(all + n_prompt, ids, sizeof *all * (size_t)n);
        whole = cli_detok(tok, all, (int)total);
        head = cli_detok(tok, prompt, n_prompt);
    }
    size_t k = 0;
    while (whole && head && head[k] && head[k] == whole[k]) k++;
    if (cut) *cut = k;
    free(head);
    free(all);
    return whole;
}

/* ---- Python's repr() of a str ------------------------------------------------ */

/* str.isprintable(): not in the categories Other (Cc Cf Cs Co Cn) and
 * Separator (Zl Zp Zs), except the ASCII space. */
static bool py_printable(int32_t cp) {
    if (cp == ' ') return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

void cli_print_pyrepr(FILE *f, const char *s) {
    size_t n = strlen(s);
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    fputc(q, f);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int used = temper_utf8_next(s + i, n - i, &cp);
        if (cp < 0) { /* not UTF-8: Python would have the bytes as surrogates */
            for (int k = 0; k < used; k++) fprintf(f, "\\udc%02x", (unsigned char)s[i + k]);
        } else if (cp == q || cp == '\\') {
            fprintf(f, "\\%c", (char)cp);
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            fprintf(f, "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
        } else if (py_printable(cp)) {
            fwrite(s + i, 1, (size_t)used, f);
        } else {
            fprintf(f, cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x", (unsigned)cp);
        }
        i += (size_t)used;
    }
    fputc(q, f);
}
