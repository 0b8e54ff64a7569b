/*
 * detok_tool.c - decode many id lists with one tokenizer, for the decode
 * parity checks of tests/py/test_tokenizer_spm.py. Reads a JSON array of
 * id arrays on stdin and prints one JSON object per list:
 *   {"text": temper_detokenize(ids), "stream": the streaming decoder's
 *    output, flushed} or {"error": "TEMPER_EINVAL", "message": "..."}.
 *
 * usage: detok_tool TOKENIZER [--skip-special]
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

static char *read_stdin(void) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, stdin)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    if (buf) buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: detok_tool TOKENIZER [--skip-special]\n");
        return 2;
    }
    int flags = argc > 2 && strcmp(argv[2], "--skip-special") == 0 ? TEMPER_DETOKENIZE_SKIP_SPECIAL : 0;
    temper_tokenizer *tok;
    if (temper_tokenizer_load(argv[1], &tok) < 0) {
        fprintf(stderr, "%s\n", temper_last_error());
        return 1;
    }
    char *in = read_stdin();
    cJSON *lists = in ? cJSON_Parse(in) : NULL;
    const cJSON *list;
    cJSON_ArrayForEach(list, lists) {
        int n = cJSON_GetArraySize(list), k = 0;
        temper_token *ids = malloc(((size_t)n + 1) * sizeof *ids); /* (n) */
        const cJSON *v;
        cJSON_ArrayForEach(v, list) ids[k++] = (temper_token)v->valuedouble;
        cJSON *o = cJSON_CreateObject();
        int need = temper_detokenize(tok, ids, n, flags, NULL, 0);
        if (need < 0) {
            cJSON_AddStringToObject(o, "error", temper_err_name(need));
            cJSON_AddStringToObject(o, "message", temper_last_error());
        } else {
            char *text = malloc((size_t)need + 1);
            temper_detokenize(tok, ids, n, flags, text, (size_t)need + 1);
            cJSON_AddStringToObject(o, "text", text);
            free(text);
            char *st = malloc(16 * ((size_t)n + 1) + (size_t)need + 64); /* stream output */
            size_t sn = 0;
            temper_utf8_stream s;
            temper_utf8_stream_reset(&s);
            for (k = 0; k <= n; k++) {
                char piece[4096];
                if (k < n && flags && temper_token_is_special(tok, ids[k])) continue;
                int m = k < n ? temper_detokenize_stream(tok, &s, ids[k], piece, sizeof piece)
                              : temper_utf8_stream_flush(&s, piece, sizeof piece);
                if (m < 0 || m >= (int)sizeof piece) m = 0;
                memcpy(st + sn, piece, (size_t)m);
                sn += (size_t)m;
            }
            st[sn] = '\0';
            cJSON_AddStringToObject(o, "stream", st);
            free(st);
        }
        char *line = cJSON_PrintUnformatted(o);
        puts(line);
        free(line);
        cJSON_Delete(o);
        free(ids);
    }
    cJSON_Delete(lists);
    free(in);
    temper_tokenizer_free(tok);
    return 0;
}
