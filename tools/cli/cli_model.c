/*
 * cli_model.c - which model a command runs on, and loading it.
 *
 *   -m given: a folder or file wins; else a model bundled with temper
 *   (models/NAME beside the build tree, or PREFIX/share/temper/models/NAME
 *   once installed); else a Hub id (downloaded if missing, unless offline).
 *   no -m: $TEMPER_MODEL, else gpt2 when the Hugging Face cache has it,
 *   else the bundled stories260K, said in one stderr line.
 *
 * Nothing here starts a download that the user did not ask for by name.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BUNDLED_DEFAULT "stories260K"

bool cli_quiet;

/* The folder of the running executable into dir (cap), "" if unknown. */
static void exe_dir(char *dir, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    dir[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else dir[0] = '\0';
}

int cli_bundled_model(const char *name, char *out, size_t cap) {
    if (!name || !*name || strchr(name, '/') || name[0] == '.') return 0;
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    if (!dir[0]) return 0;
    /* build/temper -> models/; PREFIX/bin/temper -> PREFIX/share/temper/models/ */
    static const char *const where[] = {"%s/../models/%s", "%s/../share/temper/models/%s"};
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        struct stat st;
        char path[PATH_MAX + 64], real[PATH_MAX];
        int n = snprintf(path, sizeof path, where[k], dir, name);
        if (n <= 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        const char *shown = realpath(path, real) ? real : path; /* without the .. */
        return snprintf(out, cap, "%s", shown) < (int)cap;
    }
    return 0;
}

/* The model to use when -m is not given (see the top of the file). */
static const char *default_model(void) {
    const char *env = getenv("TEMPER_MODEL");
    if (env && *env) {
        if (!cli_quiet) fprintf(stderr, "temper: model %s (from $TEMPER_MODEL)\n", env);
        return env;
    }
    static const char *const gpt2[] = {"gpt2", "openai-community/gpt2"}; /* the same repo */
    for (int k = 0; k < 2; k++) {
        char folder[4096];
        if (temper_hub_find(gpt2[k], folder, sizeof folder) >= 0 && temper_hub_is_complete(folder)) {
            if (!cli_quiet)
                fprintf(stderr, "temper: model %s (found in the Hugging Face cache; -m picks "
                                "another)\n", gpt2[k]);
            return gpt2[k];
        }
    }
    if (!cli_quiet)
        fprintf(stderr, "temper: model %s (bundled: a 260K-parameter TinyStories model; "
                        "`temper pull gpt2` makes GPT-2 the default, -m picks another)\n",
                BUNDLED_DEFAULT);
    return BUNDLED_DEFAULT;
}

int cli_load_model(cli_common *c, temper_model **out) {
    if (!c->model) c->model = default_model();
    char bundled[PATH_MAX];
    const char *path = c->model;
    if (access(path, F_OK) != 0 && cli_bundled_model(path, bundled, sizeof bundled))
        path = bundled;
    temper_model_params mp = temper_model_default_params();
    mp.progress = cli_load_progress; /* a Hub id missing from the cache is downloaded */
    mp.progress_user = (void *)path;
    mp.tokenizer_path = c->tokenizer;
    mp.quantize = c->quantize;
    mp.offline = c->offline;
    int rc = temper_model_load(path, &mp, out);
    if (rc < 0) {
        bool pull = rc == TEMPER_ENOENT && strstr(temper_last_error(), "(temper_pull)");
        cli_lib_error(NULL, rc);
        if (pull) cli_error("download it with `temper pull %s`", path);
        return 1;
    }
    /* A tokenizer that does not fit the model (-z of another model): its ids
     * past either vocabulary vanish from the text or cannot be embedded.
     * Models often pad their vocabulary a little (OPT: 50272 for 50265
     * tokens), hence the margin. */
    int nt = temper_tokenizer_n_vocab(temper_model_tokenizer(*out)), nm = temper_model_n_vocab(*out);
    if (nt > nm || nm > nt + 1024)
        fprintf(stderr, "temper: warning: the tokenizer has %d tokens but the model %d: %s (is %s the "
                "model's tokenizer?)\n", nt, nm,
                nt > nm ? "ids the tokenizer makes past the model's vocabulary cannot be run"
                        : "ids the model gives past the tokenizer's vocabulary have no text and vanish "
                          "from the output",
                c->tokenizer ? "the -z tokenizer" : "the folder's tokenizer");
    return 0;
}
