/* pytorch.c - PyTorch zip checkpoints (pytorch_model.bin). The pickle reader
 * lands with the OPT/Llama work; until then such a folder is a clear error. */
#include "formats/weights.h"

int temper__weights_add_pytorch(temper__weights *w, const char *path) {
    (void)w;
    return temper__error(TEMPER_EUNSUPPORTED,
                         "%s: PyTorch .bin checkpoints are not readable by this build yet: "
                         "convert the model to model.safetensors",
                         path);
}
