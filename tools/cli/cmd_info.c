/*
 * cmd_info.c - `temper info -m MODEL [--json]`: what the model is (the
 * numbers the seed notebooks print after from_pretrained) and how long it
 * took to load.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper info -m MODEL [--json]\n\n"
               "Architecture, parameter count, layers, heads, embedding size, vocabulary,\n"
               "context window, weight dtype, file size and load time of a model.\n\n"
               "options:\n%s", cli_common_help);
}

/* 124439808 -> "124,439,808" */
static const char *grouped(char *buf, size_t cap, unsigned long long v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v), o = 0;
    for (int k = 0; k < n && (size_t)o + 2 < cap; k++) {
        if (k > 0 && (n - k) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[k];
    }
    buf[o] = '\0';
    return buf;
}

/* 1234567 -> "1.2 M" (SI prefixes, as parameter counts are usually given) */
static const char *si(char *buf, size_t cap, double v, const char *unit) {
    const char *prefix[] = {"", "k", "M", "G", "T"};
    int p = 0;
    while (v >= 1000 && p < 4) v /= 1000, p++;
    snprintf(buf, cap, p ? "%.1f %s%s" : "%.0f %s%s", v, prefix[p], unit);
    return buf;
}

static void print_json(const cli_common *c, const temper_model_info *mi, bool config_only) {
    temper_json *j = temper_json_new(stdout);
    temper_json_model_info(j, c->model, mi, !config_only);
    cli_json_end(j);
}

static void print_text(const cli_common *c, const temper_model_info *mi, bool config_only) {
    char a[64], b[64];
    bool color = cli_use_color(stdout);
    const char *bold = color ? "\x1b[1m" : "", *plain = color ? "\x1b[0m" : "";
    printf("%smodel%s          %s\n", bold, plain, c->model);
    if (mi->path && strcmp(mi->path, c->model) != 0) printf("path           %s\n", mi->path);
    printf("architecture   %s\n", mi->arch ? mi->arch : "?");
    if (config_only && mi->n_params == 0)
        printf("parameters     ? (not computed from config.json for %s)\n", mi->arch);
    else
        printf("parameters     %s (%s)\n", grouped(a, sizeof a, (unsigned long long)mi->n_params),
               si(b, sizeof b, (double)mi->n_params, ""));
    printf("layers         %d\n", mi->n_layer);
    if (mi->n_kv_head > 0 && mi->n_kv_head != mi->n_head)
        printf("heads          %d (key/value heads: %d)\n", mi->n_head, mi->n_kv_head);
    else
        printf("heads          %d\n", mi->n_head);
    printf("embedding      %d\n", mi->n_embd);
    printf("feed-forward   %d\n", mi->n_ff);
    printf("vocabulary     %s tokens\n", grouped(a, sizeof a, (unsigned long long)mi->n_vocab));
    printf("context        %s tokens\n", grouped(a, sizeof a, (unsigned long long)mi->n_ctx));
    printf("dtype          %s\n", mi->dtype ? mi->dtype : "?");
    if (mi->settings && *mi->settings) printf("settings       %s\n", mi->settings);
    if (config_only) {
        printf("weights        none in the folder: these are config.json's values\n");
    } else {
        printf("file size      %s (%s bytes)\n", si(b, sizeof b, (double)mi->file_bytes, "B"),
               grouped(a, sizeof a, mi->file_bytes));
        printf("load time      %.3f s\n", mi->load_seconds);
        const char *simd;
        temper_simd_level(&simd);
        printf("SIMD level     %s\n", simd);
    }
    if (mi->bos_id >= 0) printf("bos id         %d\n", (int)mi->bos_id);
    if (mi->eos_id >= 0) printf("eos id         %d\n", (int)mi->eos_id);
}

int cmd_info(int argc, char **argv) {
    cli_common c = {0};
    for (int i = 1; i < argc;) {
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (argv[i][0] == '-') return cli_unknown_option("info", argv[i]);
        if (c.model) {
            cli_error("info: unexpected argument \"%s\": the model goes after -m", argv[i]);
            return 2;
        }
        c.model = argv[i++]; /* `temper info gpt2` works too */
    }
    /* a folder (or a cached Hub snapshot, offline) with config.json and no
     * weights: what config.json says */
    char folder[4096] = "";
    const char *off = getenv("HF_HUB_OFFLINE");
    bool offline = c.offline || (off && *off && strcmp(off, "0") != 0);
    if (c.model && access(c.model, F_OK) == 0) snprintf(folder, sizeof folder, "%s", c.model);
    else if (c.model && offline && temper_hub_find(c.model, folder, sizeof folder) < 0) folder[0] = '\0';
    if (folder[0] && cli_config_only(folder)) {
        temper_model_info mi;
        char arch[64], dtype[32];
        int rc = cli_config_info(folder, &mi, arch, sizeof arch, dtype, sizeof dtype);
        if (rc != 0) return rc;
        if (c.json) print_json(&c, &mi, true);
        else print_text(&c, &mi, true);
        return 0;
    }
    temper_model *model;
    int rc = cli_load_model(&c, &model);
    if (rc != 0) return rc;
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    if (c.json) print_json(&c, &mi, false);
    else print_text(&c, &mi, false);
    temper_model_free(model);
    return 0;
}
