/*
 * model_json.c - the two large members of a tokenizer.json, model.vocab
 * ({token: id}, 50k-250k entries) and model.merges, read with json_scan.c
 * in one pass each: cJSON would allocate a node and a string per entry,
 * which was most of the load time. load_json.c gives cJSON a copy of the
 * file with these two members blanked out and calls the readers below;
 * the merge helpers are shared with its cJSON path.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* Merge a + b, of the given rank, into the merge table (buf: scratch). */
int temper__add_merge(temper_tokenizer *tok, const char *path, int rank, const char *a,
                             size_t la, const char *b, size_t lb, char **buf, size_t *cap) {
    if (la + lb + 1 > *cap) {
        size_t c = 2 * (la + lb + 1);
        char *p = realloc(*buf, c);
        if (!p) return temper__error(TEMPER_ENOMEM, "out of memory");
        *buf = p;
        *cap = c;
    }
    memcpy(*buf, a, la);
    memcpy(*buf + la, b, lb);
    int ia = temper__vocab_find(tok, a, la), ib = temper__vocab_find(tok, b, lb);
    int im = temper__vocab_find(tok, *buf, la + lb);
    if (ia < 0 || ib < 0 || im < 0)
        return temper__error(TEMPER_EFORMAT, "%s: merge %d \"%.*s\" + \"%.*s\": token \"%.*s\" is "
                             "not in the vocabulary", path, rank + 1, (int)la, a, (int)lb, b,
                             ia < 0 ? (int)la : ib < 0 ? (int)lb : (int)(la + lb),
                             ia < 0 ? a : ib < 0 ? b : *buf);
    temper__merges_put(tok, ia, ib, rank, im);
    return 0;
}

/* "a b" (len bytes) split at its one space into *la and *b, *lb. */
int temper__split_merge(const char *path, int rank, const char *s, size_t len, size_t *la,
                               const char **b, size_t *lb) {
    const char *sp = memchr(s, ' ', len);
    if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
        return temper__error(TEMPER_EFORMAT, "%s: merge %d \"%s\" is not two tokens separated by "
                             "one space", path, rank + 1, s);
    *la = (size_t)(sp - s);
    *b = sp + 1;
    *lb = len - *la - 1;
    return 0;
}

static int temper__malformed(const char *path, const char *what, const char *text, const char *at) {
    return temper__error(TEMPER_EFORMAT, "%s: %s is not valid JSON (near byte %ld)", path, what,
                         (long)(at - text));
}

/* After an element at *p: a ',' (skipped) or the closing char. */
static int temper__next_element(const char **p, char close) {
    *p = temper__json_ws(*p);
    if (**p == ',') {
        *p = temper__json_ws(*p + 1);
        return **p != close; /* no trailing comma */
    }
    return **p == close;
}

static uint32_t temper__fnv(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < len; k++) h = (h ^ (uint8_t)s[k]) * 16777619u;
    return h;
}

/* model.vocab from its text (p at '{') into vb; *count: its entries. For
 * each added token content added[k] (n_added), model_id[k] gets the id of
 * the first entry with that text, or -1 (cJSON's lookup of it). */
int temper__scan_vocab(const char *path, const char *text, const char *p,
                              temper__vocab_builder *vb, const char *const *added, int n_added,
                              int *model_id, int *count) {
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)n_added) slots <<= 1;
    int *map = malloc(sizeof(int) * slots); /* added index + 1, 0: empty */
    char *buf = NULL;
    size_t cap = 0, len;
    int rc = map ? 0 : temper__error(TEMPER_ENOMEM, "out of memory");
    if (map) memset(map, 0, sizeof(int) * slots);
    for (int k = 0; k < n_added && rc == 0; k++) {
        model_id[k] = -1;
        uint32_t h = temper__fnv(added[k], strlen(added[k])) & (slots - 1);
        while (map[h]) h = (h + 1) & (slots - 1);
        map[h] = k + 1;
    }
    *count = 0;
    p = temper__json_ws(p + 1);
    while (rc == 0 && *p != '}') {
        const char *q = temper__json_string(p, &buf, &cap, &len);
        if (!q || *(q = temper__json_ws(q)) != ':') {
            rc = temper__malformed(path, "model.vocab", text, q ? q : p);
            break;
        }
        p = temper__json_ws(q + 1);
        len = strlen(buf); /* as cJSON keys: up to an escaped NUL */
        const char *end = p;
        int64_t id = 0;
        while (*end >= '0' && *end <= '9' && id <= TEMPER__MAX_TOKEN_ID) id = 10 * id + (*end++ - '0');
        if (end == p || !strchr(",} \t\n\r", *end)) { /* not a plain integer: 1e3, 1.5, -1, 4294967297 */
            char *e2;
            double d = strtod(p, &e2);
            end = e2;
            if (end == p || !temper__double_to_i64(d, 0, TEMPER__MAX_TOKEN_ID, &id)) {
                if (end == p) rc = temper__error(TEMPER_EFORMAT, "%s: vocab entry \"%s\" has no id", path, buf);
                else rc = temper__error(TEMPER_EFORMAT, "%s: vocab entry \"%s\" has id %.*s: ids are whole "
                                        "numbers from 0 to %d", path, buf, (int)(end - p), p,
                                        TEMPER__MAX_TOKEN_ID);
                break;
            }
        }
        p = end;
        if ((rc = temper__vb_set(vb, (int)id, buf, len)) < 0) break;
        for (uint32_t h = temper__fnv(buf, len) & (slots - 1); map[h]; h = (h + 1) & (slots - 1)) {
            int k = map[h] - 1;
            if (model_id[k] < 0 && strcmp(added[k], buf) == 0) model_id[k] = (int)id;
        }
        ++*count;
        if (!temper__next_element(&p, '}')) rc = temper__malformed(path, "model.vocab", text, p);
    }
    free(buf);
    free(map);
    return rc;
}

/* model.merges from its text (p at '['): "a b" strings or ["a", "b"].
 * The pairs are unescaped into one pool first (their count sizes the merge
 * table), then resolved. */
int temper__scan_merges(temper_tokenizer *tok, const char *path, const char *text,
                               const char *p) {
    char *pool = NULL, *sa = NULL, *sb = NULL, *buf = NULL;
    size_t used = 0, pool_cap = 0, ca = 0, cb = 0, cap = 0, la, lb;
    int n = 0, rc = 0;
    p = temper__json_ws(p + 1);
    for (; rc == 0 && *p != ']'; n++) {
        const char *b;
        if (*p == '"') {
            const char *q = temper__json_string(p, &sa, &ca, &la);
            if (!q) {
                rc = temper__malformed(path, "model.merges", text, p);
                break;
            }
            p = q;
            if ((rc = temper__split_merge(path, n, sa, strlen(sa), &la, &b, &lb)) < 0) break;
        } else {
            const char *q = *p == '[' ? temper__json_string(temper__json_ws(p + 1), &sa, &ca, &la) : NULL;
            if (q && *(q = temper__json_ws(q)) == ',')
                q = temper__json_string(temper__json_ws(q + 1), &sb, &cb, &lb);
            else q = NULL;
            if (!q || *(q = temper__json_ws(q)) != ']') {
                rc = temper__error(TEMPER_EFORMAT, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]",
                                   path, n + 1);
                break;
            }
            p = q + 1;
            la = strlen(sa);
            lb = strlen(sb);
            b = sb;
        }
        /* pool record: la, lb (size_t each), then the bytes of a and b */
        size_t need = used + 2 * sizeof(size_t) + la + lb;
        if (need > pool_cap) {
            size_t c = pool_cap ? 2 * pool_cap : 1 << 20;
            while (c < need) c *= 2;
            char *np = realloc(pool, c);
            if (!np) {
                rc = temper__error(TEMPER_ENOMEM, "out of memory reading the merges");
                break;
            }
            pool = np;
            pool_cap = c;
        }
        memcpy(pool + used, &la, sizeof la);
        memcpy(pool + used + sizeof la, &lb, sizeof lb);
        memcpy(pool + used + 2 * sizeof la, sa, la);
        memcpy(pool + used + 2 * sizeof la + la, b, lb);
        used = need;
        if (!temper__next_element(&p, ']')) rc = temper__malformed(path, "model.merges", text, p);
    }
    if (rc == 0) rc = temper__merges_init(tok, n);
    for (size_t at = 0, rank = 0; rc == 0 && at < used; rank++) {
        memcpy(&la, pool + at, sizeof la);
        memcpy(&lb, pool + at + sizeof la, sizeof lb);
        const char *a = pool + at + 2 * sizeof la;
        rc = temper__add_merge(tok, path, (int)rank, a, la, a + la, lb, &buf, &cap);
        at += 2 * sizeof la + la + lb;
    }
    free(pool);
    free(sa);
    free(sb);
    free(buf);
    return rc;
}

/* Where model.vocab ({...}) and model.merges ([...]) are in text; 0 if they
 * are not both there (cJSON then reads the file whole and says what is
 * wrong). */
int temper__model_spans(const char *text, const char *span[4]) {
    static const char *const root_keys[1] = {"model"}, *const model_keys[2] = {"vocab", "merges"};
    const char *model[2];
    if (temper__json_members(text, root_keys, 1, model) < 0 || !model[0] || *model[0] != '{' ||
        temper__json_members(model[0], model_keys, 2, span) < 0)
        return 0;
    return span[0] && span[2] && *span[0] == '{' && *span[2] == '[';
}

/* A copy of text with [b, e) replaced by an empty container and spaces. */
void temper__blank(char *copy, const char *text, const char *b, const char *e) {
    char *o = copy + (b - text);
    size_t n = (size_t)(e - b);
    char close = o[n - 1];
    memset(o + 1, ' ', n - 2);
    o[n - 1] = close;
}

