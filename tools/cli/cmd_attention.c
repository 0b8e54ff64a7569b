/*
 * cmd_attention.c - `temper attention -m MODEL [--layer L] [--head H]
 * [--json|--csv] TEXT`: the attention probabilities of every layer and
 * head (temper_eval_capture, as transformers' output_attentions gives
 * them). Without --json/--csv: a heatmap in the terminal, one head with
 * token labels on both axes, or the grid of a layer's heads (seed 004's
 * multi-head view). Row i is query token i; column j key token j; each
 * row sums to 1 and the causal mask shows as "·" above the diagonal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper attention -m MODEL [--layer L] [--head H] [--json|--csv] [--svg FILE] TEXT\n\n"
               "Attention probabilities per layer and head: row = query token, column = key\n"
               "token, each row sums to 1, zeros above the diagonal (causal mask).\n"
               "The heatmap shows layer L (default 0): every head side by side, or one head\n"
               "with --head. --json and --csv give every layer and head unless --layer or\n"
               "--head select some. Negative L or H count from the end (-1: the last).\n"
               "Only the layers shown are captured: with --layer L the probabilities take\n"
               "n_head x n^2 floats for a text of n tokens, not n_layer times that.\n\n"
               "options:\n"
               "      --layer L          layer (0 .. n_layer - 1)\n"
               "      --head H           head (0 .. n_head - 1)\n"
               "      --csv              layer,head,query,key,query_token,key_token,weight rows\n"
               "      --svg FILE         also write layer L's heatmaps (the heads shown) as SVG\n"
               "                         to FILE ('-': stdout), token labels on both axes\n%s%s",
            cli_prompt_help, cli_common_help);
}

/* Shade of a probability: 5 levels, "·" for a masked (future) key. */
static const char *shade(float p, bool masked) {
    if (masked) return "\xC2\xB7";                   /* · */
    if (p < 0.05f) return " ";
    if (p < 0.25f) return "\xE2\x96\x91";            /* ░ */
    if (p < 0.50f) return "\xE2\x96\x92";            /* ▒ */
    if (p < 0.75f) return "\xE2\x96\x93";            /* ▓ */
    return "\xE2\x96\x88";                           /* █ */
}

static void print_legend(void) {
    printf("legend: ' ' <5%%  \xE2\x96\x91 <25%%  \xE2\x96\x92 <50%%  \xE2\x96\x93 <75%%  "
           "\xE2\x96\x88 >=75%%  \xC2\xB7 masked (a token never sees later ones)\n");
}

/* One character (and its width) of a label, for the vertical axis. */
static int label_char(const char *s, int index, char *out) {
    size_t n = strlen(s), i = 0;
    for (int k = 0; i < n; k++) {
        int32_t cp;
        int len = temper_utf8_next(s + i, n - i, &cp);
        if (k == index) {
            memcpy(out, s + i, (size_t)len);
            out[len] = '\0';
            int w = cp < 0 ? 1 : utf8proc_charwidth(cp);
            return w > 0 ? w : 1;
        }
        i += (size_t)len;
    }
    out[0] = ' ', out[1] = '\0';
    return 1;
}

#define LABEL_W 14 /* columns of a row label */
#define TOP_ROWS 6 /* characters of a column label, written downwards */

/* p: (n, n) one head. cell: 1 or 2 columns per key. */
static void print_head(const float *p, int n, char labels[][64], int cell) {
    char ch[8];
    int rows = 1; /* the longest label, at most TOP_ROWS characters */
    for (int j = 0; j < n; j++) {
        size_t len = strlen(labels[j]), i = 0;
        int count = 0;
        for (int32_t cp; i < len; count++) i += (size_t)temper_utf8_next(labels[j] + i, len - i, &cp);
        rows = count > rows ? count : rows;
    }
    if (rows > TOP_ROWS) rows = TOP_ROWS;
    for (int r = 0; r < rows; r++) { /* column labels, top to bottom */
        printf("%*s", 5 + LABEL_W + 1, "");
        for (int j = 0; j < n; j++) {
            int w = label_char(labels[j], r, ch);
            printf("%s%*s", ch, cell - w > 0 ? cell - w : 0, "");
        }
        putchar('\n');
    }
    printf("%*s", 5 + LABEL_W + 1, "");
    for (int j = 0; j < n; j++) printf("%d%*s", j % 10, cell - 1, "");
    putchar('\n');
    for (int i = 0; i < n; i++) {
        int pad = LABEL_W - cli_display_width(labels[i]);
        printf("%4d %s%*s ", i, labels[i], pad > 0 ? pad : 0, "");
        int best = 0;
        for (int j = 0; j < n; j++) {
            const char *s = shade(p[(size_t)i * n + j], j > i);
            for (int k = 0; k < cell; k++) fputs(k > 0 && j > i ? " " : s, stdout); /* "██", "· " */
            if (p[(size_t)i * n + j] > p[(size_t)i * n + best]) best = j;
        }
        printf("  \xE2\x86\x92 %d %s %.2f\n", best, labels[best], p[(size_t)i * n + best]);
    }
}

/* Heads h0..h1 of one layer side by side, one column per key.
 * a: (H, n, n) the layer. */
static void print_grid(const float *a, int n, int H, char labels[][64], int width) {
    int per_row = (width - (5 + LABEL_W + 1)) / (n + 3);
    if (per_row < 1) per_row = 1;
    for (int h0 = 0; h0 < H; h0 += per_row) {
        int h1 = h0 + per_row < H ? h0 + per_row : H;
        printf("%*s", 5 + LABEL_W + 1, "");
        for (int h = h0; h < h1; h++) {
            char name[16];
            snprintf(name, sizeof name, "head %d", h);
            printf("%-*s", n + 3, name);
        }
        putchar('\n');
        for (int i = 0; i < n; i++) {
            int pad = LABEL_W - cli_display_width(labels[i]);
            printf("%4d %s%*s ", i, labels[i], pad > 0 ? pad : 0, "");
            for (int h = h0; h < h1; h++) {
                const float *p = a + ((size_t)h * n + i) * n;
                for (int j = 0; j < n; j++) fputs(shade(p[j], j > i), stdout);
                printf("   ");
            }
            putchar('\n');
        }
        putchar('\n');
    }
}

/* RFC 4180 field: quoted, with quotes doubled. */
static void csv_field(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* --svg: the heads [h0, h1) of layer `layer` (a, (h1 - h0, n, n)) as
 * heatmaps with the tokens on both axes (temper_svg_heatmap). */
static int save_svg(const char *path, const temper_tokenizer *tok, const temper_token *ids, int n,
                    const float *a, int layer, int h0, int h1) {
    char (*lab)[64] = malloc((size_t)n * sizeof *lab);
    const char **labels = malloc((size_t)n * sizeof *labels);
    char (*ttl)[48] = malloc((size_t)(h1 - h0) * sizeof *ttl);
    const char **titles = malloc((size_t)(h1 - h0) * sizeof *titles);
    if (!lab || !labels || !ttl || !titles) {
        free(lab), free(labels), free(ttl), free(titles);
        cli_error("out of memory");
        return 1;
    }
    for (int k = 0; k < n; k++) {
        cli_an_token_label(tok, ids[k], 16, lab[k], sizeof lab[k]);
        labels[k] = lab[k];
    }
    for (int h = h0; h < h1; h++) {
        snprintf(ttl[h - h0], sizeof ttl[h - h0], "layer %d head %d", layer, h);
        titles[h - h0] = ttl[h - h0];
    }
    char title[96];
    if (h1 - h0 == 1) snprintf(title, sizeof title, "Attention, layer %d head %d (rows: queries, columns: keys)", layer, h0);
    else snprintf(title, sizeof title, "Attention, layer %d, heads %d-%d (rows: queries, columns: keys)", layer, h0, h1 - 1);
    temper_svg_heatmap_spec spec = {.values = a, .n_panels = h1 - h0, .rows = n, .cols = n,
                                    .panel_titles = titles, .row_labels = labels, .col_labels = labels,
                                    .title = title, .value_name = "attention weight"};
    char *svg = NULL;
    int len = temper_svg_heatmap(&spec, &svg);
    free(lab), free(labels), free(ttl), free(titles);
    return cli_svg_save(path, len, svg, "attention heatmap");
}

int cmd_attention(int argc, char **argv) {
    cli_common c = {0};
    long layer_arg = 0, head_arg = 0;
    bool has_layer = false, has_head = false, csv = false;
    const char *svg_path = NULL;
    for (int i = 1; i < argc;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if ((r = cli_opt(argv, argc, &i, "-l", "--layer", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--layer", v, -4096, 4095, &layer_arg) < 0) return 2;
            has_layer = true;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--head", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--head", v, -4096, 4095, &head_arg) < 0) return 2;
            has_head = true;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--csv")) {
            csv = true;
            continue;
        }
        if ((r = cli_svg_opt(&svg_path, &i, argc, argv)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_prompt_arg(&c, "attention", &i, argc, argv)) != 0) return r;
    }
    if (csv && c.json) {
        cli_error("--csv and --json: choose one output format");
        return 2;
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL; /* (n) */
    float *attn = NULL;       /* (L, H, n, n) */
    char (*labels)[64] = NULL;/* (n) row/column labels */
    int *layers = NULL;       /* (l1 - l0) the captured layers */
    int n = 0, rc = cli_load_model(&c, &model);
    if (rc != 0) return rc;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    const int L = mi.n_layer, H = mi.n_head;
    int layer = cli_an_resolve(layer_arg, L), head = cli_an_resolve(head_arg, H);
    if (layer < 0 || head < 0) {
        if (layer < 0) cli_error("--layer %ld: the model has %d layers: give 0 to %d (or -1 for the last)",
                                 layer_arg, L, L - 1);
        else cli_error("--head %ld: the model has %d heads per layer: give 0 to %d (or -1 for the last)",
                       head_arg, H, H - 1);
        rc = 2;
        goto done;
    }
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n, 0, mi.n_ctx)) != 0) goto done;
    /* capture only the layers shown: --layer's, else every layer for
     * --json/--csv and the first for the terminal grid */
    int l0 = has_layer ? layer : 0, l1 = has_layer ? layer + 1 : (c.json || csv) ? L : 1;
    int h0 = has_head ? head : 0, h1 = has_head ? head + 1 : H;
    size_t count = (size_t)(l1 - l0) * H * n * n;
    if (count > ((size_t)1 << 29)) { /* 2 GiB of floats */
        cli_error("%d tokens: the attention of %d layers x %d heads would take %.1f GB: use a "
                  "shorter text%s", n, l1 - l0, H, count * 4.0 / 1e9,
                  has_layer ? "" : " or choose a layer with --layer");
        rc = 1;
        goto done;
    }
    attn = malloc(count * sizeof *attn);
    labels = malloc((size_t)n * sizeof *labels);
    layers = malloc((size_t)(l1 - l0) * sizeof *layers);
    if (!attn || !labels || !layers) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    for (int l = l0; l < l1; l++) layers[l - l0] = l;
    if ((rc = cli_context_init(&c, model, n, &ctx)) != 0) goto done;
    int err = temper_eval_capture_layers(ctx, 0, ids, n, NULL, 0, layers, l1 - l0, attn, NULL);
    if (err < 0) {
        rc = cli_lib_error("attention", err);
        goto done;
    }
    if (svg_path && (rc = save_svg(svg_path, tok, ids, n, attn + (size_t)h0 * n * n, l0, h0, h1)) != 0)
        goto done;
    if (c.json) {
        temper_json_attention_doc d = {.model = c.model, .tok = tok, .ids = ids, .n = n,
                                       .n_layer = L, .n_head = H, .attn = attn, .layers = layers,
                                       .n_layers = l1 - l0, .head_begin = h0, .head_end = h1};
        temper_json *j = temper_json_new(stdout);
        temper_json_attention(j, &d);
        cli_json_end(j);
        goto done;
    }
    for (int k = 0; k < n; k++) cli_an_token_label(tok, ids[k], LABEL_W, labels[k], sizeof labels[k]);
    if (csv) {
        char qt[1024], kt[1024];
        printf("layer,head,query,key,query_token,key_token,weight\n");
        for (int l = l0; l < l1; l++)
            for (int h = h0; h < h1; h++)
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < n; k++) {
                        cli_an_token_text(tok, ids[i], qt, sizeof qt);
                        cli_an_token_text(tok, ids[k], kt, sizeof kt);
                        printf("%d,%d,%d,%d,", l, h, i, k);
                        csv_field(qt), putchar(','), csv_field(kt);
                        char num[32];
                        snprintf(num, sizeof num, "%.9g", attn[(((size_t)(l - l0) * H + h) * n + i) * n + k]);
                        printf(",%s\n", num);
                    }
        goto done;
    }
    int width = cli_an_term_width();
    if (has_head) {
        int cell = 5 + LABEL_W + 1 + 2 * n + 24 <= width ? 2 : 1;
        printf("attention of layer %d, head %d (%d layers x %d heads); rows: query tokens, "
               "columns: key tokens; each row sums to 1\n\n", layer, head, L, H);
        print_head(attn + (size_t)head * n * n, n, labels, cell); /* layer l0 */
    } else {
        printf("attention of layer %d, all %d heads (%d layers); rows: query tokens, columns: "
               "the same tokens as keys, left to right; each row sums to 1\n\n", l0, H, L);
        print_grid(attn, n, H, labels, width); /* layer l0 */
    }
    putchar('\n');
    print_legend();
done:
    free(layers);
    free(labels);
    free(attn);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
