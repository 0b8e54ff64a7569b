/* cache.c - what is in the Hugging Face cache: complete snapshots, the
 * listing of the cache, removal of a model or snapshot, and the public Hub
 * functions of temper.h. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hub/hub.h"

/* 1 if folder/name is a file (through symlinks), else 0. */
static int temper__has(const char *folder, const char *name) {
    char *p = temper__strfmt("%s/%s", folder, name);
    int r = p && temper__is_file(p);
    free(p);
    return r;
}

/* 1 if the index folder/name exists and every shard of its weight_map is
 * there too. */
static int temper__has_shards(const char *folder, const char *index) {
    char *path = temper__strfmt("%s/%s", folder, index), *text = NULL;
    int ok = 0;
    if (path && temper__is_file(path) && temper__read_file(path, &text, NULL) == 0) {
        cJSON *j = cJSON_Parse(text);
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map"), *e;
        ok = cJSON_IsObject(map);
        cJSON_ArrayForEach(e, map) if (!cJSON_IsString(e) || !temper__has(folder, e->valuestring)) ok = 0;
        cJSON_Delete(j);
        free(text);
    }
    free(path);
    return ok;
}

int temper__hub_snapshot_complete(const char *folder) {
    return temper__has(folder, "config.json") &&
           (temper__has(folder, "model.safetensors") ||
            temper__has_shards(folder, "model.safetensors.index.json") ||
            temper__has(folder, "pytorch_model.bin") ||
            temper__has_shards(folder, "pytorch_model.bin.index.json"));
}

int temper_hub_is_complete(const char *folder) {
    return folder ? temper__hub_snapshot_complete(folder) : 0;
}

/* ---- walking and removing folders ---------------------------------------- */

static _Thread_local uint64_t temper__walk_bytes;
static _Thread_local int temper__walk_files;
static _Thread_local int temper__walk_errno;

static int temper__count_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)ftw;
    struct stat st;
    /* files of a snapshot are symlinks: count what they point to */
    if ((type == FTW_F || type == FTW_SL) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        temper__walk_bytes += (uint64_t)st.st_size;
        temper__walk_files++;
    }
    (void)sb;
    return 0;
}

static int temper__remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)ftw;
    if (type == FTW_F) temper__walk_bytes += (uint64_t)sb->st_size;
    if (remove(path) != 0 && errno != ENOENT) temper__walk_errno = errno;
    return 0;
}

/* rm -rf path; adds the bytes of its regular files to *bytes. */
static int temper__remove_tree(const char *path, uint64_t *bytes) {
    temper__walk_bytes = 0;
    temper__walk_errno = 0;
    if (nftw(path, temper__remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        temper__walk_errno = errno;
    if (bytes) *bytes += temper__walk_bytes;
    if (temper__walk_errno)
        return temper__error(TEMPER_EIO, "cannot remove %s: %s", path, strerror(temper__walk_errno));
    return 0;
}

/* ---- listing -------------------------------------------------------------- */

static int temper__by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Append to refs (comma-separated, cap bytes) the refs under dir/prefix
 * whose content is commit. */
static void temper__refs_naming(const char *dir, const char *prefix, const char *commit, char *refs,
                                size_t cap) {
    char *path = temper__strfmt("%s%s%s", dir, *prefix ? "/" : "", prefix);
    DIR *d = path ? opendir(path) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *name = temper__strfmt("%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        char *full = name ? temper__strfmt("%s/%s", dir, name) : NULL;
        char *text = NULL;
        if (full && temper__is_dir(full)) {
            temper__refs_naming(dir, name, commit, refs, cap);
        } else if (full && temper__read_file(full, &text, NULL) == 0) {
            size_t n = strlen(text);
            while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) text[--n] = '\0';
            if (strcmp(text, commit) == 0) {
                size_t used = strlen(refs);
                snprintf(refs + used, cap - used, "%s%s", used ? "," : "", name);
            }
            free(text);
        }
        free(name);
        free(full);
    }
    if (d) closedir(d);
    free(path);
}

static char *temper__model_type(const char *snapshot) {
    char *path = temper__strfmt("%s/config.json", snapshot), *text = NULL, *type = NULL;
    if (path && temper__is_file(path) && temper__read_file(path, &text, NULL) == 0) {
        cJSON *j = cJSON_Parse(text);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "model_type");
        if (cJSON_IsString(t)) type = temper__strdup(t->valuestring);
        cJSON_Delete(j);
        free(text);
    }
    free(path);
    return type;
}

static int temper__list_repo(const char *cache, const char *dirname,
                             int (*fn)(const temper_hub_entry *e, void *user), void *user) {
    /* "models--ORG--NAME" -> "ORG/NAME" */
    char repo[256];
    const char *s = dirname + 8;
    size_t n = 0;
    for (; *s && n < sizeof repo - 1; s++) {
        if (s[0] == '-' && s[1] == '-') { repo[n++] = '/'; s++; }
        else repo[n++] = *s;
    }
    repo[n] = '\0';
    char *snaps = temper__strfmt("%s/%s/snapshots", cache, dirname);
    char *refs_dir = temper__strfmt("%s/%s/refs", cache, dirname);
    if (!snaps || !refs_dir) {
        free(snaps);
        free(refs_dir);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    struct dirent **list = NULL;
    int count = scandir(snaps, &list, NULL, temper__by_name), rc = 0;
    for (int i = 0; i < count; i++) {
        const char *commit = list[i]->d_name;
        char *path = commit[0] == '.' ? NULL : temper__strfmt("%s/%s", snaps, commit);
        if (path && temper__is_dir(path)) {
            char refs[512] = "";
            temper__refs_naming(refs_dir, "", commit, refs, sizeof refs);
            char *arch = temper__model_type(path);
            temper__walk_bytes = 0;
            temper__walk_files = 0;
            nftw(path, temper__count_one, 16, FTW_PHYS);
            temper_hub_entry e = {
                .repo = repo, .refs = refs, .commit = commit, .path = path,
                .arch = arch ? arch : "", .bytes = temper__walk_bytes,
                .n_files = temper__walk_files, .complete = temper__hub_snapshot_complete(path),
            };
            if (!rc) rc = fn(&e, user);
            free(arch);
        }
        free(path);
    }
    for (int i = 0; i < count; i++) free(list[i]);
    free(list);
    free(snaps);
    free(refs_dir);
    return rc;
}

int temper_hub_list(int (*fn)(const temper_hub_entry *e, void *user), void *user) {
    if (!fn) return temper__error(TEMPER_EINVAL, "temper_hub_list: fn is NULL");
    char *cache = NULL;
    int rc = temper__hub_cache_dir(&cache, NULL);
    if (rc < 0) return rc;
    struct dirent **list = NULL;
    int count = scandir(cache, &list, NULL, temper__by_name);
    for (int i = 0; i < count; i++) {
        if (!rc && strncmp(list[i]->d_name, "models--", 8) == 0) rc = temper__list_repo(cache, list[i]->d_name, fn, user);
        free(list[i]);
    }
    free(list);
    free(cache);
    return rc; /* a missing cache folder lists nothing */
}

/* ---- removal --------------------------------------------------------------- */

/* 1 if some snapshot of repo_dir other than `except` links to blob. */
static int temper__blob_used(const char *repo_dir, const char *except, const char *blob) {
    char *snaps = temper__strfmt("%s/snapshots", repo_dir);
    DIR *d = snaps ? opendir(snaps) : NULL;
    struct dirent *e;
    int used = 0;
    while (d && !used && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, except) == 0) continue;
        char *snap = temper__strfmt("%s/%s", snaps, e->d_name);
        DIR *sd = snap ? opendir(snap) : NULL;
        struct dirent *f;
        while (sd && !used && (f = readdir(sd))) {
            char *link = temper__strfmt("%s/%s", snap, f->d_name), target[4096];
            ssize_t n = link ? readlink(link, target, sizeof target - 1) : -1;
            if (n > 0) {
                target[n] = '\0';
                const char *base = strrchr(target, '/');
                used = strcmp(base ? base + 1 : target, blob) == 0;
            }
            free(link);
        }
        if (sd) closedir(sd);
        free(snap);
    }
    if (d) closedir(d);
    free(snaps);
    return used;
}

/* Remove one snapshot, the refs naming it and the blobs only it used. */
static int temper__remove_snapshot(const char *repo_dir, const char *commit, uint64_t *bytes) {
    char *snap = temper__strfmt("%s/snapshots/%s", repo_dir, commit);
    if (!snap) return temper__error(TEMPER_ENOMEM, "out of memory");
    DIR *d = opendir(snap);
    struct dirent *f;
    int rc = 0;
    while (d && (f = readdir(d))) {
        char *link = temper__strfmt("%s/%s", snap, f->d_name), target[4096];
        ssize_t n = link ? readlink(link, target, sizeof target - 1) : -1;
        if (n > 0) {
            target[n] = '\0';
            const char *base = strrchr(target, '/');
            base = base ? base + 1 : target;
            if (!temper__blob_used(repo_dir, commit, base)) {
                char *blob = temper__strfmt("%s/blobs/%s", repo_dir, base);
                struct stat st;
                if (blob && lstat(blob, &st) == 0 && unlink(blob) == 0) *bytes += (uint64_t)st.st_size;
                free(blob);
            }
        }
        free(link);
    }
    if (d) closedir(d);
    rc = temper__remove_tree(snap, bytes);
    free(snap);
    /* the refs that named it */
    char *refs_dir = temper__strfmt("%s/refs", repo_dir);
    char names[1024] = "";
    if (refs_dir) temper__refs_naming(refs_dir, "", commit, names, sizeof names);
    for (char *tok = strtok(names, ","); tok; tok = strtok(NULL, ",")) {
        char *ref = temper__strfmt("%s/%s", refs_dir, tok);
        if (ref) unlink(ref);
        free(ref);
    }
    free(refs_dir);
    return rc;
}

int temper_hub_remove(const char *repo_id, uint64_t *bytes_freed) {
    if (bytes_freed) *bytes_freed = 0;
    if (!repo_id) return temper__error(TEMPER_EINVAL, "temper_hub_remove: repo_id is NULL");
    char *repo = NULL, *rev = NULL, *cache = NULL, *repo_dir = NULL, *snap = NULL;
    int rc = temper__hub_parse_id(repo_id, &repo, &rev);
    if (rc == 0)
        rc = temper__error(TEMPER_EINVAL, "\"%s\" is not a Hub id (such as gpt2 or "
                           "openai-community/gpt2, optionally @REVISION)", repo_id);
    if (rc < 0) goto done;
    if ((rc = temper__hub_cache_dir(&cache, NULL)) < 0) goto done;
    if (!(repo_dir = temper__hub_repo_dir(cache, repo))) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    if (!temper__is_dir(repo_dir)) {
        rc = temper__error(TEMPER_ENOENT, "%s is not in the cache (no folder %s): temper_hub_list() "
                           "lists what is there", repo, repo_dir);
        goto done;
    }
    uint64_t bytes = 0;
    if (!rev) {
        rc = temper__remove_tree(repo_dir, &bytes);
        char *locks = temper__strfmt("%s/.locks/%s", cache, strrchr(repo_dir, '/') + 1);
        if (locks && temper__is_dir(locks)) temper__remove_tree(locks, NULL);
        free(locks);
    } else {
        if ((rc = temper__hub_find_snapshot(cache, repo, rev, &snap)) < 0) goto done;
        rc = temper__remove_snapshot(repo_dir, strrchr(snap, '/') + 1, &bytes);
    }
    if (bytes_freed) *bytes_freed = bytes;
done:
    free(repo);
    free(rev);
    free(cache);
    free(repo_dir);
    free(snap);
    return rc;
}

/* ---- public lookups and pull ---------------------------------------------- */

/* Copy s to buf (buffer rule) and return its length. */
static int temper__give(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (buf && cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, s, k);
        buf[k] = '\0';
    }
    return n > 0x7fffffff ? TEMPER_ERANGE : (int)n;
}

int temper_hub_cache_dir(char *buf, size_t cap) {
    char *cache = NULL;
    int rc = temper__hub_cache_dir(&cache, NULL);
    if (rc < 0) return rc;
    rc = temper__give(cache, buf, cap);
    free(cache);
    return rc;
}

int temper_hub_find(const char *repo_id, char *folder, size_t cap) {
    if (!repo_id) return temper__error(TEMPER_EINVAL, "temper_hub_find: repo_id is NULL");
    char *repo = NULL, *rev = NULL, *cache = NULL, *snap = NULL;
    int rc = temper__hub_parse_id(repo_id, &repo, &rev);
    if (rc == 0)
        rc = temper__error(TEMPER_EINVAL, "\"%s\" is not a Hub id (such as gpt2 or "
                           "openai-community/gpt2, optionally @REVISION)", repo_id);
    if (rc >= 0) rc = temper__hub_cache_dir(&cache, NULL);
    if (rc >= 0) rc = temper__hub_find_snapshot(cache, repo, rev, &snap);
    if (rc >= 0) rc = temper__give(snap, folder, cap);
    free(repo);
    free(rev);
    free(cache);
    free(snap);
    return rc;
}

temper_pull_params temper_pull_default_params(void) {
    temper_pull_params p = {0};
    return p;
}

int temper_pull(const char *repo_id, const temper_pull_params *params, char *folder, size_t cap) {
    if (!repo_id) return temper__error(TEMPER_EINVAL, "temper_pull: repo_id is NULL");
    temper_pull_params defaults = temper_pull_default_params();
    if (!params) params = &defaults;
    if (temper__hub_env_offline())
        return temper__error(TEMPER_EINVAL, "cannot download %s: HF_HUB_OFFLINE is set (unset it "
                             "to use the network)", repo_id);
    char *repo = NULL, *rev = NULL, *snap = NULL;
    int rc = temper__hub_parse_id(repo_id, &repo, &rev);
    if (rc == 0)
        rc = temper__error(TEMPER_EINVAL, "\"%s\" is not a Hub id (such as gpt2 or "
                           "openai-community/gpt2, optionally @REVISION)", repo_id);
    if (rc >= 0) {
        temper__hub_opts o = {.endpoint = params->endpoint, .token = params->token,
                              .force = params->force, .progress = params->progress,
                              .user = params->user};
        rc = temper__hub_download(repo, rev, &o, &snap);
    }
    if (rc >= 0) rc = temper__give(snap, folder, cap);
    free(repo);
    free(rev);
    free(snap);
    return rc;
}
