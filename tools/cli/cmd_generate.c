/*
 * cmd_generate.c - `temper generate -m MODEL -n N PROMPT`: continue the
 * prompt one token at a time, printing the text as it comes (a token that
 * ends inside a UTF-8 character is held back until the character is whole).
 * Stops at the end-of-sequence token, after N new tokens, or at the context
 * window. Output: the prompt and its continuation as HF's
 * tokenizer.decode(output_ids, skip_special_tokens=True) gives it, then a
 * newline.
 *
 * The loop is: evaluate the prompt, then repeat { pick the next token from
 * the logits (one call: pick_next), emit it, evaluate it }. Decoding
 * controls (sampling, beams, logit processors) replace pick_next.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper generate -m MODEL [-n N] PROMPT\n\n"
               "Continue PROMPT with greedy decoding (the most probable token at each\n"
               "step), printing the text as it is produced.\n\n"
               "options:\n"
               "  -n, --max-new-tokens N new tokens at most (default 50)\n%s",
            cli_common_help);
}

/* The decoding step: the next token from the logits (V) of the last
 * position. Greedy: the highest logit, ties to the lowest id (torch.argmax). */
static temper_token pick_next(const float *logits, int n_vocab) {
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* Print id's text once its UTF-8 is complete; special tokens are skipped. */
static void emit(const temper_tokenizer *tok, temper_utf8_stream *s, temper_token id) {
    char buf[4096];
    if (!tok || temper_token_is_special(tok, id)) return;
    int n = temper_detokenize_stream(tok, s, id, buf, sizeof buf);
    if (n > 0) fwrite(buf, 1, (size_t)n < sizeof buf ? (size_t)n : sizeof buf, stdout);
    fflush(stdout);
}

static void print_json(const cli_common *c, const temper_tokenizer *tok,
                       const temper_token *ids, int n_prompt, int n_out, const char *stop) {
    cli_json j;
    cj_init(&j, stdout);
    cj_obj_begin(&j);
    cj_key(&j, "model"), cj_str(&j, c->model);
    cj_key(&j, "prompt_ids"), cj_arr_begin(&j);
    for (int k = 0; k < n_prompt; k++) cj_int(&j, ids[k]);
    cj_arr_end(&j);
    cj_key(&j, "ids"), cj_arr_begin(&j);
    for (int k = 0; k < n_out; k++) cj_int(&j, ids[n_prompt + k]);
    cj_arr_end(&j);
    char probe; /* cap 0: only the size is asked */
    int len = tok ? temper_detokenize(tok, ids + n_prompt, n_out,
                                      TEMPER_DETOKENIZE_SKIP_SPECIAL, &probe, 0) : -1;
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (text) temper_detokenize(tok, ids + n_prompt, n_out, TEMPER_DETOKENIZE_SKIP_SPECIAL,
                                text, (size_t)len + 1);
    cj_key(&j, "text");
    if (text) cj_strn(&j, text, (size_t)len);
    else cj_null(&j);
    free(text);
    cj_key(&j, "stop"), cj_str(&j, stop);
    cj_obj_end(&j);
    cj_finish(&j);
}

int cmd_generate(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* power sampling has its own loop (cmd_power.c) */
        if (strcmp(argv[i], "--power") == 0 || strncmp(argv[i], "--power=", 8) == 0)
            return cmd_generate_power(argc, argv);
    cli_common c = {0};
    long n_new = 50;
    for (int i = 1; i < argc;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if ((r = cli_opt(argv, argc, &i, "-n", "--max-new-tokens", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("-n", v, 0, INT32_MAX / 2, &n_new) < 0) return 2;
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            for (i++; i < argc; i++)
                if (cli_set_prompt(&c, argv[i]) != 0) return 2;
            break;
        }
        if (argv[i][0] == '-' && argv[i][1]) return cli_unknown_option("generate", argv[i]);
        if (cli_set_prompt(&c, argv[i++]) != 0) return 2;
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL; /* (n_prompt + n_new): the prompt, then the new tokens */
    float *logits = NULL;     /* (V) */
    int n_prompt = 0, n_out = 0, rc = cli_load_model(&c, &model);
    if (rc != 0) return rc;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n_prompt)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n_prompt, (int)n_new, mi.n_ctx)) != 0) goto done;
    if ((rc = cli_context_init(&c, model, n_prompt + (int)n_new, &ctx)) != 0) goto done;
    temper_token *grown = realloc(ids, (size_t)(n_prompt + n_new) * sizeof *ids);
    logits = malloc((size_t)mi.n_vocab * sizeof *logits);
    if (grown) ids = grown;
    if (!grown || !logits) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }

    temper_utf8_stream stream;
    temper_utf8_stream_reset(&stream);
    if (!c.json)
        for (int k = 0; k < n_prompt; k++) emit(tok, &stream, ids[k]);
    const char *stop = "length";
    int err = temper_eval(ctx, 0, ids, n_prompt, logits, 0);
    for (int step = 0; err >= 0 && step < n_new; step++) {
        temper_token next = pick_next(logits, mi.n_vocab);
        if (next == mi.eos_id) {
            stop = "eos";
            break;
        }
        ids[n_prompt + n_out++] = next;
        if (!c.json) emit(tok, &stream, next);
        if (step + 1 < n_new) err = temper_eval(ctx, 0, &next, 1, logits, 0);
    }
    if (err < 0) {
        rc = cli_lib_error("generate", err);
        goto done;
    }
    if (c.json) {
        print_json(&c, tok, ids, n_prompt, n_out, stop);
    } else {
        char tail[16];
        int n = temper_utf8_stream_flush(&stream, tail, sizeof tail);
        if (n > 0) fwrite(tail, 1, (size_t)n < sizeof tail ? (size_t)n : sizeof tail, stdout);
        putchar('\n');
    }
done:
    free(logits);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
