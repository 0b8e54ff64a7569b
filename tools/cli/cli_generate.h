/*
 * cli_generate.h - private to `temper generate`: its options (gen_args),
 * the result of one run at one temperature (gen_run), and the printers of
 * cli_generate_out.c (settings line, --n-probs table, sequences, the
 * --temps experiment, --json).
 */
#ifndef TEMPER_CLI_GENERATE_H
#define TEMPER_CLI_GENERATE_H

#include "cli.h"

#define GEN_MAX_TEMPS 16
#define GEN_MAX_STOP 32
#define GEN_MAX_TOP 64 /* temper_generate_params.n_top at most */
#define GEN_BATCH 512  /* sequences decoded together (a context's slots); more run in batches */

#define GEN_COLOR_GEN "\x1b[36m" /* generated text, on a terminal */
#define GEN_COLOR_DIM "\x1b[2m"
#define GEN_COLOR_OFF "\x1b[0m"

typedef struct gen_args {
    cli_common c;
    cli_sampling samp;          /* processors and warpers (cli_sampling.c) */
    temper_generate_params gp;  /* gp.sampling is copied from samp.p per run */
    struct {                    /* given on the command line */
        bool do_sample, greedy, max_new, nrs, beams, length_penalty,
            early_stopping, min_new, seed;
    } set;
    const char *sampling_flag;  /* the first flag that turned sampling on */
    long max_new;               /* -n; -1: until the context window */
    double temps[GEN_MAX_TEMPS];/* --temps */
    int n_temps;
    const char *stop[GEN_MAX_STOP]; /* --stop, borrowed from argv */
    int n_stop;
    int n_probs;                /* --n-probs K */
    temper_token *eos;          /* (n_eos) owned: generation_config's list; NULL: the model's */
    int n_eos;
    char from_config[512];      /* generation_config.json keys used: "do_sample,top_p" */
    char notes[256];            /* adjustments said on the settings line */
} gen_args;

/* One temperature's generation (the only one without --temps). */
typedef struct gen_run {
    double temperature;         /* NAN: the one of samp.p (no --temps) */
    int greedy;                 /* the sampler takes the argmax */
    char stages[256];           /* temper_sampler_describe() */
    temper_generation *g;       /* owned */
    int distinct;               /* distinct texts among g's sequences */
} gen_run;

/* Facts the printers need besides the options. */
typedef struct gen_ctx {
    const gen_args *a;
    const temper_tokenizer *tok; /* may be NULL (--prompt-ids without tokenizer) */
    temper_model_info mi;
    const temper_token *prompt;  /* (n_prompt) */
    int n_prompt;
    bool color;                  /* stdout is a terminal */
} gen_ctx;

/* ---- cli_generate_opts.c */
/* Parse argv into a (zero it, cli_sampling_init and the defaults first).
 * Returns 0 to go on (*help set: print the usage), else the exit code. */
int gen_parse_args(gen_args *a, int argc, char **argv, bool *help);
/* Fill what the command line left out from the model's generation
 * defaults (temper_model_generate_defaults: generation_config.json, every
 * EOS id). Returns 0 or 1 (message printed). */
int gen_apply_generation_config(gen_args *a, const temper_model *model);
/* Decide greedy / sampling / beams and check every value. Returns 0 or 2
 * (one line printed). Before the model is loaded (final false) only what
 * generation_config.json cannot change is checked; call it again with
 * final true after gen_apply_generation_config. */
int gen_resolve_mode(gen_args *a, bool final);

/* ---- cli_generate_out.c */
/* "eos", "length" or "stop" (the context window counts as length). */
const char *gen_finish_name(int finish_reason);

/* The one stderr line "temper: settings: mode=... seed=... ..." */
void gen_print_settings(const gen_ctx *x, const gen_run *run);
/* Text of every sequence of run (the prompt first), numbered when more
 * than one; beam scores shown. */
void gen_print_sequences(const gen_ctx *x, const gen_run *run);
/* Seed 001's table for every sequence of run, with the --n-probs
 * alternatives: raw and processed probabilities. */
void gen_print_probs(const gen_ctx *x, const gen_run *run);
/* The --temps experiment: one temperature's outputs and distinct count
 * (printed as each run ends), then the summary line of every run. */
void gen_print_temp_block(const gen_ctx *x, const gen_run *run);
void gen_print_temps_summary(const gen_ctx *x, const gen_run *runs, int n_runs);
/* The whole --json document on stdout. */
void gen_print_json(const gen_ctx *x, const gen_run *runs, int n_runs);
/* "temper: N tokens in ... s (... tok/s) ..." on stderr. */
void gen_print_timings(const gen_ctx *x, const gen_run *runs, int n_runs);

#endif
