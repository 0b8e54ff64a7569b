/*
 * temper.h - the one public header of temper, a small exact CPU engine for
 * GPT-2-family, OPT and Llama-family language models that shows every step
 * of text generation.
 *
 * Usage (error handling shortened):
 *
 *     temper_model *model;
 *     temper_model_params mp = temper_model_default_params();
 *     if (temper_model_load("gpt2", &mp, &model) < 0)
 *         fprintf(stderr, "%s\n", temper_last_error());
 *     const temper_tokenizer *tok = temper_model_tokenizer(model);
 *     temper_token ids[64];
 *     int n = temper_tokenize(tok, "Hello", 5, 0, ids, NULL, 64);
 *     temper_context *ctx;
 *     temper_context_params cp = temper_context_default_params();
 *     temper_context_init(model, &cp, &ctx);
 *     float *logits = malloc(sizeof(float) * temper_model_n_vocab(model));
 *     temper_eval(ctx, 0, ids, n, logits, 0);     // logits of the last position
 *     ...
 *     temper_context_free(ctx);
 *     temper_model_free(model);
 *
 * Conventions
 *   - Every function that can fail returns an int: 0 (or a count) on success,
 *     a negative TEMPER_E* code on failure. The one-line explanation of the
 *     last failure on the calling thread is temper_last_error(). The library
 *     never exits or aborts on user input.
 *   - Functions that fill a caller buffer return the size they need (like
 *     snprintf): if the result is larger than the capacity, the buffer holds
 *     only a prefix and the call should be repeated with a larger buffer.
 *   - Ownership is written on every function that hands out or takes a
 *     pointer. "Borrowed" means: valid while the named owner lives.
 *   - Thread safety: a temper_model and its tokenizer are read-only after
 *     load and may be shared by threads. A temper_context (and the
 *     temper_gen requests in it) belongs to one thread at a time; contexts
 *     may share a temper_threadpool; temper_gen_cancel() may be called
 *     from any thread.
 *   - Shapes are written (rows, cols) row-major. Legend: T = tokens,
 *     V = vocabulary size, C = embedding size, L = layers, H = heads.
 *
 * ABI rule: until 1.0 the ABI may change between minor versions. Enums are
 * append-only.
 */
#ifndef TEMPER_H
#define TEMPER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TEMPER_VERSION_MAJOR 0
#define TEMPER_VERSION_MINOR 1
#define TEMPER_VERSION_PATCH 0

#if defined(__GNUC__)
#define TEMPER_API __attribute__((visibility("default")))
#else
#define TEMPER_API
#endif

/* "MAJOR.MINOR.PATCH" of the macros above, e.g. "0.1.0": static string. */
TEMPER_API const char *temper_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* X(name, value, description). Append only. */
#define TEMPER_ERRNO_MAP(X)                                                   \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EIO, -3, "input/output error")                                          \
    X(ENOENT, -4, "file or model not found")                                  \
    X(EFORMAT, -5, "malformed or corrupt file")                               \
    X(EUNSUPPORTED, -6, "unsupported model, file or feature")                 \
    X(ERANGE, -7, "value out of range")                                       \
    X(EUTF8, -8, "invalid UTF-8")                                             \
    X(ECONTEXT, -9, "context window exceeded")                                \
    X(ESTATE, -10, "call not valid in the current state")                     \
    X(ECANCELED, -11, "canceled")

enum temper_status {
    TEMPER_OK = 0,
#define TEMPER__ERR_ENUM(name, value, desc) TEMPER_##name = value,
    TEMPER_ERRNO_MAP(TEMPER__ERR_ENUM)
#undef TEMPER__ERR_ENUM
};

/* Static description of an error code ("file or model not found"). */
TEMPER_API const char *temper_strerror(int err);
/* Static name of an error code ("TEMPER_ENOENT"). */
TEMPER_API const char *temper_err_name(int err);
/* Detailed message of the last failure on this thread: says what is wrong
 * and what to do. Borrowed: valid until the next failing call on this
 * thread. Never NULL. */
TEMPER_API const char *temper_last_error(void);

/* ------------------------------------------------------------------------ */
/* Tokenizer                                                                 */
/* ------------------------------------------------------------------------ */

typedef int32_t temper_token;
typedef struct temper_tokenizer temper_tokenizer;

/* Load a tokenizer from a model folder (tokenizer.json, else vocab.json +
 * merges.txt [+ tokenizer_config.json, special_tokens_map.json]) or from a
 * tokenizer.json path. Supported: the BPE model (byte-level, as GPT-2 and
 * OPT use), the ByteLevel pre-tokenizer and decoder, added tokens, and the
 * ByteLevel / TemplateProcessing / RobertaProcessing / Sequence
 * post-processors; SentencePiece-style BPE with byte fallback (Llama 2,
 * TinyLlama, Mistral: Prepend/Replace normalizer or Metaspace, decoder
 * Replace + ByteFallback + Fuse + Strip or Metaspace); llama2.c's
 * tokenizer.bin (a .bin path, or a folder holding tokenizer.bin or
 * tok*.bin), encoded as its run.c does. Any other component is refused with
 * TEMPER_EUNSUPPORTED and a message naming it (never approximated). On
 * success *out is owned by the caller: free it with temper_tokenizer_free(). */
TEMPER_API int temper_tokenizer_load(const char *path, temper_tokenizer **out);
TEMPER_API void temper_tokenizer_free(temper_tokenizer *tok);

enum temper_tokenize_flags {
    /* Add BOS/EOS where the tokenizer's post-processor says so (OPT: "</s>"
     * first; GPT-2: nothing). */
    TEMPER_TOKENIZE_ADD_SPECIAL = 1 << 0,
    /* Treat the text of special tokens ("<|endoftext|>") as plain text
     * instead of splitting them out as single ids. */
    TEMPER_TOKENIZE_SPECIAL_AS_TEXT = 1 << 1,
};

/* Encode len bytes of UTF-8 text, as Hugging Face tokenizers'
 * tokenizer.encode(text, add_special_tokens=flags & ADD_SPECIAL) does.
 * Writes at most cap ids to ids and, when offsets is not NULL, the byte range
 * [start, end) of each id in the input to offsets (shape (cap, 2)); like HF,
 * a token holding part of a multi-byte character spans the whole character,
 * and ids added by the post-processor get (0, 0). Returns the number of ids
 * the text needs (more than cap: call again with a larger buffer) or a
 * negative error: TEMPER_EUTF8 when text is not valid UTF-8 (HF cannot take
 * such input at all; the message gives the byte offset). Thread-safe: any
 * number of threads may encode with one tokenizer at once. */
TEMPER_API int temper_tokenize(const temper_tokenizer *tok, const char *text,
                               size_t len, int flags, temper_token *ids,
                               int32_t *offsets, int cap);

/* temper_tokenize into arrays it allocates: *ids (and *offsets, shape (n, 2),
 * when offsets is not NULL) are owned by the caller: free them with
 * temper_free(). Returns the count n or a negative error (*ids NULL). */
TEMPER_API int temper_tokenize_alloc(const temper_tokenizer *tok, const char *text,
                                     size_t len, int flags, temper_token **ids,
                                     int32_t **offsets);

/* Free memory the library allocated for the caller (temper_tokenize_alloc). */
TEMPER_API void temper_free(void *p);

/* Same result as temper_tokenize, computed by n_threads threads (0: all
 * cores) on long texts: the text is cut where tokenization cannot change
 * (between an ASCII letter and " " + ASCII letter, never inside an added
 * token), the pieces are encoded at once and joined. */
TEMPER_API int temper_tokenize_parallel(const temper_tokenizer *tok,
                                        const char *text, size_t len,
                                        int flags, temper_token *ids,
                                        int32_t *offsets, int cap,
                                        int n_threads);

/* Facts about a loaded tokenizer. Strings are borrowed from tok. */
typedef struct temper_tokenizer_info {
    const char *model;      /* "BPE" */
    const char *source;     /* "tokenizer.json" or "vocab.json+merges.txt" */
    int n_vocab;            /* including added tokens */
    int n_added;            /* added tokens (special or not) */
    /* Named special tokens from tokenizer_config.json /
     * special_tokens_map.json (GPT-2's defaults: <|endoftext|>); -1: none. */
    temper_token bos_id, eos_id, unk_id, pad_id;
    /* What TEMPER_TOKENIZE_ADD_SPECIAL adds around the text (OPT: prefix
     * {2}; GPT-2: nothing). */
    int n_prefix, n_suffix;
    temper_token prefix[4], suffix[4];
    int add_prefix_space;   /* the pre-tokenizer adds " " before the text */
} temper_tokenizer_info;

TEMPER_API void temper_tokenizer_get_info(const temper_tokenizer *tok,
                                          temper_tokenizer_info *out);

enum temper_detokenize_flags {
    /* Leave out special tokens (<|endoftext|>, </s>, ...) from the text. */
    TEMPER_DETOKENIZE_SKIP_SPECIAL = 1 << 0,
};

/* Decode ids to UTF-8 text, as HF tokenizer.decode(ids,
 * skip_special_tokens=flags & SKIP_SPECIAL) does (no clean-up of
 * tokenization spaces). Writes at most cap bytes (the result is
 * NUL-terminated only when room remains). Returns the number of bytes of
 * text (without NUL), or a negative error (TEMPER_EINVAL for an id outside
 * the vocabulary). Byte sequences that are not valid UTF-8 in the result
 * are replaced by U+FFFD, one per maximal invalid subpart, as Hugging
 * Face's decoder (Rust String::from_utf8_lossy) does; SentencePiece-style
 * tokenizers: one per <0xHH> token of a run of them that is not valid
 * UTF-8, as HF's ByteFallback decoder does. */
TEMPER_API int temper_detokenize(const temper_tokenizer *tok,
                                 const temper_token *ids, int n, int flags,
                                 char *buf, size_t cap);

/* The raw bytes a token stands for (may be a partial UTF-8 sequence).
 * Returns the byte count (see the buffer rule) or a negative error. */
TEMPER_API int temper_token_bytes(const temper_tokenizer *tok, temper_token id,
                                  char *buf, size_t cap);

/* The token's string as stored in the vocabulary ("Ġhello"), as
 * tokenizer.tokenize() shows it. Borrowed from tok; NULL for a bad id. */
TEMPER_API const char *temper_token_text(const temper_tokenizer *tok,
                                         temper_token id);

/* Vocabulary size including added tokens. */
TEMPER_API int temper_tokenizer_n_vocab(const temper_tokenizer *tok);
/* Id of a token string ("<|endoftext|>"), or TEMPER_ENOENT. */
TEMPER_API int temper_tokenizer_find(const temper_tokenizer *tok,
                                     const char *text);
/* 1 if id is a special (added, special=true) token, else 0. */
TEMPER_API int temper_token_is_special(const temper_tokenizer *tok,
                                       temper_token id);

/* Decode one UTF-8 character of s (n > 0 bytes): returns the bytes used
 * (>= 1) and sets *cp; an invalid sequence (overlong, surrogate,
 * > U+10FFFF, truncated) uses its maximal invalid prefix (as Python's
 * decode(errors="replace") does) and sets *cp = -1. */
TEMPER_API int temper_utf8_next(const char *s, size_t n, int32_t *cp);

/* Streaming decoder: feed ids one by one, get text only once its UTF-8 is
 * complete. Caller-allocated; zero-initialise it (or call
 * temper_utf8_stream_reset) before the first use. */
typedef struct temper_utf8_stream {
    unsigned char pending[8]; /* bytes of an incomplete UTF-8 sequence */
    int n_pending;
    unsigned state;           /* decoder state bits (SentencePiece-style tokenizers) */
} temper_utf8_stream;

TEMPER_API void temper_utf8_stream_reset(temper_utf8_stream *s);
/* Append token id; writes the newly completed text. Buffer rule, except
 * that when the text does not fit nothing is consumed (s is unchanged):
 * call again with the returned size. 16 + 3 x the longest token's bytes is
 * always enough. Concatenating every output and the final flush gives
 * exactly temper_detokenize() of the same ids (one exception with
 * SentencePiece-style tokenizers: a run of <0xHH> tokens holding a whole
 * character and then an invalid byte, which temper_detokenize turns into
 * U+FFFD as a whole, while the stream has already written the character).
 * Returns the byte count. */
TEMPER_API int temper_detokenize_stream(const temper_tokenizer *tok,
                                        temper_utf8_stream *s,
                                        temper_token id, char *buf,
                                        size_t cap);
/* Flush what remains (an incomplete tail becomes U+FFFD). */
TEMPER_API int temper_utf8_stream_flush(temper_utf8_stream *s, char *buf,
                                        size_t cap);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct temper_model temper_model;

struct temper_pull_progress; /* see the Hub section */

typedef struct temper_model_params {
    /* Tokenizer folder or file; NULL: the model folder. */
    const char *tokenizer_path;
    /* Never use the network: a Hub id missing from the local cache is an
     * error instead of a download (HF_HUB_OFFLINE=1 does the same). */
    int offline;
    /* NULL: keep the weights in the precision of the file (f32, f16, bf16).
     * "q8": quantize the weight matrices at load time to 8 bits in blocks
     * of 32 with one f16 scale each (llama.cpp's q8_0): about a quarter of
     * the f32 memory traffic, at a small accuracy cost (docs/performance.md).
     * Norms, biases and position embeddings stay in the file's precision;
     * a token embedding table tied to the output head is read from its q8
     * copy. */
    const char *quantize;
    /* A Hub id missing from the cache is downloaded (unless offline) with
     * its progress reported here, as temper_pull reports it (may be NULL);
     * a non-zero return cancels the load (TEMPER_ECANCELED). */
    int (*progress)(const struct temper_pull_progress *p, void *user);
    void *progress_user;      /* passed to progress */
} temper_model_params;

TEMPER_API temper_model_params temper_model_default_params(void);

/* Load a model from a folder (config.json + model.safetensors or sharded
 * model.safetensors.index.json + tokenizer files) or from a Hub id ("gpt2",
 * "openai-community/gpt2"), looked up in the local Hugging Face cache
 * ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) and
 * downloaded into it when missing (unless params->offline), or a llama2.c
 * checkpoint (.bin file, or a folder holding one with its tokenizer.bin).
 * Weights are memory-mapped, not copied. On success *out is owned by the
 * caller: free it with temper_model_free(). */
TEMPER_API int temper_model_load(const char *path_or_id,
                                 const temper_model_params *params,
                                 temper_model **out);
TEMPER_API void temper_model_free(temper_model *model);

/* The SIMD level the kernels run at: *level (may be NULL) gets "avx512",
 * "avx2", "neon" or "portable" (static storage). By default the highest
 * level this CPU supports; the environment variable TEMPER_SIMD names one
 * (TEMPER_NO_SIMD=1 means "portable"). Returns 0, or TEMPER_EINVAL with a
 * message when TEMPER_SIMD names an unknown level or one this CPU lacks:
 * the kernels then run at the default level (*level names it), and
 * temper_model_load() and temper_sampler_init() (what runs kernels
 * without a model) fail with the same error. */
TEMPER_API int temper_simd_level(const char **level);

/* Borrowed from model. */
TEMPER_API const temper_tokenizer *temper_model_tokenizer(
    const temper_model *model);

typedef struct temper_model_info {
    const char *arch;       /* "gpt2"; borrowed from the model */
    const char *path;       /* resolved folder; borrowed from the model */
    const char *dtype;      /* weight precision: the file's ("f32", "f16", "bf16") or "q8" */
    int n_layer, n_head, n_kv_head, n_embd, n_ff, n_ctx, n_vocab;
    int64_t n_params;       /* parameters, tied matrices counted once */
    uint64_t file_bytes;    /* total size of the weight files */
    uint64_t matrix_bytes;  /* bytes of weight matrices one decode step reads */
    double load_seconds;    /* wall time of temper_model_load */
    temper_token bos_id, eos_id; /* -1 when the model has none */
    const char *settings;   /* the architecture's own settings ("window_size 256;
                             * ..."), "" when none; borrowed from the model */
} temper_model_info;

TEMPER_API void temper_model_get_info(const temper_model *model,
                                      temper_model_info *out);
TEMPER_API int temper_model_n_vocab(const temper_model *model);
TEMPER_API int temper_model_n_ctx(const temper_model *model);
/* Every EOS id of the model: generation_config.json's eos_token_id (an id
 * or a list: Llama 3 has two), else config.json's. *ids (may be NULL) is
 * borrowed from model. Returns the count (0: none). */
TEMPER_API int temper_model_eos_ids(const temper_model *model,
                                    const temper_token **ids);

/* Text of the folder's generation_config.json (decoding defaults), or NULL
 * when there is none. Borrowed from model. */
TEMPER_API const char *temper_model_generation_config(const temper_model *model);

/* ------------------------------------------------------------------------ */
/* Context: KV cache for one or more sequences, and the forward pass          */
/* ------------------------------------------------------------------------ */

typedef struct temper_context temper_context;

/* Compute threads that contexts may share, so that a process runs no more
 * threads than it asks for however many contexts it has: contexts of one
 * pool take turns, one evaluation at a time (any thread may evaluate; a
 * context still belongs to one thread at a time). On success *out is
 * owned by the caller: free it with temper_threadpool_free() after every
 * context that uses it. */
typedef struct temper_threadpool temper_threadpool;
TEMPER_API int temper_threadpool_new(int n_threads, temper_threadpool **out);
TEMPER_API void temper_threadpool_free(temper_threadpool *pool);
TEMPER_API int temper_threadpool_n_threads(const temper_threadpool *pool);

typedef struct temper_context_params {
    int n_ctx;     /* positions per sequence; 0: the model's context window */
    int n_seq;     /* sequence slots (batched decoding, beams); default 1 */
    int n_threads; /* 0: all cores; ignored with a pool */
    temper_threadpool *pool; /* NULL: the context has its own n_threads;
                                else borrowed, must outlive the context */
} temper_context_params;

TEMPER_API temper_context_params temper_context_default_params(void);

/* The context borrows model, which must outlive it. On success *out is
 * owned by the caller: free it with temper_context_free(). */
TEMPER_API int temper_context_init(temper_model *model,
                                   const temper_context_params *params,
                                   temper_context **out);
TEMPER_API void temper_context_free(temper_context *ctx);

enum temper_eval_flags {
    /* Write the logits of every evaluated position, shape (n, V), instead
     * of the last one only, shape (1, V). */
    TEMPER_EVAL_ALL_LOGITS = 1 << 0,
};

/* Run n tokens of sequence slot seq through the model, appending them to
 * its KV cache (positions seq_len .. seq_len+n-1). logits may be NULL.
 * Returns 0 or a negative error (TEMPER_ECONTEXT when the sequence would
 * exceed n_ctx; nothing is appended then). */
TEMPER_API int temper_eval(temper_context *ctx, int seq,
                           const temper_token *tokens, int n, float *logits,
                           int flags);

/* One decoding step for several sequences at once: token[i] is appended
 * to slot seqs[i]; logits gets shape (n_seqs, V). Each weight is read once
 * for the whole batch. */
TEMPER_API int temper_eval_batch(temper_context *ctx, const int *seqs,
                                 const temper_token *tokens, int n_seqs,
                                 float *logits);

/* temper_eval that also shows what happens inside (either buffer may be
 * NULL; both are caller-owned):
 *   attn   (L, H, n, K) with K = temper_seq_len(ctx, seq) + n: for each new
 *          position, the attention probabilities over every key position
 *          (0 where the causal mask forbids), as transformers'
 *          output_attentions gives them;
 *   hidden (L + 1, n, C): the embeddings (index 0), the residual stream after
 *          each block, and at index L the output of the final norm, as
 *          transformers' output_hidden_states gives them. */
TEMPER_API int temper_eval_capture(temper_context *ctx, int seq,
                                   const temper_token *tokens, int n,
                                   float *logits, int flags, float *attn,
                                   float *hidden);

/* temper_eval_capture with the attention of some layers only (every layer
 * of a long text takes L H n K floats: 68 GB for 4,096 tokens of a 32 x 32
 * Llama): layers (n_layers) are distinct layer indices in increasing
 * order, and attn has shape (n_layers, H, n, K), entry i for layer
 * layers[i]. n_layers = -1 means every layer (layers is ignored). */
TEMPER_API int temper_eval_capture_layers(temper_context *ctx, int seq,
                                          const temper_token *tokens, int n,
                                          float *logits, int flags,
                                          const int *layers, int n_layers,
                                          float *attn, float *hidden);

/* Number of positions held by slot seq. */
TEMPER_API int temper_seq_len(const temper_context *ctx, int seq);
/* Drop every position >= n_keep of slot seq. */
TEMPER_API int temper_seq_truncate(temper_context *ctx, int seq, int n_keep);
/* Make slot dst a copy of slot src (its first n positions; -1: all). */
TEMPER_API int temper_seq_copy(temper_context *ctx, int dst, int src, int n);

TEMPER_API int temper_context_n_threads(const temper_context *ctx);

/* Called between the layers of every evaluation of ctx (temper_eval,
 * temper_eval_batch, temper_eval_capture* and everything built on them),
 * on the thread that evaluates: a non-zero return stops the evaluation,
 * which appends nothing to the slots and returns TEMPER_ECANCELED. NULL
 * removes the hook. */
typedef int (*temper_abort_callback)(void *user);
TEMPER_API void temper_context_set_abort(temper_context *ctx,
                                         temper_abort_callback fn, void *user);

/* ------------------------------------------------------------------------ */
/* Decoding: logits processors, samplers, random streams                     */
/* ------------------------------------------------------------------------ */
/*
 * A temper_sampler turns one row of next-token logits (shape (V)) into the
 * distribution a token is drawn from, with the controls and the semantics of
 * Hugging Face transformers (generation/logits_process.py):
 *
 *   scores = logits                                     (fp32, shape (V))
 *   for each active stage, in order: scores = stage(scores, history)
 *   greedy:   token = argmax(scores), ties -> lowest id (torch.argmax)
 *   sampling: token ~ softmax(scores)
 *
 * Stages ("-inf" removes a token; "p" is softmax of the current scores):
 *   logit_bias          scores[id] += bias for each (id, bias); -inf bans
 *   repetition_penalty  each distinct token of the history (prompt included):
 *                       s < 0 ? s * r : s / r
 *   presence_frequency  OpenAI: s -= c * frequency + (c > 0) * presence,
 *                       c = count of the token among the generated tokens
 *   no_repeat_ngram     ban every token that would repeat an n-gram of the
 *                       history (prompt included)
 *   min_new_tokens      ban the EOS ids while fewer than min_new_tokens
 *                       tokens have been generated
 *   suppress            ban the listed ids
 *   temperature         s / T                         (sampling only)
 *   top_k               remove s < k-th largest s: ties with the k-th
 *                       value are kept
 *   top_p               keep a token iff the mass of the strictly more
 *                       likely tokens is < p: the token that crosses p is
 *                       kept; p = 0 keeps the top token
 *   min_p               remove p < min_p * max(p)
 *   typical_p           HF's locally typical sampling (Meister et al.)
 *   epsilon_cutoff      remove p < epsilon
 *   eta_cutoff          remove p < min(eta, sqrt(eta) * exp(-entropy))
 * Every filter keeps at least min_keep tokens (the best ones, ties kept).
 * The stages after "suppress" are warpers: like transformers they run only
 * when sampling, so greedy decoding takes the argmax of the processed
 * scores. A temperature of 0 means greedy.
 *
 * Orders: TEMPER_ORDER_HF is the list above (transformers'
 * _get_logits_processor; presence_frequency, absent from transformers,
 * sits after repetition_penalty as in vLLM). TEMPER_ORDER_LLAMA_CPP runs
 * the warpers in llama.cpp's default chain order, temperature last:
 * top_k, typical_p, top_p, min_p, epsilon_cutoff, eta_cutoff, temperature.
 * An explicit order is a comma-separated list of stage names in
 * params.samplers (names above; aliases: temp, k, p, typical, typ_p,
 * epsilon, eta, penalties, bias); active stages that are not listed are
 * an error, except the processors before "temperature" in the list
 * above, which then run first in HF order.
 *
 * Random numbers: xoshiro256** (Blackman & Vigna, 2018). The state of
 * stream j of seed s is four successive outputs of splitmix64 started at
 * splitmix64_mix(s + j * 0x9E3779B97F4A7C15). A draw u in [0, 1) is the
 * top 53 bits of one output times 2^-53. Sampling walks the surviving
 * tokens in increasing id order and returns the first one whose running
 * sum of exp(s - max s) exceeds u * (the total), so the same seed and
 * stream give the same token on every machine and thread count.
 */

typedef struct temper_rng {
    uint64_t s[4]; /* xoshiro256** state */
} temper_rng;

/* Seed stream `stream` (e.g. the index of a returned sequence) of seed. */
TEMPER_API void temper_rng_seed(temper_rng *rng, uint64_t seed,
                                uint64_t stream);
TEMPER_API uint64_t temper_rng_next(temper_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
TEMPER_API double temper_rng_uniform(temper_rng *rng);

typedef struct temper_logit_bias {
    temper_token id;
    float bias; /* added to the logit; -INFINITY bans the token */
} temper_logit_bias;

enum temper_sampler_order {
    TEMPER_ORDER_HF = 0,        /* transformers' order (default) */
    TEMPER_ORDER_LLAMA_CPP = 1, /* llama.cpp's chain: temperature last */
};

typedef struct temper_sampling_params {
    int do_sample;            /* 0: greedy (default, as transformers) */
    float temperature;        /* 1.0; 0: greedy; must be >= 0 */
    int top_k;                /* 50 (transformers' default); 0: off */
    float top_p;              /* 1.0: off; in [0, 1] */
    float min_p;              /* 0: off; in [0, 1] */
    float typical_p;          /* 1.0: off; in (0, 1] */
    float epsilon_cutoff;     /* 0: off; in [0, 1) */
    float eta_cutoff;         /* 0: off; in [0, 1) */
    int min_keep;             /* min_tokens_to_keep of the filters; >= 1 */
    float repetition_penalty; /* 1.0: off; > 0 */
    float presence_penalty;   /* 0: off; in [-2, 2] */
    float frequency_penalty;  /* 0: off; in [-2, 2] */
    int no_repeat_ngram_size; /* 0: off */
    int min_new_tokens;       /* 0: off; bans eos_ids before that many */
    const temper_token *eos_ids; /* (n_eos) borrowed until sampler_init returns */
    int n_eos;
    const temper_token *suppress_tokens; /* (n_suppress) borrowed, as eos_ids */
    int n_suppress;
    const temper_logit_bias *logit_bias; /* (n_logit_bias) borrowed, as eos_ids */
    int n_logit_bias;
    int order;                /* enum temper_sampler_order */
    const char *samplers;     /* explicit order ("top_k,temperature"); NULL:
                                 use `order`. Borrowed, as eos_ids */
} temper_sampling_params;

TEMPER_API temper_sampling_params temper_sampling_default_params(void);

/* Check every value (not the ids, which need the vocabulary size).
 * Returns 0 or TEMPER_EINVAL with a message naming the parameter. */
TEMPER_API int temper_sampling_params_check(const temper_sampling_params *p);

typedef struct temper_sampler temper_sampler;

/* Build a sampler for a vocabulary of n_vocab tokens: validates p (ids
 * included) and copies everything it needs. On success *out is owned by
 * the caller: free it with temper_sampler_free(). A sampler holds the
 * state of one step and belongs to one thread at a time; use one sampler
 * per concurrent sequence, or apply and query them one after another. */
TEMPER_API int temper_sampler_init(const temper_sampling_params *p,
                                   int n_vocab, temper_sampler **out);
TEMPER_API void temper_sampler_free(temper_sampler *s);

/* 1 if the sampler picks the argmax (do_sample 0 or temperature 0). */
TEMPER_API int temper_sampler_is_greedy(const temper_sampler *s);

/* The stages that will run, in order, as "repetition_penalty,temperature,
 * top_k" (buffer rule). Inactive stages are left out; "" when none. */
TEMPER_API int temper_sampler_describe(const temper_sampler *s, char *buf,
                                       size_t cap);

/* Run the stages over one row. logits: (V), borrowed until the next apply
 * on s and not modified; it may hold -INFINITY (banned tokens) but not NaN
 * or +INFINITY. history: (n_history) the prompt then the generated tokens;
 * its first n_prompt ids are the prompt. Returns 0 or a negative error
 * (TEMPER_EINVAL when the row is invalid or every token is removed). */
TEMPER_API int temper_sampler_apply(temper_sampler *s, const float *logits,
                                    const temper_token *history,
                                    int n_history, int n_prompt);

/* Pick a token from the last applied row: the argmax when greedy (rng may
 * be NULL), else a draw from softmax of the processed scores with rng. */
TEMPER_API int temper_sampler_sample(temper_sampler *s, temper_rng *rng,
                                     temper_token *out);

enum temper_logprob_kind {
    TEMPER_LOGPROB_RAW = 0,       /* log_softmax of the logits given to apply */
    TEMPER_LOGPROB_PROCESSED = 1, /* log_softmax of the processed scores: the
                                     distribution the token is drawn from */
};

/* Log-probability of id in the last applied row; -INFINITY when the token
 * is removed. Returns NAN for a bad id or before the first apply. */
TEMPER_API float temper_sampler_logprob(temper_sampler *s, temper_token id,
                                        int kind);

/* Write the processed scores of the last applied row to out (V): what
 * transformers' output_scores holds, -INFINITY for removed tokens. */
TEMPER_API int temper_sampler_scores(temper_sampler *s, float *out);

/* The k most likely tokens of the last applied row under kind, most
 * likely first, ties -> lowest id; removed tokens are not listed for
 * TEMPER_LOGPROB_PROCESSED. ids (k) and logprobs (k, may be NULL) are
 * filled; returns the count written (<= k) or a negative error. */
TEMPER_API int temper_sampler_top(temper_sampler *s, int kind, int k,
                                  temper_token *ids, float *logprobs);

/* Number of tokens left after the stages (finite processed scores). */
TEMPER_API int temper_sampler_n_kept(temper_sampler *s);

/* ---- The next-token table ---------------------------------------------- */

typedef struct temper_candidate {
    temper_token id;
    float logit;
    double logprob;           /* log_softmax of the logits, in double */
    double logprob_processed; /* log_softmax of the sampler's processed scores
                                 (-INFINITY: removed); NAN without a sampler */
} temper_candidate;

typedef struct temper_next_token_info {
    int n_vocab;
    double entropy;           /* of softmax(logits), nats */
    double entropy_processed; /* of the processed distribution; NAN without a sampler */
    int n_kept;               /* tokens the stages keep (n_vocab without a sampler) */
} temper_next_token_info;

/* The n tokens of largest logit of one row (n_vocab logits), ties -> lowest
 * id, with log-probabilities computed in double over the whole vocabulary
 * (shifted by the largest logit), as seed 004's get_next_token_probs and
 * `temper probs` show them. s (may be NULL): a sampler whose last
 * temper_sampler_apply() was on this row; it gives the processed
 * log-probabilities and entropy. out (n entries) is caller-owned; info may
 * be NULL. Returns the count written (min(n, n_vocab)) or a negative
 * error. */
TEMPER_API int temper_next_token_table(const float *logits, int n_vocab,
                                       temper_sampler *s, int n,
                                       temper_candidate *out,
                                       temper_next_token_info *info);

/* The columns of `temper softmax` for a row of n named logits at one
 * temperature, computed by the sampler (the code of generation): scaled
 * (logits / T; NAN at T = 0), prob (their softmax; at T = 0 the limit, the
 * mass split among the largest logits), prob_processed (after every stage
 * of `stages`, sampling at T: its temperature and do_sample are replaced;
 * a greedy chain puts it all on its argmax), and n_samples draws from the
 * processed distribution with stream 0 of seed (samples, may be NULL when
 * n_samples is 0). described (cap bytes, may be NULL) gets the stage list
 * (temper_sampler_describe). Every array is the caller's, (n) each.
 * Returns 0 or a negative error (TEMPER_EINVAL: a bad stage value). */
TEMPER_API int temper_softmax_table(const float *logits, int n,
                                    const temper_sampling_params *stages,
                                    double temperature, uint64_t seed,
                                    long n_samples, double *scaled, double *prob,
                                    double *prob_processed, temper_token *samples,
                                    char *described, size_t cap);

/* ---- Generation ---------------------------------------------------------- */
/*
 * temper_generate() continues a prompt with the sampler above:
 *   greedy or sampling: num_return_sequences sequences decoded as one batch
 *     (the prompt is evaluated once, its KV cache copied to every slot);
 *     sequence i draws from stream (first_stream + i) of seed, so its text
 *     does not depend on how many sequences are decoded with it;
 *   beam search (num_beams > 1): transformers' vectorised beam search. Each
 *     step applies the processors (not the warpers) to log_softmax(logits),
 *     adds each beam's running score, keeps the best 2 * num_beams
 *     candidates (more with several EOS ids); a candidate among the best
 *     num_beams that ends (EOS, length, stop string) becomes a hypothesis
 *     scored sum(processed log-probs) / generated_length ^ length_penalty,
 *     the EOS counted. early_stopping: TRUE stops once num_beams hypotheses
 *     exist; FALSE once the best running beam, at its current length,
 *     cannot beat the worst hypothesis; NEVER with length_penalty > 0 uses
 *     the longest possible length instead. The best num_return_sequences
 *     hypotheses are returned, best first.
 * Generation stops at an EOS id, a stop string (matched on the decoded text
 * of the generated tokens, special tokens left out; the tokens of the match
 * stay in the output), max_new_tokens, or the end of the context window.
 */

enum temper_early_stopping {
    TEMPER_EARLY_STOPPING_FALSE = 0, /* transformers' default heuristic */
    TEMPER_EARLY_STOPPING_TRUE = 1,
    TEMPER_EARLY_STOPPING_NEVER = 2,
};

enum temper_finish_reason {
    TEMPER_FINISH_NONE = 0,
    TEMPER_FINISH_EOS = 1,     /* an EOS id was produced (it is the last id) */
    TEMPER_FINISH_LENGTH = 2,  /* max_new_tokens reached */
    TEMPER_FINISH_STOP = 3,    /* a stop string appeared */
    TEMPER_FINISH_CONTEXT = 4, /* the context window is full */
    TEMPER_FINISH_CANCELED = 5, /* the token callback or temper_gen_cancel() */
};

/* One token with its log-probabilities: raw (log_softmax of the model's
 * logits) and processed (the distribution it was drawn from; under beam
 * search: the processors' output on log_softmax, as transformers' scores). */
typedef struct temper_token_prob {
    temper_token id;
    float logprob;
    float logprob_processed; /* -INFINITY when the stages removed it */
} temper_token_prob;

/* What the token callback sees of one new token. Every pointer is borrowed
 * for the duration of the callback. */
typedef struct temper_token_event {
    int seq;                        /* the sequence's context slot (temper_generate:
                                       sequence i is in slot i) */
    int index;                      /* 0-based position among the generated tokens */
    temper_token id;
    const temper_token_prob *prob;  /* the token: raw and processed log-probs */
    const temper_token_prob *top;   /* (n_top) best alternatives by raw log-prob */
    int n_top;
    const char *piece;              /* the newly completed text (special tokens
                                       left out; at the end, what remains of
                                       an incomplete UTF-8 tail): the pieces of a
                                       sequence join into its decoded text, as
                                       temper_detokenize_stream gives it */
    size_t piece_len;
    int finish_reason;              /* enum temper_finish_reason: not NONE when
                                       this token ends the sequence */
} temper_token_event;

/* Called for every new token of every sequence as it is produced (not
 * under beam search, whose sequences are only known at the end). Return 0
 * to go on, non-zero to cancel this sequence: it ends with
 * TEMPER_FINISH_CANCELED after this token, which stays in its output, and
 * is not evaluated further. */
typedef int (*temper_token_callback)(const temper_token_event *e, void *user);

typedef struct temper_generate_params {
    temper_sampling_params sampling; /* the chain; eos_ids are filled in */
    int max_new_tokens;       /* 20; >= 0 */
    int num_return_sequences; /* 1; > 1 needs sampling or beams */
    int num_beams;            /* 1: no beam search */
    float length_penalty;     /* 1.0 (beam search) */
    int early_stopping;       /* enum temper_early_stopping (beam search) */
    uint64_t seed;            /* 0 */
    int first_stream;         /* sequence i uses stream first_stream + i */
    const temper_token *eos_ids; /* (n_eos) NULL: the model's EOS; borrowed for the call */
    int n_eos;
    int ignore_eos;           /* do not stop at EOS */
    const char *const *stop;  /* (n_stop) stop strings; borrowed for the call */
    int n_stop;
    int n_top;                /* alternatives recorded per token (by raw log-prob) */
    temper_token_callback on_token; /* may be NULL */
    void *user;
} temper_generate_params;

TEMPER_API temper_generate_params temper_generate_default_params(void);

/* temper_generate_default_params() with the model's generation_config.json
 * applied, as transformers' GenerationConfig does: do_sample, temperature,
 * top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff,
 * repetition_penalty, no_repeat_ngram_size, min_new_tokens, num_beams,
 * num_return_sequences, length_penalty, max_new_tokens, early_stopping,
 * suppress_tokens, and every EOS id (eos_ids, n_eos). The arrays are
 * borrowed from model. keys (cap bytes, may be NULL) gets the keys taken
 * from the file, comma-separated (buffer rule). Returns 0 or
 * TEMPER_EFORMAT when the file holds a value of the wrong type (*out then
 * has the keys before it). */
TEMPER_API int temper_model_generate_defaults(const temper_model *model,
                                              temper_generate_params *out,
                                              char *keys, size_t cap);

typedef struct temper_sequence {
    temper_token *ids;        /* (n_ids) generated ids */
    int n_ids;
    temper_token_prob *probs; /* (n_ids) the chosen tokens */
    temper_token_prob *top;   /* (n_ids, n_top) best alternatives, raw order */
    int finish_reason;        /* enum temper_finish_reason */
    double sum_logprob;       /* sum of probs[i].logprob_processed */
    double score;             /* beam search: the hypothesis score; else NAN */
} temper_sequence;

typedef struct temper_generation {
    temper_sequence *seqs;    /* (n_seqs), best first under beam search */
    int n_seqs;
    int n_top;
    int n_prompt;
    int n_steps;              /* decoding steps run */
    int64_t n_forward;        /* tokens run through the model, prompt included */
    double prompt_seconds;    /* prompt evaluation, wall time */
    double decode_seconds;    /* everything after it */
} temper_generation;

/* Continue prompt (n_prompt >= 1 ids) in ctx, which needs max(
 * num_return_sequences, num_beams) sequence slots (temper_context_params.
 * n_seq); every slot is overwritten. On success *out is owned by the
 * caller: free it with temper_generation_free(). */
TEMPER_API int temper_generate(temper_context *ctx, const temper_token *prompt,
                               int n_prompt, const temper_generate_params *p,
                               temper_generation **out);
TEMPER_API void temper_generation_free(temper_generation *g);
/* Move the sequences of src to the end of dst, add its step, forward and
 * time counts, and free src: more sequences than a context has slots, run
 * in batches (each with first_stream = the sequences so far), read as one
 * generation. Returns 0, or TEMPER_ENOMEM (dst and src unchanged, src
 * still owned by the caller). */
TEMPER_API int temper_generation_append(temper_generation *dst, temper_generation *src);

/* ---- Every decoding parameter, described once ---------------------------- */
/*
 * One table gives each scalar parameter of temper_generate_params (its
 * sampling chain included) with its name, aliases, command-line flags,
 * type, default, valid range and "off" value. The defaults
 * (temper_generate_default_params), the checks, generation_config.json
 * (temper_model_generate_defaults), and a front end's options, request
 * fields or keyword arguments are all read from it: a new stage is one
 * line here plus its code. Lists (eos_ids, stop, logit_bias,
 * suppress_tokens) and the stage order (order, samplers) are not in it.
 */
enum temper_param_type {
    TEMPER_PARAM_FLOAT = 0, /* a float field */
    TEMPER_PARAM_INT = 1,   /* an int field */
    TEMPER_PARAM_BOOL = 2,  /* an int field, 0 or 1 */
    TEMPER_PARAM_SEED = 3,  /* a uint64_t field */
};

typedef struct temper_param {
    const char *name;    /* transformers' name: the JSON key, the keyword
                            argument and the generation_config.json key */
    const char *aliases; /* other names a request may use (llama.cpp's,
                            OpenAI's), comma-separated; "" if none */
    const char *flags;   /* command-line flags, comma-separated, the usual
                            one first ("--top-k") */
    const char *help;    /* what it does, one line */
    int type;            /* enum temper_param_type */
    double def;          /* default (transformers') */
    double min, max;     /* valid range (+-INFINITY: unbounded) */
    int min_open, max_open; /* 1: that bound is excluded */
    double off;          /* the value that turns its stage off; NAN: none */
    int warper;          /* 1: acts only when sampling (asking for it is
                            asking for sampling) */
    int from_config;     /* 1: read from generation_config.json */
    size_t offset;       /* of the field in temper_generate_params */
} temper_param;

/* The table (*n entries, static), in the order of the stages. */
TEMPER_API const temper_param *temper_params(int *n);
/* The entry named name (or one of its aliases or flags: "top_p", "top-p",
 * "--top-p", "repeat_penalty"; case and '-' / '_' do not matter), or NULL. */
TEMPER_API const temper_param *temper_param_find(const char *name);
/* The value of d's field in p. */
TEMPER_API double temper_param_get(const temper_generate_params *p,
                                   const temper_param *d);
/* Check v against d's type and range, then store it in p. Returns 0 or
 * TEMPER_EINVAL with a message naming the parameter and its range. */
TEMPER_API int temper_param_set(temper_generate_params *p,
                                const temper_param *d, double v);
/* 0 if v is valid for d, else TEMPER_EINVAL (message as above). */
TEMPER_API int temper_param_check(const temper_param *d, double v);

enum temper_generate_mode {
    TEMPER_MODE_GREEDY = 0,
    TEMPER_MODE_SAMPLE = 1,
    TEMPER_MODE_BEAM = 2,
};

/* The decoder p asks for (greedy: do_sample 0 or temperature 0; beam:
 * num_beams > 1), after the checks of every value and of their
 * combination that need no context (beam search does not sample; several
 * greedy sequences would be copies; ...). Returns the mode, or
 * TEMPER_EINVAL / TEMPER_EUNSUPPORTED with a message. */
TEMPER_API int temper_generate_mode(const temper_generate_params *p);
/* "greedy", "sample", "beam" (NULL for an unknown mode). */
TEMPER_API const char *temper_generate_mode_name(int mode);

/* A seed from the system's random source (32 bits, so that it can be
 * shown and given back), for callers that were given none. */
TEMPER_API uint64_t temper_random_seed(void);

/* Static name of a finish reason: "none", "eos", "length", "stop",
 * "context", "canceled" (NULL for an unknown value). OpenAI's API calls
 * both "length" and "context" "length". */
TEMPER_API const char *temper_finish_reason_name(int finish_reason);

/* ---- Step-wise generation: many requests, one batch per step ------------ */
/*
 * A temper_gen is one request decoded by greedy search or sampling (not
 * beam search) in one sequence slot of a context: its prompt, parameters,
 * sampler, random stream, stop strings, EOS ids and the tokens and
 * probabilities recorded so far. temper_gen_step() advances several of
 * them by one token each and evaluates the new tokens with one
 * temper_eval_batch(): requests of different parameters and seeds share a
 * step, join (a new one evaluates its prompt in the step it first takes
 * part in) and leave between steps. A request's tokens and probabilities
 * are the same bits whether it runs alone or with others.
 * temper_generate() (without beams) is a loop over these functions.
 *
 *     temper_gen *g[2];
 *     temper_gen_new(ctx, 0, prompt_a, n_a, &params_a, 0, &g[0]);
 *     temper_gen_new(ctx, 1, prompt_b, n_b, &params_b, 0, &g[1]);
 *     while (temper_gen_step(g, 2) > 0) {}   // 2, 1, ..., 0 unfinished
 *     const temper_sequence *s = temper_gen_sequence(g[0]);
 *     temper_gen_free(g[0]); temper_gen_free(g[1]);
 *
 * Thread safety: a context and its requests belong to one thread at a
 * time, except temper_gen_cancel(), which any thread may call.
 */
typedef struct temper_gen temper_gen;

/* A request continuing prompt (n_prompt >= 1 ids, copied) in slot seq of
 * ctx, which it uses from its first step until it is freed (the slot is
 * emptied first). p is checked and copied (stop strings and ids
 * included); p->num_beams must be 1 and p->num_return_sequences is not
 * used (a request is one sequence). Its random numbers are stream
 * `stream` of p->seed; p->on_token is called for each of its tokens. On
 * success *out is owned by the caller: free it with temper_gen_free(). */
TEMPER_API int temper_gen_new(temper_context *ctx, int seq,
                              const temper_token *prompt, int n_prompt,
                              const temper_generate_params *p,
                              uint64_t stream, temper_gen **out);
TEMPER_API void temper_gen_free(temper_gen *g);

/* Take the evaluated prompt of src (a request with the same prompt that
 * has evaluated it and taken no token yet) instead of evaluating it again:
 * src's slot and last logits are copied. Returns 0 or a negative error
 * (TEMPER_ESTATE when g has started or src is not at that point,
 * TEMPER_EINVAL when the prompts differ or the contexts do). */
TEMPER_API int temper_gen_share_prompt(temper_gen *g, const temper_gen *src);

/* Prompt prefix reuse: the slot of g already holds the first n_cached
 * tokens of its prompt (the caller knows: e.g. the previous request of
 * this slot had the same system text), so only the rest is evaluated
 * (at least the last prompt token is). Call before the prompt is
 * evaluated. The logits are those of evaluating the prompt in two parts:
 * equal to a whole evaluation up to float rounding, not always bit for
 * bit. Returns 0 or a negative error (TEMPER_ESTATE when g has started;
 * TEMPER_EINVAL when the slot holds fewer than n_cached positions). */
TEMPER_API int temper_gen_reuse_prefix(temper_gen *g, int n_cached);

/* Evaluate the prompt now (the first temper_gen_step does it otherwise).
 * Returns 0 or a negative error. */
TEMPER_API int temper_gen_prefill(temper_gen *g);

/* One step of the unfinished requests among gens (n, in distinct slots of
 * one context): each one whose prompt is not evaluated evaluates it, then
 * each picks its next token, records it (id, raw and processed
 * log-probabilities, n_top alternatives), calls its on_token and checks
 * its stops; the tokens of those that go on are evaluated with one
 * temper_eval_batch (at most 512). Finished requests are skipped, so the
 * same array may be passed until none is left. Returns the number of
 * unfinished requests, or a negative error: on a failed evaluation
 * (TEMPER_ECANCELED when the context's abort hook fired) the requests of
 * that evaluation end with TEMPER_FINISH_CANCELED, their last token kept. */
TEMPER_API int temper_gen_step(temper_gen *const *gens, int n);

/* Ask g to stop: it ends with TEMPER_FINISH_CANCELED at the start of the
 * next step, taking no further token. Safe from any thread. */
TEMPER_API void temper_gen_cancel(temper_gen *g);

/* enum temper_finish_reason of g; TEMPER_FINISH_NONE while it runs. */
TEMPER_API int temper_gen_finish_reason(const temper_gen *g);

/* The tokens so far (finish_reason, ids, probs, top, sum_logprob; score
 * NAN). Borrowed from g: valid until the next step on it or its free. */
TEMPER_API const temper_sequence *temper_gen_sequence(const temper_gen *g);

/* Tokens g has run through the model (prompt included). */
TEMPER_API int64_t temper_gen_n_forward(const temper_gen *g);

/* ------------------------------------------------------------------------ */
/* Hub: the local Hugging Face cache and downloads from the Hub              */
/* ------------------------------------------------------------------------ */
/*
 * Models live where huggingface_hub and transformers keep them, so that a
 * model fetched by one tool is used by the others: the cache folder is
 * $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, and a
 * repo "ORG/NAME" is models--ORG--NAME/ with blobs/, snapshots/<commit>/
 * (relative symlinks to the blobs) and refs/<branch> (the commit).
 * Downloads honour HF_ENDPOINT (mirrors), HF_TOKEN (gated or private
 * repos) and HF_HUB_OFFLINE=1 (no network at all). temper_model_load()
 * downloads a missing Hub id by itself unless params.offline is set.
 */

enum temper_pull_event {
    TEMPER_PULL_START = 0,    /* a file starts (resumed > 0: a resumed one) */
    TEMPER_PULL_PROGRESS = 1, /* bytes arrived (about every 100 ms) */
    TEMPER_PULL_DONE = 2,     /* a file is complete and verified */
    TEMPER_PULL_CACHED = 3,   /* a file was already in the cache */
    TEMPER_PULL_RETRY = 4,    /* a transient error: retrying after a pause */
};

typedef struct temper_pull_progress {
    int event;               /* enum temper_pull_event */
    const char *repo;        /* "openai-community/gpt2"; borrowed for the call */
    const char *file;        /* path in the repo; borrowed for the call */
    int file_index, n_files; /* 0-based index of this file among n_files;
                                -1 (RETRY only): a request for no one file,
                                such as the revision lookup (file = repo) */
    uint64_t file_done;      /* bytes of this file on disk */
    uint64_t file_total;     /* size of this file; 0: unknown */
    uint64_t resumed;        /* bytes already on disk when the file started */
    uint64_t done, total;    /* bytes of every file of the pull */
    double seconds;          /* since this file's transfer started */
    const char *message;     /* RETRY: what went wrong; else NULL. Borrowed */
} temper_pull_progress;

/* Return 0 to go on, non-zero to cancel the pull (TEMPER_ECANCELED). */
typedef int (*temper_pull_callback)(const temper_pull_progress *p, void *user);

typedef struct temper_pull_params {
    const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;     /* NULL: $HF_TOKEN, else $HF_HOME/token if present */
    int force;             /* download again even if the cache has the files */
    temper_pull_callback progress; /* may be NULL */
    void *user;            /* passed to progress */
} temper_pull_params;

TEMPER_API temper_pull_params temper_pull_default_params(void);

/* Download repo_id ("gpt2", "openai-community/gpt2", with "@REVISION" for a
 * branch, tag or commit; default "main") into the cache: config.json,
 * generation_config.json, the tokenizer files, model.safetensors (or its
 * index and shards) else pytorch_model.bin (or its index and shards).
 * Interrupted downloads resume; LFS files are checked against their
 * sha256. Writes the snapshot folder to folder (buffer rule; 4096 is
 * always enough) and returns its length, or a negative error: TEMPER_ENOENT
 * (no such repo, revision or file), TEMPER_EIO (network, HTTP, disk; the
 * message says which, e.g. a gated repo needs HF_TOKEN), TEMPER_EFORMAT
 * (checksum mismatch), TEMPER_ECANCELED. params may be NULL. */
TEMPER_API int temper_pull(const char *repo_id, const temper_pull_params *params,
                           char *folder, size_t cap);

/* The cache folder (buffer rule): returns its length. */
TEMPER_API int temper_hub_cache_dir(char *buf, size_t cap);

/* Look repo_id[@REVISION] up in the cache without network. Writes the
 * snapshot folder (buffer rule) and returns its length, or TEMPER_ENOENT
 * with a message saying where it looked. */
TEMPER_API int temper_hub_find(const char *repo_id, char *folder, size_t cap);

/* 1 if folder holds config.json and every weight file it needs
 * (model.safetensors, or the index and all its shards, or the same for
 * pytorch_model.bin), else 0. */
TEMPER_API int temper_hub_is_complete(const char *folder);

/* One cached snapshot, as temper_hub_list() shows it. Every pointer is
 * borrowed for the duration of the callback. */
typedef struct temper_hub_entry {
    const char *repo;     /* "openai-community/gpt2" */
    const char *refs;     /* refs naming this commit, "main,v1.0"; "" if none */
    const char *commit;   /* 40-hex commit (the snapshot folder's name) */
    const char *path;     /* the snapshot folder */
    const char *arch;     /* model_type of config.json; "" if unknown */
    uint64_t bytes;       /* size of the files of the snapshot */
    int n_files;
    int complete;         /* 1 if it has config.json and all its weights */
} temper_hub_entry;

/* Call fn once per cached snapshot, repos in name order. A non-zero return
 * of fn stops the walk and is returned. Returns 0, or a negative error. */
TEMPER_API int temper_hub_list(int (*fn)(const temper_hub_entry *e, void *user),
                               void *user);

/* Remove a repo from the cache ("gpt2": the whole models--gpt2 folder), or
 * with "@REVISION" one snapshot, the refs naming it and the blobs no other
 * snapshot uses. *bytes_freed (may be NULL) gets the bytes removed.
 * TEMPER_ENOENT when it is not in the cache. */
TEMPER_API int temper_hub_remove(const char *repo_id, uint64_t *bytes_freed);

/* ------------------------------------------------------------------------ */
/* Power sampling: whole sequences from p(x)^alpha                           */
/* ------------------------------------------------------------------------ */
/*
 * Target: pi(x | prompt) proportional to p(x | prompt)^alpha over complete
 * continuations (ended by an EOS id, or cut at max_new_tokens). This is not
 * temperature 1/alpha applied token by token (see docs/power-sampling.md).
 *
 * TEMPER_POWER_MH: Metropolis-Hastings of Karan & Du (2025). Stages k = 1,
 *   2, ...: extend the state by block_size tokens from the proposal, then
 *   mcmc_steps moves: cut m uniform over the generated tokens, regenerate
 *   the suffix from the proposal until EOS or the stage length, accept with
 *   min(1, pi(x')q(x|x') / pi(x)q(x'|x)), including the factor n_x / n_x'
 *   for the different lengths (which the official code omits). log p and
 *   log q are kept per token, so the reverse move costs nothing; the KV
 *   cache of the prefix is copied, never recomputed (one token at the cut
 *   is re-evaluated to get its logits).
 * TEMPER_POWER_SMC: Power-SMC: `particles` sequences extended token by
 *   token from the proposal as one batch, incremental log-weights
 *   alpha*log p - log q, multinomial resampling when the effective sample
 *   size falls below ess_threshold * particles, optional linear ramp of
 *   the exponent from 1 to alpha over alpha_ramp_tokens (exact: the weight
 *   gains delta * log p(prefix) when alpha rises by delta). The output is
 *   one particle drawn by its final weight.
 * TEMPER_POWER_SIR: importance resampling: `particles` samples from p,
 *   one resampled with weights p(x)^(alpha - 1).
 * The proposal is the model at temperature 1/alpha unless `proposal` gives
 * another chain (any temper_sampling_params with do_sample set).
 * The context needs 2 sequence slots for MH and `particles` for SMC/SIR.
 */

enum temper_power_method {
    TEMPER_POWER_MH = 0,
    TEMPER_POWER_SMC = 1,
    TEMPER_POWER_SIR = 2,
};

typedef struct temper_power_params {
    int method;               /* enum temper_power_method */
    float alpha;              /* exponent, > 0 (4 in the paper) */
    int max_new_tokens;       /* length cap T_max, >= 1 */
    int block_size;           /* MH block B (0: max_new_tokens / 16, at least 1) */
    int mcmc_steps;           /* MH steps per block (10); 0: plain proposal sampling */
    int particles;            /* SMC / SIR particles (16) */
    float ess_threshold;      /* SMC: resample when ESS < this * particles (0.5) */
    int alpha_ramp_tokens;    /* SMC: ramp alpha over this many tokens (0: off) */
    uint64_t seed;
    const temper_token *eos_ids; /* (n_eos) stop ids; borrowed for the call */
    int n_eos;
    const temper_sampling_params *proposal; /* NULL: temperature 1/alpha */
    int stream;               /* RNG stream of seed (0): sample i of many uses stream i */
} temper_power_params;

TEMPER_API temper_power_params temper_power_default_params(void);

typedef struct temper_power_result {
    temper_token *ids;        /* (n_ids) generated tokens; owned by the result */
    int n_ids;
    int finished_eos;         /* 1 when the last id is an EOS id */
    double log_p;             /* sum of log p over the generated tokens */
    int64_t forward_tokens;   /* tokens run through the model, prompt included */
    int n_proposals, n_accepted; /* MH */
    double *ess;              /* (n_ess) SMC: ESS / particles after each token; owned */
    int n_ess;
    int n_resamples;          /* SMC */
} temper_power_result;

/* Sample one continuation of prompt (n_prompt >= 1 ids) from p^alpha.
 * Uses (and overwrites) the context's sequence slots. On success *out owns
 * its arrays: free them with temper_power_result_free(). */
TEMPER_API int temper_power_sample(temper_context *ctx,
                                   const temper_token *prompt, int n_prompt,
                                   const temper_power_params *params,
                                   temper_power_result *out);
TEMPER_API void temper_power_result_free(temper_power_result *r);

/* ------------------------------------------------------------------------ */
/* Analysis: sequence scores, perplexity, PCA, t-SNE, UMAP                  */
/* ------------------------------------------------------------------------ */
/*
 * Scores follow transformers' model(input_ids, labels=input_ids): token i
 * (i >= 1) is scored by the logits of position i - 1, so a sequence of n
 * tokens has n - 1 scored tokens and the first one has no log-prob. To
 * score every token of a text, put the BOS token (GPT-2: <|endoftext|>)
 * in front. Log-softmax is computed in double over the whole vocabulary.
 * Attention probabilities and hidden states: temper_eval_capture().
 */

typedef struct temper_score_params {
    double alpha;       /* power score alpha * log p(x); default 2; > 0 */
    double temperature; /* temperature score T; default 0.5; > 0 */
    int seq;            /* context slot used (emptied first); default 0 */
} temper_score_params;

TEMPER_API temper_score_params temper_score_default_params(void);

typedef struct temper_sequence_score {
    int n_tokens;         /* tokens of the sequence */
    int n_scored;         /* n_tokens - 1 */
    double log_prob;      /* sum_{i>=1} log p(x_i | x_<i) */
    double power_score;   /* alpha * log_prob: ranks sequences as log_prob does */
    double temp_score;    /* sum_{i>=1} log softmax(z_{i-1} / T)[x_i]: the
                             log-prob of the token-wise tempered sampler; it
                             can rank two sequences the other way round */
    double mean_log_prob; /* log_prob / n_scored (= -transformers' loss) */
    double perplexity;    /* exp(-mean_log_prob) (= exp(loss)) */
} temper_sequence_score;

/* The token put in front of a text so that its first token is scored too:
 * the model's BOS id, else its EOS id (GPT-2: <|endoftext|>, as
 * transformers' examples do). Returns 0, or TEMPER_ENOENT when the model
 * has neither (give the ids yourself). */
TEMPER_API int temper_model_score_bos(const temper_model *model, temper_token *bos);

/* Score tokens (n >= 2, n <= the context's n_ctx) with the model of ctx:
 * slot params->seq is emptied, then the tokens are evaluated from
 * position 0. logprobs and temp_logprobs (each (n) doubles, caller-owned,
 * may be NULL) get each token's log p and tempered log-prob; index 0 gets
 * NAN. params may be NULL (defaults). Returns 0 or a negative error. */
TEMPER_API int temper_score_sequence(temper_context *ctx,
                                     const temper_token *tokens, int n,
                                     const temper_score_params *params,
                                     temper_sequence_score *out,
                                     double *logprobs, double *temp_logprobs);

/*
 * Sliding-window perplexity, as transformers' guide "Perplexity of
 * fixed-length models" computes it:
 *
 *   prev_end = 0
 *   for begin in 0, stride, 2 stride, ...:
 *       end = min(begin + max_length, n); trg_len = end - prev_end
 *       feed tokens[begin, end); score only the last trg_len of them
 *       (labels -100 elsewhere; the first token of a window is never
 *       scored): nll_w = their mean NLL (HF's outputs.loss)
 *       weight_w = min(trg_len, end - begin) - 1   (the guide's
 *       num_loss_tokens: one less than the scored tokens when the
 *       window starts after position 0 and overlaps the previous one)
 *       prev_end = end; stop when end == n
 *   perplexity = exp(sum_w weight_w nll_w / sum_w weight_w)
 *
 * With stride < max_length every token but the first is scored exactly
 * once; with disjoint windows (stride = max_length) the first token of
 * each window is not scored (it has no context in its window). The plain
 * mean over the scored tokens is given too (token_perplexity). With
 * stride = max_length both are the same, and a text that fits one window
 * gives exp(loss) of model(ids, labels=ids). One
 * difference with the guide: a window with nothing to score (a last
 * window of one token) makes the guide's result NaN; here it adds nothing.
 */

typedef struct temper_ppl_window {
    int begin, end;     /* tokens [begin, end) fed to the model */
    int trg_len;        /* end - previous end */
    int n_scored;       /* tokens whose NLL the window averages */
    int weight;         /* the guide's num_loss_tokens for this window */
    double nll;         /* mean NLL of the scored tokens (nats); 0 if none */
} temper_ppl_window;

/* Return non-zero to cancel (the call then returns TEMPER_ECANCELED).
 * w is borrowed for the call. */
typedef int (*temper_ppl_callback)(const temper_ppl_window *w, int index,
                                   int n_windows, void *user);

typedef struct temper_perplexity_params {
    int max_length;     /* window size; 0: the context's n_ctx */
    int stride;         /* 0: max_length (disjoint windows); <= max_length */
    int seq;            /* context slot used (emptied first); default 0 */
    temper_ppl_callback progress; /* after each window; may be NULL */
    void *user;         /* passed to progress */
} temper_perplexity_params;

TEMPER_API temper_perplexity_params temper_perplexity_default_params(void);

typedef struct temper_perplexity_result {
    int n_tokens;           /* tokens of the text */
    int n_windows;
    int max_length, stride; /* as used */
    double nll;             /* the guide's average NLL (weighted windows) */
    double perplexity;      /* exp(nll): the guide's result */
    int n_scored;           /* tokens scored (n_tokens - 1 unless the
                               windows are disjoint) */
    double token_nll;       /* mean NLL over the scored tokens */
    double token_perplexity;/* exp(token_nll) */
    double nll_stderr;      /* standard error of token_nll: sample standard
                               deviation of the token NLLs / sqrt(n_scored);
                               0 when n_scored is 1 */
    double perplexity_stderr; /* token_perplexity * nll_stderr (delta method) */
} temper_perplexity_result;

/* Perplexity of tokens (n >= 2). windows (cap entries, caller-owned, may be
 * NULL with cap 0) gets the windows in order; token_nll ((n) doubles,
 * caller-owned, may be NULL) each token's NLL, NAN where not scored (index
 * 0, and window starts when the windows are disjoint). params may
 * be NULL (defaults). Returns the number of windows (buffer rule for
 * windows; *out is complete either way) or a negative error. */
TEMPER_API int temper_perplexity(temper_context *ctx,
                                 const temper_token *tokens, int n,
                                 const temper_perplexity_params *params,
                                 temper_perplexity_result *out,
                                 temper_ppl_window *windows, int cap,
                                 double *token_nll);

/* Summary statistics of the n values of x (n >= 1), e.g. one token's hidden
 * state or a whole layer, computed in double: min, max, mean, std
 * (population, numpy's default) and the Euclidean norm. */
typedef struct temper_stats {
    double min, max, mean, std, norm;
} temper_stats;
TEMPER_API temper_stats temper_vector_stats(const float *x, size_t n);

/* Principal component analysis of n points of dim values (x: (n, dim),
 * e.g. one layer of hidden states), as scikit-learn's
 * PCA(n_components=k).fit_transform(x): the columns are centred, proj
 * ((n, k) doubles, caller-owned) gets the coordinates on the k main axes,
 * explained ((k), may be NULL) the explained variance ratio of each axis
 * (0 for every axis when all points are equal). Each axis's sign makes
 * its coordinate of largest magnitude positive (scikit-learn 1.3's
 * svd_flip). Needs 1 <= k <= min(n, dim). Computed in double with LAPACK
 * (dsyevr) on the smaller of the n x n and dim x dim matrices. */
TEMPER_API int temper_pca(const float *x, int n, int dim, int k, double *proj,
                          double *explained);

/*
 * 2-D (or 1-D, 3-D) maps of points for a scatter plot: PCA (above),
 * t-SNE and UMAP, behind one call.
 *
 * t-SNE (van der Maaten & Hinton, 2008) is the exact O(n^2) method as
 * scikit-learn's TSNE(method="exact", init="pca") runs it: squared
 * Euclidean distances, per-point bandwidths found by bisection so that
 * each row's entropy is log(perplexity), P = (P + P^T) / sum, a Student-t
 * kernel with max(n_components - 1, 1) degrees of freedom, gradient
 * descent with momentum (0.5 for the first 250 iterations, under early
 * exaggeration, then 0.8) and per-coordinate gains; the start is the PCA
 * scaled to a first-axis standard deviation of 1e-4. Nothing is random:
 * the seed is not used. Time O(n^2) per iteration and memory 12 n^2 bytes:
 * fine for the few hundred to ~2,000 tokens a user looks at; at most
 * TEMPER_PROJECT_MAX_POINTS points.
 *
 * UMAP (McInnes, Healy & Melville, 2018): exact k nearest neighbours
 * (Euclidean, the point itself counted, as umap-learn), the fuzzy
 * simplicial set (rho_i = distance to the nearest neighbour, sigma_i by
 * bisection so that sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k), then
 * the fuzzy union A + A^T - A o A^T), edges weaker than max / n_epochs
 * dropped, the curve 1 / (1 + a d^2b) fitted to min_dist (spread 1) by
 * least squares, a PCA start scaled to [0, 10], and SGD over the edges
 * (each sampled in proportion to its weight) with 5 negative samples per
 * positive one, a learning rate falling linearly from 1 and gradients
 * clipped to [-4, 4]. The negative samples come from the seed: one seed,
 * one map.
 *
 * Both give the same coordinates for any number of threads: each thread
 * computes whole rows, and sums are taken in one fixed order.
 */
#define TEMPER_PROJECT_MAX_POINTS 4096 /* t-SNE: 12 n^2 bytes, 200 MB */

enum temper_project_method {
    TEMPER_PROJECT_PCA = 0,
    TEMPER_PROJECT_TSNE = 1,
    TEMPER_PROJECT_UMAP = 2,
};

typedef struct temper_project_params {
    int method;                /* enum temper_project_method; default PCA */
    int n_components;          /* dimensions of the map; default 2 */
    double perplexity;         /* t-SNE: neighbours each point listens to;
                                  0 (default): min(30, n - 1), as seed 004;
                                  else it must be < n (scikit-learn's rule) */
    double learning_rate;      /* t-SNE: 0 (default): "auto",
                                  max(n / early_exaggeration / 4, 50) */
    int n_iter;                /* t-SNE: iterations, >= 250; default 1000 */
    double early_exaggeration; /* t-SNE: P multiplied by it for the first
                                  250 iterations; default 12 */
    int n_neighbors;           /* UMAP: 0 (default): min(15, n - 1), as
                                  seed 004; else 2 .. n - 1 */
    double min_dist;           /* UMAP: how tightly points pack; default 0.1 */
    int n_epochs;              /* UMAP: 0 (default): 500 (200 above 10,000
                                  points, as umap-learn) */
    uint64_t seed;             /* UMAP: the negative samples; default 0 */
    temper_threadpool *pool;   /* borrowed; NULL: the calling thread only */
} temper_project_params;

TEMPER_API temper_project_params temper_project_default_params(void);

/* What a projection used and reached. */
typedef struct temper_project_info {
    temper_project_params used; /* the parameters, automatic values (0)
                                   resolved: perplexity, learning_rate,
                                   n_neighbors, n_epochs */
    int n_iter;                /* t-SNE: iterations run (it may stop early,
                                  as scikit-learn: no progress in 300); UMAP:
                                  epochs run; PCA: 0 */
    double kl_divergence;      /* t-SNE: KL(P || Q) of the map; else NAN */
    double a, b;               /* UMAP: the fitted curve; else NAN */
} temper_project_info;

/* Map n points of dim values (x: (n, dim)) to k = params->n_components
 * dimensions: proj ((n, k) doubles, caller-owned) gets the coordinates;
 * explained ((k), may be NULL) the explained variance ratios for PCA, NAN
 * for the others; info (may be NULL) what was used. params may be NULL
 * (PCA, 2 components). Needs n >= 2 (t-SNE, UMAP: n >= 3 and
 * n <= TEMPER_PROJECT_MAX_POINTS), 1 <= k <= min(n, dim) (t-SNE, UMAP:
 * k <= 3) and finite x. Returns 0 or a negative error (TEMPER_EINVAL with
 * a message naming the parameter, TEMPER_ENOMEM). */
TEMPER_API int temper_project(const float *x, int n, int dim,
                              const temper_project_params *params,
                              double *proj, double *explained,
                              temper_project_info *info);

/* "pca", "tsne", "umap" (NULL for another value). */
TEMPER_API const char *temper_project_method_name(int method);
/* The method named name ("pca", "tsne" or "t-sne", "umap"; case does not
 * matter), or TEMPER_EINVAL with a message listing them. */
TEMPER_API int temper_project_method_parse(const char *name);

/* Every scalar parameter of temper_project_params but pool, described
 * once: the CLI's flags, the JSON keys and the Python keywords are loops
 * over this table. type is TEMPER_PARAM_INT, FLOAT or SEED. */
typedef struct temper_project_param {
    const char *name;          /* the JSON key and the keyword argument */
    const char *flag;          /* the command-line flag ("--perplexity") */
    const char *help;          /* what it does, one line */
    int type;                  /* enum temper_param_type */
    double def;                /* default (0 = auto where help says so) */
    double min, max;           /* valid range, both included */
    int methods;               /* 1 << method for each method it acts on */
    size_t offset;             /* of the field in temper_project_params */
} temper_project_param;

/* The table (*n entries, static). */
TEMPER_API const temper_project_param *temper_project_params_table(int *n);
/* The entry named name (its name or flag; '-' / '_' do not matter), or NULL. */
TEMPER_API const temper_project_param *temper_project_param_find(const char *name);
TEMPER_API double temper_project_param_get(const temper_project_params *p,
                                           const temper_project_param *d);
/* Check v against d's type and range, then store it. Returns 0 or
 * TEMPER_EINVAL with a message naming the parameter and its range. */
TEMPER_API int temper_project_param_set(temper_project_params *p,
                                        const temper_project_param *d, double v);

/* ------------------------------------------------------------------------ */
/* SVG: static pictures (heatmap, bars, scatter)                             */
/* ------------------------------------------------------------------------ */
/*
 * Each call writes one standalone SVG document into *out (NUL-terminated,
 * malloc'd: free it with temper_free) and returns its length, or a
 * negative error (TEMPER_EINVAL with a message, TEMPER_ENOMEM). Labels
 * (UTF-8, escaped for XML by the writer) may be NULL. Every mark carries
 * its exact value: heatmap cells data-row, data-col, data-value; bars
 * data-series, data-index, data-value; points data-index, data-x, data-y;
 * and a <title> that browsers show on hover.
 */
#define TEMPER_SVG_MAX_CELLS (1 << 20) /* heatmap cells in one picture */

typedef struct temper_svg_heatmap_spec {
    const float *values;              /* (n_panels, rows, cols), e.g. attention */
    int n_panels, rows, cols;         /* panels laid out in a grid */
    double vmax;                      /* the value drawn darkest; 0: 1 */
    const char *const *panel_titles;  /* (n_panels) "layer 3 head 1"; may be NULL */
    const char *const *row_labels;    /* (rows) e.g. query tokens; may be NULL */
    const char *const *col_labels;    /* (cols) e.g. key tokens; may be NULL */
    const char *title;                /* may be NULL */
    const char *value_name;           /* the colour scale's name; may be NULL */
} temper_svg_heatmap_spec;
TEMPER_API int temper_svg_heatmap(const temper_svg_heatmap_spec *spec, char **out);

typedef struct temper_svg_bars_spec {
    const double *values;             /* (n_series, n): horizontal bars */
    int n_series, n;                  /* 1 .. 64 series of 1 .. 4096 bars */
    const char *const *labels;        /* (n) e.g. tokens; may be NULL */
    const char *const *series_names;  /* (n_series) e.g. "T = 0.5"; may be NULL */
    const char *title;                /* may be NULL */
    const char *value_name;           /* the axis' name ("probability"); may be NULL */
} temper_svg_bars_spec;
TEMPER_API int temper_svg_bars(const temper_svg_bars_spec *spec, char **out);

typedef struct temper_svg_scatter_spec {
    const double *points;             /* (n, 2) */
    int n;                            /* 1 .. 100000 */
    const char *const *labels;        /* (n) e.g. tokens; may be NULL */
    const double *colors;             /* (n) values for a light-to-dark ramp;
                                         NULL: the index (position) */
    const char *title, *x_name, *y_name, *color_name; /* may be NULL */
} temper_svg_scatter_spec;
TEMPER_API int temper_svg_scatter(const temper_svg_scatter_spec *spec, char **out);

/* ------------------------------------------------------------------------ */
/* JSON: one schema, one writer for every front end                         */
/* ------------------------------------------------------------------------ */
/*
 * The JSON objects temper gives out (docs/json.md documents every field;
 * docs/temper.schema.json is the JSON Schema) are built here, once: the
 * CLI's --json prints them, the server returns them, the Python binding
 * parses them. Each document is one object whose first key is "version"
 * (TEMPER_JSON_VERSION, raised when a key changes meaning or goes away).
 * Numbers are written in their shortest round-trip form (a float with its
 * own digits: 0.1f is 0.1); non-finite numbers are null. Strings are
 * escaped per RFC 8259; each invalid UTF-8 sequence becomes U+FFFD.
 * Keys mean one thing everywhere: "ids" are token ids, "tokens" their
 * vocabulary pieces (tokenizer.convert_ids_to_tokens), "token_texts" the
 * text of each alone (tokenizer.decode([id])), "text" decoded text;
 * "finish_reason" is "eos", "length" (max_new_tokens or a full context,
 * as transformers and OpenAI say), "stop" or "canceled".
 *
 *     temper_json *j = temper_json_new(NULL);        // into memory
 *     temper_json_tokenize(j, tok, ids, offsets, n); // one document
 *     if (temper_json_finish(j) == 0) send(temper_json_text(j, NULL));
 *     temper_json_free(j);
 *
 * A writer is used by one thread at a time. Its functions do nothing
 * after an error (out of memory, a failed write); temper_json_finish()
 * reports it. The document builders take the results of the library
 * functions named with them; every pointer is borrowed for the call.
 */
#define TEMPER_JSON_VERSION 1

typedef struct temper_json temper_json;

/* A writer into the stream f, or into memory when f is NULL. Owned by the
 * caller: free it with temper_json_free(). NULL when out of memory. */
TEMPER_API temper_json *temper_json_new(FILE *f);
TEMPER_API void temper_json_free(temper_json *j);
/* End the document: a newline, the stream flushed. Returns 0, or the
 * writer's first error (TEMPER_ENOMEM, TEMPER_EIO) with a message. */
TEMPER_API int temper_json_finish(temper_json *j);
/* A memory writer's text so far (NUL-terminated; *len, may be NULL, gets
 * its length), borrowed until the next write or temper_json_free(); NULL
 * for a stream writer. */
TEMPER_API const char *temper_json_text(const temper_json *j, size_t *len);
/* 0, or the writer's first error. */
TEMPER_API int temper_json_status(const temper_json *j);

/* Values: the writer places commas and colons. temper_json_key() names
 * the next value of an object. */
TEMPER_API void temper_json_obj_begin(temper_json *j);
TEMPER_API void temper_json_obj_end(temper_json *j);
TEMPER_API void temper_json_arr_begin(temper_json *j);
TEMPER_API void temper_json_arr_end(temper_json *j);
TEMPER_API void temper_json_key(temper_json *j, const char *key);
TEMPER_API void temper_json_str(temper_json *j, const char *s);  /* NULL -> null */
TEMPER_API void temper_json_strn(temper_json *j, const char *s, size_t n); /* bytes */
TEMPER_API void temper_json_int(temper_json *j, long long v);
TEMPER_API void temper_json_uint(temper_json *j, unsigned long long v);
TEMPER_API void temper_json_double(temper_json *j, double v);
TEMPER_API void temper_json_float(temper_json *j, float v);
TEMPER_API void temper_json_bool(temper_json *j, int v);
TEMPER_API void temper_json_null(temper_json *j);
/* Open a document: "{" and its "version". Close it with
 * temper_json_obj_end(). */
TEMPER_API void temper_json_begin_document(temper_json *j);

/* ---- pieces shared by the documents */

/* Keys <prefix>ids, <prefix>tokens and <prefix>token_texts of the
 * current object (prefix "" or e.g. "prompt_"); tok may be NULL (then
 * tokens and token_texts hold nulls). */
TEMPER_API void temper_json_ids_tokens(temper_json *j, const char *prefix,
                                       const temper_tokenizer *tok,
                                       const temper_token *ids, int n);
/* The settings of a generation as keys of the current object: every
 * parameter of temper_params() under its name, then the lists and the
 * stage order of p (eos_token_id: the n_eos ids of eos, those in effect). */
TEMPER_API void temper_json_generate_settings(temper_json *j,
                                              const temper_generate_params *p,
                                              const temper_token *eos, int n_eos);
/* One sequence of a generation (temper_generate, temper_gen_sequence):
 * text, ids, tokens, token_texts, finish_reason, score, and "logprobs":
 * per token its id, token, text, logprob, logprob_processed and its n_top
 * alternatives ("top"). */
TEMPER_API void temper_json_sequence(temper_json *j, const temper_tokenizer *tok,
                                     const temper_sequence *s, int n_top);
/* One generated token as an entry of that "logprobs" list: {id, token,
 * text, logprob, logprob_processed, top} with prob->id the token and top
 * (n_top; may be NULL) its alternatives by raw log-prob (an id < 0 ends
 * them). A server streams these one by one. */
TEMPER_API void temper_json_token_probs(temper_json *j, const temper_tokenizer *tok,
                                        const temper_token_prob *prob,
                                        const temper_token_prob *top, int n_top);

/* ---- documents (one whole object each) */

/* `tokenize`: ids, tokens, offsets ((n, 2) byte spans, may be NULL),
 * n_tokens. */
TEMPER_API void temper_json_tokenize(temper_json *j, const temper_tokenizer *tok,
                                     const temper_token *ids, const int32_t *offsets,
                                     int n);
/* `detokenize`: text (len bytes) and n_tokens. */
TEMPER_API void temper_json_detokenize(temper_json *j, const char *text, size_t len,
                                       int n_tokens);
/* `info`: the model's facts (temper_model_get_info); model: the name it
 * was loaded by; weights: 0 when only config.json was read. */
TEMPER_API void temper_json_model_info(temper_json *j, const char *model,
                                       const temper_model_info *mi, int weights);

/* `probs`: the next-token table (temper_next_token_table) after a prompt. */
typedef struct temper_json_next_tokens {
    const char *model;              /* the name it was loaded by; may be NULL */
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_token *prompt;     /* (n_prompt) */
    int n_prompt;
    const temper_candidate *cands;  /* (n) */
    int n;
    const temper_next_token_info *info;
    const char *stages;             /* temper_sampler_describe(); NULL: no sampler */
} temper_json_next_tokens;
TEMPER_API void temper_json_probs(temper_json *j, const temper_json_next_tokens *d);

/* `generate`: the prompt, the settings, the sequences and the timings.
 * With temperatures (a sweep: one generation per temperature) the runs
 * are listed under "temperatures"; else runs[0] is the generation. */
typedef struct temper_json_run {
    double temperature;             /* NAN: not a sweep */
    int greedy;                     /* the sampler took the argmax */
    const char *stages;             /* temper_sampler_describe() */
    const temper_generation *g;
    int distinct;                   /* distinct texts among g's sequences */
} temper_json_run;
typedef struct temper_json_generation {
    const char *model;              /* may be NULL */
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_token *prompt;     /* (n_prompt) */
    int n_prompt;
    const temper_generate_params *params;
    const temper_token *eos;        /* (n_eos) the EOS ids in effect */
    int n_eos;
    const char *mode;               /* "greedy", "sampling", "beam_search" */
    const double *temperatures;     /* (n_temperatures) a sweep; NULL: none */
    int n_temperatures;
    const temper_json_run *runs;    /* (n_runs) */
    int n_runs;
    const char *from_config;        /* generation_config.json keys used; may be NULL */
    const char *notes;              /* adjustments made; may be NULL */
    double load_seconds;            /* the model's; NAN: unknown */
} temper_json_generation;
TEMPER_API void temper_json_generate(temper_json *j, const temper_json_generation *d);

/* `score`: each text's scores (temper_score_sequence), per token too;
 * with pairs, items 2k and 2k + 1 compared. */
typedef struct temper_json_score_item {
    const char *text;               /* the text scored; NULL: decoded from ids */
    const temper_token *ids;        /* (n) */
    int n;
    const double *logprobs;         /* (n) log p of each token; NAN at 0 */
    const double *temp_logprobs;    /* (n) tempered log p; NAN at 0 */
    const temper_sequence_score *score;
} temper_json_score_item;
typedef struct temper_json_scores {
    const char *model;              /* may be NULL */
    const temper_tokenizer *tok;    /* may be NULL */
    double alpha, temperature;      /* temper_score_params' */
    int bos;                        /* 1: the BOS token was put in front */
    const temper_json_score_item *items; /* (n_items) */
    int n_items;
    int pairs;
} temper_json_scores;
TEMPER_API void temper_json_score(temper_json *j, const temper_json_scores *d);

/* `perplexity`: each text's sliding-window perplexity (temper_perplexity). */
typedef struct temper_json_ppl_item {
    const char *text;               /* NULL: given as a file or ids */
    const temper_perplexity_result *r;
    const temper_ppl_window *windows; /* (r->n_windows) */
} temper_json_ppl_item;
typedef struct temper_json_perplexities {
    const char *model;              /* may be NULL */
    int max_length, stride, bos;
    const temper_json_ppl_item *items; /* (n_items) */
    int n_items;
} temper_json_perplexities;
TEMPER_API void temper_json_perplexity(temper_json *j, const temper_json_perplexities *d);

/* `attention`: attention probabilities (temper_eval_capture_layers). */
typedef struct temper_json_attention_doc {
    const char *model;              /* may be NULL */
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_token *ids;        /* (n) */
    int n;
    int n_layer, n_head;            /* the model's */
    const float *attn;              /* (n_layers, n_head, n, n) */
    const int *layers;              /* (n_layers) the layer of each entry of attn */
    int n_layers;
    int head_begin, head_end;       /* heads listed: [head_begin, head_end) */
} temper_json_attention_doc;
TEMPER_API void temper_json_attention(temper_json *j, const temper_json_attention_doc *d);

/* `hidden`: hidden states (temper_eval_capture) with their statistics,
 * a PCA (temper_pca) of one layer, and a projection of one layer with
 * PCA, t-SNE or UMAP (temper_project). */
typedef struct temper_json_hidden_doc {
    const char *model;              /* may be NULL */
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_token *ids;        /* (n) */
    int n;
    int n_layer, n_embd;            /* L, C */
    const float *hidden;            /* (L + 1, n, C) */
    int layer_begin, layer_end;     /* states listed: [layer_begin, layer_end) */
    int pca_layer;                  /* -1: no PCA */
    const double *pca_points;       /* (n, 2) */
    const double *pca_explained;    /* (2) explained variance ratios */
    /* A projection (temper_project) of layer proj_layer, written as
     * "projection" when proj_points and proj_info are not NULL (else, with
     * a PCA above, "projection" repeats it with method "pca"): */
    int proj_layer;
    const temper_project_info *proj_info;   /* method, parameters as used */
    const double *proj_points;      /* (n, proj_info->used.n_components) */
    const double *proj_explained;   /* (n_components) PCA's ratios; may be NULL */
} temper_json_hidden_doc;
TEMPER_API void temper_json_hidden(temper_json *j, const temper_json_hidden_doc *d);

/* `trace`: one prompt through the pipeline, to its continuation. */
typedef struct temper_json_trace_doc {
    const char *model;              /* may be NULL */
    const char *text;               /* the prompt's text; NULL: given as ids */
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_token *ids;        /* (n) the prompt */
    int n;
    int n_layer, n_head, n_embd;
    const float *logits;            /* (n_vocab) of the prompt's last position */
    int n_vocab;
    const temper_candidate *top;    /* (n_top) temper_next_token_table of logits */
    int n_top;
    const temper_generate_params *params;
    const temper_token *eos;        /* (n_eos) the EOS ids in effect */
    int n_eos;
    const temper_sequence *seq;     /* the continuation */
} temper_json_trace_doc;
TEMPER_API void temper_json_trace(temper_json *j, const temper_json_trace_doc *d);

/* `generate --power`: samples of p^alpha (temper_power_sample). */
typedef struct temper_json_power_doc {
    const temper_tokenizer *tok;    /* may be NULL */
    const temper_power_params *params;
    const temper_power_result *samples; /* (n_samples) */
    const double *seconds;          /* (n_samples) wall time of each */
    int n_samples;
} temper_json_power_doc;
TEMPER_API void temper_json_power(temper_json *j, const temper_json_power_doc *d);

/* `softmax`: softmax with temperature and the stages on a row of named
 * logits, at one or several temperatures. */
typedef struct temper_json_softmax_table {
    double temperature;
    const char *samplers;           /* the stages applied, in order */
    const double *scaled;           /* (n) logits / temperature */
    const double *prob;             /* (n) softmax of scaled */
    const double *prob_processed;   /* (n) after the stages */
    const temper_token *samples;    /* (n_samples) draws; NULL: none */
    long n_samples;
} temper_json_softmax_table;
typedef struct temper_json_softmax_doc {
    const char *const *names;       /* (n) the tokens' names */
    const float *logits;            /* (n) */
    int n;
    uint64_t seed;                  /* of the draws */
    const temper_json_softmax_table *tables; /* (n_tables) */
    int n_tables;                   /* 1: the table is the document */
} temper_json_softmax_doc;
TEMPER_API void temper_json_softmax(temper_json *j, const temper_json_softmax_doc *d);

/* `list`: the models of the Hugging Face cache (temper_hub_list). Returns
 * 0 or temper_hub_list's error (the document is then incomplete). */
TEMPER_API int temper_json_hub_list(temper_json *j);

#ifdef __cplusplus
}
#endif
#endif /* TEMPER_H */
