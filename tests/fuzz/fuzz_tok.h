/* fuzz_tok.h - what the tokenizer targets do with a tokenizer that loaded:
 * encode fixed texts and text taken from the input, decode the ids, read
 * token texts and bytes. Every id must be in the vocabulary. */
#ifndef TEMPER_FUZZ_TOK_H
#define TEMPER_FUZZ_TOK_H

#include "fuzz.h"

static void fuzz_use_tokenizer(const temper_tokenizer *tok, const uint8_t *data, size_t size) {
    int V = temper_tokenizer_n_vocab(tok);
    FUZZ_CHECK(V > 0);
    temper_tokenizer_info info;
    temper_tokenizer_get_info(tok, &info);
    /* fixed texts, then the input's last 128 bytes (often not UTF-8: an error) */
    const char *texts[] = {"Hello world, les mod\xC3\xA8les  de\tlangage 123 <|endoftext|> <s>\n\n",
                           " a b  c\xF0\x9F\x98\x80" "abc", ""};
    char tail[129];
    size_t n = size < 128 ? size : 128;
    memcpy(tail, data + size - n, n);
    tail[n] = '\0';
    temper_token ids[512];
    int32_t offs[1024];
    char buf[4096];
    for (int k = 0; k < 4; k++) {
        const char *s = k < 3 ? texts[k] : tail;
        size_t len = k < 3 ? strlen(s) : n;
        for (int flags = 0; flags < 4; flags++) {
            int m = temper_tokenize(tok, s, len, flags, ids, offs, 512);
            if (m < 0) continue;
            if (m > 512) m = 512;
            for (int i = 0; i < m; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < V);
            for (int i = 0; i < m; i++) FUZZ_CHECK(offs[2 * i] <= offs[2 * i + 1] && (size_t)offs[2 * i + 1] <= len);
            (void)temper_detokenize(tok, ids, m, 0, buf, sizeof buf);
            (void)temper_detokenize(tok, ids, m, TEMPER_DETOKENIZE_SKIP_SPECIAL, buf, sizeof buf);
        }
    }
    /* every token (up to 4096 of them) and a few bad ids */
    for (int id = -2; id < V + 2 && id < 4096; id++) {
        const char *t = temper_token_text(tok, id);
        if (t) FUZZ_CHECK(strlen(t) < (size_t)1 << 30); /* NULL: a hole in the ids */
        (void)temper_token_bytes(tok, id, buf, sizeof buf);
        temper_token one = id;
        (void)temper_detokenize(tok, &one, 1, 0, buf, sizeof buf);
    }
}

#endif
