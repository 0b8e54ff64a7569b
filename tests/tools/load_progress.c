/*
 * load_progress.c - test driver of temper_model_load's download on first
 * use for tests/py/test_hub_progress.py: prints one line per progress event
 * ("EVENT FILE INDEX N_FILES DONE TOTAL"), then "loaded ARCH N_VOCAB" or
 * "error NAME: MESSAGE".
 *
 *   load_progress HUB_ID [--cancel-after N] [--offline]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

static int events, cancel_after = -1;

static int on_progress(const temper_pull_progress *p, void *user) {
    static const char *const names[] = {"start", "progress", "done", "cached", "retry"};
    (void)user;
    printf("%s %s %d %d %llu %llu\n", p->event >= 0 && p->event <= 4 ? names[p->event] : "?",
           p->file, p->file_index, p->n_files, (unsigned long long)p->done,
           (unsigned long long)p->total);
    return ++events == cancel_after;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: load_progress HUB_ID [--cancel-after N] [--offline]\n");
        return 2;
    }
    temper_model_params mp = temper_model_default_params();
    mp.progress = on_progress;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--offline")) mp.offline = 1;
        else if (!strcmp(argv[i], "--cancel-after") && i + 1 < argc) cancel_after = atoi(argv[++i]);
    }
    temper_model *m = NULL;
    int rc = temper_model_load(argv[1], &mp, &m);
    if (rc < 0) {
        printf("error %s: %s\n", temper_err_name(rc), temper_last_error());
        return 1;
    }
    temper_model_info mi;
    temper_model_get_info(m, &mi);
    printf("loaded %s %d\n", mi.arch, mi.n_vocab);
    temper_model_free(m);
    return 0;
}
