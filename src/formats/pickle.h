/*
 * pickle.h - a restricted unpickler: it reads the data of a pickle program
 * (the opcodes protocols 2 to 5 write for dicts, lists, tuples, strings,
 * numbers) into a tree of values and NEVER executes anything. A GLOBAL is
 * accepted only if the caller's allow-list names it, and calling it
 * (REDUCE) only records the call: the caller interprets the tree. This is
 * enough for what torch.save writes for a state dict; anything else is
 * refused with a message naming the global or opcode.
 */
#ifndef TEMPER_PICKLE_H
#define TEMPER_PICKLE_H

#include "core/core.h"

typedef enum temper__pk_kind {
    TEMPER__PK_NONE,
    TEMPER__PK_BOOL,   /* i: 0 or 1 */
    TEMPER__PK_INT,    /* i */
    TEMPER__PK_FLOAT,  /* f */
    TEMPER__PK_STR,    /* s, len (str or bytes) */
    TEMPER__PK_TUPLE,  /* items[n] */
    TEMPER__PK_LIST,   /* items[n] */
    TEMPER__PK_DICT,   /* items[n]: key, value, key, value... in insertion order */
    TEMPER__PK_GLOBAL, /* g: index in the allow-list */
    TEMPER__PK_CALL,   /* global g called with the tuple items[0] (recorded, not run) */
    TEMPER__PK_PERSID, /* persistent id items[0] (an external object, e.g. a storage) */
    TEMPER__PK_MARK,   /* internal to the machine: never in a result */
} temper__pk_kind;

typedef struct temper__pk_value {
    temper__pk_kind kind;
    int g;
    int64_t i;
    double f;
    char *s;                         /* owned, NUL-terminated (may hold NULs) */
    size_t len;
    struct temper__pk_value **items; /* owned array of borrowed values */
    int n, cap;
} temper__pk_value;

/* One allowed global. makes_dict: calling it with no arguments builds an
 * empty dict (collections.OrderedDict), which SETITEMS then fills. */
typedef struct temper__pk_global {
    const char *module, *name;
    int makes_dict;
} temper__pk_global;

/* Every value made while reading; freed together. */
typedef struct temper__pickle {
    temper__pk_value **values; /* (n_values) owned */
    int n_values, cap_values;
} temper__pickle;

/* Run the pickle program data[0..size). what names it in errors (e.g.
 * "model.bin (archive/data.pkl)"). On success *root is the value STOP
 * returned, valid until temper__pickle_free(p). */
int temper__pickle_load(temper__pickle *p, const char *what, const uint8_t *data, size_t size,
                        const temper__pk_global *allowed, int n_allowed,
                        const temper__pk_value **root);

void temper__pickle_free(temper__pickle *p);

/* "None", "an int", "a dict", ... for messages. */
const char *temper__pk_kind_name(temper__pk_kind k);

#endif
