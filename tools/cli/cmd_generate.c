/*
 * cmd_generate.c - `temper generate -m MODEL [options] PROMPT`: continue
 * the prompt with every decoding control of transformers (greedy,
 * sampling, beam search, the logits processors), printing the text as it
 * is produced.
 *
 * Flow: parse the options -> load the model -> fill what the command line
 * left out from the model's generation_config.json (as transformers does)
 * -> decide greedy / sampling / beams and check every value (exit 2 with
 * one line on a bad one) -> print the settings on stderr -> run
 * temper_generate() once, or once per temperature with --temps -> print
 * (cli_generate_out.c). The settings are made in cli_generate_opts.c.
 * `--power` is handed to cmd_generate_power.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_generate.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: temper generate -m MODEL [options] PROMPT\n\n"
            "Continue PROMPT and print the text as it is produced. Decoding follows\n"
            "transformers' generate(): greedy unless sampling is asked for, defaults\n"
            "from the model's generation_config.json. Temperature 0 means greedy.\n"
            "The effective settings and the seed are printed on stderr.\n\n"
            "decoding:\n"
            "      --do-sample           sample (transformers' do_sample=True); any of\n"
            "                            --temp T > 0, --top-k, --top-p, --min-p,\n"
            "                            --typical-p, --epsilon-cutoff, --eta-cutoff,\n"
            "                            --temps also turns sampling on\n"
            "      --greedy              the most probable token at each step (default)\n"
            "  -s, --seed S              random seed (default: a random one, printed);\n"
            "                            sequence i draws from stream i of the seed\n"
            "      --num-return-sequences N  N sequences (sampling, or <= --num-beams)\n"
            "      --num-beams B         beam search with B beams (1: off)\n"
            "      --length-penalty X    beam score = sum of log-probs / length^X (1)\n"
            "      --early-stopping W    true, false (default) or never\n"
            "      --temps T1,T2,...     one run per temperature (same seed) and the\n"
            "                            number of distinct outputs (seeds 001/004)\n\n"
            "stopping:\n"
            "  -n, --max-new-tokens N    new tokens at most (default 20; -1: until the\n"
            "                            context window is full)\n"
            "      --min-new-tokens N    ban the end-of-sequence token before N tokens\n"
            "      --stop STR            stop once the generated text contains STR\n"
            "                            (repeatable; STR stays in the output)\n"
            "      --ignore-eos          do not stop at the end-of-sequence token\n\n"
            "output:\n"
            "      --n-probs K           after the text, a table of every generated token\n"
            "                            (step, token, p, logp) with the K most likely\n"
            "                            alternatives: raw and processed probabilities\n\n"
            "processors and warpers:\n%s\n"
            "power sampling: temper generate --power ALPHA --help\n\n"
            "common options:\n%s%s",
            cli_sampling_help, cli_prompt_help, cli_common_help);
}

/* ---- running ----------------------------------------------------------- */

typedef struct stream_state {
    const temper_tokenizer *tok;
    temper_utf8_stream u;
    bool color, colored;
} stream_state;

/* Print id's text once its UTF-8 is complete; special tokens are skipped. */
static void emit(stream_state *st, temper_token id, bool generated) {
    char buf[4096];
    if (!st->tok || temper_token_is_special(st->tok, id)) return;
    int n = temper_detokenize_stream(st->tok, &st->u, id, buf, sizeof buf);
    if (n <= 0) return;
    if (generated && st->color && !st->colored) fputs(GEN_COLOR_GEN, stdout), st->colored = true;
    fwrite(buf, 1, (size_t)n < sizeof buf ? (size_t)n : sizeof buf, stdout);
    fflush(stdout);
}

static int on_token(const temper_token_event *e, void *user) {
    if (e->seq == 0) emit(user, e->id, true);
    return 0;
}

/* The parameters of one run at run->temperature (NAN: the options' own);
 * checks the ids and the stage list with a sampler and fills run->stages
 * and run->greedy. Returns 0, 2 (bad option) or 1. */
static int prepare_run(const gen_ctx *x, gen_run *run, temper_generate_params *gp) {
    const gen_args *a = x->a;
    *gp = a->gp;
    gp->sampling = a->samp.p;
    if (!isnan(run->temperature)) {
        gp->sampling.temperature = (float)run->temperature;
        if (run->temperature == 0) gp->num_return_sequences = 1; /* greedy: one text */
    }
    temper_sampler *s = NULL;
    temper_sampling_params sp = gp->sampling;
    if (gp->num_beams > 1) sp.do_sample = 0; /* beams: processors only */
    int rc = temper_sampler_init(&sp, x->mi.n_vocab, &s);
    if (rc < 0) {
        cli_error("invalid decoding option: %s", temper_last_error());
        return rc == TEMPER_EINVAL ? 2 : 1;
    }
    temper_sampler_describe(s, run->stages, sizeof run->stages);
    run->greedy = temper_sampler_is_greedy(s);
    temper_sampler_free(s);
    return 0;
}

/* Generate with gp (streaming sequence 0 to st when not NULL), sampled
 * sequences in batches of at most GEN_BATCH (sequence i still draws from
 * stream i: the batches read as one run), and count the distinct texts, as
 * seed 004's len(set(outputs)). */
static int run_once(const gen_ctx *x, temper_context *ctx, gen_run *run,
                    temper_generate_params *gp, stream_state *st) {
    if (st) {
        gp->on_token = on_token;
        gp->user = st;
    }
    int total = gp->num_return_sequences, first = gp->first_stream;
    int batch = gp->num_beams > 1 || total <= GEN_BATCH ? total : GEN_BATCH;
    for (int done = 0; done < total; done += batch) {
        gp->num_return_sequences = total - done < batch ? total - done : batch;
        gp->first_stream = first + done;
        /* temper_generate evaluates the prompt after what slot 0 holds:
         * empty the slots a previous batch or run (--temps) filled */
        int slots = gp->num_beams > gp->num_return_sequences ? gp->num_beams : gp->num_return_sequences;
        for (int i = 0; i < slots; i++) temper_seq_truncate(ctx, i, 0);
        temper_generation *g = NULL;
        int rc = temper_generate(ctx, x->prompt, x->n_prompt, gp, &g);
        if (rc < 0) return cli_lib_error("generate", rc);
        if (!run->g) {
            run->g = g;
        } else if ((rc = temper_generation_append(run->g, g)) < 0) {
            temper_generation_free(g);
            return cli_lib_error("generate", rc);
        }
    }
    gp->num_return_sequences = total;
    gp->first_stream = first;
    int n = run->g->n_seqs;
    char **texts = calloc((size_t)n, sizeof *texts); /* (n) owned */
    if (!texts) return cli_lib_error("generate", TEMPER_ENOMEM);
    run->distinct = 0;
    for (int i = 0; i < n; i++) {
        texts[i] = cli_detok(x->tok, run->g->seqs[i].ids, run->g->seqs[i].n_ids);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = texts[i] && texts[j] && !strcmp(texts[i], texts[j]);
        run->distinct += !seen;
    }
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* power sampling has its own loop (cmd_power.c) */
        if (strcmp(argv[i], "--power") == 0 || strncmp(argv[i], "--power=", 8) == 0)
            return cmd_generate_power(argc, argv);
    gen_args a;
    memset(&a, 0, sizeof a);
    cli_sampling_init(&a.samp);
    a.gp = temper_generate_default_params();
    a.max_new = CLI_DEFAULT_MAX_NEW;
    bool help = false;
    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL; /* (n_prompt) the prompt */
    gen_run runs[GEN_MAX_TEMPS];
    int n_runs = 0, n_prompt = 0;
    memset(runs, 0, sizeof runs);
    int rc = gen_parse_args(&a, argc, argv, &help);
    if (rc != 0 || help) {
        if (help) usage(stdout);
        goto done;
    }
    /* the values given on the command line, before loading anything */
    if ((rc = gen_resolve_mode(&a, false)) != 0) goto done;
    if ((rc = cli_load_model(&a.c, &model)) != 0) goto done;
    if ((rc = gen_apply_generation_config(&a, model)) != 0 ||
        (rc = gen_resolve_mode(&a, true)) != 0)
        goto done;
    if (!a.set.seed) a.gp.seed = cli_random_seed();

    gen_ctx x = {.a = &a, .tok = temper_model_tokenizer(model), .color = cli_use_color(stdout)};
    temper_model_get_info(model, &x.mi);
    if (a.n_stop && !x.tok) {
        cli_error("--stop needs the model's tokenizer, which is missing: pass -z TOKENIZER");
        rc = 2;
        goto done;
    }
    if ((rc = cli_prompt_ids(&a.c, x.tok, &ids, &n_prompt)) != 0) goto done;
    if (a.max_new < 0) a.max_new = x.mi.n_ctx - n_prompt > 0 ? x.mi.n_ctx - n_prompt : 1;
    if ((rc = cli_fit_context(&a.c, ids, &n_prompt, (int)a.max_new, x.mi.n_ctx)) != 0) goto done;
    x.prompt = ids;
    x.n_prompt = n_prompt;
    a.gp.max_new_tokens = (int)a.max_new;
    a.gp.eos_ids = a.eos;
    a.gp.n_eos = a.n_eos;
    a.gp.stop = a.stop;
    a.gp.n_stop = a.n_stop;
    a.gp.n_top = a.n_probs;

    temper_context_params cp = temper_context_default_params();
    cp.n_ctx = n_prompt + (int)a.max_new;
    int batch = a.gp.num_return_sequences < GEN_BATCH ? a.gp.num_return_sequences : GEN_BATCH;
    cp.n_seq = a.gp.num_beams > batch ? a.gp.num_beams : batch;
    cp.n_threads = a.c.threads;
    if ((rc = temper_context_init(model, &cp, &ctx)) < 0) {
        rc = cli_lib_error(NULL, rc);
        goto done;
    }

    n_runs = a.n_temps ? a.n_temps : 1;
    for (int k = 0; k < n_runs; k++) runs[k].temperature = a.n_temps ? a.temps[k] : NAN;
    /* stream one sequence as it comes; several are printed at the end */
    bool streaming = !a.c.json && !a.n_temps && a.gp.num_beams == 1 &&
                     a.gp.num_return_sequences == 1;
    stream_state st = {.tok = x.tok, .color = x.color};
    temper_utf8_stream_reset(&st.u);
    temper_generate_params gps[GEN_MAX_TEMPS];
    for (int k = 0; k < n_runs; k++)
        if ((rc = prepare_run(&x, &runs[k], &gps[k])) != 0) goto done;
    gen_print_settings(&x, &runs[0]);
    for (int k = 0; k < n_runs && rc == 0; k++) {
        if (streaming)
            for (int i = 0; i < n_prompt; i++) emit(&st, ids[i], false);
        rc = run_once(&x, ctx, &runs[k], &gps[k], streaming ? &st : NULL);
        if (rc == 0 && a.n_temps && !a.c.json) gen_print_temp_block(&x, &runs[k]);
    }
    if (rc != 0) goto done;
    if (streaming) {
        char tail[16];
        int n = temper_utf8_stream_flush(&st.u, tail, sizeof tail);
        if (n > 0 && st.color && !st.colored) fputs(GEN_COLOR_GEN, stdout), st.colored = true;
        if (n > 0) fwrite(tail, 1, (size_t)n < sizeof tail ? (size_t)n : sizeof tail, stdout);
        if (st.colored) fputs(GEN_COLOR_OFF, stdout);
        putchar('\n');
    }
    if (a.c.json) gen_print_json(&x, runs, n_runs);
    else if (a.n_temps) gen_print_temps_summary(&x, runs, n_runs);
    else if (!streaming) gen_print_sequences(&x, &runs[0]);
    if (!a.c.json && a.n_probs > 0)
        for (int k = 0; k < n_runs; k++) gen_print_probs(&x, &runs[k]);
    gen_print_timings(&x, runs, n_runs);
done:
    for (int k = 0; k < GEN_MAX_TEMPS; k++) temper_generation_free(runs[k].g);
    free(ids);
    free(a.eos);
    cli_sampling_free(&a.samp);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
