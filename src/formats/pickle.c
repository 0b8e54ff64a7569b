/*
 * pickle.c - a restricted unpickler (see pickle.h). The machine is
 * CPython's: a stack of values, a stack of marks (MARK opcodes, which
 * TUPLE, SETITEMS, APPENDS... collect up to), and a memo table (BINPUT
 * stores the top of the stack under a key, BINGET pushes it again, which
 * is how shared objects such as a storage used by two tensors come back as
 * one value). Every opcode that would run code (GLOBAL outside the
 * allow-list, INST, OBJ, EXT*, PERSID in text form...) is refused.
 *
 * Opcodes read (byte, name, argument):
 *   0x80 PROTO u8         0x95 FRAME u64        '.' STOP
 *   '(' MARK   '0' POP    '1' POP_MARK          '2' DUP
 *   'N' NONE   0x88 NEWTRUE  0x89 NEWFALSE
 *   'J' BININT i32   'K' BININT1 u8   'M' BININT2 u16
 *   0x8a LONG1 u8 n + n bytes   0x8b LONG4 u32 n + n bytes (two's complement, LE)
 *   'G' BINFLOAT f64 big-endian
 *   'X' BINUNICODE u32   0x8c SHORT_BINUNICODE u8   0x8d BINUNICODE8 u64
 *   'T' BINSTRING u32  'U' SHORT_BINSTRING u8  'B' BINBYTES u32
 *   'C' SHORT_BINBYTES u8  0x8e BINBYTES8 u64            (then that many bytes)
 *   ')' EMPTY_TUPLE  't' TUPLE  0x85 TUPLE1  0x86 TUPLE2  0x87 TUPLE3
 *   ']' EMPTY_LIST   'l' LIST   'a' APPEND   'e' APPENDS
 *   '}' EMPTY_DICT   'd' DICT   's' SETITEM  'u' SETITEMS
 *   'q' BINPUT u8  'r' LONG_BINPUT u32  0x94 MEMOIZE  'h' BINGET u8  'j' LONG_BINGET u32
 *   'c' GLOBAL "module\nname\n"   0x93 STACK_GLOBAL
 *   'R' REDUCE   0x81 NEWOBJ   'b' BUILD   'Q' BINPERSID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pickle.h"

typedef struct temper__pk_vm {
    temper__pickle *p;
    const char *what;
    const uint8_t *d;
    size_t size, pos, op_pos;
    temper__pk_value **stack; /* (sp) borrowed values */
    int sp, cap;
    int *marks;               /* (n_marks) stack heights at each MARK */
    int n_marks, cap_marks;
    temper__pk_value **memo;  /* (n_memo) borrowed, NULL where unset */
    size_t n_memo, memo_count; /* capacity, keys set */
    const temper__pk_global *allowed;
    int n_allowed;
} temper__pk_vm;

const char *temper__pk_kind_name(temper__pk_kind k) {
    static const char *names[] = {"None",  "a bool",   "an int",   "a float",
                                  "a string", "a tuple", "a list", "a dict",
                                  "a global", "an object", "a persistent id", "a mark"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static int temper__pk_fail(temper__pk_vm *vm, const char *why) {
    return temper__error(TEMPER_EFORMAT,
                         "%s: corrupt pickle at byte %zu: %s (truncated or damaged file: download "
                         "it again)",
                         vm->what, vm->op_pos, why);
}

static temper__pk_value *temper__pk_new(temper__pk_vm *vm, temper__pk_kind kind) {
    temper__pickle *p = vm->p;
    if (p->n_values == p->cap_values) {
        int cap = p->cap_values ? p->cap_values * 2 : 256;
        temper__pk_value **v = realloc(p->values, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        p->values = v;
        p->cap_values = cap;
    }
    temper__pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    p->values[p->n_values++] = v;
    return v;
}

static int temper__pk_add(temper__pk_value *c, temper__pk_value *item) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        temper__pk_value **it = realloc(c->items, (size_t)cap * sizeof *it);
        if (!it) return temper__error(TEMPER_ENOMEM, "out of memory");
        c->items = it;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    return 0;
}

static int temper__pk_push(temper__pk_vm *vm, temper__pk_value *v) {
    if (!v) return temper__error(TEMPER_ENOMEM, "out of memory");
    if (vm->sp == vm->cap) {
        int cap = vm->cap ? vm->cap * 2 : 64;
        temper__pk_value **s = realloc(vm->stack, (size_t)cap * sizeof *s);
        if (!s) return temper__error(TEMPER_ENOMEM, "out of memory");
        vm->stack = s;
        vm->cap = cap;
    }
    vm->stack[vm->sp++] = v;
    return 0;
}

/* Height below which the current mark forbids popping. */
static int temper__pk_floor(const temper__pk_vm *vm) {
    return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
}

static temper__pk_value *temper__pk_pop(temper__pk_vm *vm) {
    return vm->sp > temper__pk_floor(vm) ? vm->stack[--vm->sp] : NULL;
}

static temper__pk_value *temper__pk_top(temper__pk_vm *vm) {
    return vm->sp > temper__pk_floor(vm) ? vm->stack[vm->sp - 1] : NULL;
}

/* Pop the last mark: the values above it are stack[*start .. sp). */
static int temper__pk_pop_mark(temper__pk_vm *vm, int *start) {
    if (!vm->n_marks) return temper__pk_fail(vm, "no MARK to collect up to");
    *start = vm->marks[--vm->n_marks];
    return 0;
}

static int temper__pk_need(temper__pk_vm *vm, uint64_t n) {
    return n <= vm->size - vm->pos ? 0 : temper__pk_fail(vm, "the pickle ends inside an opcode");
}

static uint64_t temper__pk_uint(temper__pk_vm *vm, int nbytes) {
    uint64_t v = 0;
    for (int k = nbytes - 1; k >= 0; k--) v = v << 8 | vm->d[vm->pos + (size_t)k];
    vm->pos += (size_t)nbytes;
    return v;
}

/* Push an INT. */
static int temper__pk_push_int(temper__pk_vm *vm, int64_t i) {
    temper__pk_value *v = temper__pk_new(vm, TEMPER__PK_INT);
    if (v) v->i = i;
    return temper__pk_push(vm, v);
}

/* LONG1/LONG4: n bytes of little-endian two's complement. */
static int temper__pk_long(temper__pk_vm *vm, uint64_t n) {
    int rc = temper__pk_need(vm, n);
    if (rc < 0) return rc;
    if (n > 8)
        return temper__error(TEMPER_EUNSUPPORTED, "%s: pickle integer of %llu bytes at byte %zu: "
                             "temper reads integers of up to 64 bits", vm->what,
                             (unsigned long long)n, vm->op_pos);
    uint64_t u = temper__pk_uint(vm, (int)n);
    if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return temper__pk_push_int(vm, (int64_t)u);
}

static int temper__pk_string(temper__pk_vm *vm, uint64_t n) {
    int rc = temper__pk_need(vm, n);
    if (rc < 0) return rc;
    temper__pk_value *v = temper__pk_new(vm, TEMPER__PK_STR);
    if (!v || !(v->s = malloc((size_t)n + 1))) return temper__error(TEMPER_ENOMEM, "out of memory");
    memcpy(v->s, vm->d + vm->pos, (size_t)n);
    v->s[n] = '\0';
    v->len = (size_t)n;
    vm->pos += (size_t)n;
    return temper__pk_push(vm, v);
}

/* A container of kind from the values stack[start .. sp), which it takes. */
static int temper__pk_collect(temper__pk_vm *vm, temper__pk_kind kind, int start) {
    temper__pk_value *v = temper__pk_new(vm, kind);
    if (!v) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (int k = start; k < vm->sp; k++) {
        int rc = temper__pk_add(v, vm->stack[k]);
        if (rc < 0) return rc;
    }
    vm->sp = start;
    return temper__pk_push(vm, v);
}

/* GLOBAL / STACK_GLOBAL: only names on the allow-list become values. */
static int temper__pk_load_global(temper__pk_vm *vm, const char *module, size_t mlen, const char *name,
                             size_t nlen) {
    for (int g = 0; g < vm->n_allowed; g++) {
        const temper__pk_global *a = &vm->allowed[g];
        if (strlen(a->module) == mlen && memcmp(a->module, module, mlen) == 0 &&
            strlen(a->name) == nlen && memcmp(a->name, name, nlen) == 0) {
            temper__pk_value *v = temper__pk_new(vm, TEMPER__PK_GLOBAL);
            if (v) v->g = g;
            return temper__pk_push(vm, v);
        }
    }
    /* Keep the name printable: a damaged file could put anything there. */
    char shown[160];
    size_t k = 0;
    for (size_t i = 0; i < mlen + 1 + nlen && k + 1 < sizeof shown; i++) {
        char c = i < mlen ? module[i] : i == mlen ? '.' : name[i - mlen - 1];
        shown[k++] = (c >= 32 && c < 127) ? c : '?';
    }
    shown[k] = '\0';
    return temper__error(TEMPER_EUNSUPPORTED,
                         "%s: refusing to load global %s: temper reads plain state dicts only; this "
                         "file may contain code (nothing was run). If you trust it, convert it to "
                         "model.safetensors with Python",
                         vm->what, shown);
}

/* REDUCE / NEWOBJ: record the call of an allowed global; build an empty
 * dict for a dict factory called without arguments. */
static int temper__pk_reduce(temper__pk_vm *vm) {
    temper__pk_value *args = temper__pk_pop(vm), *fn = temper__pk_pop(vm);
    if (!args || !fn) return temper__pk_fail(vm, "REDUCE needs a callable and its arguments");
    if (fn->kind != TEMPER__PK_GLOBAL || args->kind != TEMPER__PK_TUPLE)
        return temper__pk_fail(vm, "REDUCE of something that is not a global with a tuple");
    if (vm->allowed[fn->g].makes_dict) {
        if (args->n != 0)
            return temper__error(TEMPER_EUNSUPPORTED, "%s: %s.%s called with arguments at byte %zu: "
                                 "temper reads plain state dicts only", vm->what,
                                 vm->allowed[fn->g].module, vm->allowed[fn->g].name, vm->op_pos);
        return temper__pk_push(vm, temper__pk_new(vm, TEMPER__PK_DICT));
    }
    temper__pk_value *v = temper__pk_new(vm, TEMPER__PK_CALL);
    if (!v) return temper__error(TEMPER_ENOMEM, "out of memory");
    v->g = fn->g;
    int rc = temper__pk_add(v, args);
    return rc < 0 ? rc : temper__pk_push(vm, v);
}

static int temper__pk_memo_put(temper__pk_vm *vm, uint64_t key) {
    temper__pk_value *top = vm->sp > 0 ? vm->stack[vm->sp - 1] : NULL;
    if (!top) return temper__pk_fail(vm, "memo store with an empty stack");
    /* Keys count the memoized objects: a key past the pickle's length is
     * damage, not a reason to allocate gigabytes. */
    if (key >= vm->size) return temper__pk_fail(vm, "memo key out of range");
    if (key >= vm->n_memo) {
        size_t n = vm->n_memo ? vm->n_memo : 64;
        while (n <= key) n *= 2;
        temper__pk_value **m = realloc(vm->memo, n * sizeof *m);
        if (!m) return temper__error(TEMPER_ENOMEM, "out of memory");
        memset(m + vm->n_memo, 0, (n - vm->n_memo) * sizeof *m);
        vm->memo = m;
        vm->n_memo = n;
    }
    if (!vm->memo[key]) vm->memo_count++;
    vm->memo[key] = top;
    return 0;
}

static int temper__pk_memo_get(temper__pk_vm *vm, uint64_t key) {
    if (key >= vm->n_memo || !vm->memo[key]) return temper__pk_fail(vm, "memo key never stored");
    return temper__pk_push(vm, vm->memo[key]);
}

/* SETITEM(S) into the dict below the mark (or below the pair). */
static int temper__pk_setitems(temper__pk_vm *vm, int start) {
    if ((vm->sp - start) % 2) return temper__pk_fail(vm, "SETITEMS with an odd number of values");
    if (start < 1 || start <= temper__pk_floor(vm)) return temper__pk_fail(vm, "SETITEMS without a dict");
    temper__pk_value *dict = vm->stack[start - 1];
    if (dict->kind != TEMPER__PK_DICT) return temper__pk_fail(vm, "SETITEMS on something that is not a dict");
    for (int k = start; k < vm->sp; k++) {
        int rc = temper__pk_add(dict, vm->stack[k]);
        if (rc < 0) return rc;
    }
    vm->sp = start;
    return 0;
}

static int temper__pk_appends(temper__pk_vm *vm, int start) {
    if (start < 1 || start <= temper__pk_floor(vm)) return temper__pk_fail(vm, "APPENDS without a list");
    temper__pk_value *list = vm->stack[start - 1];
    if (list->kind != TEMPER__PK_LIST) return temper__pk_fail(vm, "APPENDS on something that is not a list");
    for (int k = start; k < vm->sp; k++) {
        int rc = temper__pk_add(list, vm->stack[k]);
        if (rc < 0) return rc;
    }
    vm->sp = start;
    return 0;
}

/* One opcode; *done is set by STOP. */
static int temper__pk_step(temper__pk_vm *vm, const temper__pk_value **root, int *done) {
    vm->op_pos = vm->pos;
    int rc = temper__pk_need(vm, 1);
    if (rc < 0) return temper__pk_fail(vm, "the pickle ends without STOP");
    uint8_t op = vm->d[vm->pos++];
    temper__pk_value *a, *b;
    int start = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        if (vm->d[vm->pos] > 5) return temper__pk_fail(vm, "unknown pickle protocol");
        vm->pos++;
        return 0;
    case 0x95: /* FRAME: a length hint only */
        if ((rc = temper__pk_need(vm, 8)) < 0) return rc;
        vm->pos += 8;
        return 0;
    case '.': /* STOP */
        if (!(a = temper__pk_pop(vm))) return temper__pk_fail(vm, "STOP with an empty stack");
        *root = a;
        *done = 1;
        return 0;
    case '(': /* MARK */
        if (vm->n_marks == vm->cap_marks) {
            int cap = vm->cap_marks ? vm->cap_marks * 2 : 16;
            int *m = realloc(vm->marks, (size_t)cap * sizeof *m);
            if (!m) return temper__error(TEMPER_ENOMEM, "out of memory");
            vm->marks = m;
            vm->cap_marks = cap;
        }
        vm->marks[vm->n_marks++] = vm->sp;
        return 0;
    case '0': /* POP */
        if (temper__pk_pop(vm)) return 0;
        if (vm->n_marks && vm->marks[vm->n_marks - 1] == vm->sp) { vm->n_marks--; return 0; }
        return temper__pk_fail(vm, "POP with an empty stack");
    case '1': /* POP_MARK */
        if ((rc = temper__pk_pop_mark(vm, &start)) < 0) return rc;
        vm->sp = start;
        return 0;
    case '2': /* DUP */
        if (!(a = temper__pk_top(vm))) return temper__pk_fail(vm, "DUP with an empty stack");
        return temper__pk_push(vm, a);
    case 'N': return temper__pk_push(vm, temper__pk_new(vm, TEMPER__PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        if ((a = temper__pk_new(vm, TEMPER__PK_BOOL))) a->i = op == 0x88;
        return temper__pk_push(vm, a);
    case 'J': /* BININT */
        if ((rc = temper__pk_need(vm, 4)) < 0) return rc;
        return temper__pk_push_int(vm, (int32_t)(uint32_t)temper__pk_uint(vm, 4));
    case 'K': /* BININT1 */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        return temper__pk_push_int(vm, (int64_t)temper__pk_uint(vm, 1));
    case 'M': /* BININT2 */
        if ((rc = temper__pk_need(vm, 2)) < 0) return rc;
        return temper__pk_push_int(vm, (int64_t)temper__pk_uint(vm, 2));
    case 0x8a: /* LONG1 */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        return temper__pk_long(vm, temper__pk_uint(vm, 1));
    case 0x8b: /* LONG4 */
        if ((rc = temper__pk_need(vm, 4)) < 0) return rc;
        return temper__pk_long(vm, temper__pk_uint(vm, 4));
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        if ((rc = temper__pk_need(vm, 8)) < 0) return rc;
        uint64_t u = 0;
        for (int k = 0; k < 8; k++) u = u << 8 | vm->d[vm->pos + (size_t)k];
        vm->pos += 8;
        if (!(a = temper__pk_new(vm, TEMPER__PK_FLOAT))) return temper__error(TEMPER_ENOMEM, "out of memory");
        memcpy(&a->f, &u, sizeof a->f);
        return temper__pk_push(vm, a);
    }
    case 'X': case 'T': case 'B': /* BINUNICODE, BINSTRING, BINBYTES: u32 length */
        if ((rc = temper__pk_need(vm, 4)) < 0) return rc;
        return temper__pk_string(vm, temper__pk_uint(vm, 4));
    case 0x8c: case 'U': case 'C': /* SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        return temper__pk_string(vm, temper__pk_uint(vm, 1));
    case 0x8d: case 0x8e: /* BINUNICODE8, BINBYTES8 */
        if ((rc = temper__pk_need(vm, 8)) < 0) return rc;
        return temper__pk_string(vm, temper__pk_uint(vm, 8));
    case ')': return temper__pk_push(vm, temper__pk_new(vm, TEMPER__PK_TUPLE));
    case ']': return temper__pk_push(vm, temper__pk_new(vm, TEMPER__PK_LIST));
    case '}': return temper__pk_push(vm, temper__pk_new(vm, TEMPER__PK_DICT));
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        int k = op - 0x84;
        if (vm->sp - temper__pk_floor(vm) < k) return temper__pk_fail(vm, "TUPLE of missing values");
        return temper__pk_collect(vm, TEMPER__PK_TUPLE, vm->sp - k);
    }
    case 't': case 'l': /* TUPLE, LIST: from the mark */
        if ((rc = temper__pk_pop_mark(vm, &start)) < 0) return rc;
        return temper__pk_collect(vm, op == 't' ? TEMPER__PK_TUPLE : TEMPER__PK_LIST, start);
    case 'd': /* DICT from the mark */
        if ((rc = temper__pk_pop_mark(vm, &start)) < 0) return rc;
        if ((vm->sp - start) % 2) return temper__pk_fail(vm, "DICT with an odd number of values");
        return temper__pk_collect(vm, TEMPER__PK_DICT, start);
    case 's': /* SETITEM */
        if (vm->sp - temper__pk_floor(vm) < 3) return temper__pk_fail(vm, "SETITEM without a dict");
        return temper__pk_setitems(vm, vm->sp - 2);
    case 'u': /* SETITEMS */
        if ((rc = temper__pk_pop_mark(vm, &start)) < 0) return rc;
        return temper__pk_setitems(vm, start);
    case 'a': /* APPEND */
        if (vm->sp - temper__pk_floor(vm) < 2) return temper__pk_fail(vm, "APPEND without a list");
        return temper__pk_appends(vm, vm->sp - 1);
    case 'e': /* APPENDS */
        if ((rc = temper__pk_pop_mark(vm, &start)) < 0) return rc;
        return temper__pk_appends(vm, start);
    case 'q': /* BINPUT */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        return temper__pk_memo_put(vm, temper__pk_uint(vm, 1));
    case 'r': /* LONG_BINPUT */
        if ((rc = temper__pk_need(vm, 4)) < 0) return rc;
        return temper__pk_memo_put(vm, temper__pk_uint(vm, 4));
    case 0x94: /* MEMOIZE: the next free key */
        return temper__pk_memo_put(vm, vm->memo_count);
    case 'h': /* BINGET */
        if ((rc = temper__pk_need(vm, 1)) < 0) return rc;
        return temper__pk_memo_get(vm, temper__pk_uint(vm, 1));
    case 'j': /* LONG_BINGET */
        if ((rc = temper__pk_need(vm, 4)) < 0) return rc;
        return temper__pk_memo_get(vm, temper__pk_uint(vm, 4));
    case 'c': { /* GLOBAL "module\nname\n" */
        const char *m = (const char *)vm->d + vm->pos, *end = (const char *)vm->d + vm->size;
        const char *nl1 = memchr(m, '\n', (size_t)(end - m));
        const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
        if (!nl2) return temper__pk_fail(vm, "GLOBAL without its two lines");
        vm->pos = (size_t)((const uint8_t *)nl2 + 1 - vm->d);
        return temper__pk_load_global(vm, m, (size_t)(nl1 - m), nl1 + 1, (size_t)(nl2 - nl1 - 1));
    }
    case 0x93: /* STACK_GLOBAL: module and name strings on the stack */
        b = temper__pk_pop(vm);
        a = temper__pk_pop(vm);
        if (!a || !b || a->kind != TEMPER__PK_STR || b->kind != TEMPER__PK_STR)
            return temper__pk_fail(vm, "STACK_GLOBAL without two strings");
        return temper__pk_load_global(vm, a->s, a->len, b->s, b->len);
    case 'R': /* REDUCE */
    case 0x81: /* NEWOBJ: cls, args; same meaning here */
        return temper__pk_reduce(vm);
    case 'b': /* BUILD: set an object's state; state dicts' metadata, ignored */
        if (!temper__pk_pop(vm) || !temper__pk_top(vm)) return temper__pk_fail(vm, "BUILD without an object");
        return 0;
    case 'Q': /* BINPERSID */
        if (!(a = temper__pk_pop(vm))) return temper__pk_fail(vm, "BINPERSID with an empty stack");
        if (!(b = temper__pk_new(vm, TEMPER__PK_PERSID)) || temper__pk_add(b, a) < 0)
            return temper__error(TEMPER_ENOMEM, "out of memory");
        return temper__pk_push(vm, b);
    default: {
        char why[96];
        snprintf(why, sizeof why, "opcode 0x%02x is not one temper reads (a pickle that is not a "
                 "torch.save state dict?)", op);
        return temper__error(TEMPER_EUNSUPPORTED, "%s: pickle byte %zu: %s", vm->what, vm->op_pos, why);
    }
    }
}

int temper__pickle_load(temper__pickle *p, const char *what, const uint8_t *data, size_t size,
                        const temper__pk_global *allowed, int n_allowed,
                        const temper__pk_value **root) {
    memset(p, 0, sizeof *p);
    temper__pk_vm vm = {.p = p, .what = what, .d = data, .size = size,
                        .allowed = allowed, .n_allowed = n_allowed};
    *root = NULL;
    int rc = 0, done = 0;
    while (!done && rc == 0) rc = temper__pk_step(&vm, root, &done);
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    if (rc < 0) {
        *root = NULL;
        temper__pickle_free(p);
    }
    return rc;
}

void temper__pickle_free(temper__pickle *p) {
    for (int k = 0; k < p->n_values; k++) {
        free(p->values[k]->s);
        free(p->values[k]->items);
        free(p->values[k]);
    }
    free(p->values);
    memset(p, 0, sizeof *p);
}
