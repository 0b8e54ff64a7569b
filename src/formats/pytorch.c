/*
 * pytorch.c - PyTorch checkpoints (pytorch_model.bin) in the zip format
 * torch.save writes since PyTorch 1.6, read without Python.
 *
 * The zip (entries stored uncompressed, each one's data 64-byte aligned):
 *   <archive>/data.pkl             the state dict, pickle protocol 2
 *   <archive>/byteorder            "little" or "big" (absent: little)
 *   <archive>/data/<key>           the raw bytes of storage <key>
 *   <archive>/version, .format_version, .storage_alignment,
 *   <archive>/.data/serialization_id    (not needed here)
 * <archive> is one top folder ("archive", or the file's stem for files
 * written by older versions): the folder holding data.pkl.
 *
 * data.pkl is a dict (or collections.OrderedDict, whose `_metadata` state
 * is ignored) from names to tensors, each pickled as the call
 *   torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
 *                                   requires_grad, backward_hooks[, metadata])
 * with storage a persistent id
 *   ("storage", torch.FloatStorage | HalfStorage | BFloat16Storage | ...,
 *    key, location, numel)
 * and storage_offset, strides and numel counted in elements of the
 * storage's dtype. Tensors may share a storage (tied weights, views). An
 * nn.Parameter wraps its tensor in torch._utils._rebuild_parameter(...).
 * Only the globals of temper__pt_allowed[] are accepted: nothing is run.
 *
 * A tensor whose storage is stored uncompressed and whose strides are
 * row-major points into the file map; a strided tensor, one from a
 * compressed entry or from a big-endian file is copied into a buffer owned
 * by the table. Integer and bool tensors (position ids, attention masks:
 * buffers that no model here reads) are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pickle.h"
#include "formats/weights.h"
#include "formats/zip.h"

enum { TEMPER__PT_SKIP = -1, TEMPER__PT_REFUSE = -2 };

enum {
    TEMPER__PT_ORDERED_DICT,
    TEMPER__PT_REBUILD_TENSOR,
    TEMPER__PT_REBUILD_PARAM,
    TEMPER__PT_REBUILD_PARAM_STATE,
    TEMPER__PT_STORAGE0, /* first of the storage types, in temper__pt_storages[] order */
};

/* Storage types: element size and dtype (or skip / refuse). */
static const struct {
    const char *name;
    int esize;
    int dtype;
} temper__pt_storages[] = {
    {"FloatStorage", 4, TEMPER__F32},         {"HalfStorage", 2, TEMPER__F16},
    {"BFloat16Storage", 2, TEMPER__BF16},     {"DoubleStorage", 8, TEMPER__PT_REFUSE},
    {"LongStorage", 8, TEMPER__PT_SKIP},      {"IntStorage", 4, TEMPER__PT_SKIP},
    {"ShortStorage", 2, TEMPER__PT_SKIP},     {"CharStorage", 1, TEMPER__PT_SKIP},
    {"ByteStorage", 1, TEMPER__PT_SKIP},      {"BoolStorage", 1, TEMPER__PT_SKIP},
    {"UntypedStorage", 1, TEMPER__PT_SKIP},
};
#define TEMPER__PT_N_STORAGES ((int)(sizeof temper__pt_storages / sizeof temper__pt_storages[0]))

/* The allow-list: indices match the enum above, then the storages. */
static const temper__pk_global temper__pt_allowed[] = {
    {"collections", "OrderedDict", 1},
    {"torch._utils", "_rebuild_tensor_v2", 0},
    {"torch._utils", "_rebuild_parameter", 0},
    {"torch._utils", "_rebuild_parameter_with_state", 0},
    {"torch", "FloatStorage", 0},
    {"torch", "HalfStorage", 0},
    {"torch", "BFloat16Storage", 0},
    {"torch", "DoubleStorage", 0},
    {"torch", "LongStorage", 0},
    {"torch", "IntStorage", 0},
    {"torch", "ShortStorage", 0},
    {"torch", "CharStorage", 0},
    {"torch", "ByteStorage", 0},
    {"torch", "BoolStorage", 0},
    {"torch", "UntypedStorage", 0},
};
_Static_assert(sizeof temper__pt_allowed / sizeof temper__pt_allowed[0] ==
                   TEMPER__PT_STORAGE0 + sizeof temper__pt_storages / sizeof temper__pt_storages[0],
               "one allow-list entry per storage type");

typedef struct temper__pt_inflated {
    const temper__zip_entry *entry;
    const uint8_t *data; /* owned by the weights table */
} temper__pt_inflated;

typedef struct temper__pt {
    temper__weights *w;
    const char *path;
    temper__zip zip;
    const char *prefix; /* the archive folder, with its '/' (prefix_len bytes) */
    size_t prefix_len;
    int big_endian;
    temper__pt_inflated *inflated; /* (n_inflated) decompressed storages */
    int n_inflated;
} temper__pt;

/* A tensor as the pickle describes it. */
typedef struct temper__pt_tensor {
    const char *name;
    size_t name_len;
    int storage;                     /* index in temper__pt_storages */
    const char *key;                 /* storage key: entry <archive>/data/<key> */
    int64_t storage_numel, offset;
    int ndim;
    int64_t size[TEMPER__MAX_DIMS], stride[TEMPER__MAX_DIMS];
} temper__pt_tensor;

static int temper__pt_bad(const temper__pt *pt, const temper__pt_tensor *t, const char *what) {
    return temper__error(TEMPER_EFORMAT,
                         "%s: tensor \"%s\": %s (corrupt file? download it again)", pt->path,
                         t->name, what);
}

static int temper__pt_is_int(const temper__pk_value *v) {
    return v && v->kind == TEMPER__PK_INT;
}

/* Unwrap the pickled call tree of one entry into *t. */
static int temper__pt_describe(const temper__pt *pt, const temper__pk_value *v, temper__pt_tensor *t) {
    /* nn.Parameter: _rebuild_parameter(tensor, requires_grad, hooks[, state]). */
    for (int depth = 0; depth < 4 && v->kind == TEMPER__PK_CALL &&
                        (v->g == TEMPER__PT_REBUILD_PARAM || v->g == TEMPER__PT_REBUILD_PARAM_STATE);
         depth++) {
        if (v->items[0]->n < 1) return temper__pt_bad(pt, t, "a Parameter without its tensor");
        v = v->items[0]->items[0];
    }
    if (v->kind == TEMPER__PK_DICT)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: entry \"%s\" is a dict, not a tensor: this looks like a training "
                             "checkpoint; save the model's state_dict() alone (e.g. "
                             "torch.save(ckpt[\"%s\"], \"pytorch_model.bin\"))",
                             pt->path, t->name, t->name);
    if (v->kind != TEMPER__PK_CALL || v->g != TEMPER__PT_REBUILD_TENSOR)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: entry \"%s\" is %s, not a tensor: temper reads state dicts "
                             "{name: tensor} only",
                             pt->path, t->name,
                             v->kind == TEMPER__PK_CALL ? "an object" : temper__pk_kind_name(v->kind));
    const temper__pk_value *args = v->items[0];
    if (args->n < 6 || args->items[0]->kind != TEMPER__PK_PERSID || !temper__pt_is_int(args->items[1]) ||
        args->items[2]->kind != TEMPER__PK_TUPLE || args->items[3]->kind != TEMPER__PK_TUPLE)
        return temper__pt_bad(pt, t, "malformed _rebuild_tensor_v2 arguments");
    const temper__pk_value *pid = args->items[0]->items[0], *size = args->items[2],
                           *stride = args->items[3];
    if (pid->kind != TEMPER__PK_TUPLE || pid->n < 5 || pid->items[0]->kind != TEMPER__PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != TEMPER__PK_GLOBAL ||
        pid->items[1]->g < TEMPER__PT_STORAGE0 || pid->items[2]->kind != TEMPER__PK_STR ||
        !temper__pt_is_int(pid->items[4]))
        return temper__pt_bad(pt, t, "malformed storage reference");
    t->storage = pid->items[1]->g - TEMPER__PT_STORAGE0;
    t->key = pid->items[2]->s;
    t->storage_numel = pid->items[4]->i;
    t->offset = args->items[1]->i;
    if (size->n != stride->n) return temper__pt_bad(pt, t, "size and stride differ in length");
    int dtype = temper__pt_storages[t->storage].dtype;
    if (dtype == TEMPER__PT_SKIP) return 0;
    if (dtype == TEMPER__PT_REFUSE)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: tensor \"%s\" is float64 (torch.%s); temper reads float32, float16 "
                             "and bfloat16: convert the checkpoint (e.g. model.float())",
                             pt->path, t->name, temper__pt_storages[t->storage].name);
    if (size->n > TEMPER__MAX_DIMS)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: tensor \"%s\" has %d dimensions (at most %d)",
                             pt->path, t->name, size->n, TEMPER__MAX_DIMS);
    t->ndim = size->n;
    for (int d = 0; d < t->ndim; d++) {
        const temper__pk_value *s = size->items[d], *st = stride->items[d];
        /* 2^40 bounds every product below well inside 64 bits. */
        if (!temper__pt_is_int(s) || !temper__pt_is_int(st) || s->i < 0 || st->i < 0 ||
            s->i > ((int64_t)1 << 40) || st->i > ((int64_t)1 << 40))
            return temper__pt_bad(pt, t, "bad size or stride");
        t->size[d] = s->i;
        t->stride[d] = st->i;
    }
    if (t->offset < 0 || t->offset > ((int64_t)1 << 40) || t->storage_numel < 0 ||
        t->storage_numel > INT64_MAX / 8)
        return temper__pt_bad(pt, t, "bad storage offset or size");
    return 0;
}

/* The bytes of storage t->key: into the map, or decompressed once. */
static int temper__pt_storage(temper__pt *pt, const temper__pt_tensor *t, const uint8_t **out) {
    char *name = temper__strfmt("%.*sdata/%s", (int)pt->prefix_len, pt->prefix, t->key);
    if (!name) return temper__error(TEMPER_ENOMEM, "out of memory");
    const temper__zip_entry *e = temper__zip_find(&pt->zip, name, strlen(name));
    if (!e) {
        int rc = temper__error(TEMPER_EFORMAT,
                               "%s: tensor \"%s\": its storage %s is missing from the archive (an "
                               "incomplete or corrupt file): download it again",
                               pt->path, t->name, name);
        free(name);
        return rc;
    }
    free(name);
    uint64_t need = (uint64_t)t->storage_numel * (uint64_t)temper__pt_storages[t->storage].esize;
    if (e->usize < need)
        return temper__error(TEMPER_EFORMAT,
                             "%s: tensor \"%s\": storage %s holds %llu bytes but the pickle says %llu "
                             "(corrupt file): download it again",
                             pt->path, t->name, t->key, (unsigned long long)e->usize,
                             (unsigned long long)need);
    for (int k = 0; k < pt->n_inflated; k++)
        if (pt->inflated[k].entry == e) {
            *out = pt->inflated[k].data;
            return 0;
        }
    void *owned = NULL;
    int rc = temper__zip_read(&pt->zip, pt->path, e, out, &owned);
    if (rc < 0 || !owned) return rc;
    /* Ownership of the decompressed bytes passes to the table. */
    if ((rc = temper__weights_keep_buffer(pt->w, owned)) < 0) {
        free(owned);
        return rc;
    }
    temper__pt_inflated *inf = realloc(pt->inflated, (size_t)(pt->n_inflated + 1) * sizeof *inf);
    if (!inf) return temper__error(TEMPER_ENOMEM, "out of memory");
    pt->inflated = inf;
    pt->inflated[pt->n_inflated++] = (temper__pt_inflated){e, owned};
    return 0;
}

/* Copy a strided tensor into dst, row-major, swapping bytes if asked. */
static void temper__pt_gather(uint8_t *dst, const uint8_t *base, const temper__pt_tensor *t,
                              size_t esize, int swap) {
    int64_t idx[TEMPER__MAX_DIMS] = {0};
    int nd = t->ndim;
    int64_t inner = nd ? t->size[nd - 1] : 1, inner_stride = nd ? t->stride[nd - 1] : 0;
    int64_t rows = 1;
    for (int d = 0; d < nd - 1; d++) rows *= t->size[d];
    if (inner == 0) return;
    for (int64_t r = 0; r < rows; r++) {
        int64_t at = t->offset;
        for (int d = 0; d < nd - 1; d++) at += idx[d] * t->stride[d];
        const uint8_t *src = base + (size_t)at * esize;
        size_t step = (size_t)inner_stride * esize;
        if (!swap && inner_stride == 1) {
            memcpy(dst, src, (size_t)inner * esize);
            dst += (size_t)inner * esize;
        } else if (esize == 4) {
            for (int64_t i = 0; i < inner; i++, src += step, dst += 4) {
                uint32_t v;
                memcpy(&v, src, 4);
                if (swap) v = __builtin_bswap32(v);
                memcpy(dst, &v, 4);
            }
        } else { /* esize == 2 */
            for (int64_t i = 0; i < inner; i++, src += step, dst += 2) {
                uint16_t v;
                memcpy(&v, src, 2);
                if (swap) v = __builtin_bswap16(v);
                memcpy(dst, &v, 2);
            }
        }
        for (int d = nd - 2; d >= 0; d--) { /* next row: odometer over the outer dims */
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

static int temper__pt_add_tensor(temper__pt *pt, const temper__pk_value *key, const temper__pk_value *v) {
    temper__pt_tensor t = {.name = key->s, .name_len = key->len};
    int rc = temper__pt_describe(pt, v, &t);
    if (rc < 0) return rc;
    int dtype = temper__pt_storages[t.storage].dtype;
    if (dtype < 0) return 0; /* integer or bool buffer: skipped */
    size_t esize = (size_t)temper__pt_storages[t.storage].esize;
    /* Elements reached: [offset, offset + sum (size-1)*stride]. */
    int64_t numel = 1, last = t.offset, reach;
    for (int d = 0; d < t.ndim; d++) {
        if (__builtin_mul_overflow(numel, t.size[d], &numel) || numel > ((int64_t)1 << 46))
            return temper__pt_bad(pt, &t, "too many elements");
        if (t.size[d] > 0 && (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &reach) ||
                              __builtin_add_overflow(last, reach, &last)))
            return temper__pt_bad(pt, &t, "strides reach past any storage");
    }
    if (numel > 0 && last >= t.storage_numel) {
        char why[160];
        snprintf(why, sizeof why, "reaches element %lld of a storage of %lld elements",
                 (long long)last, (long long)t.storage_numel);
        return temper__pt_bad(pt, &t, why);
    }
    const uint8_t *base = NULL;
    if ((rc = temper__pt_storage(pt, &t, &base)) < 0) return rc;
    temper__tensor *out = temper__weights_push(pt->w, t.name, t.name_len);
    if (!out) return temper__error(TEMPER_ENOMEM, "out of memory");
    out->dtype = (temper__dtype)dtype;
    out->ndim = t.ndim;
    for (int d = 0; d < t.ndim; d++) out->shape[d] = t.size[d];
    out->nbytes = (size_t)numel * esize;
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t.ndim - 1; d >= 0 && numel > 0; d--) { /* numel > 0: expect stays <= numel */
        if (t.size[d] != 1 && t.stride[d] != expect) contiguous = 0;
        expect *= t.size[d];
    }
    const uint8_t *at = base + (size_t)t.offset * esize;
    if (numel == 0) {
        out->data = base;
    } else if (contiguous && !pt->big_endian && (uintptr_t)at % esize == 0) {
        out->data = at; /* borrowed from the map or an inflated buffer the table owns */
    } else {
        uint8_t *buf = aligned_alloc(64, (out->nbytes + 63) / 64 * 64);
        if (!buf) return temper__error(TEMPER_ENOMEM, "%s: out of memory copying tensor \"%s\"",
                                       pt->path, t.name);
        temper__pt_gather(buf, base, &t, esize, pt->big_endian);
        /* Ownership of buf passes to the table. */
        if ((rc = temper__weights_keep_buffer(pt->w, buf)) < 0) {
            free(buf);
            return rc;
        }
        out->data = buf;
    }
    return 0;
}

/* The first bytes tell a zip from the formats torch used before 1.6. */
static int temper__pt_check_head(const char *path, const temper__mmap *m) {
    if (m->size == 0)
        return temper__error(TEMPER_EFORMAT, "%s: empty file: download it again", path);
    int rc = temper__check_not_placeholder(path, m->data, m->size < 256 ? m->size : 256);
    if (rc < 0) return rc;
    const uint8_t *d = m->data;
    int legacy = (m->size >= 2 && d[0] == 0x80 && d[1] <= 5) || /* a bare pickle stream */
                 (m->size > 262 && memcmp(d + 257, "ustar", 5) == 0) || /* the tar format */
                 (m->size >= 8 && memcmp(d, "PYTORCH1", 8) == 0);
    if (legacy)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format: "
                             "temper reads the zip format only; re-save it with a recent torch "
                             "(torch.save(torch.load(f), f)) or convert it to model.safetensors",
                             path);
    if (m->size < 4 || memcmp(d, "PK\3\4", 4) != 0)
        return temper__error(TEMPER_EFORMAT,
                             "%s: not a PyTorch checkpoint (expected a zip archive; the file starts "
                             "with bytes %02x %02x %02x %02x): download it again",
                             path, d[0], m->size > 1 ? d[1] : 0, m->size > 2 ? d[2] : 0,
                             m->size > 3 ? d[3] : 0);
    return 0;
}

/* Find <archive>/data.pkl and read the byte order. */
static int temper__pt_layout(temper__pt *pt, const temper__zip_entry **pkl) {
    *pkl = NULL;
    for (int k = 0; k < pt->zip.n; k++) {
        const temper__zip_entry *e = &pt->zip.entries[k];
        const char *slash = memchr(e->name, '/', e->name_len);
        if (slash && e->name_len - (size_t)(slash - e->name) == 9 && memcmp(slash, "/data.pkl", 9) == 0) {
            *pkl = e;
            pt->prefix = e->name;
            pt->prefix_len = (size_t)(slash - e->name) + 1;
            break;
        }
    }
    if (!*pkl)
        return temper__error(TEMPER_EFORMAT,
                             "%s: a zip without <folder>/data.pkl: not a torch.save checkpoint", pt->path);
    char *name = temper__strfmt("%.*sbyteorder", (int)pt->prefix_len, pt->prefix);
    if (!name) return temper__error(TEMPER_ENOMEM, "out of memory");
    const temper__zip_entry *bo = temper__zip_find(&pt->zip, name, strlen(name));
    free(name);
    if (!bo) return 0;
    const uint8_t *text;
    void *owned;
    int rc = temper__zip_read(&pt->zip, pt->path, bo, &text, &owned);
    if (rc < 0) return rc;
    if (bo->usize == 3 && memcmp(text, "big", 3) == 0) pt->big_endian = 1;
    else if (!(bo->usize == 6 && memcmp(text, "little", 6) == 0))
        rc = temper__error(TEMPER_EFORMAT, "%s: byteorder record is neither \"little\" nor \"big\"",
                           pt->path);
    free(owned);
    return rc;
}

static int temper__pt_read(temper__pt *pt, const temper__mmap *m) {
    int rc = temper__pt_check_head(pt->path, m);
    if (rc < 0) return rc;
    if ((rc = temper__zip_open(&pt->zip, pt->path, m->data, m->size)) < 0) return rc;
    const temper__zip_entry *pkl;
    if ((rc = temper__pt_layout(pt, &pkl)) < 0) return rc;
    const uint8_t *bytes;
    void *owned;
    if ((rc = temper__zip_read(&pt->zip, pt->path, pkl, &bytes, &owned)) < 0) return rc;
    char *what = temper__strfmt("%s (%.*s)", pt->path, (int)pkl->name_len, pkl->name);
    if (!what) {
        free(owned);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    temper__pickle pk;
    const temper__pk_value *root;
    rc = temper__pickle_load(&pk, what, bytes, (size_t)pkl->usize, temper__pt_allowed,
                             (int)(sizeof temper__pt_allowed / sizeof temper__pt_allowed[0]), &root);
    free(what);
    free(owned);
    if (rc < 0) return rc;
    if (root->kind != TEMPER__PK_DICT) {
        rc = temper__error(TEMPER_EUNSUPPORTED,
                           "%s: the checkpoint holds %s, not a state dict {name: tensor}", pt->path,
                           temper__pk_kind_name(root->kind));
    }
    for (int k = 0; rc == 0 && k + 1 < root->n; k += 2) {
        const temper__pk_value *key = root->items[k];
        if (key->kind != TEMPER__PK_STR) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: a state dict key is %s, not a string",
                               pt->path, temper__pk_kind_name(key->kind));
            break;
        }
        rc = temper__pt_add_tensor(pt, key, root->items[k + 1]);
    }
    temper__pickle_free(&pk);
    return rc;
}

int temper__weights_add_pytorch(temper__weights *w, const char *path) {
    temper__mmap m;
    int rc = temper__mmap_open(path, &m);
    if (rc < 0) return rc;
    int n0 = w->n;
    temper__pt pt = {.w = w, .path = path};
    rc = temper__pt_read(&pt, &m);
    temper__zip_close(&pt.zip);
    free(pt.inflated);
    if (rc < 0) {
        /* Leave the table as it was (kept buffers are freed with it). */
        for (int k = n0; k < w->n; k++) free(w->tensors[k].name);
        w->n = n0;
        temper__mmap_close(&m);
        return rc;
    }
    return temper__weights_keep_map(w, m);
}
