/*
 * cmd_softmax.c - `temper softmax --logits 1.1,0.5,0.85 [--temps 0.2,1]`:
 * seeds 002/003's tables for a list of toy logits: token, logit, logit
 * scaled by the temperature, its softmax, and the probability after the
 * filters (top-k, top-p, min-p...), with a bar per row; several
 * temperatures side by side. The numbers come from the library
 * (temper_softmax_table: the sampler, the same code as generation).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_TEMPS 16

static void usage(FILE *f) {
    fprintf(f,
            "usage: temper softmax --logits L1,L2,... [--tokens T1,T2,...]\n"
            "                      [--temp T | --temps T1,T2,...] [filters] [--json] [--svg FILE]\n\n"
            "The softmax of a list of logits at one or several temperatures:\n"
            "token, logit, logit / T, probability, and the probability after the\n"
            "filters, with a bar. A logit may be -inf (a banned token).\n"
            "Temperature 0 means greedy: all the mass on the largest logit.\n"
            "Unlike generate, top-k is off unless --top-k is given.\n\n"
            "options:\n"
            "  --logits LIST             the logits: 1.1,0.5,0.85 (or spaces)\n"
            "  --logits-file FILE        read the logits from FILE ('-': stdin),\n"
            "                            separated by commas, spaces or newlines\n"
            "  --tokens LIST             their names: the,quick,brown (default: 0,1,...)\n"
            "  --temps LIST              several temperatures side by side: 0.2,1,1.95\n"
            "  --sample N                draw N tokens from the processed distribution\n"
            "  -s, --seed S              seed of the draws (default: a random one,\n"
            "                            printed); the draws use\n"
            "                            stream 0 of the seed, as the first sequence\n"
            "                            of `temper generate`\n"
            "  --bar N                   bar width in columns (default 20; 0: none)\n"
            "  --json                    one JSON object on stdout\n"
            "  --svg FILE                also write the probabilities (after the filters) as\n"
            "                            bars, one colour per temperature, to FILE (SVG)\n"
            "  -h, --help                this help\n\n"
            "filters and order (as in generate):\n%s",
            cli_sampling_help);
}

typedef struct sm_args {
    float *logits;       /* (n) owned */
    char **names;        /* (n) owned strings */
    char *names_buf;     /* owned: the --tokens text, split in place */
    char **logit_text;   /* (n) owned: the logits as given */
    int n;
    double temps[MAX_TEMPS];
    int n_temps;
    cli_sampling samp;
    long n_sample;
    unsigned long long seed;
    long bar;
    bool json;
    const char *svg;     /* --svg FILE */
} sm_args;

/* One temperature's columns, all (n). */
typedef struct sm_table {
    double t;
    double *scaled, *prob, *proc; /* NAN scaled: undefined (T = 0) */
    char samplers[256];
    long *counts;                 /* (n) draws per token, with --sample */
    temper_token *draws;          /* (n_sample) */
} sm_table;

/* Split s at commas (and whitespace) into a malloc'd array of pointers into
 * s, which is modified. Returns the count or -1 (OOM). */
static int split_list(char *s, char ***out) {
    int cap = 8, n = 0;
    char **v = malloc(sizeof *v * (size_t)cap);
    if (!v) return -1;
    char *save = NULL;
    for (char *t = strtok_r(s, ", \t\n", &save); t; t = strtok_r(NULL, ", \t\n", &save)) {
        if (n == cap) {
            char **nv = realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[n++] = t;
    }
    *out = v;
    return n;
}

/* opt: the option the text came from, for the errors. */
static int parse_logits(sm_args *a, const char *opt, const char *text) {
    char *copy = strdup(text);
    char **parts = NULL;
    int n = copy ? split_list(copy, &parts) : -1;
    if (n <= 0) {
        free(copy);
        free(parts);
        char shown[256];
        cli_error("%s \"%s\": give a list of numbers, e.g. --logits 1.1,0.5,0.85", opt,
                  cli_printable(text, strlen(text), 60, shown, sizeof shown));
        return -1;
    }
    a->logits = malloc(sizeof(float) * (size_t)n);
    a->logit_text = malloc(sizeof(char *) * (size_t)n);
    if (!a->logits || !a->logit_text) {
        cli_error("out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        double v;
        if (cli_parse_double(parts[i], &v, true) < 0 || v == INFINITY) {
            char shown[256];
            cli_error("%s: \"%s\" (value %d) is not a number (finite, or -inf for a banned "
                      "token)",
                      opt, cli_printable(parts[i], strlen(parts[i]), 60, shown, sizeof shown), i + 1);
            a->n = i; /* the texts kept so far are freed with the arguments */
            free(parts);
            free(copy);
            return -1;
        }
        a->logits[i] = (float)v;
        a->logit_text[i] = strdup(parts[i]);
    }
    a->n = n;
    free(parts);
    free(copy);
    return 0;
}

/* Fill tb for temperature tb->t (temper_softmax_table). Returns 0, 2 (a
 * bad option value) or 1 (error printed). */
static int compute(const sm_args *a, sm_table *tb) {
    long n_draws = a->n_sample > 0 ? a->n_sample : 0;
    temper_sampling_params check = a->samp.p; /* a bad option value: exit 2; a failure on the row: 1 */
    check.do_sample = 1;
    check.temperature = (float)tb->t;
    temper_sampler *chk = NULL;
    int r = temper_sampler_init(&check, a->n, &chk);
    temper_sampler_free(chk);
    if (r < 0) {
        cli_lib_error("softmax", r);
        return r == TEMPER_EINVAL ? 2 : 1;
    }
    r = temper_softmax_table(a->logits, a->n, &a->samp.p, tb->t, a->seed, n_draws, tb->scaled,
                                 tb->prob, tb->proc, tb->draws, tb->samplers, sizeof tb->samplers);
    if (r < 0) return cli_lib_error("softmax", r), 1;
    for (long k = 0; k < n_draws; k++) tb->counts[tb->draws[k]]++;
    return 0;
}

/* Number cell: "-inf", "—" for undefined, else %.*f right-aligned in w. */
static void print_num(double v, int w, int prec) {
    if (isnan(v)) printf("%*s\u2014", w - 1, "");
    else if (v == -INFINITY) printf("%*s", w, "-inf");
    else printf("%*.*f", w, prec, v);
}

static void print_padded(const char *s, int w) {
    fputs(s, stdout);
    for (int k = cli_display_width(s); k < w; k++) putchar(' ');
}

static bool filters_active(const sm_table *tb, int n) {
    for (int i = 0; i < n; i++)
        if (fabs(tb->proc[i] - tb->prob[i]) > 1e-12) return true;
    return tb->samplers[0] && strcmp(tb->samplers, "temperature") != 0;
}

static void print_text(const sm_args *a, sm_table *tabs) {
    int n = a->n, wtok = 5, wlog = 5;
    bool color = cli_use_color(stdout);
    for (int i = 0; i < n; i++) {
        int w = cli_display_width(a->names[i]);
        wtok = w > wtok ? w : wtok;
        w = (int)strlen(a->logit_text[i]);
        wlog = w > wlog ? w : wlog;
    }
    bool show_proc = false;
    for (int k = 0; k < a->n_temps; k++) show_proc |= filters_active(&tabs[k], n);
    int bar = (int)a->bar;
    if (a->n_temps > 1 && bar > 12) bar = 12;
    int wblock = 8 + 8 + (show_proc ? 10 : 0) + (bar > 0 ? bar + 1 : 0);

    /* first header line: the temperatures (and stages) over their blocks */
    printf("%*s", wtok + 2 + wlog, "");
    for (int k = 0; k < a->n_temps; k++) {
        char head[64];
        snprintf(head, sizeof head, "T=%g%s", tabs[k].t,
                 tabs[k].t == 0 ? " (greedy)" : "");
        printf(" \u2502 ");
        print_padded(head, wblock);
    }
    putchar('\n');
    print_padded("token", wtok);
    printf("  %*s", wlog, "logit");
    for (int k = 0; k < a->n_temps; k++) {
        printf(" \u2502 %8s%8s", "scaled", "prob");
        if (show_proc) printf("%10s", "processed");
        if (bar > 0) printf(" %*s", bar, "");
    }
    putchar('\n');
    for (int i = 0; i < n; i++) {
        print_padded(a->names[i], wtok);
        printf("  %*s", wlog, a->logit_text[i]);
        for (int k = 0; k < a->n_temps; k++) {
            const sm_table *tb = &tabs[k];
            bool removed = show_proc && tb->proc[i] == 0 && tb->prob[i] > 0;
            printf(" \u2502 ");
            if (removed && color) fputs("\x1b[2m", stdout);
            print_num(tb->scaled[i], 8, 3);
            print_num(tb->prob[i], 8, 4);
            if (show_proc) print_num(tb->proc[i], 10, 4);
            if (bar > 0) {
                putchar(' ');
                cli_print_bar(stdout, show_proc ? tb->proc[i] : tb->prob[i], bar, true);
            }
            if (removed && color) fputs("\x1b[0m", stdout);
        }
        putchar('\n');
    }
    for (int k = 0; k < a->n_temps; k++) {
        const sm_table *tb = &tabs[k];
        if (tb->t == 0)
            printf("T=0: greedy, all the mass on the largest logit (ties: lowest id)\n");
        else
            printf("T=%g: stages %s\n", tb->t, tb->samplers[0] ? tb->samplers : "(none)");
        if (a->n_sample <= 0) continue;
        printf("  %ld draws (seed %llu, stream 0):", a->n_sample, a->seed);
        for (int i = 0; i < n; i++)
            if (tb->counts[i])
                printf(" %s %.4f", a->names[i], (double)tb->counts[i] / (double)a->n_sample);
        putchar('\n');
    }
}

static void print_json(const sm_args *a, const sm_table *tabs) {
    temper_json_softmax_table t[MAX_TEMPS];
    for (int k = 0; k < a->n_temps && k < MAX_TEMPS; k++)
        t[k] = (temper_json_softmax_table){.temperature = tabs[k].t, .samplers = tabs[k].samplers,
                                           .scaled = tabs[k].scaled, .prob = tabs[k].prob,
                                           .prob_processed = tabs[k].proc, .samples = tabs[k].draws,
                                           .n_samples = a->n_sample > 0 ? a->n_sample : 0};
    temper_json_softmax_doc d = {.names = (const char *const *)a->names, .logits = a->logits,
                                 .n = a->n, .seed = a->seed, .tables = t,
                                 .n_tables = a->n_temps < MAX_TEMPS ? a->n_temps : MAX_TEMPS};
    temper_json *j = temper_json_new(stdout);
    temper_json_softmax(j, &d);
    cli_json_end(j);
}

static void free_args(sm_args *a) {
    for (int i = 0; a->logit_text && i < a->n; i++) free(a->logit_text[i]);
    free(a->logit_text);
    free(a->logits);
    free(a->names_buf);
    free(a->names);
    cli_sampling_free(&a->samp);
}

/* --svg: each temperature's probabilities after the filters as bars
 * (temper_svg_bars). */
static int save_svg(const sm_args *a, const sm_table *tabs) {
    double *v = malloc((size_t)a->n_temps * a->n * sizeof *v);
    char (*names)[300] = malloc((size_t)a->n_temps * sizeof *names);
    const char **series = malloc((size_t)a->n_temps * sizeof *series);
    if (!v || !names || !series) {
        free(v), free(names), free(series);
        cli_error("out of memory");
        return 1;
    }
    for (int k = 0; k < a->n_temps; k++) {
        memcpy(v + (size_t)k * a->n, tabs[k].proc, (size_t)a->n * sizeof *v);
        snprintf(names[k], sizeof names[k], "T = %g%s%s", tabs[k].t, tabs[k].samplers[0] ? ", " : "",
                 tabs[k].samplers);
        series[k] = names[k];
    }
    temper_svg_bars_spec spec = {.values = v, .n_series = a->n_temps, .n = a->n,
                                 .labels = (const char *const *)a->names, .series_names = series,
                                 .title = "Softmax with temperature", .value_name = "probability"};
    char *svg = NULL;
    int len = temper_svg_bars(&spec, &svg);
    free(v), free(names), free(series);
    return cli_svg_save(a->svg, len, svg, "probability bars");
}

int cmd_softmax(int argc, char **argv) {
    sm_args a;
    memset(&a, 0, sizeof a);
    a.seed = cli_random_seed(); /* unless -s; printed with the draws */
    cli_sampling_init(&a.samp);
    a.samp.p.top_k = 0; /* a toy table: no implicit top-k 50 */
    a.bar = 20;
    const char *tokens = NULL;
    int rc = 2;
    for (int i = 1; i < argc;) {
        const char *v;
        int r;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        if (cli_flag(argv, &i, NULL, "--json")) {
            a.json = true;
            continue;
        }
        if ((r = cli_svg_opt(&a.svg, &i, argc, argv)) != 0) {
            if (r < 0) goto out;
            continue;
        }
        if ((r = cli_sampling_opt(&a.samp, &i, argc, argv)) != 0) {
            if (r < 0) goto out;
            if (cli_sampling_given(&a.samp, "temperature")) { /* --temp T: one temperature */
                a.temps[0] = a.samp.p.temperature;
                a.n_temps = 1;
                cli_sampling_forget(&a.samp, "temperature");
            }
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--logits", &v)) != 0) {
            if (r > 0 && a.logits) cli_error("give either --logits or --logits-file, once");
            if (r < 0 || a.logits || parse_logits(&a, "--logits", v) < 0) goto out;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--logits-file", &v)) != 0) {
            char *text = NULL;
            size_t len;
            if (r > 0 && a.logits) cli_error("give either --logits or --logits-file, once");
            if (r < 0 || a.logits ||
                cli_read_file(v, "logits file", "--logits-file", &text, &len) != 0)
                goto out;
            r = parse_logits(&a, "--logits-file", text);
            free(text);
            if (r < 0) goto out;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--tokens", &v)) != 0) {
            if (r < 0) goto out;
            tokens = v;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--temps", &v)) != 0) {
            if (r < 0 || (a.n_temps = cli_parse_temps(v, a.temps, MAX_TEMPS, "0.2,1,1.95")) < 0) goto out;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--sample", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--sample", v, 0, 10000000, &a.n_sample) < 0)
                goto out;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, "-s", "--seed", &v)) != 0) {
            long s;
            if (r < 0 || cli_parse_int(v, &s) < 0 || s < 0) {
                if (r >= 0) cli_error("--seed \"%s\": give a whole number >= 0", v);
                goto out;
            }
            a.seed = (unsigned long long)s;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--bar", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--bar", v, 0, 200, &a.bar) < 0) goto out;
            continue;
        }
        rc = cli_unknown_option("softmax", argv[i]);
        goto out;
    }
    if (!a.logits) {
        cli_error("softmax needs --logits or --logits-file: e.g. temper softmax --logits "
                  "1.1,0.5,0.85");
        goto out;
    }
    a.names = malloc(sizeof(char *) * (size_t)a.n);
    if (!a.names) goto oom;
    if (tokens) {
        char **parts = NULL;
        a.names_buf = strdup(tokens);
        int k = a.names_buf ? split_list(a.names_buf, &parts) : -1;
        if (k != a.n) {
            free(parts);
            cli_error("--tokens has %d names for %d logits: give one name per logit", k, a.n);
            goto out;
        }
        memcpy(a.names, parts, sizeof(char *) * (size_t)a.n);
        free(parts);
    } else {
        /* "0", "1", ...: kept in names_buf, 12 bytes each */
        a.names_buf = malloc((size_t)a.n * 12);
        if (!a.names_buf) goto oom;
        for (int i = 0; i < a.n; i++) {
            a.names[i] = a.names_buf + (size_t)i * 12;
            snprintf(a.names[i], 12, "%d", i);
        }
    }
    if (a.n_temps == 0) {
        a.temps[0] = 1.0;
        a.n_temps = 1;
    }

    sm_table tabs[MAX_TEMPS];
    memset(tabs, 0, sizeof tabs);
    rc = 0;
    for (int k = 0; k < a.n_temps && rc == 0; k++) {
        sm_table *tb = &tabs[k];
        tb->t = a.temps[k];
        tb->scaled = calloc((size_t)a.n, sizeof(double));
        tb->prob = calloc((size_t)a.n, sizeof(double));
        tb->proc = calloc((size_t)a.n, sizeof(double));
        tb->counts = calloc((size_t)a.n, sizeof(long));
        tb->draws = calloc((size_t)(a.n_sample > 0 ? a.n_sample : 1), sizeof(temper_token));
        if (!tb->scaled || !tb->prob || !tb->proc || !tb->counts || !tb->draws) {
            cli_error("out of memory");
            rc = 1;
            break;
        }
        rc = compute(&a, tb);
    }
    if (rc == 0 && a.svg) rc = save_svg(&a, tabs);
    if (rc == 0) {
        if (a.json) {
            print_json(&a, tabs);
        } else {
            print_text(&a, tabs);
        }
    }
    for (int k = 0; k < a.n_temps; k++) {
        free(tabs[k].scaled);
        free(tabs[k].prob);
        free(tabs[k].proc);
        free(tabs[k].counts);
        free(tabs[k].draws);
    }
    goto out;
oom:
    cli_error("out of memory");
    rc = 1;
out:
    free_args(&a);
    return rc;
}
