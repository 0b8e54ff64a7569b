/*
 * test_hostile.c - crafted files against the readers (issue 14): each case
 * writes the file that once crashed or exhausted temper, and checks that it
 * now gets a clear error (TEMPER_EFORMAT, naming the field), fast, with
 * nothing leaked (the ASan run of this binary checks that).
 *
 *   llama2.c headers whose size arithmetic wraps (v1, v0, vocab INT32_MIN)
 *   safetensors offsets >= 2^64, fractional, overlapping, duplicate names
 *   config.json sizes that overflow int, negative epsilons
 *   tokenizer.json ids: 2^30-1 (13.6 GB before), 4294967297, 1.5, NaN, 1e300
 *   20,000 added tokens (10 s before: quadratic)
 *   files that are not regular files (/dev/zero), over the size cap
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "temper.h"
#include "test.h"
#include "formats/weights.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOW 5.0 /* time bounds are looser under the sanitizers */
#else
#define SLOW 1.0
#endif

static char dir[64];

static const char *at(const char *name) {
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* temper_model_load(path) fails with code and a message holding needle. */
static void expect_model_error(const char *path, int code, const char *needle) {
    temper_model *m = NULL;
    int rc = temper_model_load(path, NULL, &m);
    CHECK_EQ_INT(rc, code);
    CHECK(m == NULL);
    if (!strstr(temper_last_error(), needle))
        fprintf(stderr, "  wanted \"%s\" in: %s\n", needle, temper_last_error());
    CHECK(strstr(temper_last_error(), needle) != NULL);
    temper_model_free(m);
}

/* ---- llama2.c headers -------------------------------------------------- */

/* dim 2^30, hidden 1431655764, 1 layer, 1 head: the float count is exactly
 * 2^63, and 4 * 2^63 wraps to 0 in 64 bits, so a 256-byte v1 file "had the
 * right size" and temper info read 2^62 floats past its end. */
static void test_llama2c_size_wraps(void) {
    uint8_t v1[256] = {0};
    int32_t h1[9] = {0x616b3432, 1, 1 << 30, 1431655764, 1, 1, 1, 1, 1};
    memcpy(v1, h1, sizeof h1);
    v1[36] = 1; /* shared classifier */
    write_bytes(at("v1.bin"), v1, sizeof v1);
    expect_model_error(at("v1.bin"), TEMPER_EFORMAT, "more than 2^64");
    /* v0, 44 bytes: the same with 2^29 heads of size 2 and seq_len 2, the
     * freq_cis tables adding 4 floats: 28 + 4 * (2^63 + 4) wraps to 44 */
    int32_t h0[11] = {1 << 30, 1431655764, 1, 1 << 29, 1 << 29, 1, 2, 0, 0, 0, 0};
    write_bytes(at("v0.bin"), h0, sizeof h0);
    expect_model_error(at("v0.bin"), TEMPER_EFORMAT, "more than 2^64");
    /* vocab INT32_MIN: its negation (unshared classifier) overflowed */
    int32_t hm[7] = {8, 16, 1, 2, 2, INT32_MIN, 4};
    write_bytes(at("vmin.bin"), hm, sizeof hm);
    expect_model_error(at("vmin.bin"), TEMPER_EFORMAT, "vocab -2147483648");
}

/* ---- safetensors ------------------------------------------------------- */

/* A safetensors file with header json and data bytes of zeros. */
static void write_st(const char *path, const char *json, size_t data) {
    size_t n = strlen(json);
    uint8_t *buf = calloc(1, 8 + n + data);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    write_bytes(path, buf, 8 + n + data);
    free(buf);
}

static int st_open(const char *json, size_t data) {
    write_st(at("t.safetensors"), json, data);
    temper__weights w = {0};
    int rc = temper__weights_add_safetensors(&w, at("t.safetensors"));
    temper__weights_close(&w);
    return rc;
}

static void expect_st_error(const char *json, size_t data, const char *needle) {
    CHECK_EQ_INT(st_open(json, data), TEMPER_EFORMAT);
    if (!strstr(temper_last_error(), needle))
        fprintf(stderr, "  %s\n  wanted \"%s\" in: %s\n", json, needle, temper_last_error());
    CHECK(strstr(temper_last_error(), needle) != NULL);
}

static void test_safetensors_header(void) {
    /* the control: two adjacent tensors, and an empty one, are fine */
    CHECK_EQ_INT(st_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[8,12]},"
                         "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[12,12]}}", 12), 0);
    /* offsets >= 2^64: (size_t) of the double gave 0 and the bounds check passed */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],"
                    "\"data_offsets\":[18446744073709551616,18446744073709551616]}}", 8, "whole numbers");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 8,
                    "whole numbers");
    /* fractional shapes and offsets */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", 8, "whole numbers");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}}", 8, "whole numbers");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 8, "whole numbers");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 8, "whole numbers");
    /* a shape whose byte count overflows 64 bits */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 8,
                    "whole numbers");
    /* overlapping ranges, duplicate names (cJSON keeps both; "first wins" before) */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice");
    /* past the end */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 8, "truncated");
}

/* ---- config.json ------------------------------------------------------- */

/* A folder with config.json = cfg and an empty model.safetensors: init
 * reads the config before it looks for any tensor. */
static void expect_config_error(const char *name, const char *cfg, const char *needle) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    mkdir(sub, 0700);
    char p[320];
    snprintf(p, sizeof p, "%s/config.json", sub);
    write_text(p, cfg);
    snprintf(p, sizeof p, "%s/model.safetensors", sub);
    write_st(p, "{}", 0);
    expect_model_error(sub, TEMPER_EFORMAT, needle);
}

static void test_config_sizes(void) {
    /* 4 * n_embd overflowed int (gpt2.c) */
    expect_config_error("c1", "{\"model_type\":\"gpt2\",\"n_embd\":1073741824,\"n_head\":1}", "\"n_embd\" is 1073741824");
    /* n_ctx + 2 overflowed (opt.c) */
    expect_config_error("c2", "{\"model_type\":\"opt\",\"max_position_embeddings\":2147483647}",
                        "\"max_position_embeddings\" is 2147483647");
    /* n_head * head_dim overflowed (llama.c) */
    expect_config_error("c3", "{\"model_type\":\"llama\",\"num_hidden_layers\":1,\"num_attention_heads\":16777216,"
                        "\"hidden_size\":64,\"intermediate_size\":64,\"head_dim\":16777216}", "inconsistent sizes");
    /* a billion layers: the per-layer table was allocated first */
    expect_config_error("c4", "{\"model_type\":\"llama\",\"num_hidden_layers\":16777216,\"num_attention_heads\":2,"
                        "\"hidden_size\":64,\"intermediate_size\":64}", "inconsistent sizes");
    /* negative epsilons: "logit of token 0 is -nan" at generate time before */
    expect_config_error("c5", "{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":-1e-5}", "\"layer_norm_epsilon\" is -1e-05");
    expect_config_error("c6", "{\"model_type\":\"llama\",\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                        "\"hidden_size\":64,\"intermediate_size\":64,\"rms_norm_eps\":0}", "\"rms_norm_eps\" is 0");
    expect_config_error("c7", "{\"model_type\":\"gpt2\",\"n_layer\":1.5}", "should be an integer");
}

/* ---- tokenizer.json ---------------------------------------------------- */

/* A byte-level BPE tokenizer.json: the 256 byte symbols (ids 0..255), then
 * vocab_extra (already formatted "\"tok\": id" entries, may be ""), and
 * added (the added_tokens array's content). */
static void write_tokenizer(const char *path, const char *vocab_extra, const char *added) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [%s], \"normalizer\": null,\n"
               "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},\n"
               "\"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"},\n"
               "\"model\": {\"type\": \"BPE\", \"vocab\": {", added);
    for (int b = 0; b < 256; b++) {
        /* GPT-2's byte -> character table: printable bytes stand for
         * themselves, the 68 others are U+0100.. in order */
        static int next = 0x100;
        int c = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? b : 0;
        if (b == 0) next = 0x100;
        if (!c) c = next++;
        if (c == '"' || c == '\\') fprintf(f, "\"\\%c\": %d, ", c, b);
        else if (c < 0x80) fprintf(f, "\"%c\": %d, ", c, b);
        else fprintf(f, "\"\\u%04x\": %d, ", c, b);
    }
    fprintf(f, "%s%s}, \"merges\": []}}\n", vocab_extra, *vocab_extra ? "" : "\"ab\": 256");
    fclose(f);
}

static void expect_tok_error(const char *vocab_extra, const char *added, const char *needle) {
    write_tokenizer(at("tokenizer.json"), vocab_extra, added);
    temper_tokenizer *tok = NULL;
    double t0 = now();
    CHECK_EQ_INT(temper_tokenizer_load(at("tokenizer.json"), &tok), TEMPER_EFORMAT);
    CHECK(now() - t0 < 1.0 * SLOW);
    CHECK(tok == NULL);
    if (!strstr(temper_last_error(), needle))
        fprintf(stderr, "  %s\n  wanted \"%s\" in: %s\n", vocab_extra, needle, temper_last_error());
    CHECK(strstr(temper_last_error(), needle) != NULL);
    temper_tokenizer_free(tok);
}

static void test_tokenizer_ids(void) {
    /* control: the file loads */
    write_tokenizer(at("tokenizer.json"), "", "");
    temper_tokenizer *tok = NULL;
    CHECK_EQ_INT(temper_tokenizer_load(at("tokenizer.json"), &tok), 0);
    CHECK_EQ_INT(temper_tokenizer_n_vocab(tok), 257);
    temper_tokenizer_free(tok);
    /* one id of 2^30-1 made 13.6 GB of tables (and took 61 s) */
    expect_tok_error("\"x\": 1073741823", "", "has id 1073741823");
    expect_tok_error("\"x\": 5000000", "", "far past");
    /* coerced before: 4294967297 -> 1, 1.5 -> 1, NaN -> 0 (overwriting a token) */
    expect_tok_error("\"x\": 4294967297", "", "has id 4294967297");
    expect_tok_error("\"x\": 1.5", "", "has id 1.5");
    expect_tok_error("\"x\": nan", "", "has id nan");
    expect_tok_error("\"x\": -inf", "", "has id -inf");
    expect_tok_error("\"x\": 1e300", "", "has id 1e300");
    expect_tok_error("\"x\": -1", "", "has id -1");
}

/* 20,000 added tokens: added_push searched linearly and realloc'd per
 * token, and the loader compared each content with every earlier one. */
static void test_many_added_tokens(void) {
    const int n = 20000;
    size_t cap = (size_t)n * 80, len = 0;
    char *added = malloc(cap);
    for (int k = 0; k < n; k++)
        len += (size_t)snprintf(added + len, cap - len, "%s{\"id\": %d, \"content\": \"<t%d>\", \"special\": true}",
                                k ? ", " : "", 257 + k, k);
    write_tokenizer(at("tokenizer.json"), "", added);
    free(added);
    temper_tokenizer *tok = NULL;
    double t0 = now();
    CHECK_EQ_INT(temper_tokenizer_load(at("tokenizer.json"), &tok), 0);
    double secs = now() - t0;
    if (secs > 1.0 * SLOW) fprintf(stderr, "  20,000 added tokens loaded in %.2f s\n", secs);
    CHECK(secs < 1.0 * SLOW);
    if (tok) {
        CHECK_EQ_INT(temper_tokenizer_n_vocab(tok), 257 + n);
        CHECK_EQ_INT(temper_tokenizer_find(tok, "<t19999>"), 257 + n - 1);
    }
    temper_tokenizer_free(tok);
}

/* ---- files that are not files ------------------------------------------ */

static void test_not_regular(void) {
    /* a config.json that is /dev/zero was read without limit */
    char sub[256], p[320];
    snprintf(sub, sizeof sub, "%s/devzero", dir);
    mkdir(sub, 0700);
    snprintf(p, sizeof p, "%s/config.json", sub);
    CHECK_EQ_INT(symlink("/dev/zero", p), 0);
    expect_model_error(sub, TEMPER_EIO, "not a regular file");
    unlink(p);
    /* a (sparse) 2 GB config.json: over the cap, refused before any read */
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ_INT(ftruncate(fd, (off_t)2 << 30), 0);
    close(fd);
    double t0 = now();
    expect_model_error(sub, TEMPER_EFORMAT, "more than the 1073741824");
    CHECK(now() - t0 < 1.0 * SLOW);
    unlink(p);
    rmdir(sub);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/temper_hostile_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_llama2c_size_wraps);
    RUN(test_safetensors_header);
    RUN(test_config_sizes);
    RUN(test_tokenizer_ids);
    RUN(test_many_added_tokens);
    RUN(test_not_regular);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_SUMMARY();
}
