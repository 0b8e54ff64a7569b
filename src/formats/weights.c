/* weights.c - the tensor table shared by all weight-file readers, and the
 * choice of files in a model folder. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "formats/weights.h"

const char *temper__dtype_name(temper__dtype t) {
    static const char *names[TEMPER__DTYPE_COUNT] = {"f32", "f16", "bf16", "q8", "other"};
    return (unsigned)t < TEMPER__DTYPE_COUNT ? names[t] : "?";
}

size_t temper__dtype_size(temper__dtype t) {
    switch (t) {
    case TEMPER__F32: return 4;
    case TEMPER__F16:
    case TEMPER__BF16: return 2;
    default: return 0;
    }
}

temper__tensor *temper__weights_push(temper__weights *w, const char *name, size_t name_len) {
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        temper__tensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) return NULL;
        w->tensors = t;
        w->cap = cap;
    }
    temper__tensor *t = &w->tensors[w->n];
    memset(t, 0, sizeof *t);
    t->name = malloc(name_len + 1);
    if (!t->name) return NULL;
    memcpy(t->name, name, name_len);
    t->name[name_len] = '\0';
    w->n++;
    return t;
}

int temper__weights_keep_map(temper__weights *w, temper__mmap m) {
    temper__mmap *maps = realloc(w->maps, (size_t)(w->n_maps + 1) * sizeof *maps);
    if (!maps) return temper__error(TEMPER_ENOMEM, "out of memory");
    w->maps = maps;
    w->maps[w->n_maps++] = m;
    w->file_bytes += m.size;
    return 0;
}

int temper__weights_keep_buffer(temper__weights *w, void *buf) {
    void **b = realloc(w->buffers, (size_t)(w->n_buffers + 1) * sizeof *b);
    if (!b) return temper__error(TEMPER_ENOMEM, "out of memory");
    w->buffers = b;
    w->buffers[w->n_buffers++] = buf;
    return 0;
}

const temper__tensor *temper__weights_find(const temper__weights *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return &w->tensors[i];
    return NULL;
}

void temper__weights_close(temper__weights *w) {
    for (int i = 0; i < w->n; i++) free(w->tensors[i].name);
    free(w->tensors);
    for (int i = 0; i < w->n_maps; i++) temper__mmap_close(&w->maps[i]);
    free(w->maps);
    for (int i = 0; i < w->n_buffers; i++) free(w->buffers[i]);
    free(w->buffers);
    memset(w, 0, sizeof *w);
}

/* Open every distinct shard named in an index file's weight_map. */
static int temper__weights_add_index(temper__weights *w, const char *dir, const char *index,
                                     int (*add)(temper__weights *, const char *)) {
    char *path = temper__strfmt("%s/%s", dir, index), *text = NULL;
    if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = temper__read_file(path, &text, NULL);
    if (rc < 0) { free(path); return rc; }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        rc = temper__error(TEMPER_EFORMAT, "%s: not a sharded-checkpoint index (no \"weight_map\" object): "
                           "download the file again", path);
        goto done;
    }
    /* Shards in order of first appearance, each opened once. */
    const cJSON *item, *prev;
    cJSON_ArrayForEach(item, map) {
        if (!cJSON_IsString(item) || strchr(item->valuestring, '/')) {
            rc = temper__error(TEMPER_EFORMAT, "%s: weight_map entry \"%s\" is not a file name in the folder",
                               path, item->string ? item->string : "?");
            goto done;
        }
        int seen = 0;
        cJSON_ArrayForEach(prev, map) {
            if (prev == item) break;
            if (strcmp(prev->valuestring, item->valuestring) == 0) { seen = 1; break; }
        }
        if (seen) continue;
        char *shard = temper__strfmt("%s/%s", dir, item->valuestring);
        if (!shard) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
        rc = add(w, shard);
        free(shard);
        if (rc < 0) goto done;
    }
done:
    cJSON_Delete(root);
    free(path);
    return rc;
}

int temper__weights_open_folder(const char *dir, temper__weights *w) {
    memset(w, 0, sizeof *w);
    static const struct {
        const char *file;
        int index;
        int (*add)(temper__weights *, const char *);
    } choices[] = {
        {"model.safetensors", 0, temper__weights_add_safetensors},
        {"model.safetensors.index.json", 1, temper__weights_add_safetensors},
        {"pytorch_model.bin", 0, temper__weights_add_pytorch},
        {"pytorch_model.bin.index.json", 1, temper__weights_add_pytorch},
    };
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        char *path = temper__strfmt("%s/%s", dir, choices[i].file);
        if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
        int exists = temper__is_file(path);
        int rc = 0;
        if (exists)
            rc = choices[i].index ? temper__weights_add_index(w, dir, choices[i].file, choices[i].add)
                                  : choices[i].add(w, path);
        free(path);
        if (rc < 0) {
            temper__weights_close(w);
            return rc;
        }
        if (exists) return 0;
    }
    return temper__error(TEMPER_ENOENT,
                         "%s: no weights found (looked for model.safetensors, "
                         "model.safetensors.index.json, pytorch_model.bin, "
                         "pytorch_model.bin.index.json): download the model's weight files "
                         "into this folder",
                         dir);
}
