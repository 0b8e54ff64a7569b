/*
 * svg.c - static pictures as SVG text, written by the library so that the
 * CLI (--svg FILE), the server and Python give the same picture: an
 * attention heatmap (one or several panels), horizontal probability bars
 * (one or several series) and a labelled scatter plot. Every mark carries
 * its exact value (data-value / data-x / data-y attributes and a <title>
 * that browsers show on hover); labels are escaped for XML. The output
 * is one malloc'd NUL-terminated string (free it with temper_free).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q, b->cap = cap;
    }
}

/* s escaped for XML text and attributes; NULL as "". Bytes that XML 1.0
 * cannot hold (controls but tab and newline) become U+FFFD. */
static void put_text(sbuf *b, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<') put(b, "&lt;");
        else if (c == '>') put(b, "&gt;");
        else if (c == '&') put(b, "&amp;");
        else if (c == '"') put(b, "&quot;");
        else if (c == '\'') put(b, "&apos;");
        else if (c < 0x20 || c == 0x7f) put(b, "\xEF\xBF\xBD");
        else put(b, "%c", c);
    }
}

/* Valid UTF-8? (XML parsers refuse anything else.) */
static bool utf8_ok(const char *s) {
    if (!s) return true;
    size_t n = strlen(s);
    for (size_t k = 0; k < n;) {
        int32_t cp;
        int used = temper_utf8_next(s + k, n - k, &cp);
        if (used <= 0 || cp < 0) return false;
        k += (size_t)used;
    }
    return true;
}

static int check_labels(const char *what, const char *const *labels, int n) {
    for (int i = 0; labels && i < n; i++)
        if (!utf8_ok(labels[i]))
            return temper__error(TEMPER_EINVAL, "%s %d is not valid UTF-8: give text (token pieces with invalid "
                                 "bytes shown, e.g. as \\xNN)", what, i);
    return 0;
}

static int finish(sbuf *b, char **out, const char *what) {
    if (b->oom) {
        free(b->p);
        return temper__error(TEMPER_ENOMEM, "%s: out of memory for the SVG text", what);
    }
    *out = b->p;
    return b->len > 0x7fffffff ? 0x7fffffff : (int)b->len;
}

/* White (0) to dark blue (1), through light blues. */
static void ramp(double v, char rgb[8]) {
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    static const double stops[][3] = {{255, 255, 255}, {158, 202, 225}, {49, 130, 189}, {8, 48, 107}};
    double t = v * 3;
    int k = t >= 3 ? 2 : (int)t;
    double f = t - k;
    int c[3];
    for (int e = 0; e < 3; e++) c[e] = (int)lround(stops[k][e] + f * (stops[k + 1][e] - stops[k][e]));
    snprintf(rgb, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* A categorical colour (series i). */
static const char *series_color(int i) {
    static const char *const c[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return c[i % 10];
}

static void header(sbuf *b, double w, double h, const char *title) {
    put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
           FONT ">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", w, h, w, h);
    if (title && *title) {
        put(b, "<title>");
        put_text(b, title);
        put(b, "</title>\n<text x=\"%.1f\" y=\"22\" font-size=\"16\" text-anchor=\"middle\" "
               "font-weight=\"bold\">", w / 2);
        put_text(b, title);
        put(b, "</text>\n");
    }
}

/* ---- heatmap ------------------------------------------------------------ */

int temper_svg_heatmap(const temper_svg_heatmap_spec *s, char **out) {
    if (!s || !out || !s->values)
        return temper__error(TEMPER_EINVAL, "temper_svg_heatmap: spec, spec->values and out must not be NULL");
    *out = NULL;
    int P = s->n_panels, R = s->rows, C = s->cols, rc;
    if (P < 1 || R < 1 || C < 1)
        return temper__error(TEMPER_EINVAL, "temper_svg_heatmap: %d panels of %d x %d: give at least one "
                             "panel of one cell", P, R, C);
    if ((double)P * R * C > TEMPER_SVG_MAX_CELLS)
        return temper__error(TEMPER_EINVAL, "heatmap of %d panel%s of %d x %d cells: at most %d cells in one "
                             "picture: pick fewer layers or heads, or fewer tokens", P, P == 1 ? "" : "s", R, C,
                             TEMPER_SVG_MAX_CELLS);
    if ((rc = check_labels("row label", s->row_labels, R)) < 0 ||
        (rc = check_labels("column label", s->col_labels, C)) < 0 ||
        (rc = check_labels("panel title", s->panel_titles, P)) < 0 || (rc = check_labels("title", &s->title, 1)) < 0)
        return rc;
    /* cell size: panels of at most ~640 px, cells 4 .. 22 px */
    int per_row = (int)ceil(sqrt((double)P));
    double cell = fmin(22, fmax(4, 640.0 / (C > R ? C : R) / (P > 1 ? sqrt(P) * 0.7 : 1)));
    double font = fmin(12, fmax(7, cell * 0.8));
    bool labels = cell >= 7;
    double lab_w = labels && s->row_labels ? 9 * font : 10, lab_h = labels && s->col_labels ? 9 * font : 10;
    double pw = lab_w + C * cell + 20, ph = lab_h + R * cell + 30;
    int prow = (P + per_row - 1) / per_row;
    double w = fmax(per_row * pw + 20, 360), h = 40 + prow * ph + 50;
    sbuf b = {0};
    header(&b, w, h, s->title);
    double vmax = s->vmax > 0 ? s->vmax : 1;
    for (int p = 0; p < P; p++) {
        double x0 = 10 + (p % per_row) * pw + lab_w, y0 = 40 + (p / per_row) * ph + lab_h;
        put(&b, "<g class=\"panel\" data-panel=\"%d\">\n", p);
        if (s->panel_titles && s->panel_titles[p]) {
            put(&b, "<text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">",
                x0 + C * cell / 2, y0 - lab_h + 12);
            put_text(&b, s->panel_titles[p]);
            put(&b, "</text>\n");
        }
        for (int r = 0; labels && s->row_labels && r < R; r++) {
            put(&b, "<text class=\"row-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"end\" "
                    "dominant-baseline=\"middle\">", x0 - 4, y0 + (r + 0.5) * cell, font);
            put_text(&b, s->row_labels[r]);
            put(&b, "</text>\n");
        }
        for (int c = 0; labels && s->col_labels && c < C; c++) {
            double x = x0 + (c + 0.5) * cell, y = y0 - 4;
            put(&b, "<text class=\"col-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" "
                    "transform=\"rotate(-60 %.1f %.1f)\">", x, y, font, x, y);
            put_text(&b, s->col_labels[c]);
            put(&b, "</text>\n");
        }
        const float *v = s->values + (size_t)p * R * C;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                char rgb[8];
                double x = v[(size_t)r * C + c];
                ramp(x / vmax, rgb);
                put(&b, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
                        "data-row=\"%d\" data-col=\"%d\" data-value=\"%.9g\"><title>",
                    x0 + c * cell, y0 + r * cell, cell, cell, rgb, r, c, x);
                if (s->row_labels) put_text(&b, s->row_labels[r]);
                put(&b, " \xE2\x86\x92 ");
                if (s->col_labels) put_text(&b, s->col_labels[c]);
                put(&b, ": %.4g</title></rect>\n", x);
            }
        put(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n</g>\n",
            x0, y0, C * cell, R * cell);
    }
    /* colour scale */
    double ly = h - 30;
    for (int k = 0; k <= 20; k++) {
        char rgb[8];
        ramp(k / 20.0, rgb);
        put(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", 20 + k * 10.0, ly, rgb);
    }
    put(&b, "<text x=\"20\" y=\"%.1f\" font-size=\"10\">0</text><text x=\"220\" y=\"%.1f\" font-size=\"10\" "
            "text-anchor=\"end\">%.3g</text>\n", ly + 22, ly + 22, vmax);
    if (s->value_name) {
        put(&b, "<text x=\"240\" y=\"%.1f\" font-size=\"11\">", ly + 9);
        put_text(&b, s->value_name);
        put(&b, "</text>\n");
    }
    put(&b, "</svg>\n");
    return finish(&b, out, "temper_svg_heatmap");
}

/* ---- bars --------------------------------------------------------------- */

int temper_svg_bars(const temper_svg_bars_spec *s, char **out) {
    if (!s || !out || !s->values)
        return temper__error(TEMPER_EINVAL, "temper_svg_bars: spec, spec->values and out must not be NULL");
    *out = NULL;
    int S = s->n_series, N = s->n, rc;
    if (S < 1 || N < 1 || S > 64 || N > 4096)
        return temper__error(TEMPER_EINVAL, "bars: %d series of %d bars: give 1 to 64 series of 1 to 4096 bars",
                             S, N);
    if ((rc = check_labels("bar label", s->labels, N)) < 0 ||
        (rc = check_labels("series name", s->series_names, S)) < 0 || (rc = check_labels("title", &s->title, 1)) < 0)
        return rc;
    double vmax = 0;
    for (size_t i = 0; i < (size_t)S * N; i++)
        if (isfinite(s->values[i])) vmax = fmax(vmax, fabs(s->values[i]));
    if (vmax == 0) vmax = 1;
    double bar = S > 1 ? 12 : 16, gap = 8, lab_w = 130, plot_w = 420;
    double group = S * bar + gap;
    double legend = S > 1 ? 20.0 * S : 0;
    double w = lab_w + plot_w + 110, h = 50 + N * group + 40 + legend;
    sbuf b = {0};
    header(&b, w, h, s->title);
    double y0 = 40;
    for (int i = 0; i < N; i++) {
        double gy = y0 + i * group;
        put(&b, "<text class=\"bar-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
                "dominant-baseline=\"middle\">", lab_w - 6, gy + S * bar / 2);
        if (s->labels) put_text(&b, s->labels[i]);
        put(&b, "</text>\n");
        for (int k = 0; k < S; k++) {
            double v = s->values[(size_t)k * N + i];
            double len = isfinite(v) ? fabs(v) / vmax * plot_w : 0;
            put(&b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\" "
                    "data-series=\"%d\" data-index=\"%d\" data-value=\"%.17g\"><title>",
                lab_w, gy + k * bar, len, bar - 2, series_color(k), k, i, v);
            if (s->labels) put_text(&b, s->labels[i]);
            if (s->series_names && s->series_names[k]) {
                put(&b, " (");
                put_text(&b, s->series_names[k]);
                put(&b, ")");
            }
            put(&b, ": %.6g</title></rect>\n", v);
            put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" dominant-baseline=\"middle\">%.4g</text>\n",
                lab_w + len + 4, gy + k * bar + (bar - 2) / 2, v);
        }
    }
    double ay = y0 + N * group;
    put(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", lab_w, y0 - 4, lab_w, ay);
    put(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", lab_w, ay, lab_w + plot_w, ay);
    put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">0</text>\n", lab_w, ay + 14);
    put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.3g</text>\n", lab_w + plot_w,
        ay + 14, vmax);
    if (s->value_name) {
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">", lab_w + plot_w / 2, ay + 28);
        put_text(&b, s->value_name);
        put(&b, "</text>\n");
    }
    for (int k = 0; S > 1 && k < S; k++) {
        double ly = ay + 40 + 20 * k;
        put(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lab_w, ly, series_color(k));
        put(&b, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" dominant-baseline=\"middle\">",
            lab_w + 18, ly + 6);
        if (s->series_names) put_text(&b, s->series_names[k]);
        put(&b, "</text>\n");
    }
    put(&b, "</svg>\n");
    return finish(&b, out, "temper_svg_bars");
}

/* ---- scatter ------------------------------------------------------------ */

int temper_svg_scatter(const temper_svg_scatter_spec *s, char **out) {
    if (!s || !out || !s->points)
        return temper__error(TEMPER_EINVAL, "temper_svg_scatter: spec, spec->points and out must not be NULL");
    *out = NULL;
    int N = s->n, rc;
    if (N < 1 || N > 100000)
        return temper__error(TEMPER_EINVAL, "scatter of %d points: give 1 to 100000", N);
    if ((rc = check_labels("point label", s->labels, N)) < 0 || (rc = check_labels("title", &s->title, 1)) < 0)
        return rc;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY, c0 = INFINITY, c1 = -INFINITY;
    for (int i = 0; i < N; i++) {
        double x = s->points[2 * i], y = s->points[2 * i + 1], c = s->colors ? s->colors[i] : i;
        if (!isfinite(x) || !isfinite(y))
            return temper__error(TEMPER_EINVAL, "scatter: point %d is not finite", i);
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        if (isfinite(c)) c0 = fmin(c0, c), c1 = fmax(c1, c);
    }
    if (x1 == x0) x0 -= 1, x1 += 1;
    if (y1 == y0) y0 -= 1, y1 += 1;
    double mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05;
    x0 -= mx, x1 += mx, y0 -= my, y1 += my;
    const double L = 70, T = 40, W = 640, H = 480;
    double w = L + W + 40, h = T + H + 70;
    sbuf b = {0};
    header(&b, w, h, s->title);
    put(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", L, T, W, H);
    for (int k = 0; k <= 4; k++) { /* ticks */
        double fx = x0 + (x1 - x0) * k / 4, fy = y0 + (y1 - y0) * k / 4;
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.3g</text>\n",
            L + W * k / 4, T + H + 14, fx);
        put(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" dominant-baseline=\"middle\">"
                "%.3g</text>\n", L - 4, T + H - H * k / 4, fy);
    }
    if (s->x_name) {
        put(&b, "<text class=\"x-name\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">", L + W / 2,
            T + H + 32);
        put_text(&b, s->x_name);
        put(&b, "</text>\n");
    }
    if (s->y_name) {
        put(&b, "<text class=\"y-name\" x=\"16\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 16 %.1f)\">", T + H / 2, T + H / 2);
        put_text(&b, s->y_name);
        put(&b, "</text>\n");
    }
    for (int i = 0; i < N; i++) {
        double x = s->points[2 * i], y = s->points[2 * i + 1], c = s->colors ? s->colors[i] : i;
        double px = L + (x - x0) / (x1 - x0) * W, py = T + H - (y - y0) / (y1 - y0) * H;
        char rgb[8];
        ramp(isfinite(c) && c1 > c0 ? 0.25 + 0.75 * (c - c0) / (c1 - c0) : 0.6, rgb);
        put(&b, "<g class=\"point\" data-index=\"%d\" data-x=\"%.17g\" data-y=\"%.17g\">"
                "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"%s\" stroke=\"#333\" stroke-width=\"0.5\"><title>",
            i, x, y, px, py, rgb);
        if (s->labels) put_text(&b, s->labels[i]);
        put(&b, " #%d (%.4g, %.4g)</title></circle>", i, x, y);
        if (s->labels) {
            put(&b, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\">", px + 6, py - 4);
            put_text(&b, s->labels[i]);
            put(&b, "</text>");
        }
        put(&b, "</g>\n");
    }
    if (s->color_name) {
        put(&b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\">colour: ", L, T + H + 52);
        put_text(&b, s->color_name);
        put(&b, " (light: %.4g, dark: %.4g)</text>\n", c0, c1);
    }
    put(&b, "</svg>\n");
    return finish(&b, out, "temper_svg_scatter");
}
