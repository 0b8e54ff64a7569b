/* fuzz_tokenizer_json.c - tokenizer.json: the fast vocab/merges scanner
 * (json_scan.c, model_json.c), cJSON for the rest, added tokens,
 * post-processors, SentencePiece-style files; then encoding and decoding. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("tokenizer.json");
    fuzz_write(path, data, size);
    temper_tokenizer *tok = NULL;
    if (temper_tokenizer_load(path, &tok) == 0) fuzz_use_tokenizer(tok, data, size);
    else FUZZ_CHECK(tok == NULL);
    temper_tokenizer_free(tok);
    return 0;
}
