/* error.c - status codes, their names, and the per-thread last error. */
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local char temper__last_error[1024] = "no error";

#define TEMPER__STR(x) #x
#define TEMPER__VERSION(a, b, c) TEMPER__STR(a) "." TEMPER__STR(b) "." TEMPER__STR(c)

/* Made from the TEMPER_VERSION_* macros of temper.h, the one place it is set. */
const char *temper_version(void) {
    return TEMPER__VERSION(TEMPER_VERSION_MAJOR, TEMPER_VERSION_MINOR, TEMPER_VERSION_PATCH);
}

const char *temper_strerror(int err) {
    switch (err) {
    case TEMPER_OK: return "success";
#define TEMPER__ERR_DESC(name, value, desc) case TEMPER_##name: return desc;
    TEMPER_ERRNO_MAP(TEMPER__ERR_DESC)
#undef TEMPER__ERR_DESC
    default: return "unknown error";
    }
}

const char *temper_err_name(int err) {
    switch (err) {
    case TEMPER_OK: return "TEMPER_OK";
#define TEMPER__ERR_NAME(name, value, desc) case TEMPER_##name: return "TEMPER_" #name;
    TEMPER_ERRNO_MAP(TEMPER__ERR_NAME)
#undef TEMPER__ERR_NAME
    default: return "TEMPER_EUNKNOWN";
    }
}

const char *temper_last_error(void) { return temper__last_error; }

int temper__error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(temper__last_error, sizeof temper__last_error, fmt, ap);
    va_end(ap);
    return code;
}

int temper__error_prefix(int code, const char *fmt, ...) {
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return code;
    size_t plen = strlen(prefix), cap = sizeof temper__last_error;
    memcpy(prefix + plen, ": ", 3);
    plen += 2;
    size_t old = strnlen(temper__last_error, cap - 1);
    if (plen + old >= cap) old = cap - 1 - plen;
    memmove(temper__last_error + plen, temper__last_error, old);
    memcpy(temper__last_error, prefix, plen);
    temper__last_error[plen + old] = '\0';
    return code;
}
