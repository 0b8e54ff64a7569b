/* fuzz_tokenizer_bin.c - llama2.c's tokenizer.bin (max_token_length, then
 * score, length and bytes of each token); then encoding and decoding. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("tokenizer.bin");
    fuzz_write(path, data, size);
    temper_tokenizer *tok = NULL;
    if (temper_tokenizer_load(path, &tok) == 0) fuzz_use_tokenizer(tok, data, size);
    else FUZZ_CHECK(tok == NULL);
    temper_tokenizer_free(tok);
    return 0;
}
