/*
 * cli_generate_out.c - what `temper generate` prints: the settings line
 * (stderr), the sequences, seed 001's probability table (--n-probs), the
 * --temps experiment, the --json document and the timings (stderr).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_generate.h"

#define LABEL_WIDTH 24       /* columns of a token in the table */

const char *gen_finish_name(int finish_reason) {
    switch (finish_reason) {
    case TEMPER_FINISH_EOS: return "eos";
    case TEMPER_FINISH_STOP: return "stop";
    default: return "length"; /* max_new_tokens or the context window */
    }
}

static const char *mode_name(const gen_ctx *x, const gen_run *run) {
    if (x->a->gp.num_beams > 1) return "beam_search";
    if (x->a->n_temps) return "sampling";
    return run->greedy ? "greedy" : "sampling";
}

static const char *early_name(int e) {
    return e == TEMPER_EARLY_STOPPING_TRUE ? "true"
           : e == TEMPER_EARLY_STOPPING_NEVER ? "never" : "false";
}

/* The EOS ids in effect: generation_config.json's list, else the model's. */
static int eos_ids(const gen_ctx *x, const temper_token **ids) {
    static temper_token one;
    if (x->a->eos) {
        *ids = x->a->eos;
        return x->a->n_eos;
    }
    one = x->mi.eos_id;
    *ids = &one;
    return x->mi.eos_id >= 0;
}

/* ---- settings (stderr) ---------------------------------------------------- */

/* The settings given by flags, as generation_config.json keys. */
static void flag_keys(const gen_args *a, char *buf, size_t cap) {
    const struct { bool set; const char *key; } k[] = {
        {a->set.max_new, "max_new_tokens"}, {a->set.min_new, "min_new_tokens"},
        {a->set.nrs, "num_return_sequences"}, {a->set.beams, "num_beams"},
        {a->set.length_penalty, "length_penalty"}, {a->set.early_stopping, "early_stopping"},
        {a->set.seed, "seed"},
    };
    size_t n = 0;
    buf[0] = '\0';
    if (a->set.do_sample || a->set.greedy) n += (size_t)snprintf(buf, cap, "do_sample");
    int np;
    const temper_param *t = temper_params(&np);
    for (int q = 0; q < np && n < cap; q++) /* the decoding stages, in the table's order */
        if (cli_sampling_param(&t[q]) && cli_sampling_given(&a->samp, t[q].name))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", t[q].name);
    for (size_t q = 0; q < sizeof k / sizeof k[0] && n < cap; q++)
        if (k[q].set) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", k[q].key);
}

void gen_print_settings(const gen_ctx *x, const gen_run *run) {
    const gen_args *a = x->a;
    const temper_sampling_params *p = &a->samp.p;
    const temper_generate_params *g = &a->gp;
    bool beams = g->num_beams > 1, sampling = a->n_temps || (!run->greedy && !beams);
    FILE *f = stderr;
    if (cli_quiet) return;
    fprintf(f, "temper: settings: mode=%s", mode_name(x, run));
    if (sampling) fprintf(f, " seed=%llu", (unsigned long long)g->seed); /* greedy, beams: none used */
    if (a->n_temps) {
        fputs(" temperatures=", f);
        for (int k = 0; k < a->n_temps; k++) fprintf(f, "%s%g", k ? "," : "", a->temps[k]);
    } else if (sampling) {
        fprintf(f, " temperature=%g", (double)p->temperature);
    }
    if (sampling) fprintf(f, " top_k=%d top_p=%g", p->top_k, (double)p->top_p);
    if (sampling && p->min_p != 0) fprintf(f, " min_p=%g", (double)p->min_p);
    if (sampling && p->typical_p != 1) fprintf(f, " typical_p=%g", (double)p->typical_p);
    if (sampling && p->epsilon_cutoff != 0)
        fprintf(f, " epsilon_cutoff=%g", (double)p->epsilon_cutoff);
    if (sampling && p->eta_cutoff != 0) fprintf(f, " eta_cutoff=%g", (double)p->eta_cutoff);
    if (sampling && p->min_keep != 1) fprintf(f, " min_keep=%d", p->min_keep);
    if (p->repetition_penalty != 1)
        fprintf(f, " repetition_penalty=%g", (double)p->repetition_penalty);
    if (p->presence_penalty != 0) fprintf(f, " presence_penalty=%g", (double)p->presence_penalty);
    if (p->frequency_penalty != 0)
        fprintf(f, " frequency_penalty=%g", (double)p->frequency_penalty);
    if (p->no_repeat_ngram_size) fprintf(f, " no_repeat_ngram_size=%d", p->no_repeat_ngram_size);
    if (p->min_new_tokens) fprintf(f, " min_new_tokens=%d", p->min_new_tokens);
    for (int k = 0; k < p->n_logit_bias; k++)
        fprintf(f, "%s%d:%g", k ? "," : " logit_bias=", p->logit_bias[k].id,
                (double)p->logit_bias[k].bias);
    for (int k = 0; k < p->n_suppress; k++)
        fprintf(f, "%s%d", k ? "," : " suppress_tokens=", p->suppress_tokens[k]);
    if (p->samplers) fprintf(f, " samplers=%s", p->samplers);
    else if (p->order == TEMPER_ORDER_LLAMA_CPP) fputs(" order=llama.cpp", f);
    fprintf(f, " stages=%s", run->stages[0] ? run->stages : "none");
    fprintf(f, " max_new_tokens=%d num_return_sequences=%d", g->max_new_tokens,
            g->num_return_sequences);
    if (beams)
        fprintf(f, " num_beams=%d length_penalty=%g early_stopping=%s", g->num_beams,
                (double)g->length_penalty, early_name(g->early_stopping));
    const temper_token *eos;
    int n_eos = eos_ids(x, &eos);
    if (g->ignore_eos) fputs(" ignore_eos", f);
    for (int k = 0; !g->ignore_eos && k < n_eos; k++) fprintf(f, "%s%d", k ? "," : " eos=", eos[k]);
    if (a->n_stop) fprintf(f, " stop=%d string%s", a->n_stop, a->n_stop > 1 ? "s" : "");
    char flags[512];
    flag_keys(a, flags, sizeof flags);
    if (flags[0]) fprintf(f, " (flags: %s)", flags);
    if (a->from_config[0]) fprintf(f, " (generation_config.json: %s)", a->from_config);
    fputs(" (the rest: transformers' defaults)", f);
    if (a->notes[0]) fprintf(f, " (%s)", a->notes);
    fputc('\n', f);
}

/* ---- sequences --------------------------------------------------------- */

/* Prompt text then the generated text (coloured on a terminal). The two
 * are decoded together so that a character split at the boundary is whole. */
static void print_text(const gen_ctx *x, const temper_sequence *s) {
    size_t cut;
    char *whole = cli_decode_continued(x->tok, x->prompt, x->n_prompt, s->ids, s->n_ids, &cut);
    if (whole) {
        fwrite(whole, 1, cut, stdout);
        if (x->color) fputs(GEN_COLOR_GEN, stdout);
        fputs(whole + cut, stdout);
        if (x->color) fputs(GEN_COLOR_OFF, stdout);
    }
    free(whole);
}

void gen_print_sequences(const gen_ctx *x, const gen_run *run) {
    const temper_generation *g = run->g;
    for (int i = 0; i < g->n_seqs; i++) {
        const temper_sequence *s = &g->seqs[i];
        if (x->color) fputs(GEN_COLOR_DIM, stdout);
        printf("[%d]", i + 1);
        if (!isnan(s->score)) printf(" score=%.6f", s->score);
        printf(" (%s)", gen_finish_name(s->finish_reason));
        if (x->color) fputs(GEN_COLOR_OFF, stdout);
        putchar(' ');
        print_text(x, s);
        putchar('\n');
    }
}

/* ---- --n-probs table ------------------------------------------------------ */

static void print_cells(double lp, double lpp, bool proc) {
    printf(" %9.6f %10.6f", exp(lp), lp);
    if (!proc) return;
    if (lpp == -INFINITY) printf(" %9.6f %10s", 0.0, "-inf");
    else printf(" %9.6f %10.6f", exp(lpp), lpp);
}

static void print_label(const gen_ctx *x, temper_token id, int w) {
    char label[256];
    cli_an_token_label(x->tok, id, w, label, sizeof label);
    fputs(label, stdout);
    for (int k = cli_display_width(label); k < w; k++) putchar(' ');
}

/* Whether any processor changed a probability the table shows: else the
 * processed columns would only repeat the raw ones. */
static bool processed_differs(const temper_generation *g) {
    int K = g->n_top;
    for (int i = 0; i < g->n_seqs; i++) {
        const temper_sequence *s = &g->seqs[i];
        for (int k = 0; k < s->n_ids; k++) {
            if (s->probs[k].logprob != s->probs[k].logprob_processed) return true;
            for (int j = 0; j < K; j++) {
                const temper_token_prob *t = &s->top[(size_t)k * K + j];
                if (t->id >= 0 && t->logprob != t->logprob_processed) return true;
            }
        }
    }
    return false;
}

void gen_print_probs(const gen_ctx *x, const gen_run *run) {
    const temper_generation *g = run->g;
    int K = g->n_top;
    bool beams = x->a->gp.num_beams > 1, proc = processed_differs(g);
    if (!isnan(run->temperature)) printf("\nT=%g", run->temperature);
    printf("\np = raw: softmax of the model's logits");
    if (!proc) printf(" (no processor changes it)\n");
    else printf("; p proc = processed: after %s%s\n", run->stages,
                beams ? " on log-softmax (beam search scores)"
                : run->greedy ? " (greedy takes its argmax)" : ": the distribution sampled");
    for (int i = 0; i < g->n_seqs; i++) {
        const temper_sequence *s = &g->seqs[i];
        int w = 5; /* the token column: its widest label, at most LABEL_WIDTH */
        for (int k = 0; k < s->n_ids; k++)
            for (int j = -1; j < K; j++) {
                temper_token id = j < 0 ? s->ids[k] : s->top[(size_t)k * K + j].id;
                char label[256];
                if (id < 0) continue;
                cli_an_token_label(x->tok, id, LABEL_WIDTH, label, sizeof label);
                int lw = cli_display_width(label);
                w = lw > w ? lw : w;
            }
        if (g->n_seqs > 1) printf("\nsequence %d\n", i + 1);
        printf("step  %-*s %9s %10s", w + (K ? 4 : 0), "token", "p", "logp");
        if (proc) printf(" %9s %10s", "p proc", "logp proc");
        putchar('\n');
        for (int k = 0; k < s->n_ids; k++) {
            printf("%4.2d  ", k + 1); /* "  01", as seed 001 numbers the steps */
            print_label(x, s->ids[k], w + (K ? 4 : 0));
            print_cells(s->probs[k].logprob, s->probs[k].logprob_processed, proc);
            putchar('\n');
            const temper_token_prob *top = &s->top[(size_t)k * K];
            if (K == 1 && top[0].id == s->ids[k]) continue; /* the row above again */
            for (int j = 0; j < K; j++) { /* the alternatives, indented under the token */
                const temper_token_prob *t = &top[j];
                if (t->id < 0) break;
                if (x->color) fputs(GEN_COLOR_DIM, stdout);
                printf("      %c%2d ", t->id == s->ids[k] ? '*' : ' ', j + 1);
                print_label(x, t->id, w);
                print_cells(t->logprob, t->logprob_processed, proc);
                if (x->color) fputs(GEN_COLOR_OFF, stdout);
                putchar('\n');
            }
        }
    }
    if (K > 1) printf("(*: the chosen token among the %d most likely by raw probability)\n", K);
    else if (K == 1) printf("(rows under a step: the most likely token by raw probability, when "
                            "it was not chosen)\n");
}

/* ---- --temps ------------------------------------------------------------- */

void gen_print_temp_block(const gen_ctx *x, const gen_run *run) {
    const temper_generation *g = run->g;
    printf("T=%g (%s; stages %s) %d sequence%s\n", run->temperature,
           run->greedy ? "greedy" : "sampling", run->stages[0] ? run->stages : "none",
           g->n_seqs, g->n_seqs > 1 ? "s" : "");
    for (int i = 0; i < g->n_seqs; i++) {
        printf("  %d. ", i + 1);
        print_text(x, &g->seqs[i]);
        putchar('\n');
    }
    printf("  distinct outputs: %d/%d\n\n", run->distinct, g->n_seqs);
    fflush(stdout);
}

void gen_print_temps_summary(const gen_ctx *x, const gen_run *runs, int n_runs) {
    printf("distinct outputs per temperature (seed %llu):",
           (unsigned long long)x->a->gp.seed);
    for (int k = 0; k < n_runs; k++)
        printf("%s T=%g %d/%d", k ? " \u00b7" : "", runs[k].temperature, runs[k].distinct,
               runs[k].g->n_seqs);
    putchar('\n');
}

/* ---- --json ------------------------------------------------------------- */

void gen_print_json(const gen_ctx *x, const gen_run *runs, int n_runs) {
    const gen_args *a = x->a;
    temper_generate_params p = a->gp; /* the settings as given, the lists included */
    p.sampling = a->samp.p;
    p.sampling.do_sample = p.sampling.do_sample || a->n_temps;
    p.stop = a->stop;
    p.n_stop = a->n_stop;
    p.n_top = a->n_probs;
    temper_json_run jr[GEN_MAX_TEMPS];
    for (int k = 0; k < n_runs && k < GEN_MAX_TEMPS; k++)
        jr[k] = (temper_json_run){.temperature = runs[k].temperature, .greedy = runs[k].greedy,
                                  .stages = runs[k].stages, .g = runs[k].g,
                                  .distinct = runs[k].distinct};
    temper_json_generation d = {
        .model = a->c.model, .tok = x->tok, .prompt = x->prompt, .n_prompt = x->n_prompt,
        .params = &p, .mode = mode_name(x, &runs[0]),
        .temperatures = a->n_temps ? a->temps : NULL, .n_temperatures = a->n_temps,
        .runs = jr, .n_runs = n_runs < GEN_MAX_TEMPS ? n_runs : GEN_MAX_TEMPS,
        .from_config = a->from_config, .notes = a->notes, .load_seconds = x->mi.load_seconds};
    d.n_eos = eos_ids(x, &d.eos);
    temper_json *j = temper_json_new(stdout);
    temper_json_generate(j, &d);
    cli_json_end(j);
}

/* Sums over the runs (one per temperature). */
typedef struct gen_totals {
    double prompt_s, decode_s;
    long long n_generated;
} gen_totals;

static gen_totals totals(const gen_run *runs, int n_runs) {
    gen_totals t = {0};
    for (int k = 0; k < n_runs; k++) {
        const temper_generation *g = runs[k].g;
        t.prompt_s += g->prompt_seconds;
        t.decode_s += g->decode_seconds;
        for (int i = 0; i < g->n_seqs; i++) t.n_generated += g->seqs[i].n_ids;
    }
    return t;
}

void gen_print_timings(const gen_ctx *x, const gen_run *runs, int n_runs) {
    gen_totals t = totals(runs, n_runs);
    if (cli_quiet) return;
    fflush(stdout);
    fprintf(stderr, "temper: %lld new tokens in %.3f s", t.n_generated, t.decode_s);
    if (t.decode_s > 0) fprintf(stderr, " (%.1f tok/s)", (double)t.n_generated / t.decode_s);
    fprintf(stderr, "; prompt %d tokens in %.1f ms", x->n_prompt, 1e3 * t.prompt_s);
    if (n_runs == 1 && runs[0].g->n_seqs == 1) {
        const temper_sequence *s = &runs[0].g->seqs[0];
        fprintf(stderr, "; finish: %s", s->finish_reason == TEMPER_FINISH_CONTEXT
                                            ? "context window full"
                                            : gen_finish_name(s->finish_reason));
    }
    fputc('\n', stderr);
}
