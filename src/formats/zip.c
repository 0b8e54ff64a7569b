/*
 * zip.c - read a zip archive through its central directory (PKWARE
 * APPNOTE). All integers are little-endian.
 *
 *   [local header 30 B + name + extra][data] ... for each entry
 *   [central directory: 46 B + name + extra + comment for each entry]
 *   [zip64 end record 56 B][zip64 locator 20 B]   (only when needed)
 *   [end record 22 B + comment]
 *
 * The end record gives the entry count and the directory's size and
 * offset; 0xFFFF/0xFFFFFFFF there mean "see the zip64 end record". Each
 * directory entry gives the method, CRC, sizes and the local header's
 * offset; 0xFFFFFFFF means "see the zip64 extra field (id 1)", which holds,
 * in this order and only for the saturated fields, the uncompressed size,
 * the compressed size and the offset. The data starts after the local
 * header's own name and extra field, whose lengths may differ from the
 * directory's: PyTorch pads the local extra field (id "FB") so that every
 * entry's data starts on a 64-byte boundary. Sizes in the local header may
 * be zero (data descriptor, flag bit 3): the directory's are used.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "formats/zip.h"

static uint16_t temper__le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t temper__le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t temper__le64(const uint8_t *p) {
    return (uint64_t)temper__le32(p) | (uint64_t)temper__le32(p + 4) << 32;
}

enum {
    TEMPER__ZIP_LOCAL_SIG = 0x04034b50,
    TEMPER__ZIP_CENTRAL_SIG = 0x02014b50,
    TEMPER__ZIP_END_SIG = 0x06054b50,
    TEMPER__ZIP64_END_SIG = 0x06064b50,
    TEMPER__ZIP64_LOCATOR_SIG = 0x07064b50,
};

/* Where the central directory is and how many entries it holds. */
static int temper__zip_find_directory(const char *path, const uint8_t *d, size_t size,
                                      uint64_t *n, uint64_t *cd_off, uint64_t *cd_size) {
    /* The end record is the last 22 bytes plus a comment of up to 65535. */
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, end = SIZE_MAX;
    for (size_t i = size >= 22 ? size - 22 + 1 : 0; i-- > lo;) {
        if (temper__le32(d + i) == TEMPER__ZIP_END_SIG && i + 22 + temper__le16(d + i + 20) == size) {
            end = i;
            break;
        }
    }
    if (end == SIZE_MAX)
        return temper__error(TEMPER_EFORMAT,
                             "%s: truncated or not a zip archive (no end-of-directory record at the "
                             "end of its %zu bytes): download the file again",
                             path, size);
    *n = temper__le16(d + end + 10);
    *cd_size = temper__le32(d + end + 12);
    *cd_off = temper__le32(d + end + 16);
    if (end >= 20 && temper__le32(d + end - 20) == TEMPER__ZIP64_LOCATOR_SIG) {
        uint64_t z64 = temper__le64(d + end - 20 + 8);
        if (z64 > end - 20 || end - 20 - z64 < 56 || temper__le32(d + z64) != TEMPER__ZIP64_END_SIG)
            return temper__error(TEMPER_EFORMAT, "%s: corrupt zip64 end record: download the file again",
                                 path);
        *n = temper__le64(d + z64 + 32);
        *cd_size = temper__le64(d + z64 + 40);
        *cd_off = temper__le64(d + z64 + 48);
    } else if (*n == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_off == 0xFFFFFFFFu) {
        return temper__error(TEMPER_EFORMAT, "%s: zip64 archive without its zip64 end record: "
                             "download the file again", path);
    }
    if (*cd_off > end || *cd_size > end - *cd_off || *n > *cd_size / 46)
        return temper__error(TEMPER_EFORMAT,
                             "%s: corrupt zip directory (%llu entries, %llu bytes at offset %llu in a "
                             "%zu-byte file): download the file again",
                             path, (unsigned long long)*n, (unsigned long long)*cd_size,
                             (unsigned long long)*cd_off, size);
    return 0;
}

/* Replace the saturated 32-bit fields by those of the zip64 extra field. */
static int temper__zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *size,
                               uint64_t *local) {
    uint64_t *fields[3] = {usize, size, local};
    size_t i = 0;
    while (i + 4 <= xlen) {
        uint16_t id = temper__le16(x + i), len = temper__le16(x + i + 2);
        if (i + 4 + len > xlen) return -1;
        if (id == 1) {
            size_t at = i + 4;
            for (int f = 0; f < 3; f++) {
                if (*fields[f] != 0xFFFFFFFFu) continue;
                if (at + 8 > i + 4 + len) return -1;
                *fields[f] = temper__le64(x + at);
                at += 8;
            }
            return 0;
        }
        i += 4 + (size_t)len;
    }
    return 0;
}

static int temper__zip_entry_cmp(const void *a, const void *b) {
    const temper__zip_entry *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

int temper__zip_open(temper__zip *z, const char *path, const uint8_t *d, size_t size) {
    memset(z, 0, sizeof *z);
    uint64_t n = 0, cd_off = 0, cd_size = 0;
    int rc = temper__zip_find_directory(path, d, size, &n, &cd_off, &cd_size);
    if (rc < 0) return rc;
    z->data = d;
    z->size = size;
    z->entries = calloc(n ? n : 1, sizeof *z->entries);
    if (!z->entries) return temper__error(TEMPER_ENOMEM, "out of memory");
    const uint8_t *p = d + cd_off, *cd_end = d + cd_off + cd_size;
    for (uint64_t i = 0; i < n; i++) {
        if (cd_end - p < 46 || temper__le32(p) != TEMPER__ZIP_CENTRAL_SIG) goto corrupt;
        temper__zip_entry *e = &z->entries[z->n];
        uint16_t flags = temper__le16(p + 8), nlen = temper__le16(p + 28), xlen = temper__le16(p + 30),
                 clen = temper__le16(p + 32);
        if ((size_t)(cd_end - p) < 46u + nlen + xlen + clen) goto corrupt;
        e->method = temper__le16(p + 10);
        e->crc32 = temper__le32(p + 16);
        e->size = temper__le32(p + 20);
        e->usize = temper__le32(p + 24);
        uint64_t local = temper__le32(p + 42);
        e->name = (const char *)p + 46;
        e->name_len = nlen;
        if (temper__zip64_extra(p + 46 + nlen, xlen, &e->usize, &e->size, &local) < 0) goto corrupt;
        if (flags & 1) {
            rc = temper__error(TEMPER_EUNSUPPORTED, "%s: entry %.*s is encrypted: temper reads plain "
                               "zip archives only", path, (int)nlen, e->name);
            goto fail;
        }
        /* The local header: its own name and extra lengths place the data. */
        if (local > size || size - local < 30 || temper__le32(d + local) != TEMPER__ZIP_LOCAL_SIG)
            goto corrupt;
        e->offset = local + 30 + temper__le16(d + local + 26) + temper__le16(d + local + 28);
        if (e->offset > size || e->size > size - e->offset) {
            rc = temper__error(TEMPER_EFORMAT,
                               "%s: truncated file: entry %.*s ends at byte %llu but the file has "
                               "%zu bytes: download it again",
                               path, (int)nlen, e->name, (unsigned long long)(e->offset + e->size), size);
            goto fail;
        }
        z->n++;
        p += 46 + nlen + xlen + clen;
    }
    qsort(z->entries, (size_t)z->n, sizeof *z->entries, temper__zip_entry_cmp);
    return 0;
corrupt:
    rc = temper__error(TEMPER_EFORMAT, "%s: corrupt zip directory (entry %d): download the file again",
                       path, z->n);
fail:
    temper__zip_close(z);
    return rc;
}

const temper__zip_entry *temper__zip_find(const temper__zip *z, const char *name, size_t len) {
    temper__zip_entry key = {.name = name, .name_len = len};
    return bsearch(&key, z->entries, (size_t)z->n, sizeof key, temper__zip_entry_cmp);
}

/* Inflate a raw deflate stream of e->size bytes into e->usize bytes. */
static int temper__zip_inflate(const temper__zip *z, const char *path, const temper__zip_entry *e,
                               uint8_t *out) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return temper__error(TEMPER_ENOMEM, "out of memory");
    const uint8_t *in = z->data + e->offset;
    uint64_t in_left = e->size, out_left = e->usize;
    int zr = Z_OK;
    while (zr == Z_OK) {
        /* avail_* are 32-bit: feed at most 1 GiB at a time. */
        if (s.avail_in == 0 && in_left) {
            s.next_in = (Bytef *)(uintptr_t)in;
            s.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
            in += s.avail_in;
            in_left -= s.avail_in;
        }
        if (s.avail_out == 0 && out_left) {
            s.next_out = out;
            s.avail_out = (uInt)(out_left < (1u << 30) ? out_left : (1u << 30));
            out += s.avail_out;
            out_left -= s.avail_out;
        }
        zr = inflate(&s, Z_NO_FLUSH);
        if (zr == Z_BUF_ERROR && (s.avail_in || in_left) && (s.avail_out || out_left)) zr = Z_OK;
    }
    int ok = zr == Z_STREAM_END && s.avail_out == 0 && out_left == 0;
    inflateEnd(&s);
    if (!ok)
        return temper__error(TEMPER_EFORMAT,
                             "%s: entry %.*s: corrupt compressed data (does not inflate to the %llu "
                             "bytes announced): download the file again",
                             path, (int)e->name_len, e->name, (unsigned long long)e->usize);
    return 0;
}

int temper__zip_read(const temper__zip *z, const char *path, const temper__zip_entry *e,
                     const uint8_t **out, void **owned) {
    *out = NULL;
    *owned = NULL;
    if (e->method == 0) {
        if (e->size != e->usize)
            return temper__error(TEMPER_EFORMAT, "%s: entry %.*s: stored size %llu != size %llu "
                                 "(corrupt zip directory): download the file again",
                                 path, (int)e->name_len, e->name, (unsigned long long)e->size,
                                 (unsigned long long)e->usize);
        *out = z->data + e->offset;
        return 0;
    }
    if (e->method != 8)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: entry %.*s uses zip compression method %d (temper reads stored and "
                             "deflated entries): re-save the checkpoint with torch.save",
                             path, (int)e->name_len, e->name, e->method);
    if (e->usize > SIZE_MAX - 64)
        return temper__error(TEMPER_ENOMEM, "%s: entry %.*s is too large to decompress", path,
                             (int)e->name_len, e->name);
    /* deflate expands at most 1032:1: a larger announced size is a lie, and
     * allocating it would let a small file exhaust the memory */
    if (e->usize / 1032 > e->size + 1)
        return temper__error(TEMPER_EFORMAT, "%s: entry %.*s announces %llu bytes from %llu compressed, "
                             "more than deflate can give (corrupt zip directory): download the file again",
                             path, (int)e->name_len, e->name, (unsigned long long)e->usize,
                             (unsigned long long)e->size);
    size_t cap = ((size_t)e->usize + 63) / 64 * 64;
    uint8_t *buf = aligned_alloc(64, cap ? cap : 64);
    if (!buf)
        return temper__error(TEMPER_ENOMEM, "%s: out of memory decompressing entry %.*s (%llu bytes)",
                             path, (int)e->name_len, e->name, (unsigned long long)e->usize);
    int rc = temper__zip_inflate(z, path, e, buf);
    if (rc == 0) {
        /* crc32() takes 32-bit lengths: checksum in 1 GiB pieces. */
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t at = 0; at < e->usize;) {
            uInt k = (uInt)(e->usize - at < (1u << 30) ? e->usize - at : (1u << 30));
            crc = crc32(crc, buf + at, k);
            at += k;
        }
        if ((uint32_t)crc != e->crc32)
            rc = temper__error(TEMPER_EFORMAT, "%s: entry %.*s: CRC mismatch (corrupt file): download "
                               "it again", path, (int)e->name_len, e->name);
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *owned = buf;
    return 0;
}

void temper__zip_close(temper__zip *z) {
    free(z->entries);
    memset(z, 0, sizeof *z);
}
