/*
 * cmd_pull.c - the Hugging Face cache from the command line:
 *   temper pull REPO_ID[@REVISION]   download a model (progress on stderr,
 *                                    the snapshot folder on stdout)
 *   temper list [--json]             cached models: id, revision, size, arch
 *   temper rm REPO_ID[@REVISION]     remove a model (or one revision)
 * and cli_load_progress(), the progress of a missing -m Hub id that
 * temper_model_load downloads.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* 523700000 -> "523.7 MB" (decimal units, as the Hub shows sizes) */
static const char *human(char *buf, size_t cap, double bytes) {
    const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) bytes /= 1000, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

static const char *duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 360000) snprintf(buf, cap, "--:--");
    else if (s >= 3600) snprintf(buf, cap, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, cap, "%d:%02d", (int)s / 60, (int)s % 60);
    return buf;
}

/* ---- progress display ------------------------------------------------------ */

typedef struct pull_view {
    bool tty;          /* stderr is a terminal: one bar redrawn in place */
    bool quiet;
    double last_line;  /* time of the last plain progress line */
    int bar_width;     /* columns of the drawn line, to clear it */
    bool told_total;   /* the line with the size of the whole pull is out */
} pull_view;

static int on_progress(const temper_pull_progress *p, void *user) {
    pull_view *v = user;
    if (v->quiet) return 0;
    char a[32], b[32], c[32], d[32];
    uint64_t fresh = p->file_done > p->resumed ? p->file_done - p->resumed : 0;
    double speed = p->seconds > 0 ? (double)fresh / p->seconds : 0;
    double eta = speed > 0 && p->file_total ? (double)(p->file_total - p->file_done) / speed : -1;
    const char *name = p->file;
    if (!v->told_total && p->file_index >= 0 && p->total > 0) {
        v->told_total = true;
        fprintf(stderr, "%s: %d file%s, %s in all\n", p->repo, p->n_files, p->n_files == 1 ? "" : "s",
                human(a, sizeof a, (double)p->total));
    }
    switch (p->event) {
    case TEMPER_PULL_START:
        if (p->resumed)
            fprintf(stderr, "%s: resuming at %s of %s\n", name, human(a, sizeof a, (double)p->resumed),
                    human(b, sizeof b, (double)p->file_total));
        else if (!v->tty)
            fprintf(stderr, "%s: downloading %s\n", name, human(a, sizeof a, (double)p->file_total));
        v->last_line = cli_now();
        break;
    case TEMPER_PULL_PROGRESS:
        if (v->tty) {
            int pct = p->file_total ? (int)(100.0 * (double)p->file_done / (double)p->file_total) : 0;
            char bar[26];
            int fill = pct / 4;
            for (int k = 0; k < 25; k++) bar[k] = k < fill ? '#' : '.';
            bar[25] = '\0';
            fprintf(stderr, "\r%-28.28s [%s] %3d%% %10s / %-10s %10s/s ETA %s\x1b[K", name, bar, pct,
                    human(a, sizeof a, (double)p->file_done), human(b, sizeof b, (double)p->file_total),
                    human(c, sizeof c, speed), duration(d, sizeof d, eta));
        } else if (cli_now() - v->last_line >= 5.0) { /* a plain line every 5 s in logs */
            v->last_line = cli_now();
            fprintf(stderr, "%s: %s of %s (%.0f%%), %s/s, ETA %s\n", name,
                    human(a, sizeof a, (double)p->file_done), human(b, sizeof b, (double)p->file_total),
                    p->file_total ? 100.0 * (double)p->file_done / (double)p->file_total : 0.0,
                    human(c, sizeof c, speed), duration(d, sizeof d, eta));
        }
        break;
    case TEMPER_PULL_DONE:
        fprintf(stderr, "%s%s: %s in %.1f s (%s/s), verified\n", v->tty ? "\r\x1b[K" : "", name,
                human(a, sizeof a, (double)p->file_total), p->seconds, human(b, sizeof b, speed));
        break;
    case TEMPER_PULL_CACHED:
        fprintf(stderr, "%s: %s, already in the cache\n", name, human(a, sizeof a, (double)p->file_total));
        break;
    case TEMPER_PULL_RETRY:
        fprintf(stderr, "%s%s: %s\n", v->tty ? "\r\x1b[K" : "", name, p->message ? p->message : "retrying");
        break;
    }
    return 0;
}

static int pull(const char *id, bool force, bool quiet, char *folder, size_t cap) {
    pull_view v = {.tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb"),
                   .quiet = quiet};
    temper_pull_params pp = temper_pull_default_params();
    pp.force = force;
    pp.progress = on_progress;
    pp.user = &v;
    char cache[4096];
    if (!quiet && temper_hub_cache_dir(cache, sizeof cache) >= 0)
        fprintf(stderr, "pulling %s into %s\n", id, cache);
    int rc = temper_pull(id, &pp, folder, cap);
    if (rc < 0) {
        if (v.tty && !quiet) fprintf(stderr, "\r\x1b[K");
        return cli_lib_error(NULL, rc);
    }
    return 0;
}

int cli_load_progress(const temper_pull_progress *p, void *user) {
    static pull_view v;
    static bool told;
    if (!told) { /* the first call: temper_model_load found the model missing */
        told = true;
        v.tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
        v.quiet = cli_quiet;
        fprintf(stderr, "%s is not in the Hugging Face cache: downloading it (--offline or "
                        "HF_HUB_OFFLINE=1 prevents this)\n", (const char *)user);
    }
    return on_progress(p, &v);
}

/* ---- temper pull ------------------------------------------------------------ */

static void pull_usage(FILE *f) {
    fprintf(f, "usage: temper pull REPO_ID[@REVISION] [--force] [-q]\n\n"
               "Download a model from the Hugging Face Hub into the cache transformers uses\n"
               "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub): config,\n"
               "tokenizer files and weights (safetensors, else pytorch_model.bin; shards too).\n"
               "Interrupted downloads resume; every file is checked against the Hub's checksum\n"
               "(sha256 for LFS files, the git blob id for the others).\n"
               "Prints the snapshot folder on stdout. REVISION: branch, tag or commit (main).\n\n"
               "options:\n"
               "      --force            download again even what the cache has\n"
               "  -q, --quiet            no progress on stderr\n\n"
               "environment: HF_ENDPOINT (mirror), HF_TOKEN (gated or private repos),\n"
               "HF_HOME / HF_HUB_CACHE (cache location), HF_HUB_OFFLINE=1 (no network).\n"
               "example: temper pull openai-community/gpt2\n");
}

int cmd_pull(int argc, char **argv) {
    const char *id = NULL;
    bool force = false, quiet = false;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            pull_usage(stdout);
            return 0;
        }
        if (cli_flag(argv, &i, NULL, "--force")) { force = true; continue; }
        if (cli_flag(argv, &i, "-q", "--quiet")) { quiet = true; continue; }
        if (argv[i][0] == '-' && argv[i][1]) return cli_unknown_option("pull", argv[i]);
        if (id) {
            cli_error("pull: one model at a time (got \"%s\" and \"%s\")", id, argv[i]);
            return 2;
        }
        id = argv[i++];
    }
    if (!id) {
        pull_usage(stderr);
        return 2;
    }
    char folder[4096];
    int rc = pull(id, force, quiet, folder, sizeof folder);
    if (rc == 0) printf("%s\n", folder);
    return rc;
}

/* ---- temper list ------------------------------------------------------------ */

typedef struct list_state {
    int n;
    uint64_t bytes;
} list_state;

static int list_one(const temper_hub_entry *e, void *user) {
    list_state *s = user;
    s->n++;
    s->bytes += e->bytes;
    char size[32], rev[64];
    if (e->refs[0]) snprintf(rev, sizeof rev, "%s", e->refs);
    else snprintf(rev, sizeof rev, "%.12s", e->commit);
    printf("%-40s %-14s %10s  %-10s%s\n", e->repo, rev, human(size, sizeof size, (double)e->bytes),
           e->arch[0] ? e->arch : "?", e->complete ? "" : "  (incomplete: no weights)");
    return 0;
}

int cmd_list(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: temper list [--json]\n\n"
                   "Models in the Hugging Face cache: id, revision (the refs naming the\n"
                   "snapshot, else its commit), size on disk, architecture (model_type).\n");
            return 0;
        }
        if (cli_flag(argv, &i, NULL, "--json")) { json = true; continue; }
        return cli_unknown_option("list", argv[i]);
    }
    char cache[4096];
    int rc = temper_hub_cache_dir(cache, sizeof cache);
    if (rc < 0) return cli_lib_error(NULL, rc);
    if (json) {
        temper_json *j = temper_json_new(stdout);
        rc = temper_json_hub_list(j);
        cli_json_end(j);
        return rc < 0 ? cli_lib_error(NULL, rc) : 0;
    }
    list_state s = {0};
    printf("%-40s %-14s %10s  %s\n", "ID", "REVISION", "SIZE", "ARCH");
    rc = temper_hub_list(list_one, &s);
    if (rc < 0) return cli_lib_error(NULL, rc);
    char size[32];
    printf("%d model%s, %s in %s\n", s.n, s.n == 1 ? "" : "s",
           human(size, sizeof size, (double)s.bytes), cache);
    return 0;
}

/* ---- temper rm ---------------------------------------------------------------- */

int cmd_rm(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: temper rm REPO_ID[@REVISION]\n");
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: temper rm REPO_ID[@REVISION]...\n\n"
                   "Remove a model from the Hugging Face cache; with @REVISION only that\n"
                   "snapshot, the refs naming it and the files no other snapshot uses.\n");
            return 0;
        }
        if (argv[i][0] == '-') return cli_unknown_option("rm", argv[i]);
    }
    for (int i = 1; i < argc; i++) {
        uint64_t freed = 0;
        int rc = temper_hub_remove(argv[i], &freed);
        if (rc == TEMPER_ENOENT && strstr(temper_last_error(), "temper_hub_list()")) {
            /* the library's hint, in the CLI's words */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", temper_last_error());
            *strstr(msg, "temper_hub_list() lists") = '\0';
            cli_error("%s`temper list` shows what is there", msg);
            status = 1;
            continue;
        }
        if (rc < 0) {
            status = cli_lib_error(NULL, rc);
            continue;
        }
        char size[32];
        printf("removed %s (%s freed)\n", argv[i], human(size, sizeof size, (double)freed));
    }
    return status;
}
