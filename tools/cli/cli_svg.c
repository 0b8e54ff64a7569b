/*
 * cli_svg.c - `--svg FILE`: save a picture the library wrote
 * (temper_svg_heatmap, _bars, _scatter) to FILE ('-': stdout).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_svg_opt(const char **path, int *i, int argc, char **argv) {
    const char *v;
    int r = cli_opt(argv, argc, i, NULL, "--svg", &v);
    if (r <= 0) return r;
    if (!*v) {
        cli_error("--svg: give a file name (or - for stdout)");
        return -1;
    }
    *path = v;
    return 1;
}

int cli_svg_save(const char *path, int len, char *svg, const char *what) {
    if (len < 0) return cli_lib_error(what, len);
    int rc = 0;
    bool out = strcmp(path, "-") == 0;
    FILE *f = out ? stdout : fopen(path, "wb");
    if (!f) {
        cli_error("--svg %s: cannot write the file (%s)", path, strerror(errno));
        rc = 1;
    } else {
        size_t put = fwrite(svg, 1, (size_t)len, f);
        if ((out ? fflush(f) : fclose(f)) != 0 || put != (size_t)len) {
            cli_error("--svg %s: writing failed (%s)", path, strerror(errno));
            rc = 1;
        } else if (!out && !cli_quiet) {
            fprintf(stderr, "temper: %s written to %s (%d bytes)\n", what, path, len);
        }
    }
    temper_free(svg);
    return rc;
}
