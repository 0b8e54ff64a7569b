/*
 * test_json.c - the library's JSON writer (temper_json): exact text of
 * escapes, invalid UTF-8, shortest round-trip numbers and nulls, the same
 * text into memory and into a stream, a NULL writer; and the documents
 * built on stories260K (every one parses, starts with its version, and
 * keeps "tokens" = vocabulary pieces, "token_texts" = decode([id])).
 */
#include <cJSON.h>

#include "temper.h"
#include "test.h"

/* Writes the same values into any writer. Invalid UTF-8: one U+FFFD per
 * maximal invalid sequence, as Python's decode(errors="replace"): \xff,
 * then \xe2\x82 (cut by "b"), then \xed \xa0 \x80 (a surrogate: three). */
static void write_values(temper_json *j) {
    temper_json_obj_begin(j);
    temper_json_key(j, "s"), temper_json_str(j, "a\"b\\c\n\t\x01/");
    temper_json_key(j, "bad"), temper_json_strn(j, "a\xff\xe2\x82" "b\xed\xa0\x80", 8);
    temper_json_key(j, "nul"), temper_json_strn(j, "x\0y", 3);
    temper_json_key(j, "f"), temper_json_float(j, 0.1f);
    temper_json_key(j, "d"), temper_json_double(j, 2e-8);
    temper_json_key(j, "third"), temper_json_double(j, 1.0 / 3);
    temper_json_key(j, "nan"), temper_json_double(j, NAN);
    temper_json_key(j, "inf"), temper_json_float(j, -INFINITY);
    temper_json_key(j, "i"), temper_json_int(j, -5);
    temper_json_key(j, "u"), temper_json_uint(j, 18446744073709551615ull);
    temper_json_key(j, "a"), temper_json_arr_begin(j);
    temper_json_bool(j, 1), temper_json_bool(j, 0), temper_json_null(j), temper_json_str(j, NULL);
    temper_json_arr_begin(j), temper_json_arr_end(j);
    temper_json_obj_begin(j), temper_json_obj_end(j);
    temper_json_arr_end(j);
    temper_json_obj_end(j);
}

static const char *const want_text =
    "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/\",\"bad\":\"a\xEF\xBF\xBD\xEF\xBF\xBD" "b"
    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\",\"nul\":\"x\\u0000y\",\"f\":0.1,\"d\":2e-08,"
    "\"third\":0.3333333333333333,\"nan\":null,\"inf\":null,\"i\":-5,"
    "\"u\":18446744073709551615,\"a\":[true,false,null,null,[],{}]}";

static void test_writer_text(void) {
    temper_json *j = temper_json_new(NULL);
    CHECK(j != NULL);
    write_values(j);
    size_t len = 0;
    const char *text = temper_json_text(j, &len);
    CHECK_STR(text, want_text);
    CHECK_EQ_INT(len, strlen(want_text));
    CHECK_EQ_INT(temper_json_finish(j), 0);
    CHECK_EQ_INT(temper_json_status(j), 0);
    text = temper_json_text(j, &len);
    CHECK(len == strlen(want_text) + 1 && text[len - 1] == '\n');
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    CHECK_STR(cJSON_GetObjectItem(doc, "s")->valuestring, "a\"b\\c\n\t\x01/");
    CHECK(cJSON_GetObjectItem(doc, "f")->valuedouble == (double)0.1);
    cJSON_Delete(doc);
    temper_json_free(j);
}

static void test_writer_stream(void) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    temper_json *j = temper_json_new(f);
    write_values(j);
    CHECK(temper_json_text(j, NULL) == NULL); /* a stream writer keeps no text */
    CHECK_EQ_INT(temper_json_finish(j), 0);
    temper_json_free(j);
    fclose(f);
    CHECK(size == strlen(want_text) + 1 && strncmp(buf, want_text, size - 1) == 0);
    free(buf);
}

static void test_writer_null(void) {
    temper_json_obj_begin(NULL); /* nothing happens: a failed temper_json_new */
    temper_json_key(NULL, "k");
    temper_json_str(NULL, "v");
    temper_json_double(NULL, 1);
    CHECK(temper_json_text(NULL, NULL) == NULL);
    CHECK(temper_json_finish(NULL) < 0);
    temper_json_free(NULL);
}

static temper_model *model;

/* The text of a memory writer after build, parsed; NULL on failure. */
static cJSON *parse(temper_json *j) {
    CHECK_EQ_INT(temper_json_finish(j), 0);
    cJSON *doc = cJSON_Parse(temper_json_text(j, NULL));
    CHECK(doc != NULL);
    if (doc) CHECK_EQ_INT(cJSON_GetObjectItem(doc, "version")->valueint, TEMPER_JSON_VERSION);
    temper_json_free(j);
    return doc;
}

/* "ids", "tokens" and "token_texts" of obj (prefix "" or "prompt_") hold ids
 * (n), their vocabulary pieces and their texts. */
static void check_ids_tokens(const cJSON *obj, const char *prefix, const temper_token *ids, int n) {
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    char key[64];
    snprintf(key, sizeof key, "%sids", prefix);
    const cJSON *a = cJSON_GetObjectItem(obj, key);
    snprintf(key, sizeof key, "%stokens", prefix);
    const cJSON *t = cJSON_GetObjectItem(obj, key);
    snprintf(key, sizeof key, "%stoken_texts", prefix);
    const cJSON *x = cJSON_GetObjectItem(obj, key);
    CHECK(a && t && x && cJSON_GetArraySize(a) == n && cJSON_GetArraySize(t) == n &&
          cJSON_GetArraySize(x) == n);
    for (int k = 0; a && t && x && k < n; k++) {
        char text[64];
        int len = temper_detokenize(tok, &ids[k], 1, 0, text, sizeof text);
        CHECK(len >= 0 && len < (int)sizeof text);
        CHECK_EQ_INT(cJSON_GetArrayItem(a, k)->valueint, ids[k]);
        CHECK_STR(cJSON_GetArrayItem(t, k)->valuestring, temper_token_text(tok, ids[k]));
        CHECK_STR(cJSON_GetArrayItem(x, k)->valuestring, text);
    }
}

static void test_documents(void) {
    if (!model) {
        SKIP("stories260K not loaded");
        return;
    }
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_token ids[32];
    int32_t offs[64];
    const char *text = "Lily went to the park";
    int n = temper_tokenize(tok, text, strlen(text), TEMPER_TOKENIZE_ADD_SPECIAL, ids, offs, 32);
    CHECK(n > 3);

    temper_json *j = temper_json_new(NULL);
    temper_json_tokenize(j, tok, ids, offs, n);
    cJSON *doc = parse(j);
    check_ids_tokens(doc, "", ids, n);
    CHECK_EQ_INT(cJSON_GetObjectItem(doc, "n_tokens")->valueint, n);
    cJSON_Delete(doc);

    /* probs: the table of the prompt's last row */
    temper_context *ctx = NULL;
    CHECK_EQ_INT(temper_context_init(model, NULL, &ctx), 0);
    int V = temper_model_n_vocab(model);
    float *logits = malloc(sizeof(float) * (size_t)V);
    CHECK_EQ_INT(temper_eval(ctx, 0, ids, n, logits, 0), 0);
    temper_candidate cands[5];
    temper_next_token_info info;
    CHECK_EQ_INT(temper_next_token_table(logits, V, NULL, 5, cands, &info), 5);
    temper_json_next_tokens nt = {.model = "stories260K", .tok = tok, .prompt = ids,
                                  .n_prompt = n, .cands = cands, .n = 5, .info = &info};
    j = temper_json_new(NULL);
    temper_json_probs(j, &nt);
    doc = parse(j);
    check_ids_tokens(doc, "prompt_", ids, n);
    const cJSON *c = cJSON_GetObjectItem(doc, "candidates");
    CHECK_EQ_INT(cJSON_GetArraySize(c), 5);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "token")->valuestring,
              temper_token_text(tok, cands[0].id));
    CHECK(cJSON_GetObjectItem(doc, "stages") == NULL); /* no sampler: no processed keys */
    cJSON_Delete(doc);
    free(logits);

    /* generate: the settings hold every parameter of the table */
    temper_generate_params p = temper_generate_default_params();
    p.max_new_tokens = 4;
    p.n_top = 2;
    temper_generation *g = NULL;
    CHECK_EQ_INT(temper_generate(ctx, ids, n, &p, &g), 0);
    temper_json_run run = {.temperature = NAN, .greedy = 1, .stages = "", .g = g, .distinct = 1};
    temper_json_generation gd = {.model = "stories260K", .tok = tok, .prompt = ids,
                                 .n_prompt = n, .params = &p, .mode = "greedy", .runs = &run,
                                 .n_runs = 1, .load_seconds = NAN};
    j = temper_json_new(NULL);
    temper_json_generate(j, &gd);
    doc = parse(j);
    const cJSON *st = cJSON_GetObjectItem(doc, "settings");
    int np;
    const temper_param *t = temper_params(&np);
    for (int k = 0; k < np; k++) {
        if (!cJSON_GetObjectItem(st, t[k].name)) fprintf(stderr, "settings: no %s\n", t[k].name);
        CHECK(cJSON_GetObjectItem(st, t[k].name) != NULL);
    }
    const cJSON *seq = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "sequences"), 0);
    check_ids_tokens(seq, "", g->seqs[0].ids, g->seqs[0].n_ids);
    const cJSON *lps = cJSON_GetObjectItem(seq, "logprobs");
    CHECK_EQ_INT(cJSON_GetArraySize(lps), g->seqs[0].n_ids);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(lps, 0), "top")), 2);
    CHECK_STR(cJSON_GetObjectItem(doc, "finish_reason")->valuestring, "length");
    cJSON_Delete(doc);
    temper_generation_free(g);
    temper_context_free(ctx);
}

int main(void) {
    RUN(test_writer_text);
    RUN(test_writer_stream);
    RUN(test_writer_null);
    char path[512];
    snprintf(path, sizeof path, "%s/stories260K/stories260K.bin", test_fixtures());
    temper_model_params mp = temper_model_default_params();
    mp.offline = 1;
    if (temper_model_load(path, &mp, &model) < 0)
        fprintf(stderr, "load %s: %s\n", path, temper_last_error());
    RUN(test_documents);
    temper_model_free(model);
    return TEST_SUMMARY();
}
