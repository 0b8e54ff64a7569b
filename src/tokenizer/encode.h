/*
 * encode.h - the scratch state of one encode call (private to
 * src/tokenizer/): the word cache (word bytes -> ids) and the work arrays of
 * the BPE loop. One per call and per thread, never shared.
 */
#ifndef TEMPER_TOKENIZER_ENCODE_H
#define TEMPER_TOKENIZER_ENCODE_H

#include "tokenizer/tokenizer.h"

#define TEMPER__CACHE_MAX_WORD 64 /* longer words are not cached */

typedef struct temper__cache_slot {
    uint32_t hash;    /* high bits of the word's hash */
    uint32_t key_off; /* word bytes at keys[key_off ..] */
    uint32_t ids_off; /* its ids at ids[ids_off ..] */
    uint16_t key_len; /* 0: empty slot */
    uint16_t n_ids;
} temper__cache_slot;

struct temper__enc {
    const temper_tokenizer *tok; /* borrowed */

    temper__cache_slot *slots;   /* (mask + 1) open addressing */
    uint32_t mask, used;
    uint8_t *keys;               /* (keys_cap) word bytes, back to back */
    size_t keys_len, keys_cap;
    temper_token *ids;           /* (ids_cap) ids of the cached words */
    size_t ids_len, ids_cap;

    temper_token *word_ids;      /* (word_cap) ids of the current word */
    size_t word_cap;
    uint8_t *buf;                /* (buf_cap) " " + segment (add_prefix_space) */
    size_t buf_cap;
    void *heap_mem;              /* bpe.c heap work arrays */
    size_t heap_bytes;
    char *str;                   /* (str_cap) byte-level string of a word */
    size_t str_cap;
    temper__split_work *split;   /* split.c scratch (match data, pieces), owned */
    uint8_t *nfc;                /* (nfc_cap) NFC of the current segment (nfc.c) */
    int32_t *nfc_map;            /* (nfc_cap, 2) original byte range of each nfc byte */
    size_t nfc_len, nfc_cap;
};

/* NFC of text[a..b) (nfc.c): *changed = false when it is already in NFC;
 * else the normalized bytes are e->nfc[0..e->nfc_len), byte i aligned with
 * the original bytes [e->nfc_map[2i], e->nfc_map[2i + 1]). */
int temper__nfc_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b, bool *changed);

#endif
