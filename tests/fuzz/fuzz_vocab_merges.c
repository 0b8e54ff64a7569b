/* fuzz_vocab_merges.c - the vocab.json + merges.txt (+ tokenizer_config.json,
 * special_tokens_map.json) folder format. The input holds the files one
 * after the other, separated by lines "@@@". */
#include "fuzz_tok.h"

static const char *const fuzz_names[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                         "special_tokens_map.json"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < 4; k++) {
        const uint8_t *q = p;
        while (q + 5 <= end && memcmp(q, "\n@@@\n", 5) != 0) q++;
        if (q + 5 > end) q = end;
        const char *path = fuzz_path(fuzz_names[k]);
        if (k >= 2 && p == end) unlink(path); /* the optional files: absent */
        else fuzz_write(path, p, (size_t)(q - p));
        p = q + 5 <= end ? q + 5 : end;
    }
    temper_tokenizer *tok = NULL;
    if (temper_tokenizer_load(fuzz_dir(), &tok) == 0) fuzz_use_tokenizer(tok, data, size);
    else FUZZ_CHECK(tok == NULL);
    temper_tokenizer_free(tok);
    return 0;
}
