/* llama2c.h - llama2.c checkpoints (see llama2c.c for the byte layout). */
#ifndef TEMPER_LLAMA2C_H
#define TEMPER_LLAMA2C_H

#include <cJSON.h>

#include "formats/weights.h"

/* 1 if the file starts like a llama2.c checkpoint (versioned magic or a
 * plausible legacy header), else 0. */
int temper__llama2c_is_checkpoint(const char *path);

/* Open a checkpoint: tensors with HF Llama names into w (initialised here),
 * and a synthesised config.json object into *config (owned by the caller,
 * cJSON_Delete). */
int temper__llama2c_open(const char *path, temper__weights *w, cJSON **config);

#endif
