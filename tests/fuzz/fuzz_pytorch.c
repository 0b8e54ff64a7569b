/* fuzz_pytorch.c - PyTorch zip checkpoints: the zip reader (zip.c, zlib
 * entries, zip64), the pickle VM (pickle.c) and the tensor rebuild
 * (pytorch.c: storages, strides, offsets, byte order). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("pytorch_model.bin");
    fuzz_write(path, data, size);
    temper__weights w = {0};
    if (temper__weights_add_pytorch(&w, path) == 0) fuzz_check_weights(&w);
    else FUZZ_CHECK(temper_last_error()[0] != '\0');
    temper__weights_close(&w);
    return 0;
}
