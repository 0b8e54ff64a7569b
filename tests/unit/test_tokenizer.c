/*
 * test_tokenizer.c - hand-checkable tokenizer cases: GPT-2's byte table, the
 * pre-tokenizer's splits, merge order on a tiny hand-made vocabulary, GPT-2
 * ids and offsets quoted from tiktoken's tests, the buffer-size rule, the
 * streaming decoder on split characters, U+FFFD replacement, errors, and the
 * merge loops against a BPE written here from merges.txt and vocab.json, and
 * the parallel encoder against the serial one.
 * (Parity with Hugging Face on a large corpus: tests/py/test_tokenizer_parity.py.)
 */
#include <stdint.h>
#include <unistd.h>

#include <cJSON.h>

#include "test.h"
#include "temper.h"
#include "tokenizer/encode.h"
#include "tokenizer/tokenizer.h"

static temper_tokenizer *gpt2;

static const char *gpt2_dir(void) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/gpt2", test_fixtures());
    return path;
}

/* ---- byte-level table ---------------------------------------------------- */

static void test_byte_table(void) {
    CHECK_EQ_INT(temper__byte_to_char(' '), 0x120);  /* 'Ġ' */
    CHECK_EQ_INT(temper__byte_to_char('\n'), 0x10A); /* 'Ċ' */
    CHECK_EQ_INT(temper__byte_to_char(0), 0x100);
    CHECK_EQ_INT(temper__byte_to_char('A'), 'A');
    CHECK_EQ_INT(temper__byte_to_char(0xE9), 0xE9);  /* printable Latin-1 keeps itself */
    CHECK_EQ_INT(temper__byte_to_char(0x7F), 0x121); /* after the 33 bytes 0x00..0x20 */
    CHECK_EQ_INT(temper__byte_to_char(0xAD), 0x143); /* the 68th and last */
    for (int b = 0; b < 256; b++) CHECK_EQ_INT(temper__char_to_byte(temper__byte_to_char((uint8_t)b)), b);
    CHECK_EQ_INT(temper__char_to_byte(0x144), -1);
    CHECK_EQ_INT(temper__char_to_byte(' '), -1);
}

static void test_white_space(void) {
    uint32_t ws[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A,
                     0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) CHECK(temper__is_white_space(ws[k]));
    uint32_t not_ws[] = {0x1C, 0x1F, 0x200B, 0x180E, 0xFEFF, 'a', 0};
    for (size_t k = 0; k < sizeof not_ws / sizeof not_ws[0]; k++) CHECK(!temper__is_white_space(not_ws[k]));
    CHECK_EQ_INT(temper__char_class(0x00E9), TEMPER__CL_L); /* é */
    CHECK_EQ_INT(temper__char_class(0x0663), TEMPER__CL_N); /* Arabic-Indic three */
    CHECK_EQ_INT(temper__char_class(0x2160), TEMPER__CL_N); /* Roman numeral one (Nl) */
    CHECK_EQ_INT(temper__char_class(0x0301), TEMPER__CL_O); /* combining acute (Mn) */
    CHECK_EQ_INT(temper__char_class(0x1F600), TEMPER__CL_O);
}

/* ---- pre-tokenizer ---------------------------------------------------------- */

/* Split s with the GPT-2 pattern and join the pieces with '|'. */
static const char *splits(const char *s) {
    static char out[512];
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = temper__pretok_next(gpt2, (const uint8_t *)s, n, i);
        if (i > 0) out[o++] = '|';
        memcpy(out + o, s + i, j - i);
        o += j - i;
        i = j;
    }
    out[o] = '\0';
    return out;
}

static void test_pretokenize(void) {
    CHECK_STR(splits("Hello world's  \n\n  x"), "Hello| world|'s|  \n\n | x");
    CHECK_STR(splits("I'M don't they're we've I'll he'd"),
              "I|'|M| don|'t| they|'re| we|'ve| I|'ll| he|'d");
    CHECK_STR(splits("x 123 !! a1"), "x| 123| !!| a|1");
    CHECK_STR(splits("\xC2\xA0" "a"), "\xC2\xA0|a");   /* NBSP is White_Space, not U+0020 */
    CHECK_STR(splits("a\n\nb"), "a|\n|\n|b");          /* \s+(?!\S) leaves one "\n" */
    CHECK_STR(splits("a \n b"), "a| \n| b");
    CHECK_STR(splits("end  "), "end|  ");               /* white space at the end: all of it */
    CHECK_STR(splits("!'s"), "!'|s");                   /* contractions only start a match */
    CHECK_STR(splits("caf\xC3\xA9 e\xCC\x81"), "caf\xC3\xA9| e|\xCC\x81"); /* é; e + U+0301 */
}

/* ---- a hand-made vocabulary ------------------------------------------------- */

/* Write a tokenizer.json with the 256 byte tokens (ids 0..255 in byte
 * order), the extra tokens, and the merges (JSON list text). */
static int write_tiny(const char *path, const char *extra_tokens[], int n_extra,
                      const char *merges, const char *added, const char *post, const char *pre) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [%s], \"normalizer\": null,\n"
               "\"pre_tokenizer\": %s,\n\"post_processor\": %s,\n"
               "\"decoder\": {\"type\": \"ByteLevel\"},\n"
               "\"model\": {\"type\": \"BPE\", \"vocab\": {",
            added, pre, post);
    for (int b = 0; b < 256; b++) {
        uint8_t u[4];
        int l = temper__utf8_encode(temper__byte_to_char((uint8_t)b), u);
        fputc('"', f);
        if (b == '"' || b == '\\') fputc('\\', f);
        fwrite(u, 1, (size_t)l, f);
        fprintf(f, "\": %d, ", b);
    }
    for (int k = 0; k < n_extra; k++) fprintf(f, "\"%s\": %d%s", extra_tokens[k], 256 + k, k + 1 < n_extra ? ", " : "");
    fprintf(f, "}, \"merges\": %s}}\n", merges);
    return fclose(f);
}

static const char *byte_level_pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false}";

static int encode(const temper_tokenizer *tok, const char *s, int flags, temper_token *ids, int cap) {
    return temper_tokenize(tok, s, strlen(s), flags, ids, NULL, cap);
}

static void test_merge_order(void) {
    char path[] = "/tmp/temper_tok_XXXXXX.json";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    close(fd);
    const char *extra[] = {"ab", "bc", "\xC4\xA0t", "he", "\xC4\xA0the"};
    temper_tokenizer *tok;
    temper_token ids[16];
    /* "a b" ranks before "b c": abc -> ab + c */
    CHECK_EQ_INT(write_tiny(path, extra, 5, "[\"a b\", \"b c\"]", "", "null", byte_level_pre), 0);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    CHECK_EQ_INT(encode(tok, "abc", 0, ids, 16), 2);
    CHECK_EQ_INT(ids[0], 256);
    CHECK_EQ_INT(ids[1], 'c');
    temper_tokenizer_free(tok);
    /* the other order: abc -> a + bc */
    CHECK_EQ_INT(write_tiny(path, extra, 5, "[[\"b\", \"c\"], [\"a\", \"b\"]]", "", "null", byte_level_pre), 0);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    CHECK_EQ_INT(encode(tok, "abc", 0, ids, 16), 2);
    CHECK_EQ_INT(ids[0], 'a');
    CHECK_EQ_INT(ids[1], 257);
    temper_tokenizer_free(tok);
    /* merges of merges: " the" -> Ġt + he -> Ġthe; "hehe" -> he he */
    CHECK_EQ_INT(write_tiny(path, extra, 5, "[\"h e\", \"\xC4\xA0 t\", \"\xC4\xA0t he\"]", "", "null",
                            byte_level_pre), 0);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    CHECK_EQ_INT(encode(tok, " the", 0, ids, 16), 1);
    CHECK_EQ_INT(ids[0], 260);
    CHECK_EQ_INT(encode(tok, "hehe", 0, ids, 16), 2);
    CHECK_EQ_INT(ids[0], 259);
    CHECK_EQ_INT(ids[1], 259);
    temper_tokenizer_free(tok);
    /* a post-processor that adds ids, and add_prefix_space */
    CHECK_EQ_INT(write_tiny(path, extra, 5, "[\"h e\", \"\xC4\xA0 t\", \"\xC4\xA0t he\"]", "",
                            "{\"type\": \"RobertaProcessing\", \"sep\": [\"b\", 98], \"cls\": [\"a\", 97]}",
                            "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}"), 0);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    int32_t offs[32];
    CHECK_EQ_INT(temper_tokenize(tok, "the", 3, TEMPER_TOKENIZE_ADD_SPECIAL, ids, offs, 16), 3);
    CHECK_EQ_INT(ids[0], 97);
    CHECK_EQ_INT(ids[1], 260); /* "Ġthe": the added space */
    CHECK_EQ_INT(ids[2], 98);
    CHECK_EQ_INT(offs[0], 0); CHECK_EQ_INT(offs[1], 0);
    CHECK_EQ_INT(offs[2], 0); CHECK_EQ_INT(offs[3], 3); /* kept: it was added */
    temper_tokenizer_info info;
    temper_tokenizer_get_info(tok, &info);
    CHECK_EQ_INT(info.n_prefix, 1);
    CHECK_EQ_INT(info.n_suffix, 1);
    CHECK_EQ_INT(info.add_prefix_space, 1);
    temper_tokenizer_free(tok);
    /* an unsupported component is named */
    FILE *f = fopen(path, "w");
    fputs("{\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": null, \"decoder\": null,"
          " \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", f);
    fclose(f);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EUNSUPPORTED);
    CHECK(strstr(temper_last_error(), "normalizer type \"NFKC\"") != NULL);
    f = fopen(path, "w");
    fputs("{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"decoder\": null,"
          " \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", f);
    fclose(f);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EUNSUPPORTED);
    CHECK(strstr(temper_last_error(), "Metaspace") != NULL);
    f = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", f);
    fclose(f);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EUNSUPPORTED);
    CHECK(strstr(temper_last_error(), "Unigram") != NULL);
    unlink(path);
}

/* model.vocab and model.merges are read by json_scan.c, not cJSON: JSON
 * escapes (\uXXXX, surrogate pairs, \"), an added token's id taken from
 * the model's vocabulary by content, and the errors of malformed members. */
static void test_json_scan(void) {
    char path[] = "/tmp/temper_tok_XXXXXX.json";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    close(fd);
    /* 256: "ab" written as \u escapes; 257: U+1F600 as a surrogate pair;
     * 258: "<x>" which the added token (id 999 in its entry) resolves to */
    const char *extra[] = {"\\u0061\\u0062", "\\ud83d\\ude00", "<x>"};
    const char *added = "{\"id\": 999, \"content\": \"<x>\", \"special\": true}";
    temper_tokenizer *tok;
    temper_token ids[8];
    CHECK_EQ_INT(write_tiny(path, extra, 3, "[\"a b\"]", added, "null", byte_level_pre), 0);
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    if (tok) {
        CHECK_EQ_INT(encode(tok, "ab", 0, ids, 8), 1);
        CHECK_EQ_INT(ids[0], 256);
        CHECK_STR(temper_token_text(tok, 257), "\xF0\x9F\x98\x80");
        CHECK_EQ_INT(temper_tokenizer_find(tok, "<x>"), 258);
        CHECK_EQ_INT(encode(tok, "a<x>", 0, ids, 8), 2); /* the added token, by content */
        CHECK_EQ_INT(ids[1], 258);
        CHECK_EQ_INT(temper_tokenizer_n_vocab(tok), 259);
        temper_tokenizer_free(tok);
    }
    struct { const char *extra, *merges, *needle; } bad[] = {
        {"x\": null, \"y", "[]", "has no id"},                     /* vocab value not a number */
        {"\\ud83d", "[]", "model.vocab is not valid JSON"},      /* lone surrogate */
        {"\\q", "[]", "model.vocab is not valid JSON"},          /* unknown escape */
        {"ab", "[\"a b\", 5]", "merge 2 is neither"},
        {"ab", "[\"ab\"]", "not two tokens"},
        {"ab", "[\"a b\",]", "model.merges is not valid JSON"},  /* trailing comma */
        {"ab", "[\"a c\"]", "not in the vocabulary"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *e[] = {bad[k].extra};
        CHECK_EQ_INT(write_tiny(path, e, 1, bad[k].merges, "", "null", byte_level_pre), 0);
        tok = NULL;
        CHECK_EQ_INT(temper_tokenizer_load(path, &tok), TEMPER_EFORMAT);
        if (!strstr(temper_last_error(), bad[k].needle))
            fprintf(stderr, "  case %zu: %s\n", k, temper_last_error());
        CHECK(strstr(temper_last_error(), bad[k].needle) != NULL);
        CHECK(tok == NULL);
    }
    unlink(path);
}

/* ---- GPT-2 ---------------------------------------------------------------- */

static void test_gpt2_ids(void) {
    temper_token ids[64];
    int32_t offs[128];
    /* tiktoken tests/test_encoding.py: "hello world" -> [31373, 995] */
    CHECK_EQ_INT(temper_tokenize(gpt2, "hello world", 11, 0, ids, offs, 64), 2);
    CHECK_EQ_INT(ids[0], 31373); CHECK_EQ_INT(ids[1], 995);
    CHECK_EQ_INT(offs[2], 5); CHECK_EQ_INT(offs[3], 11); /* " world" keeps its space */
    /* "hello <|endoftext|>" -> [31373, 220, 50256] */
    CHECK_EQ_INT(temper_tokenize(gpt2, "hello <|endoftext|>", 19, 0, ids, offs, 64), 3);
    CHECK_EQ_INT(ids[1], 220); CHECK_EQ_INT(ids[2], 50256);
    CHECK_EQ_INT(offs[4], 6); CHECK_EQ_INT(offs[5], 19);
    /* as plain text: "<", "|", "end", "of", "text", "|", ">" */
    static const int as_text[] = {27, 91, 437, 1659, 5239, 91, 29};
    CHECK_EQ_INT(encode(gpt2, "<|endoftext|>", TEMPER_TOKENIZE_SPECIAL_AS_TEXT, ids, 64), 7);
    for (int k = 0; k < 7; k++) CHECK_EQ_INT(ids[k], as_text[k]);
    /* GPT-2 adds nothing with ADD_SPECIAL */
    CHECK_EQ_INT(encode(gpt2, "hello world", TEMPER_TOKENIZE_ADD_SPECIAL, ids, 64), 2);
    /* "日" is two tokens: bytes E6 97 and A5; both span the character */
    CHECK_EQ_INT(temper_tokenize(gpt2, "\xE6\x97\xA5", 3, 0, ids, offs, 64), 2);
    CHECK_EQ_INT(ids[0], 33768); CHECK_EQ_INT(ids[1], 98);
    CHECK_EQ_INT(offs[0], 0); CHECK_EQ_INT(offs[1], 3);
    CHECK_EQ_INT(offs[2], 0); CHECK_EQ_INT(offs[3], 3);
    CHECK_EQ_INT(encode(gpt2, "", 0, ids, 64), 0);
    CHECK_STR(temper_token_text(gpt2, 995), "\xC4\xA0world");
    CHECK(temper_token_text(gpt2, 50257) == NULL);
    CHECK(temper_token_text(gpt2, -1) == NULL);
    CHECK_EQ_INT(temper_tokenizer_find(gpt2, "<|endoftext|>"), 50256);
    CHECK_EQ_INT(temper_tokenizer_find(gpt2, "no such token"), TEMPER_ENOENT);
    CHECK_EQ_INT(temper_token_is_special(gpt2, 50256), 1);
    CHECK_EQ_INT(temper_token_is_special(gpt2, 995), 0);
    CHECK_EQ_INT(temper_tokenizer_n_vocab(gpt2), 50257);
    temper_tokenizer_info info;
    temper_tokenizer_get_info(gpt2, &info);
    CHECK_EQ_INT(info.bos_id, 50256);
    CHECK_EQ_INT(info.eos_id, 50256);
    CHECK_EQ_INT(info.n_prefix + info.n_suffix, 0);
    CHECK_STR(info.source, "tokenizer.json");
}

static void test_buffer_rule(void) {
    temper_token ids[4] = {-7, -7, -7, -7};
    CHECK_EQ_INT(temper_tokenize(gpt2, "hello <|endoftext|>", 19, 0, NULL, NULL, 0), 3);
    CHECK_EQ_INT(temper_tokenize(gpt2, "hello <|endoftext|>", 19, 0, ids, NULL, 1), 3);
    CHECK_EQ_INT(ids[0], 31373);
    CHECK_EQ_INT(ids[1], -7); /* nothing past cap */
    char buf[8];
    memset(buf, 'x', sizeof buf);
    temper_token hw[2] = {31373, 995};
    CHECK_EQ_INT(temper_detokenize(gpt2, hw, 2, 0, buf, 4), 11); /* "hello world" */
    CHECK(memcmp(buf, "hell", 4) == 0 && buf[4] == 'x');
    char big[32];
    CHECK_EQ_INT(temper_detokenize(gpt2, hw, 2, 0, big, sizeof big), 11);
    CHECK_STR(big, "hello world"); /* NUL added when room remains */
    CHECK_EQ_INT(temper_token_bytes(gpt2, 995, buf, 2), 6);
    CHECK(memcmp(buf, " w", 2) == 0);
}

/* Id of the single-byte token of b. */
static temper_token byte_token(uint8_t b) {
    uint8_t u[5] = {0};
    temper__utf8_encode(temper__byte_to_char(b), u);
    return temper_tokenizer_find(gpt2, (const char *)u);
}

static void test_decode_lossy(void) {
    char buf[64];
    /* E6 97 (a cut "日") then "A": one U+FFFD for the maximal subpart */
    temper_token a[3] = {byte_token(0xE6), byte_token(0x97), byte_token('A')};
    CHECK_EQ_INT(temper_detokenize(gpt2, a, 3, 0, buf, sizeof buf), 4);
    CHECK_STR(buf, "\xEF\xBF\xBD" "A");
    /* C0 80: C0 can never start a character -> two U+FFFD */
    temper_token b[2] = {byte_token(0xC0), byte_token(0x80)};
    CHECK_EQ_INT(temper_detokenize(gpt2, b, 2, 0, buf, sizeof buf), 6);
    /* ED A0 80 (a surrogate): three U+FFFD */
    temper_token c[3] = {byte_token(0xED), byte_token(0xA0), byte_token(0x80)};
    CHECK_EQ_INT(temper_detokenize(gpt2, c, 3, 0, buf, sizeof buf), 9);
    /* F0 28: F0 then "(" */
    temper_token d[2] = {byte_token(0xF0), byte_token('(')};
    CHECK_EQ_INT(temper_detokenize(gpt2, d, 2, 0, buf, sizeof buf), 4);
    CHECK_STR(buf, "\xEF\xBF\xBD(");
    /* special tokens kept or skipped */
    temper_token e[3] = {31373, 50256, 995};
    CHECK_EQ_INT(temper_detokenize(gpt2, e, 3, 0, buf, sizeof buf), 24);
    CHECK_STR(buf, "hello<|endoftext|> world");
    CHECK_EQ_INT(temper_detokenize(gpt2, e, 3, TEMPER_DETOKENIZE_SKIP_SPECIAL, buf, sizeof buf), 11);
    temper_token bad = 50257;
    CHECK_EQ_INT(temper_detokenize(gpt2, &bad, 1, 0, buf, sizeof buf), TEMPER_EINVAL);
}

static void test_stream(void) {
    temper_utf8_stream s;
    temper_utf8_stream_reset(&s);
    char buf[64];
    /* "日" = [33768 (E6 97), 98 (A5)]: nothing until it completes */
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 33768, buf, sizeof buf), 0);
    CHECK_EQ_INT(s.n_pending, 2);
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 98, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "\xE6\x97\xA5", 3) == 0);
    CHECK_EQ_INT(s.n_pending, 0);
    /* a cut character then flush: U+FFFD */
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 33768, buf, sizeof buf), 0);
    CHECK_EQ_INT(temper_utf8_stream_flush(&s, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "\xEF\xBF\xBD", 3) == 0);
    CHECK_EQ_INT(s.n_pending, 0);
    /* a cut character followed by ASCII: U+FFFD then the text */
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 33768, buf, sizeof buf), 0);
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 995, buf, sizeof buf), 9);
    CHECK(memcmp(buf, "\xEF\xBF\xBD world", 9) == 0);
    /* too small a buffer: the needed size, and the stream is unchanged */
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 33768, buf, sizeof buf), 0);
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 98, buf, 2), 3);
    CHECK_EQ_INT(s.n_pending, 2);
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, 98, buf, 3), 3);
    CHECK_EQ_INT(s.n_pending, 0);
    CHECK_EQ_INT(temper_detokenize_stream(gpt2, &s, -1, buf, sizeof buf), TEMPER_EINVAL);
}

static void test_errors(void) {
    temper_token ids[8];
    CHECK_EQ_INT(temper_tokenize(gpt2, "a\xFF" "b", 3, 0, ids, NULL, 8), TEMPER_EUTF8);
    CHECK(strstr(temper_last_error(), "byte 1") != NULL);
    CHECK_EQ_INT(temper_tokenize(gpt2, "\xC3", 1, 0, ids, NULL, 8), TEMPER_EUTF8);        /* cut */
    CHECK_EQ_INT(temper_tokenize(gpt2, "\xC0\xAF", 2, 0, ids, NULL, 8), TEMPER_EUTF8);    /* overlong */
    CHECK_EQ_INT(temper_tokenize(gpt2, "\xED\xA0\x80", 3, 0, ids, NULL, 8), TEMPER_EUTF8); /* surrogate */
    CHECK_EQ_INT(temper_tokenize(gpt2, "\xF4\x90\x80\x80", 4, 0, ids, NULL, 8), TEMPER_EUTF8);
    temper_tokenizer *tok = (temper_tokenizer *)1;
    CHECK_EQ_INT(temper_tokenizer_load("/no/such/folder", &tok), TEMPER_ENOENT);
    CHECK(tok == NULL);
    CHECK_EQ_INT(temper_tokenizer_load("/tmp", &tok), TEMPER_ENOENT);
    CHECK(strstr(temper_last_error(), "tokenizer.json") != NULL);
}

/* ---- an independent BPE: GPT-2's encoder.py loop over strings ------------
 * merges.txt and vocab.json read here (cJSON), the byte-level characters
 * built here: nothing of the library's tables. */

typedef struct { char *key; int val; } ref_entry; /* "left right" -> rank, or piece -> id */
static ref_entry *ref_merges, *ref_vocab;
static int ref_n_merges, ref_n_vocab;

static int ref_entry_cmp(const void *a, const void *b) {
    return strcmp(((const ref_entry *)a)->key, ((const ref_entry *)b)->key);
}
static int ref_find(const ref_entry *t, int n, const char *key) {
    ref_entry k = {(char *)key, 0}, *e = bsearch(&k, t, (size_t)n, sizeof *t, ref_entry_cmp);
    return e ? e->val : -1;
}

static char *ref_read(const char *name) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", gpt2_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int ref_bpe_load(void) {
    char *m = ref_read("merges.txt"), *v = ref_read("vocab.json");
    cJSON *j = v ? cJSON_Parse(v) : NULL;
    if (!m || !j) { free(m); free(v); cJSON_Delete(j); return -1; }
    ref_merges = malloc(sizeof *ref_merges * 60000);
    char *line = strchr(m, '\n') + 1; /* after "#version" */
    while (*line && ref_n_merges < 60000) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        if (*line) ref_merges[ref_n_merges] = (ref_entry){strdup(line), ref_n_merges}, ref_n_merges++;
        if (!end) break;
        line = end + 1;
    }
    ref_vocab = malloc(sizeof *ref_vocab * (size_t)cJSON_GetArraySize(j));
    for (cJSON *it = j->child; it; it = it->next)
        ref_vocab[ref_n_vocab++] = (ref_entry){strdup(it->string), (int)it->valuedouble};
    qsort(ref_merges, (size_t)ref_n_merges, sizeof *ref_merges, ref_entry_cmp);
    qsort(ref_vocab, (size_t)ref_n_vocab, sizeof *ref_vocab, ref_entry_cmp);
    free(m); free(v); cJSON_Delete(j);
    return 0;
}

/* GPT-2's bytes_to_unicode: printable bytes keep their code point, the 68
 * others get 256, 257... in byte order; written as UTF-8 into out (3 bytes). */
static void ref_byte_char(uint8_t b, char *out) {
    int cp = b, extra = 0;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        for (int c = 0; c < b; c++)
            extra += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174);
        cp = 256 + extra;
    }
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 63)), out[2] = 0;
}

/* The word's ids: the lowest-ranked adjacent pair merged everywhere, left
 * to right, until no pair has a rank; then each piece's vocab.json id. */
static int ref_bpe_word(const uint8_t *w, int n, temper_token *ids) {
    char **sym = malloc(sizeof *sym * (size_t)n), key[2048];
    for (int k = 0; k < n; k++) {
        sym[k] = malloc(4);
        ref_byte_char(w[k], sym[k]);
    }
    for (;;) {
        int best = -1, at = -1;
        for (int k = 0; k + 1 < n; k++) {
            snprintf(key, sizeof key, "%s %s", sym[k], sym[k + 1]);
            int r = ref_find(ref_merges, ref_n_merges, key);
            if (r >= 0 && (best < 0 || r < best)) best = r, at = k;
        }
        if (best < 0) break;
        char *l = strdup(sym[at]), *r = strdup(sym[at + 1]);
        int out = 0;
        for (int k = 0; k < n; k++) {
            if (k + 1 < n && !strcmp(sym[k], l) && !strcmp(sym[k + 1], r)) {
                size_t a = strlen(sym[k]), b = strlen(sym[k + 1]);
                char *j = malloc(a + b + 1);
                memcpy(j, sym[k], a);
                memcpy(j + a, sym[k + 1], b + 1);
                free(sym[k]); free(sym[k + 1]);
                sym[out++] = j;
                k++;
            } else {
                sym[out++] = sym[k];
            }
        }
        n = out;
        free(l); free(r);
    }
    for (int k = 0; k < n; k++) {
        ids[k] = ref_find(ref_vocab, ref_n_vocab, sym[k]);
        free(sym[k]);
    }
    free(sym);
    return n;
}

/* The library's merge loops (scan for short words, heap for long ones)
 * against the independent loop above, on random words. */
static void test_bpe_vs_reference(void) {
    if (ref_bpe_load() < 0) {
        CHECK(!"cannot read merges.txt / vocab.json of the gpt2 fixture");
        return;
    }
    temper__enc *e = temper__enc_new(gpt2);
    uint64_t rng = 12345;
    static const char alphabet[] = "etaoinshrdlucmfwypvbgkqjxz ETAOIN0123456789.,'!\n\xC3\xA9";
    int mismatches = 0, merged = 0;
    temper_token fast[300], slow[300];
    uint8_t w[300];
    for (int t = 0; t < 3000; t++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 1 + (rng >> 33) % (t < 2700 ? 20 : 300); /* some long: the heap */
        for (size_t k = 0; k < n; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            w[k] = (uint8_t)alphabet[(rng >> 33) % (sizeof alphabet - 1)];
        }
        int a = temper__bpe_word(e, w, n, fast), b = ref_bpe_word(w, (int)n, slow);
        if (a != b || memcmp(fast, slow, (size_t)a * sizeof *fast) != 0) {
            if (mismatches++ < 3) fprintf(stderr, "  word %d (%zu bytes): %d ids, reference %d\n", t, n, a, b);
        }
        merged += b < (int)n;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(merged > 2000); /* the words do merge */
    temper__enc_free(e);
    for (int i = 0; i < ref_n_merges; i++) free(ref_merges[i].key);
    for (int i = 0; i < ref_n_vocab; i++) free(ref_vocab[i].key);
    free(ref_merges); free(ref_vocab);
}

static void test_parallel(void) {
    size_t n = 600000;
    char *text = malloc(n + 1);
    static const char *words[] = {"the ", "quick ", "brown ", "fox's ", "jumps\n", "1999 ", "caf\xC3\xA9 ",
                                  "<|endoftext|>", "  ", "naïve "};
    size_t o = 0;
    for (int k = 0; o + 16 < n; k = (k * 7 + 3) % 10) {
        size_t l = strlen(words[k]);
        memcpy(text + o, words[k], l);
        o += l;
    }
    text[o] = '\0';
    int cap = (int)o + 8;
    temper_token *a = malloc(sizeof *a * (size_t)cap), *b = malloc(sizeof *b * (size_t)cap);
    int32_t *oa = malloc(sizeof *oa * 2 * (size_t)cap), *ob = malloc(sizeof *ob * 2 * (size_t)cap);
    int na = temper_tokenize(gpt2, text, o, 0, a, oa, cap);
    int nb = temper_tokenize_parallel(gpt2, text, o, 0, b, ob, cap, 3);
    CHECK(na > 0);
    CHECK_EQ_INT(na, nb);
    CHECK(na == nb && memcmp(a, b, sizeof *a * (size_t)na) == 0);
    CHECK(na == nb && memcmp(oa, ob, sizeof *oa * 2 * (size_t)na) == 0);
    free(text), free(a), free(b), free(oa), free(ob);
}

static void test_vocab_merges_files(void) {
    char path[1100];
    snprintf(path, sizeof path, "%s/gpt2/vocab.json", test_fixtures());
    temper_tokenizer *tok;
    CHECK_EQ_INT(temper_tokenizer_load(path, &tok), 0);
    if (!tok) return;
    temper_token ids[8];
    CHECK_EQ_INT(encode(tok, "hello <|endoftext|>", 0, ids, 8), 3);
    CHECK_EQ_INT(ids[2], 50256);
    CHECK_EQ_INT(temper_token_is_special(tok, 50256), 1); /* GPT2Tokenizer's default */
    temper_tokenizer_info info;
    temper_tokenizer_get_info(tok, &info);
    CHECK_STR(info.source, "vocab.json+merges.txt");
    temper_tokenizer_free(tok);
}

int main(void) {
    if (temper_tokenizer_load(gpt2_dir(), &gpt2) < 0) {
        fprintf(stderr, "cannot load %s: %s\n", gpt2_dir(), temper_last_error());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_byte_table);
    RUN(test_white_space);
    RUN(test_pretokenize);
    RUN(test_merge_order);
    RUN(test_json_scan);
    RUN(test_gpt2_ids);
    RUN(test_buffer_rule);
    RUN(test_decode_lossy);
    RUN(test_stream);
    RUN(test_errors);
    RUN(test_bpe_vs_reference);
    RUN(test_parallel);
    RUN(test_vocab_merges_files);
    temper_tokenizer_free(gpt2);
    return TEST_SUMMARY();
}
