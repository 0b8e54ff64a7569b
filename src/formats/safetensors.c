/*
 * safetensors.c - read a .safetensors file through a memory map.
 *
 * Layout: [u64 little-endian N][N bytes of JSON header][data]. The header maps
 * each tensor name to {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, ...],
 * "data_offsets": [begin, end]} with offsets relative to the start of the
 * data; an optional "__metadata__" object holds strings. Tensors are
 * row-major and little-endian. Nothing is copied: tensor data points into
 * the map.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "formats/weights.h"

static int temper__st_dtype(const char *s, temper__dtype *out) {
    if (strcmp(s, "F32") == 0) { *out = TEMPER__F32; return 1; }
    if (strcmp(s, "F16") == 0) { *out = TEMPER__F16; return 1; }
    if (strcmp(s, "BF16") == 0) { *out = TEMPER__BF16; return 1; }
    return 0;
}

/* Element size of the safetensors dtypes temper stores but does not use. */
static size_t temper__st_other_size(const char *s) {
    static const struct { const char *name; size_t size; } t[] = {
        {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
        {"I32", 4}, {"U32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0) return t[i].size;
    return 0;
}

/* Entries [first, w->n) of one file: no name twice, no two byte ranges
 * overlapping (the safetensors library refuses both). Sorted copies of the
 * entries' indices make it O(n log n) for headers of any size. */
static int temper__st_by_name(const void *a, const void *b, void *w) {
    const temper__tensor *t = ((const temper__weights *)w)->tensors;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}
static int temper__st_by_begin(const void *a, const void *b, void *w) {
    const temper__tensor *x = &((const temper__weights *)w)->tensors[*(const int *)a],
                         *y = &((const temper__weights *)w)->tensors[*(const int *)b];
    const uint8_t *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int temper__st_check_disjoint(const temper__weights *w, int first, const char *path,
                                     const uint8_t *data) {
    int n = w->n - first;
    if (n < 2) return 0;
    int *ix = malloc((size_t)n * sizeof *ix);
    if (!ix) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) ix[i] = first + i;
    qsort_r(ix, (size_t)n, sizeof *ix, temper__st_by_name, (void *)w);
    int rc = 0;
    for (int i = 1; i < n && rc == 0; i++)
        if (strcmp(w->tensors[ix[i - 1]].name, w->tensors[ix[i]].name) == 0)
            rc = temper__error(TEMPER_EFORMAT, "%s: tensor \"%s\" appears twice in the header (corrupt "
                               "header): download the file again", path, w->tensors[ix[i]].name);
    if (rc == 0) qsort_r(ix, (size_t)n, sizeof *ix, temper__st_by_begin, (void *)w);
    for (int i = 1; i < n && rc == 0; i++) {
        const temper__tensor *a = &w->tensors[ix[i - 1]], *b = &w->tensors[ix[i]];
        if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data)
            rc = temper__error(TEMPER_EFORMAT, "%s: tensors \"%s\" and \"%s\" overlap (bytes %lld.. of the "
                               "data; corrupt header): download the file again", path, a->name, b->name,
                               (long long)((const uint8_t *)b->data - data));
    }
    free(ix);
    return rc;
}

static int temper__st_parse(temper__weights *w, const char *path, const temper__mmap *m) {
    if (m->size < 8) {
        int rc = temper__check_not_placeholder(path, m->data, m->size);
        if (rc < 0) return rc;
        return temper__error(TEMPER_EFORMAT, "%s: truncated safetensors file (%zu bytes): download it again",
                             path, m->size);
    }
    int rc = temper__check_not_placeholder(path, m->data, m->size < 256 ? m->size : 256);
    if (rc < 0) return rc;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | m->data[i];
    if (hlen > m->size - 8 || hlen > (100u << 20))
        return temper__error(TEMPER_EFORMAT,
                             "%s: corrupt or truncated safetensors header (header length %llu, file "
                             "size %zu): download the file again",
                             path, (unsigned long long)hlen, m->size);
    const uint8_t *data = m->data + 8 + hlen;
    size_t data_size = m->size - 8 - hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)m->data + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return temper__error(TEMPER_EFORMAT,
                             "%s: corrupt safetensors header (not a JSON object): download the file again",
                             path);
    }
    /* Every entry is checked as the safetensors library checks it: integer
     * shapes and offsets, begin <= end <= the data, end - begin = the size
     * of the shape, no two entries with one name, no two overlapping ranges. */
    int first = w->n;
    rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) continue;
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
            cJSON_GetArraySize(offs) != 2) {
            rc = temper__error(TEMPER_EFORMAT, "%s: corrupt safetensors header entry for \"%s\"", path,
                               item->string);
            break;
        }
        /* Other dtypes (bool attention masks, int position ids, f64) are kept
         * as TEMPER__OTHER: an error only if a model actually needs them. */
        temper__dtype dtype;
        size_t elt;
        if (temper__st_dtype(dt->valuestring, &dtype)) elt = temper__dtype_size(dtype);
        else if ((elt = temper__st_other_size(dt->valuestring)) > 0) dtype = TEMPER__OTHER;
        else {
            rc = temper__error(TEMPER_EFORMAT, "%s: tensor \"%s\" has an unknown dtype \"%s\" (corrupt header?)",
                               path, item->string, dt->valuestring);
            break;
        }
        int ndim = cJSON_GetArraySize(shape);
        if (ndim > TEMPER__MAX_DIMS) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: tensor \"%s\" has %d dimensions (at most %d)",
                               path, item->string, ndim, TEMPER__MAX_DIMS);
            break;
        }
        temper__tensor *t = temper__weights_push(w, item->string, strlen(item->string));
        if (!t) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); break; }
        t->dtype = dtype;
        t->ndim = ndim;
        /* sizes up to 2^53: exact in the JSON doubles, products checked */
        const int64_t max = (int64_t)1 << 53;
        uint64_t numel = 1;
        int64_t b = -1, e = -1;
        bool ok = true;
        for (int d = 0; d < ndim && ok; d++) {
            const cJSON *v = cJSON_GetArrayItem(shape, d);
            ok = cJSON_IsNumber(v) && temper__double_to_i64(v->valuedouble, 0, max, &t->shape[d]) &&
                 temper__mul_u64(numel, (uint64_t)t->shape[d], &numel);
        }
        const cJSON *vb = cJSON_GetArrayItem(offs, 0), *ve = cJSON_GetArrayItem(offs, 1);
        uint64_t nbytes = 0;
        if (!ok || !temper__mul_u64(numel, elt, &nbytes) || !cJSON_IsNumber(vb) || !cJSON_IsNumber(ve) ||
            !temper__double_to_i64(vb->valuedouble, 0, max, &b) ||
            !temper__double_to_i64(ve->valuedouble, 0, max, &e) || e < b || (uint64_t)(e - b) != nbytes) {
            rc = temper__error(TEMPER_EFORMAT, "%s: tensor \"%s\": shape and data_offsets are not whole "
                               "numbers that agree (corrupt header): download the file again", path,
                               item->string);
            break;
        }
        if ((uint64_t)e > data_size) {
            rc = temper__error(TEMPER_EFORMAT,
                               "%s: truncated file: tensor \"%s\" ends at byte %lld of the data but the "
                               "file holds %zu: download the file again",
                               path, item->string, (long long)e, data_size);
            break;
        }
        t->data = data + b;
        t->nbytes = (size_t)nbytes;
    }
    if (rc == 0) rc = temper__st_check_disjoint(w, first, path, data);
    cJSON_Delete(root);
    return rc;
}

int temper__weights_add_safetensors(temper__weights *w, const char *path) {
    temper__mmap m;
    int rc = temper__mmap_open(path, &m);
    if (rc < 0) return rc;
    rc = temper__st_parse(w, path, &m);
    if (rc < 0) {
        temper__mmap_close(&m);
        return rc;
    }
    return temper__weights_keep_map(w, m);
}
