/*
 * tok_tool.c - drive the tokenizer from the parity tests (tests/py/
 * test_tokenizer_parity.py). Reads a JSON array of strings on stdin and
 * prints one JSON object per string on stdout:
 *   {"ids": [...], "offsets": [[s, e], ...], "decoded": "...",
 *    "stream": "..." (the streaming decoder's output, flushed; special
 *    tokens left out with --skip-special)}
 * or {"error": "TEMPER_EUTF8", "message": "..."}.
 *
 * usage: tok_tool TOKENIZER [--add-special] [--special-as-text]
 *                 [--skip-special] [--threads N]
 *        tok_tool --classes FROM TO
 *            one letter per code point in [FROM, TO): the GPT-2 pattern's
 *            class in temper (L, N, O, W; o: O and unassigned in utf8proc's
 *            Unicode version; - surrogate)
 * Strings are taken as UTF-8 bytes; "\u0000" inside a string is kept.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "temper.h"
#include "tokenizer/tokenizer.h"

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, stdin)) > 0;) {
        n += got;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

static int print_classes(long from, long to) {
    for (long c = from; c < to; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) {
            putchar('-');
            continue;
        }
        int k = temper__char_class((uint32_t)c);
        bool cn = utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_CN;
        putchar(k == TEMPER__CL_L ? 'L' : k == TEMPER__CL_N ? 'N' : k == TEMPER__CL_WS ? 'W' : cn ? 'o' : 'O');
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--classes")) return print_classes(atol(argv[2]), atol(argv[3]));
    if (argc < 2) {
        fprintf(stderr, "usage: tok_tool TOKENIZER [--add-special] [--special-as-text] "
                        "[--skip-special] [--threads N] < strings.json\n");
        return 2;
    }
    int flags = 0, dflags = 0, threads = 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--add-special")) flags |= TEMPER_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(argv[i], "--special-as-text")) flags |= TEMPER_TOKENIZE_SPECIAL_AS_TEXT;
        else if (!strcmp(argv[i], "--skip-special")) dflags |= TEMPER_DETOKENIZE_SKIP_SPECIAL;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "tok_tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    temper_tokenizer *tok;
    if (temper_tokenizer_load(argv[1], &tok) < 0) {
        fprintf(stderr, "tok_tool: %s\n", temper_last_error());
        return 1;
    }
    size_t len;
    char *in = read_stdin(&len);
    cJSON *arr = in ? cJSON_ParseWithLength(in, len) : NULL;
    if (!cJSON_IsArray(arr)) {
        fprintf(stderr, "tok_tool: stdin is not a JSON array of strings\n");
        return 2;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, arr) {
        if (!cJSON_IsString(s)) return 2;
        /* cJSON strings end at the first NUL: recover the length from the
         * escaped source is not possible, so NULs are not supported here */
        const char *text = s->valuestring;
        size_t n = strlen(text);
        int cap = (int)n + 8;
        temper_token *ids = malloc(sizeof *ids * (size_t)cap);
        int32_t *offs = malloc(sizeof *offs * 2 * (size_t)cap);
        int got = threads == 1 ? temper_tokenize(tok, text, n, flags, ids, offs, cap)
                               : temper_tokenize_parallel(tok, text, n, flags, ids, offs, cap, threads);
        cJSON *o = cJSON_CreateObject();
        if (got < 0) {
            cJSON_AddStringToObject(o, "error", temper_err_name(got));
            cJSON_AddStringToObject(o, "message", temper_last_error());
        } else if (got > cap) {
            cJSON_AddStringToObject(o, "error", "buffer");
        } else {
            cJSON *ja = cJSON_AddArrayToObject(o, "ids");
            cJSON *oa = cJSON_AddArrayToObject(o, "offsets");
            for (int k = 0; k < got; k++) {
                cJSON_AddItemToArray(ja, cJSON_CreateNumber(ids[k]));
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(offs[2 * k]));
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(offs[2 * k + 1]));
                cJSON_AddItemToArray(oa, pair);
            }
            int need = temper_detokenize(tok, ids, got, dflags, NULL, 0);
            char *dec = malloc((size_t)(need > 0 ? need : 0) + 1);
            temper_detokenize(tok, ids, got, dflags, dec, (size_t)need + 1);
            cJSON_AddStringToObject(o, "decoded", dec);
            free(dec);
            /* the streaming decoder over the same ids */
            size_t scap = 16, sn = 0;
            char *st = malloc(scap);
            temper_utf8_stream us;
            temper_utf8_stream_reset(&us);
            for (int k = 0; k <= got; k++) {
                char piece[4096];
                if (k < got && (dflags & TEMPER_DETOKENIZE_SKIP_SPECIAL) &&
                    temper_token_is_special(tok, ids[k]))
                    continue;
                int m = k < got ? temper_detokenize_stream(tok, &us, ids[k], piece, sizeof piece)
                                : temper_utf8_stream_flush(&us, piece, sizeof piece);
                if (m < 0 || m >= (int)sizeof piece) m = 0;
                while (sn + (size_t)m + 1 > scap) st = realloc(st, scap *= 2);
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
        free(offs);
    }
    cJSON_Delete(arr);
    free(in);
    temper_tokenizer_free(tok);
    return 0;
}
