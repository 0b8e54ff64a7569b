/*
 * zip.h - the directory of a zip archive held in memory (a file map), and
 * the bytes of its entries. Enough for PyTorch checkpoints: stored and
 * deflated entries, zip64 sizes and offsets, data descriptors. Nothing is
 * copied for stored entries: their bytes point into the map.
 */
#ifndef TEMPER_ZIP_H
#define TEMPER_ZIP_H

#include "core/core.h"

typedef struct temper__zip_entry {
    const char *name;     /* borrowed from the archive; NOT NUL-terminated */
    size_t name_len;
    uint64_t offset;      /* first byte of the entry's data in the archive */
    uint64_t size;        /* bytes stored in the archive */
    uint64_t usize;       /* bytes once decompressed */
    uint32_t crc32;
    int method;           /* 0 stored, 8 deflated, else unsupported */
} temper__zip_entry;

typedef struct temper__zip {
    const uint8_t *data;         /* the archive, borrowed (size bytes) */
    size_t size;
    temper__zip_entry *entries;  /* (n) sorted by name, owned */
    int n;
} temper__zip;

/* Read the central directory of the archive data[0..size). path names the
 * file in errors (a truncated file has no end record: the message says so). */
int temper__zip_open(temper__zip *z, const char *path, const uint8_t *data, size_t size);

/* Entry by exact name (len bytes, no NUL needed), or NULL. */
const temper__zip_entry *temper__zip_find(const temper__zip *z, const char *name, size_t len);

/* The usize bytes of an entry. Stored: *out points into the archive and
 * *owned is NULL. Deflated: *out == *owned, a malloc'd buffer (64-byte
 * aligned) that the caller frees. The CRC of deflated data is checked. */
int temper__zip_read(const temper__zip *z, const char *path, const temper__zip_entry *e,
                     const uint8_t **out, void **owned);

void temper__zip_close(temper__zip *z);

#endif
