/*
 * split.c - HF's Split pre-tokenizer (a Regex or String pattern), run before
 * ByteLevel as in Llama 3's
 *   Sequence[Split(Regex, "Isolated", invert false), ByteLevel(use_regex false)].
 *
 * HF finds the matches with Oniguruma (the onig crate's find_iter), marks the
 * text between them as non-matches, flips the marks when invert is true, then
 * groups the parts by the behaviour:
 *   Isolated            every part is a piece
 *   Removed             matches are dropped
 *   MergedWithPrevious  a match joins the part before it
 *   MergedWithNext      a match joins the part after it
 *   Contiguous          runs of parts with the same mark join
 * and drops empty pieces. ByteLevel then sees each piece on its own.
 *
 * temper uses PCRE2 (UTF, UCP, JIT when available). The pattern is rewritten
 * where the two engines differ:
 *   \s \S   Oniguruma: Unicode White_Space; PCRE2 \s also takes U+180E
 *           -> \p{White_Space} / \P{White_Space}
 *   ^ $     Oniguruma: line anchors (LF) -> PCRE2_MULTILINE, newline LF
 * and refused (TEMPER_EUNSUPPORTED) where a rewrite is not worth it: \w \W
 * \b \B \h \H \Q, POSIX brackets and nested classes or && in a class, {,n},
 * and inline options other than i. Letters and numbers (\p{L}, \p{N}) come
 * from PCRE2's Unicode tables (14.0 in Debian 12): characters that newer
 * Unicode versions made letters or numbers can split differently.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/encode.h"

enum {
    TEMPER__SPLIT_ISOLATED,
    TEMPER__SPLIT_REMOVED,
    TEMPER__SPLIT_MERGED_PREV,
    TEMPER__SPLIT_MERGED_NEXT,
    TEMPER__SPLIT_CONTIGUOUS,
};

static const char *const temper__behaviors[] = {"Isolated", "Removed", "MergedWithPrevious",
                                                "MergedWithNext", "Contiguous"};

/* Llama 3's pattern: its matches tile the text and always end at a U+0020
 * between two ASCII letters, so temper_tokenize_parallel may cut there. */
static const char temper__llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct temper__split {
    pcre2_code *code; /* owned */
    int behavior;     /* TEMPER__SPLIT_* */
    bool invert;
    bool cut_safe;
};

/* One part of the text: [start, end) and whether it is a match. */
typedef struct temper__split_part {
    size_t start, end;
    bool match;
} temper__split_part;

struct temper__split_work {
    pcre2_match_data *md;     /* owned, for tok->split->code */
    temper__split_part *part; /* (cap) */
    temper__piece *pc;        /* (cap) the pieces handed to encode.c */
    size_t cap;
};

void temper__split_free(temper__split *sp) {
    if (!sp) return;
    pcre2_code_free(sp->code);
    free(sp);
}

void temper__split_work_free(temper__split_work *w) {
    if (!w) return;
    pcre2_match_data_free(w->md);
    free(w->part);
    free(w->pc);
    free(w);
}

bool temper__split_cut_safe(const temper__split *sp) { return sp->cut_safe; }

/* Growable string for the rewritten pattern. */
typedef struct temper__sbuf {
    char *p;
    size_t n, cap;
} temper__sbuf;

static int temper__sbuf_add(temper__sbuf *s, const char *src, size_t len) {
    if (s->n + len + 1 > s->cap) {
        size_t cap = 2 * (s->n + len + 1);
        char *p = realloc(s->p, cap);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory");
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->n, src, len);
    s->n += len;
    s->p[s->n] = '\0';
    return 0;
}

/* Copy pat[i..] up to and including the next '}' (a \p{..} or \x{..}). */
static size_t temper__braced_end(const char *pat, size_t i) {
    if (pat[i] != '{') return i;
    while (pat[i] && pat[i] != '}') i++;
    return pat[i] ? i + 1 : i;
}

/* Oniguruma pattern -> PCRE2 pattern with the same meaning (see the top).
 * *out is malloc'd, owned by the caller. */
static int temper__onig_to_pcre2(const char *path, const char *pat, char **out) {
    temper__sbuf s = {0};
    bool in_class = false;
    size_t class_body = 0; /* where the class's content starts (a ']' there is literal) */
    int rc = temper__sbuf_add(&s, "", 0);
    const char *why = NULL;
    for (size_t i = 0; pat[i] && rc >= 0 && !why;) {
        char c = pat[i];
        size_t j = i + 1;
        if (c == '\\' && pat[i + 1]) {
            char d = pat[i + 1];
            j = i + 2;
            if (d == 's' || d == 'S') {
                const char *rep = d == 's' ? "\\p{White_Space}" : "\\P{White_Space}";
                rc = temper__sbuf_add(&s, rep, strlen(rep));
                i = j;
                continue;
            }
            if (strchr("wWbBhHQ", d)) {
                why = d == 'Q' ? "\\Q" : d == 'w' ? "\\w" : d == 'W' ? "\\W" : d == 'b' ? "\\b"
                    : d == 'B' ? "\\B" : d == 'h' ? "\\h" : "\\H";
                break;
            }
            if (d == 'p' || d == 'P' || d == 'x') j = temper__braced_end(pat, j);
        } else if (in_class) {
            if (c == '[') why = pat[i + 1] == ':' ? "a POSIX bracket [:...:]" : "a nested class";
            else if (c == '&' && pat[i + 1] == '&') why = "a class intersection &&";
            else if (c == ']' && i > class_body) in_class = false;
        } else if (c == '[') {
            in_class = true;
            if (pat[j] == '^') j++;
            class_body = j + (pat[j] == ']'); /* "[]" and "[^]": the ']' is a member */
        } else if (c == '{' && pat[i + 1] == ',') {
            why = "a repeat {,n}";
        } else if (c == '(' && pat[i + 1] == '?') {
            /* inline options (?flags) or (?flags:...): only i means the same */
            size_t k = i + 2;
            while (pat[k] && strchr("imsxWDSPy-", pat[k])) k++;
            if (k > i + 2 && (pat[k] == ')' || pat[k] == ':')) {
                for (size_t q = i + 2; q < k; q++)
                    if (pat[q] != 'i' && pat[q] != '-') why = "an inline option other than i";
            }
        }
        if (!why) rc = temper__sbuf_add(&s, pat + i, j - i);
        i = j;
    }
    if (rc >= 0 && why)
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: Split pattern \"%s\" uses %s, which Oniguruma "
                           "(Hugging Face's regex engine) and PCRE2 read differently: not "
                           "supported", path, pat, why);
    if (rc < 0) {
        free(s.p);
        return rc;
    }
    *out = s.p;
    return 0;
}

static int temper__split_compile(temper__split *sp, const char *path, const char *pat,
                                 bool literal) {
    char *rewritten = NULL;
    int rc = 0;
    if (!literal && (rc = temper__onig_to_pcre2(path, pat, &rewritten)) < 0) return rc;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        free(rewritten);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_MULTILINE);
    int err;
    PCRE2_SIZE at;
    sp->code = pcre2_compile((PCRE2_SPTR)(literal ? pat : rewritten), PCRE2_ZERO_TERMINATED,
                             opts, &err, &at, cc);
    pcre2_compile_context_free(cc);
    if (!sp->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s: Split pattern \"%s\" does not compile in "
                           "PCRE2 (at byte %zu of \"%s\"): %s", path, pat, (size_t)at,
                           literal ? pat : rewritten, (const char *)msg);
    } else {
        pcre2_jit_compile(sp->code, PCRE2_JIT_COMPLETE); /* failing: the interpreter runs */
    }
    free(rewritten);
    return rc;
}

int temper__split_read_json(temper_tokenizer *tok, const char *path, const cJSON *pt) {
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pattern, "Regex");
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(pattern, "String");
    if (!cJSON_IsString(re) && !cJSON_IsString(str))
        return temper__error(TEMPER_EFORMAT, "%s: Split pre-tokenizer without a \"pattern\" "
                             "{\"Regex\": ...} or {\"String\": ...}", path);
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
    const char *bname = cJSON_IsString(beh) ? beh->valuestring : "(none)";
    int b = -1;
    for (int k = 0; k < (int)(sizeof temper__behaviors / sizeof *temper__behaviors); k++)
        if (strcmp(bname, temper__behaviors[k]) == 0) b = k;
    if (b < 0)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: Split behavior \"%s\" is not supported "
                             "(Isolated, Removed, MergedWithPrevious, MergedWithNext, "
                             "Contiguous are)", path, bname);
    if (tok->split)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: more than one Split pre-tokenizer is not "
                             "supported", path);
    temper__split *sp = calloc(1, sizeof *sp);
    if (!sp) return temper__error(TEMPER_ENOMEM, "out of memory");
    const cJSON *inv = cJSON_GetObjectItemCaseSensitive(pt, "invert");
    sp->behavior = b;
    sp->invert = cJSON_IsTrue(inv);
    bool literal = !cJSON_IsString(re);
    const char *pat = literal ? str->valuestring : re->valuestring;
    int rc = temper__split_compile(sp, path, pat, literal);
    if (rc < 0) {
        temper__split_free(sp);
        return rc;
    }
    sp->cut_safe = !literal && !sp->invert && (b == TEMPER__SPLIT_ISOLATED) &&
                   strcmp(pat, temper__llama3_pattern) == 0;
    tok->split = sp; /* owned by tok */
    return 0;
}

static int temper__split_reserve(temper__split_work *w, size_t n) {
    if (n <= w->cap) return 0;
    size_t cap = n < 64 ? 64 : n + n / 2;
    temper__split_part *part = realloc(w->part, cap * sizeof *part);
    if (part) w->part = part;
    temper__piece *pc = realloc(w->pc, cap * sizeof *pc);
    if (pc) w->pc = pc;
    if (!part || !pc) return temper__error(TEMPER_ENOMEM, "out of memory splitting a text");
    w->cap = cap;
    return 0;
}

/* Append a part (non-empty or a match) to w->part[*n]. */
static int temper__split_part_add(temper__split_work *w, size_t *n, size_t start, size_t end,
                                  bool match) {
    int rc = temper__split_reserve(w, *n + 1);
    if (rc < 0) return rc;
    w->part[(*n)++] = (temper__split_part){start, end, match};
    return 0;
}

/* The matches of the pattern in s[0..n) and the text between them, as the
 * onig crate's find_iter gives them: an empty match right where the last
 * match ended is skipped and the search resumes one character later. */
static int temper__split_find(const temper__split *sp, temper__split_work *w, const uint8_t *s,
                              size_t n, size_t *n_part) {
    size_t prev = 0, from = 0, last_end = (size_t)-1;
    *n_part = 0;
    while (from <= n) {
        int m = pcre2_match(sp->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, w->md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            return temper__error(TEMPER_ERANGE, "the Split pre-tokenizer's regex failed at byte "
                                 "%zu: %s", from, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t ms = ov[0], me = ov[1];
        if (ms == me && me == last_end) {
            from++;
            while (from < n && (s[from] & 0xC0) == 0x80) from++;
            continue;
        }
        int rc;
        if (prev != ms && (rc = temper__split_part_add(w, n_part, prev, ms, false)) < 0) return rc;
        if ((rc = temper__split_part_add(w, n_part, ms, me, true)) < 0) return rc;
        prev = from = last_end = me;
    }
    if (prev != n) return temper__split_part_add(w, n_part, prev, n, false);
    return 0;
}

int temper__split_segment(temper__enc *e, const uint8_t *text, size_t a, size_t b,
                          const temper__piece **pieces, size_t *n_pieces) {
    const temper__split *sp = e->tok->split;
    temper__split_work *w = e->split;
    if (!w) {
        w = e->split = calloc(1, sizeof *w); /* owned by e */
        if (!w) return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    if (!w->md && !(w->md = pcre2_match_data_create_from_pattern(sp->code, NULL)))
        return temper__error(TEMPER_ENOMEM, "out of memory");
    size_t np = 0, n = 0;
    int rc = temper__split_find(sp, w, text + a, b - a, &np);
    if (rc < 0) return rc;
    temper__split_part *part = w->part;
    for (size_t k = 0; k < np; k++) part[k].match ^= sp->invert;
    /* group the parts into pieces (positions in text[a..b)) */
    temper__piece *pc = w->pc;
    switch (sp->behavior) {
    case TEMPER__SPLIT_ISOLATED:
    case TEMPER__SPLIT_REMOVED:
        for (size_t k = 0; k < np; k++)
            if (!(part[k].match && sp->behavior == TEMPER__SPLIT_REMOVED))
                pc[n++] = (temper__piece){-1, part[k].start, part[k].end};
        break;
    case TEMPER__SPLIT_CONTIGUOUS:
    case TEMPER__SPLIT_MERGED_PREV: {
        bool prev_match = false, contiguous = sp->behavior == TEMPER__SPLIT_CONTIGUOUS;
        for (size_t k = 0; k < np; k++) {
            bool join = contiguous ? part[k].match == prev_match : part[k].match && !prev_match;
            if (join && n > 0) pc[n - 1].end = part[k].end;
            else pc[n++] = (temper__piece){-1, part[k].start, part[k].end};
            prev_match = part[k].match;
        }
        break;
    }
    case TEMPER__SPLIT_MERGED_NEXT: { /* built back to front, then reversed */
        bool prev_match = false;
        for (size_t k = np; k-- > 0;) {
            if (part[k].match && !prev_match && n > 0) pc[n - 1].start = part[k].start;
            else pc[n++] = (temper__piece){-1, part[k].start, part[k].end};
            prev_match = part[k].match;
        }
        for (size_t i = 0; i < n / 2; i++) {
            temper__piece t = pc[i];
            pc[i] = pc[n - 1 - i];
            pc[n - 1 - i] = t;
        }
        break;
    }
    }
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (pc[k].start == pc[k].end) continue; /* HF drops empty pieces */
        pc[kept++] = (temper__piece){-1, a + pc[k].start, a + pc[k].end};
    }
    *pieces = pc;
    *n_pieces = kept;
    return 0;
}
