/*
 * cli.h - shared pieces of the `temper` command-line front-end: the command
 * table, common options (model, prompt, threads, JSON), and terminal
 * helpers. The JSON documents come from the library (temper_json_*).
 * The CLI is the only part of temper allowed to exit().
 */
#ifndef TEMPER_CLI_H
#define TEMPER_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "temper.h"

/* ---- commands: each returns the process exit code (0 ok, 1 error, 2 usage) */
int cmd_info(int argc, char **argv);
int cmd_probs(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_softmax(int argc, char **argv);
/* `generate --power ALPHA`: power sampling (cmd_power.c) */
int cmd_generate_power(int argc, char **argv);
/* Hugging Face cache (cmd_pull.c) */
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);
/* temper_model_params.progress of the CLI's loads: temper_model_load
 * downloads a Hub id missing from the cache (unless offline) and reports
 * here; the first call says so on stderr (user: the model's name), then
 * the progress shows as `temper pull` shows it. */
int cli_load_progress(const temper_pull_progress *p, void *user);

/* -q/--quiet: no information lines on stderr (errors are still printed). */
extern bool cli_quiet;

/* ---- "did you mean" (cli_suggest.c) */
/* The command being run (set by main), whose --help names its options. */
extern int (*cli_current_run)(int argc, char **argv);
/* The name of names (n) closest to word by edit distance when close
 * enough to be a typo, else NULL. */
const char *cli_closest(const char *word, const char *const *names, int n);
/* The option of the current command's --help closest to arg, into out. */
bool cli_closest_option(const char *arg, char *out, size_t cap);

/* ---- defaults shared by every command (docs/cli.md, "Defaults") */
#define CLI_DEFAULT_MAX_NEW 20 /* -n: transformers' max_new_tokens default */
/* The seed when -s is not given: a fresh one from the system, shown when
 * sampling uses it (greedy uses none). */
uint64_t cli_random_seed(void);

/* ---- info from config.json alone (cli_config_info.c) */
/* True when dir has config.json and no weight files. */
bool cli_config_only(const char *dir);
/* The facts of dir/config.json into mi (parameters from the sizes for
 * GPT-2, OPT, Llama; 0 otherwise); arch and dtype hold its strings.
 * Returns 0 or 1 (message printed). */
int cli_config_info(const char *dir, temper_model_info *mi, char *arch, size_t arch_cap,
                    char *dtype, size_t dtype_cap);

/* ---- errors: "temper: <msg>" on stderr */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "temper: <what>: <temper_last_error()>" (what NULL: just the
 * library's message, which names the file and the fix) and return 1. */
int cli_lib_error(const char *what, int rc);
/* "temper: warning: <msg>" on stderr (also with -q, as transformers warns). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- common options shared by the commands that take a model and a prompt */
typedef struct cli_common {
    const char *model;       /* -m/--model: folder or Hub id */
    const char *tokenizer;   /* --tokenizer/-z: tokenizer path (optional) */
    const char *quantize;    /* --quantize: "q8" or NULL (weights as in the file) */
    const char *file;        /* -f/--file: prompt file */
    const char *prompt_ids;  /* --prompt-ids 1,2,3 */
    const char *prompt;      /* positional text (or -p/--prompt) */
    int threads;             /* -t/--threads, 0 = all cores */
    bool json;               /* --json */
    bool truncate;           /* --truncate: drop tokens from the left to fit */
    bool offline;            /* --offline: never download */
} cli_common;

/* Argument loop convention (every command):
 *
 *     cli_common c = {0};
 *     for (int i = 1; i < argc;) {          // argv[0] is the command name
 *         const char *v;
 *         int r = cli_parse_common(&c, &i, argc, argv);
 *         if (r < 0) return 2;              // message already printed
 *         if (r > 0) continue;              // i already moved past it
 *         if ((r = cli_opt(argv, argc, &i, NULL, "--top", &v)) != 0) { ... continue; }
 *         ...positional argument argv[i]: use it, then i++
 *     }
 *
 * Helpers that print their own message return 0 or the exit code to return
 * (1 runtime error, 2 usage error) unless said otherwise. */

/* If argv[*i] is a common option, consume it (and its value), move *i past
 * both and return 1 (the caller must not increment *i again); return 0 if
 * it is not one; -1 (message printed) if its value is missing or invalid. */
int cli_parse_common(cli_common *c, int *i, int argc, char **argv);

/* Match option argv[*i] against short_name ("-n", may be NULL) and
 * long_name ("--top"); accepts "--top 5", "--top=5" and "-n 5". On a match
 * set *value, move *i past the option and its value and return 1; 0: not
 * this option; -1: the value is missing (message printed). */
int cli_opt(char **argv, int argc, int *i, const char *short_name,
            const char *long_name, const char **value);
/* Match a flag without value; on a match move *i past it and return 1. */
int cli_flag(char **argv, int *i, const char *short_name,
             const char *long_name);
/* Record a positional prompt; 2 (message printed) if one is already set. */
int cli_set_prompt(cli_common *c, const char *text);
/* "temper: <cmd>: unknown option "<arg>": run 'temper <cmd> --help'"; 2. */
int cli_unknown_option(const char *cmd, const char *arg);
/* The end of an argument loop, for argv[*i] that no option matched: "--"
 * makes every later argument the prompt (*i = argc), another "-x" is an
 * unknown option of cmd, anything else is the positional prompt (*i moves
 * past it). Returns 0, or 2 with the message printed. */
int cli_prompt_arg(cli_common *c, const char *cmd, int *i, int argc, char **argv);
/* Help text of the common options (for the commands' --help): the model
 * and output options, and the prompt options (-p, -f, --prompt-ids,
 * --truncate) for the commands that take one prompt. */
extern const char cli_common_help[];
extern const char cli_prompt_help[];

/* Load the model named by c->model (cli_model.c): a folder or file, a
 * bundled model (stories260K), else a Hub id. Without -m, c->model is set
 * to the default ($TEMPER_MODEL, else gpt2 when cached, else stories260K)
 * and one stderr line names it. Returns 0, or 1 (error printed). */
int cli_load_model(cli_common *c, temper_model **out);
/* The folder of the bundled model name (models/NAME beside the build tree,
 * or PREFIX/share/temper/models/NAME) into out (cap): 1 found, 0 not. */
int cli_bundled_model(const char *name, char *out, size_t cap);

/* A context for one sequence of n_ctx positions with c->threads threads. */
int cli_context_init(const cli_common *c, temper_model *model, int n_ctx,
                     temper_context **out);

/* The prompt as token ids, from --prompt-ids, -f FILE or the text.
 * *ids is malloc'd and owned by the caller. Error printed on failure.
 * Text is tokenized with TEMPER_TOKENIZE_ADD_SPECIAL (as HF tokenizer(text)
 * does by default). tok may be NULL (then only --prompt-ids works). */
int cli_prompt_ids(const cli_common *c, const temper_tokenizer *tok,
                   temper_token **ids, int *n);

/* Make a prompt of *n ids plus n_new new tokens fit in n_ctx positions:
 * with c->truncate drop ids from the left of ids (said on stderr), else
 * print an error and return 1. */
int cli_fit_context(const cli_common *c, temper_token *ids, int *n, int n_new,
                    int n_ctx);

/* Parse "1,2,3", "1 2 3" or "[1, 2, 3]" into a malloc'd array owned by the
 * caller. Returns 0, or -1 with a message printed. */
int cli_parse_ids(const char *s, temper_token **ids, int *n);
/* The whole of path ("-": stdin) into a malloc'd, NUL-terminated buffer
 * owned by the caller (*len bytes before the NUL). what names the file
 * and opt the option that gave it, for the error. The file must be a
 * regular file (stdin excepted) of at most CLI_MAX_FILE bytes, and text:
 * a NUL byte is an error. Returns 0 or 1. */
#define CLI_MAX_FILE ((size_t)1 << 30)
int cli_read_file(const char *path, const char *what, const char *opt, char **out,
                  size_t *len);
/* s (n bytes, at most max of them) with the bytes that are not printable
 * ASCII as \xHH, in buf (cap bytes), for error messages. Returns buf. */
const char *cli_printable(const char *s, size_t n, size_t max, char *buf, size_t cap);

/* Parse numbers strictly: the whole string, finite unless allow_inf.
 * Return 0, or -1 (nothing printed). */
int cli_parse_int(const char *s, long *out);
int cli_parse_double(const char *s, double *out, bool allow_inf);
/* Parse the value of option opt as an integer in [lo, hi]; returns 0, or
 * -1 with "temper: <opt>: ..." printed. */
int cli_parse_int_opt(const char *opt, const char *s, long lo, long hi,
                      long *out);

/* Write token bytes with visible whitespace: ' ' as '␣', '\n' as "\\n",
 * '\t' as "\\t", '\r' as "\\r", other control bytes as \xNN; invalid
 * UTF-8 as \xNN; characters that show blank (no-break space, zero-width
 * space, C1 controls...) as \uNNNN. On a colour terminal the markers are
 * dimmed. */
void cli_print_visible(FILE *f, const char *bytes, size_t len);
/* Same into a buffer; returns needed size (snprintf rule). */
size_t cli_visible(char *buf, size_t cap, const char *bytes, size_t len);
/* Display width in terminal columns of a UTF-8 string. */
int cli_display_width(const char *s);

/* HF tokenizer.decode(ids, skip_special_tokens=True) as a malloc'd
 * NUL-terminated string owned by the caller ("" without a tokenizer; NULL:
 * out of memory). */
char *cli_detok(const temper_tokenizer *tok, const temper_token *ids, int n);
/* HF tokenizer.decode(prompt + ids, skip_special_tokens=True), decoded
 * together so that the space or character at the seam is right, as a
 * malloc'd string owned by the caller ("" without a tokenizer; NULL: out of
 * memory). *cut (may be NULL): the bytes it shares with the prompt's own
 * decode, where the continuation starts. */
char *cli_decode_continued(const temper_tokenizer *tok, const temper_token *prompt, int n_prompt,
                           const temper_token *ids, int n, size_t *cut);
/* Write s as Python's repr(s) does: quotes, escapes, non-printables as
 * \xNN, \uNNNN or \UNNNNNNNN (a token list reads as in a notebook). */
void cli_print_pyrepr(FILE *f, const char *s);

/* A bar of p * width columns in eighths of a column (U+2588..U+258F),
 * padded with spaces to width when pad. */
void cli_print_bar(FILE *f, double p, int width, bool pad);
/* Seconds of a monotonic clock. */
double cli_now(void);
/* A list of temperatures ("1.0,0.7,0.5", commas or spaces) into out (at
 * most max): the count, or -1 with "--temps ..." printed; example: a list
 * for the message. */
int cli_parse_temps(const char *text, double *out, int max, const char *example);

/* True when stdout is a terminal and NO_COLOR is unset. */
bool cli_use_color(FILE *f);

/* ---- --json: the library writes every document (temper_json_*); this
 * ends it (newline, flush), frees j and returns 0, or 1 with the error
 * printed. */
int cli_json_end(temper_json *j);

/* ---- analysis commands (cmd_score.c, cmd_perplexity.c, cmd_attention.c,
 * cmd_hidden.c, cmd_trace.c) and their shared pieces (cli_analysis.c) */
int cmd_score(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_hidden(int argc, char **argv);
int cmd_trace(int argc, char **argv);
/* tokenizer.decode([id]) into buf (cap), "<id>" when it cannot. */
void cli_an_token_text(const temper_tokenizer *tok, temper_token id, char *buf, size_t cap);
/* The token's bytes with visible whitespace (special tokens by name), cut
 * to width display columns with a final "…" (width <= 0: no cut). */
void cli_an_token_label(const temper_tokenizer *tok, temper_token id, int width, char *buf,
                        size_t cap);
/* Copy s into out (cap) keeping at most width display columns (<= 0: all);
 * a cut string ends with "…". */
void cli_an_fit(const char *s, int width, char *out, size_t cap);
/* A whole text for a table: control characters escaped ("\\n"), spaces
 * kept, cut to width columns (<= 0: all; at most ~4000 bytes shown). */
void cli_an_quote(const char *text, int width, char *out, size_t cap);
/* Columns of the terminal: $COLUMNS, else the tty's, else 80. */
int cli_an_term_width(void);
/* Index v of count things, negative from the end (-1: the last); -1 when
 * out of range. */
int cli_an_resolve(long v, int count);
/* The model's BOS id, else its EOS id; 2 (message printed) if neither. */
int cli_an_bos(const temper_model *model, temper_token *bos);
/* Put bos in front of the malloc'd *ids (n), unless it is there already. */
int cli_an_prepend(temper_token **ids, int *n, temper_token bos);
/* One text (or "1,2,3" ids_text when text is NULL) to malloc'd ids owned
 * by the caller, as cli_prompt_ids does. */
int cli_an_text_ids(const cli_common *c, const temper_tokenizer *tok, const char *text,
                    const char *ids_text, temper_token **ids, int *n);

/* ---- decoding options of softmax and generate (cli_sampling.c) */
#define CLI_MAX_PARAMS 64 /* entries of temper_params() */
typedef struct cli_sampling {
    temper_sampling_params p;  /* transformers' defaults, then the flags */
    bool given[CLI_MAX_PARAMS];/* per entry of temper_params(): given on the command line */
    temper_logit_bias *bias;   /* (n_bias) owned; p.logit_bias points here */
    int n_bias;
    temper_token *suppress;    /* (n_suppress) owned; p.suppress_tokens too */
    int n_suppress;
} cli_sampling;

void cli_sampling_init(cli_sampling *s);
void cli_sampling_free(cli_sampling *s);
/* If argv[*i] is a decoding option, consume it as cli_opt does and return
 * 1; 0: not one; -1: bad value (message printed). The numeric options are
 * those of the parameter table (temper_params()) that live in
 * temper_sampling_params, under the table's flags. */
int cli_sampling_opt(cli_sampling *s, int *i, int argc, char **argv);
/* Whether the parameter named name (temper_params()) was given. */
bool cli_sampling_given(const cli_sampling *s, const char *name);
/* Mark it as not given (its value stays). */
void cli_sampling_forget(cli_sampling *s, const char *name);
/* Whether any stage option was given (a numeric one, a logit bias,
 * suppressed tokens or a stage list). */
bool cli_sampling_any(const cli_sampling *s);
/* The parameters of the table that cli_sampling_opt parses. */
bool cli_sampling_param(const temper_param *d);
/* Help text of the decoding options. */
extern const char cli_sampling_help[];

/* ---- projections (cli_project.c): --project pca|tsne|umap|none, --pca,
 * and one flag per entry of temper_project_params_table() */
#define CLI_MAX_PROJECT_PARAMS 16
typedef struct cli_project {
    temper_project_params p;  /* method and parameters */
    bool on;                  /* a projection was asked */
    bool given[CLI_MAX_PROJECT_PARAMS]; /* table entries given */
} cli_project;
void cli_project_init(cli_project *pr);
/* 1: argv[*i] was a projection option (consumed); 0: not one; -1: bad
 * value (message printed). */
int cli_project_opt(cli_project *pr, int *i, int argc, char **argv);
/* After the loop: -1 (message printed) if a parameter was given that the
 * method does not use, or without --project. */
int cli_project_check(const cli_project *pr);
void cli_project_help(FILE *f);

/* ---- --svg FILE (cli_svg.c) */
/* 1: argv[*i] was --svg FILE (*path set); 0: not it; -1: message printed. */
int cli_svg_opt(const char **path, int *i, int argc, char **argv);
/* Write svg (len bytes from a temper_svg_* call, or its negative error)
 * to path ('-': stdout) and free it. Returns 0 or 1 (message printed). */
int cli_svg_save(const char *path, int len, char *svg, const char *what);

#endif
