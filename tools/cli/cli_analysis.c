/*
 * cli_analysis.c - pieces shared by the analysis commands (score,
 * perplexity, attention, hidden, trace): token labels cut to a width, the
 * BOS token, the terminal width, one text to token ids.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <utf8proc.h>

#include "cli.h"

void cli_an_token_text(const temper_tokenizer *tok, temper_token id, char *buf, size_t cap) {
    int n = tok ? temper_detokenize(tok, &id, 1, 0, buf, cap) : -1;
    if (n < 0) snprintf(buf, cap, "<%d>", id);
    else buf[(size_t)n < cap ? (size_t)n : cap - 1] = '\0';
}

void cli_an_fit(const char *s, int width, char *out, size_t cap) {
    size_t n = strlen(s), i = 0, o = 0;
    int used = 0;
    if (width > 0 && cli_display_width(s) <= width) width = 0; /* fits: no cut */
    while (i < n) {
        int32_t cp;
        int len = temper_utf8_next(s + i, n - i, &cp);
        int w = cp < 0 ? 1 : utf8proc_charwidth(cp);
        if (w < 0) w = 0;
        if (width > 0 && used + w > width - 1) break; /* keep a column for "…" */
        if (o + (size_t)len + 4 > cap) break;
        memcpy(out + o, s + i, (size_t)len);
        o += (size_t)len, i += (size_t)len, used += w;
    }
    if (i < n && o + 4 <= cap) memcpy(out + o, "\xE2\x80\xA6", 3), o += 3;
    out[o] = '\0';
}

void cli_an_token_label(const temper_tokenizer *tok, temper_token id, int width, char *buf,
                        size_t cap) {
    char raw[256], vis[1600]; /* an escape takes at most 6 bytes per raw byte */
    int n = tok ? temper_token_bytes(tok, id, raw, sizeof raw) : -1;
    if (n < 0) snprintf(vis, sizeof vis, "<%d>", id);
    else cli_visible(vis, sizeof vis, raw, (size_t)n < sizeof raw ? (size_t)n : sizeof raw);
    if (tok && temper_token_is_special(tok, id)) { /* "<|endoftext|>" as is */
        const char *t = temper_token_text(tok, id);
        if (t) snprintf(vis, sizeof vis, "%s", t);
    }
    cli_an_fit(vis, width, buf, cap);
}

void cli_an_quote(const char *text, int width, char *out, size_t cap) {
    char esc[4096];
    size_t o = 0, n = strlen(text);
    for (size_t i = 0; i < n && o + 8 < sizeof esc; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') memcpy(esc + o, "\\n", 2), o += 2;
        else if (ch == '\t') memcpy(esc + o, "\\t", 2), o += 2;
        else if (ch == '\r') memcpy(esc + o, "\\r", 2), o += 2;
        else if (ch < 0x20 || ch == 0x7F) o += (size_t)snprintf(esc + o, 5, "\\x%02X", ch);
        else esc[o++] = (char)ch;
    }
    esc[o] = '\0';
    cli_an_fit(esc, width, out, cap);
}

int cli_an_term_width(void) {
    const char *env = getenv("COLUMNS");
    long v;
    if (env && cli_parse_int(env, &v) == 0 && v >= 20 && v <= 1000) return (int)v;
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

int cli_an_resolve(long v, int count) {
    if (v < 0) v += count;
    return v >= 0 && v < count ? (int)v : -1;
}

int cli_an_bos(const temper_model *model, temper_token *bos) {
    if (temper_model_score_bos(model, bos) < 0) { /* the library's choice: BOS, else EOS */
        cli_error("--bos: the model has neither a BOS nor an EOS token: give the ids with "
                  "--prompt-ids instead");
        return 2;
    }
    return 0;
}

int cli_an_prepend(temper_token **ids, int *n, temper_token bos) {
    if (*n > 0 && (*ids)[0] == bos) return 0; /* the tokenizer added it already (OPT) */
    temper_token *grown = realloc(*ids, (size_t)(*n + 1) * sizeof **ids); /* (n + 1) */
    if (!grown) {
        cli_error("out of memory");
        return 1;
    }
    memmove(grown + 1, grown, (size_t)*n * sizeof *grown);
    grown[0] = bos;
    *ids = grown;
    *n += 1;
    return 0;
}

int cli_an_text_ids(const cli_common *c, const temper_tokenizer *tok, const char *text,
                    const char *ids_text, temper_token **ids, int *n) {
    cli_common one = *c;
    one.prompt = text;
    one.prompt_ids = ids_text;
    one.file = NULL;
    return cli_prompt_ids(&one, tok, ids, n);
}
