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
    fprintf(f, "usage: temper probs -m MODEL [--top N] [controls] [--json] PROMPT\n\n"
               "The next-token probability table: rank, token (spaces shown as '\xE2\x90\xA3'),\n"
               "id, logit, probability and percentage, for the N most probable tokens.\n"
               "With decoding controls, \"p proc\" is each token's probability after them\n"
               "(the distribution generate samples from), over the whole vocabulary;\n"
               "as in softmax, top-k is off unless --top-k is given.\n\n"
               "options:\n"
               "  -k, --top N            rows to show (default 10; larger than the\n"
               "                         vocabulary: all of it)\n\n"
               "decoding controls (as in generate):\n%s\n"
               "common options:\n%s%s",
            cli_sampling_help, cli_prompt_help, cli_common_help);
}

/* Whether any decoding control was given (then the processed column). */
static bool any_control(const cli_sampling *s) {
    return s->set.temperature || s->set.top_k || s->set.top_p || s->set.min_p ||
           s->set.typical_p || s->set.epsilon_cutoff || s->set.eta_cutoff ||
           s->set.repetition_penalty || s->set.presence_penalty || s->set.frequency_penalty ||
           s->set.no_repeat_ngram_size || s->n_bias > 0 || s->n_suppress > 0 || s->p.samplers;
}

/* proc[r] = the processed log-probability of order[r] (r < top): the
 * sampler applied to the logits, with the prompt as history (repetition
 * penalties). Returns 0, or an exit code (message printed). */
static int processed(cli_sampling *samp, const float *logits, int n_vocab, const temper_token *ids,
                     int n_ids, const int *order, int top, double *proc, char *stages, size_t cap) {
    temper_sampling_params sp = samp->p;
    if (!samp->set.top_k) sp.top_k = 0;
    sp.do_sample = 1; /* the warpers too: the distribution sampling draws from */
    temper_sampler *s = NULL;
    int rc = temper_sampler_init(&sp, n_vocab, &s);
    if (rc < 0) {
        cli_error("invalid decoding option: %s", temper_last_error());
        return rc == TEMPER_EINVAL ? 2 : 1;
    }
    temper_sampler_describe(s, stages, cap);
    rc = temper_sampler_apply(s, logits, ids, n_ids, n_ids);
    for (int r = 0; rc >= 0 && r < top; r++)
        proc[r] = temper_sampler_logprob(s, order[r], TEMPER_LOGPROB_PROCESSED);
    temper_sampler_free(s);
    return rc < 0 ? cli_lib_error("decoding controls", rc) : 0;
}

/* The softmax of one row of logits, in double. */
typedef struct probs_dist {
    const float *logits; /* (V) borrowed */
    int n_vocab;
    double max_logit;
    double log_sum;   /* log sum_i exp(logit_i - max_logit) */
    double entropy;   /* -sum p log p, in nats */
} probs_dist;

static void probs_softmax(probs_dist *d) {
    double m = -INFINITY, s = 0, e = 0;
    for (int i = 0; i < d->n_vocab; i++) m = fmax(m, d->logits[i]);
    for (int i = 0; i < d->n_vocab; i++) s += exp(d->logits[i] - m);
    d->max_logit = m;
    d->log_sum = log(s);
    for (int i = 0; i < d->n_vocab; i++) {
        double lp = d->logits[i] - m - d->log_sum;
        if (lp > -INFINITY) e -= exp(lp) * lp;
    }
    d->entropy = e;
}

static double probs_logprob(const probs_dist *d, int id) {
    return d->logits[id] - d->max_logit - d->log_sum;
}

/* Highest logit first; equal logits: lowest id first. arg: logits (V). */
static int by_logit_desc(const void *a, const void *b, void *arg) {
    const float *logits = arg;
    int x = *(const int *)a, y = *(const int *)b;
    float lx = logits[x], ly = logits[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x - y;
}

/* The token as text: "decoded" is what tokenizer.decode([id]) gives (JSON
 * "token"), "visible" its raw bytes with whitespace shown (table). */
static size_t token_decoded(const temper_tokenizer *tok, temper_token id, char *buf,
                            size_t cap) {
    int n = tok ? temper_detokenize(tok, &id, 1, 0, buf, cap) : -1;
    if (n < 0) return (size_t)snprintf(buf, cap, "<%d>", id);
    return (size_t)n < cap ? (size_t)n : cap; /* may hold a NUL byte: a length, not a C string */
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
                       const temper_token *ids, int n_ids, const probs_dist *d,
                       const int *order, int top, const double *proc, const char *stages) {
    char buf[TOKEN_MAX];
    cli_json j;
    cj_init(&j, stdout);
    cj_obj_begin(&j);
    cj_key(&j, "model"), cj_str(&j, c->model);
    cj_key(&j, "prompt_ids"), cj_arr_begin(&j);
    for (int k = 0; k < n_ids; k++) cj_int(&j, ids[k]);
    cj_arr_end(&j);
    cj_key(&j, "prompt_tokens"), cj_arr_begin(&j);
    for (int k = 0; k < n_ids; k++) cj_strn(&j, buf, token_decoded(tok, ids[k], buf, sizeof buf));
    cj_arr_end(&j);
    cj_key(&j, "n_vocab"), cj_int(&j, d->n_vocab);
    cj_key(&j, "entropy"), cj_double(&j, d->entropy);
    if (proc) cj_key(&j, "stages"), cj_str(&j, stages);
    cj_key(&j, "candidates"), cj_arr_begin(&j);
    for (int r = 0; r < top; r++) {
        int id = order[r];
        double lp = probs_logprob(d, id);
        cj_obj_begin(&j);
        cj_key(&j, "rank"), cj_int(&j, r + 1);
        cj_key(&j, "id"), cj_int(&j, id);
        cj_key(&j, "token"), cj_strn(&j, buf, token_decoded(tok, id, buf, sizeof buf));
        cj_key(&j, "piece"), cj_str(&j, tok ? temper_token_text(tok, id) : NULL);
        cj_key(&j, "logit"), cj_float(&j, d->logits[id]);
        cj_key(&j, "prob"), cj_double(&j, exp(lp));
        cj_key(&j, "logprob"), cj_double(&j, lp);
        if (proc) {
            cj_key(&j, "prob_processed"), cj_double(&j, exp(proc[r]));
            cj_key(&j, "logprob_processed"), cj_double(&j, proc[r]);
        }
        cj_obj_end(&j);
    }
    cj_arr_end(&j);
    cj_obj_end(&j);
    cj_finish(&j);
}

/* A bar of 20 cells for p in [0, 1], in eighths of a cell. */
static void print_bar(double p) {
    static const char *eighths[] = {"", "\xE2\x96\x8F", "\xE2\x96\x8E", "\xE2\x96\x8D",
                                    "\xE2\x96\x8C", "\xE2\x96\x8B", "\xE2\x96\x8A",
                                    "\xE2\x96\x89"};
    int units = (int)lround(p * 20 * 8);
    for (int k = 0; k < units / 8; k++) fputs("\xE2\x96\x88", stdout); /* full block */
    fputs(eighths[units % 8], stdout);
}

static void print_table(const cli_common *c, const temper_tokenizer *tok, int n_ids,
                        const probs_dist *d, const int *order, int top, const double *proc,
                        const char *stages) {
    char raw[TOKEN_MAX], buf[6 * TOKEN_MAX]; /* an escape takes at most 6 bytes */
    int width = 5; /* "token" */
    for (int r = 0; r < top && r < 1000; r++) {
        token_visible(tok, order[r], raw, buf, sizeof buf);
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
        int id = order[r];
        double p = exp(probs_logprob(d, id));
        int n = token_visible(tok, id, raw, buf, sizeof buf);
        printf("%4d  ", r + 1);
        if (n < 0) fputs(buf, stdout);
        else cli_print_visible(stdout, raw, (size_t)n); /* markers dimmed on a terminal */
        int pad = width - cli_display_width(buf);
        printf("%*s", pad > 0 ? pad : 0, "");
        printf("  %6d  %10.4f  %9.6f  %6.2f%%", id, d->logits[id], p, 100 * p);
        double q = proc ? exp(proc[r]) : p; /* the bar: the distribution sampled */
        if (proc) printf("  %9.6f  %6.2f%%", q, 100 * q);
        fputs("  ", stdout);
        print_bar(q);
        putchar('\n');
    }
    printf("entropy %.4f nats (%.4f bits) over %d tokens\n", d->entropy, d->entropy / log(2),
           d->n_vocab);
}

int cmd_probs(int argc, char **argv) {
    cli_common c = {0};
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
        if ((r = cli_prompt_arg(&c, "probs", &i, argc, argv)) != 0) {
            cli_sampling_free(&samp);
            return r;
        }
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL; /* (n_ids) */
    float *logits = NULL;     /* (V) */
    int *order = NULL;        /* (V) ids by decreasing logit */
    double *proc = NULL;      /* (top) processed log-probs, with controls */
    char stages[256] = "";
    int n_ids = 0;
    if ((rc = cli_load_model(&c, &model)) != 0) goto done;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    int n_vocab = temper_model_n_vocab(model);
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n_ids)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n_ids, 0, temper_model_n_ctx(model))) != 0) goto done;
    if ((rc = cli_context_init(&c, model, n_ids, &ctx)) != 0) goto done;
    logits = malloc((size_t)n_vocab * sizeof *logits);
    order = malloc((size_t)n_vocab * sizeof *order);
    if (!logits || !order) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    int err = temper_eval(ctx, 0, ids, n_ids, logits, 0);
    if (err < 0) {
        rc = cli_lib_error("evaluating the prompt", err);
        goto done;
    }
    probs_dist d = {.logits = logits, .n_vocab = n_vocab};
    probs_softmax(&d);
    for (int k = 0; k < n_vocab; k++) order[k] = k;
    qsort_r(order, (size_t)n_vocab, sizeof *order, by_logit_desc, logits);
    if (top > n_vocab) top = n_vocab;
    if (any_control(&samp)) {
        if (!(proc = malloc((size_t)top * sizeof *proc))) {
            cli_error("out of memory");
            rc = 1;
            goto done;
        }
        rc = processed(&samp, logits, n_vocab, ids, n_ids, order, (int)top, proc, stages, sizeof stages);
        if (rc != 0) goto done;
    }
    if (c.json) print_json(&c, tok, ids, n_ids, &d, order, (int)top, proc, stages);
    else print_table(&c, tok, n_ids, &d, order, (int)top, proc, stages);
done:
    cli_sampling_free(&samp);
    free(proc);
    free(order);
    free(logits);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
