/*
 * cli_common.c - what every command shares: error lines, option matching,
 * strict number parsing, model and context set-up, and turning the prompt
 * (text, -f FILE or --prompt-ids) into token ids that fit the context.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---- errors ---------------------------------------------------------- */

void cli_error(const char *fmt, ...) {
    va_list ap;
    fflush(stdout); /* keep stdout text and the error in order on a terminal */
    fputs("temper: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("temper: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint64_t cli_random_seed(void) {
    uint32_t s;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint32_t)time(NULL);
    return s;
}
/* The library's names of parameters, in the command line's words. */
static const struct { const char *lib, *cli; } lib_terms[] = {
    {"temper_model_params.tokenizer_path", "-z/--tokenizer"},
    {"temper_model_params.quantize", "--quantize"},
};

int cli_lib_error(const char *what, int rc) {
    const char *detail = temper_last_error();
    if (!detail[0] || strcmp(detail, "no error") == 0) detail = temper_strerror(rc);
    char text[4096];
    snprintf(text, sizeof text, "%s", detail);
    for (size_t k = 0; k < sizeof lib_terms / sizeof lib_terms[0]; k++) {
        char *at = strstr(text, lib_terms[k].lib);
        size_t nl = strlen(lib_terms[k].lib), nc = strlen(lib_terms[k].cli);
        if (!at || strlen(text) - nl + nc >= sizeof text) continue;
        memmove(at + nc, at + nl, strlen(at + nl) + 1);
        memcpy(at, lib_terms[k].cli, nc);
    }
    if (what) cli_error("%s: %s", what, text);
    else cli_error("%s", text);
    return 1;
}

/* ---- options ----------------------------------------------------------- */

const char cli_prompt_help[] =
    "  -p, --prompt TEXT      the prompt (or give it as the last argument)\n"
    "  -f, --file FILE        read the prompt from FILE, exactly as is ('-': stdin)\n"
    "      --prompt-ids IDS   the prompt as token ids: 15496,995\n"
    "      --truncate         drop prompt tokens from the left to fit the context\n";

const char cli_common_help[] =
    "  -m, --model MODEL      model folder, Hub id (gpt2) or stories260K (bundled);\n"
    "                         default: $TEMPER_MODEL, else gpt2 if cached, else stories260K\n"
    "  -z, --tokenizer PATH   tokenizer folder or tokenizer.json (default: the model's)\n"
    "  -t, --threads N        threads (default: all cores)\n"
    "      --quantize q8      8-bit weights made at load time (faster, small accuracy cost)\n"
    "      --offline          never download (as HF_HUB_OFFLINE=1)\n"
    "  -q, --quiet            no information lines on stderr (errors still)\n"
    "      --json             one JSON object on stdout\n"
    "  -h, --help             this help\n";

int cli_opt(char **argv, int argc, int *i, const char *short_name,
            const char *long_name, const char **value) {
    const char *a = argv[*i];
    size_t ln = strlen(long_name);
    if (strncmp(a, long_name, ln) == 0 && a[ln] == '=') {
        *value = a + ln + 1;
        *i += 1;
        return 1;
    }
    if (strcmp(a, long_name) != 0 && !(short_name && strcmp(a, short_name) == 0))
        return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value: run 'temper %s --help'", a, argv[0]);
        return -1;
    }
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

int cli_flag(char **argv, int *i, const char *short_name, const char *long_name) {
    const char *a = argv[*i];
    if (strcmp(a, long_name) == 0 || (short_name && strcmp(a, short_name) == 0)) {
        *i += 1;
        return 1;
    }
    return 0;
}

int cli_set_prompt(cli_common *c, const char *text) {
    if (c->prompt) {
        cli_error("two prompts (\"%s\" and \"%s\"): quote the prompt as one argument, "
                  "e.g. \"The capital of France is\"", c->prompt, text);
        return 2;
    }
    c->prompt = text;
    return 0;
}

int cli_unknown_option(const char *cmd, const char *arg) {
    char guess[128];
    if (cli_closest_option(arg, guess, sizeof guess))
        cli_error("%s: unknown option \"%s\": did you mean %s? (run 'temper %s --help' for "
                  "the options)", cmd, arg, guess, cmd);
    else
        cli_error("%s: unknown option \"%s\": run 'temper %s --help' "
                  "(a prompt that starts with '-' goes after --)", cmd, arg, cmd);
    return 2;
}

int cli_prompt_arg(cli_common *c, const char *cmd, int *i, int argc, char **argv) {
    if (strcmp(argv[*i], "--") == 0) {
        for (++*i; *i < argc; ++*i)
            if (cli_set_prompt(c, argv[*i]) != 0) return 2;
        return 0;
    }
    if (argv[*i][0] == '-' && argv[*i][1]) return cli_unknown_option(cmd, argv[*i]);
    return cli_set_prompt(c, argv[(*i)++]);
}

int cli_parse_common(cli_common *c, int *i, int argc, char **argv) {
    const char *v;
    int r;
    if ((r = cli_opt(argv, argc, i, "-m", "--model", &v)) != 0) {
        if (r > 0) c->model = v;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, "-z", "--tokenizer", &v)) != 0) {
        if (r > 0) c->tokenizer = v;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--quantize", &v)) != 0) {
        if (r > 0) c->quantize = v;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, "-f", "--file", &v)) != 0) {
        if (r > 0) c->file = v;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--prompt-ids", &v)) != 0) {
        if (r > 0) c->prompt_ids = v;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, "-p", "--prompt", &v)) != 0) {
        if (r > 0 && cli_set_prompt(c, v) != 0) return -1;
        return r;
    }
    if ((r = cli_opt(argv, argc, i, "-t", "--threads", &v)) != 0) {
        long n;
        if (r < 0 || cli_parse_int_opt("--threads", v, 0, 4096, &n) < 0) return -1;
        c->threads = (int)n;
        return 1;
    }
    if (cli_flag(argv, i, NULL, "--json")) {
        c->json = true;
        return 1;
    }
    if (cli_flag(argv, i, NULL, "--offline")) {
        c->offline = true;
        return 1;
    }
    if (cli_flag(argv, i, "-q", "--quiet")) {
        cli_quiet = true;
        return 1;
    }
    if (cli_flag(argv, i, NULL, "--truncate")) {
        c->truncate = true;
        return 1;
    }
    return 0;
}

/* ---- numbers ----------------------------------------------------------- */

static bool starts_like_number(const char *s) {
    /* strtol/strtod skip leading blanks; a strict parser does not. */
    return s[0] && s[0] != ' ' && s[0] != '\t' && s[0] != '\n';
}

int cli_parse_int(const char *s, long *out) {
    if (!starts_like_number(s)) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out, bool allow_inf) {
    if (!starts_like_number(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || isnan(v)) return -1;
    if (isinf(v) && !allow_inf) return -1; /* "inf", or overflow like 1e999 */
    *out = v;
    return 0;
}

int cli_parse_int_opt(const char *opt, const char *s, long lo, long hi, long *out) {
    long v;
    if (cli_parse_int(s, &v) < 0) {
        cli_error("%s \"%s\": not a whole number: give e.g. %s %ld", opt, s, opt,
                  lo > 1 ? lo : 1);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s %ld: out of range: give a number from %ld to %ld", opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_ids(const char *s, temper_token **ids, int *n) {
    size_t cap = strlen(s) / 2 + 1; /* every id takes a digit and a separator */
    temper_token *out = malloc(cap * sizeof *out); /* (cap) */
    if (!out) {
        cli_error("out of memory");
        return -1;
    }
    int count = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '[' || *p == ']' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ' ' && *p != ',' && *p != ']' && *p != '\t' && *p != '\n') p++;
        char item[32];
        size_t len = (size_t)(p - start);
        long v = -1;
        if (len < sizeof item) {
            memcpy(item, start, len);
            item[len] = '\0';
            if (cli_parse_int(item, &v) < 0) v = -1;
        }
        if (v < 0 || v > INT32_MAX) {
            cli_error("token ids \"%s\": \"%.*s\" is not a token id (a whole number >= 0): "
                      "write ids like 15496,995", s, (int)len, start);
            free(out);
            return -1;
        }
        out[count++] = (temper_token)v;
    }
    if (count == 0) {
        cli_error("token ids \"%s\": no id given: write ids like 15496,995", s);
        free(out);
        return -1;
    }
    *ids = out; /* ownership to the caller */
    *n = count;
    return 0;
}

/* ---- model, context ---------------------------------------------------- */

int cli_context_init(const cli_common *c, temper_model *model, int n_ctx,
                     temper_context **out) {
    temper_context_params cp = temper_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = c->threads;
    int rc = temper_context_init(model, &cp, out);
    if (rc < 0) return cli_lib_error(NULL, rc);
    return 0;
}

/* ---- prompt -------------------------------------------------------------- */

/* s (n bytes) for an error message: at most max bytes, each byte that is
 * not printable ASCII as \xHH (a binary file must not reach the terminal). */
const char *cli_printable(const char *s, size_t n, size_t max, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && i < max && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
    }
    buf[o] = '\0';
    return buf;
}

int cli_read_file(const char *path, const char *what, const char *opt, char **out,
                  size_t *len) {
    const size_t max = CLI_MAX_FILE;
    bool std_in = strcmp(path, "-") == 0;
    /* O_NONBLOCK: a FIFO is opened without waiting for a writer, then refused */
    int fd = std_in ? 0 : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        cli_error("%s: cannot open the %s: %s: check the path given to %s", path, what,
                  strerror(errno), opt);
        return 1;
    }
    if (!std_in && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        cli_error("%s: the %s is not a regular file (a device, pipe or folder): give a file to %s, "
                  "or - and the text on standard input", path, what, opt);
        return 1;
    }
    if (!std_in) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = std_in ? stdin : fdopen(fd, "rb");
    if (!f) {
        close(fd);
        cli_error("%s: cannot read the %s: %s", path, what, strerror(errno));
        return 1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf && n <= max) { /* at most max + 1 bytes, whatever the file says */
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger, cap *= 2;
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || bad || n > max) {
        free(buf);
        if (n > max) cli_error("%s: the %s is larger than %zu bytes: give a shorter text to %s", path, what,
                               max, opt);
        else cli_error("%s: cannot read the %s: %s", path, what, bad ? "read error" : "out of memory");
        return 1;
    }
    const char *nul = memchr(buf, '\0', n);
    if (nul) {
        cli_error("%s: the %s has a NUL byte at offset %zu: is it a binary file? %s takes text", path,
                  what, (size_t)(nul - buf), opt);
        free(buf);
        return 1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int tokenize_text(const temper_tokenizer *tok, const char *what,
                         const char *text, size_t len, temper_token **ids, int *n) {
    temper_token *got = NULL; /* the library's, freed with temper_free */
    int count = temper_tokenize_alloc(tok, text, len, TEMPER_TOKENIZE_ADD_SPECIAL, &got, NULL);
    if (count < 0) return cli_lib_error(what, count);
    *ids = malloc(sizeof **ids * (size_t)(count ? count : 1)); /* ownership to the caller */
    if (!*ids) {
        temper_free(got);
        cli_error("out of memory tokenizing the prompt");
        return 1;
    }
    memcpy(*ids, got, sizeof **ids * (size_t)count);
    temper_free(got);
    *n = count;
    return 0;
}

int cli_prompt_ids(const cli_common *c, const temper_tokenizer *tok,
                   temper_token **ids, int *n) {
    int sources = (c->prompt != NULL) + (c->file != NULL) + (c->prompt_ids != NULL);
    if (sources == 0) {
        cli_error("no prompt: give the text as the last argument, -f FILE or --prompt-ids 15496,995");
        return 2;
    }
    if (sources > 1) {
        cli_error("more than one prompt: give only one of PROMPT, -f FILE, --prompt-ids");
        return 2;
    }
    *ids = NULL;
    *n = 0;
    if (c->prompt_ids) {
        if (cli_parse_ids(c->prompt_ids, ids, n) < 0) return 2;
        int n_vocab = tok ? temper_tokenizer_n_vocab(tok) : -1;
        for (int k = 0; n_vocab > 0 && k < *n; k++) {
            if ((*ids)[k] >= n_vocab) {
                cli_error("--prompt-ids: id %d is outside the vocabulary (0 .. %d): "
                          "check the ids", (int)(*ids)[k], n_vocab - 1);
                free(*ids);
                *ids = NULL;
                return 2;
            }
        }
        return 0;
    }
    if (!tok) {
        cli_error("%s: the model has no tokenizer files: pass -z TOKENIZER or --prompt-ids",
                  c->model ? c->model : "model");
        return 1;
    }
    int rc;
    if (c->file) {
        char *text;
        size_t len;
        if ((rc = cli_read_file(c->file, "prompt file", "-f", &text, &len)) != 0) return rc;
        rc = tokenize_text(tok, c->file, text, len, ids, n);
        free(text);
    } else {
        rc = tokenize_text(tok, "prompt", c->prompt, strlen(c->prompt), ids, n);
    }
    if (rc == 0 && *n == 0) {
        free(*ids);
        *ids = NULL;
        cli_error("%s: the prompt is empty (0 tokens): give some text, or start from "
                  "the end-of-text token with --prompt-ids", c->file ? c->file : "prompt");
        return 2;
    }
    return rc;
}

int cli_fit_context(const cli_common *c, temper_token *ids, int *n, int n_new, int n_ctx) {
    if (*n + (long)n_new <= n_ctx) return 0;
    const char *src = c->file ? c->file : "prompt";
    int room = n_ctx - *n; /* new tokens that fit after the whole prompt */
    if (n_new >= n_ctx) {
        if (room > 0)
            cli_error("%s: %d prompt tokens + %d new tokens exceed the context window of %d "
                      "tokens: ask for at most %d new tokens", src, *n, n_new, n_ctx, room);
        else
            cli_error("%s: %d new tokens do not fit in the context window of %d tokens: ask "
                      "for at most %d with --truncate, which drops prompt tokens from the left",
                      src, n_new, n_ctx, n_ctx - 1);
        return 2;
    }
    if (!c->truncate) {
        if (n_new > 0 && room > 0)
            cli_error("%s: %d prompt tokens + %d new tokens exceed the context window of %d "
                      "tokens: ask for at most %d new tokens, shorten the prompt, or pass "
                      "--truncate to drop prompt tokens from the left", src, *n, n_new, n_ctx, room);
        else if (n_new > 0)
            cli_error("%s: %d prompt tokens + %d new tokens exceed the context window of %d "
                      "tokens: shorten the prompt, or pass --truncate to drop prompt tokens "
                      "from the left", src, *n, n_new, n_ctx);
        else
            cli_error("%s: %d prompt tokens exceed the context window of %d tokens: "
                      "shorten the prompt or pass --truncate to drop tokens from the left",
                      src, *n, n_ctx);
        return 1;
    }
    int keep = n_ctx - n_new, drop = *n - keep;
    memmove(ids, ids + drop, (size_t)keep * sizeof *ids);
    *n = keep;
    if (!cli_quiet)
        fprintf(stderr, "temper: %s: dropped the first %d of %d prompt tokens to fit the "
                "context window of %d tokens (--truncate)\n", src, drop, keep + drop, n_ctx);
    return 0;
}
