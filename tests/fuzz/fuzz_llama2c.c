/* fuzz_llama2c.c - llama2.c checkpoint headers (versions 0 and 1): the
 * size arithmetic and the tensor table built from them. */
#include <cJSON.h>

#include "fuzz.h"
#include "formats/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("model.bin");
    fuzz_write(path, data, size);
    (void)temper__llama2c_is_checkpoint(path);
    temper__weights w = {0};
    cJSON *cfg = NULL;
    if (temper__llama2c_open(path, &w, &cfg) == 0) {
        fuzz_check_weights(&w);
        FUZZ_CHECK(cfg != NULL);
    }
    cJSON_Delete(cfg);
    temper__weights_close(&w);
    return 0;
}
