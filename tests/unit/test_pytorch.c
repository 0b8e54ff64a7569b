/*
 * test_pytorch.c - the restricted unpickler (src/formats/pickle.c) on
 * pickles written by CPython's own pickle module (protocols 2 and 4, bytes
 * pasted below) and on hand-assembled programs for the remaining opcodes
 * and every error path. The zip reader and the tensor reading are tested
 * through tests/py/test_pytorch.py.
 */
#include "test.h"

#include "formats/pickle.h"

/* CPython 3.11: pickle.dumps(obj, protocol=2) with
 *   shared = [7, 8]
 *   obj = collections.OrderedDict([
 *       ("ints", (255, 256, 65536, -1, -2**31, 2**31, 2**63 - 1, -2**63)),
 *       ("misc", [True, False, None, "\u00fc", 3.25, -0.5]),
 *       ("tuples", ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4))),
 *       ("shared", (shared, shared))]) */
static const char cpython_p2[] =
    "\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69"
    "\x63\x74\x0a\x71\x00\x29\x52\x71\x01\x28\x58\x04\x00\x00\x00\x69\x6e\x74\x73\x71\x02\x28\x4b\xff"
    "\x4d\x00\x01\x4a\x00\x00\x01\x00\x4a\xff\xff\xff\xff\x4a\x00\x00\x00\x80\x8a\x05\x00\x00\x00\x80"
    "\x00\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x74\x71\x03"
    "\x58\x04\x00\x00\x00\x6d\x69\x73\x63\x71\x04\x5d\x71\x05\x28\x88\x89\x4e\x58\x02\x00\x00\x00\xc3"
    "\xbc\x71\x06\x47\x40\x0a\x00\x00\x00\x00\x00\x00\x47\xbf\xe0\x00\x00\x00\x00\x00\x00\x65\x58\x06"
    "\x00\x00\x00\x74\x75\x70\x6c\x65\x73\x71\x07\x28\x29\x4b\x01\x85\x71\x08\x4b\x01\x4b\x02\x86\x71"
    "\x09\x4b\x01\x4b\x02\x4b\x03\x87\x71\x0a\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x71\x0b\x74\x71"
    "\x0c\x58\x06\x00\x00\x00\x73\x68\x61\x72\x65\x64\x71\x0d\x5d\x71\x0e\x28\x4b\x07\x4b\x08\x65\x68"
    "\x0e\x86\x71\x0f\x75\x2e";

/* The same object, pickle.dumps(obj, protocol=4): FRAME, STACK_GLOBAL,
 * SHORT_BINUNICODE, MEMOIZE. */
static const char cpython_p4[] =
    "\x80\x04\x95\xc1\x00\x00\x00\x00\x00\x00\x00\x8c\x0b\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73"
    "\x94\x8c\x0b\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x94\x93\x94\x29\x52\x94\x28\x8c\x04\x69"
    "\x6e\x74\x73\x94\x28\x4b\xff\x4d\x00\x01\x4a\x00\x00\x01\x00\x4a\xff\xff\xff\xff\x4a\x00\x00\x00"
    "\x80\x8a\x05\x00\x00\x00\x80\x00\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x8a\x08\x00\x00\x00\x00"
    "\x00\x00\x00\x80\x74\x94\x8c\x04\x6d\x69\x73\x63\x94\x5d\x94\x28\x88\x89\x4e\x8c\x02\xc3\xbc\x94"
    "\x47\x40\x0a\x00\x00\x00\x00\x00\x00\x47\xbf\xe0\x00\x00\x00\x00\x00\x00\x65\x8c\x06\x74\x75\x70"
    "\x6c\x65\x73\x94\x28\x29\x4b\x01\x85\x94\x4b\x01\x4b\x02\x86\x94\x4b\x01\x4b\x02\x4b\x03\x87\x94"
    "\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x94\x74\x94\x8c\x06\x73\x68\x61\x72\x65\x64\x94\x5d\x94"
    "\x28\x4b\x07\x4b\x08\x65\x68\x10\x86\x94\x75\x2e";

static const temper__pk_global dict_only[] = {{"collections", "OrderedDict", 1}};

static int load(temper__pickle *p, const char *bytes, size_t n, const temper__pk_global *allowed,
                int n_allowed, const temper__pk_value **root) {
    return temper__pickle_load(p, "test.pkl", (const uint8_t *)bytes, n, allowed, n_allowed, root);
}

/* The expected tree of the CPython pickles above. */
static void check_cpython_tree(const char *bytes, size_t n) {
    temper__pickle p;
    const temper__pk_value *r;
    int rc = load(&p, bytes, n, dict_only, 1, &r);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) return;
    CHECK_EQ_INT(r->kind, TEMPER__PK_DICT);
    CHECK_EQ_INT(r->n, 8);
    CHECK_STR(r->items[0]->s, "ints");
    CHECK_STR(r->items[2]->s, "misc");
    CHECK_STR(r->items[4]->s, "tuples");
    CHECK_STR(r->items[6]->s, "shared");

    const temper__pk_value *ints = r->items[1];
    static const int64_t want[8] = {255, 256, 65536, -1, INT32_MIN, (int64_t)1 << 31, INT64_MAX,
                                    INT64_MIN};
    CHECK_EQ_INT(ints->kind, TEMPER__PK_TUPLE);
    CHECK_EQ_INT(ints->n, 8);
    for (int k = 0; k < 8 && k < ints->n; k++) {
        CHECK_EQ_INT(ints->items[k]->kind, TEMPER__PK_INT);
        CHECK(ints->items[k]->i == want[k]);
    }

    const temper__pk_value *misc = r->items[3];
    CHECK_EQ_INT(misc->kind, TEMPER__PK_LIST);
    CHECK_EQ_INT(misc->n, 6);
    if (misc->n == 6) {
        CHECK(misc->items[0]->kind == TEMPER__PK_BOOL && misc->items[0]->i == 1);
        CHECK(misc->items[1]->kind == TEMPER__PK_BOOL && misc->items[1]->i == 0);
        CHECK_EQ_INT(misc->items[2]->kind, TEMPER__PK_NONE);
        CHECK_STR(misc->items[3]->s, "\xc3\xbc");
        CHECK_EQ_INT(misc->items[3]->len, 2);
        CHECK(misc->items[4]->kind == TEMPER__PK_FLOAT && misc->items[4]->f == 3.25);
        CHECK(misc->items[5]->kind == TEMPER__PK_FLOAT && misc->items[5]->f == -0.5);
    }

    const temper__pk_value *tuples = r->items[5];
    CHECK_EQ_INT(tuples->n, 5);
    for (int k = 0; k < 5 && k < tuples->n; k++) {
        CHECK_EQ_INT(tuples->items[k]->kind, TEMPER__PK_TUPLE);
        CHECK_EQ_INT(tuples->items[k]->n, k);
        for (int j = 0; j < tuples->items[k]->n; j++) CHECK_EQ_INT(tuples->items[k]->items[j]->i, j + 1);
    }

    /* One list object referenced twice (BINGET): one value, shared. */
    const temper__pk_value *shared = r->items[7];
    CHECK_EQ_INT(shared->n, 2);
    if (shared->n == 2) {
        CHECK(shared->items[0] == shared->items[1]);
        CHECK_EQ_INT(shared->items[0]->n, 2);
        CHECK_EQ_INT(shared->items[0]->items[1]->i, 8);
    }
    temper__pickle_free(&p);
}

static void test_cpython_protocol2(void) { check_cpython_tree(cpython_p2, sizeof cpython_p2 - 1); }
static void test_cpython_protocol4(void) { check_cpython_tree(cpython_p4, sizeof cpython_p4 - 1); }

/* Opcodes CPython did not use above. (Literals are split where a hex
 * escape is followed by a hex digit.) */
static void test_other_opcodes(void) {
    static const char prog[] =
        "\x80\x02("                                     /* PROTO 2, MARK (outer tuple) */
        "(K\x01K\x02l"                                  /* LIST [1, 2] */
        "K\x03" "a"                                     /* APPEND 3 */
        "(X\x01\x00\x00\x00kK\x04" "d"                  /* DICT {"k": 4} */
        "X\x01\x00\x00\x00jK\x05s"                      /* SETITEM "j": 5 */
        "(K\x09" "1"                                    /* MARK 9 POP_MARK: gone */
        "2" "0"                                         /* DUP, POP */
        "}N" "b" "0"                                    /* {} BUILD(None) POP */
        "C\x02" "ab" "U\x01" "c" "T\x01\x00\x00\x00" "d" "B\x01\x00\x00\x00" "e"
        "\x8b\x02\x00\x00\x00\xff\x7f"                   /* LONG4 0x7fff */
        "\x8d\x01\x00\x00\x00\x00\x00\x00\x00" "f"       /* BINUNICODE8 "f" */
        "\x8e\x00\x00\x00\x00\x00\x00\x00\x00"           /* BINBYTES8 "" */
        "K*Q"                                           /* BINPERSID 42 */
        "\x8a\x01\xfe"                                   /* LONG1 -2 */
        "t.";
    temper__pickle p;
    const temper__pk_value *r;
    int rc = load(&p, prog, sizeof prog - 1, NULL, 0, &r);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "%s\n", temper_last_error());
        return;
    }
    CHECK_EQ_INT(r->kind, TEMPER__PK_TUPLE);
    CHECK_EQ_INT(r->n, 11);
    if (r->n != 11) return;
    const temper__pk_value *l = r->items[0], *d = r->items[1];
    CHECK(l->kind == TEMPER__PK_LIST && l->n == 3 && l->items[2]->i == 3);
    CHECK(d->kind == TEMPER__PK_DICT && d->n == 4);
    if (d->n == 4) {
        CHECK_STR(d->items[0]->s, "k");
        CHECK_EQ_INT(d->items[1]->i, 4);
        CHECK_STR(d->items[2]->s, "j");
        CHECK_EQ_INT(d->items[3]->i, 5);
    }
    CHECK_STR(r->items[2]->s, "ab");
    CHECK_STR(r->items[3]->s, "c");
    CHECK_STR(r->items[4]->s, "d");
    CHECK_STR(r->items[5]->s, "e");
    CHECK_EQ_INT(r->items[6]->i, 0x7fff);
    CHECK_STR(r->items[7]->s, "f");
    CHECK(r->items[8]->kind == TEMPER__PK_STR && r->items[8]->len == 0);
    CHECK(r->items[9]->kind == TEMPER__PK_PERSID && r->items[9]->items[0]->i == 42);
    CHECK_EQ_INT(r->items[10]->i, -2);
    temper__pickle_free(&p);
}

/* An allowed function is recorded with its arguments, never called. */
static void test_call_recorded(void) {
    static const temper__pk_global allowed[] = {{"collections", "OrderedDict", 1},
                                                {"torch._utils", "_rebuild_tensor_v2", 0}};
    static const char prog[] = "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02tR.";
    temper__pickle p;
    const temper__pk_value *r;
    CHECK_EQ_INT(load(&p, prog, sizeof prog - 1, allowed, 2, &r), 0);
    CHECK_EQ_INT(r->kind, TEMPER__PK_CALL);
    CHECK_EQ_INT(r->g, 1);
    CHECK(r->items[0]->kind == TEMPER__PK_TUPLE && r->items[0]->n == 2 && r->items[0]->items[1]->i == 2);
    temper__pickle_free(&p);
}

static void expect_fail(const char *prog, size_t n, int code, const char *needle) {
    temper__pickle p;
    const temper__pk_value *r = (const temper__pk_value *)&p; /* must be reset to NULL */
    int rc = load(&p, prog, n, dict_only, 1, &r);
    CHECK_EQ_INT(rc, code);
    CHECK(r == NULL);
    CHECK(p.values == NULL);
    if (needle && !strstr(temper_last_error(), needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", temper_last_error(), needle);
        CHECK(0);
    }
    CHECK(strstr(temper_last_error(), "test.pkl") != NULL);
}
#define FAIL(lit, code, needle) expect_fail(lit, sizeof lit - 1, code, needle)

static void test_refused_globals(void) {
    FAIL("\x80\x02" "cos\nsystem\n(X\x02\x00\x00\x00lstR.", TEMPER_EUNSUPPORTED,
         "refusing to load global os.system");
    FAIL("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93.", TEMPER_EUNSUPPORTED,
         "refusing to load global builtins.eval");
    /* A near miss of an allowed name is still refused. */
    FAIL("\x80\x02" "ccollections\nOrderedDictX\n)R.", TEMPER_EUNSUPPORTED,
         "collections.OrderedDictX");
    /* Unprintable bytes in the name are shown as '?'. */
    FAIL("\x80\x02" "cx\x01y\nz\n.", TEMPER_EUNSUPPORTED, "x?y.z");
    /* The dict factory with arguments would build a non-empty dict. */
    FAIL("\x80\x02" "ccollections\nOrderedDict\n(]tR.", TEMPER_EUNSUPPORTED, "called with arguments");
}

static void test_malformed(void) {
    FAIL("\x80\x02" "I12\n.", TEMPER_EUNSUPPORTED, "opcode 0x49");
    FAIL("\x80\x09N.", TEMPER_EFORMAT, "protocol");
    FAIL("\x80\x02.", TEMPER_EFORMAT, "STOP with an empty stack");
    FAIL("\x80\x02N", TEMPER_EFORMAT, "without STOP");
    FAIL("\x80\x02h\x05.", TEMPER_EFORMAT, "memo key never stored");
    FAIL("\x80\x02Nr\xff\xff\xff\x7f.", TEMPER_EFORMAT, "memo key out of range");
    FAIL("\x80\x02K\x01t.", TEMPER_EFORMAT, "no MARK");
    FAIL("\x80\x02](K\x01K\x02u.", TEMPER_EFORMAT, "not a dict");
    FAIL("\x80\x02}(K\x01u.", TEMPER_EFORMAT, "odd number");
    FAIL("\x80\x02}K\x01" "a.", TEMPER_EFORMAT, "not a list");
    FAIL("\x80\x02K\x01)R.", TEMPER_EFORMAT, "REDUCE");
    FAIL("\x80\x02(K\x01K\x02" "0" "0" "0.", TEMPER_EFORMAT, "STOP with an empty stack");
    FAIL("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", TEMPER_EUNSUPPORTED, "64 bits");
    FAIL("\x80\x02X\xff\x00\x00\x00" "abc.", TEMPER_EFORMAT, "ends inside an opcode");
    FAIL("\x80\x02" "cos\nsys", TEMPER_EFORMAT, "GLOBAL");
    /* A mark hides the values below it from SETITEM. */
    FAIL("\x80\x02}X\x01\x00\x00\x00k(K\x01s.", TEMPER_EFORMAT, "SETITEM");
}

/* Every strict prefix of a valid pickle fails cleanly (run under ASan). */
static void test_every_prefix(void) {
    size_t n = sizeof cpython_p2 - 1;
    int clean = 1;
    for (size_t cut = 0; cut < n; cut++) {
        temper__pickle p;
        const temper__pk_value *r;
        if (load(&p, cpython_p2, cut, dict_only, 1, &r) != TEMPER_EFORMAT) clean = 0;
    }
    CHECK(clean);
}

/* A list that contains itself (APPEND of its own memo entry) is just a
 * pointer cycle: reading it terminates and frees cleanly. */
static void test_self_reference(void) {
    static const char prog[] = "\x80\x02]q\x00h\x00" "a.";
    temper__pickle p;
    const temper__pk_value *r;
    CHECK_EQ_INT(load(&p, prog, sizeof prog - 1, NULL, 0, &r), 0);
    CHECK(r->kind == TEMPER__PK_LIST && r->n == 1 && r->items[0] == r);
    temper__pickle_free(&p);
}

int main(void) {
    RUN(test_cpython_protocol2);
    RUN(test_cpython_protocol4);
    RUN(test_other_opcodes);
    RUN(test_call_recorded);
    RUN(test_refused_globals);
    RUN(test_malformed);
    RUN(test_every_prefix);
    RUN(test_self_reference);
    return TEST_SUMMARY();
}
