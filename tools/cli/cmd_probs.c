/*
 * cmd_probs.c - `temper probs -m MODEL [--top N] [--json] PROMPT`: the
 * next-token table of seed 004's get_next_token_probs: the logits of the
 * last prompt position, a softmax over the whole vocabulary (in double,
 * shifted by the largest logit so that no exp overflows), and the N most
 * probable tokens. With decoding controls (--temp, --top-k, --top-p...),
 * also each token's probability after them, from the library's sampler
 * (the same code as generation), over the whole vocabulary.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TOKEN_MAX 1024 /* bytes of one token shown; longer ones are cut */

static void usage(FILE *f) {
    fprintf(f, "usage: temper probs -m MODEL [--top N] [controls] [--json] [--svg FILE] PROMPT\n\n"
               "The next-token probability table: rank, token (spaces shown as '\xE2\x90\xA3'),\n"
               "id, logit, probability and percentage, for the N most probable tokens.\n"
               "With decoding controls, \"p proc\" is each token's probability after them\n"
               "(the distribution generate samples from), over the whole vocabulary;\n"
               "as in softmax, top-k is off unless --top-k is given.\n\n"
               "options:\n"
               "  -k, --top N            rows to show (default 10; larger than the\n"
               "                         vocabulary: all of it)\n"
               "      --svg FILE         also write the rows as probability bars (SVG; with\n"
               "                         controls, the probability after them beside) to FILE\n"
               "                         ('-': stdout)\n\n"
               "decoding controls (as in generate):\n%s\n"
               "common options:\n%s%s",
            cli_sampling_help, cli_prompt_help, cli_common_help);
}

/* The sampler of the decoding controls (*out NULL without any): the
 * distribution sampling draws from, applied to the logits with the prompt
 * as history (repetition penalties). Returns 0, or an exit code (message
 * printed). */
static int controls(cli_sampling *samp, const float *logits, int n_vocab, const temper_token *ids,
                    int n_ids, temper_sampler **out, char *stages, size_t cap) {
    *out = NULL;
    if (!cli_sampling_any(samp)) return 0; /* no control: no processed column */
    temper_sampling_params sp = samp->p;
    if (!cli_sampling_given(samp, "top_k")) sp.top_k = 0;
    sp.do_sample = 1; /* the warpers too: the distribution sampling draws from */
    temper_sampler *s = NULL;
    int rc = temper_sampler_init(&sp, n_vocab, &s);
    if (rc < 0) {
        cli_error("invalid decoding option: %s", temper_last_error());
        return rc == TEMPER_EINVAL ? 2 : 1;
    }
    temper_sampler_describe(s, stages, cap);
    rc = temper_sampler_apply(s, logits, ids, n_ids, n_ids);
    if (rc < 0) {
        temper_sampler_free(s);
        return cli_lib_error("decoding controls", rc);
    }
    *out = s;
    return 0;
}

/* Raw bytes of the token into raw[TOKEN_MAX] (cut if longer); its visible
 * form into vis[cap]. Returns the byte count, or -1 (vis gets "<id>"). */
static int token_visible(const temper_tokenizer *tok, int id, char *raw, char *vis, size_t cap) {
    int n = tok ? temper_token_bytes(tok, id, raw, TOKEN_MAX) : -1;
    if (n < 0) {
        snprintf(vis, cap, "<%d>", id);
        return -1;
    }
    if (n > TOKEN_MAX) n = TOKEN_MAX;
    cli_visible(vis, cap, raw, (size_t)n);
    return n;
}

static void print_json(const cli_common *c, const temper_tokenizer *tok,
                       const temper_token *ids, int n_ids, const temper_candidate *cands, int top,
                       const temper_next_token_info *info, const char *stages) {
    temper_json *j = temper_json_new(stdout);
    temper_json_next_tokens d = {.model = c->model, .tok = tok, .prompt = ids, .n_prompt = n_ids,
                                 .cands = cands, .n = top, .info = info, .stages = stages};
    temper_json_probs(j, &d);
    cli_json_end(j);
}

static void print_table(const cli_common *c, const temper_tokenizer *tok, int n_ids,
                        const temper_candidate *cands, int top, const temper_next_token_info *d,
                        bool proc, const char *stages) {
    char raw[TOKEN_MAX], buf[6 * TOKEN_MAX]; /* an escape takes at most 6 bytes */
    int width = 5; /* "token" */
    for (int r = 0; r < top && r < 1000; r++) {
        token_visible(tok, cands[r].id, raw, buf, sizeof buf);
        int w = cli_display_width(buf);
        if (w > width) width = w < 32 ? w : 32;
    }
    bool color = cli_use_color(stdout);
    const char *bold = color ? "\x1b[1m" : "", *plain = color ? "\x1b[0m" : "";
    printf("next-token probabilities after %d prompt token%s (%s)\n", n_ids,
           n_ids == 1 ? "" : "s", c->model);
    if (proc) printf("prob = softmax of the logits; p proc = after %s\n", stages[0] ? stages : "none");
    printf("%s%4s  %-*s  %6s  %10s  %9s  %7s", bold, "rank", width, "token", "id", "logit", "prob",
           "prob %");
    if (proc) printf("  %9s  %7s", "p proc", "proc %");
    printf("%s\n", plain);
    for (int r = 0; r < top; r++) {
        int id = cands[r].id;
        double p = exp(cands[r].logprob);
        int n = token_visible(tok, id, raw, buf, sizeof buf);
        printf("%4d  ", r + 1);
        if (n < 0) fputs(buf, stdout);
        else cli_print_visible(stdout, raw, (size_t)n); /* markers dimmed on a terminal */
        int pad = width - cli_display_width(buf);
        printf("%*s", pad > 0 ? pad : 0, "");
        printf("  %6d  %10.4f  %9.6f  %6.2f%%", id, cands[r].logit, p, 100 * p);
        double q = proc ? exp(cands[r].logprob_processed) : p; /* the bar: the distribution sampled */
        if (proc) printf("  %9.6f  %6.2f%%", q, 100 * q);
        fputs("  ", stdout);
        cli_print_bar(stdout, q, 20, false);
        putchar('\n');
    }
    printf("entropy %.4f nats (%.4f bits) over %d tokens\n", d->entropy, d->entropy / log(2),
           d->n_vocab);
}

/* --svg: the rows' probabilities as bars, raw and (with controls) after
 * them (temper_svg_bars). */
static int save_svg(const char *path, const temper_tokenizer *tok, const temper_candidate *cands, int top,
                    bool proc, const char *stages) {
    int S = proc ? 2 : 1;
    double *v = malloc((size_t)S * top * sizeof *v);
    char (*lab)[64] = malloc((size_t)top * sizeof *lab);
    const char **labels = malloc((size_t)top * sizeof *labels);
    if (!v || !lab || !labels) {
        free(v), free(lab), free(labels);
        cli_error("out of memory");
        return 1;
    }
    for (int r = 0; r < top; r++) {
        char raw[TOKEN_MAX];
        token_visible(tok, cands[r].id, raw, lab[r], sizeof lab[r]);
        labels[r] = lab[r];
        v[r] = exp(cands[r].logprob);
        if (proc) v[top + r] = exp(cands[r].logprob_processed);
    }
    char after[300];
    snprintf(after, sizeof after, "after the controls (%s)", stages);
    const char *series[2] = {"probability", after};
    temper_svg_bars_spec spec = {.values = v, .n_series = S, .n = top, .labels = labels,
                                 .series_names = series, .title = "Next-token probabilities",
                                 .value_name = "probability"};
    char *svg = NULL;
    int len = temper_svg_bars(&spec, &svg);
    free(v), free(lab), free(labels);
    return cli_svg_save(path, len, svg, "probability bars");
}

int cmd_probs(int argc, char **argv) {
    cli_common c = {0};
    const char *svg_path = NULL;
    cli_sampling samp;
    cli_sampling_init(&samp);
    long top = 10;
    int rc = 0;
    for (int i = 1; i < argc;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r == 0) r = cli_sampling_opt(&samp, &i, argc, argv);
        if (r < 0) {
            cli_sampling_free(&samp);
            return 2;
        }
        if (r > 0) continue;
        if ((r = cli_opt(argv, argc, &i, "-k", "--top", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--top", v, 1, INT32_MAX, &top) < 0) {
                cli_sampling_free(&samp);
                return 2;
            }
            continue;
        }
        if ((r = cli_svg_opt(&svg_path, &i, argc, argv)) != 0) {
            if (r < 0) {
                cli_sampling_free(&samp);
                return 2;
            }
            continue;
        }
        if ((r = cli_prompt_arg(&c, "probs", &i, argc, argv)) != 0) {
            cli_sampling_free(&samp);
            return r;
        }
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_sampler *sampler = NULL; /* the decoding controls; NULL: none */
    temper_token *ids = NULL;       /* (n_ids) */
    float *logits = NULL;           /* (V) */
    temper_candidate *cands = NULL; /* (top) by decreasing logit */
    char stages[256] = "";
    int n_ids = 0;
    if ((rc = cli_load_model(&c, &model)) != 0) goto done;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    int n_vocab = temper_model_n_vocab(model);
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n_ids)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n_ids, 0, temper_model_n_ctx(model))) != 0) goto done;
    if ((rc = cli_context_init(&c, model, n_ids, &ctx)) != 0) goto done;
    if (top > n_vocab) top = n_vocab;
    logits = malloc((size_t)n_vocab * sizeof *logits);
    cands = malloc((size_t)top * sizeof *cands);
    if (!logits || !cands) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    int err = temper_eval(ctx, 0, ids, n_ids, logits, 0);
    if (err < 0) {
        rc = cli_lib_error("evaluating the prompt", err);
        goto done;
    }
    if ((rc = controls(&samp, logits, n_vocab, ids, n_ids, &sampler, stages, sizeof stages)) != 0)
        goto done;
    temper_next_token_info info;
    err = temper_next_token_table(logits, n_vocab, sampler, (int)top, cands, &info);
    if (err < 0) {
        rc = cli_lib_error("the next-token table", err);
        goto done;
    }
    if (svg_path && (rc = save_svg(svg_path, tok, cands, (int)top, sampler != NULL, stages)) != 0) goto done;
    if (c.json) print_json(&c, tok, ids, n_ids, cands, (int)top, &info, sampler ? stages : NULL);
    else print_table(&c, tok, n_ids, cands, (int)top, &info, sampler != NULL, stages);
done:
    cli_sampling_free(&samp);
    temper_sampler_free(sampler);
    free(cands);
    free(logits);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
