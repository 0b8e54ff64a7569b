/*
 * test_tokenizer_spm.c - SentencePiece-style BPE (src/tokenizer/spm*.c,
 * llama2c_tok.c): a tiny hand-made Llama-style tokenizer.json whose ids are
 * worked out by hand below, llama2.c's tokenizer.bin (stories260K's
 * tok512.bin with the sentencepiece library's encodings), the decoder's
 * rules (ByteFallback, Strip), the streaming decoder against
 * temper_detokenize, and the errors.
 */
#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "temper.h"
#include "test.h"

#define MS "\xE2\x96\x81" /* U+2581 */

/* ids: 0 <unk>, 1 <s>, 2 </s>, 3 <0xC3>, 4 <0xA9>, 5 <0x0A>, 6 _, 7 a, 8 b,
 * 9 c, 10 _a, 11 ab, 12 _ab, 13 bc, 14 _b (_ is U+2581); merges by rank:
 * 0 "_ a", 1 "a b", 2 "_a b", 3 "b c", 4 "_ b". No byte piece for 'x'. */
static const char *TINY_HEAD =
    "{\"version\": \"1.0\", \"added_tokens\": ["
    "{\"id\": 0, \"content\": \"<unk>\", \"special\": true, \"normalized\": false},"
    "{\"id\": 1, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
    "{\"id\": 2, \"content\": \"</s>\", \"special\": true, \"normalized\": false}],";
static const char *TINY_LEGACY =
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    "{\"type\": \"Prepend\", \"prepend\": \"" MS "\"},"
    "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"" MS "\"}]},"
    "\"pre_tokenizer\": null,";
static const char *TINY_FIRST =
    "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"" MS
    "\", \"prepend_scheme\": \"first\", \"split\": false},";
static const char *TINY_TAIL_FMT =
    "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": ["
    "{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
    "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}},"
    "\"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
    "{\"type\": \"Replace\", \"pattern\": {\"String\": \"" MS "\"}, \"content\": \" \"},"
    "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"},"
    "{\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]},"
    "\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": %s, \"byte_fallback\": true,"
    "\"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0xC3>\": 3, \"<0xA9>\": 4, \"<0x0A>\": 5,"
    "\"" MS "\": 6, \"a\": 7, \"b\": 8, \"c\": 9, \"" MS "a\": 10, \"ab\": 11, \"" MS "ab\": 12,"
    "\"bc\": 13, \"" MS "b\": 14},"
    "\"merges\": [\"" MS " a\", \"a b\", \"" MS "a b\", \"b c\", \"" MS " b\"]}}";

/* Write text to a new temporary file ending in suffix; returns its path
 * (static storage) or NULL. */
static const char *write_temp(const char *text, size_t len, const char *suffix) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/temper-spm-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) return NULL;
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? path : NULL;
}

static temper_tokenizer *load_tiny(const char *pre, bool fuse) {
    char tail[4096], all[8192];
    snprintf(tail, sizeof tail, TINY_TAIL_FMT, fuse ? "true" : "false");
    snprintf(all, sizeof all, "%s%s%s", TINY_HEAD, pre, tail);
    const char *path = write_temp(all, strlen(all), ".json");
    temper_tokenizer *tok = NULL;
    int rc = path ? temper_tokenizer_load(path, &tok) : -1;
    if (rc < 0) fprintf(stderr, "load: %s\n", temper_last_error());
    if (path) unlink(path);
    return tok;
}

/* ids of text (flags) equal want[0..n). */
static int same_ids(const temper_tokenizer *tok, const char *text, int flags,
                    const temper_token *want, int n) {
    temper_token ids[64];
    int got = temper_tokenize(tok, text, strlen(text), flags, ids, NULL, 64);
    int ok = got == n;
    for (int k = 0; ok && k < n; k++) ok = ids[k] == want[k];
    if (!ok) {
        fprintf(stderr, "  \"%s\": got", text);
        for (int k = 0; k < got && k < 64; k++) fprintf(stderr, " %d", ids[k]);
        fprintf(stderr, " (%d)\n", got);
    }
    return ok;
}
#define IDS(tok, text, flags, ...)                                                        \
    do {                                                                                  \
        const temper_token want_[] = {__VA_ARGS__};                                       \
        CHECK(same_ids(tok, text, flags, want_, (int)(sizeof want_ / sizeof want_[0]))); \
    } while (0)

static const char *decode(const temper_tokenizer *tok, const temper_token *ids, int n, int flags) {
    static char buf[512];
    int got = temper_detokenize(tok, ids, n, flags, buf, sizeof buf);
    return got >= 0 && got < (int)sizeof buf ? buf : "(error)";
}

static void test_tiny_encode(void) {
    temper_tokenizer *tok = load_tiny(TINY_LEGACY, true);
    CHECK(tok != NULL);
    if (!tok) return;
    /* "_ab": (_ a) rank 0 -> _a, then (_a b) rank 2 -> _ab */
    IDS(tok, "ab", 0, 12);
    IDS(tok, "ab", TEMPER_TOKENIZE_ADD_SPECIAL, 1, 12);
    /* "_abc": _a, then _ab (rank 2 before b c at 3); _ab + c is no merge */
    IDS(tok, "abc", 0, 12, 9);
    /* "_bc": (b c) rank 3 goes before (_ b) rank 4 although it is not leftmost */
    IDS(tok, "bc", 0, 6, 13);
    /* "_a_b": _a, then _b */
    IDS(tok, "a b", 0, 10, 14);
    /* a space first: the Prepend normalizer adds another "_" */
    IDS(tok, " b", 0, 6, 14);
    /* byte fallback: e-acute is not a piece, its bytes C3 A9 are */
    IDS(tok, "\xC3\xA9", 0, 6, 3, 4);
    IDS(tok, "\n", 0, 6, 5);
    /* 'x' and 'y' have no piece and no byte piece: one fused <unk> */
    IDS(tok, "xy", 0, 6, 0);
    IDS(tok, "xyb", 0, 6, 0, 8);
    /* added tokens split the text; each segment gets its own "_" (legacy) */
    IDS(tok, "a<s>b", 0, 10, 1, 14);
    IDS(tok, "", TEMPER_TOKENIZE_ADD_SPECIAL, 1);
    /* offsets: the prepended "_" is aligned with the first character, the
     * byte tokens with their whole character */
    temper_token ids[8];
    int32_t off[16];
    int n = temper_tokenize(tok, "\xC3\xA9" "b", 3, 0, ids, off, 8);
    CHECK_EQ_INT(n, 4);
    int32_t want_off[8] = {0, 2, 0, 2, 0, 2, 2, 3};
    for (int k = 0; k < 8 && n == 4; k++) CHECK_EQ_INT(off[k], want_off[k]);
    temper_tokenizer_info info;
    temper_tokenizer_get_info(tok, &info);
    CHECK_EQ_INT(info.n_prefix, 1);
    CHECK_EQ_INT(info.prefix[0], 1);
    CHECK_STR(temper_token_text(tok, 12), MS "ab");
    char b[16];
    CHECK_EQ_INT(temper_token_bytes(tok, 12, b, sizeof b), 3);
    CHECK(memcmp(b, " ab", 3) == 0);
    CHECK_EQ_INT(temper_token_bytes(tok, 3, b, sizeof b), 1);
    CHECK_EQ_INT((uint8_t)b[0], 0xC3);
    temper_tokenizer_free(tok);

    tok = load_tiny(TINY_LEGACY, false); /* fuse_unk = false: one <unk> each */
    CHECK(tok != NULL);
    if (tok) IDS(tok, "xy", 0, 6, 0, 0);
    temper_tokenizer_free(tok);

    tok = load_tiny(TINY_FIRST, true); /* Metaspace "first": "_" only at offset 0 */
    CHECK(tok != NULL);
    if (tok) {
        IDS(tok, "a<s>b", 0, 10, 1, 8);
        IDS(tok, " b", 0, 14); /* it starts with a space: nothing prepended */
        IDS(tok, "ab", 0, 12);
    }
    temper_tokenizer_free(tok);
}

static void test_tiny_decode(void) {
    temper_tokenizer *tok = load_tiny(TINY_LEGACY, true);
    CHECK(tok != NULL);
    if (!tok) return;
    const temper_token a[] = {1, 12, 9};
    CHECK_STR(decode(tok, a, 3, TEMPER_DETOKENIZE_SKIP_SPECIAL), "abc"); /* " abc", Strip */
    CHECK_STR(decode(tok, a, 3, 0), "<s> abc");  /* starts with '<': nothing stripped */
    const temper_token b[] = {6, 3, 4};
    CHECK_STR(decode(tok, b, 3, 0), "\xC3\xA9"); /* " é" stripped */
    const temper_token c[] = {3};
    CHECK_STR(decode(tok, c, 1, 0), "\xEF\xBF\xBD");
    const temper_token d[] = {3, 3, 14};         /* a bad run: U+FFFD per byte token */
    CHECK_STR(decode(tok, d, 3, 0), "\xEF\xBF\xBD\xEF\xBF\xBD b");
    const temper_token e[] = {3, 4, 3};          /* "é" then a cut byte: the whole run */
    CHECK_STR(decode(tok, e, 3, 0), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    const temper_token f[] = {14, 6, 14};
    CHECK_STR(decode(tok, f, 3, 0), "b  b");    /* only one space is stripped */
    /* the stream: the first text loses its space, the rest not */
    temper_utf8_stream s;
    temper_utf8_stream_reset(&s);
    char out[64] = "", piece[16];
    const temper_token g[] = {14, 3, 4, 6, 10};
    for (int k = 0; k < 5; k++) {
        int m = temper_detokenize_stream(tok, &s, g[k], piece, sizeof piece);
        CHECK(m >= 0 && m < (int)sizeof piece);
        if (k == 1) CHECK_EQ_INT(m, 0); /* C3 waits for A9 */
        if (m > 0) strncat(out, piece, (size_t)m);
    }
    int m = temper_utf8_stream_flush(&s, piece, sizeof piece);
    CHECK_EQ_INT(m, 0);
    CHECK_STR(out, "b\xC3\xA9  a");
    CHECK_STR(decode(tok, g, 5, 0), "b\xC3\xA9  a");
    /* a cut character at the end: one U+FFFD per byte token, as HF */
    temper_utf8_stream_reset(&s);
    CHECK_EQ_INT(temper_detokenize_stream(tok, &s, 3, piece, sizeof piece), 0);
    CHECK_EQ_INT(temper_utf8_stream_flush(&s, piece, sizeof piece), 3);
    temper_tokenizer_free(tok);
}

/* ---- llama2.c tokenizer.bin ----------------------------------------------- */

static char *fixture(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/stories260K/%s", test_fixtures(), name);
    return path;
}

static temper_tokenizer *load_tok512(void) {
    temper_tokenizer *tok = NULL;
    if (temper_tokenizer_load(fixture("tok512.bin"), &tok) < 0)
        fprintf(stderr, "tok512.bin: %s\n", temper_last_error());
    return tok;
}

static void test_tok512_vectors(void) {
    temper_tokenizer *tok = load_tok512();
    CHECK(tok != NULL);
    if (!tok) return;
    char *text = NULL;
    FILE *f = fopen(fixture("tok512-encode-vectors.json"), "rb");
    CHECK(f != NULL);
    if (f) {
        text = calloc(1, 1 << 16);
        if (text) fread(text, 1, (1 << 16) - 1, f);
        fclose(f);
    }
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_GetArraySize(root) >= 9);
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *t = cJSON_GetObjectItem(v, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(v, "ids");
        temper_token w[64];
        int n = 0;
        const cJSON *id;
        cJSON_ArrayForEach(id, want) w[n++] = (temper_token)id->valuedouble;
        CHECK(same_ids(tok, t, 0, w, n));
        memmove(w + 1, w, (size_t)n * sizeof *w); /* run.c: BOS first */
        w[0] = 1;
        CHECK(same_ids(tok, t, TEMPER_TOKENIZE_ADD_SPECIAL, w, n + 1));
        CHECK_STR(decode(tok, w, n + 1, TEMPER_DETOKENIZE_SKIP_SPECIAL), t);
    }
    cJSON_Delete(root);
    free(text);
    temper_tokenizer_free(tok);
}

static void test_tok512_rules(void) {
    temper_tokenizer *tok = load_tok512();
    CHECK(tok != NULL);
    if (!tok) return;
    temper_tokenizer_info info;
    temper_tokenizer_get_info(tok, &info);
    CHECK_EQ_INT(info.n_vocab, 512);
    CHECK_EQ_INT(info.bos_id, 1);
    CHECK_EQ_INT(info.eos_id, 2);
    CHECK_STR(info.source, "tokenizer.bin");
    CHECK_STR(temper_token_text(tok, 1), "<s>"); /* "\n<s>\n" in the file */
    CHECK_STR(temper_token_text(tok, 403), MS "Once");
    CHECK(temper_token_is_special(tok, 1) && temper_token_is_special(tok, 2));
    CHECK(!temper_token_is_special(tok, 403));
    /* run.c's byte fallback: byte + 3, whether or not the character is a
     * piece elsewhere; an input U+2581 is no space for run.c (its pieces
     * hold " "), so its three bytes fall back: 0xE2 0x96 0x81 -> 229 153 132 */
    int b = temper_tokenizer_find(tok, "b");
    CHECK(b > 258);
    IDS(tok, "a" MS "b", 0, 261, 229, 153, 132, b); /* " a" = 261 */
    IDS(tok, "\xE4\xB8\xAD", 0, 410, 0xE4 + 3, 0xB8 + 3, 0xAD + 3); /* U+4E2D */
    /* no dummy prefix for an empty text, BOS alone */
    IDS(tok, "", TEMPER_TOKENIZE_ADD_SPECIAL, 1);
    /* decoding: EOS and BOS are special, the leading space is stripped */
    const temper_token ids[] = {1, 403, 407, 2};
    CHECK_STR(decode(tok, ids, 4, TEMPER_DETOKENIZE_SKIP_SPECIAL), "Once upon");
    CHECK_STR(decode(tok, ids, 4, 0), "<s> Once upon</s>");
    temper_tokenizer_free(tok);
}

/* The stream gives temper_detokenize's text on random id lists whose byte
 * runs are either whole characters or start with a bad byte (the one case
 * the stream cannot match is valid characters before a bad byte in one
 * run: see spm_decode.c). */
static void test_tok512_stream(void) {
    temper_tokenizer *tok = load_tok512();
    CHECK(tok != NULL);
    if (!tok) return;
    uint64_t x = 20261122;
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        temper_token ids[48];
        int n = 0;
        while (n < 40) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int r = (int)(x >> 33) % 100;
            int v = (int)(x >> 40);
            if (r < 50) {
                ids[n++] = 259 + v % 253;                        /* a piece */
            } else if (r < 60) {
                ids[n++] = v % 3;                                /* <unk> <s> </s> */
            } else if (r < 80) {                                 /* whole characters */
                static const char *chars[] = {"\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "A"};
                const char *c = chars[v % 4];
                for (size_t k = 0; c[k]; k++) ids[n++] = 3 + (uint8_t)c[k];
                ids[n++] = 259 + v % 253;
            } else {                                              /* a run starting bad */
                static const uint8_t bytes[] = {0x80, 0xBF, 0xFF, 0xC0, 0xE4, 0xF0, 0x41, 0xA9};
                ids[n++] = 3 + 0xFF;
                for (int k = 0; k < v % 3; k++) ids[n++] = 3 + bytes[(v >> (3 * k)) % 8];
                ids[n++] = 259 + v % 253;
            }
        }
        int flags = round % 2 ? TEMPER_DETOKENIZE_SKIP_SPECIAL : 0;
        char want[1024], got[1024];
        int nw = temper_detokenize(tok, ids, n, flags, want, sizeof want);
        temper_utf8_stream s;
        temper_utf8_stream_reset(&s);
        int ng = 0;
        for (int k = 0; k <= n; k++) {
            if (k < n && flags && temper_token_is_special(tok, ids[k])) continue;
            int m = k < n ? temper_detokenize_stream(tok, &s, ids[k], got + ng, sizeof got - (size_t)ng)
                          : temper_utf8_stream_flush(&s, got + ng, sizeof got - (size_t)ng);
            if (m < 0) break;
            ng += m;
        }
        if (nw != ng || memcmp(want, got, (size_t)nw) != 0) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    temper_tokenizer_free(tok);
}

/* ---- errors ------------------------------------------------------------------ */

static void test_errors(void) {
    temper_tokenizer *tok = NULL;
    /* a cut tokenizer.bin */
    FILE *f = fopen(fixture("tok512.bin"), "rb");
    char head[600];
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    CHECK_EQ_INT(n, sizeof head);
    const char *path = write_temp(head, 101, ".bin"); /* inside entry 7 */
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EFORMAT);
    CHECK(strstr(temper_last_error(), "not a llama2.c tokenizer.bin") != NULL);
    unlink(path);
    /* whole entries, but too few for run.c's byte pieces */
    size_t off = 4;
    for (int k = 0; k < 10; k++) {
        int32_t len;
        memcpy(&len, head + off + 4, 4);
        off += 8 + (size_t)len;
    }
    path = write_temp(head, off, ".bin");
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EFORMAT);
    CHECK(strstr(temper_last_error(), "259") != NULL);
    unlink(path);
    /* the checkpoint given as the tokenizer */
    char model[512];
    snprintf(model, sizeof model, "%s/stories260K/stories260K.bin", test_fixtures());
    CHECK_EQ_INT(temper_tokenizer_load(model, &tok), TEMPER_EFORMAT);
    CHECK(strstr(temper_last_error(), "checkpoint") != NULL);
    CHECK(tok == NULL);
    /* unknown components are named */
    const char *json = "{\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": null,"
                       "\"decoder\": {\"type\": \"ByteFallback\"}, \"model\": {\"type\": \"BPE\","
                       "\"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}}";
    path = write_temp(json, strlen(json), ".json");
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EUNSUPPORTED);
    CHECK(strstr(temper_last_error(), "NFKC") != NULL);
    unlink(path);
    json = "{\"normalizer\": null, \"pre_tokenizer\": null,"
           "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Strip\", \"content\": \" \","
           "\"start\": 1, \"stop\": 0}]}, \"model\": {\"type\": \"BPE\","
           "\"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}}";
    path = write_temp(json, strlen(json), ".json");
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EUNSUPPORTED);
    CHECK(strstr(temper_last_error(), "Strip") != NULL);
    unlink(path);
}

int main(void) {
    RUN(test_tiny_encode);
    RUN(test_tiny_decode);
    RUN(test_tok512_vectors);
    RUN(test_tok512_rules);
    RUN(test_tok512_stream);
    RUN(test_errors);
    return TEST_SUMMARY();
}
