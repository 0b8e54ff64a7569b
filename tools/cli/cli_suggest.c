/*
 * cli_suggest.c - "did you mean" for mistyped commands and options: the
 * closest known name by edit distance (Damerau-Levenshtein: an insertion,
 * deletion, substitution or swap of neighbours costs 1). The options of a
 * command are read from its own --help text, so a suggestion can never
 * name an option that the help does not show.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int (*cli_current_run)(int argc, char **argv);

/* Edit distance of a and b (optimal string alignment), capped at 99. */
static int distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 99;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* Close enough to be a typo: at most 1 edit for short words, 2 from 6
 * letters, 3 from 12. */
static bool close_enough(const char *word, int dist) {
    size_t n = strlen(word);
    return dist <= (n >= 12 ? 3 : n >= 6 ? 2 : 1);
}

const char *cli_closest(const char *word, const char *const *names, int n) {
    const char *best = NULL;
    int best_d = 99;
    for (int k = 0; k < n; k++) {
        int d = distance(word, names[k]);
        if (d < best_d) best_d = d, best = names[k];
    }
    return best && best_d > 0 && close_enough(word, best_d) ? best : NULL;
}

/* The closest "--option" named in the current command's --help to arg
 * (its "=value" left out), into out (cap); false if none is close. */
bool cli_closest_option(const char *arg, char *out, size_t cap) {
    if (!cli_current_run || strncmp(arg, "--", 2) != 0) return false;
    char *help = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&help, &len);
    if (!mem) return false;
    FILE *saved = stdout; /* the command prints its help on stdout */
    fflush(stdout);
    stdout = mem;
    char name[] = "help", flag[] = "--help";
    char *argv[] = {name, flag, NULL};
    cli_current_run(2, argv);
    stdout = saved;
    fclose(mem);
    if (!help) return false;
    char word[128];
    size_t w = strcspn(arg, "=");
    snprintf(word, sizeof word, "%.*s", (int)(w < sizeof word ? w : sizeof word - 1), arg);
    const char *names[256];
    char *store[256];
    int n = 0;
    for (char *p = help; (p = strstr(p, "--")) != NULL && n < 256;) {
        bool starts = p == help || p[-1] == ' ' || p[-1] == ',' || p[-1] == '[' || p[-1] == '(';
        size_t k = 2;
        while (p[k] == '-' || (p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9')) k++;
        if (starts && k > 3) {
            store[n] = strndup(p, k);
            if (store[n]) names[n] = store[n], n++;
        }
        p += k;
    }
    const char *best = cli_closest(word, names, n);
    if (best) snprintf(out, cap, "%s", best);
    for (int k = 0; k < n; k++) free(store[k]);
    free(help);
    return best != NULL;
}
