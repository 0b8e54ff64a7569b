/*
 * tokenizer.h - private pieces of the tokenizer (src/tokenizer/).
 *
 * The pipeline of temper_tokenize(), the same as Hugging Face tokenizers':
 *
 *   text --added_tokens.c--> pieces: added-token ids | plain text segments
 *   segment --pretokenize.c--> words (GPT-2 regex, exact Unicode classes)
 *   word --bpe.c--> ids (merge ranks; per-call word cache)
 *   ids --postprocess.c--> ids with BOS/EOS, trimmed offsets
 *
 * and back: ids --decode.c--> bytes --> UTF-8 with U+FFFD for bad bytes.
 * Loading: load.c (dispatch, config files), load_json.c (tokenizer.json),
 * load_files.c (vocab.json + merges.txt), vocab.c (token tables),
 * bytelevel.c (GPT-2's byte <-> character table).
 *
 * A tokenizer is read-only after load; every encode call keeps its scratch
 * memory in its own temper__enc, so calls may run on many threads at once.
 * SentencePiece-style BPE with byte fallback (Llama 2's tokenizer.json,
 * llama2.c's tokenizer.bin) is TEMPER__MODEL_SPM: spm.c (encode), spm_json.c,
 * llama2c_tok.c (loading), spm_decode.c (decode), dispatched from encode.c,
 * decode.c, load.c and load_json.c.
 */
#ifndef TEMPER_TOKENIZER_PRIV_H
#define TEMPER_TOKENIZER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "core/core.h"

/* ---- byte-level alphabet (bytelevel.c) -------------------------------- */

/* GPT-2 maps every byte to a printable character so that BPE works on
 * strings: printable Latin-1 bytes map to themselves, the 68 others to
 * U+0100.. in byte order (space -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A). */
uint32_t temper__byte_to_char(uint8_t b);
/* The byte of a byte-level character, or -1 if c is not one. */
int temper__char_to_byte(uint32_t c);

/* Decode one code point of valid-or-not UTF-8 s[0..n) (n > 0): returns the
 * bytes used and sets *cp, or 0 if s does not start with a valid sequence
 * (overlong, surrogate, > U+10FFFF or truncated). */
int temper__utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Encode cp (<= U+10FFFF) into out[4]; returns the byte count. */
int temper__utf8_encode(uint32_t cp, uint8_t *out);
/* Offset of the first invalid byte of s[0..n), or n if it is valid UTF-8. */
size_t temper__utf8_check(const uint8_t *s, size_t n);
/* 1 if c is Unicode White_Space (what HF's regex \s and Rust's
 * char::is_whitespace match): Zs, Zl, Zp, U+0009..U+000D and U+0085. */
int temper__is_white_space(uint32_t c);

/* ---- vocabulary (vocab.c) --------------------------------------------- */

enum {
    TEMPER__TOK_PRESENT = 1 << 0, /* the id has a token */
    TEMPER__TOK_ADDED = 1 << 1,   /* listed in added_tokens */
    TEMPER__TOK_SPECIAL = 1 << 2, /* added with special = true */
    TEMPER__TOK_BYTE = 1 << 3,    /* "<0xHH>" that a ByteFallback decoder turns into byte HH */
};

/* One added token with its matching flags (HF AddedToken). */
typedef struct temper__added {
    temper_token id;
    const char *content; /* borrowed from the vocabulary's text pool */
    uint32_t len;        /* bytes of content */
    bool special, lstrip, rstrip, normalized;
} temper__added;

/* What the post-processor does (postprocess.c). */
typedef struct temper__post {
    int n_prefix, n_suffix;            /* ids added with ADD_SPECIAL */
    temper_token prefix[4], suffix[4];
    bool trim_offsets;                 /* ByteLevel / Roberta trimming */
    bool trim_add_prefix_space;        /* its add_prefix_space setting */
} temper__post;

typedef enum temper__model_type {
    TEMPER__MODEL_BPE = 1, /* byte-level BPE (GPT-2, OPT, RoBERTa...) */
    TEMPER__MODEL_SPM = 2, /* SentencePiece-style BPE on characters with byte
                              fallback (Llama 2, llama2.c): spm.c */
} temper__model_type;

/* When a SentencePiece-style tokenizer puts "\u2581" before a text segment. */
enum {
    TEMPER__SPM_PREPEND_NEVER = 0,
    TEMPER__SPM_PREPEND_ALWAYS,  /* Prepend normalizer, add_dummy_prefix: if not empty */
    TEMPER__SPM_PREPEND_MISSING, /* Metaspace "always": unless it starts with one */
    TEMPER__SPM_PREPEND_FIRST,   /* Metaspace "first": that, and only at offset 0 */
};

/* The SentencePiece-style pipeline (spm.c, spm_json.c, llama2c_tok.c). */
typedef struct temper__spm {
    uint8_t prepend;        /* TEMPER__SPM_PREPEND_* */
    bool split;             /* Metaspace split: each "\u2581" starts a word */
    bool replace_space;     /* " " -> "\u2581" (Replace normalizer, Metaspace) */
    bool byte_fallback;     /* an unknown character -> its <0xHH> tokens (byte_id) */
    bool fuse_unk;          /* a run of unknown characters gives one unk */
    temper_token unk_id;    /* the model's unk token, -1: none (the character is dropped) */
    bool metaspace_is_byte; /* llama2.c: an input "\u2581" is no space (byte fallback) */
    bool dec_replace;       /* decoder: "\u2581" -> " " */
    bool dec_byte_fallback; /* decoder: runs of <0xHH> -> bytes (HF ByteFallback) */
    bool dec_strip;         /* decoder: Fuse + Strip: one leading " " of the text goes */
    bool dec_metaspace;     /* Metaspace decoder: the first token loses every "\u2581" */
} temper__spm;

/* Open-addressing map from a pair of ids to its merge (bpe.c). */
typedef struct temper__merge_slot {
    uint64_t key;        /* (left << 32 | right) + 1; 0: empty */
    int32_t rank;        /* line of the merge: lower merges first */
    temper_token merged; /* id of left + right */
} temper__merge_slot;

struct temper_tokenizer {
    temper__model_type model;
    const char *source;        /* "tokenizer.json" or "vocab.json+merges.txt" */

    /* Vocabulary, ids 0 .. n_vocab-1 (there may be holes: flags 0). */
    int n_vocab;
    char *text_pool;           /* NUL-terminated token strings, owned */
    uint32_t *text_off;        /* (n_vocab) offset of each string in text_pool */
    uint8_t *bytes_pool;       /* bytes each token decodes to, owned */
    uint32_t *bytes_off;       /* (n_vocab + 1) token id's bytes are
                                  bytes_pool[bytes_off[id] .. bytes_off[id+1]) */
    uint8_t *flags;            /* (n_vocab) TEMPER__TOK_* */
    uint32_t *str_slots;       /* (str_mask + 1) string -> id + 1, 0: empty */
    uint32_t str_mask;
    int max_token_bytes;

    /* BPE model. */
    temper__merge_slot *merges; /* (merge_mask + 1) */
    uint32_t merge_mask;
    int n_merges;
    temper_token byte_id[256];  /* id of each single-byte token (SPM: <0xHH>, -1: none) */
    bool ignore_merges;         /* a word found whole in the vocab is one id */
    temper__spm spm;            /* TEMPER__MODEL_SPM only */

    bool nfc;                   /* NFC normalizer (nfc.c) */
    /* ByteLevel pre-tokenizer. */
    bool add_prefix_space, use_regex;
    uint8_t ascii_class[128];   /* TEMPER__CL_* of each ASCII character */
    struct temper__split *split; /* Split pre-tokenizer run before ByteLevel
                                    (split.c), owned; NULL: none */

    /* Added tokens: raw pass (normalized = false) then normalized pass. */
    temper__added *added;       /* (n_added), owned */
    int n_added, added_cap;
    int *added_index;           /* (n_vocab) id -> 1 + its index in added, 0: none;
                                   owned, made by the first temper__added_push */

    temper__post post;
    temper_token bos_id, eos_id, unk_id, pad_id; /* -1: none */
};

/* Grow-only id map while loading: set text for id (copied). */
typedef struct temper__vocab_builder {
    char *pool;                /* text of all tokens */
    size_t pool_len, pool_cap;
    uint32_t *off;             /* (cap) offset + 1 in pool, 0: no token */
    uint8_t *flags;            /* (cap) */
    int cap, n;                /* n: 1 + highest id set */
    int count;                 /* ids set */
} temper__vocab_builder;

/* Token ids read from files are at most TEMPER__MAX_TOKEN_ID, and a
 * vocabulary's ids are dense: an id may run at most 1M past twice the
 * number of tokens set so far (so that a small file cannot make the tables
 * huge: the tables grow with the file). */
#define TEMPER__MAX_TOKEN_ID ((1 << 26) - 1)
int temper__vb_set(temper__vocab_builder *vb, int id, const char *text, size_t len);
/* A token id in a JSON file: an integer number in [0, TEMPER__MAX_TOKEN_ID],
 * else TEMPER_EFORMAT naming path, what ("vocab entry", "added token"...) and
 * name (the token, may be NULL). NaN, 1.5 or 4294967297 are refused, not
 * coerced. */
int temper__json_token_id(const cJSON *v, const char *path, const char *what, const char *name,
                          int *out);
void temper__vb_free(temper__vocab_builder *vb);
/* Move the builder's tables into tok and build the string map and the bytes
 * of every token (the ByteLevel decoder's rule). vb is emptied. */
int temper__vocab_finish(temper_tokenizer *tok, temper__vocab_builder *vb);
/* Id of the len-byte string s, or -1. */
int temper__vocab_find(const temper_tokenizer *tok, const char *s, size_t len);
static inline const char *temper__tok_text(const temper_tokenizer *tok, int id) {
    return tok->text_pool + tok->text_off[id];
}

/* ---- loading ------------------------------------------------------------ */

/* Parse a tokenizer.json text (path for messages) into tok. */
int temper__load_tokenizer_json(temper_tokenizer *tok, const char *path, char *text);

/* model_json.c: model.vocab and model.merges of a tokenizer.json. */
/* Merge a + b (la, lb bytes), of the given rank, into the merge table
 * (buf, cap: scratch grown as needed). */
int temper__add_merge(temper_tokenizer *tok, const char *path, int rank, const char *a, size_t la,
                      const char *b, size_t lb, char **buf, size_t *cap);
/* "a b" (len bytes) split at its one space: *la, then b, *lb. */
int temper__split_merge(const char *path, int rank, const char *s, size_t len, size_t *la,
                        const char **b, size_t *lb);
/* Where model.vocab ({...}) and model.merges ([...]) are in text: span[0..1]
 * and span[2..3] (begin, end); 0 if they are not both there. */
int temper__model_spans(const char *text, const char *span[4]);
/* Replace [b, e) of copy (a copy of text) by an empty container. */
void temper__blank(char *copy, const char *text, const char *b, const char *e);
/* model.vocab (p at its '{') into vb; *count its entries; model_id[k]: the
 * id of the first entry whose text is added[k] (n_added), or -1. */
int temper__scan_vocab(const char *path, const char *text, const char *p,
                       temper__vocab_builder *vb, const char *const *added, int n_added,
                       int *model_id, int *count);
/* model.merges (p at its '['): "a b" strings or ["a", "b"] pairs. */
int temper__scan_merges(temper_tokenizer *tok, const char *path, const char *text, const char *p);

/* json_scan.c: a scanner for the large members of tokenizer.json. p points
 * into NUL-terminated JSON text; each returns NULL when it is malformed. */
const char *temper__json_ws(const char *p);
/* The end of the value at p (after whitespace). */
const char *temper__json_skip(const char *p);
/* The string at p ('"') unescaped into *buf (grown as needed, NUL-
 * terminated; *len bytes); returns its end. */
const char *temper__json_string(const char *p, char **buf, size_t *cap, size_t *len);
/* For each keys[i] (n), the value of the first member of that name of the
 * object at p: its begin in val[2i] and end in val[2i+1] (NULL when
 * absent). Returns 0, or -1 when the object is malformed. */
int temper__json_members(const char *p, const char *const *keys, int n, const char **val);
/* Load folder/vocab.json + folder/merges.txt + the config files. */
int temper__load_vocab_merges(temper_tokenizer *tok, const char *folder);
/* Read the special tokens named in folder's tokenizer_config.json and
 * special_tokens_map.json (bos/eos/unk/pad ids). */
int temper__load_special_names(temper_tokenizer *tok, const char *folder);
/* Merge table: add (left, right) -> merged at rank (later duplicates win,
 * as in HF). */
int temper__merges_init(temper_tokenizer *tok, int n_merges);
void temper__merges_put(temper_tokenizer *tok, temper_token left,
                        temper_token right, int32_t rank, temper_token merged);
/* Fill tok->byte_id from the byte-level alphabet (-1: a byte without a
 * token, an error only when a text needs it). */
int temper__bpe_prepare(temper_tokenizer *tok, const char *path);
/* Register an added token (id already in the vocabulary). */
int temper__added_push(temper_tokenizer *tok, temper_token id, bool special,
                       bool lstrip, bool rstrip, bool normalized);
/* Order added tokens for matching and fill the ASCII class table. */
int temper__finish_load(temper_tokenizer *tok);

/* ---- encoding ----------------------------------------------------------- */

/* Growable output of one encode call. */
typedef struct temper__ids {
    temper_token *ids; /* (cap) */
    int32_t *offs;     /* (cap, 2) byte ranges in the whole input */
    size_t n, cap;
} temper__ids;

int temper__ids_push(temper__ids *v, temper_token id, int32_t start, int32_t end);
void temper__ids_free(temper__ids *v);

/* Scratch memory of one encode call: word cache and BPE work arrays. */
typedef struct temper__enc temper__enc;
temper__enc *temper__enc_new(const temper_tokenizer *tok);
void temper__enc_free(temper__enc *e);

/* Character classes of the GPT-2 pattern. */
enum { TEMPER__CL_WS = 1, TEMPER__CL_L = 2, TEMPER__CL_N = 3, TEMPER__CL_O = 4 };
/* Class of code point c (utf8proc general category + White_Space). */
int temper__char_class(uint32_t c);
/* End of the GPT-2 regex match that starts at s[i] (i < n): the pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * applied leftmost-first as HF's ByteLevel pre-tokenizer does. s is valid
 * UTF-8. */
size_t temper__pretok_next(const temper_tokenizer *tok, const uint8_t *s,
                           size_t n, size_t i);

/* Encode the plain text segment text[a..b) (no added tokens inside) into
 * out; prefix_space: the segment starts the ByteLevel split (add_prefix_space
 * applies). Offsets are positions in text. */
int temper__encode_segment(temper__enc *e, const uint8_t *text, size_t a,
                           size_t b, bool prefix_space, temper__ids *out);

/* BPE of one word given as bytes w[0..n) (the byte-level characters are
 * implied): appends ids to ids_out (room for n) and returns their count. */
int temper__bpe_word(temper__enc *e, const uint8_t *w, size_t n,
                     temper_token *ids_out);

/* One piece of the added-token split: an added token (id >= 0) or plain
 * text (id = -1) covering text[start..end). */
typedef struct temper__piece {
    temper_token id;
    size_t start, end;
} temper__piece;

/* Split text[0..n) on the added tokens (both HF passes). *pieces is
 * malloc'd, owned by the caller. */
int temper__split_added(const temper_tokenizer *tok, const uint8_t *text,
                        size_t n, bool special_as_text, temper__piece **pieces,
                        size_t *n_pieces);

/* Apply the post-processor's offset trimming to out (in place). */
void temper__post_trim(const temper_tokenizer *tok, temper__ids *out);

/* ---- SentencePiece-style BPE (spm.c, spm_json.c, llama2c_tok.c) -------- */

struct cJSON;

/* The merge loop alone on symbols already set (n of them): applies the
 * merges of tok in rank order, ties leftmost (bpe.c). Returns the count. */
int temper__bpe_merge(temper__enc *e, temper_token *sym, int n);
/* 1 if a tokenizer.json is SentencePiece-style: model.byte_fallback, or a
 * Metaspace pre-tokenizer or decoder. */
bool temper__spm_is_json(const struct cJSON *root);
/* Read its normalizer, pre_tokenizer, decoder and the model's unk and
 * fuse_unk into tok->spm (TEMPER_EUNSUPPORTED naming any other component). */
int temper__spm_read_json(temper_tokenizer *tok, const char *path, const struct cJSON *root);
/* After the vocabulary, added tokens and merges are loaded: <0xHH> ids,
 * the unk id (the model's "unk_token" of root; root NULL: none), token
 * bytes as the decoder gives them, byte flags. */
int temper__spm_prepare(temper_tokenizer *tok, const char *path, const struct cJSON *root);
/* Encode the plain text segment text[a..b) (offsets are positions in text). */
int temper__spm_encode_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                               temper__ids *out);
int temper__spm_detokenize(const temper_tokenizer *tok, const temper_token *ids, int n,
                           int flags, char *buf, size_t cap);
int temper__spm_detokenize_stream(const temper_tokenizer *tok, temper_utf8_stream *s,
                                  temper_token id, char *buf, size_t cap);
/* temper_utf8_stream.state bits of SPM streams (spm_decode.c). */
#define TEMPER__STREAM_SPM 1u /* fed by an SPM tokenizer: the flush is spm's */
/* Flush of a stream fed by an SPM tokenizer (s->state says so). */
int temper__spm_stream_flush(temper_utf8_stream *s, char *buf, size_t cap);
/* llama2.c's tokenizer.bin (llama2c_tok.c). */
int temper__load_llama2c_tokenizer(temper_tokenizer *tok, const char *path);
/* tokenizer.bin or tok*.bin in folder when it has no tokenizer.json and no
 * vocab.json, else NULL. Owned by the caller. */
char *temper__llama2c_tokenizer_in(const char *folder);

/* ---- Split pre-tokenizer before ByteLevel (split.c) -------------------- */

typedef struct temper__split temper__split;
typedef struct temper__split_work temper__split_work; /* per-call scratch, in temper__enc */
/* Read a Split pre-tokenizer object pt into tok->split (TEMPER_EUNSUPPORTED
 * naming a behaviour or a pattern feature it cannot reproduce). */
int temper__split_read_json(temper_tokenizer *tok, const char *path, const struct cJSON *pt);
void temper__split_free(temper__split *sp);
void temper__split_work_free(temper__split_work *w);
/* 1 if temper_tokenize_parallel may cut a text at a U+0020 between two ASCII
 * letters (the pattern is Llama 3's). */
bool temper__split_cut_safe(const temper__split *sp);
/* The pieces of text[a..b) (positions in text, none empty): *pieces is
 * borrowed from e until the next call. */
int temper__split_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                          const temper__piece **pieces, size_t *n_pieces);

#endif
