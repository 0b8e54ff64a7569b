/*
 * pytorch_dump.c - print the tensors temper reads from a PyTorch checkpoint
 * or a model folder, for tests/py/test_pytorch.py.
 *
 *   pytorch_dump FILE.bin | FOLDER
 *
 * One line per tensor, tab-separated:
 *   name  dtype  shape (d0,d1,..)  mapped (1: points into a file map)  hex bytes
 * On failure: "error TEMPER_EXXX: <message>" on stderr and exit status 1.
 */
#include <stdio.h>

#include "formats/weights.h"

static int in_a_map(const temper__weights *w, const temper__tensor *t) {
    const uint8_t *p = t->data;
    for (int k = 0; k < w->n_maps; k++)
        if (p >= w->maps[k].data && p + t->nbytes <= w->maps[k].data + w->maps[k].size) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pytorch_dump FILE.bin | FOLDER\n");
        return 2;
    }
    temper__weights w = {0};
    int rc = temper__is_dir(argv[1]) ? temper__weights_open_folder(argv[1], &w)
                                     : temper__weights_add_pytorch(&w, argv[1]);
    if (rc < 0) {
        fprintf(stderr, "error %s: %s\n", temper_err_name(rc), temper_last_error());
        temper__weights_close(&w);
        return 1;
    }
    for (int i = 0; i < w.n; i++) {
        const temper__tensor *t = &w.tensors[i];
        printf("%s\t%s\t(", t->name, temper__dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf(d ? ",%lld" : "%lld", (long long)t->shape[d]);
        printf(")\t%d\t", t->nbytes ? in_a_map(&w, t) : 1);
        const uint8_t *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++) printf("%02x", p[b]);
        printf("\n");
    }
    temper__weights_close(&w);
    return 0;
}
