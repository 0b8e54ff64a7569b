/*
 * tokenizer.c - the public encode API: validate, split added tokens, encode
 * each text segment, post-process; plus the small lookups.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

void temper_tokenizer_free(temper_tokenizer *tok) {
    if (!tok) return;
    free(tok->text_pool);
    free(tok->text_off);
    free(tok->bytes_pool);
    free(tok->bytes_off);
    free(tok->flags);
    free(tok->str_slots);
    free(tok->merges);
    free(tok->added);
    free(tok->added_index);
    temper__split_free(tok->split);
    free(tok);
}

int temper_tokenizer_n_vocab(const temper_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

const char *temper_token_text(const temper_tokenizer *tok, temper_token id) {
    if (!tok || id < 0 || id >= tok->n_vocab || !(tok->flags[id] & TEMPER__TOK_PRESENT))
        return NULL;
    return temper__tok_text(tok, id);
}

int temper_tokenizer_find(const temper_tokenizer *tok, const char *text) {
    if (!tok || !text) return temper__error(TEMPER_EINVAL, "temper_tokenizer_find: NULL argument");
    int id = temper__vocab_find(tok, text, strlen(text));
    if (id < 0) return temper__error(TEMPER_ENOENT, "no token \"%s\" in the vocabulary", text);
    return id;
}

int temper_token_is_special(const temper_tokenizer *tok, temper_token id) {
    if (!tok || id < 0 || id >= tok->n_vocab) return 0;
    return (tok->flags[id] & TEMPER__TOK_SPECIAL) != 0;
}

void temper_tokenizer_get_info(const temper_tokenizer *tok, temper_tokenizer_info *out) {
    memset(out, 0, sizeof *out);
    out->bos_id = out->eos_id = out->unk_id = out->pad_id = -1;
    if (!tok) return;
    out->model = "BPE";
    out->source = tok->source;
    out->n_vocab = tok->n_vocab;
    out->n_added = tok->n_added;
    out->bos_id = tok->bos_id;
    out->eos_id = tok->eos_id;
    out->unk_id = tok->unk_id;
    out->pad_id = tok->pad_id;
    out->n_prefix = tok->post.n_prefix;
    out->n_suffix = tok->post.n_suffix;
    memcpy(out->prefix, tok->post.prefix, sizeof out->prefix);
    memcpy(out->suffix, tok->post.suffix, sizeof out->suffix);
    out->add_prefix_space = tok->add_prefix_space;
}

/* HF's process_offsets (ByteLevel and Roberta post-processors with
 * trim_offsets): leading and trailing 'Ġ' (or White_Space) characters of a
 * token's string are left out of its offsets, except one leading space of
 * the first token when add_prefix_space added it. */
void temper__post_trim(const temper_tokenizer *tok, temper__ids *out) {
    for (size_t i = 0; i < out->n; i++) {
        const uint8_t *s = (const uint8_t *)temper__tok_text(tok, out->ids[i]);
        size_t len = strlen((const char *)s);
        int32_t lead = 0, trail = 0;
        for (size_t p = 0; p < len;) {
            uint32_t c;
            int l = temper__utf8_decode(s + p, len - p, &c);
            if (!l || !(c == 0x120 || temper__is_white_space(c))) break;
            lead++;
            p += (size_t)l;
        }
        for (size_t p = len; p > 0;) {
            size_t q = p - 1;
            while (q > 0 && (s[q] & 0xC0) == 0x80) q--;
            uint32_t c;
            if (!temper__utf8_decode(s + q, p - q, &c) || !(c == 0x120 || temper__is_white_space(c)))
                break;
            trail++;
            p = q;
        }
        int32_t *o = out->offs + 2 * i;
        if (lead > 0) {
            bool first = i == 0 || o[0] == 0;
            if (!(first && tok->post.trim_add_prefix_space && lead == 1))
                o[0] = o[0] + lead < o[1] ? o[0] + lead : o[1];
        }
        if (trail > 0 && o[1] >= trail) o[1] = o[1] - trail > o[0] ? o[1] - trail : o[0];
    }
}

/* Encode the pieces [p0, p1) of an added-token split into out. starts[k]:
 * piece k begins a ByteLevel split (gets add_prefix_space). */
static int temper__encode_pieces(temper__enc *e, const uint8_t *text, const temper__piece *pc,
                                 const bool *starts, size_t p0, size_t p1, temper__ids *out) {
    for (size_t k = p0; k < p1; k++) {
        int rc = pc[k].id >= 0
                     ? temper__ids_push(out, pc[k].id, (int32_t)pc[k].start, (int32_t)pc[k].end)
                     : temper__encode_segment(e, text, pc[k].start, pc[k].end, starts[k], out);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Post-process out and copy it to the caller's buffers. */
static int temper__deliver(const temper_tokenizer *tok, temper__ids *out, int flags,
                           temper_token *ids, int32_t *offsets, int cap) {
    if (tok->post.trim_offsets) temper__post_trim(tok, out);
    bool add = (flags & TEMPER_TOKENIZE_ADD_SPECIAL) != 0;
    int n_pre = add ? tok->post.n_prefix : 0, n_suf = add ? tok->post.n_suffix : 0;
    if (out->n > (size_t)INT32_MAX - 16)
        return temper__error(TEMPER_ERANGE, "the text needs more than 2^31 tokens");
    int total = (int)out->n + n_pre + n_suf;
    if (cap < 0) cap = 0;
    for (int k = 0; k < total && k < cap; k++) {
        temper_token id;
        int32_t s = 0, e = 0;
        if (k < n_pre) id = tok->post.prefix[k];
        else if (k < n_pre + (int)out->n) {
            size_t j = (size_t)(k - n_pre);
            id = out->ids[j];
            s = out->offs[2 * j];
            e = out->offs[2 * j + 1];
        } else id = tok->post.suffix[k - n_pre - (int)out->n];
        if (ids) ids[k] = id;
        if (offsets) offsets[2 * k] = s, offsets[2 * k + 1] = e;
    }
    return total;
}

static int temper__check_input(const temper_tokenizer *tok, const char *text, size_t len) {
    if (!tok || (!text && len > 0))
        return temper__error(TEMPER_EINVAL, "temper_tokenize: tok or text is NULL");
    if (len > INT32_MAX)
        return temper__error(TEMPER_ERANGE, "the text has %zu bytes: at most 2^31 - 1 can be "
                             "tokenized at once; split it", len);
    size_t bad = temper__utf8_check((const uint8_t *)text, len);
    if (bad < len)
        return temper__error(TEMPER_EUTF8, "the text is not valid UTF-8 at byte %zu (0x%02X): "
                             "convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)",
                             bad, (unsigned)(uint8_t)text[bad]);
    return 0;
}

int temper_tokenize(const temper_tokenizer *tok, const char *text, size_t len, int flags,
                    temper_token *ids, int32_t *offsets, int cap) {
    int rc = temper__check_input(tok, text, len);
    if (rc < 0) return rc;
    const uint8_t *t = (const uint8_t *)text;
    temper__piece *pc = NULL;
    size_t n_pc = 0;
    bool *starts = NULL;
    temper__ids out = {0};
    temper__enc *e = temper__enc_new(tok);
    if (!e) return temper__error(TEMPER_ENOMEM, "out of memory");
    rc = temper__split_added(tok, t, len, (flags & TEMPER_TOKENIZE_SPECIAL_AS_TEXT) != 0, &pc,
                             &n_pc);
    if (rc < 0) goto done;
    starts = malloc(n_pc + 1);
    if (!starts) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n_pc; k++) starts[k] = true;
    rc = temper__encode_pieces(e, t, pc, starts, 0, n_pc, &out);
    if (rc >= 0) rc = temper__deliver(tok, &out, flags, ids, offsets, cap);
done:
    free(pc);
    free(starts);
    temper__ids_free(&out);
    temper__enc_free(e);
    return rc;
}

/* ---- parallel encoding ---------------------------------------------------- */

#define TEMPER__PAR_MIN_CHUNK (64 * 1024) /* bytes below which threads do not pay */

static inline bool temper__ascii_letter(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Append piece pc (starts: it begins a ByteLevel split) to v / starts. */
static int temper__piece_add(temper__piece **v, bool **starts, size_t *n, size_t *cap,
                             temper__piece pc, bool start) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        temper__piece *nv = realloc(*v, c * sizeof *nv);
        if (nv) *v = nv;
        bool *ns = realloc(*starts, c);
        if (ns) *starts = ns;
        if (!nv || !ns) return temper__error(TEMPER_ENOMEM, "out of memory");
        *cap = c;
    }
    (*v)[*n] = pc;
    (*starts)[*n] = start;
    (*n)++;
    return 0;
}

/* Cut text piece [a, b) into pieces of about `chunk` bytes at safe points:
 * a U+0020 between two ASCII letters. There a GPT-2 match always ends (a
 * letter run stops at the space) and the next one starts with the space, so
 * encoding the two sides apart gives the same ids (also true of Llama 3's
 * Split pattern; other Split patterns are not cut). */
static int temper__cut(const temper_tokenizer *tok, const uint8_t *t, size_t a, size_t b,
                       size_t chunk, temper__piece **v, bool **starts, size_t *n, size_t *cap) {
    for (size_t s = a; s < b;) {
        size_t e = b;
        bool cuttable = tok->split ? temper__split_cut_safe(tok->split) : tok->use_regex;
        if (cuttable && b - s > 2 * chunk) {
            size_t p = s + chunk;
            while (p + 1 < b && !(t[p] == ' ' && temper__ascii_letter(t[p - 1]) &&
                                  temper__ascii_letter(t[p + 1])))
                p++;
            if (p + 1 < b) e = p;
        }
        int rc = temper__piece_add(v, starts, n, cap, (temper__piece){-1, s, e}, s == a);
        if (rc < 0) return rc;
        s = e;
    }
    return 0;
}

typedef struct temper__par_job {
    const temper_tokenizer *tok;
    const uint8_t *text;
    const temper__piece *pc;
    const bool *starts;
    size_t p0, p1;   /* pieces of this thread */
    temper__ids out; /* its ids */
    int rc;
    char err[256];   /* its error message (last errors are per thread) */
} temper__par_job;

static void *temper__par_run(void *arg) {
    temper__par_job *j = arg;
    temper__enc *e = temper__enc_new(j->tok);
    if (!e) j->rc = temper__error(TEMPER_ENOMEM, "out of memory");
    else j->rc = temper__encode_pieces(e, j->text, j->pc, j->starts, j->p0, j->p1, &j->out);
    if (j->rc < 0) snprintf(j->err, sizeof j->err, "%s", temper_last_error());
    temper__enc_free(e);
    return NULL;
}

int temper_tokenize_parallel(const temper_tokenizer *tok, const char *text, size_t len,
                             int flags, temper_token *ids, int32_t *offsets, int cap,
                             int n_threads) {
    if (n_threads <= 0) n_threads = temper__n_cores();
    if (n_threads > 64) n_threads = 64;
    if (n_threads == 1 || len < 2 * TEMPER__PAR_MIN_CHUNK)
        return temper_tokenize(tok, text, len, flags, ids, offsets, cap);
    int rc = temper__check_input(tok, text, len);
    if (rc < 0) return rc;
    const uint8_t *t = (const uint8_t *)text;
    temper__piece *split = NULL, *pc = NULL;
    bool *starts = NULL;
    size_t n_split = 0, n_pc = 0, cap_pc = 0;
    temper__par_job *jobs = NULL;
    pthread_t *th = NULL;
    temper__ids out = {0};
    rc = temper__split_added(tok, t, len, (flags & TEMPER_TOKENIZE_SPECIAL_AS_TEXT) != 0, &split,
                             &n_split);
    if (rc < 0) goto done;
    size_t chunk = len / ((size_t)n_threads * 4);
    if (chunk < TEMPER__PAR_MIN_CHUNK) chunk = TEMPER__PAR_MIN_CHUNK;
    for (size_t k = 0; k < n_split && rc >= 0; k++) {
        if (split[k].id >= 0) {
            rc = temper__piece_add(&pc, &starts, &n_pc, &cap_pc, split[k], false);
        } else {
            rc = temper__cut(tok, t, split[k].start, split[k].end, chunk, &pc, &starts, &n_pc,
                             &cap_pc);
        }
    }
    if (rc < 0) goto done;
    jobs = calloc((size_t)n_threads, sizeof *jobs);
    th = calloc((size_t)n_threads, sizeof *th);
    if (!jobs || !th) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    /* contiguous runs of pieces with about len / n_threads bytes each */
    size_t p = 0;
    for (int k = 0; k < n_threads; k++) {
        size_t want = len / (size_t)n_threads * (size_t)(k + 1), p1 = p;
        while (p1 < n_pc && (k == n_threads - 1 || pc[p1].start < want)) p1++;
        jobs[k] = (temper__par_job){.tok = tok, .text = t, .pc = pc, .starts = starts,
                                    .p0 = p, .p1 = p1};
        p = p1;
    }
    int started = 0;
    for (int k = 1; k < n_threads; k++, started++)
        if (pthread_create(&th[k], NULL, temper__par_run, &jobs[k]) != 0) break;
    temper__par_run(&jobs[0]);
    for (int k = 1; k <= started; k++) pthread_join(th[k], NULL);
    for (int k = started + 1; k < n_threads; k++) temper__par_run(&jobs[k]); /* not started */
    for (int k = 0; k < n_threads; k++) {
        if (jobs[k].rc < 0) {
            rc = temper__error(jobs[k].rc, "%s", jobs[k].err);
            goto done;
        }
    }
    for (int k = 0; k < n_threads && rc >= 0; k++) {
        for (size_t i = 0; i < jobs[k].out.n && rc >= 0; i++)
            rc = temper__ids_push(&out, jobs[k].out.ids[i], jobs[k].out.offs[2 * i],
                                  jobs[k].out.offs[2 * i + 1]);
    }
    if (rc >= 0) rc = temper__deliver(tok, &out, flags, ids, offsets, cap);
done:
    for (int k = 0; jobs && k < n_threads; k++) temper__ids_free(&jobs[k].out);
    free(jobs);
    free(th);
    free(split);
    free(pc);
    free(starts);
    temper__ids_free(&out);
    return rc;
}

int temper_tokenize_alloc(const temper_tokenizer *tok, const char *text, size_t len, int flags,
                          temper_token **ids, int32_t **offsets) {
    if (!ids) return temper__error(TEMPER_EINVAL, "temper_tokenize_alloc: ids is NULL");
    *ids = NULL;
    if (offsets) *offsets = NULL;
    /* a first guess (most texts need fewer tokens than bytes / 2), then the size asked for */
    int cap = len / 2 + 16 < 1 << 20 ? (int)(len / 2 + 16) : 1 << 20;
    for (;;) {
        temper_token *t = malloc(sizeof *t * (size_t)cap);
        int32_t *o = offsets ? malloc(sizeof *o * 2 * (size_t)cap) : NULL;
        if (!t || (offsets && !o)) {
            free(t);
            free(o);
            return temper__error(TEMPER_ENOMEM, "out of memory for %d tokens", cap);
        }
        int n = temper_tokenize(tok, text, len, flags, t, o, cap);
        if (n >= 0 && n <= cap) {
            *ids = t;
            if (offsets) *offsets = o;
            return n;
        }
        free(t);
        free(o);
        if (n < 0) return n;
        cap = n;
    }
}

void temper_free(void *p) { free(p); }
