/*
 * core.h - private helpers shared by every part of the library: error
 * reporting, files and memory maps, small string utilities, timing.
 * Nothing here is public; every symbol has the temper__ prefix.
 */
#ifndef TEMPER_CORE_H
#define TEMPER_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "temper.h"

/* Record the detail of a failure for temper_last_error() on this thread and
 * return code (a negative TEMPER_E* value), so that callers can write
 * `return temper__error(TEMPER_EINVAL, "top_p is %g: use a value in [0, 1]", p);` */
int temper__error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current last-error message with "<prefix>: ". Returns code. */
int temper__error_prefix(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A read-only memory map of a whole file. */
typedef struct temper__mmap {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
} temper__mmap;

/* Map path read-only. Errors name the file. */
int temper__mmap_open(const char *path, temper__mmap *out);
void temper__mmap_close(temper__mmap *m);

/* Read a whole (small) file into a NUL-terminated malloc'd buffer owned by
 * the caller. *size_out (may be NULL) gets the length without the NUL.
 * The file must be a regular file (not a FIFO, a device such as /dev/zero
 * or a directory) of at most TEMPER__MAX_TEXT_FILE bytes. */
int temper__read_file(const char *path, char **out, size_t *size_out);
/* The same with a size cap of max bytes. */
int temper__read_file_max(const char *path, size_t max, char **out, size_t *size_out);
#define TEMPER__MAX_TEXT_FILE ((size_t)1 << 30)

/* 1 if path is an existing regular file (following links), else 0. */
int temper__is_file(const char *path);
/* 1 if path is an existing directory (following links), else 0. */
int temper__is_dir(const char *path);

/* snprintf into a malloc'd string owned by the caller; NULL on OOM. */
char *temper__strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *temper__strdup(const char *s);

/* If the first bytes of a file are a Git LFS pointer or an HTML page,
 * return TEMPER_EFORMAT with a message naming path and the fix; else 0.
 * head/len: the first bytes of the file. */
int temper__check_not_placeholder(const char *path, const uint8_t *head,
                                  size_t len);

/* Monotonic wall clock in seconds. */
double temper__now(void);

/* Number of online CPU cores (at least 1). */
int temper__n_cores(void);

/* ---- checked arithmetic for sizes computed from file contents ---------
 * Each returns true and stores the result, or false on overflow (*out is
 * then unspecified): `if (!temper__mul_i64(rows, cols, &n)) return error`. */
static inline size_t temper__mul_size(size_t a, size_t b) { /* 0 on overflow */
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? 0 : r;
}
static inline bool temper__mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool temper__add_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool temper__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool temper__add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
/* d as an integer in [lo, hi]: false when d is NaN, infinite, fractional
 * or out of range (checked before any conversion, which would be UB). */
static inline bool temper__double_to_i64(double d, int64_t lo, int64_t hi, int64_t *out) {
    if (!(d >= (double)lo && d <= (double)hi && d >= -0x1p63 && d < 0x1p63)) return false;
    int64_t v = (int64_t)d;
    if ((double)v != d) return false;
    *out = v;
    return true;
}

#endif
