/*
 * web.c - the explorer's static files (tools/server/web/, docs/explorer.md):
 * `make` bundles them into a table compiled into the binary
 * ($(BUILD)/gen/web_assets.c), served here at "/" and "/assets/...".
 *
 * Paths are looked up in that table only (nothing is read from the disk,
 * so no path can reach outside it): an unknown path is the router's 404.
 * "/" (index.html) is revalidated on each visit (no-cache + ETag); the
 * other files have a content hash in their names and are cached for a
 * year. When the explorer was not built (no tools/server/web/node_modules
 * at build time), "/" is a short page saying how to build it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char not_built[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>temper explorer: not built</title></head>\n<body style=\"font-family: sans-serif; "
    "max-width: 40em; margin: 3em auto; line-height: 1.5\">\n<h1>The explorer was not built</h1>\n"
    "<p>This <code>temper</code> was built without the web explorer: its JavaScript "
    "libraries (tools/server/web/node_modules) were missing when <code>make</code> ran. "
    "The HTTP API works (docs/api.md).</p>\n<p>To build the explorer, in temper's source folder "
    "(needs npm once, then no network):</p>\n"
    "<pre>(cd tools/server/web &amp;&amp; npm ci) &amp;&amp; make</pre>\n"
    "<p>then restart <code>temper serve</code>. See docs/explorer.md.</p>\n</body></html>\n";

static const srv_asset missing_page = {"/", "text/html; charset=utf-8", "\"not-built\"",
                                       (const unsigned char *)not_built, sizeof not_built - 1};

const srv_asset *srv_web_find(const char *path) {
    if (!srv_web_n_assets) return strcmp(path, "/") == 0 ? &missing_page : NULL;
    for (int i = 0; i < srv_web_n_assets; i++)
        if (strcmp(srv_web_assets[i].path, path) == 0) return &srv_web_assets[i];
    return NULL;
}

enum MHD_Result srv_web(srv_request *r, const srv_asset *a) {
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    int fresh = inm && strcmp(inm, a->etag) == 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? (void *)"" : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", a->ctype);
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Cache-Control", strcmp(a->path, "/") == 0
                                                       ? "no-cache"
                                                       : "public, max-age=31536000, immutable");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* the page talks to this server only, and loads nothing from elsewhere */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                            "connect-src 'self'; frame-ancestors 'none'");
    enum MHD_Result rc = MHD_queue_response(r->conn, fresh ? 304 : 200, resp);
    MHD_destroy_response(resp);
    return rc;
}
