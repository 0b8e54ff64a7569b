/*
 * weights.h - a model's named tensors, whatever file format they come from.
 *
 * Readers (safetensors.c, pytorch.c, ...) append tensors to one
 * temper__weights table. Tensor data either points into a read-only memory
 * map of the file (no copy) or, when a format needs conversion (strided
 * PyTorch storages), into a buffer the table owns.
 */
#ifndef TEMPER_WEIGHTS_H
#define TEMPER_WEIGHTS_H

#include "core/core.h"

typedef enum temper__dtype {
    TEMPER__F32 = 0,
    TEMPER__F16,
    TEMPER__BF16,
    TEMPER__Q8, /* blocks of 32 int8 with one f32 scale (made at load time) */
    TEMPER__OTHER, /* a dtype temper does not compute with (bool masks, ints, f64) */
    TEMPER__DTYPE_COUNT
} temper__dtype;

/* "f32", "f16", "bf16", "q8". */
const char *temper__dtype_name(temper__dtype t);
/* Bytes per element of f32/f16/bf16 (q8 is blocked: not defined). */
size_t temper__dtype_size(temper__dtype t);

#define TEMPER__MAX_DIMS 4

typedef struct temper__tensor {
    char *name;                       /* owned by the table */
    temper__dtype dtype;
    int ndim;
    int64_t shape[TEMPER__MAX_DIMS];  /* row-major, shape[ndim-1] contiguous */
    const void *data;                 /* borrowed from a map or an owned buffer */
    size_t nbytes;
} temper__tensor;

typedef struct temper__weights {
    temper__tensor *tensors;
    int n, cap;
    temper__mmap *maps;   /* file maps the tensors point into */
    int n_maps;
    void **buffers;       /* converted data owned by the table */
    int n_buffers;
    uint64_t file_bytes;  /* total size of the files read */
} temper__weights;

/* Open every tensor of a model folder: model.safetensors, sharded
 * model.safetensors.index.json, else pytorch_model.bin (or its index).
 * Errors name the file and the fix. */
int temper__weights_open_folder(const char *dir, temper__weights *w);

/* Append the tensors of one safetensors file. */
int temper__weights_add_safetensors(temper__weights *w, const char *path);
/* Append the tensors of one PyTorch zip checkpoint (pytorch.c). */
int temper__weights_add_pytorch(temper__weights *w, const char *path);

/* Tensor by exact name, or NULL. */
const temper__tensor *temper__weights_find(const temper__weights *w,
                                           const char *name);

void temper__weights_close(temper__weights *w);

/* Internal to readers: append a tensor (name copied). Returns it or NULL. */
temper__tensor *temper__weights_push(temper__weights *w, const char *name,
                                     size_t name_len);
/* Internal to readers: keep a map / buffer alive for the table's life. */
int temper__weights_keep_map(temper__weights *w, temper__mmap m);
int temper__weights_keep_buffer(temper__weights *w, void *buf);

#endif
