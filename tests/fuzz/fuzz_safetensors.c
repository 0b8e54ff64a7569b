/* fuzz_safetensors.c - the safetensors reader (header JSON, offsets, shapes). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("model.safetensors");
    fuzz_write(path, data, size);
    temper__weights w = {0};
    if (temper__weights_add_safetensors(&w, path) == 0) fuzz_check_weights(&w);
    else FUZZ_CHECK(temper_last_error()[0] != '\0');
    temper__weights_close(&w);
    return 0;
}
