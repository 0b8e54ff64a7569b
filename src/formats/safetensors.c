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
        size_t numel = 1;
        int bad = 0;
        for (int d = 0; d < ndim; d++) {
            const cJSON *v = cJSON_GetArrayItem(shape, d);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12) { bad = 1; break; }
            t->shape[d] = (int64_t)v->valuedouble;
            numel = temper__mul_size(numel, (size_t)t->shape[d]);
        }
        double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
        size_t nbytes = temper__mul_size(numel, elt);
        if (bad || !(b >= 0 && e >= b) || (size_t)(e - b) != nbytes) {
            rc = temper__error(TEMPER_EFORMAT, "%s: tensor \"%s\": shape and data_offsets disagree "
                               "(corrupt header): download the file again", path, item->string);
            break;
        }
        if ((size_t)e > data_size) {
            rc = temper__error(TEMPER_EFORMAT,
                               "%s: truncated file: tensor \"%s\" ends at byte %.0f of the data but the "
                               "file holds %zu: download the file again",
                               path, item->string, e, data_size);
            break;
        }
        t->data = data + (size_t)b;
        t->nbytes = nbytes;
    }
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
