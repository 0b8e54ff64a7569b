/* hub.c - where the Hugging Face cache is, Hub ids, and turning a folder,
 * file or Hub id into a path (temper__hub_resolve). No network here. */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/hub.h"

/* The value of an environment variable, NULL when unset or empty. */
static const char *temper__env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ~ and ~/x expanded with $HOME (else the password database), as Python's
 * os.path.expanduser does. Returns a malloc'd string owned by the caller. */
static char *temper__expand_user(const char *p) {
    if (p[0] != '~' || (p[1] != '\0' && p[1] != '/')) return temper__strdup(p);
    const char *home = temper__env("HOME");
    if (!home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    return temper__strfmt("%s%s", home, p + 1);
}

int temper__hub_home_dir(char **out) {
    const char *v;
    char *dir;
    if ((v = temper__env("HF_HOME"))) {
        dir = temper__expand_user(v);
    } else if ((v = temper__env("XDG_CACHE_HOME"))) {
        char *xdg = temper__expand_user(v);
        dir = xdg ? temper__strfmt("%s/huggingface", xdg) : NULL;
        free(xdg);
    } else {
        dir = temper__expand_user("~/.cache/huggingface");
    }
    *out = dir;
    return dir ? 0 : temper__error(TEMPER_ENOMEM, "out of memory");
}

int temper__hub_token(char **out) {
    *out = NULL;
    const char *v = temper__env("HF_TOKEN");
    if (!v) v = temper__env("HUGGING_FACE_HUB_TOKEN");
    if (v) {
        *out = temper__strdup(v);
        return *out ? 0 : temper__error(TEMPER_ENOMEM, "out of memory");
    }
    char *path = NULL;
    if ((v = temper__env("HF_TOKEN_PATH"))) {
        path = temper__expand_user(v);
    } else {
        char *home = NULL;
        if (temper__hub_home_dir(&home) < 0) return TEMPER_ENOMEM;
        path = temper__strfmt("%s/token", home);
        free(home);
    }
    if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
    char *text = NULL;
    if (temper__is_file(path) && temper__read_file(path, &text, NULL) == 0) {
        char *b = text, *e = text + strlen(text);
        while (*b && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (e > b) *out = strndup(b, (size_t)(e - b));
        free(text);
    }
    free(path);
    return 0;
}

int temper__hub_cache_dir(char **out, const char **from) {
    const char *v, *src;
    char *dir;
    if ((v = temper__env("HF_HUB_CACHE"))) {
        src = "$HF_HUB_CACHE";
        dir = temper__expand_user(v);
    } else if ((v = temper__env("HUGGINGFACE_HUB_CACHE"))) {
        src = "$HUGGINGFACE_HUB_CACHE";
        dir = temper__expand_user(v);
    } else if ((v = temper__env("HF_HOME"))) {
        src = "$HF_HOME/hub";
        char *home = temper__expand_user(v);
        dir = home ? temper__strfmt("%s/hub", home) : NULL;
        free(home);
    } else if ((v = temper__env("XDG_CACHE_HOME"))) {
        src = "$XDG_CACHE_HOME/huggingface/hub";
        char *xdg = temper__expand_user(v);
        dir = xdg ? temper__strfmt("%s/huggingface/hub", xdg) : NULL;
        free(xdg);
    } else {
        src = "the default ~/.cache/huggingface/hub";
        dir = temper__expand_user("~/.cache/huggingface/hub");
    }
    if (from) *from = src;
    *out = dir;
    return dir ? 0 : temper__error(TEMPER_ENOMEM, "out of memory");
}

/* huggingface_hub's repo id rule: one or two names of [A-Za-z0-9_.-]
 * separated by '/', not starting or ending with '-' or '.', without "--"
 * or "..", at most 96 characters. */
static int temper__valid_name(const char *s, size_t n) {
    if (n == 0 || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.')) return 0;
        if (i > 0 && (c == '-' || c == '.') && s[i - 1] == c) return 0;
    }
    return 1;
}

int temper__hub_parse_id(const char *s, char **repo, char **revision) {
    if (repo) *repo = NULL;
    if (revision) *revision = NULL;
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    if (n == 0 || n > 96) return 0;
    const char *slash = memchr(s, '/', n);
    if (slash) {
        size_t n1 = (size_t)(slash - s);
        if (!temper__valid_name(s, n1) || !temper__valid_name(slash + 1, n - n1 - 1)) return 0;
    } else if (!temper__valid_name(s, n)) {
        return 0;
    }
    if (at) { /* a revision: a branch, tag ("v1.0", "refs/pr/1") or commit */
        const char *r = at + 1;
        if (!*r || strstr(r, "..") || r[0] == '/' || strchr(r, '@')) return 0;
        for (const char *c = r; *c; c++)
            if ((unsigned char)*c <= ' ' || *c == '\\') return 0;
    }
    if (repo) {
        *repo = strndup(s, n);
        if (!*repo) return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    if (revision && at) {
        *revision = temper__strdup(at + 1);
        if (!*revision) {
            if (repo) { free(*repo); *repo = NULL; }
            return temper__error(TEMPER_ENOMEM, "out of memory");
        }
    }
    return 1;
}

int temper__hub_is_commit(const char *rev) {
    size_t i = 0;
    for (; rev[i]; i++)
        if (!((rev[i] >= '0' && rev[i] <= '9') || (rev[i] >= 'a' && rev[i] <= 'f'))) return 0;
    return i == 40;
}

char *temper__hub_repo_dir(const char *cache, const char *repo) {
    /* "models--" + repo with every '/' replaced by "--" */
    size_t n = strlen(repo), extra = 0;
    for (size_t i = 0; i < n; i++) extra += repo[i] == '/';
    char *d = malloc(strlen(cache) + 9 + n + extra + 1);
    if (!d) return NULL;
    char *p = d + sprintf(d, "%s/models--", cache);
    for (size_t i = 0; i < n; i++) {
        if (repo[i] == '/') { *p++ = '-'; *p++ = '-'; }
        else *p++ = repo[i];
    }
    *p = '\0';
    return d;
}

int temper__hub_env_offline(void) {
    static const char *const names[] = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"};
    for (int k = 0; k < 2; k++) {
        const char *v = temper__env(names[k]);
        if (v && (strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
                  strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0))
            return 1;
    }
    return 0;
}

/* The commit named by <repo_dir>/refs/<revision>, trimmed; 0 or an error. */
static int temper__read_ref(const char *repo_dir, const char *revision, char **commit) {
    char *ref = temper__strfmt("%s/refs/%s", repo_dir, revision);
    if (!ref) return temper__error(TEMPER_ENOMEM, "out of memory");
    char *text = NULL;
    int rc = temper__is_file(ref) ? temper__read_file(ref, &text, NULL) : TEMPER_ENOENT;
    free(ref);
    if (rc < 0) return rc;
    char *b = text, *e = text + strlen(text);
    while (*b && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    *e = '\0';
    memmove(text, b, (size_t)(e - b) + 1);
    *commit = text;
    return 0;
}

int temper__hub_find_snapshot(const char *cache, const char *repo, const char *revision,
                              char **folder_out) {
    *folder_out = NULL;
    const char *rev = revision ? revision : "main";
    char *repo_dir = temper__hub_repo_dir(cache, repo);
    if (!repo_dir) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = 0;
    char *commit = NULL, *snap = NULL;
    if (!temper__is_dir(repo_dir)) {
        rc = temper__error(TEMPER_ENOENT, "%s: no such folder", repo_dir);
        goto done;
    }
    if (temper__hub_is_commit(rev)) {
        commit = temper__strdup(rev);
    } else if (temper__read_ref(repo_dir, rev, &commit) < 0) {
        rc = temper__error(TEMPER_ENOENT, "%s/refs/%s: no such file (the revision \"%s\" was never "
                           "downloaded)", repo_dir, rev, rev);
        goto done;
    }
    if (!commit) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    snap = temper__strfmt("%s/snapshots/%s", repo_dir, commit);
    if (!snap) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    if (!temper__is_dir(snap)) {
        rc = temper__error(TEMPER_ENOENT, "%s: no such folder%s", snap,
                           strcmp(commit, rev) ? "" : " (that commit was never downloaded)");
        goto done;
    }
    *folder_out = snap; /* ownership to the caller */
    snap = NULL;
done:
    free(snap);
    free(commit);
    free(repo_dir);
    return rc;
}

int temper__hub_resolve(const char *path_or_id, int offline, char **folder_out) {
    return temper__hub_resolve_progress(path_or_id, offline, NULL, NULL, folder_out);
}

int temper__hub_resolve_progress(const char *path_or_id, int offline, temper_pull_callback progress,
                                 void *user, char **folder_out) {
    if (!folder_out) return temper__error(TEMPER_EINVAL, "temper__hub_resolve: folder_out is NULL");
    *folder_out = NULL;
    if (!path_or_id || !*path_or_id)
        return temper__error(TEMPER_EINVAL, "no model given: pass a model folder or a Hub id such as gpt2");
    struct stat st;
    if (stat(path_or_id, &st) == 0) { /* an existing folder or file wins over a Hub id */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            return temper__error(TEMPER_EINVAL, "%s: not a folder or a regular file", path_or_id);
        *folder_out = temper__strdup(path_or_id);
        return *folder_out ? 0 : temper__error(TEMPER_ENOMEM, "out of memory");
    }
    char *repo = NULL, *revision = NULL;
    int is_id = temper__hub_parse_id(path_or_id, &repo, &revision);
    if (is_id < 0) return is_id;
    if (!is_id)
        return temper__error(TEMPER_ENOENT, "%s: no such file or folder (and not a Hub id such as "
                             "gpt2 or openai-community/gpt2): check the path, or give a Hub id "
                             "(temper_pull downloads one into the cache)", path_or_id);
    char *cache = NULL;
    const char *from = NULL;
    int rc = temper__hub_cache_dir(&cache, &from);
    if (rc < 0) goto done;
    offline = offline || temper__hub_env_offline();
    rc = temper__hub_find_snapshot(cache, repo, revision, folder_out);
    if (rc == 0 && (offline || temper__hub_snapshot_complete(*folder_out))) goto done;
    if (rc == 0) { /* e.g. only config.json, fetched by AutoConfig: complete it */
        free(*folder_out);
        *folder_out = NULL;
    } else if (rc != TEMPER_ENOENT) {
        goto done;
    }
    if (offline) {
        char missing[1024]; /* what find_snapshot did not find */
        snprintf(missing, sizeof missing, "%s", temper_last_error());
        rc = temper__error(TEMPER_ENOENT, "model \"%s\" is not a folder and not in the Hugging Face "
                           "cache %s (from %s): %s; offline%s: download %s into the cache first "
                           "(temper_pull), or pass a model folder", path_or_id, cache, from, missing,
                           temper__hub_env_offline() ? " (HF_HUB_OFFLINE is set)" : "", path_or_id);
        goto done;
    }
    temper__hub_opts opts = {.progress = progress, .user = user};
    rc = temper__hub_download(repo, revision, &opts, folder_out);
    if (rc < 0)
        temper__error_prefix(rc, "model \"%s\" is not a folder nor in the Hugging Face cache %s "
                             "(from %s), and downloading it failed", path_or_id, cache, from);
done:
    free(cache);
    free(repo);
    free(revision);
    return rc;
}
