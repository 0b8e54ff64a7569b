/*
 * digest.c - checksums of downloaded files with OpenSSL's EVP digests:
 * SHA-256 for LFS files (the Hub's X-Linked-Etag) and git's blob id,
 * SHA-1 of "blob <size>\0" followed by the content, for the others (their
 * ETag).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hub/hub.h"

int temper__file_digest(const char *path, int git_blob, char hex[65]) {
    FILE *in = fopen(path, "rb");
    if (!in) return temper__error(TEMPER_EIO, "%s: cannot read the download: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, git_blob ? EVP_sha1() : EVP_sha256(), NULL) == 1;
    if (ok && git_blob) {
        struct stat st;
        char head[32];
        ok = fstat(fileno(in), &st) == 0;
        int n = snprintf(head, sizeof head, "blob %lld", (long long)st.st_size);
        ok = ok && EVP_DigestUpdate(ctx, head, (size_t)n + 1) == 1; /* with the NUL */
    }
    static _Thread_local unsigned char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    int read_error = ferror(in);
    fclose(in);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ok = ok && !read_error && EVP_DigestFinal_ex(ctx, md, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return temper__error(TEMPER_EIO, "%s: %s", path,
                             read_error ? "read error" : "the checksum could not be computed (OpenSSL)");
    for (unsigned int i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * len] = '\0';
    return 0;
}
