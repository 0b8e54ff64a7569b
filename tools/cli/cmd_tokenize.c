/*
 * cmd_tokenize.c - `temper tokenize` (text -> tokens, the table of seed 004:
 * position, token, id, length, then characters / words / tokens / tokens
 * per word) and `temper detokenize` (ids -> text).
 *
 * Only the tokenizer is loaded: -m may be a model folder or any folder with
 * tokenizer.json or vocab.json + merges.txt (or -z PATH). When -m is not a
 * path (a Hub id such as gpt2), the model is loaded to find its tokenizer.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "cli.h"

static void usage_tokenize(FILE *f) {
    fprintf(f,
            "usage: temper tokenize -m MODEL [options] TEXT | -f FILE\n\n"
            "Split text into tokens as Hugging Face tokenizers does: a table of position,\n"
            "token (spaces shown as \xE2\x90\xA3), id and length, then characters, words, tokens and\n"
            "tokens per word.\n\n"
            "options:\n"
            "  -m, --model MODEL      model folder, tokenizer folder, or Hub id (gpt2)\n"
            "  -z, --tokenizer PATH   tokenizer folder or tokenizer.json (instead of -m)\n"
            "  -f, --file FILE        tokenize the text of FILE\n"
            "      --json             {\"ids\", \"tokens\", \"offsets\" (byte ranges), \"n_tokens\"}\n"
            "      --no-special       do not add the post-processor's tokens (OPT's </s>)\n"
            "      --special-as-text  read \"<|endoftext|>\" in the text as plain text\n"
            "  -t, --threads N        threads for long texts (0: all cores; default 1)\n"
            "      --offline          never download (as HF_HUB_OFFLINE=1)\n"
            "  -q, --quiet            no information lines on stderr\n"
            "example: temper tokenize -m gpt2 \"Hello world\"\n");
}

static void usage_detokenize(FILE *f) {
    fprintf(f,
            "usage: temper detokenize -m MODEL [options] IDS...\n\n"
            "Turn token ids back into text (exactly as tokenizer.decode does), printed\n"
            "with a final newline. IDS: \"15496 995\", \"15496,995\" or \"[15496, 995]\".\n\n"
            "options:\n"
            "  -m, --model MODEL      model folder, tokenizer folder, or Hub id (gpt2)\n"
            "  -z, --tokenizer PATH   tokenizer folder or tokenizer.json (instead of -m)\n"
            "      --skip-special     leave out special tokens (<|endoftext|>, </s>)\n"
            "      --offline          never download (as HF_HUB_OFFLINE=1)\n"
            "  -q, --quiet            no information lines on stderr\n"
            "      --json             {\"text\", \"n_tokens\"}\n");
}

/* The tokenizer of c->tokenizer or c->model. *model is set (owned by the
 * caller) when a model had to be loaded for it. Returns 0 or an exit code. */
static int load_tokenizer(cli_common *c, temper_tokenizer **tok, temper_model **model) {
    *tok = NULL;
    *model = NULL;
    const char *path = c->tokenizer ? c->tokenizer : c->model;
    struct stat st;
    if (c->tokenizer || (path && stat(path, &st) == 0)) {
        int rc = temper_tokenizer_load(path, tok);
        return rc < 0 ? cli_lib_error(path, rc) : 0;
    }
    int rc = cli_load_model(c, model); /* a Hub id, bundled or default model */
    if (rc != 0) return rc;
    if (!temper_model_tokenizer(*model)) {
        cli_error("%s: the model has no tokenizer files: pass -z TOKENIZER", c->model);
        return 1;
    }
    return 0;
}


/* Python's str.isspace(): bidirectional class WS, B or S, or category Zs. */
static bool py_isspace(int32_t cp) {
    if (cp < 0) return false;
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->bidi_class == UTF8PROC_BIDI_CLASS_WS || p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_S || p->category == UTF8PROC_CATEGORY_ZS;
}

/* Characters (code points) and words (as len(text.split())) of the text. */
static void count_text(const char *s, size_t n, long *chars, long *words) {
    bool in_word = false;
    *chars = *words = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)temper_utf8_next(s + i, n - i, &cp);
        ++*chars;
        bool space = py_isspace(cp);
        if (!space && !in_word) ++*words;
        in_word = !space;
    }
}

static long utf8_chars(const char *s) {
    long k = 0;
    for (; *s; s++) k += ((unsigned char)*s & 0xC0) != 0x80;
    return k;
}

static void print_json(const temper_tokenizer *tok, const temper_token *ids, const int32_t *offs,
                       int n) {
    temper_json *j = temper_json_new(stdout);
    temper_json_tokenize(j, tok, ids, offs, n);
    cli_json_end(j);
}

static void print_table(const temper_tokenizer *tok, const temper_token *ids, int n,
                        const char *text, size_t len) {
    enum { MAXB = 256 };
    char raw[MAXB], vis[6 * MAXB + 8];
    int width = 5; /* "token" */
    for (int k = 0; k < n; k++) {
        int b = temper_token_bytes(tok, ids[k], raw, MAXB);
        cli_visible(vis, sizeof vis, raw, (size_t)(b < 0 ? 0 : b < MAXB ? b : MAXB));
        int w = cli_display_width(vis);
        if (w > width) width = w < 40 ? w : 40;
    }
    bool color = cli_use_color(stdout);
    const char *bold = color ? "\x1b[1m" : "", *plain = color ? "\x1b[0m" : "";
    printf("%s%8s  %-*s  %6s  %6s%s\n", bold, "position", width, "token", "id", "length", plain);
    for (int k = 0; k < n; k++) {
        int b = temper_token_bytes(tok, ids[k], raw, MAXB);
        if (b < 0) b = 0;
        if (b > MAXB) b = MAXB;
        cli_visible(vis, sizeof vis, raw, (size_t)b);
        printf("%8d  ", k);
        cli_print_visible(stdout, raw, (size_t)b);
        int pad = width - cli_display_width(vis);
        printf("%*s  %6d  %6ld\n", pad > 0 ? pad : 0, "", ids[k],
               utf8_chars(temper_token_text(tok, ids[k])));
    }
    long chars, words;
    count_text(text, len, &chars, &words);
    printf("characters: %ld  words: %ld  tokens: %d  tokens per word: ", chars, words, n);
    if (words > 0) printf("%.2f\n", (double)n / (double)words);
    else printf("-\n");
}

int cmd_tokenize(int argc, char **argv) {
    cli_common c = {0};
    c.threads = 1;
    int flags = TEMPER_TOKENIZE_ADD_SPECIAL;
    for (int i = 1; i < argc;) {
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage_tokenize(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argv, &i, NULL, "--no-special")) {
            flags &= ~TEMPER_TOKENIZE_ADD_SPECIAL;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--special-as-text")) {
            flags |= TEMPER_TOKENIZE_SPECIAL_AS_TEXT;
            continue;
        }
        if ((r = cli_prompt_arg(&c, "tokenize", &i, argc, argv)) != 0) return r;
    }
    if (!c.prompt == !c.file) {
        cli_error(c.prompt ? "give the text or -f FILE, not both"
                           : "no text: give it as the last argument or with -f FILE");
        return 2;
    }
    temper_tokenizer *own = NULL;
    temper_model *model = NULL;
    char *text = NULL;
    temper_token *ids = NULL; /* (n) */
    int32_t *offs = NULL;     /* (n, 2) byte ranges */
    int rc = load_tokenizer(&c, &own, &model);
    if (rc != 0) goto done;
    const temper_tokenizer *tok = own ? own : temper_model_tokenizer(model);
    size_t len;
    if (c.file) {
        if ((rc = cli_read_file(c.file, "file", "-f", &text, &len)) != 0) goto done;
    } else {
        len = strlen(c.prompt);
    }
    const char *t = text ? text : c.prompt;
    int cap = 0, n = 0;
    for (;;) {
        n = c.threads == 1 ? temper_tokenize(tok, t, len, flags, ids, offs, cap)
                           : temper_tokenize_parallel(tok, t, len, flags, ids, offs, cap, c.threads);
        if (n < 0) {
            rc = cli_lib_error(c.file ? c.file : "text", n);
            goto done;
        }
        if (n <= cap) break;
        cap = n;
        free(ids);
        free(offs);
        ids = malloc((size_t)cap * sizeof *ids);
        offs = malloc((size_t)cap * 2 * sizeof *offs);
        if (!ids || !offs) {
            cli_error("out of memory for %d tokens", cap);
            rc = 1;
            goto done;
        }
    }
    if (c.json) print_json(tok, ids, offs, n);
    else print_table(tok, ids, n, t, len);
done:
    free(ids);
    free(offs);
    free(text);
    temper_tokenizer_free(own);
    temper_model_free(model);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    cli_common c = {0};
    int flags = 0;
    char *all = NULL; /* the ids arguments joined by spaces */
    size_t all_len = 0;
    int rc = 0;
    for (int i = 1; i < argc;) {
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage_detokenize(stdout);
            free(all);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) {
            free(all);
            return 2;
        }
        if (r > 0) continue;
        if (cli_flag(argv, &i, NULL, "--skip-special")) {
            flags |= TEMPER_DETOKENIZE_SKIP_SPECIAL;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            free(all);
            return cli_unknown_option("detokenize", argv[i]);
        }
        size_t l = strlen(argv[i]);
        char *bigger = realloc(all, all_len + l + 2);
        if (!bigger) {
            free(all);
            cli_error("out of memory");
            return 1;
        }
        all = bigger;
        memcpy(all + all_len, argv[i], l);
        all_len += l;
        all[all_len++] = ' ';
        all[all_len] = '\0';
        i++;
    }
    if (c.prompt || c.file || c.prompt_ids) {
        free(all);
        cli_error("detokenize takes ids as arguments: temper detokenize -m MODEL 15496 995");
        return 2;
    }
    if (!all) {
        cli_error("no ids: give them as arguments, e.g. temper detokenize -m gpt2 15496 995");
        return 2;
    }
    temper_token *ids = NULL;
    int n = 0;
    char *out = NULL;
    temper_tokenizer *own = NULL;
    temper_model *model = NULL;
    if (cli_parse_ids(all, &ids, &n) < 0) {
        rc = 2;
        goto done;
    }
    if ((rc = load_tokenizer(&c, &own, &model)) != 0) goto done;
    const temper_tokenizer *tok = own ? own : temper_model_tokenizer(model);
    int need = temper_detokenize(tok, ids, n, flags, NULL, 0);
    if (need < 0) {
        rc = cli_lib_error("detokenize", need);
        goto done;
    }
    out = malloc((size_t)need + 1);
    if (!out) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    temper_detokenize(tok, ids, n, flags, out, (size_t)need + 1);
    if (c.json) {
        temper_json *j = temper_json_new(stdout);
        temper_json_detokenize(j, out, (size_t)need, n);
        cli_json_end(j);
    } else {
        fwrite(out, 1, (size_t)need, stdout);
        putchar('\n');
    }
done:
    free(all);
    free(ids);
    free(out);
    temper_tokenizer_free(own);
    temper_model_free(model);
    return rc;
}
