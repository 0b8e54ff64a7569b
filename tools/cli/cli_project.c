/*
 * cli_project.c - the projection options (`temper hidden --project
 * pca|tsne|umap`): one flag per entry of the library's table of
 * projection parameters (temper_project_params_table), parsed and
 * range-checked by the library, and the help written from the same table.
 */
#include <string.h>

#include "cli.h"

void cli_project_init(cli_project *pr) {
    memset(pr, 0, sizeof *pr);
    pr->p = temper_project_default_params();
}

int cli_project_opt(cli_project *pr, int *i, int argc, char **argv) {
    const char *v;
    int r, n;
    if (cli_flag(argv, i, NULL, "--pca")) {
        pr->on = true, pr->p.method = TEMPER_PROJECT_PCA;
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--project", &v)) != 0) {
        if (r < 0) return -1;
        if (strcmp(v, "none") == 0) {
            pr->on = false;
            return 1;
        }
        int m = temper_project_method_parse(v);
        if (m < 0) {
            cli_error("--project \"%s\": give pca, tsne, umap or none", v);
            return -1;
        }
        pr->on = true, pr->p.method = m;
        return 1;
    }
    const temper_project_param *t = temper_project_params_table(&n);
    for (int k = 0; k < n && k < CLI_MAX_PROJECT_PARAMS; k++) {
        if ((r = cli_opt(argv, argc, i, NULL, t[k].flag, &v)) == 0) continue;
        if (r < 0) return -1;
        double x;
        if (cli_parse_double(v, &x, false) < 0) {
            cli_error("%s \"%s\": expected a number", t[k].flag, v);
            return -1;
        }
        if (temper_project_param_set(&pr->p, &t[k], x) < 0) {
            cli_error("%s: %s", t[k].flag, temper_last_error());
            return -1;
        }
        pr->given[k] = true;
        return 1;
    }
    return 0;
}

int cli_project_check(const cli_project *pr) {
    int n;
    const temper_project_param *t = temper_project_params_table(&n);
    const char *name = temper_project_method_name(pr->p.method);
    for (int k = 0; k < n && k < CLI_MAX_PROJECT_PARAMS; k++) {
        if (!pr->given[k]) continue;
        if (!pr->on) {
            cli_error("%s: give --project pca|tsne|umap too (no projection asked)", t[k].flag);
            return -1;
        }
        if (!(t[k].methods >> pr->p.method & 1)) {
            cli_error("%s does nothing with --project %s (%s)", t[k].flag, name, t[k].help);
            return -1;
        }
    }
    return 0;
}

void cli_project_help(FILE *f) {
    int n;
    const temper_project_param *t = temper_project_params_table(&n);
    fprintf(f, "      --project M        a map of the tokens of layer L (default: the last):\n"
               "                         pca, tsne, umap or none\n"
               "      --pca              the same as --project pca\n");
    for (int k = 0; k < n; k++) {
        char left[40], dflt[32] = "";
        snprintf(left, sizeof left, "%s %s", t[k].flag, t[k].type == TEMPER_PARAM_FLOAT ? "X" : "N");
        if (!strstr(t[k].help, "0:")) snprintf(dflt, sizeof dflt, " (default %g)", t[k].def);
        if (strlen(left) > 18) fprintf(f, "      %s\n%25s%s%s\n", left, "", t[k].help, dflt);
        else fprintf(f, "      %-18s %s%s\n", left, t[k].help, dflt);
    }
}
